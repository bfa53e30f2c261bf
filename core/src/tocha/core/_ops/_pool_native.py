"""2x2 / stride-2 max pooling through the compiled kernels ``_native/pool.c``: the forward's
maxima and winning slots in one pass, the backward's scatter in one (NumPy: ~10 passes and
4 masked passes). Same slots, same results as `pool._max_pool_2x2` / `SlotScatter`, whose
NumPy code stays the reference and the fallback. float32 and float64 NumPy arrays only."""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _native

__all__ = ["max_pool_2x2", "max_pool_2x2_backward"]

_P, _I = ctypes.c_void_p, ctypes.c_int64
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _kernel(x, name: str):
    suffix = _SUFFIX.get(x.dtype) if isinstance(x, np.ndarray) else None
    if suffix is None:
        return None
    return _native.function("pool", f"{name}_{suffix}", _I, _I, _I, _I, _I, _P, _P, _P)


def max_pool_2x2(x, O):  # noqa: N803
    """``(maxima, slots)`` of x (N, C, H, W) over 2x2 windows, or None when not handled."""
    fn = _kernel(x, "tocha_max_pool_2x2")
    if fn is None:
        return None
    N, C, H, W = x.shape  # noqa: N806
    x = np.ascontiguousarray(x)
    m = np.empty((N, C) + tuple(O), dtype=x.dtype)
    k = np.empty((N, C) + tuple(O), dtype=np.uint8)
    fn(N * C, H, W, O[0], O[1], x.ctypes.data, m.ctypes.data, k.ctypes.data)
    return m, k


def max_pool_2x2_backward(g, k, X):  # noqa: N803
    """The (N, C, *X) input gradient from the output gradient g and the slots k, or None."""
    fn = _kernel(g, "tocha_max_pool_2x2_backward")
    if fn is None:
        return None
    N, C, oh, ow = g.shape  # noqa: N806
    g = np.ascontiguousarray(g)
    out = np.empty((N, C) + tuple(X), dtype=g.dtype)
    fn(N * C, X[0], X[1], oh, ow, g.ctypes.data, np.ascontiguousarray(k).ctypes.data,
       out.ctypes.data)  # fmt: skip
    return out
