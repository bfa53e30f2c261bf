"""Tensor: a thin handle on one ndarray (NumPy or CuPy) plus autograd metadata.

Methods and operators that compute something are attached from the `_ops` families by
`_tensor_methods.bind()`, so this file holds only what a tensor *is*, not what it can do.
"""

from __future__ import annotations

import numpy as np

from . import _device, _dtype
from ._mode import MODE

__all__ = ["Tensor", "Size", "wrap"]

_ndarray = np.ndarray
_new = object.__new__
_FROM_NP = _dtype._BY_NP


class Size(tuple):
    """torch.Size: a tuple of ints with ``numel()``."""

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"torch.Size([{', '.join(str(s) for s in self)}])"

    def __getitem__(self, item):
        res = tuple.__getitem__(self, item)
        return Size(res) if isinstance(item, slice) else res


def _as_array(arr):
    """Raw ndarray of an op result (NumPy ufuncs return scalars for 0-d inputs)."""
    if isinstance(arr, np.generic):
        return np.asarray(arr)
    if isinstance(arr, _ndarray):
        return arr
    mod = type(arr).__module__
    if mod.startswith("cupy"):
        return arr
    return np.asarray(arr)


def _init_slots(t: Tensor, data) -> None:
    """Give ``t``, fresh from ``object.__new__``, the array ``data`` and no autograd state."""
    t._data = data
    t._rg = False
    t.grad = None
    t.grad_fn = None
    t._nr = 0
    t._vc = None
    t._base = None
    t._extra = None


def _zero_grads(params, set_to_none: bool) -> None:
    """Module's and Optimizer's ``zero_grad``: each ``.grad`` set to None, or else cut from any
    graph and filled with zeros in place (so a reference to it held elsewhere sees the zeros)."""
    for p in params:
        g = p.grad
        if g is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            if g.grad_fn is not None:
                g.detach_()
            else:
                g._rg = False
            g.zero_()


def wrap(arr) -> Tensor:
    """A new Tensor (no autograd history) owning the raw array ``arr``."""
    if arr.__class__ is not _ndarray:
        arr = _as_array(arr)
    # _init_slots written out: wrap makes every op's result, and a call here would cost each one
    t = _new(Tensor)
    t._data = arr
    t._rg = False
    t.grad = None
    t.grad_fn = None
    t._nr = 0
    t._vc = None
    t._base = None
    t._extra = None
    return t


