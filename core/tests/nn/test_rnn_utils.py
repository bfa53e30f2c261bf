"""nn.utils.rnn: packing and padding against NumPy loops, round trips, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.core.autograd import gradcheck, gradgradcheck
from tocha.core.nn.utils import rnn as R

RNG = np.random.default_rng(0)


def t(a, rg=False):
    return torch.tensor(a, requires_grad=rg)


def _np_pack(x, lengths, batch_first):
    """Reference: step by step, the rows of the sequences still running (sorted by length)."""
    if batch_first:
        x = x.transpose(1, 0, 2)
    order = np.argsort(-np.asarray(lengths), kind="stable")
    rows, sizes = [], []
    for step in range(max(lengths)):
        active = [b for b in order if lengths[b] > step]
        sizes.append(len(active))
        rows.extend(x[step, b] for b in active)
    return np.stack(rows), np.asarray(sizes), order


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [[4, 2, 3], [4, 4, 1], [1, 1, 1], [2, 4, 3]])
def test_pack_pad_round_trip(batch_first, lengths):
    big_t, b = 4, len(lengths)
    x = RNG.standard_normal((b, big_t, 2) if batch_first else (big_t, b, 2))
    p = R.pack_padded_sequence(t(x), lengths, batch_first=batch_first, enforce_sorted=False)
    data, sizes, order = _np_pack(x, lengths, batch_first)
    np.testing.assert_array_equal(p.data.numpy(), data)
    np.testing.assert_array_equal(p.batch_sizes.numpy(), sizes)
    assert p.batch_sizes.dtype == torch.int64
    np.testing.assert_array_equal(p.sorted_indices.numpy(), order)
    np.testing.assert_array_equal(p.unsorted_indices.numpy(), np.argsort(order))
    out, lens = R.pad_packed_sequence(p, batch_first=batch_first, padding_value=-7.0)
    np.testing.assert_array_equal(lens.numpy(), lengths)
    ref = np.full((b, max(lengths), 2) if batch_first else (max(lengths), b, 2), -7.0)
    for j, n in enumerate(lengths):
        if batch_first:
            ref[j, :n] = x[j, :n]
        else:
            ref[:n, j] = x[:n, j]
    np.testing.assert_array_equal(out.numpy(), ref)


def test_pack_sorted_has_no_indices_and_total_length():
    x = RNG.standard_normal((3, 2))
    p = R.pack_padded_sequence(t(x), [3, 1])
    assert p.sorted_indices is None and p.unsorted_indices is None
    np.testing.assert_array_equal(p.data.numpy(), [x[0, 0], x[0, 1], x[1, 0], x[2, 0]])
    out, lens = R.pad_packed_sequence(p, total_length=5)
    assert out.shape == (5, 2) and lens.tolist() == [3, 1]
    assert float(out[3:].abs().sum()) == 0.0
    # lengths given as a tensor (any numeric dtype) or a tuple
    assert R.pack_padded_sequence(t(x), torch.tensor([3.0, 1.0])).batch_sizes.tolist() == [2, 1, 1]
    assert R.pack_padded_sequence(t(x), (3, 1)).batch_sizes.tolist() == [2, 1, 1]


def test_pack_and_pad_gradients():
    x = t(RNG.standard_normal((4, 3, 2)), True)

    def f(a):
        p = R.pack_padded_sequence(a, [2, 4, 3], enforce_sorted=False)
        return R.pad_packed_sequence(p, padding_value=1.5)[0] * 2

    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))
    f(x).sum().backward()
    g = np.zeros((4, 3, 2))
    for j, n in enumerate([2, 4, 3]):
        g[:n, j] = 2
    np.testing.assert_array_equal(x.grad.numpy(), g)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence_against_numpy(side, batch_first):
    seqs = [RNG.standard_normal((n, 3)) for n in (2, 5, 3)]
    out = R.pad_sequence(
        [t(s) for s in seqs], batch_first=batch_first, padding_value=9.0, padding_side=side
    )
    ref = np.full((3, 5, 3), 9.0)
    for j, s in enumerate(seqs):
        if side == "right":
            ref[j, : len(s)] = s
        else:
            ref[j, 5 - len(s) :] = s
    np.testing.assert_array_equal(out.numpy(), ref if batch_first else ref.transpose(1, 0, 2))
    a, b = t(seqs[0], True), t(seqs[1], True)
    assert gradcheck(lambda a, b: R.pad_sequence([a, b], padding_side=side), (a, b))


def test_pad_sequence_of_a_tensor_and_errors():
    assert R.pad_sequence(torch.ones(2, 3)).shape == (3, 2)
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right"):
        R.pad_sequence([torch.ones(2)], padding_side="middle")
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(2\) must match"):
        R.pad_sequence([torch.ones(2, 2), torch.ones(3, 3)])


def test_pack_sequence_unpack_unpad():
    seqs = [t(RNG.standard_normal((n, 2))) for n in (1, 3, 2)]
    p = R.pack_sequence(seqs, enforce_sorted=False)
    assert p.batch_sizes.tolist() == [3, 2, 1]
    back = R.unpack_sequence(p)
    for a, b in zip(back, seqs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    padded = R.pad_sequence(seqs, batch_first=True)
    back = R.unpad_sequence(padded, torch.tensor([1, 3, 2]), batch_first=True)
    for a, b in zip(back, seqs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    back = R.unpad_sequence(R.pad_sequence(seqs), torch.tensor([1, 3, 2]))
    assert [tuple(a.shape) for a in back] == [(1, 2), (3, 2), (2, 2)]
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        R.pack_sequence(seqs)


def test_packed_sequence_object():
    p = R.pack_sequence([torch.ones(3), torch.ones(2)])
    assert isinstance(p, tuple) and p._fields == (
        "data",
        "batch_sizes",
        "sorted_indices",
        "unsorted_indices",
    )
    d = p.double()
    assert d.data.dtype == torch.float64 and d.batch_sizes is p.batch_sizes
    assert p.to(torch.float32) is p
    assert p.is_cuda is False and p.is_pinned() is False
    q = R.PackedSequence(torch.ones(3), torch.tensor([2, 1]), torch.tensor([1, 0]))
    assert q.unsorted_indices.tolist() == [1, 0]
    q = R.PackedSequence((torch.ones(3), torch.tensor([2, 1])))
    assert q.batch_sizes.tolist() == [2, 1]
    with pytest.raises(AssertionError, match="Expected data to be a list or tuple of length 2"):
        R.PackedSequence(torch.ones(3))
    assert R.invert_permutation(torch.tensor([2, 0, 1])).tolist() == [1, 2, 0]
    assert R.invert_permutation(None) is None


def test_pack_errors():
    x = torch.ones(4, 3, 2)
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        R.pack_padded_sequence(x, [4, 0, 3], enforce_sorted=False)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        R.pack_padded_sequence(x, [2, 4, 3])
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to batch_size"):
        R.pack_padded_sequence(x, [4, 3])
    with pytest.raises(RuntimeError, match="1D CPU int64 tensor, but got 2D"):
        R.pack_padded_sequence(x, torch.tensor([[4, 3, 2]]))
    with pytest.raises(RuntimeError, match="exceeds"):
        R.pack_padded_sequence(x, [5, 3, 2])
    p = R.pack_padded_sequence(x, [4, 3, 2])
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        R.pad_packed_sequence(p, total_length=3)
