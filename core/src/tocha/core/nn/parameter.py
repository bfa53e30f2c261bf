"""Parameter, Buffer and UninitializedParameter (torch.nn.parameter)."""

from __future__ import annotations

import numpy as np

from .. import _dtype
from .._tensor import Tensor, _init_slots, wrap

__all__ = [
    "Parameter",
    "Buffer",
    "UninitializedParameter",
    "UninitializedBuffer",
    "is_lazy",
]

_new = object.__new__


def _data_of(data, who: str):
    if data is None:
        return np.empty((0,), dtype=_dtype.get_default_dtype().np), None
    if isinstance(data, Tensor):
        return data._data, data
    raise TypeError(f"{who}(): data must be a Tensor, got {type(data).__name__}")


class Parameter(Tensor):
    """A Tensor that a `Module` registers as a parameter when assigned as an attribute.

    It is a leaf that requires grad by default and shares memory with ``data``. Every op
    accepts it like any other tensor (ops return plain Tensors, as in torch), and backward
    accumulates into its ``.grad``.

    Args:
        data: the tensor to wrap (an empty float tensor when None).
        requires_grad: whether the parameter requires gradient. Default: True.

    Example:
        >>> import tocha.core as torch
        >>> p = torch.nn.Parameter(torch.ones(2))
        >>> p
        Parameter containing:
        tensor([1., 1.], requires_grad=True)
        >>> (p * 3).sum().backward(); p.grad
        tensor([3., 3.])
    """

    # No __slots__: instances get a __dict__, so users (and libraries) may tag parameters with
    # attributes, as torch allows.

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        arr, src = _data_of(data, cls.__name__)
        t = _new(cls)
        _init_slots(t, arr)
        if src is not None:
            t._vc = src._vc_list()  # an alias of ``data``: in-place writes show in both
        if requires_grad:
            if arr.dtype.kind not in "fcV":
                raise RuntimeError(
                    "Only Tensors of floating point and complex dtype can require gradients"
                )
            t._rg = True
        return t

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        res = type(self)(wrap(self._data.copy()), self._rg)
        memo[id(self)] = res
        return res

    def __reduce_ex__(self, protocol):
        state = dict(self.__dict__) if self.__dict__ else None
        return (_rebuild_parameter, (self.detach(), self._rg, state, type(self)))

    @classmethod
    def _from_tensor(cls, t: Tensor):
        return cls(t, t._rg)


def _rebuild_parameter(data, requires_grad, state=None, cls=Parameter):
    p = cls(data, requires_grad)
    if state:
        p.__dict__.update(state)
    return p


class _BufferMeta(type):
    # torch.nn.Buffer(...) returns a plain Tensor tagged as a buffer; isinstance sees the tag.
    def __instancecheck__(cls, obj) -> bool:
        if cls is Buffer:
            ex = getattr(obj, "_extra", None) if isinstance(obj, Tensor) else None
            return bool(ex and ex.get("_is_buffer"))
        return super().__instancecheck__(obj)


class Buffer(metaclass=_BufferMeta):
    """Marks a tensor to be registered as a buffer when assigned to a `Module` attribute.

    ``Buffer(data, persistent=True)`` returns a detached Tensor tagged as a buffer (like
    torch, whose ``Buffer(...)`` returns a plain ``torch.Tensor``); ``isinstance(t, Buffer)``
    is True for it. A non-persistent buffer is left out of ``state_dict``.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.Module()
        >>> m.scale = torch.nn.Buffer(torch.ones(2), persistent=False)
        >>> list(dict(m.named_buffers())), list(m.state_dict())
        (['scale'], [])
    """

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True):
        arr, src = _data_of(data, "Buffer")
        t = wrap(arr)
        if src is not None:
            t._vc = src._vc_list()
            t._rg = src._rg  # detached, but keeps requires_grad (as torch)
        ex = t._extras()
        ex["_is_buffer"] = True
        ex["persistent"] = bool(persistent)
        return t


