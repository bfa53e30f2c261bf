"""Reducing the values of duplicate edges, with gradients (shared by coalesce & friends)."""

from __future__ import annotations

import numpy as np

from ._arrays import to_tensor

_REDUCE = {"sum": "sum", "add": "sum", "mean": "mean", "max": "amax", "min": "amin", "mul": "prod"}


def reduce_rows(value, inverse: np.ndarray, size: int, reduce: str, fn: str):
    """Rows of ``value`` grouped by ``inverse`` into ``size`` groups and reduced."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [reduce_rows(v, inverse, size, reduce, fn) for v in value]
    if reduce not in _REDUCE:
        raise ValueError(f"{fn}: reduce must be one of {sorted(_REDUCE)}, got {reduce!r}")
    idx = to_tensor(inverse, value.device)
    out = value.new_zeros((size, *value.shape[1:]))
    op = _REDUCE[reduce]
    if op == "sum":
        return out.index_add(0, idx, value)
    if op == "mean":
        s = out.index_add(0, idx, value)
        cnt = np.bincount(inverse, minlength=size).astype(np.float64)
        cnt = to_tensor(cnt, value.device).to(s.dtype)
        return s / cnt.view(-1, *([1] * (value.dim() - 1)))
    return out.index_reduce(0, idx, value, op, include_self=False)
