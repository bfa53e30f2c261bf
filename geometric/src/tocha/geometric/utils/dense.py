"""``to_dense_adj`` and ``to_dense_batch`` (differentiable in the values)."""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from ._arrays import to_np, to_tensor


def _graph_layout(batch, n: int, batch_size: int | None):
    """(graph id per node, node offsets, graph sizes, number of graphs)."""
    b = np.zeros(n, dtype=np.int64) if batch is None else to_np(batch).astype(np.int64)
    g = (int(b.max()) + 1 if b.size else 1) if batch_size is None else int(batch_size)
    sizes = np.bincount(b, minlength=g)[:g]
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    return b, ptr, sizes, g


def to_dense_adj(
    edge_index,
    batch=None,
    edge_attr=None,
    max_num_nodes: int | None = None,
    batch_size: int | None = None,
) -> torch.Tensor:
    """A batch of dense adjacency matrices ``[B, N, N]`` (or ``[B, N, N, F]`` with
    multi-dimensional ``edge_attr``); duplicate edges add up.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import to_dense_adj
        >>> to_dense_adj(torch.tensor([[0, 0, 1], [1, 1, 2]])).tolist()
        [[[0.0, 2.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]]
    """
    ei = to_np(edge_index).astype(np.int64)
    n_nodes = int(ei.max()) + 1 if ei.size else 0
    if batch is not None:
        n_nodes = max(n_nodes, int(to_np(batch).shape[0]))
    b, ptr, sizes, g = _graph_layout(batch, n_nodes, batch_size)
    n = int(sizes.max()) if max_num_nodes is None and sizes.size else int(max_num_nodes or 0)
    eb = b[ei[0]]
    r, c = ei[0] - ptr[eb], ei[1] - ptr[eb]
    keep = (r < n) & (c < n)
    flat = (eb * n + r) * n + c
    dev = getattr(edge_index, "device", None)
    if edge_attr is None:
        w = np.bincount(flat[keep], minlength=g * n * n).astype(np.float32)
        return to_tensor(w.reshape(g, n, n), dev)
    idx = np.flatnonzero(keep)
    vals = edge_attr if keep.all() else edge_attr.index_select(0, to_tensor(idx, dev))
    out = edge_attr.new_zeros((g * n * n, *edge_attr.shape[1:]))
    out = out.index_add(0, to_tensor(flat[idx], dev), vals)
    return out.view(g, n, n, *edge_attr.shape[1:])


def to_dense_batch(
    x,
    batch=None,
    fill_value: float = 0.0,
    max_num_nodes: int | None = None,
    batch_size: int | None = None,
):
    """Pad node features of a batch of graphs to ``[B, N_max, F]``; also returns the
    ``[B, N_max]`` mask of real nodes. ``batch`` must be sorted, as Batch produces it.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import to_dense_batch
        >>> x = torch.arange(3.0).view(3, 1)
        >>> out, mask = to_dense_batch(x, torch.tensor([0, 0, 1]))
        >>> out.view(2, 2).tolist(), mask.tolist()
        ([[0.0, 1.0], [2.0, 0.0]], [[True, True], [True, False]])
    """
    num = x.shape[0]
    b, ptr, sizes, g = _graph_layout(batch, num, batch_size)
    n = int(sizes.max()) if max_num_nodes is None and sizes.size else int(max_num_nodes or 0)
    pos = np.arange(num) - ptr[b]
    keep = pos < n
    # every dense slot gathers a row of x, or the extra fill row appended at index `num`
    slot = np.full(g * n, num, dtype=np.int64)
    slot[b[keep] * n + pos[keep]] = np.flatnonzero(keep)
    dev = x.device
    fill = x.new_full((1, *x.shape[1:]), fill_value)
    out = torch.cat([x, fill], 0).index_select(0, to_tensor(slot, dev))
    mask = to_tensor((slot < num).reshape(g, n), dev)
    return out.view(g, n, *x.shape[1:]), mask
