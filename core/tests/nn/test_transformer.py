"""Transformer layers and stacks against a NumPy re-implementation (post- and pre-norm, relu
and gelu, masks), torch's submodule and state_dict names, the causal mask helper, gradients
(gradcheck on a one-layer model in float64) and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf

import tocha.core as torch
from tocha.core import nn
from tocha.core.autograd import gradcheck

RNG = np.random.default_rng(0)


def t(x, rg=False):
    return torch.tensor(x, requires_grad=rg)


def a(x):
    return x.detach().numpy()


def _ln(x, mod):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + mod.eps) * a(mod.weight) + a(mod.bias)


def _lin(x, mod):
    return x @ a(mod.weight).T + a(mod.bias)


def _attn(mha, q, kv, mask=None, kpm=None):
    """Batch-first (B, L, E) reference of MultiheadAttention's output."""
    e, h = mha.embed_dim, mha.num_heads
    hd = e // h
    w, b = a(mha.in_proj_weight), a(mha.in_proj_bias)
    qp, kp, vp = (
        q @ w[:e].T + b[:e],
        kv @ w[e : 2 * e].T + b[e : 2 * e],
        kv @ w[2 * e :].T + b[2 * e :],
    )

    def heads(x):
        return x.reshape(x.shape[0], x.shape[1], h, hd).transpose(0, 2, 1, 3)

    s = heads(qp) @ heads(kp).transpose(0, 1, 3, 2) / math.sqrt(hd)
    if mask is not None:
        s = s + mask
    if kpm is not None:
        s = s + np.where(kpm, -np.inf, 0)[:, None, None, :]
    s = np.exp(s - s.max(-1, keepdims=True))
    s /= s.sum(-1, keepdims=True)
    o = (s @ heads(vp)).transpose(0, 2, 1, 3).reshape(q.shape)
    return _lin(o, mha.out_proj)


def _act(x, name):
    return np.maximum(x, 0) if name == "relu" else 0.5 * x * (1 + erf(x / math.sqrt(2)))


def _np_encoder_layer(layer, x, act, mask=None, kpm=None):
    def ff(y):
        return _lin(_act(_lin(y, layer.linear1), act), layer.linear2)

    if layer.norm_first:
        x = x + _attn(layer.self_attn, _ln(x, layer.norm1), _ln(x, layer.norm1), mask, kpm)
        return x + ff(_ln(x, layer.norm2))
    x = _ln(x + _attn(layer.self_attn, x, x, mask, kpm), layer.norm1)
    return _ln(x + ff(x), layer.norm2)


def _np_decoder_layer(layer, x, mem, act, tgt_mask=None):
    def ff(y):
        return _lin(_act(_lin(y, layer.linear1), act), layer.linear2)

    if layer.norm_first:
        y = _ln(x, layer.norm1)
        x = x + _attn(layer.self_attn, y, y, tgt_mask)
        x = x + _attn(layer.multihead_attn, _ln(x, layer.norm2), mem)
        return x + ff(_ln(x, layer.norm3))
    x = _ln(x + _attn(layer.self_attn, x, x, tgt_mask), layer.norm1)
    x = _ln(x + _attn(layer.multihead_attn, x, mem), layer.norm2)
    return _ln(x + ff(x), layer.norm3)


def _randomise(m):
    """Non-trivial LayerNorm affine parameters (they start as ones and zeros)."""
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "norm" in n:
                p.copy_(
                    t(
                        RNG.uniform(0.5, 1.5, p.shape)
                        if "weight" in n
                        else RNG.normal(0, 0.3, p.shape)
                    )
                )


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("act", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.filterwarnings("ignore:Support for mismatched")
def test_encoder_against_numpy(norm_first, act, batch_first):
    layer = nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.1, activation=act, norm_first=norm_first, batch_first=batch_first
    )
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False)
    enc = enc.double().eval()
    _randomise(enc)
    x = RNG.standard_normal((3, 5, 8))
    mask = np.triu(np.full((5, 5), -np.inf), 1)
    kpm = np.zeros((3, 5), bool)
    kpm[1, 4] = True
    ref = x
    for lay in enc.layers:
        ref = _np_encoder_layer(lay, ref, act, mask, kpm)
    ref = _ln(ref, enc.norm)
    xin = x if batch_first else x.transpose(1, 0, 2)
    out = enc(t(xin), mask=t(mask), src_key_padding_mask=t(kpm))
    out = a(out) if batch_first else a(out).transpose(1, 0, 2)
    np.testing.assert_allclose(out, ref, atol=1e-10)
    # a boolean mask (True = masked) gives the same
    out2 = enc(t(xin), mask=t(np.isinf(mask)), src_key_padding_mask=t(kpm))
    out2 = a(out2) if batch_first else a(out2).transpose(1, 0, 2)
    np.testing.assert_allclose(out2, ref, atol=1e-10)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_against_numpy(norm_first):
    layer = nn.TransformerDecoderLayer(8, 2, 16, activation="gelu", norm_first=norm_first)
    dec = nn.TransformerDecoder(layer, 2).double().eval()
    _randomise(dec)
    x, mem = RNG.standard_normal((2, 4, 8)), RNG.standard_normal((2, 6, 8))
    tgt_mask = np.triu(np.full((4, 4), -np.inf), 1)
    ref = x
    for lay in dec.layers:
        ref = _np_decoder_layer(lay, ref, mem, "gelu", tgt_mask)
    out = dec(t(x.transpose(1, 0, 2)), t(mem.transpose(1, 0, 2)), tgt_mask=t(tgt_mask))
    np.testing.assert_allclose(a(out).transpose(1, 0, 2), ref, atol=1e-10)


