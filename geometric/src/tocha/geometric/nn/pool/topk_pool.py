"""TopKPooling and SAGPooling (torch_geometric.nn.pool)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core.nn import Module

from ..conv.graph_conv import GraphConv
from .select import SelectTopK, filter_adj

__all__ = ["TopKPooling", "SAGPooling"]


def _pool(x, edge_index, edge_attr, batch, score, perm, multiplier):
    x = x[perm] * score[perm].view(-1, 1)
    if multiplier != 1:
        x = multiplier * x
    edge_index, edge_attr = filter_adj(edge_index, edge_attr, perm, score.size(0))
    return x, edge_index, edge_attr, batch[perm], perm, score[perm]


class TopKPooling(Module):
    """Keeps the ``ratio`` best-scoring nodes of each graph (Gao & Ji 2019; Cangea et al.).

    Returns:
        ``(x, edge_index, edge_attr, batch, perm, score)`` of the pooled graph.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import TopKPooling
        >>> pool = TopKPooling(3, ratio=0.5)
        >>> x, ei, _, b, perm, s = pool(torch.randn(4, 3), torch.tensor([[0, 1, 2], [1, 2, 3]]))
        >>> x.shape, perm.shape
        (torch.Size([2, 3]), torch.Size([2]))
    """

    def __init__(
        self,
        in_channels: int,
        ratio=0.5,
        min_score: float | None = None,
        multiplier: float = 1.0,
        nonlinearity="tanh",
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.ratio = ratio
        self.min_score = min_score
        self.multiplier = multiplier
        self.select = SelectTopK(in_channels, ratio, min_score, nonlinearity)

    def reset_parameters(self) -> None:
        self.select.reset_parameters()

    def forward(self, x, edge_index, edge_attr=None, batch=None, attn=None):
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        attn = x if attn is None else attn
        score, perm = self.select(attn, batch)
        return _pool(x, edge_index, edge_attr, batch, score, perm, self.multiplier)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, ratio={self.ratio})"


class SAGPooling(Module):
    """Self-attention graph pooling: scores from a one-channel GNN, then top-k (Lee et al. 2019).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import SAGPooling
        >>> pool = SAGPooling(3, ratio=0.5)
        >>> pool(torch.randn(4, 3), torch.tensor([[0, 1, 2], [1, 2, 3]]))[0].shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        in_channels: int,
        ratio=0.5,
        GNN: type = GraphConv,
        min_score: float | None = None,
        multiplier: float = 1.0,
        nonlinearity="tanh",
        **kwargs,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.ratio = ratio
        self.min_score = min_score
        self.multiplier = multiplier
        self.gnn = GNN(in_channels, 1, **kwargs)
        self.select = SelectTopK(1, ratio, min_score, nonlinearity)

    def reset_parameters(self) -> None:
        self.gnn.reset_parameters()
        self.select.reset_parameters()

    def forward(self, x, edge_index, edge_attr=None, batch=None, attn=None):
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        attn = x if attn is None else attn
        attn = attn.view(-1, 1) if attn.dim() == 1 else attn
        attn = self.gnn(attn, edge_index)
        score, perm = self.select(attn, batch)
        return _pool(x, edge_index, edge_attr, batch, score, perm, self.multiplier)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.gnn).__name__}, {self.in_channels}, ratio={self.ratio})"
