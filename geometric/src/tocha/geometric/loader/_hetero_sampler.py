"""Neighbour sampling on a ``HeteroData`` graph: one CSC view per edge type; each hop samples,
for every edge type whose target type has frontier nodes, up to ``k`` in-edges per frontier
node (the same vectorised per-hop sampler as homogeneous graphs)."""

from __future__ import annotations

import numpy as np

from ..data import HeteroData
from ..utils._arrays import to_np, to_tensor
from ._sampler import CSCGraph


class HeteroSampler:
    def __init__(self, data: HeteroData, num_neighbors, replace: bool, fn: str):
        self.data = data
        self.replace = replace
        self.num_nodes = {nt: int(data[nt].num_nodes or 0) for nt in data.node_types}
        edge_types = [et for et in data.edge_types if "edge_index" in data[et]]
        if isinstance(num_neighbors, dict):
            missing = [et for et in edge_types if et not in num_neighbors]
            if missing:
                raise ValueError(f"{fn}: num_neighbors has no entry for edge types {missing}")
            self.num_neighbors = {et: list(num_neighbors[et]) for et in edge_types}
        else:
            self.num_neighbors = {et: list(num_neighbors) for et in edge_types}
        hops = {len(v) for v in self.num_neighbors.values()}
        if len(hops) > 1:
            raise ValueError(f"{fn}: every edge type needs the same number of hops, got {hops}")
        self.num_hops = hops.pop() if hops else 0
        self.graphs = {
            et: CSCGraph(data[et].edge_index, self.num_nodes[et[2]]) for et in edge_types
        }
        self._map = {nt: np.full(n, -1, dtype=np.int64) for nt, n in self.num_nodes.items()}
        self._stamp = {nt: np.zeros(n, dtype=np.int64) for nt, n in self.num_nodes.items()}

    def _add_new(self, nt: str, cand: np.ndarray, cur: dict, n_ids: dict) -> np.ndarray:
        nmap = self._map[nt]
        new = cand[nmap[cand] < 0]
        if new.size:
            order = np.arange(new.size)
            self._stamp[nt][new[::-1]] = order[::-1]
            new = new[self._stamp[nt][new] == order]
            nmap[new] = np.arange(cur[nt], cur[nt] + new.size)
            cur[nt] += new.size
            n_ids[nt].append(new)
        return new

    def sample(self, seed_dict: dict, rng):
        """Per-type ``n_id``, per-edge-type ``(row, col, e_id)`` and per-hop counts, starting
        from ``seed_dict`` (node type -> unique seed ids, which come first in ``n_id``)."""
        n_ids: dict[str, list] = {nt: [] for nt in self.num_nodes}
        cur = dict.fromkeys(self.num_nodes, 0)
        frontier = {}
        for nt, seeds in seed_dict.items():
            self._map[nt][seeds] = np.arange(seeds.size)
            n_ids[nt].append(seeds)
            cur[nt] = seeds.size
            frontier[nt] = (seeds, 0)
        edges: dict = {et: ([], [], []) for et in self.graphs}
        num_nodes = {nt: [int(cur[nt])] for nt in self.num_nodes}
        num_edges: dict = {et: [] for et in self.graphs}
        try:
            for hop in range(self.num_hops):
                start = dict(cur)
                for et, graph in self.graphs.items():
                    src, _, dst = et
                    k = self.num_neighbors[et][hop]
                    if dst not in frontier or k == 0:
                        num_edges[et].append(0)
                        continue
                    fr, lo = frontier[dst]
                    seg, pos = graph.sample_hop(fr, int(k), self.replace, rng, hop == 0)
                    s = graph.row[pos]
                    self._add_new(src, s, cur, n_ids)
                    rows, cols, eids = edges[et]
                    rows.append(self._map[src][s])
                    cols.append(lo + seg)
                    eids.append(graph.perm[pos])
                    num_edges[et].append(int(pos.size))
                frontier = {}
                for nt in self.num_nodes:
                    added = cur[nt] - start[nt]
                    num_nodes[nt].append(added)
                    if added:
                        ids = np.concatenate(n_ids[nt])[start[nt] :]
                        frontier[nt] = (ids, start[nt])
            out_n = {
                nt: np.concatenate(v) if v else np.zeros(0, np.int64) for nt, v in n_ids.items()
            }
        finally:
            for nt, v in n_ids.items():
                if v:
                    self._map[nt][np.concatenate(v)] = -1
        out_e = {}
        for et, (rows, cols, eids) in edges.items():
            cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.int64)  # noqa: E731
            out_e[et] = (cat(rows), cat(cols), cat(eids))
        return out_n, out_e, num_nodes, num_edges

    def build(self, seed_dict: dict, rng) -> HeteroData:
        n_id, e, num_nodes, num_edges = self.sample(seed_dict, rng)
        data = self.data
        out = HeteroData()
        for nt, ids in n_id.items():
            store, src = out[nt], data[nt]
            n_full = self.num_nodes[nt]
            t = to_tensor(ids, _device(src))
            for key, value in src.items():
                if key == "num_nodes":
                    store.num_nodes = int(ids.size)
                elif _rows(value) == n_full:
                    store[key] = value.index_select(0, t)
                else:
                    store[key] = value
            store.n_id = t
            store.num_sampled_nodes = num_nodes[nt]
        for et, (row, col, eid) in e.items():
            store, src = out[et], data[et]
            dev = _device(src)
            e_full = int(src.edge_index.shape[1])
            t = to_tensor(eid, dev)
            for key, value in src.items():
                if key == "edge_index":
                    store[key] = to_tensor(np.stack([row, col]), dev)
                elif _rows(value) == e_full and key not in ("edge_label_index",):
                    store[key] = value.index_select(0, t)
                else:
                    store[key] = value
            store.e_id = t
            store.num_sampled_edges = num_edges[et]
        for key, value in data._global.items():
            out._global[key] = value
        return out


def _rows(value) -> int | None:
    shape = getattr(value, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) > 0 else None


def _device(store):
    for v in store.values():
        if hasattr(v, "device"):
            return v.device
    return None


def hetero_seeds(data: HeteroData, input_nodes, fn: str) -> tuple[str, np.ndarray]:
    """``(node_type, seed ids)`` from ``'type'`` or ``('type', indices_or_mask)``."""
    if isinstance(input_nodes, str):
        nt, idx = input_nodes, None
    elif isinstance(input_nodes, tuple) and len(input_nodes) == 2:
        nt, idx = input_nodes
    else:
        raise ValueError(
            f"{fn}: for HeteroData, input_nodes must be a node type or (node_type, indices)"
        )
    if nt not in data.node_types:
        raise ValueError(f"{fn}: unknown node type {nt!r} (have {data.node_types})")
    n = int(data[nt].num_nodes or 0)
    if idx is None:
        return nt, np.arange(n, dtype=np.int64)
    a = to_np(idx)
    seeds = np.flatnonzero(a) if a.dtype == np.bool_ else a.astype(np.int64).reshape(-1)
    if seeds.size and (seeds.max() >= n or seeds.min() < 0):
        raise IndexError(
            f"{fn}: input_nodes refers to {nt} node {int(seeds.max())} but there are {n}"
        )
    return nt, seeds
