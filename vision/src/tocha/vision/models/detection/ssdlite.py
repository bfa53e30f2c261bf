"""SSDlite (MobileNetV2/V3 papers) over MobileNetV3-Large, with torchvision's module names,
defaults and builder ``ssdlite320_mobilenet_v3_large``."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any

from tocha.core import nn

from ...ops.misc import Conv2dNormActivation
from .._api import WeightsEnum, register_model
from ..mobilenetv3 import MobileNet_V3_Large_Weights, mobilenet_v3_large
from . import _utils as det_utils
from ._coco import _coco_weights
from ._utils import _load_weights, _weights_and_classes
from .anchor_utils import DefaultBoxGenerator
from .backbone_utils import _freeze_stages, _mobilenet_stage_indices, _validate_trainable_layers
from .ssd import SSD, SSDScoringHead

__all__ = [
    "SSDLite320_MobileNet_V3_Large_Weights",
    "SSDLiteClassificationHead",
    "SSDLiteFeatureExtractorMobileNet",
    "SSDLiteHead",
    "SSDLiteRegressionHead",
    "ssdlite320_mobilenet_v3_large",
]


def _prediction_block(
    in_channels: int, out_channels: int, kernel_size: int, norm_layer: Callable[..., nn.Module]
) -> nn.Sequential:
    return nn.Sequential(
        # depthwise, then a 1x1 projection to the predictions
        Conv2dNormActivation(
            in_channels,
            in_channels,
            kernel_size=kernel_size,
            groups=in_channels,
            norm_layer=norm_layer,
            activation_layer=nn.ReLU6,
        ),
        nn.Conv2d(in_channels, out_channels, 1),
    )


def _extra_block(
    in_channels: int, out_channels: int, norm_layer: Callable[..., nn.Module]
) -> nn.Sequential:
    mid = out_channels // 2
    return nn.Sequential(
        Conv2dNormActivation(
            in_channels, mid, kernel_size=1, norm_layer=norm_layer, activation_layer=nn.ReLU6
        ),
        Conv2dNormActivation(
            mid,
            mid,
            kernel_size=3,
            stride=2,
            groups=mid,
            norm_layer=norm_layer,
            activation_layer=nn.ReLU6,
        ),
        Conv2dNormActivation(
            mid, out_channels, kernel_size=1, norm_layer=norm_layer, activation_layer=nn.ReLU6
        ),
    )


def _normal_init(conv: nn.Module) -> None:
    for layer in conv.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, mean=0.0, std=0.03)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, 0.0)


class SSDLiteHead(nn.Module):
    """SSDlite's classification and regression heads (depthwise-separable predictors)."""

    def __init__(
        self,
        in_channels: list[int],
        num_anchors: list[int],
        num_classes: int,
        norm_layer: Callable[..., nn.Module],
    ) -> None:
        super().__init__()
        self.classification_head = SSDLiteClassificationHead(
            in_channels, num_anchors, num_classes, norm_layer
        )
        self.regression_head = SSDLiteRegressionHead(in_channels, num_anchors, norm_layer)

    def forward(self, x: list) -> dict:
        return {
            "bbox_regression": self.regression_head(x),
            "cls_logits": self.classification_head(x),
        }


class SSDLiteClassificationHead(SSDScoringHead):
    def __init__(
        self,
        in_channels: list[int],
        num_anchors: list[int],
        num_classes: int,
        norm_layer: Callable[..., nn.Module],
    ) -> None:
        cls_logits = nn.ModuleList(
            [
                _prediction_block(c, num_classes * a, 3, norm_layer)
                for c, a in zip(in_channels, num_anchors)
            ]
        )
        _normal_init(cls_logits)
        super().__init__(cls_logits, num_classes)


class SSDLiteRegressionHead(SSDScoringHead):
    def __init__(
        self, in_channels: list[int], num_anchors: list[int], norm_layer: Callable[..., nn.Module]
    ) -> None:
        bbox_reg = nn.ModuleList(
            [_prediction_block(c, 4 * a, 3, norm_layer) for c, a in zip(in_channels, num_anchors)]
        )
        _normal_init(bbox_reg)
        super().__init__(bbox_reg, 4)


class SSDLiteFeatureExtractorMobileNet(nn.Module):
    """MobileNet features split at C4's expansion layer (MobileNetV3 paper, section 6.3) into
    two outputs, followed by four extra stride-2 blocks: six feature maps in all."""

    def __init__(
        self,
        backbone: nn.Module,
        c4_pos: int,
        norm_layer: Callable[..., nn.Module],
        width_mult: float = 1.0,
        min_depth: int = 16,
    ) -> None:
        super().__init__()
        if backbone[c4_pos].use_res_connect:
            raise ValueError("backbone[c4_pos].use_res_connect should be False")
        self.features = nn.Sequential(
            # from the start until C4's expansion layer
            nn.Sequential(*backbone[:c4_pos], backbone[c4_pos].block[0]),
            # from C4's depthwise convolution until the end
            nn.Sequential(backbone[c4_pos].block[1:], *backbone[c4_pos + 1 :]),
        )

        def get_depth(d: int) -> int:
            return max(min_depth, int(d * width_mult))

        extra = nn.ModuleList(
            [
                _extra_block(backbone[-1].out_channels, get_depth(512), norm_layer),
                _extra_block(get_depth(512), get_depth(256), norm_layer),
                _extra_block(get_depth(256), get_depth(256), norm_layer),
                _extra_block(get_depth(256), get_depth(128), norm_layer),
            ]
        )
        _normal_init(extra)
        self.extra = extra

    def forward(self, x) -> OrderedDict:
        output = []
        for block in self.features:
            x = block(x)
            output.append(x)
        for block in self.extra:
            x = block(x)
            output.append(x)
        return OrderedDict([(str(i), v) for i, v in enumerate(output)])


