"""Attention-gated aggregation (torch_geometric.nn.aggr.AttentionalAggregation)."""

from __future__ import annotations

from tocha.core import Tensor
from tocha.core.nn import Module

from ...utils._softmax import softmax
from ..inits import reset
from .base import Aggregation

__all__ = ["AttentionalAggregation"]


class AttentionalAggregation(Aggregation):
    """``sum_i softmax(gate_nn(x))_i * nn(x_i)`` per group (Li et al., gated graph networks).

    Args:
        gate_nn: maps ``x`` to one score per row (or one per channel).
        nn: optional feature transform applied before weighting.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn.aggr import AttentionalAggregation
        >>> pool = AttentionalAggregation(torch.nn.Linear(3, 1))
        >>> pool(torch.ones(5, 3), torch.tensor([0, 0, 1, 1, 1])).shape
        torch.Size([2, 3])
    """

    def __init__(self, gate_nn: Module, nn: Module | None = None) -> None:
        super().__init__()
        self.gate_nn = gate_nn
        self.nn = nn
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.gate_nn)
        if self.nn is not None:
            reset(self.nn)

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2) -> Tensor:
        if x.dim() != 2:
            raise ValueError(
                f"AttentionalAggregation: expects a two-dimensional input, got {x.dim()} dims"
            )
        gate = self.gate_nn(x)
        x = self.nn(x) if self.nn is not None else x
        if gate.dim() == 1:
            gate = gate.view(-1, 1)
        if gate.shape[0] != x.shape[0]:
            raise ValueError(
                f"AttentionalAggregation: gate has {gate.shape[0]} rows but x has {x.shape[0]}"
            )
        gate = softmax(gate, index, ptr, dim_size, 0)
        return self.reduce(gate * x, index, ptr, dim_size, 0, reduce="sum")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(gate_nn={self.gate_nn}, nn={self.nn})"
