"""Mask R-CNN (He et al., 2017): Faster R-CNN with a mask branch, torchvision's names."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from tocha.core import nn

from ...ops.misc import Conv2dNormActivation
from ...ops.poolers import MultiScaleRoIAlign
from .._api import WeightsEnum, register_model
from ..resnet import ResNet50_Weights
from ._coco import _ENHANCED_RECIPE, _coco_weights
from ._utils import _load_weights, _weights_and_classes
from .backbone_utils import _resnet50_fpn_backbone
from .faster_rcnn import FasterRCNN, _v2_rpn_and_box_heads

__all__ = [
    "MaskRCNN",
    "MaskRCNN_ResNet50_FPN_Weights",
    "MaskRCNN_ResNet50_FPN_V2_Weights",
    "MaskRCNNHeads",
    "MaskRCNNPredictor",
    "maskrcnn_resnet50_fpn",
    "maskrcnn_resnet50_fpn_v2",
]


class MaskRCNNHeads(nn.Sequential):
    """3x3 convolutions (+ReLU) over the pooled RoI features of the mask branch."""

    _version = 2

    def __init__(
        self,
        in_channels: int,
        layers: list[int],
        dilation: int,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        blocks = []
        previous = in_channels
        for current in layers:
            blocks.append(
                Conv2dNormActivation(
                    previous,
                    current,
                    kernel_size=3,
                    stride=1,
                    padding=dilation,
                    dilation=dilation,
                    norm_layer=norm_layer,
                )
            )
            previous = current
        super().__init__(*blocks)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        # version 1 named the convolutions mask_fcn1, mask_fcn2, ...
        version = local_metadata.get("version", None)
        if version is None or version < 2:
            for i in range(len(self)):
                for kind in ("weight", "bias"):
                    old_key = f"{prefix}mask_fcn{i + 1}.{kind}"
                    if old_key in state_dict:
                        state_dict[f"{prefix}{i}.0.{kind}"] = state_dict.pop(old_key)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


class MaskRCNNPredictor(nn.Sequential):
    """A 2x transposed convolution, ReLU and 1x1 convolution to one mask logit map per class."""

    def __init__(self, in_channels: int, dim_reduced: int, num_classes: int) -> None:
        super().__init__(
            OrderedDict(
                [
                    ("conv5_mask", nn.ConvTranspose2d(in_channels, dim_reduced, 2, 2, 0)),
                    ("relu", nn.ReLU(inplace=True)),
                    ("mask_fcn_logits", nn.Conv2d(dim_reduced, num_classes, 1, 1, 0)),
                ]
            )
        )
        for name, param in self.named_parameters():
            if "weight" in name:
                nn.init.kaiming_normal_(param, mode="fan_out", nonlinearity="relu")


class MaskRCNN(FasterRCNN):
    """Faster R-CNN plus a mask branch: in training the targets also carry ``masks`` (uint8
    ``[N, H, W]``) and the losses add ``loss_mask``; in eval each detection gets ``masks``
    (``[N, 1, H, W]`` probabilities in the original image). Other arguments as
    :class:`FasterRCNN`.
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int | None = None,
        *args: Any,
        mask_roi_pool: MultiScaleRoIAlign | None = None,
        mask_head: nn.Module | None = None,
        mask_predictor: nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(mask_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError(
                "mask_roi_pool should be of type MultiScaleRoIAlign or None instead of "
                f"{type(mask_roi_pool)}"
            )
        if num_classes is not None and mask_predictor is not None:
            raise ValueError("num_classes should be None when mask_predictor is specified")
        out_channels = backbone.out_channels
        if mask_roi_pool is None:
            mask_roi_pool = MultiScaleRoIAlign(
                featmap_names=["0", "1", "2", "3"], output_size=14, sampling_ratio=2
            )
        if mask_head is None:
            mask_head = MaskRCNNHeads(out_channels, [256, 256, 256, 256], 1)
        if mask_predictor is None:
            mask_predictor = MaskRCNNPredictor(256, 256, num_classes)
        super().__init__(backbone, num_classes, *args, **kwargs)
        self.roi_heads.mask_roi_pool = mask_roi_pool
        self.roi_heads.mask_head = mask_head
        self.roi_heads.mask_predictor = mask_predictor


class MaskRCNN_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(
        "https://download.pytorch.org/models/maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth",
        num_params=44401393,
        recipe="https://github.com/pytorch/vision/tree/main/references/detection#mask-r-cnn",
        _metrics={"COCO-val2017": {"box_map": 37.9, "mask_map": 34.6}},
        _ops=134.38,
        _file_size=169.84,
    )
    DEFAULT = COCO_V1


class MaskRCNN_ResNet50_FPN_V2_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(
        "https://download.pytorch.org/models/maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth",
        num_params=46359409,
        recipe="https://github.com/pytorch/vision/pull/5773",
        _metrics={"COCO-val2017": {"box_map": 47.4, "mask_map": 41.8}},
        _ops=333.577,
        _file_size=177.219,
        _docs=_ENHANCED_RECIPE,
    )
    DEFAULT = COCO_V1


@register_model()
def maskrcnn_resnet50_fpn(
    *,
    weights: MaskRCNN_ResNet50_FPN_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    **kwargs: Any,
) -> MaskRCNN:
    """Mask R-CNN with a ResNet-50-FPN backbone ("Mask R-CNN"); arguments as
    :func:`~tocha.vision.models.detection.fasterrcnn_resnet50_fpn`.

    Example:
        >>> from tocha.vision.models.detection import maskrcnn_resnet50_fpn
        >>> m = maskrcnn_resnet50_fpn(weights_backbone=None, num_classes=3)
        >>> m.roi_heads.mask_predictor.mask_fcn_logits.out_channels, m.roi_heads.has_mask()
        (3, True)
    """
    weights = MaskRCNN_ResNet50_FPN_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    weights_backbone, num_classes = _weights_and_classes(weights, weights_backbone, num_classes)
    backbone = _resnet50_fpn_backbone(
        weights, weights_backbone, progress, trainable_backbone_layers
    )
    model = MaskRCNN(backbone, num_classes=num_classes, **kwargs)
    return _load_weights(model, weights, progress, MaskRCNN_ResNet50_FPN_Weights.COCO_V1)


@register_model()
def maskrcnn_resnet50_fpn_v2(
    *,
    weights: MaskRCNN_ResNet50_FPN_V2_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: ResNet50_Weights | None = None,
    trainable_backbone_layers: int | None = None,
    **kwargs: Any,
) -> MaskRCNN:
    """Mask R-CNN v2: Faster R-CNN v2's BatchNorm backbone, FPN and heads, and a BatchNorm
    mask head ("Benchmarking Detection Transfer Learning with Vision Transformers").

    Example:
        >>> from tocha.vision.models.detection import maskrcnn_resnet50_fpn_v2
        >>> m = maskrcnn_resnet50_fpn_v2(num_classes=3)
        >>> type(m.roi_heads.mask_head[0][1]).__name__, len(m.rpn.head.conv)
        ('BatchNorm2d', 2)
    """
    weights = MaskRCNN_ResNet50_FPN_V2_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    weights_backbone, num_classes = _weights_and_classes(weights, weights_backbone, num_classes)
    backbone = _resnet50_fpn_backbone(
        weights,
        weights_backbone,
        progress,
        trainable_backbone_layers,
        frozen_bn=False,
        fpn_norm_layer=nn.BatchNorm2d,
    )
    heads = _v2_rpn_and_box_heads(backbone.out_channels)
    mask_head = MaskRCNNHeads(
        backbone.out_channels, [256, 256, 256, 256], 1, norm_layer=nn.BatchNorm2d
    )
    model = MaskRCNN(backbone, num_classes=num_classes, **heads, mask_head=mask_head, **kwargs)
    return _load_weights(model, weights, progress)
