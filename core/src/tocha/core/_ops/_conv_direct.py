"""Stride-1 convolutions through the compiled direct kernels ``_native/conv.c``, on the
implicit-GEMM layout of `conv` (the zero-padded input as (C, N * prod(span)), the output at
flat position r reading the input at r + off[k] for tap k).

`conv._ig_conv` and `conv._ig_weight` call these in place of their per-tap CBLAS loops for
float32 when the kernels are built; the CBLAS loops stay the reference and the fallback. Each
function returns the work for one range of positions, which `conv` spreads over the threads
(each call releases the GIL).
"""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _native

__all__ = [
    "available", "slack", "lanes", "pack", "forward", "rows_waste", "forward_rows", "weight_grad_few",
    "weight_grad_width", "pack_channels_last", "weight_grad",
]  # fmt: skip

_P, _I = ctypes.c_void_p, ctypes.c_int64
_layout_cache: list = []  # [(forward channel block, forward tile, wide tile, lanes)]


def _layout():
    fn = _native.function("conv", "tocha_conv_layout", _P)
    if fn is None:
        return None
    if not _layout_cache:
        out = np.zeros(4, dtype=np.int64)
        fn(out.ctypes.data)
        _layout_cache.append(tuple(int(v) for v in out))
    return _layout_cache[0]


def available(dt) -> bool:
    """Whether the kernels handle float32 data of dtype ``dt`` (built, or buildable)."""
    return dt == np.float32 and _layout() is not None


def slack() -> int:
    """Elements the forward may read past the input buffer's last row (one tile)."""
    return _layout()[1]


def pack(x, lo, span, buf):
    """The work for channels ``[c0, c1)`` of ``buf`` (C, N, *span) <- x (N, C, *X) float32
    C-contiguous, 1-D or 2-D, at offset ``lo`` (cropped where negative), zero around; as
    `conv._ig_pack`'s NumPy copy."""
    fn = _native.function("conv", "tocha_conv_pack_f32", *[_I] * 6, _P, *[_I] * 4, _P)
    N, C = x.shape[:2]  # noqa: N806
    H, W = x.shape[2:] if x.ndim == 4 else (1, x.shape[2])  # noqa: N806
    Hs, Ws = span if len(span) == 2 else (1, span[0])  # noqa: N806
    lh, lw = lo if len(lo) == 2 else (0, lo[0])

    def channels(c):
        fn(c[0], c[1], N, C, H, W, x.ctypes.data, lh, lw, Hs, Ws, buf.ctypes.data)

    return channels


