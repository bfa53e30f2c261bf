"""RGCNConv (torch_geometric.nn.conv.RGCNConv, Schlichtkrull et al. 2018)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Parameter

from ..inits import glorot, zeros
from .message_passing import MessagePassing

__all__ = ["RGCNConv"]


class RGCNConv(MessagePassing):
    """Relational graph convolution: ``x'_i = W_root x_i + sum_r aggr_{j in N_r(i)} W_r x_j``.

    Args:
        in_channels: input size, or ``(source, target)`` sizes; if ``x`` is ``None`` the nodes are
            featureless and ``weight`` rows act as embeddings.
        out_channels: output size.
        num_relations: number of edge types.
        num_bases: basis decomposition ``W_r = sum_b comp[r, b] V_b``.
        num_blocks: block-diagonal decomposition.
        aggr: per-relation reduction (default ``'mean'``).
        root_weight: add ``x_i W_root``.
        is_sorted: edges are sorted by type (accepted for compatibility).
        bias: learn an additive bias.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import RGCNConv
        >>> conv = RGCNConv(3, 2, num_relations=2)
        >>> conv(torch.ones(4, 3), torch.tensor([[0, 1], [1, 2]]), torch.tensor([0, 1])).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        in_channels,
        out_channels: int,
        num_relations: int,
        num_bases: int | None = None,
        num_blocks: int | None = None,
        aggr: str = "mean",
        root_weight: bool = True,
        is_sorted: bool = False,
        bias: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", aggr)
        super().__init__(node_dim=0, **kwargs)
        if num_bases is not None and num_blocks is not None:
            raise ValueError(
                "RGCNConv: can not apply both basis-decomposition and block-diagonal-"
                "decomposition at the same time"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_relations = num_relations
        self.num_bases = num_bases
        self.num_blocks = num_blocks
        self.is_sorted = is_sorted
        self.fuse = True
        if isinstance(in_channels, int):
            in_channels = (in_channels, in_channels)
        self.in_channels_l = in_channels[0]
        if num_bases is not None:
            self.weight = Parameter(torch.empty(num_bases, in_channels[0], out_channels))
            self.comp = Parameter(torch.empty(num_relations, num_bases))
        elif num_blocks is not None:
            if in_channels[0] % num_blocks != 0 or out_channels % num_blocks != 0:
                raise ValueError(
                    f"RGCNConv: channels ({in_channels[0]}, {out_channels}) must be divisible by "
                    f"num_blocks ({num_blocks})"
                )
            self.weight = Parameter(
                torch.empty(
                    num_relations,
                    num_blocks,
                    in_channels[0] // num_blocks,
                    out_channels // num_blocks,
                )
            )
            self.register_parameter("comp", None)
        else:
            self.weight = Parameter(torch.empty(num_relations, in_channels[0], out_channels))
            self.register_parameter("comp", None)
        if root_weight:
            self.root = Parameter(torch.empty(in_channels[1], out_channels))
        else:
            self.register_parameter("root", None)
        if bias:
            self.bias = Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        glorot(self.weight)
        if self.comp is not None:
            glorot(self.comp)
        if self.root is not None:
            glorot(self.root)
        if self.bias is not None:
            zeros(self.bias)

    def _agg(self, edge_index: Tensor, x: Tensor, size) -> Tensor:
        out = self._fused(edge_index, x, None, size) if x.dim() == 2 else None
        return out if out is not None else self.propagate(edge_index, x=x, size=size)

    def forward(self, x, edge_index: Tensor, edge_type: Tensor | None = None) -> Tensor:
        x_l = x[0] if isinstance(x, tuple) else x
        if x_l is None:
            x_l = torch.arange(self.in_channels_l, device=self.weight.device)
        x_r = x[1] if isinstance(x, tuple) else x_l
        if edge_type is None:
            raise ValueError("RGCNConv: 'edge_type' is required for an edge_index input")
        size = (x_l.size(0), x_r.size(0))
        out = torch.zeros(x_r.size(0), self.out_channels, device=x_r.device)
        weight = self.weight
        if self.num_bases is not None:
            weight = (self.comp @ weight.view(self.num_bases, -1)).view(
                self.num_relations, self.in_channels_l, self.out_channels
            )
        featureless = not x_l.dtype.is_floating_point
        if self.num_blocks is not None:
            if featureless:
                raise ValueError(
                    "RGCNConv: block-diagonal decomposition not supported for non-continuous "
                    "input features"
                )
            for i in range(self.num_relations):
                tmp = edge_index[:, edge_type == i]
                h = self._agg(tmp, x_l, size)
                h = h.view(-1, weight.size(1), weight.size(2))
                h = torch.einsum("abc,bcd->abd", h, weight[i])
                out = out + h.reshape(-1, self.out_channels)
        else:
            for i in range(self.num_relations):
                tmp = edge_index[:, edge_type == i]
                if featureless:
                    out = out + self._agg(tmp, weight[i].index_select(0, x_l), size)
                else:
                    out = out + self._agg(tmp, x_l, size) @ weight[i]
        if self.root is not None:
            if not x_r.dtype.is_floating_point:
                out = out + self.root.index_select(0, x_r)
            else:
                out = out + x_r @ self.root
        if self.bias is not None:
            out = out + self.bias
        return out

    def message(self, x_j: Tensor) -> Tensor:
        return x_j

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
            f"num_relations={self.num_relations})"
        )
