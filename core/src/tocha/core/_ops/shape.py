"""Shape ops: view/reshape, expand, permute/transpose, squeeze/unsqueeze, flatten, cat/stack,
split/chunk/unbind, narrow, flip/roll/rot90, repeat/tile/repeat_interleave, diagonal/diag/tril,
unfold/as_strided, broadcasting helpers and the ``T``/``mT``/``H``/``mH`` properties.

Ops that are views in torch (reshape when possible, expand, permute, squeeze, diagonal, narrow,
split/chunk/unbind outputs, unfold, movedim, unflatten, as_strided ...) return NumPy/CuPy views
and set ``is_view``, so they share memory and the version counter with their input. Every
backward is written with tocha ops (pairs of mutually adjoint nodes where no existing op fits),
so gradients are themselves differentiable.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import _dtype
from .._mode import MODE
from .._tensor import Size, Tensor, wrap
from ..autograd.function import Node
from ._util import check_same_device, norm_dim, shape_arg, xp_of
from ._util import write_out as _out

_ndarray = np.ndarray


# --- small helpers ----------------------------------------------------------------------------
def _view_of(t: Tensor, arr) -> Tensor:
    """``arr`` (a view of ``t``'s memory) as a Tensor without history: the view shares ``t``'s
    version counter and base.

    This is exactly what ``Node.apply`` does for an ``is_view`` node it does not record (grad
    mode off, or no input requiring grad), without building the node and dispatching through
    it: shape ops and basic indexing on small tensors are dominated by that per-call overhead
    (measured: ``x.view(-1)`` 3.6 us through ``Reshape.apply`` and its argument parsing, 0.6 us
    with this fast path; torch 0.9 us). Callers use it only when ``not (t._rg and MODE.grad)``.
    """
    out = wrap(arr)
    vc = t._vc
    if vc is None:
        vc = t._vc = [0]
    out._vc = vc
    base = t._base
    out._base = t if base is None else base
    return out


def _plain_shape(shape: tuple, numel: int):
    """``shape`` (the ``*shape`` arguments of view / reshape) as a tuple of Python ints with a
    ``-1`` resolved against ``numel``, or None when the general parser must run.

    The fast check for the common call (``x.view(-1)``, ``x.reshape(b, n)``,
    ``x.view(y.shape)``): anything else (NumPy ints, tensors, lists, a shape that does not fit)
    returns None, and the general path parses it and raises torch's error.
    """
    if len(shape) == 1:
        s0 = shape[0]
        if s0.__class__ is int:  # x.view(-1), x.reshape(n)
            return (numel,) if s0 == -1 or s0 == numel else None
        if s0.__class__ is tuple:
            shape = s0
        elif s0.__class__ is Size:
            shape = tuple(s0)
        else:
            return None
    known = 1
    neg = -1
    i = 0
    for s in shape:
        if s.__class__ is not int:
            return None
        if s < 0:
            if s != -1 or neg >= 0:
                return None
            neg = i
        else:
            known *= s
        i += 1
    if neg < 0:
        return shape if known == numel else None
    if known == 0 or numel % known:
        return None
    if i == 1:
        return (numel,)
    return shape[:neg] + (numel // known,) + shape[neg + 1 :]


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _ptr(arr) -> int:
    if arr.__class__ is _ndarray:
        return arr.__array_interface__["data"][0]
    return arr.data.ptr


def _int_list(values, op: str, arg: str) -> list:
    """``values`` (int or sequence of ints) as a list of Python ints, torch's TypeError else."""
    if _is_int(values):
        return [int(values)]
    if isinstance(values, Tensor) or not isinstance(values, (list, tuple)):
        raise TypeError(
            f"{op}(): argument '{arg}' must be tuple of ints, not {type(values).__name__}"
        )
    out = []
    for v in values:
        if not _is_int(v):
            raise TypeError(
                f"{op}(): argument '{arg}' must be tuple of ints, but found element of type "
                f"{type(v).__name__}"
            )
        out.append(int(v))
    return out


def _varargs(args: tuple) -> tuple:
    """``f(1, 2)``, ``f((1, 2))`` and ``f([1, 2])`` (and ``torch.Size``) all give ``(1, 2)``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _uniq_dims(dims, ndim: int, op: str) -> tuple:
    """Normalised dims in the given order; torch's error for a dim given twice."""
    out = tuple(norm_dim(d, ndim, op) for d in dims)
    seen = set()
    for d in out:
        if d in seen:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        seen.add(d)
    return out


def _scalar_name(t: Tensor) -> str:
    """torch's C++ scalar-type name (``Float``, ``Long`` ...) used in its error messages."""
    name = t.dtype.name
    return _dtype.SCALAR_TYPE_NAMES.get(name, name)


# --- reshape / view ---------------------------------------------------------------------------


def infer_shape(shape: tuple, numel: int, op: str) -> tuple:
    """Resolve one ``-1`` in ``shape`` against ``numel`` elements (torch's rules and errors)."""
    shape = tuple(int(s) for s in shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred")
    known = 1
    for i, s in enumerate(shape):
        if s != -1:
            if s < 0:
                raise RuntimeError(
                    f"{op}: invalid shape dimension {s} at index {i} of shape {list(shape)}"
                )
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[: neg[0]] + (numel // known,) + shape[neg[0] + 1 :]
    elif known != numel:
        raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class Reshape(Node):
    """Any op that only changes the shape (view, reshape, squeeze, flatten ...)."""

    is_view = True

    def forward(self, a, shape, must_view=False):
        self.in_shape = a.shape
        if must_view:
            out = a.view()
            try:
                out.shape = shape
            except AttributeError:
                raise RuntimeError(
                    "view size is not compatible with input tensor's size and stride (at least "
                    "one dimension spans across two contiguous subspaces). Use .reshape(...) "
                    "instead."
                ) from None
            return out
        out = a.reshape(shape)
        b = out.base
        # a view's base collapses to ``a`` or ``a``'s owner; any other base may be the temporary
        # of a copy, which a reshape view never is: a view starts where ``a`` does
        if out.size and (b is None or (b is not a and b is not a.base and _ptr(out) != _ptr(a))):
            self.is_view = False  # reshape had to copy: the result is not a view
        return out

    def name(self):
        return "ViewBackward0"

    def backward(self, g):
        return g.reshape(self.in_shape)


def reshape(input: Tensor, *shape) -> Tensor:
    """The same data with a new shape (a view when the strides allow, else a copy).

    Example:
        >>> import tocha.core as torch
        >>> torch.arange(6).reshape(2, -1).shape
        torch.Size([2, 3])
    """
    a = input._data
    # fast path: Python ints (at most one -1) that fit, what user code and backward passes use
    plain = _plain_shape(shape, a.size)
    if plain is not None:
        if not (input._rg and MODE.grad) and a.flags.c_contiguous:
            # a contiguous array always reshapes to a view (Reshape.forward's result)
            return _view_of(input, a.reshape(plain))
        return Reshape.apply(input, shape=plain)
    shape = infer_shape(
        shape_arg(shape, "reshape", allow_negative=True), input._data.size, "reshape"
    )
    if shape == input._data.shape:
        return Reshape.apply(input, shape=shape) if input._rg else _alias_view(input)
    return Reshape.apply(input, shape=shape)


def _alias_view(t: Tensor) -> Tensor:
    return Reshape.apply(t, shape=t._data.shape)


def view(self: Tensor, *shape) -> Tensor:
    """A view with a new shape; raises when the memory layout makes a view impossible."""
    a = self._data
    plain = _plain_shape(shape, a.size)
    if plain is not None:
        if not (self._rg and MODE.grad) and a.flags.c_contiguous:
            # a contiguous array always reshapes to a view: no stride check needed
            return _view_of(self, a.reshape(plain))
        return Reshape.apply(self, shape=plain, must_view=True)
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, np.integer)):
        dt = _dtype.to_dtype(shape[0])
        out = wrap(a.view(dt.np))
        out._share_version(self)
        return out
    shape = infer_shape(shape_arg(shape, "view", allow_negative=True), a.size, "view")
    return Reshape.apply(self, shape=shape, must_view=True)


def view_as(self: Tensor, other: Tensor) -> Tensor:
    return view(self, other._data.shape)


def reshape_as(self: Tensor, other: Tensor) -> Tensor:
    return reshape(self, other._data.shape)


def ravel(input: Tensor) -> Tensor:
    """The elements as a 1-D tensor (a view when the input is contiguous)."""
    return reshape(input, -1)


# --- expand / broadcasting --------------------------------------------------------------------
def broadcast_view(a, shape: tuple):
    """A read-only view of ``a`` broadcast to ``shape`` (the shape must be valid).

    Same result as ``xp.broadcast_to``, which costs ~2.5 us in Python on small arrays; building
    the strided view directly is ~10x cheaper, and expand sits on every reduction's backward.
    """
    if a.__class__ is not np.ndarray or not a.flags.c_contiguous or not a.size:
        return xp_of(a).broadcast_to(a, shape)
    src = a.shape
    lead = len(shape) - len(src)
    if 1 in src:  # a size-1 dim broadcast to more gets stride 0
        strides = [0] * lead
        for n, st, want in zip(src, a.strides, shape[lead:]):
            strides.append(0 if n == 1 and want != 1 else st)
        strides = tuple(strides)
    else:  # only new leading dims (stride 0): skip the loop
        strides = (0,) * lead + a.strides if lead else a.strides
    out = np.ndarray(shape, a.dtype, a, 0, strides)
    out.setflags(write=False)  # half the cost of ``out.flags.writeable = False``
    return out


class Expand(Node):
    is_view = True

    def forward(self, a, shape):
        return broadcast_view(a, shape)

    def backward(self, g):
        return g  # the engine sums it back to the input's shape


def _expand_shape(sizes: tuple, shape: tuple):
    """The target shape of ``expand(*sizes)`` when ``sizes`` are Python ints forming a valid
    expansion of ``shape``, else None (the general path then parses and raises)."""
    if len(sizes) == 1 and sizes[0].__class__ is not int:
        sizes = sizes[0]
        if sizes.__class__ is not tuple and sizes.__class__ is not Size:
            return None
    lead = len(sizes) - len(shape)
    if lead < 0:
        return None
    out = []
    for i, s in enumerate(sizes):
        if s.__class__ is not int:
            return None
        if i >= lead:
            cur = shape[i - lead]
            if s == -1:
                s = cur
            elif s != cur and cur != 1:
                return None
        if s < 0:
            return None
        out.append(s)
    return tuple(out)


def expand(self: Tensor, *sizes) -> Tensor:
    """A broadcast view of ``self`` with singleton dims repeated (``-1`` keeps a dim)."""
    a = self._data
    if not (self._rg and MODE.grad):
        shape = _expand_shape(sizes, a.shape)
        if shape is not None:
            # the same arrays Expand / Reshape.forward build, without the node dispatch
            return _view_of(self, a.view() if shape == a.shape else broadcast_view(a, shape))
    sizes = tuple(int(s) for s in shape_arg_allow_neg(sizes))
    nd = self._data.ndim
    if len(sizes) < nd:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({nd})"
        )
    lead = len(sizes) - nd
    shape = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(
                    f"expand: -1 is not allowed in a leading, non-existing dimension {i}"
                )
            shape.append(s)
            continue
        cur = self._data.shape[i - lead]
        if s == -1:
            s = cur
        if cur != s and cur != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                f"{list(self._data.shape)}"
            )
        shape.append(s)
    shape = tuple(shape)
    if shape == self._data.shape:
        return _alias_view(self)
    return Expand.apply(self, shape=shape)


