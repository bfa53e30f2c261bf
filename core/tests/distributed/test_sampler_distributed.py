"""DistributedSampler: shards, padding, drop_last and per-epoch shuffles (no MPI needed).

The shuffle=False sequences below are torch 2.x's own outputs; with shuffle=True the
permutation comes from tocha's generator (a different stream from torch's), so the structure
is tested instead: disjoint shards covering the dataset, padding, determinism and reshuffling.
"""

from __future__ import annotations

import math

import pytest

import tocha.core as torch
from tocha.core.utils.data import DataLoader, DistributedSampler, TensorDataset


def shards(n, replicas, **kw):
    return [list(DistributedSampler(range(n), replicas, r, **kw)) for r in range(replicas)]


@pytest.mark.parametrize(
    ("n", "replicas", "drop_last", "expected"),
    [
        # torch.utils.data.DistributedSampler(range(n), replicas, rank, shuffle=False, ...)
        (7, 3, False, [[0, 3, 6], [1, 4, 0], [2, 5, 1]]),
        (7, 3, True, [[0, 3], [1, 4], [2, 5]]),
        (2, 5, False, [[0], [1], [0], [1], [0]]),
        (10, 4, False, [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]),
        (8, 4, True, [[0, 4], [1, 5], [2, 6], [3, 7]]),
        (0, 2, False, [[], []]),
    ],
)
def test_unshuffled_matches_torch(n, replicas, drop_last, expected):
    got = shards(n, replicas, shuffle=False, drop_last=drop_last)
    assert got == expected
    assert [len(DistributedSampler(range(n), replicas, r, drop_last=drop_last))
            for r in range(replicas)] == [len(e) for e in expected]  # fmt: skip


@pytest.mark.parametrize("n", [1, 5, 12, 13, 31])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
def test_shuffled_shards_pad_and_cover(n, replicas):
    parts = shards(n, replicas, shuffle=True, seed=3)
    per = math.ceil(n / replicas)
    assert all(len(p) == per for p in parts)
    flat = [i for p in parts for i in p]
    assert sorted(set(flat)) == list(range(n))
    # the interleaved shards rebuild one permutation followed by its own first elements
    order = [parts[k % replicas][k // replicas] for k in range(per * replicas)]
    perm, pad = order[:n], order[n:]
    assert sorted(perm) == list(range(n))
    assert pad == (perm * math.ceil(max(len(pad), 1) / n))[: len(pad)]


@pytest.mark.parametrize(("n", "replicas"), [(13, 4), (10, 3), (8, 4), (3, 4)])
def test_shuffled_drop_last_is_disjoint(n, replicas):
    parts = shards(n, replicas, shuffle=True, drop_last=True, seed=11)
    per = n // replicas
    assert all(len(p) == per for p in parts)
    flat = [i for p in parts for i in p]
    assert len(set(flat)) == len(flat) == per * replicas
    assert set(flat) <= set(range(n))


def test_epochs_are_deterministic_and_reshuffle():
    s = DistributedSampler(range(64), num_replicas=2, rank=0, seed=5)
    s.set_epoch(0)
    e0 = list(s)
    assert list(s) == e0  # the same epoch gives the same order again
    s.set_epoch(1)
    e1 = list(s)
    assert e1 != e0 and s.epoch == 1
    # another sampler with the same seed and epoch (another process) agrees
    other = DistributedSampler(range(64), num_replicas=2, rank=0, seed=5)
    other.set_epoch(1)
    assert list(other) == e1
    # a different seed gives a different order
    assert list(DistributedSampler(range(64), num_replicas=2, rank=0, seed=6)) != e0
    # the shuffle is seed + epoch: seed 5, epoch 1 equals seed 6, epoch 0 (as torch)
    assert list(DistributedSampler(range(64), num_replicas=2, rank=0, seed=6)) == e1


def test_shuffle_is_the_seeded_randperm():
    g = torch.Generator().manual_seed(7 + 2)
    perm = torch.randperm(10, generator=g).tolist()
    s = DistributedSampler(range(10), num_replicas=2, rank=1, seed=7)
    s.set_epoch(2)
    assert list(s) == perm[1::2]


def test_with_dataloader():
    ds = TensorDataset(torch.arange(10.0))
    got = []
    for r in range(2):
        loader = DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, 2, r, shuffle=False))
        got.append([b[0].tolist() for b in loader])
    assert got == [[[0.0, 2.0], [4.0, 6.0], [8.0]], [[1.0, 3.0], [5.0, 7.0], [9.0]]]


@pytest.mark.parametrize("rank", [-1, 2])
def test_invalid_rank(rank):
    with pytest.raises(ValueError, match=r"Invalid rank .*interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=rank)


@pytest.mark.mpi
def test_defaults_come_from_the_process_group(dist_world):
    import tocha.core.distributed as dist

    s = DistributedSampler(range(11), seed=2)
    assert (s.num_replicas, s.rank) == (dist_world.size, dist_world.rank)
    everyone = [None] * dist_world.size
    dist.all_gather_object(everyone, list(s))
    flat = [i for part in everyone for i in part]
    assert len(flat) == math.ceil(11 / dist_world.size) * dist_world.size
    assert sorted(set(flat)) == list(range(11))
