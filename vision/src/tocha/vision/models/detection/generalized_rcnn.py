"""GeneralizedRCNN (torchvision.models.detection.generalized_rcnn): transform, backbone, RPN
and RoI heads chained; the base of Faster R-CNN."""

from __future__ import annotations

from collections import OrderedDict

import tocha.core as torch
from tocha.core import nn

__all__ = ["GeneralizedRCNN"]


def _check_targets(targets: list | None, training: bool) -> None:
    if not training:
        return
    if targets is None:
        raise ValueError("In training mode, targets should be passed")
    for target in targets:
        boxes = target["boxes"]
        if not isinstance(boxes, torch.Tensor):
            raise TypeError(f"Expected target boxes to be of type Tensor, got {type(boxes)}.")
        if boxes.dim() != 2 or boxes.shape[-1] != 4:
            raise ValueError(
                f"Expected target boxes to be a tensor of shape [N, 4], got {list(boxes.shape)}."
            )


def _check_degenerate(targets: list | None) -> None:
    if targets is None:
        return
    for target_idx, target in enumerate(targets):
        boxes = target["boxes"]
        degenerate = (boxes[:, 2:] <= boxes[:, :2]).any(dim=1)
        if degenerate.any():
            bb_idx = int(torch.where(degenerate)[0][0])
            raise ValueError(
                "All bounding boxes should have positive height and width. "
                f"Found invalid box {boxes[bb_idx].tolist()} for target at index {target_idx}."
            )


def _original_sizes(images: list) -> list[tuple[int, int]]:
    sizes = []
    for img in images:
        if img.dim() < 2:
            raise ValueError(
                f"expecting the last two dimensions of the Tensor to be H and W instead got "
                f"{list(img.shape)}"
            )
        sizes.append((int(img.shape[-2]), int(img.shape[-1])))
    return sizes


def _transform_and_backbone(model: nn.Module, images: list, targets: list | None):
    """The first steps of every detector's forward: check the targets, resize, normalise and
    batch the images (``model.transform``), then run ``model.backbone``; a backbone returning
    one Tensor gives the single level ``"0"``.

    Returns ``(images, targets, features, original_image_sizes)``.
    """
    _check_targets(targets, model.training)
    original_image_sizes = _original_sizes(images)
    images, targets = model.transform(images, targets)
    _check_degenerate(targets)
    features = model.backbone(images.tensors)
    if isinstance(features, torch.Tensor):
        features = OrderedDict([("0", features)])
    return images, targets, features, original_image_sizes


class GeneralizedRCNN(nn.Module):
    """Images (a list of ``[C, H, W]`` float tensors in 0..1) through ``transform``,
    ``backbone``, ``rpn`` and ``roi_heads``.

    In training mode ``forward(images, targets)`` returns the dict of losses; in eval mode it
    returns, per image, a dict with ``boxes`` ``(x1, y1, x2, y2)`` in the original image's
    pixels, ``labels`` and ``scores``.
    """

    def __init__(self, backbone: nn.Module, rpn: nn.Module, roi_heads: nn.Module, transform):
        super().__init__()
        self.transform = transform
        self.backbone = backbone
        self.rpn = rpn
        self.roi_heads = roi_heads

    def eager_outputs(self, losses: dict, detections: list):
        return losses if self.training else detections

    def forward(self, images: list, targets: list | None = None):
        images, targets, features, original_image_sizes = _transform_and_backbone(
            self, images, targets
        )
        proposals, proposal_losses = self.rpn(images, features, targets)
        detections, detector_losses = self.roi_heads(
            features, proposals, images.image_sizes, targets
        )
        detections = self.transform.postprocess(
            detections, images.image_sizes, original_image_sizes
        )
        losses = {}
        losses.update(detector_losses)
        losses.update(proposal_losses)
        return self.eager_outputs(losses, detections)
