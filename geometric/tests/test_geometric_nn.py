"""tocha.geometric.nn layers on a 4-node graph against dense NumPy formulas, the fused sparse
path against gather/scatter, batching against one-graph-at-a-time, and gradients."""

import numpy as np
import pytest

import tocha.core as torch
import tocha.geometric.nn as gnn
from tocha.geometric.data import Batch, Data

EI = np.array([[0, 1, 1, 2, 3], [1, 0, 2, 3, 1]])
N = 4


def _np(t):
    return t.detach().numpy().astype(np.float64)


def _x(f=3, seed=0, n=N):
    return np.random.default_rng(seed).standard_normal((n, f)).astype(np.float32)


def _adj(ei=EI, n=N, w=None):
    a = np.zeros((n, n))
    np.add.at(a, (ei[1], ei[0]), 1.0 if w is None else w)  # a[dst, src]
    return a


def _lin(m, x):
    out = x @ _np(m.weight).T
    return out + _np(m.bias) if m.bias is not None else out


def _gcn_hat(w=None):
    a = _adj(w=w)
    a[np.arange(N), np.arange(N)] = 1.0
    d = a.sum(1)
    return a / np.sqrt(d)[:, None] / np.sqrt(d)[None, :]


def _run(conv, x, *args, **kw):
    return _np(conv(torch.from_numpy(x), torch.from_numpy(EI), *args, **kw))


def test_gcn_conv_formula_and_keys():
    torch.manual_seed(0)
    conv = gnn.GCNConv(3, 2)
    with torch.no_grad():
        conv.bias.fill_(0.5)
    x = _x()
    ref = _gcn_hat() @ (x @ _np(conv.lin.weight).T) + 0.5
    np.testing.assert_allclose(_run(conv, x), ref, rtol=1e-5)
    w = np.array([1.0, 2.0, 0.5, 1.5, 3.0], np.float32)
    ref = _gcn_hat(w) @ (x @ _np(conv.lin.weight).T) + 0.5
    np.testing.assert_allclose(_run(conv, x, torch.from_numpy(w)), ref, rtol=1e-5)
    assert set(conv.state_dict()) == {"bias", "lin.weight"}
    # glorot bound of a (2, 3) weight
    assert np.abs(_np(conv.lin.weight)).max() <= np.sqrt(6 / 5)
    # cached: the normalisation is kept even if another graph is passed
    c2 = gnn.GCNConv(3, 2, cached=True)
    a = _run(c2, x)
    b = _np(c2(torch.from_numpy(x), torch.tensor([[0], [1]])))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="bipartite"):
        conv((torch.ones(4, 3), torch.ones(4, 3)), torch.from_numpy(EI))


def test_graph_conv_and_sage_formulas():
    torch.manual_seed(1)
    x = _x()
    a = _adj()
    g = gnn.GraphConv(3, 2)
    ref = _lin(g.lin_rel, a @ x) + _lin(g.lin_root, x)
    np.testing.assert_allclose(_run(g, x), ref, rtol=1e-5)
    s = gnn.SAGEConv(3, 2)
    mean = a @ x / np.maximum(a.sum(1), 1)[:, None]
    np.testing.assert_allclose(_run(s, x), _lin(s.lin_l, mean) + _lin(s.lin_r, x), rtol=1e-5)
    s = gnn.SAGEConv(3, 2, aggr="max", normalize=True)
    mx = np.stack([x[a[i] > 0].max(0) if a[i].any() else np.zeros(3) for i in range(N)])
    ref = _lin(s.lin_l, mx) + _lin(s.lin_r, x)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(_run(s, x), ref, rtol=1e-5)


def test_gin_and_gine_formulas():
    x = _x()
    conv = gnn.GINConv(torch.nn.Identity(), eps=0.5)
    np.testing.assert_allclose(_run(conv, x), _adj() @ x + 1.5 * x, rtol=1e-6)
    assert "eps" in dict(conv.named_buffers())
    assert "eps" in dict(gnn.GINConv(torch.nn.Identity(), train_eps=True).named_parameters())
    ea = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    conv = gnn.GINEConv(torch.nn.Identity())
    msg = np.maximum(x[EI[0]] + ea, 0)
    ref = np.zeros_like(x, dtype=np.float64)
    np.add.at(ref, EI[1], msg)
    np.testing.assert_allclose(_run(conv, x, torch.from_numpy(ea)), ref + x, rtol=1e-6)
    with pytest.raises(ValueError, match="dimensionalities do not match"):
        conv(torch.from_numpy(x), torch.from_numpy(EI), torch.ones(5, 2))


