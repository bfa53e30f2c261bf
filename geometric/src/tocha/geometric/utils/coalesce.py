"""``coalesce`` and ``sort_edge_index``: sorted, duplicate-free edge lists."""

from __future__ import annotations

import numpy as np

from ._arrays import maybe_num_nodes, to_np, to_tensor
from ._reduce import reduce_rows

MISSING = "???"  # PyG's sentinel: "edge_attr not passed", so only edge_index is returned


def _edge_key(ei: np.ndarray, n: int, sort_by_row: bool) -> np.ndarray:
    return ei[0] * n + ei[1] if sort_by_row else ei[1] * n + ei[0]


def _take(value, perm: np.ndarray):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [_take(v, perm) for v in value]
    return value.index_select(0, to_tensor(perm, value.device))


def coalesce(
    edge_index,
    edge_attr=MISSING,
    num_nodes: int | None = None,
    reduce: str = "sum",
    is_sorted: bool = False,
    sort_by_row: bool = True,
):
    """Sort ``edge_index`` (by row, then column) and merge duplicate edges, reducing their
    ``edge_attr`` with ``reduce`` ('sum', 'mean', 'min', 'max', 'mul').

    Returns ``edge_index`` alone when ``edge_attr`` is not passed, else
    ``(edge_index, edge_attr)``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import coalesce
        >>> ei = torch.tensor([[1, 0, 1, 0], [0, 1, 0, 1]])
        >>> coalesce(ei).tolist()
        [[0, 1], [1, 0]]
        >>> _, w = coalesce(ei, torch.tensor([1.0, 2.0, 3.0, 4.0]))
        >>> w.tolist()
        [6.0, 4.0]
    """
    ei = to_np(edge_index)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"coalesce: edge_index must have shape [2, E], got {list(ei.shape)}")
    n = maybe_num_nodes(ei, num_nodes)
    key = _edge_key(ei, n, sort_by_row)
    if is_sorted:
        perm = None
    else:
        perm = np.argsort(key, kind="stable")
        key = key[perm]
    first = np.ones(key.shape[0], dtype=bool)
    first[1:] = key[1:] != key[:-1]
    dev = edge_index.device if hasattr(edge_index, "device") else None
    if first.all():
        out_ei = to_tensor(ei if perm is None else ei[:, perm], dev)
        if edge_attr is MISSING:
            return out_ei
        return out_ei, (edge_attr if perm is None else _take(edge_attr, perm))
    sel = ei[:, perm] if perm is not None else ei
    out_ei = to_tensor(sel[:, first], dev)
    if edge_attr is MISSING:
        return out_ei
    if edge_attr is None:
        return out_ei, None
    group = np.cumsum(first) - 1
    inverse = np.empty_like(group)
    if perm is None:
        inverse = group
    else:
        inverse[perm] = group
    return out_ei, reduce_rows(edge_attr, inverse, int(first.sum()), reduce, "coalesce")


def sort_edge_index(
    edge_index, edge_attr=MISSING, num_nodes: int | None = None, sort_by_row: bool = True
):
    """Sort edges by row (then column), or by column first if ``sort_by_row=False``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import sort_edge_index
        >>> sort_edge_index(torch.tensor([[2, 1, 1], [0, 2, 0]])).tolist()
        [[1, 1, 2], [0, 2, 0]]
    """
    ei = to_np(edge_index)
    n = maybe_num_nodes(ei, num_nodes)
    perm = np.argsort(_edge_key(ei, n, sort_by_row), kind="stable")
    out = to_tensor(ei[:, perm], getattr(edge_index, "device", None))
    if edge_attr is MISSING:
        return out
    return out, _take(edge_attr, perm)
