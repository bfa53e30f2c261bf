"""tocha.rec.metrics: CTR and ranking metrics as plain functions over arrays or tensors.

Example:
    >>> auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    >>> recall_at_k([[3, 1, 2]], [[2, 9]], k=2)
    0.0
"""

from .functional import (
    accuracy,
    auc,
    calibration,
    hit_rate_at_k,
    log_loss,
    mrr,
    mse,
    ndcg_at_k,
    ne,
    recall_at_k,
    rmse,
)

__all__ = [
    "accuracy",
    "auc",
    "calibration",
    "hit_rate_at_k",
    "log_loss",
    "mrr",
    "mse",
    "ndcg_at_k",
    "ne",
    "recall_at_k",
    "rmse",
]
