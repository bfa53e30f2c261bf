import numpy as np
import pytest

import tocha.core as torch
from tocha.geometric.data import Data
from tocha.geometric.loader import (
    ClusterData,
    ClusterLoader,
    DataLoader,
    LinkNeighborLoader,
    NeighborLoader,
)


def _graph(n=200, e=1500, seed=0):
    rng = np.random.default_rng(seed)
    ei = rng.integers(0, n, size=(2, e))
    return Data(
        x=torch.from_numpy(rng.standard_normal((n, 4)).astype(np.float32)),
        edge_index=torch.from_numpy(ei),
        edge_attr=torch.from_numpy(np.arange(e, dtype=np.float32)),
        y=torch.from_numpy(rng.integers(0, 3, n)),
    )


def test_dataloader_batches_graphs():
    graphs = [
        Data(x=torch.full((n, 2), float(n)), edge_index=torch.tensor([[0], [n - 1]]))
        for n in range(2, 9)
    ]
    batches = list(DataLoader(graphs, batch_size=3))
    assert [b.num_graphs for b in batches] == [3, 3, 1]
    assert batches[0].edge_index.tolist() == [[0, 2, 5], [1, 4, 8]]
    torch.manual_seed(0)
    a = [b.x[:, 0].tolist() for b in DataLoader(graphs, batch_size=2, shuffle=True)]
    torch.manual_seed(0)
    b = [b.x[:, 0].tolist() for b in DataLoader(graphs, batch_size=2, shuffle=True)]
    assert a == b and sorted(sum(a, [])) == sorted(sum(([float(n)] * n for n in range(2, 9)), []))


def _check_batch(data, batch, nums):
    ei, n_id, e_id = batch.edge_index.numpy(), batch.n_id.numpy(), batch.e_id.numpy()
    full = data.edge_index.numpy()
    # every sampled edge is a real edge, pointing from a sampled neighbour to its sampler
    np.testing.assert_array_equal(n_id[ei], full[:, e_id])
    np.testing.assert_array_equal(batch.x.numpy(), data.x.numpy()[n_id])
    np.testing.assert_array_equal(batch.y.numpy(), data.y.numpy()[n_id])
    np.testing.assert_array_equal(batch.edge_attr.numpy(), e_id.astype(np.float32))
    assert len(np.unique(n_id)) == n_id.size
    indeg = np.bincount(full[1], minlength=data.num_nodes)
    # hop by hop: each target keeps min(k, in-degree) distinct in-edges
    bounds = np.cumsum([0, *batch.num_sampled_nodes])
    for hop, k in enumerate(nums):
        targets = np.arange(bounds[hop], bounds[hop + 1])
        sel = np.isin(ei[1], targets)
        got = np.bincount(ei[1][sel], minlength=n_id.size)[targets]
        np.testing.assert_array_equal(got, np.minimum(indeg[n_id[targets]], k))
        assert len(np.unique(e_id[sel])) == sel.sum()
    assert sum(batch.num_sampled_edges) == ei.shape[1]


def test_neighbor_loader_samples_valid_subgraphs():
    data = _graph()
    torch.manual_seed(0)
    seeds = torch.arange(0, 200, 3)
    loader = NeighborLoader(data, num_neighbors=[5, 3], input_nodes=seeds, batch_size=16)
    batches = list(loader)
    assert len(batches) == 5 and [b.batch_size for b in batches] == [16, 16, 16, 16, 3]
    for i, b in enumerate(batches):
        np.testing.assert_array_equal(
            b.n_id.numpy()[: b.batch_size], seeds.numpy()[16 * i : 16 * i + b.batch_size]
        )
        _check_batch(data, b, [5, 3])
    # reproducible under torch.manual_seed
    torch.manual_seed(0)
    again = next(iter(NeighborLoader(data, [5, 3], input_nodes=seeds, batch_size=16)))
    assert again.n_id.tolist() == batches[0].n_id.tolist()


def test_neighbor_loader_all_neighbors_is_k_hop():
    data = _graph(60, 150, seed=1)
    b = next(iter(NeighborLoader(data, [-1, -1], input_nodes=torch.tensor([7]), batch_size=1)))
    full = data.edge_index.numpy()
    hop1 = set(full[0][full[1] == 7].tolist())
    hop2 = set(full[0][np.isin(full[1], sorted(hop1 - {7}))].tolist())
    assert set(b.n_id.tolist()) == {7} | hop1 | hop2
    assert b.num_sampled_edges[0] == int((full[1] == 7).sum())


def test_neighbor_loader_is_uniform_and_replace():
    # node 0 has 4 in-neighbours; sampling 2 of them picks each about half the time
    ei = torch.tensor([[1, 2, 3, 4], [0, 0, 0, 0]])
    data = Data(x=torch.arange(5.0).view(5, 1), edge_index=ei)
    torch.manual_seed(0)
    loader = NeighborLoader(
        data, [2], input_nodes=torch.zeros(4000, dtype=torch.int64), batch_size=4000
    )
    b = next(iter(loader))
    picked = b.n_id.numpy()[b.edge_index.numpy()[0]]
    freq = np.bincount(picked, minlength=5)[1:] / 4000
    np.testing.assert_allclose(freq, 0.5, atol=0.04)
    # no node picks the same neighbour twice without replacement
    pairs = picked[np.argsort(b.edge_index.numpy()[1], kind="stable")].reshape(-1, 2)
    assert pairs.shape == (4000, 2) and (pairs[:, 0] != pairs[:, 1]).all()
    rb = next(iter(NeighborLoader(data, [6], replace=True, batch_size=1)))
    assert rb.num_sampled_edges == [6]


