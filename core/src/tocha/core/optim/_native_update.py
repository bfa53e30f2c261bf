"""Optimizer updates through the compiled kernels ``_native/optim.c``: one pass over the
parameter, its gradient and its state per update instead of a NumPy call per term, with the
roundings of the NumPy kernels they stand in for (those stay the reference and the fallback:
any other dtype, layout or array type, or no compiler)."""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _native

__all__ = ["sgd"]

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


def sgd(p, g, buf, lr, momentum, dampening, wd, nesterov, maximize, init) -> bool:
    """`sgd._sgd_kernel`'s update of ``p`` (and of the momentum buffer ``buf``, or None) in
    one compiled pass; False, with nothing written, where it does not apply."""
    suffix = _SUFFIX.get(p.dtype)
    # hyperparameters as NumPy scalars would make NumPy compute in their precision
    if suffix is None or not all(type(v) in (float, int) for v in (lr, momentum, dampening, wd)):
        return False
    flags = (_MAXIMIZE if maximize else 0) | (_DECAY if wd != 0 else 0)
    if momentum != 0:
        if buf is None or not _plain(p, g, buf):
            return False
        flags |= _MOMENTUM | (_INIT if init else 0) | (_NESTEROV if nesterov else 0)
        flags |= _DAMPENING if dampening != 0 and not init else 0
    elif not _plain(p, g):
        return False
    fn = _kernel("tocha_sgd", suffix)
    if fn is None:
        return False
    fn(p.size, p.ctypes.data, g.ctypes.data, None if buf is None else buf.ctypes.data, flags,
       -lr, momentum, 1 - dampening, wd)  # fmt: skip
    return True
