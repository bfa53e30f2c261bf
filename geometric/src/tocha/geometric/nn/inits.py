"""Parameter initialisers with torch_geometric's names (torch_geometric.nn.inits)."""

from __future__ import annotations

import math

import tocha.core as torch
from tocha.core import Tensor

__all__ = ["glorot", "zeros", "ones", "uniform", "reset", "kaiming_uniform", "constant"]


def uniform(size: int, value) -> None:
    """Fill ``value`` from U(-1/sqrt(size), 1/sqrt(size))."""
    if isinstance(value, Tensor):
        bound = 1.0 / math.sqrt(size)
        with torch.no_grad():
            value.uniform_(-bound, bound)
    else:
        for v in _children(value, "parameters"):
            uniform(size, v)


def kaiming_uniform(value: Tensor, fan: int, a: float) -> None:
    bound = math.sqrt(6 / ((1 + a**2) * fan))
    with torch.no_grad():
        value.uniform_(-bound, bound)


def glorot(value) -> None:
    """Glorot/Xavier uniform over the last two dimensions.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn.inits import glorot
        >>> w = torch.empty(3, 4); glorot(w); bool(w.abs().max() <= (6 / 7) ** 0.5)
        True
    """
    if isinstance(value, Tensor):
        stdv = math.sqrt(6.0 / (value.size(-2) + value.size(-1)))
        with torch.no_grad():
            value.uniform_(-stdv, stdv)
    else:
        for v in _children(value, "parameters"):
            glorot(v)


def constant(value, fill_value: float) -> None:
    if isinstance(value, Tensor):
        with torch.no_grad():
            value.fill_(fill_value)
    else:
        for v in _children(value, "parameters"):
            constant(v, fill_value)


def zeros(value) -> None:
    constant(value, 0.0)


def ones(value) -> None:
    constant(value, 1.0)


def reset(value) -> None:
    """Call ``reset_parameters`` on a module and its children (PyG's ``reset``)."""
    if hasattr(value, "reset_parameters"):
        value.reset_parameters()
        return
    for child in _children(value, "children"):
        reset(child)


def _children(value, attr: str):
    if value is None:
        return []
    fn = getattr(value, attr, None)
    return list(fn()) if fn is not None else []
