"""rec: biased matrix factorisation on MovieLens-100k: test RMSE and Recall@10."""

from __future__ import annotations

import numpy as np

from ._common import Context, require
from ._progress import progress


def run(ctx: Context) -> list[tuple[str, str]]:
    import tocha.core as torch

    ml = require("tocha.rec.datasets.movielens", "tocha-rec is not installed")
    models = require("tocha.rec.models.mf")
    metrics = require("tocha.rec.metrics")
    require("recbole", "the data package recbole is not installed (pip install --no-deps recbole)")
    device = ctx.device
    if device != "cpu":
        # MatrixFactorization's row-sparse lookup reads NumPy ids and rows (CPU only)
        print(f"  runs on the CPU: tocha.rec's table lookup has no {device} path yet")
        device = "cpu"
    d = ml.read_recbole_inter(ml.recbole_ml100k_path())
    u, i, r = d["user"], d["item"], d["rating"]
    n_users, n_items = len(d["user_ids"]), len(d["item_ids"])
    train, test = ml.random_split(len(r), 0.2, seed=0)
    torch.manual_seed(0)
    mean = float(r[train].mean())
    model = models.MatrixFactorization(n_users, n_items, 32, global_mean=mean, init_std=0.05)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    epochs, batch = (2 if ctx.quick else 5), 1024
    perms = [rng.permutation(train) for _ in range(epochs)]
    steps = [(e, a) for e in range(epochs) for a in range(0, len(train), batch)]
    bar = progress(steps, "MF on MovieLens-100k")
    for e, a in bar:
        idx = perms[e][a : a + batch]
        uu = torch.from_numpy(u[idx]).to(device)
        ii = torch.from_numpy(i[idx]).to(device)
        err = ((model(uu, ii) - torch.from_numpy(r[idx]).to(device)) ** 2).mean()
        # L2 on the factors that took part in this batch
        reg = (model.user_embedding(uu) ** 2).sum(1) + (model.item_embedding(ii) ** 2).sum(1)
        loss = err + 0.05 * reg.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if a == 0:
            bar.set(f"mse {err.item():.3f}")

    with torch.no_grad():
        uu = torch.from_numpy(u[test]).to(device)
        pred = model(uu, torch.from_numpy(i[test]).to(device)).cpu().numpy()
    rmse = metrics.rmse(np.clip(pred, 1, 5), r[test])
    baseline = metrics.rmse(np.full(len(test), mean), r[test])
    recall, pop_recall, n_users_eval = _recall_at_10(torch, model, metrics, u, i, r, train, test)
    print(f"  {len(r):,} ratings, {n_users} users, {n_items} movies; 80/20 random split")
    print(f"  test RMSE {rmse:.4f} (predicting the mean rating: {baseline:.4f})")
    print(f"  Recall@10 over {n_users_eval} users (test movies rated >= 4, unseen movies ranked): "
          f"{recall:.4f} (most-popular baseline: {pop_recall:.4f})")  # fmt: skip
    # a model fitted to rating values is not a ranking model: it favours rarely seen films
    # with high ratings; tocha.rec.models.TwoTower is the retrieval model
    print("  (MF predicts ratings; for top-k retrieval see tocha.rec.models.TwoTower)")
    return [("MF test RMSE (ML-100k)", f"{rmse:.4f}"), ("MF Recall@10 (ML-100k)", f"{recall:.4f}")]


def _recall_at_10(torch, model, metrics, u, i, r, train, test):
    """Rank every movie a user has not rated in training; relevant = test movies rated >= 4."""
    n_users, n_items = model.user_embedding.num_embeddings, model.item_embedding.num_embeddings
    with torch.no_grad():
        p = model.user_embedding.weight
        q = model.item_embedding.weight
        scores = (p @ q.T + model.item_bias.weight.T).cpu().numpy()  # user bias: same per row
    seen = np.zeros((n_users, n_items), dtype=bool)
    seen[u[train], i[train]] = True
    scores[seen] = -np.inf
    liked = test[r[test] >= 4]
    users = np.unique(u[liked])
    top = np.argsort(-scores[users], axis=1, kind="stable")[:, :10]
    order = np.argsort(u[liked], kind="stable")
    splits = np.searchsorted(u[liked][order], users[1:])
    relevant = [set(g.tolist()) for g in np.split(i[liked][order], splits)]
    popularity = np.bincount(i[train], minlength=n_items).astype(np.float64)
    pop_scores = np.where(seen[users], -np.inf, popularity[None, :])
    pop_top = np.argsort(-pop_scores, axis=1, kind="stable")[:, :10]
    return (
        metrics.recall_at_k(top, relevant, 10),
        metrics.recall_at_k(pop_top, relevant, 10),
        len(users),
    )
