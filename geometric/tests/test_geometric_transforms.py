import numpy as np
import pytest

import tocha.core as torch
from tocha.geometric.data import Data
from tocha.geometric.transforms import (
    AddSelfLoops,
    Compose,
    GCNNorm,
    KNNGraph,
    NormalizeFeatures,
    RandomLinkSplit,
    RandomNodeSplit,
    ToUndirected,
)
from tocha.geometric.utils import is_undirected, to_undirected


def test_normalize_features_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    d = Data(x=torch.from_numpy(x))
    out = NormalizeFeatures()(d)
    ref = x - x.min()
    ref = ref / np.maximum(ref.sum(-1, keepdims=True), 1.0)
    np.testing.assert_allclose(out.x.numpy(), ref, rtol=1e-6)
    assert d.x is not out.x  # the caller's object is untouched


def test_to_undirected_reduces_edge_attributes():
    d = Data(
        edge_index=torch.tensor([[0, 1, 2], [1, 0, 1]]),
        edge_attr=torch.tensor([1.0, 2.0, 4.0]),
        num_nodes=3,
    )
    out = ToUndirected()(d)
    assert out.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert out.edge_attr.tolist() == [3.0, 3.0, 4.0, 4.0]
    assert ToUndirected(reduce="mean")(d).edge_attr.tolist() == [1.5, 1.5, 4.0, 4.0]
    assert d.edge_index.shape[1] == 3


def test_add_self_loops_and_compose():
    d = Data(edge_index=torch.tensor([[0], [1]]), edge_weight=torch.tensor([0.5]), num_nodes=3)
    out = AddSelfLoops(fill_value=2.0)(d)
    assert out.edge_index.tolist() == [[0, 0, 1, 2], [1, 0, 1, 2]]
    assert out.edge_weight.tolist() == [0.5, 2.0, 2.0, 2.0]
    both = Compose([ToUndirected(), AddSelfLoops()])(d)
    assert both.edge_index.shape[1] == 5 and both.edge_weight.tolist() == [0.5, 0.5, 1, 1, 1]


