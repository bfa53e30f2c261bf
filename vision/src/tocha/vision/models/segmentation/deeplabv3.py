"""DeepLabV3 (Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation")
on a dilated ResNet or MobileNetV3-Large, torchvision's names (``classifier.0.convs.1.0``,
``classifier.0.project.0``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import tocha.core as torch
from tocha.core import nn
from tocha.core.nn import functional as F

from .._api import Weights, WeightsEnum, register_model
from .._utils import IntermediateLayerGetter
from ..mobilenetv3 import MobileNet_V3_Large_Weights, MobileNetV3, mobilenet_v3_large
from ..resnet import ResNet, ResNet50_Weights, ResNet101_Weights, resnet50, resnet101
from ._utils import _VOC_CATEGORIES, SemanticSegmentation, _SimpleSegmentationModel
from .fcn import FCNHead, _resolve

__all__ = [
    "DeepLabV3",
    "DeepLabV3_ResNet50_Weights",
    "DeepLabV3_ResNet101_Weights",
    "DeepLabV3_MobileNet_V3_Large_Weights",
    "deeplabv3_mobilenet_v3_large",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
]


class DeepLabV3(_SimpleSegmentationModel):
    """DeepLabV3: a backbone returning ``{'out', 'aux'}``, :class:`DeepLabHead` on ``'out'``
    and optionally an FCN head on ``'aux'``."""


class ASPPConv(nn.Sequential):
    """3x3 atrous conv (padding = dilation keeps the size), BN, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


class ASPPPooling(nn.Sequential):
    """Image-level features: global average pool, 1x1 conv, BN, ReLU, upsampled back."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )

    def forward(self, x):
        size = tuple(x.shape[-2:])
        for mod in self:
            x = mod(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1x1 branch, one atrous branch per rate and the pooling
    branch, concatenated and projected to ``out_channels`` (then dropout 0.5)."""

    def __init__(
        self, in_channels: int, atrous_rates: Sequence[int], out_channels: int = 256
    ) -> None:
        super().__init__()
        modules: list[nn.Module] = [
            nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
            )
        ]
        for rate in tuple(atrous_rates):
            modules.append(ASPPConv(in_channels, out_channels, rate))
        modules.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(modules)
        self.project = nn.Sequential(
            nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Dropout(0.5),
        )

    def forward(self, x):
        return self.project(torch.cat([conv(x) for conv in self.convs], dim=1))


class DeepLabHead(nn.Sequential):
    """ASPP, 3x3 conv 256, BN, ReLU, 1x1 conv to ``num_classes``."""

    def __init__(
        self, in_channels: int, num_classes: int, atrous_rates: Sequence[int] = (12, 24, 36)
    ) -> None:
        super().__init__(
            ASPP(in_channels, atrous_rates),
            nn.Conv2d(256, 256, 3, padding=1, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(),
            nn.Conv2d(256, num_classes, 1),
        )


def _deeplabv3_resnet(backbone: ResNet, num_classes: int, aux: bool | None) -> DeepLabV3:
    return_layers = {"layer4": "out"}
    if aux:
        return_layers["layer3"] = "aux"
    body = IntermediateLayerGetter(backbone, return_layers=return_layers)
    aux_classifier = FCNHead(1024, num_classes) if aux else None
    return DeepLabV3(body, DeepLabHead(2048, num_classes), aux_classifier)


def _mobilenet_stage_indices(features: nn.Module) -> list[int]:
    """Positions in ``features`` where a new output stride begins (C1..Cn-1), plus the stem
    (C0) and the last layer (Cn)."""
    strided = [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)]
    return [0, *strided, len(features) - 1]


def _deeplabv3_mobilenetv3(backbone: MobileNetV3, num_classes: int, aux: bool | None) -> DeepLabV3:
    features = backbone.features
    stage_indices = _mobilenet_stage_indices(features)
    out_pos = stage_indices[-1]  # C5, output stride 16 with the dilated last stage
    aux_pos = stage_indices[-4]  # C2, output stride 8
    out_inplanes = features[out_pos].out_channels
    aux_inplanes = features[aux_pos].out_channels
    return_layers = {str(out_pos): "out"}
    if aux:
        return_layers[str(aux_pos)] = "aux"
    body = IntermediateLayerGetter(features, return_layers=return_layers)
    aux_classifier = FCNHead(aux_inplanes, num_classes) if aux else None
    return DeepLabV3(body, DeepLabHead(out_inplanes, num_classes), aux_classifier)


_COMMON_META = {
    "categories": _VOC_CATEGORIES,
    "min_size": (1, 1),
    "_docs": "These weights were trained on a subset of COCO, using only the 20 categories that "
    "are present in the Pascal VOC dataset.",
}
_URL = "https://download.pytorch.org/models/"


