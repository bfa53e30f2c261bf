"""Launchers of ``kernels/im2col.cu`` and ``kernels/depthwise.cu``: the CuPy path of the
convolution nodes in ``_ops/conv.py``.

- General convolutions (1-D/2-D/3-D, any stride, padding, dilation, groups): one im2col
  kernel writes the (C*prod(K), N*P) column matrix straight from the (possibly
  non-contiguous) input, cuBLAS multiplies it by the weight per group, and for the input
  gradient / transposed convolution a col2im kernel gathers the column entries back into the
  input (each thread owns one input element: deterministic, no atomics). It replaces the xp
  path's padded copy, strided gather and one slice-add per kernel offset.
- Depthwise 2-D convolutions (groups == input channels, weight (C*mult, 1, kH, kW)): direct
  kernels for the forward, the input gradient (also the transposed depthwise convolution) and
  the weight gradient (deterministic per-block partial sums, then one reduction).

Half and bfloat16 run their GEMMs in float32 as the xp path does (im2col writes float32
columns, col2im reads them and rounds once). Each ``*_forward`` returns None for what the
kernels do not cover (other dtypes, empty tensors) and the caller runs its xp code. The
argument packing and launch choices are plain Python, unit-tested on the CPU.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K

ENABLED = True  # tests turn it off to compare against the xp path on the same GPU
THREADS = 256
# int32 index arithmetic below this many elements: the grid-stride loops add up to one grid
# (about the element count) to an index below it, which must stay under 2**31
NARROW_MAX = 2**30
_KEEP_COLS_BYTES = 16 << 20  # the forward's columns kept for the weight gradient up to this
_SPLIT_MIN = 4096  # products per block of the depthwise weight gradient, at least
_WEIGHT_BLOCKS = 2048  # blocks wanted for it (a few waves on any GPU tocha targets)


# --- pure-Python helpers (tested on the CPU) ------------------------------------------------------
def supported(dtype) -> bool:
    """Whether the kernels take ``dtype`` (float16/bfloat16/float32/float64)."""
    try:
        K.dtype_suffix(dtype)
    except TypeError:
        return False
    return True


def gemm_dtype(dtype) -> np.dtype:
    """The dtype the GEMMs run in: float32 for half and bfloat16 (as the xp path), else the
    dtype itself."""
    dt = np.dtype(dtype)
    return np.dtype(np.float32) if dt.itemsize == 2 else dt


def pair_suffix(tin, tout) -> str:
    """The entry-point suffix for reading ``tin`` and writing ``tout``: ``f32`` for the same
    dtype, ``f16_f32`` / ``bf16_f32`` (im2col of half input into float32 columns) and
    ``f32_f16`` / ``f32_bf16`` (col2im of float32 columns into a half result).

    Raises:
        TypeError: for any other pair, naming both dtypes.
    """
    a, b = K.dtype_suffix(tin), K.dtype_suffix(tout)
    if a == b:
        return a
    if b == "f32" and a in ("f16", "bf16"):
        return f"{a}_f32"
    if a == "f32" and b in ("f16", "bf16"):
        return f"f32_{b}"
    raise TypeError(
        f"tocha.core.cuda conv kernels: no kernel from {np.dtype(tin).name} to "
        f"{np.dtype(tout).name}"
    )


def wide(*counts: int) -> bool:
    """Whether int64 index arithmetic is needed for tensors of these element counts / spans."""
    return max(counts, default=0) >= NARROW_MAX


def ints(values, is_wide: bool) -> tuple:
    """Integer kernel arguments as the exact C types of the entry point (int or long long):
    CuPy packs a NumPy scalar by its own size, so the width must match the signature."""
    t = np.int64 if is_wide else np.int32
    return tuple(t(int(v)) for v in values)


def geo3(geo) -> tuple:
    """``(X, O, K, s, d, lo)`` of a 1-, 2- or 3-D geometry padded to three dims in front (size
    1, stride 1, dilation 1, padding 0), as the kernels index them."""
    X, O, Kk, s, d, lo = (tuple(v) for v in geo[:6])  # noqa: N806
    pad = 3 - len(X)
    if pad < 0:
        raise ValueError(f"tocha.core.cuda conv kernels: {len(X)} spatial dims (1 to 3 only)")
    one, zero = (1,) * pad, (0,) * pad
    return (one + X, one + O, one + Kk, one + s, one + d, zero + lo)


def elem_strides(a) -> tuple:
    """Strides of ``a`` in elements."""
    it = a.dtype.itemsize
    return tuple(st // it for st in a.strides)


def span(a) -> int:
    """One past the largest element offset ``a`` reads (its extent in elements)."""
    if a.size == 0:
        return 0
    return 1 + sum(abs(st) * (n - 1) for st, n in zip(elem_strides(a), a.shape))


def strides3(a) -> tuple:
    """(n, c, d0, d1, d2) element strides of an (N, C, *X) array with 1 to 3 spatial dims,
    zeros for the missing leading spatial dims."""
    st = elem_strides(a)
    return st[:2] + (0,) * (5 - len(st)) + st[2:]


def is_depthwise(geo, c_in: int, wshape) -> bool:
    """A 2-D convolution with one input channel per group (groups == input channels): what
    the direct depthwise kernels compute, for any channel multiplier."""
    return len(geo[2]) == 2 and geo[6] == c_in and wshape[1] == 1


def weight_splits(rows: int, n_red: int) -> int:
    """Blocks per weight element of the depthwise weight gradient: enough blocks in all to
    fill the GPU, at least ``_SPLIT_MIN`` products per block, within the grid's y limit."""
    want = -(-_WEIGHT_BLOCKS // max(rows, 1))
    most = max(1, -(-n_red // _SPLIT_MIN))
    return int(max(1, min(want, most, K.MAX_GRID_YZ)))


# --- im2col / col2im --------------------------------------------------------------------------
def _launch(stem, name, n, args):
    K.function(stem, name)((K.blocks_for(n, THREADS),), (THREADS,), args)


def im2col(x, geo, col_dtype, unfold: bool = False):
    """The columns of x (N, C, *X): (C*prod(K), N*P) for the GEMMs, or with ``unfold``
    torch's (N, C*prod(K), P)."""
    import cupy as cp

    X, O, Kk, s, d, lo = geo3(geo)  # noqa: N806
    N, C = x.shape[:2]  # noqa: N806
    P = int(np.prod(O))  # noqa: N806
    R = C * int(np.prod(Kk))  # noqa: N806
    shape = (N, R, P) if unfold else (R, N * P)
    cols = cp.empty(shape, dtype=col_dtype)
    total = R * N * P
    if total == 0:
        return cols
    crow, cn = (P, R * P) if unfold else (N * P, P)
    w = wide(total, span(x))
    name = f"im2col_{pair_suffix(x.dtype, col_dtype)}{'_l' if w else ''}"
    args = (x, cols) + ints((N, C) + X + O + Kk + s + d + lo + strides3(x) + (crow, cn), w)
    _launch("im2col", name, total, args)
    return cols


def col2im(cols, geo, N, C, out_dtype, bias=None, unfold=False):  # noqa: N803
    """The adjoint of `im2col`: (N, C, *X) from columns in either layout, plus ``bias`` (C,)."""
    import cupy as cp

    X, O, Kk, s, d, lo = geo3(geo)  # noqa: N806
    P = int(np.prod(O))  # noqa: N806
    R = C * int(np.prod(Kk))  # noqa: N806
    out = cp.empty((N, C) + tuple(geo[0]), dtype=out_dtype)
    total = out.size
    if total == 0:
        return out
    cols = cp.ascontiguousarray(cols)
    crow, cn = (P, R * P) if unfold else (N * P, P)
    has_b = bias is not None
    bb = cp.ascontiguousarray(bias, dtype=out_dtype) if has_b else out
    w = wide(total, cols.size)
    name = f"col2im_{pair_suffix(cols.dtype, out_dtype)}{'_l' if w else ''}"
    args = (cols, out, bb, np.int32(has_b)) + ints((N, C) + X + O + Kk + s + d + lo + (crow, cn), w)
    _launch("im2col", name, total, args)
    return out


# --- depthwise --------------------------------------------------------------------------------
def _dw_geom(geo, N, C, mult):  # noqa: N803
    X, O, Kk, s, d, lo, _ = geo  # noqa: N806
    return (N, C, mult) + tuple(X) + tuple(O) + tuple(Kk) + tuple(s) + tuple(d) + tuple(lo)


def _dw_name(kind, dtype, is_wide):
    return f"dw_{kind}_{K.dtype_suffix(dtype)}{'_l' if is_wide else ''}"


def _dw_gather(kind, a, w, b, geo, C, Co, out_dims):  # noqa: N803
    """dw_fwd or dw_bwd_x: one thread per element of the (N, ``out_dims``) result, reading
    ``a`` (x or g, through its strides), ``w`` and the optional bias ``b``."""
    import cupy as cp

    out = cp.empty((a.shape[0],) + out_dims, dtype=a.dtype)
    wc = cp.ascontiguousarray(w)
    has_b = b is not None
    bb = cp.ascontiguousarray(b, dtype=a.dtype) if has_b else out
    is_w = wide(out.size, span(a))
    args = (a, wc, bb, np.int32(has_b), out) + ints(
        _dw_geom(geo, a.shape[0], C, Co // C) + elem_strides(a), is_w
    )
    _launch("depthwise", _dw_name(kind, a.dtype, is_w), out.size, args)
    return out


def dw_forward(x, w, geo, b=None):
    C, Co = x.shape[1], w.shape[0]  # noqa: N806
    return _dw_gather("fwd", x, w, b, geo, C, Co, (Co,) + tuple(geo[1]))


def dw_transpose(g, w, geo, b=None):
    """The adjoint in x: (N, C, *X) from g (N, C*mult, *O)."""
    C, Co = geo[6], g.shape[1]  # noqa: N806
    return _dw_gather("bwd_x", g, w, b, geo, C, Co, (C,) + tuple(geo[0]))


def dw_weight(x, g, geo, wshape):
    """The adjoint in w: (C*mult, 1, kH, kW), summed in a fixed order."""
    import cupy as cp

    N, C = x.shape[:2]  # noqa: N806
    Co = g.shape[1]  # noqa: N806
    rows = Co * int(np.prod(geo[2]))
    n_red = N * int(np.prod(geo[1]))
    acc = np.float64 if x.dtype == np.float64 else np.float32
    splits = weight_splits(rows, n_red)
    part = cp.empty((rows, splits), dtype=acc)
    is_w = wide(span(x), span(g), n_red + _SPLIT_MIN)
    args = (x, g, part) + ints(
        _dw_geom(geo, N, C, Co // C) + elem_strides(x) + elem_strides(g), is_w
    )
    K.function("depthwise", _dw_name("bwd_w", x.dtype, is_w))((rows, splits), (THREADS,), args)
    return part.sum(axis=1).astype(x.dtype).reshape(wshape)


# --- the conv nodes' CuPy path --------------------------------------------------------------------
def _usable(*arrays) -> bool:
    return ENABLED and all(a.size > 0 and supported(a.dtype) for a in arrays)


def _group_cols(cols, G):  # noqa: N803
    return cols.reshape(G, cols.shape[0] // G, cols.shape[1])


def conv_forward(x, w, geo, b=None, keep=None):
    """``ConvNd``'s forward, or None for what the kernels do not cover; ``keep`` (a list)
    receives the columns for the weight gradient in ``_ops/conv.py``'s format."""
    import cupy as cp

    if not _usable(x, w) or 0 in geo[1]:
        return None
    if is_depthwise(geo, x.shape[1], w.shape):
        return dw_forward(x, w, geo, b)
    G = geo[6]  # noqa: N806
    N = x.shape[0]  # noqa: N806
    Co = w.shape[0]  # noqa: N806
    dt = gemm_dtype(x.dtype)
    cols = _group_cols(im2col(x, geo, dt), G)  # (G, Cg*prod(K), N*P)
    wm = w.reshape(G, Co // G, -1).astype(dt, copy=False)
    y = cp.matmul(wm, cols).reshape(Co, N, -1).transpose(1, 0, 2)
    out = cp.empty(y.shape, dtype=x.dtype)
    if b is not None:
        cp.add(y, b.reshape(1, Co, 1), out=out, casting="unsafe")
    else:
        out[...] = y
    if keep is not None and cols.nbytes <= _KEEP_COLS_BYTES:
        keep.append(((0, N), cols, False))
    return out.reshape((N, Co) + tuple(geo[1]))


def conv_transpose_forward(g, w, geo, b=None):
    """``ConvTransposeNd``'s forward (the adjoint of `conv_forward` in x), or None."""
    import cupy as cp

    if not _usable(g, w) or 0 in geo[0]:
        return None
    G = geo[6]  # noqa: N806
    N, Co = g.shape[:2]  # noqa: N806
    C = w.shape[1] * G  # noqa: N806
    if is_depthwise(geo, C, w.shape):
        return dw_transpose(g, w, geo, b)
    dt = gemm_dtype(g.dtype)
    gt = cp.ascontiguousarray(g.reshape(N, Co, -1).transpose(1, 0, 2), dtype=dt)
    wmT = w.reshape(G, Co // G, -1).astype(dt, copy=False).transpose(0, 2, 1)  # noqa: N806
    gcols = cp.matmul(wmT, gt.reshape(G, Co // G, -1))  # (G, Cg*prod(K), N*P)
    return col2im(gcols.reshape(-1, gcols.shape[2]), geo, N, C, g.dtype, bias=b)


def conv_weight_forward(x, g, geo, wshape, cols=None):
    """``ConvWeightNd``'s forward (the adjoint of `conv_forward` in w), or None; ``cols`` are
    the forward's kept columns when it kept them."""
    import cupy as cp

    if not _usable(x, g):
        return None
    if is_depthwise(geo, x.shape[1], wshape):
        return dw_weight(x, g, geo, tuple(wshape))
    G = geo[6]  # noqa: N806
    N, Co = g.shape[:2]  # noqa: N806
    dt = gemm_dtype(x.dtype)
    if cols is not None and len(cols) == 1 and cols[0][0] == (0, N) and not cols[0][2]:
        cc = cols[0][1]
    else:
        cc = _group_cols(im2col(x, geo, dt), G)
    gt = cp.ascontiguousarray(g.reshape(N, Co, -1).transpose(1, 0, 2), dtype=dt)
    # (G, Co/G, N*P) @ (G, N*P, Cg*prod(K)): the weight layout directly
    gw = cp.matmul(gt.reshape(G, Co // G, -1), cc.transpose(0, 2, 1))
    return gw.reshape(wshape).astype(x.dtype, copy=False)


def unfold(x, geo):
    """torch's unfold (N, C*prod(K), P), or None."""
    if not _usable(x):
        return None
    return im2col(x, geo, x.dtype, unfold=True)


def fold(cols, geo, C):  # noqa: N803
    """torch's fold (N, C, *X) from (N, C*prod(K), P), or None."""
    if not _usable(cols):
        return None
    return col2im(cols, geo, cols.shape[0], C, cols.dtype, unfold=True)
