"""GraphConv (torch_geometric.nn.conv.GraphConv, Morris et al. 2019)."""

from __future__ import annotations

from tocha.core import Tensor

from ..dense.linear import Linear
from .message_passing import MessagePassing

__all__ = ["GraphConv"]


class GraphConv(MessagePassing):
    """``x'_i = W_1 x_i + W_2 aggr_{j in N(i)} e_ji x_j``.

    Args:
        in_channels: input size, or ``(source, target)`` sizes for bipartite graphs.
        out_channels: output size.
        aggr: the neighbourhood reduction (default ``'add'``).
        bias: bias of ``lin_rel``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import GraphConv
        >>> GraphConv(3, 2)(torch.ones(4, 3), torch.tensor([[0, 1], [1, 2]])).shape
        torch.Size([4, 2])
    """

    def __init__(self, in_channels, out_channels: int, aggr: str = "add", bias: bool = True, **kw):
        super().__init__(aggr=aggr, **kw)
        self.in_channels = in_channels
        self.out_channels = out_channels
        if isinstance(in_channels, int):
            in_channels = (in_channels, in_channels)
        self.fuse = True
        self.lin_rel = Linear(in_channels[0], out_channels, bias=bias)
        self.lin_root = Linear(in_channels[1], out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin_rel.reset_parameters()
        self.lin_root.reset_parameters()

    def forward(self, x, edge_index: Tensor, edge_weight: Tensor | None = None, size=None):
        if isinstance(x, Tensor):
            x = (x, x)
        out = self._fused(edge_index, x, edge_weight, size)
        if out is None:
            out = self.propagate(edge_index, x=x, edge_weight=edge_weight, size=size)
        out = self.lin_rel(out)
        if x[1] is not None:
            out = out + self.lin_root(x[1])
        return out

    def message(self, x_j: Tensor, edge_weight: Tensor | None) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j
