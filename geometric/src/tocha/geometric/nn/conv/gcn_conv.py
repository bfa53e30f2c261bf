"""GCNConv and gcn_norm (torch_geometric.nn.conv.GCNConv, Kipf & Welling 2017)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Parameter

from ...utils._scatter import scatter
from ...utils.loop import add_remaining_self_loops
from .._spmm import _rows
from ..dense.linear import Linear
from ..inits import zeros
from .message_passing import MessagePassing

__all__ = ["GCNConv", "gcn_norm"]


def gcn_norm(
    edge_index: Tensor,
    edge_weight: Tensor | None = None,
    num_nodes: int | None = None,
    improved: bool = False,
    add_self_loops: bool = True,
    flow: str = "source_to_target",
    dtype=None,
):
    """Symmetric normalisation ``D^-1/2 (A + I) D^-1/2`` of the edge weights.

    Returns:
        ``(edge_index, edge_weight)``, with the self-loops (weight 1, or 2 if ``improved``)
        appended when ``add_self_loops``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn.conv.gcn_conv import gcn_norm
        >>> ei, w = gcn_norm(torch.tensor([[0, 1], [1, 0]]), add_self_loops=False)
        >>> w
        tensor([1., 1.])
    """
    fill_value = 2.0 if improved else 1.0
    if num_nodes is None:
        num_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 0
    if add_self_loops:
        edge_index, edge_weight = add_remaining_self_loops(
            edge_index, edge_weight, fill_value, num_nodes
        )
    if edge_weight is None:
        # as torch_geometric 2.x: without edge weights every edge, self-loops included, weighs 1
        # (so ``improved`` only acts when edge weights are given)
        # ones_like (not ones(E)): an ONNX export reads the number of edges at run time
        edge_weight = torch.ones_like(edge_index[0], dtype=dtype or torch.get_default_dtype())
    row, col = _rows(edge_index)
    idx = col if flow == "source_to_target" else row
    deg = scatter(edge_weight, idx, dim=0, dim_size=num_nodes, reduce="sum")
    # isolated nodes get 0 (torch_geometric masks the inf of 0 ** -0.5)
    zero = deg == 0
    dis = torch.where(zero, torch.ones_like(deg), deg).pow(-0.5).masked_fill(zero, 0.0)
    edge_weight = dis.index_select(0, row) * edge_weight * dis.index_select(0, col)
    return edge_index, edge_weight


def _layer_gcn_norm(conv, x: Tensor, edge_index: Tensor, edge_weight, improved: bool = False):
    """``gcn_norm`` with a layer's own ``add_self_loops`` and ``flow``, for the nodes of ``x``
    and in its dtype (the normalisation GCN-style layers apply before propagating)."""
    return gcn_norm(
        edge_index,
        edge_weight,
        x.size(conv.node_dim),
        improved,
        conv.add_self_loops,
        conv.flow,
        dtype=x.dtype,
    )


def _cached_gcn_norm(conv, x: Tensor, edge_index: Tensor, edge_weight, improved: bool = False):
    """``_layer_gcn_norm``, reused from ``conv._cached_edge_index`` once that is set; it is set
    only when ``conv.cached`` (transductive: the one graph is normalised once, as in PyG)."""
    if conv._cached_edge_index is not None:
        return conv._cached_edge_index
    edge_index, edge_weight = _layer_gcn_norm(conv, x, edge_index, edge_weight, improved)
    if conv.cached:
        conv._cached_edge_index = (edge_index, edge_weight)
    return edge_index, edge_weight


class GCNConv(MessagePassing):
    """Graph convolution ``X' = D^-1/2 (A + I) D^-1/2 X W + b``.

    Args:
        in_channels: input feature size (-1 for lazy).
        out_channels: output feature size.
        improved: self-loops get weight 2.
        cached: compute the normalisation once and reuse it (transductive settings).
        add_self_loops: add self-loops (default: ``normalize``).
        normalize: apply the symmetric normalisation.
        bias: learn an additive bias.

    On the CPU the aggregation runs as one sparse matrix product (``fuse = True``); set
    ``conv.fuse = False`` for the plain gather + scatter path (same numbers).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import GCNConv
        >>> _ = torch.manual_seed(0)
        >>> conv = GCNConv(3, 2)
        >>> conv(torch.ones(4, 3), torch.tensor([[0, 1, 2], [1, 2, 3]])).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        improved: bool = False,
        cached: bool = False,
        add_self_loops: bool | None = None,
        normalize: bool = True,
        bias: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        if add_self_loops is None:
            add_self_loops = normalize
        if add_self_loops and not normalize:
            raise ValueError(
                "GCNConv does not support adding self-loops to the graph when no on-the-fly "
                "normalization is applied"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.improved = improved
        self.cached = cached
        self.add_self_loops = add_self_loops
        self.normalize = normalize
        self.fuse = True
        self._cached_edge_index = None
        self.lin = Linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        if bias:
            self.bias = Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin.reset_parameters()
        if self.bias is not None:
            zeros(self.bias)
        self._cached_edge_index = None

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        if isinstance(x, (tuple, list)):
            raise ValueError(
                f"'{type(self).__name__}' received a tuple of node features as input while this "
                f"layer does not support bipartite message passing. Please try other layers such "
                f"as 'SAGEConv' or 'GraphConv' instead"
            )
        if self.normalize:
            edge_index, edge_weight = _cached_gcn_norm(
                self, x, edge_index, edge_weight, self.improved
            )
        x = self.lin(x)
        out = self._fused(edge_index, x, edge_weight)
        if out is None:
            out = self.propagate(edge_index, x=x, edge_weight=edge_weight)
        if self.bias is not None:
            out = out + self.bias
        return out

    def message(self, x_j: Tensor, edge_weight: Tensor | None) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j