def _buffer_persistent(t: Tensor) -> bool:
    ex = t._extra
    return bool(ex.get("persistent", True)) if ex else True


_UNINIT_MSG = (
    "Can't access the shape of an uninitialized parameter or buffer. This error usually happens "
    "in `load_state_dict` when trying to load an uninitialized parameter into an initialized "
    "one. Call `forward` to initialize the parameters before accessing their attributes."
)


class _UninitializedMixin:
    cls_to_become: type = Parameter

    @property
    def shape(self):
        raise RuntimeError(_UNINIT_MSG)

    def size(self, dim=None):
        raise RuntimeError(_UNINIT_MSG)

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor its real ``shape`` (and device/dtype) and become ``cls_to_become``."""
        from .._ops.creation import empty

        if isinstance(shape, int):
            shape = (shape,)
        dt = dtype if dtype is not None else self._init_dtype
        dev = device if device is not None else self._init_device
        self._data = empty(tuple(shape), dtype=dt, device=dev)._data
        self.__class__ = self.cls_to_become

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, protocol):
        raise RuntimeError(
            f"'{type(self).__name__}' must be initialized before it can be pickled or saved"
        )


class UninitializedParameter(_UninitializedMixin, Parameter):
    """A parameter whose shape is not known yet (the lazy modules' weights).

    ``materialize(shape)`` allocates it and turns it into a `Parameter`.

    Example:
        >>> import tocha.core as torch
        >>> p = torch.nn.UninitializedParameter()
        >>> p.materialize((2, 3)); type(p).__name__, tuple(p.shape)
        ('Parameter', (2, 3))
    """

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        t = Parameter.__new__(cls, None, requires_grad)
        t._init_dtype = dtype if dtype is not None else _dtype.get_default_dtype()
        t._init_device = device
        return t

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        res = type(self)(self._rg, self._init_device, self._init_dtype)
        memo[id(self)] = res
        return res


class UninitializedBuffer(_UninitializedMixin, Tensor):
    """A buffer whose shape is not known yet; ``materialize(shape)`` allocates it.

    A slotted Tensor cannot take a class with a ``__dict__`` back, so after ``materialize``
    the object keeps this class and behaves as an ordinary tensor.
    """

    cls_to_become = Tensor

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None, persistent=True):
        t = _new(cls)
        _init_slots(t, np.empty((0,), dtype=_dtype.get_default_dtype().np))
        t._rg = bool(requires_grad)
        t._init_dtype = dtype if dtype is not None else _dtype.get_default_dtype()
        t._init_device = device
        t._materialized = False
        t._extras()["persistent"] = persistent
        return t

    @property
    def shape(self):
        if not self._materialized:
            raise RuntimeError(_UNINIT_MSG)
        return Tensor.shape.fget(self)

    def size(self, dim=None):
        if not self._materialized:
            raise RuntimeError(_UNINIT_MSG)
        return Tensor.size(self, dim)

    def materialize(self, shape, device=None, dtype=None) -> None:
        from .._ops.creation import empty

        if isinstance(shape, int):
            shape = (shape,)
        dt = dtype if dtype is not None else self._init_dtype
        dev = device if device is not None else self._init_device
        self._data = empty(tuple(shape), dtype=dt, device=dev)._data
        self._materialized = True

    def __repr__(self) -> str:
        return Tensor.__repr__(self) if self._materialized else "<UninitializedBuffer>"

    def __reduce_ex__(self, protocol):
        if self._materialized:
            return Tensor.__reduce_ex__(self, protocol)
        return _UninitializedMixin.__reduce_ex__(self, protocol)


def is_lazy(param) -> bool:
    """Whether ``param`` is an uninitialized (lazy) parameter or buffer."""
    if isinstance(param, UninitializedBuffer):
        return not param._materialized
    return isinstance(param, _UninitializedMixin)
