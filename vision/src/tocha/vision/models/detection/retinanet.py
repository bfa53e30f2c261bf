"""RetinaNet (Lin et al., "Focal Loss for Dense Object Detection") with torchvision's module
names, defaults and builder."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import tocha.core as torch
from tocha.core import nn

from ...ops import boxes as box_ops
from ...ops.focal_loss import sigmoid_focal_loss
from ...ops.misc import Conv2dNormActivation
from .._api import WeightsEnum, register_model
from ..resnet import ResNet50_Weights
from . import _utils as det_utils
from ._coco import _ENHANCED_RECIPE, _coco_weights
from ._one_stage import (
    _cls_logits_conv,
    _flatten_level,
    _match_anchors_by_iou,
    _nms_detections,
    _split_levels,
    _topk_candidates,
)
from ._utils import _load_weights, _weights_and_classes
from .anchor_utils import AnchorGenerator
from .backbone_utils import _resnet50_fpn_backbone
from .generalized_rcnn import _transform_and_backbone
from .transform import _imagenet_transform

__all__ = [
    "RetinaNet",
    "RetinaNetHead",
    "RetinaNetClassificationHead",
    "RetinaNetRegressionHead",
    "RetinaNet_ResNet50_FPN_Weights",
    "RetinaNet_ResNet50_FPN_V2_Weights",
    "retinanet_resnet50_fpn",
    "retinanet_resnet50_fpn_v2",
]


def _sum(x: list):
    res = x[0]
    for i in x[1:]:
        res = res + i
    return res


def _v1_to_v2_weights(state_dict: dict, prefix: str) -> None:
    # version 1 towers were Sequential(conv, relu, conv, relu, ...): conv i sat at index 2 * i
    for i in range(4):
        for kind in ("weight", "bias"):
            old_key, new_key = f"{prefix}conv.{2 * i}.{kind}", f"{prefix}conv.{i}.0.{kind}"
            if old_key in state_dict:
                state_dict[new_key] = state_dict.pop(old_key)


class _VersionedHead(nn.Module):
    _version = 2

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        version = local_metadata.get("version", None)
        if version is None or version < 2:
            _v1_to_v2_weights(state_dict, prefix)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


def _conv_tower(in_channels: int, norm_layer: Callable[..., nn.Module] | None) -> nn.Sequential:
    tower = nn.Sequential(
        *[Conv2dNormActivation(in_channels, in_channels, norm_layer=norm_layer) for _ in range(4)]
    )
    for layer in tower.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, std=0.01)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, 0)
    return tower


class RetinaNetClassificationHead(_VersionedHead):
    """Four 3x3 conv+ReLU, then ``num_anchors * num_classes`` logits per location; the bias
    starts at ``-log((1 - prior) / prior)`` so every anchor begins at probability ``prior``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection.retinanet import RetinaNetClassificationHead
        >>> head = RetinaNetClassificationHead(8, 9, 4)
        >>> head([torch.rand(1, 8, 4, 4), torch.rand(1, 8, 2, 2)]).shape
        torch.Size([1, 180, 4])
    """

    def __init__(
        self,
        in_channels: int,
        num_anchors: int,
        num_classes: int,
        prior_probability: float = 0.01,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.conv = _conv_tower(in_channels, norm_layer)
        self.cls_logits = _cls_logits_conv(in_channels, num_anchors, num_classes, prior_probability)
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        self.BETWEEN_THRESHOLDS = det_utils.Matcher.BETWEEN_THRESHOLDS

    def compute_loss(self, targets: list, head_outputs: dict, matched_idxs: list):
        """Sigmoid focal loss over the anchors not ignored, per image divided by its number
        of foreground anchors, averaged over the images."""
        losses = []
        for tgt, logits, matched in zip(targets, head_outputs["cls_logits"], matched_idxs):
            fg = torch.where(matched >= 0)[0]
            gt_classes = torch.zeros_like(logits)
            gt_classes[fg, tgt["labels"][matched[fg]]] = 1.0
            valid = matched != self.BETWEEN_THRESHOLDS
            loss = sigmoid_focal_loss(logits[valid], gt_classes[valid], reduction="sum")
            losses.append(loss / max(1, fg.numel()))
        return _sum(losses) / len(targets)

    def forward(self, x: list):
        out = [_flatten_level(self.cls_logits(self.conv(f)), self.num_classes) for f in x]
        return torch.cat(out, dim=1)


class RetinaNetRegressionHead(_VersionedHead):
    """Four 3x3 conv+ReLU, then ``4 * num_anchors`` box deltas per location (L1 loss)."""

    def __init__(
        self,
        in_channels: int,
        num_anchors: int,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.conv = _conv_tower(in_channels, norm_layer)
        self.bbox_reg = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=3, stride=1, padding=1)
        nn.init.normal_(self.bbox_reg.weight, std=0.01)
        nn.init.zeros_(self.bbox_reg.bias)
        self.box_coder = det_utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self._loss_type = "l1"

    def compute_loss(self, targets: list, head_outputs: dict, anchors: list, matched_idxs: list):
        losses = []
        for tgt, reg, anc, matched in zip(
            targets, head_outputs["bbox_regression"], anchors, matched_idxs
        ):
            fg = torch.where(matched >= 0)[0]
            loss = det_utils._box_loss(
                self._loss_type, self.box_coder, anc[fg, :], tgt["boxes"][matched[fg]], reg[fg, :]
            )
            losses.append(loss / max(1, fg.numel()))
        return _sum(losses) / max(1, len(targets))

    def forward(self, x: list):
        return torch.cat([_flatten_level(self.bbox_reg(self.conv(f)), 4) for f in x], 1)


class RetinaNetHead(nn.Module):
    """The classification and regression heads, shared by all pyramid levels."""

    def __init__(
        self,
        in_channels: int,
        num_anchors: int,
        num_classes: int,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.classification_head = RetinaNetClassificationHead(
            in_channels, num_anchors, num_classes, norm_layer=norm_layer
        )
        self.regression_head = RetinaNetRegressionHead(
            in_channels, num_anchors, norm_layer=norm_layer
        )

    def compute_loss(self, targets: list, head_outputs: dict, anchors: list, matched_idxs: list):
        return {
            "classification": self.classification_head.compute_loss(
                targets, head_outputs, matched_idxs
            ),
            "bbox_regression": self.regression_head.compute_loss(
                targets, head_outputs, anchors, matched_idxs
            ),
        }

    def forward(self, x: list) -> dict:
        return {
            "cls_logits": self.classification_head(x),
            "bbox_regression": self.regression_head(x),
        }


def _default_anchorgen() -> AnchorGenerator:
    anchor_sizes = tuple(
        (x, int(x * 2 ** (1.0 / 3)), int(x * 2 ** (2.0 / 3))) for x in [32, 64, 128, 256, 512]
    )
    aspect_ratios = ((0.5, 1.0, 2.0),) * len(anchor_sizes)
    return AnchorGenerator(anchor_sizes, aspect_ratios)


class RetinaNet(nn.Module):
    """RetinaNet: a backbone (with ``out_channels``) giving a feature pyramid, a dense
    classification and box head on every level, anchors per level.

    Training returns ``{"classification", "bbox_regression"}`` losses (focal loss, L1);
    eval returns per image ``boxes``, ``scores`` and ``labels``. Arguments and defaults are
    torchvision's.
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        # transform parameters
        min_size: int = 800,
        max_size: int = 1333,
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        # Anchor parameters
        anchor_generator: AnchorGenerator | None = None,
        head: nn.Module | None = None,
        proposal_matcher: det_utils.Matcher | None = None,
        score_thresh: float = 0.05,
        nms_thresh: float = 0.5,
        detections_per_img: int = 300,
        fg_iou_thresh: float = 0.5,
        bg_iou_thresh: float = 0.4,
        topk_candidates: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if not hasattr(backbone, "out_channels"):
            raise ValueError(
                "backbone should contain an attribute out_channels specifying the number of "
                "output channels (assumed to be the same for all the levels)"
            )
        self.backbone = backbone
        if not isinstance(anchor_generator, (AnchorGenerator, type(None))):
            raise TypeError(
                "anchor_generator should be of type AnchorGenerator or None instead of "
                f"{type(anchor_generator)}"
            )
        if anchor_generator is None:
            anchor_generator = _default_anchorgen()
        self.anchor_generator = anchor_generator
        if head is None:
            head = RetinaNetHead(
                backbone.out_channels, anchor_generator.num_anchors_per_location()[0], num_classes
            )
        self.head = head
        if proposal_matcher is None:
            proposal_matcher = det_utils.Matcher(
                fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=True
            )
        self.proposal_matcher = proposal_matcher
        self.box_coder = det_utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self.transform = _imagenet_transform(min_size, max_size, image_mean, image_std, **kwargs)
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates

    def eager_outputs(self, losses: dict, detections: list):
        return losses if self.training else detections

    def compute_loss(self, targets: list, head_outputs: dict, anchors: list) -> dict:
        matched_idxs = _match_anchors_by_iou(anchors, targets, self.proposal_matcher)
        return self.head.compute_loss(targets, head_outputs, anchors, matched_idxs)

    def postprocess_detections(
        self, head_outputs: dict, anchors: list, image_shapes: list
    ) -> list[dict]:
        """Per level the ``topk_candidates`` best (anchor, class) scores above
        ``score_thresh``, decoded and clipped; then class-wise NMS over all levels."""
        class_logits = head_outputs["cls_logits"]
        box_regression = head_outputs["bbox_regression"]
        detections = []
        for index, image_shape in enumerate(image_shapes):
            image_boxes, image_scores, image_labels = [], [], []
            for reg_level, logits_level, anchors_level in zip(
                [br[index] for br in box_regression],
                [cl[index] for cl in class_logits],
                anchors[index],
            ):
                scores, anchor_idxs, labels = _topk_candidates(
                    torch.sigmoid(logits_level).flatten(),
                    self.score_thresh,
                    self.topk_candidates,
                    logits_level.shape[-1],
                )
                boxes = self.box_coder.decode_single(
                    reg_level[anchor_idxs], anchors_level[anchor_idxs]
                )
                image_boxes.append(box_ops.clip_boxes_to_image(boxes, image_shape))
                image_scores.append(scores)
                image_labels.append(labels)
            detections.append(
                _nms_detections(
                    torch.cat(image_boxes, dim=0),
                    torch.cat(image_scores, dim=0),
                    torch.cat(image_labels, dim=0),
                    self.nms_thresh,
                    self.detections_per_img,
                )
            )
        return detections

    def forward(self, images: list, targets: list | None = None):
        images, targets, features, original_image_sizes = _transform_and_backbone(
            self, images, targets
        )
        features = list(features.values())
        head_outputs = self.head(features)
        anchors = self.anchor_generator(images, features)
        losses, detections = {}, []
        if self.training:
            if targets is None:
                raise ValueError("targets should not be None")
            losses = self.compute_loss(targets, head_outputs, anchors)
        else:
            hw = [int(x.shape[2] * x.shape[3]) for x in features]
            A = head_outputs["cls_logits"].shape[1] // sum(hw)
            split_outputs, split_anchors = _split_levels(head_outputs, anchors, [n * A for n in hw])
            detections = self.postprocess_detections(
                split_outputs, split_anchors, images.image_sizes
            )
            detections = self.transform.postprocess(
                detections, images.image_sizes, original_image_sizes
            )
        return self.eager_outputs(losses, detections)


