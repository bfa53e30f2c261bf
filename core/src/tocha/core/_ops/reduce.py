"""Reductions: sum, mean, ... (dim / keepdim / dtype as torch)."""

from __future__ import annotations

import numpy as np

from .. import _dtype
from .._tensor import Tensor
from ..autograd.function import Node
from ._util import norm_dims, xp_of


def _keep_shape(shape: tuple, dims: tuple) -> tuple:
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def expand_reduced(g: Tensor, in_shape: tuple, dims: tuple, keepdim: bool) -> Tensor:
    """Broadcast a reduction's gradient back over the reduced dims (shared by reductions)."""
    if not keepdim:
        g = g.reshape(_keep_shape(in_shape, dims))
    return g.expand(in_shape)


class Sum(Node):
    def forward(self, a, dims=None, keepdim=False, dt=None):
        self.in_shape = a.shape
        self.dims = dims
        self.keepdim = keepdim
        if dt is None and a.dtype.kind in "biu":
            dt = np.int64
        return xp_of(a).sum(a, axis=dims, keepdims=keepdim, dtype=dt)

    def backward(self, g):
        return expand_reduced(g, self.in_shape, self.dims, self.keepdim)


class Mean(Node):
    def forward(self, a, dims=None, keepdim=False, dt=None):
        self.in_shape = a.shape
        self.dims = dims
        self.keepdim = keepdim
        n = 1
        for d in dims:
            n *= a.shape[d]
        self.n = n
        return xp_of(a).mean(a, axis=dims, keepdims=keepdim, dtype=dt)

    def backward(self, g):
        return expand_reduced(g, self.in_shape, self.dims, self.keepdim) / self.n


def _dims_arg(input: Tensor, dim, op: str):
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        dim = None
    return norm_dims(dim, input._data.ndim, op)


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum over ``dim`` (all dims when None); bool and integer inputs sum to int64.

    Example:
        >>> import tocha.core as torch
        >>> torch.tensor([[1, 2], [3, 4]]).sum(dim=0)
        tensor([4, 6])
    """
    dims = _dims_arg(input, dim, "sum")
    dt = _dtype.to_dtype(dtype).np if dtype is not None else None
    return Sum.apply(input, dims=dims, keepdim=keepdim, dt=dt)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Arithmetic mean over ``dim``; the input must be floating or complex (or give ``dtype``)."""
    if dtype is None and input._data.dtype.kind not in "fcV":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {input.dtype.name.capitalize()}"
        )
    dims = _dims_arg(input, dim, "mean")
    dt = _dtype.to_dtype(dtype).np if dtype is not None else None
    return Mean.apply(input, dims=dims, keepdim=keepdim, dt=dt)


FUNCTIONS = ["sum", "mean"]
TENSOR_METHODS = {"sum": sum, "mean": mean}
INPLACE: dict = {}
