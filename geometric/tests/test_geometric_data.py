import numpy as np
import pytest

import tocha.core as torch
from tocha.geometric.data import Batch, Data, HeteroData, InMemoryDataset


def _graph(rng, n, e, f=3):
    ei = rng.integers(0, n, size=(2, e))
    return Data(
        x=torch.from_numpy(rng.standard_normal((n, f)).astype(np.float32)),
        edge_index=torch.from_numpy(ei),
        edge_attr=torch.from_numpy(rng.standard_normal((e, 2)).astype(np.float32)),
        y=torch.tensor([int(n % 2)]),
    )


def test_data_basics_and_repr():
    ei = torch.tensor([[0, 1, 1, 2, 3, 3], [1, 0, 2, 1, 3, 0]])
    d = Data(x=torch.zeros(4, 3), edge_index=ei)
    assert repr(d) == "Data(x=[4, 3], edge_index=[2, 6])"
    assert (d.num_nodes, d.num_edges, d.num_node_features) == (4, 6, 3)
    assert d.has_self_loops() and not d.is_undirected()
    assert d.edge_attr is None and d.keys() == ["x", "edge_index"]
    d.num_nodes = 7
    assert d.num_nodes == 7 and "num_nodes" in d
    # without x the node count comes from edge_index
    assert Data(edge_index=ei).num_nodes == 4


def test_data_validate_names_the_bad_node():
    d = Data(x=torch.zeros(3, 1), edge_index=torch.tensor([[0, 5], [1, 2]]))
    with pytest.raises(ValueError, match="node 5 but the graph has 3 nodes"):
        d.validate()


def test_data_subgraph_selects_node_and_edge_attributes():
    rng = np.random.default_rng(0)
    d = _graph(rng, 6, 15)
    d.node_w = torch.arange(6.0)
    keep = np.array([0, 2, 3, 5])
    s = d.subgraph(torch.from_numpy(keep))
    ei = d.edge_index.numpy()
    mask = np.isin(ei[0], keep) & np.isin(ei[1], keep)
    remap = {v: i for i, v in enumerate(keep)}
    ref = np.vectorize(remap.get)(ei[:, mask]) if mask.any() else np.zeros((2, 0))
    np.testing.assert_array_equal(s.edge_index.numpy(), ref)
    np.testing.assert_array_equal(s.edge_attr.numpy(), d.edge_attr.numpy()[mask])
    np.testing.assert_array_equal(s.x.numpy(), d.x.numpy()[keep])
    np.testing.assert_array_equal(s.node_w.numpy(), keep.astype(np.float32))
    np.testing.assert_array_equal(s.y.numpy(), d.y.numpy())


def test_clone_is_deep_and_to_moves():
    d = Data(x=torch.ones(2, 2))
    c = d.clone()
    c.x.add_(1.0)
    assert d.x.sum().item() == 4.0 and c.x.sum().item() == 8.0
    assert d.to("cpu") is d and d.x.device.type == "cpu"


def test_batch_offsets_and_roundtrip():
    rng = np.random.default_rng(1)
    graphs = [_graph(rng, n, e) for n, e in ((3, 4), (5, 7), (2, 1))]
    for i, g in enumerate(graphs):
        g.score = float(i)
        g.name = "abc"[i]
    b = Batch.from_data_list(graphs, follow_batch=["edge_attr"])
    sizes = [3, 5, 2]
    offs = np.cumsum([0, *sizes[:-1]])
    ref = np.concatenate([g.edge_index.numpy() + o for g, o in zip(graphs, offs)], 1)
    np.testing.assert_array_equal(b.edge_index.numpy(), ref)
    np.testing.assert_array_equal(b.batch.numpy(), np.repeat([0, 1, 2], sizes))
    np.testing.assert_array_equal(b.ptr.numpy(), [0, 3, 8, 10])
    np.testing.assert_array_equal(b.edge_attr_batch.numpy(), np.repeat([0, 1, 2], [4, 7, 1]))
    np.testing.assert_array_equal(b.y.numpy(), [1, 1, 0])
    assert b.num_graphs == 3 and b.name == ["a", "b", "c"]
    np.testing.assert_allclose(b.score.numpy(), [0.0, 1.0, 2.0])
    for g, back in zip(graphs, b.to_data_list()):
        np.testing.assert_array_equal(back.edge_index.numpy(), g.edge_index.numpy())
        np.testing.assert_array_equal(back.x.numpy(), g.x.numpy())
        np.testing.assert_array_equal(back.edge_attr.numpy(), g.edge_attr.numpy())
        assert back.name == g.name
    assert type(b).__name__ == "DataBatch" and isinstance(b, Data)


