"""Intra-op parallelism for large elementwise work on the CPU (torch's intra-op threads).

NumPy ufuncs release the GIL, so splitting one large elementwise op into contiguous chunks and
running the chunks on a small thread pool uses every core, as torch's CPU kernels do. Only
arrays of at least ``MIN_ELEMENTS`` go parallel: handing work to a thread costs tens of
microseconds, which only pays off on large arrays. Results are bit-identical to the serial
ufunc (each element is computed by the same loop).
"""

from __future__ import annotations

import contextvars
import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["get_num_threads", "set_num_threads", "MIN_ELEMENTS", "unary", "binary"]

MIN_ELEMENTS = 1 << 17


def _default_threads() -> int:
    # torch's rule: OMP_NUM_THREADS wins when set to a positive integer, else every usable core
    requested = os.environ.get("OMP_NUM_THREADS", "").strip()
    if requested.isdigit() and int(requested) > 0:
        return int(requested)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


_num_threads = _default_threads()
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def get_num_threads() -> int:
    """The number of threads used for intra-op parallelism on the CPU."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for intra-op parallelism on the CPU: tocha's own pool for large
    elementwise work and OpenBLAS's threads for matrix products (as ``torch.set_num_threads``
    sets both its pool and its BLAS threads); ``1`` runs everything on one core."""
    global _num_threads, _pool
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: number of threads must be a positive int, got {n!r}")
    with _lock:
        _num_threads = n
        old, _pool = _pool, None
    if old is not None:
        old.shutdown(wait=False)
    _set_blas_threads(n)


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    pool = _pool
    if pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(
                    max_workers=_num_threads - 1,
                    thread_name_prefix="tocha-intra-op",
                    initializer=_mark_serial,
                )
            pool = _pool
    return pool


def _forget_pool_after_fork() -> None:
    # a forked child (e.g. a DataLoader worker) inherits the pool object but not its threads
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


_local = threading.local()  # .serial: this thread's work is already one of several parts


def _mark_serial() -> None:
    _local.serial = True


def threads_here() -> int:
    """The threads the calling code may spread its work over: ``get_num_threads()``, or 1 on
    one of the pool's own threads (it would wait on itself) and inside `side_by_side`."""
    return 1 if getattr(_local, "serial", False) else _num_threads


def may_split() -> bool:
    """Whether the calling code may split work over the pool: `threads_here` is more than
    one and it is not inside a one-BLAS-thread region (the caller has already split its work
    over the threads)."""
    return _num_threads > 1 and not _BLAS_STATE[0] and not getattr(_local, "serial", False)


def side_by_side(first, second):
    """``(first(), second())``, ``second`` on a pool thread while the caller runs ``first``,
    each on that one thread (`threads_here` is 1 in both): two independent pieces of work
    that each spread poorly over the threads (a small convolution's two gradients) finish
    sooner side by side than each split in turn."""
    fut = _get_pool().submit(contextvars.copy_context().run, second)
    prev = getattr(_local, "serial", False)
    _local.serial = True
    try:
        one = first()
    finally:
        _local.serial = prev
        two = fut.result()  # waited for even when ``first`` raised (its error then wins)
    return one, two


def _parallel(n: int) -> bool:
    return n >= MIN_ELEMENTS and _num_threads > 1 and not getattr(_local, "serial", False)


