"""Moving and copying tensors: to (dtype / device), clone, contiguous, copy_, type casts,
cpu/cuda, new_* constructors. Each keeps the autograd history (a cast's gradient is cast back)."""

from __future__ import annotations

import numpy as np

from .. import _dtype
from .._device import CPU, array_module, device_of_array, to_device
from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ..autograd.grad_mode import MODE
from . import creation as _creation

_ndarray = np.ndarray


def _move(arr, dev, non_blocking=False):
    if dev.type == "cpu":
        return arr if arr.__class__ is _ndarray else arr.get()
    xp = array_module(dev)
    from ..cuda.memory import _install_tracking_allocator

    _install_tracking_allocator(xp)  # peak memory statistics from the first transfer on
    with xp.cuda.Device(dev.index or 0):
        if (
            non_blocking
            and arr.__class__ is _ndarray
            and arr.flags.c_contiguous
            and _pinned(xp, arr)
        ):
            # from page-locked memory the copy can be queued on the current stream and the
            # host goes on (torch's non_blocking); from pageable memory it is synchronous
            out = xp.empty(arr.shape, dtype=arr.dtype)
            out.set(arr, stream=xp.cuda.get_current_stream())
            return out
        return xp.asarray(arr)


def _pinned(cp, arr) -> bool:
    """Whether NumPy array ``arr`` lives in CUDA page-locked host memory."""
    if arr.size == 0:
        return False
    try:
        attrs = cp.cuda.runtime.pointerGetAttributes(arr.ctypes.data)
    except Exception:  # memory CUDA has never seen (older drivers raise for it)
        return False
    return int(attrs.type) == int(getattr(cp.cuda.runtime, "memoryTypeHost", 1))


def _astype(a, dt):
    """``a`` converted to the NumPy dtype ``dt`` (a new array); complex to real keeps the real
    part, as torch does, without NumPy's ComplexWarning."""
    if a.dtype.kind == "c" and dt.kind != "c":
        a = a.real
    return a.astype(dt)


class ToCopy(Node):
    """dtype and/or device conversion; backward converts the gradient back."""

    def forward(self, a, dt=None, dev=None, copy=False, non_blocking=False):
        self.src_dt = a.dtype
        self.src_dev = CPU if a.__class__ is _ndarray else device_of_array(a)
        if dev is not None:
            a = _move(a, dev, non_blocking)
        if dt is not None and dt != a.dtype:
            a = _astype(a, dt)
        elif copy or dev is None:
            a = a.copy()
        return a

    def name(self):
        return "ToCopyBackward0"

    def backward(self, g):
        dt = _dtype.from_numpy_dtype(self.src_dt)
        if g.is_complex() and not dt.is_complex:
            g = g.real
        return g.to(device=self.src_dev, dtype=dt)


class Clone(Node):
    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


def _parse_to(args, kwargs):
    dev = kwargs.pop("device", None)
    dt = kwargs.pop("dtype", None)
    for a in args:
        if isinstance(a, Tensor):
            dev, dt = a.device, a.dtype
        elif isinstance(a, _dtype.dtype) or (isinstance(a, type) and a in (float, int, bool)):
            dt = a
        elif isinstance(a, (str, int)) or a.__class__.__name__ == "device":
            dev = a
        elif a is None:
            continue
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    return dev, dt


def _cast(self: Tensor, np_dt) -> Tensor:
    """``self`` converted to the NumPy dtype ``np_dt`` on its own device (``self`` when it
    already has it). Without a graph to record, the result is the converted array wrapped,
    which is what ``ToCopy.apply`` returns then, without building the node."""
    a = self._data
    if a.dtype == np_dt:
        return self
    if self._rg and MODE.grad:
        return ToCopy.apply(self, dt=np_dt, dev=None, copy=False)
    return wrap(_astype(a, np_dt))