def _mobilenet_extractor(
    backbone: nn.Module, trainable_layers: int, norm_layer: Callable[..., nn.Module]
) -> SSDLiteFeatureExtractorMobileNet:
    backbone = backbone.features
    stage_indices = _mobilenet_stage_indices(backbone)
    num_stages = len(stage_indices)
    if not 0 <= trainable_layers <= num_stages:
        raise ValueError(
            f"Trainable layers should be in the range [0,{num_stages}], got {trainable_layers} "
        )
    _freeze_stages(backbone, stage_indices, trainable_layers)
    return SSDLiteFeatureExtractorMobileNet(backbone, stage_indices[-2], norm_layer)


class SSDLite320_MobileNet_V3_Large_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(
        "https://download.pytorch.org/models/ssdlite320_mobilenet_v3_large_coco-a79551df.pth",
        num_params=3440060,
        recipe="https://github.com/pytorch/vision/tree/main/references/detection#ssdlite320-mobilenetv3-large",
        _metrics={"COCO-val2017": {"box_map": 21.3}},
        _ops=0.583,
        _file_size=13.418,
    )
    DEFAULT = COCO_V1


@register_model()
def ssdlite320_mobilenet_v3_large(
    *,
    weights: SSDLite320_MobileNet_V3_Large_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: MobileNet_V3_Large_Weights | None = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    norm_layer: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SSD:
    """SSDlite at 320x320 over MobileNetV3-Large ("Searching for MobileNetV3").

    Without ImageNet backbone weights the backbone uses the reduced tail (halved last
    stage), as torchvision does; ``kwargs`` go to :class:`SSD` (and are also offered to the
    MobileNetV3 constructor, which ignores what it does not know, as in torchvision).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection import ssdlite320_mobilenet_v3_large
        >>> model = ssdlite320_mobilenet_v3_large(weights_backbone=None, num_classes=3).eval()
        >>> with torch.no_grad():
        ...     out = model([torch.rand(3, 100, 80)])
        >>> sorted(out[0]), len(model.anchor_generator.aspect_ratios)
        (['boxes', 'labels', 'scores'], 6)
    """
    weights = SSDLite320_MobileNet_V3_Large_Weights.verify(weights)
    weights_backbone = MobileNet_V3_Large_Weights.verify(weights_backbone)
    if "size" in kwargs:
        warnings.warn(
            "The size of the model is already fixed; ignoring the parameter.", stacklevel=2
        )
    weights_backbone, num_classes = _weights_and_classes(weights, weights_backbone, num_classes)
    trainable_backbone_layers = _validate_trainable_layers(
        weights is not None or weights_backbone is not None, trainable_backbone_layers, 6, 6
    )
    # the reduced tail without a pretrained backbone (MobileNetV3 paper, table 6)
    reduce_tail = weights_backbone is None
    if norm_layer is None:
        norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
    backbone = mobilenet_v3_large(
        weights=weights_backbone,
        progress=progress,
        norm_layer=norm_layer,
        reduced_tail=reduce_tail,
        **kwargs,
    )
    if weights_backbone is None:
        _normal_init(backbone)
    backbone = _mobilenet_extractor(backbone, trainable_backbone_layers, norm_layer)
    size = (320, 320)
    anchor_generator = DefaultBoxGenerator(
        [[2, 3] for _ in range(6)], min_ratio=0.2, max_ratio=0.95
    )
    out_channels = det_utils.retrieve_out_channels(backbone, size)
    num_anchors = anchor_generator.num_anchors_per_location()
    if len(out_channels) != len(anchor_generator.aspect_ratios):
        raise ValueError(
            f"The length of the output channels from the backbone {len(out_channels)} do not "
            f"match the length of the anchor generator aspect ratios "
            f"{len(anchor_generator.aspect_ratios)}"
        )
    defaults = {
        "score_thresh": 0.001,
        "nms_thresh": 0.55,
        "detections_per_img": 300,
        "topk_candidates": 300,
        # the backbone expects inputs in [-1, 1]
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
    }
    kwargs = {**defaults, **kwargs}
    model = SSD(
        backbone,
        anchor_generator,
        size,
        num_classes,
        head=SSDLiteHead(out_channels, num_anchors, num_classes, norm_layer),
        **kwargs,
    )
    return _load_weights(model, weights, progress)
