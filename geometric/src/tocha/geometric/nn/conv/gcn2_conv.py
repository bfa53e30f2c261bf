"""GCN2Conv (torch_geometric.nn.conv.GCN2Conv, Chen et al. 2020, GCNII)."""

from __future__ import annotations

import math

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Parameter

from ..inits import glorot
from .gcn_conv import _cached_gcn_norm
from .message_passing import MessagePassing

__all__ = ["GCN2Conv"]


class GCN2Conv(MessagePassing):
    """GCNII: ``X' = ((1 - a) A_hat X + a X0) ((1 - b) I + b W)`` with initial residual ``X0``
    and identity mapping, ``b = log(theta / layer + 1)``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import GCN2Conv
        >>> x = torch.ones(4, 3)
        >>> GCN2Conv(3, alpha=0.1, theta=0.5, layer=1)(x, x, torch.tensor([[0, 1], [1, 0]])).shape
        torch.Size([4, 3])
    """

    def __init__(
        self,
        channels: int,
        alpha: float,
        theta: float | None = None,
        layer: int | None = None,
        shared_weights: bool = True,
        cached: bool = False,
        add_self_loops: bool = True,
        normalize: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.channels = channels
        self.alpha = alpha
        self.beta = 1.0
        if theta is not None or layer is not None:
            if theta is None or layer is None:
                raise ValueError("GCN2Conv: 'theta' and 'layer' must be given together")
            self.beta = math.log(theta / layer + 1)
        self.cached = cached
        self.normalize = normalize
        self.add_self_loops = add_self_loops
        self.fuse = True
        self._cached_edge_index = None
        self.weight1 = Parameter(torch.empty(channels, channels))
        if shared_weights:
            self.register_parameter("weight2", None)
        else:
            self.weight2 = Parameter(torch.empty(channels, channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        glorot(self.weight1)
        if self.weight2 is not None:
            glorot(self.weight2)
        self._cached_edge_index = None

    def forward(self, x: Tensor, x_0: Tensor, edge_index: Tensor, edge_weight=None) -> Tensor:
        if self.normalize:
            edge_index, edge_weight = _cached_gcn_norm(self, x, edge_index, edge_weight)
        h = self._fused(edge_index, x, edge_weight)
        if h is None:
            h = self.propagate(edge_index, x=x, edge_weight=edge_weight)
        h = h * (1 - self.alpha)
        x_0 = self.alpha * x_0[: h.size(0)]
        b = self.beta
        if self.weight2 is None:
            out = h + x_0
            return out * (1 - b) + b * (out @ self.weight1)
        out = h * (1 - b) + b * (h @ self.weight1)
        return out + x_0 * (1 - b) + b * (x_0 @ self.weight2)

    def message(self, x_j: Tensor, edge_weight: Tensor | None) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channels}, alpha={self.alpha}, beta={self.beta})"