def _gat_ref(conv, x, v2=False):
    H, C = conv.heads, conv.out_channels
    ei = np.concatenate([EI, np.stack([np.arange(N)] * 2)], 1)  # remove + add self loops
    if v2:
        xl = _lin(conv.lin_l, x).reshape(N, H, C)
        xr = _lin(conv.lin_r, x).reshape(N, H, C)
        e = xl[ei[0]] + xr[ei[1]]
        e = np.where(e > 0, e, 0.2 * e)
        s = (e * _np(conv.att)).sum(-1)
        src = xl
    else:
        h = (x @ _np(conv.lin.weight).T).reshape(N, H, C)
        s = (h * _np(conv.att_src)).sum(-1)[ei[0]] + (h * _np(conv.att_dst)).sum(-1)[ei[1]]
        s = np.where(s > 0, s, 0.2 * s)
        src = h
    out = np.zeros((N, H, C))
    alpha = np.zeros_like(s)
    for i in range(N):
        m = ei[1] == i
        e = np.exp(s[m] - s[m].max(0))
        alpha[m] = e / e.sum(0)
        out[i] = (alpha[m][:, :, None] * src[ei[0][m]]).sum(0)
    out = out.reshape(N, H * C) if conv.concat else out.mean(1)
    return out + _np(conv.bias), alpha


@pytest.mark.parametrize("v2", [False, True])
def test_gat_formula_and_attention_weights(v2):
    torch.manual_seed(2)
    cls = gnn.GATv2Conv if v2 else gnn.GATConv
    for concat in (True, False):
        conv = cls(3, 2, heads=2, concat=concat)
        with torch.no_grad():
            conv.bias.uniform_(-1, 1)
        x = _x()
        out, (ei, alpha) = conv(
            torch.from_numpy(x), torch.from_numpy(EI), return_attention_weights=True
        )
        ref, ref_alpha = _gat_ref(conv, x, v2)
        np.testing.assert_allclose(_np(out), ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_np(alpha), ref_alpha, rtol=1e-5, atol=1e-6)
        assert ei.shape == (2, 9)


def test_transformer_conv_formula():
    torch.manual_seed(3)
    conv = gnn.TransformerConv(3, 2, heads=2)
    x = _x()
    H, C = 2, 2
    q = _lin(conv.lin_query, x).reshape(N, H, C)
    k = _lin(conv.lin_key, x).reshape(N, H, C)
    v = _lin(conv.lin_value, x).reshape(N, H, C)
    out = np.zeros((N, H, C))
    for i in range(N):
        m = EI[1] == i
        if not m.any():
            continue
        s = (q[i][None] * k[EI[0][m]]).sum(-1) / np.sqrt(C)
        a = np.exp(s - s.max(0))
        a /= a.sum(0)
        out[i] = (a[:, :, None] * v[EI[0][m]]).sum(0)
    ref = out.reshape(N, 4) + _lin(conv.lin_skip, x)
    np.testing.assert_allclose(_run(conv, x), ref, rtol=1e-5, atol=1e-6)


def test_cheb_sg_appnp_gcn2_formulas():
    torch.manual_seed(4)
    x = _x()
    # ChebConv, sym, lambda_max 2: L~ = L - I = -D^-1/2 A D^-1/2 (A symmetrised by edges' rows)
    conv = gnn.ChebConv(3, 2, K=3)
    a = _adj().T  # a[src, dst]: degrees are taken over edge_index[0]
    deg = a.sum(1)
    dis = np.where(deg > 0, deg**-0.5, 0)
    lt = -(dis[:, None] * a * dis[None, :]).T  # message j -> i uses weight of edge (j, i)
    t0, t1 = x, lt @ x
    t2 = 2 * lt @ t1 - t0
    ws = [_np(lin.weight) for lin in conv.lins]
    ref = t0 @ ws[0].T + t1 @ ws[1].T + t2 @ ws[2].T + _np(conv.bias)
    np.testing.assert_allclose(_run(conv, x), ref, rtol=1e-5, atol=1e-6)
    sg = gnn.SGConv(3, 2, K=2)
    hat = _gcn_hat()
    np.testing.assert_allclose(_run(sg, x), _lin(sg.lin, hat @ hat @ x), rtol=1e-5)
    ap = gnn.APPNP(K=3, alpha=0.1)
    h = x.astype(np.float64)
    for _ in range(3):
        h = 0.9 * hat @ h + 0.1 * x
    np.testing.assert_allclose(_run(ap, x), h, rtol=1e-5)
    g2 = gnn.GCN2Conv(3, alpha=0.2, theta=0.5, layer=1)
    x0 = _x(seed=9)
    beta = np.log(0.5 / 1 + 1)
    s = 0.8 * hat @ x + 0.2 * x0
    ref = (1 - beta) * s + beta * s @ _np(g2.weight1)
    out = g2(torch.from_numpy(x), torch.from_numpy(x0), torch.from_numpy(EI))
    np.testing.assert_allclose(_np(out), ref, rtol=1e-5, atol=1e-6)


