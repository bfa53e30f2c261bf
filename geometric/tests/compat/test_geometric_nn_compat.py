"""Parity with torch_geometric: the same weights (loaded through state_dict) give the same
outputs and input gradients. Runs in the compat session only."""

import numpy as np
import pytest

torch_ = pytest.importorskip("torch")
pyg = pytest.importorskip("torch_geometric.nn")

import tocha.core as torch  # noqa: E402
import tocha.geometric.nn as gnn  # noqa: E402

N, E = 12, 40


def _graph(seed=0, fin=5, edim=3):
    rng = np.random.default_rng(seed)
    ei = rng.integers(0, N, (2, E))
    ei[:, :3] = [[0, 1, 2], [0, 1, 2]]  # a few self-loops
    x = rng.standard_normal((N, fin)).astype(np.float32)
    ea = rng.standard_normal((E, edim)).astype(np.float32)
    w = rng.uniform(0.5, 1.5, E).astype(np.float32)
    return x, ei, ea, w


def _load(ours, theirs):
    sd = {k: torch_.from_numpy(v.detach().numpy().copy()) for k, v in ours.state_dict().items()}
    missing = theirs.load_state_dict(sd, strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys


def _run(ours, theirs, args_fn, post=lambda o: o, fuse=(True, False)):
    _load(ours, theirs)
    ta = args_fn(torch, torch.from_numpy)
    pa = args_fn(torch_, torch_.from_numpy)
    ta[0].requires_grad_(True)
    pa[0].requires_grad_(True)
    ref = post(theirs(*pa))
    ref.sum().backward()
    for f in fuse:
        ours.fuse = f
        ta[0].grad = None
        out = post(ours(*ta))
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-5)
        out.sum().backward()
        np.testing.assert_allclose(ta[0].grad.numpy(), pa[0].grad.numpy(), rtol=1e-4, atol=1e-5)


def _xe(lib, t, w=False, ea=False):
    x, ei, e_attr, wt = _graph()
    args = [t(x.copy()), t(ei.copy())]
    if w:
        args.append(t(wt.copy()))
    if ea:
        args.append(t(e_attr.copy()))
    return args


