"""Node2Vec (torch_geometric.nn.models.Node2Vec, Grover & Leskovec 2016)."""

from __future__ import annotations

import numpy as np

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Embedding, Module

__all__ = ["Node2Vec", "random_walk"]

EPS = 1e-15


def _rng() -> np.random.Generator:
    # seeded from tocha's generator so torch.manual_seed makes walks reproducible
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))


def random_walk(
    rowptr: np.ndarray,
    col: np.ndarray,
    start: np.ndarray,
    walk_length: int,
    p: float = 1.0,
    q: float = 1.0,
    rng=None,
) -> np.ndarray:
    """Second-order biased walks (rejection sampling); a node without neighbours repeats."""
    rng = rng or _rng()
    n = rowptr.shape[0] - 1
    deg = np.diff(rowptr)
    walks = np.empty((start.shape[0], walk_length + 1), dtype=np.int64)
    walks[:, 0] = start
    keys = None
    if p != 1.0 or q != 1.0:
        rows = np.repeat(np.arange(n, dtype=np.int64), deg)
        keys = rows * n + col
        keys.sort()
    max_prob = max(1.0 / p, 1.0, 1.0 / q)
    cur = start.astype(np.int64)
    prev = np.full_like(cur, -1)
    for t in range(1, walk_length + 1):
        nxt = cur.copy()
        todo = np.flatnonzero(deg[cur] > 0)
        while todo.size:
            c = cur[todo]
            cand = col[rowptr[c] + (rng.random(todo.size) * deg[c]).astype(np.int64)]
            if keys is None or t == 1:
                nxt[todo] = cand
                break
            pv = prev[todo]
            prob = np.full(todo.size, 1.0 / q)
            k = pv * n + cand
            pos = np.minimum(np.searchsorted(keys, k), keys.size - 1)
            prob[keys[pos] == k] = 1.0
            prob[cand == pv] = 1.0 / p
            ok = rng.random(todo.size) * max_prob < prob
            nxt[todo[ok]] = cand[ok]
            todo = todo[~ok]
        prev, cur = cur, nxt
        walks[:, t] = cur
    return walks


class Node2Vec(Module):
    """Skip-gram node embeddings trained on (biased) random walks.

    Args:
        edge_index: the graph.
        embedding_dim: embedding size.
        walk_length: steps per walk.
        context_size: window size of the skip-gram (``<= walk_length``).
        walks_per_node: walks started per node.
        p: return parameter.
        q: in-out parameter.
        num_negative_samples: negative walks per positive one.
        num_nodes: number of nodes.
        sparse: sparse gradients for the embedding.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import Node2Vec
        >>> _ = torch.manual_seed(0)
        >>> ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
        >>> model = Node2Vec(ei, embedding_dim=8, walk_length=4, context_size=2)
        >>> pos, neg = model.sample(torch.tensor([0, 1]))
        >>> pos.shape, model.loss(pos, neg).dim()
        (torch.Size([6, 2]), 0)
    """

    def __init__(
        self,
        edge_index: Tensor,
        embedding_dim: int,
        walk_length: int,
        context_size: int,
        walks_per_node: int = 1,
        p: float = 1.0,
        q: float = 1.0,
        num_negative_samples: int = 1,
        num_nodes: int | None = None,
        sparse: bool = False,
    ) -> None:
        super().__init__()
        if walk_length < context_size:
            raise ValueError(
                f"Node2Vec: expected 'walk_length' ({walk_length}) >= 'context_size' "
                f"({context_size})"
            )
        ei = edge_index.detach().cpu().numpy()
        n = int(num_nodes) if num_nodes is not None else (int(ei.max()) + 1 if ei.size else 0)
        order = np.lexsort((ei[1], ei[0]))
        row, col = ei[0][order], ei[1][order]
        self.rowptr = np.concatenate(([0], np.cumsum(np.bincount(row, minlength=n))))
        self.col = col.astype(np.int64)
        self.num_nodes = n
        self.EPS = EPS
        self.embedding_dim = embedding_dim
        self.walk_length = walk_length - 1
        self.context_size = context_size
        self.walks_per_node = walks_per_node
        self.p = p
        self.q = q
        self.num_negative_samples = num_negative_samples
        self.embedding = Embedding(n, embedding_dim, sparse=sparse)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.embedding.reset_parameters()

    def forward(self, batch: Tensor | None = None) -> Tensor:
        emb = self.embedding.weight
        return emb if batch is None else emb.index_select(0, batch)

    def loader(self, **kwargs):
        from tocha.core.utils.data import DataLoader

        return DataLoader(range(self.num_nodes), collate_fn=self.sample, **kwargs)

    def _windows(self, rw: np.ndarray) -> Tensor:
        n_win = 1 + self.walk_length + 1 - self.context_size
        out = np.concatenate([rw[:, j : j + self.context_size] for j in range(n_win)], axis=0)
        return torch.from_numpy(out)

    def pos_sample(self, batch: Tensor) -> Tensor:
        b = np.tile(batch.detach().cpu().numpy().astype(np.int64), self.walks_per_node)
        rw = random_walk(self.rowptr, self.col, b, self.walk_length, self.p, self.q)
        return self._windows(rw)

    def neg_sample(self, batch: Tensor) -> Tensor:
        b = np.tile(
            batch.detach().cpu().numpy().astype(np.int64),
            self.walks_per_node * self.num_negative_samples,
        )
        rw = _rng().integers(0, self.num_nodes, (b.shape[0], self.walk_length))
        return self._windows(np.concatenate([b[:, None], rw], axis=1))

    def sample(self, batch) -> tuple[Tensor, Tensor]:
        if not isinstance(batch, Tensor):
            batch = torch.tensor(list(batch), dtype=torch.long)
        return self.pos_sample(batch), self.neg_sample(batch)

    def _score(self, rw: Tensor) -> Tensor:
        start, rest = rw[:, 0], rw[:, 1:].contiguous()
        h_start = self.embedding(start).view(rw.size(0), 1, self.embedding_dim)
        h_rest = self.embedding(rest.view(-1)).view(rw.size(0), -1, self.embedding_dim)
        return (h_start * h_rest).sum(dim=-1).view(-1)

    def loss(self, pos_rw: Tensor, neg_rw: Tensor) -> Tensor:
        """Negative-sampling skip-gram loss."""
        pos_loss = -torch.log(torch.sigmoid(self._score(pos_rw)) + EPS).mean()
        neg_loss = -torch.log(1 - torch.sigmoid(self._score(neg_rw)) + EPS).mean()
        return pos_loss + neg_loss

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.embedding.weight.size(0)}, "
            f"{self.embedding.weight.size(1)})"
        )
