"""WavLM: relative position buckets, gated bias attention against NumPy, model structure."""

import math

import numpy as np

import tocha.core as torch
from tocha.audio.models import wavlm_model
from tocha.audio.models.wavlm import WavLMSelfAttention, _relative_buckets


def test_buckets_hand_computed():
    # 8 buckets (4 per direction, 2 exact), max distance 16
    b = _relative_buckets(1, 17, 8, 16)[0]  # offsets 0..16 from query 0 (keys after it)
    assert b[:3].tolist() == [0, 5, 6]  # 0 exact; +1 exact (+4 for "after"); +2 -> 2 + 4
    assert b[8] == 7 and b[16] == 7  # log bucket 3 (+4), capped at half - 1
    back = _relative_buckets(9, 1, 8, 16)[:, 0]  # keys before the query: offsets 0..-8
    # n >= 2: 2 + floor(log(n / 2) / log(16 / 2) * 2): n = 2..5 -> 2, n = 6..8 -> 3
    assert back.tolist() == [0, 1, 2, 2, 2, 2, 3, 3, 3]


def _np_attention(P, x, bias_in, heads, buckets, max_dist, first):
    B, T, D = x.shape
    hd = D // heads
    if first:
        idx = _relative_buckets(T, T, buckets, max_dist)
        bias_in = np.broadcast_to(
            P["rel_attn_embed.weight"][idx].transpose(2, 0, 1), (B, heads, T, T)
        )
    xh = x.reshape(B, T, heads, hd).transpose(0, 2, 1, 3)
    g = xh @ P["gru_rel_pos_linear.weight"].T + P["gru_rel_pos_linear.bias"]
    g = 1 / (1 + np.exp(-g.reshape(B, heads, T, 2, 4).sum(-1)))
    gate = g[..., :1] * (g[..., 1:] * P["gru_rel_pos_const"] - 1) + 2
    mask = gate * bias_in
    qkv = x @ P["attention.in_proj_weight"].T + P["attention.in_proj_bias"]
    q, k, v = (t.reshape(B, T, heads, hd).transpose(0, 2, 1, 3) for t in np.split(qkv, 3, -1))
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + mask
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    o = (a @ v).transpose(0, 2, 1, 3).reshape(B, T, D)
    return o @ P["attention.out_proj.weight"].T + P["attention.out_proj.bias"], bias_in


def test_gated_relative_attention_matches_numpy():
    torch.manual_seed(0)
    first = WavLMSelfAttention(
        12, 3, has_relative_attention_bias=True, num_buckets=16, max_distance=32
    ).double()
    second = WavLMSelfAttention(12, 3).double()
    for m in (first, second):  # non-trivial gate constants
        m.gru_rel_pos_const.data = torch.rand(1, 3, 1, 1, dtype=torch.float64) + 0.5
    x = torch.randn(2, 9, 12, dtype=torch.float64)
    y1, pb = first(x)
    y2, pb2 = second(y1, position_bias=pb)
    P1 = {k: v.numpy() for k, v in first.state_dict().items()}
    P2 = {k: v.numpy() for k, v in second.state_dict().items()}
    r1, rb = _np_attention(P1, x.numpy(), None, 3, 16, 32, True)
    r2, _ = _np_attention(P2, r1, rb, 3, 16, 32, False)
    np.testing.assert_allclose(y1.detach().numpy(), r1, atol=1e-10)
    np.testing.assert_allclose(y2.detach().numpy(), r2, atol=1e-10)
    assert pb2 is pb  # the first layer's bias is handed on unchanged


def test_wavlm_model_structure():
    m = wavlm_model(
        "group_norm",
        [(8, 10, 5)],
        False,
        12,
        0.0,
        4,
        2,
        2,
        3,
        16,
        32,
        0.0,
        20,
        0.0,
        0.0,
        False,
        0.0,
        None,
    ).eval()
    keys = set(m.state_dict())
    assert "encoder.transformer.layers.0.attention.rel_attn_embed.weight" in keys
    assert "encoder.transformer.layers.1.attention.rel_attn_embed.weight" not in keys
    assert "encoder.transformer.layers.1.attention.attention.in_proj_weight" in keys
    assert "encoder.transformer.layers.1.attention.gru_rel_pos_const" in keys
    out, lengths = m(torch.randn(2, 400))
    assert out.shape == (2, 79, 12) and lengths is None
