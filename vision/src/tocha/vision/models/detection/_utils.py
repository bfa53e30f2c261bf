"""Shared pieces of the detectors (torchvision.models.detection._utils): box coding, matching
predictions to ground truth, sampling positives and negatives, and the box regression losses."""

from __future__ import annotations

import math
from collections import OrderedDict

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn

from ...ops import complete_box_iou_loss, distance_box_iou_loss, generalized_box_iou_loss
from .._utils import _ovewrite_value_param
from ._frozen_bn import FrozenBatchNorm2d

__all__ = [
    "BalancedPositiveNegativeSampler",
    "BoxCoder",
    "BoxLinearCoder",
    "Matcher",
    "SSDMatcher",
    "overwrite_eps",
    "retrieve_out_channels",
]


class BalancedPositiveNegativeSampler:
    """Draws up to ``batch_size_per_image`` anchors per image, a ``positive_fraction`` of them
    positive (label >= 1) where there are enough, the rest negative (label 0).

    Returns two lists of uint8 masks (positives, negatives), one per image.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection._utils import BalancedPositiveNegativeSampler
        >>> pos, neg = BalancedPositiveNegativeSampler(4, 0.5)([torch.tensor([1, 1, 1, 0, 0, -1])])
        >>> int(pos[0].sum()), int(neg[0].sum()), int(pos[0][5] + neg[0][5])
        (2, 2, 0)
    """

    def __init__(self, batch_size_per_image: int, positive_fraction: float) -> None:
        self.batch_size_per_image = batch_size_per_image
        self.positive_fraction = positive_fraction

    def __call__(self, matched_idxs: list) -> tuple[list, list]:
        pos_idx, neg_idx = [], []
        for labels in matched_idxs:
            positive = torch.where(labels >= 1)[0]
            negative = torch.where(labels == 0)[0]
            num_pos = int(self.batch_size_per_image * self.positive_fraction)
            num_pos = min(positive.numel(), num_pos)
            num_neg = min(negative.numel(), self.batch_size_per_image - num_pos)
            perm1 = torch.randperm(positive.numel(), device=positive.device)[:num_pos]
            perm2 = torch.randperm(negative.numel(), device=negative.device)[:num_neg]
            pos_mask = torch.zeros_like(labels, dtype=torch.uint8)
            neg_mask = torch.zeros_like(labels, dtype=torch.uint8)
            pos_mask[positive[perm1]] = 1
            neg_mask[negative[perm2]] = 1
            pos_idx.append(pos_mask)
            neg_idx.append(neg_mask)
        return pos_idx, neg_idx


