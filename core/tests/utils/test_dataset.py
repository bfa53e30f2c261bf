"""Datasets: TensorDataset, StackDataset, ConcatDataset, ChainDataset, Subset, random_split."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.core.utils.data import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i


class Count(IterableDataset):
    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self):
        return self.stop - self.start


def test_dataset_base_requires_getitem():
    with pytest.raises(NotImplementedError, match="Subclasses of Dataset should implement"):
        Dataset()[0]
    with pytest.raises(TypeError):
        len(Dataset())


def test_tensor_dataset_rows():
    x = torch.arange(12.0).reshape(4, 3)
    y = torch.tensor([3, 1, 4, 1])
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    a, b = ds[2]
    np.testing.assert_array_equal(a.numpy(), [6.0, 7.0, 8.0])
    assert b.item() == 4 and isinstance(b, torch.Tensor)
    # slices and index lists select several rows at once
    rows, labels = ds[1:3]
    np.testing.assert_array_equal(labels.numpy(), [1, 4])
    assert rows.shape == (2, 3)


def test_tensor_dataset_size_mismatch():
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(torch.zeros(3, 2), torch.zeros(4))


def test_stack_dataset_tuple_and_dict():
    s = StackDataset([1, 2, 3], ["a", "b", "c"])
    assert len(s) == 3 and s[1] == (2, "b")
    d = StackDataset(x=[1, 2], y=[10, 20])
    assert d[0] == {"x": 1, "y": 10}
    assert d.__getitems__([1, 0]) == [{"x": 2, "y": 20}, {"x": 1, "y": 10}]
    assert s.__getitems__([2, 0]) == [(3, "c"), (1, "a")]


def test_stack_dataset_errors():
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset([1, 2], [1])
    with pytest.raises(ValueError, match="but both types are given"):
        StackDataset([1], x=[1])
    with pytest.raises(ValueError, match="At least one dataset should be passed"):
        StackDataset()


def test_concat_dataset_indexing():
    ds = ConcatDataset([Squares(3), Squares(2), [100, 200, 300]])
    assert len(ds) == 8
    assert ds.cumulative_sizes == [3, 5, 8]
    assert [ds[i] for i in range(8)] == [0, 1, 4, 0, 1, 100, 200, 300]
    assert ds[-1] == 300 and ds[-8] == 0
    with pytest.raises(ValueError, match="absolute value of index should not exceed"):
        ds[-9]
    # Dataset + Dataset concatenates
    both = Squares(2) + Squares(3)
    assert isinstance(both, ConcatDataset) and [both[i] for i in range(5)] == [0, 1, 0, 1, 4]


def test_concat_dataset_refuses_iterable_and_empty():
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        ConcatDataset([Count(0, 2)])
    with pytest.raises(AssertionError, match="should not be an empty iterable"):
        ConcatDataset([])


def test_chain_dataset():
    ch = ChainDataset([Count(0, 3), Count(10, 12)])
    assert list(ch) == [0, 1, 2, 10, 11]
    assert len(ch) == 5
    assert list(Count(0, 2) + Count(5, 6)) == [0, 1, 5]
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        list(ChainDataset([Squares(2)]))


def test_subset():
    s = Subset(Squares(10), [9, 2, 5])
    assert len(s) == 3
    assert [s[i] for i in range(3)] == [81, 4, 25]
    assert s.__getitems__([0, 2]) == [81, 25]


def test_subset_override_needs_getitems():
    class Bad(Subset):
        def __getitem__(self, idx):
            return 0

    with pytest.raises(NotImplementedError, match="overrides __getitem__ but not __getitems__"):
        Bad(Squares(3), [0])


def test_random_split_lengths_partition():
    g = torch.Generator().manual_seed(0)
    parts = random_split(range(10), [3, 7], generator=g)
    assert [len(p) for p in parts] == [3, 7]
    items = sorted(x for p in parts for x in p)
    assert items == list(range(10))


def test_random_split_fractions_distribute_remainder():
    parts = random_split(range(11), [0.5, 0.3, 0.2], generator=torch.Generator().manual_seed(1))
    # floor(5.5)=5, floor(3.3)=3, floor(2.2)=2, remainder 1 goes to the first split
    assert [len(p) for p in parts] == [6, 3, 2]
    assert sorted(x for p in parts for x in p) == list(range(11))


def test_random_split_reproducible_and_uses_generator():
    a = random_split(range(20), [10, 10], generator=torch.Generator().manual_seed(7))
    b = random_split(range(20), [10, 10], generator=torch.Generator().manual_seed(7))
    c = random_split(range(20), [10, 10], generator=torch.Generator().manual_seed(8))
    assert list(a[0]) == list(b[0])
    assert list(a[0]) != list(c[0])
    # the split is the generator's permutation cut in order
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(7)).tolist()
    assert list(a[0].indices) == perm[:10] and list(a[1].indices) == perm[10:]


def test_random_split_default_generator_follows_manual_seed():
    torch.manual_seed(3)
    a = random_split(range(8), [4, 4])
    torch.manual_seed(3)
    b = random_split(range(8), [4, 4])
    assert list(a[0].indices) == list(b[0].indices)


def test_random_split_errors_and_warning():
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(range(5), [2, 2])
    with pytest.raises(ValueError, match="Fraction at index 1 is not between 0 and 1"):
        random_split(range(5), [0.5, 1.5, -1.0])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [1.0, 0.0])
