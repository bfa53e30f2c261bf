"""Generation's logits processors against NumPy definitions of Hugging Face's rules."""

import numpy as np
import pytest
from scipy.special import softmax

import tocha.core as torch
from tocha.text.models import _sampling as S


def _scores(seed=0, shape=(4, 50)):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 3


def test_top_k_matches_numpy_with_ties():
    x = _scores()
    x[0, :6] = 10.0  # a tie across the k-th place: all tied tokens are kept
    for k in (1, 5, 13, 50, 80):
        got = S.top_k_filter(torch.from_numpy(x), k).numpy()
        kth = np.sort(x, axis=-1)[:, ::-1][:, min(k, 50) - 1 : min(k, 50)]
        ref = np.where(x < kth, -np.inf, x)
        np.testing.assert_array_equal(got, ref)
    assert np.isfinite(S.top_k_filter(torch.from_numpy(x), 5).numpy()[0]).sum() == 6


def test_top_p_matches_numpy():
    x = _scores(1)
    for p in (0.1, 0.5, 0.9, 0.999, 1.0):
        got = S.top_p_filter(torch.from_numpy(x), p).numpy()
        ref = np.empty_like(x)
        for r in range(x.shape[0]):
            order = np.argsort(-x[r], kind="stable")
            probs = softmax(x[r].astype(np.float64))[order]
            before = np.concatenate([[0.0], np.cumsum(probs)[:-1]])
            keep = np.zeros(x.shape[1], bool)
            keep[order[before < p]] = True  # smallest top set reaching p
            ref[r] = np.where(keep, x[r], -np.inf)
        np.testing.assert_array_equal(got, ref)
        assert (np.isfinite(got).sum(-1) >= 1).all()


def test_repetition_penalty_as_hugging_face_defines_it():
    x = _scores(2, (2, 10))
    ids = np.array([[1, 1, 4, 7], [0, 9, 9, 9]])
    got = S.repetition_penalty(torch.from_numpy(x), torch.from_numpy(ids), 1.5).numpy()
    ref = x.copy()
    for r in range(2):
        for t in set(ids[r].tolist()):  # once per distinct token, however often it occurred
            ref[r, t] = x[r, t] / 1.5 if x[r, t] > 0 else x[r, t] * 1.5
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    with pytest.raises(ValueError, match="penalty must be > 0"):
        S.repetition_penalty(torch.from_numpy(x), torch.from_numpy(ids), 0.0)


def test_sampling_distribution_follows_filtered_softmax():
    # top-k 2 then temperature: only the two best tokens are drawn, in their softmax ratio
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    s = S.top_k_filter(S.temperature(logits, 0.5), 2)
    probs = s.softmax(-1).expand(20000, 4).contiguous()
    gen = torch.Generator().manual_seed(0)
    draws = torch.multinomial(probs, 1, replacement=True, generator=gen).numpy().ravel()
    counts = np.bincount(draws, minlength=4) / draws.size
    assert counts[2] == counts[3] == 0
    assert abs(counts[0] - 1 / (1 + np.exp(-2.0))) < 0.01
    with pytest.raises(ValueError, match="temperature"):
        S.temperature(logits, 0.0)
