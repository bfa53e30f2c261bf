"""tocha.geometric's data, utils, transforms and dataset readers against torch_geometric."""

import os
import sys

import networkx as nx
import numpy as np
import pytest

torch_ = pytest.importorskip("torch")
pyg = pytest.importorskip("torch_geometric")

import torch_geometric.transforms as PT  # noqa: E402
import torch_geometric.utils as PU  # noqa: E402
from torch_geometric.data import Batch as PBatch  # noqa: E402
from torch_geometric.data import Data as PData  # noqa: E402

import tocha.core as torch  # noqa: E402
import tocha.geometric.transforms as T  # noqa: E402
import tocha.geometric.utils as U  # noqa: E402
from tocha.geometric.data import Batch, Data  # noqa: E402
from tocha.geometric.datasets import KarateClub, Planetoid, TUDataset  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
from test_geometric_datasets import _write_planetoid, _write_tu  # noqa: E402


def _t(a):
    return torch_.from_numpy(np.asarray(a))


def _eq(ours, theirs):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_karate_club_equals_pyg():
    from torch_geometric.datasets import KarateClub as PKarate

    ours, theirs = KarateClub()[0], PKarate()[0]
    for key in ("x", "edge_index", "y", "train_mask"):
        np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy())


def test_batch_equals_pyg():
    rng = np.random.default_rng(0)
    graphs = []
    for n, e in ((3, 4), (6, 9), (2, 2)):
        graphs.append(
            (
                rng.standard_normal((n, 2)).astype(np.float32),
                rng.integers(0, n, (2, e)),
                rng.integers(0, 2, n),
            )
        )
    ours = Batch.from_data_list(
        [
            Data(
                x=torch.from_numpy(x),
                edge_index=torch.from_numpy(ei),
                y=torch.from_numpy(y),
                face=torch.from_numpy(ei[:, :1]),
            )
            for x, ei, y in graphs
        ]
    )
    theirs = PBatch.from_data_list(
        [PData(x=_t(x), edge_index=_t(ei), y=_t(y), face=_t(ei[:, :1])) for x, ei, y in graphs]
    )
    for key in ("x", "edge_index", "y", "face", "batch", "ptr"):
        np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy())
    assert repr(ours) == repr(theirs)


def test_utils_equal_pyg():
    rng = np.random.default_rng(1)
    ei = rng.integers(0, 12, (2, 40))
    w = rng.standard_normal(40).astype(np.float32)
    for reduce in ("sum", "mean", "max"):
        a, b = U.coalesce(torch.from_numpy(ei), torch.from_numpy(w), 12, reduce)
        c, d = PU.coalesce(_t(ei), _t(w), 12, reduce)
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        _eq(b, d)
    a, b = U.to_undirected(torch.from_numpy(ei), torch.from_numpy(w), 12)
    c, d = PU.to_undirected(_t(ei), _t(w), 12)
    np.testing.assert_array_equal(a.numpy(), c.numpy())
    _eq(b, d)
    sub = rng.permutation(12)[:6]
    a, b = U.subgraph(torch.from_numpy(sub), torch.from_numpy(ei), torch.from_numpy(w), True, 12)
    c, d = PU.subgraph(_t(sub), _t(ei), _t(w), True, 12)
    np.testing.assert_array_equal(a.numpy(), c.numpy())
    _eq(b, d)
    for flow in ("source_to_target", "target_to_source"):
        ours = U.k_hop_subgraph([2, 5], 2, torch.from_numpy(ei), True, 12, flow)
        theirs = PU.k_hop_subgraph([2, 5], 2, _t(ei), True, 12, flow)
        for o, t in zip(ours, theirs):
            np.testing.assert_array_equal(o.numpy(), t.numpy())
    batch = np.repeat([0, 1, 2], [4, 5, 3])
    x = rng.standard_normal((12, 3)).astype(np.float32)
    dense_ei = ei[:, batch[ei[0]] == batch[ei[1]]]
    _eq(
        U.to_dense_adj(torch.from_numpy(dense_ei), torch.from_numpy(batch)),
        PU.to_dense_adj(_t(dense_ei), _t(batch)),
    )
    o, om = U.to_dense_batch(torch.from_numpy(x), torch.from_numpy(batch), 2.0)
    t, tm = PU.to_dense_batch(_t(x), _t(batch), 2.0)
    _eq(o, t)
    np.testing.assert_array_equal(om.numpy(), tm.numpy())
    und = PU.to_undirected(_t(ei), num_nodes=12)
    uw = torch_.rand(und.shape[1])
    for norm in (None, "sym", "rw"):
        a, b = U.get_laplacian(torch.from_numpy(und.numpy()), torch.from_numpy(uw.numpy()), norm)
        c, d = PU.get_laplacian(und, uw, norm)
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        _eq(b, d)
    G = nx.karate_club_graph()
    np.testing.assert_array_equal(
        U.from_networkx(G).edge_index.numpy(), PU.from_networkx(G).edge_index.numpy()
    )