class BoxCoder:
    """Encodes boxes relative to reference boxes as ``(dx, dy, dw, dh)`` (R-CNN's
    parametrisation, scaled by ``weights``) and decodes them back.

    Args:
        weights: ``(wx, wy, ww, wh)`` multipliers of the four deltas.
        bbox_xform_clip: upper clamp of ``dw``/``dh`` before ``exp`` when decoding.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection._utils import BoxCoder
        >>> coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
        >>> anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        >>> gt = torch.tensor([[2.0, 1.0, 12.0, 21.0]])
        >>> codes = coder.encode_single(gt, anchors)
        >>> codes
        tensor([[2.0000, 6.0000, 0.0000, 3.4657]])
        >>> coder.decode_single(codes, anchors)
        tensor([[ 2.,  1., 12., 21.]])
    """

    def __init__(
        self,
        weights: tuple[float, float, float, float],
        bbox_xform_clip: float = math.log(1000.0 / 16),
    ) -> None:
        self.weights = weights
        self.bbox_xform_clip = bbox_xform_clip

    def encode(self, reference_boxes: list, proposals: list) -> tuple:
        """Per-image :meth:`encode_single`, done as one batched call."""
        boxes_per_image = [len(b) for b in reference_boxes]
        targets = self.encode_single(torch.cat(reference_boxes, dim=0), torch.cat(proposals, dim=0))
        return targets.split(boxes_per_image, 0)

    def encode_single(self, reference_boxes, proposals):
        """Deltas that turn each of ``proposals`` into the matching ``reference_boxes``."""
        wx, wy, ww, wh = self.weights
        ex_w = proposals[:, 2] - proposals[:, 0]
        ex_h = proposals[:, 3] - proposals[:, 1]
        ex_x = proposals[:, 0] + 0.5 * ex_w
        ex_y = proposals[:, 1] + 0.5 * ex_h
        gt_w = reference_boxes[:, 2] - reference_boxes[:, 0]
        gt_h = reference_boxes[:, 3] - reference_boxes[:, 1]
        gt_x = reference_boxes[:, 0] + 0.5 * gt_w
        gt_y = reference_boxes[:, 1] + 0.5 * gt_h
        return torch.stack(
            (
                wx * (gt_x - ex_x) / ex_w,
                wy * (gt_y - ex_y) / ex_h,
                ww * torch.log(gt_w / ex_w),
                wh * torch.log(gt_h / ex_h),
            ),
            dim=1,
        )

    def decode(self, rel_codes, boxes: list):
        """Decode ``rel_codes [sum(N_i), K*4]`` against the concatenated ``boxes``: returns
        ``[sum(N_i), K, 4]``."""
        if not isinstance(boxes, (list, tuple)):
            raise TypeError(f"BoxCoder.decode: boxes must be a list of Tensors, got {type(boxes)}")
        concat_boxes = torch.cat(list(boxes), dim=0)
        box_sum = concat_boxes.shape[0]
        if box_sum > 0:
            rel_codes = rel_codes.reshape(box_sum, -1)
        pred = self.decode_single(rel_codes, concat_boxes)
        if box_sum > 0:
            pred = pred.reshape(box_sum, -1, 4)
        return pred

    def decode_single(self, rel_codes, boxes):
        """Apply ``rel_codes [N, K*4]`` to ``boxes [N, 4]``: ``[N, K*4]`` boxes ``(x1, y1, x2, y2)``."""
        boxes = boxes.to(rel_codes.dtype)
        wx, wy, ww, wh = self.weights
        widths = (boxes[:, 2] - boxes[:, 0])[:, None]
        heights = (boxes[:, 3] - boxes[:, 1])[:, None]
        ctr_x = boxes[:, 0][:, None] + 0.5 * widths
        ctr_y = boxes[:, 1][:, None] + 0.5 * heights
        dx = rel_codes[:, 0::4] / wx
        dy = rel_codes[:, 1::4] / wy
        # large deltas would overflow exp()
        dw = torch.clamp(rel_codes[:, 2::4] / ww, max=self.bbox_xform_clip)
        dh = torch.clamp(rel_codes[:, 3::4] / wh, max=self.bbox_xform_clip)
        pred_x = dx * widths + ctr_x
        pred_y = dy * heights + ctr_y
        half_w = 0.5 * (torch.exp(dw) * widths)
        half_h = 0.5 * (torch.exp(dh) * heights)
        out = torch.stack((pred_x - half_w, pred_y - half_h, pred_x + half_w, pred_y + half_h), 2)
        return out.flatten(1)


