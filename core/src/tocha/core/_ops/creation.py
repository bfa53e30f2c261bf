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


def _infer_dtype(data) -> _dtype.dtype | None:
    """torch's inference for Python data: floats -> default dtype, ints -> int64, ..."""
    kinds = set()

    def walk(x):
        if isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        elif isinstance(x, Tensor):
            kinds.add(("t", x.dtype))
        elif isinstance(x, bool | np.bool_):
            kinds.add("b")
        elif isinstance(x, numbers.Integral):
            kinds.add("i")
        elif isinstance(x, numbers.Real):
            kinds.add("f")
        elif isinstance(x, numbers.Complex):
            kinds.add("c")
        else:
            raise TypeError(f"tensor(): could not infer dtype of {type(x).__name__}")

    walk(data)
    tensor_dtypes = [k[1] for k in kinds if isinstance(k, tuple)]
    if "c" in kinds:
        return _dtype.default_complex_dtype()
    if "f" in kinds:
        base = _dtype.get_default_dtype()
        for d in tensor_dtypes:
            base = _dtype._combine(d, base) if d.category > 1 else base
        return base
    if tensor_dtypes:
        res = tensor_dtypes[0]
        for d in tensor_dtypes[1:]:
            res = _dtype._PROMOTE[(res, d)]
        if "i" in kinds and res.category == 0:
            res = _dtype.int64
        return res
    if "i" in kinds:
        return _dtype.int64
    if "b" in kinds:
        return _dtype.bool
    return _dtype.get_default_dtype()  # empty list


def _unwrap_nested(data):
    if isinstance(data, Tensor):
        if data._data.size != 1 and data.ndim != 0:
            return data._host().tolist()
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
            f"arange(): upper bound and larger bound inconsistent with step sign "
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


def range_(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
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
    if steps == 1:
        arr = xp.full((1,), start, dtype=np.float64)
    else:
        i = xp.arange(steps, dtype=np.float64)
        step = (end - start) / (steps - 1) if steps > 1 else 0.0
        half = steps // 2
        arr = xp.where(i < half, start + i * step, end - (steps - 1 - i) * step)
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
