"""FCOS (Tian et al., "FCOS: Fully Convolutional One-Stage Object Detection") with
torchvision's module names, defaults and builder."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn

from ...ops import boxes as box_ops
from ...ops.focal_loss import sigmoid_focal_loss
from ...ops.giou_loss import generalized_box_iou_loss
from .._api import WeightsEnum, register_model
from ..resnet import ResNet50_Weights
from . import _utils as det_utils
from ._coco import _coco_weights
from ._one_stage import (
    _cls_logits_conv,
    _flatten_level,
    _match_anchors,
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
    "FCOS",
    "FCOSHead",
    "FCOS_ResNet50_FPN_Weights",
    "fcos_resnet50_fpn",
]


def _tower(in_channels: int, num_convs: int, norm_layer: Callable[..., nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        layers += [
            nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=1, padding=1),
            norm_layer(in_channels),
            nn.ReLU(),
        ]
    tower = nn.Sequential(*layers)
    for layer in tower.children():
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.constant_(layer.bias, 0)
    return tower


class FCOSClassificationHead(nn.Module):
    """Conv-GroupNorm-ReLU tower, then ``num_anchors * num_classes`` logits per location."""

    def __init__(
        self,
        in_channels: int,
        num_anchors: int,
        num_classes: int,
        num_convs: int = 4,
        prior_probability: float = 0.01,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        if norm_layer is None:
            norm_layer = partial(nn.GroupNorm, 32)
        self.conv = _tower(in_channels, num_convs, norm_layer)
        self.cls_logits = _cls_logits_conv(in_channels, num_anchors, num_classes, prior_probability)

    def forward(self, x: list):
        return torch.cat(
            [_flatten_level(self.cls_logits(self.conv(f)), self.num_classes) for f in x], 1
        )


class FCOSRegressionHead(nn.Module):
    """Conv-GroupNorm-ReLU tower, then 4 side distances (ReLU) and a centre-ness logit."""

    def __init__(
        self,
        in_channels: int,
        num_anchors: int,
        num_convs: int = 4,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = partial(nn.GroupNorm, 32)
        self.conv = _tower(in_channels, num_convs, norm_layer)
        self.bbox_reg = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=3, stride=1, padding=1)
        self.bbox_ctrness = nn.Conv2d(in_channels, num_anchors, kernel_size=3, stride=1, padding=1)
        for layer in (self.bbox_reg, self.bbox_ctrness):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, x: list):
        regs, ctrs = [], []
        for features in x:
            t = self.conv(features)
            regs.append(_flatten_level(F.relu(self.bbox_reg(t)), 4))
            ctrs.append(_flatten_level(self.bbox_ctrness(t), 1))
        return torch.cat(regs, dim=1), torch.cat(ctrs, dim=1)


class FCOSHead(nn.Module):
    """FCOS's classification and regression (+ centre-ness) heads and their losses: sigmoid
    focal loss, GIoU on the foreground, BCE of centre-ness, each per foreground location."""

    def __init__(self, in_channels: int, num_anchors: int, num_classes: int, num_convs: int = 4):
        super().__init__()
        self.box_coder = det_utils.BoxLinearCoder(normalize_by_size=True)
        self.classification_head = FCOSClassificationHead(
            in_channels, num_anchors, num_classes, num_convs
        )
        self.regression_head = FCOSRegressionHead(in_channels, num_anchors, num_convs)

    def compute_loss(self, targets: list, head_outputs: dict, anchors: list, matched_idxs: list):
        cls_logits = head_outputs["cls_logits"]
        bbox_regression = head_outputs["bbox_regression"]
        bbox_ctrness = head_outputs["bbox_ctrness"]
        gt_classes, gt_boxes = [], []
        for tgt, matched in zip(targets, matched_idxs):
            if len(tgt["labels"]) == 0:
                cls = tgt["labels"].new_zeros((len(matched),))
                box = tgt["boxes"].new_zeros((len(matched), 4))
            else:
                cls = tgt["labels"][matched.clamp(min=0)]
                box = tgt["boxes"][matched.clamp(min=0)]
            cls[matched < 0] = -1
            gt_classes.append(cls)
            gt_boxes.append(box)
        gt_boxes, gt_classes = torch.stack(gt_boxes), torch.stack(gt_classes)
        anchors = torch.stack(anchors)
        fg = gt_classes >= 0
        num_foreground = max(1, int(fg.sum().item()))
        fg_b, fg_a = torch.where(fg)
        cls_targets = torch.zeros_like(cls_logits)
        cls_targets[fg_b, fg_a, gt_classes[fg_b, fg_a]] = 1.0
        loss_cls = sigmoid_focal_loss(cls_logits, cls_targets, reduction="sum")
        pred_boxes = self.box_coder.decode(bbox_regression, anchors)
        loss_reg = generalized_box_iou_loss(pred_boxes[fg], gt_boxes[fg], reduction="sum")
        # centre-ness only on the foreground (background targets would divide 0 by 0)
        reg_targets = self.box_coder.encode(anchors[fg], gt_boxes[fg])
        lr, tb = reg_targets[..., 0::2], reg_targets[..., 1::2]
        ctr_targets = torch.sqrt(
            (lr.min(dim=-1)[0] / lr.max(dim=-1)[0]) * (tb.min(dim=-1)[0] / tb.max(dim=-1)[0])
        )
        loss_ctr = F.binary_cross_entropy_with_logits(
            bbox_ctrness[..., 0][fg], ctr_targets, reduction="sum"
        )
        return {
            "classification": loss_cls / num_foreground,
            "bbox_regression": loss_reg / num_foreground,
            "bbox_ctrness": loss_ctr / num_foreground,
        }

    def forward(self, x: list) -> dict:
        cls_logits = self.classification_head(x)
        bbox_regression, bbox_ctrness = self.regression_head(x)
        return {
            "cls_logits": cls_logits,
            "bbox_regression": bbox_regression,
            "bbox_ctrness": bbox_ctrness,
        }


class FCOS(nn.Module):
    """FCOS: one point per feature map location (an AnchorGenerator with one square "anchor"
    of the level's stride), assigned to the smallest ground truth that contains it, lies
    within ``center_sampling_radius`` strides of its centre and fits the level's size range.

    Training returns ``{"classification", "bbox_regression", "bbox_ctrness"}``; eval returns
    per image ``boxes``, ``scores`` (``sqrt(class probability * centre-ness)``) and ``labels``.
    Arguments and defaults are torchvision's.
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        min_size: int = 800,
        max_size: int = 1333,
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        anchor_generator: AnchorGenerator | None = None,
        head: nn.Module | None = None,
        center_sampling_radius: float = 1.5,
        score_thresh: float = 0.2,
        nms_thresh: float = 0.6,
        detections_per_img: int = 100,
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
                "anchor_generator should be of type AnchorGenerator or None, instead  got "
                f"{type(anchor_generator)}"
            )
        if anchor_generator is None:
            # one point per location: the "anchor" side equals the level's stride
            anchor_sizes = ((8,), (16,), (32,), (64,), (128,))
            anchor_generator = AnchorGenerator(anchor_sizes, ((1.0,),) * len(anchor_sizes))
        self.anchor_generator = anchor_generator
        if anchor_generator.num_anchors_per_location()[0] != 1:
            raise ValueError(
                "anchor_generator.num_anchors_per_location()[0] should be 1 instead of "
                f"{anchor_generator.num_anchors_per_location()[0]}"
            )
        if head is None:
            head = FCOSHead(backbone.out_channels, 1, num_classes)
        self.head = head
        self.box_coder = det_utils.BoxLinearCoder(normalize_by_size=True)
        self.transform = _imagenet_transform(min_size, max_size, image_mean, image_std, **kwargs)
        self.center_sampling_radius = center_sampling_radius
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates

    def eager_outputs(self, losses: dict, detections: list):
        return losses if self.training else detections

    def compute_loss(
        self, targets: list, head_outputs: dict, anchors: list, num_anchors_per_level: list[int]
    ) -> dict:
        def match_points(anchors_per_image, gt):
            # each point gets the smallest box that contains it, near its centre, at its level
            gt_centers = (gt[:, :2] + gt[:, 2:]) / 2
            centers = (anchors_per_image[:, :2] + anchors_per_image[:, 2:]) / 2
            sizes = anchors_per_image[:, 2] - anchors_per_image[:, 0]
            # centre sampling: the point lies near the box centre (in strides)
            match = (centers[:, None, :] - gt_centers[None, :, :]).abs().max(dim=2).values < (
                self.center_sampling_radius * sizes[:, None]
            )
            x, y = centers[:, 0:1], centers[:, 1:2]
            x0, y0, x1, y1 = gt[None, :, 0], gt[None, :, 1], gt[None, :, 2], gt[None, :, 3]
            dist = torch.stack([x - x0, y - y0, x1 - x, y1 - y], dim=2)
            match = match & (dist.min(dim=2).values > 0)
            # each level covers a range of box sizes (the first and last are open-ended)
            lower = sizes * 4
            lower[: num_anchors_per_level[0]] = 0
            upper = sizes * 8
            upper[-num_anchors_per_level[-1] :] = float("inf")
            far = dist.max(dim=2).values
            match = match & (far > lower[:, None]) & (far < upper[:, None])
            # several candidates: the smallest box wins
            areas = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
            weighted = match.to(torch.float32) * (1e8 - areas[None, :])
            best, matched = weighted.max(dim=1)
            matched[best < 1e-5] = -1
            return matched

        matched_idxs = _match_anchors(anchors, targets, match_points)
        return self.head.compute_loss(targets, head_outputs, anchors, matched_idxs)

    def postprocess_detections(self, head_outputs: dict, anchors: list, image_shapes: list):
        detections = []
        for index, image_shape in enumerate(image_shapes):
            boxes_all, scores_all, labels_all = [], [], []
            for reg, logits, ctr, anc in zip(
                [br[index] for br in head_outputs["bbox_regression"]],
                [cl[index] for cl in head_outputs["cls_logits"]],
                [bc[index] for bc in head_outputs["bbox_ctrness"]],
                anchors[index],
            ):
                scores, anchor_idxs, labels = _topk_candidates(
                    torch.sqrt(torch.sigmoid(logits) * torch.sigmoid(ctr)).flatten(),
                    self.score_thresh,
                    self.topk_candidates,
                    logits.shape[-1],
                )
                boxes = self.box_coder.decode(reg[anchor_idxs], anc[anchor_idxs])
                boxes_all.append(box_ops.clip_boxes_to_image(boxes, image_shape))
                scores_all.append(scores)
                labels_all.append(labels)
            detections.append(
                _nms_detections(
                    torch.cat(boxes_all, dim=0),
                    torch.cat(scores_all, dim=0),
                    torch.cat(labels_all, dim=0),
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
        num_anchors_per_level = [int(x.shape[2] * x.shape[3]) for x in features]
        losses, detections = {}, []
        if self.training:
            if targets is None:
                raise ValueError("targets should not be None")
            losses = self.compute_loss(targets, head_outputs, anchors, num_anchors_per_level)
        else:
            split, split_anchors = _split_levels(head_outputs, anchors, num_anchors_per_level)
            detections = self.postprocess_detections(split, split_anchors, images.image_sizes)
            detections = self.transform.postprocess(
                detections, images.image_sizes, original_image_sizes
            )
        return self.eager_outputs(losses, detections)


class FCOS_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(
        "https://download.pytorch.org/models/fcos_resnet50_fpn_coco-99b0c9b7.pth",
        num_params=32269600,
        recipe="https://github.com/pytorch/vision/tree/main/references/detection#fcos-resnet-50-fpn",
        _metrics={"COCO-val2017": {"box_map": 39.2}},
        _ops=128.207,
        _file_size=123.608,
    )
    DEFAULT = COCO_V1


@register_model()
def fcos_resnet50_fpn(
    *,
    weights: FCOS_ResNet50_FPN_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    **kwargs: Any,
) -> FCOS:
    """FCOS with a ResNet-50-FPN backbone (P3-P7); arguments as
    :func:`~tocha.vision.models.detection.retinanet_resnet50_fpn`.

    Example:
        >>> from tocha.vision.models.detection import fcos_resnet50_fpn
        >>> m = fcos_resnet50_fpn(weights_backbone=None, num_classes=3)
        >>> m.anchor_generator.sizes, m.score_thresh
        (((8,), (16,), (32,), (64,), (128,)), 0.2)
    """
    weights = FCOS_ResNet50_FPN_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    weights_backbone, num_classes = _weights_and_classes(weights, weights_backbone, num_classes)
    # P3-P7, P6 and P7 from P5 (as RetinaNet)
    backbone = _resnet50_fpn_backbone(
        weights, weights_backbone, progress, trainable_backbone_layers, p6p7_in_channels=256
    )
    model = FCOS(backbone, num_classes, **kwargs)
    return _load_weights(model, weights, progress)
