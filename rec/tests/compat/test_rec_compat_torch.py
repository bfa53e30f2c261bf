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
