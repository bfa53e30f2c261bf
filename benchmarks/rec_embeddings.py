"""tocha.rec embedding training against torch, side by side in one process.

Workloads (the issue's targets):
  * EmbeddingBagCollection, 26 tables x 100k rows x dim 64, batch 4096, 1-4 ids per feature
    (avg 2.5), SUM: forward + backward + row-sparse SGD update. tocha: FusedEmbeddingBagCollection
    (SGD fused into backward); torch: 26 nn.EmbeddingBag(sparse=True) + torch.optim.SGD.
  * DLRM training step, batch 2048, same shapes (13 dense -> 512-256-64, over 512-256-1):
    tocha.rec.models.dlrm.DLRMTrain with fused SGD tables + tocha.core.optim.SGD on the MLPs;
    torch: the same architecture written below in torch.nn.
  * Memory: peak RSS of a subprocess training a 10M x 64 table with row-wise Adagrad, as a
    multiple of the table's own size (target < 1.5).

    python benchmarks/rec_embeddings.py            # markdown table on stdout
    python benchmarks/rec_embeddings.py --rounds 5 --skip-memory
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Workload, measure, table  # noqa: E402

T, N, D = 26, 100_000, 64


def _batch(b: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 5, (T, b))
    ids = rng.integers(0, N, int(lengths.sum()))
    dense = rng.random((b, 13)).astype(np.float32)
    labels = (rng.random(b) < 0.3).astype(np.float32)
    return lengths, ids, dense, labels


def _tocha_tables(lr: float = 0.01):
    import tocha.core as torch
    from tocha.rec.modules import EmbeddingBagConfig, FusedEmbeddingBagCollection

    torch.manual_seed(0)
    cfgs = [
        EmbeddingBagConfig(name=f"t{k}", embedding_dim=D, num_embeddings=N, feature_names=[f"f{k}"])
        for k in range(T)
    ]
    return FusedEmbeddingBagCollection(
        cfgs, optimizer_type=torch.optim.SGD, optimizer_kwargs={"lr": lr}
    )


def _tocha_kjt(lengths, ids):
    import tocha.core as torch
    from tocha.rec.sparse.jagged_tensor import KeyedJaggedTensor

    return KeyedJaggedTensor.from_lengths_sync(
        [f"f{k}" for k in range(T)],
        torch.from_numpy(ids),
        torch.from_numpy(lengths.reshape(-1).astype(np.int32)),
    )


def _torch_tables():
    import torch

    torch.manual_seed(0)
    bags = torch.nn.ModuleList(
        [torch.nn.EmbeddingBag(N, D, mode="sum", sparse=True) for _ in range(T)]
    )
    return bags


def _torch_inputs(lengths, ids):
    import torch

    per = lengths.sum(1)
    starts = np.r_[0, np.cumsum(per)]
    out = []
    for k in range(T):
        off = np.r_[0, np.cumsum(lengths[k])[:-1]]
        out.append((torch.from_numpy(ids[starts[k] : starts[k + 1]]), torch.from_numpy(off)))
    return out


def ebc_workload() -> Workload:
    lengths, ids, _, _ = _batch(4096)

    def tocha_side():
        ebc = _tocha_tables()

        def step():
            kjt = _tocha_kjt(lengths, ids)
            ebc(kjt).values().sum().backward()

        return step

    def torch_side():
        import torch

        bags = _torch_tables()
        opt = torch.optim.SGD(bags.parameters(), lr=0.01)
        inputs = _torch_inputs(lengths, ids)

        def step():
            out = torch.cat([b(i, o) for b, (i, o) in zip(bags, inputs)], dim=1)
            opt.zero_grad()
            out.sum().backward()
            opt.step()

        return step

    return Workload(
        "EBC 26x100k x64, B=4096, fwd+bwd+sparse SGD", "rec", tocha_side, torch_side, 1.0
    )


def dlrm_workload() -> Workload:
    lengths, ids, dense, labels = _batch(2048, 1)

    def tocha_side():
        import tocha.core as torch
        from tocha.rec.datasets.utils import Batch
        from tocha.rec.models.dlrm import DLRM, DLRMTrain

        ebc = _tocha_tables()
        model = DLRMTrain(DLRM(ebc, 13, [512, 256, 64], [512, 256, 1]))
        params = [p for n, p in model.named_parameters() if "embedding_bags" not in n]
        opt = torch.optim.SGD(params, lr=0.01)
        d, y = torch.from_numpy(dense), torch.from_numpy(labels)

        def step():
            loss, _ = model(Batch(d, _tocha_kjt(lengths, ids), y))
            opt.zero_grad()
            loss.backward()
            opt.step()

        return step

    def torch_side():
        import torch

        class TorchDLRM(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.bags = _torch_tables()
                self.dense = torch.nn.Sequential(
                    torch.nn.Linear(13, 512),
                    torch.nn.ReLU(),
                    torch.nn.Linear(512, 256),
                    torch.nn.ReLU(),
                    torch.nn.Linear(256, 64),
                    torch.nn.ReLU(),
                )
                f = T + 1
                self.register_buffer("tri", torch.triu_indices(f, f, 1), persistent=False)
                self.over = torch.nn.Sequential(
                    torch.nn.Linear(64 + f * (f - 1) // 2, 512),
                    torch.nn.ReLU(),
                    torch.nn.Linear(512, 256),
                    torch.nn.ReLU(),
                    torch.nn.Linear(256, 1),
                )

            def forward(self, x, inputs):
                dx = self.dense(x)
                sp = torch.stack([b(i, o) for b, (i, o) in zip(self.bags, inputs)], dim=1)
                c = torch.cat([dx.unsqueeze(1), sp], dim=1)
                z = torch.bmm(c, c.transpose(1, 2))[:, self.tri[0], self.tri[1]]
                return self.over(torch.cat([dx, z], dim=1)).squeeze(-1)

        model = TorchDLRM()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        inputs = _torch_inputs(lengths, ids)
        x, y = torch.from_numpy(dense), torch.from_numpy(labels)
        lossf = torch.nn.BCEWithLogitsLoss()

        def step():
            loss = lossf(model(x, inputs), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        return step

    return Workload("DLRM train step, B=2048, 26x100k x64", "rec", tocha_side, torch_side, 1.2)


_MEMORY_CHILD = r"""
import resource, numpy as np, tocha.core as torch
from tocha.rec.modules import EmbeddingBagConfig, FusedEmbeddingBagCollection
from tocha.rec.optim import RowWiseAdagrad
from tocha.rec.sparse.jagged_tensor import KeyedJaggedTensor
N, D = 10_000_000, 64
ebc = FusedEmbeddingBagCollection(
    [EmbeddingBagConfig(name="big", embedding_dim=D, num_embeddings=N, feature_names=["f"])],
    optimizer_type=RowWiseAdagrad, optimizer_kwargs={"lr": 0.05})
rng = np.random.default_rng(0)
for _ in range(20):
    ln = rng.integers(1, 4, 4096)
    ids = rng.integers(0, N, int(ln.sum()))
    kjt = KeyedJaggedTensor.from_lengths_sync(["f"], torch.from_numpy(ids), torch.from_numpy(ln))
    ebc(kjt).values().sum().backward()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, N * D * 4)
"""


def memory_ratio() -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD], capture_output=True, text=True, check=True
    )
    peak, table_bytes = map(float, out.stdout.split())
    return peak, table_bytes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    results = [
        measure(w, rounds=args.rounds, budget_s=0.3) for w in (ebc_workload(), dlrm_workload())
    ]
    print(
        f"tocha.rec vs torch ({platform.processor() or platform.machine()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})\n"
    )
    print(table(results, "torch"))
    if not args.skip_memory:
        peak, tb = memory_ratio()
        print(
            f"\n10M x 64 table, 20 RowWiseAdagrad steps (B=4096): peak RSS {peak / 2**30:.2f} "
            f"GiB = {peak / tb:.2f}x the table ({tb / 2**30:.2f} GiB); target < 1.5x"
        )


if __name__ == "__main__":
    main()
