"""Dropout modules (torch.nn.modules.dropout): active in training mode only."""

from __future__ import annotations

from ..._tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    """``p`` and ``inplace``; a subclass names ``_fn`` (called with them and the mode)."""

    __constants__ = ["p", "inplace"]
    _fn = None

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` in training, scaling the rest by
    ``1 / (1 - p)``; the identity in evaluation mode.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.Dropout(p=0.5).eval()
        >>> m(torch.ones(3))
        tensor([1., 1., 1.])
    """

    _fn = staticmethod(F.dropout)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) inputs in training.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Dropout1d(p=1.0)(torch.ones(1, 2, 3)).sum()
        tensor(0.)
    """

    _fn = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) or (C, H, W) inputs in training.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Dropout2d(p=1.0)(torch.ones(1, 2, 3, 3)).sum()
        tensor(0.)
    """

    _fn = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs in training.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Dropout3d(p=1.0)(torch.ones(1, 2, 1, 2, 2)).sum()
        tensor(0.)
    """

    _fn = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps the mean and variance of SELU activations (training only).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.AlphaDropout(0.2).eval()(torch.ones(2))
        tensor([1., 1.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """``AlphaDropout`` of whole channels (training only).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.FeatureAlphaDropout(0.2).eval()(torch.ones(1, 2))
        tensor([[1., 1.]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.feature_alpha_dropout(input, self.p, self.training)
