"""LR-ASPP (Howard et al., "Searching for MobileNetV3"): a lite segmentation head on a dilated
MobileNetV3-Large, torchvision's names (``classifier.cbr.0``, ``classifier.scale.1``,
``classifier.low_classifier``, ``classifier.high_classifier``)."""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Any

from tocha.core import nn
from tocha.core.nn import functional as F

from .._api import Weights, WeightsEnum, register_model
from .._utils import IntermediateLayerGetter, _ovewrite_value_param
from ..mobilenetv3 import MobileNet_V3_Large_Weights, MobileNetV3, mobilenet_v3_large
from ._utils import _VOC_CATEGORIES, SemanticSegmentation
from .deeplabv3 import _mobilenet_stage_indices

__all__ = ["LRASPP", "LRASPP_MobileNet_V3_Large_Weights", "lraspp_mobilenet_v3_large"]


class LRASPP(nn.Module):
    """LR-ASPP: the backbone returns ``{'low', 'high'}`` features; the head mixes them and the
    logits are upsampled bilinearly to the input size. Returns ``OrderedDict(out=...)``.

    Args:
        backbone: returns an OrderedDict with ``'low'`` (stride 8) and ``'high'`` features.
        low_channels, high_channels: their channel counts.
        num_classes: output classes (background included).
        inter_channels: width of the high-resolution branch.
    """

    def __init__(
        self,
        backbone: nn.Module,
        low_channels: int,
        high_channels: int,
        num_classes: int,
        inter_channels: int = 128,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = LRASPPHead(low_channels, high_channels, num_classes, inter_channels)

    def forward(self, input):
        features = self.backbone(input)
        out = self.classifier(features)
        out = F.interpolate(out, size=tuple(input.shape[-2:]), mode="bilinear", align_corners=False)
        result: OrderedDict = OrderedDict()
        result["out"] = out
        return result


class LRASPPHead(nn.Module):
    """``high``: 1x1 conv-BN-ReLU gated by a global-pool sigmoid attention, upsampled to
    ``low``'s size; the sum of a 1x1 classifier on each branch."""

    def __init__(
        self, low_channels: int, high_channels: int, num_classes: int, inter_channels: int
    ) -> None:
        super().__init__()
        self.cbr = nn.Sequential(
            nn.Conv2d(high_channels, inter_channels, 1, bias=False),
            nn.BatchNorm2d(inter_channels),
            nn.ReLU(inplace=True),
        )
        self.scale = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(high_channels, inter_channels, 1, bias=False),
            nn.Sigmoid(),
        )
        self.low_classifier = nn.Conv2d(low_channels, num_classes, 1)
        self.high_classifier = nn.Conv2d(inter_channels, num_classes, 1)

    def forward(self, input: dict):
        low = input["low"]
        high = input["high"]
        x = self.cbr(high) * self.scale(high)
        x = F.interpolate(x, size=tuple(low.shape[-2:]), mode="bilinear", align_corners=False)
        return self.low_classifier(low) + self.high_classifier(x)


def _lraspp_mobilenetv3(backbone: MobileNetV3, num_classes: int) -> LRASPP:
    features = backbone.features
    stage_indices = _mobilenet_stage_indices(features)
    low_pos = stage_indices[-4]  # C2, output stride 8
    high_pos = stage_indices[-1]  # C5, output stride 16
    low_channels = features[low_pos].out_channels
    high_channels = features[high_pos].out_channels
    body = IntermediateLayerGetter(
        features, return_layers={str(low_pos): "low", str(high_pos): "high"}
    )
    return LRASPP(body, low_channels, high_channels, num_classes)


class LRASPP_MobileNet_V3_Large_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = Weights(
        url="https://download.pytorch.org/models/lraspp_mobilenet_v3_large-d234d4ea.pth",
        transforms=partial(SemanticSegmentation, resize_size=520),
        meta={
            "num_params": 3221538,
            "categories": _VOC_CATEGORIES,
            "min_size": (1, 1),
            "recipe": "https://github.com/pytorch/vision/tree/main/references/segmentation#lraspp_mobilenet_v3_large",
            "_docs": "These weights were trained on a subset of COCO, using only the 20 "
            "categories that are present in the Pascal VOC dataset.",
        },
    )
    DEFAULT = COCO_WITH_VOC_LABELS_V1


@register_model()
def lraspp_mobilenet_v3_large(
    *,
    weights: LRASPP_MobileNet_V3_Large_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: MobileNet_V3_Large_Weights | None = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
    **kwargs: Any,
) -> LRASPP:
    """Lite R-ASPP on a dilated MobileNetV3-Large (no auxiliary head).

    Args:
        weights: a :class:`LRASPP_MobileNet_V3_Large_Weights` member (or its name), or None.
        progress: show a download progress bar.
        num_classes: output classes (default 21).
        weights_backbone: ImageNet backbone weights (default ``IMAGENET1K_V1``, downloaded as
            torchvision does); None for a random backbone.
        **kwargs: ``aux_loss=True`` is refused (the model has no auxiliary head).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.segmentation import lraspp_mobilenet_v3_large
        >>> m = lraspp_mobilenet_v3_large(weights_backbone=None, num_classes=5).eval()
        >>> m(torch.zeros(2, 3, 40, 40))["out"].shape
        torch.Size([2, 5, 40, 40])
    """
    if kwargs.pop("aux_loss", False):
        raise NotImplementedError(
            "lraspp_mobilenet_v3_large: this model does not use auxiliary loss"
        )
    weights = LRASPP_MobileNet_V3_Large_Weights.verify(weights)
    weights_backbone = MobileNet_V3_Large_Weights.verify(weights_backbone)
    if weights is not None:
        weights_backbone = None
        num_classes = _ovewrite_value_param(
            "num_classes", num_classes, len(weights.meta["categories"])
        )
    elif num_classes is None:
        num_classes = 21
    backbone = mobilenet_v3_large(weights=weights_backbone, dilated=True)
    model = _lraspp_mobilenetv3(backbone, num_classes)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model