def test_transforms_equal_pyg():
    rng = np.random.default_rng(2)
    ei = PU.to_undirected(_t(rng.integers(0, 10, (2, 25))), num_nodes=10)
    x = rng.standard_normal((10, 4)).astype(np.float32)
    ours = Data(x=torch.from_numpy(x), edge_index=torch.from_numpy(ei.numpy()))
    theirs = PData(x=_t(x), edge_index=ei)
    _eq(T.NormalizeFeatures()(ours).x, PT.NormalizeFeatures()(theirs.clone()).x)
    o, t = T.GCNNorm()(ours), PT.GCNNorm()(theirs.clone())
    np.testing.assert_array_equal(o.edge_index.numpy(), t.edge_index.numpy())
    _eq(o.edge_weight, t.edge_weight)
    d = PData(
        edge_index=_t(np.array([[0, 2], [1, 1]])), edge_attr=_t(np.array([1.0, 2.0])), num_nodes=3
    )
    o = T.ToUndirected()(
        Data(
            edge_index=torch.tensor([[0, 2], [1, 1]]),
            edge_attr=torch.tensor([1.0, 2.0]),
            num_nodes=3,
        )
    )
    t = PT.ToUndirected()(d)
    np.testing.assert_array_equal(o.edge_index.numpy(), t.edge_index.numpy())
    _eq(o.edge_attr, t.edge_attr)


def test_dataset_readers_equal_pyg(tmp_path):
    from torch_geometric.datasets import Planetoid as PPlanetoid
    from torch_geometric.datasets import TUDataset as PTU

    # PyG's validation range needs 500 nodes after the training ones
    _write_planetoid(
        str(tmp_path / "CiteSeer" / "raw"),
        "citeseer",
        np.random.default_rng(3),
        [509, 511, 512],
        n_extra=505,
    )
    o, t = Planetoid(str(tmp_path), "CiteSeer")[0], PPlanetoid(str(tmp_path), "CiteSeer")[0]
    for key in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask"):
        np.testing.assert_array_equal(o[key].numpy(), t[key].numpy())
    graphs = [(3, [(0, 1), (1, 0), (1, 2), (1, 1)], 5), (2, [(0, 1), (0, 1)], -1)]
    _write_tu(str(tmp_path / "TOY" / "raw"), "TOY", graphs)
    for kw in ({}, {"use_node_attr": True, "use_edge_attr": True}):
        ours, theirs = TUDataset(str(tmp_path), "TOY", **kw), PTU(str(tmp_path), "TOY", **kw)
        assert len(ours) == len(theirs) and ours.num_classes == theirs.num_classes
        for i in range(len(ours)):
            for key in ("x", "edge_index", "edge_attr", "y"):
                if theirs[i][key] is None:
                    assert ours[i][key] is None
                else:
                    _eq(ours[i][key], theirs[i][key])


def test_hetero_batch_equals_pyg():
    from torch_geometric.data import HeteroData as PHetero

    from tocha.geometric.data import HeteroData

    rng = np.random.default_rng(4)
    ours, theirs = [], []
    for na, nb, e in ((2, 3, 4), (4, 1, 3)):
        x_a = rng.standard_normal((na, 2)).astype(np.float32)
        x_b = rng.standard_normal((nb, 2)).astype(np.float32)
        ei = np.stack([rng.integers(0, na, e), rng.integers(0, nb, e)])
        for cls, f, out in ((HeteroData, torch.from_numpy, ours), (PHetero, _t, theirs)):
            h = cls()
            h["a"].x, h["b"].x = f(x_a), f(x_b)
            h["a", "to", "b"].edge_index = f(ei)
            out.append(h)
    o, t = Batch.from_data_list(ours), PBatch.from_data_list(theirs)
    np.testing.assert_array_equal(
        o["a", "to", "b"].edge_index.numpy(), t["a", "to", "b"].edge_index.numpy()
    )
    for nt in ("a", "b"):
        for key in ("x", "batch", "ptr"):
            np.testing.assert_array_equal(o[nt][key].numpy(), t[nt][key].numpy())


@pytest.mark.parametrize(
    "kw",
    [
        {"is_undirected": True},
        {"num_val": 0.15, "neg_sampling_ratio": 2.0, "disjoint_train_ratio": 0.3},
        {"split_labels": True, "add_negative_train_samples": False},
    ],
)
def test_random_link_split_sizes_equal_pyg(kw):
    rng = np.random.default_rng(7)
    ei = PU.to_undirected(_t(rng.integers(0, 60, (2, 200))), num_nodes=60)
    x = np.ones((60, 1), np.float32)
    ours = T.RandomLinkSplit(**kw)(
        Data(x=torch.from_numpy(x), edge_index=torch.from_numpy(ei.numpy()))
    )
    theirs = PT.RandomLinkSplit(**kw)(PData(x=_t(x), edge_index=ei))
    for o, t in zip(ours, theirs):
        assert sorted(o.keys()) == sorted(t.keys())
        for key in sorted(o.keys()):
            if hasattr(o[key], "shape"):
                assert tuple(o[key].shape) == tuple(t[key].shape), key


