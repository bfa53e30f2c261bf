import numpy as np
import pytest

import tocha.core as torch
from tocha.rec.modules import (
    MLP,
    CrossNet,
    EmbeddingBagCollection,
    EmbeddingBagConfig,
    EmbeddingCollection,
    EmbeddingConfig,
    FeatureProcessedEmbeddingBagCollection,
    FusedEmbeddingBagCollection,
    LowRankCrossNet,
    PoolingType,
    PositionWeightedModuleCollection,
)
from tocha.rec.optim import RowWiseAdagrad, apply_optimizer_in_backward
from tocha.rec.sparse.jagged_tensor import KeyedJaggedTensor

B = 5


def _kjt(seed=0, keys=("f1", "f2", "f3"), n=20, weighted=False):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 4, size=len(keys) * B)
    values = rng.integers(0, n, size=int(lengths.sum()))
    w = torch.from_numpy(rng.random(values.size).astype(np.float32)) if weighted else None
    return KeyedJaggedTensor.from_lengths_sync(
        list(keys), torch.from_numpy(values), torch.from_numpy(lengths.astype(np.int32)), w
    )


def _ref_pool(w, kjt, key, mode, weighted=False):
    jt = kjt[key]
    vals = jt.values().numpy()
    off = jt.offsets().numpy()
    ww = jt.weights().numpy() if weighted else np.ones(vals.size, np.float32)
    out = np.zeros((B, w.shape[1]), np.float64)
    for b in range(B):
        ids = vals[off[b] : off[b + 1]]
        rows = w[ids] * ww[off[b] : off[b + 1], None]
        if ids.size:
            out[b] = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[mode]
    return out


def _tables(pooling=PoolingType.SUM):
    return [
        EmbeddingBagConfig(
            name="t1",
            embedding_dim=3,
            num_embeddings=20,
            feature_names=["f1", "f3"],
            pooling=pooling,
        ),
        EmbeddingBagConfig(
            name="t2", embedding_dim=4, num_embeddings=20, feature_names=["f2"], pooling=pooling
        ),
    ]


@pytest.mark.parametrize("pooling", [PoolingType.SUM, PoolingType.MEAN, PoolingType.MAX])
def test_ebc_forward_matches_reference(pooling):
    torch.manual_seed(0)
    ebc = EmbeddingBagCollection(_tables(pooling))
    assert sorted(ebc.state_dict()) == ["embedding_bags.t1.weight", "embedding_bags.t2.weight"]
    kjt = _kjt()
    kt = ebc(kjt)
    assert kt.keys() == ["f1", "f3", "f2"] and kt.length_per_key() == [3, 3, 4]
    mode = pooling.value.lower()
    for key, t in (("f1", "t1"), ("f3", "t1"), ("f2", "t2")):
        w = ebc.embedding_bags[t].weight.detach().numpy()
        np.testing.assert_allclose(
            kt[key].detach().numpy(), _ref_pool(w, kjt, key, mode), rtol=1e-5, atol=1e-6
        )


def test_ebc_default_init_range():
    torch.manual_seed(0)
    ebc = EmbeddingBagCollection(_tables())
    w = ebc.embedding_bags["t1"].weight.detach().numpy()
    bound = np.sqrt(1 / 20)
    assert w.min() >= -bound and w.max() <= bound and w.std() > bound / 3


def test_ebc_weighted_gradients():
    torch.manual_seed(0)
    ebc = EmbeddingBagCollection(_tables(), is_weighted=True)
    kjt = _kjt(1, weighted=True)
    kt = ebc(kjt)
    g = np.random.default_rng(2).standard_normal(kt.values().shape).astype(np.float32)
    (kt.values() * torch.from_numpy(g)).sum().backward()
    # reference: d/dW of sum_b g_b . sum_i w_i W[id_i] scatters g_b * w_i into row id_i
    w2 = ebc.embedding_bags["t2"].weight
    jt = kjt["f2"]
    ref = np.zeros(w2.shape)
    off = jt.offsets().numpy()
    for b in range(B):
        for i in range(off[b], off[b + 1]):
            ref[jt.values().numpy()[i]] += jt.weights().numpy()[i] * g[b, 6:]
    np.testing.assert_allclose(w2.grad.numpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        ebc(kjt)["f2"].detach().numpy(),
        _ref_pool(w2.detach().numpy(), kjt, "f2", "sum", True),
        rtol=1e-5,
    )


def test_ebc_errors():
    ebc = EmbeddingBagCollection(_tables())
    with pytest.raises(IndexError, match="id 25 out of range for table 't2'"):
        ebc(
            KeyedJaggedTensor.from_lengths_sync(
                ["f1", "f2", "f3"], torch.tensor([1, 25]), torch.tensor([1, 1, 0])
            )
        )
    with pytest.raises(KeyError, match="f3"):
        ebc(
            KeyedJaggedTensor.from_lengths_sync(
                ["f1", "f2"], torch.tensor([1]), torch.tensor([1, 0])
            )
        )
    with pytest.raises(ValueError, match="duplicate table names"):
        EmbeddingBagCollection([_tables()[0], _tables()[0]])


