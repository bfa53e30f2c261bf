"""Layer norm through the compiled kernels ``_native/norm.c``: forward statistics and output of
each row while it is in cache (NumPy: ~10 passes per chunk), backward in two passes per row.
Same results, saved mean and reciprocal standard deviation as `norm.NativeLayerNorm`'s NumPy
kernels, which stay the reference and the fallback. Also batch norm's passes over the data
for `_batchnorm_cpu`. float32 and float64 C-contiguous NumPy arrays only."""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _native

__all__ = ["layer_norm_kernel", "layer_norm_backward_kernel", "batch_norm_kernels"]

_P, _I = ctypes.c_void_p, ctypes.c_int64
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _suffix(x2, *others):
    """The kernels' dtype suffix when x2 and every other array (or None) can be passed."""
    suffix = _SUFFIX.get(x2.dtype) if type(x2) is np.ndarray else None
    if suffix is None or not x2.flags.c_contiguous:
        return None
    for v in others:
        if v is not None and (v.dtype != x2.dtype or not v.flags.c_contiguous):
            return None
    return suffix


def layer_norm_kernel(x2, w, b, eps, out, mean, rstd):
    """``kernel(lo, hi)`` filling rows lo:hi of out, mean and rstd from x2 (m, n), or None
    when the arrays are not ones the kernel takes."""
    suffix = _suffix(x2, w, b)
    if suffix is None:
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


def layer_norm_backward_kernel(x2, g2, wf, mean, rstd, gx, need_w: bool, need_b: bool):
    """`norm._ln_backward_kernel`'s ``kernel(lo, hi)``: writes rows lo:hi of ``gx`` (when not
    None) and returns their (weight, bias) gradient partial sums; None when not handled."""
    suffix = _suffix(x2, g2, wf, mean, rstd, gx)
    fn = None
    if suffix is not None:
        fn = _native.function("norm", f"tocha_layer_norm_backward_{suffix}", _I, _I, *[_P] * 8)
    if fn is None:
        return None
    n, dt = x2.shape[1], x2.dtype
    row, item = n * x2.itemsize, x2.itemsize
    xa, ga, ma, ra = x2.ctypes.data, g2.ctypes.data, mean.ctypes.data, rstd.ctypes.data
    wa = None if wf is None else wf.ctypes.data

    def kernel(lo, hi):
        pw = np.zeros(n, dtype=dt) if need_w else None
        pb = np.zeros(n, dtype=dt) if need_b else None
        fn(hi - lo, n, xa + lo * row, ga + lo * row, wa, ma + lo * item, ra + lo * item,
           None if gx is None else gx.ctypes.data + lo * row,
           None if pw is None else pw.ctypes.data, None if pb is None else pb.ctypes.data)  # fmt: skip
        return pw, pb

    return kernel


def batch_norm_kernels(dtype):
    """``(sums, apply)`` for `_batchnorm_cpu`'s passes over (N * C, L) rows of ``dtype`` data,
    or None when the kernels do not take it or are unavailable:

    - ``sums(r0, r1, ln, C, x, g, k, s1, s2)``: per row of [r0, r1), with t = x - k[c],
      ``s1 = sum(t)``, ``s2 = sum(t * t)``; given ``g`` (else None), ``s1 = sum(g)`` and
      ``s2 = sum(g * t)``; s1 and s2 hold the range's rows from their start.
    - ``apply(r0, r1, ln, C, x, g, m, a, b, d, out)``: ``out = x * a[c] + b[c]``; given ``g``,
      ``out = a[c] * g + b[c] * (x - m[c]) + d[c]``.

    Arrays are C-contiguous NumPy arrays of ``dtype`` (per-channel vectors of length C), passed
    as they are; the kernels release the GIL."""
    suffix = _SUFFIX.get(np.dtype(dtype))
    if suffix is None:
        return None
    sums = _native.function("norm", f"tocha_batch_norm_sums_{suffix}", *[_I] * 4, *[_P] * 5)
    apply = _native.function("norm", f"tocha_batch_norm_apply_{suffix}", *[_I] * 4, *[_P] * 7)
    if sums is None or apply is None:
        return None

    def addr(a):
        return None if a is None else a.ctypes.data

    def run_sums(r0, r1, ln, c, x, g, k, s1, s2):
        sums(r0, r1, ln, c, addr(x), addr(g), addr(k), addr(s1), addr(s2))

    def run_apply(r0, r1, ln, c, x, g, m, a, b, d, out):
        apply(r0, r1, ln, c, addr(x), addr(g), addr(m), addr(a), addr(b), addr(d), addr(out))

    return run_sums, run_apply