def _packed_weights(w):
    """w (Co, C, P) as (blocks, C, P, channels of the block), zero past Co: the kernels read
    one block's weights in order."""
    cob = _layout()[0]
    Co, C, P = w.shape  # noqa: N806
    nb = -(-Co // cob)
    wp = np.zeros((nb * cob, C, P), dtype=np.float32)
    wp[:Co] = w
    return np.ascontiguousarray(wp.reshape(nb, cob, C, P).transpose(0, 2, 3, 1))


def forward(xflat, C, ldx, w, offs, yb):  # noqa: N803
    """The work for ``yb[:, r0:r1]`` (rows of ``yb``: output channels; every position of the
    padded grid) of the convolution of ``xflat`` (C rows of ``ldx`` positions, then `slack`
    readable elements) with ``w`` (Co, C, P): ``rows((r0, r1))``."""
    Co, P = w.shape[0], w.shape[2]  # noqa: N806
    wp = _packed_weights(w)
    off = np.asarray(offs, dtype=np.int64)
    fn = _native.function("conv", "tocha_conv_fwd_f32", *[_I] * 3, _P, _P, _I, _P, _P, *[_I] * 3)
    ldy = yb.strides[0] // yb.itemsize

    def rows(c):
        fn(C, Co, P, off.ctypes.data, xflat.ctypes.data, ldx, wp.ctypes.data, yb.ctypes.data,
           ldy, c[0], c[1])  # fmt: skip

    return rows


def rows_waste(O) -> float:  # noqa: N803
    """Computed / needed outputs of `forward_rows` (its rows are whole vectors)."""
    vl = lanes()
    return -(-O[-1] // vl) * vl / O[-1]


def forward_rows(xflat, C, ldx, w, offs, out, b, span):  # noqa: N803
    """``(vectors, n)``: the work for output-row vectors ``[v0, v1)`` of ``n``, written straight
    into ``out`` (N, Co, *O) float32 (1-D or 2-D) plus the bias ``b`` (or None); no position of
    the padding is computed. Arguments as `forward`'s; ``span``: the padded grid's shape."""
    Co, P = w.shape[0], w.shape[2]  # noqa: N806
    O = out.shape[2:] if out.ndim == 4 else (1,) + out.shape[2:]  # noqa: N806
    Ws = span[-1]  # noqa: N806
    vl = lanes()
    wp = _packed_weights(w)
    off = np.asarray(offs, dtype=np.int64)
    bias = None if b is None else np.ascontiguousarray(b.reshape(-1), dtype=np.float32)
    fn = _native.function("conv", "tocha_conv_fwd_rows_f32", *[_I] * 3, _P, _P, _I, _P, _P, _P,
                          *[_I] * 6)  # fmt: skip
    S = int(np.prod(span))  # noqa: N806
    n = out.shape[0] * O[0] * -(-O[1] // vl)

    def vectors(c):
        fn(C, Co, P, off.ctypes.data, xflat.ctypes.data, ldx, wp.ctypes.data,
           None if bias is None else bias.ctypes.data, out.ctypes.data, O[0], O[1], S, Ws,
           c[0], c[1])  # fmt: skip

    return vectors, n


def lanes() -> int:
    """Floats per vector in the kernels (16 with AVX-512, else 8)."""
    return _layout()[3]


def weight_grad_few(xflat, C, ldx, gflat, ldg, Co, offs):  # noqa: N803
    """The work for positions ``[r0, r1)`` (r0 a multiple of `lanes`) of the weight gradient
    with fewer than `lanes` output channels, positions in the vector lanes: ``rows((r0, r1))``
    returns its (Co, C * P) partial sum. ``gflat``: g on the flat padded grid (Co rows of
    ``ldg``, zero outside the outputs) and ``xflat`` followed by `lanes` readable zeros."""
    P = len(offs)  # noqa: N806
    off = np.asarray(offs, dtype=np.int64)
    fn = _native.function("conv", "tocha_conv_wgrad_few_f32", *[_I] * 3, _P, _P, _I, _P, _I, _P,
                          _I, _I, restype=ctypes.c_int)  # fmt: skip

    def rows(c):
        part = np.empty((Co, C * P), dtype=np.float32)
        if fn(C, Co, P, off.ctypes.data, xflat.ctypes.data, ldx, gflat.ctypes.data, ldg,
              part.ctypes.data, c[0], c[1]):  # fmt: skip
            raise MemoryError(f"conv weight gradient: no memory for {Co * C * P} lane sums")
        return part

    return rows


def weight_grad_width(Co: int) -> tuple:  # noqa: N803
    """``(kernel, padded row length)`` of gT for ``Co`` output channels: the wide tile unless
    Co would fill at most half of it (16 or 32 channels), measured ~50 and ~27 GMAC/s."""
    _, _, wide, narrow = _layout()
    pw, pn = -(-Co // wide) * wide, -(-Co // narrow) * narrow
    if 2 * pn <= pw:
        return "tocha_conv_wgrad_narrow_f32", pn
    return "tocha_conv_wgrad_wide_f32", pw


def pack_channels_last(g, ldg, out):
    """The work for images ``[n0, n1)`` of ``out`` (N * prod(O), ldg) <- g (N, Co, *O) float32
    channels-last, zero in columns Co to ldg."""
    fn = _native.function("conv", "tocha_conv_pack_cl_f32", _I, _I, _I, _P, _I, _P)
    g = np.ascontiguousarray(g)
    Co, per = g.shape[1], int(np.prod(g.shape[2:]))  # noqa: N806

    def images(c):
        n0, n1 = c
        fn(n1 - n0, Co, per, g.ctypes.data + n0 * Co * per * 4, ldg,
           out.ctypes.data + n0 * per * ldg * 4)  # fmt: skip

    return images


def weight_grad(kernel, xflat, C, ldx, gT, ldg, offs, O, span):  # noqa: N803
    """``(rows, n)``: the work for output rows ``[row0, row1)`` of ``n`` (row = image * Oh + h;
    1-D or 2-D maps ``O`` on the padded grid ``span``) of the weight gradient; ``rows`` returns
    its (C * P, ldg) partial sum, (channel, tap) pairs by rows, output channels by columns."""
    P = len(offs)  # noqa: N806
    off = np.asarray(offs, dtype=np.int64)
    O = tuple(O) if len(O) == 2 else (1,) + tuple(O)  # noqa: N806
    S, Ws = int(np.prod(span)), span[-1]  # noqa: N806
    fn = _native.function("conv", kernel, _I, _I, _P, _P, _I, _P, _I, _P, *[_I] * 6)
    n = (gT.shape[0] // (O[0] * O[1])) * O[0]

    def rows(c):
        part = np.zeros((C * P, ldg), dtype=np.float32)
        fn(C, P, off.ctypes.data, xflat.ctypes.data, ldx, gT.ctypes.data, ldg, part.ctypes.data,
           O[0], O[1], S, Ws, c[0], c[1])  # fmt: skip
        return part

    return rows, n
