"""Datasets: the map-style and iterable-style bases and the ways to combine and split them.

A map-style :class:`Dataset` answers ``dataset[i]`` and ``len(dataset)``; an
:class:`IterableDataset` is a stream (``iter(dataset)``), for data read sequentially. The
combinators (:class:`TensorDataset`, :class:`StackDataset`, :class:`ConcatDataset`,
:class:`ChainDataset`, :class:`Subset`, :func:`random_split`) behave like torch's.
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

from ..._ops.random import default_generator, randperm
from ..._tensor import Tensor

__all__ = [
    "Dataset",
    "IterableDataset",
    "TensorDataset",
    "StackDataset",
    "ConcatDataset",
    "ChainDataset",
    "Subset",
    "random_split",
]

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")


class Dataset(Generic[T_co]):
    """A map-style dataset: subclasses implement ``__getitem__`` and usually ``__len__``.

    ``__getitems__(indices)`` may be added to fetch a whole batch in one call; the
    :class:`~tocha.core.utils.data.DataLoader` uses it when present. ``a + b`` concatenates.

    Example:
        >>> from tocha.core.utils.data import Dataset
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return i * i
        >>> ds = Squares()
        >>> [ds[i] for i in range(len(ds))]
        [0, 1, 4, 9]
        >>> len(ds + ds)
        8
    """

    def __getitem__(self, index) -> T_co:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset[T_co]) -> ConcatDataset[T_co]:
        return ConcatDataset([self, other])

    # No default __len__: len() of a dataset without one raises TypeError, as in torch.


class IterableDataset(Dataset[T_co], Iterable[T_co]):
    """An iterable-style dataset: subclasses implement ``__iter__``.

    With ``num_workers > 0`` every worker process gets its own copy of the dataset and iterates
    it; use :func:`~tocha.core.utils.data.get_worker_info` inside ``__iter__`` to give each
    worker its own share of the stream (otherwise every sample comes once per worker).
    ``a + b`` chains two iterable datasets.

    Example:
        >>> from tocha.core.utils.data import IterableDataset, get_worker_info
        >>> class Range(IterableDataset):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         info = get_worker_info()
        ...         if info is None:  # in the main process: the whole stream
        ...             return iter(range(self.n))
        ...         return iter(range(info.id, self.n, info.num_workers))
        >>> list(Range(5))
        [0, 1, 2, 3, 4]
        >>> list(Range(2) + Range(3))
        [0, 1, 0, 1, 2]
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other: Dataset[T_co]) -> ChainDataset:
        return ChainDataset([self, other])


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are the rows of tensors that share their first dimension.

    Args:
        *tensors: tensors with the same size of the first dimension.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.utils.data import TensorDataset
        >>> ds = TensorDataset(torch.arange(6).reshape(3, 2), torch.tensor([0, 1, 0]))
        >>> len(ds), ds[1]
        (3, (tensor([2, 3]), tensor(1)))
    """

    tensors: tuple[Tensor, ...]

    def __init__(self, *tensors: Tensor) -> None:
        if any(tensors[0].size(0) != t.size(0) for t in tensors):
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].size(0)


class StackDataset(Dataset[T_co]):
    """Zips datasets of equal length: samples are tuples (positional) or dicts (keywords).

    Args:
        *args: datasets whose samples form a tuple.
        **kwargs: datasets whose samples form a dict under the given keys.

    Example:
        >>> from tocha.core.utils.data import StackDataset
        >>> ds = StackDataset(image=[10, 11], label=[0, 1])
        >>> ds[1]
        {'image': 11, 'label': 1}
        >>> StackDataset([1, 2], [3, 4])[0]
        (1, 3)
    """

    datasets: tuple | dict

    def __init__(self, *args: Dataset[T_co], **kwargs: Dataset[T_co]) -> None:
        if args and kwargs:
            raise ValueError(
                "Supported either ``tuple``- (via ``args``) or``dict``- (via ``kwargs``) like "
                "input/output, but both types are given."
            )
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        parts = list(args) if args else list(kwargs.values())
        self._length = len(parts[0])
        if any(self._length != len(d) for d in parts):
            raise ValueError("Size mismatch between datasets")
        self.datasets = args if args else kwargs

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def _column(self, dataset, indices: list) -> list:
        getitems = getattr(dataset, "__getitems__", None)
        if callable(getitems):
            items = getitems(indices)
            if len(items) != len(indices):
                raise ValueError(
                    f"Nested dataset's output size mismatch. Expected {len(indices)}, "
                    f"got {len(items)}"
                )
            return list(items)
        return [dataset[i] for i in indices]

    def __getitems__(self, indices: list) -> list:
        if isinstance(self.datasets, dict):
            cols = {k: self._column(d, indices) for k, d in self.datasets.items()}
            return [{k: c[j] for k, c in cols.items()} for j in range(len(indices))]
        cols = [self._column(d, indices) for d in self.datasets]
        return [tuple(c[j] for c in cols) for j in range(len(indices))]

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset[T_co]):
    """Several map-style datasets one after the other.

    Args:
        datasets: the datasets to concatenate (not iterable-style ones).

    Example:
        >>> from tocha.core.utils.data import ConcatDataset
        >>> ds = ConcatDataset([[0, 1, 2], [10, 11]])
        >>> len(ds), ds[3], ds[-1], ds.cumulative_sizes
        (5, 10, 11, [3, 5])
    """

    datasets: list[Dataset[T_co]]
    cumulative_sizes: list[int]

    @staticmethod
    def cumsum(sequence) -> list[int]:
        out, total = [], 0
        for d in sequence:
            total += len(d)
            out.append(total)
        return out

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]

    @property
    def cummulative_sizes(self) -> list[int]:
        warnings.warn(
            "cummulative_sizes attribute is renamed to cumulative_sizes",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.cumulative_sizes


class ChainDataset(IterableDataset):
    """Several iterable-style datasets chained into one stream (built lazily).

    Args:
        datasets: iterable-style datasets.

    Example:
        >>> from tocha.core.utils.data import ChainDataset, IterableDataset
        >>> class Count(IterableDataset):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         return iter(range(self.n))
        ...     def __len__(self):
        ...         return self.n
        >>> ds = ChainDataset([Count(2), Count(3)])
        >>> list(ds), len(ds)
        ([0, 1, 0, 1, 2], 5)
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        super().__init__()
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order.

    Args:
        dataset: the whole dataset.
        indices: positions in ``dataset`` that form the subset.

    Example:
        >>> from tocha.core.utils.data import Subset
        >>> s = Subset(["a", "b", "c", "d"], [3, 1])
        >>> len(s), s[0], s[1]
        (2, 'd', 'b')
    """

    dataset: Dataset[T_co]
    indices: Sequence[int]

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        cls = type(self)
        if cls.__getitem__ is not Subset.__getitem__ and cls.__getitems__ is Subset.__getitems__:
            # the loader would call the inherited __getitems__ and bypass the override
            raise NotImplementedError(
                f"{cls.__name__} overrides __getitem__ but not __getitems__. When subclassing "
                "Subset and overriding __getitem__, you must also override __getitems__ to "
                "ensure DataLoader works correctly with your custom logic. A simple "
                "implementation:\n\n"
                "def __getitems__(self, indices):\n"
                "    return [self.__getitem__(idx) for idx in indices]"
            )

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list) -> list:
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(
    dataset: Dataset[T],
    lengths: Sequence[int | float],
    generator=default_generator,
) -> list[Subset[T]]:
    """Split a dataset at random into non-overlapping subsets of the given lengths.

    ``lengths`` are sizes summing to ``len(dataset)``, or fractions summing to 1: each split
    gets ``floor(frac * len(dataset))`` samples and the remainder is dealt out one at a time,
    round-robin from the first split.

    Args:
        dataset: the dataset to split.
        lengths: sizes or fractions of the splits.
        generator: the random generator for the permutation (default: the global one).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.utils.data import random_split
        >>> a, b, c = random_split(range(10), [0.5, 0.3, 0.2], generator=torch.Generator().manual_seed(0))
        >>> len(a), len(b), len(c)
        (5, 3, 2)
        >>> sorted(list(a) + list(b) + list(c)) == list(range(10))
        True
    """
    n = len(dataset)
    lengths = list(lengths)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(int(math.floor(n * frac)))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.",
                    stacklevel=2,
                )
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    perm = randperm(sum(lengths), generator=generator).tolist()
    return [
        Subset(dataset, perm[end - size : end])
        for end, size in zip(itertools.accumulate(lengths), lengths)
    ]
