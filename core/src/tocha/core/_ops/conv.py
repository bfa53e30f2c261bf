"""Convolutions as three mutually adjoint nodes: ``ConvNd`` (y = conv(x, w)),
``ConvTransposeNd`` (its adjoint in x: the transposed convolution, which is also the input
gradient of a convolution) and ``ConvWeightNd`` (its adjoint in w: the weight gradient).

The backward of each is written with the other two, so every gradient is again a convolution
node and double backward (gradient penalties, Hessian-vector products) works to any order:

- ``conv(x, w)``:     dx = conv_transpose(g, w),  dw = conv_weight(x, g)
- ``conv_transpose(g, w)``: dg = conv(gg, w),      dw = conv_weight(gg, g)
- ``conv_weight(x, g)``:    dx = conv_transpose(g, gw'), dg = conv(x, gw')

All three share one geometry per spatial dim: input size X, output size O, kernel K, stride s,
dilation d and the padding ``lo`` added before the input (the padding after it follows from the
others, and may be negative: rows no window reaches). A transposed convolution with
``output_padding`` is the adjoint of the convolution whose input has the requested size.

Kernels (forward on raw arrays, NumPy or CuPy through ``xp``):

- General path (any dims, strides, dilations, groups): im2col through a zero-copy strided
  window view of the padded input, gathered once into a (C*K, N*O) matrix and contracted with
  the weight in one GEMM per group (a batched matmul over groups, no loop over channels).
  The weight gradient is one GEMM against the same columns; the input gradient is one GEMM
  followed by col2im (a strided slice-add per kernel offset).
- Stride-1 ungrouped convolutions on the CPU with 16+ channels and maps large enough that
  padding them adds at most 30% (ResNet's 32x32 and 16x16 stages): implicit GEMM, one GEMM per
  kernel tap on column slices of the padded channels-first input, accumulated in place through
  CBLAS on the intra-op threads; no im2col buffer (see "implicit GEMM" below). Forward, input
  gradient and weight gradient all use it.
- 3x3, stride 1, dilation 1, ungrouped 2-D convolutions on the CPU (the bulk of ResNet/VGG
  work): Winograd F(2x2, 3x3). It needs 2.25x fewer multiplications than im2col, which matters
  because OpenBLAS's SGEMM runs at ~60% of the speed of torch's oneDNN kernels here. The
  transforms run on channels-last tiles a few images at a time, so they stay in the CPU cache;
  the error is that of a direct convolution (measured: max |err| 6e-5 vs 5e-5 for torch on
  unit-normal 64-channel inputs). Forward, input gradient (a stride-1 transposed 3x3
  convolution is a 3x3 convolution with the flipped kernel) and weight gradient all use it.
  It is chosen on one core only, ahead of the implicit GEMM.
"""

from __future__ import annotations

import itertools

import numpy as np

from .. import _blas, _parallel
from .._blas import gemm_into
from .._mode import MODE
from .._tensor import Tensor, wrap
from ..autograd.function import Node
from . import _conv_direct, _conv_native
from ._nnkernel import low_precision
from ._util import xp_of

__all__ = [
    "ConvNd",
    "ConvTransposeNd",
    "ConvWeightNd",
    "Im2Col",
    "Col2Im",
    "Geometry",
    "conv_nd",
    "conv_transpose_nd",
]

TENSOR_METHODS: dict = {}
INPLACE: dict = {}

_ndarray = np.ndarray


# --- geometry ----------------------------------------------------------------------------------
class Geometry(tuple):
    """``(X, O, K, s, d, lo, groups)``: per-spatial-dim tuples plus the group count."""

    __slots__ = ()

    def __new__(cls, X, O, K, s, d, lo, groups):  # noqa: N803 - the conventional names
        return tuple.__new__(
            cls, (tuple(X), tuple(O), tuple(K), tuple(s), tuple(d), tuple(lo), int(groups))
        )

    @property
    def span(self) -> tuple:
        """Length of the padded input the windows cover, per dim."""
        _, O, K, s, d, _, _ = self  # noqa: N806
        return tuple((o - 1) * si + di * (k - 1) + 1 for o, k, si, di in zip(O, K, s, d))


def out_size(X, K, s, d, lo, hi) -> tuple:  # noqa: N803
    """torch's output size of a convolution per spatial dim."""
    return tuple(
        (x + a + b - di * (k - 1) - 1) // si + 1 for x, k, si, di, a, b in zip(X, K, s, d, lo, hi)
    )


# --- small array helpers -----------------------------------------------------------------------
def _compute_dtype(dt):
    """float32 for half/bfloat16 (no BLAS for them), else the dtype itself."""
    return np.dtype(np.float32) if low_precision(dt) else dt


def _as_strided(xp, a, shape, strides):
    if xp is np:
        return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(a, shape, strides)  # pragma: no cover - GPU


def _prod(t) -> int:
    r = 1
    for v in t:
        r *= v
    return r


def _padded(xp, x, lo, span, dtype):
    """The (N, C, *span) input the windows read: ``x`` placed at offset ``lo`` (zeros around,
    cropped where the windows don't reach). Returns ``x`` itself when nothing changes."""
    X = x.shape[2:]  # noqa: N806
    if all(a == 0 for a in lo) and all(sp == xs for sp, xs in zip(span, X)):
        return x if x.dtype == dtype else x.astype(dtype)
    if all(a == 0 for a in lo) and all(sp <= xs for sp, xs in zip(span, X)):
        v = x[(Ellipsis,) + tuple(slice(0, sp) for sp in span)]
        return v if v.dtype == dtype else v.astype(dtype)
    buf = xp.zeros(x.shape[:2] + tuple(span), dtype=dtype)
    dst, src = [slice(None), slice(None)], [slice(None), slice(None)]
    for a, sp, xs in zip(lo, span, X):
        a0 = max(a, 0)
        s0 = max(-a, 0)
        n = min(xs - s0, sp - a0)
        if n <= 0:
            return buf
        dst.append(slice(a0, a0 + n))
        src.append(slice(s0, s0 + n))
    buf[tuple(dst)] = x[tuple(src)]
    return buf


def _padded_inner(xp, x, lo, span, dtype):
    """Like `_padded` but batch-innermost: (C, *span, N)."""
    X = x.shape[2:]  # noqa: N806
    nd = len(X)
    buf = xp.zeros((x.shape[1],) + tuple(span) + (x.shape[0],), dtype=dtype)
    dst, src = [slice(None)], [slice(None), slice(None)]
    for a, sp, xs in zip(lo, span, X):
        a0, s0 = max(a, 0), max(-a, 0)
        n = min(xs - s0, sp - a0)
        if n <= 0:
            return buf
        dst.append(slice(a0, a0 + n))
        src.append(slice(s0, s0 + n))
    buf[tuple(dst)] = x[tuple(src)].transpose(tuple(range(1, nd + 2)) + (0,))
    return buf


def _columns_inner(xp, xb, geo):
    """im2col of a batch-innermost (C, *span, N) input: (G, Cg*prod(K), prod(O)*N). The
    gather reads runs of ``ow * N`` contiguous elements (``ow`` in the NCHW layout)."""
    X, O, K, s, d, lo, G = geo  # noqa: N806
    C, N = xb.shape[0], xb.shape[-1]  # noqa: N806
    st = xb.strides
    sC, sL, sN = st[0], st[1:-1], st[-1]  # noqa: N806
    Cg = C // G  # noqa: N806
    shape = (G, Cg) + tuple(K) + tuple(O) + (N,)
    strides = (
        (Cg * sC, sC)
        + tuple(sl * di for sl, di in zip(sL, d))
        + tuple(sl * si for sl, si in zip(sL, s))
        + (sN,)
    )
    win = _as_strided(xp, xb, shape, strides)
    return win.reshape(G, Cg * _prod(K), _prod(O) * N)


def _columns(xp, xb, geo):
    """im2col: the (G, Cg*prod(K), N*prod(O)) matrix of input windows (one gather)."""
    X, O, K, s, d, lo, G = geo  # noqa: N806
    N, C = xb.shape[:2]  # noqa: N806
    st = xb.strides
    sN, sC, sL = st[0], st[1], st[2:]  # noqa: N806
    Cg = C // G  # noqa: N806
    shape = (G, Cg) + tuple(K) + (N,) + tuple(O)
    strides = (
        (Cg * sC, sC)
        + tuple(sl * di for sl, di in zip(sL, d))
        + (sN,)
        + tuple(sl * si for sl, si in zip(sL, s))
    )
    win = _as_strided(xp, xb, shape, strides)
    return win.reshape(G, Cg * _prod(K), N * _prod(O))  # the copy


def _matmul(xp, a, b):
    if a.shape[0] == 1:
        return _blas.matmul(a[0], b[0])[None]
    return xp.matmul(a, b)


