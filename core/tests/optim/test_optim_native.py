"""SGD's compiled update (`optim/_native_update.py`, `_native/optim.c`) against its NumPy
kernel, bit for bit, over every option and on the multi-threaded path; the NumPy kernel
itself is checked against torch's update rule in test_optimizers.py."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import _native
from tocha.core.optim import _native_update

pytestmark = pytest.mark.skipif(_native._compiler() is None, reason="no C compiler on this machine")


def _run(monkeypatch, native, shapes, dtype, optimizer="SGD", steps=3, **opts):
    """Parameters, then their state tensors (momentum buffers, Adam's moments), after
    ``steps`` steps of ``torch.optim.<optimizer>`` from fixed gradients."""
    monkeypatch.setenv("TOCHA_NATIVE", native)
    rng = np.random.default_rng(0)
    params = [torch.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
              for s in shapes]  # fmt: skip
    opt = getattr(torch.optim, optimizer)(params, **opts)
    for step in range(steps):
        for p in params:
            p.grad = torch.tensor(rng.standard_normal(p.shape).astype(dtype) * (step + 1))
        opt.step()
    out = [p.detach().numpy().copy() for p in params]
    for p in params:
        for key in ("momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            value = opt.state[p].get(key)
            if value is not None:
                out.append(value.numpy().copy())
    return out


def _same(one, zero):
    assert len(one) == len(zero)
    for a, b in zip(one, zero):
        np.testing.assert_array_equal(a, b)


def _spy(monkeypatch):
    """Records whether each compiled update ran: per parameter (`_native_update.sgd`, the
    first step's) or all parameters at once (`sgd_all`, through `_sgd_kernel.every`)."""
    from tocha.core.optim import sgd as sgd_module

    calls = []
    for owner, name in ((_native_update, "sgd"), (sgd_module._sgd_kernel, "every")):
        real = getattr(owner, name)

        def spy(*a, _real=real):
            done = _real(*a)
            calls.append(done)
            return done

        monkeypatch.setattr(owner, name, spy)
    return calls


OPTIONS = [
    dict(lr=lr, momentum=m, dampening=d, nesterov=n, weight_decay=wd, maximize=mx)
    for lr, m, d, n, wd, mx in itertools.product(
        (0.1,), (0.0, 0.9), (0.0, 0.3), (False, True), (0.0, 0.01), (False, True)
    )
    if not (n and (m == 0 or d != 0))  # nesterov needs momentum and no dampening
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_compiled_sgd_matches_numpy_bit_for_bit(monkeypatch, dtype, opts):
    calls = _spy(monkeypatch)
    shapes = [(7, 5), (3,), (1,)]
    one = _run(monkeypatch, "1", shapes, dtype, **opts)
    assert calls and all(c is True for c in calls)
    calls.clear()
    zero = _run(monkeypatch, "0", shapes, dtype, **opts)
    assert not any(calls)
    _same(one, zero)


def test_compiled_sgd_on_the_threaded_path(monkeypatch, threads):
    # over _native_update._MIN_THREADS elements: pieces of every parameter on both threads
    calls = _spy(monkeypatch)
    shapes = [(600, 800), (800,), (10, 800)]
    opts = dict(lr=0.01, momentum=0.9, weight_decay=5e-4)
    one = _run(monkeypatch, "1", shapes, np.float32, **opts)
    assert calls.count(True) == 3  # each step's parameters all at once
    _same(one, _run(monkeypatch, "0", shapes, np.float32, **opts))


def test_numpy_scalar_hyperparameters_take_the_numpy_path(monkeypatch):
    # NumPy computes in a float64 scalar's precision: the compiled kernel (float32) must not
    p = np.ones(4, np.float32)
    assert not _native_update.sgd(p, p.copy(), None, np.float64(0.1), 0, 0, 0, False, False, False)
    assert _native_update.sgd(p, p.copy(), None, 0.1, 0, 0, 0, False, False, False)
    np.testing.assert_array_equal(p, np.float32(1) + np.float32(1) * np.float32(-0.1))


def test_strided_gradients_fall_back(monkeypatch):
    p = np.ones((4, 3), np.float32)
    g = np.ones((3, 4), np.float32).T
    assert not _native_update.sgd(p, g, None, 0.1, 0, 0, 0, False, False, False)
    np.testing.assert_array_equal(p, 1)


def test_groups_with_different_options_update_each_their_way(monkeypatch):
    """Parameter groups with different options are not one compiled call (`sgd_all` declines
    them); each parameter's update is still the compiled one, bit for bit NumPy's."""

    def run(native):
        monkeypatch.setenv("TOCHA_NATIVE", native)
        rng = np.random.default_rng(1)
        a, b = (torch.tensor(rng.standard_normal((50, 40)).astype(np.float32), requires_grad=True)
                for _ in range(2))  # fmt: skip
        opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
        for _ in range(3):
            a.grad = torch.tensor(rng.standard_normal((50, 40)).astype(np.float32))
            b.grad = torch.tensor(rng.standard_normal((50, 40)).astype(np.float32))
            opt.step()
        return a.detach().numpy().copy(), b.detach().numpy().copy()

    calls = _spy(monkeypatch)
    one = run("1")
    assert False in calls and True in calls  # sgd_all declined, sgd ran per parameter
    for x, y in zip(one, run("0")):
        np.testing.assert_array_equal(x, y)


ADAM_OPTIONS = [
    dict(lr=lr, betas=betas, weight_decay=wd, amsgrad=ams, maximize=mx, decoupled_weight_decay=dec)
    for lr, betas, wd, ams, mx, dec in itertools.product(
        (1e-2,),
        ((0.9, 0.999), (0.3, 0.9)),
        (0.0, 0.05),
        (False, True),
        (False, True),
        (False, True),
    )
    if not (dec and wd == 0)
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "opts", ADAM_OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items())
)
def test_compiled_adam_matches_numpy_bit_for_bit(monkeypatch, dtype, opts):
    """Adam, AMSGrad, L2 and decoupled (AdamW) decay, maximize, both forms of torch's lerp
    (beta1 0.9: weight 0.1; beta1 0.3: weight 0.7), in one compiled call per step."""
    from tocha.core.optim import adam

    calls = []
    real = adam._adam_kernel.every
    monkeypatch.setattr(
        adam._adam_kernel, "every", lambda jobs: calls.append(real(jobs)) or calls[-1]
    )
    shapes = [(7, 5), (3,), (1,)]
    one = _run(monkeypatch, "1", shapes, dtype, "Adam", **opts)
    assert calls and all(c is True for c in calls)
    calls.clear()
    zero = _run(monkeypatch, "0", shapes, dtype, "Adam", **opts)
    assert not any(calls)
    _same(one, zero)


def test_compiled_adam_on_the_threaded_path_and_adamw(monkeypatch, threads):
    shapes = [(600, 800), (800,), (10, 800)]
    for opts in (dict(lr=1e-3), dict(lr=1e-3, weight_decay=0.01, amsgrad=True)):
        one = _run(monkeypatch, "1", shapes, np.float32, "Adam", **opts)
        _same(one, _run(monkeypatch, "0", shapes, np.float32, "Adam", **opts))

    def adamw(native):
        monkeypatch.setenv("TOCHA_NATIVE", native)
        rng = np.random.default_rng(2)
        p = torch.tensor(rng.standard_normal((300, 300)).astype(np.float32), requires_grad=True)
        opt = torch.optim.AdamW([p], lr=1e-2, weight_decay=0.1)
        for _ in range(3):
            p.grad = torch.tensor(rng.standard_normal((300, 300)).astype(np.float32))
            opt.step()
        return p.detach().numpy()

    np.testing.assert_array_equal(adamw("1"), adamw("0"))
