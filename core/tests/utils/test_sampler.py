"""Samplers: order, counts, reproducibility and torch's argument checks."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import tocha.core as torch
from tocha.core.utils.data import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_sampler_base():
    with pytest.raises(NotImplementedError):
        iter(Sampler())
    Sampler(range(3))  # torch's old data_source argument is accepted


def test_sequential_sampler():
    s = SequentialSampler(range(5))
    assert list(s) == [0, 1, 2, 3, 4] and len(s) == 5


def test_random_sampler_is_a_seeded_permutation():
    s = RandomSampler(range(10), generator=gen(0))
    a = list(s)
    assert sorted(a) == list(range(10)) and a != list(range(10))
    # the generator is consumed: the next epoch is a different permutation
    b = list(s)
    assert sorted(b) == list(range(10)) and a != b
    assert a == list(RandomSampler(range(10), generator=gen(0)))
    assert a == torch.randperm(10, generator=gen(0)).tolist()


def test_random_sampler_without_generator_follows_manual_seed():
    torch.manual_seed(11)
    a = list(RandomSampler(range(20)))
    torch.manual_seed(11)
    b = list(RandomSampler(range(20)))
    assert a == b and sorted(a) == list(range(20))


def test_random_sampler_num_samples_without_replacement_repeats_permutations():
    s = RandomSampler(range(4), num_samples=10, generator=gen(1))
    out = list(s)
    assert len(out) == 10 == len(s)
    assert sorted(out[:4]) == [0, 1, 2, 3] and sorted(out[4:8]) == [0, 1, 2, 3]
    assert len(set(out[8:])) == 2


def test_random_sampler_with_replacement():
    s = RandomSampler(range(3), replacement=True, num_samples=1000, generator=gen(2))
    out = list(s)
    assert len(out) == 1000 == len(s)
    counts = collections.Counter(out)
    assert set(counts) == {0, 1, 2}
    # uniform: each about a third (binomial sd ~15)
    assert all(abs(c - 333) < 75 for c in counts.values())
    # 70 = 2 chunks of 32 and a rest of 6
    assert len(list(RandomSampler(range(3), True, 70, generator=gen(0)))) == 70


def test_random_sampler_errors():
    with pytest.raises(TypeError, match="replacement should be a boolean value, but got"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler([])


def test_subset_random_sampler():
    idx = [7, 3, 9, 1]
    s = SubsetRandomSampler(idx, generator=gen(3))
    out = list(s)
    assert sorted(out) == sorted(idx) and len(s) == 4
    perm = torch.randperm(4, generator=gen(3)).tolist()
    assert out == [idx[i] for i in perm]


def test_weighted_random_sampler_with_replacement_frequencies():
    w = [1.0, 3.0, 0.0, 6.0]
    s = WeightedRandomSampler(w, 4000, generator=gen(4))
    out = list(s)
    assert len(out) == 4000 == len(s)
    freq = np.bincount(out, minlength=4) / 4000
    np.testing.assert_allclose(freq, np.array(w) / 10, atol=0.03)
    assert freq[2] == 0


def test_weighted_random_sampler_without_replacement():
    out = list(WeightedRandomSampler([1.0, 2.0, 3.0, 4.0], 4, replacement=False, generator=gen(5)))
    assert sorted(out) == [0, 1, 2, 3]
    # zero-weight entries never appear
    out = list(WeightedRandomSampler([0.0, 1.0, 1.0], 2, replacement=False, generator=gen(6)))
    assert sorted(out) == [1, 2]
    assert s_equal(
        WeightedRandomSampler([1.0, 5.0], 10, generator=gen(9)),
        WeightedRandomSampler([1.0, 5.0], 10, generator=gen(9)),
    )


def s_equal(a, b):
    return list(a) == list(b)


def test_weighted_random_sampler_errors():
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        WeightedRandomSampler([1.0], 0)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        WeightedRandomSampler([1.0], True)
    with pytest.raises(ValueError, match="replacement should be a boolean value"):
        WeightedRandomSampler([1.0], 1, replacement="yes")
    with pytest.raises(ValueError, match=r"weights should be a 1d sequence .* shape \(1, 2\)"):
        WeightedRandomSampler([[1.0, 2.0]], 1)


def test_batch_sampler():
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert list(BatchSampler(range(6), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3
    assert len(BatchSampler(range(7), 3, True)) == 2
    assert len(BatchSampler(range(0), 3, False)) == 0
    s = BatchSampler(RandomSampler(range(10), generator=gen(0)), 4, False)
    flat = [i for b in s for i in b]
    assert sorted(flat) == list(range(10))


def test_batch_sampler_errors():
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
            BatchSampler(range(3), bad, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value, but got"):
        BatchSampler(range(3), 2, 0)
