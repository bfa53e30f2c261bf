import itertools

import numpy as np
import pytest

import tocha.audio.functional as AF
import tocha.core as torch


def _collapse(path, blank=0):
    return [k for i, k in enumerate(path) if k != blank and (i == 0 or path[i - 1] != k)]


@pytest.mark.parametrize("seed", range(6))
def test_forced_align_is_the_best_valid_path(seed):
    rng = np.random.default_rng(seed)
    T, C = 6, 4
    z = rng.standard_normal((T, C)) * 2
    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    target = [[1, 2], [2, 2], [3, 1, 3]][seed % 3]
    best, best_path = -np.inf, None
    for path in itertools.product(range(C), repeat=T):
        if _collapse(path) == target:
            s = lp[np.arange(T), list(path)].sum()
            if s > best:
                best, best_path = s, path
    labels, scores = AF.forced_align(
        torch.from_numpy(lp[None]), torch.tensor([target], dtype=torch.int32)
    )
    assert labels[0].tolist() == list(best_path)
    np.testing.assert_allclose(scores[0].numpy(), lp[np.arange(T), list(best_path)], atol=1e-12)
    spans = AF.merge_tokens(labels[0], scores[0])
    assert [s.token for s in spans] == target


def test_forced_align_errors_and_lengths():
    lp = torch.log_softmax(torch.randn(1, 10, 5), -1)
    labels, _ = AF.forced_align(lp, torch.tensor([[1, 2, 0]]), torch.tensor([8]), torch.tensor([2]))
    assert _collapse(labels[0, :8].tolist()) == [1, 2] and labels[0, 8:].tolist() == [0, 0]
    with pytest.raises(ValueError, match="blank"):
        AF.forced_align(lp, torch.tensor([[1, 0, 2]]))
    with pytest.raises(RuntimeError, match="frames"):
        AF.forced_align(lp[:, :2], torch.tensor([[1, 1, 2]]))


def test_frechet_distance():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 5)), rng.standard_normal((5, 5))
    sx, sy = a @ a.T + np.eye(5), b @ b.T + np.eye(5)
    mx, my = rng.standard_normal(5), rng.standard_normal(5)
    import scipy.linalg

    ref = ((mx - my) ** 2).sum() + np.trace(sx + sy - 2 * scipy.linalg.sqrtm(sx @ sy).real)
    got = AF.frechet_distance(*(torch.from_numpy(v) for v in (mx, sx, my, sy)))
    np.testing.assert_allclose(float(got), ref, rtol=1e-8)
