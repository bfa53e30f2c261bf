"""Launcher for ``kernels/fp8.cu``: float8 e4m3fn weight bytes times per-row float32 scales,
dequantized to float32, float16 or bfloat16 on the GPU (the weight-only fp8 Linear's first
step; cuBLAS through CuPy does its GEMM).

One kernel for every architecture: decoding e4m3 is a few integer operations per byte and the
kernel is bound by memory traffic, so sm_89's fp8 conversion instructions would not make it
faster, and the same code then runs on sm_80 (no fp8 hardware) as well.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K
from ._softmax import cupy_array

THREADS = 256  # threads per block
MAX_BLOCKS = 1 << 16  # grid cap: the kernel strides over the grid, so more buys nothing


def out_dtype(dtype) -> np.dtype:
    """The kernel's output dtype for activations of ``dtype``: itself for float32, float16 and
    bfloat16; float32 for anything else (float64 activations then get a float32 weight cast
    up, the only case where the kernel is not the whole dequantization)."""
    dt = np.dtype(dtype)
    if dt == np.float16 or dt == np.float32 or dt.name == "bfloat16":
        return dt
    return np.dtype(np.float32)


def vector_width(cols: int, q_ptr: int, w_ptr: int, itemsize: int) -> int:
    """Bytes per thread: 4 when a row holds whole groups of 4 and both base addresses are
    aligned for 4-byte loads and 4-element stores, else 1."""
    if cols % 4 == 0 and q_ptr % 4 == 0 and w_ptr % (4 * itemsize) == 0:
        return 4
    return 1


def launch(rows: int, cols: int, vec: int) -> tuple[tuple[int], tuple[int]]:
    """(grid, block) for ``rows * cols / vec`` groups, one per thread, striding over the grid.

    Raises:
        ValueError: when ``vec`` does not divide ``cols``.
    """
    if vec not in (1, 4) or cols % vec:
        raise ValueError(f"fp8 dequant: vector width {vec} does not divide {cols} columns")
    groups = rows * (cols // vec)
    return (min(MAX_BLOCKS, K.blocks_for(groups, THREADS)),), (THREADS,)


def entry(dtype, vec: int) -> str:
    """The kernel name for output ``dtype`` and vector width ``vec``."""
    return f"fp8_e4m3_dequant_{K.dtype_suffix(dtype)}_v{vec}"


def dequantize(q, scale, dtype):
    """``decode(q) * scale[:, None]`` as a C-contiguous CuPy array of `out_dtype(dtype)`, for
    CuPy ``q`` (uint8 e4m3fn bytes, (rows, cols)) and ``scale`` (float32, (rows,)); None when
    the inputs are not CuPy arrays (the caller then runs its NumPy path).

    Raises:
        ValueError: when ``scale`` does not hold one value per row of ``q`` (the kernel would
            read past its end).
    """
    if not (cupy_array(q) and cupy_array(scale)):
        return None
    import cupy

    rows, cols = q.shape
    if scale.shape != (rows,):
        raise ValueError(
            f"fp8 dequant: scale of shape {tuple(scale.shape)} for {rows} rows of weight "
            f"bytes (one scale per row expected)"
        )
    dt = out_dtype(dtype)
    q = cupy.ascontiguousarray(q)
    scale = cupy.ascontiguousarray(scale, dtype=np.float32)
    w = cupy.empty((rows, cols), dtype=dt)
    if q.size == 0:
        return w
    vec = vector_width(cols, q.data.ptr, w.data.ptr, w.itemsize)
    grid, block = launch(rows, cols, vec)
    fn = K.function("fp8", entry(dt, vec))
    fn(grid, block, (q, scale, w, np.int64(rows), np.int64(cols)))
    return w