def test_rgcn_formula_featureless_and_blocks():
    torch.manual_seed(5)
    x = _x()
    et = np.array([0, 1, 0, 1, 1])
    conv = gnn.RGCNConv(3, 2, num_relations=2)
    ref = x @ _np(conv.root) + _np(conv.bias)
    for r in range(2):
        a = _adj(EI[:, et == r])
        ref += (a @ x / np.maximum(a.sum(1), 1)[:, None]) @ _np(conv.weight)[r]
    np.testing.assert_allclose(_run(conv, x, torch.from_numpy(et)), ref, rtol=1e-5, atol=1e-6)
    # featureless: x=None uses weight rows as embeddings
    conv = gnn.RGCNConv(4, 2, num_relations=2, num_bases=2)
    w = _np(conv.comp) @ _np(conv.weight).reshape(2, -1)
    w = w.reshape(2, 4, 2)
    ref = _np(conv.root) + _np(conv.bias)
    for r in range(2):
        a = _adj(EI[:, et == r])
        ref += (a / np.maximum(a.sum(1), 1)[:, None]) @ w[r]
    out = conv(None, torch.from_numpy(EI), torch.from_numpy(et))
    np.testing.assert_allclose(_np(out), ref, rtol=1e-5, atol=1e-6)
    conv = gnn.RGCNConv(4, 2, num_relations=2, num_blocks=2)
    assert conv(torch.ones(4, 4), torch.from_numpy(EI), torch.from_numpy(et)).shape == (4, 2)
    with pytest.raises(ValueError, match="both"):
        gnn.RGCNConv(4, 2, 2, num_bases=1, num_blocks=2)


def test_edge_conv_and_dynamic_knn():
    x = _x()
    conv = gnn.EdgeConv(torch.nn.Identity(), aggr="max")
    out = _run(conv, x)
    for i in range(N):
        m = EI[1] == i
        feats = np.concatenate([np.repeat(x[i][None], m.sum(), 0), x[EI[0][m]] - x[i]], 1)
        exp = feats.max(0) if m.any() else np.zeros(6)
        np.testing.assert_allclose(out[i], exp, rtol=1e-6)
    rng = np.random.default_rng(6)
    pts = rng.standard_normal((10, 2)).astype(np.float32)
    batch = np.array([0] * 6 + [1] * 4)
    dyn = gnn.DynamicEdgeConv(torch.nn.Identity(), k=3, aggr="max")
    out = _np(dyn(torch.from_numpy(pts), torch.from_numpy(batch)))
    for i in range(10):
        same = np.flatnonzero(batch == batch[i])
        d = ((pts[same] - pts[i]) ** 2).sum(1)
        nb = same[np.argsort(d, kind="stable")[:3]]
        feats = np.concatenate([np.repeat(pts[i][None], 3, 0), pts[nb] - pts[i]], 1)
        np.testing.assert_allclose(out[i], feats.max(0), rtol=1e-6)


FUSABLE = {
    "gcn": lambda: gnn.GCNConv(3, 4),
    "graph": lambda: gnn.GraphConv(3, 4),
    "graph_mean": lambda: gnn.GraphConv(3, 4, aggr="mean"),
    "sage": lambda: gnn.SAGEConv(3, 4),
    "gin": lambda: gnn.GINConv(torch.nn.Linear(3, 4)),
    "gat": lambda: gnn.GATConv(3, 2, heads=3),
    "gatv2": lambda: gnn.GATv2Conv(3, 2, heads=2),
    "cheb": lambda: gnn.ChebConv(3, 4, K=3),
    "sg": lambda: gnn.SGConv(3, 4, K=2),
    "appnp": lambda: gnn.APPNP(K=2, alpha=0.3),
}


def _rand_graph(n, e, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)).astype(np.float32), rng.integers(0, n, (2, e))


@pytest.mark.parametrize("name", sorted(FUSABLE))
def test_sparse_path_equals_gather_scatter(name):
    torch.manual_seed(7)
    conv = FUSABLE[name]()
    x, ei = _rand_graph(30, 120, 8)
    outs, grads = [], []
    for fuse in (True, False):
        conv.fuse = fuse
        xt = torch.from_numpy(x).requires_grad_()
        out = conv(xt, torch.from_numpy(ei))
        (out * torch.arange(out.numel()).view(out.shape).float()).sum().backward()
        outs.append(_np(out))
        grads.append(_np(xt.grad))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-5)


