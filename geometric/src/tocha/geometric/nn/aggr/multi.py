"""Variance / standard deviation aggregations and MultiAggregation (torch_geometric.nn.aggr)."""

from __future__ import annotations

import math

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import ModuleList

from .base import Aggregation

__all__ = ["VarAggregation", "StdAggregation", "MultiAggregation"]


class VarAggregation(Aggregation):
    """Feature-wise variance of each group, ``E[x^2] - E[x]^2``."""

    def __init__(self, semi_grad: bool = False) -> None:
        super().__init__()
        self.semi_grad = semi_grad

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2) -> Tensor:
        mean = self.reduce(x, index, ptr, dim_size, dim, reduce="mean")
        if self.semi_grad:
            with torch.no_grad():
                mean2 = self.reduce(x * x, index, ptr, dim_size, dim, "mean")
        else:
            mean2 = self.reduce(x * x, index, ptr, dim_size, dim, "mean")
        return mean2 - mean * mean


class StdAggregation(Aggregation):
    """Feature-wise standard deviation of each group (0 where the variance is below 1e-5)."""

    def __init__(self) -> None:
        super().__init__()
        self.var_aggr = VarAggregation()

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2) -> Tensor:
        var = self.var_aggr(x, index, ptr, dim_size, dim)
        out = var.clamp(min=1e-5).sqrt()
        return out.masked_fill(out <= math.sqrt(1e-5), 0.0)


class MultiAggregation(Aggregation):
    """Several aggregations of the same groups, combined by ``mode``: ``'cat'`` (default, along
    the features), ``'sum'``, ``'mean'``, ``'max'`` or ``'min'``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn.aggr import MultiAggregation
        >>> aggr = MultiAggregation(["mean", "max"])
        >>> aggr(torch.tensor([[1.0], [3.0], [2.0]]), torch.tensor([0, 0, 1]))
        tensor([[2., 3.],
                [2., 2.]])
    """

    def __init__(self, aggrs: list, aggrs_kwargs=None, mode: str = "cat", mode_kwargs=None):
        super().__init__()
        from . import aggregation_resolver

        if not isinstance(aggrs, (list, tuple)) or len(aggrs) == 0:
            raise ValueError("MultiAggregation: 'aggrs' must be a non-empty list")
        kwargs = aggrs_kwargs or [{}] * len(aggrs)
        if len(kwargs) != len(aggrs):
            raise ValueError("MultiAggregation: 'aggrs_kwargs' must match 'aggrs' in length")
        if mode not in ("cat", "sum", "mean", "max", "min"):
            raise ValueError(f"MultiAggregation: mode '{mode}' is not supported")
        self.aggrs = ModuleList([aggregation_resolver(a, **kw) for a, kw in zip(aggrs, kwargs)])
        self.mode = mode

    def get_out_channels(self, in_channels: int) -> int:
        return in_channels * len(self.aggrs) if self.mode == "cat" else in_channels

    def reset_parameters(self) -> None:
        for a in self.aggrs:
            a.reset_parameters()

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2) -> Tensor:
        outs = [a(x, index, ptr=ptr, dim_size=dim_size, dim=dim) for a in self.aggrs]
        if self.mode == "cat":
            return torch.cat(outs, dim=-1)
        stacked = torch.stack(outs, dim=0)
        if self.mode == "sum":
            return stacked.sum(0)
        if self.mode == "mean":
            return stacked.mean(0)
        return getattr(stacked, self.mode)(0)[0]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}([{', '.join(repr(a) for a in self.aggrs)}], mode={self.mode})"
        )