# --- general kernels: im2col + GEMM over chunks of the batch -----------------------------------
# On several threads the batch is split into one slice per intra-op thread, each with one BLAS
# thread (measured 1.4x faster than serial on ResNet-18, and LeNet-5's step 17.2 -> 15.8 ms
# now that the GEMMs (MKL through ctypes) and the compiled im2col/col2im release the GIL).
# Many small chunks on several threads were measured slower, their short NumPy calls
# contending for the GIL. On one thread, layers with few channels gather the columns of a few
# images at a time and multiply them while they are in the CPU cache (memory-bound GEMMs:
# measured 1.4x faster on LeNet's first layer). The forward's columns are kept for the weight
# gradient when they are small: for LeNet-sized layers re-gathering them costs as much as
# the GEMM.
_KEEP_COLS_BYTES = 16 << 20
_COLS_CHUNK_BYTES = 512 << 10


def _batch_chunks(N, xp):  # noqa: N803
    """One slice of the batch per intra-op thread."""
    nt = min(_parallel.threads_here(), N) if xp is np else 1
    if nt <= 1:
        return [(0, N)]
    return [(N * i // nt, N * (i + 1) // nt) for i in range(nt)]


def _cols_chunks(N, per_image, xp, P=1, min_cols=0):  # noqa: N803
    """``(chunks, parallel)``: one slice of the batch per intra-op thread, in parallel; on one
    thread, chunks of images whose columns fit the cache, with at least ``min_cols`` columns
    (a GEMM needs a few hundred columns to run at speed, and each weight-gradient chunk adds
    a (C*K, C_out) partial sum), run one after the other."""
    if xp is not np or N == 0:
        return ([(0, N)] if N else []), False
    nt = _parallel.threads_here()
    if 1 < nt <= N:
        return [(N * i // nt, N * (i + 1) // nt) for i in range(nt)], True
    nc = max(1, _COLS_CHUNK_BYTES // max(1, per_image), -(-min_cols // max(1, P)))
    nc = min(N, nc)
    return [(n, min(N, n + nc)) for n in range(0, N, nc)], False


def _batch_inner(N, O, s) -> bool:  # noqa: N803
    """col2im with the batch as the innermost axis: the slice-adds then run over ``ow * N``
    contiguous elements instead of ``ow`` (measured 2.5-3x faster on LeNet-sized maps)."""
    return s[-1] == 1 and O[-1] < 16 and N >= 8


def _conv_general(x, w, geo, b=None, keep=None):
    """im2col + GEMM per slice of the batch, written straight into the (N, Co, *O) output;
    ``keep`` (a list) receives ``((n0, n1), columns)`` pairs for the weight gradient."""
    xp = xp_of(x)
    X, O, K, s, d, lo, G = geo  # noqa: N806
    dt = _compute_dtype(x.dtype)
    N, C = x.shape[:2]  # noqa: N806
    Co = w.shape[0]  # noqa: N806
    P = _prod(O)  # noqa: N806
    wm = w.reshape(G, Co // G, -1).astype(dt, copy=False)
    out = xp.empty((N, Co, P), dtype=x.dtype)
    bb = None if b is None else b.reshape(1, Co, 1)
    if keep is not None and C * _prod(K) * P * N * np.dtype(dt).itemsize > _KEEP_COLS_BYTES:
        keep = None
    per_image = C * _prod(K) * P * np.dtype(dt).itemsize
    dims = (C * _prod(K) // G, Co // G)
    chunks, par = _cols_chunks(N, per_image, xp, P, 2 * max(dims))
    if not chunks:  # an empty batch
        return out.reshape((N, Co) + tuple(O))
    # batch-innermost columns gather long runs (NumPy) where rows are short; else the
    # compiled im2col, when available
    inner = _batch_inner(chunks[0][1] - chunks[0][0], O, s)
    native = not inner and x.dtype == dt and _conv_native.available(xp, dt, geo)
    xb = None if inner or native else _padded(xp, x, lo, geo.span, dt)

    def chunk(c):
        n0, n1 = c
        nc = n1 - n0
        if native:
            cols = _conv_native.im2col(x[n0:n1], geo)
            y = _matmul(xp, wm, cols).reshape(Co, nc, P).transpose(1, 0, 2)
        elif inner:
            cols = _columns_inner(xp, _padded_inner(xp, x[n0:n1], lo, geo.span, dt), geo)
            y = _matmul(xp, wm, cols).reshape(Co, P, nc).transpose(2, 0, 1)
        else:
            cols = _columns(xp, xb[n0:n1], geo)
            y = _matmul(xp, wm, cols).reshape(Co, nc, P).transpose(1, 0, 2)
        if bb is not None:
            xp.add(y, bb, out=out[n0:n1], casting="unsafe")
        else:
            out[n0:n1] = y
        return (c, cols, inner) if keep is not None else None

    res = _run_chunks(chunk, chunks, par)
    if keep is not None:
        keep.extend(res)
    return out.reshape((N, Co) + tuple(O))


def _conv_transpose_general(g, w, geo, b=None):
    """The adjoint of ``_conv_general`` in x: (N, Co, *O) -> (N, C, *X)."""
    xp = xp_of(g)
    X, O, K, s, d, lo, G = geo  # noqa: N806
    dt = _compute_dtype(g.dtype)
    N, Co = g.shape[:2]  # noqa: N806
    Cg = w.shape[1]  # noqa: N806
    C = Cg * G  # noqa: N806
    nd = len(K)
    span = geo.span
    P = _prod(O)  # noqa: N806
    ga = g.astype(dt, copy=False).reshape(N, Co, P)
    wmT = w.reshape(G, Co // G, -1).astype(dt, copy=False).transpose(0, 2, 1)  # noqa: N806
    sp_axes = tuple(range(2, 2 + nd))
    out = xp.empty((N, C) + tuple(X), dtype=g.dtype)
    # the window frame: which part of the padded span lands in X
    src, dst = [slice(None), slice(None)], [slice(None), slice(None)]
    full = True
    for a, sp, xs in zip(lo, span, X):
        a0, s0 = max(a, 0), max(-a, 0)
        n = max(0, min(xs - s0, sp - a0))
        src.append(slice(a0, a0 + n))
        dst.append(slice(s0, s0 + n))
        full = full and n == xs
    native = g.dtype == dt and _conv_native.available(xp, dt, geo)
    if not full and not native:
        out[...] = 0 if b is None else b.reshape((1, C) + (1,) * nd)
    bb = None if b is None else b.reshape((1, C) + (1,) * nd)
    one_by_one = all(k == 1 for k in K) and all(si == 1 for si in s)

    def chunk(c):
        n0, n1 = c
        nc = n1 - n0
        inner = not native and _batch_inner(nc, O, s)
        gc = ga[n0:n1]
        gt = xp.ascontiguousarray(gc.transpose(1, 2, 0) if inner else gc.transpose(1, 0, 2))
        gcols = _matmul(xp, wmT, gt.reshape(G, Co // G, nc * P))  # (G, Cg*K, nc*P)
        if native:
            _conv_native.col2im(gcols, out[n0:n1], geo)
            if bb is not None:
                out[n0:n1] += bb
            return
        if inner:
            gcols = gcols.reshape((C,) + tuple(K) + tuple(O) + (nc,))
            acc = xp.zeros((C,) + tuple(span) + (nc,), dtype=dt)
            for kidx in np.ndindex(*K):
                sl = tuple(
                    slice(k * di, k * di + si * (o - 1) + 1, si)
                    for k, di, si, o in zip(kidx, d, s, O)
                )
                acc[(slice(None),) + sl] += gcols[(slice(None),) + kidx]
            view = acc.transpose((nd + 1, 0) + tuple(range(1, nd + 1)))  # (nc, C, *span)
        else:
            gcols = gcols.reshape((C,) + tuple(K) + (nc,) + tuple(O))
            if one_by_one:
                acc = gcols.reshape((C, nc) + tuple(O))  # no overlapping windows to sum
            else:
                acc = xp.zeros((C, nc) + tuple(span), dtype=dt)
                for kidx in np.ndindex(*K):
                    sl = tuple(
                        slice(k * di, k * di + si * (o - 1) + 1, si)
                        for k, di, si, o in zip(kidx, d, s, O)
                    )
                    acc[(slice(None), slice(None)) + sl] += gcols[(slice(None),) + kidx]
            view = acc.transpose((1, 0) + sp_axes)
        region = view[tuple(src)]
        o = out[n0:n1]
        if full:
            if bb is not None:
                xp.add(region, bb, out=o, casting="unsafe")
            else:
                o[...] = region
        else:
            o[tuple(dst)] += region

    _run_chunks(chunk, _batch_chunks(N, xp))
    return out


def _conv_weight_general(x, g, geo, wshape, cols=None):
    """The adjoint of ``_conv_general`` in w: sum over windows of input x output gradient."""
    xp = xp_of(x)
    G = geo[6]  # noqa: N806
    dt = _compute_dtype(x.dtype)
    N, C = x.shape[:2]  # noqa: N806
    Co = g.shape[1]  # noqa: N806
    P = _prod(geo[1])  # noqa: N806
    ga = g.astype(dt, copy=False).reshape(N, Co, P)
    if cols is None:
        per_image = C * _prod(geo[2]) * P * np.dtype(dt).itemsize
        dims = (C * _prod(geo[2]) // G, Co // G)
        chunks, par = _cols_chunks(N, per_image, xp, P, 2 * max(dims))
        chunks = chunks or [(0, 0)]
        inner = _batch_inner(chunks[0][1] - chunks[0][0], geo[1], geo[3])
        native = not inner and x.dtype == dt and _conv_native.available(xp, dt, geo)
        xb = None if inner or native else _padded(xp, x, geo[5], geo.span, dt)
        work = [(c, None, inner) for c in chunks]
    else:
        work = cols  # ((n0, n1), columns, batch-innermost) kept by the forward
        native = False  # (the columns are all there)
        par = len(work) <= _parallel.threads_here()  # the forward's parallel slices

    def chunk(item):
        (n0, n1), cc, inner_ = item
        if cc is None:
            if native:
                cc = _conv_native.im2col(x[n0:n1], geo)
            elif inner_:
                cc = _columns_inner(xp, _padded_inner(xp, x[n0:n1], geo[5], geo.span, dt), geo)
            else:
                cc = _columns(xp, xb[n0:n1], geo)  # (G, Cg*K, nc*P)
        gc = ga[n0:n1]
        gt = xp.ascontiguousarray(gc.transpose(1, 2, 0) if inner_ else gc.transpose(1, 0, 2))
        gt = gt.reshape(G, Co // G, -1)
        # cols @ g^T (transposed at the end): OpenBLAS runs this orientation 10-50% faster
        return _matmul(xp, cc, gt.transpose(0, 2, 1))

    parts = _run_chunks(chunk, work, par)
    if not parts:
        return xp.zeros(wshape, dtype=x.dtype)
    gw = _summed(parts)
    return gw.transpose(0, 2, 1).reshape(wshape).astype(x.dtype)


# --- Winograd F(2x2, 3x3) -------------------------------------------------------------------------
# y = A^T [(G w G^T) * (B^T d B)] A on 4x4 input tiles d giving 2x2 output tiles (Lavin & Gray).
_WG = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
# the weight gradient's adjoint output transform computes row 3 with the opposite sign (one
# subtraction saved per tile); this G folds the sign back in
_WG_NEG3 = _WG * np.array([[1.0], [1.0], [1.0], [-1.0]])
# the 2-D transforms as (16, 9) matrices: entry (a*4+b, i*3+j) = G[a,i] G[b,j] (one GEMM for all
# (out, in) channel pairs: a batched 4x3 @ 3x3 @ 3x4 over them is 20x slower)
_WGG = np.kron(_WG, _WG)
_WGG_NEG3 = np.kron(_WG_NEG3, _WG_NEG3)
_WINO_MIN_CHANNELS = 8
_CHUNK_BYTES = 3 << 20  # transformed tiles per chunk: sized to stay in L2


def _single_core() -> bool:
    """Whether the op runs on one core: neither the intra-op threads nor OpenBLAS's.

    Winograd saves GEMM work but adds elementwise transforms that run as many small NumPy
    calls; those hold the GIL often enough that two threads run them no faster than one
    (measured), while im2col's few large gathers and GEMMs scale with the cores. So Winograd
    is used on one core (where it is 1.2-1.4x faster than im2col) and im2col on several (where
    it is up to 1.4x faster than Winograd).
    """
    if _parallel.get_num_threads() > 1:
        return False
    return _parallel.blas_threads_outside() <= 1


def _wino_ok(xp, dt, geo, C, Co, N) -> bool:  # noqa: N803
    X, O, K, s, d, lo, G = geo  # noqa: N806
    return (
        xp is np
        and N > 0
        and len(K) == 2
        and K == (3, 3)
        and s == (1, 1)
        and d == (1, 1)
        and G == 1
        and C >= _WINO_MIN_CHANNELS
        and Co >= _WINO_MIN_CHANNELS
        and dt.kind == "f"
        and O[0] >= 2
        and O[1] >= 2
        and _single_core()
    )


def _wino_input(x, lo, th, tw, dt):
    """x (N, C, H, W) as a zero-padded channels-last (N, 2*th+2, 2*tw+2, C) buffer."""
    N, C, H, W = x.shape  # noqa: N806
    Hp, Wp = 2 * th + 2, 2 * tw + 2  # noqa: N806
    xb = np.empty((N, Hp, Wp, C), dtype=dt)
    r0, c0 = max(lo[0], 0), max(lo[1], 0)
    s0, t0 = max(-lo[0], 0), max(-lo[1], 0)
    nh, nw = max(0, min(H - s0, Hp - r0)), max(0, min(W - t0, Wp - c0))
    # zero only the frame, not the interior that is overwritten
    xb[:, :r0] = 0
    xb[:, r0 + nh :] = 0
    xb[:, r0 : r0 + nh, :c0] = 0
    xb[:, r0 : r0 + nh, c0 + nw :] = 0
    xb[:, r0 : r0 + nh, c0 : c0 + nw] = x[:, :, s0 : s0 + nh, t0 : t0 + nw].transpose(0, 2, 3, 1)
    return xb


def _wino_chunks(N, th, tw, C, min_tiles=0):  # noqa: N803
    """(n0, n1, i0, i1) blocks of images x tile rows whose transformed tiles fit the cache
    (and hold at least ``min_tiles`` tiles)."""
    per_row = 16 * tw * C * 8
    rows = max(1, _CHUNK_BYTES // per_row, -(-min_tiles // tw))
    if rows >= th:
        imgs = max(1, rows // th)
        return [(n, min(N, n + imgs), 0, th) for n in range(0, N, imgs)]
    return [(n, n + 1, i, min(th, i + rows)) for n in range(N) for i in range(0, th, rows)]


def _run_chunks(fn, chunks, parallel=True):
    """``[fn(c) for c in chunks]``, spread over the intra-op threads when ``parallel``.

    Each chunk is a whole pipeline (gathers or transforms, GEMMs, scatters), so chunks run in
    parallel while OpenBLAS is held to one thread (see `_single_blas`). The threads take the
    chunks one at a time from a shared counter: the cores of a virtual machine need not be
    equally fast (measured here: one ran FMA loops at 60% of the other's speed), and callers
    that pass several chunks per thread then finish together. Results come in chunk order.
    """
    nt = min(_parallel.threads_here(), len(chunks)) if parallel else 1
    if nt <= 1:
        if len(chunks) == 1:
            return [fn(chunks[0])]
        # several small chunks in a row (memory-bound GEMMs of layers with few channels):
        # OpenBLAS's own threads, woken for each short GEMM, cost more than they give
        # (measured: 2-3x the CPU time on ResNet's 3-channel stem, no faster)
        with _single_blas():
            return [fn(c) for c in chunks]
    with _single_blas():
        import contextvars

        res: list = [None] * len(chunks)
        nxt = itertools.count()  # next() on it is atomic under the GIL

        def take():
            for i in iter(nxt.__next__, None):
                if i >= len(chunks):
                    return
                res[i] = fn(chunks[i])

        pool = _parallel._get_pool()
        futs = [pool.submit(contextvars.copy_context().run, take) for _ in range(nt - 1)]
        try:
            take()
        finally:
            for f in futs:
                f.result()
        return res


class _single_blas(_parallel.one_blas_thread):  # noqa: N801 - used as a context manager
    """OpenBLAS held to one thread for the duration of a convolution on the CPU.

    The convolution kernels parallelise over chunks of the batch themselves. Letting OpenBLAS
    use its own threads for any GEMM of the op (even the small weight transform before the
    chunks) wakes its workers, which then busy-wait on the second core while our chunk threads
    need it: measured, a two-thread Winograd forward then ran no faster than one thread while
    keeping both cores busy. A batch of one is not split over threads: OpenBLAS then keeps
    its threads for the GEMMs.
    """

    __slots__ = ("hold",)

    def __init__(self, n_batch: int = 2):
        self.hold = _parallel.get_num_threads() > 1 and n_batch > 1

    def __enter__(self):
        if self.hold:
            return super().__enter__()
        self.fns = None
        return self


def _wino_v(xb, n0, n1, i0, i1, tw, dt):
    """B^T d B for the tiles of rows i0:i1 of images n0:n1: (16, T, C), T = n*rows*tw."""
    xc = xb[n0:n1, 2 * i0 : 2 * i1 + 2]
    nr = i1 - i0
    n = n1 - n0
    C = xb.shape[3]  # noqa: N806
    r = [xc[:, a : a + 2 * nr : 2] for a in range(4)]
    R = np.empty((4,) + r[0].shape, dtype=dt)  # noqa: N806
    np.subtract(r[0], r[2], out=R[0])
    np.add(r[1], r[2], out=R[1])
    np.subtract(r[2], r[1], out=R[2])
    np.subtract(r[1], r[3], out=R[3])
    V = np.empty((4, 4, n, nr, tw, C), dtype=dt)  # noqa: N806
    for a in range(4):
        c = [R[a][:, :, b : b + 2 * tw : 2] for b in range(4)]
        Va = V[a]  # noqa: N806
        np.subtract(c[0], c[2], out=Va[0])
        np.add(c[1], c[2], out=Va[1])
        np.subtract(c[2], c[1], out=Va[2])
        np.subtract(c[1], c[3], out=Va[3])
    return V.reshape(16, n * nr * tw, C)


def _wino_u(w, dt, transposed: bool):
    """The transformed kernel as (16, C_in, C_out) matrices (views, no transposing copy).

    For a convolution, U[p] = (G w G^T)[p] is (Co, C) per position and read transposed. A
    stride-1 transposed convolution is the convolution with the flipped kernel and the channel
    roles swapped: flipping reverses the 9 kernel taps, and the (Co, C) matrix is then already
    (C_in, C_out) of that convolution.
    """
    Co, C = w.shape[:2]  # noqa: N806
    g = _WGG.astype(dt)
    if transposed:
        return (g[:, ::-1] @ w.reshape(Co * C, 9).T).reshape(16, Co, C)
    return (g @ w.reshape(Co * C, 9).T).reshape(16, Co, C).transpose(0, 2, 1)


def _wino_conv(x, U, lo, O, b=None):  # noqa: N803
    """3x3 stride-1 convolution of x (N, C, H, W) giving (N, Co, *O), by Winograd F(2, 3);
    ``U`` is the transformed kernel from `_wino_u`."""
    N, C = x.shape[:2]  # noqa: N806
    Co = U.shape[2]  # noqa: N806
    dt = x.dtype
    Oh, Ow = O  # noqa: N806
    th, tw = (Oh + 1) // 2, (Ow + 1) // 2
    xb = _wino_input(x, lo, th, tw, dt)
    yb = np.empty((N, 2 * th, 2 * tw, Co), dtype=dt)

    def chunk(c):
        n0, n1, i0, i1 = c
        n, nr = n1 - n0, i1 - i0
        V = _wino_v(xb, n0, n1, i0, i1, tw, dt)  # noqa: N806
        M = np.matmul(V, U).reshape(4, 4, n, nr, tw, Co)  # noqa: N806
        # A^T M A: rows (m0+m1+m2, m1-m2-m3), then the same over columns
        Y1 = np.empty((2, 4, n, nr, tw, Co), dtype=dt)  # noqa: N806
        np.add(M[0], M[1], out=Y1[0])
        Y1[0] += M[2]
        np.subtract(M[1], M[2], out=Y1[1])
        Y1[1] -= M[3]
        o = yb[n0:n1, 2 * i0 : 2 * i1].reshape(n, nr, 2, tw, 2, Co)
        for a in range(2):
            Ya = Y1[a]  # noqa: N806
            d0, d1 = o[:, :, a, :, 0], o[:, :, a, :, 1]
            np.add(Ya[0], Ya[1], out=d0)
            d0 += Ya[2]
            np.subtract(Ya[1], Ya[2], out=d1)
            d1 -= Ya[3]

    _run_chunks(chunk, _wino_chunks(N, th, tw, max(C, Co)))
    src = yb[:, :Oh, :Ow].transpose(0, 3, 1, 2)
    out = np.empty((N, Co, Oh, Ow), dtype=dt)
    if b is not None:
        np.add(src, b.reshape(1, Co, 1, 1), out=out, casting="unsafe")
    else:
        out[...] = src
    return out


def _wino_weight(x, g, lo):
    """The weight gradient of a 3x3 stride-1 convolution, by Winograd F(2, 3)."""
    N, C = x.shape[:2]  # noqa: N806
    Co, Oh, Ow = g.shape[1:]  # noqa: N806
    dt = x.dtype
    th, tw = (Oh + 1) // 2, (Ow + 1) // 2
    xb = _wino_input(x, lo, th, tw, dt)
    gb = np.empty((N, 2 * th, 2 * tw, Co), dtype=dt)
    if Oh % 2 or Ow % 2:
        gb[:, Oh:] = 0
        gb[:, :Oh, Ow:] = 0
    gb[:, :Oh, :Ow] = g.transpose(0, 2, 3, 1)

    def chunk(c):
        n0, n1, i0, i1 = c
        n, nr = n1 - n0, i1 - i0
        V = _wino_v(xb, n0, n1, i0, i1, tw, dt)  # noqa: N806
        gc = gb[n0:n1, 2 * i0 : 2 * i1]
        g0, g1 = gc[:, 0::2], gc[:, 1::2]  # (n, nr, 2tw, Co)
        # A g A^T with A = [[1,0],[1,1],[1,-1],[0,-1]] (row 3 negated, folded into _WG_NEG3)
        R = np.empty((4,) + g0.shape, dtype=dt)  # noqa: N806
        R[0] = g0
        np.add(g0, g1, out=R[1])
        np.subtract(g0, g1, out=R[2])
        R[3] = g1
        gM = np.empty((4, 4, n, nr, tw, Co), dtype=dt)  # noqa: N806
        for a in range(4):
            c0, c1 = R[a][:, :, 0::2], R[a][:, :, 1::2]
            gMa = gM[a]  # noqa: N806
            gMa[0] = c0
            np.add(c0, c1, out=gMa[1])
            np.subtract(c0, c1, out=gMa[2])
            gMa[3] = c1
        return np.matmul(gM.reshape(16, -1, Co).transpose(0, 2, 1), V)

    # every chunk returns a (16, Co, C) partial sum: with many channels and few tiles per image
    # (late ResNet stages) chunks of at least max(C, Co) tiles keep those sums cheap
    parts = _run_chunks(chunk, _wino_chunks(N, th, tw, max(C, Co), min_tiles=2 * max(C, Co)))
    gU = _summed(parts)  # noqa: N806
    # (Co*C, 16) @ (16, 9) lands in the weight layout directly: transposing a (3, 3, C, Co)
    # result instead took longer than the GEMMs for 512 channels
    return (gU.reshape(16, Co * C).T @ _WGG_NEG3.astype(dt)).reshape(Co, C, 3, 3)


# --- implicit GEMM: stride-1 convolutions without an im2col buffer ------------------------------
# The zero-padded input is laid out channels-first with the batch flattened into one axis,
# ``xb`` (C, N*S) with S = prod(span). The output at flat position r of the padded grid reads
# the input at r + off(k) for kernel offset k: a plain column slice of ``xb``. So the forward is
# sum_k W_k (Co, C) @ xb[:, r + off(k)], prod(K) GEMMs on slices accumulated in place through
# CBLAS (``gemm_into``: no copies, the GIL released so the threads run GEMMs side by side),
# computed over the whole padded grid and cropped to O at the end. The positions beyond O are
# wasted work (span/O per dim: 1.07x at 56x56, 1.27x at 16x16, 2.25x at 4x4), which bounds
# where it pays (`_IG_MAX_MARGIN`). Measured on conv-shaped GEMMs with 64 channels, these
# slices run as fast as one large GEMM (~80 GFLOP/s per core) and twice as fast as im2col's
# (Co, C*K) @ (C*K, N*P) product, with none of its copies. A stride-1 transposed convolution is
# such a convolution with the flipped kernel (the input gradient), and the weight gradient
# reads the same slices: per block of positions, the prod(K) shifted slices are stacked into a
# small (C*prod(K), B) buffer that stays in cache, and one GEMM against the output gradient
# (zero outside O, so the wasted positions add nothing) accumulates (C*prod(K), Co).
_IG_MIN_CHANNELS = 16  # fewer channels make GEMMs with a tiny inner dimension (LeNet)
# padded grid / output positions up to which it beats im2col (measured per ResNet stage: ahead
# at 32x32 and 56x56, even at 16x16 (1.27), behind at 8x8 (1.56) where im2col's GEMMs with
# 256+ channels and a long inner dimension run at full speed)
_IG_MAX_MARGIN = 1.3
# with the compiled direct kernels (_native/conv.c), for layers with fewer than
# _IG_MIN_CHANNELS channels: LeNet-5's 10-wide rows in 16-lane vectors (1.6) still ran as fast
# as im2col (4.6 against 4.8 ms fwd+bwd); with 256 channels at 8x8 (1.56) im2col's GEMMs ran
# 1.5-1.9x faster, so larger layers keep _IG_MAX_MARGIN
_IG_MAX_MARGIN_DIRECT = 1.7
_IG_OUT_BLOCK_BYTES = 1 << 20  # output block kept in L2 while the K offsets accumulate
_IG_COLS_BLOCK_BYTES = 1 << 20  # stacked slices per weight-gradient block
_IG_PARALLEL_FLOPS = 1 << 24  # below this one thread (handing work to a thread costs ~50 us)
# the compiled packs (~0.1-0.2 ns per element) go to the threads from this many elements:
# handing a part to a pool thread took ~60-100 us here
_PACK_THREAD_MIN = 1 << 20


def _ig_ok(xp, dt, geo, C, Co, N) -> bool:  # noqa: N803
    X, O, K, s, d, lo, G = geo  # noqa: N806
    if not (
        xp is np
        and N > 0
        and G == 1
        and all(si == 1 for si in s)
        and dt in (np.float32, np.float64)
    ):
        return False
    waste = _prod(geo.span) / _prod(O)  # positions computed per output on the padded grid
    if _conv_direct.available(dt):
        # the compiled kernels take any channel count (no GEMM with a tiny inner dimension)
        # and compute by output rows where that wastes less
        if len(O) <= 2:
            waste = min(waste, _conv_direct.rows_waste(O))
        few = min(C, Co) < _IG_MIN_CHANNELS
        return waste <= (_IG_MAX_MARGIN_DIRECT if few else _IG_MAX_MARGIN)
    return min(C, Co) >= _IG_MIN_CHANNELS and waste <= _IG_MAX_MARGIN


def _direct_weight_ok(C, Co, O) -> bool:  # noqa: N803
    """Whether a weight gradient that `_ig_ok` admits runs faster through the compiled kernels
    than through im2col and one long GEMM (measured, two threads, fwd/dw ms): yes for few
    output channels (LeNet-5's: 1.5 against 2.0 and 1.7 against 3.6) and for large maps (64
    channels at 32x32: 18 against 24; 56x56: 11.7 against 13.9); no for 16x16 maps (128
    channels: 18.5 against 15.3), where im2col's GEMM has an inner dimension of batch x 256,
    nor for a few input channels into many (ResNet's stem: 3.6 against 2.6, its channels-last
    copy of g costing as much as its sums)."""
    return Co < 2 * _IG_MIN_CHANNELS or (min(C, Co) >= _IG_MIN_CHANNELS and _prod(O) >= 512)


def _ig_layout(geo, N):  # noqa: N803
    """(flat offsets of the kernel taps, positions R of the padded grid that are computed)."""
    X, O, K, s, d, lo, G = geo  # noqa: N806
    span = geo.span
    pst = [_prod(span[i + 1 :]) for i in range(len(span))]  # flat strides of the padded grid
    offs = [sum(k * di * p for k, di, p in zip(kidx, d, pst)) for kidx in np.ndindex(*K)]
    # up to the last output of the last image: its reads end exactly at the buffer's end
    R = (N - 1) * _prod(span) + sum((o - 1) * p for o, p in zip(O, pst)) + 1  # noqa: N806
    return offs, R


def _ranges(n, parts):
    parts = max(1, min(parts, n))
    return [(n * i // parts, n * (i + 1) // parts) for i in range(parts)]


_CHUNKS_PER_THREAD = 4  # the direct kernels' work in this many pieces per thread (see below)


def _shared_ranges(n, nt, min_size=1, align=1):
    """Ranges of [0, n) for `_run_chunks` to hand out: `_CHUNKS_PER_THREAD` per thread, so a
    thread on a slower core takes fewer, each at least ``min_size`` long (a weight gradient's
    chunk adds a partial sum) and starting at a multiple of ``align``."""
    if nt <= 1:
        return [(0, n)] if n else []
    k = max(1, min(nt * _CHUNKS_PER_THREAD, max(nt, n // max(1, min_size))))
    bounds = sorted({min(n, -(-n * i // k) // align * align) for i in range(k)} | {n})
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def _flat_rows(rows: int, length: int, dt, slack: int):
    """``(flat, view)``: a buffer of ``rows`` rows of ``length`` plus ``slack`` zeros after the
    last (what the compiled kernels may read past it), and its (rows, length) view."""
    flat = np.empty(rows * length + slack, dtype=dt)
    flat[rows * length :] = 0
    return flat, flat[: rows * length].reshape(rows, length)


def _summed(parts):
    """The sum of a list of partial results, into the first."""
    total = parts[0]
    for p in parts[1:]:
        total += p
    return total


def _ig_pack(x, lo, span, buf):
    """``buf`` (C, N, *span) <- x (N, C, *X) at offset ``lo`` (cropped where negative or past the
    span), zeros around; split over channels and the threads."""
    nd = len(span)
    X = x.shape[2:]  # noqa: N806
    dst, src = [], []
    for a, sp, xs in zip(lo, span, X):
        a0, s0 = max(a, 0), max(-a, 0)
        n = max(0, min(xs - s0, sp - a0))
        dst.append(slice(a0, a0 + n))
        src.append(slice(s0, s0 + n))
    empty = any(sl.stop == sl.start for sl in dst)
    perm = (1, 0) + tuple(range(2, nd + 2))
    nt = _parallel.threads_here() if buf.size >= _parallel.MIN_ELEMENTS else 1
    if (
        nd <= 2
        and x.dtype == buf.dtype
        and x.flags.c_contiguous
        and buf.flags.c_contiguous
        and _conv_direct.available(x.dtype)
    ):  # compiled: a copy per row, fast enough that only large buffers pay a thread handoff
        nt = nt if buf.size >= _PACK_THREAD_MIN else 1
        _run_chunks(_conv_direct.pack(x, lo, span, buf), _ranges(buf.shape[0], nt))
        return

    def chunk(c):
        c0, c1 = c
        b = buf[c0:c1]
        if empty:
            b[...] = 0
            return
        for i, sl in enumerate(dst):  # zero the frame only: the interior is overwritten
            pre = (slice(None),) * (i + 2)
            if sl.start > 0:
                b[pre + (slice(0, sl.start),)] = 0
            if sl.stop < span[i]:
                b[pre + (slice(sl.stop, None),)] = 0
        b[(slice(None), slice(None)) + tuple(dst)] = x[
            (slice(None), slice(c0, c1)) + tuple(src)
        ].transpose(perm)

    _run_chunks(chunk, _ranges(buf.shape[0], nt))


def _ig_conv(x, w, geo, b=None):
    """Stride-1 ungrouped convolution of x (N, C, *X) with w (Co, C, *K) by implicit GEMM."""
    X, O, K, s, d, lo, G = geo  # noqa: N806
    N, C = x.shape[:2]  # noqa: N806
    Co = w.shape[0]  # noqa: N806
    dt = _compute_dtype(x.dtype)
    span = geo.span
    S = _prod(span)  # noqa: N806
    offs, R = _ig_layout(geo, N)  # noqa: N806
    direct = _conv_direct.available(dt)
    xflat, xb = _flat_rows(C, N * S, dt, _conv_direct.slack() if direct else 0)
    _ig_pack(x, lo, span, xb.reshape((C, N) + span))
    flops = 2 * R * C * Co * len(offs)
    nt = _parallel.threads_here() if flops >= _IG_PARALLEL_FLOPS else 1
    if direct:  # compiled: all taps summed in registers (see _native/conv.c)
        w3 = w.astype(dt, copy=False).reshape(Co, C, -1)
        if len(O) <= 2 and x.dtype == dt and _conv_direct.rows_waste(O) <= S / _prod(O):
            # by output rows, straight into the output: none of the padding computed
            out = np.empty((N, Co) + tuple(O), dtype=dt)
            work, n = _conv_direct.forward_rows(xflat, C, N * S, w3, offs, out, b, span)
            _run_chunks(work, _shared_ranges(n, nt))
            return out
        yb = np.empty((Co, N * S), dtype=dt)
        rows = _conv_direct.forward(xflat, C, N * S, w3, offs, yb)
    else:
        yb = np.empty((Co, N * S), dtype=dt)
        wk = np.ascontiguousarray(w.astype(dt, copy=False).reshape(Co, C, -1).transpose(2, 0, 1))
        # blocks of at least 2048 positions: shorter GEMMs ran measurably slower
        B = max(2048, _IG_OUT_BLOCK_BYTES // (Co * dt.itemsize))  # noqa: N806

        def rows(c):
            for a0 in range(c[0], c[1], B):
                a1 = min(c[1], a0 + B)
                y = yb[:, a0:a1]
                for k, o in enumerate(offs):
                    gemm_into(wk[k], xb[:, a0 + o : a1 + o], y, 1.0 if k else 0.0)

    _run_chunks(rows, _shared_ranges(R, nt) if direct else _ranges(R, nt))
    out = np.empty((N, Co) + tuple(O), dtype=x.dtype)
    yv = yb.reshape((Co, N) + span)[(slice(None), slice(None)) + tuple(slice(0, o) for o in O)]
    perm = (1, 0) + tuple(range(2, len(O) + 2))
    bb = None if b is None else b.reshape((1, Co) + (1,) * len(O))

    def unpack(c):
        c0, c1 = c
        src = yv[c0:c1].transpose(perm)
        if bb is None:
            out[:, c0:c1] = src
        else:
            np.add(src, bb[:, c0:c1], out=out[:, c0:c1], casting="unsafe")

    nt = _parallel.threads_here() if out.size >= _parallel.MIN_ELEMENTS else 1
    _run_chunks(unpack, _ranges(Co, nt))
    return out


def _ig_weight(x, g, geo, wshape):
    """The weight gradient of `_ig_conv`: (Co, C, *K) from x (N, C, *X) and g (N, Co, *O)."""
    X, O, K, s, d, lo, G = geo  # noqa: N806
    N, C = x.shape[:2]  # noqa: N806
    Co = g.shape[1]  # noqa: N806
    dt = _compute_dtype(x.dtype)
    span = geo.span
    S = _prod(span)  # noqa: N806
    offs, R = _ig_layout(geo, N)  # noqa: N806
    P = len(offs)  # noqa: N806
    direct = _conv_direct.available(dt)
    xflat, xb = _flat_rows(C, N * S, dt, _conv_direct.slack() if direct else 0)
    _ig_pack(x, lo, span, xb.reshape((C, N) + span))
    flops = 2 * R * C * Co * P
    nt = _parallel.threads_here() if flops >= _IG_PARALLEL_FLOPS else 1
    if direct and Co < _conv_direct.lanes():
        # compiled, few output channels (LeNet's 6): positions in the vector lanes
        vl = _conv_direct.lanes()
        gflat, gb = _flat_rows(Co, N * S, dt, vl)
        _ig_pack(g, (0,) * len(O), span, gb.reshape((Co, N) + span))
        rows = _conv_direct.weight_grad_few(xflat, C, N * S, gflat, N * S, Co, offs)
        gw = _summed(_run_chunks(rows, _shared_ranges(R, nt, align=vl)))
        return gw.reshape(wshape).astype(x.dtype, copy=False)
    if direct and len(O) <= 2:
        # compiled: output channels in vector lanes, g read channels-last (see _native/conv.c)
        kernel, ldg = _conv_direct.weight_grad_width(Co)
        gT = np.empty((N * _prod(O), ldg), dtype=dt)  # noqa: N806
        pack = _conv_direct.pack_channels_last(g.astype(dt, copy=False), ldg, gT)
        _run_chunks(pack, _ranges(N, nt if gT.size >= _PACK_THREAD_MIN else 1))
        rows, n = _conv_direct.weight_grad(kernel, xb, C, N * S, gT, ldg, offs, O, span)
        # chunks of 2048+ positions: adding a chunk's (C * K, Co) partial sum then costs ~1/2048
        # of its multiply-adds
        gw = _summed(_run_chunks(rows, _shared_ranges(n, nt, min_size=-(-2048 // _prod(O[1:])))))
        # (C, K, Co) -> (Co, C, K)
        gw = gw.reshape(C, P, ldg)[:, :, :Co].transpose(2, 0, 1)
        return np.ascontiguousarray(gw).reshape(wshape).astype(x.dtype, copy=False)
    gb = np.empty((Co, N * S), dtype=dt)  # g on the padded grid, zero past O
    _ig_pack(g, (0,) * len(O), span, gb.reshape((Co, N) + span))
    B = max(128, _IG_COLS_BLOCK_BYTES // (P * C * dt.itemsize))  # noqa: N806

    def rows(c):
        part = np.empty((P * C, Co), dtype=dt)
        cols = np.empty((P * C, min(B, c[1] - c[0])), dtype=dt)
        for a0 in range(c[0], c[1], B):
            a1 = min(c[1], a0 + B)
            n = a1 - a0
            for k, o in enumerate(offs):
                cols[k * C : (k + 1) * C, :n] = xb[:, a0 + o : a1 + o]
            # (C*K, B) @ (B, Co): OpenBLAS runs this orientation fastest (measured)
            gemm_into(cols[:, :n], gb[:, a0:a1], part, 1.0 if a0 > c[0] else 0.0, trans_b=True)
        return part

    gw = _summed(_run_chunks(rows, _ranges(R, nt)))
    # (K, C, Co) -> (Co, C, K)
    return gw.reshape(P, C, Co).transpose(2, 1, 0).reshape(wshape).astype(x.dtype)


# --- dispatch -----------------------------------------------------------------------------------
def conv_forward(x, w, geo, b=None, keep=None):
    xp = xp_of(x)
    if xp is not np:  # CuPy: im2col / depthwise CUDA kernels (None: not covered)
        from ..cuda import _conv as _cuda_conv

        y = _cuda_conv.conv_forward(x, w, geo, b, keep)
        if y is not None:
            return y
    dt = _compute_dtype(x.dtype)
    if _wino_ok(xp, dt, geo, x.shape[1], w.shape[0], x.shape[0]):
        xx = x.astype(dt, copy=False)
        y = _wino_conv(xx, _wino_u(w.astype(dt, copy=False), dt, False), geo[5], geo[1], b)
        return y.astype(x.dtype, copy=False)
    if _ig_ok(xp, dt, geo, x.shape[1], w.shape[0], x.shape[0]):
        return _ig_conv(x, w, geo, b)
    return _conv_general(x, w, geo, b, keep)


def conv_transpose_forward(g, w, geo, b=None):
    xp = xp_of(g)
    if xp is not np:  # CuPy: GEMM + col2im / depthwise CUDA kernels (None: not covered)
        from ..cuda import _conv as _cuda_conv

        y = _cuda_conv.conv_transpose_forward(g, w, geo, b)
        if y is not None:
            return y
    dt = _compute_dtype(g.dtype)
    X, O, K, s, d, lo, G = geo  # noqa: N806
    if _wino_ok(xp, dt, geo, w.shape[1], w.shape[0], g.shape[0]):
        # a stride-1 transposed 3x3 convolution is a 3x3 convolution with the flipped kernel
        U = _wino_u(w.astype(dt, copy=False), dt, True)  # noqa: N806
        y = _wino_conv(g.astype(dt, copy=False), U, (2 - lo[0], 2 - lo[1]), X, b)
        return y.astype(g.dtype, copy=False)
    Co, Cg = w.shape[:2]  # noqa: N806
    if all(si == 1 for si in s) and xp is np:
        # stride 1: the transposed convolution is the convolution of g with the flipped kernel
        # (channel roles swapped): by implicit GEMM, or by one im2col gather and GEMM instead
        # of a GEMM nine times the output and a scatter-add per kernel offset when its columns
        # are not much larger
        lo_f = tuple(di * (k - 1) - a for di, k, a in zip(d, K, lo))
        geo_f = Geometry(O, X, K, s, d, lo_f, G)
        ig = _ig_ok(xp, dt, geo_f, Co, G * Cg, g.shape[0])
        if ig or Co * _prod(X) <= 1.5 * Cg * G * _prod(O):
            Cog = Co // G  # noqa: N806
            nd = len(K)
            wf = w.reshape((G, Cog, Cg) + tuple(K)).swapaxes(1, 2)
            wf = wf[(Ellipsis,) + (slice(None, None, -1),) * nd]
            wf = xp.ascontiguousarray(wf).reshape((G * Cg, Cog) + tuple(K))
            if ig:
                return _ig_conv(g, wf, geo_f, b)
            return _conv_general(g, wf, geo_f, b)
    return _conv_transpose_general(g, w, geo, b)


def conv_weight_forward(x, g, geo, wshape, cols=None):
    xp = xp_of(x)
    if xp is not np:  # CuPy: im2col + GEMM / depthwise CUDA kernels (None: not covered)
        from ..cuda import _conv as _cuda_conv

        gw = _cuda_conv.conv_weight_forward(x, g, geo, wshape, cols)
        if gw is not None:
            return gw
    dt = _compute_dtype(x.dtype)
    if _wino_ok(xp, dt, geo, x.shape[1], g.shape[1], x.shape[0]):
        gw = _wino_weight(x.astype(dt, copy=False), g.astype(dt, copy=False), geo[5])
        return gw.astype(x.dtype, copy=False)
    C, Co, O = x.shape[1], g.shape[1], geo[1]  # noqa: N806
    if _ig_ok(xp, dt, geo, C, Co, x.shape[0]) and (
        not _conv_direct.available(dt) or _direct_weight_ok(C, Co, O)
    ):
        return _ig_weight(x, g, geo, wshape)
    return _conv_weight_general(x, g, geo, wshape, cols)


# --- nodes --------------------------------------------------------------------------------------
def _pair_grads(x) -> bool:
    """Whether `ConvNd.backward` computes its input and weight gradients side by side, one
    per thread, rather than each split over both threads in turn: with two threads, on the CPU.

    Split, a gradient's packs, partial sums and transposes run on one thread and each stage
    hands work over once (LeNet-5's 6->16 layer's input gradient: 3.0 ms on two threads, 3.3
    on one); side by side, fwd+bwd of that layer took 3.8 ms against 4.9, and ResNet-18's
    step 0.98x, its layers from 0.9x (128 channels at 16x16) to 1.06x (64 at 32x32)."""
    return (
        x.__class__ is np.ndarray
        and _parallel.get_num_threads() == 2
        and _parallel.threads_here() == 2
    )


def _bias_grad(g: Tensor) -> Tensor:
    return g.sum(dim=(0,) + tuple(range(2, g.ndim)))


class ConvNd(Node):
    """``y = conv(x, w) (+ b)`` for x (N, C, *X), w (Co, C/groups, *K), b (Co,)."""

    save_inputs = (0, 1)

    def name(self) -> str:
        return "ConvolutionBackward0"

    def forward(self, x, w, *b, geo, keep_cols=False):
        self.geo = geo
        self.has_b = bool(b)
        keep = [] if keep_cols else None
        y = conv_forward(x, w, geo, b[0] if b else None, keep)
        self._cols = keep or None
        return y

    def backward(self, g):
        x, w = self.saved_inputs
        needs = self.needs_input_grad
        geo = self.geo
        if needs[0] and needs[1] and not MODE.grad and _pair_grads(x._data):
            xa, wa, ga, cols = x._data, w._data, g._data, self._cols
            gxa, gwa = _parallel.side_by_side(
                lambda: conv_transpose_forward(ga, wa, geo),
                lambda: conv_weight_forward(xa, ga, geo, wa.shape, cols),
            )
            gx, gw = wrap(gxa), wrap(gwa)
        else:
            gx = ConvTransposeNd.apply(g, w, geo=geo) if needs[0] else None
            gw = None
            if needs[1]:
                gw = ConvWeightNd.apply(x, g, geo=geo, wshape=w.shape, cols=self._cols)
        self._cols = None  # used once: a retained graph's next backward re-gathers them
        if self.has_b:
            return gx, gw, (_bias_grad(g) if needs[2] else None)
        return gx, gw


class ConvTransposeNd(Node):
    """``x = conv_transpose(y, w) (+ b)``: the adjoint of ``ConvNd`` in its input; y (N, Co, *O),
    w (Co, C/groups, *K) (torch's transposed-convolution weight layout), result (N, C, *X)."""

    save_inputs = (0, 1)

    def name(self) -> str:
        return "ConvolutionBackward0"

    def forward(self, g, w, *b, geo):
        self.geo = geo
        self.has_b = bool(b)
        return conv_transpose_forward(g, w, geo, b[0] if b else None)

    def backward(self, gg):
        g, w = self.saved_inputs
        needs = self.needs_input_grad
        geo = self.geo
        dg = ConvNd.apply(gg, w, geo=geo) if needs[0] else None
        dw = ConvWeightNd.apply(gg, g, geo=geo, wshape=w.shape) if needs[1] else None
        if self.has_b:
            return dg, dw, (_bias_grad(gg) if needs[2] else None)
        return dg, dw


class ConvWeightNd(Node):
    """``gw = conv_weight(x, g)``: the adjoint of ``ConvNd`` in its weight."""

    save_inputs = (0, 1)

    def name(self) -> str:
        return "ConvolutionBackwardBackward0"

    def forward(self, x, g, *, geo, wshape, cols=None):
        self.geo = geo
        return conv_weight_forward(x, g, geo, tuple(wshape), cols)

    def backward(self, ggw):
        x, g = self.saved_inputs
        needs = self.needs_input_grad
        geo = self.geo
        dx = ConvTransposeNd.apply(g, ggw, geo=geo) if needs[0] else None
        dg = ConvNd.apply(x, ggw, geo=geo) if needs[1] else None
        return dx, dg


# --- entry points used by nn.functional -------------------------------------------------------
def conv_nd(
    x: Tensor, w: Tensor, b: Tensor | None, stride, padding_lo, padding_hi, dilation, groups: int
) -> Tensor:
    """Batched N-d convolution with per-dim (possibly asymmetric) padding; no checks."""
    X = tuple(x._data.shape[2:])  # noqa: N806
    K = tuple(w._data.shape[2:])  # noqa: N806
    O = out_size(X, K, stride, dilation, padding_lo, padding_hi)  # noqa: N806
    geo = Geometry(X, O, K, stride, dilation, padding_lo, groups)
    # keep the forward's im2col columns only when a weight gradient will be computed
    keep = MODE.grad and w._rg
    if b is None:
        return ConvNd.apply(x, w, geo=geo, keep_cols=keep)
    return ConvNd.apply(x, w, b, geo=geo, keep_cols=keep)


def conv_transpose_nd(
    g: Tensor, w: Tensor, b: Tensor | None, stride, padding, output_padding, dilation, groups: int
) -> Tensor:
    """Batched N-d transposed convolution (torch's conv_transposeNd geometry); no checks."""
    O = tuple(g._data.shape[2:])  # noqa: N806
    K = tuple(w._data.shape[2:])  # noqa: N806
    X = tuple(  # noqa: N806
        (o - 1) * s - 2 * p + d * (k - 1) + op + 1
        for o, s, p, d, k, op in zip(O, stride, padding, dilation, K, output_padding)
    )
    geo = Geometry(X, O, K, stride, dilation, padding, groups)
    if b is None:
        return ConvTransposeNd.apply(g, w, geo=geo)
    return ConvTransposeNd.apply(g, w, b, geo=geo)


# --- unfold / fold (im2col / col2im) as an adjoint pair ------------------------------------------
def _unfold_array(x, geo):
    """(N, C, *X) -> (N, C*prod(K), prod(O)) windows (torch's unfold layout)."""
    xp = xp_of(x)
    if xp is not np:  # CuPy: the im2col CUDA kernel (None: not covered)
        from ..cuda import _conv as _cuda_conv

        cols = _cuda_conv.unfold(x, geo)
        if cols is not None:
            return cols
    X, O, K, s, d, lo, _ = geo  # noqa: N806
    N, C = x.shape[:2]  # noqa: N806
    xb = _padded(xp, x, lo, geo.span, x.dtype)
    st = xb.strides
    shape = (N, C) + tuple(K) + tuple(O)
    strides = (
        (st[0], st[1])
        + tuple(a * di for a, di in zip(st[2:], d))
        + tuple(a * si for a, si in zip(st[2:], s))
    )
    win = _as_strided(xp, xb, shape, strides)
    return win.reshape(N, C * _prod(K), _prod(O))


def _fold_array(cols, geo, C):  # noqa: N803
    """The adjoint of ``_unfold_array``: overlapping windows summed back into (N, C, *X)."""
    xp = xp_of(cols)
    if xp is not np:  # CuPy: the col2im CUDA kernel (None: not covered)
        from ..cuda import _conv as _cuda_conv

        out = _cuda_conv.fold(cols, geo, C)
        if out is not None:
            return out
    X, O, K, s, d, lo, _ = geo  # noqa: N806
    N = cols.shape[0]  # noqa: N806
    span = geo.span
    c = cols.reshape((N, C) + tuple(K) + tuple(O))
    acc = xp.zeros((N, C) + tuple(span), dtype=cols.dtype)
    for kidx in np.ndindex(*K):
        sl = tuple(
            slice(k * di, k * di + si * (o - 1) + 1, si) for k, di, si, o in zip(kidx, d, s, O)
        )
        acc[(slice(None), slice(None)) + sl] += c[(slice(None), slice(None)) + kidx]
    out = xp.zeros((N, C) + tuple(X), dtype=cols.dtype)
    src, dst = [slice(None), slice(None)], [slice(None), slice(None)]
    for a, sp, xs in zip(lo, span, X):
        a0, s0 = max(a, 0), max(-a, 0)
        n = max(0, min(xs - s0, sp - a0))
        src.append(slice(a0, a0 + n))
        dst.append(slice(s0, s0 + n))
    out[tuple(dst)] = acc[tuple(src)]
    return out


class Im2Col(Node):
    """torch's ``unfold``: sliding windows of (N, C, *X) as columns (N, C*prod(K), L)."""

    def name(self) -> str:
        return "Im2ColBackward0"

    def forward(self, x, *, geo):
        self.geo = geo
        self.C = x.shape[1]
        return _unfold_array(x, geo)

    def backward(self, g):
        return Col2Im.apply(g, geo=self.geo, C=self.C)


class Col2Im(Node):
    """torch's ``fold``: columns (N, C*prod(K), L) summed back into (N, C, *X)."""

    def name(self) -> str:
        return "Col2ImBackward0"

    def forward(self, cols, *, geo, C):  # noqa: N803
        self.geo = geo
        return _fold_array(cols, geo, C)

    def backward(self, g):
        return Im2Col.apply(g, geo=self.geo)


# --- the public functions (torch.convNd / torch.nn.functional.convNd) ---------------------------
def _expand_param(v, n: int, name: str, k: int | None = None) -> tuple:
    """An int or a list of 1 or ``n`` ints as an n-tuple (torch's rule and message)."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v),) * n
    if isinstance(v, Tensor):
        v = v.tolist()
    vals = list(v)
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n or not all(isinstance(a, (int, np.integer)) for a in vals):
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {k if k else n} values "
            f"to match the convolution dimensions, but got {name}={list(v)}"
        )
    return tuple(int(a) for a in vals)


def _check_tensor(op: str, name: str, pos: int, t) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(
            f"{op}(): argument '{name}' (position {pos}) must be Tensor, not {type(t).__name__}"
        )


def _c10_name(t: Tensor) -> str:
    n = t.dtype.__str__().split(".")[-1]
    return {
        "float32": "float",
        "float64": "double",
        "float16": "c10::Half",
        "bfloat16": "c10::BFloat16",
        "int64": "long int",
        "int32": "int",
    }.get(n, n)


def _tensor_type(t: Tensor) -> str:
    return t.type()


def _check_common(op, nd, input, weight, bias, transposed):
    _check_tensor(op, "input", 1, input)
    _check_tensor(op, "weight", 2, weight)
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, but got input "
            f"of size: {list(input.shape)}"
        )
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(
            f"Input type ({_tensor_type(input)}) and weight type ({_tensor_type(weight)}) should "
            "be the same or input should be a MKLDNN tensor and weight is a dense tensor"
        )
    if bias is not None:
        _check_tensor(op, "bias", 3, bias)
        if bias._data.dtype != input._data.dtype:
            raise RuntimeError(
                f"Input type ({_c10_name(input)}) and bias type ({_c10_name(bias)}) should be "
                "the same"
            )
    from ._util import check_same_device

    check_same_device(op, *[t for t in (input, weight, bias) if t is not None])


def _check_groups(groups, weight, input, transposed):
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"groups must be int, not {type(groups).__name__}")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    ws = list(weight.shape)
    if not transposed and ws[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size [{ws}] instead"
        )
    cin = input.shape[1]
    if not transposed and cin != ws[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {ws}, expected input{list(input.shape)} to "
            f"have {ws[1] * groups} channels, but got {cin} channels instead"
        )
    if transposed:
        if ws[0] % groups:
            raise RuntimeError(
                f"Given groups={groups}, expected weight to be divisible by {groups} at "
                f"dimension 0, but got weight of size [{ws}] instead"
            )
        if cin != ws[0]:
            raise RuntimeError(
                f"Given transposed=1, weight of size {ws}, expected input{list(input.shape)} to "
                f"have {ws[0]} channels, but got {cin} channels instead"
            )


def _check_bias(bias, n_out, weight):
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != n_out):
        raise RuntimeError(
            f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional with "
            f"{n_out} elements, but got bias of size {list(bias.shape)} instead"
        )


def _sizes_str(t) -> str:
    return " x ".join(str(v) for v in t)


def _convnd(nd, op, input, weight, bias, stride, padding, dilation, groups):
    _check_common(op, nd, input, weight, bias, False)
    kdims = weight.ndim - 2
    if kdims != nd:
        # torch derives the dimensionality from the weight and reports the first mismatch
        raise RuntimeError(
            f"expected stride to be a single integer value or a list of {kdims} values to match "
            f"the convolution dimensions, but got stride={list(_expand_param(stride, nd, 'stride'))}"
        )
    stride = _expand_param(stride, nd, "stride")
    dilation = _expand_param(dilation, nd, "dilation")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        padding = _expand_param(padding, nd, "padding")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    batched = input.ndim == nd + 2
    x = input if batched else input.unsqueeze(0)
    _check_groups(groups, weight, x, False)
    _check_bias(bias, weight.shape[0], weight)
    K = tuple(weight.shape[2:])  # noqa: N806
    if padding == "valid":
        lo = hi = (0,) * nd
    elif padding == "same":
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        total = tuple(d * (k - 1) for d, k in zip(dilation, K))
        lo = tuple(t // 2 for t in total)
        hi = tuple(t - a for t, a in zip(total, lo))
        if lo != hi:
            import warnings

            warnings.warn(
                "Using padding='same' with even kernel lengths and odd dilation may require a "
                "zero-padded copy of the input be created",
                UserWarning,
                stacklevel=3,
            )
    else:
        if any(p < 0 for p in padding):
            raise RuntimeError("negative padding is not supported")
        lo = hi = padding
    X = tuple(x.shape[2:])  # noqa: N806
    padded = tuple(a + b + c for a, b, c in zip(X, lo, hi))
    dk = tuple(d * (k - 1) + 1 for d, k in zip(dilation, K))
    if any(p < k for p, k in zip(padded, dk)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({_sizes_str(padded)}). Kernel size: "
            f"({_sizes_str(dk)}). Kernel size can't be greater than actual input size"
        )
    y = conv_nd(x, weight, bias, stride, lo, hi, dilation, int(groups))
    return y if batched else y.squeeze(0)


def _conv_transposend(
    nd, op, input, weight, bias, stride, padding, output_padding, groups, dilation
):
    _check_common(op, nd, input, weight, bias, True)
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str")
    kdims = weight.ndim - 2
    if kdims != nd:
        raise RuntimeError(
            f"expected stride to be a single integer value or a list of {kdims} values to match "
            f"the convolution dimensions, but got stride={list(_expand_param(stride, nd, 'stride'))}"
        )
    stride = _expand_param(stride, nd, "stride")
    padding = _expand_param(padding, nd, "padding")
    output_padding = _expand_param(output_padding, nd, "output_padding")
    dilation = _expand_param(dilation, nd, "dilation")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(op_ >= s and op_ >= d for op_, s, d in zip(output_padding, stride, dilation)):
        names = (
            ("height", "width")
            if nd == 2
            else (("depth", "height", "width") if nd == 3 else ("width",))
        )
        parts = (
            [f"output_padding_{n}: {v}" for n, v in zip(names, output_padding)]
            + [f"stride_{n}: {v}" for n, v in zip(names, stride)]
            + [f"dilation_{n}: {v}" for n, v in zip(names, dilation)]
        )
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            + " ".join(parts)
        )
    batched = input.ndim == nd + 2
    x = input if batched else input.unsqueeze(0)
    _check_groups(groups, weight, x, True)
    n_out = weight.shape[1] * groups
    _check_bias(bias, n_out, weight)
    K = tuple(weight.shape[2:])  # noqa: N806
    O = tuple(x.shape[2:])  # noqa: N806
    X = tuple(  # noqa: N806
        (o - 1) * s - 2 * p + d * (k - 1) + a + 1
        for o, s, p, d, k, a in zip(O, stride, padding, dilation, K, output_padding)
    )
    if any(v <= 0 for v in X):
        raise RuntimeError(
            f"Given input size per channel: ({_sizes_str(O)}). Calculated output size per "
            f"channel: ({_sizes_str(X)}). Output size is too small"
        )
    y = conv_transpose_nd(x, weight, bias, stride, padding, output_padding, dilation, int(groups))
    return y if batched else y.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution of (N, C_in, L) (or unbatched (C_in, L)) with weight
    (C_out, C_in/groups, k); ``padding`` may be an int, a tuple, ``'valid'`` or ``'same'``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.functional.conv1d(torch.ones(1, 1, 4), torch.ones(1, 1, 2))
        tensor([[[2., 2., 2.]]])
    """
    return _convnd(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution of (N, C_in, H, W) (or unbatched (C_in, H, W)) with weight
    (C_out, C_in/groups, kH, kW); ``padding`` may be an int, a tuple, ``'valid'`` or ``'same'``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.functional.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2), padding=0)
        tensor([[[[4., 4.],
                  [4., 4.]]]])
    """
    return _convnd(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """3-D convolution of (N, C_in, D, H, W) (or unbatched) with weight
    (C_out, C_in/groups, kD, kH, kW).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.functional.conv3d(torch.ones(1, 1, 2, 2, 2), torch.ones(1, 1, 2, 2, 2)).flatten()
        tensor([8.])
    """
    return _convnd(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> Tensor:
    """1-D transposed convolution ("deconvolution"): the gradient of conv1d with respect to its
    input. ``weight`` is (C_in, C_out/groups, k).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.functional.conv_transpose1d(torch.ones(1, 1, 3), torch.ones(1, 1, 2))
        tensor([[[1., 2., 2., 1.]]])
    """
    return _conv_transposend(
        1,
        "conv_transpose1d",
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> Tensor:
    """2-D transposed convolution: the gradient of conv2d with respect to its input.
    ``weight`` is (C_in, C_out/groups, kH, kW).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.functional.conv_transpose2d(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2), stride=2).shape
        torch.Size([1, 1, 4, 4])
    """
    return _conv_transposend(
        2,
        "conv_transpose2d",
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def conv_transpose3d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> Tensor:
    """3-D transposed convolution. ``weight`` is (C_in, C_out/groups, kD, kH, kW).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.functional.conv_transpose3d(torch.ones(1, 1, 1, 1, 1), torch.ones(1, 2, 2, 2, 2)).shape
        torch.Size([1, 2, 2, 2, 2])
    """
    return _conv_transposend(
        3,
        "conv_transpose3d",
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


FUNCTIONS = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
]
