"""FCN (Long et al., "Fully Convolutional Networks for Semantic Segmentation") on a dilated
ResNet (output stride 8), torchvision's names (``backbone.layer4.0.conv2``,
``classifier.4``, ``aux_classifier.0``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from tocha.core import nn

from .._api import Weights, WeightsEnum, register_model
from .._utils import IntermediateLayerGetter, _ovewrite_value_param
from ..resnet import ResNet, ResNet50_Weights, ResNet101_Weights, resnet50, resnet101
from ._utils import _VOC_CATEGORIES, SemanticSegmentation, _SimpleSegmentationModel

__all__ = [
    "FCN",
    "FCN_ResNet50_Weights",
    "FCN_ResNet101_Weights",
    "fcn_resnet50",
    "fcn_resnet101",
]


class FCN(_SimpleSegmentationModel):
    """FCN: a backbone returning ``{'out', 'aux'}`` features, an :class:`FCNHead` on each.

    Args:
        backbone: returns an OrderedDict of feature maps (``'out'``, optionally ``'aux'``).
        classifier: the head applied to ``'out'``.
        aux_classifier: the head applied to ``'aux'`` during training, or None.
    """


class FCNHead(nn.Sequential):
    """3x3 conv to ``in_channels // 4``, BN, ReLU, dropout 0.1, 1x1 conv to ``channels``."""

    def __init__(self, in_channels: int, channels: int) -> None:
        inter_channels = in_channels // 4
        super().__init__(
            nn.Conv2d(in_channels, inter_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(inter_channels),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Conv2d(inter_channels, channels, 1),
        )


_COMMON_META = {
    "categories": _VOC_CATEGORIES,
    "min_size": (1, 1),
    "_docs": "These weights were trained on a subset of COCO, using only the 20 categories that "
    "are present in the Pascal VOC dataset.",
}
_RECIPE = "https://github.com/pytorch/vision/tree/main/references/segmentation#fcn_resnet"


class FCN_ResNet50_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = Weights(
        url="https://download.pytorch.org/models/fcn_resnet50_coco-1167a1af.pth",
        transforms=partial(SemanticSegmentation, resize_size=520),
        meta={**_COMMON_META, "num_params": 35322218, "recipe": _RECIPE},
    )
    DEFAULT = COCO_WITH_VOC_LABELS_V1


class FCN_ResNet101_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = Weights(
        url="https://download.pytorch.org/models/fcn_resnet101_coco-7ecb50ca.pth",
        transforms=partial(SemanticSegmentation, resize_size=520),
        meta={**_COMMON_META, "num_params": 54314346, "recipe": _RECIPE},
    )
    DEFAULT = COCO_WITH_VOC_LABELS_V1


def _fcn_resnet(backbone: ResNet, num_classes: int, aux: bool | None) -> FCN:
    return_layers = {"layer4": "out"}
    if aux:
        return_layers["layer3"] = "aux"
    body = IntermediateLayerGetter(backbone, return_layers=return_layers)
    aux_classifier = FCNHead(1024, num_classes) if aux else None
    return FCN(body, FCNHead(2048, num_classes), aux_classifier)


def _resolve(weights, num_classes, aux_loss):
    """The weights fix ``num_classes`` and ``aux_loss``; without them the defaults are 21/None."""
    if weights is not None:
        num_classes = _ovewrite_value_param(
            "num_classes", num_classes, len(weights.meta["categories"])
        )
        aux_loss = _ovewrite_value_param("aux_loss", aux_loss, True)
    elif num_classes is None:
        num_classes = 21
    return num_classes, aux_loss


@register_model()
def fcn_resnet50(
    *,
    weights: FCN_ResNet50_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    aux_loss: bool | None = None,
    weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
    **kwargs: Any,
) -> FCN:
    """FCN-ResNet50: ResNet-50 with dilated ``layer3``/``layer4`` (output stride 8).

    Args:
        weights: a :class:`FCN_ResNet50_Weights` member (or its name), or None.
        progress: show a download progress bar.
        num_classes: output classes (default 21, the VOC categories with background).
        aux_loss: add the auxiliary FCN head on ``layer3`` (output ``'aux'``).
        weights_backbone: ImageNet weights for the backbone; as in torchvision the default
            downloads ``ResNet50_Weights.IMAGENET1K_V1``; pass None for a random backbone.
        **kwargs: accepted and ignored, as torchvision does.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.segmentation import fcn_resnet50
        >>> m = fcn_resnet50(weights_backbone=None, num_classes=3, aux_loss=True).eval()
        >>> out = m(torch.zeros(1, 3, 24, 24))
        >>> out["out"].shape, out["aux"].shape
        (torch.Size([1, 3, 24, 24]), torch.Size([1, 3, 24, 24]))
    """
    weights = FCN_ResNet50_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    if weights is not None:
        weights_backbone = None
    num_classes, aux_loss = _resolve(weights, num_classes, aux_loss)
    backbone = resnet50(weights=weights_backbone, replace_stride_with_dilation=[False, True, True])
    model = _fcn_resnet(backbone, num_classes, aux_loss)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


@register_model()
def fcn_resnet101(
    *,
    weights: FCN_ResNet101_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    aux_loss: bool | None = None,
    weights_backbone: ResNet101_Weights | None = ResNet101_Weights.IMAGENET1K_V1,
    **kwargs: Any,
) -> FCN:
    """FCN-ResNet101; arguments as :func:`fcn_resnet50`."""
    weights = FCN_ResNet101_Weights.verify(weights)
    weights_backbone = ResNet101_Weights.verify(weights_backbone)
    if weights is not None:
        weights_backbone = None
    num_classes, aux_loss = _resolve(weights, num_classes, aux_loss)
    backbone = resnet101(weights=weights_backbone, replace_stride_with_dilation=[False, True, True])
    model = _fcn_resnet(backbone, num_classes, aux_loss)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model
