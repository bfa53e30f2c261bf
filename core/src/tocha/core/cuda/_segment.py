"""Launchers of ``kernels/segment.cu``: scatter reductions (atomic or deterministic) and
segment reductions over sorted indices (CSR offsets).

scatter / scatter_add / index_add / scatter_reduce all become ``out.flat[tgt[i]] (op)= src[i]``
once the caller has folded the coordinates into flat offsets (:func:`flat_targets`). With
``tocha.core.use_deterministic_algorithms(True)`` the sorted variant runs: a stable argsort of
the targets groups equal targets into runs kept in index order (:func:`sorted_runs`), and one
thread combines each run, so a sum adds its terms in the same order on every run. Otherwise
atomics combine them in whatever order the hardware does.

The pure-Python parts (runs, offsets, op codes, dtype choice) work on NumPy too and are
tested on the CPU.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K

OPS = {"sum": 0, "add": 0, "amax": 1, "maximum": 1, "max": 1, "amin": 2, "minimum": 2, "min": 2}
OPS_PROD = {"prod": 3, "multiply": 3}
_CSR_OPS = {"sum": 0, "max": 1, "min": 2, "mean": 4}
THREADS = 256


def op_code(name: str, allow_prod: bool = True) -> int:
    """The kernel's op code for a reduction name ('sum', 'amax', 'minimum', ...)."""
    if name in OPS:
        return OPS[name]
    if allow_prod and name in OPS_PROD:
        return OPS_PROD[name]
    raise ValueError(f"tocha.core.cuda scatter kernels: no reduction {name!r}")


def acc_dtype(dtype) -> np.dtype:
    """The accumulation dtype of the kernels for ``dtype``: float64 for float64, else float32."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def supported(dtype) -> bool:
    """Whether the scatter/segment kernels take ``dtype`` (floating types only)."""
    try:
        K.dtype_suffix(dtype)
    except TypeError:
        return False
    return True


def deterministic() -> bool:
    from .._mode import DETERMINISTIC

    return bool(DETERMINISTIC.enabled)


def flat_targets(xp, strides: tuple, coords: tuple):
    """Flat element offsets (int64, 1-D, in the broadcast order of ``coords``) of the
    positions ``coords`` (one broadcastable int array per dim) in an array with element
    ``strides``."""
    shape = np.broadcast_shapes(*(np.shape(c) for c in coords))
    flat = xp.zeros(shape, dtype=np.int64)
    for c, s in zip(coords, strides):
        flat = flat + xp.asarray(c, dtype=np.int64) * np.int64(s)
    return flat.reshape(-1)


def sorted_runs(xp, keys):
    """``(order, starts, run_keys)`` grouping equal ``keys``: ``order`` a stable argsort,
    ``starts`` the CSR offsets (len runs + 1) of the runs of equal keys in ``keys[order]``,
    ``run_keys`` each run's key. Stable, so each run lists its positions in increasing order."""
    keys = xp.asarray(keys, dtype=np.int64).reshape(-1)
    n = keys.shape[0]
    if n == 0:
        return (xp.zeros(0, np.int64), xp.zeros(1, np.int64), xp.zeros(0, np.int64))
    order = xp.argsort(keys, kind="stable") if xp is np else _stable_argsort(xp, keys)
    sk = keys[order]
    brk = xp.nonzero(sk[1:] != sk[:-1])[0] + 1
    starts = xp.concatenate([xp.zeros(1, np.int64), brk.astype(np.int64), xp.full(1, n, np.int64)])
    return order.astype(np.int64), starts, sk[starts[:-1]]


def _stable_argsort(xp, keys):
    # CuPy's argsort is a radix sort (stable) for integer keys; lexsort with the position as
    # the secondary key says so explicitly
    pos = xp.arange(keys.shape[0], dtype=np.int64)
    return xp.lexsort(xp.stack([pos, keys]))


def scatter_into(out, tgt, src, op: str, det: bool | None = None) -> None:
    """``out.flat[tgt[i]] (op)= src[i]`` on the GPU; ``out`` a C-contiguous CuPy array of a
    float dtype (half types go through a float32 copy), ``src`` broadcast to ``tgt``'s
    length."""
    import cupy as cp

    code = op_code(op)
    n = int(tgt.shape[0])
    if n == 0:
        return
    src = cp.ascontiguousarray(cp.broadcast_to(src, (n,)) if src.ndim == 0 else src.reshape(-1))
    if src.dtype != out.dtype:
        src = src.astype(out.dtype)
    acc = acc_dtype(out.dtype)
    work = out.reshape(-1) if out.dtype == acc else out.reshape(-1).astype(acc)
    suf = K.dtype_suffix(out.dtype)
    if det is None:
        det = deterministic()
    if det:
        order, starts, run_tgt = sorted_runs(cp, tgt)
        vals = src[order]
        nruns = int(run_tgt.shape[0])
        fn = K.function("segment", f"scatter_sorted_{suf}")
        fn(
            (K.blocks_for(nruns, THREADS),),
            (THREADS,),
            (vals, starts, run_tgt, work, np.int64(nruns), np.int32(code)),
        )
    else:
        fn = K.function("segment", f"scatter_atomic_{suf}")
        fn(
            (K.blocks_for(n, THREADS),),
            (THREADS,),
            (src, cp.ascontiguousarray(tgt, dtype=np.int64), work, np.int64(n), np.int32(code)),
        )
    if work.dtype != out.dtype:
        out.reshape(-1)[...] = work.astype(out.dtype)


def segment_csr(x, offsets, reduce: str = "sum", return_arg: bool = False):
    """Reduce the rows of ``x`` (nrows, d) over segments given by CSR ``offsets`` (nseg + 1,
    non-decreasing, offsets[-1] <= nrows): (nseg, d) with 'sum', 'mean', 'max' or 'min'; an
    empty segment gives 0. With ``return_arg`` also the first row attaining the max/min (-1 for
    an empty segment)."""
    import cupy as cp

    if reduce not in _CSR_OPS:
        raise ValueError(f"segment_csr: reduce must be sum, mean, max or min, got {reduce!r}")
    x = cp.ascontiguousarray(x)
    # the row width by product, not -1: reshape cannot infer it from an empty array
    d = int(np.prod(x.shape[1:], dtype=np.int64))
    x2 = x.reshape(x.shape[0], d)
    nseg = int(offsets.shape[0]) - 1
    offsets = cp.ascontiguousarray(offsets, dtype=np.int64)
    out = cp.empty((nseg, d), dtype=x.dtype)
    arg = cp.empty((nseg, d), dtype=np.int64) if return_arg else cp.empty(1, np.int64)
    if nseg > 0 and d > 0:
        fn = K.function("segment", f"segment_csr_{K.dtype_suffix(x.dtype)}")
        fn(
            K.row_grid(nseg),
            (K.row_threads(d, 1),),
            (
                x2,
                offsets,
                out,
                arg,
                np.int32(return_arg),
                np.int64(nseg),
                np.int64(d),
                np.int32(_CSR_OPS[reduce]),
            ),
        )
    out = out.reshape((nseg,) + x.shape[1:])
    if return_arg:
        return out, arg.reshape(out.shape)
    return out