def test_gcn_norm_matches_dense_formula():
    rng = np.random.default_rng(1)
    ei = to_undirected(torch.from_numpy(rng.integers(0, 8, (2, 14))), num_nodes=8)
    out = GCNNorm()(Data(edge_index=ei, num_nodes=8))
    a = np.zeros((8, 8))
    e = ei.numpy()
    a[e[0], e[1]] = 1.0
    np.fill_diagonal(a, 1.0)
    dis = 1.0 / np.sqrt(a.sum(0))
    ref = dis[:, None] * a * dis[None, :]
    got = np.zeros((8, 8))
    np.add.at(got, (out.edge_index.numpy()[0], out.edge_index.numpy()[1]), out.edge_weight.numpy())
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_knn_graph_matches_brute_force():
    rng = np.random.default_rng(2)
    pos = rng.standard_normal((30, 3)).astype(np.float32)
    batch = np.repeat([0, 1, 2], [8, 12, 10])
    d = Data(pos=torch.from_numpy(pos), batch=torch.from_numpy(batch))
    out = KNNGraph(k=3)(d)
    ei = out.edge_index.numpy()
    dist = ((pos[:, None] - pos[None]) ** 2).sum(-1)
    dist[batch[:, None] != batch[None]] = np.inf
    np.fill_diagonal(dist, np.inf)
    ref_nb = np.argsort(dist, axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(ei[1], np.repeat(np.arange(30), 3))
    np.testing.assert_array_equal(np.sort(ei[0].reshape(30, 3), 1), np.sort(ref_nb, 1))
    assert is_undirected(KNNGraph(k=3, force_undirected=True)(d).edge_index)
    with pytest.raises(ValueError, match="KNNGraph: data has no 'pos'"):
        KNNGraph()(Data(x=torch.ones(2, 2)))


def test_random_node_split():
    torch.manual_seed(0)
    y = torch.from_numpy(np.repeat([0, 1, 2], [30, 40, 30]))
    d = Data(x=torch.ones(100, 2), y=y)
    out = RandomNodeSplit(num_val=0.1, num_test=20)(d)
    tr, va, te = out.train_mask.numpy(), out.val_mask.numpy(), out.test_mask.numpy()
    assert (tr.sum(), va.sum(), te.sum()) == (70, 10, 20)
    assert not (tr & va).any() and not (tr & te).any() and (tr | va | te).all()
    out = RandomNodeSplit("random", num_train_per_class=5, num_val=10, num_test=15)(d)
    tr = out.train_mask.numpy()
    assert np.bincount(y.numpy()[tr]).tolist() == [5, 5, 5]
    assert out.val_mask.sum().item() == 10 and out.test_mask.sum().item() == 15
    out = RandomNodeSplit("test_rest", num_train_per_class=5, num_val=10, num_splits=2)(d)
    assert tuple(out.train_mask.shape) == (100, 2) and out.test_mask[:, 1].sum().item() == 75


def test_random_link_split():
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    ei = to_undirected(torch.from_numpy(rng.integers(0, 40, (2, 120))), num_nodes=40)
    d = Data(x=torch.ones(40, 1), edge_index=ei)
    train, val, test = RandomLinkSplit(num_val=0.1, num_test=0.2, is_undirected=True)(d)
    und = {tuple(e) for e in ei.numpy().T.tolist() if e[0] <= e[1]}
    m = len(und)
    nv, nt = int(0.1 * m), int(0.2 * m)  # PyG floors fractions of edges

    def pos(split, k):
        return {tuple(e) for e in split.edge_label_index.numpy()[:, :k].T.tolist()}

    p_tr, p_va, p_te = pos(train, m - nv - nt), pos(val, nv), pos(test, nt)
    assert p_tr | p_va | p_te == und and not (p_tr & p_va) and not (p_va & p_te)
    assert train.edge_index.shape[1] == 2 * (m - nv - nt) and is_undirected(train.edge_index)
    assert test.edge_index.shape[1] == 2 * (m - nt)
    assert val.edge_label.tolist() == [1.0] * nv + [0.0] * nv
    all_edges = {tuple(e) for e in ei.numpy().T.tolist()}
    for split in (train, val, test):
        k = split.edge_label.numel() // 2
        neg = {tuple(e) for e in split.edge_label_index.numpy()[:, k:].T.tolist()}
        assert not (neg & all_edges)
    tr2, _, _ = RandomLinkSplit(split_labels=True, add_negative_train_samples=False)(d)
    assert not hasattr(tr2, "neg_edge_label_index") and tr2.pos_edge_label.min().item() == 1.0


def test_hetero_to_undirected_and_link_split():
    import tocha.geometric.transforms as T
    from tocha.geometric.data import HeteroData

    torch.manual_seed(0)
    rng = np.random.default_rng(6)
    h = HeteroData()
    h["user"].x = torch.ones(30, 2)
    h["movie"].x = torch.ones(20, 3)
    key = np.unique(rng.integers(0, 30, 150) * 20 + rng.integers(0, 20, 150))
    ei = np.stack([key // 20, key % 20])
    et, rev = ("user", "rates", "movie"), ("movie", "rev_rates", "user")
    h[et].edge_index = torch.from_numpy(ei)
    h[et].edge_label = torch.from_numpy(rng.integers(0, 5, ei.shape[1]))
    h = T.ToUndirected()(h)
    assert h[rev].edge_index.tolist() == h[et].edge_index.flip(0).tolist()
    del h[rev].edge_label
    train, val, test = T.RandomLinkSplit(
        num_val=0.1, num_test=0.1, neg_sampling_ratio=0.0, edge_types=et, rev_edge_types=rev
    )(h)
    e = ei.shape[1]
    nv = nt = int(0.1 * e)
    assert train[et].edge_index.shape[1] == e - nv - nt
    assert test[et].edge_index.shape[1] == e - nt
    for split in (train, val, test):
        assert split[rev].edge_index.tolist() == split[et].edge_index.flip(0).tolist()
        sup = split[et].edge_label_index.numpy()
        # ratings travel with their edges (no negatives, so no shift)
        ref = {(u, m): r for (u, m), r in zip(ei.T.tolist(), h[et].edge_label.tolist())}
        assert split[et].edge_label.tolist() == [ref[(u, m)] for u, m in sup.T.tolist()]
    assert val[et].edge_label_index.shape[1] == nv and "edge_label" not in h[rev]
    with pytest.raises(ValueError, match="needs 'edge_types'"):
        T.RandomLinkSplit()(h)


def test_small_transforms():
    import tocha.geometric.transforms as T

    ei = torch.tensor([[0, 0, 1, 3, 4], [1, 2, 0, 4, 3]])
    d = Data(x=torch.arange(6.0).view(6, 1), edge_index=ei)
    oh = T.OneHotDegree(3)(d).x.numpy()
    deg = np.bincount(ei.numpy()[0], minlength=6)
    np.testing.assert_array_equal(oh[:, 1:], np.eye(4, dtype=np.float32)[deg])
    np.testing.assert_array_equal(oh[:, 0], np.arange(6.0))
    with pytest.raises(RuntimeError, match="degree 2 > max_degree 1"):
        T.OneHotDegree(1)(d)
    assert T.Constant(2.0, cat=False)(d).x.view(-1).tolist() == [2.0] * 6
    r = T.RemoveIsolatedNodes()(d)  # node 5 has no edge
    assert r.num_nodes == 5 and r.x.view(-1).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    lcc = T.LargestConnectedComponents()(d)  # {0, 1, 2} beats {3, 4} and {5}
    assert lcc.x.view(-1).tolist() == [0.0, 1.0, 2.0]
    assert lcc.edge_index.tolist() == [[0, 0, 1], [1, 2, 0]]
    two = T.LargestConnectedComponents(2)(d)
    assert two.num_nodes == 5 and two.edge_index.shape[1] == 5
    assert T.ToDevice("cpu")(d).x.device.type == "cpu"
