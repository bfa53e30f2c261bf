"""ShuffleNetV2 (Ma et al.), torchvision's module names (``stage2.0.branch1.0``)."""

from __future__ import annotations

from functools import partial
from typing import Any

import tocha.core as torch
from tocha.core import nn

from ._api import Weights, WeightsEnum, register_model
from ._meta import _IMAGENET_CATEGORIES
from ._presets import ImageClassification
from ._utils import _load_weights, _ovewrite_named_param

__all__ = ["ShuffleNetV2", "ShuffleNet_V2_X1_0_Weights", "shufflenet_v2_x1_0"]


def _depthwise(i: int, o: int, kernel_size: int, stride: int = 1, padding: int = 0) -> nn.Conv2d:
    return nn.Conv2d(i, o, kernel_size, stride, padding, bias=False, groups=i)


class InvertedResidual(nn.Module):
    """Split (stride 1) or duplicate (stride 2) the input, transform, concat, shuffle channels."""

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        if not 1 <= stride <= 3:
            raise ValueError(f"InvertedResidual: illegal stride value {stride}")
        self.stride = stride
        branch_features = oup // 2
        if stride == 1 and inp != branch_features << 1:
            raise ValueError(
                f"InvertedResidual: invalid combination of stride {stride}, inp {inp} and oup "
                f"{oup}; with stride 1, inp must equal oup"
            )
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise(inp, inp, 3, stride, 1),
                nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch_features, 1, 1, 0, bias=False),
                nn.BatchNorm2d(branch_features),
                nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else branch_features, branch_features, 1, bias=False),
            nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
            _depthwise(branch_features, branch_features, 3, stride, 1),
            nn.BatchNorm2d(branch_features),
            nn.Conv2d(branch_features, branch_features, 1, bias=False),
            nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat([x1, self.branch2(x2)], 1)
        else:
            out = torch.cat([self.branch1(x), self.branch2(x)], 1)
        return nn.functional.channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNetV2 from per-stage repeats and output widths (5 widths: stem, 3 stages, conv5)."""

    def __init__(
        self,
        stages_repeats: list[int],
        stages_out_channels: list[int],
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError(
                f"ShuffleNetV2: expected stages_repeats as a list of 3 ints, got {stages_repeats}"
            )
        if len(stages_out_channels) != 5:
            raise ValueError(
                "ShuffleNetV2: expected stages_out_channels as a list of 5 ints, got "
                f"{stages_out_channels}"
            )
        self._stage_out_channels = stages_out_channels
        input_channels = 3
        output_channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(output_channels),
            nn.ReLU(inplace=True),
        )
        input_channels = output_channels
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for name, repeats, output_channels in zip(
            ["stage2", "stage3", "stage4"], stages_repeats, stages_out_channels[1:]
        ):
            seq = [InvertedResidual(input_channels, output_channels, 2)]
            seq += [
                InvertedResidual(output_channels, output_channels, 1) for _ in range(repeats - 1)
            ]
            setattr(self, name, nn.Sequential(*seq))
            input_channels = output_channels
        output_channels = stages_out_channels[-1]
        self.conv5 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 1, 1, 0, bias=False),
            nn.BatchNorm2d(output_channels),
            nn.ReLU(inplace=True),
        )
        self.fc = nn.Linear(output_channels, num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean([2, 3]))


class ShuffleNet_V2_X1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/shufflenetv2_x1-5666bf0f80.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={
            "num_params": 2278604,
            "min_size": (1, 1),
            "categories": _IMAGENET_CATEGORIES,
            "recipe": "https://github.com/ericsun99/Shufflenet-v2-Pytorch",
        },
    )
    DEFAULT = IMAGENET1K_V1


@register_model()
def shufflenet_v2_x1_0(
    *, weights: ShuffleNet_V2_X1_0_Weights | None = None, progress: bool = True, **kwargs: Any
) -> ShuffleNetV2:
    """ShuffleNetV2 with 1.0x output channels.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models import shufflenet_v2_x1_0
        >>> shufflenet_v2_x1_0(num_classes=3).eval()(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 3])
    """
    weights = ShuffleNet_V2_X1_0_Weights.verify(weights)
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = ShuffleNetV2([4, 8, 4], [24, 116, 232, 464, 1024], **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model
