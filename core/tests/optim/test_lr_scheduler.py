"""Learning-rate schedulers against their published closed forms, plus chaining, resuming from a
state_dict, momentum cycling, ReduceLROnPlateau's bookkeeping, warnings and errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import optim
from tocha.core.optim import lr_scheduler as S


def _opt(lr=0.1, name="SGD", groups=1, **kw):
    params = [torch.zeros(2, requires_grad=True) for _ in range(groups)]
    if groups == 1:
        return getattr(optim, name)(params, lr=lr, **kw)
    return getattr(optim, name)(
        [{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(params)], **kw
    )


def _lrs(opt, sched, n, metric=None):
    """Learning rates of group 0: the initial one, then after each of n steps."""
    out = [sched.get_last_lr()[0]]
    for i in range(n):
        opt.step()
        if metric is None:
            sched.step()
        else:
            sched.step(metric(i))
        out.append(sched.get_last_lr()[0])
    return out


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_lambda_lr():
    opt = _opt(groups=2)
    sched = S.LambdaLR(opt, [lambda e: 0.9**e, lambda e: 1.0 / (e + 1)])
    for _ in range(4):
        opt.step()
        sched.step()
    _close(sched.get_last_lr(), [0.1 * 0.9**4, 0.2 / 5])
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        S.LambdaLR(_opt(groups=2), [lambda e: 1.0])


def test_multiplicative_lr():
    opt = _opt()
    got = _lrs(opt, S.MultiplicativeLR(opt, lambda e: 0.5 + 0.1 * e), 3)
    _close(got, [0.1, 0.1 * 0.6, 0.1 * 0.6 * 0.7, 0.1 * 0.6 * 0.7 * 0.8])
    with pytest.raises(TypeError, match="lr_lambda should be a function, but got int"):
        S.MultiplicativeLR(_opt(), 3)


def test_step_and_multistep_lr_follow_closed_forms():
    opt = _opt()
    got = _lrs(opt, S.StepLR(opt, step_size=3, gamma=0.3), 10)
    _close(got, [0.1 * 0.3 ** (e // 3) for e in range(11)])
    opt = _opt()
    got = _lrs(opt, S.MultiStepLR(opt, milestones=[2, 5, 5], gamma=0.5), 7)
    _close(got, [0.1 * 0.5 ** sum(m <= e for m in [2, 5, 5]) for e in range(8)])


def test_constant_linear_exponential_polynomial():
    opt = _opt()
    _close(
        _lrs(opt, S.ConstantLR(opt, factor=0.25, total_iters=3), 5),
        [0.025, 0.025, 0.025, 0.1, 0.1, 0.1],
    )
    opt = _opt()
    got = _lrs(opt, S.LinearLR(opt, start_factor=0.2, end_factor=0.9, total_iters=4), 6)
    _close(got, [0.1 * (0.2 + 0.7 * min(e, 4) / 4) for e in range(7)])
    opt = _opt()
    _close(_lrs(opt, S.ExponentialLR(opt, gamma=0.8), 4), [0.1 * 0.8**e for e in range(5)])
    opt = _opt()
    got = _lrs(opt, S.PolynomialLR(opt, total_iters=4, power=2.0), 6)
    _close(got, [0.1 * (1 - min(e, 4) / 4) ** 2 for e in range(7)])
    with pytest.raises(ValueError, match="Constant multiplicative factor expected to be between"):
        S.ConstantLR(_opt(), factor=1.5)
    with pytest.raises(ValueError, match="Starting multiplicative factor expected"):
        S.LinearLR(_opt(), start_factor=0)
    with pytest.raises(ValueError, match="Ending multiplicative factor expected"):
        S.LinearLR(_opt(), end_factor=2)


def test_cosine_annealing_recursive_form_equals_sgdr_formula():
    opt = _opt()
    T, eta = 7, 0.001
    got = _lrs(opt, S.CosineAnnealingLR(opt, T_max=T, eta_min=eta), 2 * T + 3)
    # SGDR without restarts; past T_max the cosine continues (the rate goes back up)
    want = [eta + (0.1 - eta) * (1 + math.cos(math.pi * e / T)) / 2 for e in range(2 * T + 4)]
    _close(got, want)


def test_closed_form_when_stepping_with_an_explicit_epoch():
    opt = _opt()
    sched = S.StepLR(opt, step_size=2, gamma=0.5)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        opt.step()
        sched.step(5)
    assert any("epoch parameter in `scheduler.step()`" in str(x.message) for x in w)
    _close(sched.get_last_lr(), [0.1 * 0.5**2])
    assert sched.last_epoch == 5


def _sgdr(e, T0, Tm, eta, base):
    if Tm == 1:
        T_cur, T_i = e % T0, T0
    else:
        n = int(math.log(e / T0 * (Tm - 1) + 1, Tm)) if e >= T0 else 0
        T_cur = e - T0 * (Tm**n - 1) / (Tm - 1)
        T_i = T0 * Tm**n
    return eta + (base - eta) * (1 + math.cos(math.pi * T_cur / T_i)) / 2


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_cosine_warm_restarts_integer_and_fractional_epochs(T_mult):
    opt = _opt()
    got = _lrs(opt, S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=T_mult, eta_min=0.01), 20)
    _close(got, [_sgdr(e, 3, T_mult, 0.01, 0.1) for e in range(21)])
    opt = _opt()
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=T_mult, eta_min=0.01)
    for e in np.arange(0, 12, 0.37):
        opt.step()
        sched.step(float(e))
        _close(sched.get_last_lr()[0], _sgdr(float(e), 3, T_mult, 0.01, 0.1))
        assert sched.last_epoch == math.floor(e)
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        S.CosineAnnealingWarmRestarts(_opt(), T_0=0)
    with pytest.raises(ValueError, match="Expected integer T_mult >= 1, but got 0"):
        S.CosineAnnealingWarmRestarts(_opt(), T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        sched.step(-1)


def _clr(it, base, top, up, down, mode, gamma=1.0):
    """Smith (2017), triangular policies: amplitude scaled per cycle or per iteration."""
    total = up + down
    cycle = math.floor(1 + it / total)
    x = 1.0 + it / total - cycle
    ratio = up / total
    frac = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2.0 ** (cycle - 1), "exp_range": gamma**it}[mode]
    return base + (top - base) * frac * scale


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_lr_and_momentum(mode):
    opt = _opt(momentum=0.9)
    sched = S.CyclicLR(opt, 0.01, 0.1, step_size_up=3, step_size_down=5, mode=mode, gamma=0.95)
    lrs, moms = [sched.get_last_lr()[0]], [opt.param_groups[0]["momentum"]]
    for _ in range(20):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
    _close(lrs, [_clr(i, 0.01, 0.1, 3.0, 5.0, mode, 0.95) for i in range(21)])
    # the momentum moves opposite to the rate, between base_momentum and max_momentum
    want_m = [0.9 - (0.9 - 0.8) * (_clr(i, 0.0, 1.0, 3.0, 5.0, mode, 0.95)) for i in range(21)]
    _close(moms, want_m)


def test_cyclic_lr_cycles_adam_beta1_and_errors():
    opt = _opt(name="Adam")
    S.CyclicLR(opt, 0.01, 0.1, step_size_up=2)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)
    opt.step()
    opt.param_groups[0]["lr"]  # noqa: B018
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        S.CyclicLR(_opt(momentum=0.9), 0.01, 0.1, mode="sine")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.CyclicLR(_opt(name="Adagrad"), 0.01, 0.1)
    with pytest.raises(
        ValueError,
        match="base_lr must have the same length as "
        "optimizer.param_groups. base_lr has 3 values, param_groups has 1.",
    ):
        S.CyclicLR(_opt(momentum=0.9), [0.1, 0.2, 0.3], 1.0)


def _one_cycle_ref(step, total, max_lr, pct, div, final_div, strategy, three_phase):
    init, low = max_lr / div, max_lr / div / final_div
    anneal = (
        (lambda a, b, p: b + (a - b) / 2.0 * (math.cos(math.pi * p) + 1))
        if strategy == "cos"
        else (lambda a, b, p: (b - a) * p + a)
    )
    if three_phase:
        ends = [pct * total - 1, 2 * pct * total - 2, total - 1]
        pts = [(init, max_lr), (max_lr, init), (init, low)]
    else:
        ends = [pct * total - 1, total - 1]
        pts = [(init, max_lr), (max_lr, low)]
    start = 0.0
    for i, end in enumerate(ends):
        if step <= end or i == len(ends) - 1:
            return anneal(*pts[i], (step - start) / (end - start))
        start = end


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle(strategy, three_phase):
    opt = _opt(momentum=0.9)
    sched = S.OneCycleLR(
        opt, max_lr=1.0, total_steps=20, anneal_strategy=strategy, three_phase=three_phase
    )
    got = _lrs(opt, sched, 19)
    want = [_one_cycle_ref(i, 20, 1.0, 0.3, 25.0, 1e4, strategy, three_phase) for i in range(20)]
    _close(got, want)
    opt.step()
    sched.step()  # step 20 is still allowed (torch's bound), 21 is not
    with pytest.raises(
        ValueError, match="Tried to step 21 times. The specified number of total steps is 20"
    ):
        sched.step()


def test_one_cycle_momentum_for_adam_betas_and_errors():
    opt = _opt(name="Adam")
    sched = S.OneCycleLR(
        opt, max_lr=0.5, epochs=2, steps_per_epoch=5, pct_start=0.5, anneal_strategy="linear"
    )
    beta1 = [opt.param_groups[0]["betas"][0]]
    for _ in range(9):
        opt.step()
        sched.step()
        beta1.append(opt.param_groups[0]["betas"][0])
    # base 0.85, max 0.95: down while the rate goes up (4 steps), then back up
    _close(beta1[:5], [0.95, 0.925, 0.9, 0.875, 0.85])
    _close(beta1[-1], 0.95)
    assert opt.param_groups[0]["betas"][1] == 0.999
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        S.OneCycleLR(_opt(momentum=0.9), max_lr=1.0)
    with pytest.raises(ValueError, match="Expected float between 0 and 1 pct_start, but got 1"):
        S.OneCycleLR(_opt(momentum=0.9), max_lr=1.0, total_steps=3, pct_start=1)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
        S.OneCycleLR(_opt(momentum=0.9), max_lr=1.0, total_steps=3, anneal_strategy="x")


def test_sequential_lr():
    opt = _opt(lr=1.0)
    warm = S.LinearLR(opt, start_factor=0.1, total_iters=3)
    decay = S.ExponentialLR(opt, gamma=0.5)
    sched = S.SequentialLR(opt, [warm, decay], milestones=[3])
    got = _lrs(opt, sched, 6)
    _close(got, [0.1, 0.4, 0.7, 1.0, 0.5, 0.25, 0.125])
    with pytest.raises(ValueError, match="expects number of schedulers provided to be one more"):
        S.SequentialLR(opt, [warm, decay], milestones=[1, 2])
    with pytest.raises(ValueError, match="SequentialLR expects at least one scheduler"):
        S.SequentialLR(opt, [], milestones=[])
    other = _opt()
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same "):
        S.SequentialLR(opt, [warm, S.StepLR(other, 2)], milestones=[2])


def test_chained_scheduler_multiplies_effects():
    opt = _opt(lr=1.0)
    sched = S.ChainedScheduler(
        [S.ConstantLR(opt, factor=0.5, total_iters=2), S.ExponentialLR(opt, gamma=0.9)]
    )
    got = _lrs(opt, sched, 4)
    _close(got, [0.5, 0.45, 0.81, 0.729, 0.6561])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        S.ChainedScheduler([S.ReduceLROnPlateau(opt)])


def test_reduce_lr_on_plateau_patience_cooldown_min_lr():
    opt = _opt(lr=1.0)
    sched = S.ReduceLROnPlateau(opt, patience=1, cooldown=1, factor=0.5, min_lr=0.2)
    metrics = [1.0, 0.9, 0.95, 0.94, 0.93, 0.96, 0.97, 0.99, 0.99, 0.99, 0.99]
    got = [sched.step(m) or sched.get_last_lr()[0] for m in metrics]
    # bad epochs: 0.95 (1), 0.94 (2 > patience: reduce, cooldown 1), 0.93 (cooldown),
    # 0.96 (1), 0.97 (2: reduce), ... then min_lr caps the rate
    assert got == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2]
    assert sched.best == 0.9


@pytest.mark.parametrize(
    ("mode", "threshold_mode", "metrics", "improved"),
    [
        ("min", "rel", [1.0, 0.99995, 0.9], [True, False, True]),
        ("min", "abs", [1.0, 0.95, 0.85], [True, False, True]),
        ("max", "rel", [1.0, 1.00005, 1.1], [True, False, True]),
        ("max", "abs", [1.0, 1.05, 1.2], [True, False, True]),
    ],
)
def test_reduce_lr_on_plateau_threshold_modes(mode, threshold_mode, metrics, improved):
    thr = 1e-4 if threshold_mode == "rel" else 0.1
    sched = S.ReduceLROnPlateau(_opt(), mode=mode, threshold=thr, threshold_mode=threshold_mode)
    for m, imp in zip(metrics, improved):
        sched.step(m)
        assert (sched.num_bad_epochs == 0) == imp


def test_reduce_lr_on_plateau_eps_and_errors():
    opt = _opt(lr=1e-8)
    sched = S.ReduceLROnPlateau(opt, patience=0, eps=1e-8)
    sched.step(1.0)
    sched.step(2.0)
    assert sched.get_last_lr() == [1e-8]  # the reduction (9e-9) is below eps: skipped
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        S.ReduceLROnPlateau(_opt(), factor=1.0)
    with pytest.raises(ValueError, match="mode foo is unknown!"):
        S.ReduceLROnPlateau(_opt(), mode="foo")
    with pytest.raises(ValueError, match="threshold mode bar is unknown!"):
        S.ReduceLROnPlateau(_opt(), threshold_mode="bar")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        S.ReduceLROnPlateau(_opt(groups=2), min_lr=[0.1])


BUILDERS = [
    lambda o: S.StepLR(o, 3, gamma=0.5),
    lambda o: S.MultiStepLR(o, [2, 4], gamma=0.5),
    lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
    lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2),
    lambda o: S.LinearLR(o, start_factor=0.2, total_iters=4),
    lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=2, mode="triangular2"),
    lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=12),
    lambda o: S.SequentialLR(
        o, [S.ConstantLR(o, 0.5, total_iters=2), S.ExponentialLR(o, 0.9)], milestones=[3]
    ),
    lambda o: S.ChainedScheduler([S.StepLR(o, 2), S.ExponentialLR(o, 0.95)]),
]


@pytest.mark.parametrize("build", BUILDERS)
def test_resume_from_state_dict_continues_the_same_schedule(build):
    opt = _opt(momentum=0.9)
    sched = build(opt)
    for _ in range(5):
        opt.step()
        sched.step()
    saved_opt = opt.state_dict()
    saved = sched.state_dict()
    rest = _lrs(opt, sched, 6)[1:]

    # torch's documented order: build both, load the scheduler, then the optimizer
    opt2 = _opt(momentum=0.9)
    sched2 = build(opt2)
    sched2.load_state_dict(saved)
    opt2.load_state_dict(saved_opt)
    assert _lrs(opt2, sched2, 6)[1:] == rest


def test_resume_with_last_epoch_requires_initial_lr():
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups"):
        S.StepLR(_opt(), 2, last_epoch=3)
    opt = _opt()
    opt.param_groups[0]["initial_lr"] = 1.0
    sched = S.StepLR(opt, 2, gamma=0.5, last_epoch=3)
    assert sched.base_lrs == [1.0] and sched.last_epoch == 4


def test_initial_lr_is_recorded_and_state_dict_keys():
    opt = _opt()
    sched = S.StepLR(opt, 3)
    assert opt.param_groups[0]["initial_lr"] == 0.1
    assert list(sched.state_dict()) == [
        "step_size",
        "gamma",
        "base_lrs",
        "last_epoch",
        "_step_count",
        "_is_initial",
        "_get_lr_called_within_step",
        "_last_lr",
    ]
    lam = S.LambdaLR(_opt(), lambda e: 1.0)
    assert lam.state_dict()["lr_lambdas"] == [None]


def test_lambda_state_saves_callable_objects():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, epoch):
            return self.rate**epoch

    d = Decay()
    sched = S.LambdaLR(_opt(), d)
    d.rate = 0.25
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.25}]
    d2 = Decay()
    sched2 = S.LambdaLR(_opt(), d2)
    sched2.load_state_dict(state)
    assert d2.rate == 0.25


def test_warnings_about_call_order_and_get_lr():
    opt = _opt()
    sched = S.StepLR(opt, 2)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sched.step()
    assert any("before `optimizer.step()`" in str(x.message) for x in w)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sched.get_lr()
    assert any("please use `get_last_lr()`" in str(x.message) for x in w)
    opt = _opt()
    sched = S.StepLR(opt, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()


def test_tensor_lr_is_updated_in_place():
    w = torch.zeros(1, requires_grad=True)
    lr = torch.tensor(0.5, dtype=torch.float64)
    opt = optim.SGD([w], lr=lr)
    sched = S.ExponentialLR(opt, gamma=0.5)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] is lr and lr.item() == 0.25


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="int is not an Optimizer"):
        S.StepLR(3, 2)
