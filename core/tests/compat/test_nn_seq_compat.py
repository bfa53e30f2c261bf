"""Recurrent layers, attention and transformers against real torch: a torch module's
state_dict copied into the tocha module (through NumPy), the same inputs give the same outputs
and the same input and parameter gradients. Needs torch: `nox -s compat`."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the anchor (torch) runs in `nox -s compat` only")

import tocha.core as tocha  # noqa: E402
import tocha.core.nn.functional as TF  # noqa: E402
from tocha.core.nn.utils import rnn as TR  # noqa: E402

F = torch.nn.functional
R = torch.nn.utils.rnn
RNG = np.random.default_rng(0)
ATOL = 1e-10


def _copy(tm, m) -> None:
    sd = tm.state_dict()
    assert list(sd.keys()) == list(m.state_dict().keys())
    m.load_state_dict({k: tocha.tensor(v.detach().numpy()) for k, v in sd.items()})


def _np(x):
    return x.detach().numpy()


def _param_grads_match(tm, m, atol=ATOL) -> None:
    mine = dict(m.named_parameters())
    for n, p in tm.named_parameters():
        if p.grad is None:
            assert mine[n].grad is None, n
            continue
        np.testing.assert_allclose(_np(mine[n].grad), p.grad.numpy(), atol=atol, err_msg=n)


# --- recurrent layers -------------------------------------------------------------------------
RNN_CASES = [
    ("LSTM", {}),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(batch_first=True, bias=False)),
    ("LSTM", dict(proj_size=3, num_layers=2, bidirectional=True)),
    ("GRU", {}),
    ("GRU", dict(num_layers=2, bidirectional=True)),
    ("GRU", dict(batch_first=True, bias=False)),
    ("RNN", {}),
    ("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True)),
    ("RNN", dict(batch_first=True, bias=False)),
]


@pytest.mark.parametrize("name,kw", RNN_CASES)
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_rnn_layers(name, kw, packed, with_hx):
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(4, 6, **kw).double()
    m = getattr(tocha.nn, name)(4, 6, **kw).double()
    _copy(tm, m)
    big_t, b = 5, 3
    bf = kw.get("batch_first", False)
    x = RNG.standard_normal((b, big_t, 4) if bf else (big_t, b, 4))
    xt, xx = torch.tensor(x, requires_grad=True), tocha.tensor(x, requires_grad=True)
    it, ii = xt, xx
    if packed:
        lens = [5, 2, 4]
        it = R.pack_padded_sequence(xt, lens, batch_first=bf, enforce_sorted=False)
        ii = TR.pack_padded_sequence(xx, lens, batch_first=bf, enforce_sorted=False)
    nd = (2 if kw.get("bidirectional") else 1) * kw.get("num_layers", 1)
    hout = kw.get("proj_size") or 6
    at, ax = [it], [ii]
    hxs = []
    if with_hx:
        h0 = RNG.standard_normal((nd, b, hout))
        c0 = RNG.standard_normal((nd, b, 6))
        pairs = [(torch.tensor(h0, requires_grad=True), tocha.tensor(h0, requires_grad=True))]
        if name == "LSTM":
            pairs.append(
                (torch.tensor(c0, requires_grad=True), tocha.tensor(c0, requires_grad=True))
            )
            at.append(tuple(p[0] for p in pairs))
            ax.append(tuple(p[1] for p in pairs))
        else:
            at.append(pairs[0][0])
            ax.append(pairs[0][1])
        hxs = pairs
    ot, ht = tm(*at)
    ox, hx = m(*ax)
    if packed:
        np.testing.assert_array_equal(ox.batch_sizes.numpy(), ot.batch_sizes.numpy())
        ot, ox = R.pad_packed_sequence(ot)[0], TR.pad_packed_sequence(ox)[0]
    np.testing.assert_allclose(_np(ox), ot.detach().numpy(), atol=ATOL)
    hts = ht if name == "LSTM" else (ht,)
    hxx = hx if name == "LSTM" else (hx,)
    lt = (ot**2).sum()
    lx = (ox**2).sum()
    for k, (a, c) in enumerate(zip(hts, hxx)):
        np.testing.assert_allclose(_np(c), a.detach().numpy(), atol=ATOL)
        lt = lt + (a * (k + 1.5)).sum()
        lx = lx + (c * (k + 1.5)).sum()
    lt.backward()
    lx.backward()
    np.testing.assert_allclose(_np(xx.grad), xt.grad.numpy(), atol=ATOL)
    for a, c in hxs:
        np.testing.assert_allclose(_np(c.grad), a.grad.numpy(), atol=ATOL)
    _param_grads_match(tm, m)


@pytest.mark.parametrize("name", ["LSTMCell", "GRUCell", "RNNCell"])
def test_cells(name):
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(4, 5).double()
    m = getattr(tocha.nn, name)(4, 5).double()
    _copy(tm, m)
    x, h, c = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5))
    xt, xx = torch.tensor(x, requires_grad=True), tocha.tensor(x, requires_grad=True)
    if name == "LSTMCell":
        ot = tm(xt, (torch.tensor(h), torch.tensor(c)))
        ox = m(xx, (tocha.tensor(h), tocha.tensor(c)))
        lt, lx = (ot[0] ** 2).sum() + ot[1].sum(), (ox[0] ** 2).sum() + ox[1].sum()
        np.testing.assert_allclose(_np(ox[1]), ot[1].detach().numpy(), atol=ATOL)
        ot, ox = ot[0], ox[0]
    else:
        ot, ox = tm(xt, torch.tensor(h)), m(xx, tocha.tensor(h))
        lt, lx = (ot**2).sum(), (ox**2).sum()
    np.testing.assert_allclose(_np(ox), ot.detach().numpy(), atol=ATOL)
    lt.backward()
    lx.backward()
    np.testing.assert_allclose(_np(xx.grad), xt.grad.numpy(), atol=ATOL)
    _param_grads_match(tm, m)
    np.testing.assert_allclose(
        _np(m(tocha.tensor(x[0]))[0] if name == "LSTMCell" else m(tocha.tensor(x[0]))),
        (tm(torch.tensor(x[0]))[0] if name == "LSTMCell" else tm(torch.tensor(x[0])))
        .detach()
        .numpy(),
        atol=ATOL,
    )


def test_rnn_reprs_and_errors_match():
    for args, kw in [((3, 4), dict(num_layers=2, dropout=0.5)), ((3, 6), dict(proj_size=2))]:
        assert repr(tocha.nn.LSTM(*args, **kw)) == repr(torch.nn.LSTM(*args, **kw))
    assert repr(tocha.nn.RNNCell(3, 4, nonlinearity="relu")) == repr(
        torch.nn.RNNCell(3, 4, nonlinearity="relu")
    )
    for bad in [dict(proj_size=4), dict(dropout=2), dict(num_layers=0)]:
        with pytest.raises(ValueError) as te:
            torch.nn.LSTM(3, 4, **bad)
        with pytest.raises(ValueError) as xe:
            tocha.nn.LSTM(3, 4, **bad)
        assert str(te.value) == str(xe.value)
    t_lstm, x_lstm = torch.nn.LSTM(3, 4), tocha.nn.LSTM(3, 4)
    cases = [
        lambda L: (torch if L == "t" else tocha).randn(5, 2, 2),
    ]
    for make in cases:
        with pytest.raises(RuntimeError) as te:
            t_lstm(make("t"))
        with pytest.raises(RuntimeError) as xe:
            x_lstm(make("x"))
        assert str(te.value) == str(xe.value)


# --- packing ----------------------------------------------------------------------------------
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_and_packing(side):
    seqs = [RNG.standard_normal((n, 2)) for n in (3, 5, 1)]
    for bf in (False, True):
        a = R.pad_sequence([torch.tensor(s) for s in seqs], bf, 2.5, side)
        b = TR.pad_sequence([tocha.tensor(s) for s in seqs], bf, 2.5, side)
        np.testing.assert_array_equal(_np(b), a.numpy())
    pt = R.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    px = TR.pack_sequence([tocha.tensor(s) for s in seqs], enforce_sorted=False)
    for u, v in zip(px, pt):
        np.testing.assert_array_equal(_np(u), v.numpy())
    for u, v in zip(TR.unpack_sequence(px), R.unpack_sequence(pt)):
        np.testing.assert_array_equal(_np(u), v.numpy())


# --- attention --------------------------------------------------------------------------------
def _sdpa_case(qs, ks, vs, mask=None, mask_grad=False, **kw):
    q, k, v = (RNG.standard_normal(s) for s in (qs, ks, vs))
    tq, tk, tv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
    xq, xk, xv = (tocha.tensor(x, requires_grad=True) for x in (q, k, v))
    tmask = xmask = None
    if mask is not None:
        tmask = torch.tensor(mask, requires_grad=mask_grad)
        xmask = tocha.tensor(mask, requires_grad=mask_grad)
    ot = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tmask, **kw)
    ox = TF.scaled_dot_product_attention(xq, xk, xv, attn_mask=xmask, **kw)
    np.testing.assert_allclose(_np(ox), ot.detach().numpy(), atol=ATOL)
    (ot**2).sum().backward()
    (ox**2).sum().backward()
    for u, v in zip((xq, xk, xv), (tq, tk, tv)):
        np.testing.assert_allclose(_np(u.grad), v.grad.numpy(), atol=ATOL)
    if mask_grad:
        np.testing.assert_allclose(_np(xmask.grad), tmask.grad.numpy(), atol=ATOL)


@pytest.mark.parametrize(
    "kind", ["plain", "causal", "scale", "bool", "bool_dead_row", "float_grad", "broadcast", "gqa"]
)
def test_sdpa(kind):
    shapes = ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6))
    if kind == "plain":
        _sdpa_case(*shapes)
    elif kind == "causal":
        _sdpa_case(*shapes, is_causal=True)
    elif kind == "scale":
        _sdpa_case(*shapes, scale=0.3, is_causal=True)
    elif kind == "bool":
        _sdpa_case(*shapes, mask=RNG.random((4, 5)) < 0.7)
    elif kind == "bool_dead_row":
        m = RNG.random((4, 5)) < 0.7
        m[2] = False
        _sdpa_case(*shapes, mask=m)
    elif kind == "float_grad":
        _sdpa_case(*shapes, mask=RNG.standard_normal((2, 1, 4, 5)), mask_grad=True)
    elif kind == "broadcast":
        _sdpa_case((2, 3, 4, 8), (1, 3, 5, 8), (3, 5, 6))
    else:
        _sdpa_case((2, 4, 4, 8), (2, 2, 5, 8), (2, 2, 5, 6), enable_gqa=True)


MHA_KW = [
    dict(),
    dict(batch_first=True),
    dict(kdim=3, vdim=5),
    dict(add_bias_kv=True, add_zero_attn=True),
    dict(num_heads=4, bias=False, batch_first=True),
]


def _mask(kind, lq, s, b, heads):
    if kind == "bool":
        m = RNG.random((lq, s)) < 0.3
        m[:, 0] = False
        return {"attn_mask": m}
    if kind == "kpm":
        kpm = np.zeros((b, s), bool)
        kpm[1, -2:] = True
        return {"key_padding_mask": kpm}
    if kind == "float+kpm":
        kpm = np.zeros((b, s), bool)
        kpm[2, 0] = True
        return {"attn_mask": RNG.standard_normal((lq, s)), "key_padding_mask": kpm}
    if kind == "3d":
        return {"attn_mask": RNG.standard_normal((b * heads, lq, s))}
    return {}


@pytest.mark.parametrize(
    "kw,self_attn", [(kw, sa) for kw in MHA_KW for sa in (False, True) if not (sa and "kdim" in kw)]
)
@pytest.mark.parametrize("masks", ["none", "bool", "kpm", "float+kpm", "3d"])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_multihead_attention(kw, masks, need_weights, average, self_attn):
    kw = dict(kw)
    heads = kw.pop("num_heads", 2)
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(8, heads, **kw).double()
    m = tocha.nn.MultiheadAttention(8, heads, **kw).double()
    _copy(tm, m)
    lq, s, b = 4, (4 if self_attn else 5), 3
    bf = kw.get("batch_first", False)

    def shape(n, d):
        return (b, n, d) if bf else (n, b, d)

    q = RNG.standard_normal(shape(lq, 8))
    k = RNG.standard_normal(shape(s, kw.get("kdim", 8)))
    v = RNG.standard_normal(shape(s, kw.get("vdim", 8)))
    tq, tk, tv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
    xq, xk, xv = (tocha.tensor(x, requires_grad=True) for x in (q, k, v))
    if self_attn:
        tk = tv = tq
        xk = xv = xq
    mk = _mask(masks, lq, s, b, heads)
    fk = dict(need_weights=need_weights, average_attn_weights=average)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ot, wt = tm(tq, tk, tv, **{n: torch.tensor(x) for n, x in mk.items()}, **fk)
        ox, wx = m(xq, xk, xv, **{n: tocha.tensor(x) for n, x in mk.items()}, **fk)
    np.testing.assert_allclose(_np(ox), ot.detach().numpy(), atol=ATOL)
    lt, lx = (ot**2).sum(), (ox**2).sum()
    if need_weights:
        np.testing.assert_allclose(_np(wx), wt.detach().numpy(), atol=ATOL)
        lt, lx = lt + (wt**2).sum(), lx + (wx**2).sum()
    else:
        assert wx is None and wt is None
    lt.backward()
    lx.backward()
    for u, w in zip((xq, xk, xv), (tq, tk, tv)):
        if w.grad is not None:
            np.testing.assert_allclose(_np(u.grad), w.grad.numpy(), atol=ATOL)
    _param_grads_match(tm, m)


def test_multihead_attention_unbatched_and_errors():
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(6, 3).double()
    m = tocha.nn.MultiheadAttention(6, 3).double()
    _copy(tm, m)
    x = RNG.standard_normal((4, 6))
    am = RNG.standard_normal((3, 4, 4))
    ot, wt = tm(*(torch.tensor(x),) * 3, attn_mask=torch.tensor(am))
    ox, wx = m(*(tocha.tensor(x),) * 3, attn_mask=tocha.tensor(am))
    np.testing.assert_allclose(_np(ox), ot.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(_np(wx), wt.detach().numpy(), atol=ATOL)
    xt, xx = torch.randn(3, 2, 6).double(), tocha.randn(3, 2, 6).double()
    for kw_t, kw_x in [
        ({"attn_mask": torch.zeros(4, 3)}, {"attn_mask": tocha.zeros(4, 3)}),
        ({"is_causal": True}, {"is_causal": True}),
        ({"attn_mask": torch.zeros(5, 3, 3)}, {"attn_mask": tocha.zeros(5, 3, 3)}),
    ]:
        with pytest.raises(RuntimeError) as te:
            tm(xt, xt, xt, **kw_t)
        with pytest.raises(RuntimeError) as xe:
            m(xx, xx, xx, **kw_x)
        assert str(te.value) == str(xe.value)


# --- transformers -----------------------------------------------------------------------------
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_transformer_encoder_decoder(norm_first, batch_first, act):
    kw = dict(
        d_model=8,
        nhead=2,
        dim_feedforward=16,
        norm_first=norm_first,
        batch_first=batch_first,
        activation=act,
    )
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        te = (
            torch.nn.TransformerEncoder(
                torch.nn.TransformerEncoderLayer(**kw),
                2,
                norm=torch.nn.LayerNorm(8),
                enable_nested_tensor=False,
            )
            .double()
            .eval()
        )
        xe = (
            tocha.nn.TransformerEncoder(
                tocha.nn.TransformerEncoderLayer(**kw),
                2,
                norm=tocha.nn.LayerNorm(8),
                enable_nested_tensor=False,
            )
            .double()
            .eval()
        )
    _copy(te, xe)
    src = RNG.standard_normal((3, 5, 8) if batch_first else (5, 3, 8))
    mask = np.triu(np.full((5, 5), -np.inf), 1)
    kpm = np.zeros((3, 5), bool)
    kpm[1, 3:] = True
    st, sx = torch.tensor(src, requires_grad=True), tocha.tensor(src, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ot = te(st, mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(kpm))
        ox = xe(sx, mask=tocha.tensor(mask), src_key_padding_mask=tocha.tensor(kpm))
    np.testing.assert_allclose(_np(ox), ot.detach().numpy(), atol=ATOL)
    (ot**2).sum().backward()
    (ox**2).sum().backward()
    np.testing.assert_allclose(_np(sx.grad), st.grad.numpy(), atol=ATOL)
    _param_grads_match(te, xe, atol=1e-9)
    torch.manual_seed(0)
    td = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(**kw), 2).double().eval()
    xd = tocha.nn.TransformerDecoder(tocha.nn.TransformerDecoderLayer(**kw), 2).double().eval()
    _copy(td, xd)
    tgt = RNG.standard_normal((3, 4, 8) if batch_first else (4, 3, 8))
    tmask = np.triu(np.full((4, 4), -np.inf), 1)
    tt, tx = torch.tensor(tgt, requires_grad=True), tocha.tensor(tgt, requires_grad=True)
    ot = td(
        tt,
        torch.tensor(src),
        tgt_mask=torch.tensor(tmask),
        memory_key_padding_mask=torch.tensor(kpm),
    )
    ox = xd(
        tx,
        tocha.tensor(src),
        tgt_mask=tocha.tensor(tmask),
        memory_key_padding_mask=tocha.tensor(kpm),
    )
    np.testing.assert_allclose(_np(ox), ot.detach().numpy(), atol=ATOL)
    (ot**2).sum().backward()
    (ox**2).sum().backward()
    np.testing.assert_allclose(_np(tx.grad), tt.grad.numpy(), atol=ATOL)
    _param_grads_match(td, xd, atol=1e-9)


def test_full_transformer_and_mask_helper():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tt = torch.nn.Transformer(8, 2, 2, 2, 16).double().eval()
        xt = tocha.nn.Transformer(8, 2, 2, 2, 16).double().eval()
    _copy(tt, xt)
    src, tgt = RNG.standard_normal((5, 3, 8)), RNG.standard_normal((4, 3, 8))
    tm = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    xm = tocha.nn.Transformer.generate_square_subsequent_mask(4, dtype=tocha.float64)
    np.testing.assert_array_equal(_np(xm), tm.numpy())
    ot = tt(torch.tensor(src), torch.tensor(tgt), tgt_mask=tm)
    ox = xt(tocha.tensor(src), tocha.tensor(tgt), tgt_mask=xm)
    np.testing.assert_allclose(_np(ox), ot.detach().numpy(), atol=ATOL)
    assert repr(xt.encoder.layers[0]) == repr(tt.encoder.layers[0])
