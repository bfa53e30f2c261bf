"""Tensor creation: tensor, as_tensor, from_numpy, zeros/ones/full/empty(_like), arange,
linspace, logspace, eye, from_dlpack."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _dtype
from .._device import CPU, array_module, device_of_array, to_device
from .._tensor import Tensor, wrap
from ._util import shape_arg

_ndarray = np.ndarray


def _finish(arr, requires_grad: bool) -> Tensor:
    t = wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _xp(device):
    dev = to_device(device)
    return array_module(dev), dev


def _on_device(arr, device):
    """Move a NumPy array to ``device`` (a no-op for the CPU)."""
    if device is None:
        return arr
    dev = to_device(device)
    if dev.type == "cpu":
        return arr if arr.__class__ is _ndarray else arr.get()
    xp = array_module(dev)
    with xp.cuda.Device(dev.index or 0):
        return xp.asarray(arr)


def _infer_dtype(data) -> _dtype.dtype:
    """torch's inference for Python data: promote_types over every element's own dtype.

    Python floats count as the default dtype, ints as int64, bools as bool, complex as the
    default complex dtype; one-element tensors by their dtype.
    """
    result = None
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
            continue
        if isinstance(x, Tensor):
            d = x.dtype
        elif isinstance(x, (bool, np.bool_, numbers.Number)):
            d = _dtype.scalar_dtype(x)
        else:
            raise TypeError(f"tensor(): could not infer dtype of {type(x).__name__}")
        result = d if result is None else _dtype._PROMOTE[(result, d)]
    return result if result is not None else _dtype.get_default_dtype()


def _unwrap_nested(data):
    if isinstance(data, Tensor):
        if data._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return data.item()
    if isinstance(data, (list, tuple)):
        return [_unwrap_nested(d) for d in data]
    return data


def tensor(
    data, *, dtype=None, device=None, requires_grad: bool = False, pin_memory=False
) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, arrays or tensors).

    Python floats become the default dtype (float32), ints int64, bools bool.

    Example:
        >>> import tocha.core as torch
        >>> torch.tensor([[1, 2], [3, 4]]).dtype
        torch.int64
    """
    if isinstance(data, Tensor):
        arr = data._data.copy()
        if dtype is not None:
            arr = arr.astype(_dtype.to_dtype(dtype).np)
        return _finish(_on_device(arr, device) if device is not None else arr, requires_grad)
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data)
        if dtype is None:
            dt = _dtype.from_numpy_dtype(arr.dtype)
            arr = arr.astype(dt.np, copy=False)
    elif type(data).__module__.startswith("cupy"):
        arr = data.copy()
    else:
        if isinstance(data, str):
            raise TypeError(f"tensor(): new(): invalid data type '{type(data).__name__}'")
        if dtype is None:
            dt = _infer_dtype(data)
        else:
            dt = _dtype.to_dtype(dtype)
        try:
            arr = np.array(_unwrap_nested(data), dtype=dt.np)
        except ValueError as e:
            raise ValueError(f"tensor(): expected sequence of equal-length lists: {e}") from None
        except OverflowError as e:
            raise RuntimeError(f"tensor(): value cannot be converted to type {dt}: {e}") from None
    if dtype is not None:
        arr = arr.astype(_dtype.to_dtype(dtype).np, copy=False)
    arr = _on_device(arr, device)
    return _finish(arr, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array or Tensor when it can."""
    if isinstance(data, Tensor):
        t = data
        if dtype is not None or device is not None:
            t = t.to(device=device, dtype=dtype)
        return t
    same_dtype = dtype is None or _dtype.to_dtype(dtype).np == data.dtype
    on_cpu = device is None or to_device(device).type == "cpu"
    if isinstance(data, np.ndarray) and same_dtype and on_cpu:
        _dtype.from_numpy_dtype(data.dtype)  # refuse unsupported dtypes clearly
        return wrap(data)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (writes through both ways)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy(): expected np.ndarray (got {type(ndarray).__name__})")
    _dtype.from_numpy_dtype(ndarray.dtype)
    if ndarray.dtype not in _dtype._BY_NP:
        raise TypeError(f"from_numpy(): unsupported numpy dtype {ndarray.dtype}")
    return wrap(ndarray)


def from_dlpack(ext) -> Tensor:
    """A tensor sharing memory with any DLPack producer (NumPy, CuPy, torch, JAX ...)."""
    dev = ext.__dlpack_device__() if hasattr(ext, "__dlpack_device__") else (1, 0)
    if dev[0] == 1:  # kDLCPU
        return wrap(np.from_dlpack(ext))
    xp = array_module(to_device("cuda"))
    return wrap(xp.from_dlpack(ext))


def _dt(dtype, default=None) -> _dtype.dtype:
    if dtype is None:
        return default or _dtype.get_default_dtype()
    return _dtype.to_dtype(dtype)


def _filled(fill, size, dtype, device, requires_grad, op) -> Tensor:
    shape = shape_arg(size, op)
    xp, _ = _xp(device)
    arr = (
        xp.full(shape, fill, dtype=_dt(dtype).np)
        if fill is not None
        else xp.empty(shape, dtype=_dt(dtype).np)
    )
    return _finish(arr, requires_grad)


def zeros(
    *size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False
) -> Tensor:
    """A tensor of zeros of the given shape."""
    shape = shape_arg(size, "zeros")
    xp, _ = _xp(device)
    return _finish(xp.zeros(shape, dtype=_dt(dtype).np), requires_grad)


def ones(
    *size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False
) -> Tensor:
    """A tensor of ones of the given shape."""
    shape = shape_arg(size, "ones")
    xp, _ = _xp(device)
    return _finish(xp.ones(shape, dtype=_dt(dtype).np), requires_grad)


def empty(
    *size,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
    memory_format=None,
) -> Tensor:
    """An uninitialised tensor of the given shape."""
    return _filled(None, size, dtype, device, requires_grad, "empty")


def full(
    size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    """A tensor filled with ``fill_value``; the dtype follows the value (bool, int64, float)."""
    if dtype is None:
        dtype = _dtype.scalar_dtype(
            fill_value.item() if isinstance(fill_value, Tensor) else fill_value
        )
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _filled(
        fill_value,
        (size,) if not isinstance(size, int) else (size,),
        dtype,
        device,
        requires_grad,
        "full",
    )


def _like(input: Tensor, dtype, device):
    dt = _dtype.to_dtype(dtype) if dtype is not None else input.dtype
    dev = to_device(device) if device is not None else input.device
    return dt, dev


def zeros_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    dt, dev = _like(input, dtype, device)
    if dev == input.device:
        xp = input.xp
        return _finish(xp.zeros(input._data.shape, dtype=dt.np), requires_grad)
    return zeros(input.shape, dtype=dt, device=dev, requires_grad=requires_grad)


def ones_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    dt, dev = _like(input, dtype, device)
    if dev == input.device:
        xp = input.xp
        return _finish(xp.ones(input._data.shape, dtype=dt.np), requires_grad)
    return ones(input.shape, dtype=dt, device=dev, requires_grad=requires_grad)


def empty_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    dt, dev = _like(input, dtype, device)
    return empty(input.shape, dtype=dt, device=dev, requires_grad=requires_grad)


def full_like(
    input,
    fill_value,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    memory_format=None,
) -> Tensor:
    dt, dev = _like(input, dtype, device)
    return full(input.shape, fill_value, dtype=dt, device=dev, requires_grad=requires_grad)


def arange(
    start=0,
    end=None,
    step=1,
    *,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``.

    Integer arguments give int64; any float argument gives the default dtype.

    Example:
        >>> import tocha.core as torch
        >>> torch.arange(0, 1, 0.25)
        tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("arange(): step must be nonzero")
    if (end - start) * step < 0 and end != start:
        raise RuntimeError(
            f"arange(): upper bound and lower bound inconsistent with step sign "
            f"(start={start}, end={end}, step={step})"
        )
    if dtype is None:
        is_float = any(isinstance(v, float) for v in vals)
        dt = _dtype.get_default_dtype() if is_float else _dtype.int64
    else:
        dt = _dtype.to_dtype(dtype)
    n = max(0, math.ceil((end - start) / step))
    xp, _ = _xp(device)
    if dt.category == 1 and all(isinstance(v, int) for v in vals):
        arr = xp.arange(start, end, step, dtype=dt.np)
    else:
        arr = (xp.arange(n, dtype=np.float64) * step + start).astype(dt.np)
    return _finish(arr, requires_grad)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """torch.range (deprecated): like arange but includes ``end``; float by default."""
    if end is None:
        start, end = 0, start
    n = int(math.floor((end - start) / step)) + 1
    xp, _ = _xp(device)
    arr = (xp.arange(n, dtype=np.float64) * step + start).astype(_dt(dtype).np)
    return _finish(arr, requires_grad)


def linspace(
    start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive.

    Like torch, the first half is computed from ``start`` and the second half from ``end``
    so both ends are exact.
    """
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise RuntimeError(f"linspace(): number of steps must be non-negative, got {steps}")
    start = start.item() if isinstance(start, Tensor) else start
    end = end.item() if isinstance(end, Tensor) else end
    xp, _ = _xp(device)
    dt = _dt(dtype)
    # computed in the result's own precision, as torch's kernel does (float64 for integers)
    work = dt.np if dt.category >= 2 and dt.np.kind in "fc" else np.dtype(np.float64)
    if steps == 1:
        arr = xp.full((1,), start, dtype=work)
    else:
        s, e = work.type(start), work.type(end)
        i = xp.arange(steps, dtype=work)
        step = (e - s) / work.type(steps - 1)
        arr = xp.where(i < steps // 2, s + step * i, e - step * (work.type(steps - 1) - i))
    if dt.category == 1:
        arr = xp.trunc(arr)
    return _finish(arr.astype(dt.np), requires_grad)


def logspace(
    start,
    end,
    steps,
    base=10.0,
    *,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
) -> Tensor:
    """``base ** linspace(start, end, steps)``."""
    lin = linspace(start, end, steps, dtype=_dtype.float64, device=device)
    arr = (float(base) ** lin._data).astype(_dt(dtype).np)
    return _finish(arr, requires_grad)


def eye(
    n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    """A 2-D tensor with ones on the diagonal."""
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye(): n and m must be non-negative, got n={n}, m={m}")
    xp, _ = _xp(device)
    return _finish(xp.eye(n, n if m is None else m, dtype=_dt(dtype).np), requires_grad)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp, _ = _xp(device)
    return _finish(xp.asarray(s, dtype=_dt(dtype).np), requires_grad)


def _device_of(t: Tensor):
    return CPU if t._data.__class__ is _ndarray else device_of_array(t._data)


FUNCTIONS = [
    "range",
    "tensor",
    "as_tensor",
    "asarray",
    "from_numpy",
    "from_dlpack",
    "zeros",
    "ones",
    "empty",
    "full",
    "zeros_like",
    "ones_like",
    "empty_like",
    "full_like",
    "arange",
    "linspace",
    "logspace",
    "eye",
    "scalar_tensor",
]
TENSOR_METHODS: dict = {}
INPLACE: dict = {}