NODE_LAYERS = dict(
    FUSABLE,
    transformer=lambda: gnn.TransformerConv(3, 2, heads=2),
    edge=lambda: gnn.EdgeConv(torch.nn.Linear(6, 4)),
    gine=lambda: gnn.GINEConv(torch.nn.Linear(3, 4), edge_dim=2),
    sage_max=lambda: gnn.SAGEConv(3, 4, aggr="max"),
)


@pytest.mark.parametrize("name", sorted(NODE_LAYERS))
def test_batching_equals_one_by_one(name):
    torch.manual_seed(8)
    conv = NODE_LAYERS[name]()
    graphs = []
    for k, (n, e) in enumerate([(5, 9), (7, 12), (4, 6)]):
        x, ei = _rand_graph(n, e, 20 + k)
        ea = np.random.default_rng(k).standard_normal((e, 2)).astype(np.float32)
        graphs.append(
            Data(
                x=torch.from_numpy(x),
                edge_index=torch.from_numpy(ei),
                edge_attr=torch.from_numpy(ea),
            )
        )
    batch = Batch.from_data_list(graphs)

    def run(d):
        if name == "gine":
            return conv(d.x, d.edge_index, d.edge_attr)
        return conv(d.x, d.edge_index)

    whole = _np(run(batch))
    parts = np.concatenate([_np(run(g)) for g in graphs])
    np.testing.assert_allclose(whole, parts, rtol=1e-5, atol=1e-6)


GRAD_LAYERS = {
    "gcn": lambda: gnn.GCNConv(3, 2),
    "gat": lambda: gnn.GATConv(3, 2, heads=2, edge_dim=2),
    "gatv2": lambda: gnn.GATv2Conv(3, 2, heads=2),
    "sage_max": lambda: gnn.SAGEConv(3, 2, aggr="max"),
    "gin": lambda: gnn.GINConv(torch.nn.Linear(3, 2)),
    "transformer": lambda: gnn.TransformerConv(3, 2, heads=2, beta=True),
    "cheb": lambda: gnn.ChebConv(3, 2, K=3),
    "rgcn": lambda: gnn.RGCNConv(3, 2, 2, num_bases=2),
}


@pytest.mark.parametrize("name", sorted(GRAD_LAYERS))
def test_gradcheck_float64(name):
    torch.manual_seed(9)
    conv = GRAD_LAYERS[name]().double()
    x = torch.from_numpy(_x().astype(np.float64)).requires_grad_()
    ei = torch.from_numpy(EI)
    ea = torch.from_numpy(np.random.default_rng(2).standard_normal((5, 2)))
    et = torch.tensor([0, 1, 1, 0, 1])

    def f(x):
        if name == "gat":
            return conv(x, ei, ea)
        if name == "rgcn":
            return conv(x, ei, et)
        return conv(x, ei)

    assert torch.autograd.gradcheck(f, (x,))


def test_message_passing_collects_i_j_flow_and_size():
    class Diff(gnn.MessagePassing):
        def forward(self, x, edge_index, size=None):
            return self.propagate(edge_index, x=x, size=size)

        def message(self, x_i, x_j, index, size_i):
            assert size_i == index.shape[0] or size_i > 0
            return x_j - x_i

    x = torch.tensor([[1.0], [2.0], [4.0], [8.0]])
    ei = torch.from_numpy(EI)
    out = Diff(aggr="sum")(x, ei)
    xs = _np(x)[:, 0]
    ref = np.zeros(4)
    np.add.at(ref, EI[1], xs[EI[0]] - xs[EI[1]])
    np.testing.assert_allclose(_np(out)[:, 0], ref)
    out = Diff(aggr="sum", flow="target_to_source")(x, ei)
    ref = np.zeros(4)
    np.add.at(ref, EI[0], xs[EI[1]] - xs[EI[0]])
    np.testing.assert_allclose(_np(out)[:, 0], ref)
    # bipartite: 4 sources, 2 targets
    out = Diff(aggr="mean")((x, x[:2]), torch.tensor([[2, 3, 1], [0, 0, 1]]))
    np.testing.assert_allclose(_np(out)[:, 0], [(4 - 1 + 8 - 1) / 2, 0.0])
    with pytest.raises(IndexError, match="number of nodes \\(4\\)"):
        Diff()(x, torch.tensor([[0], [9]]))
    with pytest.raises(ValueError, match="flow"):
        Diff(flow="up")
    with pytest.raises(ValueError, match="shape \\[2, num_edges\\]"):
        Diff()(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="expected size 3"):
        Diff()(x, ei, size=(3, 3))


