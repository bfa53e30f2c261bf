"""Vectorised GraphSAGE neighbour sampling on a CSC view of the graph.

For each hop the frontier's in-edges are located through ``colptr``; nodes with at most ``k``
in-edges keep them all, the others draw ``k`` distinct in-edges with Floyd's algorithm run for
all of them at once (``k`` vectorised steps, a scratch mark per edge, no sort). Newly reached
nodes are deduplicated in order of first appearance with a scratch stamp per node, again
without sorting. No Python loop runs over nodes or edges.
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
        self._stamp = np.zeros(num_nodes, dtype=np.int64)
        self._mark = np.zeros(ei.shape[1], dtype=bool)

    def in_edges(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(segment id, CSC position) of all in-edges of ``nodes``."""
        start = self.colptr[nodes]
        return _segments(start, self.colptr[nodes + 1] - start)

    def _has_repeats(self, nodes: np.ndarray) -> bool:
        order = np.arange(nodes.size)
        self._stamp[nodes[::-1]] = order[::-1]
        return bool((self._stamp[nodes] != order).any())

    def sample_hop(
        self, frontier, k: int, replace: bool, rng, may_repeat: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
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
        sb, db = start[big], deg[big]
        if may_repeat and self._has_repeats(frontier[big]):
            return self._sample_sorted(seg_a, pos_a, big, sb, db, k, rng)
        mark = self._mark
        picks = np.empty((big.size, k), dtype=np.int64)
        # Floyd: for j = d-k .. d-1 draw t in [0, j]; if taken, take j (never taken yet)
        for i in range(k):
            j = db - k + i
            p = sb + (rng.random(big.size) * (j + 1)).astype(np.int64)
            p = np.where(mark[p], sb + j, p)
            mark[p] = True
            picks[:, i] = p
        picks = picks.reshape(-1)
        mark[picks] = False
        return np.concatenate([seg_a, np.repeat(big, k)]), np.concatenate([pos_a, picks])

    @staticmethod
    def _sample_sorted(seg_a, pos_a, big, sb, db, k, rng):
        # a node listed twice must be sampled twice independently, which Floyd's shared marks
        # cannot do: rank random keys within each segment instead (one argsort)
        seg_b, pos_b = _segments(sb, db)
        rank = pos_b - sb[seg_b]
        order = np.argsort(rng.random(seg_b.shape[0]) + seg_b)
        chosen = order[rank < k]
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
            for hop, k in enumerate(num_neighbors):
                seg, pos = self.sample_hop(frontier, int(k), replace, rng, may_repeat=hop == 0)
                src = self.row[pos]
                new = src[nmap[src] < 0]
                if new.size:
                    # first occurrences: fancy assignment keeps the last write, so write the
                    # positions in reverse and keep the entries that read their own position
                    order = np.arange(new.size)
                    self._stamp[new[::-1]] = order[::-1]
                    new = new[self._stamp[new] == order]
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
