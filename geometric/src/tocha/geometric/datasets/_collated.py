"""Building an InMemoryDataset's collated storage directly from graph-sorted arrays, so
datasets with many graphs are split without a Python loop over graphs."""

from __future__ import annotations

import numpy as np

from ..data import Data
from ..data.batch import Batch, batch_class_for
from ..utils._arrays import to_tensor


def collated_graphs(
    node_graph: np.ndarray,
    edge_index: np.ndarray,
    num_graphs: int,
    node_attrs: dict,
    edge_attrs: dict,
    graph_attrs: dict,
) -> Batch:
    """A Batch over ``num_graphs`` graphs; nodes must be grouped by graph in order and
    ``edge_index`` (global ids) sorted so that edges are grouped the same way."""
    n_per = np.bincount(node_graph, minlength=num_graphs)
    e_per = np.bincount(node_graph[edge_index[0]], minlength=num_graphs)
    nptr = np.concatenate([[0], np.cumsum(n_per)])
    eptr = np.concatenate([[0], np.cumsum(e_per)])
    b: Batch = batch_class_for(Data).__new__(batch_class_for(Data))
    object.__setattr__(b, "_store", {})
    object.__setattr__(b, "_batching", {})
    slices: dict = {}
    incs: dict = {}
    for key, v in node_attrs.items():
        if v is not None:
            b._store[key] = v
            slices[key], incs[key] = nptr, np.zeros(num_graphs, np.int64)
    b._store["edge_index"] = to_tensor(edge_index)
    slices["edge_index"], incs["edge_index"] = eptr, nptr[:-1]
    for key, v in edge_attrs.items():
        if v is not None:
            b._store[key] = v
            slices[key], incs[key] = eptr, np.zeros(num_graphs, np.int64)
    for key, v in graph_attrs.items():
        if v is not None:
            b._store[key] = v
            per = v.shape[0] // num_graphs if num_graphs else 0
            slices[key] = np.arange(num_graphs + 1) * per
            incs[key] = np.zeros(num_graphs, np.int64)
    b._store["batch"] = to_tensor(node_graph.astype(np.int64))
    b._store["ptr"] = to_tensor(nptr)
    b._slice_dict = {k: v for k, v in slices.items() if v is not None}
    b._inc_dict = incs
    b._num_graphs = num_graphs
    b._data_cls = Data
    if not any(v is not None for v in node_attrs.values()):
        # graphs without node attributes get their node counts back from ptr
        b._store["num_nodes"] = int(nptr[-1])
    return b
