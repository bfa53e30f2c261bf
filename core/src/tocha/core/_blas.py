"""The BLAS behind tocha's float32/float64 matrix products on the CPU.

NumPy's ``matmul`` calls the OpenBLAS its wheel bundles. When Intel MKL is installed (the
``mkl`` extra: ``pip install "tocha-core[mkl]"``), tocha calls MKL's CBLAS directly for the
2-D products of ``nn.Linear``, ``matmul`` and the convolutions, as torch's CPU build does: on
this project's x86 benchmark machine MKL's SGEMM runs the transformer and convolution shapes
1.1-1.6x faster than OpenBLAS (docs/performance.md).

MKL runs *sequentially* (its threading layer set once, before its first call), and a large
product is split by rows or columns over tocha's intra-op threads (``_parallel``): one thread
model for the whole library. MKL's OpenMP workers would otherwise spin for 200 ms after every
GEMM on the cores tocha's own threads need (measured: convolution steps up to 1.5x slower).

``TOCHA_BLAS`` picks the library: ``auto`` (the default: MKL when installed), ``mkl`` (an
error naming the fix when it is not), ``openblas`` (NumPy's, always available).

``gemm_into(a, b, c, beta)`` accumulates ``c = a @ b + beta * c`` in place through whichever
CBLAS is in use (NumPy's ``matmul`` has no ``beta``); when no CBLAS can be found (another
BLAS, another platform) both entry points fall back to ``np.matmul``.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
import threading

import numpy as np

from . import _parallel

__all__ = ["library", "matmul", "matmul_pair", "gemm_into", "gemm_pointer"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_MKL_THREADING_SEQUENTIAL = 1
# m*n*k below which NumPy's call is faster (the ctypes call and its checks cost ~9 us: a
# 32x64x32 product 2.9 us through NumPy, 12.3 us through MKL) and still runs on one OpenBLAS
# thread (OpenBLAS threads a GEMM above 65536 * 4). Higher, NumPy's products would wake
# OpenBLAS's threads, which then spin on the cores MKL's split needs (measured: MLP step 1.44
# -> 1.9x torch's with this bound at 2M)
_MIN_MKL = 1 << 18
# m*n*k from which a product is split over the intra-op threads: below it handing half to a
# pool thread (~100-150 us on a busy VM) costs more than it saves (LeNet-5's 128x400x120
# linear: 0.78 ms split, 0.12 ms on one thread)
_MIN_SPLIT = 1 << 24
# a product with fewer output rows or columns than this stays with NumPy's OpenBLAS (on one
# thread) unless it is large enough to split: MKL runs these skinny shapes up to 3.6x slower
# (LeNet-5's first convolution's (25, 4704) @ (4704, 6) weight gradient: 70 us against 19 us;
# its (6, 25) @ (25, 4704) forward: 22 against 15 us), but a GPT's (1, 768) @ (768, 50257)
# head reads its 154 MB weight faster on two threads (decode 18.1 against 20.1 tokens/s)
_MIN_MKL_SIDE = 16
# with the compiled split (no GIL handoff), a skinny product whose large operand has this many
# elements (k times the long side: 2 MB of float32) is split too: it is memory-bound (GPT-2
# decode's (1, 768) @ (768, 3072) reads 9.4 MB: ~0.5-0.67 ms on one thread) and two threads
# read it faster (decode 6.3-6.6 -> 5.5-6.0 s per 128 tokens); since the split's workers wait
# spinning, its (1, 768) @ (768, 768) too (4.62 -> 4.37 s, alternating). Smaller ones (an MLP's
# 10-class head, LeNet-5's classifier) stay on one thread
_MIN_SPLIT_SKINNY = 1 << 19
# products with at most this many output rows split their inner dimension (gemm.c's SPLIT_K):
# each thread reads one contiguous block of the weight: GPT-2 decode's layer GEMVs read 15.6-15.8
# GB/s against 13.8-15.4 in interleaved column halves
_SPLIT_K, _SPLIT_K_MAX_ROWS = 2, 4
# m*n*k of the smaller of two independent products from which `matmul_pair` runs them side by
# side on the intra-op threads: below it posting one to a worker costs more than it saves
_MIN_PAIR = 1 << 20
_CHOICES = ("auto", "mkl", "openblas")

_GEMM_OF = {"f": "s", "d": "d"}  # dtype.char -> the CBLAS routine's letter
_lock = threading.Lock()
_state: dict = {}  # 'library': 'mkl' | 'openblas' | None, 'fns': {'s': fn, 'd': fn}


def _gemm_argtypes(fn, real, int_t) -> None:
    e, p = ctypes.c_int, ctypes.c_void_p
    fn.argtypes = [e, e, e, int_t, int_t, int_t, real, p, int_t, p, int_t, real, p, int_t]
    fn.restype = None


def _mkl_candidates() -> list:
    """Paths where the ``mkl`` wheel (or conda) puts the MKL runtime library."""
    names = ("libmkl_rt.so*", "libmkl_rt*.dylib", "mkl_rt*.dll")
    dirs = []
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, sys.exec_prefix)):
        dirs += [os.path.join(prefix, "lib"), os.path.join(prefix, "Library", "bin")]
    found = [p for d in dirs for n in names for p in sorted(glob.glob(os.path.join(d, n)))]
    import ctypes.util

    lib = ctypes.util.find_library("mkl_rt")
    return found + ([lib] if lib else [])


def _load_mkl() -> dict:
    """{'s': sgemm, 'd': dgemm} from MKL set to run sequentially, or {} when unavailable."""
    for path in _mkl_candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        layer = getattr(lib, "MKL_Set_Threading_Layer", None)
        if layer is None:
            continue
        layer.argtypes, layer.restype = [ctypes.c_int], ctypes.c_int
        # fails (returns another layer) when MKL already ran threaded in this process: then
        # its OpenMP threads and the row split below would oversubscribe the cores
        if layer(_MKL_THREADING_SEQUENTIAL) != _MKL_THREADING_SEQUENTIAL:
            continue
        fns = {}
        for ch, real in (("s", ctypes.c_float), ("d", ctypes.c_double)):
            # the ILP64 entry points (MKL 2023+) take any size; else LP64 with a size check
            fn = getattr(lib, f"cblas_{ch}gemm_64", None)
            int_t = ctypes.c_int64
            if fn is None:
                fn, int_t = getattr(lib, f"cblas_{ch}gemm", None), ctypes.c_int
            if fn is not None:
                _gemm_argtypes(fn, real, int_t)
                fn.lp64 = int_t is ctypes.c_int
                fns[ch] = fn
        if fns:
            return fns
    return {}


def _load_openblas() -> dict:
    """{'s': sgemm, 'd': dgemm} from the OpenBLAS loaded in this process (NumPy's first)."""
    fns = {}
    try:
        with open("/proc/self/maps") as f:
            paths = {ln.split()[-1] for ln in f if "openblas" in ln.rsplit("/", 1)[-1]}
    except OSError:
        return fns
    # NumPy's own copy first (SciPy may load another OpenBLAS beside it)
    for path in sorted(paths, key=lambda p: ("numpy" not in p, p)):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        # the "64_" symbols take 64-bit integers (ILP64), the plain ones 32-bit (LP64)
        for suffix, int_t in (("64_", ctypes.c_int64), ("", ctypes.c_int)):
            for prefix in ("scipy_cblas_", "cblas_"):
                for ch, real in (("s", ctypes.c_float), ("d", ctypes.c_double)):
                    fn = getattr(lib, f"{prefix}{ch}gemm{suffix}", None)
                    if fn is None or ch in fns:
                        continue
                    _gemm_argtypes(fn, real, int_t)
                    fn.lp64 = int_t is ctypes.c_int
                    fns[ch] = fn
        if fns:
            break
    return fns


def _works(fn, dt) -> bool:
    """A wrong guess about a library's integer width shows up here, not in a result."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 5)).astype(dt), rng.standard_normal((4, 5)).astype(dt)
    c = np.ones((3, 4), dtype=dt)
    try:
        fn(_ROW_MAJOR, _NO_TRANS, _TRANS, 3, 4, 5, 1.0, a.ctypes.data, 5, b.ctypes.data, 5, 1.0,
           c.ctypes.data, 4)  # fmt: skip
    except Exception:  # pragma: no cover - an unexpected library
        return False
    return bool(np.allclose(c, a @ b.T + 1, rtol=1e-4, atol=1e-4))


def _resolve() -> dict:
    choice = os.environ.get("TOCHA_BLAS", "auto").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise ValueError(f"TOCHA_BLAS must be one of {', '.join(_CHOICES)}, got {choice!r}")
    fns, name = {}, None
    if choice in ("auto", "mkl"):
        fns, name = _load_mkl(), "mkl"
        if not fns and choice == "mkl":
            raise RuntimeError(
                "TOCHA_BLAS=mkl: Intel MKL's runtime (libmkl_rt) was not found or already runs "
                "threaded in this process; install it with pip install 'tocha-core[mkl]' or "
                "unset TOCHA_BLAS"
            )
    if not fns:
        try:
            fns, name = _load_openblas(), "openblas"
        except Exception:  # pragma: no cover - no ctypes, an unexpected library
            fns = {}
    fns = {ch: fn for ch, fn in fns.items() if _works(fn, np.float32 if ch == "s" else np.float64)}
    return {"library": name if fns else None, "fns": fns}


def _get() -> dict:
    st = _state.get("s")
    if st is None:
        with _lock:
            st = _state.get("s")
            if st is None:
                st = _state["s"] = _resolve()
    return st


def library() -> str | None:
    """``'mkl'``, ``'openblas'`` (NumPy's) or None: the CBLAS tocha's products call."""
    return _get()["library"]


def gemm_pointer(dt) -> tuple[int, bool] | None:
    """(address, takes 32-bit integers) of the CBLAS ``?gemm`` for ``dt``, for native kernels
    that call the same BLAS from C (``_native``), or None when there is none."""
    fn = _fn(np.dtype(dt))
    if fn is None:
        return None
    return ctypes.cast(fn, ctypes.c_void_p).value, fn.lp64


def _fn(dt):
    return _get()["fns"].get(_GEMM_OF.get(dt.char))


_INT32_MAX = (1 << 31) - 1


def _layout(a):
    """(transpose flag, leading dimension) of a 2-D array BLAS can read in place, or None."""
    s0, s1 = a.strides
    it = a.itemsize
    m, n = a.shape
    if s1 == it and s0 >= max(n, 1) * it and s0 % it == 0:
        return _NO_TRANS, s0 // it
    if s0 == it and s1 >= max(m, 1) * it and s1 % it == 0:
        return _TRANS, s1 // it
    return None


def _cblas_shape(fn, a, b, c):
    """``(la, lb, m, n, k, ldc)`` for a CBLAS call ``c = a @ b``, or None when an operand's
    layout or size does not fit ``fn`` (``la``/``lb``: `_layout`'s transpose flag and leading
    dimension)."""
    la, lb = _layout(a), _layout(b)
    m, k = a.shape
    n = b.shape[1]
    if la is None or lb is None or c.strides[1] != c.itemsize or c.strides[0] < n * c.itemsize:
        return None
    ldc = c.strides[0] // c.itemsize
    if fn.lp64 and max(m, n, k, la[1], lb[1], ldc) > _INT32_MAX:
        return None
    return la, lb, m, n, k, max(ldc, 1)


def _gemm(fn, a, b, c, beta: float) -> bool:
    """``c = a @ b + beta * c`` through ``fn``; False when an operand's layout or size doesn't
    fit CBLAS (nothing written then)."""
    shape = _cblas_shape(fn, a, b, c)
    if shape is None:
        return False
    la, lb, m, n, k, ldc = shape
    fn(_ROW_MAJOR, la[0], lb[0], m, n, k, 1.0, a.ctypes.data, la[1], b.ctypes.data, lb[1],
       beta, c.ctypes.data, ldc)  # fmt: skip
    return True


def _gemm_bias(fn, a, b, c, bias) -> bool:
    """``c = a @ b (+ bias)``: the bias written into ``c`` first and accumulated by the GEMM
    (``beta = 1``, as torch's addmm does), so it costs no separate pass over the result."""
    if bias is None:
        return _gemm(fn, a, b, c, 0.0)
    c[...] = bias
    return _gemm(fn, a, b, c, 1.0)


def _native_split():
    """``_native/gemm.c``'s split (worker threads outside Python), or None."""
    from . import _native

    P, I = ctypes.c_void_p, ctypes.c_int64  # noqa: N806
    return _native.function(
        "gemm", "tocha_gemm_split", P, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
        ctypes.c_int, ctypes.c_int, I, I, I, P, I, P, I, P, ctypes.c_double, P, I,
    )  # fmt: skip


def _split_native(split, fn, a, b, c, bias) -> bool:
    """``c = a @ b (+ bias)`` through the compiled split; False as `_gemm`."""
    shape = _cblas_shape(fn, a, b, c)
    if shape is None:
        return False
    la, lb, m, n, k, ldc = shape
    if bias is not None:  # each part fills its rows with the bias, then accumulates
        bias = np.ascontiguousarray(bias)
    parts = _parallel.get_num_threads()
    # a product of a row or a few (decoding's GEMVs) splits the inner dimension: each thread
    # streams a contiguous block of the weight; else the longer side of the output
    mode = _SPLIT_K if m <= _SPLIT_K_MAX_ROWS and k >= 64 * parts else int(n > m)
    split(ctypes.cast(fn, ctypes.c_void_p).value, fn.lp64, c.itemsize,
          parts, mode, la[0], lb[0], m, n, k, a.ctypes.data, la[1],
          b.ctypes.data, lb[1], None if bias is None else bias.ctypes.data, 0.0,
          c.ctypes.data, ldc)  # fmt: skip
    return True


def _native_pair():
    """``_native/gemm.c``'s two products side by side, or None."""
    from . import _native

    P, I, N = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int  # noqa: N806
    one = (N, N, I, I, I, P, I, P, I, P, I)  # ta, tb, m, n, k, a, lda, b, ldb, c, ldc
    return _native.function("gemm", "tocha_gemm_pair", P, N, N, N, *one, *one)


def _split(fn, a, b, c, bias=None) -> bool:
    """``c = a @ b (+ bias)`` in one part per intra-op thread (rows of ``a``, or columns of
    ``b`` when ``a`` has the fewer), the parts' GEMMs side by side: through the compiled
    split's worker threads when available (no GIL handoff), else tocha's thread pool (ctypes
    releases the GIL for each part)."""
    split = _native_split()
    if split is not None and _split_native(split, fn, a, b, c, bias):
        return True
    m, n = c.shape
    parts = _parallel.get_num_threads()
    if n > m:
        cuts = [(n * i // parts, n * (i + 1) // parts) for i in range(parts)]
        jobs = [
            (a, b[:, lo:hi], c[:, lo:hi], None if bias is None else bias[lo:hi]) for lo, hi in cuts
        ]
    else:
        cuts = [(m * i // parts, m * (i + 1) // parts) for i in range(parts)]
        jobs = [(a[lo:hi], b, c[lo:hi], bias) for lo, hi in cuts]
    pool = _parallel._get_pool()
    futures = [pool.submit(_gemm_bias, fn, *job) for job in jobs[1:]]
    ok = _gemm_bias(fn, *jobs[0])
    return all([f.result() for f in futures]) and ok


# products with fewer output columns than _MIN_MKL_SIDE go to gemm.c's narrow kernel (a
# classifier's head: (256, 512) @ (512, 10) in 48 us against OpenBLAS's 76 and MKL's 72; up
# to 126 us in an MLP step) when their weight is a transposed row-major (n, k) array, as a
# linear layer's is, and k is at most _NARROW_MAX_K: each output is one running sum over k
# (as long as a BLAS's blocks of k; a convolution's weight gradient over a batch chunk, k ~ 50K,
# stays with the BLAS) and w's transposed copy stays in cache. On several threads from
# _NARROW_SPLIT multiply-adds
_NARROW_MAX_K = 2048
_NARROW_SPLIT = 1 << 22


def _narrow(a, b, out, bias, m, n, k):
    """``a @ b (+ bias)`` through ``tocha_gemm_narrow_f32``, or None when it does not apply
    (float32, rows of ``a`` and of ``b.T`` contiguous, a C-contiguous result)."""
    if (
        k > _NARROW_MAX_K
        or a.dtype != np.float32
        or a.strides[1] != 4
        or b.strides[0] != 4
        or a.strides[0] % 4
        or b.strides[1] % 4
        or a.strides[0] < 4 * k
        or b.strides[1] < 4 * k
        or (out is not None and not out.flags.c_contiguous)
        or (bias is not None and (bias.shape != (n,) or not bias.flags.c_contiguous))
    ):
        return None
    from . import _native

    P, I = ctypes.c_void_p, ctypes.c_int64  # noqa: N806
    fn = _native.function(
        "gemm", "tocha_gemm_narrow_f32", ctypes.c_int, I, I, I, P, I, P, I, P, P, I,
        restype=ctypes.c_int,
    )  # fmt: skip
    if fn is None:
        return None
    c = np.empty((m, n), dtype=np.float32) if out is None else out
    parts = (
        _parallel.get_num_threads() if m * n * k >= _NARROW_SPLIT and _parallel.may_split() else 1
    )
    lda, ldw = a.strides[0] // 4, b.strides[1] // 4
    if fn(parts, m, n, k, a.ctypes.data, lda, b.ctypes.data, ldw,
          None if bias is None else bias.ctypes.data, c.ctypes.data, n) != 0:  # fmt: skip
        return None
    return c


def _numpy_matmul(a, b, out, bias):
    c = a @ b if out is None else np.matmul(a, b, out=out)
    if bias is None:
        return c
    if c.dtype == bias.dtype:  # c is new (or the caller's out): add in place
        c += bias
        return c
    return c + bias


def matmul(a, b, out=None, bias=None):
    """``a @ b`` (plus ``bias``, a 1-D array over the columns) for 2-D arrays: MKL's GEMM,
    split over the intra-op threads when large, for float32/float64 NumPy arrays when MKL is
    in use (small and skinny products excepted, see ``_MIN_MKL`` and ``_MIN_MKL_SIDE``), else
    the ``@`` operator (NumPy's OpenBLAS, CuPy's cuBLAS). ``out``, when given, is a
    C-contiguous result array."""
    st = _state.get("s") or _get()
    if (
        st["library"] != "mkl"  # first: the default install leaves here after one lookup
        or a.__class__ is not np.ndarray
        or b.__class__ is not np.ndarray
        or a.dtype is not b.dtype
        or a.ndim != 2
        or b.ndim != 2
        or (bias is not None and (bias.__class__ is not np.ndarray or bias.dtype is not a.dtype))
    ):
        return _numpy_matmul(a, b, out, bias)
    m, k = a.shape
    n = b.shape[1]
    fn = st["fns"].get(_GEMM_OF.get(a.dtype.char))
    work = m * n * k
    if fn is None or work < _MIN_MKL or k != b.shape[0]:
        return _numpy_matmul(a, b, out, bias)
    skinny = m < _MIN_MKL_SIDE or n < _MIN_MKL_SIDE
    split = (
        work >= _MIN_SPLIT
        or (skinny and k * max(m, n) >= _MIN_SPLIT_SKINNY and _native_split() is not None)
    ) and _parallel.may_split()
    if skinny and not split:
        c = _narrow(a, b, out, bias, m, n, k) if n < _MIN_MKL_SIDE else None
        if c is not None:
            return c
        with _parallel.one_blas_thread():  # waking OpenBLAS's threads would cost more
            return _numpy_matmul(a, b, out, bias)
    # an operand BLAS can't read in place (an expanded gradient, a reversed view) is copied:
    # handing it to NumPy instead would wake OpenBLAS's threads, which then spin on the cores
    # the intra-op threads need (measured: `(a @ b).sum()` backward at 1024^2 1.5x slower)
    if _layout(a) is None:
        a = np.ascontiguousarray(a)
    if _layout(b) is None:
        b = np.ascontiguousarray(b)
    if bias is not None:
        bias = np.broadcast_to(bias, (n,))
    c = np.empty((m, n), dtype=a.dtype) if out is None else out
    if split:
        done = _split(fn, a, b, c, bias)
    else:
        done = _gemm_bias(fn, a, b, c, bias)
    if not done:  # an output BLAS can't write in place, or past LP64's sizes
        return _numpy_matmul(a, b, c, bias)
    return c


def matmul_pair(a1, b1, a2, b2):
    """``(a1 @ b1, a2 @ b2)`` for two independent 2-D products, computed side by side when
    both are large enough: each on its own share of the intra-op threads (with two threads,
    one each) in one compiled call, instead of each split over every thread in turn.

    A linear layer's backward needs ``g @ w`` and ``g.T @ x``, which take the same number of
    multiply-adds: one per thread, neither packs an operand twice and the threads are handed
    work once (measured: MLP step, docs/performance.md). Anything else goes through `matmul`
    twice (same results: each product is still one CBLAS call, or its row or column blocks).
    """
    st = _state.get("s") or _get()
    fn = None
    if (
        st["library"] == "mkl"
        and a1.__class__ is np.ndarray
        and b1.__class__ is np.ndarray
        and a2.__class__ is np.ndarray
        and b2.__class__ is np.ndarray
        and a1.ndim == b1.ndim == a2.ndim == b2.ndim == 2
        and a1.dtype is b1.dtype
        and a2.dtype is a1.dtype
        and b2.dtype is a1.dtype
        and a1.shape[1] == b1.shape[0]
        and a2.shape[1] == b2.shape[0]
        and min(a1.shape[0] * b1.shape[1] * a1.shape[1], a2.shape[0] * b2.shape[1] * a2.shape[1])
        >= _MIN_PAIR
        and _parallel.may_split()
    ):
        fn = st["fns"].get(_GEMM_OF.get(a1.dtype.char))
    pair = None if fn is None else _native_pair()
    if pair is None:
        return matmul(a1, b1), matmul(a2, b2)
    args = []
    held = []  # the operands (copies included) and outputs, alive until the call returns
    for a, b in ((a1, b1), (a2, b2)):
        if _layout(a) is None:
            a = np.ascontiguousarray(a)
        if _layout(b) is None:
            b = np.ascontiguousarray(b)
        c = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
        shape = _cblas_shape(fn, a, b, c)
        if shape is None:  # past LP64's sizes
            return matmul(a1, b1), matmul(a2, b2)
        la, lb, m, n, k, ldc = shape
        args += [la[0], lb[0], m, n, k, a.ctypes.data, la[1], b.ctypes.data, lb[1], c.ctypes.data,
                 ldc]  # fmt: skip
        held += [a, b, c]
    pair(ctypes.cast(fn, ctypes.c_void_p).value, fn.lp64, a1.itemsize,
         _parallel.get_num_threads(), *args)  # fmt: skip
    return held[2], held[5]


def gemm_into(a, b, c, beta: float = 0.0, trans_b: bool = False) -> None:
    """``c = a @ b + beta * c`` (``b.T`` when ``trans_b``) for 2-D float32/float64 NumPy arrays
    whose last axis is contiguous (slices of larger arrays are fine); ``beta`` is 0 or 1.

    Runs through CBLAS when it is available (no temporary, the GIL released, on the calling
    thread only), else through ``np.matmul``.
    """
    if c.shape[0] == 0 or c.shape[1] == 0:
        return
    bb = b.T if trans_b else b
    if a.shape[1] == 0:  # an empty sum
        if beta == 0:
            c[...] = 0
        return
    fn = _fn(c.dtype)
    if fn is not None and a.dtype == c.dtype and b.dtype == c.dtype and _gemm(fn, a, bb, c, beta):
        return
    if beta == 0:
        np.matmul(a, bb, out=c)
    else:
        c += np.matmul(a, bb)
