"""End-to-end acceptance: MovieLens-100k (real, from recbole) MF and two-tower retrieval,
DLRM on a synthetic Criteo-like set with a planted signal."""

import numpy as np

import tocha.core as torch
from tocha.rec.datasets.movielens import (
    random_split,
    read_recbole_inter,
    recbole_ml100k_path,
)
from tocha.rec.datasets.synthetic import SyntheticCriteo
from tocha.rec.metrics import auc, rmse
from tocha.rec.models.dlrm import DLRM, DLRMTrain
from tocha.rec.models.mf import MatrixFactorization
from tocha.rec.modules import EmbeddingBagCollection, EmbeddingBagConfig
from tocha.rec.optim import RowWiseAdagrad, apply_optimizer_in_backward


def test_movielens_100k_biased_mf_rmse():
    d = read_recbole_inter(recbole_ml100k_path())
    u, i, r = d["user"], d["item"], d["rating"]
    tr, te = random_split(len(r), 0.2, seed=0)
    torch.manual_seed(0)
    m = MatrixFactorization(943, 1682, 32, global_mean=float(r[tr].mean()), init_std=0.05)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    for _ in range(3):
        perm = rng.permutation(tr)
        for a in range(0, len(perm), 1024):
            idx = perm[a : a + 1024]
            uu, ii = torch.from_numpy(u[idx]), torch.from_numpy(i[idx])
            err = ((m(uu, ii) - torch.from_numpy(r[idx])) ** 2).mean()
            reg = ((m.user_embedding(uu) ** 2).sum(1) + (m.item_embedding(ii) ** 2).sum(1)).mean()
            loss = err + 0.05 * reg
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        p = m(torch.from_numpy(u[te]), torch.from_numpy(i[te])).numpy()
    assert rmse(np.clip(p, 1, 5), r[te]) <= 0.95
    assert rmse(np.full(len(te), r[tr].mean()), r[te]) > 1.1  # the baseline it must beat


def test_dlrm_synthetic_criteo_auc():
    torch.manual_seed(0)
    gen = SyntheticCriteo(num_embeddings=500, num_sparse=8, num_dense=13, seed=0)
    test = gen.batch(5000)
    ebc = EmbeddingBagCollection(
        [
            EmbeddingBagConfig(
                name=f"t_{k}", embedding_dim=16, num_embeddings=500, feature_names=[k]
            )
            for k in gen.keys
        ]
    )
    apply_optimizer_in_backward(
        RowWiseAdagrad, [b.weight for b in ebc.embedding_bags.values()], {"lr": 0.1}
    )
    model = DLRMTrain(DLRM(ebc, 13, [32, 16], [32, 1]))
    dense = [p for n, p in model.named_parameters() if "embedding_bags" not in n]
    opt = torch.optim.Adagrad(dense, lr=0.05)
    for _ in range(150):
        loss, _ = model(gen.batch(256))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        _, (_, logits, labels) = model(test)
    assert auc(logits.numpy(), labels.numpy()) >= 0.75
