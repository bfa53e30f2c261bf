"""Faster R-CNN (Ren et al., 2015) with torchvision's module names, defaults and builder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tocha.core.nn.functional as F
from tocha.core import nn

from ...ops.misc import Conv2dNormActivation
from ...ops.poolers import MultiScaleRoIAlign
from .._api import WeightsEnum, register_model
from ..mobilenetv3 import MobileNet_V3_Large_Weights, mobilenet_v3_large
from ..resnet import ResNet50_Weights
from ._coco import _ENHANCED_RECIPE, _coco_weights
from ._frozen_bn import FrozenBatchNorm2d
from ._utils import _load_weights, _weights_and_classes
from .anchor_utils import AnchorGenerator
from .backbone_utils import (
    _mobilenet_extractor,
    _resnet50_fpn_backbone,
    _validate_trainable_layers,
)
from .generalized_rcnn import GeneralizedRCNN
from .roi_heads import RoIHeads
from .rpn import RegionProposalNetwork, RPNHead
from .transform import _imagenet_transform

__all__ = [
    "FasterRCNN",
    "FasterRCNN_ResNet50_FPN_Weights",
    "FasterRCNN_ResNet50_FPN_V2_Weights",
    "FasterRCNN_MobileNet_V3_Large_FPN_Weights",
    "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights",
    "FastRCNNConvFCHead",
    "FastRCNNPredictor",
    "TwoMLPHead",
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
]


def _default_anchorgen() -> AnchorGenerator:
    anchor_sizes = ((32,), (64,), (128,), (256,), (512,))
    aspect_ratios = ((0.5, 1.0, 2.0),) * len(anchor_sizes)
    return AnchorGenerator(anchor_sizes, aspect_ratios)


def _v2_rpn_and_box_heads(out_channels: int) -> dict:
    """The v2 models' (Faster and Mask R-CNN v2) RPN anchors, two-conv RPN head and 4-conv +
    1-fc BatchNorm box head, as keyword arguments of :class:`FasterRCNN`."""
    rpn_anchor_generator = _default_anchorgen()
    rpn_head = RPNHead(
        out_channels, rpn_anchor_generator.num_anchors_per_location()[0], conv_depth=2
    )
    box_head = FastRCNNConvFCHead(
        (out_channels, 7, 7), [256, 256, 256, 256], [1024], norm_layer=nn.BatchNorm2d
    )
    return {
        "rpn_anchor_generator": rpn_anchor_generator,
        "rpn_head": rpn_head,
        "box_head": box_head,
    }


class TwoMLPHead(nn.Module):
    """Flatten, then two fully connected layers with ReLU (``fc6``, ``fc7``)."""

    def __init__(self, in_channels: int, representation_size: int) -> None:
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x):
        x = x.flatten(start_dim=1)
        return F.relu(self.fc7(F.relu(self.fc6(x))))


class FastRCNNConvFCHead(nn.Sequential):
    """Convolutions (with normalisation) then fully connected layers with ReLU: the box head
    of Faster R-CNN v2 ("Benchmarking Detection Transfer Learning with Vision Transformers").

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection.faster_rcnn import FastRCNNConvFCHead
        >>> head = FastRCNNConvFCHead((8, 7, 7), [16, 16], [32])
        >>> head(torch.rand(3, 8, 7, 7)).shape
        torch.Size([3, 32])
    """

    def __init__(
        self,
        input_size: tuple[int, int, int],
        conv_layers: list[int],
        fc_layers: list[int],
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        in_channels, in_height, in_width = input_size
        blocks: list[nn.Module] = []
        previous = in_channels
        for current in conv_layers:
            blocks.append(Conv2dNormActivation(previous, current, norm_layer=norm_layer))
            previous = current
        blocks.append(nn.Flatten())
        previous = previous * in_height * in_width
        for current in fc_layers:
            blocks.append(nn.Linear(previous, current))
            blocks.append(nn.ReLU(inplace=True))
            previous = current
        super().__init__(*blocks)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)


class FastRCNNPredictor(nn.Module):
    """Class logits (``cls_score``) and per-class box deltas (``bbox_pred``) of each RoI.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection.faster_rcnn import FastRCNNPredictor
        >>> scores, deltas = FastRCNNPredictor(16, 3)(torch.rand(5, 16))
        >>> scores.shape, deltas.shape
        (torch.Size([5, 3]), torch.Size([5, 12]))
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)
        self.bbox_pred = nn.Linear(in_channels, num_classes * 4)

    def forward(self, x):
        if x.dim() == 4 and list(x.shape[2:]) != [1, 1]:
            raise ValueError(
                f"FastRCNNPredictor: x has spatial size {list(x.shape[2:])}, expected [1, 1]"
            )
        x = x.flatten(1)
        return self.cls_score(x), self.bbox_pred(x)


