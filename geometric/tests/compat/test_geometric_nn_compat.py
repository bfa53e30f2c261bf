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
