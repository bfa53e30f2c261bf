"""wav2vec2_model: torchaudio key names, published sizes, and a NumPy reference forward."""

import math

import numpy as np
import pytest
from scipy.special import erf

import tocha.core as torch
from tocha.audio.models import hubert_base, wav2vec2_base, wav2vec2_model

CFG = [(8, 10, 5), (8, 3, 2)]


def _small(mode="group_norm", ln_first=False, aux=5):
    torch.manual_seed(0)
    return (
        wav2vec2_model(
            mode,
            CFG,
            mode == "layer_norm",
            12,
            0.0,
            4,
            2,
            2,
            3,
            0.0,
            20,
            0.0,
            0.0,
            ln_first,
            0.0,
            aux,
        )
        .double()
        .eval()
    )


def test_key_names():
    keys = set(_small().state_dict())
    for k in [
        "feature_extractor.conv_layers.0.conv.weight",
        "feature_extractor.conv_layers.0.layer_norm.weight",
        "feature_extractor.conv_layers.1.conv.weight",
        "encoder.feature_projection.layer_norm.weight",
        "encoder.feature_projection.projection.bias",
        "encoder.transformer.pos_conv_embed.conv.parametrizations.weight.original0",
        "encoder.transformer.pos_conv_embed.conv.parametrizations.weight.original1",
        "encoder.transformer.pos_conv_embed.conv.bias",
        "encoder.transformer.layer_norm.weight",
        "encoder.transformer.layers.1.attention.q_proj.weight",
        "encoder.transformer.layers.0.attention.out_proj.bias",
        "encoder.transformer.layers.0.layer_norm.weight",
        "encoder.transformer.layers.0.feed_forward.intermediate_dense.weight",
        "encoder.transformer.layers.0.feed_forward.output_dense.bias",
        "encoder.transformer.layers.0.final_layer_norm.bias",
        "aux.weight",
    ]:
        assert k in keys, k
    assert "feature_extractor.conv_layers.1.layer_norm.weight" not in keys  # group_norm: first only


@pytest.mark.slow  # 94M parameters
def test_base_parameter_count():
    # 94,371,712 is Hugging Face's count for wav2vec2-base, which adds a 768-d mask embedding.
    assert sum(p.numel() for p in wav2vec2_base().parameters()) == 94_371_712 - 768
    assert sum(p.numel() for p in hubert_base().parameters()) == 94_371_712 - 768


