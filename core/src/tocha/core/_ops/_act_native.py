"""The exact GELU through the compiled kernels ``_native/act.c``: one pass per float32 block
instead of ~10 NumPy passes, with the coefficients of `activation`'s NumPy kernel (which stays
the reference and the fallback, and recomputes a block with non-finite values exactly). Also
ReLU's forward and backward, bit for bit as `pointwise.Relu`'s NumPy calls."""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _native, _parallel

__all__ = ["gelu", "gelu_backward", "gelu_array", "gelu_backward_array", "relu", "relu_backward"]

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
# a part per thread from this many elements: below it the handoff costs more than the pass
_RELU_THREAD_MIN = 1 << 20


def _elementwise(fn, out, *ins) -> None:
    """``fn`` (n, *ins, out) over flat C-contiguous arrays, in one part per thread when large."""
    n = out.size
    if n >= _RELU_THREAD_MIN and _parallel.get_num_threads() > 1 and _parallel.may_split():
        _parallel._run(lambda *a, out: fn(a[0].size, *[v.ctypes.data for v in a], out.ctypes.data),
                       out.reshape(-1), [v.reshape(-1) for v in ins], ())  # fmt: skip
        return
    fn(n, *[v.ctypes.data for v in ins], out.ctypes.data)


def relu(a):
    """``max(a, 0)`` (NaN kept) as a new array for float32/float64 C-contiguous ``a``, else
    None (also when the kernel is unavailable)."""
    suffix = _SUFFIX.get(a.dtype)
    if suffix is None or not a.flags.c_contiguous:
        return None
    fn = _native.function("act", f"tocha_relu_{suffix}", _I, _P, _P)
    if fn is None:
        return None
    out = np.empty_like(a)
    _elementwise(fn, out, a)
    return out


def relu_backward(y, g):
    """``where(y > 0, g, 0.0)`` for same-shape float32/float64 C-contiguous arrays, else None."""
    suffix = _SUFFIX.get(y.dtype)
    if (
        suffix is None
        or g.dtype != y.dtype
        or g.shape != y.shape
        or not (y.flags.c_contiguous and g.flags.c_contiguous)
    ):
        return None
    fn = _native.function("act", f"tocha_relu_backward_{suffix}", _I, _P, _P, _P)
    if fn is None:
        return None
    out = np.empty_like(g)
    _elementwise(fn, out, y, g)
    return out


# the exact GELU's whole-array calls go to the threads from this many elements
_GELU_THREAD_MIN = 1 << 18


def _split_run(n, call) -> bool:
    """``call(lo, hi)`` (a kernel returning its count of non-finite results) over [0, n), in
    one part per thread when large; whether every part came back finite."""
    threads = _parallel.get_num_threads()
    if n < _GELU_THREAD_MIN or threads <= 1 or not _parallel.may_split():
        return call(0, n) == 0
    bounds = [n * i // threads for i in range(threads + 1)]
    pool = _parallel._get_pool()
    futs = [pool.submit(call, bounds[i], bounds[i + 1]) for i in range(1, threads)]
    ok = call(0, bounds[1]) == 0
    return all([f.result() == 0 for f in futs]) and ok


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

    def call(lo, hi):
        return fn(hi - lo, xa + 4 * lo, oa + 4 * lo, ca)

    return out if _split_run(x.size, call) else None


def gelu_backward_array(g, x, coef):
    """``g * gelu'(x)`` as `gelu_array` does it, for same-shape float32 arrays; None as it."""
    fn = _fn("tocha_gelu_backward_f32", 3) if _ok(g, x) and g.shape == x.shape else None
    if fn is None:
        return None
    out = np.empty_like(x)
    ga, xa, oa, ca = g.ctypes.data, x.ctypes.data, out.ctypes.data, coef.ctypes.data

    def call(lo, hi):
        return fn(hi - lo, ga + 4 * lo, xa + 4 * lo, oa + 4 * lo, ca)

    return out if _split_run(x.size, call) else None