class RetinaNet_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(
        "https://download.pytorch.org/models/retinanet_resnet50_fpn_coco-eeacb38b.pth",
        num_params=34014999,
        recipe="https://github.com/pytorch/vision/tree/main/references/detection#retinanet",
        _metrics={"COCO-val2017": {"box_map": 36.4}},
        _ops=151.54,
        _file_size=130.267,
    )
    DEFAULT = COCO_V1


class RetinaNet_ResNet50_FPN_V2_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(
        "https://download.pytorch.org/models/retinanet_resnet50_fpn_v2_coco-5905b1c5.pth",
        num_params=38198935,
        recipe="https://github.com/pytorch/vision/pull/5756",
        _metrics={"COCO-val2017": {"box_map": 41.5}},
        _ops=152.238,
        _file_size=146.037,
        _docs=_ENHANCED_RECIPE,
    )
    DEFAULT = COCO_V1


@register_model()
def retinanet_resnet50_fpn(
    *,
    weights: RetinaNet_ResNet50_FPN_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    **kwargs: Any,
) -> RetinaNet:
    """RetinaNet with a ResNet-50-FPN backbone (P3-P7: C3-C5 through the FPN, P6/P7 from P5).

    Arguments as :func:`~tocha.vision.models.detection.fasterrcnn_resnet50_fpn`; ``kwargs``
    go to :class:`RetinaNet`.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection import retinanet_resnet50_fpn
        >>> model = retinanet_resnet50_fpn(weights_backbone=None, num_classes=3, min_size=64,
        ...                                max_size=64).eval()
        >>> with torch.no_grad():
        ...     out = model([torch.rand(3, 64, 48)])
        >>> sorted(out[0])
        ['boxes', 'labels', 'scores']
    """
    weights = RetinaNet_ResNet50_FPN_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    weights_backbone, num_classes = _weights_and_classes(weights, weights_backbone, num_classes)
    # P3-P7, P6 and P7 from P5
    backbone = _resnet50_fpn_backbone(
        weights, weights_backbone, progress, trainable_backbone_layers, p6p7_in_channels=256
    )
    model = RetinaNet(backbone, num_classes, **kwargs)
    return _load_weights(model, weights, progress, RetinaNet_ResNet50_FPN_Weights.COCO_V1)