def test_neighbor_loader_induced_and_errors():
    data = _graph(80, 400, seed=2)
    torch.manual_seed(1)
    b = next(iter(NeighborLoader(data, [3, 2], batch_size=8, subgraph_type="induced")))
    n_id = b.n_id.numpy()
    full = data.edge_index.numpy()
    ref = np.flatnonzero(np.isin(full[0], n_id) & np.isin(full[1], n_id))
    assert sorted(b.e_id.tolist()) == ref.tolist()
    np.testing.assert_array_equal(n_id[b.edge_index.numpy()], full[:, b.e_id.numpy()])
    with pytest.raises(IndexError, match="refers to node 500 but the graph has 80 nodes"):
        NeighborLoader(data, [2], input_nodes=torch.tensor([500]))
    with pytest.raises(ValueError, match="subgraph_type"):
        NeighborLoader(data, [2], subgraph_type="sideways")


def test_link_neighbor_loader():
    data = _graph(100, 600, seed=3)
    torch.manual_seed(2)
    loader = LinkNeighborLoader(data, [3, 2], batch_size=32, shuffle=True, neg_sampling_ratio=2.0)
    total = 0
    for b in loader:
        k = b.input_id.numel()
        total += k
        full = data.edge_index.numpy()[:, b.input_id.numpy()]
        eli = b.edge_label_index.numpy()
        np.testing.assert_array_equal(b.n_id.numpy()[eli[:, :k]], full)
        assert eli.shape[1] == 3 * k
        assert b.edge_label.tolist() == [1.0] * k + [0.0] * (2 * k)
    assert total == 600
    # given integer labels are shifted by one to leave 0 to the negatives
    lbl = torch.from_numpy(np.random.default_rng(0).integers(0, 2, 600))
    b = next(
        iter(LinkNeighborLoader(data, [2], edge_label=lbl, batch_size=10, neg_sampling="binary"))
    )
    assert b.edge_label[:10].tolist() == (lbl[:10] + 1).tolist()
    t = next(iter(LinkNeighborLoader(data, [2], batch_size=10, neg_sampling="triplet")))
    assert t.src_index.shape[0] == 10 and t.dst_neg_index.shape[0] == 10


def test_cluster_data_and_loader():
    data = _graph(90, 500, seed=4)
    cd = ClusterData(data, num_parts=6, log=False)
    perm = cd.partition.node_perm
    assert sorted(perm.tolist()) == list(range(90))
    assert np.diff(cd.partition.partptr).tolist() == [15] * 6
    full = data.edge_index.numpy()
    inv = np.empty(90, np.int64)
    inv[perm] = np.arange(90)
    for i in range(6):
        c = cd[i]
        nodes = perm[15 * i : 15 * (i + 1)]
        np.testing.assert_array_equal(c.x.numpy(), data.x.numpy()[nodes])
        mask = np.isin(full[0], nodes) & np.isin(full[1], nodes)
        assert c.num_edges == mask.sum()
        np.testing.assert_array_equal(
            np.sort(c.edge_attr.numpy()), np.flatnonzero(mask).astype(np.float32)
        )
        np.testing.assert_array_equal(
            nodes[c.edge_index.numpy()], full[:, c.edge_attr.numpy().astype(int)]
        )
    whole = next(iter(ClusterLoader(cd, batch_size=6)))
    assert whole.num_edges == 500 and whole.num_nodes == 90
    # locality: the RCM ordering cuts fewer edges than a random balanced partition would
    part = np.repeat(np.arange(6), 15)[inv]
    cut = (part[full[0]] != part[full[1]]).mean()
    rnd = np.random.default_rng(0).permutation(np.repeat(np.arange(6), 15))
    assert cut < (rnd[full[0]] != rnd[full[1]]).mean()
    with pytest.raises(ValueError, match="num_parts must be in"):
        ClusterData(data, num_parts=0)


