"""tocha.rec against torch: pooled lookups vs nn.EmbeddingBag, fused row updates vs torch's
optimizers on sparse gradients."""

import numpy as np
import pytest

torch_ = pytest.importorskip("torch")

import tocha.core as torch  # noqa: E402
from tocha.rec.modules import (  # noqa: E402
    EmbeddingBagConfig,
    FusedEmbeddingBagCollection,
    PoolingType,
)
from tocha.rec.sparse.jagged_tensor import KeyedJaggedTensor  # noqa: E402


@pytest.mark.parametrize(
    "ours,theirs,kw",
    [
        (torch.optim.SGD, "SGD", {"lr": 0.2}),
        (torch.optim.Adagrad, "Adagrad", {"lr": 0.2}),
        (torch.optim.Adam, "SparseAdam", {"lr": 0.05}),
    ],
)
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_fused_ebc_matches_torch_sparse_embedding_bag(ours, theirs, kw, mode):
    rng = np.random.default_rng(0)
    cfg = EmbeddingBagConfig(
        name="t",
        embedding_dim=4,
        num_embeddings=30,
        feature_names=["f"],
        pooling=PoolingType[mode.upper()],
    )
    ebc = FusedEmbeddingBagCollection([cfg], optimizer_type=ours, optimizer_kwargs=kw)
    w = ebc.embedding_bags["t"].weight
    ref = torch_.nn.EmbeddingBag(30, 4, mode=mode, sparse=True)
    with torch_.no_grad():
        ref.weight.copy_(torch_.from_numpy(w.detach().numpy().copy()))
    opt = getattr(torch_.optim, theirs)(ref.parameters(), **kw)
    for _ in range(4):
        lengths = rng.integers(0, 4, 8)
        ids = rng.integers(0, 30, int(lengths.sum()))
        tgt = rng.standard_normal((8, 4)).astype(np.float32)
        kjt = KeyedJaggedTensor.from_lengths_sync(
            ["f"], torch.from_numpy(ids), torch.from_numpy(lengths)
        )
        ((ebc(kjt).values() - torch.from_numpy(tgt)) ** 2).sum().backward()
        off = torch_.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]]))
        opt.zero_grad()
        ((ref(torch_.from_numpy(ids), off) - torch_.from_numpy(tgt)) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(
        w.detach().numpy(), ref.weight.detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_dlrm_forward_and_grads_match_a_torch_dlrm():
    from tocha.rec.datasets.synthetic import SyntheticCriteo
    from tocha.rec.models.dlrm import DLRM
    from tocha.rec.modules import EmbeddingBagCollection

    torch.manual_seed(0)
    gen = SyntheticCriteo(num_embeddings=20, num_sparse=3, num_dense=4, seed=0)
    tables = [
        EmbeddingBagConfig(name=f"t{i}", embedding_dim=8, num_embeddings=20, feature_names=[k])
        for i, k in enumerate(gen.keys)
    ]
    model = DLRM(EmbeddingBagCollection(tables), 4, [16, 8], [12, 1])
    batch = gen.batch(6)
    sd = {k: torch_.from_numpy(v.detach().numpy().copy()) for k, v in model.state_dict().items()}

    bags = [torch_.nn.EmbeddingBag(20, 8, mode="sum") for _ in tables]
    for k, b in enumerate(bags):
        b.weight.data = sd[f"sparse_arch.embedding_bag_collection.embedding_bags.t{k}.weight"]
    lin = {n: torch_.nn.Linear(1, 1) for n in ("d0", "d1", "o0", "o1")}
    names = {
        "d0": "dense_arch.model._mlp.0._linear",
        "d1": "dense_arch.model._mlp.1._linear",
        "o0": "over_arch.model.0._mlp.0._linear",
        "o1": "over_arch.model.1",
    }
    for n, prefix in names.items():
        lin[n].weight.data = sd[prefix + ".weight"]
        lin[n].bias.data = sd[prefix + ".bias"]
    kjt = batch.sparse_features
    x = torch_.from_numpy(batch.dense_features.numpy())
    d = torch_.relu(lin["d1"](torch_.relu(lin["d0"](x))))
    pooled = []
    for k, key in enumerate(gen.keys):
        jt = kjt[key]
        off = torch_.from_numpy(jt.offsets().numpy()[:-1].astype(np.int64))
        pooled.append(bags[k](torch_.from_numpy(jt.values().numpy()), off))
    c = torch_.stack([d, *pooled], dim=1)
    tri = torch_.triu_indices(4, 4, 1)
    z = torch_.bmm(c, c.transpose(1, 2))[:, tri[0], tri[1]]
    ref = lin["o1"](torch_.relu(lin["o0"](torch_.cat([d, z], dim=1))))
    ours = model(batch.dense_features, kjt)
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    ours.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(
        model.sparse_arch.embedding_bag_collection.embedding_bags["t1"].weight.grad.numpy(),
        bags[1].weight.grad.numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
