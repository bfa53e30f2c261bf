"""GATConv and GATv2Conv (torch_geometric.nn.conv; Velickovic et al. 2018, Brody et al. 2022)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Parameter

from ...utils._softmax import softmax
from ...utils.loop import add_self_loops, remove_self_loops
from ..dense.linear import Linear
from ..inits import glorot, zeros
from .message_passing import MessagePassing

__all__ = ["GATConv", "GATv2Conv"]

F = torch.nn.functional


def _loops(conv, edge_index, edge_attr, n_src: int, x_dst, size):
    num_nodes = n_src if x_dst is None else min(n_src, x_dst.size(0))
    num_nodes = min(size) if size is not None else num_nodes
    edge_index, edge_attr = remove_self_loops(edge_index, edge_attr)
    return add_self_loops(edge_index, edge_attr, fill_value=conv.fill_value, num_nodes=num_nodes)


def _add_res_and_bias(conv, n_dst_in: int, residual: bool, bias: bool) -> None:
    """Registers GAT's optional linear skip ``res`` (from the ``n_dst_in``-wide target
    features) and ``bias``, both as wide as the output (``heads * out_channels`` when heads are
    concatenated); an absent one is registered as ``None``, as in PyG."""
    total = conv.out_channels * (conv.heads if conv.concat else 1)
    if residual:
        conv.res = Linear(n_dst_in, total, bias=False, weight_initializer="glorot")
    else:
        conv.register_parameter("res", None)
    if bias:
        conv.bias = Parameter(torch.empty(total))
    else:
        conv.register_parameter("bias", None)


def _finish(conv, x_src, x_dst, edge_index, alpha, res, size, ret_att):
    n_dst = x_dst.size(0) if x_dst is not None else (size[1] if size is not None else x_src.size(0))
    out = conv._fused(edge_index, (x_src, x_dst), alpha, (x_src.size(0), n_dst))
    if out is None:
        out = conv.propagate(edge_index, x=(x_src, x_dst), alpha=alpha, size=size)
    H, C = conv.heads, conv.out_channels
    out = out.reshape(-1, H * C) if conv.concat else out.mean(dim=1)
    if res is not None:
        out = out + res
    if conv.bias is not None:
        out = out + conv.bias
    if ret_att:
        return out, (edge_index, alpha)
    return out


class GATConv(MessagePassing):
    """Graph attention: ``x'_i = sum_j alpha_ij W x_j`` with
    ``alpha_ij = softmax_j(leaky_relu(a_src . W x_j + a_dst . W x_i [+ a_edge . W_e e_ij]))``.

    Args:
        in_channels: input size, or ``(source, target)`` sizes (separate ``lin_src``/``lin_dst``).
        out_channels: size per head.
        heads: number of attention heads.
        concat: concatenate the heads (else average them).
        negative_slope: leaky ReLU slope.
        dropout: dropout on the attention coefficients (training only).
        add_self_loops: add self-loops (existing ones are replaced).
        edge_dim: edge feature size (enables ``lin_edge``/``att_edge``).
        fill_value: self-loop edge features (``'mean'`` of the incoming edges by default).
        bias: learn an additive bias.
        residual: add ``res(x)`` (a linear skip connection).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import GATConv
        >>> conv = GATConv(3, 4, heads=2)
        >>> out, (ei, alpha) = conv(torch.ones(4, 3), torch.tensor([[0, 1], [1, 2]]),
        ...                         return_attention_weights=True)
        >>> out.shape, alpha.shape
        (torch.Size([4, 8]), torch.Size([6, 2]))
    """

    def __init__(
        self,
        in_channels,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        edge_dim: int | None = None,
        fill_value="mean",
        bias: bool = True,
        residual: bool = False,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(node_dim=0, **kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.edge_dim = edge_dim
        self.fill_value = fill_value
        self.residual = residual
        self.fuse = True
        self.lin = self.lin_src = self.lin_dst = None
        hc = heads * out_channels
        if isinstance(in_channels, int):
            self.lin = Linear(in_channels, hc, bias=False, weight_initializer="glorot")
        else:
            self.lin_src = Linear(in_channels[0], hc, False, weight_initializer="glorot")
            self.lin_dst = Linear(in_channels[1], hc, False, weight_initializer="glorot")
        self.att_src = Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = Parameter(torch.empty(1, heads, out_channels))
        if edge_dim is not None:
            self.lin_edge = Linear(edge_dim, hc, bias=False, weight_initializer="glorot")
            self.att_edge = Parameter(torch.empty(1, heads, out_channels))
        else:
            self.lin_edge = None
            self.register_parameter("att_edge", None)
        n_dst_in = in_channels if isinstance(in_channels, int) else in_channels[1]
        _add_res_and_bias(self, n_dst_in, residual, bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for m in (self.lin, self.lin_src, self.lin_dst, self.lin_edge, self.res):
            if m is not None:
                m.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        if self.att_edge is not None:
            glorot(self.att_edge)
        if self.bias is not None:
            zeros(self.bias)

    def forward(
        self,
        x,
        edge_index: Tensor,
        edge_attr: Tensor | None = None,
        size=None,
        return_attention_weights: bool | None = None,
    ):
        H, C = self.heads, self.out_channels
        res = None
        if isinstance(x, Tensor):
            if x.dim() != 2:
                raise ValueError("GATConv: static graphs (x with more than 2 dims) not supported")
            if self.res is not None:
                res = self.res(x)
            if self.lin is not None:
                x_src = x_dst = self.lin(x).view(-1, H, C)
            else:
                x_src, x_dst = self.lin_src(x).view(-1, H, C), self.lin_dst(x).view(-1, H, C)
        else:
            x_src, x_dst = x
            if x_dst is not None and self.res is not None:
                res = self.res(x_dst)
            lin_s = self.lin if self.lin is not None else self.lin_src
            lin_d = self.lin if self.lin is not None else self.lin_dst
            x_src = lin_s(x_src).view(-1, H, C)
            x_dst = lin_d(x_dst).view(-1, H, C) if x_dst is not None else None
        alpha_src = (x_src * self.att_src).sum(dim=-1)
        alpha_dst = None if x_dst is None else (x_dst * self.att_dst).sum(-1)
        if self.add_self_loops:
            edge_index, edge_attr = _loops(self, edge_index, edge_attr, x_src.size(0), x_dst, size)
        alpha = self.edge_updater(
            edge_index, alpha=(alpha_src, alpha_dst), edge_attr=edge_attr, size=size
        )
        return _finish(self, x_src, x_dst, edge_index, alpha, res, size, return_attention_weights)

    def edge_update(self, alpha_j, alpha_i, edge_attr, index, ptr, dim_size) -> Tensor:
        alpha = alpha_j if alpha_i is None else alpha_j + alpha_i
        if index.numel() == 0:
            return alpha
        if edge_attr is not None and self.lin_edge is not None:
            if edge_attr.dim() == 1:
                edge_attr = edge_attr.view(-1, 1)
            e = self.lin_edge(edge_attr).view(-1, self.heads, self.out_channels)
            alpha = alpha + (e * self.att_edge).sum(dim=-1)
        alpha = F.leaky_relu(alpha, self.negative_slope)
        alpha = softmax(alpha, index, ptr, dim_size)
        return F.dropout(alpha, p=self.dropout, training=self.training)

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * x_j

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"


class GATv2Conv(MessagePassing):
    """GATv2: ``alpha_ij = softmax_j(a . leaky_relu(W_s x_j + W_t x_i [+ W_e e_ij]))``, so the
    ranking of neighbours can depend on the query node.

    The arguments are GATConv's, plus ``share_weights`` (one matrix for source and target).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import GATv2Conv
        >>> GATv2Conv(3, 4, heads=2, concat=False)(torch.ones(4, 3),
        ...                                        torch.tensor([[0, 1], [1, 2]])).shape
        torch.Size([4, 4])
    """

    def __init__(
        self,
        in_channels,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        edge_dim: int | None = None,
        fill_value="mean",
        bias: bool = True,
        share_weights: bool = False,
        residual: bool = False,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(node_dim=0, **kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.edge_dim = edge_dim
        self.fill_value = fill_value
        self.residual = residual
        self.share_weights = share_weights
        self.fuse = True
        hc = heads * out_channels
        ins = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.lin_l = Linear(ins[0], hc, bias=bias, weight_initializer="glorot")
        if share_weights:
            self.lin_r = self.lin_l
        else:
            self.lin_r = Linear(ins[1], hc, bias=bias, weight_initializer="glorot")
        self.att = Parameter(torch.empty(1, heads, out_channels))
        if edge_dim is not None:
            self.lin_edge = Linear(edge_dim, hc, bias=False, weight_initializer="glorot")
        else:
            self.lin_edge = None
        _add_res_and_bias(self, ins[1], residual, bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin_l.reset_parameters()
        self.lin_r.reset_parameters()
        for m in (self.lin_edge, self.res):
            if m is not None:
                m.reset_parameters()
        glorot(self.att)
        if self.bias is not None:
            zeros(self.bias)

    def forward(
        self,
        x,
        edge_index: Tensor,
        edge_attr: Tensor | None = None,
        return_attention_weights: bool | None = None,
    ):
        H, C = self.heads, self.out_channels
        res = None
        if isinstance(x, Tensor):
            if x.dim() != 2:
                raise ValueError("GATv2Conv: static graphs not supported")
            if self.res is not None:
                res = self.res(x)
            x_l = self.lin_l(x).view(-1, H, C)
            x_r = x_l if self.share_weights else self.lin_r(x).view(-1, H, C)
        else:
            x_l, x_r = x[0], x[1]
            if x_r is not None and self.res is not None:
                res = self.res(x_r)
            x_l = self.lin_l(x_l).view(-1, H, C)
            x_r = self.lin_r(x_r).view(-1, H, C) if x_r is not None else None
        if x_r is None:
            raise ValueError("GATv2Conv: target node features must be given")
        if self.add_self_loops:
            edge_index, edge_attr = _loops(self, edge_index, edge_attr, x_l.size(0), x_r, None)
        alpha = self.edge_updater(edge_index, x=(x_l, x_r), edge_attr=edge_attr)
        return _finish(self, x_l, x_r, edge_index, alpha, res, None, return_attention_weights)

    def edge_update(self, x_j, x_i, edge_attr, index, ptr, dim_size) -> Tensor:
        x = x_i + x_j
        if edge_attr is not None:
            if edge_attr.dim() == 1:
                edge_attr = edge_attr.view(-1, 1)
            if self.lin_edge is None:
                raise ValueError("GATv2Conv: edge_attr given but the layer has no 'edge_dim'")
            x = x + self.lin_edge(edge_attr).view(-1, self.heads, self.out_channels)
        x = F.leaky_relu(x, self.negative_slope)
        alpha = (x * self.att).sum(dim=-1)
        alpha = softmax(alpha, index, ptr, dim_size)
        return F.dropout(alpha, p=self.dropout, training=self.training)

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return x_j * alpha.unsqueeze(-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"
