"""Length-bucketing batch sampler: batches of similar lengths, so padding stays small."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

import tocha.core as torch
from tocha.core.utils.data import Sampler

__all__ = ["BucketBatchSampler"]


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose examples have similar lengths; pass as ``batch_sampler=``.

    Each epoch the indices are shuffled (with ``shuffle``), split into pools of
    ``batch_size * bucket_size_multiplier``, sorted by length inside each pool, cut into
    batches, and the batches are shuffled. Every index appears exactly once per epoch (at most
    one batch is short, dropped with ``drop_last``).

    Args:
        lengths: the length of every example (e.g. ``[len(ids) for ids in dataset]``).
        batch_size: examples per batch.
        drop_last: drop the short batch.
        shuffle: randomise pools and batch order (else pools follow index order).
        bucket_size_multiplier: pool size in batches; larger pools sort more globally and give
            less padding but less randomness.
        generator: a ``tocha.core.Generator`` for reproducible orders.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.text.data import BucketBatchSampler
        >>> s = BucketBatchSampler([5, 1, 4, 2, 3, 1], batch_size=2, shuffle=False)
        >>> list(s)
        [[1, 5], [3, 4], [2, 0]]
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        drop_last: bool = False,
        shuffle: bool = True,
        bucket_size_multiplier: int = 100,
        generator=None,
    ) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"BucketBatchSampler: batch_size should be a positive integer, got {batch_size}"
            )
        if bucket_size_multiplier <= 0:
            raise ValueError(
                "BucketBatchSampler: bucket_size_multiplier should be positive, got "
                f"{bucket_size_multiplier}"
            )
        self.lengths = np.asarray(lengths, dtype=np.int64).ravel()
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.bucket_size_multiplier = bucket_size_multiplier
        self.generator = generator

    def _perm(self, n: int, gen) -> np.ndarray:
        return torch.randperm(n, generator=gen).numpy()

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self.lengths)
        if n == 0:
            return
        gen = self.generator
        if self.shuffle and gen is None:
            # as RandomSampler: seeded from the global stream, so manual_seed() reproduces it
            seed = int(torch.empty((), dtype=torch.int64).random_().item())
            gen = torch.Generator().manual_seed(seed)
        order = self._perm(n, gen) if self.shuffle else np.arange(n)
        pool = self.batch_size * self.bucket_size_multiplier
        pool_id = np.arange(n) // pool
        # sort by length inside each pool (stable, so equal lengths keep their shuffled order)
        order = order[np.lexsort((self.lengths[order], pool_id))]
        n_full = n // self.batch_size
        cut = n_full * self.batch_size
        batches = list(order[:cut].reshape(n_full, self.batch_size))
        if cut < n and not self.drop_last:
            batches.append(order[cut:])
        if self.shuffle:
            batches = [batches[i] for i in self._perm(len(batches), gen)]
        for b in batches:
            yield b.tolist()

    def __len__(self) -> int:
        n = len(self.lengths)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)
