"""GraphNorm (torch_geometric.nn.norm.GraphNorm, Cai et al. 2021)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Module, Parameter

from ...utils._scatter import scatter
from ..inits import ones, zeros

__all__ = ["GraphNorm"]


class GraphNorm(Module):
    """``weight * (x - alpha * mean) / std + bias`` per graph, with a learnable mean scale.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import GraphNorm
        >>> GraphNorm(2)(torch.tensor([[1.0, 2.0], [3.0, 6.0]]))
        tensor([[-1.0000, -1.0000],
                [ 1.0000,  1.0000]], grad_fn=<AddBackward0>)
    """

    def __init__(self, in_channels: int, eps: float = 1e-5, device=None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.eps = eps
        self.weight = Parameter(torch.empty(in_channels))
        self.bias = Parameter(torch.empty(in_channels))
        self.mean_scale = Parameter(torch.empty(in_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        ones(self.weight)
        zeros(self.bias)
        ones(self.mean_scale)

    def forward(self, x: Tensor, batch: Tensor | None = None, batch_size: int | None = None):
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
            batch_size = 1
        if batch_size is None:
            batch_size = int(batch.max()) + 1
        mean = scatter(x, batch, 0, batch_size, reduce="mean").index_select(0, batch)
        out = x - mean * self.mean_scale
        var = scatter(out.pow(2), batch, 0, batch_size, reduce="mean")
        std = (var + self.eps).sqrt().index_select(0, batch)
        return self.weight * out / std + self.bias

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels})"
