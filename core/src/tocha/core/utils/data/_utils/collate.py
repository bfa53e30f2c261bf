"""Collating samples into batches: ``default_collate``, ``default_convert`` and ``collate``.

The rules are torch's: tensors are stacked along a new first dimension, NumPy arrays and NumPy
scalars become tensors of their own dtype, Python floats float64, ints int64 (bools bool),
strings and bytes stay as they are, and mappings, named tuples and sequences are collated
field by field (a tuple comes back as a list, as in torch).
"""

from __future__ import annotations

import collections.abc
import copy
import re

import numpy as np

from .... import _dtype
from ...._ops.creation import as_tensor, tensor
from ...._ops.shape import stack
from ...._tensor import Tensor, wrap
from ....autograd.grad_mode import is_grad_enabled

__all__ = [
    "collate",
    "collate_tensor_fn",
    "collate_numpy_array_fn",
    "collate_numpy_scalar_fn",
    "collate_float_fn",
    "collate_int_fn",
    "collate_str_fn",
    "default_collate",
    "default_collate_fn_map",
    "default_convert",
]

# dtype.str of NumPy arrays that hold strings, bytes or Python objects
np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)

_ndarray = np.ndarray


def default_convert(data):
    """Turn NumPy arrays (also inside dicts, lists and tuples) into tensors; keep the rest.

    The collate function used when automatic batching is off (``batch_size=None``).

    Example:
        >>> import numpy as np
        >>> from tocha.core.utils.data import default_convert
        >>> default_convert(np.array([0, 1]))
        tensor([0, 1])
        >>> default_convert({"x": np.array(1.5), "name": "a"})
        {'x': tensor(1.5000, dtype=torch.float64), 'name': 'a'}
    """
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_", "string_"):
        if elem_type is _ndarray and np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return _as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({k: default_convert(data[k]) for k in data})
                return clone
            return elem_type({k: default_convert(data[k]) for k in data})
        except TypeError:  # a mapping type that cannot be built from a dict
            return {k: default_convert(data[k]) for k in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # torch returns a list here too
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def _as_tensor(a) -> Tensor:
    """A NumPy array or scalar as a tensor of its own dtype (widening types torch lacks)."""
    arr = np.asarray(a)
    dt = _dtype.from_numpy_dtype(arr.dtype)
    if dt.np != arr.dtype:
        arr = arr.astype(dt.np)
    return wrap(arr)


def collate(batch, *, collate_fn_map: dict | None = None):
    """Collate a batch by the type of its first element, looking types up in ``collate_fn_map``.

    ``collate_fn_map`` maps a type (or tuple of types) to a function
    ``fn(batch, *, collate_fn_map)``: an exact type match wins, then the first key (in
    insertion order) the element is an instance of. Containers are handled here and recursed.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.utils.data._utils.collate import collate, default_collate_fn_map
        >>> fns = dict(default_collate_fn_map)
        >>> fns[str] = lambda batch, *, collate_fn_map: "".join(batch)
        >>> collate([("a", 1), ("b", 2)], collate_fn_map=fns)
        ['ab', tensor([1, 2])]
    """
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        fn = collate_fn_map.get(elem_type)
        if fn is not None:
            return fn(batch, collate_fn_map=collate_fn_map)
        for key, fn in collate_fn_map.items():
            if isinstance(elem, key):
                return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(
                    {k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map) for k in elem}
                )
                return clone
            return elem_type(
                {k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map) for k in elem}
            )
        except TypeError:  # a mapping type that cannot be built from a dict
            return {k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [collate(s, collate_fn_map=collate_fn_map) for s in transposed]
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, s in enumerate(transposed):
                    clone[i] = collate(s, collate_fn_map=collate_fn_map)
                return clone
            return elem_type([collate(s, collate_fn_map=collate_fn_map) for s in transposed])
        except TypeError:  # a sequence type that cannot be built from a list
            return [collate(s, collate_fn_map=collate_fn_map) for s in transposed]
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def collate_tensor_fn(batch, *, collate_fn_map: dict | None = None) -> Tensor:
    """Stack tensors along a new first dimension (``torch.stack(batch, 0)``)."""
    elem = batch[0]
    arr0 = elem._data
    if arr0.__class__ is _ndarray and not (is_grad_enabled() and any(t._rg for t in batch)):
        # plain CPU tensors: stack the arrays directly (no autograd bookkeeping)
        shape, dt = arr0.shape, arr0.dtype
        arrs = [t._data for t in batch]
        if all(a.shape == shape and a.dtype == dt and a.__class__ is _ndarray for a in arrs):
            return wrap(np.stack(arrs))
    return stack(list(batch), 0)  # mixed dtypes/devices, autograd, or torch's size error


def collate_numpy_array_fn(batch, *, collate_fn_map: dict | None = None) -> Tensor:
    """NumPy arrays become one tensor of their dtype (string and object arrays are refused)."""
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    shape, dt = elem.shape, elem.dtype
    if all(a.shape == shape and a.dtype == dt for a in batch):
        want = _dtype.from_numpy_dtype(dt).np
        if want == dt:
            return wrap(np.stack(batch))
        return wrap(np.stack(batch).astype(want))
    return collate([_as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map: dict | None = None) -> Tensor:
    """NumPy scalars become a 1-D tensor (``torch.as_tensor(batch)``)."""
    t0 = type(batch[0])
    if all(type(b) is t0 for b in batch):
        return _as_tensor(np.array(batch))
    return as_tensor(list(batch))


def collate_float_fn(batch, *, collate_fn_map: dict | None = None) -> Tensor:
    """Python floats become a float64 tensor (torch's rule, not the default dtype)."""
    return tensor(list(batch), dtype=_dtype.float64)


def collate_int_fn(batch, *, collate_fn_map: dict | None = None) -> Tensor:
    """Python ints become an int64 tensor (all bools: a bool tensor)."""
    return tensor(list(batch))


def collate_str_fn(batch, *, collate_fn_map: dict | None = None):
    """Strings and bytes are kept as they are (the batch sequence itself)."""
    return batch


default_collate_fn_map: dict = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch):
    """Put a list of samples together into a batch, keeping the samples' structure.

    Tensors are stacked along a new first dimension; NumPy arrays and scalars, floats
    (float64) and ints (int64) become tensors; strings stay strings; dicts, named tuples and
    lists are collated per field (tuples come back as lists). Samples of different sizes
    raise torch's ``RuntimeError``.

    Args:
        batch: a list of samples.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.utils.data import default_collate
        >>> default_collate([0, 1, 2])
        tensor([0, 1, 2])
        >>> default_collate([(torch.zeros(2), "a"), (torch.ones(2), "b")])
        [tensor([[0., 0.],
                [1., 1.]]), ('a', 'b')]
        >>> default_collate([{"x": 1.0}, {"x": 2.0}])
        {'x': tensor([1., 2.], dtype=torch.float64)}
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)
