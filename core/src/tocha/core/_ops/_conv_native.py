"""2-D im2col / col2im through the compiled kernels ``_native/im2col.c`` (padding read by
bounds, no padded copy; one memcpy per output row), for `conv`'s general im2col + GEMM path.
Same column layout as `conv._columns`, whose NumPy gather stays the reference and the
fallback. float32 and float64 NumPy arrays only; `available` says whether they apply."""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _native

__all__ = ["available", "im2col", "col2im"]

_P, _I = ctypes.c_void_p, ctypes.c_int64
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _kernel(name: str, dtype):
    return _native.function("im2col", f"{name}_{_SUFFIX[dtype]}", *[_I] * 14, _P, _P)


def available(xp, dtype, geo) -> bool:
    """Whether the kernels handle a convolution with this geometry on these arrays."""
    return (
        xp is np
        and len(geo[2]) == 2
        and np.dtype(dtype) in _SUFFIX
        and _kernel("tocha_im2col", np.dtype(dtype)) is not None
    )


def _geometry(shape, geo):
    X, O, K, s, d, lo, _ = geo  # noqa: N806
    n, c = shape[:2]
    return (n, c, X[0], X[1], K[0], K[1], O[0], O[1], s[0], s[1], lo[0], lo[1], d[0], d[1])


def im2col(x, geo):
    """The (G, Cg*kh*kw, n*oh*ow) columns of x (n, C, H, W)."""
    x = np.ascontiguousarray(x)
    n, c = x.shape[:2]
    K, O, G = geo[2], geo[1], geo[6]  # noqa: N806
    cols = np.empty((c * K[0] * K[1], n * O[0] * O[1]), dtype=x.dtype)
    _kernel("tocha_im2col", x.dtype)(*_geometry(x.shape, geo), x.ctypes.data, cols.ctypes.data)
    return cols.reshape(G, -1, cols.shape[1])


def col2im(cols, out, geo):
    """``out`` (n, C, H, W), contiguous, overwritten with the adjoint of `im2col` of cols."""
    cols = np.ascontiguousarray(cols)
    _kernel("tocha_col2im", out.dtype)(*_geometry(out.shape, geo), cols.ctypes.data,
                                       out.ctypes.data)  # fmt: skip
    return out
