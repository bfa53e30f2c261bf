"""``ClusterData`` / ``ClusterLoader``: Cluster-GCN mini-batches.

METIS is not available to tocha.geometric, so the graph is partitioned by a balanced,
locality-preserving substitute: nodes are ordered by reverse Cuthill-McKee on the symmetrised
adjacency (a breadth-first ordering that keeps neighbours close) and cut into ``num_parts``
contiguous parts of equal size (sizes differ by at most one). Parts are connected-ish and
balanced, but the edge cut is larger than METIS would give.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee

import tocha.core as torch

from ..data import Data
from ..utils._arrays import to_np, to_tensor
from .neighbor_loader import _check_homogeneous


class Partition:
    """``partptr`` (part boundaries in the permuted order), ``node_perm`` (permuted position ->
    original node) and ``edge_perm`` (permuted CSR position -> original edge)."""

    def __init__(self, indptr, index, partptr, node_perm, edge_perm):
        self.indptr = indptr
        self.index = index
        self.partptr = partptr
        self.node_perm = node_perm
        self.edge_perm = edge_perm


def _gather(data: Data, edge_index: np.ndarray, node_idx: np.ndarray, edge_idx: np.ndarray) -> Data:
    """``data`` with its node attributes taken at ``node_idx`` and its edge attributes at
    ``edge_idx`` (in that order), ``edge_index`` (already in the new node numbering) and an
    explicit ``num_nodes`` set to ``len(node_idx)``: serves both permuting and subgraphs."""
    dev = data.device
    n_t, e_t = to_tensor(node_idx, dev), to_tensor(edge_idx, dev)
    out = Data()
    for key, value in data.items():
        if key == "edge_index":
            out[key] = to_tensor(edge_index, dev)
        elif data.is_node_attr(key):
            out[key] = value.index_select(0, n_t)
        elif data.is_edge_attr(key):
            out[key] = value.index_select(0, e_t)
        elif key == "num_nodes":
            out[key] = int(node_idx.size)
        else:
            out[key] = value
    return out


class ClusterData:
    """Partition ``data`` into ``num_parts`` clusters (see the module note on the partitioner).

    ``cluster_data.data`` is the graph with nodes permuted so that every cluster is a
    contiguous range; ``cluster_data[i]`` is cluster ``i``'s induced subgraph.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.loader import ClusterData, ClusterLoader
        >>> _ = torch.manual_seed(0)
        >>> data = Data(x=torch.randn(40, 3), edge_index=torch.randint(0, 40, (2, 160)))
        >>> cd = ClusterData(data, num_parts=4, log=False)
        >>> len(cd), [cd[i].num_nodes for i in range(4)]
        (4, [10, 10, 10, 10])
        >>> sum(b.num_nodes for b in ClusterLoader(cd, batch_size=2))
        40
    """

    def __init__(
        self,
        data: Data,
        num_parts: int,
        recursive: bool = False,
        save_dir: str | None = None,
        filename: str | None = None,
        log: bool = True,
        keep_inter_cluster_edges: bool = False,
        sparse_format: str = "csr",
    ):
        _check_homogeneous(data, "ClusterData")
        n = data.num_nodes
        if not 1 <= num_parts <= n:
            raise ValueError(f"ClusterData: num_parts must be in [1, {n}], got {num_parts}")
        self.num_parts = num_parts
        self.keep_inter_cluster_edges = keep_inter_cluster_edges
        ei = to_np(data.edge_index).astype(np.int64)
        adj = sp.csr_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(n, n))
        order = reverse_cuthill_mckee((adj + adj.T).tocsr(), symmetric_mode=True)
        node_perm = np.asarray(order, dtype=np.int64)
        inv = np.empty(n, dtype=np.int64)
        inv[node_perm] = np.arange(n)
        partptr = np.linspace(0, n, num_parts + 1).round().astype(np.int64)
        # CSR of the permuted graph, remembering each entry's original edge id
        pr, pc = inv[ei[0]], inv[ei[1]]
        eorder = np.lexsort((pc, pr))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(pr, minlength=n))]).astype(np.int64)
        self.partition = Partition(indptr, pc[eorder], partptr, node_perm, eorder)
        self.data = self._permute(data, node_perm, eorder, indptr, pc[eorder])

    @staticmethod
    def _permute(data: Data, node_perm, edge_perm, indptr, col) -> Data:
        n = data.num_nodes
        row = np.repeat(np.arange(n), np.diff(indptr))
        return _gather(data, np.stack([row, col]), node_perm, edge_perm)

    def __len__(self) -> int:
        return self.num_parts

    def _nodes_of(self, parts: np.ndarray) -> np.ndarray:
        ptr = self.partition.partptr
        start, stop = ptr[parts], ptr[parts + 1]
        return np.concatenate([np.arange(a, b) for a, b in zip(start, stop, strict=True)])

    def subgraph_of(self, parts) -> Data:
        """The subgraph induced by the union of clusters ``parts`` (nodes in part order)."""
        parts = np.atleast_1d(np.asarray(parts, dtype=np.int64))
        nodes = self._nodes_of(parts)
        p = self.partition
        n = self.data.num_nodes
        local = np.full(n, -1, dtype=np.int64)
        local[nodes] = np.arange(nodes.size)
        start = p.indptr[nodes]
        cnt = p.indptr[nodes + 1] - start
        seg = np.repeat(np.arange(nodes.size), cnt)
        pos = start[seg] + (np.arange(seg.size) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        dst = local[p.index[pos]]
        keep = dst >= 0
        src, dst, pos = seg[keep], dst[keep], pos[keep]
        return _gather(self.data, np.stack([src, dst]), nodes, pos)

    def __getitem__(self, idx: int) -> Data:
        if not -self.num_parts <= idx < self.num_parts:
            raise IndexError(f"ClusterData: index {idx} out of range for {self.num_parts} parts")
        return self.subgraph_of(idx % self.num_parts)

    def __repr__(self) -> str:
        return f"ClusterData(num_parts={self.num_parts})"


class ClusterLoader(torch.utils.data.DataLoader):
    """Batches of ``batch_size`` clusters merged into one subgraph, keeping the edges between
    the chosen clusters (Cluster-GCN's stochastic multi-cluster batches).

    Args:
        cluster_data: a :class:`ClusterData`.
        **kwargs: ``batch_size``, ``shuffle``, ``drop_last``...
    """

    def __init__(self, cluster_data: ClusterData, **kwargs):
        self.cluster_data = cluster_data
        kwargs.pop("collate_fn", None)
        super().__init__(range(len(cluster_data)), collate_fn=self._collate, **kwargs)

    def _collate(self, batch) -> Data:
        parts = np.asarray(batch, dtype=np.int64)
        return self.cluster_data.subgraph_of(parts)
