import collections
import os
import pickle

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import tocha.core as torch
from tocha.geometric.datasets import (
    EdgeListDataset,
    FakeDataset,
    KarateClub,
    Planetoid,
    StochasticBlockModelDataset,
    TUDataset,
    read_edge_list,
)
from tocha.geometric.loader import DataLoader
from tocha.geometric.utils import is_undirected


def test_karate_club_matches_networkx():
    ds = KarateClub()
    assert len(ds) == 1
    d = ds[0]
    ei = d.edge_index.numpy()
    G = nx.karate_club_graph()
    ref = sorted([(u, v) for u, v in G.edges()] + [(v, u) for u, v in G.edges()])
    assert list(map(tuple, ei.T.tolist())) == ref
    np.testing.assert_array_equal(d.x.numpy(), np.eye(34, dtype=np.float32))
    assert np.bincount(d.y.numpy()).tolist() == [13, 12, 4, 5]
    assert d.train_mask.nonzero().view(-1).tolist() == [0, 4, 8, 24]


def test_karate_two_layer_gcn_learns_from_four_labels():
    # dense GCN in core ops: H = A_hat relu(A_hat X W1) W2, A_hat = D^-1/2 (A + I) D^-1/2
    torch.manual_seed(0)
    d = KarateClub()[0]
    a = np.zeros((34, 34), np.float32)
    a[d.edge_index.numpy()[0], d.edge_index.numpy()[1]] = 1.0
    a += np.eye(34, dtype=np.float32)
    dis = 1.0 / np.sqrt(a.sum(1))
    a_hat = torch.from_numpy((dis[:, None] * a * dis[None]).astype(np.float32))
    lin1, lin2 = torch.nn.Linear(34, 16), torch.nn.Linear(16, 4)
    opt = torch.optim.Adam([*lin1.parameters(), *lin2.parameters()], lr=0.01, weight_decay=5e-4)
    mask = d.train_mask
    for _ in range(200):
        opt.zero_grad()
        h = a_hat @ lin2(torch.relu(a_hat @ lin1(d.x)))
        loss = torch.nn.functional.cross_entropy(h[mask], d.y[mask])
        loss.backward()
        opt.step()
    pred = (a_hat @ lin2(torch.relu(a_hat @ lin1(d.x)))).argmax(1)
    acc = (pred[~mask] == d.y[~mask]).float().mean().item()
    assert acc >= 0.7


def _write_planetoid(
    raw, name, rng, test_index, n_train=4, n_feat=5, n_cls=3, n_extra=3, protocol=2
):
    n_all = n_train + n_extra  # allx: labelled train nodes + unlabeled ones
    n_test = len(test_index)
    allx = sp.csr_matrix(rng.integers(0, 2, (n_all, n_feat)).astype(np.float32))
    tx = sp.csr_matrix(rng.integers(0, 2, (n_test, n_feat)).astype(np.float32))
    ally = np.eye(n_cls, dtype=np.int32)[rng.integers(0, n_cls, n_all)]
    ty = np.eye(n_cls, dtype=np.int32)[rng.integers(0, n_cls, n_test)]
    n = n_all + (max(test_index) - min(test_index) + 1)
    graph = collections.defaultdict(list)
    edges = rng.integers(0, n, (2, 3 * n))
    for u, v in edges.T.tolist():
        graph[u].append(v)
        graph[v].append(u)
    graph[0].append(0)  # a self-loop and a duplicate, as in the real files
    graph[1].append(graph[1][0] if graph[1] else 2)
    objs = {
        "x": allx[:n_train],
        "tx": tx,
        "allx": allx,
        "y": ally[:n_train],
        "ty": ty,
        "ally": ally,
        "graph": graph,
    }
    os.makedirs(raw, exist_ok=True)
    for k, v in objs.items():
        with open(os.path.join(raw, f"ind.{name}.{k}"), "wb") as f:
            pickle.dump(v, f, protocol=protocol)
    with open(os.path.join(raw, f"ind.{name}.test.index"), "w") as f:
        f.write("\n".join(map(str, test_index)) + "\n")
    return objs, n


