"""RNN, LSTM, GRU and their cells against a NumPy re-implementation of the published
equations (torch's gate order), packed sequences against running each sequence alone,
gradients (gradcheck, gradgradcheck) in float64, parameter names and init, and errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import nn
from tocha.core._ops import rnn as R
from tocha.core.autograd import gradcheck, gradgradcheck
from tocha.core.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

RNG = np.random.default_rng(0)


def t(a, rg=False):
    return torch.tensor(a, requires_grad=rg)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _np_cell(mode, x, h, c, p):
    """One step of the published equations; p: dict of weight_ih, weight_hh, bias_ih, bias_hh
    (and weight_hr)."""
    gi = x @ p["weight_ih"].T + p.get("bias_ih", 0)
    gh = h @ p["weight_hh"].T + p.get("bias_hh", 0)
    if mode == "LSTM":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c2 = _sig(f) * c + _sig(i) * np.tanh(g)
        h2 = _sig(o) * np.tanh(c2)
        if "weight_hr" in p:
            h2 = h2 @ p["weight_hr"].T
        return h2, c2
    if mode == "GRU":
        xr, xz, xn = np.split(gi, 3, axis=-1)
        hr, hz, hn = np.split(gh, 3, axis=-1)
        r, z = _sig(xr + hr), _sig(xz + hz)
        n = np.tanh(xn + r * hn)
        return (1 - z) * n + z * h, None
    pre = gi + gh
    return (np.maximum(pre, 0) if mode == "RNN_RELU" else np.tanh(pre)), None


def _np_rnn(m, x, h0=None, c0=None):
    """The whole module in NumPy on time-major x (T, B, I): (output, h_n, c_n)."""
    d_count = 2 if m.bidirectional else 1
    big_t, b = x.shape[:2]
    hout = m.proj_size or m.hidden_size
    if h0 is None:
        h0 = np.zeros((m.num_layers * d_count, b, hout))
    if c0 is None:
        c0 = np.zeros((m.num_layers * d_count, b, m.hidden_size))
    hs, cs = [], []
    inp = x
    for layer in range(m.num_layers):
        outs = []
        for d in range(d_count):
            k = layer * d_count + d
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            p = {
                n: getattr(m, n + sfx).detach().numpy()
                for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
                if hasattr(m, n + sfx)
            }
            h, c = h0[k], c0[k]
            ys = [None] * big_t
            for step in range(big_t - 1, -1, -1) if d else range(big_t):
                h, c = _np_cell(m.mode, inp[step], h, c, p)
                ys[step] = h
            outs.append(np.stack(ys))
            hs.append(h)
            cs.append(c)
        inp = np.concatenate(outs, -1)
    return inp, np.stack(hs), (np.stack(cs) if m.mode == "LSTM" else None)


CONFIGS = [
    ("LSTM", {}),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(proj_size=2, bias=False)),
    ("LSTM", dict(proj_size=3, num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", {}),
    ("GRU", dict(num_layers=2, bidirectional=True, bias=False)),
    ("RNN", dict(batch_first=True)),
    ("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True)),
]


def _make(name, kw, dtype=torch.float64):
    return getattr(nn, name)(3, 5, **kw).to(dtype)


@pytest.mark.parametrize("steps", [1, 2, 6])
@pytest.mark.parametrize("name,kw", CONFIGS)
def test_against_numpy(name, kw, steps):
    m = _make(name, kw)
    x = RNG.standard_normal((steps, 2, 3))
    lstm = name == "LSTM"
    hout = kw.get("proj_size") or 5
    nd = (2 if kw.get("bidirectional") else 1) * kw.get("num_layers", 1)
    h0 = RNG.standard_normal((nd, 2, hout))
    c0 = RNG.standard_normal((nd, 2, 5))
    ref_y, ref_h, ref_c = _np_rnn(m, x, h0, c0)
    xin = x.transpose(1, 0, 2) if m.batch_first else x
    hx = (t(h0), t(c0)) if lstm else t(h0)
    y, hn = m(t(xin), hx)
    if m.batch_first:
        y = y.transpose(0, 1)
    np.testing.assert_allclose(y.detach().numpy(), ref_y, atol=1e-12)
    if lstm:
        hn, cn = hn
        np.testing.assert_allclose(cn.detach().numpy(), ref_c, atol=1e-12)
    np.testing.assert_allclose(hn.detach().numpy(), ref_h, atol=1e-12)
    # float32 takes the same fused path
    m32 = m.float()
    y32 = m32(t(xin).float(), tuple(a.float() for a in hx) if lstm else hx.float())[0]
    if m.batch_first:
        y32 = y32.transpose(0, 1)
    np.testing.assert_allclose(y32.detach().numpy(), ref_y, atol=2e-5)


@pytest.mark.parametrize("name,kw", CONFIGS[:2] + CONFIGS[4:5] + CONFIGS[-1:])
def test_gradcheck_layers(name, kw):
    m = _make(name, kw)
    x = t(RNG.standard_normal((3, 2, 3)), True)
    nd = (2 if kw.get("bidirectional") else 1) * kw.get("num_layers", 1)
    h0 = t(RNG.standard_normal((nd, 2, 5)), True)
    w = m.weight_hh_l0

    if name == "LSTM":
        c0 = t(RNG.standard_normal((nd, 2, 5)), True)

        def f(x, h0, c0, w):
            y, (h, c) = m(x, (h0, c0))
            return y, h, c

        args = (x, h0, c0, w)
    else:

        def f(x, h0, w):
            y, h = m(x, h0)
            return y, h

        args = (x, h0, w)
    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


def test_fused_matches_composite_and_weight_grads():
    """The fused node and the op-by-op composite give the same values and gradients."""
    for mode in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"):
        g = {"LSTM": 4, "GRU": 3}.get(mode, 1)
        gx = t(RNG.standard_normal((7, g * 4)), True)
        w = t(RNG.standard_normal((g * 4, 4)) * 0.5, True)
        b = t(RNG.standard_normal(g * 4), True)
        h0 = t(RNG.standard_normal((3, 4)), True)
        c0 = t(RNG.standard_normal((3, 4)), True) if mode == "LSTM" else None
        steps = ((0, 3), (3, 2), (5, 1), (6, 1))  # a packed batch: lengths 4, 2, 1
        for reverse in (False, True):
            a = R.rnn_layer(mode, gx, w, h0, c0, b, None, steps, reverse)
            r = R.composite_layer(mode, gx, w, h0, c0, b, None, steps, reverse)
            assert isinstance(a[0].grad_fn, R.RNNLayer)
            for u, v in zip(a, r):
                np.testing.assert_allclose(u.detach().numpy(), v.detach().numpy(), atol=1e-12)
            ins = [gx, w, b, h0] + ([c0] if c0 is not None else [])
            ga = torch.autograd.grad([o.sum() * (i + 1) for i, o in enumerate(a)], ins)
            gr = torch.autograd.grad([o.sum() * (i + 1) for i, o in enumerate(r)], ins)
            for u, v in zip(ga, gr):
                np.testing.assert_allclose(u.detach().numpy(), v.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_equals_each_sequence_alone(name, bidirectional):
    m = getattr(nn, name)(3, 4, num_layers=2, bidirectional=bidirectional).double()
    lengths = [3, 5, 1]
    x = RNG.standard_normal((5, 3, 3))
    xt = t(x, True)
    packed = pack_padded_sequence(xt, lengths, enforce_sorted=False)
    out, hid = m(packed)
    padded, lens = pad_packed_sequence(out)
    assert lens.tolist() == lengths
    h_n = hid[0] if name == "LSTM" else hid
    for j, n in enumerate(lengths):
        y1, h1 = m(t(x[:n, j : j + 1]))
        h1 = h1[0] if name == "LSTM" else h1
        np.testing.assert_allclose(
            padded[:n, j].detach().numpy(), y1[:, 0].detach().numpy(), atol=1e-12
        )
        assert float(padded[n:, j].abs().sum()) == 0.0
        np.testing.assert_allclose(
            h_n[:, j].detach().numpy(), h1[:, 0].detach().numpy(), atol=1e-12
        )
    padded.sum().backward()
    g = xt.grad.detach().numpy()
    assert np.all(g[3:, 0] == 0) and np.all(g[1:, 2] == 0) and np.any(g[:3, 0] != 0)


def test_unbatched_input_and_hidden_permutation():
    m = nn.GRU(3, 4).double()
    x = RNG.standard_normal((5, 3))
    y, h = m(t(x))
    yb, hb = m(t(x[:, None]))
    assert y.shape == (5, 4) and h.shape == (1, 4)
    np.testing.assert_allclose(y.detach().numpy(), yb[:, 0].detach().numpy())
    lstm = nn.LSTM(3, 4).double()
    y, (h, c) = lstm(t(x), (torch.zeros(1, 4, dtype=torch.float64),) * 2)
    assert y.shape == (5, 4) and h.shape == (1, 4) and c.shape == (1, 4)
    # a given h0 follows its sequence through the sort of a packed batch
    h0 = RNG.standard_normal((1, 2, 4))
    xx = RNG.standard_normal((3, 2, 3))
    p = pack_padded_sequence(t(xx), [2, 3], enforce_sorted=False)
    _, hp = m(p, t(h0))
    _, h1 = m(t(xx[:2, :1]), t(h0[:, :1]))
    np.testing.assert_allclose(hp[:, 0].detach().numpy(), h1[:, 0].detach().numpy(), atol=1e-12)


def test_parameters_names_shapes_and_init():
    m = nn.LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=2)
    names = [n for n, _ in m.named_parameters()]
    assert names[:6] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_hr_l0",
        "weight_ih_l0_reverse",
    ]
    assert len(names) == 20 and names[-1] == "weight_hr_l1_reverse"
    assert m.weight_ih_l0.shape == (24, 3) and m.weight_hh_l0.shape == (24, 2)
    assert m.weight_hr_l0.shape == (2, 6) and m.weight_ih_l1.shape == (24, 4)
    bound = 1 / math.sqrt(6)
    for p in m.parameters():
        a = p.detach().numpy()
        assert a.min() >= -bound and a.max() <= bound and a.std() > bound / 4
    assert m._flat_weights_names == names and len(m.all_weights) == 4
    assert m.all_weights[1][0] is m.weight_ih_l0_reverse
    m.flatten_parameters()
    assert repr(m) == "LSTM(3, 6, proj_size=2, num_layers=2, bidirectional=True)"
    assert repr(nn.GRU(3, 4, bias=False, batch_first=True, dropout=0.5, num_layers=2)) == (
        "GRU(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5)"
    )
    assert nn.RNN(3, 4, 1, "relu").mode == "RNN_RELU"
    assert [n for n, _ in nn.GRU(2, 3, bias=False).named_parameters()] == [
        "weight_ih_l0",
        "weight_hh_l0",
    ]
    cell = nn.LSTMCell(3, 4)
    assert cell.weight_ih.shape == (16, 3) and cell.bias_hh.shape == (16,)
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"
    assert nn.GRUCell(3, 4, bias=False).bias_ih is None


@pytest.mark.parametrize(
    "mode,cls", [("LSTM", "LSTMCell"), ("GRU", "GRUCell"), ("RNN_RELU", "RNNCell")]
)
def test_cells_against_numpy(mode, cls):
    kw = {"nonlinearity": "relu"} if cls == "RNNCell" else {}
    cell = getattr(nn, cls)(3, 4, **kw).double()
    p = {n: q.detach().numpy() for n, q in cell.named_parameters()}
    x, h, c = (RNG.standard_normal(s) for s in ((2, 3), (2, 4), (2, 4)))
    rh, rc = _np_cell(mode, x, h, c, p)
    if mode == "LSTM":
        oh, oc = cell(t(x), (t(h), t(c)))
        np.testing.assert_allclose(oc.detach().numpy(), rc, atol=1e-12)
        uh, _ = cell(t(x[0]), (t(h[0]), t(c[0])))  # unbatched
        zh, zc = cell(t(x))  # zero state
        rz = _np_cell(mode, x, 0 * h, 0 * c, p)
        np.testing.assert_allclose(zc.detach().numpy(), rz[1], atol=1e-12)
    else:
        oh = cell(t(x), t(h))
        uh = cell(t(x[0]), t(h[0]))
        zh = cell(t(x))
        rz = _np_cell(mode, x, 0 * h, None, p)
    np.testing.assert_allclose(oh.detach().numpy(), rh, atol=1e-12)
    np.testing.assert_allclose(uh.detach().numpy(), rh[0], atol=1e-12)
    np.testing.assert_allclose(zh.detach().numpy(), rz[0], atol=1e-12)
    xs, hs = t(x, True), t(h, True)
    if mode == "LSTM":
        cs = t(c, True)
        assert gradcheck(lambda a, b, d: cell(a, (b, d)), (xs, hs, cs))
        assert gradgradcheck(lambda a, b, d: cell(a, (b, d)), (xs, hs, cs))
    else:
        assert gradcheck(cell, (xs, hs)) and gradgradcheck(cell, (xs, hs))


def test_dropout_between_layers_and_half_precision():
    m = nn.LSTM(3, 4, num_layers=2, dropout=1.0).double()
    x = t(RNG.standard_normal((4, 2, 3)))
    y_train = m(x)[0]
    m.eval()
    y_eval = m(x)[0]
    # dropout p=1 zeroes the second layer's input: its output no longer depends on x
    ref = _np_rnn(m, x.detach().numpy())[0]
    np.testing.assert_allclose(y_eval.detach().numpy(), ref, atol=1e-12)
    second_only = nn.LSTM(4, 4).double()
    second_only.load_state_dict(
        {k.replace("_l1", "_l0"): v for k, v in m.state_dict().items() if "_l1" in k}
    )
    np.testing.assert_allclose(
        y_train.detach().numpy(),
        second_only(torch.zeros(4, 2, 4, dtype=torch.float64))[0].detach().numpy(),
    )
    # bfloat16 / float16 run op by op (no fused kernel for them), same shapes and dtype
    mh = nn.GRU(3, 4).to(torch.bfloat16)
    out = mh(torch.randn(2, 1, 3).to(torch.bfloat16))[0]
    assert out.dtype == torch.bfloat16 and out.shape == (2, 1, 4)


def test_in_place_weight_change_before_backward_raises():
    m = nn.LSTM(2, 3)
    y = m(torch.randn(4, 1, 2))[0]
    with torch.no_grad():
        m.weight_hh_l0.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    y = m(torch.randn(4, 1, 2))[0]
    y.sum().backward(retain_graph=True)
    y.sum().backward()  # retain_graph keeps the fused node's buffers
    y = m(torch.randn(4, 1, 2))[0]
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()


def test_errors():
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(3, 4, dropout=2)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size should be a positive integer"):
        nn.LSTM(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'x'"):
        nn.RNN(3, 4, nonlinearity="x")
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.RNN(3, 0)
    with pytest.raises(TypeError, match="hidden_size should be of type int, got: float"):
        nn.RNN(3, 4.5)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        nn.RNN(3, 4, dropout=0.5)
    assert "non-zero dropout expects num_layers greater than 1" in str(w[0].message)
    r = nn.RNN(3, 4)
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        r(torch.randn(5, 2, 2))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 4\), got \[2, 2, 4\]"):
        r(torch.randn(5, 2, 3), torch.randn(2, 2, 4))
    with pytest.raises(ValueError, match="RNN: Expected input to be 2D or 3D, got 4D tensor"):
        r(torch.randn(1, 5, 2, 3))
    with pytest.raises(ValueError, match="RNN input dtype"):
        r(torch.randn(5, 2, 3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="hx should also be 3-D"):
        r(torch.randn(5, 2, 3), torch.randn(2, 4))
    lstm = nn.LSTM(3, 4)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 2, 4\)"):
        lstm(torch.randn(5, 2, 3), (torch.randn(1, 2, 4), torch.randn(1, 3, 4)))
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D instead"):
        lstm(torch.randn(1, 5, 2, 3))
    cell = nn.GRUCell(3, 4)
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch size 3"):
        cell(torch.randn(2, 3), torch.randn(3, 4))
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 2 expected 3"):
        cell(torch.randn(2, 2))
    with pytest.raises(ValueError, match="GRUCell: Expected input to be 1D or 2D, got 3D"):
        cell(torch.randn(1, 2, 3))


def test_loops_in_parts_and_with_the_thread_probe(monkeypatch):
    """Long loops time the BLAS thread setting first; large batches run in row parts on the
    intra-op threads. Neither may change a value or a gradient."""
    from tocha.core import _parallel

    prev = _parallel.get_num_threads()
    _parallel.set_num_threads(3)
    monkeypatch.setattr(R, "_MIN_PART_ROWS", 1)
    monkeypatch.setattr(R, "_MIN_PART_WORK", 1)
    try:
        assert R._n_parts(np, 5, 20, 16) == 3
        lengths = [20, 18, 11, 3, 1]
        offs, steps = 0, []
        for t_ in range(20):
            bs = sum(n > t_ for n in lengths)
            steps.append((offs, bs))
            offs += bs
        for mode in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"):
            g = {"LSTM": 4, "GRU": 3}.get(mode, 1)
            gx = t(RNG.standard_normal((offs, g * 4)), True)
            w = t(RNG.standard_normal((g * 4, 4)) * 0.5, True)
            b = t(RNG.standard_normal(g * 4), True)
            h0 = t(RNG.standard_normal((5, 4)), True)
            c0 = t(RNG.standard_normal((5, 4)), True) if mode == "LSTM" else None
            for reverse in (False, True):
                a = R.rnn_layer(mode, gx, w, h0, c0, b, None, steps, reverse)
                r = R.composite_layer(mode, gx, w, h0, c0, b, None, steps, reverse)
                for u, v in zip(a, r):
                    np.testing.assert_allclose(u.detach().numpy(), v.detach().numpy(), atol=1e-12)
                ins = [gx, w, b, h0] + ([c0] if c0 is not None else [])
                ga = torch.autograd.grad([o.sum() * (i + 1) for i, o in enumerate(a)], ins)
                gr = torch.autograd.grad([o.sum() * (i + 1) for i, o in enumerate(r)], ins)
                for u, v in zip(ga, gr):
                    np.testing.assert_allclose(u.numpy(), v.numpy(), atol=1e-12)
    finally:
        _parallel.set_num_threads(prev)
    # one part, long loop: the probe path
    m = nn.LSTM(3, 4, proj_size=2).double()
    x = RNG.standard_normal((20, 2, 3))
    np.testing.assert_allclose(m(t(x))[0].detach().numpy(), _np_rnn(m, x)[0], atol=1e-12)
