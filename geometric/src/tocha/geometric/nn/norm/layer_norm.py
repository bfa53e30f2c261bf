"""LayerNorm per graph or per node (torch_geometric.nn.norm.LayerNorm)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Module, Parameter
from tocha.core.nn import functional as F

from ...utils._scatter import scatter
from ..inits import ones, zeros

__all__ = ["LayerNorm"]


class LayerNorm(Module):
    """Layer normalisation; ``mode='graph'`` normalises over all nodes and channels of each
    graph, ``mode='node'`` over the channels of each node (torch.nn.LayerNorm).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import LayerNorm
        >>> out = LayerNorm(2)(torch.tensor([[1.0, 3.0], [5.0, 7.0]]))
        >>> round(float(out.mean()), 6), round(float(out.pow(2).mean()), 3)
        (0.0, 1.0)
    """

    def __init__(
        self,
        in_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        mode: str = "graph",
        device=None,
    ) -> None:
        super().__init__()
        if mode not in ("graph", "node"):
            raise ValueError(f"LayerNorm: unknown normalization mode '{mode}'")
        self.in_channels = in_channels
        self.eps = eps
        self.affine = affine
        self.mode = mode
        if affine:
            self.weight = Parameter(torch.empty(in_channels))
            self.bias = Parameter(torch.empty(in_channels))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            ones(self.weight)
            zeros(self.bias)

    def forward(self, x: Tensor, batch: Tensor | None = None, batch_size: int | None = None):
        if self.mode == "node":
            return F.layer_norm(x, (self.in_channels,), self.weight, self.bias, self.eps)
        if batch is None:
            x = x - x.mean()
            out = x / (x.std(unbiased=False) + self.eps)
        else:
            if batch_size is None:
                batch_size = int(batch.max()) + 1
            cnt = scatter(torch.ones_like(batch, dtype=x.dtype), batch, 0, batch_size, "sum")
            norm = cnt.clamp(min=1).view(-1, 1) * x.size(-1)
            mean = scatter(x, batch, 0, batch_size, "sum").sum(dim=-1, keepdim=True) / norm
            x = x - mean.index_select(0, batch)
            var = scatter(x * x, batch, 0, batch_size, "sum").sum(dim=-1, keepdim=True) / norm
            out = x / (var + self.eps).sqrt().index_select(0, batch)
        if self.weight is not None:
            out = out * self.weight + self.bias
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, affine={self.affine}, mode={self.mode})"
