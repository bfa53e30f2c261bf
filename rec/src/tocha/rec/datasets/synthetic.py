"""A synthetic Criteo-like click dataset with a planted signal.

Dense features are log-normal counts; each sparse feature draws 1-3 ids from a Zipf-like
distribution. The click probability is ``sigmoid(a . log1p(dense) + sum_f e_f[id] + c)``
with hidden per-id effects ``e_f`` on the first ``num_signal_features`` features, so a model
that learns the embeddings reaches an AUC well above 0.5 (the Bayes AUC is reported as
``optimal_auc`` on the generator).

Example:
    >>> gen = SyntheticCriteo(num_embeddings=100, num_sparse=3, num_dense=2, seed=0)
    >>> b = gen.batch(4)
    >>> b.dense_features.shape, b.sparse_features.keys()
    (torch.Size([4, 2]), ['cat_0', 'cat_1', 'cat_2'])
"""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from ..sparse.jagged_tensor import KeyedJaggedTensor
from .utils import Batch

__all__ = ["SyntheticCriteo"]


class SyntheticCriteo:
    """Generator of Criteo-shaped batches with a learnable signal.

    Args:
        num_embeddings: ids per sparse feature.
        num_sparse: number of sparse features (``cat_i``).
        num_dense: number of dense features.
        num_signal_features: sparse features whose ids affect the label.
        max_ids_per_feature: each bag has 1..this many ids.
        signal_scale: standard deviation of the planted per-id effects.
        seed: fixes the hidden effects and the sample stream.
    """

    def __init__(
        self,
        num_embeddings: int = 1000,
        num_sparse: int = 26,
        num_dense: int = 13,
        num_signal_features: int = 4,
        max_ids_per_feature: int = 3,
        signal_scale: float = 1.5,
        seed: int = 0,
    ) -> None:
        self.num_embeddings = num_embeddings
        self.num_sparse = num_sparse
        self.num_dense = num_dense
        self.max_ids = max_ids_per_feature
        self.keys = [f"cat_{i}" for i in range(num_sparse)]
        self.rng = np.random.default_rng(seed)
        k = min(num_signal_features, num_sparse)
        self.effects = np.zeros((num_sparse, num_embeddings))
        self.effects[:k] = self.rng.normal(0.0, signal_scale, (k, num_embeddings))
        self.dense_w = self.rng.normal(0.0, 0.3, num_dense)
        self.bias = -1.0
        ranks = np.arange(1, num_embeddings + 1)
        self.id_p = (1.0 / ranks**0.8) / np.sum(1.0 / ranks**0.8)

    def arrays(self, n: int) -> dict:
        """Raw arrays: dense (n x D), lengths (F*n, key-major), ids, labels, probabilities."""
        rng = self.rng
        dense_raw = np.floor(rng.lognormal(1.0, 1.2, (n, self.num_dense)))
        dense = np.log1p(dense_raw)
        lengths = rng.integers(1, self.max_ids + 1, (self.num_sparse, n))
        ids = rng.choice(self.num_embeddings, size=int(lengths.sum()), p=self.id_p)
        feat = np.repeat(np.repeat(np.arange(self.num_sparse), n), lengths.reshape(-1))
        row = np.repeat(np.tile(np.arange(n), self.num_sparse), lengths.reshape(-1))
        # a bag's effect is the mean of its ids' effects
        per = self.effects[feat, ids] / lengths.reshape(-1).repeat(lengths.reshape(-1))
        logit = dense @ self.dense_w + np.bincount(row, weights=per, minlength=n) + self.bias
        p = 1.0 / (1.0 + np.exp(-logit))
        labels = (rng.random(n) < p).astype(np.float32)
        return {
            "dense": dense.astype(np.float32),
            "lengths": lengths.reshape(-1).astype(np.int32),
            "ids": ids.astype(np.int64),
            "labels": labels,
            "p": p,
        }

    def batch(self, n: int) -> Batch:
        """One Batch of ``n`` samples."""
        a = self.arrays(n)
        kjt = KeyedJaggedTensor.from_lengths_sync(
            self.keys, torch.from_numpy(a["ids"]), torch.from_numpy(a["lengths"])
        )
        return Batch(torch.from_numpy(a["dense"]), kjt, torch.from_numpy(a["labels"]))