def to(self: Tensor, *args, non_blocking=False, copy=False, memory_format=None, **kwargs) -> Tensor:
    """Convert to a dtype and/or device: ``t.to('cuda')``, ``t.to(torch.float64)``, ``t.to(other)``.

    Returns ``self`` when nothing changes and ``copy`` is False (like torch).
    """
    if not copy:
        # the usual calls, ``t.to(torch.float64)``, ``t.to(device)`` with a CPU tensor,
        # ``t.to(dtype=...)``, ``t.to(other)``, resolved in a few identity checks (the device
        # ones only for NumPy arrays: a CPU tensor asked for the CPU is returned as it is)
        on_cpu = self._data.__class__ is _ndarray
        if not kwargs:
            if len(args) == 1:
                a = args[0]
                if a.__class__ is _dtype.dtype:
                    return _cast(self, a.np)
                if on_cpu:
                    if a is CPU or (a.__class__ is str and a == "cpu"):
                        return self
                    if isinstance(a, Tensor) and a._data.__class__ is _ndarray:
                        return _cast(self, a.dtype.np)
            elif len(args) == 2 and on_cpu:
                a, b = args
                if (
                    a is CPU or (a.__class__ is str and a == "cpu")
                ) and b.__class__ is _dtype.dtype:
                    return _cast(self, b.np)
        elif not args and len(kwargs) == 1:
            d = kwargs.get("dtype")
            if d.__class__ is _dtype.dtype:
                return _cast(self, d.np)
            d = kwargs.get("device")
            if on_cpu and (d is CPU or (d.__class__ is str and d == "cpu")):
                return self
    dev, dt = _parse_to(args, dict(kwargs))
    dev = to_device(dev) if dev is not None else None
    if dev is not None and dev.type == "cuda" and dev.index is None:
        dev = to_device(f"cuda:{array_module(dev).cuda.runtime.getDevice()}")
    np_dt = _dtype.to_dtype(dt).np if dt is not None else None
    same_dev = dev is None or dev == self.device
    same_dt = np_dt is None or np_dt == self._data.dtype
    if same_dev and same_dt and not copy:
        return self
    if non_blocking and not same_dev and dev.type == "cuda":
        return ToCopy.apply(
            self, dt=None if same_dt else np_dt, dev=dev, copy=copy, non_blocking=True
        )
    return ToCopy.apply(
        self, dt=None if same_dt else np_dt, dev=None if same_dev else dev, copy=copy
    )


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy of ``input`` that stays in the graph (its gradient flows back)."""
    if input._rg and MODE.grad:
        return Clone.apply(input)
    return wrap(input._data.copy())  # nothing to record: what Clone.apply returns then


def contiguous(self: Tensor, memory_format=None) -> Tensor:
    """``self`` if already C-contiguous, else a contiguous copy."""
    if self._data.flags.c_contiguous:
        return self
    if self._rg and MODE.grad:
        return Clone.apply(self)
    return wrap(self._data.copy())


def cpu(self: Tensor, memory_format=None) -> Tensor:
    if self._data.__class__ is _ndarray:
        return self  # what ``to(self, "cpu")`` returns for a CPU tensor
    return to(self, "cpu")


def cuda(self: Tensor, device=None, non_blocking=False, memory_format=None) -> Tensor:
    return to(
        self,
        "cuda"
        if device is None
        else to_device(device if not isinstance(device, int) else f"cuda:{device}"),
        non_blocking=non_blocking,
    )


class PinMemory(Node):
    """A copy in page-locked host memory; the gradient passes through (as torch's)."""

    def forward(self, a):
        import cupyx

        out = cupyx.empty_pinned(a.shape, dtype=a.dtype)
        out[...] = a
        return out

    def backward(self, g):
        return g


def pin_memory(self: Tensor, device=None) -> Tensor:
    """A copy of this CPU tensor in page-locked (pinned) host memory, so that
    ``.to('cuda', non_blocking=True)`` can copy it asynchronously. Needs CUDA (CuPy), as in
    torch; a tensor that is pinned already is returned as it is."""
    from .._device import cupy_or_none

    cp = cupy_or_none()
    if cp is None:
        raise RuntimeError(
            "Cannot access accelerator device when none is available. (pin_memory: pinned "
            "host memory needs CUDA: install CuPy with `pip install tocha-core[cuda12]` on a "
            "machine with an NVIDIA GPU)"
        )
    a = self._data
    if a.__class__ is not _ndarray:
        raise RuntimeError(f"cannot pin '{self.type()}' only dense CPU tensors can be pinned")
    if _pinned(cp, a):
        return self
    return PinMemory.apply(self)


def is_pinned(self: Tensor, device=None) -> bool:
    """Whether this tensor lives in page-locked host memory (False without CUDA)."""
    a = self._data
    if a.__class__ is not _ndarray:
        return False
    from .._device import cupy_or_none

    cp = cupy_or_none()
    return cp is not None and _pinned(cp, a)


def _caster(dt):
    np_dt = dt.np

    def cast(self, memory_format=None):
        return _cast(self, np_dt)

    cast.__name__ = dt.name
    cast.__doc__ = f"``self.to({dt})``"
    return cast


def type_(self: Tensor, dtype=None, non_blocking=False, **kwargs):
    """Without arguments, the type name (``'torch.FloatTensor'``); with a dtype, a cast."""
    if dtype is None:
        names = _dtype.SCALAR_TYPE_NAMES
        prefix = "torch." if self.is_cpu else "torch.cuda."
        return f"{prefix}{names[self.dtype.name]}Tensor"
    if isinstance(dtype, str):
        rev = {f"torch.{v}Tensor": k for k, v in _dtype.SCALAR_TYPE_NAMES.items()}
        dtype = rev.get(dtype, dtype)
    return to(self, _dtype.to_dtype(dtype))


def type_as(self: Tensor, other: Tensor) -> Tensor:
    return to(self, other.dtype)


def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast, cast and moved as needed) into ``self``, in place."""
    from .inplace import inplace_apply

    if not isinstance(src, Tensor):
        from .creation import as_tensor

        src = as_tensor(src)

    def _copy(dst, s):
        out = s.to(device=dst.device, dtype=dst.dtype)
        if out._data.shape != dst._data.shape:
            out = out.expand(dst.shape)
        return out if out is not s else Clone.apply(out)

    return inplace_apply(self, _copy, "copy_", (src,), {}, cast_ok=True)


def _new(self: Tensor, fn, *args, dtype=None, device=None, requires_grad=False, **kw):
    dtype = dtype if dtype is not None else self.dtype
    if device is None and self._data.__class__ is not _ndarray:
        device = self.device  # (None already means the CPU)
    return fn(*args, dtype=dtype, device=device, requires_grad=requires_grad, **kw)


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    if dtype is None and not isinstance(data, Tensor):
        dtype = self.dtype
    return _creation.tensor(
        data, dtype=dtype, device=device or self.device, requires_grad=requires_grad
    )


def new_zeros(self, *size, **kw):
    return _new(self, _creation.zeros, *size, **kw)


def new_ones(self, *size, **kw):
    return _new(self, _creation.ones, *size, **kw)


def new_empty(self, *size, **kw):
    return _new(self, _creation.empty, *size, **kw)


def new_full(self, size, fill_value, **kw):
    return _new(self, _creation.full, size, fill_value, **kw)


TENSOR_METHODS = {
    "to": to,
    "clone": clone,
    "contiguous": contiguous,
    "cpu": cpu,
    "cuda": cuda,
    "pin_memory": pin_memory,
    "is_pinned": is_pinned,
    "type": type_,
    "type_as": type_as,
    "copy_": copy_,
    "new_tensor": new_tensor,
    "new_zeros": new_zeros,
    "new_ones": new_ones,
    "new_empty": new_empty,
    "new_full": new_full,
    "float": _caster(_dtype.float32),
    "double": _caster(_dtype.float64),
    "half": _caster(_dtype.float16),
    "bfloat16": _caster(_dtype.bfloat16),
    "long": _caster(_dtype.int64),
    "int": _caster(_dtype.int32),
    "short": _caster(_dtype.int16),
    "char": _caster(_dtype.int8),
    "byte": _caster(_dtype.uint8),
    "bool": _caster(_dtype.bool),
    "cfloat": _caster(_dtype.complex64),
    "cdouble": _caster(_dtype.complex128),
}
INPLACE: dict = {}
FUNCTIONS = ["clone"]
