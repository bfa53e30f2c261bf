"""The exact GELU through the compiled kernels ``_native/act.c``: one pass per float32 block
instead of ~10 NumPy passes, with the coefficients of `activation`'s NumPy kernel (which stays
the reference and the fallback, and recomputes a block with non-finite values exactly). Also
ReLU's backward, bit for bit as `pointwise.Relu`'s NumPy calls."""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _native, _parallel

__all__ = ["gelu", "gelu_backward", "gelu_array", "gelu_backward_array", "relu_backward"]

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


_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
# ReLU's backward: from this many elements (below, the ctypes call costs more than NumPy's
# two passes: 10.8 against 8.5 us at 16Ki elements, 15.7 against 23.3 at 64Ki)
_RELU_MIN = 1 << 15
# a part per thread from this many elements: below it the handoff costs more than the pass
_RELU_THREAD_MIN = 1 << 20
_GELU_THREAD_MIN = 1 << 18


def _parts(n: int, threshold: int, call) -> list:
    """``[call(lo, hi)]`` over [0, n): one part per intra-op thread from ``threshold``
    elements (each call releases the GIL), else one."""
    threads = _parallel.get_num_threads()
    if n < threshold or threads <= 1 or not _parallel.may_split():
        return [call(0, n)]
    bounds = [n * i // threads for i in range(threads + 1)]
    pool = _parallel._get_pool()
    futs = [pool.submit(call, bounds[i], bounds[i + 1]) for i in range(1, threads)]
    first = call(0, bounds[1])
    return [first] + [f.result() for f in futs]


def relu_backward(y, g):
    """``where(y > 0, g, 0.0)`` for same-shape float32/float64 C-contiguous arrays of 2^15+
    elements, else None."""
    suffix = _SUFFIX.get(y.dtype)
    if (
        suffix is None
        or y.size < _RELU_MIN
        or g.dtype != y.dtype
        or g.shape != y.shape
        or not (y.flags.c_contiguous and g.flags.c_contiguous)
    ):
        return None
    fn = _native.function("act", f"tocha_relu_backward_{suffix}", _I, _P, _P, _P)
    if fn is None:
        return None
    out = np.empty_like(g)
    ya, ga, oa, item = y.ctypes.data, g.ctypes.data, out.ctypes.data, y.itemsize
    _parts(y.size, _RELU_THREAD_MIN,
           lambda lo, hi: fn(hi - lo, ya + item * lo, ga + item * lo, oa + item * lo))  # fmt: skip
    return out


def gelu_array(x, coef):
    """``gelu(x)`` as a new array for a float32 C-contiguous ``x``, in one compiled call per
    thread (the blocked NumPy path's cache-sized blocks only pay for its many passes: as
    32K-element calls the kernel ran at ~3 ns per element, the threads' Python loops taking
    turns with the GIL); None when it does not apply or met non-finite values."""
    fn = _fn("tocha_gelu_f32", 2) if _ok(x) else None
    if fn is None:
        return None
    out = np.empty_like(x)
    xa, oa, ca = x.ctypes.data, out.ctypes.data, coef.ctypes.data

    def call(lo, hi):  # the count of non-finite results
        return fn(hi - lo, xa + 4 * lo, oa + 4 * lo, ca)

    return out if not any(_parts(x.size, _GELU_THREAD_MIN, call)) else None


def gelu_backward_array(g, x, coef):
    """``g * gelu'(x)`` as `gelu_array` does it, for same-shape float32 arrays; None as it."""
    fn = _fn("tocha_gelu_backward_f32", 3) if _ok(g, x) and g.shape == x.shape else None
    if fn is None:
        return None
    out = np.empty_like(x)
    ga, xa, oa, ca = g.ctypes.data, x.ctypes.data, out.ctypes.data, coef.ctypes.data

    def call(lo, hi):
        return fn(hi - lo, ga + 4 * lo, xa + 4 * lo, oa + 4 * lo, ca)

    return out if not any(_parts(x.size, _GELU_THREAD_MIN, call)) else None
