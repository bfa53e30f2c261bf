"""Optimizer updates through the compiled kernels ``_native/optim.c``: one pass over the
parameter, its gradient and its state per update instead of a NumPy call per term, with the
roundings of the NumPy kernels they stand in for (those stay the reference and the fallback:
any other dtype, layout or array type, or no compiler)."""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _native, _parallel

__all__ = ["sgd", "sgd_all"]

_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
_REAL = {"f32": ctypes.c_float, "f64": ctypes.c_double}
_MOMENTUM, _INIT, _NESTEROV, _DAMPENING, _DECAY, _MAXIMIZE = 1, 2, 4, 8, 16, 32


def _kernel(name: str, suffix: str):
    P, R = ctypes.c_void_p, _REAL[suffix]  # noqa: N806
    return _native.function(
        "optim", f"{name}_{suffix}", ctypes.c_int64, P, P, P, ctypes.c_int, R, R, R, R
    )


def _plain(*arrays) -> bool:
    """Whether the arrays are C-contiguous NumPy arrays of the first one's dtype and size."""
    a0 = arrays[0]
    return all(
        a.__class__ is np.ndarray and a.dtype is a0.dtype and a.size == a0.size
        and a.flags.c_contiguous
        for a in arrays
    )  # fmt: skip


def _sgd_flags(p, g, buf, lr, momentum, dampening, wd, nesterov, maximize, init):
    """The kernel's flags for one parameter's update, or None where it does not apply."""
    if _SUFFIX.get(p.dtype) is None:
        return None
    # hyperparameters as NumPy scalars would make NumPy compute in their precision
    if not all(type(v) in (float, int) for v in (lr, momentum, dampening, wd)):
        return None
    flags = (_MAXIMIZE if maximize else 0) | (_DECAY if wd != 0 else 0)
    if momentum != 0:
        if buf is None or not _plain(p, g, buf):
            return None
        flags |= _MOMENTUM | (_INIT if init else 0) | (_NESTEROV if nesterov else 0)
        flags |= _DAMPENING if dampening != 0 and not init else 0
    elif not _plain(p, g):
        return None
    return flags


def sgd(p, g, buf, lr, momentum, dampening, wd, nesterov, maximize, init) -> bool:
    """`sgd._sgd_kernel`'s update of ``p`` (and of the momentum buffer ``buf``, or None) in
    one compiled pass; False, with nothing written, where it does not apply."""
    flags = _sgd_flags(p, g, buf, lr, momentum, dampening, wd, nesterov, maximize, init)
    if flags is None:
        return False
    suffix = _SUFFIX[p.dtype]
    fn = _kernel("tocha_sgd", suffix)
    if fn is None:
        return False
    fn(p.size, p.ctypes.data, g.ctypes.data, None if buf is None else buf.ctypes.data, flags,
       -lr, momentum, 1 - dampening, wd)  # fmt: skip
    return True


class _SgdParams(ctypes.Structure):
    """optim.c's sgd_params: the parameters of one step as one range of elements."""

    _fields_ = [
        ("count", ctypes.c_int64), ("start", ctypes.c_void_p), ("p", ctypes.c_void_p),
        ("g", ctypes.c_void_p), ("buf", ctypes.c_void_p), ("flags", ctypes.c_int64),
        ("nlr", ctypes.c_double), ("momentum", ctypes.c_double), ("damp", ctypes.c_double),
        ("wd", ctypes.c_double),
    ]  # fmt: skip


# elements per piece the threads take (256 KiB of each of the three to five arrays)
_PIECE = 1 << 16
_MIN_THREADS = 1 << 18  # elements from which the update goes to the threads


def sgd_all(jobs) -> bool:
    """Every queued SGD update of a step (`_util.Batch`'s jobs ``(kernel, p, g, states, ntmp,
    args)``, all with the same options) as one compiled call over gemm.c's threads, the ones
    the step's products keep awake; False, with nothing written, where it does not apply
    (mixed options or dtypes, a layout the kernel does not take: the per-parameter path)."""
    args = jobs[0][5]
    dt = jobs[0][1].dtype
    suffix = _SUFFIX.get(dt)
    if suffix is None:
        return False
    flags = None
    for job in jobs:
        if job[5] != args or job[1].__class__ is not np.ndarray or job[1].dtype is not dt:
            return False
        f = _sgd_flags(job[1], job[2], job[3][0], *args)
        if f is None or (flags is not None and f != flags):
            return False
        flags = f
    run = _native.function(
        "gemm", "tocha_parallel_for", ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
        ctypes.c_int64, ctypes.c_int64,
    )  # fmt: skip
    lib = _native.load("optim")
    if run is None or lib is None:
        return False
    sizes = [job[1].size for job in jobs]
    start = np.zeros(len(jobs) + 1, dtype=np.int64)
    np.cumsum(sizes, out=start[1:])
    ptrs = np.array(
        [[j[1].ctypes.data, j[2].ctypes.data, 0 if j[3][0] is None else j[3][0].ctypes.data]
         for j in jobs], dtype=np.uint64,
    ).T.copy()  # fmt: skip
    lr, momentum, dampening, wd = args[:4]
    params = _SgdParams(len(jobs), start.ctypes.data, ptrs[0].ctypes.data, ptrs[1].ctypes.data,
                        ptrs[2].ctypes.data, flags, -lr, momentum, 1 - dampening, wd)  # fmt: skip
    total = int(start[-1])
    parts = _parallel.threads_here() if total >= _MIN_THREADS and _parallel.may_split() else 1
    fn = ctypes.cast(getattr(lib, f"tocha_sgd_range_{suffix}"), ctypes.c_void_p).value
    run(parts, fn, ctypes.addressof(params), total, _PIECE)
    return True
