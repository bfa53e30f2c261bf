"""Sharded embeddings over MPI ranks train exactly like the unsharded model.

Run on two ranks: ``mpiexec -n 2 python -m pytest -m mpi rec/tests/test_rec_distributed.py``;
run plainly (``pytest -m mpi``) the world is one rank. Every rank makes the same calls.
"""

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.distributed as dist
from tocha.rec.distributed import DistributedModelParallel, ShardingType
from tocha.rec.modules import EmbeddingBagCollection, EmbeddingBagConfig, PoolingType
from tocha.rec.optim import apply_optimizer_in_backward
from tocha.rec.sparse.jagged_tensor import KeyedJaggedTensor

pytestmark = pytest.mark.mpi

KEYS = ["f0", "f1", "f2", "f3"]
B = 6


@pytest.fixture(scope="module")
def world():
    pytest.importorskip("mpi4py")
    if not dist.is_initialized():
        dist.init_process_group("mpi")
    return dist.get_world_size(), dist.get_rank()


class Model(torch.nn.Module):
    def __init__(self, lr):
        super().__init__()
        self.ebc = EmbeddingBagCollection(
            [
                EmbeddingBagConfig(
                    name="t0", embedding_dim=4, num_embeddings=30, feature_names=["f0", "f3"]
                ),
                EmbeddingBagConfig(
                    name="t1",
                    embedding_dim=4,
                    num_embeddings=25,
                    feature_names=["f1"],
                    pooling=PoolingType.MEAN,
                ),
                EmbeddingBagConfig(
                    name="t2", embedding_dim=4, num_embeddings=41, feature_names=["f2"]
                ),
            ]
        )
        apply_optimizer_in_backward(
            torch.optim.SGD, [b.weight for b in self.ebc.embedding_bags.values()], {"lr": lr}
        )
        self.dense = torch.nn.Linear(3, 4)
        self.over = torch.nn.Linear(20, 1)

    def forward(self, x, kjt):
        e = self.ebc(kjt).values()
        return self.over(torch.cat([torch.relu(self.dense(x)), e], dim=1)).squeeze(1)


def _global_batch(step, world):
    rng = np.random.default_rng(100 + step)
    n = world * B
    lengths = rng.integers(0, 4, (len(KEYS), n))
    sizes = {"f0": 30, "f1": 25, "f2": 41, "f3": 30}
    ids = [rng.integers(0, sizes[k], int(lengths[i].sum())) for i, k in enumerate(KEYS)]
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    return lengths, ids, x, y


def _kjt(lengths, ids, rows):
    vals, lens = [], []
    for i in range(len(KEYS)):
        off = np.r_[0, np.cumsum(lengths[i])]
        vals.append(ids[i][off[rows.start] : off[rows.stop]])
        lens.append(lengths[i][rows])
    return KeyedJaggedTensor.from_lengths_sync(
        KEYS,
        torch.from_numpy(np.concatenate(vals)),
        torch.from_numpy(np.concatenate(lens).astype(np.int32)),
    )


@pytest.mark.parametrize(
    "plan",
    [
        {},
        {"t0": ShardingType.ROW_WISE, "t2": ShardingType.ROW_WISE},
    ],
)
def test_sharded_training_matches_unsharded(world, plan):
    size, rank = world
    lr = 0.2
    torch.manual_seed(0)
    ref = Model(lr * size)  # embedding gradients are summed over ranks, as in torchrec
    init_t2 = ref.ebc.embedding_bags["t2"].weight.detach().numpy().copy()
    torch.manual_seed(0)
    model = Model(lr)
    dmp = DistributedModelParallel(model, plan=plan)
    ref_opt = torch.optim.SGD([p for n, p in ref.named_parameters() if "ebc" not in n], lr=lr)
    opt = torch.optim.SGD(dmp._dense, lr=lr)
    lossf = torch.nn.BCEWithLogitsLoss()
    ref_losses, losses = [], []
    for step in range(5):
        lengths, ids, x, y = _global_batch(step, size)
        everything = slice(0, size * B)
        loss = lossf(ref(torch.from_numpy(x), _kjt(lengths, ids, everything)), torch.from_numpy(y))
        ref_opt.zero_grad()
        loss.backward()
        ref_opt.step()
        ref_losses.append(float(loss))
        mine = slice(rank * B, (rank + 1) * B)
        if step == 2:  # an evaluation forward in between must not disturb the gradient sync
            with torch.no_grad():
                dmp(torch.from_numpy(x[mine]), _kjt(lengths, ids, mine))
        local = lossf(
            dmp(torch.from_numpy(x[mine]), _kjt(lengths, ids, mine)), torch.from_numpy(y[mine])
        )
        opt.zero_grad()
        local.backward()
        opt.step()
        total = local.detach().clone()
        if size > 1:
            dist.all_reduce(total)
        losses.append(float(total) / size)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5, atol=1e-6)
    moved = ref.ebc.embedding_bags["t2"].weight.detach().numpy() - init_t2
    assert np.abs(moved).max() > 1e-3  # the tables really trained
    # each local shard equals the matching rows of the unsharded table
    sharded = dmp.module.ebc
    for h in sharded._on_rank[rank]:
        t, _, off, rows = sharded.sharding_plan()[h]
        name = sharded._configs[t].name
        np.testing.assert_allclose(
            sharded._local[h].detach().numpy(),
            ref.ebc.embedding_bags[name].weight.detach().numpy()[off : off + rows],
            rtol=1e-5,
            atol=1e-6,
        )
