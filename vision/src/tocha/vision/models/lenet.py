"""LeNet-5 (LeCun et al. 1998): the classic 32x32 grayscale digit network (not in torchvision)."""

from __future__ import annotations

from typing import Any

import tocha.core as torch
from tocha.core import nn

from ._api import register_model

__all__ = ["LeNet5", "lenet5"]


class LeNet5(nn.Module):
    """C1 conv 5x5 (6), S2 avg-pool, C3 conv 5x5 (16), S4 avg-pool, F5 120, F6 84, output.

    Tanh activations and average pooling as in the paper (with full C3 connectivity, the
    common simplification): 61,706 parameters for 10 classes. Input: N x 1 x 32 x 32 (pad 28x28
    MNIST images by 2).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5),
            nn.Tanh(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.Tanh(),
            nn.AvgPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),
            nn.Tanh(),
            nn.Linear(120, 84),
            nn.Tanh(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


@register_model()
def lenet5(*, weights: None = None, progress: bool = True, **kwargs: Any) -> LeNet5:
    """LeNet-5; no pretrained weights exist (``weights`` must be None).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models import lenet5
        >>> lenet5()(torch.zeros(2, 1, 32, 32)).shape
        torch.Size([2, 10])
    """
    if weights is not None:
        raise ValueError(f"lenet5: no pretrained weights exist, got weights={weights!r}")
    return LeNet5(**kwargs)
