"""RandomRecDataset: random KJT batches for smoke tests and benchmarks
(torchrec.datasets.random).

Example:
    >>> ds = RandomRecDataset(keys=["f1", "f2"], batch_size=3, hash_size=10, ids_per_feature=2,
    ...                       num_dense=4, manual_seed=0, num_batches=2)
    >>> batches = list(ds)
    >>> len(batches), batches[0].sparse_features.lengths().tolist()
    (2, [2, 2, 2, 2, 2, 2])
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

import tocha.core as torch

from ..sparse.jagged_tensor import KeyedJaggedTensor
from .utils import Batch

__all__ = ["RandomRecDataset"]


class RandomRecDataset:
    """Random batches: uniform dense features, ``ids_per_feature`` uniform ids per feature and
    row (or between ``min_ids_per_feature`` and that), and 0/1 labels.

    Args:
        keys: feature names.
        batch_size: rows per batch.
        hash_size: id range of every feature (or ``hash_sizes`` per feature).
        ids_per_feature: ids per row (or ``ids_per_features`` per feature); the maximum when
            ``min_ids_per_feature`` is set.
        num_dense: dense feature count.
        manual_seed: seeds the stream.
        num_generated_batches: distinct batches generated, then cycled.
        num_batches: batches per iteration (None: endless).
    """

    def __init__(
        self,
        keys: list[str],
        batch_size: int,
        hash_size: int | None = 100,
        hash_sizes: list[int] | None = None,
        ids_per_feature: int | None = 2,
        ids_per_features: list[int] | None = None,
        num_dense: int = 50,
        manual_seed: int | None = None,
        num_generated_batches: int = 10,
        num_batches: int | None = None,
        *,
        min_ids_per_feature: int | None = None,
        min_ids_per_features: list[int] | None = None,
    ) -> None:
        n = len(keys)
        self.keys = list(keys)
        self.batch_size = batch_size
        self.hash_sizes = list(hash_sizes) if hash_sizes is not None else [hash_size] * n
        self.ids_per_features = (
            list(ids_per_features) if ids_per_features is not None else [ids_per_feature] * n
        )
        if min_ids_per_features is not None:
            self.min_ids = list(min_ids_per_features)
        elif min_ids_per_feature is not None:
            self.min_ids = [min_ids_per_feature] * n
        else:
            self.min_ids = list(self.ids_per_features)
        if not (len(self.hash_sizes) == len(self.ids_per_features) == len(self.min_ids) == n):
            raise ValueError("RandomRecDataset: per-feature lists must have one entry per key")
        self.num_dense = num_dense
        self.num_batches = num_batches
        rng = np.random.default_rng(manual_seed)
        self._batches = [self._make(rng) for _ in range(max(1, num_generated_batches))]

    def _make(self, rng: np.random.Generator) -> Batch:
        b = self.batch_size
        lengths = np.concatenate(
            [rng.integers(lo, hi + 1, b) for lo, hi in zip(self.min_ids, self.ids_per_features)]
        ).astype(np.int32)
        per_key = lengths.reshape(len(self.keys), b).sum(1)
        ids = np.concatenate([rng.integers(0, h, int(c)) for h, c in zip(self.hash_sizes, per_key)])
        kjt = KeyedJaggedTensor.from_lengths_sync(
            self.keys, torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(lengths)
        )
        dense = torch.from_numpy(rng.random((b, self.num_dense), dtype=np.float32))
        labels = torch.from_numpy(rng.integers(0, 2, b).astype(np.float32))
        return Batch(dense, kjt, labels)

    def __iter__(self) -> Iterator[Batch]:
        k = 0
        while self.num_batches is None or k < self.num_batches:
            yield self._batches[k % len(self._batches)]
            k += 1
