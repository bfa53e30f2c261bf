"""Two-tower retrieval: query and candidate towers, in-batch and sampled softmax losses with
logQ correction, and an exact (brute-force) top-k index over item embeddings.

Example:
    >>> import tocha.core as torch
    >>> idx = BruteForceIndex(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]]))
    >>> scores, ids = idx.search(torch.tensor([[1.0, 0.2]]), k=2)
    >>> ids.tolist()
    [[0, 2]]
"""

from __future__ import annotations

import numpy as np

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import Tensor, nn

from ..modules.embedding_modules import EmbeddingBagCollection
from ..modules.mlp import MLP
from ..sparse.jagged_tensor import KeyedJaggedTensor

__all__ = [
    "BruteForceIndex",
    "TwoTower",
    "TwoTowerTrainTask",
    "in_batch_softmax_loss",
    "sampled_softmax_loss",
]


class TwoTower(nn.Module):
    """Query and candidate towers over an EmbeddingBagCollection of two tables: the first
    table's features feed the query tower, the second's the candidate tower.

    Args:
        embedding_bag_collection: two tables of the same dim.
        layer_sizes: MLP sizes of each tower (the last is the output dim).
    """

    def __init__(
        self,
        embedding_bag_collection: EmbeddingBagCollection,
        layer_sizes: list[int],
        device=None,
    ) -> None:
        super().__init__()
        cfgs = embedding_bag_collection.embedding_bag_configs()
        if len(cfgs) != 2:
            raise ValueError(f"TwoTower: expected 2 tables (query, candidate), got {len(cfgs)}")
        d = cfgs[0].embedding_dim
        self._feature_names_query = list(cfgs[0].feature_names)
        self._feature_names_candidate = list(cfgs[1].feature_names)
        self.ebc = embedding_bag_collection
        self.query_proj = MLP(d, layer_sizes, device=device)
        self.candidate_proj = MLP(cfgs[1].embedding_dim, layer_sizes, device=device)

    def forward(self, kjt: KeyedJaggedTensor) -> tuple[Tensor, Tensor]:
        kt = self.ebc(kjt)
        q = torch.cat([kt[f] for f in self._feature_names_query], dim=1)
        c = torch.cat([kt[f] for f in self._feature_names_candidate], dim=1)
        return self.query_proj(q), self.candidate_proj(c)


class TwoTowerTrainTask(nn.Module):
    """In-batch softmax training of a TwoTower; ``forward(kjt, log_q=None)`` returns the loss."""

    def __init__(self, two_tower: TwoTower, temperature: float = 1.0) -> None:
        super().__init__()
        self.two_tower = two_tower
        self.temperature = temperature

    def forward(self, kjt: KeyedJaggedTensor, log_q: Tensor | None = None) -> Tensor:
        q, c = self.two_tower(kjt)
        return in_batch_softmax_loss(q, c, log_q, self.temperature)


def in_batch_softmax_loss(
    query: Tensor,
    candidate: Tensor,
    candidate_log_q: Tensor | None = None,
    temperature: float = 1.0,
) -> Tensor:
    """Softmax over the batch's candidates, the diagonal being the positives.

    ``candidate_log_q`` (log sampling probability of each candidate, e.g. log popularity)
    is subtracted from the logits: the logQ correction for popularity-biased in-batch
    negatives.
    """
    logits = torch.matmul(query, candidate.t()) / temperature
    if candidate_log_q is not None:
        logits = logits - candidate_log_q.reshape(1, -1)
    labels = torch.arange(query.shape[0])
    return F.cross_entropy(logits, labels)


def sampled_softmax_loss(
    query: Tensor,
    positive: Tensor,
    negatives: Tensor,
    positive_log_q: Tensor | None = None,
    negative_log_q: Tensor | None = None,
    temperature: float = 1.0,
) -> Tensor:
    """Softmax over each query's positive and a shared set of sampled negatives (N x D),
    with the logQ correction of the sampling distribution."""
    pos = (query * positive).sum(dim=1, keepdim=True) / temperature
    neg = torch.matmul(query, negatives.t()) / temperature
    if positive_log_q is not None:
        pos = pos - positive_log_q.reshape(-1, 1)
    if negative_log_q is not None:
        neg = neg - negative_log_q.reshape(1, -1)
    logits = torch.cat([pos, neg], dim=1)
    return F.cross_entropy(logits, torch.zeros(query.shape[0], dtype=torch.int64))


class BruteForceIndex:
    """Exact maximum-inner-product search over item embeddings (one GEMM per query chunk).

    Args:
        item_embeddings: (num_items, D).
        chunk_size: queries scored per GEMM (bounds memory at chunk x num_items).
    """

    def __init__(self, item_embeddings: Tensor, chunk_size: int = 4096) -> None:
        self.items = np.ascontiguousarray(item_embeddings.detach().numpy())
        self.chunk_size = chunk_size

    def search(self, queries: Tensor, k: int, exclude: list | None = None) -> tuple[Tensor, Tensor]:
        """Top-``k`` scores and item ids per query, best first. ``exclude[i]`` lists item ids
        to leave out for query ``i`` (e.g. already-seen items)."""
        q = queries.detach().numpy()
        n = self.items.shape[0]
        if not 0 < k <= n:
            raise ValueError(f"BruteForceIndex.search: k={k} must be in [1, {n}]")
        all_s, all_i = [], []
        for a in range(0, q.shape[0], self.chunk_size):
            s = q[a : a + self.chunk_size] @ self.items.T
            if exclude is not None:
                rows = [np.full(len(ex), r) for r, ex in enumerate(exclude[a : a + s.shape[0]])]
                if rows:
                    cols = np.concatenate(
                        [np.asarray(ex, np.int64) for ex in exclude[a : a + s.shape[0]]]
                    )
                    s[np.concatenate(rows).astype(np.int64), cols] = -np.inf
            part = np.argpartition(-s, k - 1, axis=1)[:, :k]
            ps = np.take_along_axis(s, part, 1)
            order = np.argsort(-ps, axis=1, kind="stable")
            all_i.append(np.take_along_axis(part, order, 1))
            all_s.append(np.take_along_axis(ps, order, 1))
        return torch.from_numpy(np.concatenate(all_s)), torch.from_numpy(np.concatenate(all_i))
