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
    dev = edge_index.device if hasattr(edge_index, "device") else None
    if edge_attr is MISSING or edge_attr is None:
        # no values to carry: sorting the keys themselves is several times cheaper than an
        # argsort, and the edges are read back from the sorted keys
        skey = key if is_sorted else np.sort(key)
        first = np.ones(skey.shape[0], dtype=bool)
        first[1:] = skey[1:] != skey[:-1]
        ukey = skey if first.all() else skey[first]
        a, b = ukey // max(n, 1), ukey % max(n, 1)
        out_ei = to_tensor(np.stack([a, b] if sort_by_row else [b, a]), dev)
        return out_ei if edge_attr is MISSING else (out_ei, None)
    # order among equal keys does not matter: duplicates are reduced together
    perm = None if is_sorted else np.argsort(key)
    if perm is not None:
        key = key[perm]
    first = np.ones(key.shape[0], dtype=bool)
    first[1:] = key[1:] != key[:-1]
    if first.all():
        out_ei = to_tensor(ei if perm is None else ei[:, perm], dev)
        return out_ei, (edge_attr if perm is None else _take(edge_attr, perm))
    ukey = key[first]
    a, b = ukey // n, ukey % n
    out_ei = to_tensor(np.stack([a, b] if sort_by_row else [b, a]), dev)
    starts = np.flatnonzero(first)
    fast = _reduce_sorted(edge_attr, perm, starts, reduce)
    if fast is not None:
        return out_ei, fast
    group = np.cumsum(first) - 1
    if perm is None:
        inverse = group
    else:
        inverse = np.empty_like(group)
        inverse[perm] = group
    return out_ei, reduce_rows(edge_attr, inverse, int(ukey.size), reduce, "coalesce")


_UFUNC = {"sum": np.add, "add": np.add, "max": np.maximum, "min": np.minimum, "mul": np.multiply}


def _reduce_sorted(value, perm, starts: np.ndarray, reduce: str):
    """Reduce contiguous runs of the sorted values with NumPy's ``reduceat`` when no
    gradient is needed (None otherwise: the differentiable path handles it)."""
    if isinstance(value, (list, tuple)):
        outs = [_reduce_sorted(v, perm, starts, reduce) for v in value]
        return None if any(o is None for o in outs) else outs
    if value.requires_grad or value.device.type != "cpu" or value.numel() == 0:
        return None
    if reduce not in _UFUNC and reduce != "mean":
        return None
    v = value.numpy()
    v = v if perm is None else v[perm]
    if reduce == "mean":
        out = np.add.reduceat(v, starts, axis=0)
        cnt = np.diff(np.append(starts, v.shape[0])).reshape(-1, *([1] * (v.ndim - 1)))
        out = (out / cnt).astype(v.dtype, copy=False)
    else:
        out = _UFUNC[reduce].reduceat(v, starts, axis=0)
    return to_tensor(out)


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
    key = _edge_key(ei, n, sort_by_row)
    dev = getattr(edge_index, "device", None)
    if edge_attr is MISSING or edge_attr is None:
        skey = np.sort(key)
        a, b = skey // max(n, 1), skey % max(n, 1)
        out = to_tensor(np.stack([a, b] if sort_by_row else [b, a]), dev)
        return out if edge_attr is MISSING else (out, None)
    perm = np.argsort(key, kind="stable")
    return to_tensor(ei[:, perm], dev), _take(edge_attr, perm)
