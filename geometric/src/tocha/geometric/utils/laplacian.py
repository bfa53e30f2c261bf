"""``get_laplacian``: the graph Laplacian as an edge list (differentiable in the weights)."""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from ._arrays import maybe_num_nodes, to_np, to_tensor


def get_laplacian(
    edge_index,
    edge_weight=None,
    normalization: str | None = None,
    dtype=None,
    num_nodes: int | None = None,
):
    """Laplacian of the graph as ``(edge_index, edge_weight)``; self-loops of the input are
    dropped and the diagonal entries are appended after the off-diagonal ones.

    ``normalization``: ``None`` (``L = D - A``), ``'sym'`` (``I - D^-1/2 A D^-1/2``) or
    ``'rw'`` (``I - D^-1 A``), degrees taken over ``edge_index[0]``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import get_laplacian
        >>> ei, w = get_laplacian(torch.tensor([[0, 1], [1, 0]]))
        >>> ei.tolist(), w.tolist()
        ([[0, 1, 0, 1], [1, 0, 0, 1]], [-1.0, -1.0, 1.0, 1.0])
    """
    if normalization not in (None, "sym", "rw"):
        raise ValueError(
            f"get_laplacian: normalization must be None, 'sym' or 'rw', got {normalization!r}"
        )
    ei = to_np(edge_index)
    n = maybe_num_nodes(ei, num_nodes)
    keep = ei[0] != ei[1]
    dev = getattr(edge_index, "device", None)
    ei = ei[:, keep]
    if edge_weight is None:
        w = torch.ones(ei.shape[1], dtype=dtype or torch.float32)
        if dev is not None:
            w = w.to(dev)
    else:
        w = edge_weight
        if not keep.all():
            w = w.index_select(0, to_tensor(np.flatnonzero(keep), w.device))
        if dtype is not None:
            w = w.to(dtype)
    row = to_tensor(ei[0], w.device)
    col = to_tensor(ei[1], w.device)
    deg = w.new_zeros(n).index_add(0, row, w)
    loops = np.arange(n, dtype=np.int64)
    out_ei = to_tensor(np.concatenate([ei, np.stack([loops, loops])], axis=1), dev)
    if normalization is None:
        return out_ei, torch.cat([-w, deg], 0)
    if normalization == "sym":
        dis = deg.pow(-0.5)
        dis = dis.masked_fill(torch.isinf(dis), 0.0)
        w = dis.index_select(0, row) * w * dis.index_select(0, col)
    else:
        dinv = 1.0 / deg
        dinv = dinv.masked_fill(torch.isinf(dinv), 0.0)
        w = dinv.index_select(0, row) * w
    return out_ei, torch.cat([-w, w.new_ones(n)], 0)