def test_aggregation_modules():
    x = torch.tensor([[1.0, -1.0], [3.0, 2.0], [5.0, 0.0]])
    idx = torch.tensor([0, 0, 2])
    assert gnn.SumAggregation()(x, idx).tolist() == [[4.0, 1.0], [0.0, 0.0], [5.0, 0.0]]
    assert gnn.MeanAggregation()(x, idx, dim_size=3).tolist()[0] == [2.0, 0.5]
    assert gnn.MaxAggregation()(x, ptr=torch.tensor([0, 2, 3])).tolist() == [[3, 2], [5, 0]]
    assert gnn.MinAggregation()(x).tolist() == [[1.0, -1.0]]
    assert gnn.MulAggregation()(x, idx).tolist() == [[3.0, -2.0], [1.0, 1.0], [5.0, 0.0]]
    sm = gnn.SoftmaxAggregation(t=2.0)(x, idx)
    w = np.exp(2 * np.array([1.0, 3.0]))
    np.testing.assert_allclose(_np(sm)[0, 0], (w / w.sum() * [1, 3]).sum(), rtol=1e-6)
    lstm = gnn.LSTMAggregation(2, 5)
    assert lstm(x, idx).shape == (3, 5)
    assert "lstm.weight_ih_l0" in lstm.state_dict()
    with pytest.raises(ValueError, match="sorted"):
        lstm(x, torch.tensor([1, 0, 0]))
    conv = gnn.SAGEConv(2, 3, aggr="lstm")
    assert "aggr_module.lstm.weight_ih_l0" in conv.state_dict()
    assert conv(x, torch.tensor([[1, 2, 0], [0, 0, 1]])).shape == (3, 3)


def test_global_pools_and_attention():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((7, 3))
    b = np.array([0, 0, 0, 1, 1, 2, 2])
    xt, bt = torch.from_numpy(x), torch.from_numpy(b)
    for fn, ref in [
        (gnn.global_add_pool, np.add.reduceat(x, [0, 3, 5])),
        (gnn.global_mean_pool, np.add.reduceat(x, [0, 3, 5]) / [[3], [2], [2]]),
        (gnn.global_max_pool, np.maximum.reduceat(x, [0, 3, 5])),
    ]:
        np.testing.assert_allclose(_np(fn(xt, bt)), ref)
        np.testing.assert_allclose(_np(fn(xt, None)), _np(fn(xt, torch.zeros(7).long())))
    torch.manual_seed(0)
    gate = torch.nn.Linear(3, 1).double()
    att = gnn.AttentionalAggregation(gate)
    old = gnn.GlobalAttention(gate)  # re-initialises the shared gate, as torch_geometric
    out = _np(att(xt, bt))
    s = _np(gate(xt))[:, 0]
    for g in range(3):
        m = b == g
        w = np.exp(s[m] - s[m].max())
        np.testing.assert_allclose(out[g], (w[:, None] * x[m]).sum(0) / w.sum(), rtol=1e-6)
    np.testing.assert_allclose(_np(old(xt, bt)), out)


def test_topk_and_sag_pooling():
    torch.manual_seed(11)
    x = torch.from_numpy(_x(3, seed=11, n=7))
    ei = torch.tensor([[0, 1, 2, 3, 4, 5, 6], [1, 2, 0, 4, 5, 6, 3]])
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    pool = gnn.TopKPooling(3, ratio=0.5)
    xo, eo, _, bo, perm, score = pool(x, ei, batch=batch)
    w = _np(pool.select.weight)[0]
    s = np.tanh(_np(x) @ w / np.linalg.norm(w))
    exp = list(np.argsort(-s[:3])[:2]) + list(3 + np.argsort(-s[3:])[:2])
    assert perm.tolist() == exp
    np.testing.assert_allclose(_np(xo), _np(x)[exp] * s[exp][:, None], rtol=1e-5)
    assert bo.tolist() == [0, 0, 1, 1]
    keep = {v: i for i, v in enumerate(exp)}
    ref_e = [[keep[a], keep[b]] for a, b in EI_T(ei) if a in keep and b in keep]
    assert eo.t().tolist() == ref_e
    sag = gnn.SAGPooling(3, ratio=2)
    xo, eo, _, bo, perm, score = sag(x, ei, batch=batch)
    assert perm.shape == (4,) and bo.tolist() == [0, 0, 1, 1]
    assert set(sag.state_dict()) == {
        "gnn.lin_rel.weight",
        "gnn.lin_rel.bias",
        "gnn.lin_root.weight",
        "select.weight",
    }
    p2 = gnn.TopKPooling(3, ratio=None, min_score=0.3)
    assert p2(x, ei, batch=batch)[4].numel() >= 2


