"""scaled_dot_product_attention and MultiheadAttention against NumPy re-implementations of the
formulas (masks, causal, grouped-query heads, bias_k/v, zero attention, kdim/vdim), gradients
in float64 (gradcheck, gradgradcheck), dropout, parameters and errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn
from tocha.core.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def t(a, rg=False):
    return torch.tensor(a, requires_grad=rg)


def a(x):
    return x.detach().numpy()


def _np_softmax(s, safe=True):
    m = s.max(-1, keepdims=True)
    if safe:
        m = np.where(np.isneginf(m), 0, m)
    e = np.exp(s - m)
    tot = e.sum(-1, keepdims=True)
    if safe:
        tot = np.where(tot == 0, 1, tot)
    return e / tot


def _np_sdpa(q, k, v, mask=None, causal=False, scale=None):
    s = q @ np.swapaxes(k, -1, -2) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if causal:
        s = s + np.triu(np.full(s.shape[-2:], -np.inf), 1)
    if mask is not None:
        s = s + (np.where(mask, 0, -np.inf) if mask.dtype == bool else mask)
    return _np_softmax(s) @ v


@pytest.mark.parametrize(
    "qs,ks,vs",
    [
        ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)),
        ((4, 8), (5, 8), (5, 3)),
        ((3, 4, 8), (1, 6, 8), (6, 2)),
    ],
)
@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal", "scale"])
def test_sdpa_against_numpy(qs, ks, vs, kind):
    q, k, v = (RNG.standard_normal(s) for s in (qs, ks, vs))
    lq, lk = qs[-2], ks[-2]
    mask = None
    kw = {}
    if kind == "bool":
        mask = RNG.random((lq, lk)) < 0.7
        mask[1] = False  # a row that attends to nothing gives zeros
    elif kind == "float":
        mask = RNG.standard_normal((lq, lk))
    elif kind == "causal":
        kw["is_causal"] = True
    elif kind == "scale":
        kw["scale"] = 0.3
    ref = _np_sdpa(q, k, v, mask, kind == "causal", kw.get("scale"))
    out = F.scaled_dot_product_attention(t(q), t(k), t(v), None if mask is None else t(mask), **kw)
    np.testing.assert_allclose(a(out), ref, atol=1e-12)
    out32 = F.scaled_dot_product_attention(
        t(q).float(),
        t(k).float(),
        t(v).float(),
        None if mask is None else t(mask).float() if mask.dtype != bool else t(mask),
        **kw,
    )
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(a(out32), ref, atol=1e-5)


def test_sdpa_gradients():
    q = t(RNG.standard_normal((2, 3, 4)), True)
    k = t(RNG.standard_normal((2, 5, 4)), True)
    v = t(RNG.standard_normal((2, 5, 3)), True)
    bias = t(RNG.standard_normal((3, 5)), True)  # a float mask is differentiable

    def f(q, k, v, b):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=b)

    assert gradcheck(f, (q, k, v, bias)) and gradgradcheck(f, (q, k, v, bias))

    def g(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.7)

    assert gradcheck(g, (q, k, v)) and gradgradcheck(g, (q, k, v))
    m = t(np.array([[True] * 5, [False] * 5, [True, False] * 2 + [True]]))

    def h(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m)

    assert gradcheck(h, (q, k, v))
    h(q, k, v).sum().backward()
    assert np.all(a(q.grad)[:, 1] == 0)  # the fully masked row gets no gradient


def test_sdpa_gqa_and_dropout():
    q = RNG.standard_normal((2, 4, 3, 8))
    k = RNG.standard_normal((2, 2, 5, 8))
    v = RNG.standard_normal((2, 2, 5, 6))
    out = F.scaled_dot_product_attention(t(q), t(k), t(v), enable_gqa=True)
    ref = _np_sdpa(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1))
    np.testing.assert_allclose(a(out), ref, atol=1e-12)
    assert float(F.scaled_dot_product_attention(t(q), t(q), t(q), dropout_p=1.0).abs().sum()) == 0
    torch.manual_seed(0)
    ones = torch.ones(1, 1, 200, 200, dtype=torch.float64)
    # dropout on the probabilities (uniform here: 1/200 each), scaled by 1/(1-p)
    d = F.scaled_dot_product_attention(ones, ones, ones, dropout_p=0.5)
    assert abs(float(d.mean()) - 1.0) < 0.05 and float(d.max()) > 1.0
    qq = t(RNG.standard_normal((1, 3, 4)), True)
    torch.manual_seed(1)
    F.scaled_dot_product_attention(qq, qq, qq, dropout_p=0.3).sum().backward()
    g1 = a(qq.grad).copy()
    qq.grad = None

    def f(x):
        torch.manual_seed(1)
        return F.scaled_dot_product_attention(x, x, x, dropout_p=0.3)

    assert gradcheck(f, (qq,))
    f(qq).sum().backward()
    np.testing.assert_allclose(a(qq.grad), g1, atol=1e-12)


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize(
    "case", ["small", "large_scores", "all_very_negative", "masked_row", "nan", "long_rows"]
)
def test_sdpa_unshifted_exp_and_its_fallbacks(case, grad):
    # float32 scores up to 80 take softmax without the max shift (exp of the raw scores);
    # larger scores, rows whose every score is below -60 and masked rows fall back to the
    # max-shifted softmax. Every case must agree with the reference, with and without the
    # probabilities kept for backward.
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal((2, 3, 6, 8)) for _ in range(3))
    mask = None
    if case == "large_scores":
        q[0, 1] *= 200  # scores of several hundred in one head
    elif case == "all_very_negative":
        mask = np.full((6, 6), -200.0)
        mask[:, 0] = -90.0
    elif case == "masked_row":
        mask = np.zeros((6, 6))
        mask[2] = -np.inf
    elif case == "nan":
        q[1, 2, 3, 0] = np.nan
    elif case == "long_rows":
        k, v = (rng.standard_normal((2, 3, 300, 8)) for _ in range(2))
    ref = _np_sdpa(q, k, v, mask)
    tq, tk, tv = (t(x.astype(np.float32), grad) for x in (q, k, v))
    tm = None if mask is None else t(mask.astype(np.float32))
    out = F.scaled_dot_product_attention(tq, tk, tv, tm)
    if case == "nan":  # the NaN query row is NaN, every other row exact
        assert np.isnan(a(out)[1, 2, 3]).all()
        bad = np.zeros(ref.shape, bool)
        bad[1, 2, 3] = True
        np.testing.assert_allclose(a(out)[~bad], ref[~bad], rtol=2e-5, atol=2e-6)
        return
    np.testing.assert_allclose(a(out), ref, rtol=2e-5, atol=2e-6)
    if case == "masked_row":
        assert np.all(a(out)[:, :, 2] == 0)


def test_mha_output_layout_is_a_view_of_rows():
    # MultiheadAttention lays the attention output out as (B, L, H, hd): the merge of the
    # heads is then free, and values match the float64 reference in both layouts
    rng = np.random.default_rng(6)
    for bf in (True, False):
        mha = nn.MultiheadAttention(16, 4, batch_first=bf).eval()
        x = torch.tensor(rng.standard_normal((3, 5, 16)).astype(np.float32))
        with torch.no_grad():
            out = mha(x, x, x, need_weights=False)[0]
        m64 = nn.MultiheadAttention(16, 4, batch_first=bf).double().eval()
        m64.load_state_dict({n: p.double() for n, p in mha.state_dict().items()})
        ref = m64(x.double(), x.double(), x.double(), need_weights=False)[0]
        np.testing.assert_allclose(a(out), a(ref), rtol=1e-5, atol=1e-6)


def test_sdpa_errors():
    q = torch.randn(2, 3, 4, 8)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=torch.ones(4, 4), is_causal=True)
    with pytest.raises(RuntimeError, match="Expected query, key, and value to have the same dtype"):
        F.scaled_dot_product_attention(q, q.double(), q)
    with pytest.raises(RuntimeError, match="at least 2 dimensional"):
        F.scaled_dot_product_attention(q[0, 0, 0], q[0, 0], q[0, 0])
    with pytest.raises(RuntimeError, match="must divide the number of heads"):
        F.scaled_dot_product_attention(q, q[:, :2], q[:, :2], enable_gqa=True)
    with pytest.raises(RuntimeError, match="Expected size for first two dimensions of batch2"):
        F.scaled_dot_product_attention(q, q[..., :5], q)
    with pytest.raises(TypeError, match="takes from 3 to 6 positional|positional"):
        F.scaled_dot_product_attention(q, q, q, None, 0.0, False, 0.5)


# --- MultiheadAttention ---------------------------------------------------------------------
def _np_mha(m, q, k, v, kpm=None, attn_mask=None, average=True):
    """Sequence-first (L, B, E) reference from the module's parameters."""
    e, h = m.embed_dim, m.num_heads
    hd = e // h
    p = {n: a(x) for n, x in m.named_parameters()}
    b = p.get("in_proj_bias", np.zeros(3 * e))
    if m._qkv_same_embed_dim:
        wq, wk, wv = np.split(p["in_proj_weight"], 3)
    else:
        wq, wk, wv = p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"]
    qp, kp, vp = q @ wq.T + b[:e], k @ wk.T + b[e : 2 * e], v @ wv.T + b[2 * e :]
    bsz = q.shape[1]
    if m.bias_k is not None:
        kp = np.concatenate([kp, np.repeat(p["bias_k"], bsz, 1)])
        vp = np.concatenate([vp, np.repeat(p["bias_v"], bsz, 1)])
    mask = np.zeros((bsz, 1, q.shape[0], kp.shape[0]))

    def heads(x):  # (S, B, E) -> (B, H, S, hd)
        return x.reshape(x.shape[0], bsz, h, hd).transpose(1, 2, 0, 3)

    qh, kh, vh = heads(qp), heads(kp), heads(vp)
    if m.add_zero_attn:
        kh = np.concatenate([kh, np.zeros(kh.shape[:2] + (1, hd))], 2)
        vh = np.concatenate([vh, np.zeros(vh.shape[:2] + (1, hd))], 2)
    s_len = kh.shape[2]
    mask = np.zeros((bsz, 1, q.shape[0], s_len))
    if attn_mask is not None:
        am = np.where(attn_mask, -np.inf, 0) if attn_mask.dtype == bool else attn_mask
        mask = mask + np.pad(am, ((0, 0), (0, s_len - am.shape[1])))
    if kpm is not None:
        kf = np.where(kpm, -np.inf, 0)
        mask = mask + np.pad(kf, ((0, 0), (0, s_len - kf.shape[1])))[:, None, None, :]
    s = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(hd) + mask
    w = _np_softmax(s, safe=False)
    o = (w @ vh).transpose(2, 0, 1, 3).reshape(q.shape[0], bsz, e)
    o = o @ p["out_proj.weight"].T + p.get("out_proj.bias", 0)
    return o, (w.mean(1) if average else w)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        dict(batch_first=True),
        dict(kdim=3, vdim=5),
        dict(add_bias_kv=True, add_zero_attn=True),
        dict(bias=False),
    ],
)
@pytest.mark.parametrize("masks", ["none", "bool", "float+kpm"])
@pytest.mark.filterwarnings("ignore:Support for mismatched")
def test_mha_against_numpy(kw, masks):
    m = nn.MultiheadAttention(8, 2, **kw).double()
    lq, s, b = 4, 5, 3
    q = RNG.standard_normal((lq, b, 8))
    k = RNG.standard_normal((s, b, kw.get("kdim", 8)))
    v = RNG.standard_normal((s, b, kw.get("vdim", 8)))
    kpm = am = None
    if masks == "bool":
        am = RNG.random((lq, s)) < 0.3
        am[:, 0] = False
    elif masks == "float+kpm":
        am = RNG.standard_normal((lq, s))
        kpm = np.zeros((b, s), bool)
        kpm[1, 3:] = True
    ref_o, ref_w = _np_mha(m, q, k, v, kpm, am)
    bf = kw.get("batch_first", False)

    def lay(x):
        return t(x.transpose(1, 0, 2) if bf else x)

    o, w = m(
        lay(q),
        lay(k),
        lay(v),
        key_padding_mask=None if kpm is None else t(kpm),
        attn_mask=None if am is None else t(am),
    )
    o = a(o).transpose(1, 0, 2) if bf else a(o)
    np.testing.assert_allclose(o, ref_o, atol=1e-12)
    np.testing.assert_allclose(a(w), ref_w, atol=1e-12)
    o2, w2 = m(
        lay(q),
        lay(k),
        lay(v),
        need_weights=False,
        key_padding_mask=None if kpm is None else t(kpm),
        attn_mask=None if am is None else t(am),
    )
    assert w2 is None
    np.testing.assert_allclose(a(o2).transpose(1, 0, 2) if bf else a(o2), ref_o, atol=1e-12)
    _, w3 = m(lay(q), lay(k), lay(v), average_attn_weights=False)
    assert w3.shape == (b, 2, lq, s + kw.get("add_bias_kv", 0) + kw.get("add_zero_attn", 0))


