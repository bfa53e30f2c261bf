"""Distance IoU loss: torchvision.ops.distance_box_iou_loss."""

from __future__ import annotations

from ._loss_utils import check_pair, diou_iou_loss, reduce, upcast

__all__ = ["distance_box_iou_loss"]


def distance_box_iou_loss(boxes1, boxes2, reduction: str = "none", eps: float = 1e-7):
    """``1 - IoU + d^2 / c^2`` of matching boxes: ``d`` the distance of the centres, ``c`` the
    diagonal of the enclosing box.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import distance_box_iou_loss
        >>> distance_box_iou_loss(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([[1.0, 0, 2, 1]]))
        tensor([1.2000])
    """
    check_pair("distance_box_iou_loss", boxes1, boxes2)
    loss, _ = diou_iou_loss(upcast(boxes1), upcast(boxes2), eps)
    return reduce("distance_box_iou_loss", loss, reduction)
