import numpy as np
import pytest

import tocha.core as torch
from tocha.rec.datasets.utils import Batch
from tocha.rec.models.deepfm import SimpleDeepFMNN
from tocha.rec.models.dlrm import DLRM, DLRM_DCN, DLRMTrain, InteractionArch
from tocha.rec.models.mf import MatrixFactorization
from tocha.rec.models.two_tower import (
    BruteForceIndex,
    TwoTower,
    in_batch_softmax_loss,
    sampled_softmax_loss,
)
from tocha.rec.modules import EmbeddingBagCollection, EmbeddingBagConfig
from tocha.rec.modules.deepfm import FactorizationMachine
from tocha.rec.sparse.jagged_tensor import KeyedJaggedTensor


def _ebc(keys=("f1", "f2", "f3"), d=4):
    return EmbeddingBagCollection(
        [
            EmbeddingBagConfig(name=f"t_{k}", embedding_dim=d, num_embeddings=10, feature_names=[k])
            for k in keys
        ]
    )


def _kjt(keys=("f1", "f2", "f3"), b=2):
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 3, len(keys) * b)
    return KeyedJaggedTensor.from_lengths_sync(
        list(keys),
        torch.from_numpy(rng.integers(0, 10, int(lengths.sum()))),
        torch.from_numpy(lengths),
    )


def test_interaction_arch_matches_numpy():
    torch.manual_seed(0)
    dense = torch.randn(3, 4)
    sparse = torch.randn(3, 2, 4)
    out = InteractionArch(2)(dense, sparse).numpy()
    c = np.concatenate([dense.numpy()[:, None], sparse.numpy()], axis=1)
    g = np.einsum("bid,bjd->bij", c, c)
    ref = np.concatenate([dense.numpy(), g[:, [0, 0, 1], [1, 2, 2]]], axis=1)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_dlrm_shapes_keys_and_train_step():
    torch.manual_seed(0)
    model = DLRM(_ebc(), 5, [8, 4], [6, 1])
    keys = list(model.state_dict())
    assert "sparse_arch.embedding_bag_collection.embedding_bags.t_f1.weight" in keys
    assert "dense_arch.model._mlp.0._linear.weight" in keys
    assert "over_arch.model.1.weight" in keys
    assert model.over_arch.model[0]._mlp[0]._linear.in_features == 4 + 3 + 3
    train = DLRMTrain(model)
    batch = Batch(torch.randn(2, 5), _kjt(), torch.tensor([0.0, 1.0]))
    loss, (l2, logits, labels) = train(batch)
    p = 1 / (1 + np.exp(-logits.numpy()))
    ref = -np.mean(np.log(np.where(labels.numpy() > 0, p, 1 - p)))
    assert float(loss) == pytest.approx(ref, rel=1e-5)
    loss.backward()
    assert model.sparse_arch.embedding_bag_collection.embedding_bags["t_f2"].weight.grad is not None
    with pytest.raises(ValueError, match="must equal the embedding dim"):
        DLRM(_ebc(), 5, [8, 3], [6, 1])


def test_dlrm_dcn_shapes():
    torch.manual_seed(0)
    m = DLRM_DCN(_ebc(), 5, [8, 4], [6, 1], dcn_num_layers=2, dcn_low_rank_dim=3)
    assert m(torch.randn(2, 5), _kjt()).shape == (2, 1)
    assert m.inter_arch.crossnet.W_kernels[0].shape == (16, 3)


def test_deepfm():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4)
    fm = FactorizationMachine()([x[:, 0], x[:, 1:]]).numpy()
    v = x.numpy()
    ref = np.array(
        [
            [sum((v[b, i] * v[b, j]).sum() for i in range(3) for j in range(i + 1, 3))]
            for b in range(2)
        ]
    )
    np.testing.assert_allclose(fm, ref, rtol=1e-5, atol=1e-5)
    m = SimpleDeepFMNN(5, _ebc(), hidden_layer_size=8, deep_fm_dimension=6)
    p = m(torch.randn(2, 5), _kjt()).detach().numpy()
    assert p.shape == (2, 1) and ((p > 0) & (p < 1)).all()


def test_two_tower_losses_and_index():
    torch.manual_seed(0)
    q = torch.randn(4, 3)
    c = torch.randn(4, 3)
    logq = torch.tensor([-1.0, -2.0, -0.5, -3.0])
    logits = q.numpy() @ c.numpy().T / 0.5 - logq.numpy()[None]
    ref = np.mean(np.log(np.exp(logits).sum(1)) - np.diag(logits))
    assert float(in_batch_softmax_loss(q, c, logq, 0.5)) == pytest.approx(ref, rel=1e-5)
    neg = torch.randn(5, 3)
    lg = np.concatenate(
        [(q.numpy() * c.numpy()).sum(1, keepdims=True), q.numpy() @ neg.numpy().T], axis=1
    )
    ref = np.mean(np.log(np.exp(lg).sum(1)) - lg[:, 0])
    assert float(sampled_softmax_loss(q, c, neg)) == pytest.approx(ref, rel=1e-5)
    items = torch.randn(50, 3)
    scores, ids = BruteForceIndex(items, chunk_size=3).search(q, 5, exclude=[[0], [], [1, 2], []])
    s = q.numpy() @ items.numpy().T
    s[0, 0] = s[2, 1] = s[2, 2] = -np.inf
    np.testing.assert_array_equal(ids.numpy(), np.argsort(-s, axis=1)[:, :5])
    tt = TwoTower(_ebc(("user", "item")), [8, 4])
    qe, ce = tt(_kjt(("user", "item"), 3))
    assert qe.shape == (3, 4) and ce.shape == (3, 4)


def test_matrix_factorization_prediction():
    torch.manual_seed(0)
    mf = MatrixFactorization(3, 4, 2, global_mean=3.0)
    with torch.no_grad():
        mf.user_bias.weight.copy_(torch.tensor([[0.1], [0.2], [0.3]]))
    u, i = torch.tensor([0, 2]), torch.tensor([1, 3])
    p = mf.user_embedding.weight.detach().numpy()[[0, 2]]
    q = mf.item_embedding.weight.detach().numpy()[[1, 3]]
    np.testing.assert_allclose(
        mf(u, i).detach().numpy(), 3.0 + np.array([0.1, 0.3]) + (p * q).sum(1), rtol=1e-5
    )