def test_mha_self_attention_unbatched_and_functional():
    m = nn.MultiheadAttention(6, 3).double()
    x = RNG.standard_normal((4, 6))
    o, w = m(t(x), t(x), t(x))
    ref_o, ref_w = _np_mha(m, x[:, None], x[:, None], x[:, None])
    np.testing.assert_allclose(a(o), ref_o[:, 0], atol=1e-12)
    np.testing.assert_allclose(a(w), ref_w[0], atol=1e-12)
    xx = t(x[:, None])
    o2, w2 = F.multi_head_attention_forward(
        xx,
        xx,
        xx,
        6,
        3,
        m.in_proj_weight,
        m.in_proj_bias,
        None,
        None,
        False,
        0.0,
        m.out_proj.weight,
        m.out_proj.bias,
        training=False,
    )
    np.testing.assert_allclose(a(o2)[:, 0], ref_o[:, 0], atol=1e-12)


def test_mha_gradients():
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True).double()
    x = t(RNG.standard_normal((3, 2, 4)), True)
    kpm = t(np.array([[False, False, True], [False, False, False]]))

    def f(x, w):
        return m(x, x, x, key_padding_mask=kpm)

    assert gradcheck(f, (x, m.in_proj_weight))
    assert gradgradcheck(lambda x: m(x, x, x, need_weights=False)[0], (x,))


