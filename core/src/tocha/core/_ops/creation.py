"""Tensor creation: tensor, as_tensor, from_numpy, zeros/ones/full/empty(_like), arange,
linspace, logspace, eye, from_dlpack."""

from __future__ import annotations

import math
import numbers
from itertools import chain

import numpy as np

from .. import _dtype
from .._device import CPU, array_module, device_of_array, to_device
from .._tensor import Size, Tensor, wrap
from ..autograd.function import Node
from ._util import shape_arg, xp_of

_ndarray = np.ndarray
_empty = np.empty
_zeros = np.zeros
_asarray = np.asarray
# Python scalar types a flat list may hold for tensor()'s fast path (exact types only: NumPy
# scalars and Tensors take the general path)
_PY_REAL = frozenset((float, int, bool))
_chain = chain.from_iterable
_INT_FLOAT = (int, float)
# torch.set_default_device: the device factories use when given none (None: the CPU, so the
# usual call keeps its NumPy fast path)
_DEFAULT_DEVICE: list = [None]


def _shape(size, op: str) -> tuple:
    """``shape_arg(size, op)`` with a fast path for the usual call: Python ints, or one tuple
    (torch.Size) of them. Anything else (lists, Tensors, NumPy ints, bad values) takes
    ``shape_arg``, which raises torch's errors."""
    shape = size
    if len(size) == 1:
        s0 = size[0]
        if s0.__class__ is tuple or s0.__class__ is Size:
            shape = s0
    for s in shape:
        if s.__class__ is not int or s < 0:
            return shape_arg(size, op)
    return shape


def _fill_same_as_full(value, kind: str) -> bool:
    """Whether ``arr.fill(value)`` writes exactly what ``np.full`` does for this dtype kind.

    ``fill`` is ~0.5 us cheaper than ``np.full`` (a Python wrapper around ``copyto``), but it
    converts differently for float -> int (nan, inf: it raises instead of warning), complex ->
    real, and overflow into bfloat16 or bool, so those keep ``np.full``.
    """
    cls = value.__class__
    if cls is float:
        return kind == "f" or kind == "c"
    if cls is int:
        return kind in "iufc"
    return cls is bool and kind != "V"


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


def _leaf_kinds(data: list):
    """The set of element types of nested lists, level by level in C (``set(map(type, ...))``);
    None when a level mixes lists with anything else (tensor()'s general path handles it)."""
    kinds = set(map(type, data))
    while list in kinds:
        if len(kinds) != 1:
            return None
        data = list(_chain(data))
        kinds = set(map(type, data))
    return kinds


def _np_array(data, dt: _dtype.dtype):
    """``np.array(data, dtype)`` of Python data, with torch's errors."""
    try:
        return np.array(data, dtype=dt.np)
    except ValueError as e:
        raise ValueError(f"tensor(): expected sequence of equal-length lists: {e}") from None
    except OverflowError as e:
        raise RuntimeError(f"tensor(): value cannot be converted to type {dt}: {e}") from None


def _from_python(data, dt: _dtype.dtype, requires_grad) -> Tensor:
    arr = _np_array(data, dt)
    return wrap(arr) if not requires_grad else _finish(arr, True)


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
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    if data.__class__ is list and (
        device is None or device is CPU or (device.__class__ is str and device == "cpu")
    ):
        # the usual call: (nested) lists of Python floats / ints / bools on the CPU. The
        # inferred dtype is the one _infer_dtype finds (float beats int beats bool), without
        # walking the data element by element.
        kinds = _leaf_kinds(data)
        if kinds and kinds <= _PY_REAL:
            if dtype is not None:
                dt = _dtype.to_dtype(dtype)
            elif float in kinds:
                dt = _dtype.get_default_dtype()
            else:
                dt = _dtype.int64 if int in kinds else _dtype.bool
            return _from_python(data, dt, requires_grad)
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
        arr = _np_array(_unwrap_nested(data), dt)
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
    if isinstance(data, np.ndarray):
        on_cpu = device is None or to_device(device).type == "cpu"
        native = data.dtype in _dtype._BY_NP  # uint16 etc. are widened, so they can't be shared
        same_dtype = dtype is None or _dtype.to_dtype(dtype).np == data.dtype
        if on_cpu and native and same_dtype:
            return wrap(data)
        if dtype is None:
            dtype = _dtype.from_numpy_dtype(data.dtype)  # refuses unsupported dtypes clearly
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
    shape = _shape(size, op)
    xp = np if device is None else _xp(device)[0]  # (device errors before dtype errors)
    np_dt = (_dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)).np
    if device is None:
        if fill is None:
            arr = _empty(shape, np_dt)
        elif _fill_same_as_full(fill, np_dt.kind):
            arr = _empty(shape, np_dt)
            arr.fill(fill)
        else:
            arr = np.full(shape, fill, dtype=np_dt)
    else:
        arr = xp.full(shape, fill, dtype=np_dt) if fill is not None else xp.empty(shape, np_dt)
    return wrap(arr) if not requires_grad else _finish(arr, True)