def shape_arg_allow_neg(sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        return tuple(sizes[0])
    return tuple(int(s) for s in sizes)


def expand_as(self: Tensor, other: Tensor) -> Tensor:
    return expand(self, other._data.shape)


def broadcast_to(input: Tensor, size) -> Tensor:
    """``input`` expanded (as a view) to ``size``; same rules as ``Tensor.expand``."""
    return expand(input, tuple(size))


def broadcast_shapes(*shapes) -> Size:
    """The shape that tensors of the given shapes broadcast to, as ``torch.Size``.

    Example:
        >>> import tocha.core as torch
        >>> torch.broadcast_shapes((2, 1), (3,))
        torch.Size([2, 3])
    """
    tuples = [(int(s),) if _is_int(s) else tuple(int(x) for x in s) for s in shapes]
    n = max((len(s) for s in tuples), default=0)
    res = [1] * n
    for k, shp in enumerate(tuples):
        for i in range(1, len(shp) + 1):
            s = shp[-i]
            if s < 0:
                raise ValueError("Attempting to broadcast a dimension with negative length!")
            if res[-i] == 1:
                res[-i] = s
            elif s != 1 and s != res[-i]:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {s} at {-i}! Mismatching "
                    f"argument at index {k} had {shp}; but expected shape should be "
                    f"broadcastable to {res}"
                )
    return Size(res)


def broadcast_tensors(*tensors) -> tuple:
    """Expand all ``tensors`` (views) to their common broadcast shape."""
    tensors = _varargs(tensors)
    shape: tuple = ()
    for t in tensors:
        a, b = shape, t._data.shape
        n = max(len(a), len(b))
        a2, b2 = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
        new = []
        for i, (x, y) in enumerate(zip(a2, b2)):
            if x != y and x != 1 and y != 1:
                raise RuntimeError(
                    f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                    f"non-singleton dimension {i}"
                )
            new.append(y if x == 1 else x)
        shape = tuple(new)
    return tuple(expand(t, shape) for t in tensors)


# --- permute / transpose / movedim ------------------------------------------------------------
class Permute(Node):
    is_view = True

    def forward(self, a, dims):
        self.dims = dims
        return a.transpose(dims)

    def backward(self, g):
        inv = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inv[d] = i
        return g.permute(inv)