def test_mha_parameters_init_and_repr():
    m = nn.MultiheadAttention(8, 2)
    assert [n for n, _ in m.named_parameters()] == [
        "in_proj_weight",
        "in_proj_bias",
        "out_proj.weight",
        "out_proj.bias",
    ]
    assert float(m.in_proj_bias.abs().sum()) == 0 and float(m.out_proj.bias.abs().sum()) == 0
    bound = math.sqrt(6 / (8 + 24))  # xavier_uniform_ of (24, 8)
    assert float(m.in_proj_weight.abs().max()) <= bound
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(m.out_proj, nn.Linear)
    assert repr(m).startswith("MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(")
    m2 = nn.MultiheadAttention(8, 2, kdim=4, vdim=6, add_bias_kv=True, bias=False)
    assert [n for n, _ in m2.named_parameters()] == [
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
        "bias_k",
        "bias_v",
        "out_proj.weight",
    ]
    assert m2.in_proj_weight is None and m2.k_proj_weight.shape == (8, 4)
    assert m2.head_dim == 4


def test_mha_dropout_and_errors():
    m = nn.MultiheadAttention(4, 2, dropout=1.0)
    x = torch.randn(3, 2, 4)
    o, w = m(x, x, x)
    assert float(w.abs().sum()) == 0
    m.eval()
    assert float(m(x, x, x)[1].sum()) == pytest.approx(2 * 3, rel=1e-5)
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(8, 3)
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask"):
        m(x, x, x, attn_mask=torch.ones(3, 3, dtype=torch.int32))
    with pytest.raises(
        RuntimeError, match=r"The shape of the 2D attn_mask is .*should be \(3, 3\)"
    ):
        m(x, x, x, attn_mask=torch.zeros(4, 3))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)
    with pytest.raises(AssertionError, match="query should be unbatched 2D or batched 3D"):
        m(x[None], x, x)
    with pytest.raises(AssertionError, match="does not match value shape"):
        m(x, x, x[:2])
    with pytest.raises(AssertionError, match="expecting key_padding_mask shape"):
        m(x, x, x, key_padding_mask=torch.zeros(2, 4, dtype=torch.bool))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        m(
            x,
            x,
            x,
            attn_mask=torch.zeros(3, 3),
            key_padding_mask=torch.zeros(2, 3, dtype=torch.bool),
        )
    assert any("mismatched key_padding_mask and attn_mask" in str(i.message) for i in w)
