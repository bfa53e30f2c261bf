"""Layer norm's forward through the compiled kernel ``_native/norm.c``: statistics and output
of each row while it is in cache (NumPy: ~10 passes per chunk). Same results, saved mean and
reciprocal standard deviation as `norm.NativeLayerNorm`'s NumPy kernel, which stays the
reference and the fallback. float32 and float64 C-contiguous NumPy arrays only."""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _native

__all__ = ["layer_norm_kernel"]

_P, _I = ctypes.c_void_p, ctypes.c_int64
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def layer_norm_kernel(x2, w, b, eps, out, mean, rstd):
    """``kernel(lo, hi)`` filling rows lo:hi of out, mean and rstd from x2 (m, n), or None
    when the arrays are not ones the kernel takes."""
    suffix = _SUFFIX.get(x2.dtype) if type(x2) is np.ndarray else None
    if suffix is None or not x2.flags.c_contiguous:
        return None
    if any(v is not None and (v.dtype != x2.dtype or not v.flags.c_contiguous) for v in (w, b)):
        return None
    fn = _native.function(
        "norm", f"tocha_layer_norm_{suffix}", _I, _I, _P, _P, _P, ctypes.c_double, _P, _P, _P
    )
    if fn is None:
        return None
    n = x2.shape[1]
    row, item = n * x2.itemsize, x2.itemsize
    xa, oa, ma, ra = x2.ctypes.data, out.ctypes.data, mean.ctypes.data, rstd.ctypes.data
    wa = None if w is None else w.ctypes.data
    ba = None if b is None else b.ctypes.data

    def kernel(lo, hi):
        fn(hi - lo, n, xa + lo * row, wa, ba, eps, oa + lo * row, ma + lo * item, ra + lo * item)

    return kernel
