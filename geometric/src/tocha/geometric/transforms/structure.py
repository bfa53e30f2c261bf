"""Structure transforms: ``ToUndirected``, ``AddSelfLoops``, ``GCNNorm``, ``KNNGraph``."""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from ..data import HeteroData
from ..utils import add_remaining_self_loops, add_self_loops, to_undirected
from ..utils._arrays import to_np, to_tensor
from .base_transform import BaseTransform


def _edge_keys(data) -> list[str]:
    return [k for k in data.keys() if k != "edge_index" and data.is_edge_attr(k)]  # noqa: SIM118


class ToUndirected(BaseTransform):
    """Make the graph undirected: add reverse edges and merge duplicates, reducing edge
    attributes with ``reduce`` ('add', 'mean', 'min', 'max', 'mul').

    On ``HeteroData``, an edge type between two different node types gets a reverse type
    ``(dst, 'rev_<rel>', src)``; one within a node type is made undirected in place
    (``merge=True``) or also gets a reverse type (``merge=False``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.transforms import ToUndirected
        >>> d = ToUndirected()(Data(edge_index=torch.tensor([[0, 1], [1, 2]]), num_nodes=3))
        >>> d.edge_index.tolist()
        [[0, 1, 1, 2], [1, 0, 2, 1]]
    """

    def __init__(self, reduce: str = "add", merge: bool = True):
        self.reduce = reduce
        self.merge = merge

    def forward(self, data):
        if isinstance(data, HeteroData):
            return self._hetero(data)
        if "edge_index" not in data:
            return data
        keys = _edge_keys(data)
        values = [data[k] for k in keys]
        ei, values = to_undirected(data.edge_index, values, data.num_nodes, self.reduce)
        data.edge_index = ei
        for k, v in zip(keys, values, strict=True):
            data[k] = v
        return data

    def _hetero(self, data):
        for (src, rel, dst), store in list(data.edge_items()):
            if "edge_index" not in store:
                continue
            e = store.num_edges
            keys = [k for k, v in store.items() if k != "edge_index" and _rows(v) == e]
            if src == dst and self.merge:
                n = data[src].num_nodes
                ei, vals = to_undirected(store.edge_index, [store[k] for k in keys], n, self.reduce)
                store.edge_index = ei
                for k, v in zip(keys, vals, strict=True):
                    store[k] = v
            else:
                rev = data[dst, f"rev_{rel}", src]
                rev.edge_index = store.edge_index.flip(0)
                for k in keys:
                    rev[k] = store[k]
        return data


def _rows(value) -> int | None:
    shape = getattr(value, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) > 0 else None


class AddSelfLoops(BaseTransform):
    """Append a self-loop to every node; ``attr`` (default ``'edge_weight'``) gets
    ``fill_value`` for the loops when present."""

    def __init__(self, attr: str = "edge_weight", fill_value=None):
        self.attr = attr
        self.fill_value = fill_value

    def forward(self, data):
        ei, w = add_self_loops(
            data.edge_index,
            data.get(self.attr),
            fill_value=self.fill_value,
            num_nodes=data.num_nodes,
        )
        data.edge_index = ei
        if w is not None:
            data[self.attr] = w
        return data


class GCNNorm(BaseTransform):
    """Store GCN's symmetric normalisation ``D^-1/2 (A + I) D^-1/2`` as ``edge_weight``
    (degrees over targets, as ``GCNConv`` computes them), so ``GCNConv(normalize=False)`` can
    skip it.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.transforms import GCNNorm
        >>> d = GCNNorm()(Data(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=2))
        >>> [round(w, 4) for w in d.edge_weight.tolist()]
        [0.5, 0.5, 0.5, 0.5]
    """

    def __init__(self, add_self_loops: bool = True):
        self.add_self_loops = add_self_loops

    def forward(self, data):
        n = data.num_nodes
        ei = data.edge_index
        w = data.edge_weight if "edge_weight" in data else None
        if w is None:
            w = torch.ones(ei.shape[1], device=ei.device)
        if self.add_self_loops:
            ei, w = add_remaining_self_loops(ei, w, 1.0, n)
        row, col = ei[0], ei[1]
        deg = w.new_zeros(n).index_add(0, col, w)
        dis = deg.pow(-0.5)
        dis = dis.masked_fill(torch.isinf(dis), 0.0)
        data.edge_index = ei
        data.edge_weight = dis.index_select(0, row) * w * dis.index_select(0, col)
        return data


