"""Semantic segmentation models with torchvision's builders, weights enums and key names.

Each model returns an ``OrderedDict`` with ``'out'`` (and ``'aux'`` for the auxiliary head),
logits upsampled to the input's height and width.

Example:
    >>> import tocha.core as torch
    >>> from tocha.vision.models import segmentation
    >>> m = segmentation.fcn_resnet50(weights_backbone=None, num_classes=2).eval()
    >>> m(torch.zeros(1, 3, 16, 16))["out"].shape
    torch.Size([1, 2, 16, 16])
"""

from ._utils import SemanticSegmentation
from .deeplabv3 import *  # noqa: F403
from .deeplabv3 import (
    DeepLabV3,
    DeepLabV3_MobileNet_V3_Large_Weights,
    DeepLabV3_ResNet50_Weights,
    DeepLabV3_ResNet101_Weights,
    deeplabv3_mobilenet_v3_large,
    deeplabv3_resnet50,
    deeplabv3_resnet101,
)
from .fcn import *  # noqa: F403
from .fcn import FCN, FCN_ResNet50_Weights, FCN_ResNet101_Weights, fcn_resnet50, fcn_resnet101
from .lraspp import *  # noqa: F403
from .lraspp import LRASPP, LRASPP_MobileNet_V3_Large_Weights, lraspp_mobilenet_v3_large

__all__ = [
    "SemanticSegmentation",
    "DeepLabV3",
    "DeepLabV3_MobileNet_V3_Large_Weights",
    "DeepLabV3_ResNet50_Weights",
    "DeepLabV3_ResNet101_Weights",
    "deeplabv3_mobilenet_v3_large",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
    "FCN",
    "FCN_ResNet50_Weights",
    "FCN_ResNet101_Weights",
    "fcn_resnet50",
    "fcn_resnet101",
    "LRASPP",
    "LRASPP_MobileNet_V3_Large_Weights",
    "lraspp_mobilenet_v3_large",
]
