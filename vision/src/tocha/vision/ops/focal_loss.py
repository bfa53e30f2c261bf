"""Focal loss (RetinaNet, Lin et al. 2017): torchvision.ops.sigmoid_focal_loss."""

from __future__ import annotations

import tocha.core as torch
import tocha.core.nn.functional as F

__all__ = ["sigmoid_focal_loss"]


def sigmoid_focal_loss(
    inputs, targets, alpha: float = 0.25, gamma: float = 2, reduction: str = "none"
):
    """Binary cross-entropy down-weighted by ``(1 - p_t) ** gamma`` on easy examples.

    Args:
        inputs: logits of any shape.
        targets: same shape, 1 for the positive class and 0 for the negative.
        alpha: weight of the positives (``1 - alpha`` for negatives); ``< 0`` for none.
        gamma: focusing exponent.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import sigmoid_focal_loss
        >>> sigmoid_focal_loss(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0]))
        tensor([0.0433, 1.2376])
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(
            f"sigmoid_focal_loss: invalid reduction {reduction!r}; "
            "supported reduction modes: 'none', 'mean', 'sum'"
        )
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
