"""Embedding, EmbeddingBag and one_hot against NumPy: lookups, padding_idx (zeroed at init,
no gradient), max_norm renormalisation, scale_grad_by_freq, bag modes with offsets,
include_last_offset and per_sample_weights, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn
from tocha.core.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)
E = RNG.standard_normal((7, 3))
IDX = np.array([[0, 2, 2], [6, 1, 0]])


def t(a, rg=False):
    return torch.tensor(a, requires_grad=rg)


def test_embedding_lookup_and_gradient():
    w = t(E, True)
    y = F.embedding(t(IDX), w)
    np.testing.assert_array_equal(y.detach().numpy(), E[IDX])
    g = RNG.standard_normal((2, 3, 3))
    y.backward(t(g))
    ref = np.zeros_like(E)
    np.add.at(ref, IDX.reshape(-1), g.reshape(-1, 3))
    np.testing.assert_allclose(w.grad.numpy(), ref, atol=1e-12)
    fn = lambda a: F.embedding(t(IDX), a) * 2  # noqa: E731
    assert gradcheck(fn, (t(E, True),)) and gradgradcheck(fn, (t(E, True),))
    assert F.embedding(t(IDX.astype(np.int32)), t(E)).shape == (2, 3, 3)


def test_embedding_padding_freq_and_max_norm():
    w = t(E, True)
    F.embedding(t(IDX), w, padding_idx=2).sum().backward()
    counts = np.bincount(IDX.reshape(-1), minlength=7)[:, None].astype(float)
    counts[2] = 0
    np.testing.assert_allclose(w.grad.numpy(), np.broadcast_to(counts, (7, 3)))
    w = t(E, True)
    F.embedding(t(IDX), w, scale_grad_by_freq=True).sum().backward()
    used = (np.bincount(IDX.reshape(-1), minlength=7) > 0)[:, None] * 1.0
    np.testing.assert_allclose(w.grad.numpy(), np.broadcast_to(used, (7, 3)))
    w = t(E.copy())
    F.embedding(t(np.array([1, 3])), w, max_norm=0.5)
    norms = np.linalg.norm(w.numpy(), axis=1)
    for r in range(7):
        if r in (1, 3) and np.linalg.norm(E[r]) > 0.5:
            assert abs(norms[r] - 0.5) < 1e-6
        else:
            np.testing.assert_array_equal(w.numpy()[r], E[r])


def test_embedding_module():
    torch.manual_seed(0)
    m = nn.Embedding(1000, 16, padding_idx=3)
    w = m.weight.detach().numpy()
    np.testing.assert_array_equal(w[3], 0)
    assert abs(w.std() - 1) < 0.05 and abs(w.mean()) < 0.05  # N(0, 1)
    assert repr(m) == "Embedding(1000, 16, padding_idx=3)"
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=5)
    pre = nn.Embedding.from_pretrained(t(E))
    assert not pre.weight.requires_grad
    np.testing.assert_array_equal(pre(t(IDX)).numpy(), E[IDX])
    assert nn.Embedding.from_pretrained(t(E), freeze=False).weight.requires_grad
    with pytest.raises(IndexError, match="index out of range in self"):
        m(t(np.array([1000])))
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices'"):
        m(t(np.array([1.0])))


def _bags(flat, starts, n):
    ends = list(starts[1:]) + [n]
    return [flat[s:e] for s, e in zip(starts, ends)]


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_modes(mode):
    flat = np.array([0, 2, 2, 6, 1, 0, 3, 4])
    off = np.array([0, 3, 3, 5])
    w = t(E, True)
    y = F.embedding_bag(t(flat), w, t(off), mode=mode)
    red = {"sum": np.sum, "mean": np.mean, "max": np.max}[mode]
    ref = [red(E[b], 0) if len(b) else np.zeros(3) for b in _bags(flat, off, 8)]
    np.testing.assert_allclose(y.detach().numpy(), ref, atol=1e-12)
    y2 = F.embedding_bag(t(IDX), t(E), mode=mode)  # 2-D input: each row a bag
    np.testing.assert_allclose(y2.numpy(), [red(E[r], 0) for r in IDX], atol=1e-12)
    y3 = F.embedding_bag(t(flat), t(E), t(np.append(off, 8)), mode=mode, include_last_offset=True)
    np.testing.assert_allclose(y3.numpy(), ref, atol=1e-12)
    fn = lambda a: F.embedding_bag(t(flat), a, t(off), mode=mode) * 3  # noqa: E731
    assert gradcheck(fn, (t(E, True),))
    assert gradgradcheck(fn, (t(E, True),))
    yp = F.embedding_bag(t(flat), t(E), t(off), mode=mode, padding_idx=2)
    refp = [red(E[b[b != 2]], 0) if (b != 2).any() else np.zeros(3) for b in _bags(flat, off, 8)]
    np.testing.assert_allclose(yp.numpy(), refp, atol=1e-12)


def test_embedding_bag_per_sample_weights_and_errors():
    flat = np.array([0, 2, 2, 6, 1])
    off = np.array([0, 3])
    psw = RNG.standard_normal(5)
    y = F.embedding_bag(t(flat), t(E), t(off), mode="sum", per_sample_weights=t(psw))
    ref = [(E[flat[:3]] * psw[:3, None]).sum(0), (E[flat[3:]] * psw[3:, None]).sum(0)]
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-12)
    fn = lambda a, p: F.embedding_bag(t(flat), a, t(off), mode="sum", per_sample_weights=p)  # noqa: E731
    args = (t(E, True), t(psw, True))
    assert gradcheck(fn, args) and gradgradcheck(fn, args)
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(t(flat), t(E), t(off), mode="max", per_sample_weights=t(psw))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(t(flat), t(E))
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        F.embedding_bag(t(IDX), t(E), t(off))
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(t(flat), t(E), t(np.array([1, 2])))
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        F.embedding_bag(t(flat), t(E), t(off), mode="median")
    bag = nn.EmbeddingBag(10, 3, mode="sum")
    assert repr(bag) == "EmbeddingBag(10, 3, mode='sum')"
    assert tuple(bag(t(flat), t(off)).shape) == (2, 3)
    pre = nn.EmbeddingBag.from_pretrained(t(E), mode="max")
    np.testing.assert_allclose(pre(t(IDX)).numpy(), E[IDX].max(1))


def test_one_hot():
    y = F.one_hot(t(np.array([[0, 2], [1, 2]])))
    assert y.dtype == torch.int64
    np.testing.assert_array_equal(y.numpy(), np.eye(3, dtype=np.int64)[[[0, 2], [1, 2]]])
    assert tuple(F.one_hot(t(np.array([1])), 5).shape) == (1, 5)
    assert tuple(F.one_hot(torch.tensor([], dtype=torch.int64), 3).shape) == (0, 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative."):
        F.one_hot(t(np.array([-1])))
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(t(np.array([3])), 2)
    with pytest.raises(RuntimeError, match="only applicable to index tensor of type LongTensor"):
        F.one_hot(t(np.array([1], dtype=np.int32)))
    with pytest.raises(RuntimeError, match="Can not infer total number of classes"):
        F.one_hot(torch.tensor([], dtype=torch.int64))
