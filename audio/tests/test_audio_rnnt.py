"""rnnt_loss against brute-force enumeration of every path through the RNN-T lattice."""

import itertools

import numpy as np
import pytest

import tocha.audio.functional as AF
import tocha.core as torch


def _brute(logits, target, T, U, blank):
    z = logits[:T, : U + 1].astype(np.float64)
    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    total = -np.inf
    # a path is the order of T - 1 blanks (moving t) and U labels (moving u), then a blank
    for labels_at in itertools.combinations(range(T - 1 + U), U):
        t = u = 0
        s = 0.0
        for step in range(T - 1 + U):
            if step in labels_at:
                s += lp[t, u, target[u]]
                u += 1
            else:
                s += lp[t, u, blank]
                t += 1
        s += lp[T - 1, U, blank]
        total = np.logaddexp(total, s)
    return -total


@pytest.mark.parametrize("seed", range(3))
def test_rnnt_loss_matches_enumeration(seed):
    rng = np.random.default_rng(seed)
    B, T, U, V = 3, 5, 3, 4
    logits = rng.standard_normal((B, T, U + 1, V)).astype(np.float32)
    targets = rng.integers(0, V - 1, (B, U)).astype(np.int32)
    tl = np.array([5, 4, 3], np.int32)
    ul = np.array([3, 2, 1], np.int32)
    args = (
        torch.from_numpy(logits),
        torch.from_numpy(targets),
        torch.from_numpy(tl),
        torch.from_numpy(ul),
    )
    got = AF.rnnt_loss(*args, reduction="none").numpy()
    ref = [_brute(logits[b], targets[b], tl[b], ul[b], V - 1) for b in range(B)]
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    np.testing.assert_allclose(float(AF.rnnt_loss(*args)), np.mean(ref), rtol=1e-5)
    np.testing.assert_allclose(float(AF.rnnt_loss(*args, reduction="sum")), np.sum(ref), rtol=1e-5)
    # blank=0 and pre-computed log-probs
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    t1 = np.where(targets == 0, 1, targets).astype(np.int32)
    got0 = AF.rnnt_loss(
        torch.from_numpy(lp),
        torch.from_numpy(t1),
        *args[2:],
        blank=0,
        reduction="none",
        fused_log_softmax=False,
    ).numpy()
    np.testing.assert_allclose(
        got0, [_brute(logits[b], t1[b], tl[b], ul[b], 0) for b in range(B)], rtol=1e-5
    )


def test_rnnt_loss_gradient():
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.standard_normal((2, 3, 3, 4))).requires_grad_(True)
    targets = torch.tensor([[1, 2], [0, 1]], dtype=torch.int32)
    lengths = (torch.tensor([3, 2], dtype=torch.int32), torch.tensor([2, 1], dtype=torch.int32))
    assert torch.autograd.gradcheck(lambda x: AF.rnnt_loss(x, targets, *lengths), (logits,))
