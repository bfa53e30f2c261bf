"""Sum / mean / max / min / mul / softmax aggregations (torch_geometric.nn.aggr)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Parameter

from ...utils._softmax import softmax
from .base import Aggregation

__all__ = [
    "SumAggregation",
    "MeanAggregation",
    "MaxAggregation",
    "MinAggregation",
    "MulAggregation",
    "SoftmaxAggregation",
]


class SumAggregation(Aggregation):
    """Sum of each group.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn.aggr import SumAggregation
        >>> SumAggregation()(torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([0, 1, 0]))
        tensor([[5.],
                [2.]])
    """

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2) -> Tensor:
        return self.reduce(x, index, ptr, dim_size, dim, reduce="sum")


class MeanAggregation(Aggregation):
    """Mean of each group (0 for an empty group)."""

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2) -> Tensor:
        return self.reduce(x, index, ptr, dim_size, dim, reduce="mean")


class MaxAggregation(Aggregation):
    """Feature-wise maximum of each group (0 for an empty group)."""

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2) -> Tensor:
        return self.reduce(x, index, ptr, dim_size, dim, reduce="max")


class MinAggregation(Aggregation):
    """Feature-wise minimum of each group (0 for an empty group)."""

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2) -> Tensor:
        return self.reduce(x, index, ptr, dim_size, dim, reduce="min")


class MulAggregation(Aggregation):
    """Product of each group (1 for an empty group)."""

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2) -> Tensor:
        return self.reduce(x, index, None, dim_size, dim, reduce="mul")


class SoftmaxAggregation(Aggregation):
    """``sum_i softmax(t * x)_i * x_i`` per group and channel (Li et al., DeeperGCN).

    Args:
        t: inverse temperature.
        learn: make ``t`` a learnable parameter.
        semi_grad: no gradient through the softmax weights.
        channels: number of temperatures when learnable.
    """

    def __init__(
        self, t: float = 1.0, learn: bool = False, semi_grad: bool = False, channels: int = 1
    ) -> None:
        super().__init__()
        if learn and semi_grad:
            raise ValueError("SoftmaxAggregation: cannot enable 'semi_grad' with learnable 't'")
        if not learn and channels != 1:
            raise ValueError("SoftmaxAggregation: cannot set 'channels' > 1 with fixed 't'")
        self._init_t = t
        self.learn = learn
        self.semi_grad = semi_grad
        self.channels = channels
        self.t = Parameter(torch.empty(channels)) if learn else t
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if isinstance(self.t, Tensor):
            with torch.no_grad():
                self.t.fill_(self._init_t)

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2) -> Tensor:
        t = self.t
        if self.channels != 1:
            t = t.view(self.channels)
        alpha = x
        if not isinstance(t, (int, float)) or t != 1:
            alpha = x * t
        d = dim + x.dim() if dim < 0 else dim
        if self.semi_grad:
            with torch.no_grad():
                alpha = softmax(alpha, index, ptr, dim_size, d)
        else:
            alpha = softmax(alpha, index, ptr, dim_size, d)
        return self.reduce(x * alpha, index, ptr, dim_size, dim, reduce="sum")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learn={self.learn})"