CASES = {
    "gcn": (lambda m: m.GCNConv(5, 4), dict(w=True)),
    "gcn_improved_nonorm": (lambda m: m.GCNConv(5, 4, improved=True), {}),
    "gcn_no_norm": (lambda m: m.GCNConv(5, 4, normalize=False), dict(w=True)),
    "graph": (lambda m: m.GraphConv(5, 4), dict(w=True)),
    "graph_mean": (lambda m: m.GraphConv(5, 4, aggr="mean"), {}),
    "sage_mean": (lambda m: m.SAGEConv(5, 4), {}),
    "sage_max": (lambda m: m.SAGEConv(5, 4, aggr="max", normalize=True), {}),
    "sage_project": (lambda m: m.SAGEConv(5, 4, project=True), {}),
    "gat": (lambda m: m.GATConv(5, 3, heads=2), {}),
    "gat_edge": (lambda m: m.GATConv(5, 3, heads=2, edge_dim=3, concat=False), dict(ea=True)),
    "gat_res": (lambda m: m.GATConv(5, 3, heads=2, residual=True), {}),
    "gatv2": (lambda m: m.GATv2Conv(5, 3, heads=2, edge_dim=3), dict(ea=True)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_matches_pyg(name):
    make, kw = CASES[name]
    torch.manual_seed(0)
    ours = make(gnn)
    theirs = make(pyg)
    _run(ours, theirs, lambda lib, t: _xe(lib, t, **kw))


def test_gin_and_gine_match_pyg():
    torch.manual_seed(0)
    for kind in ("gin", "gine"):
        if kind == "gin":
            ours = gnn.GINConv(torch.nn.Linear(5, 4), eps=0.3, train_eps=True)
            theirs = pyg.GINConv(torch_.nn.Linear(5, 4), eps=0.3, train_eps=True)
            _run(ours, theirs, lambda lib, t: _xe(lib, t))
        else:
            ours = gnn.GINEConv(torch.nn.Linear(5, 4), edge_dim=3)
            theirs = pyg.GINEConv(torch_.nn.Linear(5, 4), edge_dim=3)
            _run(ours, theirs, lambda lib, t: _xe(lib, t, ea=True), fuse=(False,))


CASES2 = {
    "cheb_sym": (lambda m: m.ChebConv(5, 4, K=3), dict(w=True)),
    "cheb_rw": (lambda m: m.ChebConv(5, 4, K=2, normalization="rw"), "rw"),
    "sg": (lambda m: m.SGConv(5, 4, K=2), dict(w=True)),
    "transformer": (lambda m: m.TransformerConv(5, 3, heads=2, edge_dim=3), dict(ea=True)),
    "transformer_beta": (
        lambda m: m.TransformerConv(5, 3, heads=2, beta=True, concat=False),
        {},
    ),
    "edge": (lambda m: m.EdgeConv(_lin(m, 10, 4)), {}),
    "edge_mean": (lambda m: m.EdgeConv(_lin(m, 10, 4), aggr="mean"), {}),
    "rgcn": (lambda m: m.RGCNConv(5, 4, 3), "rel"),
    "rgcn_bases": (lambda m: m.RGCNConv(5, 4, 3, num_bases=2, aggr="add"), "rel"),
    "rgcn_blocks": (lambda m: m.RGCNConv(6, 4, 3, num_blocks=2), "rel6"),
}


def _lin(m, i, o):
    return (torch.nn if m is gnn else torch_.nn).Linear(i, o)


def _args2(kind):
    if kind == "rw":
        return lambda lib, t: _xe(lib, t) + [None, None, t(np.array(1.5, np.float32))]
    if kind in ("rel", "rel6"):

        def f(lib, t):
            x, ei, _, _ = _graph(fin=6 if kind == "rel6" else 5)
            et = np.random.default_rng(4).integers(0, 3, E)
            return [t(x.copy()), t(ei.copy()), t(et)]

        return f
    return lambda lib, t: _xe(lib, t, **kind)


@pytest.mark.parametrize("name", sorted(CASES2))
def test_more_layers_match_pyg(name):
    make, kind = CASES2[name]
    torch.manual_seed(0)
    torch_.manual_seed(0)
    ours, theirs = make(gnn), make(pyg)
    _run(ours, theirs, _args2(kind))


def test_appnp_gcn2_match_pyg():
    x, ei, _, w = _graph()
    for ours, theirs in [
        (gnn.APPNP(K=4, alpha=0.2), pyg.APPNP(K=4, alpha=0.2)),
    ]:
        _run(ours, theirs, lambda lib, t: [t(x.copy()), t(ei.copy()), t(w.copy())])
    torch.manual_seed(1)
    for shared in (True, False):
        ours = gnn.GCN2Conv(5, alpha=0.2, theta=0.5, layer=2, shared_weights=shared)
        theirs = pyg.GCN2Conv(5, alpha=0.2, theta=0.5, layer=2, shared_weights=shared)
        _run(
            ours,
            theirs,
            lambda lib, t: [t(x.copy()), t(x[::-1].copy()), t(ei.copy())],
        )


def test_bipartite_sage_and_gat_match_pyg():
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((7, 5)).astype(np.float32)
    xd = rng.standard_normal((4, 3)).astype(np.float32)
    ei = np.stack([rng.integers(0, 7, 15), rng.integers(0, 4, 15)])
    torch.manual_seed(0)
    for make in (
        lambda m: m.SAGEConv((5, 3), 4),
        lambda m: m.GraphConv((5, 3), 4),
        lambda m: m.GATConv((5, 3), 2, heads=2, add_self_loops=False),
    ):
        ours, theirs = make(gnn), make(pyg)
        _load(ours, theirs)
        o = ours((torch.from_numpy(xs), torch.from_numpy(xd)), torch.from_numpy(ei))
        r = theirs((torch_.from_numpy(xs), torch_.from_numpy(xd)), torch_.from_numpy(ei))
        np.testing.assert_allclose(o.detach().numpy(), r.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_hetero_conv_matches_pyg():
    rng = np.random.default_rng(5)
    x = {"a": rng.standard_normal((4, 3)), "b": rng.standard_normal((5, 2))}
    x = {k: v.astype(np.float32) for k, v in x.items()}
    ei = {
        ("a", "to", "b"): np.stack([rng.integers(0, 4, 8), rng.integers(0, 5, 8)]),
        ("b", "to", "a"): np.stack([rng.integers(0, 5, 8), rng.integers(0, 4, 8)]),
        ("b", "self", "b"): np.stack([rng.integers(0, 5, 6), rng.integers(0, 5, 6)]),
    }
    torch.manual_seed(0)
    for aggr in ("sum", "cat"):

        def make(m, aggr=aggr):
            return m.HeteroConv(
                {
                    ("a", "to", "b"): m.SAGEConv((3, 2), 4),
                    ("b", "to", "a"): m.GraphConv((2, 3), 4),
                    ("b", "self", "b"): m.GCNConv(2, 4),
                },
                aggr=aggr,
            )

        ours, theirs = make(gnn), make(pyg)
        _load(ours, theirs)
        o = ours(
            {k: torch.from_numpy(v) for k, v in x.items()},
            {k: torch.from_numpy(v) for k, v in ei.items()},
        )
        r = theirs(
            {k: torch_.from_numpy(v) for k, v in x.items()},
            {k: torch_.from_numpy(v) for k, v in ei.items()},
        )
        for k in r:
            np.testing.assert_allclose(
                o[k].detach().numpy(), r[k].detach().numpy(), rtol=1e-4, atol=1e-5
            )


def test_scatter_and_softmax_match_pyg():
    from torch_geometric.utils import scatter as pscatter
    from torch_geometric.utils import softmax as psoftmax

    from tocha.geometric.utils import scatter, softmax

    rng = np.random.default_rng(11)
    src = rng.standard_normal((200, 3, 2))
    idx = rng.integers(0, 30, 200)
    for reduce in ("sum", "mean", "max", "min", "mul"):
        for dim in (0, 1):
            i = idx if dim == 0 else idx[:3] % 2
            o = scatter(torch.from_numpy(src), torch.from_numpy(i), dim, None, reduce)
            r = pscatter(torch_.from_numpy(src), torch_.from_numpy(i), dim, None, reduce)
            np.testing.assert_allclose(o.numpy(), r.numpy(), rtol=1e-12)
    s = rng.standard_normal((200, 4))
    o = softmax(torch.from_numpy(s), torch.from_numpy(idx), num_nodes=30)
    r = psoftmax(torch_.from_numpy(s), torch_.from_numpy(idx), num_nodes=30)
    np.testing.assert_allclose(o.numpy(), r.numpy(), rtol=1e-12)


def _pool_inputs(lib, t):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((9, 4)).astype(np.float32)
    ei = np.stack([rng.integers(0, 5, 14), rng.integers(0, 5, 14)])
    ei = np.concatenate([ei, 5 + np.stack([rng.integers(0, 4, 8), rng.integers(0, 4, 8)])], 1)
    ea = rng.standard_normal((22, 2)).astype(np.float32)
    b = np.array([0] * 5 + [1] * 4)
    return t(x), t(ei), t(ea), t(b)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.TopKPooling(4, ratio=0.5),
        lambda m: m.TopKPooling(4, ratio=2, multiplier=2.0),
        lambda m: m.TopKPooling(4, ratio=None, min_score=0.2),
        lambda m: m.SAGPooling(4, ratio=0.6),
    ],
)
def test_pooling_matches_pyg(make):
    torch.manual_seed(0)
    ours, theirs = make(gnn), make(pyg)
    _load(ours, theirs)
    x, ei, ea, b = _pool_inputs(torch, torch.from_numpy)
    o = ours(x, ei, ea, b)
    x, ei, ea, b = _pool_inputs(torch_, torch_.from_numpy)
    r = theirs(x, ei, ea, b)
    for a, c in zip(o, r):
        np.testing.assert_allclose(a.detach().numpy(), c.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_norms_and_readouts_match_pyg():
    x, _, _, b = _pool_inputs(torch, torch.from_numpy)
    xp, _, _, bp = _pool_inputs(torch_, torch_.from_numpy)
    for make in (
        lambda m: m.GraphNorm(4),
        lambda m: m.LayerNorm(4),
        lambda m: m.LayerNorm(4, mode="node"),
    ):
        ours, theirs = make(gnn), make(pyg)
        with torch.no_grad():
            for p in ours.parameters():
                p.uniform_(0.5, 1.5)
        _load(ours, theirs)
        np.testing.assert_allclose(
            ours(x, b).detach().numpy(), theirs(xp, bp).detach().numpy(), rtol=1e-5, atol=1e-6
        )
    np.testing.assert_allclose(
        gnn.LayerNorm(4)(x).detach().numpy(), pyg.LayerNorm(4)(xp).detach().numpy(), rtol=1e-5
    )
    from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

    for f, g in [
        (gnn.global_add_pool, global_add_pool),
        (gnn.global_mean_pool, global_mean_pool),
        (gnn.global_max_pool, global_max_pool),
    ]:
        np.testing.assert_allclose(f(x, b).numpy(), g(xp, bp).numpy(), rtol=1e-6)
        np.testing.assert_allclose(f(x, None).numpy(), g(xp, None).numpy(), rtol=1e-6)
    gate_o, gate_t = torch.nn.Linear(4, 1), torch_.nn.Linear(4, 1)
    ours, theirs = gnn.AttentionalAggregation(gate_o), pyg.AttentionalAggregation(gate_t)
    _load(ours, theirs)
    np.testing.assert_allclose(
        ours(x, b).detach().numpy(), theirs(xp, bp).detach().numpy(), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.GCN(5, 8, 3, 4),
        lambda m: m.GraphSAGE(5, 8, 2, 4, norm="layer_norm", jk="cat"),
        lambda m: m.GIN(5, 8, 2, 4, jk="max"),
        lambda m: m.GAT(5, 8, 2, 4, heads=2),
        lambda m: m.GCN(5, 8, 2, norm="graph_norm", act="elu", jk="last"),
        lambda m: m.MLP([5, 8, 3], norm="batch_norm", dropout=0.0),
    ],
)
def test_models_match_pyg(make):
    torch.manual_seed(0)
    torch_.manual_seed(0)
    ours, theirs = make(gnn), make(pyg)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _load(ours, theirs)
    x, ei, _, _ = _graph()
    if isinstance(theirs, pyg.MLP):
        o, r = ours(torch.from_numpy(x)), theirs(torch_.from_numpy(x))
    else:
        o = ours(torch.from_numpy(x), torch.from_numpy(ei))
        r = theirs(torch_.from_numpy(x), torch_.from_numpy(ei))
    np.testing.assert_allclose(o.detach().numpy(), r.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_lstm_and_softmax_aggregation_match_pyg():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((N, 5)).astype(np.float32)
    ei = np.stack([rng.integers(0, N, E), np.sort(rng.integers(0, N, E))])
    torch.manual_seed(0)
    for make in (
        lambda m: m.SAGEConv(5, 4, aggr="lstm"),
        lambda m: m.SAGEConv(5, 4, aggr="softmax"),
        lambda m: m.SAGEConv(5, 4, aggr=m.SoftmaxAggregation(learn=True)),
    ):
        ours, theirs = make(gnn), make(pyg)
        _load(ours, theirs)
        o = ours(torch.from_numpy(x), torch.from_numpy(ei))
        r = theirs(torch_.from_numpy(x), torch_.from_numpy(ei))
        np.testing.assert_allclose(o.detach().numpy(), r.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_sequential_matches_pyg():
    def make(m, nn):
        return m.Sequential(
            "x, edge_index",
            [
                (m.GCNConv(5, 8), "x, edge_index -> x1"),
                nn.ReLU(),
                (m.SAGEConv(8, 4), "x1, edge_index -> x2"),
                (lambda a, b: a.sum(-1, keepdim=True) + b[:, :1], "x2, x -> out"),
            ],
        )

    torch.manual_seed(0)
    ours, theirs = make(gnn, torch.nn), make(pyg, torch_.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _run(ours, theirs, lambda lib, t: _xe(lib, t), fuse=(True,))


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.SAGEConv(5, 4, aggr=["mean", "max", "std"]),
        lambda m: m.GraphConv(5, 4, aggr="var"),
        lambda m: m.SAGEConv(5, 4, aggr=["sum", "min"], aggr_kwargs=dict(mode="sum")),
    ],
)
def test_multi_var_std_aggregation_match_pyg(make):
    torch.manual_seed(0)
    ours, theirs = make(gnn), make(pyg)
    _run(ours, theirs, lambda lib, t: _xe(lib, t), fuse=(True,))
    out = ours(*_xe(torch, torch.from_numpy))
    assert float(out.abs().sum()) > 0
