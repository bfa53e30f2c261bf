"""Aggregation modules (torch_geometric.nn.aggr)."""

from __future__ import annotations

from .attention import AttentionalAggregation
from .base import Aggregation
from .basic import (
    MaxAggregation,
    MeanAggregation,
    MinAggregation,
    MulAggregation,
    SoftmaxAggregation,
    SumAggregation,
)
from .lstm import LSTMAggregation
from .multi import MultiAggregation, StdAggregation, VarAggregation

__all__ = [
    "Aggregation",
    "SumAggregation",
    "MeanAggregation",
    "MaxAggregation",
    "MinAggregation",
    "MulAggregation",
    "SoftmaxAggregation",
    "AttentionalAggregation",
    "LSTMAggregation",
    "VarAggregation",
    "StdAggregation",
    "MultiAggregation",
    "aggregation_resolver",
]

_BY_NAME = {
    "sum": SumAggregation,
    "add": SumAggregation,
    "mean": MeanAggregation,
    "max": MaxAggregation,
    "min": MinAggregation,
    "mul": MulAggregation,
    "softmax": SoftmaxAggregation,
    "lstm": LSTMAggregation,
    "var": VarAggregation,
    "std": StdAggregation,
}


def aggregation_resolver(query, *args, **kwargs) -> Aggregation:
    """An Aggregation from a name (``'sum'``, ``'mean'``, ``'max'``, ...) or an instance."""
    if isinstance(query, Aggregation):
        return query
    if isinstance(query, str):
        key = query.lower().replace("aggregation", "")
        cls = _BY_NAME.get(key)
        if cls is not None:
            return cls(*args, **kwargs)
    raise ValueError(f"aggregation_resolver: could not resolve '{query}' among {sorted(_BY_NAME)}")
