"""Conversions to and from scipy.sparse and networkx (imported only when used)."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import scipy.sparse as sp

import tocha.core as torch

from ._arrays import maybe_num_nodes, to_np, to_tensor


def to_scipy_sparse_matrix(edge_index, edge_attr=None, num_nodes: int | None = None):
    """The adjacency as a ``scipy.sparse.coo_matrix`` (weights ``edge_attr`` or ones).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import to_scipy_sparse_matrix
        >>> to_scipy_sparse_matrix(torch.tensor([[0, 1], [1, 2]])).toarray().tolist()
        [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """
    ei = to_np(edge_index)
    n = maybe_num_nodes(ei, num_nodes)
    w = np.ones(ei.shape[1], dtype=np.float32) if edge_attr is None else to_np(edge_attr)
    return sp.coo_matrix((w, (ei[0], ei[1])), shape=(n, n))


def from_scipy_sparse_matrix(A) -> tuple[torch.Tensor, torch.Tensor]:
    """``(edge_index, edge_weight)`` of a scipy sparse matrix.

    Example:
        >>> import scipy.sparse as sp
        >>> from tocha.geometric.utils import from_scipy_sparse_matrix
        >>> ei, w = from_scipy_sparse_matrix(sp.coo_matrix([[0, 2.0], [3.0, 0]]))
        >>> ei.tolist(), w.tolist()
        ([[0, 1], [1, 0]], [2.0, 3.0])
    """
    A = A.tocoo()
    ei = np.stack([A.row.astype(np.int64), A.col.astype(np.int64)])
    return to_tensor(ei), to_tensor(np.asarray(A.data))


def _to_py(v):
    return v.tolist() if isinstance(v, torch.Tensor) else v


def to_networkx(
    data,
    node_attrs=None,
    edge_attrs=None,
    graph_attrs=None,
    to_undirected: bool | str | None = False,
    to_multi: bool = False,
    remove_self_loops: bool = False,
):
    """A networkx graph of ``data`` (``Graph`` if ``to_undirected``, else ``DiGraph``).

    With ``to_undirected='upper'`` only edges with ``i <= j`` are added, with ``'lower'`` only
    ``i >= j``; with ``True`` every edge is added to an undirected graph (the last of ``(i, j)``
    and ``(j, i)`` sets the attributes), as in PyG.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.utils import to_networkx
        >>> g = to_networkx(Data(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=3),
        ...                 to_undirected=True)
        >>> g.number_of_nodes(), list(g.edges())
        (3, [(0, 1)])
    """
    import networkx as nx

    if to_undirected:
        G = nx.MultiGraph() if to_multi else nx.Graph()
    else:
        G = nx.MultiDiGraph() if to_multi else nx.DiGraph()
    n = data.num_nodes
    G.add_nodes_from(range(n))
    node_attrs = list(node_attrs or [])
    edge_attrs = list(edge_attrs or [])
    for key in graph_attrs or []:
        G.graph[key] = _to_py(data[key])
    nvals = {k: _to_py(data[k]) for k in node_attrs}
    for i in range(n):
        G.nodes[i].update({k: v[i] for k, v in nvals.items()})
    ei = to_np(data.edge_index).astype(np.int64)
    evals = {k: _to_py(data[k]) for k in edge_attrs}
    # as PyG: True adds every edge (a later duplicate overwrites attributes); 'upper' /
    # 'lower' keep only i <= j / i >= j
    upper = to_undirected == "upper"
    lower = to_undirected == "lower"
    for e, (u, v) in enumerate(zip(ei[0].tolist(), ei[1].tolist(), strict=True)):
        if (upper and u > v) or (lower and u < v) or (remove_self_loops and u == v):
            continue
        G.add_edge(u, v, **{k: vals[e] for k, vals in evals.items()})
    return G


def from_networkx(G, group_node_attrs=None, group_edge_attrs=None):
    """A :class:`~tocha.geometric.data.Data` from a networkx graph.

    Nodes are numbered in ``G.nodes`` order; an undirected graph gives both directions of
    every edge. Node and edge attributes become tensors; ``group_node_attrs`` /
    ``group_edge_attrs`` (names or ``'all'``) are concatenated into ``x`` / ``edge_attr``.

    Example:
        >>> import networkx as nx
        >>> from tocha.geometric.utils import from_networkx
        >>> data = from_networkx(nx.path_graph(3))
        >>> data.edge_index.tolist()
        [[0, 1, 1, 2], [1, 0, 2, 1]]
    """
    import networkx as nx

    from ..data import Data

    G = G.to_directed() if not nx.is_directed(G) else G
    nodes = list(G.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    edges = list(G.edges(data=True))
    if edges:
        ei = np.array([[index[u], index[v]] for u, v, _ in edges], dtype=np.int64).T
    else:
        ei = np.zeros((2, 0), dtype=np.int64)
    store: dict[str, Any] = {}
    node_keys: list[str] = []
    for _, feat in G.nodes(data=True):
        node_keys = list(feat)
        break
    for key in node_keys:
        store[key] = [G.nodes[v][key] for v in nodes]
    edge_keys = list(edges[0][2]) if edges else []
    for key in edge_keys:
        store[("edge_" + key) if key in node_keys else key] = [f[key] for _, _, f in edges]
    for key, value in G.graph.items():
        if key not in ("node_default", "edge_default"):
            store["graph_" + key if key in store else key] = value
    data = Data(edge_index=to_tensor(ei))
    for key, value in store.items():
        if isinstance(value, list):
            with contextlib.suppress(TypeError, ValueError):
                value = torch.tensor(value)
        data[key] = value

    def group(keys, fn):
        if keys is None:
            return None
        keys = (node_keys if fn == "x" else edge_keys) if keys == "all" else list(keys)
        cols = []
        for k in keys:
            v = data[k if fn == "x" or k not in node_keys else "edge_" + k]
            cols.append(v.view(-1, 1) if v.dim() <= 1 else v)
            del data[k if fn == "x" or k not in node_keys else "edge_" + k]
        return torch.cat(cols, -1)  # mixed dtypes promote, as torch.cat does

    x = group(group_node_attrs, "x")
    if x is not None:
        data.x = x
    ea = group(group_edge_attrs, "edge_attr")
    if ea is not None:
        data.edge_attr = ea
    if data.x is None and data.pos is None:
        data.num_nodes = G.number_of_nodes()
    return data
