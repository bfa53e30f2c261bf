"""tocha.core.optim against real torch.optim: the same initial parameters and the same sequence
of gradients give the same trajectories (to float32 precision; torch fuses some multiply-adds),
the same state_dict layout, the same error messages, and the schedulers the same learning-rate
sequences (exactly). Needs torch: runs in `nox -s compat`."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the anchor (torch) runs in `nox -s compat` only")

import tocha.core as tocha  # noqa: E402
from tocha.core import optim as toptim  # noqa: E402

SHAPES = [(5, 3), (4,), ()]

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.1)),
    ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.1, betas=(0.3, 0.9), weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.1)),
    ("AdamW", dict(lr=0.1, amsgrad=True, weight_decay=0.3)),
    ("Adamax", dict(lr=0.1, weight_decay=0.1)),
    ("Adamax", dict(lr=0.1, maximize=True)),
    ("NAdam", dict(lr=0.1)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, maximize=True, momentum_decay=0.01)),
    ("RAdam", dict(lr=0.1)),
    ("RAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.1, weight_decay=0.1, betas=(0.5, 0.6))),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    (
        "Adagrad",
        dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5, maximize=True),
    ),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)]


def _data(dtype, steps, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    return init, grads


def _pair(name, kw, init):
    tp = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    cp = [tocha.tensor(a.copy(), requires_grad=True) for a in init]
    return tp, getattr(torch.optim, name)(tp, **kw), cp, getattr(toptim, name)(cp, **kw)


def _feed(tp, topt, cp, copt, grads):
    for gs in grads:
        for p, g in zip(tp, gs):
            p.grad = torch.from_numpy(g.copy())
        for p, g in zip(cp, gs):
            p.grad = tocha.tensor(g.copy())
        topt.step()
        copt.step()


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x._data)


@pytest.mark.parametrize(("name", "kw"), CONFIGS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_trajectory_and_state_match_torch(name, kw, dtype):
    init, grads = _data(dtype, 10)
    tp, topt, cp, copt = _pair(name, kw, init)
    _feed(tp, topt, cp, copt, grads)
    for a, b in zip(tp, cp):
        np.testing.assert_allclose(_np(b), _np(a), **_tol(dtype))
    tsd, csd = topt.state_dict(), copt.state_dict()
    assert tsd["param_groups"] == csd["param_groups"]
    assert [list(g) for g in tsd["param_groups"]] == [list(g) for g in csd["param_groups"]]
    assert list(tsd["state"]) == list(csd["state"])
    for i, st in tsd["state"].items():
        assert list(st) == list(csd["state"][i])
        for k, v in st.items():
            w = csd["state"][i][k]
            assert str(v.dtype).replace("torch.", "") == str(w.dtype).replace("torch.", "")
            assert tuple(v.shape) == tuple(w.shape)
            np.testing.assert_allclose(_np(w), _np(v), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("name", "kw"), CONFIGS[::3], ids=IDS[::3])
def test_torch_checkpoint_loads_and_continues_like_torch(name, kw):
    dtype = np.float32
    init, grads = _data(dtype, 8)
    tp, topt, cp, copt = _pair(name, kw, init)
    _feed(tp, topt, cp, copt, grads[:4])
    # a state_dict written by torch, tensors converted (what tocha.core.load does for .pt files)
    tsd = topt.state_dict()
    converted = {
        "state": {
            i: {
                k: tocha.tensor(v.numpy().copy()) if isinstance(v, torch.Tensor) else v
                for k, v in st.items()
            }
            for i, st in tsd["state"].items()
        },
        "param_groups": [dict(g) for g in tsd["param_groups"]],
    }
    cp2 = [tocha.tensor(_np(p).copy(), requires_grad=True) for p in tp]
    copt2 = getattr(toptim, name)(cp2, lr=42.0)
    copt2.load_state_dict(converted)
    _feed(tp, topt, cp2, copt2, grads[4:])
    for a, b in zip(tp, cp2):
        np.testing.assert_allclose(_np(b), _np(a), rtol=1e-5, atol=1e-6)


def test_repr_matches_torch():
    for name, kw in CONFIGS[::4]:
        tp, topt, cp, copt = _pair(name, kw, _data(np.float32, 1)[0])
        assert repr(copt) == repr(topt)


ERRORS = [
    ("SGD", dict(lr=-1.0)),
    ("SGD", dict(lr=0.1, momentum=-1)),
    ("SGD", dict(lr=0.1, weight_decay=-1)),
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("Adam", dict(eps=-1)),
    ("Adam", dict(betas=(1.0, 0.9))),
    ("Adam", dict(betas=(0.9, -1))),
    ("Adam", dict(betas=(0, 0.99))),
    ("Adam", dict(weight_decay=-1)),
    ("AdamW", dict(lr=-0.5)),
    ("Adamax", dict(betas=(1.0, 0.9))),
    ("NAdam", dict(momentum_decay=-1)),
    ("RAdam", dict(eps=-1)),
    ("RMSprop", dict(alpha=-1)),
    ("RMSprop", dict(momentum=-1)),
    ("Adagrad", dict(lr_decay=-1)),
    ("Adagrad", dict(initial_accumulator_value=-1)),
    ("Adadelta", dict(rho=2)),
    ("LBFGS", dict(lr=-1)),
    ("Adam", dict(fused=True, foreach=True)),
]


@pytest.mark.parametrize(("name", "kw"), ERRORS)
def test_constructor_errors_match_torch(name, kw):
    with pytest.raises(Exception) as t_err:
        getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(1))], **kw)
    with pytest.raises(Exception) as c_err:
        getattr(toptim, name)([tocha.zeros(1, requires_grad=True)], **kw)
    assert type(c_err.value) is type(t_err.value)
    assert str(c_err.value) == str(t_err.value)


def _lbfgs_pair(kw, x0):
    tx = torch.nn.Parameter(torch.from_numpy(x0.copy()))
    cx = tocha.tensor(x0.copy(), requires_grad=True)
    topt, copt = torch.optim.LBFGS([tx], **kw), toptim.LBFGS([cx], **kw)

    def f(L, x):
        c = L.tensor([1.0, -2.0, 0.5, 3.0], dtype=x.dtype)
        return ((x - c) ** 2).sum() + 0.1 * (x**4).sum() + x[0] * x[1] - 0.3 * x[2] * x[3]

    def tclosure():
        topt.zero_grad()
        loss = f(torch, tx)
        loss.backward()
        return loss

    def cclosure():
        copt.zero_grad()
        loss = f(tocha, cx)
        loss.backward()
        return loss

    return tx, topt, tclosure, cx, copt, cclosure


@pytest.mark.parametrize(
    "kw",
    [
        dict(lr=1, line_search_fn="strong_wolfe"),
        dict(lr=1, line_search_fn="strong_wolfe", history_size=2, max_iter=7),
        dict(lr=0.05, history_size=3, max_iter=10),
    ],
)
def test_lbfgs_trajectory_matches_torch(kw):
    x0 = np.array([-1.5, 2.0, 0.5, -0.7])
    tx, topt, tcl, cx, copt, ccl = _lbfgs_pair(kw, x0)
    for _ in range(3):
        tl, cl = topt.step(tcl), copt.step(ccl)
        np.testing.assert_allclose(cl.item(), tl.item(), rtol=1e-10)
        np.testing.assert_allclose(_np(cx), _np(tx), rtol=1e-9, atol=1e-12)
        assert copt.state[cx]["func_evals"] == topt.state[tx]["func_evals"]
        assert copt.state[cx]["n_iter"] == topt.state[tx]["n_iter"]


# --- schedulers: identical learning-rate (and momentum) sequences and state_dict keys ---------
def _sched_opt(L, O, name, groups, **kw):
    params = [L.zeros(2, requires_grad=True) for _ in range(groups)]
    if groups == 1:
        return getattr(O, name)(params, lr=0.1, **kw)
    return getattr(O, name)(
        [{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)], **kw
    )


SCHEDULERS = [
    ("LambdaLR", lambda S, o: S.LambdaLR(o, lambda e: 0.95**e), {}),
    ("MultiplicativeLR", lambda S, o: S.MultiplicativeLR(o, lambda e: 0.9), {}),
    ("StepLR", lambda S, o: S.StepLR(o, 3, gamma=0.3), {}),
    ("MultiStepLR", lambda S, o: S.MultiStepLR(o, [2, 5, 5, 9], gamma=0.5), {}),
    ("ConstantLR", lambda S, o: S.ConstantLR(o, factor=0.3, total_iters=4), {}),
    ("LinearLR", lambda S, o: S.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=7), {}),
    ("ExponentialLR", lambda S, o: S.ExponentialLR(o, 0.87), {}),
    ("PolynomialLR", lambda S, o: S.PolynomialLR(o, total_iters=8, power=2.5), {}),
    ("CosineAnnealingLR", lambda S, o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.001), {}),
    ("CAWR", lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01), {}),
    (
        "CAWR-frac",
        lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
        dict(step_arg=lambda i: i * 0.37),
    ),
    (
        "CAWR-frac-1",
        lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=4),
        dict(step_arg=lambda i: i * 0.61),
    ),
    (
        "CyclicLR",
        lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3, step_size_down=5),
        dict(okw=dict(momentum=0.9)),
    ),
    (
        "CyclicLR-tri2",
        lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=2, mode="triangular2"),
        dict(okw=dict(momentum=0.9)),
    ),
    (
        "CyclicLR-exp",
        lambda S, o: S.CyclicLR(
            o,
            [0.01, 0.02],
            [0.1, 0.3],
            step_size_up=2,
            mode="exp_range",
            gamma=0.9,
            cycle_momentum=False,
        ),
        dict(groups=2),
    ),
    ("CyclicLR-adam", lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3), dict(name="Adam")),
    (
        "OneCycleLR",
        lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=20),
        dict(okw=dict(momentum=0.9)),
    ),
    (
        "OneCycleLR-3",
        lambda S, o: S.OneCycleLR(
            o,
            max_lr=[1.0, 2.0],
            epochs=4,
            steps_per_epoch=5,
            anneal_strategy="linear",
            three_phase=True,
        ),
        dict(groups=2, okw=dict(momentum=0.9)),
    ),
    (
        "OneCycleLR-adam",
        lambda S, o: S.OneCycleLR(o, max_lr=0.5, total_steps=20, pct_start=0.25),
        dict(name="Adam"),
    ),
    (
        "SequentialLR",
        lambda S, o: S.SequentialLR(
            o,
            [S.LinearLR(o, 0.1, total_iters=3), S.ExponentialLR(o, 0.9), S.StepLR(o, 2)],
            milestones=[3, 7],
        ),
        {},
    ),
    (
        "ChainedScheduler",
        lambda S, o: S.ChainedScheduler(
            [S.ConstantLR(o, 0.5, total_iters=3), S.ExponentialLR(o, 0.9)]
        ),
        {},
    ),
    (
        "ReduceLROnPlateau",
        lambda S, o: S.ReduceLROnPlateau(o, patience=1, cooldown=1, factor=0.5, min_lr=0.01),
        dict(step_arg=lambda i: [1.0, 0.9, 0.95, 0.94, 0.93, 0.96, 0.97, 0.5, 0.6, 0.7][i % 10]),
    ),
    (
        "ReduceLROnPlateau-max",
        lambda S, o: S.ReduceLROnPlateau(
            o, mode="max", threshold_mode="abs", threshold=0.05, patience=0
        ),
        dict(step_arg=lambda i: [1.0, 1.02, 1.1, 1.12, 1.3][i % 5]),
    ),
    ("StepLR-epoch", lambda S, o: S.StepLR(o, 3, gamma=0.3), dict(step_arg=lambda i: (i * 7) % 11)),
    ("Cosine-epoch", lambda S, o: S.CosineAnnealingLR(o, 5), dict(step_arg=lambda i: (i * 3) % 13)),
]


def _run_sched(L, O, build, n, name="SGD", groups=1, okw=None, step_arg=None):
    opt = _sched_opt(L, O, name, groups, **(okw or {}))
    s = build(O.lr_scheduler, opt)

    def snapshot():
        moms = [
            {k: v for k, v in g.items() if k in ("momentum", "betas")} for g in opt.param_groups
        ]
        return list(s.get_last_lr()), moms

    out = [snapshot()]
    for i in range(n):
        opt.step()
        s.step() if step_arg is None else s.step(step_arg(i))
        out.append(snapshot())
    return out, s.state_dict()


@pytest.mark.parametrize(("label", "build", "kw"), SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
def test_scheduler_sequences_match_torch_exactly(label, build, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_seq, t_state = _run_sched(torch, torch.optim, build, 20, **kw)
        c_seq, c_state = _run_sched(tocha, toptim, build, 20, **kw)
    assert c_seq == t_seq
    assert list(c_state) == list(t_state)
    for k, v in t_state.items():
        if k in ("_schedulers", "lr_lambdas", "_scale_fn_custom"):
            continue
        assert c_state[k] == v, k