# zeros / ones / empty are called everywhere (optimisers, nn layers, user code), so the usual
# call (int sizes, no device, no requires_grad) goes straight to NumPy; see _shape.
def zeros(
    *size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False
) -> Tensor:
    """A tensor of zeros of the given shape."""
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    shape = _shape(size, "zeros")
    xp = np if device is None else _xp(device)[0]
    np_dt = (_dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)).np
    arr = _zeros(shape, np_dt) if device is None else xp.zeros(shape, dtype=np_dt)
    return wrap(arr) if not requires_grad else _finish(arr, True)


def ones(
    *size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False
) -> Tensor:
    """A tensor of ones of the given shape."""
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    shape = _shape(size, "ones")
    xp = np if device is None else _xp(device)[0]
    np_dt = (_dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)).np
    if device is None:
        # np.ones is empty + copyto through a Python wrapper; fill(1) writes the same values
        arr = _empty(shape, np_dt)
        arr.fill(1)
    else:
        arr = xp.ones(shape, dtype=np_dt)
    return wrap(arr) if not requires_grad else _finish(arr, True)


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
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    return _filled(None, size, dtype, device, requires_grad, "empty")


def full(
    size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    """A tensor filled with ``fill_value``; the dtype follows the value (bool, int64, float)."""
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = _dtype.scalar_dtype(fill_value)
    return _filled(fill_value, (size,), dtype, device, requires_grad, "full")


def _like(input: Tensor, dtype, device):
    dt = _dtype.to_dtype(dtype) if dtype is not None else input.dtype
    dev = to_device(device) if device is not None else input.device
    return dt, dev


def _like_np(input, dtype, device):
    """The NumPy dtype for a ``*_like`` result when it stays on the CPU with ``input`` (a
    NumPy-backed tensor and no device, or the CPU, asked for), else None."""
    if (
        not isinstance(input, Tensor)
        or input._data.__class__ is not _ndarray
        or not (device is None or device is CPU or (device.__class__ is str and device == "cpu"))
    ):
        return None  # the general path (and its errors)
    return (input.dtype if dtype is None else _dtype.to_dtype(dtype)).np


def zeros_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    np_dt = _like_np(input, dtype, device)
    if np_dt is not None:
        arr = _zeros(input._data.shape, np_dt)
        return wrap(arr) if not requires_grad else _finish(arr, True)
    dt, dev = _like(input, dtype, device)
    if dev == input.device:
        xp = input.xp
        return _finish(xp.zeros(input._data.shape, dtype=dt.np), requires_grad)
    return zeros(input.shape, dtype=dt, device=dev, requires_grad=requires_grad)


def ones_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    np_dt = _like_np(input, dtype, device)
    if np_dt is not None:
        arr = _empty(input._data.shape, np_dt)
        arr.fill(1)  # as in ones()
        return wrap(arr) if not requires_grad else _finish(arr, True)
    dt, dev = _like(input, dtype, device)
    if dev == input.device:
        xp = input.xp
        return _finish(xp.ones(input._data.shape, dtype=dt.np), requires_grad)
    return ones(input.shape, dtype=dt, device=dev, requires_grad=requires_grad)


def empty_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    np_dt = _like_np(input, dtype, device)
    if np_dt is not None:
        arr = _empty(input._data.shape, np_dt)
        return wrap(arr) if not requires_grad else _finish(arr, True)
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
    np_dt = _like_np(input, dtype, device)
    if np_dt is not None and fill_value.__class__ is not Tensor:
        return _filled(fill_value, (input._data.shape,), np_dt, None, requires_grad, "full")
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
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    if end is None:
        start, end = 0, start
    if (
        start.__class__ is int
        and end.__class__ is int
        and step.__class__ is int
        and dtype is None
        and device is None
        and step != 0
        and (end - start) * step >= 0
    ):
        # the usual call, ``arange(n)``: int64 values straight from NumPy (the checks below
        # cannot fire for these arguments)
        arr = np.arange(start, end, step, dtype=np.int64)
        return wrap(arr) if not requires_grad else _finish(arr, True)
    if isinstance(start, Tensor):
        start = start.item()
    if isinstance(end, Tensor):
        end = end.item()
    if isinstance(step, Tensor):
        step = step.item()
    if step == 0:
        raise RuntimeError("arange(): step must be nonzero")
    if (end - start) * step < 0 and end != start:
        raise RuntimeError(
            f"arange(): upper bound and lower bound inconsistent with step sign "
            f"(start={start}, end={end}, step={step})"
        )
    if dtype is None:
        is_float = isinstance(start, float) or isinstance(end, float) or isinstance(step, float)
        dt = _dtype.get_default_dtype() if is_float else _dtype.int64
    else:
        dt = _dtype.to_dtype(dtype)
    n = max(0, math.ceil((end - start) / step))
    xp, _ = _xp(device)
    if (
        dt.category == 1
        and isinstance(start, int)
        and isinstance(end, int)
        and isinstance(step, int)
    ):
        arr = xp.arange(start, end, step, dtype=dt.np)
    elif start.__class__ in _INT_FLOAT and step.__class__ in _INT_FLOAT:
        # i * step + start in float64, in place (the same two ufunc loops, no temporaries)
        arr = xp.arange(n, dtype=np.float64)
        arr *= step
        arr += start
        arr = arr.astype(dt.np, copy=False)
    else:
        arr = (xp.arange(n, dtype=np.float64) * step + start).astype(dt.np)
    return wrap(arr) if not requires_grad else _finish(arr, True)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """torch.range (deprecated): like arange but includes ``end``; float by default."""
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
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
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
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
        last = work.type(steps - 1)
        if xp is np:
            # NumPy converts a scalar operand on every ufunc call (~0.6 us each); 0-d arrays of
            # the same values and dtype give the same results without that
            s, e, step, last = _asarray(s), _asarray(e), _asarray(step), _asarray(last)
        # s + step * i on the first half and e - step * (steps - 1 - i) on the second, each
        # written in place into its half of one buffer: the element values of a where() over
        # both formulas on every element, in 5 ufunc passes over half the data instead of 7
        h = steps // 2
        arr = xp.empty(steps, dtype=work)
        lo, hi = arr[:h], arr[h:]
        xp.multiply(step, i[:h], lo)
        xp.add(lo, s, lo)
        xp.subtract(last, i[h:], hi)
        xp.multiply(hi, step, hi)
        xp.subtract(e, hi, hi)
    if dt.category == 1:
        arr = xp.trunc(arr)
    return _finish(arr.astype(dt.np, copy=False), requires_grad)


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
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    lin = linspace(start, end, steps, dtype=_dtype.float64, device=device)
    arr = (float(base) ** lin._data).astype(_dt(dtype).np)
    return _finish(arr, requires_grad)


def eye(
    n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    """A 2-D tensor with ones on the diagonal."""
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye(): n and m must be non-negative, got n={n}, m={m}")
    xp, _ = _xp(device)
    return _finish(xp.eye(n, n if m is None else m, dtype=_dt(dtype).np), requires_grad)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
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


# --- strided allocation, buffers, fill, vander ------------------------------------------------
def empty_strided(
    size,
    stride,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
) -> Tensor:
    """An uninitialised tensor of ``size`` whose elements are ``stride`` elements apart.

    Example:
        >>> import tocha.core as torch
        >>> torch.empty_strided((2, 3), (1, 2)).stride()
        (1, 2)
    """
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    size = shape_arg((size,), "empty_strided")
    stride = tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(
            f"empty_strided: mismatch in length of strides and shape ({len(size)} sizes, "
            f"{len(stride)} strides)"
        )
    if any(s < 0 for s in stride):
        raise RuntimeError(f"empty_strided: negative strides are not supported, got {stride}")
    np_dt = _dt(dtype).np
    xp = np if device is None else _xp(device)[0]
    need = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    buf = xp.empty(need, dtype=np_dt)
    item = buf.itemsize
    arr = xp.lib.stride_tricks.as_strided(buf, size, tuple(s * item for s in stride))
    return _finish(arr, requires_grad) if requires_grad else wrap(arr)


def new_empty_strided(
    self: Tensor, size, stride, *, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    """``empty_strided`` with this tensor's dtype and device unless given."""
    if device is None and self._data.__class__ is not _ndarray:
        device = self.device
    return empty_strided(
        size,
        stride,
        dtype=self.dtype if dtype is None else dtype,
        device=device,
        requires_grad=requires_grad,
    )


def frombuffer(buffer, *, dtype, count: int = -1, offset: int = 0, requires_grad=False) -> Tensor:
    """A 1-D tensor sharing memory with an object exposing the buffer protocol.

    Example:
        >>> import tocha.core as torch
        >>> torch.frombuffer(bytearray([1, 0, 2, 0]), dtype=torch.int16)
        tensor([1, 2], dtype=torch.int16)
    """
    import warnings

    np_dt = _dtype.to_dtype(dtype).np
    nbytes = memoryview(buffer).nbytes
    if offset < 0 or offset >= max(nbytes, 1) and nbytes:
        raise ValueError(
            f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
            f"({nbytes} bytes) minus 1"
        )
    if count == 0 or count < -1:
        raise ValueError(f"count must be a positive integer or -1 (got {count})")
    if count == -1 and (nbytes - offset) % np_dt.itemsize:
        raise ValueError(
            f"buffer length ({nbytes - offset} bytes) after offset ({offset} bytes) must be a "
            f"multiple of element size ({np_dt.itemsize})"
        )
    if count > 0 and offset + count * np_dt.itemsize > nbytes:
        raise ValueError(
            f"requested buffer length ({count} * {np_dt.itemsize} bytes) after offset "
            f"({offset} bytes) must not be greater than actual buffer length ({nbytes} bytes)"
        )
    arr = np.frombuffer(buffer, dtype=np_dt, count=count, offset=offset)
    if not arr.flags.writeable:
        warnings.warn(
            "The given buffer is not writable: the tensor is read-only (in-place writes to it "
            "raise). Copy the buffer or make it writable before converting it to a tensor.",
            UserWarning,
            stacklevel=2,
        )
    return _finish(arr, requires_grad) if requires_grad else wrap(arr)


class _Fill(Node):
    """A tensor of ``a``'s shape and dtype filled with ``value`` (a number, or the 0-dim second
    input): no gradient to ``a``, the sum of the gradient to the value."""

    def forward(self, a, v=None, value=None):
        self.shape = a.shape
        out = xp_of(a).empty(a.shape, dtype=a.dtype)
        out[...] = v if v is not None else value
        return out

    def name(self):
        return "FillBackward0"

    def backward(self, g):
        need = self.needs_input_grad
        ga = wrap(xp_of(g._data).zeros(self.shape, g._data.dtype)) if need[0] else None
        if len(need) == 1:
            return (ga,)
        return ga, (g.sum() if need[1] else None)


def fill(input: Tensor, value) -> Tensor:
    """A tensor like ``input`` filled with ``value`` (a number or a 0-dim tensor).

    Example:
        >>> import tocha.core as torch
        >>> torch.fill(torch.zeros(2), 3.0)
        tensor([3., 3.])
    """
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(
                "fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value._data.ndim} dimensions."
            )
        return _Fill.apply(input, value)
    return _Fill.apply(input, value=value)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of a 1-D tensor: column ``j`` is ``x ** (N - 1 - j)`` (or
    ``x ** j`` when ``increasing``); integer and bool inputs give int64.

    Example:
        >>> import tocha.core as torch
        >>> torch.vander(torch.tensor([1, 2, 3]), N=3)
        tensor([[1, 1, 1],
                [4, 2, 1],
                [9, 3, 1]])
    """
    from .shape import cat, expand, flip, unsqueeze

    if x._data.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x._data.shape[0]
    if N is None:
        N = n
    if N < 0:
        raise RuntimeError("N must be non-negative.")
    if x._data.dtype.kind in "biu":
        x = x.to(_dtype.int64)
    ones_col = wrap(xp_of(x._data).ones((n, 1), dtype=x._data.dtype))
    if N == 0:
        return wrap(xp_of(x._data).empty((n, 0), dtype=x._data.dtype))
    if N == 1:
        res = ones_col
    else:
        # powers by a running product along the columns (as torch does: cumprod), so the
        # gradient is that of a product, defined at x = 0
        res = cat([ones_col, expand(unsqueeze(x, 1), (n, N - 1)).cumprod(1)], 1)
    return res if increasing else flip(res, 1)


FUNCTIONS += ["empty_strided", "frombuffer", "fill", "vander"]
TENSOR_METHODS["new_empty_strided"] = new_empty_strided
