"""Complete IoU loss: torchvision.ops.complete_box_iou_loss."""

from __future__ import annotations

import math

import tocha.core as torch

from ._loss_utils import check_pair, diou_iou_loss, reduce, upcast

__all__ = ["complete_box_iou_loss"]


def complete_box_iou_loss(boxes1, boxes2, reduction: str = "none", eps: float = 1e-7):
    """Distance IoU loss plus the aspect-ratio term ``alpha * v`` (``alpha`` held constant in
    the gradient, as in torchvision).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import complete_box_iou_loss
        >>> complete_box_iou_loss(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([[0.0, 0, 1, 2]]))
        tensor([0.5532])
    """
    check_pair("complete_box_iou_loss", boxes1, boxes2)
    boxes1, boxes2 = upcast(boxes1), upcast(boxes2)
    diou_loss, iou = diou_iou_loss(boxes1, boxes2, eps)
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    v = (4 / math.pi**2) * (
        torch.atan((x2g - x1g) / (y2g - y1g)) - torch.atan((x2 - x1) / (y2 - y1))
    ) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return reduce("complete_box_iou_loss", diou_loss + alpha * v, reduction)
