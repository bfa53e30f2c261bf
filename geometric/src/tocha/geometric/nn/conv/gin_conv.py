"""GINConv and GINEConv (torch_geometric.nn.conv, Xu et al. 2019; Hu et al. 2020)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Module, Parameter

from ..dense.linear import Linear
from ..inits import reset
from .message_passing import MessagePassing

__all__ = ["GINConv", "GINEConv"]


class GINConv(MessagePassing):
    """``x'_i = nn((1 + eps) x_i + sum_{j in N(i)} x_j)`` (graph isomorphism network).

    Args:
        nn: the MLP applied after aggregation.
        eps: initial epsilon.
        train_eps: learn epsilon (a parameter) instead of keeping it fixed (a buffer).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import GINConv
        >>> conv = GINConv(torch.nn.Identity())
        >>> conv(torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[0, 2], [1, 1]]))
        tensor([[1.],
                [7.],
                [4.]])
    """

    def __init__(self, nn: Module, eps: float = 0.0, train_eps: bool = False, **kwargs) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.nn = nn
        self.initial_eps = eps
        self.fuse = True
        if train_eps:
            self.eps = Parameter(torch.empty(1))
        else:
            self.register_buffer("eps", torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset(self.nn)
        with torch.no_grad():
            self.eps.fill_(self.initial_eps)

    def forward(self, x, edge_index: Tensor, size=None) -> Tensor:
        if isinstance(x, Tensor):
            x = (x, x)
        out = self._fused(edge_index, x, None, size)
        if out is None:
            out = self.propagate(edge_index, x=x, size=size)
        if x[1] is not None:
            out = out + (1 + self.eps) * x[1]
        return self.nn(out)

    def message(self, x_j: Tensor) -> Tensor:
        return x_j

    def __repr__(self) -> str:
        return f"{type(self).__name__}(nn={self.nn})"


def _first_in_features(nn: Module) -> int:
    for name in ("in_features", "in_channels"):
        if hasattr(nn, name):
            return getattr(nn, name)
    for child in nn.children():
        try:
            return _first_in_features(child)
        except ValueError:
            continue
    raise ValueError("GINEConv: could not infer input channels from 'nn'")


class GINEConv(MessagePassing):
    """``x'_i = nn((1 + eps) x_i + sum_j relu(x_j + e_ji))`` with edge features.

    Args:
        nn: the MLP applied after aggregation.
        eps: initial epsilon.
        train_eps: learn epsilon.
        edge_dim: edge feature size; if given, edge features are first mapped to the node size.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import GINEConv
        >>> conv = GINEConv(torch.nn.Linear(3, 4), edge_dim=2)
        >>> conv(torch.ones(3, 3), torch.tensor([[0, 1], [1, 2]]), torch.ones(2, 2)).shape
        torch.Size([3, 4])
    """

    def __init__(
        self,
        nn: Module,
        eps: float = 0.0,
        train_eps: bool = False,
        edge_dim: int | None = None,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.nn = nn
        self.initial_eps = eps
        if train_eps:
            self.eps = Parameter(torch.empty(1))
        else:
            self.register_buffer("eps", torch.empty(1))
        if edge_dim is not None:
            self.lin = Linear(edge_dim, _first_in_features(nn))
        else:
            self.lin = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset(self.nn)
        with torch.no_grad():
            self.eps.fill_(self.initial_eps)
        if self.lin is not None:
            self.lin.reset_parameters()

    def forward(self, x, edge_index: Tensor, edge_attr: Tensor | None = None, size=None):
        if isinstance(x, Tensor):
            x = (x, x)
        out = self.propagate(edge_index, x=x, edge_attr=edge_attr, size=size)
        if x[1] is not None:
            out = out + (1 + self.eps) * x[1]
        return self.nn(out)

    def message(self, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        if self.lin is None and x_j.size(-1) != edge_attr.size(-1):
            raise ValueError(
                "GINEConv: node and edge feature dimensionalities do not match "
                f"({x_j.size(-1)} != {edge_attr.size(-1)}); consider setting 'edge_dim'"
            )
        if self.lin is not None:
            edge_attr = self.lin(edge_attr)
        return (x_j + edge_attr).relu()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(nn={self.nn})"