def test_transformer_model_and_mask():
    model = nn.Transformer(8, 2, 1, 1, 16, batch_first=True).double().eval()
    src, tgt = RNG.standard_normal((2, 6, 8)), RNG.standard_normal((2, 4, 8))
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    np.testing.assert_array_equal(a(mask), np.triu(np.full((4, 4), -np.inf), 1))
    assert nn.Transformer.generate_square_subsequent_mask(3).dtype == torch.float32
    out = model(t(src), t(tgt), tgt_mask=mask)
    enc, dec = model.encoder, model.decoder
    mem = _ln(_np_encoder_layer(enc.layers[0], src, "relu"), enc.norm)
    ref = _ln(_np_decoder_layer(dec.layers[0], tgt, mem, "relu", a(mask)), dec.norm)
    np.testing.assert_allclose(a(out), ref, atol=1e-10)
    # every matrix starts xavier-uniform
    w = model.encoder.layers[0].linear1.weight
    assert float(w.abs().max()) <= math.sqrt(6 / (8 + 16))
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(t(src), t(tgt[:1]))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal"):
        model(t(src[..., :4]), t(tgt[..., :4]))


def test_structure_names_and_clones():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False)
    keys = list(enc.state_dict().keys())
    assert keys[:6] == [
        "layers.0.self_attn.in_proj_weight",
        "layers.0.self_attn.in_proj_bias",
        "layers.0.self_attn.out_proj.weight",
        "layers.0.self_attn.out_proj.bias",
        "layers.0.linear1.weight",
        "layers.0.linear1.bias",
    ]
    assert keys[-2:] == ["norm.weight", "norm.bias"] and len(keys) == 26
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    np.testing.assert_array_equal(a(enc.layers[0].linear1.weight), a(enc.layers[1].linear1.weight))
    dec_keys = list(nn.TransformerDecoderLayer(8, 2, 16).state_dict().keys())
    assert dec_keys[4:6] == ["multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias"]
    assert dec_keys[-2:] == ["norm3.weight", "norm3.bias"]
    names = [n for n, _ in layer.named_children()]
    assert names == [
        "self_attn",
        "linear1",
        "dropout",
        "linear2",
        "norm1",
        "norm2",
        "dropout1",
        "dropout2",
    ]
    assert nn.TransformerEncoderLayer(8, 2, bias=False).linear1.bias is None
    assert layer.activation_relu_or_gelu == 1
    with pytest.warns(
        UserWarning, match="enable_nested_tensor is True, but self.use_nested_tensor"
    ):
        e2 = nn.TransformerEncoder(layer, 1)
    assert e2.use_nested_tensor is False
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_gradcheck_one_layer_and_training_dropout():
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, norm_first=True).double()
    x = t(RNG.standard_normal((3, 2, 4)), True)
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
    assert gradcheck(lambda x, w: layer(x, src_mask=mask), (x, layer.linear1.weight))
    dlayer = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0).double()
    mem = t(RNG.standard_normal((5, 2, 4)), True)
    assert gradcheck(lambda x, m: dlayer(x, m), (x, mem))
    # training mode: dropout draws from the default generator (seeded: repeatable)
    tr = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.5).double()
    torch.manual_seed(3)
    y1 = tr(x)
    torch.manual_seed(3)
    y2 = tr(x)
    np.testing.assert_array_equal(a(y1), a(y2))
    assert not np.allclose(a(y1), a(tr.eval()(x)))


def test_causal_detection_and_custom_activation():
    layer = nn.TransformerEncoderLayer(4, 2, 6, activation=torch.tanh).double().eval()
    assert layer.activation_relu_or_gelu == 0
    enc = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
    x = t(RNG.standard_normal((3, 1, 4)))
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
    np.testing.assert_allclose(a(enc(x, mask=mask)), a(enc(x, mask=mask, is_causal=True)))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        enc(x, is_causal=True)


@pytest.mark.parametrize("norm_first", [False, True])
def test_inference_in_place_path_matches_recorded_path(norm_first):
    # under no_grad the residual adds and relu run in place on the layer's own scratch
    # outputs (threaded for large tensors): the recorded path's values (to rounding: the
    # attention normalizes its output instead of its probabilities there), the input
    # untouched, and a hooked module's output never overwritten
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(64, 4, 256, batch_first=True, norm_first=norm_first)
    layer.eval()
    x = torch.randn(8, 40, 64)  # (8 * 40 * 256) elements: the threaded in-place path
    x0 = x.numpy().copy()
    ref = layer(x).detach().numpy()  # grad mode on: recorded, nothing in place
    with torch.no_grad():
        out = layer(x).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(x.numpy(), x0)
    kept = []
    layer.self_attn.register_forward_hook(lambda m, i, o: kept.append(o[0]))
    layer.linear1.register_forward_hook(lambda m, i, o: kept.append(o))
    with torch.no_grad():
        out2 = layer(x).numpy()
    np.testing.assert_allclose(out2, ref, rtol=1e-5, atol=1e-5)
    assert float(kept[1].min()) < 0  # linear1's hooked output was not relu'd in place
    with torch.no_grad():
        xin = layer.norm1(x) if norm_first else x
        sa = layer.self_attn(xin, xin, xin, need_weights=False)[0]
    np.testing.assert_array_equal(kept[0].numpy(), sa.numpy())  # no residual added into it
