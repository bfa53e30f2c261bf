"""Layer norm's compiled forward and backward (`_ops/_norm_native.py`, `_native/norm.c`) against
its NumPy kernels (checked against the published formulas in test_activation_norm_fast.py) and
against NumPy float64: outputs, and every gradient."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import _native
from tocha.core._ops import _norm_native

pytestmark = pytest.mark.skipif(_native._compiler() is None, reason="no C compiler on this machine")


def _run(monkeypatch, native, dtype, shape, k, affine):
    monkeypatch.setenv("TOCHA_NATIVE", native)
    rng = np.random.default_rng(0)
    x = torch.tensor((rng.standard_normal(shape) * 3 + 1).astype(dtype), requires_grad=True)
    ns = shape[len(shape) - k :]
    w = (
        torch.tensor(rng.standard_normal(ns).astype(dtype), requires_grad=True)
        if affine[0]
        else None
    )
    b = (
        torch.tensor(rng.standard_normal(ns).astype(dtype), requires_grad=True)
        if affine[1]
        else None
    )
    y = F.layer_norm(x, ns, w, b, eps=1e-5)
    y.backward(torch.tensor(rng.standard_normal(shape).astype(dtype)))
    return [y.detach().numpy(), x.grad.numpy()] + [t.grad.numpy() for t in (w, b) if t is not None]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape,k,affine",
    [
        ((16, 128, 384), 1, (True, True)),  # the transformer benchmark's rows (threads, chunks)
        ((5, 7, 33), 1, (True, False)),  # rows shorter than, and not a multiple of, 16 lanes
        ((3, 4, 5, 6), 2, (False, True)),
        ((2, 3), 1, (False, False)),
        ((40, 1), 1, (True, True)),
    ],
)
def test_compiled_layer_norm_matches_numpy(monkeypatch, dtype, shape, k, affine):
    calls = []
    for name in ("layer_norm_kernel", "layer_norm_backward_kernel"):
        real = getattr(_norm_native, name)
        monkeypatch.setattr(
            _norm_native, name, lambda *a, _r=real, _n=name: (calls.append(_n), _r(*a))[1]
        )
    got = _run(monkeypatch, "1", dtype, shape, k, affine)
    if shape[-1] == 1:  # one-element rows: the input gradient is exactly 0
        assert np.all(got[1] == 0.0)
    assert set(calls) == {"layer_norm_kernel", "layer_norm_backward_kernel"}
    ref = _run(monkeypatch, "0", dtype, shape, k, affine)
    eps = 2e-6 if dtype == np.float32 else 1e-13
    for a, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, r, rtol=10 * eps, atol=eps * max(1.0, np.abs(r).max()))
    # and the output against the formula in float64, from the same draws
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype).astype(np.float64)
    ns = shape[len(shape) - k :]
    w = rng.standard_normal(ns).astype(dtype) if affine[0] else 1.0
    b = rng.standard_normal(ns).astype(dtype) if affine[1] else 0.0
    axes = tuple(range(len(shape) - k, len(shape)))
    xh = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    np.testing.assert_allclose(got[0], xh * w + b, rtol=10 * eps, atol=20 * eps)
