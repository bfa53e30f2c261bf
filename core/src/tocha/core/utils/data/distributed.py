"""DistributedSampler: each rank of a distributed job reads its own shard of a dataset.

The index arithmetic (padding by repeating from the start, ``drop_last`` trimming, the
``rank::num_replicas`` stride) is torch's exactly. With ``shuffle=True`` the permutation is
drawn from a :class:`~tocha.core.Generator` seeded with ``seed + epoch``; every rank draws the
same permutation, so the shards stay disjoint. tocha's generator stream differs from torch's
(PCG64 vs MT19937), so the shuffled order differs from torch's while the structure is the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TypeVar

from ..._ops.random import Generator, randperm
from .dataset import Dataset
from .sampler import Sampler

__all__ = ["DistributedSampler"]

T_co = TypeVar("T_co", covariant=True)


def _default_group_value(what: str) -> int:
    """World size or rank of the default process group (torch raises if it is not set up)."""
    from ... import distributed as dist

    if not dist.is_available():
        raise RuntimeError("Requires distributed package to be available")
    return dist.get_world_size() if what == "num_replicas" else dist.get_rank()


class DistributedSampler(Sampler[T_co]):
    """Restrict data loading to the shard of the dataset that belongs to one rank.

    Use it as the ``sampler=`` of a :class:`~tocha.core.utils.data.DataLoader` in each process
    and call :meth:`set_epoch` at the start of every epoch so that the shuffle changes.

    Args:
        dataset: the dataset to sample from (needs ``len``).
        num_replicas: number of ranks; by default the world size of the default process group.
        rank: this process' rank; by default the rank in the default process group.
        shuffle: permute the indices (the same permutation on every rank) each epoch.
        seed: seed of the permutation; must be the same on every rank.
        drop_last: drop the tail so every rank gets ``len(dataset) // num_replicas`` indices;
            otherwise the indices are padded by repeating from the start, so every rank gets
            ``ceil(len(dataset) / num_replicas)``.

    Example:
        >>> from tocha.core.utils.data import DistributedSampler
        >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
        [1, 3, 0]
    """

    def __init__(
        self,
        dataset: Dataset,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None:
            num_replicas = _default_group_value("num_replicas")
        if rank is None:
            rank = _default_group_value("rank")
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(self.dataset)
        if self.drop_last and n % self.num_replicas != 0:
            # drop the tail rather than pad: every rank receives the same amount of data
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[T_co]:
        n = len(self.dataset)
        if self.shuffle:
            # deterministic on every rank: the seed and epoch are shared
            g = Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[: self.total_size]
        if len(indices) != self.total_size:
            raise RuntimeError(
                f"DistributedSampler: built {len(indices)} indices, expected {self.total_size} "
                f"(the dataset's length changed from {n}?)"
            )
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch; with ``shuffle=True`` it selects the permutation of that epoch.

        Call it before creating the DataLoader iterator of each epoch, on every rank.
        """
        self.epoch = epoch
