"""``dropout_edge``: randomly drop edges (tocha's global generator, so torch.manual_seed
makes it reproducible)."""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from ._arrays import to_np, to_tensor


def dropout_edge(edge_index, p: float = 0.5, force_undirected: bool = False, training: bool = True):
    """Drop every edge with probability ``p``; returns ``(edge_index, edge_mask)``.

    With ``force_undirected=True`` an edge and its reverse are dropped together and the second
    output holds the kept edges' indices instead of a mask.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import dropout_edge
        >>> ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> out, mask = dropout_edge(ei, p=0.0)
        >>> out.tolist() == ei.tolist(), mask.tolist()
        (True, [True, True, True, True])
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_edge: dropout probability has to be between 0 and 1 (got {p})")
    ei = to_np(edge_index)
    dev = getattr(edge_index, "device", None)
    e = ei.shape[1]
    if not training or p == 0.0:
        return edge_index, to_tensor(np.ones(e, dtype=bool), dev)
    keep = to_np(torch.rand(e)) >= p
    if force_undirected:
        keep &= ei[0] <= ei[1]
        kept = np.flatnonzero(keep)
        out = ei[:, kept]
        out = np.concatenate([out, out[::-1]], axis=1)
        return to_tensor(out, dev), to_tensor(np.concatenate([kept, kept]), dev)
    return to_tensor(ei[:, keep], dev), to_tensor(keep, dev)