def test_embedding_collection_rows_and_grad():
    torch.manual_seed(0)
    ec = EmbeddingCollection(
        [EmbeddingConfig(name="t", embedding_dim=2, num_embeddings=20, feature_names=["f1", "f2"])],
        need_indices=True,
    )
    assert list(ec.state_dict()) == ["embeddings.t.weight"]
    kjt = _kjt(3, keys=("f1", "f2"))
    out = ec(kjt)
    w = ec.embeddings["t"].weight
    for k in ("f1", "f2"):
        ids = kjt[k].values().numpy()
        np.testing.assert_allclose(out[k].values().detach().numpy(), w.detach().numpy()[ids])
        assert out[k].lengths().tolist() == kjt[k].lengths().tolist()
        assert out[k].weights().tolist() == ids.tolist()
    out["f1"].values().sum().backward()
    ref = np.bincount(kjt["f1"].values().numpy(), minlength=20)[:, None] * np.ones((1, 2))
    np.testing.assert_allclose(w.grad.numpy(), ref)


def _fused_step(opt_cls, kwargs, steps=2):
    torch.manual_seed(0)
    tables = _tables(PoolingType.MEAN)
    ebc = FusedEmbeddingBagCollection(tables, optimizer_type=opt_cls, optimizer_kwargs=kwargs)
    dense = EmbeddingBagCollection(tables)
    dense.load_state_dict(ebc.state_dict())
    return ebc, dense


@pytest.mark.parametrize(
    "opt_cls,kwargs",
    [
        (torch.optim.SGD, {"lr": 0.3}),
        (torch.optim.Adagrad, {"lr": 0.3}),
        (torch.optim.Adam, {"lr": 0.05}),
        (RowWiseAdagrad, {"lr": 0.3}),
    ],
)
def test_fused_update_matches_numpy_reference(opt_cls, kwargs):
    ebc, dense = _fused_step(opt_cls, kwargs)
    w0 = {k: b.weight.detach().numpy().copy() for k, b in ebc.embedding_bags.items()}
    acc = {k: np.zeros(w.shape) for k, w in w0.items()}
    acc_row = {k: np.zeros(w.shape[0]) for k, w in w0.items()}
    m = {k: np.zeros(w.shape) for k, w in w0.items()}
    ref = {k: w.astype(np.float64) for k, w in w0.items()}
    for step in range(1, 4):
        kjt = _kjt(10 + step)
        target = torch.from_numpy(np.random.default_rng(step).standard_normal((B, 10)).astype("f4"))
        loss = ((ebc(kjt).values() - target) ** 2).sum()
        loss.backward()
        for b in dense.embedding_bags.values():
            b.weight.grad = None
        # the dense twin gives the exact row gradient at the reference weights
        for k, b in dense.embedding_bags.items():
            b.weight.data = torch.from_numpy(ref[k].astype(np.float32))
        ((dense(kjt).values() - target) ** 2).sum().backward()
        for k, b in dense.embedding_bags.items():
            g = b.weight.grad.numpy().astype(np.float64)
            touched = np.abs(g).sum(1) > 0
            lr = kwargs["lr"]
            if opt_cls is torch.optim.SGD:
                ref[k] -= lr * g
            elif opt_cls is torch.optim.Adagrad:
                acc[k] += g * g
                ref[k][touched] -= lr * g[touched] / (np.sqrt(acc[k][touched]) + 1e-10)
            elif opt_cls is RowWiseAdagrad:
                acc_row[k] += (g * g).mean(1)
                ref[k][touched] -= (lr / (np.sqrt(acc_row[k][touched]) + 1e-10))[:, None] * g[
                    touched
                ]
            else:
                m[k][touched] = 0.9 * m[k][touched] + 0.1 * g[touched]
                acc[k][touched] = 0.999 * acc[k][touched] + 0.001 * g[touched] ** 2
                sz = lr * np.sqrt(1 - 0.999**step) / (1 - 0.9**step)
                ref[k][touched] -= sz * m[k][touched] / (np.sqrt(acc[k][touched]) + 1e-8)
    for k, b in ebc.embedding_bags.items():
        assert b.weight.grad is None
        np.testing.assert_allclose(b.weight.detach().numpy(), ref[k], rtol=1e-4, atol=1e-5)
        assert not np.allclose(b.weight.detach().numpy(), w0[k])


def test_fused_rowwise_state_is_one_float_per_row():
    ebc, _ = _fused_step(RowWiseAdagrad, {"lr": 0.1})
    ebc(_kjt()).values().sum().backward()
    st = ebc.fused_optimizers()["t1"].state
    assert st["momentum1"].shape == (20,)
    with pytest.raises(ValueError, match="momentum"):
        apply_optimizer_in_backward(
            torch.optim.SGD, [torch.nn.Parameter(torch.ones(2, 2))], {"lr": 0.1, "momentum": 0.9}
        )


