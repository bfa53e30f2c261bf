"""``to_undirected`` and ``is_undirected``."""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from ._arrays import maybe_num_nodes, to_np, to_tensor
from .coalesce import MISSING, coalesce


def to_undirected(edge_index, edge_attr=MISSING, num_nodes: int | None = None, reduce: str = "add"):
    """Add the reverse of every edge, then coalesce (duplicates merged with ``reduce``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import to_undirected
        >>> to_undirected(torch.tensor([[0, 1, 1], [1, 0, 2]])).tolist()
        [[0, 1, 1, 2], [1, 0, 2, 1]]
    """
    ei = to_np(edge_index)
    n = maybe_num_nodes(ei, num_nodes)
    both = to_tensor(np.concatenate([ei, ei[::-1]], axis=1), getattr(edge_index, "device", None))
    if edge_attr is MISSING or edge_attr is None:
        attr = edge_attr
    elif isinstance(edge_attr, (list, tuple)):
        attr = [torch.cat([a, a], 0) for a in edge_attr]
    else:
        attr = torch.cat([edge_attr, edge_attr], 0)
    return coalesce(both, attr, n, reduce)


def is_undirected(edge_index, edge_attr=None, num_nodes: int | None = None) -> bool:
    """Whether every edge ``(i, j)`` has a reverse ``(j, i)`` (with equal ``edge_attr``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import is_undirected
        >>> is_undirected(torch.tensor([[0, 1], [1, 0]])), is_undirected(torch.tensor([[0], [1]]))
        (True, False)
    """
    ei = to_np(edge_index)
    n = maybe_num_nodes(ei, num_nodes)
    fkey, bkey = ei[0] * n + ei[1], ei[1] * n + ei[0]
    if edge_attr is None:
        f, b = np.sort(fkey), np.sort(bkey)
        return bool(np.array_equal(_dedup(f), _dedup(b)))
    fp, bp = np.argsort(fkey, kind="stable"), np.argsort(bkey, kind="stable")
    f, b = fkey[fp], bkey[bp]
    fm, bm = _first(f), _first(b)
    if not np.array_equal(f[fm], b[bm]):
        return False
    attrs = edge_attr if isinstance(edge_attr, (list, tuple)) else [edge_attr]
    for a in attrs:
        a = to_np(a)
        if not np.array_equal(a[fp[fm]], a[bp[bm]]):
            return False
    return True


def _first(skey: np.ndarray) -> np.ndarray:
    m = np.ones(skey.shape[0], dtype=bool)
    m[1:] = skey[1:] != skey[:-1]
    return m


def _dedup(skey: np.ndarray) -> np.ndarray:
    m = _first(skey)
    return skey if m.all() else skey[m]