def test_planetoid_reads_raw_files(tmp_path):
    rng = np.random.default_rng(0)
    test_index = [9, 7, 8, 10]  # unsorted, as in the real files
    objs, n = _write_planetoid(str(tmp_path / "Toy" / "raw"), "toy", rng, test_index)
    ds = Planetoid(str(tmp_path), "Toy")
    d = ds[0]
    feats = np.concatenate([objs["allx"].toarray(), objs["tx"].toarray()])
    ti = np.array(test_index)
    feats[ti] = feats[np.sort(ti)]
    np.testing.assert_array_equal(d.x.numpy(), feats)
    y = np.concatenate([objs["ally"], objs["ty"]]).argmax(1)
    y[ti] = y[np.sort(ti)]
    np.testing.assert_array_equal(d.y.numpy(), y)
    assert d.train_mask.nonzero().view(-1).tolist() == [0, 1, 2, 3]
    assert d.test_mask.nonzero().view(-1).tolist() == [7, 8, 9, 10]
    ref = {(u, v) for u, vs in objs["graph"].items() for v in vs if u != v}
    ei = d.edge_index.numpy()
    assert set(map(tuple, ei.T.tolist())) == ref and ei.shape[1] == len(ref)
    assert (np.diff(ei[1] * n + ei[0]) > 0).all()  # sorted by target, as PyG leaves it
    full = Planetoid(str(tmp_path), "Toy", split="full")[0]
    assert full.train_mask.tolist() == (~(full.val_mask | full.test_mask)).tolist()


def test_planetoid_citeseer_gaps_and_refuses_code(tmp_path):
    rng = np.random.default_rng(1)
    test_index = [7, 9, 10]  # node 8 is isolated: no row in tx
    # protocol 0 pickles objects through copy_reg._reconstructor, as the Python 2 files do
    objs, n = _write_planetoid(
        str(tmp_path / "CiteSeer" / "raw"), "citeseer", rng, test_index, protocol=0
    )
    d = Planetoid(str(tmp_path), "CiteSeer")[0]
    assert d.num_nodes == 11
    np.testing.assert_array_equal(d.x.numpy()[8], 0.0)
    np.testing.assert_array_equal(d.x.numpy()[[7, 9, 10]], objs["tx"].toarray())

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(tmp_path / "CiteSeer" / "raw" / "ind.citeseer.graph", "wb") as f:
        pickle.dump(Evil(), f, protocol=2)
    with pytest.raises(ValueError, match="ind.citeseer.graph.*not allowed"):
        Planetoid(str(tmp_path), "CiteSeer")


def test_planetoid_offline_error_says_where(tmp_path, monkeypatch):
    import tocha.geometric.datasets._download as dl

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(dl, "download_url_to_file", offline)
    with pytest.raises(RuntimeError, match=r"put it at .*Cora.raw.ind\.cora\.x"):
        Planetoid(str(tmp_path), "Cora")
    with pytest.raises(RuntimeError, match=r"put it at .*MUTAG.MUTAG\.zip"):
        TUDataset(str(tmp_path), "MUTAG")


def _write_tu(raw, name, graphs):
    os.makedirs(raw, exist_ok=True)
    rows = {
        "A": [],
        "graph_indicator": [],
        "graph_labels": [],
        "node_labels": [],
        "node_attributes": [],
        "edge_attributes": [],
    }
    off = 0
    for g, (n, edges, label) in enumerate(graphs):
        rows["graph_indicator"] += [str(g + 1)] * n
        rows["graph_labels"].append(str(label))
        for i in range(n):
            rows["node_labels"].append(str((off + i) % 3 + 4))
            rows["node_attributes"].append(f"{0.5 * (off + i)}, {-1.0 * i}")
        for e, (u, v) in enumerate(edges):
            rows["A"].append(f"{u + off + 1}, {v + off + 1}")
            rows["edge_attributes"].append(str(float(e + 1)))
        off += n
    for k, v in rows.items():
        with open(os.path.join(raw, f"{name}_{k}.txt"), "w") as f:
            f.write("\n".join(v) + "\n")


