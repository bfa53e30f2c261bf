import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import tocha.core as torch
from tocha.geometric import utils as U
from tocha.geometric.data import Data


def _rand_edges(rng, n, e):
    return torch.from_numpy(rng.integers(0, n, size=(2, e)))


def _dense(ei, n, w=None):
    a = np.zeros((n, n))
    np.add.at(a, (ei[0], ei[1]), 1.0 if w is None else w)
    return a


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_coalesce_matches_numpy(reduce):
    rng = np.random.default_rng(0)
    ei = _rand_edges(rng, 7, 60)
    w = rng.standard_normal((60, 2)).astype(np.float32)
    out, ow = U.coalesce(ei, torch.from_numpy(w), 7, reduce=reduce)
    e = ei.numpy()
    keys = e[0] * 7 + e[1]
    uniq = np.unique(keys)
    np.testing.assert_array_equal(out.numpy(), np.stack([uniq // 7, uniq % 7]))
    fn = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[reduce]
    ref = np.stack([fn(w[keys == k], axis=0) for k in uniq])
    np.testing.assert_allclose(ow.detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    assert U.coalesce(ei, num_nodes=7).tolist() == out.tolist()
    # the differentiable path (values requiring grad) gives the same numbers
    _, gw = U.coalesce(ei, torch.from_numpy(w).requires_grad_(), 7, reduce=reduce)
    np.testing.assert_allclose(gw.detach().numpy(), ref, rtol=1e-5, atol=1e-6)


def test_coalesce_gradient_and_errors():
    ei = torch.tensor([[1, 0, 1], [0, 1, 0]])
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    _, out = U.coalesce(ei, w)
    (out * torch.tensor([10.0, 100.0])).sum().backward()
    assert w.grad.tolist() == [100.0, 10.0, 100.0]
    with pytest.raises(ValueError, match="coalesce: reduce must be one of"):
        U.coalesce(ei, w, reduce="median")
    with pytest.raises(ValueError, match=r"shape \[2, E\]"):
        U.coalesce(torch.tensor([0, 1]))


def test_sort_edge_index_by_column():
    ei = torch.tensor([[2, 0, 1], [0, 2, 0]])
    out, w = U.sort_edge_index(ei, torch.tensor([1.0, 2.0, 3.0]), sort_by_row=False)
    assert out.tolist() == [[1, 2, 0], [0, 0, 2]] and w.tolist() == [3.0, 1.0, 2.0]


def test_to_undirected_and_is_undirected():
    rng = np.random.default_rng(1)
    ei = _rand_edges(rng, 9, 20)
    und = U.to_undirected(ei, num_nodes=9)
    a = _dense(ei.numpy(), 9) > 0
    ref = a | a.T
    np.testing.assert_array_equal(_dense(und.numpy(), 9) > 0, ref)
    assert _dense(und.numpy(), 9).max() == 1.0  # no duplicates left
    assert U.is_undirected(und) and not U.is_undirected(torch.tensor([[0], [1]]))
    w = torch.tensor([1.0, 2.0])
    assert not U.is_undirected(torch.tensor([[0, 1], [1, 0]]), w)
    _, w2 = U.to_undirected(torch.tensor([[0, 1], [1, 0]]), w)
    assert w2.tolist() == [3.0, 3.0]


def test_subgraph_and_k_hop_against_networkx():
    rng = np.random.default_rng(2)
    ei = _rand_edges(rng, 30, 70)
    e = ei.numpy()
    subset = np.array([1, 4, 7, 8, 20])
    out, attr, mask = U.subgraph(
        torch.from_numpy(subset),
        ei,
        torch.arange(70.0),
        relabel_nodes=True,
        num_nodes=30,
        return_edge_mask=True,
    )
    ref_mask = np.isin(e[0], subset) & np.isin(e[1], subset)
    np.testing.assert_array_equal(mask.numpy(), ref_mask)
    np.testing.assert_array_equal(attr.numpy(), np.flatnonzero(ref_mask))
    np.testing.assert_array_equal(out.numpy(), np.searchsorted(subset, e[:, ref_mask]))

    G = nx.DiGraph()
    G.add_nodes_from(range(30))
    G.add_edges_from(zip(e[0].tolist(), e[1].tolist()))
    seeds = [3, 11]
    sub, sub_ei, mapping, emask = U.k_hop_subgraph(torch.tensor(seeds), 2, ei, True, 30)
    # source_to_target: the nodes that can reach a seed within 2 hops
    ref = set()
    for s in seeds:
        ref |= set(nx.single_source_shortest_path_length(G.reverse(), s, cutoff=2))
    assert sub.tolist() == sorted(ref)
    assert sub.numpy()[mapping.numpy()].tolist() == seeds
    ref_emask = np.isin(e[0], sorted(ref)) & np.isin(e[1], sorted(ref))
    np.testing.assert_array_equal(emask.numpy(), ref_emask)
    assert sub_ei.shape[1] == ref_emask.sum()


def test_dropout_edge():
    torch.manual_seed(0)
    ei = _rand_edges(np.random.default_rng(3), 50, 4000)
    out, mask = U.dropout_edge(ei, p=0.3)
    assert abs(mask.float().mean().item() - 0.7) < 0.03
    np.testing.assert_array_equal(out.numpy(), ei.numpy()[:, mask.numpy()])
    same, _ = U.dropout_edge(ei, p=0.3, training=False)
    assert same is ei
    und = U.to_undirected(ei)
    out, _ = U.dropout_edge(und, p=0.5, force_undirected=True)
    assert U.is_undirected(out)
    with pytest.raises(ValueError, match="between 0 and 1"):
        U.dropout_edge(ei, p=1.5)


def test_negative_sampling_avoids_edges():
    torch.manual_seed(0)
    ei = _rand_edges(np.random.default_rng(4), 40, 300)
    neg = U.negative_sampling(ei, num_nodes=40, num_neg_samples=250).numpy()
    assert neg.shape == (2, 250)
    existing = set(map(tuple, ei.numpy().T.tolist()))
    pairs = list(map(tuple, neg.T.tolist()))
    assert len(set(pairs)) == 250 and not (set(pairs) & existing)
    assert all(i != j for i, j in pairs)
    und = U.negative_sampling(U.to_undirected(ei), 40, 100, force_undirected=True)
    assert U.is_undirected(und) and und.shape[1] == 100


def test_to_dense_adj_and_batch():
    ei = torch.tensor([[0, 1, 1, 3, 4, 4], [1, 0, 2, 4, 3, 3]])
    batch = torch.tensor([0, 0, 0, 1, 1])
    adj = U.to_dense_adj(ei, batch)
    ref = np.zeros((2, 3, 3))
    ref[0] = _dense(np.array([[0, 1, 1], [1, 0, 2]]), 3)
    ref[1, :2, :2] = _dense(np.array([[0, 1, 1], [1, 0, 0]]), 2)
    np.testing.assert_array_equal(adj.numpy(), ref)
    w = torch.arange(1.0, 7.0, requires_grad=True)
    wadj = U.to_dense_adj(ei, batch, w)
    assert wadj[1, 1, 0].item() == 11.0
    wadj.sum().backward()
    assert w.grad.tolist() == [1.0] * 6

    x = torch.arange(10.0).view(5, 2).requires_grad_()
    out, mask = U.to_dense_batch(x, batch, fill_value=-1.0)
    refx = np.full((2, 3, 2), -1.0)
    refx[0] = np.arange(6.0).reshape(3, 2)
    refx[1, :2] = np.arange(6.0, 10.0).reshape(2, 2)
    np.testing.assert_array_equal(out.detach().numpy(), refx)
    assert mask.tolist() == [[True, True, True], [True, True, False]]
    out.sum().backward()
    assert x.grad.sum().item() == 10.0


def test_scipy_and_networkx_roundtrip():
    rng = np.random.default_rng(5)
    A = sp.random(12, 12, density=0.2, random_state=5, format="coo")
    ei, w = U.from_scipy_sparse_matrix(A)
    B = U.to_scipy_sparse_matrix(ei, w, 12)
    np.testing.assert_allclose(B.toarray(), A.toarray())

    G = nx.karate_club_graph()
    data = U.from_networkx(G)
    assert data.num_nodes == 34 and data.edge_index.shape[1] == 156
    assert U.is_undirected(data.edge_index)
    assert data.club[0] == "Mr. Hi" and data.club[-1] == "Officer"
    np.testing.assert_allclose(data.weight.numpy()[:3], [4, 5, 3])
    H = U.to_networkx(data, to_undirected=True)
    assert nx.is_isomorphic(H, G) and sorted(H.edges()) == sorted(G.edges())
    D = U.to_networkx(
        Data(edge_index=torch.from_numpy(rng.integers(0, 5, (2, 8))), num_nodes=5),
        remove_self_loops=True,
    )
    assert all(u != v for u, v in D.edges())


@pytest.mark.parametrize("norm", [None, "sym", "rw"])
def test_get_laplacian_matches_dense(norm):
    G = nx.karate_club_graph()
    data = U.from_networkx(G)
    ei, w = data.edge_index, data.weight.float()
    lei, lw = U.get_laplacian(ei, w, normalization=norm, num_nodes=34)
    L = _dense(lei.numpy(), 34, lw.numpy())
    A = nx.to_numpy_array(G, nodelist=range(34))
    d = A.sum(1)
    ref = {
        None: np.diag(d) - A,
        "sym": np.eye(34) - A / np.sqrt(np.outer(d, d)),
        "rw": np.eye(34) - A / d[:, None],
    }[norm]
    np.testing.assert_allclose(L, ref, rtol=1e-5, atol=1e-6)


def test_train_test_split_edges_partitions():
    torch.manual_seed(0)
    data = U.from_networkx(nx.karate_club_graph())
    n_und = data.edge_index.shape[1] // 2
    data = U.train_test_split_edges(data, val_ratio=0.1, test_ratio=0.2)
    assert data.edge_index is None
    v, t = data.val_pos_edge_index.numpy(), data.test_pos_edge_index.numpy()
    tr = data.train_pos_edge_index.numpy()
    assert v.shape[1] == 7 and t.shape[1] == 15 and tr.shape[1] == 2 * (n_und - 22)
    pos = set(map(tuple, np.concatenate([v, t, tr[:, : tr.shape[1] // 2]], 1).T.tolist()))
    assert len(pos) == n_und
    edges = {tuple(sorted(e)) for e in nx.karate_club_graph().edges()}
    assert pos == edges
    neg = np.concatenate([data.val_neg_edge_index.numpy(), data.test_neg_edge_index.numpy()], 1)
    assert neg.shape[1] == 22 and not ({tuple(e) for e in neg.T.tolist()} & edges)


def test_masks_and_one_hot():
    m = U.index_to_mask(torch.tensor([0, 3]), size=4)
    assert m.tolist() == [True, False, False, True]
    assert U.mask_to_index(m).tolist() == [0, 3]
    with pytest.raises(IndexError, match="index_to_mask"):
        U.index_to_mask(torch.tensor([5]), size=3)
    assert U.one_hot(torch.tensor([1, 0]), 3).tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


def test_isolated_nodes_and_homophily():
    ei = torch.tensor([[0, 2, 4, 4], [2, 0, 4, 4]])
    assert U.contains_isolated_nodes(ei, 5)
    out, w, mask = U.remove_isolated_nodes(ei, torch.arange(4.0), 5)
    assert mask.tolist() == [True, False, True, False, False]  # node 4 has only loops
    assert out.tolist() == [[0, 1], [1, 0]] and w.tolist() == [0.0, 1.0]
    rng = np.random.default_rng(10)
    e = rng.integers(0, 20, (2, 60))
    y = rng.integers(0, 2, 20)
    same = y[e[0]] == y[e[1]]
    assert U.homophily(torch.from_numpy(e), torch.from_numpy(y)) == pytest.approx(same.mean())
    per = [same[e[1] == i].mean() if (e[1] == i).any() else 0.0 for i in range(20)]
    got = U.homophily(torch.from_numpy(e), torch.from_numpy(y), method="node")
    assert got == pytest.approx(np.mean(per))


def test_unbatch_cumsum_dense_to_sparse():
    batch = torch.tensor([0, 0, 1, 1, 1])
    parts = U.unbatch(torch.arange(10.0).view(5, 2), batch)
    assert [p.shape[0] for p in parts] == [2, 3] and parts[1][0].tolist() == [4.0, 5.0]
    ei = torch.tensor([[0, 1, 2, 4], [1, 0, 3, 2]])
    assert [e.tolist() for e in U.unbatch_edge_index(ei, batch)] == [
        [[0, 1], [1, 0]],
        [[0, 2], [1, 0]],
    ]
    assert U.cumsum(torch.tensor([[1, 2], [3, 4]]), dim=1).tolist() == [[0, 1, 3], [0, 3, 7]]
    adj = torch.tensor([[[0.0, 2.0], [0.0, 0.0]], [[0.0, 0.0], [5.0, 1.0]]], requires_grad=True)
    ei, w = U.dense_to_sparse(adj)
    assert ei.tolist() == [[0, 3, 3], [1, 2, 3]] and w.tolist() == [2.0, 5.0, 1.0]
    w.sum().backward()
    assert adj.grad.tolist() == [[[0.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 1.0]]]
    with pytest.raises(ValueError, match="dense_to_sparse: adj must be 2- or 3-dimensional"):
        U.dense_to_sparse(torch.ones(2))


def test_random_graphs_and_structured_negatives():
    torch.manual_seed(0)
    ei = U.erdos_renyi_graph(200, 0.1)
    assert U.is_undirected(ei) and not bool((ei[0] == ei[1]).any())
    assert abs(ei.shape[1] / (200 * 199) - 0.1) < 0.01
    d = U.erdos_renyi_graph(100, 0.2, directed=True)
    assert abs(d.shape[1] / (100 * 99) - 0.2) < 0.02
    sbm = U.stochastic_blockmodel_graph([30, 30], [[0.5, 0.0], [0.0, 0.5]])
    assert bool(((sbm[0] < 30) == (sbm[1] < 30)).all())
    base = U.erdos_renyi_graph(40, 0.2)
    i, j, k = U.structured_negative_sampling(base, 40)
    edges = set(map(tuple, base.t().tolist()))
    assert (i.tolist(), j.tolist()) == tuple(base.tolist())
    assert not any((a, c) in edges for a, c in zip(i.tolist(), k.tolist()))
