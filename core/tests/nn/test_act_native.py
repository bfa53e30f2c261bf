"""The exact GELU's compiled kernels (`_ops/_act_native.py`, `_native/act.c`) against its
NumPy kernel and against x * Phi(x) in float64 (scipy's ndtr): values, gradients, and blocks
with inf/nan or huge inputs (recomputed exactly, as the NumPy path does). ReLU's compiled
backward against NumPy's mask, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import _native
from tocha.core._ops import _act_native

pytestmark = pytest.mark.skipif(_native._compiler() is None, reason="no C compiler on this machine")


def _act_and_grad(monkeypatch, native, x, g, act=F.gelu):
    """``act(x)`` and the gradient of ``sum(act(x) * g)``, with ``TOCHA_NATIVE=native``."""
    monkeypatch.setenv("TOCHA_NATIVE", native)
    xt = torch.tensor(x, requires_grad=True)
    y = act(xt)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), xt.grad.numpy()


def test_compiled_gelu_matches_numpy_and_the_formula(monkeypatch, threads):
    calls = []  # the compiled whole-array calls that produced the result
    for name in ("gelu_array", "gelu_backward_array"):
        real = getattr(_act_native, name)

        def spy(*a, _r=real, _n=name):
            res = _r(*a)
            if res is not None:
                calls.append(_n)
            return res

        monkeypatch.setattr(_act_native, name, spy)
    rng = np.random.default_rng(0)
    # (over 2^18 elements: a part per thread)
    x = np.concatenate([np.linspace(-12, 12, 200001), rng.standard_normal(100000) * 3])
    x = x.astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    y1, g1 = _act_and_grad(monkeypatch, "1", x, g)
    assert "gelu_array" in calls and "gelu_backward_array" in calls
    y0, g0 = _act_and_grad(monkeypatch, "0", x, g)
    np.testing.assert_allclose(y1, y0, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(g1, g0, rtol=1e-6, atol=1e-6)  # (cancellation near x = -0.75)
    xd = x.astype(np.float64)
    np.testing.assert_allclose(y1, xd * sp.ndtr(xd), rtol=1e-6, atol=1e-7)
    dref = sp.ndtr(xd) + xd * np.exp(-0.5 * xd * xd) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(g1, g * dref, rtol=1e-6, atol=1e-6)


def test_non_finite_blocks_are_recomputed_exactly(monkeypatch):
    x = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 1.0, -2.0], dtype=np.float32)
    y, gr = _act_and_grad(monkeypatch, "1", x, np.ones_like(x))
    with np.errstate(invalid="ignore"):
        xd = x.astype(np.float64)
        ref = xd * sp.ndtr(xd)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    np.testing.assert_allclose(y[~np.isnan(ref)], ref[~np.isnan(ref)], rtol=1e-6)
    assert gr[5] == pytest.approx(sp.ndtr(1.0) + np.exp(-0.5) / np.sqrt(2 * np.pi), rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1000, 40000, (1 << 20) + 3])  # NumPy; one call; a part per thread
def test_compiled_relu_backward_matches_numpy_bit_for_bit(monkeypatch, threads, dtype, n):
    calls = []  # the compiled calls that produced the gradient
    real = _act_native.relu_backward

    def spy(*a):
        res = real(*a)
        if res is not None:
            calls.append(res.size)
        return res

    monkeypatch.setattr(_act_native, "relu_backward", spy)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(n).astype(dtype)
    x[:6] = [np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0]
    g = rng.standard_normal(n).astype(dtype)
    g[6] = np.nan  # a NaN gradient where x > 0 passes, where x <= 0 becomes 0
    x[6], x[7], g[7] = 1.0, -1.0, np.nan
    y1, g1 = _act_and_grad(monkeypatch, "1", x, g, act=torch.relu)
    assert calls == ([n] if n >= _act_native._RELU_MIN else [])  # small: NumPy's two passes
    y0, g0 = _act_and_grad(monkeypatch, "0", x, g, act=torch.relu)
    np.testing.assert_array_equal(g1.view(np.uint8), g0.view(np.uint8))  # NaN, -0.0 included
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(y1, np.maximum(x, 0))
    assert np.isnan(g1[6]) and g1[7] == 0 and g1[0] == 0
