"""Launchers for ``kernels/cross_entropy.cu``: the fused log_softmax + nll over (M, C) logits
against class indices, with class weights, ignore_index and label smoothing.

The per-row pieces that need no pass over the logits (the target weight of each kept row, the
ignore mask, the upstream scale) are prepared here with CuPy; the kernels make the passes over
the logits. The row layout is `_softmax.row_launch`'s. Each function returns None for what the
kernels do not cover (the caller then runs its xp code).
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K
from ._softmax import acc_dtype, cupy_array, entry, kernel_dtype, row_launch, vector_width


def _covered(x, weight) -> bool:
    if not (cupy_array(x) and kernel_dtype(x.dtype)) or x.ndim != 2 or x.size == 0:
        return False
    return weight is None or (cupy_array(weight) and weight.dtype == x.dtype)


def forward(x, tt, valid, weight, smoothing: float):
    """Per-row losses of (M, C) logits ``x`` against the targets ``tt`` (ignored rows already
    0) with the keep mask ``valid``: (loss, lse, wt, wf, big_w), the last three as the xp
    path computes them (wt the kept rows' target weights, wf the class weights as float or
    None, big_w their sum, a 0-d array, or C). All float32 (float64 for float64)."""
    if not _covered(x, weight):
        return None
    import cupy

    m, c = x.shape
    acc = acc_dtype(x.dtype)
    x2 = cupy.ascontiguousarray(x)
    t64 = cupy.ascontiguousarray(tt.astype(np.int64, copy=False))
    keep = valid.astype(acc)
    if weight is not None:
        wf = cupy.ascontiguousarray(weight.astype(acc, copy=False))
        wt = wf[tt] * valid
        big_w = wf.sum()
        bw = big_w
    else:
        wf = None
        wt = keep
        big_w = float(c)
        bw = cupy.full((), c, dtype=acc)  # a pointer, so a weighted W needs no device sync
    loss = cupy.empty(m, dtype=acc)
    lse = cupy.empty(m, dtype=acc)
    vec = vector_width(c, x2.itemsize, x2.data.ptr)
    grid, block = row_launch(m, c)
    fn = K.function("cross_entropy", entry("cross_entropy_fwd", x.dtype, vec))
    args = (x2, t64, cupy.ascontiguousarray(wt), keep, wf if wf is not None else keep, bw)
    scal = (acc.type(1 - smoothing), acc.type(smoothing / c))
    flags = (np.int32(wf is not None), np.int32(bool(smoothing)))
    fn(grid, block, (*args, loss, lse, np.int64(m), np.int64(c), *scal, *flags))
    return loss, lse, wt, wf, big_w


def backward(x, tt, lse, sa, hot, sm, wf):
    """The logits' gradient ``sa * softmax(x) - onehot(tt) * hot - sm * wf`` (per-row ``sa``,
    ``hot``, ``sm``; ``sm`` None without smoothing, ``wf`` None without class weights), in
    x's dtype."""
    if not _covered(x, None) or not cupy_array(lse):
        return None
    import cupy

    m, c = x.shape
    acc = acc_dtype(x.dtype)

    def rowvec(v):
        return cupy.ascontiguousarray(cupy.broadcast_to(cupy.asarray(v, dtype=acc), (m,)))

    x2 = cupy.ascontiguousarray(x)
    t64 = cupy.ascontiguousarray(tt.astype(np.int64, copy=False))
    sa, hot = rowvec(sa), rowvec(hot)
    smv = rowvec(sm) if sm is not None else sa
    wfv = cupy.ascontiguousarray(wf.astype(acc, copy=False)) if wf is not None else sa
    gx = cupy.empty_like(x2)
    vec = vector_width(c, x2.itemsize, x2.data.ptr, gx.data.ptr)
    grid, block = row_launch(m, c)
    fn = K.function("cross_entropy", entry("cross_entropy_bwd", x.dtype, vec))
    args = (x2, t64, cupy.ascontiguousarray(lse.astype(acc, copy=False)), sa, hot, smv, wfv, gx)
    flags = (np.int32(wf is not None), np.int32(sm is not None))
    fn(grid, block, (*args, np.int64(m), np.int64(c), *flags))
    return gx