class BoxLinearCoder:
    """FCOS's box coding: distances from the reference box's centre to the four sides of the
    target box, optionally divided by the reference width/height (``normalize_by_size``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection._utils import BoxLinearCoder
        >>> coder = BoxLinearCoder(normalize_by_size=True)
        >>> ref, box = torch.tensor([[0.0, 0.0, 8.0, 8.0]]), torch.tensor([[1.0, 2.0, 7.0, 12.0]])
        >>> coder.encode(ref, box)
        tensor([[0.3750, 0.2500, 0.3750, 1.0000]])
        >>> coder.decode(coder.encode(ref, box), ref)
        tensor([[ 1.,  2.,  7., 12.]])
    """

    def __init__(self, normalize_by_size: bool = True) -> None:
        self.normalize_by_size = normalize_by_size

    def _sizes(self, boxes):
        w = boxes[..., 2] - boxes[..., 0]
        h = boxes[..., 3] - boxes[..., 1]
        return torch.stack((w, h, w, h), dim=-1)

    def encode(self, reference_boxes, proposals):
        ctr_x = 0.5 * (reference_boxes[..., 0] + reference_boxes[..., 2])
        ctr_y = 0.5 * (reference_boxes[..., 1] + reference_boxes[..., 3])
        targets = torch.stack(
            (
                ctr_x - proposals[..., 0],
                ctr_y - proposals[..., 1],
                proposals[..., 2] - ctr_x,
                proposals[..., 3] - ctr_y,
            ),
            dim=-1,
        )
        if self.normalize_by_size:
            targets = targets / self._sizes(reference_boxes)
        return targets

    def decode(self, rel_codes, boxes):
        boxes = boxes.to(dtype=rel_codes.dtype)
        ctr_x = 0.5 * (boxes[..., 0] + boxes[..., 2])
        ctr_y = 0.5 * (boxes[..., 1] + boxes[..., 3])
        if self.normalize_by_size:
            rel_codes = rel_codes * self._sizes(boxes)
        return torch.stack(
            (
                ctr_x - rel_codes[..., 0],
                ctr_y - rel_codes[..., 1],
                ctr_x + rel_codes[..., 2],
                ctr_y + rel_codes[..., 3],
            ),
            dim=-1,
        )


class Matcher:
    """Assigns each prediction (column) the ground truth (row) of highest quality.

    The result holds the matched row, or ``BELOW_LOW_THRESHOLD`` (-1) when the best quality is
    below ``low_threshold``, or ``BETWEEN_THRESHOLDS`` (-2) when it lies in
    ``[low_threshold, high_threshold)``. With ``allow_low_quality_matches``, every prediction
    tied for the best quality of some ground truth keeps its match anyway.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection._utils import Matcher
        >>> q = torch.tensor([[0.9, 0.5, 0.1, 0.0], [0.2, 0.6, 0.25, 0.35]])
        >>> Matcher(0.7, 0.3)(q)
        tensor([ 0, -2, -1, -2])
        >>> Matcher(0.7, 0.3, allow_low_quality_matches=True)(q)
        tensor([ 0,  1, -1, -2])
    """

    BELOW_LOW_THRESHOLD = -1
    BETWEEN_THRESHOLDS = -2

    def __init__(
        self, high_threshold: float, low_threshold: float, allow_low_quality_matches: bool = False
    ) -> None:
        if low_threshold > high_threshold:
            raise ValueError(
                f"Matcher: low_threshold {low_threshold} is above high_threshold {high_threshold}"
            )
        self.high_threshold = high_threshold
        self.low_threshold = low_threshold
        self.allow_low_quality_matches = allow_low_quality_matches

    def __call__(self, match_quality_matrix):
        if match_quality_matrix.numel() == 0:
            if match_quality_matrix.shape[0] == 0:
                raise ValueError(
                    "No ground-truth boxes available for one of the images during training"
                )
            raise ValueError("No proposal boxes available for one of the images during training")
        matched_vals, matches = match_quality_matrix.max(dim=0)
        all_matches = matches.clone() if self.allow_low_quality_matches else None
        below = matched_vals < self.low_threshold
        between = (matched_vals >= self.low_threshold) & (matched_vals < self.high_threshold)
        matches[below] = self.BELOW_LOW_THRESHOLD
        matches[between] = self.BETWEEN_THRESHOLDS
        if all_matches is not None:
            self.set_low_quality_matches_(matches, all_matches, match_quality_matrix)
        return matches

    def set_low_quality_matches_(self, matches, all_matches, match_quality_matrix) -> None:
        """Restore the match of every prediction that is (one of) the best for a ground truth."""
        highest, _ = match_quality_matrix.max(dim=1)
        preds = torch.where(match_quality_matrix == highest[:, None])[1]
        matches[preds] = all_matches[preds]


