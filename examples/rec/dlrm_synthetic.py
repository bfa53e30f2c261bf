"""Train a DLRM on a synthetic Criteo-like stream with fused row-wise Adagrad tables.

    python examples/rec/dlrm_synthetic.py            # ~1 minute on one core
    python examples/rec/dlrm_synthetic.py --steps 50

Prints the training loss and the held-out AUC / NE every 100 steps.
"""

from __future__ import annotations

import argparse

import tocha.core as torch
from tocha.rec.datasets.synthetic import SyntheticCriteo
from tocha.rec.metrics import auc, ne
from tocha.rec.models.dlrm import DLRM, DLRMTrain
from tocha.rec.modules import EmbeddingBagCollection, EmbeddingBagConfig
from tocha.rec.optim import RowWiseAdagrad, apply_optimizer_in_backward


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=512)
    args = ap.parse_args()
    torch.manual_seed(0)
    gen = SyntheticCriteo(num_embeddings=10_000, num_sparse=26, num_dense=13, seed=0)
    tables = [
        EmbeddingBagConfig(
            name=f"t_{k}", embedding_dim=16, num_embeddings=10_000, feature_names=[k]
        )
        for k in gen.keys
    ]
    ebc = EmbeddingBagCollection(tables)
    apply_optimizer_in_backward(
        RowWiseAdagrad, [b.weight for b in ebc.embedding_bags.values()], {"lr": 0.05}
    )
    model = DLRMTrain(DLRM(ebc, 13, [64, 16], [64, 32, 1]))
    dense = [p for n, p in model.named_parameters() if "embedding_bags" not in n]
    opt = torch.optim.Adagrad(dense, lr=0.05)
    test = gen.batch(10_000)
    for step in range(1, args.steps + 1):
        loss, _ = model(gen.batch(args.batch_size))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps:
            with torch.no_grad():
                _, (_, logits, labels) = model(test)
            p = torch.sigmoid(logits).numpy()
            print(
                f"step {step:5d}  loss {float(loss):.4f}  test AUC {auc(p, labels.numpy()):.4f}"
                f"  NE {ne(p, labels.numpy()):.4f}"
            )


if __name__ == "__main__":
    main()
