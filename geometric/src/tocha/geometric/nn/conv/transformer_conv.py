"""TransformerConv (torch_geometric.nn.conv.TransformerConv, Shi et al. 2021)."""

from __future__ import annotations

import math

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import functional as F

from ...utils._softmax import softmax
from ..dense.linear import Linear
from .message_passing import MessagePassing

__all__ = ["TransformerConv"]


class TransformerConv(MessagePassing):
    """Graph transformer: ``x'_i = W_1 x_i + sum_j alpha_ij (W_2 x_j [+ W_e e_ij])`` with
    ``alpha_ij = softmax_j((W_3 x_i) . (W_4 x_j [+ W_e e_ij]) / sqrt(C))``.

    Args:
        in_channels: input size or ``(source, target)`` sizes.
        out_channels: size per head.
        heads: number of heads.
        concat: concatenate the heads (else average).
        beta: gate the skip connection with a learned ``lin_beta``.
        dropout: attention dropout (training only).
        edge_dim: edge feature size.
        bias: bias of ``lin_skip``.
        root_weight: add the skip connection.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import TransformerConv
        >>> TransformerConv(3, 4, heads=2)(torch.ones(4, 3), torch.tensor([[0, 1], [1, 2]])).shape
        torch.Size([4, 8])
    """

    def __init__(
        self,
        in_channels,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        beta: bool = False,
        dropout: float = 0.0,
        edge_dim: int | None = None,
        bias: bool = True,
        root_weight: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(node_dim=0, **kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.beta = beta and root_weight
        self.root_weight = root_weight
        self.concat = concat
        self.dropout = dropout
        self.edge_dim = edge_dim
        self._alpha = None
        ins = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        hc = heads * out_channels
        self.lin_key = Linear(ins[0], hc)
        self.lin_query = Linear(ins[1], hc)
        self.lin_value = Linear(ins[0], hc)
        if edge_dim is not None:
            self.lin_edge = Linear(edge_dim, hc, bias=False)
        else:
            self.register_parameter("lin_edge", None)
        out_skip = hc if concat else out_channels
        if root_weight:
            self.lin_skip = Linear(ins[1], out_skip, bias=bias)
            if self.beta:
                self.lin_beta = Linear(3 * out_skip, 1, bias=False)
            else:
                self.register_parameter("lin_beta", None)
        else:
            self.register_parameter("lin_skip", None)
            self.register_parameter("lin_beta", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for m in (
            self.lin_key,
            self.lin_query,
            self.lin_value,
            self.lin_edge,
            self.lin_skip,
            self.lin_beta,
        ):
            if m is not None:
                m.reset_parameters()

    def forward(
        self,
        x,
        edge_index: Tensor,
        edge_attr: Tensor | None = None,
        return_attention_weights: bool | None = None,
    ):
        H, C = self.heads, self.out_channels
        if isinstance(x, Tensor):
            x = (x, x)
        query = self.lin_query(x[1]).view(-1, H, C)
        key = self.lin_key(x[0]).view(-1, H, C)
        value = self.lin_value(x[0]).view(-1, H, C)
        out = self.propagate(edge_index, query=query, key=key, value=value, edge_attr=edge_attr)
        alpha, self._alpha = self._alpha, None
        out = out.reshape(-1, H * C) if self.concat else out.mean(dim=1)
        if self.root_weight:
            x_r = self.lin_skip(x[1])
            if self.lin_beta is not None:
                beta = self.lin_beta(torch.cat([out, x_r, out - x_r], dim=-1)).sigmoid()
                out = beta * x_r + (1 - beta) * out
            else:
                out = out + x_r
        if return_attention_weights:
            return out, (edge_index, alpha)
        return out

    def message(self, query_i, key_j, value_j, edge_attr, index, ptr, size_i) -> Tensor:
        H, C = self.heads, self.out_channels
        if self.lin_edge is not None:
            if edge_attr is None:
                raise ValueError("TransformerConv: the layer has 'edge_dim' but no edge_attr")
            edge_attr = self.lin_edge(edge_attr).view(-1, H, C)
            key_j = key_j + edge_attr
        alpha = (query_i * key_j).sum(dim=-1) / math.sqrt(C)
        alpha = softmax(alpha, index, ptr, size_i)
        self._alpha = alpha
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        out = value_j
        if edge_attr is not None:
            out = out + edge_attr
        return out * alpha.view(-1, H, 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"