class Tensor:
    """A multi-dimensional array with autograd, on the CPU (NumPy) or a GPU (CuPy).

    Create tensors with ``tocha.core.tensor``, ``zeros``, ``randn``, ...; the constructor
    ``Tensor(data)`` is kept for compatibility and copies ``data`` as float32.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([[2., 4.],
                [6., 8.]])
    """

    __slots__ = ("_data", "_rg", "grad", "grad_fn", "_nr", "_vc", "_base", "_extra", "__weakref__")
    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected operator

    def __new__(cls, *args, **kwargs):
        if args and isinstance(args[0], Tensor) and len(args) == 1:
            data = args[0]._data
        elif args and not all(isinstance(a, int) for a in args):
            data = np.array(args[0], dtype=_dtype.get_default_dtype().np)
        else:
            data = np.empty(args, dtype=_dtype.get_default_dtype().np)
        t = _new(cls)
        _init_slots(t, data)
        return t

    def __init__(self, *args, **kwargs):
        pass

    # --- metadata ----------------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        """The shape as ``Size``, or the length of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[self._wrap_dim(dim, "size")]

    @property
    def dtype(self) -> _dtype.dtype:
        return _FROM_NP[self._data.dtype]

    @property
    def device(self) -> _device.device:
        if self._data.__class__ is _ndarray:
            return _device.CPU
        return _device.device_of_array(self._data)

    @property
    def is_cuda(self) -> bool:
        return self._data.__class__ is not _ndarray

    @property
    def is_cpu(self) -> bool:
        return self._data.__class__ is _ndarray

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def stride(self, dim: int | None = None):
        """Strides in elements (NumPy keeps bytes; torch counts elements)."""
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[self._wrap_dim(dim, "stride")]

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(self._data.flags.c_contiguous)

    def data_ptr(self) -> int:
        if self._data.__class__ is _ndarray:
            return self._data.__array_interface__["data"][0]
        return self._data.data.ptr

    def untyped_storage(self):
        return self._data.base if self._data.base is not None else self._data

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f" or self._data.dtype == _dtype._NP_BFLOAT16

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    def is_signed(self) -> bool:
        return self.dtype.is_signed

    def is_inference(self) -> bool:
        return bool(self._extra and self._extra.get("inference"))

    @property
    def layout(self):
        return "torch.strided"

    @property
    def is_sparse(self) -> bool:
        return False

    @property
    def is_quantized(self) -> bool:
        return False

    @property
    def is_meta(self) -> bool:
        return False

    def get_device(self) -> int:
        return -1 if self._data.__class__ is _ndarray else self.device.index

    def _wrap_dim(self, dim: int, op: str) -> int:
        n = self._data.ndim
        lo, hi = (-1, 0) if n == 0 else (-n, n - 1)
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
            raise TypeError(f"{op}(): dim must be an int, got {type(dim).__name__}")
        if dim < lo or dim > hi:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})"
            )
        return dim % n if n else 0

    # --- autograd metadata -------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set whether autograd records operations on this (leaf) tensor; returns self."""
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach()."
                )
            return self
        if requires_grad and self._data.dtype.kind not in "fcV":
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients "
                f"(got {self.dtype})"
            )
        self._rg = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def output_nr(self) -> int:
        return self._nr

    @property
    def _version(self) -> int:
        vc = self._vc
        return vc[0] if vc is not None else 0

    def _vc_list(self) -> list:
        vc = self._vc
        if vc is None:
            vc = self._vc = [0]
        return vc

    def _share_version(self, other: Tensor) -> None:
        self._vc = other._vc_list()

    def _bump_version(self) -> None:
        vc = self._vc
        if vc is None:
            self._vc = [1]
        else:
            vc[0] += 1

    @property
    def data(self) -> Tensor:
        """A detached alias of this tensor (shares memory, no history)."""
        t = wrap(self._data)
        t._share_version(self)
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data

    @property
    def retains_grad(self) -> bool:
        return bool(self._extra and self._extra.get("retains_grad"))

    @property
    def _backward_hooks(self):
        return (self._extra or {}).get("hooks")

    def _extras(self) -> dict:
        if self._extra is None:
            self._extra = {}
        return self._extra

    def detach(self) -> Tensor:
        """A new tensor sharing memory with this one, cut off from the graph."""
        t = wrap(self._data)
        t._share_version(self)
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._rg = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self.retains_grad:
            return
        self._extras()["retains_grad"] = True
        import weakref

        ref = weakref.ref(self)

        def _retain(grad):
            t = ref()
            if t is not None:
                g = grad.detach()
                t.grad = g.clone() if t.grad is None else t.grad + g
            return None

        _add_node_prehook(self, _retain)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one.

        Returns a handle with ``remove()``.
        """
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd.function import _RemovableHandle

        if self.grad_fn is None:
            hooks = self._extras().setdefault("hooks", [])
            hooks.append(hook)
            return _RemovableHandle(hooks, hook)
        return _add_node_prehook(self, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the ``.grad`` of the graph's leaves."""
        from .autograd import backward

        backward(
            self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs
        )

    # --- conversion to Python and NumPy ------------------------------------------------------
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        v = self._data.reshape(()).item() if self.is_cpu else self._data.reshape(()).get().item()
        return float(v) if self._data.dtype == _dtype._NP_BFLOAT16 else v

    def tolist(self):
        """The data as (nested) Python lists of Python numbers."""
        arr = self._host()
        if arr.dtype == _dtype._NP_BFLOAT16:
            arr = arr.astype(np.float32)
        return arr.tolist()

    def _host(self):
        return self._data if self._data.__class__ is _ndarray else self._data.get()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a NumPy array; on the CPU it shares memory with the tensor."""
        if self._rg and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        if self._data.__class__ is not _ndarray:
            if not force:
                raise TypeError(
                    f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() "
                    "to copy the tensor to host memory first."
                )
            return self._data.get()
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = self._host()
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        return arr

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self._data.size == 0:
            raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous "
                f"(numel={self._data.size})"
            )
        return bool(self.item())

    def _scalar(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        from ._tensor_str import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self)

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self._host(), self._rg, str(self.device)))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the "
                "deepcopy protocol at the moment."
            )
        t = wrap(self._data.copy())
        t._rg = self._rg
        if self.grad is not None:
            t.grad = self.grad.__deepcopy__(memo)
        if type(self) is not Tensor:
            t = type(self)._from_tensor(t) if hasattr(type(self), "_from_tensor") else t
        memo[id(self)] = t
        return t

    @property
    def xp(self):
        """The array module (numpy or cupy) this tensor's data belongs to."""
        return np if self._data.__class__ is _ndarray else _device.cupy_or_none()


def _autograd_backward(*args):
    # bound on first use: autograd sits above this module, and an import per call is slow
    global _autograd_backward
    from .autograd import backward

    _autograd_backward = backward
    return backward(*args)


def _rebuild(arr, requires_grad, device):
    t = wrap(np.array(arr))
    if device != "cpu":
        t = t.to(device)
    t._rg = requires_grad
    return t


def _add_node_prehook(t: Tensor, hook):
    """Register a hook on the grad flowing into output ``t._nr`` of ``t.grad_fn``."""
    from .autograd.function import _RemovableHandle

    node = t.grad_fn
    if node._pre_hooks is None:
        node._pre_hooks = {}
    hooks = node._pre_hooks.setdefault(t._nr, [])
    hooks.append(hook)
    return _RemovableHandle(hooks, hook)


def grad_enabled() -> bool:
    return MODE.grad