class FasterRCNN(GeneralizedRCNN):
    """Faster R-CNN: a backbone (with ``out_channels``), a Region Proposal Network and RoI
    heads; images are normalised and resized internally (``min_size``/``max_size``).

    The input is a list of float ``[C, H, W]`` images in 0..1. In training, pass ``targets``
    (per image a dict with ``boxes`` float ``[N, 4]`` ``(x1, y1, x2, y2)`` and ``labels`` int64
    ``[N]``); the model returns ``loss_classifier``, ``loss_box_reg``, ``loss_objectness`` and
    ``loss_rpn_box_reg``. In eval mode it returns per image ``boxes``, ``labels``, ``scores``.

    The arguments and their defaults are torchvision's (``rpn_*`` for the proposal network,
    ``box_*`` for the second stage, ``num_classes`` including the background).
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int | None = None,
        # transform parameters
        min_size: int = 800,
        max_size: int = 1333,
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        # RPN parameters
        rpn_anchor_generator: AnchorGenerator | None = None,
        rpn_head: nn.Module | None = None,
        rpn_pre_nms_top_n_train: int = 2000,
        rpn_pre_nms_top_n_test: int = 1000,
        rpn_post_nms_top_n_train: int = 2000,
        rpn_post_nms_top_n_test: int = 1000,
        rpn_nms_thresh: float = 0.7,
        rpn_fg_iou_thresh: float = 0.7,
        rpn_bg_iou_thresh: float = 0.3,
        rpn_batch_size_per_image: int = 256,
        rpn_positive_fraction: float = 0.5,
        rpn_score_thresh: float = 0.0,
        # Box parameters
        box_roi_pool: MultiScaleRoIAlign | None = None,
        box_head: nn.Module | None = None,
        box_predictor: nn.Module | None = None,
        box_score_thresh: float = 0.05,
        box_nms_thresh: float = 0.5,
        box_detections_per_img: int = 100,
        box_fg_iou_thresh: float = 0.5,
        box_bg_iou_thresh: float = 0.5,
        box_batch_size_per_image: int = 512,
        box_positive_fraction: float = 0.25,
        bbox_reg_weights: tuple[float, float, float, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if not hasattr(backbone, "out_channels"):
            raise ValueError(
                "backbone should contain an attribute out_channels specifying the number of "
                "output channels (assumed to be the same for all the levels)"
            )
        if not isinstance(rpn_anchor_generator, (AnchorGenerator, type(None))):
            raise TypeError(
                "rpn_anchor_generator should be of type AnchorGenerator or None instead of "
                f"{type(rpn_anchor_generator)}"
            )
        if not isinstance(box_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError(
                "box_roi_pool should be of type MultiScaleRoIAlign or None instead of "
                f"{type(box_roi_pool)}"
            )
        if num_classes is not None:
            if box_predictor is not None:
                raise ValueError("num_classes should be None when box_predictor is specified")
        elif box_predictor is None:
            raise ValueError("num_classes should not be None when box_predictor is not specified")
        out_channels = backbone.out_channels
        if rpn_anchor_generator is None:
            rpn_anchor_generator = _default_anchorgen()
        if rpn_head is None:
            rpn_head = RPNHead(out_channels, rpn_anchor_generator.num_anchors_per_location()[0])
        rpn = RegionProposalNetwork(
            rpn_anchor_generator,
            rpn_head,
            rpn_fg_iou_thresh,
            rpn_bg_iou_thresh,
            rpn_batch_size_per_image,
            rpn_positive_fraction,
            {"training": rpn_pre_nms_top_n_train, "testing": rpn_pre_nms_top_n_test},
            {"training": rpn_post_nms_top_n_train, "testing": rpn_post_nms_top_n_test},
            rpn_nms_thresh,
            score_thresh=rpn_score_thresh,
        )
        if box_roi_pool is None:
            box_roi_pool = MultiScaleRoIAlign(
                featmap_names=["0", "1", "2", "3"], output_size=7, sampling_ratio=2
            )
        if box_head is None:
            resolution = box_roi_pool.output_size[0]
            box_head = TwoMLPHead(out_channels * resolution**2, 1024)
        if box_predictor is None:
            box_predictor = FastRCNNPredictor(1024, num_classes)
        roi_heads = RoIHeads(
            box_roi_pool,
            box_head,
            box_predictor,
            box_fg_iou_thresh,
            box_bg_iou_thresh,
            box_batch_size_per_image,
            box_positive_fraction,
            bbox_reg_weights,
            box_score_thresh,
            box_nms_thresh,
            box_detections_per_img,
        )
        transform = _imagenet_transform(min_size, max_size, image_mean, image_std, **kwargs)
        super().__init__(backbone, rpn, roi_heads, transform)


class FasterRCNN_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(
        "https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth",
        num_params=41755286,
        recipe="https://github.com/pytorch/vision/tree/main/references/detection#faster-r-cnn-resnet-50-fpn",
        _metrics={"COCO-val2017": {"box_map": 37.0}},
        _ops=134.38,
        _file_size=159.743,
    )
    DEFAULT = COCO_V1


class FasterRCNN_ResNet50_FPN_V2_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(
        "https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth",
        num_params=43712278,
        recipe="https://github.com/pytorch/vision/pull/5763",
        _metrics={"COCO-val2017": {"box_map": 46.7}},
        _ops=280.371,
        _file_size=167.104,
        _docs=_ENHANCED_RECIPE,
    )
    DEFAULT = COCO_V1


class FasterRCNN_MobileNet_V3_Large_FPN_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(
        "https://download.pytorch.org/models/fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth",
        num_params=19386354,
        recipe="https://github.com/pytorch/vision/tree/main/references/detection#faster-r-cnn-mobilenetv3-large-fpn",
        _metrics={"COCO-val2017": {"box_map": 32.8}},
        _ops=4.494,
        _file_size=74.239,
    )
    DEFAULT = COCO_V1


class FasterRCNN_MobileNet_V3_Large_320_FPN_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(
        "https://download.pytorch.org/models/fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth",
        num_params=19386354,
        recipe="https://github.com/pytorch/vision/tree/main/references/detection#faster-r-cnn-mobilenetv3-large-320-fpn",
        _metrics={"COCO-val2017": {"box_map": 22.8}},
        _ops=0.719,
        _file_size=74.239,
    )
    DEFAULT = COCO_V1


@register_model()
def fasterrcnn_resnet50_fpn(
    *,
    weights: FasterRCNN_ResNet50_FPN_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    **kwargs: Any,
) -> FasterRCNN:
    """Faster R-CNN with a ResNet-50-FPN backbone ("Faster R-CNN: Towards Real-Time Object
    Detection with Region Proposal Networks").

    Args:
        weights: a :class:`FasterRCNN_ResNet50_FPN_Weights` member (or its name), or None.
        progress: show a download progress bar.
        num_classes: number of classes including the background (default 91, COCO's).
        weights_backbone: ImageNet weights of the ResNet-50 (torchvision's default
            ``IMAGENET1K_V1``; pass None to build offline with random initialisation).
        trainable_backbone_layers: ResNet stages left trainable (0..5); with pretrained
            weights the default is 3 and the backbone uses FrozenBatchNorm2d.
        **kwargs: passed to :class:`FasterRCNN`.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection import fasterrcnn_resnet50_fpn
        >>> model = fasterrcnn_resnet50_fpn(weights_backbone=None, num_classes=3, min_size=64,
        ...                                 max_size=64, rpn_post_nms_top_n_test=50).eval()
        >>> with torch.no_grad():
        ...     out = model([torch.rand(3, 48, 64)])
        >>> sorted(out[0]), out[0]["boxes"].shape[1]
        (['boxes', 'labels', 'scores'], 4)
    """
    weights = FasterRCNN_ResNet50_FPN_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    weights_backbone, num_classes = _weights_and_classes(weights, weights_backbone, num_classes)
    backbone = _resnet50_fpn_backbone(
        weights, weights_backbone, progress, trainable_backbone_layers
    )
    model = FasterRCNN(backbone, num_classes=num_classes, **kwargs)
    return _load_weights(model, weights, progress, FasterRCNN_ResNet50_FPN_Weights.COCO_V1)


@register_model()
def fasterrcnn_resnet50_fpn_v2(
    *,
    weights: FasterRCNN_ResNet50_FPN_V2_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: ResNet50_Weights | None = None,
    trainable_backbone_layers: int | None = None,
    **kwargs: Any,
) -> FasterRCNN:
    """Faster R-CNN v2 ("Benchmarking Detection Transfer Learning with Vision Transformers"):
    BatchNorm in the backbone and FPN, a two-convolution RPN head and a 4-conv + 1-fc box head.

    Arguments as :func:`fasterrcnn_resnet50_fpn` (``weights_backbone`` defaults to None, as in
    torchvision).

    Example:
        >>> from tocha.vision.models.detection import fasterrcnn_resnet50_fpn_v2
        >>> m = fasterrcnn_resnet50_fpn_v2(num_classes=3)
        >>> len(m.rpn.head.conv), type(m.roi_heads.box_head).__name__
        (2, 'FastRCNNConvFCHead')
    """
    weights = FasterRCNN_ResNet50_FPN_V2_Weights.verify(weights)
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
    model = FasterRCNN(backbone, num_classes=num_classes, **heads, **kwargs)
    return _load_weights(model, weights, progress)


def _fasterrcnn_mobilenet_v3_large_fpn(
    *,
    weights,
    progress: bool,
    num_classes: int | None,
    weights_backbone,
    trainable_backbone_layers: int | None,
    **kwargs: Any,
) -> FasterRCNN:
    weights_backbone, num_classes = _weights_and_classes(weights, weights_backbone, num_classes)
    is_trained = weights is not None or weights_backbone is not None
    trainable_backbone_layers = _validate_trainable_layers(
        is_trained, trainable_backbone_layers, 6, 3
    )
    norm_layer = FrozenBatchNorm2d if is_trained else nn.BatchNorm2d
    backbone = mobilenet_v3_large(
        weights=weights_backbone, progress=progress, norm_layer=norm_layer
    )
    backbone = _mobilenet_extractor(backbone, True, trainable_backbone_layers)
    anchor_sizes = ((32, 64, 128, 256, 512),) * 3
    aspect_ratios = ((0.5, 1.0, 2.0),) * len(anchor_sizes)
    model = FasterRCNN(
        backbone,
        num_classes,
        rpn_anchor_generator=AnchorGenerator(anchor_sizes, aspect_ratios),
        **kwargs,
    )
    return _load_weights(model, weights, progress)


@register_model()
def fasterrcnn_mobilenet_v3_large_320_fpn(
    *,
    weights: FasterRCNN_MobileNet_V3_Large_320_FPN_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: MobileNet_V3_Large_Weights | None = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    **kwargs: Any,
) -> FasterRCNN:
    """Low-resolution Faster R-CNN over MobileNetV3-Large-FPN (``min_size=320``,
    ``max_size=640``, 150 proposals, ``rpn_score_thresh=0.05``); arguments as
    :func:`fasterrcnn_mobilenet_v3_large_fpn`.
    """
    weights = FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.verify(weights)
    weights_backbone = MobileNet_V3_Large_Weights.verify(weights_backbone)
    defaults = {
        "min_size": 320,
        "max_size": 640,
        "rpn_pre_nms_top_n_test": 150,
        "rpn_post_nms_top_n_test": 150,
        "rpn_score_thresh": 0.05,
    }
    return _fasterrcnn_mobilenet_v3_large_fpn(
        weights=weights,
        progress=progress,
        num_classes=num_classes,
        weights_backbone=weights_backbone,
        trainable_backbone_layers=trainable_backbone_layers,
        **{**defaults, **kwargs},
    )


@register_model()
def fasterrcnn_mobilenet_v3_large_fpn(
    *,
    weights: FasterRCNN_MobileNet_V3_Large_FPN_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: MobileNet_V3_Large_Weights | None = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    **kwargs: Any,
) -> FasterRCNN:
    """Faster R-CNN over MobileNetV3-Large with an FPN on its last two stages
    (``rpn_score_thresh=0.05``; ``trainable_backbone_layers`` 0..6, default 3).

    Example:
        >>> from tocha.vision.models.detection import fasterrcnn_mobilenet_v3_large_fpn
        >>> m = fasterrcnn_mobilenet_v3_large_fpn(weights_backbone=None, num_classes=3)
        >>> m.rpn.anchor_generator.num_anchors_per_location(), m.rpn.score_thresh
        ([15, 15, 15], 0.05)
    """
    weights = FasterRCNN_MobileNet_V3_Large_FPN_Weights.verify(weights)
    weights_backbone = MobileNet_V3_Large_Weights.verify(weights_backbone)
    defaults = {"rpn_score_thresh": 0.05}
    return _fasterrcnn_mobilenet_v3_large_fpn(
        weights=weights,
        progress=progress,
        num_classes=num_classes,
        weights_backbone=weights_backbone,
        trainable_backbone_layers=trainable_backbone_layers,
        **{**defaults, **kwargs},
    )
