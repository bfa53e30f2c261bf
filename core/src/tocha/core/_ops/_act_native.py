"""The exact GELU through the compiled kernels ``_native/act.c``: one pass per float32 block
instead of ~10 NumPy passes, with the coefficients of `activation`'s NumPy kernel (which stays
the reference and the fallback, and recomputes a block with non-finite values exactly)."""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _native

__all__ = ["gelu", "gelu_backward"]

_P, _I = ctypes.c_void_p, ctypes.c_int64


def _fn(name: str, n_arrays: int):
    return _native.function("act", name, _I, *[_P] * (n_arrays + 1), restype=ctypes.c_int64)


def _ok(*arrays) -> bool:
    return all(type(a) is np.ndarray and a.dtype == np.float32 and a.flags.c_contiguous
               for a in arrays)  # fmt: skip


def gelu(out, x, coef) -> bool:
    """``out = gelu(x)`` for float32 blocks; False (nothing to rely on in ``out``) when the
    kernel is unavailable or met non-finite values."""
    fn = _fn("tocha_gelu_f32", 2) if _ok(out, x) else None
    return fn is not None and fn(x.size, x.ctypes.data, out.ctypes.data, coef.ctypes.data) == 0


def gelu_backward(out, g, x, coef) -> bool:
    """``out = g * gelu'(x)`` for float32 blocks; False as `gelu`."""
    fn = _fn("tocha_gelu_backward_f32", 3) if _ok(out, g, x) else None
    return fn is not None and (
        fn(x.size, g.ctypes.data, x.ctypes.data, out.ctypes.data, coef.ctypes.data) == 0
    )
