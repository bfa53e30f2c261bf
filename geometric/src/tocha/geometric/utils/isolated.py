"""``remove_isolated_nodes`` and ``contains_isolated_nodes``."""

from __future__ import annotations

import numpy as np

from ._arrays import maybe_num_nodes, to_np, to_tensor


def contains_isolated_nodes(edge_index, num_nodes: int | None = None) -> bool:
    """Whether some node has no edge other than self-loops.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import contains_isolated_nodes
        >>> contains_isolated_nodes(torch.tensor([[0, 1], [1, 0]]), num_nodes=3)
        True
    """
    ei = to_np(edge_index)
    n = maybe_num_nodes(ei, num_nodes)
    ei = ei[:, ei[0] != ei[1]]
    seen = np.zeros(n, dtype=bool)
    seen[ei.reshape(-1)] = True
    return not bool(seen.all())


def remove_isolated_nodes(edge_index, edge_attr=None, num_nodes: int | None = None):
    """Drop the nodes without edges (self-loops do not count) and relabel the rest; returns
    ``(edge_index, edge_attr, node_mask)``, the kept self-loops moved to the end, as in PyG.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import remove_isolated_nodes
        >>> ei, _, mask = remove_isolated_nodes(torch.tensor([[0, 2, 2], [2, 0, 2]]))
        >>> ei.tolist(), mask.tolist()
        ([[0, 1, 1], [1, 0, 1]], [True, False, True])
    """
    ei = to_np(edge_index)
    n = maybe_num_nodes(ei, num_nodes)
    is_loop = ei[0] == ei[1]
    non_loop, loop = np.flatnonzero(~is_loop), np.flatnonzero(is_loop)
    mask = np.zeros(n, dtype=bool)
    mask[ei[:, non_loop].reshape(-1)] = True
    assoc = np.full(n, -1, dtype=np.int64)
    assoc[mask] = np.arange(int(mask.sum()))
    # one loop per kept node: the last one listed, as PyG's assignment keeps
    loop_of = np.full(n, -1, dtype=np.int64)
    loop_of[ei[0, loop]] = np.arange(loop.size)
    has_loop = np.zeros(n, dtype=bool)
    has_loop[ei[0, loop]] = True
    keep_loops = loop[loop_of[has_loop & mask]]
    sel = np.concatenate([non_loop, keep_loops])
    dev = getattr(edge_index, "device", None)
    out = to_tensor(assoc[ei[:, sel]], dev)
    attr = None
    if edge_attr is not None:
        attr = edge_attr.index_select(0, to_tensor(sel, edge_attr.device))
    return out, attr, to_tensor(mask, dev)
