"""Splitting batched tensors back per graph: ``unbatch``, ``unbatch_edge_index``; and
``cumsum`` (with a leading zero), ``dense_to_sparse``."""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from ._arrays import to_np, to_tensor


def cumsum(x, dim: int = 0):
    """Cumulative sum with a zero prepended along ``dim`` (``ptr`` from sizes).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import cumsum
        >>> cumsum(torch.tensor([2, 3, 1])).tolist()
        [0, 2, 5, 6]
    """
    shape = list(x.shape)
    shape[dim] = 1
    return torch.cat([x.new_zeros(shape), torch.cumsum(x, dim)], dim)


def unbatch(src, batch, dim: int = 0, batch_size: int | None = None) -> list:
    """Split ``src`` along ``dim`` into one tensor per graph (``batch`` must be sorted).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import unbatch
        >>> [t.tolist() for t in unbatch(torch.arange(5), torch.tensor([0, 0, 1, 2, 2]))]
        [[0, 1], [2], [3, 4]]
    """
    b = to_np(batch)
    g = (int(b.max()) + 1 if b.size else 0) if batch_size is None else int(batch_size)
    sizes = np.bincount(b, minlength=g).tolist()
    return list(torch.split(src, sizes, dim))


def unbatch_edge_index(edge_index, batch, batch_size: int | None = None) -> list:
    """Split a batched ``edge_index`` into per-graph edge indices with local node ids.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import unbatch_edge_index
        >>> ei = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
        >>> [e.tolist() for e in unbatch_edge_index(ei, torch.tensor([0, 0, 1, 1]))]
        [[[0, 1], [1, 0]], [[0, 1], [1, 0]]]
    """
    b = to_np(batch)
    ei = to_np(edge_index)
    g = (int(b.max()) + 1 if b.size else 0) if batch_size is None else int(batch_size)
    ptr = np.concatenate([[0], np.cumsum(np.bincount(b, minlength=g))])
    eb = b[ei[0]]
    order = np.argsort(eb, kind="stable")
    counts = np.bincount(eb, minlength=g)
    local = ei[:, order] - ptr[eb[order]]
    dev = getattr(edge_index, "device", None)
    return [to_tensor(p, dev) for p in np.split(local, np.cumsum(counts)[:-1], axis=1)]


def dense_to_sparse(adj, mask=None):
    """``(edge_index, edge_attr)`` of the non-zero entries of a dense ``[N, N]`` or batched
    ``[B, N, N]`` adjacency (graph ``b``'s nodes numbered from ``b * N``, or packed by the
    node ``mask`` as ``to_dense_batch`` makes it); differentiable in the values.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import dense_to_sparse
        >>> ei, w = dense_to_sparse(torch.tensor([[0.0, 2.0], [3.0, 0.0]]))
        >>> ei.tolist(), w.tolist()
        ([[0, 1], [1, 0]], [2.0, 3.0])
    """
    if adj.dim() not in (2, 3):
        raise ValueError(
            f"dense_to_sparse: adj must be 2- or 3-dimensional, got {adj.dim()} dimensions"
        )
    a = adj if adj.dim() == 3 else adj.unsqueeze(0)
    dev = adj.device
    if mask is not None:
        m = to_np(mask).astype(bool)
        if m.ndim == 1:
            m = m[None]
        # as PyG: rows of masked-out nodes are dropped and the rest numbered compactly,
        # columns are offset but not compacted (masks from to_dense_batch are prefixes, where
        # the two agree)
        dense = to_np(a.detach())
        b, r, c = np.nonzero((dense != 0) & m[:, :, None])
        offs = np.concatenate([[0], np.cumsum(m.sum(1))])[:-1]
        pos = np.cumsum(m, 1) - 1
        row, col = offs[b] + pos[b, r], offs[b] + c
    else:
        b, r, c = np.nonzero(to_np(a.detach()) != 0)
        n = a.shape[-1]
        row, col = b * n + r, b * n + c
    flat = (b * a.shape[1] + r) * a.shape[2] + c
    vals = a.reshape(-1).index_select(0, to_tensor(flat, dev))
    return to_tensor(np.stack([row, col]), dev), vals
