"""Helpers shared by the op families: argument normalisation, promotion, device checks."""

from __future__ import annotations

import collections
import numbers
import warnings

import numpy as np

from .. import _dtype
from .._device import CPU, device_of_array
from .._mode import MODE
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


def type_name(arr) -> str:
    """torch's name of an array's dtype as its error messages spell it ('Float', 'Long', ...)."""
    return _dtype.SCALAR_TYPE_NAMES[_dtype._BY_NP[arr.dtype].name]


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


def shape_arg(size, op: str, allow_negative: bool = False) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(torch.Size)`` shapes.

    ``allow_negative`` keeps negative entries for ops that infer a ``-1`` (view, reshape).
    """
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
                f"{op}(): argument '{'shape' if allow_negative else 'size'}' must be tuple of "
                f"ints, but found element of type {type(s).__name__}"
            )
        if s < 0 and not allow_negative:
            raise RuntimeError(
                f"{op}(): Trying to create tensor with negative dimension {s}: {list(size)}"
            )
        out.append(int(s))
    return tuple(out)


def return_type(name: str, fields: tuple = ("values", "indices")):
    """The named tuple class ``torch.return_types.<name>`` (created once, shared by families)."""
    from .. import return_types

    cls = getattr(return_types, name, None)
    if cls is not None:
        return cls
    base = collections.namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"torch.return_types.{name}(\n{body})"

    cls = type(name, (base,), {"__slots__": (), "__repr__": __repr__})
    cls.__module__ = "tocha.core.return_types"
    cls.__qualname__ = name
    setattr(return_types, name, cls)
    return cls


def write_out(res, out, op: str = "out="):
    """Store a result into the ``out=`` tensor (or tuple of tensors), with torch's rules.

    Autograd does not record through ``out=``; a shape mismatch resizes ``out`` (warning when
    it held elements); the result must be castable to ``out``'s dtype.
    """
    if out is None:
        return res
    if isinstance(res, tuple):
        for r, o in zip(res, out):
            write_out(r, o, op)
        return type(res)(*out) if hasattr(res, "_fields") else tuple(out)
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: argument 'out' must be Tensor, not {type(out).__name__}")
    if MODE.grad and (res._rg or out._rg):
        raise RuntimeError(
            f"{op}: functions with out=... arguments don't support automatic differentiation, "
            "but one of the arguments requires grad."
        )
    src, dst = _dtype.from_numpy_dtype(res._data.dtype), _dtype.from_numpy_dtype(out._data.dtype)
    if not _dtype.can_cast(src, dst):
        names = _dtype.SCALAR_TYPE_NAMES
        raise RuntimeError(
            f"{op}: result type {names[src.name]} can't be cast to the desired output type "
            f"{names[dst.name]}"
        )
    if out._data.shape != res._data.shape:
        if out._data.size:
            warnings.warn(
                f"{op}: An output with one or more elements was resized since it had shape "
                f"{list(out._data.shape)}, which does not match the required output shape "
                f"{list(res._data.shape)}.",
                UserWarning,
                stacklevel=3,
            )
        out._data = xp_of(out._data).empty(res._data.shape, dtype=out._data.dtype)
    out._data[...] = res._data
    out._bump_version()
    return out


def broadcast_error(op: str, *shapes) -> RuntimeError:
    """torch's error for operands whose shapes don't broadcast, naming the op and the sizes."""
    nd = max(len(s) for s in shapes)
    padded = [(1,) * (nd - len(s)) + tuple(s) for s in shapes]
    for dim in range(nd - 1, -1, -1):
        sizes = [p[dim] for p in padded]
        big = [i for i, n in enumerate(sizes) if n != 1]
        for i in big[1:]:
            if sizes[i] != sizes[big[0]]:
                return RuntimeError(
                    f"{op}: The size of tensor a ({sizes[big[0]]}) must match the size of "
                    f"tensor b ({sizes[i]}) at non-singleton dimension {dim}"
                )
    return RuntimeError(f"{op}: shapes {[tuple(s) for s in shapes]} cannot be broadcast together")