def _run(kernel, out_flat, in_flats, extra) -> None:
    """``kernel(*chunks, *extra, out=out_chunk)`` over ``_num_threads`` contiguous chunks."""
    n = out_flat.size
    parts = _num_threads
    bounds = [n * i // parts for i in range(parts + 1)]
    pool = _get_pool()
    futures = []
    for i in range(1, parts):
        lo, hi = bounds[i], bounds[i + 1]
        # worker threads see the caller's NumPy error state (it lives in a context variable)
        ctx = contextvars.copy_context()
        futures.append(
            pool.submit(ctx.run, kernel, *[a[lo:hi] for a in in_flats], *extra, out=out_flat[lo:hi])
        )
    hi = bounds[1]
    kernel(*[a[:hi] for a in in_flats], *extra, out=out_flat[:hi])
    for f in futures:
        f.result()


def unary(ufunc, a: np.ndarray, dtype=None):
    """``ufunc(a)`` for a C-contiguous NumPy array, in parallel when large; else None."""
    if not (_parallel(a.size) and a.flags.c_contiguous):
        return None
    out = np.empty(a.shape, dtype or a.dtype)
    _run(ufunc, out.reshape(-1), (a.reshape(-1),), ())
    return out


def binary(ufunc, a: np.ndarray, b, dtype=None):
    """``ufunc(a, b)`` for same-shape C-contiguous arrays (or ``b`` a Python scalar), in
    parallel when large; None when the operands don't qualify (the caller runs it serially)."""
    if not (_parallel(a.size) and a.flags.c_contiguous):
        return None
    if b.__class__ is np.ndarray:
        if b.shape != a.shape or not b.flags.c_contiguous or b.dtype != a.dtype:
            return None
        out = np.empty(a.shape, dtype or a.dtype)
        _run(ufunc, out.reshape(-1), (a.reshape(-1), b.reshape(-1)), ())
        return out
    out = np.empty(a.shape, dtype or a.dtype)
    _run(ufunc, out.reshape(-1), (a.reshape(-1),), (b,))
    return out


# --- OpenBLAS's own threads -----------------------------------------------------------------
# NumPy's OpenBLAS runs each GEMM on its own threads. Kernels that already split their work
# over tocha's pool (conv chunks, attention chunks, recurrent time loops with small GEMMs) hold
# it to one thread meanwhile: woken for every short GEMM, its workers cost more than they give
# and busy-wait on the cores our threads need (measured: 2-40x slower steps on a busy 2-core
# machine). Nested and concurrent holders share one save/restore of the setting.
_BLAS_FNS: list = []
_BLAS_LOCK = threading.Lock()
_BLAS_STATE = [0, 1]  # [holders inside, the thread count to restore when the last leaves]


def blas_thread_fns():
    """``(get, set)`` of the OpenBLAS thread count NumPy uses, or None (another BLAS, no
    /proc, another OS): then BLAS threading is left as it is."""
    if _BLAS_FNS:
        return _BLAS_FNS[0]
    fns = None
    try:
        with open("/proc/self/maps") as f:
            paths = {ln.split()[-1] for ln in f if "openblas" in ln.rsplit("/", 1)[-1]}
        # NumPy's own copy first (SciPy may load another OpenBLAS beside it)
        for path in sorted(paths, key=lambda p: ("numpy" not in p, p)):
            lib = ctypes.CDLL(path)
            for suffix in ("64_", "", "_64"):
                for prefix in ("scipy_openblas", "openblas"):
                    get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        put.argtypes = [ctypes.c_int]
                        fns = (get, put)
                        break
                if fns:
                    break
            if fns:
                break
    except Exception:  # pragma: no cover - no /proc, an unknown BLAS
        fns = None
    _BLAS_FNS.append(fns)
    return fns


def _set_blas_threads(n: int) -> None:
    fns = blas_thread_fns()
    if fns is None:
        return
    with _BLAS_LOCK:
        if _BLAS_STATE[0]:  # inside a one-thread region: applies when the last holder leaves
            _BLAS_STATE[1] = n
        else:
            fns[1](n)


def blas_threads_outside() -> int:
    """OpenBLAS's thread count outside one-thread regions (1 when it cannot be set)."""
    fns = blas_thread_fns()
    if fns is None:
        return 1
    with _BLAS_LOCK:
        return _BLAS_STATE[1] if _BLAS_STATE[0] else fns[0]()


class one_blas_thread:  # noqa: N801 - used as a context manager
    """OpenBLAS held to one thread while inside (a no-op where it cannot be set)."""

    __slots__ = ("fns",)

    def __enter__(self):
        self.fns = fns = blas_thread_fns()
        if fns is not None:
            with _BLAS_LOCK:
                if _BLAS_STATE[0] == 0:
                    _BLAS_STATE[1] = fns[0]()
                    if _BLAS_STATE[1] != 1:
                        fns[1](1)
                _BLAS_STATE[0] += 1
        return self

    def __exit__(self, *exc):
        fns = self.fns
        if fns is not None:
            with _BLAS_LOCK:
                _BLAS_STATE[0] -= 1
                if _BLAS_STATE[0] == 0 and _BLAS_STATE[1] != 1:
                    fns[1](_BLAS_STATE[1])