def test_batch_missing_attribute_raises():
    with pytest.raises(ValueError, match="'name' is missing"):
        Batch.from_data_list([Data(x=torch.ones(1, 1), name="a"), Data(x=torch.ones(1, 1))])


def test_batch_declared_attributes():
    class PairData(Data):
        pass

    PairData.declare("edge_index_s", cat_dim=-1, inc=lambda d: d.x_s.shape[0])
    PairData.declare("cluster", cat_dim=0, inc=2)
    # an undeclared '*_index' attribute is concatenated without offset (declared, not guessed)
    g1 = PairData(
        x_s=torch.ones(3, 1),
        edge_index_s=torch.tensor([[0, 1], [1, 2]]),
        other_index=torch.tensor([0, 1]),
        cluster=torch.tensor([0, 1]),
    )
    g2 = PairData(
        x_s=torch.ones(2, 1),
        edge_index_s=torch.tensor([[0], [1]]),
        other_index=torch.tensor([1, 0]),
        cluster=torch.tensor([1, 0]),
    )
    b = Batch.from_data_list([g1, g2])
    assert b.edge_index_s.tolist() == [[0, 1, 3], [1, 2, 4]]
    assert b.other_index.tolist() == [0, 1, 1, 0]
    assert b.cluster.tolist() == [0, 1, 3, 2]
    assert b.get_example(1).cluster.tolist() == [1, 0]
    # the base class is unaffected
    assert "edge_index_s" not in Data.batching
    # per-instance declaration, stacked (cat_dim=None) attribute
    g = Data(x=torch.ones(2, 1), img=torch.zeros(4, 4)).declare_attr("img", cat_dim=None)
    bb = Batch.from_data_list([g, g.clone()])
    assert tuple(bb.img.shape) == (2, 4, 4)
    assert tuple(bb.get_example(0).img.shape) == (4, 4)


def test_batch_gradients_reach_each_graph():
    xs = [torch.randn(n, 2, requires_grad=True) for n in (2, 3)]
    b = Batch.from_data_list([Data(x=x) for x in xs])
    (b.x * torch.arange(5.0).view(5, 1)).sum().backward()
    assert xs[0].grad.tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert xs[1].grad.tolist() == [[2.0, 2.0], [3.0, 3.0], [4.0, 4.0]]


def test_hetero_data():
    data = HeteroData()
    data["paper"].x = torch.randn(4, 3)
    data["author"].x = torch.randn(2, 5)
    data["author", "writes", "paper"].edge_index = torch.tensor([[0, 1, 1], [2, 3, 0]])
    data["paper", "cites", "paper"].edge_index = torch.tensor([[0], [1]])
    assert data.metadata() == (
        ["paper", "author"],
        [("author", "writes", "paper"), ("paper", "cites", "paper")],
    )
    assert data["author", "paper"].edge_index.shape[1] == 3
    assert data.num_nodes == 6 and data.num_edges == 4
    assert set(data.x_dict) == {"paper", "author"}
    assert repr(data).splitlines()[1] == "  paper={ x=[4, 3] },"
    assert data.validate()
    data["author", "writes", "paper"].edge_index = torch.tensor([[0], [9]])
    with pytest.raises(ValueError, match="paper node 9 but 'paper' has 4 nodes"):
        data.validate()


