"""SSD (Liu et al., "SSD: Single Shot MultiBox Detector") with torchvision's module names:
the detector, its scoring heads and the hard-negative-mined loss."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn

from ...ops import boxes as box_ops
from . import _utils as det_utils
from .anchor_utils import DefaultBoxGenerator
from .generalized_rcnn import _check_degenerate, _check_targets, _original_sizes
from .transform import GeneralizedRCNNTransform

__all__ = ["SSD", "SSDHead", "SSDClassificationHead", "SSDRegressionHead", "SSDScoringHead"]


def _xavier_init(conv: nn.Module) -> None:
    for layer in conv.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, 0.0)


class SSDScoringHead(nn.Module):
    """One module per feature map, each output ``[N, A*C, H, W]`` flattened to
    ``[N, H*W*A, C]`` and concatenated over the maps."""

    def __init__(self, module_list: nn.ModuleList, num_columns: int) -> None:
        super().__init__()
        self.module_list = module_list
        self.num_columns = num_columns

    def _get_result_from_module_list(self, x, idx: int):
        return self.module_list[idx](x)

    def forward(self, x: list):
        out = []
        for i, features in enumerate(x):
            r = self._get_result_from_module_list(features, i)
            N, _, H, W = r.shape
            r = r.reshape(N, -1, self.num_columns, H, W).permute(0, 3, 4, 1, 2)
            out.append(r.reshape(N, -1, self.num_columns))
        return torch.cat(out, dim=1)


class SSDClassificationHead(SSDScoringHead):
    """A 3x3 convolution per feature map to ``num_anchors[i] * num_classes`` logits."""

    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int) -> None:
        cls_logits = nn.ModuleList()
        for channels, anchors in zip(in_channels, num_anchors):
            cls_logits.append(nn.Conv2d(channels, num_classes * anchors, kernel_size=3, padding=1))
        _xavier_init(cls_logits)
        super().__init__(cls_logits, num_classes)


class SSDRegressionHead(SSDScoringHead):
    """A 3x3 convolution per feature map to ``num_anchors[i] * 4`` box deltas."""

    def __init__(self, in_channels: list[int], num_anchors: list[int]) -> None:
        bbox_reg = nn.ModuleList()
        for channels, anchors in zip(in_channels, num_anchors):
            bbox_reg.append(nn.Conv2d(channels, 4 * anchors, kernel_size=3, padding=1))
        _xavier_init(bbox_reg)
        super().__init__(bbox_reg, 4)


class SSDHead(nn.Module):
    """The classification and regression heads of SSD."""

    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int) -> None:
        super().__init__()
        self.classification_head = SSDClassificationHead(in_channels, num_anchors, num_classes)
        self.regression_head = SSDRegressionHead(in_channels, num_anchors)

    def forward(self, x: list) -> dict:
        return {
            "bbox_regression": self.regression_head(x),
            "cls_logits": self.classification_head(x),
        }


class SSD(nn.Module):
    """SSD: a backbone giving several feature maps, default boxes on each and one scoring head.

    Images are resized to the fixed ``size`` ``(h, w)`` (``size_divisible=1``). Training
    returns ``{"bbox_regression", "classification"}`` (smooth L1 on the positives, cross-entropy
    on the positives and the hardest ``(1 - positive_fraction) / positive_fraction`` times as
    many negatives, both divided by the number of positives); eval returns per image
    ``boxes``, ``scores``, ``labels``. Arguments and defaults are torchvision's.
    """

    def __init__(
        self,
        backbone: nn.Module,
        anchor_generator: DefaultBoxGenerator,
        size: tuple[int, int],
        num_classes: int,
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        head: nn.Module | None = None,
        score_thresh: float = 0.01,
        nms_thresh: float = 0.45,
        detections_per_img: int = 200,
        iou_thresh: float = 0.5,
        topk_candidates: int = 400,
        positive_fraction: float = 0.25,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.anchor_generator = anchor_generator
        self.box_coder = det_utils.BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
        if head is None:
            if hasattr(backbone, "out_channels"):
                out_channels = backbone.out_channels
            else:
                out_channels = det_utils.retrieve_out_channels(backbone, size)
            if len(out_channels) != len(anchor_generator.aspect_ratios):
                raise ValueError(
                    f"The length of the output channels from the backbone ({len(out_channels)}) "
                    "do not match the length of the anchor generator aspect ratios "
                    f"({len(anchor_generator.aspect_ratios)})"
                )
            head = SSDHead(out_channels, anchor_generator.num_anchors_per_location(), num_classes)
        self.head = head
        self.proposal_matcher = det_utils.SSDMatcher(iou_thresh)
        if image_mean is None:
            image_mean = [0.485, 0.456, 0.406]
        if image_std is None:
            image_std = [0.229, 0.224, 0.225]
        self.transform = GeneralizedRCNNTransform(
            min(size), max(size), image_mean, image_std, size_divisible=1, fixed_size=size, **kwargs
        )
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates
        self.neg_to_pos_ratio = (1.0 - positive_fraction) / positive_fraction

    def eager_outputs(self, losses: dict, detections: list):
        return losses if self.training else detections

    def compute_loss(
        self, targets: list, head_outputs: dict, anchors: list, matched_idxs: list
    ) -> dict:
        bbox_regression = head_outputs["bbox_regression"]
        cls_logits = head_outputs["cls_logits"]
        num_foreground = 0
        bbox_loss, cls_targets = [], []
        for tgt, reg, logits, anc, matched in zip(
            targets, bbox_regression, cls_logits, anchors, matched_idxs
        ):
            fg = torch.where(matched >= 0)[0]
            fg_matched = matched[fg]
            num_foreground += fg_matched.numel()
            target_regression = self.box_coder.encode_single(tgt["boxes"][fg_matched], anc[fg, :])
            bbox_loss.append(F.smooth_l1_loss(reg[fg, :], target_regression, reduction="sum"))
            gt_classes = torch.zeros(
                (logits.shape[0],), dtype=tgt["labels"].dtype, device=tgt["labels"].device
            )
            gt_classes[fg] = tgt["labels"][fg_matched]
            cls_targets.append(gt_classes)
        bbox_loss = torch.stack(bbox_loss)
        cls_targets = torch.stack(cls_targets)
        num_classes = cls_logits.shape[-1]
        cls_loss = F.cross_entropy(
            cls_logits.reshape(-1, num_classes), cls_targets.reshape(-1), reduction="none"
        ).reshape(cls_targets.shape)
        # hard negative mining: per image the negatives of highest loss, 3 per positive
        foreground = cls_targets > 0
        num_negative = self.neg_to_pos_ratio * foreground.sum(1, keepdim=True)
        negative_loss = cls_loss.detach().clone()
        negative_loss[foreground] = -float("inf")
        _, idx = negative_loss.sort(1, descending=True)
        background = idx.sort(1)[1] < num_negative
        N = max(1, num_foreground)
        return {
            "bbox_regression": bbox_loss.sum() / N,
            "classification": (cls_loss[foreground].sum() + cls_loss[background].sum()) / N,
        }

    def postprocess_detections(
        self, head_outputs: dict, image_anchors: list, image_shapes: list
    ) -> list[dict]:
        """Per class the ``topk_candidates`` best scores above ``score_thresh``, then
        class-wise NMS; the per-class selection is one sort over all (box, class) pairs."""
        bbox_regression = head_outputs["bbox_regression"]
        pred_scores = F.softmax(head_outputs["cls_logits"], dim=-1)
        detections = []
        for boxes, scores, anchors, image_shape in zip(
            bbox_regression, pred_scores, image_anchors, image_shapes
        ):
            boxes = self.box_coder.decode_single(boxes, anchors)
            boxes = box_ops.clip_boxes_to_image(boxes, image_shape)
            s = scores[:, 1:].detach().cpu().numpy()
            box_idx, cls_idx = np.nonzero(s > self.score_thresh)
            cand = s[box_idx, cls_idx]
            # classes ascending, scores descending within a class (stable for ties)
            order = np.lexsort((-cand, cls_idx))
            box_idx, cls_idx, cand = box_idx[order], cls_idx[order], cand[order]
            starts = np.searchsorted(cls_idx, cls_idx, side="left")
            rank = np.arange(cls_idx.size) - starts
            sel = rank < self.topk_candidates
            box_sel = torch.from_numpy(box_idx[sel]).to(boxes.device)
            labels = torch.from_numpy(cls_idx[sel].astype(np.int64) + 1).to(boxes.device)
            image_boxes = boxes[box_sel]
            image_scores = scores[box_sel, labels]
            keep = box_ops.batched_nms(image_boxes, image_scores, labels, self.nms_thresh)
            keep = keep[: self.detections_per_img]
            detections.append(
                {"boxes": image_boxes[keep], "scores": image_scores[keep], "labels": labels[keep]}
            )
        return detections

    def forward(self, images: list, targets: list | None = None):
        _check_targets(targets, self.training)
        original_image_sizes = _original_sizes(images)
        images, targets = self.transform(images, targets)
        _check_degenerate(targets)
        features = self.backbone(images.tensors)
        if isinstance(features, torch.Tensor):
            features = OrderedDict([("0", features)])
        features = list(features.values())
        head_outputs = self.head(features)
        anchors = self.anchor_generator(images, features)
        losses, detections = {}, []
        if self.training:
            matched_idxs = []
            if targets is None:
                raise ValueError("targets should not be None")
            for anchors_per_image, targets_per_image in zip(anchors, targets):
                if targets_per_image["boxes"].numel() == 0:
                    matched_idxs.append(
                        torch.full(
                            (anchors_per_image.shape[0],),
                            -1,
                            dtype=torch.int64,
                            device=anchors_per_image.device,
                        )
                    )
                    continue
                quality = box_ops.box_iou(targets_per_image["boxes"], anchors_per_image)
                matched_idxs.append(self.proposal_matcher(quality))
            losses = self.compute_loss(targets, head_outputs, anchors, matched_idxs)
        else:
            detections = self.postprocess_detections(head_outputs, anchors, images.image_sizes)
            detections = self.transform.postprocess(
                detections, images.image_sizes, original_image_sizes
            )
        return self.eager_outputs(losses, detections)
