"""GCN, GraphSAGE, GIN, GAT: stacks of one convolution type (torch_geometric's BasicGNN)."""

from __future__ import annotations

import copy
import inspect

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Identity, Module, ModuleList
from tocha.core.nn import functional as F

from ..conv import GATConv, GATv2Conv, GCNConv, GINConv, SAGEConv
from ..dense.linear import Linear
from ..resolver import activation_resolver, normalization_resolver
from .mlp import MLP

__all__ = ["BasicGNN", "GCN", "GraphSAGE", "GIN", "GAT", "JumpingKnowledge"]


class JumpingKnowledge(Module):
    """Combine the layer outputs: ``'cat'`` (concatenate) or ``'max'`` (element-wise max)."""

    def __init__(self, mode: str, channels: int | None = None, num_layers: int | None = None):
        super().__init__()
        self.mode = mode.lower()
        if self.mode not in ("cat", "max"):
            raise ValueError(f"JumpingKnowledge: mode '{mode}' is not supported ('cat', 'max')")
        self.channels = channels
        self.num_layers = num_layers

    def reset_parameters(self) -> None:
        pass

    def forward(self, xs: list) -> Tensor:
        if self.mode == "cat":
            return torch.cat(xs, dim=-1)
        return torch.stack(xs, dim=-1).max(dim=-1)[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.mode})"


class BasicGNN(Module):
    """``num_layers`` convolutions with norm, activation and dropout between them.

    Args:
        in_channels: input size.
        hidden_channels: hidden size.
        num_layers: number of convolutions.
        out_channels: output size (default ``hidden_channels``); with ``jk`` a final ``lin``.
        dropout: dropout after each hidden layer.
        act: activation name or module.
        act_first: activation before the norm.
        norm: ``'batch_norm'``, ``'layer_norm'``, ``'graph_norm'`` or a module.
        jk: ``None``, ``'last'``, ``'cat'`` or ``'max'``.
        **kwargs: passed to every convolution.
    """

    supports_edge_weight = False
    supports_edge_attr = False

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int | None = None,
        dropout: float = 0.0,
        act="relu",
        act_first: bool = False,
        act_kwargs: dict | None = None,
        norm=None,
        norm_kwargs: dict | None = None,
        jk: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = float(dropout)
        self.act = activation_resolver(act, **(act_kwargs or {}))
        self.jk_mode = jk
        self.act_first = act_first
        self.norm = norm if isinstance(norm, str) else None
        self.norm_kwargs = norm_kwargs
        self.out_channels = out_channels if out_channels is not None else hidden_channels
        self.convs = ModuleList()
        if num_layers > 1:
            self.convs.append(self.init_conv(in_channels, hidden_channels, **kwargs))
            in_channels = hidden_channels
        for _ in range(num_layers - 2):
            self.convs.append(self.init_conv(in_channels, hidden_channels, **kwargs))
        if out_channels is not None and jk is None:
            self._is_conv_to_out = True
            self.convs.append(self.init_conv(in_channels, out_channels, **kwargs))
        else:
            self.convs.append(self.init_conv(in_channels, hidden_channels, **kwargs))
        norm_layer = normalization_resolver(norm, hidden_channels, **(norm_kwargs or {}))
        if norm_layer is None:
            norm_layer = Identity()
        self._norm_batch = "batch" in inspect.signature(norm_layer.forward).parameters
        self.norms = ModuleList()
        for _ in range(num_layers - 1):
            self.norms.append(copy.deepcopy(norm_layer))
        self.norms.append(copy.deepcopy(norm_layer) if jk is not None else Identity())
        if jk is not None and jk != "last":
            self.jk = JumpingKnowledge(jk, hidden_channels, num_layers)
        if jk is not None:
            n = num_layers * hidden_channels if jk == "cat" else hidden_channels
            self.lin = Linear(n, self.out_channels)

    def init_conv(self, in_channels: int, out_channels: int, **kwargs) -> Module:
        raise NotImplementedError

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        for norm in self.norms:
            if hasattr(norm, "reset_parameters"):
                norm.reset_parameters()
        if hasattr(self, "lin"):
            self.lin.reset_parameters()

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        edge_attr: Tensor | None = None,
        batch: Tensor | None = None,
        batch_size: int | None = None,
        num_sampled_nodes_per_hop=None,
        num_sampled_edges_per_hop=None,
    ) -> Tensor:
        xs = []
        for i in range(self.num_layers):
            conv = self.convs[i]
            if self.supports_edge_weight and self.supports_edge_attr:
                x = conv(x, edge_index, edge_weight=edge_weight, edge_attr=edge_attr)
            elif self.supports_edge_weight:
                x = conv(x, edge_index, edge_weight=edge_weight)
            elif self.supports_edge_attr:
                x = conv(x, edge_index, edge_attr=edge_attr)
            else:
                x = conv(x, edge_index)
            if i < self.num_layers - 1 or self.jk_mode is not None:
                if self.act is not None and self.act_first:
                    x = self.act(x)
                norm = self.norms[i]
                x = norm(x, batch, batch_size) if self._norm_batch else norm(x)
                if self.act is not None and not self.act_first:
                    x = self.act(x)
                x = F.dropout(x, p=self.dropout, training=self.training)
                if hasattr(self, "jk"):
                    xs.append(x)
        x = self.jk(xs) if hasattr(self, "jk") else x
        return self.lin(x) if hasattr(self, "lin") else x

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
            f"num_layers={self.num_layers})"
        )


class GCN(BasicGNN):
    """A stack of GCNConv layers.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import GCN
        >>> GCN(3, 16, num_layers=2, out_channels=2)(torch.ones(4, 3),
        ...                                         torch.tensor([[0, 1], [1, 0]])).shape
        torch.Size([4, 2])
    """

    supports_edge_weight = True

    def init_conv(self, in_channels, out_channels, **kwargs):
        return GCNConv(in_channels, out_channels, **kwargs)


class GraphSAGE(BasicGNN):
    """A stack of SAGEConv layers."""

    def init_conv(self, in_channels, out_channels, **kwargs):
        return SAGEConv(in_channels, out_channels, **kwargs)


class GIN(BasicGNN):
    """A stack of GINConv layers, each with a two-layer MLP."""

    def init_conv(self, in_channels, out_channels, **kwargs):
        mlp = MLP(
            [in_channels, out_channels, out_channels],
            act=self.act,
            act_first=self.act_first,
            norm=self.norm,
            norm_kwargs=self.norm_kwargs,
        )
        return GINConv(mlp, **kwargs)


class GAT(BasicGNN):
    """A stack of GATConv (or GATv2Conv with ``v2=True``) layers; hidden layers concatenate
    ``heads`` heads of ``hidden_channels // heads`` channels, the output layer averages."""

    supports_edge_attr = True

    def init_conv(self, in_channels, out_channels, **kwargs):
        v2 = kwargs.pop("v2", False)
        heads = kwargs.pop("heads", 1)
        concat = kwargs.pop("concat", True)
        if getattr(self, "_is_conv_to_out", False):
            concat = False
        if concat and out_channels % heads != 0:
            raise ValueError(
                f"GAT: ensure that the number of output channels of 'GATConv' (got "
                f"'{out_channels}') is divisible by the number of heads (got '{heads}')"
            )
        if concat:
            out_channels = out_channels // heads
        conv = GATv2Conv if v2 else GATConv
        return conv(
            in_channels, out_channels, heads=heads, concat=concat, dropout=self.dropout, **kwargs
        )
