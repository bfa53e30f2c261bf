"""Generalized IoU loss: torchvision.ops.generalized_box_iou_loss."""

from __future__ import annotations

import tocha.core as torch

from ._loss_utils import check_pair, inter_union, reduce, upcast

__all__ = ["generalized_box_iou_loss"]


def generalized_box_iou_loss(boxes1, boxes2, reduction: str = "none", eps: float = 1e-7):
    """``1 - GIoU`` of matching boxes ``(x1, y1, x2, y2)`` (elementwise, not all pairs).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import generalized_box_iou_loss
        >>> generalized_box_iou_loss(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([[2.0, 0, 3, 1]]))
        tensor([1.3333])
    """
    check_pair("generalized_box_iou_loss", boxes1, boxes2)
    boxes1, boxes2 = upcast(boxes1), upcast(boxes2)
    inter, union = inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    enclosing = (torch.max(x2, x2g) - torch.min(x1, x1g)) * (
        torch.max(y2, y2g) - torch.min(y1, y1g)
    )
    giou = iou - (enclosing - union) / (enclosing + eps)
    return reduce("generalized_box_iou_loss", 1 - giou, reduction)
