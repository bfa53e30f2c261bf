"""Samplers: the order in which a :class:`~tocha.core.utils.data.DataLoader` visits indices.

Random samplers draw from a tocha :class:`~tocha.core.Generator` (``generator=``): the same
seed gives the same order. The streams differ from torch's (tocha's CPU generator is PCG64,
torch's is MT19937), the distributions and the API are the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Generic, TypeVar

import numpy as np

from ... import _dtype
from ..._ops.creation import as_tensor, empty, tensor
from ..._ops.random import Generator, multinomial, randint, randperm
from ..._tensor import Tensor

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]

T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """Base class of samplers: subclasses implement ``__iter__`` (and usually ``__len__``).

    A sampler yields dataset indices, or lists of indices for a batch sampler.

    Example:
        >>> from tocha.core.utils.data import Sampler
        >>> class Reversed(Sampler[int]):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         return iter(range(self.n - 1, -1, -1))
        ...     def __len__(self):
        ...         return self.n
        >>> list(Reversed(3))
        [2, 1, 0]
    """

    def __init__(self, *args, **kwargs) -> None:
        pass  # torch's old ``data_source`` argument is accepted and ignored

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError

    # No default __len__: len() of a sampler without one raises TypeError, as in torch.


class SequentialSampler(Sampler[int]):
    """Indices ``0 .. len(data_source) - 1`` in order.

    Example:
        >>> from tocha.core.utils.data import SequentialSampler
        >>> list(SequentialSampler("abc"))
        [0, 1, 2]
    """

    data_source: Sized

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _fresh_generator() -> Generator:
    # torch's rule: a sampler without a generator seeds a private one from the global stream,
    # so manual_seed() makes the order reproducible and every epoch still differs
    seed = int(empty((), dtype=_dtype.int64).random_().item())
    return Generator().manual_seed(seed)


class RandomSampler(Sampler[int]):
    """Random indices: a permutation, or ``num_samples`` draws with replacement.

    Without replacement and ``num_samples > len(data_source)``, whole permutations follow each
    other (then part of one), so every index appears as evenly as possible.

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw with replacement.
        num_samples: how many indices per epoch (default ``len(data_source)``).
        generator: the random generator (default: a fresh one seeded from the global stream).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.utils.data import RandomSampler
        >>> sorted(RandomSampler(range(5), generator=torch.Generator().manual_seed(0)))
        [0, 1, 2, 3, 4]
        >>> len(RandomSampler(range(5), replacement=True, num_samples=8))
        8
    """

    data_source: Sized
    replacement: bool

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator=None,
    ) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={self.replacement}"
            )
        n = self.num_samples
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={n}"
            )

    @property
    def num_samples(self) -> int:
        # the dataset may change size between epochs
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        gen = self.generator if self.generator is not None else _fresh_generator()
        k = self.num_samples
        if self.replacement:
            # draws in chunks of 32 (as torch does) so a partly consumed epoch costs little
            for _ in range(k // 32):
                yield from randint(0, n, (32,), generator=gen).tolist()
            yield from randint(0, n, (k % 32,), generator=gen).tolist()
        else:
            for _ in range(k // n):
                yield from randperm(n, generator=gen).tolist()
            yield from randperm(n, generator=gen).tolist()[: k % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices in a random order (without replacement).

    Args:
        indices: the indices to sample from.
        generator: the random generator.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.utils.data import SubsetRandomSampler
        >>> s = SubsetRandomSampler([10, 20, 30], generator=torch.Generator().manual_seed(1))
        >>> sorted(s), len(s)
        ([10, 20, 30], 3)
    """

    indices: Sequence[int]

    def __init__(self, indices: Sequence[int], generator=None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """Indices ``0 .. len(weights) - 1`` drawn with probabilities proportional to ``weights``.

    Args:
        weights: non-negative weights (need not sum to one).
        num_samples: how many indices to draw.
        replacement: draw with replacement; without it no index repeats.
        generator: the random generator.

    Example:
        >>> from tocha.core.utils.data import WeightedRandomSampler
        >>> list(WeightedRandomSampler([0.0, 1.0, 0.0], 3))
        [1, 1, 1]
        >>> sorted(WeightedRandomSampler([1.0, 2.0, 3.0], 3, replacement=False))
        [0, 1, 2]
    """

    num_samples: int
    replacement: bool

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator=None,
    ) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={num_samples}"
            )
        if not isinstance(replacement, bool):
            raise ValueError(
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        if isinstance(weights, (Tensor, np.ndarray)):
            w = as_tensor(weights, dtype=_dtype.float64)
        else:  # as_tensor(list, dtype=) is not usable in core yet: copy via tensor()
            w = tensor(weights, dtype=_dtype.float64)
        if w.ndim != 1:
            raise ValueError(
                f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}"
            )
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        drawn = multinomial(
            self.weights, self.num_samples, self.replacement, generator=self.generator
        )
        yield from drawn.tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Groups the indices of another sampler into lists of ``batch_size``.

    Args:
        sampler: a sampler or any iterable of indices.
        batch_size: indices per batch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.

    Example:
        >>> from tocha.core.utils.data import BatchSampler, SequentialSampler
        >>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
        [[0, 1, 2], [3, 4, 5], [6]]
        >>> len(BatchSampler(range(7), batch_size=3, drop_last=True))
        2
    """

    def __init__(
        self, sampler: Sampler[int] | Iterable[int], batch_size: int, drop_last: bool
    ) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        it = iter(self.sampler)
        size = self.batch_size
        if self.drop_last:
            # zip over one iterator repeated: stops at the first incomplete batch
            for batch in zip(*([it] * size)):
                yield list(batch)
        else:
            batch = list(itertools.islice(it, size))
            while batch:
                yield batch
                batch = list(itertools.islice(it, size))

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
