"""Launchers of ``kernels/embedding.cu``: embedding gather and its backward (atomic or
deterministic, per ``tocha.core.use_deterministic_algorithms``) and embedding_bag's bag
reductions over CSR offsets.

Every function takes and returns CuPy arrays; the op files call them only when the array
module is CuPy and :func:`supported` holds, and keep their xp code for everything else.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K
from ._segment import acc_dtype, deterministic, sorted_runs

THREADS = 256


def supported(dtype) -> bool:
    """Whether the embedding kernels take ``dtype`` (float16/bfloat16/float32/float64)."""
    try:
        K.dtype_suffix(dtype)
    except TypeError:
        return False
    return True


def offsets_from_starts(xp, starts, n: int):
    """CSR offsets (nbags + 1) from the bag starts and the number of rows ``n``."""
    starts = xp.asarray(starts, dtype=np.int64).reshape(-1)
    return xp.concatenate([starts, xp.full(1, n, dtype=np.int64)])


def _fn(name: str, dtype):
    return K.function("embedding", f"{name}_{K.dtype_suffix(dtype)}")


def forward(w, idx):
    """``w[idx]`` for a (num, d) weight and an int index array of any shape."""
    import cupy as cp

    w = cp.ascontiguousarray(w)
    flat = cp.ascontiguousarray(idx.reshape(-1), dtype=np.int64)
    n, d = int(flat.shape[0]), int(w.shape[1])
    out = cp.empty((n, d), dtype=w.dtype)
    if n and d:
        _fn("embedding_fwd", w.dtype)(
            (K.blocks_for(n * d, THREADS),), (THREADS,), (w, flat, out, np.int64(n), np.int64(d))
        )
    return out.reshape(tuple(idx.shape) + (d,))


def backward(g2, idx, num: int, scale=None, det: bool | None = None):
    """The (num, d) gradient of a lookup: ``out[idx[i]] += g2[i] * scale[i]`` (``scale`` None
    or per-row factors: padding rows 0, ``scale_grad_by_freq`` 1/count)."""
    import cupy as cp

    g2 = cp.ascontiguousarray(g2)
    flat = cp.ascontiguousarray(idx.reshape(-1), dtype=np.int64)
    n, d = int(flat.shape[0]), int(g2.shape[1])
    acc = acc_dtype(g2.dtype)
    has_scale = scale is not None
    sc = cp.ascontiguousarray(scale, dtype=acc) if has_scale else cp.empty(1, dtype=acc)
    if det is None:
        det = deterministic()
    if n == 0 or d == 0:
        return cp.zeros((num, d), dtype=g2.dtype)
    if det:
        out = cp.zeros((num, d), dtype=g2.dtype)
        order, starts, uniq = sorted_runs(cp, flat)
        nseg = int(uniq.shape[0])
        _fn("embedding_bwd_sorted", g2.dtype)(
            K.row_grid(nseg),
            (K.row_threads(d, 1),),
            (g2, order, starts, uniq, sc, np.int32(has_scale), out, np.int64(nseg), np.int64(d)),
        )
        return out
    work = cp.zeros((num, d), dtype=acc)
    _fn("embedding_bwd_atomic", g2.dtype)(
        (K.blocks_for(n * d, THREADS),),
        (THREADS,),
        (g2, flat, sc, np.int32(has_scale), work, np.int64(n), np.int64(d)),
    )
    return work if work.dtype == g2.dtype else work.astype(g2.dtype)


def bag_sum(rows, coef, offsets, nbags: int):
    """``out[b] = sum over bag b of rows[k] * coef[k]`` for bags given by CSR ``offsets``."""
    import cupy as cp

    rows = cp.ascontiguousarray(rows)
    d = int(rows.shape[1])
    off = cp.ascontiguousarray(offsets, dtype=np.int64)
    c = cp.ascontiguousarray(coef, dtype=acc_dtype(rows.dtype))
    out = cp.zeros((nbags, d), dtype=rows.dtype)
    if nbags and d:
        _fn("bag_sum_fwd", rows.dtype)(
            K.row_grid(nbags),
            (K.row_threads(d, 1),),
            (rows, c, off, out, np.int64(nbags), np.int64(d)),
        )
    return out


def bag_max(rows, keep, offsets, nbags: int):
    """Per-dim maxima over bags (CSR ``offsets``) of the kept rows and the first row attaining
    each (-1, with value 0, where a bag has no kept row)."""
    import cupy as cp

    rows = cp.ascontiguousarray(rows)
    d = int(rows.shape[1])
    off = cp.ascontiguousarray(offsets, dtype=np.int64)
    has_keep = keep is not None
    kp = cp.ascontiguousarray(keep, dtype=np.uint8) if has_keep else cp.empty(1, np.uint8)
    out = cp.zeros((nbags, d), dtype=rows.dtype)
    pos = cp.full((nbags, d), -1, dtype=np.int64)
    if nbags and d:
        _fn("bag_max_fwd", rows.dtype)(
            K.row_grid(nbags),
            (K.row_threads(d, 1),),
            (rows, kp, np.int32(has_keep), off, out, pos, np.int64(nbags), np.int64(d)),
        )
    return out, pos


def bag_rows_backward(g, seg, coef):
    """``grows[k] = g[seg[k]] * coef[k]``: the gradient of the gathered rows of a sum/mean bag."""
    import cupy as cp

    g = cp.ascontiguousarray(g)
    seg = cp.ascontiguousarray(seg, dtype=np.int64)
    n, d = int(seg.shape[0]), int(g.shape[1])
    c = cp.ascontiguousarray(coef, dtype=acc_dtype(g.dtype))
    out = cp.empty((n, d), dtype=g.dtype)
    if n and d:
        _fn("bag_rows_bwd", g.dtype)(
            (K.blocks_for(n * d, THREADS),), (THREADS,), (g, seg, c, out, np.int64(n), np.int64(d))
        )
    return out


def offsets_from_seg(xp, seg, nbags: int):
    """CSR offsets (nbags + 1) of the bags from the sorted per-row bag ids ``seg``."""
    seg = xp.asarray(seg, dtype=np.int64).reshape(-1)
    return xp.searchsorted(seg, xp.arange(nbags + 1, dtype=np.int64), side="left").astype(np.int64)