def permute(input: Tensor, *dims) -> Tensor:
    """A view with the dimensions reordered."""
    a = input._data
    if not (input._rg and MODE.grad):
        # fast path: Python ints, one per dim; NumPy validates the order (a repeated or
        # out-of-range dim raises, and the general path below re-raises with torch's message)
        order = dims[0] if len(dims) == 1 and dims[0].__class__ is tuple else dims
        if len(order) == a.ndim:
            for d in order:
                if d.__class__ is not int:
                    break
            else:
                try:
                    out = a.transpose(order)
                except (ValueError, IndexError):
                    pass
                else:
                    return _view_of(input, out)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    nd = input._data.ndim
    if len(dims) != nd:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {nd} is not equal "
            f"to len(dims) = {len(dims)}"
        )
    dims = tuple(norm_dim(d, nd, "permute") for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError(f"permute(): duplicate dims are not allowed: {list(dims)}")
    return Permute.apply(input, dims=dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """A view with ``dim0`` and ``dim1`` swapped."""
    a = input._data
    nd = a.ndim
    if dim0.__class__ is int and dim1.__class__ is int and -nd <= dim0 < nd and -nd <= dim1 < nd:
        if not (input._rg and MODE.grad):
            # fast path: swapaxes is the view Permute.forward builds, without the node dispatch
            return _view_of(input, a.swapaxes(dim0, dim1))
        dims = list(range(nd))
        d0 = dim0 if dim0 >= 0 else dim0 + nd
        d1 = dim1 if dim1 >= 0 else dim1 + nd
        dims[d0], dims[d1] = d1, d0
        return Permute.apply(input, dims=tuple(dims))
    if nd == 0:
        return _alias_view(input)
    d0, d1 = norm_dim(dim0, nd, "transpose"), norm_dim(dim1, nd, "transpose")
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(input, dims=tuple(dims))


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dims."""
    a = input._data
    nd = a.ndim
    if nd > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {nd}D")
    if not (input._rg and MODE.grad):
        # fast path: the views Permute / Reshape.forward build, without the node dispatch
        return _view_of(input, a.T if nd == 2 else a.view())
    return Permute.apply(input, dims=(1, 0)) if nd == 2 else _alias_view(input)


def movedim(input: Tensor, source, destination) -> Tensor:
    """A view with the dims ``source`` moved to positions ``destination`` (others keep order).

    Example:
        >>> import tocha.core as torch
        >>> torch.zeros(2, 3, 4).movedim(0, -1).shape
        torch.Size([3, 4, 2])
    """
    nd = input._data.ndim
    src = _int_list(source, "movedim", "source")
    dst = _int_list(destination, "movedim", "destination")
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({src} dims) should contain "
            f"the same number of dims as destination ({dst} dims)"
        )
    s = [norm_dim(d, nd, "movedim") for d in src]
    d = [norm_dim(x, nd, "movedim") for x in dst]
    if len(set(s)) != len(s):
        raise RuntimeError(f"movedim: repeated dim in `source` ({src})")
    if len(set(d)) != len(d):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({dst})")
    order = [i for i in range(nd) if i not in s]
    for dd, ss in sorted(zip(d, s)):
        order.insert(dd, ss)
    return Permute.apply(input, dims=tuple(order))


moveaxis = movedim


def _T(self: Tensor) -> Tensor:
    a = self._data
    nd = a.ndim
    if nd == 2:
        if not (self._rg and MODE.grad):
            return _view_of(self, a.T)  # fast path: Permute.forward's view, no node dispatch
        return Permute.apply(self, dims=(1, 0))
    if nd == 0:
        warnings.warn(
            "Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases.",
            UserWarning,
            stacklevel=2,
        )
        return _alias_view(self)
    warnings.warn(
        "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is "
        "deprecated and it will throw an error in a future release. Consider `x.mT` to "
        "transpose batches of matrices or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` to "
        "reverse the dimensions of a tensor.",
        UserWarning,
        stacklevel=2,
    )
    return Permute.apply(self, dims=tuple(range(nd - 1, -1, -1)))


def _conj(t: Tensor) -> Tensor:
    return t.conj() if t._data.dtype.kind == "c" else t


def _mT(self: Tensor) -> Tensor:
    if self._data.ndim < 2:
        raise RuntimeError(
            "tensor.mT is only supported on matrices or batches of matrices. Got "
            f"{self._data.ndim}-D tensor."
        )
    return transpose(self, -2, -1)


def _H(self: Tensor) -> Tensor:
    nd = self._data.ndim
    if nd == 0:
        warnings.warn(
            "Tensor.H is deprecated on 0-D tensors. Consider using x.conj().",
            UserWarning,
            stacklevel=2,
        )
        return _conj(self) if self.is_complex() else _alias_view(self)
    if nd != 2:
        extra = " For batches of matrices, consider using tensor.mH" if nd > 2 else ""
        raise RuntimeError(
            f"tensor.H is only supported on matrices (2-D tensors). Got {nd}-D tensor.{extra}"
        )
    return _conj(transpose(self, 0, 1))


def _mH(self: Tensor, name: str = "tensor.mH") -> Tensor:
    if self._data.ndim < 2:
        raise RuntimeError(
            f"{name} is only supported on matrices or batches of matrices. Got "
            f"{self._data.ndim}-D tensor."
        )
    return _conj(transpose(self, -2, -1))


def adjoint(input: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims (``input.mH``)."""
    return _mH(input, "tensor.adjoint()")


# --- squeeze / unsqueeze / flatten / unflatten / atleast_nd -----------------------------------
def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove size-1 dims (all of them, or those in ``dim``: an int or a tuple); a view."""
    a = input._data
    shape = a.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1) if 1 in shape else shape
    elif dim.__class__ is int and -len(shape) <= dim < len(shape):
        # fast path: one dim in range (a 0-dim tensor takes the general path)
        d = dim if dim >= 0 else dim + len(shape)
        new = shape[:d] + shape[d + 1 :] if shape[d] == 1 else shape
    else:
        dims = (dim,) if _is_int(dim) else tuple(dim)
        nd = len(shape)
        drop = set(_uniq_dims(dims, nd, "squeeze")) if nd else set()
        if not nd:
            for d in dims:
                norm_dim(d, nd, "squeeze")
        new = tuple(s for i, s in enumerate(shape) if not (i in drop and s == 1))
    if not (input._rg and MODE.grad) and a.flags.c_contiguous:
        return _view_of(input, a.reshape(new))  # a contiguous array reshapes to a view
    return Reshape.apply(input, shape=new)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim``; a view."""
    a = input._data
    nd = a.ndim
    if dim.__class__ is int and -nd - 1 <= dim <= nd:
        d = dim if dim >= 0 else dim + nd + 1
    else:
        d = norm_dim(dim, nd + 1, "unsqueeze")
    shape = a.shape
    new = shape[:d] + (1,) + shape[d:]
    if not (input._rg and MODE.grad) and a.flags.c_contiguous:
        return _view_of(input, a.reshape(new))  # a contiguous array reshapes to a view
    return Reshape.apply(input, shape=new)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    a = input._data
    shape = a.shape
    nd = len(shape)
    if (
        start_dim.__class__ is int
        and end_dim.__class__ is int
        and -nd <= start_dim < nd
        and -nd <= end_dim < nd
    ):
        # fast path: Python int dims in range (a 0-dim tensor takes the general path)
        s = start_dim if start_dim >= 0 else start_dim + nd
        e = end_dim if end_dim >= 0 else end_dim + nd
        if s <= e:
            new = shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :]
            if not (input._rg and MODE.grad) and a.flags.c_contiguous:
                return _view_of(input, a.reshape(new))  # a contiguous array reshapes to a view
            return reshape(input, new)
    if nd == 0:
        return Reshape.apply(input, shape=(1,))
    s, e = norm_dim(start_dim, nd, "flatten"), norm_dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    n = 1
    for x in shape[s : e + 1]:
        n *= x
    return reshape(input, shape[:s] + (n,) + shape[e + 1 :])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one entry may be -1); a view.

    Example:
        >>> import tocha.core as torch
        >>> torch.zeros(2, 6).unflatten(1, (3, -1)).shape
        torch.Size([2, 3, 2])
    """
    shape = input._data.shape
    d = norm_dim(dim, len(shape), "unflatten")
    sizes = _int_list(sizes, "unflatten", "sizes")
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = shape[d]
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten: only one dimension can be inferred")
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    if -1 in sizes:
        if known == 0 or n % known:
            raise RuntimeError(
                f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {d} "
                f"({n}) in the input tensor"
            )
        sizes[sizes.index(-1)] = n // known
    elif known != n:
        raise RuntimeError(
            f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {d} ({n}) "
            "in the input tensor"
        )
    return Reshape.apply(input, shape=shape[:d] + tuple(sizes) + shape[d + 1 :])


def _atleast(tensors, n: int, op: str):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(_one(t, n, op) for t in tensors[0])
    if len(tensors) == 1:
        return _one(tensors[0], n, op)
    return tuple(_one(t, n, op) for t in tensors)


def _one(t, n: int, op: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(
            f"{op}() received an invalid combination of arguments - got "
            f"({type(t).__name__}), but expected one of: (Tensor input) or "
            "(tuple of Tensors tensors)"
        )
    shape = t._data.shape
    nd = len(shape)
    if nd >= n:
        return t
    if n == 1 or nd == 0:
        new = (1,) * n
    elif n == 2:
        new = (1,) + shape
    else:
        new = (1,) + shape + (1,) if nd == 1 else shape + (1,)
    return Reshape.apply(t, shape=new)


def atleast_1d(*tensors):
    """View ``tensors`` with at least one dim (a tuple when several are given)."""
    return _atleast(tensors, 1, "atleast_1d")


def atleast_2d(*tensors):
    """View ``tensors`` with at least two dims (1-D ``(n,)`` becomes ``(1, n)``)."""
    return _atleast(tensors, 2, "atleast_2d")


def atleast_3d(*tensors):
    """View ``tensors`` with at least three dims (``(n,)`` -> ``(1, n, 1)``, ``(m, n)`` ->
    ``(m, n, 1)``)."""
    return _atleast(tensors, 3, "atleast_3d")


# --- cat / stack ------------------------------------------------------------------------------
def _tensor_seq(tensors, op: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(
            f"{op}(): argument 'tensors' (position 1) must be tuple of Tensors, not "
            f"{type(tensors).__name__}"
        )
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}"
            )
    return list(tensors)


def _common_dtype(tensors) -> np.dtype | None:
    """The promoted NumPy dtype of ``tensors``, or None when they all already share it."""
    first = tensors[0]._data.dtype
    if all(t._data.dtype == first for t in tensors):
        return None
    return _dtype.result_type_of([_dtype._BY_NP[t._data.dtype] for t in tensors]).np


def _same_device(op: str, tensors) -> None:
    if any(t._data.__class__ is not _ndarray for t in tensors):
        check_same_device(op, *tensors)


class Cat(Node):
    def forward(self, *arrays, dim, dt=None, skip=()):
        self.dim, self.skip = dim, skip
        if skip:  # legacy empty (0,) inputs take no part (their gradient is empty)
            arrays = [a for i, a in enumerate(arrays) if i not in skip]
        self.sizes = [a.shape[dim] for a in arrays]
        if dt is not None:
            arrays = [a.astype(dt, copy=False) for a in arrays]
        return xp_of(arrays[0]).concatenate(arrays, axis=dim)

    def backward(self, g):
        parts = (g,) if len(self.sizes) == 1 else split_with_sizes(g, self.sizes, self.dim)
        if not self.skip:
            return parts
        from .creation import zeros

        it = iter(parts)
        n = len(parts) + len(self.skip)
        return tuple(
            zeros(0, dtype=g.dtype, device=g.device) if i in self.skip else next(it)
            for i in range(n)
        )


def _cat_fast(tensors, dim):
    """``cat(tensors, dim)`` without the general argument handling, or None when it must run.

    The fast case: a list or tuple of CPU Tensors of one dtype and one ndim (>= 1) and a Python
    int ``dim`` in range. Legacy ``(0,)`` tensors then only occur among 1-D tensors, where
    skipping them changes nothing, and there is nothing to promote. Any other shape mismatch
    makes NumPy raise, and the general path re-raises with torch's message.
    """
    cls = tensors.__class__
    if (cls is not list and cls is not tuple) or not tensors or dim.__class__ is not int:
        return None
    arrays = []
    record = False
    dt = None
    nd = 0
    for t in tensors:
        if t.__class__ is not Tensor:
            return None
        a = t._data
        if a.__class__ is not _ndarray:
            return None
        if dt is None:
            dt = a.dtype
            nd = a.ndim
        elif a.ndim != nd or (a.dtype is not dt and a.dtype != dt):
            return None
        if t._rg:
            record = True
        arrays.append(a)
    if not -nd <= dim < nd:  # also rejects 0-dim tensors
        return None
    try:
        if record and MODE.grad:
            return Cat.apply(*tensors, dim=dim if dim >= 0 else dim + nd, dt=None, skip=())
        return wrap(np.concatenate(arrays, axis=dim))
    except ValueError:  # raised by forward before anything is recorded
        return None


def cat(tensors, dim: int = 0, *, out: Tensor | None = None) -> Tensor:
    """Concatenate ``tensors`` along the existing dim ``dim`` (dtypes are promoted).

    Legacy empty tensors of shape ``(0,)`` are skipped, like torch.

    Example:
        >>> import tocha.core as torch
        >>> torch.cat([torch.zeros(2, 3), torch.ones(1, 3)]).shape
        torch.Size([3, 3])
    """
    if out is None:
        res = _cat_fast(tensors, dim)
        if res is not None:
            return res
    tensors = _tensor_seq(tensors, "cat")
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    dt = _common_dtype(tensors)
    keep = [
        (i, t) for i, t in enumerate(tensors) if not (t._data.ndim == 1 and t._data.shape[0] == 0)
    ]
    if not keep:
        keep = list(enumerate(tensors))
    ref = keep[0][1]._data.shape
    nd = len(ref)
    d = norm_dim(dim, nd, "cat")
    for i, t in keep[1:]:
        shp = t._data.shape
        if len(shp) != nd:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {nd} and {len(shp)}"
            )
        for k in range(nd):
            if k != d and shp[k] != ref[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref[k]} but got size {shp[k]} for tensor number {i} in the list."
                )
    _same_device("cat", tensors)
    skip = (
        ()
        if len(keep) == len(tensors)
        else tuple(sorted(set(range(len(tensors))) - {i for i, _ in keep}))
    )
    return _out(Cat.apply(*tensors, dim=d, dt=dt, skip=skip), out, "cat")


concat = concatenate = cat


class Stack(Node):
    def forward(self, *arrays, dim, dt=None):
        self.dim = dim
        if dt is not None:
            arrays = [a.astype(dt, copy=False) for a in arrays]
        return xp_of(arrays[0]).stack(arrays, axis=dim)

    def backward(self, g):
        return unbind(g, self.dim)


def _stack_fast(tensors, dim):
    """``stack(tensors, dim)`` without the general argument handling, or None when it must
    run: a list or tuple of CPU Tensors of one dtype and one shape, a Python int ``dim`` in
    range. ``np.stack`` is Python code around ``concatenate`` of the arrays with a new axis;
    this does the same concatenate directly."""
    cls = tensors.__class__
    if (cls is not list and cls is not tuple) or not tensors or dim.__class__ is not int:
        return None
    arrays = []
    record = False
    dt = shape = None
    for t in tensors:
        if t.__class__ is not Tensor:
            return None
        a = t._data
        if a.__class__ is not _ndarray:
            return None
        if dt is None:
            dt, shape = a.dtype, a.shape
        elif a.shape != shape or (a.dtype is not dt and a.dtype != dt):
            return None
        if t._rg:
            record = True
        arrays.append(a)
    nd = len(shape) + 1
    if not -nd <= dim < nd:
        return None
    d = dim if dim >= 0 else dim + nd
    if record and MODE.grad:
        return Stack.apply(*tensors, dim=d, dt=None)
    sl = (_FULL,) * d + (None,)
    return wrap(np.concatenate([a[sl] for a in arrays], axis=d))


def stack(tensors, dim: int = 0, *, out: Tensor | None = None) -> Tensor:
    """Stack equally shaped ``tensors`` along a new dim ``dim``.

    Example:
        >>> import tocha.core as torch
        >>> torch.stack([torch.zeros(2, 3), torch.ones(2, 3)], dim=1).shape
        torch.Size([2, 2, 3])
    """
    if out is None:
        res = _stack_fast(tensors, dim)
        if res is not None:
            return res
    tensors = _tensor_seq(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]._data.shape
    for i, t in enumerate(tensors[1:], 1):
        if t._data.shape != ref:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(ref)} at entry 0 "
                f"and {list(t._data.shape)} at entry {i}"
            )
    d = norm_dim(dim, len(ref) + 1, "stack")
    _same_device("stack", tensors)
    return _out(Stack.apply(*tensors, dim=d, dt=_common_dtype(tensors)), out, "stack")


def _nonempty(tensors, op: str) -> list:
    tensors = _tensor_seq(tensors, op)
    if not tensors:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    return tensors


def hstack(tensors, *, out: Tensor | None = None) -> Tensor:
    """Concatenate horizontally: along dim 0 for 1-D tensors, else dim 1."""
    ts = [_one(t, 1, "hstack") for t in _nonempty(tensors, "hstack")]
    return cat(ts, 0 if ts[0]._data.ndim == 1 else 1, out=out)


def vstack(tensors, *, out: Tensor | None = None) -> Tensor:
    """Concatenate vertically (dim 0) after making every tensor at least 2-D."""
    ts = [_one(t, 2, "vstack") for t in _nonempty(tensors, "vstack")]
    return cat(ts, 0, out=out)


row_stack = vstack


def dstack(tensors, *, out: Tensor | None = None) -> Tensor:
    """Concatenate depth-wise (dim 2) after making every tensor at least 3-D."""
    ts = [_one(t, 3, "dstack") for t in _nonempty(tensors, "dstack")]
    return cat(ts, 2, out=out)


def column_stack(tensors, *, out: Tensor | None = None) -> Tensor:
    """Stack as columns: 0-D and 1-D tensors become ``(n, 1)`` columns, then cat on dim 1."""
    ts = [
        reshape(t, (t._data.size, 1)) if t._data.ndim <= 1 else t
        for t in _nonempty(tensors, "column_stack")
    ]
    return cat(ts, 1, out=out)


# --- split / chunk / tensor_split / unbind ----------------------------------------------------
class Narrow(Node):
    """``input`` restricted to ``start:start+length`` along ``dim`` (a view)."""

    is_view = True

    def forward(self, a, dim, start, length):
        self.in_shape, self.dim, self.start = a.shape, dim, start
        return a[(slice(None),) * dim + (slice(start, start + length),)]

    def name(self):
        return "SliceBackward0"

    def backward(self, g):
        return NarrowPad.apply(g, in_shape=self.in_shape, dim=self.dim, start=self.start)


class NarrowPad(Node):
    """The adjoint of ``Narrow``: ``g`` placed at ``start`` along ``dim`` in zeros."""

    def forward(self, g, in_shape, dim, start):
        self.dim, self.start, self.length = dim, start, g.shape[dim]
        z = xp_of(g).zeros(in_shape, dtype=g.dtype)
        z[(slice(None),) * dim + (slice(start, start + self.length),)] = g
        return z

    def backward(self, gg):
        return Narrow.apply(gg, dim=self.dim, start=self.start, length=self.length)


class Split(Node):
    """Pieces ``[start, stop)`` of ``input`` along ``dim``, each a view (split, chunk, ...)."""

    is_view = True

    def forward(self, a, dim, bounds):
        self.dim, self.bounds, self.in_shape = dim, bounds, a.shape
        pre = (slice(None),) * dim
        return tuple(a[pre + (slice(s, e),)] for s, e in bounds)

    def name(self):
        return "SplitWithSizesBackward0"

    def backward(self, *grads):
        b = self.bounds
        if (
            b[0][0] == 0
            and b[-1][1] == self.in_shape[self.dim]
            and all(b[i][1] == b[i + 1][0] for i in range(len(b) - 1))
        ):
            return grads[0] if len(grads) == 1 else cat(list(grads), self.dim)
        res = None
        for g, (s, _) in zip(grads, b):  # pieces may overlap (tensor_split): add their pads
            p = NarrowPad.apply(g, in_shape=self.in_shape, dim=self.dim, start=s)
            res = p if res is None else res + p
        return res


def _split(input: Tensor, d: int, bounds: list) -> tuple:
    """``Split.apply(input, dim=d, bounds=bounds)``; the views are built directly when there
    is nothing to record (the same arrays and view bookkeeping, without the node dispatch)."""
    if input._rg and MODE.grad:
        return Split.apply(input, dim=d, bounds=bounds)
    a = input._data
    pre = (_FULL,) * d
    return tuple([_view_of(input, a[pre + (slice(s, e),)]) for s, e in bounds])


_FULL = slice(None)


def _bounds_of(sizes) -> list:
    bounds, pos = [], 0
    for s in sizes:
        bounds.append((pos, pos + s))
        pos += s
    return bounds


def split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple:
    """Split into pieces of the given sizes along ``dim`` (views); sizes must sum to the dim."""
    if isinstance(split_sizes, Tensor) or not isinstance(split_sizes, (list, tuple)):
        raise TypeError(
            "split_with_sizes(): argument 'split_sizes' (position 2) must be tuple of ints, not "
            f"{type(split_sizes).__name__}"
        )
    for s in split_sizes:
        if not _is_int(s):
            raise TypeError(
                "split_with_sizes(): argument 'split_sizes' (position 2) must be tuple of ints, "
                f"not {type(s).__name__}"
            )
    sizes = [int(s) for s in split_sizes]
    nd = input._data.ndim
    if nd == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = norm_dim(dim, nd, "split_with_sizes")
    n = input._data.shape[d]
    if any(s < 0 for s in sizes):
        raise RuntimeError(
            "split_with_sizes expects split_sizes have only non-negative entries, but got "
            f"split_sizes={sizes}"
        )
    if sum(sizes) != n:
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
            f"dimension {d}), but got split_sizes={sizes}"
        )
    return _split(input, d, _bounds_of(sizes))


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into chunks of ``split_size`` (the last may be smaller) or of the listed sizes.

    Returns a tuple of views.

    Example:
        >>> import tocha.core as torch
        >>> [p.tolist() for p in torch.arange(5).split(2)]
        [[0, 1], [2, 3], [4]]
    """
    if not _is_int(split_size_or_sections):
        return split_with_sizes(tensor, split_size_or_sections, dim)
    size = int(split_size_or_sections)
    nd = tensor._data.ndim
    if nd == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = norm_dim(dim, nd, "split")
    n = tensor._data.shape[d]
    if size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
    if size == 0 and n != 0:
        raise RuntimeError(
            f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
        )
    if n == 0:
        return _split(tensor, d, [(0, 0)])
    sizes = [size] * (n // size) + ([n % size] if n % size else [])
    return _split(tensor, d, _bounds_of(sizes))


def _split_method(self: Tensor, split_size, dim: int = 0) -> tuple:
    return split(self, split_size, dim)


unsafe_split = split


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` nearly equal pieces (views); may return fewer, like torch."""
    if chunks.__class__ is not int and not _is_int(chunks):
        raise TypeError(
            f"chunk(): argument 'chunks' (position 1) must be int, not {type(chunks).__name__}"
        )
    nd = input._data.ndim
    if nd == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = dim if dim.__class__ is int and 0 <= dim < nd else norm_dim(dim, nd, "chunk")
    n = input._data.shape[d]
    size = -(-n // chunks)
    if n == 0:
        return _split(input, d, [(0, 0)] * int(chunks))
    # split(input, size, d)'s pieces, without re-validating its arguments
    return _split(input, d, [(i, min(i + size, n)) for i in range(0, n, size)])


unsafe_chunk = chunk


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """Split into ``sections`` near-equal pieces or at the given ``indices`` (views).

    Example:
        >>> import tocha.core as torch
        >>> [p.tolist() for p in torch.arange(5).tensor_split([1, 4])]
        [[0], [1, 2, 3], [4]]
    """
    nd = input._data.ndim
    if nd == 0:
        raise RuntimeError(
            "tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims"
        )
    arg = indices_or_sections
    if isinstance(arg, Tensor):
        if arg._data.dtype != np.int64:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                f"{_scalar_name(arg)}"
            )
        if arg._data.ndim > 1:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                f"one-dimensional tensor, but got a tensor with {arg._data.ndim} dims"
            )
        arg = int(arg.item()) if arg._data.ndim == 0 else [int(v) for v in arg.tolist()]
    d = norm_dim(dim, nd, "tensor_split")
    n = input._data.shape[d]
    if _is_int(arg):
        sections = int(arg)
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        q, r = divmod(n, sections)
        return _split(input, d, _bounds_of([q + 1] * r + [q] * (sections - r)))
    idx = _int_list(arg, "tensor_split", "indices")

    def clamp(i):
        i = i + n if i < 0 else i
        return min(max(i, 0), n)

    # each piece is the slice ``[idx[k-1]:idx[k]]`` with Python's rules (pieces may be empty
    # or, for unsorted indices, overlap)
    points = [0] + [clamp(i) for i in idx]
    bounds = [(points[k], max(points[k], points[k + 1])) for k in range(len(points) - 1)]
    bounds.append((points[-1], n))
    return _split(input, d, bounds)


def _section_split(input: Tensor, arg, dim: int, op: str, min_nd: int) -> tuple:
    nd = input._data.ndim
    if nd < min_nd:
        raise RuntimeError(
            f"torch.{op} requires a tensor with at least {min_nd} dimension, but got a tensor "
            f"with {nd} dimensions!"
        )
    if _is_int(arg):
        n = input._data.shape[dim]
        if arg == 0 or n % arg:
            raise RuntimeError(
                f"torch.{op} attempted to split along dimension {dim}, but the size of the "
                f"dimension {n} is not divisible by the split_size {arg}!"
            )
    return tensor_split(input, arg, dim)


def hsplit(input: Tensor, indices_or_sections) -> tuple:
    """``tensor_split`` along dim 1 (dim 0 for 1-D); an int must divide the dim evenly."""
    nd = input._data.ndim
    return _section_split(input, indices_or_sections, 0 if nd == 1 else 1, "hsplit", 1)


def vsplit(input: Tensor, indices_or_sections) -> tuple:
    """``tensor_split`` along dim 0 of a tensor with at least 2 dims."""
    return _section_split(input, indices_or_sections, 0, "vsplit", 2)


def dsplit(input: Tensor, indices_or_sections) -> tuple:
    """``tensor_split`` along dim 2 of a tensor with at least 3 dims."""
    return _section_split(input, indices_or_sections, 2, "dsplit", 3)


class Unbind(Node):
    is_view = True

    def forward(self, a, dim):
        self.dim = dim
        moved = xp_of(a).moveaxis(a, dim, 0)
        return tuple(moved[i] for i in range(moved.shape[0]))

    def backward(self, *grads):
        return stack(list(grads), self.dim)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim`` as a tuple of views.

    Example:
        >>> import tocha.core as torch
        >>> [r.tolist() for r in torch.tensor([[1, 2], [3, 4]]).unbind(1)]
        [[1, 3], [2, 4]]
    """
    nd = input._data.ndim
    if nd == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return Unbind.apply(input, dim=norm_dim(dim, nd, "unbind"))


def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """The view ``input[..., start:start+length, ...]`` along ``dim``.

    ``start`` may be negative (counted from the end) or a 0-dim integer tensor.

    Example:
        >>> import tocha.core as torch
        >>> torch.arange(5).narrow(0, 1, 3)
        tensor([1, 2, 3])
    """
    nd = input._data.ndim
    if nd == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if isinstance(start, Tensor):
        if start._data.ndim != 0 or start._data.dtype.kind not in "iu":
            raise RuntimeError("start must be an 0-dim integral Tensor.")
        start = int(start.item())
    if not _is_int(start) or not _is_int(length):
        raise TypeError(
            "narrow() received an invalid combination of arguments - got "
            f"({type(dim).__name__}, {type(start).__name__}, {type(length).__name__}), but "
            "expected one of: (int dim, Tensor start, int length) or (int dim, int start, int "
            "length)"
        )
    d = norm_dim(dim, nd, "narrow")
    n = input._data.shape[d]
    if not -n <= start <= n:
        raise IndexError(
            f"start out of range (expected to be in range of [{-n}, {n}], but got {start})"
        )
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    start, length = int(start), int(length)
    if not (input._rg and MODE.grad):  # Narrow.forward's view, without the node dispatch
        return _view_of(input, input._data[(_FULL,) * d + (slice(start, start + length),)])
    return Narrow.apply(input, dim=d, start=start, length=length)


def narrow_copy(input: Tensor, dim: int, start, length: int) -> Tensor:
    """Like ``narrow`` but returns a copy."""
    from .conversion import clone

    return clone(narrow(input, dim, start, length))


# --- flip / roll / rot90 ----------------------------------------------------------------------
class Flip(Node):
    def forward(self, a, dims):
        self.dims = dims
        xp = xp_of(a)
        return xp.ascontiguousarray(xp.flip(a, axis=dims))  # torch's flip copies

    def backward(self, g):
        return Flip.apply(g, dims=self.dims)


def flip(input: Tensor, *dims, **kwargs) -> Tensor:
    """Reverse the order of elements along ``dims`` (a copy, like torch).

    Example:
        >>> import tocha.core as torch
        >>> torch.tensor([[1, 2], [3, 4]]).flip(1)
        tensor([[2, 1],
                [4, 3]])
    """
    if "dims" in kwargs:
        dims = kwargs.pop("dims")
    elif not dims:
        raise TypeError('flip() missing 1 required positional arguments: "dims"')
    else:
        dims = _varargs(dims)
    if kwargs:
        raise TypeError(f"flip() got an unexpected keyword argument '{next(iter(kwargs))}'")
    dims = _uniq_dims(_int_list(dims, "flip", "dims"), input._data.ndim, "flip")
    return Flip.apply(input, dims=dims)


def fliplr(input: Tensor) -> Tensor:
    """Flip dim 1 (left/right); needs at least 2 dims."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return Flip.apply(input, dims=(1,))


def flipud(input: Tensor) -> Tensor:
    """Flip dim 0 (up/down); needs at least 1 dim."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return Flip.apply(input, dims=(0,))


class Roll(Node):
    def forward(self, a, shifts, dims):
        self.shifts, self.dims = shifts, dims
        if dims is None:
            return xp_of(a).roll(a, shifts[0])
        return xp_of(a).roll(a, shifts, axis=dims)

    def backward(self, g):
        return Roll.apply(g, shifts=tuple(-s for s in self.shifts), dims=self.dims)


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Rotate elements along ``dims`` by ``shifts`` (over the flattened tensor when no dims).

    Example:
        >>> import tocha.core as torch
        >>> torch.arange(5).roll(2)
        tensor([3, 4, 0, 1, 2])
    """
    shifts = tuple(_int_list(shifts, "roll", "shifts"))
    if dims is None or (isinstance(dims, (list, tuple)) and not dims):
        if not shifts:
            raise RuntimeError("`shifts` required")
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return Roll.apply(input, shifts=shifts, dims=None)
    dims = _int_list(dims, "roll", "dims")
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}"
        )
    nd = input._data.ndim
    if nd == 0:
        raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    dims = tuple(norm_dim(d, nd, "roll") for d in dims)
    return Roll.apply(input, shifts=shifts, dims=dims)


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane ``dims`` (from the first towards the second).

    Example:
        >>> import tocha.core as torch
        >>> torch.tensor([[1, 2], [3, 4]]).rot90()
        tensor([[2, 4],
                [1, 3]])
    """
    dims = _int_list(dims, "rot90", "dims")
    nd = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    d0, d1 = norm_dim(dims[0], nd, "rot90"), norm_dim(dims[1], nd, "rot90")
    if d0 == d1:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = {dims[1]}"
        )
    k = int(k) % 4
    if k == 1:
        return transpose(Flip.apply(input, dims=(d1,)), d0, d1)
    if k == 2:
        return Flip.apply(input, dims=(d0, d1))
    if k == 3:
        return transpose(Flip.apply(input, dims=(d0,)), d0, d1)
    from .conversion import clone

    return clone(input)


# --- repeat / tile / repeat_interleave --------------------------------------------------------
class Repeat(Node):
    def forward(self, a, reps):
        self.in_shape, self.reps = a.shape, reps
        return xp_of(a).tile(a, reps)

    def backward(self, g):
        lead = len(self.reps) - len(self.in_shape)
        padded = (1,) * lead + tuple(self.in_shape)
        split_shape, sum_dims = [], []
        for r, s in zip(self.reps, padded):
            if r != 1:
                sum_dims.append(len(split_shape))
                split_shape.append(r)
            split_shape.append(s)
        g = g.reshape(tuple(split_shape))
        if sum_dims:
            g = g.sum(dim=tuple(sum_dims))
        return g.reshape(self.in_shape)


def repeat(self: Tensor, *sizes) -> Tensor:
    """Tile ``self`` ``sizes[i]`` times along each dim (extra leading sizes add dims).

    Example:
        >>> import tocha.core as torch
        >>> torch.tensor([1, 2]).repeat(2, 2)
        tensor([[1, 2, 1, 2],
                [1, 2, 1, 2]])
    """
    sizes = _int_list(_varargs(sizes), "repeat", "repeats")
    shape = self._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            "of tensor"
        )
    lead = len(sizes) - len(shape)
    target = sizes[:lead] + [r * s for r, s in zip(sizes[lead:], shape)]
    for v in target:
        if v < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {v}: {target}")
    return Repeat.apply(self, reps=tuple(sizes))


def tile(input: Tensor, *dims) -> Tensor:
    """Like ``repeat``, but fewer ``dims`` than the tensor has are padded with leading ones."""
    dims = _int_list(_varargs(dims), "tile", "dims")
    nd = input._data.ndim
    if len(dims) < nd:
        dims = [1] * (nd - len(dims)) + dims
    return repeat(input, dims)


class RepeatInterleave(Node):
    """Each slice along ``dim`` repeated ``reps`` times (an int, or one count per slice)."""

    def forward(self, a, dim, reps):
        self.dim, self.reps, self.n = dim, reps, a.shape[dim]
        xp = xp_of(a)
        if isinstance(reps, int):
            return xp.repeat(a, reps, axis=dim)
        return xp.repeat(a, reps if xp is np else reps.tolist(), axis=dim)

    def backward(self, g):
        if isinstance(self.reps, int):
            shp = g.shape
            d = self.dim
            return g.reshape(shp[:d] + (self.n, self.reps) + shp[d + 1 :]).sum(dim=d + 1)
        return SegmentSum.apply(g, dim=self.dim, reps=self.reps, n=self.n)


class SegmentSum(Node):
    """The adjoint of ``RepeatInterleave`` with per-slice counts: sum each run of slices."""

    def forward(self, g, dim, reps, n):
        self.dim, self.reps = dim, reps
        xp = xp_of(g)
        moved = xp.moveaxis(g, dim, 0)
        out = xp.zeros((n,) + moved.shape[1:], dtype=g.dtype)
        idx = np.repeat(np.arange(n), reps)
        _add_at(xp, out, idx if xp is np else xp.asarray(idx), moved)
        return xp.moveaxis(out, 0, dim)

    def backward(self, gg):
        return RepeatInterleave.apply(gg, dim=self.dim, reps=self.reps)


def _add_at(xp, target, idx, vals) -> None:
    """``target[idx] += vals`` with repeated indices accumulated (NumPy ``add.at``)."""
    if xp is np:
        np.add.at(target, idx, vals)
    else:
        import cupyx

        cupyx.scatter_add(target, idx, vals)


def repeat_interleave(input: Tensor, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Repeat each element (or slice along ``dim``) ``repeats`` times.

    ``repeats`` is an int or a tensor with one count per slice. ``dim=None`` flattens first.
    ``torch.repeat_interleave(counts)`` alone returns ``arange(len(counts))`` repeated.

    Example:
        >>> import tocha.core as torch
        >>> torch.tensor([[1, 2], [3, 4]]).repeat_interleave(torch.tensor([1, 2]), dim=0)
        tensor([[1, 2],
                [3, 4],
                [3, 4]])
    """
    if repeats is None:
        counts = input
        if counts._data.ndim != 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        from .._tensor import wrap

        host = counts._host().astype(np.int64)
        if (host < 0).any():
            raise RuntimeError("repeats can not be negative")
        idx = np.repeat(np.arange(host.shape[0], dtype=np.int64), host)
        xp = xp_of(counts._data)
        return wrap(idx if xp is np else xp.asarray(idx))
    if dim is None:
        input = reshape(input, -1)
        d = 0
    else:
        d = norm_dim(dim, input._data.ndim, "repeat_interleave")
    if input._data.ndim == 0:
        input = reshape(input, 1)
    n = input._data.shape[d]
    if isinstance(repeats, Tensor):
        if repeats._data.dtype.kind not in "iu":
            raise NotImplementedError(
                f"\"repeat_interleave_cpu\" not implemented for '{_scalar_name(repeats)}'"
            )
        if repeats._data.ndim > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        host = repeats._host().astype(np.int64).reshape(-1)
        if (host < 0).any():
            raise RuntimeError("repeats can not be negative")
        if host.shape[0] == 1:
            repeats = int(host[0])
        elif host.shape[0] != n:
            raise RuntimeError(
                "repeats must have the same size as input along dim, but got repeats.size(0) = "
                f"{host.shape[0]} and input.size({d}) = {n}"
            )
        else:
            return RepeatInterleave.apply(input, dim=d, reps=host)
    if not _is_int(repeats):
        raise TypeError(
            "repeat_interleave(): argument 'repeats' must be Tensor or int, not "
            f"{type(repeats).__name__}"
        )
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    return RepeatInterleave.apply(input, dim=d, reps=int(repeats))


# --- diagonal / diag_embed / diag / diagflat / tril / triu ------------------------------------
def _diag_view(a, offset: int, d1: int, d2: int):
    """A writable view of the diagonal (NumPy hands out read-only ones)."""
    out = a.diagonal(offset, d1, d2)
    if out.__class__ is _ndarray and not out.flags.writeable and a.flags.writeable:
        out.setflags(write=True)
    return out


class Diagonal(Node):
    is_view = True

    def forward(self, a, offset, d1, d2):
        self.in_shape, self.offset, self.d1, self.d2 = a.shape, offset, d1, d2
        return _diag_view(a, offset, d1, d2)

    def backward(self, g):
        return DiagonalScatter.apply(
            g, out_shape=self.in_shape, offset=self.offset, d1=self.d1, d2=self.d2
        )


class DiagonalScatter(Node):
    """Zeros of ``out_shape`` with the diagonal ``(offset, d1, d2)`` set to the input."""

    def forward(self, g, out_shape, offset, d1, d2):
        self.offset, self.d1, self.d2 = offset, d1, d2
        z = xp_of(g).zeros(out_shape, dtype=g.dtype)
        _diag_view(z, offset, d1, d2)[...] = g
        return z

    def name(self):
        return "DiagEmbedBackward0"

    def backward(self, gg):
        return Diagonal.apply(gg, offset=self.offset, d1=self.d1, d2=self.d2)


def _diag_dims(nd: int, dim1: int, dim2: int) -> tuple:
    d1, d2 = norm_dim(dim1, nd, "diagonal"), norm_dim(dim2, nd, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of the ``(dim1, dim2)`` planes as a view, appended as the last dim.

    Example:
        >>> import tocha.core as torch
        >>> torch.arange(9).reshape(3, 3).diagonal(1)
        tensor([1, 5])
    """
    d1, d2 = _diag_dims(input._data.ndim, dim1, dim2)
    return Diagonal.apply(input, offset=int(offset), d1=d1, d2=d2)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A tensor whose ``(dim1, dim2)`` diagonals (at ``offset``) hold the last dim of ``input``."""
    shape = input._data.shape
    nd = len(shape) + 1
    d1, d2 = _diag_dims(nd, dim1, dim2)
    m = (shape[-1] if shape else 1) + abs(int(offset))
    rest = iter(shape[:-1])
    out_shape = tuple(m if p in (d1, d2) else next(rest) for p in range(nd))
    return DiagonalScatter.apply(input, out_shape=out_shape, offset=int(offset), d1=d1, d2=d2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D input: a square matrix with it on diagonal ``diagonal``; 2-D: that diagonal (a copy).

    Example:
        >>> import tocha.core as torch
        >>> torch.diag(torch.tensor([1, 2]))
        tensor([[1, 0],
                [0, 2]])
    """
    nd = input._data.ndim
    if nd == 1:
        return diag_embed(input, diagonal, 0, 1)
    if nd == 2:
        from .conversion import clone

        return clone(Diagonal.apply(input, offset=int(diagonal), d1=0, d2=1))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """A 2-D tensor with the flattened ``input`` on diagonal ``offset``."""
    return diag_embed(reshape(input, -1), offset, 0, 1)


class Tril(Node):
    def forward(self, a, k):
        self.k = k
        return xp_of(a).tril(a, k)

    def backward(self, g):
        return Tril.apply(g, k=self.k)


class Triu(Node):
    def forward(self, a, k):
        self.k = k
        return xp_of(a).triu(a, k)

    def backward(self, g):
        return Triu.apply(g, k=self.k)


def tril(input: Tensor, diagonal: int = 0, *, out: Tensor | None = None) -> Tensor:
    """The lower triangle of the last two dims (on and below ``diagonal``); the rest zeros."""
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return _out(Tril.apply(input, k=int(diagonal)), out, "tril")


def triu(input: Tensor, diagonal: int = 0, *, out: Tensor | None = None) -> Tensor:
    """The upper triangle of the last two dims (on and above ``diagonal``); the rest zeros."""
    if input._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return _out(Triu.apply(input, k=int(diagonal)), out, "triu")


def _tri_indices(np_fn, row, col, offset, dtype, device):
    from .._tensor import wrap
    from .creation import _on_device

    r, c = np_fn(int(row), int(offset), int(col))
    dt = _dtype.to_dtype(dtype) if dtype is not None else _dtype.int64
    return wrap(_on_device(np.stack([r, c]).astype(dt.np), device))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None):
    """The ``2 x N`` coordinates of the lower triangle of a ``row x col`` matrix."""
    return _tri_indices(np.tril_indices, row, col, offset, dtype, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None):
    """The ``2 x N`` coordinates of the upper triangle of a ``row x col`` matrix."""
    return _tri_indices(np.triu_indices, row, col, offset, dtype, device)


# --- unfold / as_strided ----------------------------------------------------------------------
class Unfold(Node):
    """Sliding windows of ``size`` every ``step`` along ``dim``, as a strided view."""

    is_view = True

    def forward(self, a, dim, size, step):
        self.in_shape, self.dim, self.size, self.step = a.shape, dim, size, step
        n = a.shape[dim]
        nw = (n - size) // step + 1
        st = a.strides
        shape = a.shape[:dim] + (nw,) + a.shape[dim + 1 :] + (size,)
        strides = st[:dim] + (st[dim] * step,) + st[dim + 1 :] + (st[dim],)
        return xp_of(a).lib.stride_tricks.as_strided(a, shape, strides)

    def backward(self, g):
        return UnfoldBackward.apply(
            g, in_shape=self.in_shape, dim=self.dim, size=self.size, step=self.step
        )


class UnfoldBackward(Node):
    """The adjoint of ``Unfold``: windows summed back into place (overlaps accumulate)."""

    def forward(self, g, in_shape, dim, size, step):
        self.dim, self.size, self.step = dim, size, step
        xp = xp_of(g)
        z = xp.zeros(in_shape, dtype=g.dtype)
        zm = xp.moveaxis(z, dim, -1)
        gm = xp.moveaxis(g, dim, -2)  # (..., windows, size)
        nw = gm.shape[-2]
        # one strided add per window offset: each touches distinct elements, so += is exact
        for j in range(size):
            zm[..., j : j + step * (nw - 1) + 1 : step] += gm[..., j]
        return z

    def backward(self, gg):
        return Unfold.apply(gg, dim=self.dim, size=self.size, step=self.step)


def unfold(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """A view of all windows of length ``size`` taken every ``step`` along ``dimension``.

    The windows become a new last dim; ``dimension`` then counts the windows.

    Example:
        >>> import tocha.core as torch
        >>> torch.arange(5).unfold(0, 2, 1)
        tensor([[0, 1],
                [1, 2],
                [2, 3],
                [3, 4]])
    """
    nd = self._data.ndim
    a = self
    if nd == 0:
        a = reshape(self, 1)
    d = norm_dim(dimension, max(nd, 1), "unfold")
    n = a._data.shape[d]
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    out = Unfold.apply(a, dim=d, size=int(size), step=int(step))
    return reshape(out, (size,)) if nd == 0 else out


def _storage_of(arr):
    """(memory-owning root array or None, element offset of ``arr`` in it, size in elements)."""
    root = arr
    while True:
        b = root.base
        if isinstance(b, _ndarray) or (b is not None and type(b).__module__.startswith("cupy")):
            root = b
            continue
        if b is not None and isinstance(getattr(b, "base", None), _ndarray):
            root = b.base  # as_strided's DummyArray wraps the real owner
            continue
        break
    if root is arr and arr.base is not None:
        return None, 0, arr.size
    item = arr.itemsize
    return root, (_ptr(arr) - _ptr(root)) // item, root.nbytes // item


def _offsets(xp, shape, strides, start: int):
    """Element offsets (from the storage start) of every element of a strided layout."""
    off = xp.full(shape, start, dtype=np.int64)
    for i, (n, s) in enumerate(zip(shape, strides)):
        view = [1] * len(shape)
        view[i] = n
        off = off + (xp.arange(n, dtype=np.int64) * s).reshape(view)
    return off


class AsStrided(Node):
    """``input``'s storage seen with new sizes / strides / offset (a view)."""

    is_view = True

    def forward(self, a, size, stride, offset, in_offset, root):
        xp = xp_of(a)
        item = a.itemsize
        if root is not None and root.flags.c_contiguous:
            flat = root.reshape(-1).view(a.dtype) if root.dtype != a.dtype else root.reshape(-1)
            out = xp.lib.stride_tricks.as_strided(
                flat[offset:], size, tuple(s * item for s in stride)
            )
        else:
            out = xp.lib.stride_tricks.as_strided(
                _from(xp, a, offset - in_offset), size, tuple(s * item for s in stride)
            )
        in_strides = tuple(s // item for s in a.strides)
        self.in_off = _offsets(xp, a.shape, in_strides, in_offset)
        self.out_off = _offsets(xp, size, stride, offset)
        return out

    def backward(self, g):
        return StridedScatter.apply(g, in_off=self.in_off, out_off=self.out_off)


def _from(xp, a, start: int):
    """A 1-D view of the memory from element ``start`` of ``a`` on (``a`` need not be
    contiguous: its first element is the anchor)."""
    big = xp.lib.stride_tricks.as_strided(a, (start + 1,), (a.itemsize,))
    return big[start:]


def _extent(in_off, out_off) -> int:
    hi = 0
    if in_off.size:
        hi = max(hi, int(in_off.max()) + 1)
    if out_off.size:
        hi = max(hi, int(out_off.max()) + 1)
    return hi


class StridedScatter(Node):
    """The adjoint of ``AsStrided``: output elements summed into the storage slots they
    alias, read back at the input's slots."""

    def forward(self, g, in_off, out_off):
        self.in_off, self.out_off = in_off, out_off
        xp = xp_of(g)
        mem = xp.zeros(_extent(in_off, out_off), dtype=g.dtype)
        _add_at(xp, mem, out_off.reshape(-1), g.reshape(-1))
        return mem[in_off]

    def name(self):
        return "AsStridedBackward0"

    def backward(self, gg):
        return StridedGather.apply(gg, in_off=self.in_off, out_off=self.out_off)


class StridedGather(Node):
    """``as_strided`` as a copy: input written to its storage slots, read at the output's."""

    def forward(self, x, in_off, out_off):
        self.in_off, self.out_off = in_off, out_off
        xp = xp_of(x)
        mem = xp.zeros(_extent(in_off, out_off), dtype=x.dtype)
        mem[in_off] = x
        return mem[out_off]

    def backward(self, g):
        return StridedScatter.apply(g, in_off=self.in_off, out_off=self.out_off)


def as_strided(input: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:
    """A view of ``input``'s storage with the given sizes, strides (in elements) and offset.

    ``storage_offset`` defaults to the input's own offset. Gradients are exact when the input's
    elements do not overlap in memory (e.g. not an ``expand`` result).

    Example:
        >>> import tocha.core as torch
        >>> torch.arange(6).as_strided((2, 2), (1, 2))
        tensor([[0, 2],
                [1, 3]])
    """
    size = tuple(_int_list(tuple(size), "as_strided", "size"))
    stride = tuple(_int_list(tuple(stride), "as_strided", "stride"))
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise RuntimeError(
            f"as_strided: Negative strides are not supported at the moment, got strides: "
            f"{list(stride)}"
        )
    if any(s < 0 for s in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(size)}")
    a = input._data
    root, in_offset, storage = _storage_of(a)
    if root is None:  # unknown owner: treat the input's own span as the storage
        in_offset = 0
    offset = in_offset if storage_offset is None else int(storage_offset)
    if offset < in_offset and (root is None or not root.flags.c_contiguous):
        raise RuntimeError(
            f"as_strided: storage offset {offset} lies before the input's first element "
            f"(offset {in_offset}) in a storage tocha cannot address; call .contiguous() first"
        )
    need = 0 if 0 in size else offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
    if need > storage:
        item = a.itemsize
        raise RuntimeError(
            f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, "
            f"and itemsize {item} requiring a storage size of {need * item} are out of bounds "
            f"for storage of size {storage * item}"
        )
    return AsStrided.apply(
        input, size=size, stride=stride, offset=offset, in_offset=in_offset, root=root
    )


# --- select and the *_scatter ops -------------------------------------------------------------
class Select(Node):
    """``input`` at ``index`` along ``dim`` (a view without that dim)."""

    is_view = True

    def forward(self, a, dim, index):
        self.in_shape, self.dim, self.index = a.shape, dim, index
        # the trailing ... keeps a 0-dim result an array view (NumPy would return a scalar)
        return a[(_FULL,) * dim + (index, Ellipsis)]

    def backward(self, g):
        z = wrap(xp_of(g._data).zeros(self.in_shape, dtype=g._data.dtype))
        return ViewScatter.apply(z, g, kind="select", args=(self.dim, self.index), fresh=True)


def _select_view(a, dim: int, index: int):
    return a[(_FULL,) * dim + (index, Ellipsis)]


def _slice_view(a, dim: int, start: int, end: int, step: int):
    return a[(_FULL,) * dim + (slice(start, end, step),)]


_VIEWS = {"select": _select_view, "slice": _slice_view, "diagonal": _diag_view}
_SCATTER_NAMES = {
    "select": "SelectScatterBackward0",
    "slice": "SliceScatterBackward0",
    "diagonal": "DiagonalScatterBackward0",
}


def _tensor_view(t: Tensor, kind: str, args: tuple) -> Tensor:
    """The same view as ``_VIEWS[kind]`` taken with a differentiable tocha op."""
    if kind == "select":
        return Select.apply(t, dim=args[0], index=args[1])
    if kind == "slice":
        from .index import getitem

        return getitem(t, (_FULL,) * args[0] + (slice(*args[1:]),))
    return Diagonal.apply(t, offset=args[0], d1=args[1], d2=args[2])


class ViewScatter(Node):
    """A copy of ``a`` whose view ``kind(args)`` (select, slice or diagonal) holds ``src``."""

    def forward(self, a, src, kind, args, fresh=False):
        self.kind, self.args = kind, args
        out = a if fresh else a.copy()
        _VIEWS[kind](out, *args)[...] = src
        return out

    def name(self):
        return _SCATTER_NAMES[self.kind]

    def backward(self, g):
        need_a, need_src = self.needs_input_grad
        gs = _tensor_view(g, self.kind, self.args) if need_src else None
        ga = None
        if need_a:
            # g with the scattered-over view zeroed (that part of a was overwritten)
            shape = _VIEWS[self.kind](g._data, *self.args).shape
            z = wrap(xp_of(g._data).zeros(shape, dtype=g._data.dtype))
            ga = ViewScatter.apply(g, z, kind=self.kind, args=self.args)
        return ga, gs


def _check_src(src: Tensor, view_shape: tuple) -> None:
    if tuple(src._data.shape) != tuple(view_shape):
        raise RuntimeError(
            "expected src to have a size equal to the slice of self. src size = "
            f"{list(src._data.shape)}, slice size = {list(view_shape)}"
        )


def _scatter_into(input: Tensor, src: Tensor, kind: str, args: tuple) -> Tensor:
    view = _VIEWS[kind](input._data, *args)
    _check_src(src, view.shape)
    if src._data.dtype != input._data.dtype:
        src = src.to(input.dtype)
    return ViewScatter.apply(input, src, kind=kind, args=args)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice of ``input`` at ``index`` along ``dim``, as a view without that dim.

    Example:
        >>> import tocha.core as torch
        >>> torch.arange(6).reshape(2, 3).select(1, 2)
        tensor([2, 5])
    """
    nd = input._data.ndim
    if nd == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, nd, "select")
    if isinstance(index, Tensor):
        index = int(index.item())
    n = input._data.shape[d]
    if not _is_int(index) or not -n <= index < n:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size "
            f"{list(input._data.shape)} at dimension {d}"
        )
    index = int(index) % n
    if not (input._rg and MODE.grad):
        return _view_of(input, _select_view(input._data, d, index))
    return Select.apply(input, dim=d, index=index)


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """A copy of ``input`` with the slice at ``index`` along ``dim`` replaced by ``src``.

    Example:
        >>> import tocha.core as torch
        >>> torch.select_scatter(torch.zeros(2, 2), torch.ones(2), 0, 1)
        tensor([[0., 0.],
                [1., 1.]])
    """
    nd = input._data.ndim
    if nd == 0:
        raise IndexError("select_scatter() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, nd, "select_scatter")
    n = input._data.shape[d]
    if not -n <= index < n:
        raise IndexError(
            f"select_scatter(): index {index} out of range for tensor of size "
            f"{list(input._data.shape)} at dimension {d}"
        )
    return _scatter_into(input, src, "select", (d, int(index) % n))


def slice_scatter(
    input: Tensor, src: Tensor, dim: int = 0, start=None, end=None, step: int = 1
) -> Tensor:
    """A copy of ``input`` with ``input[..., start:end:step, ...]`` (along ``dim``) set to
    ``src``.

    Example:
        >>> import tocha.core as torch
        >>> torch.slice_scatter(torch.zeros(4), torch.ones(2), start=1, step=2)
        tensor([0., 1., 0., 1.])
    """
    nd = input._data.ndim
    d = norm_dim(dim, max(nd, 1), "slice_scatter")
    if step is None:
        step = 1
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    n = input._data.shape[d]
    start, end, step = slice(start, end, step).indices(n)
    return _scatter_into(input, src, "slice", (d, start, end, step))


def diagonal_scatter(
    input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1
) -> Tensor:
    """A copy of ``input`` with its ``(dim1, dim2)`` diagonal at ``offset`` set to ``src``.

    Example:
        >>> import tocha.core as torch
        >>> torch.diagonal_scatter(torch.zeros(2, 2), torch.ones(2))
        tensor([[1., 0.],
                [0., 1.]])
    """
    d1, d2 = _diag_dims(input._data.ndim, dim1, dim2)
    return _scatter_into(input, src, "diagonal", (int(offset), d1, d2))


# --- in-place view ops: the tensor itself becomes the view ------------------------------------
def _inplace_view(fn, name: str):
    """``name`` (``squeeze_``, ``t_`` ...): ``self`` takes the shape of ``fn(self, ...)``."""

    def method(self: Tensor, *args, **kwargs) -> Tensor:
        track = MODE.grad and self._rg
        if track and self.grad_fn is None:
            raise RuntimeError(
                f"{name}: a leaf Variable that requires grad is being used in an in-place "
                "operation."
            )
        if track:
            from .inplace import _alias

            res = fn(_alias(self), *args, **kwargs)
            self.grad_fn, self._nr = res.grad_fn, res._nr
        else:
            res = fn(self, *args, **kwargs)
        self._data = res._data
        return self

    method.__name__ = name
    method.__doc__ = f"In-place version of ``{fn.__name__}``: this tensor becomes the view."
    return method


# --- small queries ----------------------------------------------------------------------------
def is_same_size(input: Tensor, other: Tensor) -> bool:
    """Whether the two tensors have the same shape."""
    return input._data.shape == other._data.shape


def is_nonzero(input: Tensor) -> bool:
    """The truth value of a one-element tensor (torch's errors for empty or larger ones)."""
    n = input._data.size
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input._data.reshape(()).item())


def sum_to_size(self: Tensor, *size) -> Tensor:
    """Sum ``self`` down to ``size`` (which must expand to ``self``'s shape).

    Example:
        >>> import tocha.core as torch
        >>> torch.ones(2, 3).sum_to_size(1, 3)
        tensor([[2., 2., 2.]])
    """
    from ..autograd.engine import _sum_to

    shape = tuple(_int_list(_varargs(size), "sum_to_size", "size"))
    own = self._data.shape
    lead = len(own) - len(shape)
    if lead < 0 or any(s != 1 and s != own[lead + i] for i, s in enumerate(shape)):
        raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size {{{list(own)}}}.")
    return _sum_to(self, shape)


def storage_offset(self: Tensor) -> int:
    """The offset of this tensor's first element in its storage, in elements."""
    root, offset, _ = _storage_of(self._data)
    return int(offset) if root is not None else 0


# --- meshgrid / cartesian_prod / combinations / block_diag ------------------------------------
def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids from 1-D tensors: output ``i`` varies along dim ``i`` ('ij') or, for the
    first two, along the swapped dims ('xy', NumPy's default). The outputs are expanded views.

    Example:
        >>> import tocha.core as torch
        >>> a, b = torch.meshgrid(torch.tensor([1, 2]), torch.tensor([3, 4, 5]), indexing="ij")
        >>> a.shape
        torch.Size([2, 3])
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing "
            "argument.",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}'
        )
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if t._data.ndim > 1:
            raise RuntimeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: "
                f"{t._data.ndim}D tensor at position {i}"
            )
        if t._data.dtype != tensors[0]._data.dtype:
            raise RuntimeError(
                "torch.meshgrid: Expected all tensors in the tensor list to have the same dtype"
            )
    ts = list(tensors)
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    sizes = tuple(int(t._data.size) for t in ts)
    nd = len(ts)
    outs = []
    for i, t in enumerate(ts):
        shape = [1] * nd
        shape[i] = sizes[i]
        outs.append(expand(reshape(t, tuple(shape)), sizes))
    if swap:  # the grids were built over (second, first, ...): hand them back in input order
        outs[0], outs[1] = outs[1], outs[0]
    return tuple(outs)


def cartesian_prod(*tensors) -> Tensor:
    """The Cartesian product of 1-D tensors: one row per combination (itertools.product order).

    Example:
        >>> import tocha.core as torch
        >>> torch.cartesian_prod(torch.tensor([1, 2]), torch.tensor([3, 4]))
        tensor([[1, 3],
                [1, 4],
                [2, 3],
                [2, 4]])
    """
    for i, t in enumerate(tensors):
        if t._data.ndim != 1:
            raise RuntimeError(
                f"Expect a 1D vector, but got shape {list(t._data.shape)} (tensor {i} of "
                "cartesian_prod)"
            )
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, -1) for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """All length-``r`` combinations of the elements of a 1-D tensor, one per row
    (itertools.combinations order; ``with_replacement`` allows repeats).

    Example:
        >>> import tocha.core as torch
        >>> torch.combinations(torch.tensor([1, 2, 3]))
        tensor([[1, 2],
                [1, 3],
                [2, 3]])
    """
    import itertools

    if input._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input._data.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return wrap(xp_of(input._data).empty(0, dtype=input._data.dtype))
    n = input._data.shape[0]
    gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.array(list(gen(range(n), r)), dtype=np.intp).reshape(-1, r)
    from .index import getitem

    xp = xp_of(input._data)
    return getitem(input, wrap(xp.asarray(idx.astype(np.int64))))


def block_diag(*tensors) -> Tensor:
    """A block-diagonal matrix of the given 0-, 1- or 2-D tensors (promoted to one dtype).

    Example:
        >>> import tocha.core as torch
        >>> torch.block_diag(torch.tensor([[1, 2]]), torch.tensor(3))
        tensor([[1, 2, 0],
                [0, 0, 3]])
    """
    from ._util import result_dtype

    mats = []
    for i, t in enumerate(tensors):
        nd = t._data.ndim
        if nd > 2:
            raise RuntimeError(
                f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} "
                f"has {nd} dimensions"
            )
        mats.append(reshape(t, (1, -1)) if nd < 2 else t)
    if not mats:
        return wrap(np.empty((1, 0), dtype=_dtype.get_default_dtype().np))
    dt = result_dtype(mats)
    return BlockDiag.apply(*[m if m._data.dtype == dt.np else m.to(dt) for m in mats])


class BlockDiag(Node):
    """The 2-D inputs placed along the diagonal of a zero matrix."""

    def forward(self, *mats):
        self.spans = []
        rows = sum(m.shape[0] for m in mats)
        cols = sum(m.shape[1] for m in mats)
        out = xp_of(mats[0]).zeros((rows, cols), dtype=mats[0].dtype)
        r = c = 0
        for m in mats:
            h, w = m.shape
            out[r : r + h, c : c + w] = m
            self.spans.append((slice(r, r + h), slice(c, c + w)))
            r, c = r + h, c + w
        return out

    def backward(self, g):
        from .index import getitem

        return tuple(getitem(g, span) for span in self.spans)


FUNCTIONS = [
    "reshape",
    "permute",
    "transpose",
    "swapaxes",
    "swapdims",
    "t",
    "squeeze",
    "unsqueeze",
    "flatten",
    "unflatten",
    "ravel",
    "movedim",
    "moveaxis",
    "adjoint",
    "broadcast_to",
    "broadcast_tensors",
    "broadcast_shapes",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "row_stack",
    "dstack",
    "column_stack",
    "split",
    "split_with_sizes",
    "unsafe_split",
    "chunk",
    "unsafe_chunk",
    "tensor_split",
    "hsplit",
    "vsplit",
    "dsplit",
    "unbind",
    "narrow",
    "narrow_copy",
    "flip",
    "fliplr",
    "flipud",
    "roll",
    "rot90",
    "tile",
    "repeat_interleave",
    "diagonal",
    "diag_embed",
    "diag",
    "diagflat",
    "tril",
    "triu",
    "tril_indices",
    "triu_indices",
    "as_strided",
]
TENSOR_METHODS = {
    "reshape": reshape,
    "view": view,
    "view_as": view_as,
    "reshape_as": reshape_as,
    "expand": expand,
    "expand_as": expand_as,
    "broadcast_to": broadcast_to,
    "permute": permute,
    "transpose": transpose,
    "swapaxes": swapaxes,
    "swapdims": swapdims,
    "t": t,
    "movedim": movedim,
    "moveaxis": moveaxis,
    "adjoint": adjoint,
    "T": property(_T),
    "mT": property(_mT),
    "H": property(_H),
    "mH": property(_mH),
    "squeeze": squeeze,
    "unsqueeze": unsqueeze,
    "flatten": flatten,
    "unflatten": unflatten,
    "ravel": ravel,
    "split": _split_method,
    "split_with_sizes": split_with_sizes,
    "unsafe_split": _split_method,
    "chunk": chunk,
    "unsafe_chunk": chunk,
    "tensor_split": tensor_split,
    "hsplit": hsplit,
    "vsplit": vsplit,
    "dsplit": dsplit,
    "unbind": unbind,
    "narrow": narrow,
    "narrow_copy": narrow_copy,
    "flip": flip,
    "fliplr": fliplr,
    "flipud": flipud,
    "roll": roll,
    "rot90": rot90,
    "repeat": repeat,
    "tile": tile,
    "repeat_interleave": repeat_interleave,
    "diagonal": diagonal,
    "diag_embed": diag_embed,
    "diag": diag,
    "diagflat": diagflat,
    "tril": tril,
    "triu": triu,
    "unfold": unfold,
    "as_strided": as_strided,
}
INPLACE: dict = {"tril_": tril, "triu_": triu}
FUNCTIONS += [
    "select",
    "select_scatter",
    "slice_scatter",
    "diagonal_scatter",
    "is_same_size",
    "is_nonzero",
    "meshgrid",
    "cartesian_prod",
    "combinations",
    "block_diag",
]
TENSOR_METHODS.update(
    {
        "select": select,
        "select_scatter": select_scatter,
        "slice_scatter": slice_scatter,
        "diagonal_scatter": diagonal_scatter,
        "is_same_size": is_same_size,
        "is_nonzero": is_nonzero,
        "sum_to_size": sum_to_size,
        "storage_offset": storage_offset,
        "squeeze_": _inplace_view(squeeze, "squeeze_"),
        "unsqueeze_": _inplace_view(unsqueeze, "unsqueeze_"),
        "t_": _inplace_view(t, "t_"),
        "transpose_": _inplace_view(transpose, "transpose_"),
        "swapdims_": _inplace_view(transpose, "swapdims_"),
        "swapaxes_": _inplace_view(transpose, "swapaxes_"),
    }
)
