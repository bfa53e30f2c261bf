"""Vectorised GraphSAGE neighbour sampling on a CSC view of the graph.

For each hop the frontier's in-edges are located through ``colptr`` in one ``np.repeat``; nodes
with at most ``k`` in-edges keep them all, the others keep ``k`` chosen uniformly without
replacement by ranking random keys within each node's segment (one argsort over those edges).
No Python loop runs over nodes or edges.
"""

from __future__ import annotations

import numpy as np

from ..utils._arrays import to_np


def _segments(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(segment id, position) of every element of the concatenated ranges
    ``[starts[i], starts[i] + counts[i])``."""
    total = int(counts.sum())
    seg = np.repeat(np.arange(counts.shape[0]), counts)
    offs = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return seg, starts[seg] + offs


class CSCGraph:
    """In-edges grouped by target node: ``row[colptr[v]:colptr[v+1]]`` are the sources of
    ``v``'s in-edges and ``perm`` their original edge ids."""

    def __init__(self, edge_index, num_nodes: int):
        ei = to_np(edge_index).astype(np.int64)
        self.num_nodes = num_nodes
        order = np.argsort(ei[1], kind="stable")
        self.perm = order
        self.row = ei[0][order]
        counts = np.bincount(ei[1], minlength=num_nodes)
        self.colptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # scratch: global id -> local id of the batch being built (-1 = not sampled)
        self._map = np.full(num_nodes, -1, dtype=np.int64)

    def in_edges(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(segment id, CSC position) of all in-edges of ``nodes``."""
        start = self.colptr[nodes]
        return _segments(start, self.colptr[nodes + 1] - start)

    def sample_hop(self, frontier, k: int, replace: bool, rng) -> tuple[np.ndarray, np.ndarray]:
        """(segment id in ``frontier``, CSC position) of the sampled in-edges."""
        start = self.colptr[frontier]
        deg = self.colptr[frontier + 1] - start
        if k < 0:
            return _segments(start, deg)
        if replace:
            cnt = np.where(deg > 0, k, 0)
            seg = np.repeat(np.arange(frontier.shape[0]), cnt)
            pick = (rng.random(seg.shape[0]) * deg[seg]).astype(np.int64)
            return seg, start[seg] + pick
        small = deg <= k
        seg_a, pos_a = _segments(start[small], deg[small])
        seg_a = np.flatnonzero(small)[seg_a]
        big = np.flatnonzero(~small)
        if big.size == 0:
            return seg_a, pos_a
        seg_b, pos_b = _segments(start[big], deg[big])
        rank = pos_b - start[big][seg_b]
        keys = rng.random(seg_b.shape[0]) + seg_b  # sorts by node, randomly within a node
        order = np.argsort(keys)
        chosen = order[rank < k]  # rank of sorted slot p is rank[p]: same layout per node
        return (
            np.concatenate([seg_a, big[seg_b[chosen]]]),
            np.concatenate([pos_a, pos_b[chosen]]),
        )

    def sample(self, seeds: np.ndarray, num_neighbors, replace: bool, rng, induced: bool):
        """Sample the computation graph of ``seeds``.

        Returns ``(n_id, row, col, e_id, num_sampled_nodes, num_sampled_edges)`` with ``row``
        (neighbour) and ``col`` (target) as local ids; seeds come first in ``n_id``.
        """
        nmap = self._map
        b = seeds.shape[0]
        nmap[seeds] = np.arange(b)
        n_ids = [seeds]
        cur = b
        lo, hi = 0, b
        frontier = seeds
        rows, cols, eids = [], [], []
        num_nodes, num_edges = [b], []
        try:
            for k in num_neighbors:
                seg, pos = self.sample_hop(frontier, int(k), replace, rng)
                src = self.row[pos]
                new = src[nmap[src] < 0]
                if new.size:
                    uniq, first = np.unique(new, return_index=True)
                    new = uniq[np.argsort(first)]
                    nmap[new] = np.arange(cur, cur + new.size)
                    cur += new.size
                if not induced:
                    rows.append(nmap[src])
                    cols.append(lo + seg)
                    eids.append(self.perm[pos])
                num_nodes.append(int(new.size))
                num_edges.append(int(pos.size))
                n_ids.append(new)
                lo, hi = hi, cur
                frontier = new
            n_id = np.concatenate(n_ids)
            if induced:
                seg, pos = self.in_edges(n_id)
                src = self.row[pos]
                keep = nmap[src] >= 0
                rows, cols, eids = [nmap[src[keep]]], [seg[keep]], [self.perm[pos[keep]]]
            row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
            col = np.concatenate(cols) if cols else np.zeros(0, np.int64)
            e_id = np.concatenate(eids) if eids else np.zeros(0, np.int64)
        finally:
            nmap[np.concatenate(n_ids)] = -1
        return n_id, row, col, e_id, num_nodes, num_edges