def knn_edges(pos: np.ndarray, batch: np.ndarray, k: int, loop: bool, cosine: bool):
    """(neighbour, centre) pairs: each node's ``k`` nearest nodes of the same graph, nearest
    first, centres in node order."""
    from scipy.spatial import cKDTree

    p = pos.astype(np.float64)
    if cosine:
        p = p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)
    n = p.shape[0]
    if batch is not None and batch.size and batch.max() > 0:
        # one tree for all graphs: graphs are pushed far apart along an extra axis
        span = float(np.ptp(p, axis=0).max()) if n else 0.0
        far = (span + 1.0) * 4.0 * np.sqrt(p.shape[1] + 1)
        p = np.concatenate([p, batch[:, None].astype(np.float64) * far], axis=1)
    kk = min(k + (0 if loop else 1), n)
    if kk == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, nb = cKDTree(p).query(p, k=kk)
    nb = nb.reshape(n, kk)
    centre = np.repeat(np.arange(n), kk)
    nb = nb.reshape(-1)
    keep = nb < n
    if not loop:
        keep &= nb != centre
    if batch is not None:
        keep &= batch[np.minimum(nb, n - 1)] == batch[centre]
    nb, centre = nb[keep], centre[keep]
    if not loop:
        # drop the extra neighbour of nodes whose own point did not come back first (ties)
        first = np.concatenate([[0], np.flatnonzero(np.diff(centre)) + 1])
        rank = np.arange(centre.size) - np.repeat(first, np.diff(np.append(first, centre.size)))
        nb, centre = nb[rank < k], centre[rank < k]
    return nb.astype(np.int64), centre.astype(np.int64)


class KNNGraph(BaseTransform):
    """Connect every node to its ``k`` nearest neighbours in ``pos`` (within its graph when
    ``batch`` is set), with messages flowing from the neighbours to the node
    (``flow='source_to_target'``). Neighbours come from scipy's ``cKDTree``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.transforms import KNNGraph
        >>> pos = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
        >>> KNNGraph(k=1)(Data(pos=pos)).edge_index.tolist()
        [[1, 0, 1, 2], [0, 1, 2, 3]]
    """

    def __init__(
        self,
        k: int = 6,
        loop: bool = False,
        force_undirected: bool = False,
        flow: str = "source_to_target",
        cosine: bool = False,
        num_workers: int = 1,
    ):
        if flow not in ("source_to_target", "target_to_source"):
            raise ValueError(
                f"KNNGraph: flow must be 'source_to_target' or 'target_to_source', got {flow!r}"
            )
        self.k, self.loop, self.force_undirected = k, loop, force_undirected
        self.flow, self.cosine = flow, cosine

    def forward(self, data):
        if data.pos is None:
            raise ValueError("KNNGraph: data has no 'pos' attribute")
        data.edge_attr = None
        batch = to_np(data.batch) if "batch" in data else None
        nb, centre = knn_edges(to_np(data.pos), batch, self.k, self.loop, self.cosine)
        ei = np.stack([nb, centre]) if self.flow == "source_to_target" else np.stack([centre, nb])
        edge_index = to_tensor(ei, data.pos.device)
        if self.force_undirected:
            edge_index = to_undirected(edge_index, num_nodes=data.num_nodes)
        data.edge_index = edge_index
        return data

    def __repr__(self) -> str:
        return f"KNNGraph(k={self.k})"
