"""Helpers shared by the op families: argument normalisation, promotion, device checks."""

from __future__ import annotations

import numbers

import numpy as np

from .. import _dtype
from .._device import CPU, device_of_array
from .._tensor import Tensor, wrap

_ndarray = np.ndarray


def xp_of(arr):
    """The array module (numpy or cupy) of a raw array: Chainer's ``xp`` rule."""
    if arr.__class__ is _ndarray:
        return np
    from .._device import cupy_or_none

    return cupy_or_none() or np


def norm_dim(dim: int, ndim: int, op: str) -> int:
    """Wrap a possibly negative ``dim`` into ``[0, ndim)``, with torch's IndexError."""
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(dim).__name__}")
    if dim < lo or dim > hi:
        raise IndexError(
            f"{op}(): Dimension out of range (expected to be in range of [{lo}, {hi}], "
            f"but got {dim})"
        )
    return int(dim) % ndim if ndim else 0


def norm_dims(dim, ndim: int, op: str) -> tuple:
    """Normalise ``dim`` (None, int or sequence) to a sorted tuple of non-negative dims."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        return (norm_dim(dim, ndim, op),)
    dims = tuple(norm_dim(d, ndim, op) for d in dim)
    if len(set(dims)) != len(dims):
        dup = next(d for d in dims if dims.count(d) > 1)
        raise RuntimeError(f"{op}(): dim {dup} appears multiple times in the list of dims")
    return tuple(sorted(dims))


def check_same_device(op: str, *tensors) -> None:
    kinds = {t._data.__class__ for t in tensors}
    if len(kinds) > 1 or (kinds and next(iter(kinds)) is not _ndarray and len(tensors) > 1):
        devs = []
        for t in tensors:
            d = device_of_array(t._data) if t._data.__class__ is not _ndarray else CPU
            if d not in devs:
                devs.append(d)
        if len(devs) > 1:
            raise RuntimeError(
                f"{op}: Expected all tensors to be on the same device, but found at least two "
                f"devices, {devs[0]} and {devs[1]}!"
            )


def is_scalar(x) -> bool:
    return isinstance(x, (numbers.Number, np.generic)) and not isinstance(x, Tensor)


def as_tensor_like(x, like: Tensor) -> Tensor:
    """A Tensor for ``x`` (Tensor returned as is; scalars/arrays on ``like``'s device)."""
    if isinstance(x, Tensor):
        return x
    xp = xp_of(like._data)
    if is_scalar(x):
        dt = _dtype.result_type_of((), (like.dtype,), (x,))
        return wrap(xp.asarray(x, dtype=dt.np))
    return wrap(xp.asarray(x))


def result_dtype(tensors, scalars=()) -> _dtype.dtype:
    """torch's result type of tensor operands (zero-dim ones rank lower) and Python scalars."""
    dims, zeros = [], []
    for t in tensors:
        (zeros if t._data.ndim == 0 else dims).append(_dtype._BY_NP[t._data.dtype])
    return _dtype.result_type_of(dims, zeros, scalars)


def is_floating(arr) -> bool:
    return arr.dtype.kind in "fcV"


def shape_arg(size, op: str) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(torch.Size)`` shapes."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    elif len(size) == 1 and isinstance(size[0], Tensor):
        size = tuple(int(s) for s in size[0].tolist())
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(
                f"{op}(): argument 'size' must be tuple of ints, but found element of type "
                f"{type(s).__name__}"
            )
        if s < 0:
            raise RuntimeError(
                f"{op}(): Trying to create tensor with negative dimension {s}: {list(size)}"
            )
        out.append(int(s))
    return tuple(out)
