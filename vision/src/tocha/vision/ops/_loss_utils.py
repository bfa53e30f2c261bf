"""Helpers shared by the elementwise box losses (giou/diou/ciou)."""

from __future__ import annotations

import tocha.core as torch


def check_pair(fn: str, boxes1, boxes2) -> None:
    if boxes1.shape[-1] != 4 or boxes1.shape != boxes2.shape:
        raise ValueError(
            f"{fn}: boxes1 and boxes2 must have the same shape [..., 4], "
            f"got {list(boxes1.shape)} and {list(boxes2.shape)}"
        )


def upcast(t):
    return t if t.is_floating_point() else t.float()


def inter_union(boxes1, boxes2):
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    w = (torch.min(x2, x2g) - torch.max(x1, x1g)).clamp(min=0)
    h = (torch.min(y2, y2g) - torch.max(y1, y1g)).clamp(min=0)
    inter = w * h
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    return inter, union


def diou_iou_loss(boxes1, boxes2, eps: float):
    inter, union = inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    diag2 = (torch.max(x2, x2g) - torch.min(x1, x1g)) ** 2
    diag2 = diag2 + (torch.max(y2, y2g) - torch.min(y1, y1g)) ** 2 + eps
    dist2 = ((x1 + x2) / 2 - (x1g + x2g) / 2) ** 2 + ((y1 + y2) / 2 - (y1g + y2g) / 2) ** 2
    return 1 - iou + dist2 / diag2, iou


def reduce(fn: str, loss, reduction: str):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(
        f"{fn}: invalid reduction {reduction!r}; supported reduction modes: 'none', 'mean', 'sum'"
    )
