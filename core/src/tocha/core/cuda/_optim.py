"""Launchers of ``kernels/optim.cu``: fused multi-tensor SGD and Adam/AdamW steps.

The optimizers' ``fused=True`` / ``foreach=True`` paths on CUDA hand each parameter group's
parameters here as ``(p, g, states, kargs)`` items (raw CuPy arrays and the kernel arguments
the xp kernel would get). Per dtype, one launch updates them all: arrays of device pointers
and sizes go to the GPU, ``blockIdx.y`` picks the tensor (groups of more than 65535 tensors
take several launches) and a grid-stride loop its elements.

Packing (pointers, sizes, per-tensor scalars, launch batches) is pure Python and tested on the
CPU with NumPy arrays.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K

THREADS = 256
MAX_BLOCKS_X = 4096  # per tensor: enough to fill an H100/H200 many times over with 256 threads


def eligible(p, g, states) -> bool:
    """Whether one parameter can go through the fused kernels: a floating dtype they cover,
    the gradient of the same dtype and size, and the parameter and its states C-contiguous
    (updated in place through raw pointers)."""
    try:
        K.dtype_suffix(p.dtype)
    except TypeError:
        return False
    if g.dtype != p.dtype or g.size != p.size or g.shape != p.shape:
        return False
    return all(a is None or (a.flags.c_contiguous and a.dtype == p.dtype) for a in (p, *states))


def pointer(a) -> int:
    """The address of ``a``'s first element (CuPy or NumPy)."""
    data = a.data
    return int(data.ptr) if hasattr(data, "ptr") else int(a.ctypes.data)


def pack(arrays) -> np.ndarray:
    """The addresses of ``arrays`` as uint64 (0 for None)."""
    return np.array([0 if a is None else pointer(a) for a in arrays], dtype=np.uint64)


def batches(n: int, limit: int = K.MAX_GRID_YZ) -> list[tuple[int, int]]:
    """``(first, count)`` launches covering ``n`` tensors, at most ``limit`` per launch."""
    return [(lo, min(limit, n - lo)) for lo in range(0, n, limit)]


def grid_x(sizes) -> int:
    """Blocks per tensor: enough for the largest, capped (the kernels stride by the grid)."""
    return min(MAX_BLOCKS_X, K.blocks_for(int(max(sizes, default=0)), THREADS))


def by_dtype(items) -> dict:
    """The items grouped by the parameter's dtype, in order."""
    groups: dict = {}
    for it in items:
        groups.setdefault(np.dtype(it[0].dtype), []).append(it)
    return groups


def _contig(g):
    import cupy as cp

    return g if g.flags.c_contiguous else cp.ascontiguousarray(g)


def adam_multi(items) -> None:
    """Adam/AdamW steps for items ``(p, g, (m, v, vmax), (beta1, beta2, lr, wd, eps, maximize,
    decoupled, (step_size, bc2_sqrt)))`` sharing a parameter group's options."""
    import cupy as cp

    for dtype, its in by_dtype(items).items():
        beta1, beta2, lr, wd, eps, maximize, decoupled, _ = its[0][3]
        amsgrad = its[0][2][2] is not None
        grads = [_contig(it[1]) for it in its]
        sizes = np.array([it[0].size for it in its], dtype=np.int64)
        steps = np.array([it[3][7][0] for it in its], dtype=np.float64)
        bc2 = np.array([it[3][7][1] for it in its], dtype=np.float64)
        fn = K.function("optim", f"adam_multi_{K.dtype_suffix(dtype)}")
        ptrs = [
            cp.asarray(pack(a))
            for a in (
                [it[0] for it in its],
                grads,
                [it[2][0] for it in its],
                [it[2][1] for it in its],
                [it[2][2] for it in its],
            )
        ]
        sz, ss, bc = cp.asarray(sizes), cp.asarray(steps), cp.asarray(bc2)
        gx = grid_x(sizes)
        for first, count in batches(len(its)):
            fn(
                (gx, count),
                (THREADS,),
                (
                    *ptrs,
                    sz,
                    ss,
                    bc,
                    np.float64(beta1),
                    np.float64(beta2),
                    np.float64(lr),
                    np.float64(wd),
                    np.float64(eps),
                    np.int32(bool(maximize)),
                    np.int32(bool(decoupled)),
                    np.int32(amsgrad),
                    np.int64(first),
                ),
            )


def sgd_multi(items) -> None:
    """SGD steps for items ``(p, g, (buf,), (lr, momentum, dampening, wd, nesterov, maximize,
    init))`` sharing a parameter group's options (``buf`` None without momentum)."""
    import cupy as cp

    for dtype, its in by_dtype(items).items():
        lr, momentum, dampening, wd, nesterov, maximize, _ = its[0][3]
        has_m = its[0][2][0] is not None
        grads = [_contig(it[1]) for it in its]
        sizes = np.array([it[0].size for it in its], dtype=np.int64)
        init = np.array([bool(it[3][6]) for it in its], dtype=np.int32)
        fn = K.function("optim", f"sgd_multi_{K.dtype_suffix(dtype)}")
        ptrs = [
            cp.asarray(pack(a)) for a in ([it[0] for it in its], grads, [it[2][0] for it in its])
        ]
        sz, ini = cp.asarray(sizes), cp.asarray(init)
        gx = grid_x(sizes)
        for first, count in batches(len(its)):
            fn(
                (gx, count),
                (THREADS,),
                (
                    *ptrs,
                    sz,
                    ini,
                    np.float64(lr),
                    np.float64(momentum),
                    np.float64(dampening),
                    np.float64(wd),
                    np.int32(bool(nesterov)),
                    np.int32(bool(maximize)),
                    np.int32(has_m),
                    np.int64(first),
                ),
            )