def test_networkx_conversions_equal_pyg():
    G = nx.karate_club_graph()
    for i in G.nodes:
        G.nodes[i]["feat"] = [float(i), 1.0]
        G.nodes[i]["deg"] = G.degree[i]
    for kw in ({"group_node_attrs": ["feat", "deg"]}, {"group_edge_attrs": "all"}, {}):
        o, t = U.from_networkx(G, **kw), PU.from_networkx(G, **kw)
        assert repr(o) == repr(t)
        for key in sorted(o.keys()):
            if hasattr(o[key], "numpy"):
                assert str(o[key].dtype).split(".")[-1] == str(t[key].dtype).split(".")[-1]
                np.testing.assert_array_equal(o[key].numpy(), t[key].numpy())
            else:
                assert o[key] == t[key]
    ei = np.array([[0, 1, 1, 2, 2], [1, 0, 2, 1, 2]])
    ours = Data(edge_index=torch.from_numpy(ei), x=torch.ones(3, 2), w=torch.arange(5.0))
    theirs = PData(edge_index=_t(ei), x=torch_.ones(3, 2), w=torch_.arange(5.0))
    for kw in (
        {},
        {"to_undirected": True},
        {"to_undirected": "lower"},
        {"remove_self_loops": True},
    ):
        a = U.to_networkx(ours, node_attrs=["x"], edge_attrs=["w"], **kw)
        b = PU.to_networkx(theirs, node_attrs=["x"], edge_attrs=["w"], **kw)
        assert list(a.nodes(data=True)) == list(b.nodes(data=True))
        assert list(a.edges(data=True)) == list(b.edges(data=True))


def test_small_transforms_equal_pyg():
    rng = np.random.default_rng(8)
    ei = rng.integers(0, 40, (2, 50))
    x = rng.standard_normal((45, 3)).astype(np.float32)
    for name, args in (
        ("OneHotDegree", (12,)),
        ("Constant", (0.5,)),
        ("RemoveIsolatedNodes", ()),
        ("LargestConnectedComponents", (2,)),
    ):
        o = getattr(T, name)(*args)(Data(x=torch.from_numpy(x), edge_index=torch.from_numpy(ei)))
        t = getattr(PT, name)(*args)(PData(x=_t(x), edge_index=_t(ei)))
        _eq(o.x, t.x)
        np.testing.assert_array_equal(o.edge_index.numpy(), t.edge_index.numpy())


def test_more_utils_equal_pyg():
    rng = np.random.default_rng(9)
    ei = rng.integers(0, 30, (2, 40))
    ei[:, :3] = [[4, 4, 7], [4, 4, 7]]  # self-loops, one node with two
    w = rng.standard_normal(40).astype(np.float32)
    o = U.remove_isolated_nodes(torch.from_numpy(ei), torch.from_numpy(w), 35)
    t = PU.remove_isolated_nodes(_t(ei), _t(w), 35)
    for a, b in zip(o, t):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert U.contains_isolated_nodes(torch.from_numpy(ei), 35) == PU.contains_isolated_nodes(
        _t(ei), 35
    )
    y = rng.integers(0, 3, 30)
    batch = np.repeat([0, 1, 2], 10)
    for method in ("edge", "node"):
        assert (
            abs(
                U.homophily(torch.from_numpy(ei), torch.from_numpy(y), method=method)
                - PU.homophily(_t(ei), _t(y), method=method)
            )
            < 1e-6
        )
    inner = ei[:, batch[ei[0]] == batch[ei[1]]]
    inner = inner[:, np.argsort(batch[inner[0]], kind="stable")]  # grouped by graph, as batched
    _eq(
        U.homophily(torch.from_numpy(inner), torch.from_numpy(y), torch.from_numpy(batch)),
        PU.homophily(_t(inner), _t(y), _t(batch)),
    )
    x = rng.standard_normal((30, 2)).astype(np.float32)
    for a, b in zip(
        U.unbatch(torch.from_numpy(x), torch.from_numpy(batch)), PU.unbatch(_t(x), _t(batch))
    ):
        _eq(a, b)
    for a, b in zip(
        U.unbatch_edge_index(torch.from_numpy(inner), torch.from_numpy(batch)),
        PU.unbatch_edge_index(_t(inner), _t(batch)),
    ):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(
        U.cumsum(torch.tensor([3, 1, 2])).numpy(), PU.cumsum(torch_.tensor([3, 1, 2])).numpy()
    )
    adj = (rng.random((3, 5, 5)) < 0.3) * rng.standard_normal((3, 5, 5))
    adj = adj.astype(np.float32)
    mask = rng.random((3, 5)) < 0.7
    for args in ((adj[0],), (adj,), (adj, mask)):
        o = U.dense_to_sparse(*(torch.from_numpy(a) for a in args))
        t = PU.dense_to_sparse(*(_t(a) for a in args))
        np.testing.assert_array_equal(o[0].numpy(), t[0].numpy())
        _eq(o[1], t[1])
