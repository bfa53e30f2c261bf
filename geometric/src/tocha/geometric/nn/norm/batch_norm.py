"""BatchNorm over nodes (torch_geometric.nn.norm.BatchNorm)."""

from __future__ import annotations

from tocha.core import Tensor
from tocha.core.nn import BatchNorm1d, Module

__all__ = ["BatchNorm"]


class BatchNorm(Module):
    """Batch normalisation over all nodes (a wrapped ``torch.nn.BatchNorm1d`` named ``module``).

    Args:
        allow_single_element: with a single node in training mode, normalise with the running
            statistics instead of failing.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import BatchNorm
        >>> BatchNorm(3)(torch.randn(5, 3)).shape
        torch.Size([5, 3])
    """

    def __init__(
        self,
        in_channels: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        allow_single_element: bool = False,
        device=None,
    ) -> None:
        super().__init__()
        if allow_single_element and not track_running_stats:
            raise ValueError(
                "BatchNorm: 'allow_single_element' requires 'track_running_stats' to be set"
            )
        self.module = BatchNorm1d(in_channels, eps, momentum, affine, track_running_stats)
        self.in_channels = in_channels
        self.allow_single_element = allow_single_element

    def reset_running_stats(self) -> None:
        self.module.reset_running_stats()

    def reset_parameters(self) -> None:
        self.module.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        if self.allow_single_element and x.size(0) <= 1:
            from tocha.core.nn import functional as F

            m = self.module
            return F.batch_norm(
                x, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps
            )
        return self.module(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels})"
