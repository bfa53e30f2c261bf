"""RoIHeads (torchvision.models.detection.roi_heads): pool each proposal's features, classify
it and refine its box; in training sample proposals and compute the Fast R-CNN losses."""

from __future__ import annotations

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn

from ...ops import boxes as box_ops
from ...ops.roi_align import roi_align
from . import _utils as det_utils

__all__ = [
    "RoIHeads",
    "fastrcnn_loss",
    "heatmaps_to_keypoints",
    "keypointrcnn_inference",
    "keypointrcnn_loss",
    "keypoints_to_heatmap",
    "maskrcnn_inference",
    "maskrcnn_loss",
]


def fastrcnn_loss(class_logits, box_regression, labels: list, regression_targets: list):
    """Cross-entropy over the sampled proposals, and smooth L1 (beta 1/9) of the deltas
    predicted for the true class of the positive ones, divided by the number of samples.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection.roi_heads import fastrcnn_loss
        >>> logits = torch.zeros(2, 3)
        >>> deltas = torch.zeros(2, 12)
        >>> cls, box = fastrcnn_loss(logits, deltas, [torch.tensor([1, 0])], [torch.ones(2, 4)])
        >>> round(cls.item(), 4), round(box.item(), 4)
        (1.0986, 1.8889)
    """
    labels = torch.cat(labels, dim=0)
    regression_targets = torch.cat(regression_targets, dim=0)
    classification_loss = F.cross_entropy(class_logits, labels)
    pos = torch.where(labels > 0)[0]
    labels_pos = labels[pos]
    N = class_logits.shape[0]
    box_regression = box_regression.reshape(N, box_regression.shape[-1] // 4, 4)
    box_loss = F.smooth_l1_loss(
        box_regression[pos, labels_pos], regression_targets[pos], beta=1 / 9, reduction="sum"
    )
    return classification_loss, box_loss / labels.numel()


def maskrcnn_inference(x, labels: list) -> tuple:
    """Per image, the sigmoid of each detection's mask logits for its predicted class,
    shaped ``[N_i, 1, M, M]``."""
    mask_prob = x.sigmoid()
    boxes_per_image = [lab.shape[0] for lab in labels]
    labels = torch.cat(labels)
    index = torch.arange(mask_prob.shape[0], device=labels.device)
    return mask_prob[index, labels][:, None].split(boxes_per_image, dim=0)


def project_masks_on_boxes(gt_masks, boxes, matched_idxs, M: int):
    """Each proposal's matched ground-truth mask cropped to the proposal and resampled to
    ``M x M`` (RoIAlign, one sample per bin)."""
    rois = torch.cat([matched_idxs.to(boxes.dtype)[:, None], boxes], dim=1)
    return roi_align(gt_masks[:, None].to(rois.dtype), rois, (M, M), 1.0)[:, 0]


def maskrcnn_loss(
    mask_logits, proposals: list, gt_masks: list, gt_labels: list, mask_matched_idxs: list
):
    """Binary cross-entropy of the mask logits of each positive proposal's true class against
    its matched ground-truth mask projected on the proposal."""
    M = mask_logits.shape[-1]
    labels = torch.cat([lab[idx] for lab, idx in zip(gt_labels, mask_matched_idxs)], dim=0)
    mask_targets = torch.cat(
        [
            project_masks_on_boxes(m, p, i, M)
            for m, p, i in zip(gt_masks, proposals, mask_matched_idxs)
        ],
        dim=0,
    )
    if mask_targets.numel() == 0:
        return mask_logits.sum() * 0
    index = torch.arange(labels.shape[0], device=labels.device)
    return F.binary_cross_entropy_with_logits(mask_logits[index, labels], mask_targets)


def keypoints_to_heatmap(keypoints, rois, heatmap_size: int):
    """Each visible keypoint inside its RoI as a flat index into a ``heatmap_size`` square
    grid over the RoI; returns ``(indices, valid)``, both ``[R, K]`` int64."""
    offset_x, offset_y = rois[:, 0][:, None], rois[:, 1][:, None]
    scale_x = (heatmap_size / (rois[:, 2] - rois[:, 0]))[:, None]
    scale_y = (heatmap_size / (rois[:, 3] - rois[:, 1]))[:, None]
    x, y = keypoints[..., 0], keypoints[..., 1]
    # a keypoint on the right or bottom edge belongs to the last cell
    x_edge = x == rois[:, 2][:, None]
    y_edge = y == rois[:, 3][:, None]
    x = ((x - offset_x) * scale_x).floor().long()
    y = ((y - offset_y) * scale_y).floor().long()
    x[x_edge] = heatmap_size - 1
    y[y_edge] = heatmap_size - 1
    valid_loc = (x >= 0) & (y >= 0) & (x < heatmap_size) & (y < heatmap_size)
    valid = (valid_loc & (keypoints[..., 2] > 0)).long()
    return (y * heatmap_size + x) * valid, valid


def heatmaps_to_keypoints(maps, rois):
    """Keypoint positions (argmax of each heatmap resized bicubically to its RoI) and their
    heatmap values: ``([R, K, 3] (x, y, 1), [R, K])``."""
    offset_x, offset_y = rois[:, 0], rois[:, 1]
    widths = (rois[:, 2] - rois[:, 0]).clamp(min=1)
    heights = (rois[:, 3] - rois[:, 1]).clamp(min=1)
    widths_ceil, heights_ceil = widths.ceil(), heights.ceil()
    num_keypoints = maps.shape[1]
    xy_preds = torch.zeros((len(rois), 3, num_keypoints), dtype=torch.float32, device=maps.device)
    end_scores = torch.zeros((len(rois), num_keypoints), dtype=torch.float32, device=maps.device)
    kp_index = torch.arange(num_keypoints, device=maps.device)
    # each RoI has its own output size: one resize per detection, as torchvision
    for i in range(len(rois)):
        roi_w, roi_h = int(widths_ceil[i].item()), int(heights_ceil[i].item())
        roi_map = F.interpolate(
            maps[i][:, None], size=(roi_h, roi_w), mode="bicubic", align_corners=False
        )[:, 0]
        w = roi_map.shape[2]
        pos = roi_map.reshape(num_keypoints, -1).argmax(dim=1)
        x_int = pos % w
        y_int = torch.div(pos - x_int, w, rounding_mode="floor")
        x = (x_int.float() + 0.5) * (widths[i] / roi_w)
        y = (y_int.float() + 0.5) * (heights[i] / roi_h)
        xy_preds[i, 0, :] = x + offset_x[i]
        xy_preds[i, 1, :] = y + offset_y[i]
        xy_preds[i, 2, :] = 1
        end_scores[i, :] = roi_map[kp_index, y_int, x_int]
    return xy_preds.permute(0, 2, 1), end_scores


def keypointrcnn_loss(
    keypoint_logits, proposals: list, gt_keypoints: list, keypoint_matched_idxs: list
):
    """Cross-entropy over each heatmap's cells for the visible keypoints inside their RoI."""
    N, K, H, W = keypoint_logits.shape
    if H != W:
        raise ValueError(
            f"keypoint_logits height and width (last two elements of shape) should be equal. "
            f"Instead got H = {H} and W = {W}"
        )
    heatmaps, valid = [], []
    for props, kps, midx in zip(proposals, gt_keypoints, keypoint_matched_idxs):
        hm, v = keypoints_to_heatmap(kps[midx], props, H)
        heatmaps.append(hm.reshape(-1))
        valid.append(v.reshape(-1))
    targets = torch.cat(heatmaps, dim=0)
    valid = torch.where(torch.cat(valid, dim=0) > 0)[0]
    if targets.numel() == 0 or valid.numel() == 0:
        return keypoint_logits.sum() * 0
    return F.cross_entropy(keypoint_logits.reshape(N * K, H * W)[valid], targets[valid])


def keypointrcnn_inference(x, boxes: list) -> tuple[list, list]:
    probs, scores = [], []
    for xx, bb in zip(x.split([b.shape[0] for b in boxes], dim=0), boxes):
        p, s = heatmaps_to_keypoints(xx, bb)
        probs.append(p)
        scores.append(s)
    return probs, scores


class RoIHeads(nn.Module):
    """The second stage of Faster R-CNN.

    Args:
        box_roi_pool: pools a fixed-size feature per proposal (MultiScaleRoIAlign).
        box_head: features to a vector (e.g. TwoMLPHead).
        box_predictor: vector to class logits and per-class deltas (FastRCNNPredictor).
        fg_iou_thresh, bg_iou_thresh: proposal/ground-truth IoU deciding fore/background.
        batch_size_per_image, positive_fraction: proposals sampled per image for the loss.
        bbox_reg_weights: BoxCoder weights, default ``(10, 10, 5, 5)``.
        score_thresh, nms_thresh, detections_per_img: inference filtering.
        mask_roi_pool, mask_head, mask_predictor: Mask R-CNN's branch (all three or none).
        keypoint_roi_pool, keypoint_head, keypoint_predictor: Keypoint R-CNN's branch.
    """

    def __init__(
        self,
        box_roi_pool: nn.Module,
        box_head: nn.Module,
        box_predictor: nn.Module,
        fg_iou_thresh: float,
        bg_iou_thresh: float,
        batch_size_per_image: int,
        positive_fraction: float,
        bbox_reg_weights: tuple[float, float, float, float] | None,
        score_thresh: float,
        nms_thresh: float,
        detections_per_img: int,
        mask_roi_pool=None,
        mask_head=None,
        mask_predictor=None,
        keypoint_roi_pool=None,
        keypoint_head=None,
        keypoint_predictor=None,
    ) -> None:
        super().__init__()
        self.box_similarity = box_ops.box_iou
        self.proposal_matcher = det_utils.Matcher(
            fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=False
        )
        self.fg_bg_sampler = det_utils.BalancedPositiveNegativeSampler(
            batch_size_per_image, positive_fraction
        )
        if bbox_reg_weights is None:
            bbox_reg_weights = (10.0, 10.0, 5.0, 5.0)
        self.box_coder = det_utils.BoxCoder(bbox_reg_weights)
        self.box_roi_pool = box_roi_pool
        self.box_head = box_head
        self.box_predictor = box_predictor
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.mask_roi_pool = mask_roi_pool
        self.mask_head = mask_head
        self.mask_predictor = mask_predictor
        self.keypoint_roi_pool = keypoint_roi_pool
        self.keypoint_head = keypoint_head
        self.keypoint_predictor = keypoint_predictor

    def has_mask(self) -> bool:
        return not (
            self.mask_roi_pool is None or self.mask_head is None or self.mask_predictor is None
        )

    def has_keypoint(self) -> bool:
        return not (
            self.keypoint_roi_pool is None
            or self.keypoint_head is None
            or self.keypoint_predictor is None
        )

    def assign_targets_to_proposals(self, proposals: list, gt_boxes: list, gt_labels: list):
        matched_idxs, labels = [], []
        for props, gt_b, gt_l in zip(proposals, gt_boxes, gt_labels):
            if gt_b.numel() == 0:
                clamped = torch.zeros((props.shape[0],), dtype=torch.int64, device=props.device)
                labels_in_image = torch.zeros_like(clamped)
            else:
                matched = self.proposal_matcher(self.box_similarity(gt_b, props))
                clamped = matched.clamp(min=0)
                labels_in_image = gt_l[clamped].to(torch.int64)
                labels_in_image[matched == self.proposal_matcher.BELOW_LOW_THRESHOLD] = 0
                labels_in_image[matched == self.proposal_matcher.BETWEEN_THRESHOLDS] = -1
            matched_idxs.append(clamped)
            labels.append(labels_in_image)
        return matched_idxs, labels

    def subsample(self, labels: list) -> list:
        pos, neg = self.fg_bg_sampler(labels)
        return [torch.where((p + n) > 0)[0] for p, n in zip(pos, neg)]

    def add_gt_proposals(self, proposals: list, gt_boxes: list) -> list:
        return [torch.cat((p, g)) for p, g in zip(proposals, gt_boxes)]

    def check_targets(self, targets: list | None) -> None:
        if targets is None:
            raise ValueError("targets should not be None")
        if not all("boxes" in t for t in targets):
            raise ValueError("Every element of targets should have a boxes key")
        if not all("labels" in t for t in targets):
            raise ValueError("Every element of targets should have a labels key")
        if self.has_mask() and not all("masks" in t for t in targets):
            raise ValueError("Every element of targets should have a masks key")
        if self.has_keypoint() and not all("keypoints" in t for t in targets):
            raise ValueError("Every element of targets should have a keypoints key")

    def select_training_samples(self, proposals: list, targets: list | None):
        self.check_targets(targets)
        dtype, device = proposals[0].dtype, proposals[0].device
        gt_boxes = [t["boxes"].to(dtype) for t in targets]
        gt_labels = [t["labels"] for t in targets]
        proposals = self.add_gt_proposals(proposals, gt_boxes)
        matched_idxs, labels = self.assign_targets_to_proposals(proposals, gt_boxes, gt_labels)
        sampled_inds = self.subsample(labels)
        matched_gt_boxes = []
        for i, inds in enumerate(sampled_inds):
            proposals[i] = proposals[i][inds]
            labels[i] = labels[i][inds]
            matched_idxs[i] = matched_idxs[i][inds]
            gt = gt_boxes[i]
            if gt.numel() == 0:
                gt = torch.zeros((1, 4), dtype=dtype, device=device)
            matched_gt_boxes.append(gt[matched_idxs[i]])
        regression_targets = self.box_coder.encode(matched_gt_boxes, proposals)
        return proposals, matched_idxs, labels, regression_targets

    def postprocess_detections(
        self, class_logits, box_regression, proposals: list, image_shapes: list
    ) -> tuple[list, list, list]:
        num_classes = class_logits.shape[-1]
        boxes_per_image = [p.shape[0] for p in proposals]
        pred_boxes = self.box_coder.decode(box_regression, proposals)
        pred_scores = F.softmax(class_logits, -1)
        all_boxes, all_scores, all_labels = [], [], []
        for boxes, scores, image_shape in zip(
            pred_boxes.split(boxes_per_image, 0),
            pred_scores.split(boxes_per_image, 0),
            image_shapes,
        ):
            boxes = box_ops.clip_boxes_to_image(boxes, image_shape)
            labels = torch.arange(num_classes, device=boxes.device).reshape(1, -1).expand_as(scores)
            # drop the background column, then one candidate per (proposal, class)
            boxes = boxes[:, 1:].reshape(-1, 4)
            scores = scores[:, 1:].reshape(-1)
            labels = labels[:, 1:].reshape(-1)
            inds = torch.where(scores > self.score_thresh)[0]
            boxes, scores, labels = boxes[inds], scores[inds], labels[inds]
            keep = box_ops.remove_small_boxes(boxes, min_size=1e-2)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = box_ops.batched_nms(boxes, scores, labels, self.nms_thresh)
            keep = keep[: self.detections_per_img]
            all_boxes.append(boxes[keep])
            all_scores.append(scores[keep])
            all_labels.append(labels[keep])
        return all_boxes, all_scores, all_labels

    def forward(self, features: dict, proposals: list, image_shapes: list, targets=None):
        if targets is not None:
            for t in targets:
                if t["boxes"].dtype not in (torch.float32, torch.float64, torch.float16):
                    raise TypeError(
                        f"target boxes must of float type, instead got {t['boxes'].dtype}"
                    )
                if t["labels"].dtype != torch.int64:
                    raise TypeError(
                        f"target labels must of int64 type, instead got {t['labels'].dtype}"
                    )
        if self.training:
            proposals, matched_idxs, labels, regression_targets = self.select_training_samples(
                proposals, targets
            )
        box_features = self.box_roi_pool(features, proposals, image_shapes)
        box_features = self.box_head(box_features)
        class_logits, box_regression = self.box_predictor(box_features)
        result, losses = [], {}
        if self.training:
            loss_classifier, loss_box_reg = fastrcnn_loss(
                class_logits, box_regression, labels, regression_targets
            )
            losses = {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg}
        else:
            boxes, scores, labels = self.postprocess_detections(
                class_logits, box_regression, proposals, image_shapes
            )
            for b, s, lab in zip(boxes, scores, labels):
                result.append({"boxes": b, "labels": lab, "scores": s})
        if self.has_mask():
            losses.update(
                self._mask_branch(
                    features,
                    proposals,
                    image_shapes,
                    targets,
                    result,
                    labels,
                    matched_idxs if self.training else None,
                )
            )
        if self.has_keypoint():
            losses.update(
                self._keypoint_branch(
                    features,
                    proposals,
                    image_shapes,
                    targets,
                    result,
                    labels,
                    matched_idxs if self.training else None,
                )
            )
        return result, losses

    def _positive(self, proposals, labels, matched):
        props, idxs = [], []
        for p, lab, idx in zip(proposals, labels, matched):
            pos = torch.where(lab > 0)[0]
            props.append(p[pos])
            idxs.append(idx[pos])
        return props, idxs

    def _keypoint_branch(self, features, proposals, image_shapes, targets, result, labels, matched):
        if self.training:
            kp_proposals, pos_matched_idxs = self._positive(proposals, labels, matched)
        else:
            kp_proposals = [r["boxes"] for r in result]
        kp_features = self.keypoint_roi_pool(features, kp_proposals, image_shapes)
        kp_logits = self.keypoint_predictor(self.keypoint_head(kp_features))
        if self.training:
            loss = keypointrcnn_loss(
                kp_logits, kp_proposals, [t["keypoints"] for t in targets], pos_matched_idxs
            )
            return {"loss_keypoint": loss}
        probs, scores = keypointrcnn_inference(kp_logits, kp_proposals)
        for p, sc, r in zip(probs, scores, result):
            r["keypoints"] = p
            r["keypoints_scores"] = sc
        return {}

    def _mask_branch(self, features, proposals, image_shapes, targets, result, labels, matched):
        if self.training:
            # masks are learnt on the positive sampled proposals only
            mask_proposals, pos_matched_idxs = [], []
            for props, lab, idx in zip(proposals, labels, matched):
                pos = torch.where(lab > 0)[0]
                mask_proposals.append(props[pos])
                pos_matched_idxs.append(idx[pos])
        else:
            mask_proposals = [r["boxes"] for r in result]
        mask_features = self.mask_roi_pool(features, mask_proposals, image_shapes)
        mask_logits = self.mask_predictor(self.mask_head(mask_features))
        if self.training:
            loss = maskrcnn_loss(
                mask_logits,
                mask_proposals,
                [t["masks"] for t in targets],
                [t["labels"] for t in targets],
                pos_matched_idxs,
            )
            return {"loss_mask": loss}
        for prob, r in zip(maskrcnn_inference(mask_logits, [r["labels"] for r in result]), result):
            r["masks"] = prob
        return {}
