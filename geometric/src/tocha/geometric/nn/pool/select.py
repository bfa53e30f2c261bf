"""Top-k node selection and edge filtering shared by TopKPooling and SAGPooling."""

from __future__ import annotations

import numpy as np

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Module, Parameter

from ...utils._softmax import softmax
from ..inits import uniform

__all__ = ["topk", "filter_adj", "SelectTopK"]


def topk(x: Tensor, ratio, batch: Tensor, min_score: float | None = None, tol: float = 1e-7):
    """Indices of the kept nodes: per graph the ``ceil(ratio * n)`` (or ``min(ratio, n)`` for an
    integer ratio) best scores, ordered by graph then by descending score (ties: node order)."""
    s = x.detach().cpu().numpy().reshape(-1)
    b = batch.detach().cpu().numpy()
    if min_score is not None:
        n_graphs = int(b.max()) + 1 if b.size else 0
        smax = np.full(n_graphs, -np.inf)
        np.maximum.at(smax, b, s)
        thr = np.minimum(smax[b] - tol, min_score)
        perm = np.flatnonzero(s > thr)
    else:
        counts = np.bincount(b) if b.size else np.zeros(0, np.int64)
        if ratio >= 1:
            k = np.minimum(np.full_like(counts, int(ratio)), counts)
        else:
            k = np.ceil(float(ratio) * counts.astype(s.dtype)).astype(np.int64)
        order = np.lexsort((-s, b))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        rank = np.arange(s.size) - starts[b[order]]
        perm = order[rank < k[b[order]]]
    return torch.from_numpy(perm.astype(np.int64)).to(x.device)


def filter_adj(edge_index: Tensor, edge_attr: Tensor | None, perm: Tensor, num_nodes: int):
    """Keep the edges between kept nodes and renumber them to positions in ``perm``."""
    ei = edge_index.detach().cpu().numpy()
    p = perm.detach().cpu().numpy()
    new = np.full(num_nodes, -1, dtype=np.int64)
    new[p] = np.arange(p.size)
    row, col = new[ei[0]], new[ei[1]]
    keep = (row >= 0) & (col >= 0)
    out = torch.from_numpy(np.stack([row[keep], col[keep]])).to(edge_index.device)
    if edge_attr is not None:
        edge_attr = edge_attr[torch.from_numpy(np.flatnonzero(keep)).to(edge_attr.device)]
    return out, edge_attr


_ACTS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


class SelectTopK(Module):
    """Scores ``act(x . w / |w|)`` (or a per-graph softmax with ``min_score``) and the top-k."""

    def __init__(self, in_channels: int, ratio=0.5, min_score=None, act="tanh") -> None:
        super().__init__()
        if ratio is None and min_score is None:
            raise ValueError("SelectTopK: at least one of 'ratio' and 'min_score' must be given")
        self.in_channels = in_channels
        self.ratio = ratio
        self.min_score = min_score
        self.act = _ACTS[act] if isinstance(act, str) else act
        self.weight = Parameter(torch.empty(1, in_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        uniform(self.in_channels, self.weight)

    def forward(self, x: Tensor, batch: Tensor):
        x = x.view(-1, 1) if x.dim() == 1 else x
        score = (x * self.weight).sum(dim=-1)
        if self.min_score is None:
            score = self.act(score / self.weight.norm(p=2, dim=-1))
        else:
            score = softmax(score, batch)
        return score, topk(score, self.ratio, batch, self.min_score)