def _w(file: str, num_params: int, recipe: str) -> Weights:
    return Weights(
        url=_URL + file,
        transforms=partial(SemanticSegmentation, resize_size=520),
        meta={**_COMMON_META, "num_params": num_params, "recipe": recipe},
    )


_RECIPE_R = "https://github.com/pytorch/vision/tree/main/references/segmentation#deeplabv3_resnet"
_RECIPE_M = "https://github.com/pytorch/vision/tree/main/references/segmentation#deeplabv3_mobilenet_v3_large"


class DeepLabV3_ResNet50_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = _w("deeplabv3_resnet50_coco-cd0a2569.pth", 42004074, _RECIPE_R)
    DEFAULT = COCO_WITH_VOC_LABELS_V1


class DeepLabV3_ResNet101_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = _w("deeplabv3_resnet101_coco-586e9e4e.pth", 60996202, _RECIPE_R)
    DEFAULT = COCO_WITH_VOC_LABELS_V1


class DeepLabV3_MobileNet_V3_Large_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = _w("deeplabv3_mobilenet_v3_large-fc3c493d.pth", 11029328, _RECIPE_M)
    DEFAULT = COCO_WITH_VOC_LABELS_V1


def _finish(model, weights, progress: bool):
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


@register_model()
def deeplabv3_resnet50(
    *,
    weights: DeepLabV3_ResNet50_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    aux_loss: bool | None = None,
    weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
    **kwargs: Any,
) -> DeepLabV3:
    """DeepLabV3-ResNet50 (dilated ``layer3``/``layer4``, ASPP rates 12, 24, 36).

    Arguments as :func:`~tocha.vision.models.segmentation.fcn_resnet50`.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.segmentation import deeplabv3_resnet50
        >>> m = deeplabv3_resnet50(weights_backbone=None, num_classes=4).eval()
        >>> m(torch.zeros(1, 3, 24, 24))["out"].shape
        torch.Size([1, 4, 24, 24])
    """
    weights = DeepLabV3_ResNet50_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    if weights is not None:
        weights_backbone = None
    num_classes, aux_loss = _resolve(weights, num_classes, aux_loss)
    backbone = resnet50(weights=weights_backbone, replace_stride_with_dilation=[False, True, True])
    return _finish(_deeplabv3_resnet(backbone, num_classes, aux_loss), weights, progress)


@register_model()
def deeplabv3_resnet101(
    *,
    weights: DeepLabV3_ResNet101_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    aux_loss: bool | None = None,
    weights_backbone: ResNet101_Weights | None = ResNet101_Weights.IMAGENET1K_V1,
    **kwargs: Any,
) -> DeepLabV3:
    """DeepLabV3-ResNet101; arguments as :func:`deeplabv3_resnet50`."""
    weights = DeepLabV3_ResNet101_Weights.verify(weights)
    weights_backbone = ResNet101_Weights.verify(weights_backbone)
    if weights is not None:
        weights_backbone = None
    num_classes, aux_loss = _resolve(weights, num_classes, aux_loss)
    backbone = resnet101(weights=weights_backbone, replace_stride_with_dilation=[False, True, True])
    return _finish(_deeplabv3_resnet(backbone, num_classes, aux_loss), weights, progress)


@register_model()
def deeplabv3_mobilenet_v3_large(
    *,
    weights: DeepLabV3_MobileNet_V3_Large_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    aux_loss: bool | None = None,
    weights_backbone: MobileNet_V3_Large_Weights | None = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
    **kwargs: Any,
) -> DeepLabV3:
    """DeepLabV3 on a MobileNetV3-Large whose last stage is dilated (output stride 16).

    Arguments as :func:`~tocha.vision.models.segmentation.fcn_resnet50`; the default backbone
    weights are ``MobileNet_V3_Large_Weights.IMAGENET1K_V1``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.segmentation import deeplabv3_mobilenet_v3_large
        >>> m = deeplabv3_mobilenet_v3_large(weights_backbone=None, aux_loss=True).eval()
        >>> {k: tuple(v.shape) for k, v in m(torch.zeros(1, 3, 32, 48)).items()}
        {'out': (1, 21, 32, 48), 'aux': (1, 21, 32, 48)}
    """
    weights = DeepLabV3_MobileNet_V3_Large_Weights.verify(weights)
    weights_backbone = MobileNet_V3_Large_Weights.verify(weights_backbone)
    if weights is not None:
        weights_backbone = None
    num_classes, aux_loss = _resolve(weights, num_classes, aux_loss)
    backbone = mobilenet_v3_large(weights=weights_backbone, dilated=True)
    return _finish(_deeplabv3_mobilenetv3(backbone, num_classes, aux_loss), weights, progress)
