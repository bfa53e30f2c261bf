"""Launchers for ``kernels/norm.cu``: layer_norm and rms_norm forward and backward.

The trailing normalized dims are one row of a C-contiguous (rows, cols) array; the row layout
is `_softmax.row_launch`'s. The weight and bias gradients are a two-stage column reduction
without atomics (deterministic): ``*_wb_partial`` writes per-part column sums, CuPy sums the
parts in a fixed order. Each function returns None for what the kernels do not cover (the
caller then runs its xp code).
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K
from ._softmax import acc_dtype, cupy_array, entry, kernel_dtype, row_launch, vector_width

WB_TILE = 32  # columns per block of the weight/bias partial sums (blockDim.x)
WB_LANES = 8  # rows walked side by side in such a block (blockDim.y; sw[8] in norm.cu)
WB_MIN_ROWS = 64  # rows per part at least
WB_MAX_PARTS = 512  # parts at most (gridDim.y; well below 65535)


def wb_parts(rows: int) -> tuple[int, int]:
    """(parts, rows per part) of the weight/bias partial sums over ``rows`` rows."""
    parts = max(1, min(WB_MAX_PARTS, -(-rows // WB_MIN_ROWS)))
    per = max(1, -(-rows // parts))
    return max(1, -(-rows // per)), per


def wb_launch(rows: int, cols: int):
    """(grid, block, parts, rows per part) of ``*_wb_partial``."""
    parts, per = wb_parts(rows)
    grid = (K.blocks_for(cols, WB_TILE), parts)
    return grid, (WB_TILE, WB_LANES, 1), parts, per


def _rows_cols(shape, k: int) -> tuple[int, int]:
    n = 1
    for s in shape[len(shape) - k :]:
        n *= s
    return (int(np.prod(shape)) // n if n else 0), n


def _covered(x, *others) -> bool:
    """A non-empty CuPy array of a kernel dtype, and every other given array like it."""
    if not (cupy_array(x) and kernel_dtype(x.dtype)) or x.size == 0:
        return False
    return all(o is None or (cupy_array(o) and o.dtype == x.dtype) for o in others)


def forward(x, w, b, k: int, eps: float, center: bool):
    """(y, mean, rstd) of layer_norm (``center``) or rms_norm over the last ``k`` dims; mean
    and rstd of length rows in float32 (float64 for float64); rms_norm's mean is None."""
    if not _covered(x, w, b):
        return None
    import cupy

    m, n = _rows_cols(x.shape, k)
    acc = acc_dtype(x.dtype)
    x2 = cupy.ascontiguousarray(x).reshape(m, n)
    y = cupy.empty_like(x2)
    rstd = cupy.empty(m, dtype=acc)
    mean = cupy.empty(m, dtype=acc) if center else None
    wf = cupy.ascontiguousarray(w.reshape(n).astype(acc, copy=False)) if w is not None else rstd
    bf = cupy.ascontiguousarray(b.reshape(n).astype(acc, copy=False)) if b is not None else rstd
    vec = vector_width(n, x2.itemsize, x2.data.ptr, y.data.ptr)
    grid, block = row_launch(m, n)
    op = "layer_norm_fwd" if center else "rms_norm_fwd"
    fn = K.function("norm", entry(op, x.dtype, vec))
    args = (x2, wf, bf, y, mean if center else rstd, rstd, np.int64(m), np.int64(n))
    fn(grid, block, (*args, acc.type(eps), np.int32(w is not None), np.int32(b is not None)))
    return y.reshape(x.shape), mean, rstd


def backward(x, g, w, mean, rstd, k: int, need_x: bool, need_w: bool, need_b: bool):
    """(gx, gw, gb) of layer_norm (``mean`` given) or rms_norm (``mean`` None) from the saved
    statistics; each None where not needed; gw and gb of the trailing ``k`` dims' shape, all
    in x's dtype."""
    if not _covered(x, g, w) or g.shape != x.shape:
        return None
    import cupy

    center = mean is not None
    m, n = _rows_cols(x.shape, k)
    acc = acc_dtype(x.dtype)
    x2 = cupy.ascontiguousarray(x).reshape(m, n)
    g2 = cupy.ascontiguousarray(g).reshape(m, n)
    stats = (mean if center else rstd, rstd)
    name = "layer_norm" if center else "rms_norm"
    gx = gw = gb = None
    if need_x:
        gx = cupy.empty_like(x2)
        wf = cupy.ascontiguousarray(w.reshape(n).astype(acc, copy=False)) if w is not None else rstd
        vec = vector_width(n, x2.itemsize, x2.data.ptr, g2.data.ptr, gx.data.ptr)
        grid, block = row_launch(m, n)
        fn = K.function("norm", entry(f"{name}_bwd", x.dtype, vec))
        fn(grid, block, (x2, g2, wf, *stats, gx, np.int64(m), np.int64(n), np.int32(w is not None)))
        gx = gx.reshape(x.shape)
    if need_w or need_b:
        grid, block, parts, per = wb_launch(m, n)
        pw = cupy.empty((parts, n), dtype=acc) if need_w else None
        pb = cupy.empty((parts, n), dtype=acc) if need_b else None
        fn = K.function("norm", f"{name}_wb_partial_{K.dtype_suffix(x.dtype)}")
        some = pw if pw is not None else pb
        args = (x2, g2, *stats, some if pw is None else pw, some if pb is None else pb)
        fn(
            grid,
            block,
            (*args, np.int64(m), np.int64(n), np.int64(per), np.int32(need_w), np.int32(need_b)),
        )
        wshape = x.shape[len(x.shape) - k :]
        if need_w:
            gw = pw.sum(axis=0).reshape(wshape).astype(x.dtype, copy=False)
        if need_b:
            gb = pb.sum(axis=0).reshape(wshape).astype(x.dtype, copy=False)
    return gx, gw, gb
