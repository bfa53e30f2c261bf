"""Optimizer updates through the compiled kernels ``_native/optim.c``: one pass over the
parameter, its gradient and its state per update instead of a NumPy call per term, with the
roundings of the NumPy kernels they stand in for (those stay the reference and the fallback:
any other dtype, layout or array type, or no compiler)."""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _native, _parallel

__all__ = ["sgd", "sgd_all", "adam_all"]

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
    lr, momentum, dampening, wd = args[:4]
    return _run_all(jobs, _SgdParams, "sgd", suffix, (flags, -lr, momentum, 1 - dampening, wd))


class _AdamParams(ctypes.Structure):
    """optim.c's adam_params (its adam_scalars inline)."""

    _fields_ = [
        ("count", ctypes.c_int64), ("start", ctypes.c_void_p), ("p", ctypes.c_void_p),
        ("g", ctypes.c_void_p), ("m", ctypes.c_void_p), ("v", ctypes.c_void_p),
        ("vmax", ctypes.c_void_p), ("flags", ctypes.c_int64),
    ] + [
        (name, ctypes.c_double)
        for name in ("decay", "wd", "w", "one_minus_w", "beta2", "c2", "bc2", "eps", "nstep")
    ]  # fmt: skip


_ADAM_DECAY, _ADAM_DECOUPLED, _ADAM_MAXIMIZE, _ADAM_AMSGRAD, _ADAM_LERP_SMALL = 1, 2, 4, 8, 16


def _run_all(jobs, struct, name, suffix, fields) -> bool:
    """Every job's update as one range of elements over gemm.c's threads (optim.c's
    ``tocha_<name>_range_<suffix>``): ``struct`` its argument block, ``fields`` the block's
    values after its pointer arrays (parameters, gradients, then one per state)."""
    run = _native.function(
        "gemm", "tocha_parallel_for", ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
        ctypes.c_int64, ctypes.c_int64,
    )  # fmt: skip
    lib = _native.load("optim")
    if run is None or lib is None:
        return False
    start = np.zeros(len(jobs) + 1, dtype=np.int64)
    np.cumsum([job[1].size for job in jobs], out=start[1:])
    n_states = len(struct._fields_) - 4 - len(fields)  # count, start, p, g; then the states
    ptrs = np.array(
        [[j[1].ctypes.data, j[2].ctypes.data]
         + [0 if a is None else a.ctypes.data for a in j[3][:n_states]] for j in jobs],
        dtype=np.uint64,
    ).T.copy()  # fmt: skip
    params = struct(len(jobs), start.ctypes.data, *[row.ctypes.data for row in ptrs], *fields)
    total = int(start[-1])
    parts = _parallel.threads_here() if total >= _MIN_THREADS and _parallel.may_split() else 1
    fn = ctypes.cast(getattr(lib, f"tocha_{name}_range_{suffix}"), ctypes.c_void_p).value
    run(parts, fn, ctypes.addressof(params), total, _PIECE)
    return True


def adam_all(jobs) -> bool:
    """Every queued Adam update of a step (`adam._adam_kernel`'s, all with the same options
    and step count) as one compiled call over gemm.c's threads; False, with nothing written,
    where it does not apply (the per-parameter NumPy path)."""
    args = jobs[0][5]
    beta1, beta2, lr, wd, eps, maximize, decoupled, (step_size, bc2) = args
    dt = jobs[0][1].dtype
    suffix = _SUFFIX.get(dt)
    if suffix is None or not all(
        type(x) in (float, int) for x in (beta1, beta2, lr, wd, eps, step_size, bc2)
    ):
        return False
    amsgrad = jobs[0][3][2] is not None
    for job in jobs:
        _, p, g, states, _, a = job
        if (a != args or p.__class__ is not np.ndarray or p.dtype is not dt
                or (states[2] is not None) != amsgrad
                or not _plain(p, g, *[s for s in states if s is not None])):  # fmt: skip
            return False
    flags = (_ADAM_MAXIMIZE if maximize else 0) | (_ADAM_AMSGRAD if amsgrad else 0)
    decay = 1.0
    if wd != 0:
        if decoupled:
            flags |= _ADAM_DECOUPLED
            decay = 1 - lr * wd
        else:
            flags |= _ADAM_DECAY
    w = 1 - beta1
    if w < 0.5:  # torch's lerp: its two forms, as _util.lerp_
        flags |= _ADAM_LERP_SMALL
    one_minus_w = float(dt.type(1) - dt.type(w))
    fields = (flags, decay, wd, w, one_minus_w, beta2, 1 - beta2, bc2, eps, -step_size)
    return _run_all(jobs, _AdamParams, "adam", suffix, fields)