def test_mlp_and_crossnets_match_numpy():
    torch.manual_seed(0)
    x = torch.randn(4, 6)
    mlp = MLP(6, [5, 3])
    h = x.numpy()
    for i in range(2):
        lin = mlp._mlp[i]._linear
        h = np.maximum(h @ lin.weight.detach().numpy().T + lin.bias.detach().numpy(), 0)
    np.testing.assert_allclose(mlp(x).detach().numpy(), h, rtol=1e-5, atol=1e-6)
    cn = CrossNet(6, 2)
    x0 = x.numpy()
    xl = x0
    for k, b in zip(cn.kernels, cn.bias):
        xl = x0 * (xl @ k.detach().numpy().T + b.detach().numpy()[:, 0]) + xl
    np.testing.assert_allclose(cn(x).detach().numpy(), xl, rtol=1e-5, atol=1e-5)
    lr = LowRankCrossNet(6, 2, low_rank=2)
    xl = x0
    for w, v, b in zip(lr.W_kernels, lr.V_kernels, lr.bias):
        xl = x0 * (xl @ v.detach().numpy().T @ w.detach().numpy().T + b.detach().numpy()) + xl
    np.testing.assert_allclose(lr(x).detach().numpy(), xl, rtol=1e-5, atol=1e-5)
    assert sorted(lr.state_dict())[:2] == ["V_kernels.0", "V_kernels.1"]


def test_position_weighted_processing():
    torch.manual_seed(0)
    ebc = EmbeddingBagCollection(_tables(), is_weighted=True)
    pw = PositionWeightedModuleCollection({"f1": 4, "f2": 4, "f3": 4})
    with torch.no_grad():
        pw.position_weights["f1"].copy_(torch.tensor([1.0, 0.5, 0.25, 0.125]))
    fp = FeatureProcessedEmbeddingBagCollection(ebc, pw)
    kjt = _kjt(4)
    out = fp(kjt)
    jt = kjt["f1"]
    w = ebc.embedding_bags["t1"].weight.detach().numpy()
    off = jt.offsets().numpy()
    ref = np.zeros((B, 3))
    for b in range(B):
        for j, i in enumerate(range(off[b], off[b + 1])):
            ref[b] += 0.5**j * w[jt.values().numpy()[i]]
    np.testing.assert_allclose(out["f1"].detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    out.values().sum().backward()
    assert pw.position_weights["f1"].grad is not None


@pytest.mark.parametrize("compiled", [True, False])
def test_kernels_match_numpy_with_repeated_ids(monkeypatch, compiled):
    from tocha.rec import _kernels

    if not compiled:
        monkeypatch.setattr(_kernels, "_st", None)
    rng = np.random.default_rng(0)
    w = rng.random((7, 3)).astype(np.float32)
    offsets = np.array([0, 3, 3, 6])
    ids = np.array([1, 1, 4, 6, 0, 1])
    coef = rng.random(6).astype(np.float32)
    seg = np.repeat(np.arange(3), np.diff(offsets))
    ref = np.zeros((3, 3))
    np.add.at(ref, seg, coef[:, None] * w[ids])
    np.testing.assert_allclose(_kernels.pool(w, offsets, ids, coef), ref, rtol=1e-6)
    g = rng.random((3, 3)).astype(np.float32)
    ref_w = w.astype(np.float64).copy()
    np.add.at(ref_w, ids, -0.5 * coef[:, None] * g[seg])
    _kernels.accumulate_rows(w, offsets, ids, coef, g, -0.5)
    np.testing.assert_allclose(w, ref_w, rtol=1e-6)


def test_rowwise_adagrad_lr_decay_and_initial_accumulator():
    from tocha.rec.optim import SparseRowWiseAdagrad

    opt = SparseRowWiseAdagrad(lr=0.5, lr_decay=0.25, initial_accumulator_value=0.1)
    w = np.ones((4, 2), np.float32)
    ref = w.astype(np.float64).copy()
    acc = np.full(4, 0.1)
    for t, (rows, g) in enumerate(
        [(np.array([1, 3]), [[1.0, 2.0], [3.0, 1.0]]), (np.array([1]), [[0.5, 0.5]])], start=1
    ):
        g = np.asarray(g, np.float32)
        opt.step_rows(w, rows, g)
        acc[rows] += (g.astype(np.float64) ** 2).mean(1)
        clr = 0.5 / (1 + (t - 1) * 0.25)
        ref[rows] -= (clr / (np.sqrt(acc[rows]) + 1e-10))[:, None] * g
    np.testing.assert_allclose(w, ref, rtol=1e-6)
    assert opt.state["momentum1"].tolist() == pytest.approx(acc.tolist())