@register_model()
def retinanet_resnet50_fpn_v2(
    *,
    weights: RetinaNet_ResNet50_FPN_V2_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: ResNet50_Weights | None = None,
    trainable_backbone_layers: int | None = None,
    **kwargs: Any,
) -> RetinaNet:
    """RetinaNet v2 ("Bridging the Gap Between Anchor-based and Anchor-free Detection"):
    BatchNorm backbone, P6 from C5, GroupNorm head towers and a GIoU box loss.

    Arguments as :func:`retinanet_resnet50_fpn` (``weights_backbone`` defaults to None, as in
    torchvision).

    Example:
        >>> from tocha.vision.models.detection import retinanet_resnet50_fpn_v2
        >>> m = retinanet_resnet50_fpn_v2(num_classes=3)
        >>> m.head.regression_head._loss_type, type(m.head.classification_head.conv[0][1]).__name__
        ('giou', 'GroupNorm')
    """
    weights = RetinaNet_ResNet50_FPN_V2_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    weights_backbone, num_classes = _weights_and_classes(weights, weights_backbone, num_classes)
    # P3-P7, P6 and P7 from C5
    backbone = _resnet50_fpn_backbone(
        weights,
        weights_backbone,
        progress,
        trainable_backbone_layers,
        frozen_bn=False,
        p6p7_in_channels=2048,
    )
    anchor_generator = _default_anchorgen()
    head = RetinaNetHead(
        backbone.out_channels,
        anchor_generator.num_anchors_per_location()[0],
        num_classes,
        norm_layer=partial(nn.GroupNorm, 32),
    )
    head.regression_head._loss_type = "giou"
    model = RetinaNet(backbone, num_classes, anchor_generator=anchor_generator, head=head, **kwargs)
    return _load_weights(model, weights, progress)