def EI_T(ei):
    return [tuple(e) for e in ei.t().tolist()]


def test_norms():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((6, 3))
    b = np.array([0, 0, 0, 1, 1, 1])
    xt, bt = torch.from_numpy(x), torch.from_numpy(b)
    gn = gnn.GraphNorm(3).double()
    ref = np.concatenate(
        [(x[b == g] - x[b == g].mean(0)) / np.sqrt(x[b == g].var(0) + 1e-5) for g in (0, 1)]
    )
    np.testing.assert_allclose(_np(gn(xt, bt)), ref, rtol=1e-6)
    ln = gnn.LayerNorm(3).double()
    ref = np.concatenate(
        [(x[b == g] - x[b == g].mean()) / np.sqrt(x[b == g].var() + 1e-5) for g in (0, 1)]
    )
    np.testing.assert_allclose(_np(ln(xt, bt)), ref, rtol=1e-6)
    ref = (x - x.mean()) / (x.std() + 1e-5)
    np.testing.assert_allclose(_np(ln(xt)), ref, rtol=1e-6)
    ln = gnn.LayerNorm(3, mode="node").double()
    ref = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(_np(ln(xt)), ref, rtol=1e-6)
    bn = gnn.BatchNorm(3).double()
    np.testing.assert_allclose(_np(bn(xt)), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-6)
    assert "module.running_mean" in bn.state_dict()


def test_basic_gnn_models_keys_and_shapes():
    x, ei = torch.ones(5, 3), torch.tensor([[0, 1, 2], [1, 2, 3]])
    m = gnn.GCN(3, 8, 2, 4)
    assert list(m.state_dict()) == [
        "convs.0.bias",
        "convs.0.lin.weight",
        "convs.1.bias",
        "convs.1.lin.weight",
    ]
    assert m(x, ei).shape == (5, 4)
    m = gnn.GAT(3, 8, 2, 4, heads=2)
    assert m.state_dict()["convs.1.att_src"].shape == (1, 2, 4)
    assert m(x, ei).shape == (5, 4)
    m = gnn.GIN(3, 8, 2, 4)
    assert "convs.0.nn.lins.1.weight" in m.state_dict() and m(x, ei).shape == (5, 4)
    m = gnn.GraphSAGE(3, 8, 3, 4, norm="batch_norm", jk="cat", dropout=0.5)
    assert m.lin.weight.shape == (4, 24) and m(x, ei).shape == (5, 4)
    assert "norms.2.module.running_mean" in m.state_dict()
    m = gnn.GCN(3, 8, 2, jk="max", norm="graph_norm")
    assert m(x, ei, batch=torch.zeros(5).long()).shape == (5, 8)
    with pytest.raises(ValueError, match="divisible"):
        gnn.GAT(3, 7, 2, 4, heads=2)


def test_karate_club_gcn_reaches_70_percent():
    from tocha.geometric.datasets import KarateClub

    data = KarateClub()[0]
    torch.manual_seed(0)
    model = gnn.GCN(data.num_features, 16, num_layers=2, out_channels=4)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    mask = data.train_mask
    for _ in range(200):
        opt.zero_grad()
        out = model(data.x, data.edge_index)
        loss = torch.nn.functional.cross_entropy(out[mask], data.y[mask])
        loss.backward()
        opt.step()
    model.eval()
    pred = model(data.x, data.edge_index).argmax(1)
    test = ~mask
    acc = float((pred[test] == data.y[test]).float().mean())
    assert int(mask.sum()) == 4
    assert acc >= 0.7, acc


def _cycle_or_path(n, cycle):
    src = np.arange(n - 1)
    e = np.stack([src, src + 1])
    if cycle:
        e = np.concatenate([e, [[n - 1], [0]]], 1)
    e = np.concatenate([e, e[::-1]], 1)
    return Data(x=torch.ones(n, 1), edge_index=torch.from_numpy(e), y=torch.tensor([int(cycle)]))


def test_gin_separates_cycles_from_paths():
    # GIN sums see the two degree-1 ends of a path: a readout of sums tells them apart
    rng = np.random.default_rng(13)
    graphs = [_cycle_or_path(int(rng.integers(5, 12)), bool(i % 2)) for i in range(80)]
    train, test = graphs[:60], graphs[60:]
    torch.manual_seed(1)
    model = gnn.GIN(1, 16, num_layers=3)
    head = torch.nn.Linear(16, 2)
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=0.01)

    def logits(gs):
        b = Batch.from_data_list(gs)
        return head(gnn.global_add_pool(model(b.x, b.edge_index), b.batch)), b.y

    for _ in range(60):
        for k in range(0, 60, 20):
            opt.zero_grad()
            out, y = logits(train[k : k + 20])
            torch.nn.functional.cross_entropy(out, y).backward()
            opt.step()
    out, y = logits(test)
    acc = float((out.argmax(1) == y).float().mean())
    assert acc >= 0.9, acc


