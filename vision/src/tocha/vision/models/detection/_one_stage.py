"""Pieces shared by the one-stage (dense) detectors RetinaNet, FCOS and SSD: flattening the
per-level head outputs, matching anchors to ground truth, and turning scores into detections."""

from __future__ import annotations

import math
from collections.abc import Callable

import tocha.core as torch
from tocha.core import nn

from ...ops import boxes as box_ops
from ._utils import _topk_min


def _flatten_level(t, K: int):
    """``[N, A*K, H, W]`` to ``[N, H*W*A, K]`` (location-major, in the anchors' order)."""
    N, _, H, W = t.shape
    return t.reshape(N, -1, K, H, W).permute(0, 3, 4, 1, 2).reshape(N, -1, K)


def _cls_logits_conv(
    in_channels: int, num_anchors: int, num_classes: int, prior_probability: float
) -> nn.Conv2d:
    """The 3x3 classification convolution of RetinaNet and FCOS; its bias starts every anchor
    at probability ``prior_probability``, so the many background anchors do not swamp the
    focal loss at the start of training."""
    conv = nn.Conv2d(in_channels, num_anchors * num_classes, kernel_size=3, stride=1, padding=1)
    nn.init.normal_(conv.weight, std=0.01)
    nn.init.constant_(conv.bias, -math.log((1 - prior_probability) / prior_probability))
    return conv


def _match_anchors(anchors: list, targets: list, match: Callable) -> list:
    """Per image, ``match(anchors_per_image, gt_boxes)``: the index of the ground truth each
    anchor is assigned (negative for none). An image without boxes has every anchor -1."""
    matched_idxs = []
    for anchors_per_image, targets_per_image in zip(anchors, targets):
        gt_boxes = targets_per_image["boxes"]
        if gt_boxes.numel() == 0:
            matched_idxs.append(
                torch.full(
                    (anchors_per_image.shape[0],),
                    -1,
                    dtype=torch.int64,
                    device=anchors_per_image.device,
                )
            )
        else:
            matched_idxs.append(match(anchors_per_image, gt_boxes))
    return matched_idxs


def _match_anchors_by_iou(anchors: list, targets: list, matcher: Callable) -> list:
    """:func:`_match_anchors` with ``matcher`` applied to the IoU of boxes and anchors."""

    def iou_match(anchors_per_image, gt_boxes):
        return matcher(box_ops.box_iou(gt_boxes, anchors_per_image))

    return _match_anchors(anchors, targets, iou_match)


def _split_levels(head_outputs: dict, anchors: list, num_per_level: list[int]):
    """The head outputs and each image's anchors cut back into pyramid levels (the
    postprocessing picks its candidates level by level)."""
    split_outputs = {k: list(v.split(num_per_level, dim=1)) for k, v in head_outputs.items()}
    split_anchors = [list(a.split(num_per_level)) for a in anchors]
    return split_outputs, split_anchors


def _topk_candidates(scores, score_thresh: float, topk_candidates: int, num_classes: int):
    """Of one level's flattened ``[anchors * classes]`` scores, the (at most)
    ``topk_candidates`` best above ``score_thresh``: ``(scores, anchor indices, labels)``."""
    keep = scores > score_thresh
    scores = scores[keep]
    topk_idxs = torch.where(keep)[0]
    scores, idxs = scores.topk(_topk_min(topk_idxs, topk_candidates, 0))
    topk_idxs = topk_idxs[idxs]
    anchor_idxs = torch.div(topk_idxs, num_classes, rounding_mode="floor")
    return scores, anchor_idxs, topk_idxs % num_classes


def _nms_detections(boxes, scores, labels, nms_thresh: float, detections_per_img: int) -> dict:
    """One image's detections: class-wise NMS, then the ``detections_per_img`` best."""
    keep = box_ops.batched_nms(boxes, scores, labels, nms_thresh)
    keep = keep[:detections_per_img]
    return {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}
