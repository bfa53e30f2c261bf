"""Launchers for ``kernels/softmax.cu`` (softmax and log_softmax, forward and backward), and
the launch helpers the row-wise kernels share (``_norm``, ``_cross_entropy``).

A row kernel gets a C-contiguous (rows, cols) array: ``tx`` threads per row (whole warps,
about ``CACHE`` elements each, so a row of up to ``CACHE * 1024`` elements stays in
registers), ``ty`` rows per block so that short rows still fill a block of ``ROW_BLOCK``
threads, and a grid from `_kernels.row_grid` over the blocks. Columns are read in vectors of
16 bytes when the row length and the base address allow it (`vector_width`).

Each launcher returns ``None`` for what its kernels do not cover (a NumPy array, an integer or
complex dtype, an empty array); the caller then runs its xp code, which stays the reference.
"""

from __future__ import annotations

import numpy as np

from .._device import cupy_or_none
from . import _kernels as K

ENABLED = True  # False: every launcher here returns None (tests get the xp reference so)
CACHE = 8  # elements per thread the kernels keep in registers (CACHE in the .cu files)
ROW_BLOCK = 128  # threads per block the short-row layout aims for


def cupy_array(a) -> bool:
    """Whether ``a`` is a CuPy array (what the kernels take) and the kernels are enabled."""
    if not ENABLED:
        return False
    cp = cupy_or_none()
    return cp is not None and isinstance(a, cp.ndarray)


def kernel_dtype(dtype) -> bool:
    """Whether the row kernels have an entry point for ``dtype`` (float32/64, float16,
    bfloat16)."""
    try:
        K.dtype_suffix(dtype)
    except TypeError:
        return False
    return True


def acc_dtype(dtype) -> np.dtype:
    """The accumulation (and statistics) dtype: float64 for float64, else float32."""
    return np.dtype(np.float64 if np.dtype(dtype) == np.float64 else np.float32)


def vector_width(cols: int, itemsize: int, *ptrs: int) -> int:
    """Elements per vector load: 16 bytes' worth when ``cols`` is a multiple of it and every
    base address is 16-byte aligned (then every row start is), else 1."""
    v = 16 // itemsize
    if v > 1 and cols % v == 0 and all(p % 16 == 0 for p in ptrs):
        return v
    return 1


def row_block(cols: int) -> tuple[int, int]:
    """(threads per row, rows per block) for rows of ``cols`` elements."""
    tx = K.row_threads(cols, CACHE)
    return tx, max(1, ROW_BLOCK // tx)


def row_launch(rows: int, cols: int) -> tuple[tuple[int, int], tuple[int, int, int]]:
    """(grid, block) covering ``rows`` rows: row = (blockIdx.y * gridDim.x + blockIdx.x) * ty
    + threadIdx.y in the kernels."""
    tx, ty = row_block(cols)
    return K.row_grid(-(-rows // ty)), (tx, ty, 1)


def entry(op: str, dtype, vec: int) -> str:
    """The entry-point name of ``op`` for ``dtype`` and vector width ``vec``."""
    return f"{op}_{K.dtype_suffix(dtype)}_v{vec}"


def to_last(a, dim: int):
    """``a`` with ``dim`` moved last, C-contiguous (a no-op for a contiguous last dim)."""
    import cupy

    if dim != a.ndim - 1:
        a = cupy.moveaxis(a, dim, -1)
    return cupy.ascontiguousarray(a)


def from_last(a, dim: int, ndim: int):
    """Undo `to_last` on a result, C-contiguous as the xp path returns it."""
    import cupy

    if dim == ndim - 1:
        return a
    return cupy.ascontiguousarray(cupy.moveaxis(a, -1, dim))


def _launch(stem: str, op: str, arrays: list, out, rows: int, cols: int):
    vec = vector_width(cols, out.itemsize, *(a.data.ptr for a in arrays), out.data.ptr)
    grid, block = row_launch(rows, cols)
    fn = K.function(stem, entry(op, out.dtype, vec))
    fn(grid, block, (*arrays, out, np.int64(rows), np.int64(cols)))


def forward(a, dim: int, log: bool):
    """softmax (``log=False``) or log_softmax of a CuPy array along ``dim``, or None."""
    if not (cupy_array(a) and kernel_dtype(a.dtype)) or a.size == 0:
        return None
    import cupy

    x = to_last(a, dim)
    cols = x.shape[-1]
    y = cupy.empty_like(x)
    op = "log_softmax_fwd" if log else "softmax_fwd"
    _launch("softmax", op, [x], y, x.size // cols, cols)
    return from_last(y, dim, a.ndim)


def backward(y, g, dim: int, log: bool):
    """The input gradient of softmax/log_softmax from its output ``y`` and the gradient ``g``
    (CuPy arrays of one dtype and shape), or None."""
    if not (cupy_array(y) and cupy_array(g) and kernel_dtype(y.dtype)) or y.size == 0:
        return None
    if g.dtype != y.dtype or g.shape != y.shape:
        return None
    import cupy

    yy, gg = to_last(y, dim), to_last(g, dim)
    cols = yy.shape[-1]
    gx = cupy.empty_like(yy)
    op = "log_softmax_bwd" if log else "softmax_bwd"
    _launch("softmax", op, [yy, gg], gx, yy.size // cols, cols)
    return from_last(gx, dim, y.ndim)