def test_gae_vgae_and_node2vec():
    torch.manual_seed(14)
    ei = torch.from_numpy(np.concatenate([EI, EI[::-1]], 1))
    x = torch.from_numpy(_x())
    gae = gnn.GAE(gnn.GCNConv(3, 4))
    z = gae.encode(x, ei)
    loss = gae.recon_loss(z, ei, torch.tensor([[0, 2], [3, 0]]))
    zn = _np(z)
    p = 1 / (1 + np.exp(-(zn[EI[0]] * zn[EI[1]]).sum(1)))
    p = np.concatenate([p, p])
    nq = 1 / (1 + np.exp(-np.array([(zn[0] * zn[3]).sum(), (zn[2] * zn[0]).sum()])))
    ref = -np.log(p + 1e-15).mean() - np.log(1 - nq + 1e-15).mean()
    np.testing.assert_allclose(float(loss), ref, rtol=1e-5)
    auc, ap = gae.test(z, ei, torch.tensor([[0, 2], [3, 0]]))
    assert 0 <= auc <= 1 and 0 <= ap <= 1

    class Enc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mu, self.ls = gnn.GCNConv(3, 2), gnn.GCNConv(3, 2)

        def forward(self, x, ei):
            return self.mu(x, ei), self.ls(x, ei)

    vgae = gnn.VGAE(Enc()).eval()
    z = vgae.encode(x, ei)
    np.testing.assert_allclose(_np(z), _np(vgae.encoder.mu(x, ei)))
    mu, ls = _np(vgae.__mu__), _np(vgae.__logstd__)
    kl = -0.5 * np.mean(np.sum(1 + 2 * ls - mu**2 - np.exp(ls) ** 2, 1))
    np.testing.assert_allclose(float(vgae.kl_loss()), kl, rtol=1e-5)

    n2v = gnn.Node2Vec(
        ei, embedding_dim=4, walk_length=6, context_size=3, p=0.5, q=2.0, walks_per_node=2
    )
    pos, neg = n2v.sample(torch.arange(4))
    assert pos.shape == (4 * 2 * 4, 3) and neg.shape == pos.shape
    edges = set(EI_T(ei))
    for row in pos.tolist():
        for a, b in zip(row[:-1], row[1:]):
            assert (a, b) in edges
    opt = torch.optim.Adam(n2v.parameters(), lr=0.05)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = n2v.loss(*n2v.sample(torch.arange(4)))
        loss.backward()
        opt.step()
        first = float(loss) if first is None else first
    assert float(loss) < first


def test_hetero_conv_sums_per_destination():
    torch.manual_seed(15)
    a, b = gnn.SAGEConv((3, 2), 4), gnn.GCNConv(2, 4)
    with pytest.warns(UserWarning, match="do not get updated"):
        conv = gnn.HeteroConv({("u", "to", "v"): a, ("v", "self", "v"): b}, aggr="sum")
    xu, xv = torch.randn(3, 3), torch.randn(5, 2)
    e1, e2 = torch.tensor([[0, 2], [1, 4]]), torch.tensor([[0, 1], [1, 2]])
    out = conv({"u": xu, "v": xv}, {("u", "to", "v"): e1, ("v", "self", "v"): e2})
    np.testing.assert_allclose(_np(out["v"]), _np(a((xu, xv), e1) + b(xv, e2)), rtol=1e-6)
    assert "convs.<u___to___v>.lin_l.weight" in conv.state_dict()


def test_sequential_named_flow():
    torch.manual_seed(16)
    conv = gnn.GraphConv(3, 2)
    model = gnn.Sequential(
        "x, edge_index",
        [(conv, "x, edge_index -> h"), (lambda h, x: h * 2 + x[:, :2], "h, x -> out")],
    )
    x = torch.from_numpy(_x())
    ei = torch.from_numpy(EI)
    np.testing.assert_allclose(_np(model(x, ei)), _np(conv(x, ei)) * 2 + _np(x)[:, :2], rtol=1e-6)
    assert list(model.state_dict()) == [
        "module_0.lin_rel.weight",
        "module_0.lin_rel.bias",
        "module_0.lin_root.weight",
    ]
    with pytest.raises(ValueError, match="first module"):
        gnn.Sequential("x", [torch.nn.ReLU()])