def _gelu(x):
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def _ln(x, w, b, eps=1e-5):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def _conv1d(x, w, b, stride=1, pad=0, groups=1):
    x = np.pad(x, [(0, 0), (0, 0), (pad, pad)])
    O, Ig, K = w.shape
    n = (x.shape[-1] - K) // stride + 1
    idx = np.arange(n)[:, None] * stride + np.arange(K)
    out = []
    for g in range(groups):
        xs = x[:, g * Ig : (g + 1) * Ig][:, :, idx]  # B, Ig, n, K
        ws = w[g * (O // groups) : (g + 1) * (O // groups)]
        out.append(np.einsum("bink,oik->bon", xs, ws))
    y = np.concatenate(out, 1)
    return y if b is None else y + b[None, :, None]


def _reference(P, wave, lengths, ln_first):
    x = wave[:, None]
    for i, (_, k, s) in enumerate(CFG):
        x = _conv1d(x, P[f"feature_extractor.conv_layers.{i}.conv.weight"], None, s)
        if i == 0:  # GroupNorm with one channel per group: normalise each channel over time
            m = x.mean(-1, keepdims=True)
            v = x.var(-1, keepdims=True)
            x = (x - m) / np.sqrt(v + 1e-5)
            x = x * P["feature_extractor.conv_layers.0.layer_norm.weight"][:, None]
            x = x + P["feature_extractor.conv_layers.0.layer_norm.bias"][:, None]
        x = _gelu(x)
        lengths = np.maximum((lengths - k) // s + 1, 0)
    x = x.transpose(0, 2, 1)
    x = _ln(
        x,
        P["encoder.feature_projection.layer_norm.weight"],
        P["encoder.feature_projection.layer_norm.bias"],
    )
    x = x @ P["encoder.feature_projection.projection.weight"].T
    x = x + P["encoder.feature_projection.projection.bias"]
    B, T, D = x.shape
    pad = np.arange(T)[None] >= lengths[:, None]
    x[pad] = 0
    pre = "encoder.transformer."
    v = P[pre + "pos_conv_embed.conv.parametrizations.weight.original1"]
    g = P[pre + "pos_conv_embed.conv.parametrizations.weight.original0"]
    w = g * v / np.sqrt((v**2).sum((0, 1), keepdims=True))
    pc = _conv1d(x.transpose(0, 2, 1), w, P[pre + "pos_conv_embed.conv.bias"], 1, 2, 2)
    x = x + _gelu(pc[..., :-1]).transpose(0, 2, 1)  # even kernel: drop the last frame
    if not ln_first:
        x = _ln(x, P[pre + "layer_norm.weight"], P[pre + "layer_norm.bias"])
    for i in range(2):
        L = f"{pre}layers.{i}."

        def lin(name, h, L=L):
            return h @ P[L + name + ".weight"].T + P[L + name + ".bias"]

        res = x
        h = _ln(x, P[L + "layer_norm.weight"], P[L + "layer_norm.bias"]) if ln_first else x
        q, k, vv = (
            lin(f"attention.{n}_proj", h).reshape(B, T, 3, 4).transpose(0, 2, 1, 3) for n in "qkv"
        )
        s = q @ k.transpose(0, 1, 3, 2) / 2.0 - 10000.0 * pad[:, None, None, :]
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        h = (a @ vv).transpose(0, 2, 1, 3).reshape(B, T, D)
        x = res + lin("attention.out_proj", h)

        def ff(h, lin=lin):
            return lin(
                "feed_forward.output_dense", _gelu(lin("feed_forward.intermediate_dense", h))
            )

        if ln_first:
            x = x + ff(_ln(x, P[L + "final_layer_norm.weight"], P[L + "final_layer_norm.bias"]))
        else:
            x = _ln(x, P[L + "layer_norm.weight"], P[L + "layer_norm.bias"])
            x = _ln(x + ff(x), P[L + "final_layer_norm.weight"], P[L + "final_layer_norm.bias"])
    if ln_first:
        x = _ln(x, P[pre + "layer_norm.weight"], P[pre + "layer_norm.bias"])
    return x @ P["aux.weight"].T + P["aux.bias"], lengths


@pytest.mark.parametrize("ln_first", [False, True])
def test_forward_matches_numpy(ln_first):
    m = _small(ln_first=ln_first)
    rng = np.random.default_rng(1)
    wave = rng.standard_normal((2, 800))
    lengths = np.array([800, 500])
    out, olen = m(torch.from_numpy(wave), torch.from_numpy(lengths))
    P = {k: v.numpy() for k, v in m.state_dict().items()}
    ref, rlen = _reference(P, wave, lengths, ln_first)
    assert olen.tolist() == rlen.tolist() == [79, 49]
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-8)
    feats, _ = m.extract_features(torch.from_numpy(wave), torch.from_numpy(lengths))
    assert len(feats) == 2 and feats[0].shape == (2, 79, 12)


def test_legacy_weight_norm_keys_load():
    m = _small()
    sd = {k: v.clone() for k, v in m.state_dict().items()}
    pre = "encoder.transformer.pos_conv_embed.conv."
    sd[pre + "weight_g"] = sd.pop(pre + "parametrizations.weight.original0") * 2
    sd[pre + "weight_v"] = sd.pop(pre + "parametrizations.weight.original1")
    m2 = _small()
    m2.load_state_dict(sd)
    got = m2.state_dict()[pre + "parametrizations.weight.original0"]
    np.testing.assert_allclose(got.numpy(), sd[pre + "weight_g"].numpy())