def test_tu_dataset_matches_reference(tmp_path):
    graphs = [
        (3, [(0, 1), (1, 0), (1, 2), (2, 1), (1, 1)], 5),  # a self-loop to drop
        (2, [(0, 1), (1, 0), (0, 1)], -1),  # a duplicate to merge
        (4, [(3, 0), (0, 3), (2, 1)], 5),
    ]
    _write_tu(str(tmp_path / "TOY" / "raw"), "TOY", graphs)
    ds = TUDataset(str(tmp_path), "TOY")
    assert len(ds) == 3 and ds.num_classes == 2 and ds.num_node_labels == 3
    assert ds.num_node_features == 3 and ds.num_node_attributes == 2
    assert [ds[i].y.tolist() for i in range(3)] == [[1], [0], [1]]
    off = 0
    for i, (n, edges, _) in enumerate(graphs):
        g = ds[i]
        ref = sorted({(u, v) for u, v in edges if u != v})
        assert list(map(tuple, g.edge_index.numpy().T.tolist())) == ref
        labels = (np.arange(off, off + n) % 3 + 4) - 4
        np.testing.assert_array_equal(g.x.numpy(), np.eye(3, dtype=np.float32)[labels])
        off += n
    assert tuple(ds[0].edge_attr.shape) == (4, 0)  # attributes dropped, as PyG does
    full = TUDataset(str(tmp_path), "TOY", use_node_attr=True, use_edge_attr=True)
    g1 = full[1]
    np.testing.assert_allclose(g1.x.numpy()[:, :2], [[1.5, 0.0], [2.0, -1.0]])
    # the duplicate (0, 1) edges had attributes 1 and 3: summed
    np.testing.assert_allclose(g1.edge_attr.view(-1).numpy(), [4.0, 2.0])
    batch = next(iter(DataLoader(full, batch_size=3)))
    assert batch.num_graphs == 3 and batch.x.shape[0] == 9
    assert batch.edge_index.shape[1] == 4 + 2 + 3


def test_tu_dataset_bad_files(tmp_path):
    raw = tmp_path / "BAD" / "raw"
    _write_tu(str(raw), "BAD", [(2, [(0, 1)], 0)])
    with open(raw / "BAD_A.txt", "w") as f:
        f.write("1, 9\n")
    with pytest.raises(ValueError, match="refers to node 9 but .* lists 2 nodes"):
        TUDataset(str(tmp_path), "BAD")
    with open(raw / "BAD_A.txt", "w") as f:
        f.write("1, x\n")
    with pytest.raises(ValueError, match="BAD_A.txt holds a non-numeric value"):
        TUDataset(str(tmp_path), "BAD")


def test_fake_dataset_is_seeded():
    torch.manual_seed(3)
    a = FakeDataset(num_graphs=3, avg_num_nodes=30, avg_degree=4, num_channels=5, edge_dim=2)
    torch.manual_seed(3)
    b = FakeDataset(num_graphs=3, avg_num_nodes=30, avg_degree=4, num_channels=5, edge_dim=2)
    for i in range(3):
        assert a[i].edge_index.tolist() == b[i].edge_index.tolist()
        g = a[i]
        assert 22 <= g.num_nodes <= 37 and not g.has_self_loops()
        assert is_undirected(g.edge_index) and not g.is_undirected()  # random edge_attr
        assert tuple(g.edge_attr.shape) == (g.num_edges, 2) and g.y.shape[0] == 1
    node = FakeDataset(avg_num_nodes=50, num_classes=4)
    assert node[0].y.shape[0] == node[0].num_nodes and node.num_classes <= 4


def test_stochastic_block_model_densities():
    torch.manual_seed(0)
    probs = [[0.3, 0.02], [0.02, 0.1]]
    d = StochasticBlockModelDataset(None, [100, 150], probs)[0]
    ei = d.edge_index.numpy()
    y = d.y.numpy()
    assert d.is_undirected() and not d.has_self_loops() and d.num_nodes == 250
    within0 = ((y[ei[0]] == 0) & (y[ei[1]] == 0)).sum() / (100 * 99)
    within1 = ((y[ei[0]] == 1) & (y[ei[1]] == 1)).sum() / (150 * 149)
    between = ((y[ei[0]] == 0) & (y[ei[1]] == 1)).sum() / (100 * 150)
    np.testing.assert_allclose([within0, within1, between], [0.3, 0.1, 0.02], atol=0.01)
    with pytest.raises(ValueError, match="edge_probs must be 2x2"):
        StochasticBlockModelDataset(None, [3, 3], [[0.1]])


def test_edge_list_reader(tmp_path):
    path = tmp_path / "raw" / "g.tsv"
    os.makedirs(path.parent)
    path.write_text("# weighted\n0\t2\t0.5\n2\t1\t1.5\n% not a comment here\n")
    with pytest.raises(ValueError, match="non-numeric"):
        read_edge_list(str(path))
    path.write_text("# weighted\n0\t2\t0.5\n2\t1\t1.5\n")
    d = read_edge_list(str(path), undirected=True)
    assert d.edge_index.tolist() == [[0, 2, 2, 1], [2, 1, 0, 2]]
    assert d.edge_weight.tolist() == [0.5, 1.5, 0.5, 1.5] and d.num_nodes == 3
    ds = EdgeListDataset(str(tmp_path), "g.tsv", num_nodes=5)
    assert ds[0].num_nodes == 5
    with pytest.raises(FileNotFoundError, match="put the edge list at"):
        EdgeListDataset(str(tmp_path), "missing.txt")
