import numpy as np
import pytest

import tocha.core as torch
from tocha.rec import metrics as M


def _pairwise_auc(p, y, w):
    pos, neg = y == 1, y == 0
    num = den = 0.0
    for i in np.nonzero(pos)[0]:
        for j in np.nonzero(neg)[0]:
            s = 1.0 if p[i] > p[j] else (0.5 if p[i] == p[j] else 0.0)
            num += w[i] * w[j] * s
            den += w[i] * w[j]
    return num / den


def test_auc_matches_pairwise_definition_with_ties_and_weights():
    rng = np.random.default_rng(0)
    p = np.round(rng.random(60), 1)  # many ties
    y = (rng.random(60) < p).astype(float)
    w = rng.random(60) + 0.5
    assert M.auc(p, y) == pytest.approx(_pairwise_auc(p, y, np.ones(60)), abs=1e-12)
    assert M.auc(p, y, w) == pytest.approx(_pairwise_auc(p, y, w), abs=1e-12)
    assert M.auc(torch.tensor([0.1, 0.9]), torch.tensor([0, 1])) == 1.0
    with pytest.raises(ValueError, match="3 predictions but 2 labels"):
        M.auc([0.1, 0.2, 0.3], [0, 1])


def test_ctr_metrics():
    p = np.array([0.9, 0.2, 0.6, 0.4])
    y = np.array([1, 0, 0, 1])
    ll = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert M.log_loss(p, y) == pytest.approx(ll)
    assert M.ne(p, y) == pytest.approx(ll / np.log(2))  # base rate 0.5: entropy ln 2
    assert M.accuracy(p, y) == 0.5
    assert M.calibration(p, y) == pytest.approx(2.1 / 2)
    assert M.mse([1.0, 3.0], [2.0, 5.0]) == 2.5
    assert M.rmse([1.0, 3.0], [2.0, 5.0]) == pytest.approx(np.sqrt(2.5))


def test_ranking_metrics():
    ranked = np.array([[5, 3, 1], [2, 4, 6], [7, 8, 9]])
    target = np.array([3, 6, 0])
    assert M.hit_rate_at_k(ranked, target, 3) == pytest.approx(2 / 3)
    assert M.hit_rate_at_k(ranked, target, 2) == pytest.approx(1 / 3)
    assert M.recall_at_k(ranked, target, 3) == pytest.approx(2 / 3)
    assert M.mrr(ranked, target) == pytest.approx((1 / 2 + 1 / 3) / 3)
    assert M.ndcg_at_k(ranked, target, 3) == pytest.approx((1 / np.log2(3) + 1 / np.log2(4)) / 3)
    # multiple relevant items: recall divides by their number, NDCG by the ideal DCG
    rel = [{5, 1}, {4}, {7, 8, 9, 10}]
    assert M.recall_at_k(ranked, rel, 3) == pytest.approx((1 + 1 + 3 / 4) / 3)
    idcg = [1 + 1 / np.log2(3), 1, 1 + 1 / np.log2(3) + 0.5]
    dcg = [1 + 0.5, 1 / np.log2(3), idcg[2]]
    assert M.ndcg_at_k(ranked, rel, 3) == pytest.approx(np.mean(np.array(dcg) / idcg))
