"""Acceptance: a two-tower model on MovieLens-100k (real, from recbole) with in-batch
softmax and logQ correction beats the popularity baseline in Recall@10 on leave-one-out."""

import numpy as np

import tocha.core as torch
from tocha.rec.datasets.movielens import (
    leave_one_out_split,
    read_recbole_inter,
    recbole_ml100k_path,
)
from tocha.rec.metrics import recall_at_k
from tocha.rec.models.two_tower import BruteForceIndex, TwoTower, in_batch_softmax_loss
from tocha.rec.modules import EmbeddingBagCollection, EmbeddingBagConfig
from tocha.rec.sparse.jagged_tensor import KeyedJaggedTensor


def test_movielens_two_tower_beats_popularity():
    d = read_recbole_inter(recbole_ml100k_path())
    u, i = d["user"], d["item"]
    nu, ni = 943, 1682
    tr, te = leave_one_out_split(u, d["timestamp"])
    torch.manual_seed(0)
    ebc = EmbeddingBagCollection(
        [
            EmbeddingBagConfig(
                name="user", embedding_dim=64, num_embeddings=nu, feature_names=["user_id"]
            ),
            EmbeddingBagConfig(
                name="item", embedding_dim=64, num_embeddings=ni, feature_names=["item_id"]
            ),
        ]
    )
    tt = TwoTower(ebc, [64])
    opt = torch.optim.Adam(tt.parameters(), lr=0.003)
    pop = np.bincount(i[tr], minlength=ni).astype(np.float64)
    logq = np.log(pop / pop.sum() + 1e-12).astype(np.float32)

    def kjt(uu, ii):
        return KeyedJaggedTensor.from_lengths_sync(
            ["user_id", "item_id"],
            torch.from_numpy(np.concatenate([uu, ii])),
            torch.from_numpy(np.ones(2 * len(uu), np.int32)),
        )

    rng = np.random.default_rng(0)
    for _ in range(2):
        perm = rng.permutation(tr)
        for a in range(0, len(perm), 512):
            idx = perm[a : a + 512]
            q, c = tt(kjt(u[idx], i[idx]))
            loss = in_batch_softmax_loss(q, c, torch.from_numpy(logq[i[idx]]), temperature=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
    seen = [[] for _ in range(nu)]
    for a, b in zip(u[tr], i[tr]):
        seen[a].append(b)
    target = np.zeros(nu, np.int64)
    target[u[te]] = i[te]
    with torch.no_grad():
        q, _ = tt(kjt(np.arange(nu), np.zeros(nu, np.int64)))
        _, cand = tt(kjt(np.zeros(ni, np.int64), np.arange(ni)))
    _, top = BruteForceIndex(cand).search(q, 10, exclude=seen)
    ours = recall_at_k(top.numpy(), target, 10)
    order = np.argsort(-pop, kind="stable")
    pop_top = np.array([[x for x in order[:200] if x not in set(s)][:10] for s in seen])
    popularity = recall_at_k(pop_top, target, 10)
    assert ours > popularity + 0.01, (ours, popularity)
