"""Metric functions. Inputs are NumPy arrays, lists or tocha tensors; results are floats.

CTR metrics take predicted probabilities and 0/1 labels with optional per-sample weights.
Ranking metrics take ``ranked`` (queries x K item ids, best first) and ``relevant``: one
item id per query (1-D) or a list of collections of relevant ids per query.

Example:
    >>> round(ne([0.2, 0.8], [0, 1]), 4)
    0.3219
"""

from __future__ import annotations

import numpy as np

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


def _arr(x, dtype=np.float64) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype).reshape(-1)


def _w(weights, n: int) -> np.ndarray:
    return np.ones(n) if weights is None else _arr(weights)


def _check(who: str, p: np.ndarray, y: np.ndarray) -> None:
    if p.shape != y.shape:
        raise ValueError(f"{who}: {p.shape[0]} predictions but {y.shape[0]} labels")
    if p.size == 0:
        raise ValueError(f"{who}: empty input")


def auc(predictions, labels, weights=None) -> float:
    """Area under the ROC curve (ties count half), weighted if ``weights`` is given."""
    p, y = _arr(predictions), _arr(labels)
    _check("auc", p, y)
    w = _w(weights, p.size)
    order = np.argsort(-p, kind="stable")
    p, y, w = p[order], y[order], w[order]
    # one ROC point per distinct score so tied scores form one trapezoid
    last = np.r_[np.nonzero(np.diff(p))[0], p.size - 1]
    tp = np.cumsum(w * y)[last]
    fp = np.cumsum(w * (1 - y))[last]
    if tp[-1] == 0 or fp[-1] == 0:
        return 0.5
    tp = np.r_[0.0, tp]
    fp = np.r_[0.0, fp]
    return float(np.sum((fp[1:] - fp[:-1]) * (tp[1:] + tp[:-1]) / 2) / (tp[-1] * fp[-1]))


def log_loss(predictions, labels, weights=None, eta: float = 1e-12) -> float:
    """Mean binary cross-entropy of probabilities (clipped to ``[eta, 1 - eta]``)."""
    p, y = _arr(predictions), _arr(labels)
    _check("log_loss", p, y)
    w = _w(weights, p.size)
    p = np.clip(p, eta, 1 - eta)
    return float(-np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))) / np.sum(w))


def ne(predictions, labels, weights=None, eta: float = 1e-12) -> float:
    """Normalized entropy: log loss divided by the entropy of the average label."""
    p, y = _arr(predictions), _arr(labels)
    _check("ne", p, y)
    w = _w(weights, p.size)
    base = np.clip(np.sum(w * y) / np.sum(w), eta, 1 - eta)
    h = -(base * np.log(base) + (1 - base) * np.log(1 - base))
    return float(log_loss(p, y, w, eta) / h)


def accuracy(predictions, labels, weights=None, threshold: float = 0.5) -> float:
    """Weighted fraction of ``(predictions >= threshold) == labels``."""
    p, y = _arr(predictions), _arr(labels)
    _check("accuracy", p, y)
    w = _w(weights, p.size)
    return float(np.sum(w * ((p >= threshold) == (y > 0.5))) / np.sum(w))


def calibration(predictions, labels, weights=None) -> float:
    """Sum of predictions over sum of labels (1.0 is perfectly calibrated)."""
    p, y = _arr(predictions), _arr(labels)
    _check("calibration", p, y)
    w = _w(weights, p.size)
    return float(np.sum(w * p) / np.sum(w * y))


def mse(predictions, targets, weights=None) -> float:
    """Mean squared error."""
    p, y = _arr(predictions), _arr(targets)
    _check("mse", p, y)
    w = _w(weights, p.size)
    return float(np.sum(w * (p - y) ** 2) / np.sum(w))


def rmse(predictions, targets, weights=None) -> float:
    """Root mean squared error."""
    return float(np.sqrt(mse(predictions, targets, weights)))


def _hits(ranked, relevant, k: int):
    r = ranked.detach().cpu().numpy() if hasattr(ranked, "detach") else np.asarray(ranked)
    r = r[:, :k]
    if hasattr(relevant, "detach"):
        relevant = relevant.detach().cpu().numpy()
    if not isinstance(relevant, np.ndarray) and len(relevant) and np.isscalar(relevant[0]):
        relevant = np.asarray(relevant)
    if isinstance(relevant, np.ndarray) and relevant.ndim == 1:
        hits = r == relevant[:, None]
        n_rel = np.ones(r.shape[0])
    else:
        if len(relevant) != r.shape[0]:
            raise ValueError(f"ranking metric: {r.shape[0]} rankings but {len(relevant)} targets")
        hits = np.zeros(r.shape, dtype=bool)
        for i, rel in enumerate(relevant):
            hits[i] = np.isin(r[i], np.asarray(list(rel)))
        n_rel = np.array([len(set(rel)) for rel in relevant], dtype=np.float64)
    return hits, n_rel


def recall_at_k(ranked, relevant, k: int = 10) -> float:
    """Mean over queries of (relevant items in the top k) / (number of relevant items)."""
    hits, n_rel = _hits(ranked, relevant, k)
    return float(np.mean(hits.sum(1) / np.maximum(n_rel, 1)))


def hit_rate_at_k(ranked, relevant, k: int = 10) -> float:
    """Fraction of queries with at least one relevant item in the top k."""
    hits, _ = _hits(ranked, relevant, k)
    return float(np.mean(hits.any(1)))


def ndcg_at_k(ranked, relevant, k: int = 10) -> float:
    """Mean NDCG@k with binary relevance."""
    hits, n_rel = _hits(ranked, relevant, k)
    disc = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    dcg = (hits * disc).sum(1)
    ideal = np.cumsum(disc)[np.minimum(n_rel, hits.shape[1]).astype(int) - 1]
    return float(np.mean(np.where(n_rel > 0, dcg / ideal, 0.0)))


def mrr(ranked, relevant, k: int | None = None) -> float:
    """Mean reciprocal rank of the first relevant item (0 when none is ranked)."""
    r = ranked.shape[1] if k is None else k
    hits, _ = _hits(ranked, relevant, r)
    first = np.argmax(hits, axis=1)
    return float(np.mean(np.where(hits.any(1), 1.0 / (first + 1), 0.0)))