def test_in_memory_dataset():
    graphs = [Data(x=torch.full((n, 1), float(n)), y=torch.tensor([n % 3])) for n in range(1, 7)]
    ds = InMemoryDataset.from_data_list(graphs)
    assert len(ds) == 6 and ds.num_classes == 3 and ds.num_features == 1
    assert ds[4].x.view(-1).tolist() == [5.0] * 5
    sub = ds[torch.tensor([5, 0])]
    assert [g.num_nodes for g in sub] == [6, 1]
    torch.manual_seed(0)
    shuffled = ds.shuffle()
    assert sorted(g.num_nodes for g in shuffled) == [1, 2, 3, 4, 5, 6]
    with pytest.raises(IndexError):
        ds.get(6)


def test_unset_attributes_like_pyg():
    d = Data(x=torch.ones(2, 1))
    assert d.edge_attr is None and d.pos is None and d.batch is None
    assert not hasattr(d, "train_mask")
    with pytest.raises(AttributeError, match="'Data' object has no attribute 'train_mask'"):
        d.train_mask  # noqa: B018


def test_hetero_batch_roundtrip():
    from tocha.geometric.loader import DataLoader

    rng = np.random.default_rng(5)
    graphs = []
    for na, nb, e in ((2, 3, 4), (4, 1, 3), (3, 2, 5)):
        h = HeteroData()
        h["a"].x = torch.from_numpy(rng.standard_normal((na, 2)).astype(np.float32))
        h["b"].x = torch.from_numpy(rng.standard_normal((nb, 3)).astype(np.float32))
        ei = np.stack([rng.integers(0, na, e), rng.integers(0, nb, e)])
        h["a", "to", "b"].edge_index = torch.from_numpy(ei)
        h["a", "to", "b"].edge_attr = torch.arange(float(e))
        h.label = 7
        graphs.append(h)
    b = next(iter(DataLoader(graphs, batch_size=3)))
    assert b.num_graphs == 3
    ref = np.concatenate(
        [
            g["a", "to", "b"].edge_index.numpy() + [[oa], [ob]]
            for g, oa, ob in zip(graphs, [0, 2, 6], [0, 3, 4])
        ],
        1,
    )
    np.testing.assert_array_equal(b["a", "to", "b"].edge_index.numpy(), ref)
    assert b["a"].batch.tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 2]
    assert b["b"].ptr.tolist() == [0, 3, 4, 6] and b.label.tolist() == [7, 7, 7]
    for g, back in zip(graphs, b.to_data_list()):
        for t in ("a", "b"):
            np.testing.assert_array_equal(back[t].x.numpy(), g[t].x.numpy())
        for key in ("edge_index", "edge_attr"):
            np.testing.assert_array_equal(
                back["a", "to", "b"][key].numpy(), g["a", "to", "b"][key].numpy()
            )


def test_in_memory_dataset_pyg_style_subclass(tmp_path):
    calls = []

    class MyDataset(InMemoryDataset):
        def __init__(self, root, transform=None, n=3):
            self.n = n
            super().__init__(root, transform)
            self.load(self.processed_paths[0])

        @property
        def processed_file_names(self):
            return ["data.pt"]

        def process(self):
            calls.append(1)
            graphs = [
                Data(
                    x=torch.full((k + 1, 2), float(k)),
                    edge_index=torch.tensor([[0], [k]]),
                    y=torch.tensor([k % 2]),
                    tag=f"g{k}",
                )
                for k in range(self.n)
            ]
            self.save(graphs, self.processed_paths[0])

    ds = MyDataset(str(tmp_path))
    again = MyDataset(str(tmp_path))  # the processed file is reused
    assert calls == [1] and len(again) == 3 and again.num_classes == 2
    g = again[2]
    assert g.x.tolist() == [[2.0, 2.0]] * 3 and g.edge_index.tolist() == [[0], [2]]
    assert g.tag == "g2" and ds[1].y.tolist() == [1]
    with open(tmp_path / "processed" / "data.pt", "wb") as f:
        f.write(b"not a checkpoint")
    with pytest.raises(Exception, match="data.pt"):
        MyDataset(str(tmp_path))
