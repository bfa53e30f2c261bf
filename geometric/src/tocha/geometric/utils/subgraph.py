"""``subgraph``, ``bipartite_subgraph`` and ``k_hop_subgraph``."""

from __future__ import annotations

import numpy as np

from ._arrays import maybe_num_nodes, to_np, to_tensor


def _node_ids(subset, n: int, fn: str) -> tuple[np.ndarray, np.ndarray]:
    """(sorted-or-given node ids, bool mask over ``n`` nodes)."""
    s = to_np(subset)
    if s.dtype == np.bool_:
        if s.shape[0] != n:
            raise ValueError(f"{fn}: mask has {s.shape[0]} entries but there are {n} nodes")
        return np.flatnonzero(s), s
    s = s.astype(np.int64).reshape(-1)
    if s.size and (s.max() >= n or s.min() < 0):
        raise IndexError(f"{fn}: subset refers to node {int(s.max())} but there are {n} nodes")
    mask = np.zeros(n, dtype=bool)
    mask[s] = True
    return s, mask


def _select_attr(edge_attr, idx: np.ndarray):
    if edge_attr is None:
        return None
    return edge_attr.index_select(0, to_tensor(idx, edge_attr.device))


def subgraph(
    subset,
    edge_index,
    edge_attr=None,
    relabel_nodes: bool = False,
    num_nodes: int | None = None,
    *,
    return_edge_mask: bool = False,
):
    """The edges whose both ends are in ``subset`` (indices or bool mask).

    Returns ``(edge_index, edge_attr)`` (plus ``edge_mask`` if asked); with
    ``relabel_nodes=True`` node ids become positions in ``subset``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import subgraph
        >>> ei = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
        >>> sub, _ = subgraph(torch.tensor([1, 2, 3]), ei, relabel_nodes=True)
        >>> sub.tolist()
        [[0, 1], [1, 2]]
    """
    ei = to_np(edge_index)
    if num_nodes is None:
        s = to_np(subset)
        num_nodes = s.shape[0] if s.dtype == np.bool_ else maybe_num_nodes(ei)
        if s.dtype != np.bool_ and s.size:
            num_nodes = max(num_nodes, int(s.max()) + 1)
    ids, mask = _node_ids(subset, num_nodes, "subgraph")
    edge_mask = mask[ei[0]] & mask[ei[1]]
    e_idx = np.flatnonzero(edge_mask)
    out = ei[:, e_idx]
    if relabel_nodes:
        mapping = np.full(num_nodes, -1, dtype=np.int64)
        mapping[ids] = np.arange(ids.size)
        out = mapping[out]
    dev = getattr(edge_index, "device", None)
    res = (to_tensor(out, dev), _select_attr(edge_attr, e_idx))
    return (*res, to_tensor(edge_mask, dev)) if return_edge_mask else res


def bipartite_subgraph(
    subset,
    edge_index,
    edge_attr=None,
    relabel_nodes: bool = False,
    size: tuple[int, int] | None = None,
    return_edge_mask: bool = False,
):
    """Like :func:`subgraph` for a bipartite graph: ``subset = (src_subset, dst_subset)``."""
    ei = to_np(edge_index)
    if size is None:
        size = (int(ei[0].max()) + 1 if ei.size else 0, int(ei[1].max()) + 1 if ei.size else 0)
    src, src_mask = _node_ids(subset[0], size[0], "bipartite_subgraph")
    dst, dst_mask = _node_ids(subset[1], size[1], "bipartite_subgraph")
    edge_mask = src_mask[ei[0]] & dst_mask[ei[1]]
    e_idx = np.flatnonzero(edge_mask)
    out = ei[:, e_idx]
    if relabel_nodes:
        m0 = np.full(size[0], -1, dtype=np.int64)
        m0[src] = np.arange(src.size)
        m1 = np.full(size[1], -1, dtype=np.int64)
        m1[dst] = np.arange(dst.size)
        out = np.stack([m0[out[0]], m1[out[1]]])
    dev = getattr(edge_index, "device", None)
    res = (to_tensor(out, dev), _select_attr(edge_attr, e_idx))
    return (*res, to_tensor(edge_mask, dev)) if return_edge_mask else res


def k_hop_subgraph(
    node_idx,
    num_hops: int,
    edge_index,
    relabel_nodes: bool = False,
    num_nodes: int | None = None,
    flow: str = "source_to_target",
    directed: bool = False,
):
    """The nodes within ``num_hops`` hops of ``node_idx`` and the edges among them.

    With ``flow='source_to_target'`` (the default) a hop follows edges backwards from their
    target, i.e. it collects the nodes that send messages to the seeds. Returns
    ``(subset, edge_index, mapping, edge_mask)``; ``mapping`` gives the seeds' positions in
    ``subset``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import k_hop_subgraph
        >>> ei = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
        >>> subset, sub_ei, mapping, _ = k_hop_subgraph(3, 2, ei, relabel_nodes=True)
        >>> subset.tolist(), sub_ei.tolist(), mapping.tolist()
        ([1, 2, 3], [[0, 1], [1, 2]], [2])
    """
    if flow not in ("source_to_target", "target_to_source"):
        raise ValueError(
            f"k_hop_subgraph: flow must be 'source_to_target' or 'target_to_source', got {flow!r}"
        )
    ei = to_np(edge_index)
    n = maybe_num_nodes(ei, num_nodes)
    row, col = (ei[0], ei[1]) if flow == "target_to_source" else (ei[1], ei[0])
    seeds = np.atleast_1d(to_np(node_idx).astype(np.int64))
    node_mask = np.zeros(n, dtype=bool)
    node_mask[seeds] = True
    subsets = [seeds]
    frontier_mask = node_mask.copy()
    edge_mask = np.zeros(ei.shape[1], dtype=bool)
    for _ in range(num_hops):
        hop_edges = frontier_mask[row]  # edges whose 'row' end is in the current frontier
        edge_mask |= hop_edges
        new = col[hop_edges]
        subsets.append(new)
        frontier_mask = np.zeros(n, dtype=bool)
        frontier_mask[new] = True
        node_mask[new] = True
    subset, inv = np.unique(np.concatenate(subsets), return_inverse=True)
    mapping = inv[: seeds.size]
    node_mask = np.zeros(n, dtype=bool)
    node_mask[subset] = True
    if not directed:
        edge_mask = node_mask[ei[0]] & node_mask[ei[1]]
    out = ei[:, edge_mask]
    if relabel_nodes:
        m = np.full(n, -1, dtype=np.int64)
        m[subset] = np.arange(subset.size)
        out = m[out]
    dev = getattr(edge_index, "device", None)
    return (
        to_tensor(subset, dev),
        to_tensor(out, dev),
        to_tensor(mapping, dev),
        to_tensor(edge_mask, dev),
    )