def test_knn_and_radius_graph_brute_force():
    rng = np.random.default_rng(17)
    pts = rng.standard_normal((30, 3))
    b = np.repeat([0, 1, 2], 10)
    ei = gnn.knn_graph(torch.from_numpy(pts), 4, torch.from_numpy(b)).numpy()
    assert ei.shape == (2, 120)
    for i in range(30):
        same = np.flatnonzero((b == b[i]) & (np.arange(30) != i))
        d = ((pts[same] - pts[i]) ** 2).sum(1)
        assert set(ei[0][ei[1] == i]) == set(same[np.argsort(d)[:4]])  # source -> target i
    ei = gnn.radius_graph(torch.from_numpy(pts), 1.2, torch.from_numpy(b)).numpy()
    d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    ref = {
        (j, i) for i in range(30) for j in range(30) if i != j and b[i] == b[j] and d[i, j] <= 1.2
    }
    assert set(map(tuple, ei.T.tolist())) == ref
    ei = gnn.knn_graph(torch.from_numpy(pts), 2, loop=True, flow="target_to_source").numpy()
    assert np.all(np.bincount(ei[0]) == 2) and np.any(ei[0] == ei[1])


def test_spmm_values_and_gradients_per_head():
    from tocha.geometric.nn._spmm import spmm
    from tocha.geometric.utils._scatter import gather_rows

    rng = np.random.default_rng(18)
    ei = rng.integers(0, 6, (2, 40))
    v = rng.standard_normal((40, 2))
    x = rng.standard_normal((6, 2, 3))
    out = spmm(torch.from_numpy(ei), torch.from_numpy(v), torch.from_numpy(x))
    ref = np.zeros((6, 2, 3))
    np.add.at(ref, ei[1], v[:, :, None] * x[ei[0]])
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    vt = torch.from_numpy(v).requires_grad_()
    xt = torch.from_numpy(x).requires_grad_()
    et = torch.from_numpy(ei)
    assert torch.autograd.gradcheck(lambda a, b: spmm(et, a, b, flow="target_to_source"), (vt, xt))
    assert torch.autograd.gradgradcheck(lambda a, b: spmm(et, a, b), (vt, xt))
    assert torch.autograd.gradgradcheck(lambda b: gather_rows(b, et[0]) ** 2, (xt,))
    with pytest.raises(IndexError, match="refers to node 5"):
        spmm(et, None, torch.ones(5, 2), 6)


def test_lazy_in_channels():
    torch.manual_seed(19)
    conv = gnn.SAGEConv((-1, -1), 4)
    out = conv((torch.ones(3, 5), torch.ones(2, 7)), torch.tensor([[0, 1], [1, 0]]))
    assert out.shape == (2, 4)
    assert conv.lin_l.weight.shape == (4, 5) and conv.lin_r.weight.shape == (4, 7)
    conv = gnn.GCNConv(-1, 4)
    assert conv(torch.ones(3, 6), torch.tensor([[0, 1], [1, 0]])).shape == (3, 4)
    assert conv.lin.weight.shape == (4, 6)


def test_cached_plans_are_released_with_their_graph():
    import gc

    from tocha.geometric.nn import _spmm
    from tocha.geometric.utils import _scatter

    conv = gnn.GATConv(4, 2, heads=2)
    gc.collect()  # plans of graphs freed by earlier tests go first
    before = (len(_scatter._PLANS), len(_spmm._PLANS), len(_spmm._ROWS))
    for i in range(20):
        ei = torch.from_numpy(np.random.default_rng(i).integers(0, 50, (2, 200)))
        conv(torch.randn(50, 4), ei).sum().backward()
    del ei
    gc.collect()
    assert (len(_scatter._PLANS), len(_spmm._PLANS), len(_spmm._ROWS)) == before


def test_multi_var_std_aggregations():
    rng = np.random.default_rng(20)
    x = rng.standard_normal((9, 2))
    idx = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3])
    xt, it = torch.from_numpy(x), torch.from_numpy(idx)
    var = np.stack([x[idx == g].var(0) for g in range(4)])
    np.testing.assert_allclose(_np(gnn.VarAggregation()(xt, it)), var, atol=1e-12)
    std = np.where(var > 1e-5, np.sqrt(np.maximum(var, 1e-5)), 0.0)
    np.testing.assert_allclose(_np(gnn.StdAggregation()(xt, it)), std, atol=1e-12)
    mx = np.stack([x[idx == g].max(0) for g in range(4)])
    mean = np.stack([x[idx == g].mean(0) for g in range(4)])
    out = gnn.MultiAggregation(["mean", "max"])(xt, it)
    np.testing.assert_allclose(_np(out), np.concatenate([mean, mx], 1), atol=1e-12)
    conv = gnn.SAGEConv(2, 3, aggr=["mean", "max"])
    assert conv.lin_l.weight.shape == (3, 4)
