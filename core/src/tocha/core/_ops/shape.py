"""Shape ops: view/reshape, expand, permute/transpose, squeeze/unsqueeze, flatten, ...

Views share memory and the version counter with their input, like torch.
"""

from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from ..autograd.function import Node
from ._util import norm_dim, shape_arg, xp_of


def infer_shape(shape: tuple, numel: int, op: str) -> tuple:
    """Resolve one ``-1`` in ``shape`` against ``numel`` elements (torch's rules and errors)."""
    shape = tuple(int(s) for s in shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"{op}: invalid shape dimension {s}")
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
        if out.base is None and out.size:
            self.is_view = False  # reshape had to copy: the result is not a view
        return out

    def name(self):
        return "ViewBackward0"

    def backward(self, g):
        return g.reshape(self.in_shape)


def reshape(input: Tensor, *shape) -> Tensor:
    """The same data with a new shape (a view when the strides allow, else a copy)."""
    shape = infer_shape(shape_arg(shape, "reshape"), input._data.size, "reshape")
    if shape == input._data.shape:
        return Reshape.apply(input, shape=shape) if input._rg else _alias_view(input)
    return Reshape.apply(input, shape=shape)


def _alias_view(t: Tensor) -> Tensor:
    return Reshape.apply(t, shape=t._data.shape)


def view(self: Tensor, *shape) -> Tensor:
    """A view with a new shape; raises when the memory layout makes a view impossible."""
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, np.integer)):
        from .. import _dtype

        dt = _dtype.to_dtype(shape[0])
        from .._tensor import wrap

        out = wrap(self._data.view(dt.np))
        out._share_version(self)
        return out
    shape = infer_shape(shape_arg(shape, "view"), self._data.size, "view")
    return Reshape.apply(self, shape=shape, must_view=True)


def view_as(self: Tensor, other: Tensor) -> Tensor:
    return view(self, other._data.shape)


def reshape_as(self: Tensor, other: Tensor) -> Tensor:
    return reshape(self, other._data.shape)


class Expand(Node):
    is_view = True

    def forward(self, a, shape):
        return xp_of(a).broadcast_to(a, shape)

    def backward(self, g):
        return g  # the engine sums it back to the input's shape


def expand(self: Tensor, *sizes) -> Tensor:
    """A broadcast view of ``self`` with singleton dims repeated (``-1`` keeps a dim)."""
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
    nd = input._data.ndim
    if nd == 0:
        return _alias_view(input)
    d0, d1 = norm_dim(dim0, nd, "transpose"), norm_dim(dim1, nd, "transpose")
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(input, dims=tuple(dims))


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dims."""
    if input._data.ndim > 2:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D"
        )
    return transpose(input, 0, 1) if input._data.ndim == 2 else _alias_view(input)


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove size-1 dims (all of them, or those in ``dim``)."""
    shape = input._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        nd = len(shape)
        drop = {norm_dim(d, nd, "squeeze") for d in dims} if nd else set()
        new = tuple(s for i, s in enumerate(shape) if not (i in drop and s == 1))
    return Reshape.apply(input, shape=new)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim``."""
    nd = input._data.ndim
    d = norm_dim(dim, nd + 1, "unsqueeze")
    shape = input._data.shape
    return Reshape.apply(input, shape=shape[:d] + (1,) + shape[d:])


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    shape = input._data.shape
    nd = len(shape)
    if nd == 0:
        return Reshape.apply(input, shape=(1,))
    s, e = norm_dim(start_dim, nd, "flatten"), norm_dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    n = 1
    for x in shape[s : e + 1]:
        n *= x
    return reshape(input, shape[:s] + (n,) + shape[e + 1 :])


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
]
TENSOR_METHODS = {
    "reshape": reshape,
    "view": view,
    "view_as": view_as,
    "reshape_as": reshape_as,
    "expand": expand,
    "expand_as": expand_as,
    "permute": permute,
    "transpose": transpose,
    "swapaxes": swapaxes,
    "swapdims": swapdims,
    "t": t,
    "squeeze": squeeze,
    "unsqueeze": unsqueeze,
    "flatten": flatten,
}
INPLACE: dict = {}