def test_neighbor_sampling_uniform_over_distinct_targets():
    # 2000 targets with 5 private in-neighbours each; k=2 picks every neighbour w.p. 2/5
    t = np.repeat(np.arange(2000), 5)
    src = 2000 + np.arange(10000)
    data = Data(edge_index=torch.from_numpy(np.stack([src, t])), num_nodes=12000)
    torch.manual_seed(3)
    b = next(iter(NeighborLoader(data, [2], input_nodes=torch.arange(2000), batch_size=2000)))
    ei = b.edge_index.numpy()
    picked = b.n_id.numpy()[ei[0]] - 2000
    assert (picked // 5 == ei[1]).all()  # each target only picks its own neighbours
    assert np.bincount(ei[1], minlength=2000).tolist() == [2] * 2000
    pairs = picked[np.argsort(ei[1], kind="stable")].reshape(-1, 2)
    assert (pairs[:, 0] != pairs[:, 1]).all()
    np.testing.assert_allclose(np.bincount(picked % 5) / 2000, 0.4, atol=0.03)


def _hetero_graph(seed=0):
    from tocha.geometric.data import HeteroData

    rng = np.random.default_rng(seed)
    h = HeteroData()
    h["paper"].x = torch.from_numpy(rng.standard_normal((120, 4)).astype(np.float32))
    h["paper"].y = torch.from_numpy(rng.integers(0, 3, 120))
    h["author"].x = torch.from_numpy(rng.standard_normal((60, 2)).astype(np.float32))
    writes = np.stack([rng.integers(0, 60, 400), rng.integers(0, 120, 400)])
    cites = rng.integers(0, 120, (2, 500))
    h["author", "writes", "paper"].edge_index = torch.from_numpy(writes)
    h["paper", "rev_writes", "author"].edge_index = torch.from_numpy(writes[::-1].copy())
    h["paper", "cites", "paper"].edge_index = torch.from_numpy(cites)
    h["paper", "cites", "paper"].edge_attr = torch.from_numpy(np.arange(500.0))
    return h


def test_neighbor_loader_hetero():
    h = _hetero_graph()
    torch.manual_seed(0)
    seeds = torch.arange(0, 120, 4)
    loader = NeighborLoader(h, [4, 3], input_nodes=("paper", seeds), batch_size=10)
    batches = list(loader)
    assert len(batches) == 3
    for i, b in enumerate(batches):
        assert b["paper"].batch_size == 10
        np.testing.assert_array_equal(b["paper"].n_id.numpy()[:10], seeds.numpy()[10 * i :][:10])
        for nt in ("paper", "author"):
            n_id = b[nt].n_id.numpy()
            assert len(np.unique(n_id)) == n_id.size
            np.testing.assert_array_equal(b[nt].x.numpy(), h[nt].x.numpy()[n_id])
            assert sum(b[nt].num_sampled_nodes) == n_id.size
        for et in h.edge_types:
            src, _, dst = et
            ei, e_id = b[et].edge_index.numpy(), b[et].e_id.numpy()
            full = h[et].edge_index.numpy()
            np.testing.assert_array_equal(b[src].n_id.numpy()[ei[0]], full[0, e_id])
            np.testing.assert_array_equal(b[dst].n_id.numpy()[ei[1]], full[1, e_id])
            assert len(np.unique(e_id)) == e_id.size
            # each target samples at most 4 in-edges of this type in hop 1 (seeds)
            hop1 = ei[1][: b[et].num_sampled_edges[0]]
            assert np.bincount(hop1).max(initial=0) <= 4
        cites = b["paper", "cites", "paper"]
        np.testing.assert_array_equal(cites.edge_attr.numpy(), cites.e_id.numpy())
    # seeds' first hop takes min(4, in-degree) cited-by edges
    b = batches[0]
    full = h["paper", "cites", "paper"].edge_index.numpy()
    indeg = np.bincount(full[1], minlength=120)
    ei = b["paper", "cites", "paper"].edge_index.numpy()
    first = ei[1][: b["paper", "cites", "paper"].num_sampled_edges[0]]
    np.testing.assert_array_equal(
        np.bincount(first, minlength=10)[:10], np.minimum(indeg[seeds.numpy()[:10]], 4)
    )
    with pytest.raises(ValueError, match="unknown node type 'venue'"):
        NeighborLoader(h, [2], input_nodes="venue")
    with pytest.raises(ValueError, match="no entry for edge types"):
        NeighborLoader(h, {("paper", "cites", "paper"): [2]}, input_nodes="paper")


def test_link_neighbor_loader_hetero():
    h = _hetero_graph(1)
    et = ("author", "writes", "paper")
    torch.manual_seed(4)
    label_index = h[et].edge_index[:, :50]
    loader = LinkNeighborLoader(
        h, [3, 2], edge_label_index=(et, label_index), batch_size=16, neg_sampling_ratio=1.0
    )
    seen = 0
    for b in loader:
        k = b[et].input_id.numel()
        seen += k
        eli = b[et].edge_label_index.numpy()
        assert eli.shape[1] == 2 * k
        np.testing.assert_array_equal(
            b["author"].n_id.numpy()[eli[0, :k]], label_index.numpy()[0, b[et].input_id.numpy()]
        )
        np.testing.assert_array_equal(
            b["paper"].n_id.numpy()[eli[1, :k]], label_index.numpy()[1, b[et].input_id.numpy()]
        )
        assert eli[0].max() < b["author"].n_id.numel() and eli[1].max() < b["paper"].n_id.numel()
        assert b[et].edge_label.tolist() == [1.0] * k + [0.0] * k
    assert seen == 50
    with pytest.raises(ValueError, match="unknown edge type"):
        LinkNeighborLoader(h, [2], edge_label_index=("paper", "x", "paper"))