class SSDMatcher(Matcher):
    """SSD's matcher: one threshold, and every ground truth gets its best prediction.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection._utils import SSDMatcher
        >>> SSDMatcher(0.5)(torch.tensor([[0.9, 0.2, 0.1], [0.1, 0.3, 0.2]]))
        tensor([ 0,  1, -1])
    """

    def __init__(self, threshold: float) -> None:
        super().__init__(threshold, threshold, allow_low_quality_matches=False)

    def __call__(self, match_quality_matrix):
        matches = super().__call__(match_quality_matrix)
        _, best_pred = match_quality_matrix.max(dim=1)
        matches[best_pred] = torch.arange(
            best_pred.shape[0], dtype=torch.int64, device=best_pred.device
        )
        return matches


def overwrite_eps(model: nn.Module, eps: float) -> None:
    """Set ``eps`` of every FrozenBatchNorm2d (the legacy COCO checkpoints were trained with 0)."""
    for module in model.modules():
        if isinstance(module, FrozenBatchNorm2d):
            module.eps = eps


def retrieve_out_channels(model: nn.Module, size: tuple[int, int]) -> list[int]:
    """Channels of each feature map ``model`` returns for a ``size = (w, h)`` input."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        device = next(model.parameters()).device
        features = model(torch.zeros((1, 3, size[1], size[0]), device=device))
        if isinstance(features, torch.Tensor):
            features = OrderedDict([("0", features)])
        out_channels = [x.shape[1] for x in features.values()]
    if was_training:
        model.train()
    return out_channels


def _topk_min(input, orig_kval: int, axis: int) -> int:
    return min(int(orig_kval), int(input.shape[axis]))


def _box_loss(
    type: str,
    box_coder: BoxCoder,
    anchors_per_image,
    matched_gt_boxes_per_image,
    bbox_regression_per_image,
    cnf: dict | None = None,
):
    if type not in ("l1", "smooth_l1", "ciou", "diou", "giou"):
        raise ValueError(f"_box_loss: unsupported loss {type!r}")
    if type == "l1":
        target = box_coder.encode_single(matched_gt_boxes_per_image, anchors_per_image)
        return F.l1_loss(bbox_regression_per_image, target, reduction="sum")
    if type == "smooth_l1":
        target = box_coder.encode_single(matched_gt_boxes_per_image, anchors_per_image)
        beta = cnf["beta"] if cnf is not None and "beta" in cnf else 1.0
        return F.smooth_l1_loss(bbox_regression_per_image, target, reduction="sum", beta=beta)
    pred = box_coder.decode_single(bbox_regression_per_image, anchors_per_image)
    eps = cnf["eps"] if cnf is not None and "eps" in cnf else 1e-7
    fn = {
        "ciou": complete_box_iou_loss,
        "diou": distance_box_iou_loss,
        "giou": generalized_box_iou_loss,
    }[type]
    return fn(pred, matched_gt_boxes_per_image, reduction="sum", eps=eps)


def _weights_and_classes(weights, weights_backbone, num_classes, default: int = 91):
    """torchvision's detection-builder rule: detector weights fix ``num_classes`` to their
    categories and make backbone weights unnecessary; otherwise ``num_classes`` defaults to
    COCO's 91. Returns ``(weights_backbone, num_classes)``."""
    if weights is not None:
        categories = len(weights.meta["categories"])
        return None, _ovewrite_value_param("num_classes", num_classes, categories)
    return weights_backbone, default if num_classes is None else num_classes


def _load_weights(model: nn.Module, weights, progress: bool, zero_eps_for=None) -> nn.Module:
    """Load the detector checkpoint ``weights`` (if any) into ``model`` and return it.

    ``zero_eps_for`` is the builder's checkpoint trained with FrozenBatchNorm2d ``eps=0``
    (torchvision's first COCO releases): loading exactly that one also sets ``eps`` to 0.
    """
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
        if zero_eps_for is not None and weights == zero_eps_for:
            overwrite_eps(model, 0.0)
    return model
