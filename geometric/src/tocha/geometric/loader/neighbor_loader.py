"""``NeighborLoader``: GraphSAGE-style sampled mini-batches of one large graph."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import tocha.core as torch

from ..data import Data, HeteroData
from ..utils._arrays import to_np, to_tensor
from ._hetero_sampler import HeteroSampler, hetero_seeds
from ._sampler import CSCGraph


def _check_homogeneous(data, fn: str) -> None:
    if isinstance(data, HeteroData):
        raise NotImplementedError(f"{fn}: sampling HeteroData is not provided by tocha.geometric")
    if not isinstance(data, Data):
        raise TypeError(f"{fn}: expected a Data object, got {type(data).__name__}")


def _subgraph_type(subgraph_type: str, directed: bool, fn: str) -> bool:
    """Whether the sampled subgraph is induced (all edges among sampled nodes)."""
    if not directed:
        subgraph_type = "induced"
    if subgraph_type not in ("directional", "induced"):
        raise ValueError(
            f"{fn}: subgraph_type must be 'directional' or 'induced', got {subgraph_type!r}"
        )
    return subgraph_type == "induced"


class _SamplingBase(torch.utils.data.DataLoader):
    """Shared machinery: a CSC copy of the graph, a per-batch generator drawn from tocha's
    global RNG (so ``torch.manual_seed`` makes sampling reproducible) and the slicing of node
    and edge attributes into the sampled subgraph."""

    def _setup(self, data: Data, num_neighbors, replace: bool, induced: bool, fn: str):
        _check_homogeneous(data, fn)
        if isinstance(num_neighbors, dict):
            raise NotImplementedError(f"{fn}: per-edge-type num_neighbors needs HeteroData")
        self.data = data
        self.num_neighbors = list(num_neighbors)
        self.replace = replace
        self.induced = induced
        n = data.num_nodes
        self.graph = CSCGraph(data.edge_index, n)
        keys = data.keys()
        self._node_keys = [k for k in keys if data.is_node_attr(k)]
        self._edge_keys = [k for k in keys if k != "edge_index" and data.is_edge_attr(k)]

    def _rng(self) -> np.random.Generator:
        seed = int(torch.randint(0, 2**62, (1,)).item())
        return np.random.default_rng(seed)

    def _sample(self, seeds: np.ndarray) -> Data:
        n_id, row, col, e_id, nn_, ne_ = self.graph.sample(
            seeds, self.num_neighbors, self.replace, self._rng(), self.induced
        )
        data = self.data
        dev = data.device
        out = Data()
        n_t, e_t = to_tensor(n_id, dev), to_tensor(e_id, dev)
        for key, value in data.items():
            if key in self._node_keys:
                out[key] = value.index_select(0, n_t)
            elif key in self._edge_keys:
                out[key] = value.index_select(0, e_t)
            elif key == "edge_index":
                out[key] = to_tensor(np.stack([row, col]), dev)
            elif key == "num_nodes":
                out[key] = int(n_id.size)
            else:
                out[key] = value
        if "edge_index" not in out:
            out.edge_index = to_tensor(np.stack([row, col]), dev)
        out.n_id = n_t
        out.e_id = e_t
        out.num_sampled_nodes = nn_
        out.num_sampled_edges = ne_
        return out


class NeighborLoader(_SamplingBase):
    """Mini-batches of seed nodes with their sampled multi-hop neighbourhoods.

    For every batch of ``batch_size`` seeds from ``input_nodes``, hop ``i`` samples up to
    ``num_neighbors[i]`` in-neighbours (``-1``: all) of the previous hop's new nodes. The batch
    is a :class:`Data` over the sampled nodes: the seeds come first (``batch.batch_size`` of
    them), ``n_id`` / ``e_id`` map back to the full graph, ``edge_index`` uses local ids with
    messages flowing from sampled neighbours (row 0) to the nodes that sampled them (row 1),
    and every node / edge attribute is sliced accordingly.

    Args:
        data: the graph.
        num_neighbors: neighbours per hop.
        input_nodes: seed nodes (indices or bool mask; ``None``: all nodes).
        replace: sample with replacement.
        subgraph_type: ``'directional'`` (the sampled edges) or ``'induced'`` (all edges among
            the sampled nodes).
        directed: ``False`` is the older spelling of ``subgraph_type='induced'``.
        transform: applied to every batch.
        **kwargs: ``batch_size``, ``shuffle``, ``drop_last``, ``num_workers``...

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.loader import NeighborLoader
        >>> _ = torch.manual_seed(0)
        >>> ei = torch.randint(0, 100, (2, 1000))
        >>> data = Data(x=torch.randn(100, 8), edge_index=ei)
        >>> loader = NeighborLoader(data, num_neighbors=[5, 3], batch_size=16)
        >>> batch = next(iter(loader))
        >>> batch.batch_size, batch.n_id[:16].tolist() == list(range(16))
        (16, True)
        >>> bool((batch.x == data.x[batch.n_id]).all())
        True
    """

    def __init__(
        self,
        data: Data,
        num_neighbors: Sequence[int],
        input_nodes=None,
        input_time=None,
        replace: bool = False,
        subgraph_type: str = "directional",
        disjoint: bool = False,
        temporal_strategy: str = "uniform",
        time_attr: str | None = None,
        transform: Callable | None = None,
        transform_sampler_output: Callable | None = None,
        is_sorted: bool = False,
        filter_per_worker: bool | None = None,
        neighbor_sampler=None,
        directed: bool = True,
        **kwargs,
    ):
        if input_time is not None or time_attr is not None:
            raise NotImplementedError("NeighborLoader: temporal sampling is not provided")
        if disjoint:
            raise NotImplementedError("NeighborLoader: disjoint sampling is not provided")
        induced = _subgraph_type(subgraph_type, directed, "NeighborLoader")
        self.transform = transform
        kwargs.pop("collate_fn", None)
        if isinstance(data, HeteroData):
            if induced:
                raise NotImplementedError("NeighborLoader: induced subgraphs of HeteroData")
            self.data = data
            self.hetero = HeteroSampler(data, num_neighbors, replace, "NeighborLoader")
            self.input_type, self.input_nodes = hetero_seeds(data, input_nodes, "NeighborLoader")
            super().__init__(range(self.input_nodes.size), collate_fn=self.collate_fn, **kwargs)
            return
        self.hetero = None
        self._setup(data, num_neighbors, replace, induced, "NeighborLoader")
        n = data.num_nodes
        if input_nodes is None:
            seeds = np.arange(n, dtype=np.int64)
        else:
            a = to_np(input_nodes)
            seeds = np.flatnonzero(a) if a.dtype == np.bool_ else a.astype(np.int64).reshape(-1)
        if seeds.size and (seeds.max() >= n or seeds.min() < 0):
            raise IndexError(
                f"NeighborLoader: input_nodes refers to node {int(seeds.max())} but the graph "
                f"has {n} nodes"
            )
        self.input_nodes = seeds
        super().__init__(range(seeds.size), collate_fn=self.collate_fn, **kwargs)

    def collate_fn(self, index) -> Data:
        idx = np.asarray(index, dtype=np.int64)
        if self.hetero is not None:
            out = self.hetero.build({self.input_type: self.input_nodes[idx]}, self._rng())
            store = out[self.input_type]
            store.input_id = to_tensor(idx, store.n_id.device)
            store.batch_size = int(idx.size)
            return out if self.transform is None else self.transform(out)
        out = self._sample(self.input_nodes[idx])
        out.input_id = to_tensor(idx, self.data.device)
        out.batch_size = int(idx.size)
        return out if self.transform is None else self.transform(out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
