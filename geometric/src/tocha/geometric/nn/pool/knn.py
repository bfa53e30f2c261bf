"""k-nearest-neighbour and radius graphs (torch_geometric.nn.pool.knn_graph / radius_graph),
computed with scipy's cKDTree per graph of the batch."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

import tocha.core as torch
from tocha.core import Tensor

from ..conv.edge_conv import knn

__all__ = ["knn", "knn_graph", "radius", "radius_graph"]


def _prep(x: Tensor, cosine: bool = False) -> np.ndarray:
    a = x.detach().cpu().numpy().reshape(x.shape[0], -1).astype(np.float64)
    if cosine:
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    return a


def _edges(row, col, flow: str, loop: bool, device) -> Tensor:
    if flow not in ("source_to_target", "target_to_source"):
        raise ValueError(f"expected flow 'source_to_target' or 'target_to_source', got '{flow}'")
    # row: query (center) node, col: its neighbour
    if flow == "source_to_target":
        row, col = col, row
    if not loop:
        keep = row != col
        row, col = row[keep], col[keep]
    return torch.from_numpy(np.stack([row, col]).astype(np.int64)).to(device)


def knn_graph(
    x: Tensor,
    k: int,
    batch: Tensor | None = None,
    loop: bool = False,
    flow: str = "source_to_target",
    cosine: bool = False,
    num_workers: int = 1,
) -> Tensor:
    """Edges from each node's ``k`` nearest neighbours (same graph of ``batch``) to it.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import knn_graph
        >>> knn_graph(torch.tensor([[0.0], [1.0], [3.0]]), k=1)
        tensor([[1, 0, 1],
                [0, 1, 2]])
    """
    if cosine:
        x = torch.from_numpy(_prep(x, True))
    e = knn(x, x, k if loop else k + 1, batch, batch).cpu().numpy()
    return _edges(e[0], e[1], flow, loop, x.device)


def radius(
    x: Tensor,
    y: Tensor,
    r: float,
    batch_x: Tensor | None = None,
    batch_y: Tensor | None = None,
    max_num_neighbors: int = 32,
    num_workers: int = 1,
) -> Tensor:
    """For each row of ``y``, the rows of ``x`` within distance ``r`` (at most
    ``max_num_neighbors``, the nearest first); ``(2, M)`` of ``[y index, x index]``."""
    xa, ya = _prep(x), _prep(y)
    bx = batch_x.cpu().numpy() if batch_x is not None else np.zeros(len(xa), np.int64)
    by = batch_y.cpu().numpy() if batch_y is not None else np.zeros(len(ya), np.int64)
    rows, cols = [], []
    for g in np.unique(by):
        xi, yi = np.flatnonzero(bx == g), np.flatnonzero(by == g)
        if not xi.size:
            continue
        kk = min(max_num_neighbors, xi.size)
        d, nn = cKDTree(xa[xi]).query(ya[yi], k=kk, distance_upper_bound=r * (1 + 1e-12))
        d, nn = d.reshape(len(yi), kk), nn.reshape(len(yi), kk)
        ok = np.isfinite(d) & (d <= r)
        rows.append(np.repeat(yi, kk)[ok.reshape(-1)])
        cols.append(xi[nn[ok]])
    if not rows:
        return torch.zeros(2, 0, dtype=torch.long, device=x.device)
    out = np.stack([np.concatenate(rows), np.concatenate(cols)]).astype(np.int64)
    return torch.from_numpy(out).to(x.device)


def radius_graph(
    x: Tensor,
    r: float,
    batch: Tensor | None = None,
    loop: bool = False,
    max_num_neighbors: int = 32,
    flow: str = "source_to_target",
    num_workers: int = 1,
) -> Tensor:
    """Edges between nodes closer than ``r`` (same graph of ``batch``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import radius_graph
        >>> radius_graph(torch.tensor([[0.0], [1.0], [3.0]]), r=1.5)
        tensor([[1, 0],
                [0, 1]])
    """
    e = radius(x, x, r, batch, batch, max_num_neighbors + (0 if loop else 1)).cpu().numpy()
    return _edges(e[0], e[1], flow, loop, x.device)
