"""Feature Pyramid Network (Lin et al. 2017): torchvision.ops.feature_pyramid_network."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import tocha.core.nn.functional as F
from tocha.core import nn

from .misc import Conv2dNormActivation

__all__ = ["ExtraFPNBlock", "FeaturePyramidNetwork", "LastLevelMaxPool", "LastLevelP6P7"]


class ExtraFPNBlock(nn.Module):
    """Base class of the blocks run on the FPN outputs (``results``), the backbone features
    (``x``) and the names; returns the extended ``(results, names)``."""

    def forward(self, results: list, x: list, names: list[str]):
        raise NotImplementedError


class LastLevelMaxPool(ExtraFPNBlock):
    """Adds a ``'pool'`` level: max pooling with kernel 1 and stride 2 of the last level.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops.feature_pyramid_network import LastLevelMaxPool
        >>> res, names = LastLevelMaxPool()([torch.rand(1, 2, 8, 8)], [], ["0"])
        >>> names, res[-1].shape
        (['0', 'pool'], torch.Size([1, 2, 4, 4]))
    """

    def forward(self, results: list, x: list, names: list[str]):
        names.append("pool")
        results.append(F.max_pool2d(results[-1], kernel_size=1, stride=2, padding=0))
        return results, names


class LastLevelP6P7(ExtraFPNBlock):
    """RetinaNet's extra levels P6 and P7 (3x3 stride-2 convolutions, ReLU between).

    P6 is computed from P5 when ``in_channels == out_channels``, else from C5.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.p6 = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.p7 = nn.Conv2d(out_channels, out_channels, 3, 2, 1)
        for module in (self.p6, self.p7):
            nn.init.kaiming_uniform_(module.weight, a=1)
            nn.init.constant_(module.bias, 0)
        self.use_P5 = in_channels == out_channels

    def forward(self, p: list, c: list, names: list[str]):
        x = p[-1] if self.use_P5 else c[-1]
        p6 = self.p6(x)
        p7 = self.p7(F.relu(p6))
        p.extend([p6, p7])
        names.extend(["p6", "p7"])
        return p, names


class FeaturePyramidNetwork(nn.Module):
    """Top-down pathway with lateral 1x1 connections and 3x3 output convolutions.

    Args:
        in_channels_list: channels of each input feature map (finest first).
        out_channels: channels of every output level.
        extra_blocks: an :class:`ExtraFPNBlock` run after the pyramid (e.g. LastLevelMaxPool).
        norm_layer: optional normalization after each convolution.

    Forward takes an ordered dict of feature maps (finest first) and returns one with the same
    keys (plus any extra levels), every map with ``out_channels`` channels.

    Example:
        >>> import tocha.core as torch
        >>> from collections import OrderedDict
        >>> from tocha.vision.ops import FeaturePyramidNetwork
        >>> fpn = FeaturePyramidNetwork([10, 20, 30], 5)
        >>> x = OrderedDict(feat0=torch.rand(1, 10, 64, 64), feat2=torch.rand(1, 20, 16, 16),
        ...                 feat3=torch.rand(1, 30, 8, 8))
        >>> [(k, tuple(v.shape)) for k, v in fpn(x).items()]
        [('feat0', (1, 5, 64, 64)), ('feat2', (1, 5, 16, 16)), ('feat3', (1, 5, 8, 8))]
    """

    def __init__(
        self,
        in_channels_list: list[int],
        out_channels: int,
        extra_blocks: ExtraFPNBlock | None = None,
        norm_layer: Callable[..., nn.Module] | None = None,
    ):
        super().__init__()
        self.inner_blocks = nn.ModuleList()
        self.layer_blocks = nn.ModuleList()
        for in_channels in in_channels_list:
            if in_channels == 0:
                raise ValueError("FeaturePyramidNetwork: in_channels=0 is not supported")
            self.inner_blocks.append(
                Conv2dNormActivation(
                    in_channels,
                    out_channels,
                    1,
                    padding=0,
                    norm_layer=norm_layer,
                    activation_layer=None,
                )
            )
            self.layer_blocks.append(
                Conv2dNormActivation(
                    out_channels, out_channels, 3, norm_layer=norm_layer, activation_layer=None
                )
            )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=1)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
        if extra_blocks is not None and not isinstance(extra_blocks, ExtraFPNBlock):
            raise TypeError(
                "FeaturePyramidNetwork: extra_blocks must be an ExtraFPNBlock, "
                f"got {type(extra_blocks).__name__}"
            )
        self.extra_blocks = extra_blocks

    def forward(self, x: dict) -> OrderedDict:
        names = list(x.keys())
        feats = list(x.values())
        if len(feats) != len(self.inner_blocks):
            raise ValueError(
                f"FeaturePyramidNetwork: got {len(feats)} feature maps, built for "
                f"{len(self.inner_blocks)}"
            )
        last_inner = self.inner_blocks[-1](feats[-1])
        results = [self.layer_blocks[-1](last_inner)]
        for idx in range(len(feats) - 2, -1, -1):
            lateral = self.inner_blocks[idx](feats[idx])
            top_down = F.interpolate(last_inner, size=tuple(lateral.shape[-2:]), mode="nearest")
            last_inner = lateral + top_down
            results.insert(0, self.layer_blocks[idx](last_inner))
        if self.extra_blocks is not None:
            results, names = self.extra_blocks(results, feats, names)
        return OrderedDict(zip(names, results))
