"""SAGEConv (torch_geometric.nn.conv.SAGEConv, Hamilton et al. 2017)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor

from ..dense.linear import Linear
from .message_passing import MessagePassing

__all__ = ["SAGEConv"]


class SAGEConv(MessagePassing):
    """``x'_i = W_1 x_i + W_2 aggr_{j in N(i)} x_j`` (GraphSAGE).

    Args:
        in_channels: input size, or ``(source, target)`` sizes.
        out_channels: output size.
        aggr: ``'mean'`` (default), ``'max'``, ``'sum'``, ``'lstm'`` (edge_index sorted by
            target) or an Aggregation.
        normalize: L2-normalise the output rows.
        root_weight: add the ``W_1 x_i`` term.
        project: first map the source features through ``relu(lin(x))``.
        bias: bias of ``lin_l``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import SAGEConv
        >>> SAGEConv(3, 2, aggr="max")(torch.ones(4, 3), torch.tensor([[0, 1], [1, 2]])).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        in_channels,
        out_channels: int,
        aggr="mean",
        normalize: bool = False,
        root_weight: bool = True,
        project: bool = False,
        bias: bool = True,
        **kwargs,
    ) -> None:
        given = in_channels
        if isinstance(in_channels, int):
            in_channels = (in_channels, in_channels)
        if aggr == "lstm":
            kwargs.setdefault("aggr_kwargs", {})
            kwargs["aggr_kwargs"].setdefault("in_channels", in_channels[0])
            kwargs["aggr_kwargs"].setdefault("out_channels", in_channels[0])
        super().__init__(aggr=aggr, **kwargs)
        self.in_channels = given
        self.out_channels = out_channels
        self.normalize = normalize
        self.root_weight = root_weight
        self.project = project
        self.fuse = True
        if project:
            if in_channels[0] <= 0:
                raise ValueError("SAGEConv: 'project' needs a known in_channels")
            self.lin = Linear(in_channels[0], in_channels[0], bias=True)
        aggr_out = in_channels[0]
        if hasattr(self.aggr_module, "get_out_channels"):
            aggr_out = self.aggr_module.get_out_channels(in_channels[0])
        self.lin_l = Linear(aggr_out, out_channels, bias=bias)
        if root_weight:
            self.lin_r = Linear(in_channels[1], out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.project:
            self.lin.reset_parameters()
        self.lin_l.reset_parameters()
        if self.root_weight:
            self.lin_r.reset_parameters()

    def forward(self, x, edge_index: Tensor, size=None) -> Tensor:
        if isinstance(x, Tensor):
            x = (x, x)
        if self.project:
            x = (self.lin(x[0]).relu(), x[1])
        out = self._fused(edge_index, x, None, size)
        if out is None:
            out = self.propagate(edge_index, x=x, size=size)
        out = self.lin_l(out)
        if self.root_weight and x[1] is not None:
            out = out + self.lin_r(x[1])
        if self.normalize:
            out = torch.nn.functional.normalize(out, p=2.0, dim=-1)
        return out

    def message(self, x_j: Tensor) -> Tensor:
        return x_j

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, aggr={self.aggr})"
