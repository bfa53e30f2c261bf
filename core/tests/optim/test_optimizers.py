"""Every optimizer's update rule against a NumPy re-implementation of its published formula
(torch's documented algorithm), over several steps with fixed gradients, in float64 and float32;
plus the behaviour around the update: skipped parameters, closures, hooks, groups, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import optim

SHAPES = [(3, 4), (5,), ()]
STEPS = 5


# --- NumPy references: one function per optimizer, (params, grads per step, options) -> params
def _ref_sgd(
    ps, gss, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False
):
    ps = [p.copy() for p in ps]
    bufs = [None] * len(ps)
    for gs in gss:
        for i, g in enumerate(gs):
            g = -g if maximize else g
            g = g + weight_decay * ps[i]
            if momentum != 0:
                if bufs[i] is None:
                    bufs[i] = g.copy()
                else:
                    bufs[i] = momentum * bufs[i] + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            ps[i] = ps[i] - lr * g
    return ps


def _ref_adam(
    ps,
    gss,
    lr,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    amsgrad=False,
    maximize=False,
    decoupled=False,
):
    b1, b2 = betas
    ps = [p.copy() for p in ps]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    vmax = [np.zeros_like(p) for p in ps]
    for t, gs in enumerate(gss, 1):
        for i, g in enumerate(gs):
            g = -g if maximize else g
            if decoupled:
                ps[i] = ps[i] * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            vmax[i] = np.maximum(vmax[i], v[i])
            vhat = vmax[i] if amsgrad else v[i]
            denom = np.sqrt(vhat) / math.sqrt(1 - b2**t) + eps
            ps[i] = ps[i] - lr / (1 - b1**t) * m[i] / denom
    return ps


def _ref_adamax(ps, gss, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
    b1, b2 = betas
    ps = [p.copy() for p in ps]
    m = [np.zeros_like(p) for p in ps]
    u = [np.zeros_like(p) for p in ps]
    for t, gs in enumerate(gss, 1):
        for i, g in enumerate(gs):
            g = (-g if maximize else g) + weight_decay * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            u[i] = np.maximum(b2 * u[i], np.abs(g) + eps)
            ps[i] = ps[i] - lr / (1 - b1**t) * m[i] / u[i]
    return ps


def _ref_nadam(
    ps,
    gss,
    lr,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    momentum_decay=4e-3,
    decoupled=False,
    maximize=False,
):
    b1, b2 = betas
    ps = [p.copy() for p in ps]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    mu_prod = [1.0] * len(ps)
    for t, gs in enumerate(gss, 1):
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        for i, g in enumerate(gs):
            g = -g if maximize else g
            if decoupled:
                ps[i] = ps[i] * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * ps[i]
            # torch keeps the running product in a float32 state tensor (step-counter dtype)
            mu_prod[i] = float(np.float32(mu_prod[i]) * np.float32(mu))
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            denom = np.sqrt(v[i] / (1 - b2**t)) + eps
            ps[i] = (
                ps[i]
                - lr * (1 - mu) / (1 - mu_prod[i]) * g / denom
                - lr * mu_next / (1 - mu_prod[i] * mu_next) * m[i] / denom
            )
    return ps


def _ref_radam(
    ps, gss, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False, maximize=False
):
    b1, b2 = betas
    rho_inf = 2 / (1 - b2) - 1
    ps = [p.copy() for p in ps]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    for t, gs in enumerate(gss, 1):
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        for i, g in enumerate(gs):
            g = -g if maximize else g
            if decoupled:
                ps[i] = ps[i] * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat = m[i] / (1 - b1**t)
            if rho_t > 5:
                r = math.sqrt(
                    (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                )
                adaptive = math.sqrt(1 - b2**t) / (np.sqrt(v[i]) + eps)
                ps[i] = ps[i] - m_hat * lr * adaptive * r
            else:
                ps[i] = ps[i] - m_hat * lr
    return ps


def _ref_rmsprop(
    ps,
    gss,
    lr,
    alpha=0.99,
    eps=1e-8,
    weight_decay=0.0,
    momentum=0.0,
    centered=False,
    maximize=False,
):
    ps = [p.copy() for p in ps]
    sq = [np.zeros_like(p) for p in ps]
    ga = [np.zeros_like(p) for p in ps]
    buf = [np.zeros_like(p) for p in ps]
    for gs in gss:
        for i, g in enumerate(gs):
            g = (-g if maximize else g) + weight_decay * ps[i]
            sq[i] = alpha * sq[i] + (1 - alpha) * g * g
            if centered:
                ga[i] = alpha * ga[i] + (1 - alpha) * g
                avg = np.sqrt(sq[i] - ga[i] ** 2) + eps
            else:
                avg = np.sqrt(sq[i]) + eps
            if momentum > 0:
                buf[i] = momentum * buf[i] + g / avg
                ps[i] = ps[i] - lr * buf[i]
            else:
                ps[i] = ps[i] - lr * g / avg
    return ps


def _ref_adagrad(
    ps,
    gss,
    lr,
    lr_decay=0.0,
    weight_decay=0.0,
    initial_accumulator_value=0.0,
    eps=1e-10,
    maximize=False,
):
    ps = [p.copy() for p in ps]
    s = [np.full_like(p, initial_accumulator_value) for p in ps]
    for t, gs in enumerate(gss, 1):
        clr = lr / (1 + (t - 1) * lr_decay)
        for i, g in enumerate(gs):
            g = (-g if maximize else g) + weight_decay * ps[i]
            s[i] = s[i] + g * g
            ps[i] = ps[i] - clr * g / (np.sqrt(s[i]) + eps)
    return ps


def _ref_adadelta(ps, gss, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    ps = [p.copy() for p in ps]
    v = [np.zeros_like(p) for p in ps]
    u = [np.zeros_like(p) for p in ps]
    for gs in gss:
        for i, g in enumerate(gs):
            g = (-g if maximize else g) + weight_decay * ps[i]
            v[i] = rho * v[i] + (1 - rho) * g * g
            delta = np.sqrt(u[i] + eps) / np.sqrt(v[i] + eps) * g
            u[i] = rho * u[i] + (1 - rho) * delta * delta
            ps[i] = ps[i] - lr * delta
    return ps


def _ref_kw(kw):
    kw = dict(kw)
    if "decoupled_weight_decay" in kw:
        kw["decoupled"] = kw.pop("decoupled_weight_decay")
    return kw


# (optimizer, its options, reference, options the reference takes)
CASES = [
    ("SGD", dict(lr=0.1), _ref_sgd),
    ("SGD", dict(lr=0.1, momentum=0.9), _ref_sgd),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1, maximize=True), _ref_sgd),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01), _ref_sgd),
    ("Adam", dict(lr=0.1), _ref_adam),
    ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.1, maximize=True), _ref_adam),
    (
        "Adam",
        dict(lr=0.1, betas=(0.3, 0.9), weight_decay=0.1, decoupled_weight_decay=True),
        _ref_adam,
    ),
    (
        "AdamW",
        dict(lr=0.1),
        lambda ps, gss, **kw: _ref_adam(ps, gss, weight_decay=0.01, decoupled=True, **kw),
    ),
    (
        "AdamW",
        dict(lr=0.1, amsgrad=True, weight_decay=0.2),
        lambda ps, gss, **kw: _ref_adam(ps, gss, decoupled=True, **kw),
    ),
    ("Adamax", dict(lr=0.1, weight_decay=0.1), _ref_adamax),
    ("Adamax", dict(lr=0.1, betas=(0.7, 0.9), maximize=True), _ref_adamax),
    ("NAdam", dict(lr=0.1), _ref_nadam),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True), _ref_nadam),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, momentum_decay=0.01, maximize=True), _ref_nadam),
    ("RAdam", dict(lr=0.1), _ref_radam),
    ("RAdam", dict(lr=0.1, betas=(0.5, 0.6), weight_decay=0.1), _ref_radam),
    (
        "RAdam",
        dict(
            lr=0.1, betas=(0.5, 0.6), weight_decay=0.1, decoupled_weight_decay=True, maximize=True
        ),
        _ref_radam,
    ),
    ("RMSprop", dict(lr=0.01), _ref_rmsprop),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1), _ref_rmsprop),
    ("RMSprop", dict(lr=0.01, alpha=0.8, momentum=0.5, maximize=True), _ref_rmsprop),
    ("Adagrad", dict(lr=0.1), _ref_adagrad),
    (
        "Adagrad",
        dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5, maximize=True),
        _ref_adagrad,
    ),
    ("Adadelta", dict(), _ref_adadelta),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True), _ref_adadelta),
]


def _data(dtype, steps=STEPS, shapes=SHAPES, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]
    return init, grads


def _run(name, kw, init, grads):
    params = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(optim, name)(params, **kw)
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g.copy())
        opt.step()
    return [p.detach().numpy() for p in params], opt


def _case_id(case):
    name, kw, _ = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_update_rule_matches_numpy_reference(case, dtype):
    name, kw, ref = case
    init, grads = _data(dtype)
    got, _ = _run(name, kw, init, grads)
    want = ref(
        [a.astype(np.float64) for a in init],
        [[g.astype(np.float64) for g in gs] for gs in grads],
        **_ref_kw(kw),
    )
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    for g, w in zip(got, want):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, w, **tol)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adadelta"])
def test_chunked_and_strided_parameters_match_the_plain_path(name):
    # a parameter larger than one chunk, and a transposed (non-contiguous) parameter, take
    # other code paths in the driver: results must equal those of small contiguous ones
    from tocha.core.optim import _util

    kw = dict(lr=0.01, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.01)
    n = _util.CHUNK * 2 + 7
    rng = np.random.default_rng(1)
    init = rng.standard_normal(n)
    grads = [rng.standard_normal(n) for _ in range(3)]
    big, _ = _run(name, kw, [init], [[g] for g in grads])
    pieces = [slice(0, 5), slice(5, 6000), slice(6000, n)]
    small, _ = _run(name, kw, [init[s] for s in pieces], [[g[s] for s in pieces] for g in grads])
    np.testing.assert_array_equal(big[0], np.concatenate(small))

    base = torch.tensor(init[:12].reshape(3, 4).copy())
    strided = base.t()
    strided.requires_grad_(True)
    opt = getattr(optim, name)([strided], **kw)
    for g in grads:
        strided.grad = torch.tensor(g[:12].reshape(4, 3).copy())
        opt.step()
    ref, _ = _run(
        name, kw, [init[:12].reshape(3, 4).T.copy()], [[g[:12].reshape(4, 3)] for g in grads]
    )
    np.testing.assert_array_equal(strided.detach().numpy(), ref[0])


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad", "RMSprop", "NAdam"])
def test_complex_parameters_update_as_pairs_of_reals(name):
    # torch optimizes a complex parameter as view_as_real: same as optimizing the real pairs
    kw = dict(lr=0.1, momentum=0.5) if name == "SGD" else dict(lr=0.1)
    rng = np.random.default_rng(2)
    z0 = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    gz = [rng.standard_normal(4) + 1j * rng.standard_normal(4) for _ in range(3)]
    got, _ = _run(name, kw, [z0], [[g] for g in gz])
    as_real = lambda z: np.stack([z.real, z.imag], -1)  # noqa: E731
    want, _ = _run(name, kw, [as_real(z0)], [[as_real(g)] for g in gz])
    np.testing.assert_allclose(as_real(got[0]), want[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "name", ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta"]
)
def test_parameters_without_grad_are_skipped(name):
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    opt = getattr(optim, name)([a, b], lr=0.1, weight_decay=0.1)
    a.grad = torch.tensor([0.5, -0.5])
    opt.step()
    assert b.tolist() == [3.0, 4.0]
    assert b._version == 0
    assert a.tolist() != [1.0, 2.0]
    if name != "Adagrad":  # Adagrad creates its state up front, as torch does
        assert b not in opt.state or not opt.state[b]


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad", "RMSprop"])
def test_step_bumps_version_so_autograd_sees_the_change(name):
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = getattr(optim, name)([w], lr=0.1)
    y = (w * w).sum()  # saves w for backward
    y.backward(retain_graph=True)
    v0 = w._version
    opt.step()
    assert w._version == v0 + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_view_of_parameter_sees_the_update():
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    view = w.detach()[0]
    opt = optim.SGD([w], lr=1.0)
    w.grad = torch.ones(2, 2)
    opt.step()
    assert view.tolist() == [0.0, 1.0]


def test_closure_is_evaluated_with_grad_enabled_and_its_loss_returned():
    w = torch.tensor([2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0
    assert w.item() == 1.0
    assert opt.step() is None


def test_lr_and_betas_may_be_tensors():
    init, grads = _data(np.float64, steps=3)
    want, _ = _run("Adam", dict(lr=0.1, betas=(0.8, 0.99)), init, grads)
    got, _ = _run(
        "Adam",
        dict(
            lr=torch.tensor(0.1, dtype=torch.float64),
            betas=(torch.tensor(0.8, dtype=torch.float64), torch.tensor(0.99, dtype=torch.float64)),
        ),
        init,
        grads,
    )
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-15)
    got, _ = _run(
        "SGD", dict(lr=torch.tensor([0.1], dtype=torch.float64), momentum=0.5), init, grads
    )
    want, _ = _run("SGD", dict(lr=0.1, momentum=0.5), init, grads)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-15)


def test_param_groups_have_their_own_options():
    a = torch.tensor([1.0], requires_grad=True)
    b = torch.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 1.0, "momentum": 0.5}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0
    assert opt.param_groups[1]["momentum"] == 0.5
    a.grad = torch.tensor([1.0])
    b.grad = torch.tensor([1.0])
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 0.0])
    assert list(opt.param_groups[1].keys())[0] == "params"


def test_named_parameters_are_recorded():
    a = torch.zeros(1, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    opt = optim.Adam([("a", a), ("layer.b", b)])
    assert opt.param_groups[0]["param_names"] == ["a", "layer.b"]
    assert opt.param_groups[0]["params"][1] is b
    with pytest.raises(ValueError, match="Some param names are missing"):
        optim.Adam([("a", a), b])
    with pytest.raises(ValueError, match="cannot add param group without names"):
        opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)]})


def test_add_param_group_and_its_errors():
    a = torch.zeros(1, requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([a])
    with pytest.raises(TypeError, match="ordering of tensors in sets"):
        opt.add_param_group({"params": {torch.zeros(1, requires_grad=True)}})
    with pytest.raises(
        TypeError, match="optimizer can only optimize Tensors, but one of the params is int"
    ):
        opt.add_param_group({"params": [3]})
    nonleaf = torch.zeros(1, requires_grad=True) * 2
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        opt.add_param_group({"params": [nonleaf]})
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        b = torch.zeros(1, requires_grad=True)
        optim.SGD([b, b], lr=0.1)
    assert any("duplicate parameters" in str(x.message) for x in w)


def test_required_hyperparameter():
    class Plain(optim.Optimizer):
        def __init__(self, params, lr=optim.optimizer.required):
            super().__init__(params, dict(lr=lr))

    with pytest.raises(
        ValueError, match="didn't specify a value of required optimization parameter lr"
    ):
        Plain([torch.zeros(1, requires_grad=True)])
    assert Plain([{"params": [torch.zeros(1, requires_grad=True)], "lr": 1}]).param_groups


def test_constructor_errors():
    w = torch.zeros(1, requires_grad=True)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(
        TypeError, match="should be an iterable of Tensors or dicts, but got torch.FloatTensor"
    ):
        optim.SGD(w, lr=0.1)
    cases = [
        (optim.SGD, dict(lr=-1.0), "Invalid learning rate: -1.0"),
        (optim.SGD, dict(momentum=-1), "Invalid momentum value: -1"),
        (
            optim.SGD,
            dict(nesterov=True),
            "Nesterov momentum requires a momentum and zero dampening",
        ),
        (optim.Adam, dict(eps=-1), "Invalid epsilon value: -1"),
        (optim.Adam, dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
        (optim.Adam, dict(betas=(0.9, -1.0)), "Invalid beta parameter at index 1: -1.0"),
        (optim.Adam, dict(betas=(0, 0.99)), "betas must be either both floats or both Tensors"),
        (optim.AdamW, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
        (optim.NAdam, dict(momentum_decay=-1), "Invalid momentum_decay value: -1"),
        (optim.RMSprop, dict(alpha=-1), "Invalid alpha value: -1"),
        (optim.Adagrad, dict(lr_decay=-1), "Invalid lr_decay value: -1"),
        (
            optim.Adagrad,
            dict(initial_accumulator_value=-1),
            "Invalid initial_accumulator_value value: -1",
        ),
        (optim.Adadelta, dict(rho=2), "Invalid rho value: 2"),
        (optim.LBFGS, dict(lr=-1), "Invalid learning rate: -1"),
        (optim.Adam, dict(lr=torch.tensor([0.1, 0.2])), "Tensor lr must be 1-element"),
    ]
    for cls, kw, msg in cases:
        with pytest.raises(ValueError) as info:
            cls([w], **kw)
        assert str(info.value) == msg
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together."):
        optim.Adam([w], fused=True, foreach=True)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        optim.SGD([w], betas=(0.9, 0.99))
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [w]}, {"params": [torch.zeros(1, requires_grad=True)]}])


def test_defaults_and_signature_match_torch():
    w = torch.zeros(1, requires_grad=True)
    expected = {
        optim.SGD: dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False),
        optim.Adam: dict(
            lr=1e-3,
            betas=(0.9, 0.999),
            eps=1e-8,
            weight_decay=0,
            amsgrad=False,
            decoupled_weight_decay=False,
        ),
        optim.AdamW: dict(lr=1e-3, weight_decay=1e-2, decoupled_weight_decay=True),
        optim.Adamax: dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8),
        optim.NAdam: dict(lr=2e-3, momentum_decay=4e-3, decoupled_weight_decay=False),
        optim.RAdam: dict(lr=1e-3, decoupled_weight_decay=False),
        optim.RMSprop: dict(lr=1e-2, alpha=0.99, eps=1e-8, momentum=0, centered=False),
        optim.Adagrad: dict(lr=1e-2, lr_decay=0, initial_accumulator_value=0, eps=1e-10),
        optim.Adadelta: dict(lr=1.0, rho=0.9, eps=1e-6),
        optim.LBFGS: dict(
            lr=1,
            max_iter=20,
            max_eval=25,
            tolerance_grad=1e-7,
            tolerance_change=1e-9,
            history_size=100,
            line_search_fn=None,
        ),
    }
    for cls, values in expected.items():
        group = cls([w]).param_groups[0]
        for k, v in values.items():
            assert group[k] == v, (cls.__name__, k)
    sgd_keys = [
        "params",
        "lr",
        "momentum",
        "dampening",
        "weight_decay",
        "nesterov",
        "maximize",
        "foreach",
        "differentiable",
        "fused",
    ]
    assert list(optim.SGD([w]).param_groups[0]) == sgd_keys


def test_differentiable_is_refused_at_step():
    w = torch.zeros(1, requires_grad=True)
    opt = optim.Adam([w], differentiable=True)
    w.grad = torch.ones(1)
    with pytest.raises(RuntimeError, match="differentiable=True is not supported"):
        opt.step()


def test_zero_grad():
    w = torch.ones(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * 3).sum().backward()
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None
    opt.zero_grad()  # nothing to do


def test_repr_lists_groups_with_sorted_options():
    w = torch.zeros(1, requires_grad=True)
    text = repr(optim.SGD([w], lr=0.1))
    assert text.splitlines()[:4] == [
        "SGD (",
        "Parameter Group 0",
        "    dampening: 0",
        "    differentiable: False",
    ]
    assert text.endswith("    weight_decay: 0\n)")


def test_step_hooks_run_in_order_and_may_replace_arguments():
    w = torch.tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    calls = []

    def pre(o, args, kwargs):
        calls.append("pre")
        return (), {"closure": lambda: torch.tensor(7.0)}

    def post(o, args, kwargs):
        calls.append(("post", kwargs["closure"]().item()))

    def gpre(o, args, kwargs):
        calls.append("global-pre")

    h1 = opt.register_step_pre_hook(pre)
    h2 = opt.register_step_post_hook(post)
    h3 = optim.optimizer.register_optimizer_step_pre_hook(gpre)
    try:
        w.grad = torch.tensor([1.0])
        loss = opt.step()
    finally:
        h3.remove()
    assert loss.item() == 7.0
    assert calls == ["global-pre", "pre", ("post", 7.0)]
    h1.remove()
    h2.remove()
    calls.clear()
    opt.step()
    assert calls == []
    assert w.item() == 0.0

    def bad(o, args, kwargs):
        return 3

    opt.register_step_pre_hook(bad)
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()


def test_subclass_calling_super_step_runs_hooks_once():
    class Logged(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    w = torch.tensor([1.0], requires_grad=True)
    opt = Logged([w], lr=0.5)
    calls = []
    opt.register_step_post_hook(lambda o, a, k: calls.append(1))
    w.grad = torch.tensor([1.0])
    opt.step()
    assert calls == [1] and w.item() == 0.5


def test_works_with_nn_parameter():
    nn = pytest.importorskip("tocha.core.nn")
    if not hasattr(nn, "Parameter"):
        pytest.skip("nn.Parameter not written yet")
    p = nn.Parameter(torch.tensor([1.0, -1.0]))
    opt = optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    assert type(p) is nn.Parameter
    np.testing.assert_allclose(p.detach().numpy(), [0.9, -0.9], rtol=1e-6)


# --- L-BFGS -----------------------------------------------------------------------------------
def _ref_lbfgs_fixed_step(x0, grad_fn, lr, iters, history):
    """Textbook L-BFGS (Nocedal & Wright, alg. 7.4/7.5) with a fixed step ``lr`` (first step
    scaled by min(1, 1/|g|_1), as torch does) and H0 = (s'y / y'y) I."""
    x = x0.copy()
    g = grad_fn(x)
    S, Y = [], []
    d = t = g_prev = None
    for k in range(iters):
        if k == 0:
            d = -g
            h0 = 1.0
        else:
            y, s = g - g_prev, d * t
            if y @ s > 1e-10:
                if len(S) == history:
                    S.pop(0)
                    Y.pop(0)
                S.append(s)
                Y.append(y)
                h0 = (y @ s) / (y @ y)
            q = -g
            alphas = []
            for s_i, y_i in zip(reversed(S), reversed(Y)):
                a = (s_i @ q) / (y_i @ s_i)
                alphas.append(a)
                q = q - a * y_i
            r = h0 * q
            for (s_i, y_i), a in zip(zip(S, Y), reversed(alphas)):
                b = (y_i @ r) / (y_i @ s_i)
                r = r + s_i * (a - b)
            d = r
        g_prev = g
        t = min(1.0, 1.0 / np.abs(g).sum()) * lr if k == 0 else lr
        x = x + t * d
        g = grad_fn(x)
    return x


def _quartic(torch_mod, x):
    # a smooth, non-quadratic function: sum((x - c)^2) + 0.1 * sum(x^4) + x0 * x1
    c = torch_mod.tensor([1.0, -2.0, 0.5], dtype=x.dtype)
    return ((x - c) ** 2).sum() + 0.1 * (x**4).sum() + x[0] * x[1]


def _quartic_grad(x):
    c = np.array([1.0, -2.0, 0.5])
    g = 2 * (x - c) + 0.4 * x**3
    g[0] += x[1]
    g[1] += x[0]
    return g


def test_lbfgs_fixed_step_matches_textbook_two_loop_recursion():
    x0 = np.array([0.3, 0.2, -0.4])
    x = torch.tensor(x0.copy(), dtype=torch.float64, requires_grad=True)
    opt = optim.LBFGS(
        [x], lr=0.5, max_iter=6, history_size=3, tolerance_change=0.0, tolerance_grad=0.0
    )

    def closure():
        opt.zero_grad()
        loss = _quartic(torch, x)
        loss.backward()
        return loss

    opt.step(closure)
    want = _ref_lbfgs_fixed_step(x0, _quartic_grad, lr=0.5, iters=6, history=3)
    np.testing.assert_allclose(x.detach().numpy(), want, rtol=1e-12)
    assert opt.state[x]["n_iter"] == 6
    assert opt.state[x]["func_evals"] == 6  # no evaluation after the last iteration


def test_lbfgs_strong_wolfe_converges_on_rosenbrock():
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    opt = optim.LBFGS(
        [x],
        line_search_fn="strong_wolfe",
        max_iter=100,
        tolerance_grad=1e-10,
        tolerance_change=1e-14,
    )

    def closure():
        opt.zero_grad()
        loss = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(x.detach().numpy(), [1.0, 1.0], atol=1e-8)


def test_strong_wolfe_step_satisfies_the_wolfe_conditions():
    from tocha.core.optim.lbfgs import _strong_wolfe

    def phi(x, t, d):
        y = x + t * d
        return float(np.sum(np.sin(y) + 0.05 * y**2)), np.cos(y) + 0.1 * y

    x = np.array([0.3, -1.0, 2.0])
    f0, g0 = phi(x, 0.0, np.zeros(3))
    d = -g0
    gtd = g0 @ d
    f, g, t, evals = _strong_wolfe(phi, x, 1.0, d, f0, g0, gtd)
    assert f <= f0 + 1e-4 * t * gtd  # sufficient decrease
    assert abs(g @ d) <= 0.9 * abs(gtd)  # strong curvature condition
    assert evals >= 1
    np.testing.assert_allclose(f, phi(x, t, d)[0])


def test_lbfgs_needs_a_closure_and_rejects_other_line_searches():
    x = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="requires a closure"):
        optim.LBFGS([x]).step(None)
    opt = optim.LBFGS([x], line_search_fn="backtracking")

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)


def test_lbfgs_stops_when_gradient_is_already_small():
    x = torch.tensor([0.0, 0.0], requires_grad=True)
    opt = optim.LBFGS([x])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert calls == [1] and x.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("name", ["Adam", "SGD", "RMSprop"])
def test_threaded_step_equals_single_threaded_step(name):
    # a step large enough to be spread over threads: same bits whatever the thread count
    from tocha.core.optim import _util

    kw = dict(lr=0.01, momentum=0.9) if name != "Adam" else dict(lr=0.01, amsgrad=True)
    rng = np.random.default_rng(3)
    shapes = [(_util.PARALLEL_MIN // 2 + 11,), (300, 257), (7,), (5, 3)]
    init = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(2)]
    prev = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one, _ = _run(name, kw, init, grads)
        torch.set_num_threads(3)
        three, _ = _run(name, kw, init, grads)
    finally:
        torch.set_num_threads(prev)
    for a, b in zip(one, three):
        np.testing.assert_array_equal(a, b)
