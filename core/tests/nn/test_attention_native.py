"""Attention's compiled path (`nn/functional/_attention_native.py`, `_native/gemm.c`'s
tocha_attention_f32) against a float64 NumPy softmax(q k^T / sqrt(E)) v and against the
chunked NumPy path: broadcast and strided batches (multi-head attention's views of its packed
projection), causal masks with fewer or more queries than keys, one query (decoding), odd sizes,
half precision, one and two threads, two Python threads at once, and NaN inputs."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import _native
from tocha.core.nn.functional import _attention_native

pytestmark = pytest.mark.skipif(_native._compiler() is None, reason="no C compiler on this machine")


def _reference(q, k, v, causal):
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if causal:  # top-left: query i sees keys 0..i
        s = s + np.triu(np.full(s.shape[-2:], -np.inf), 1)
    s = np.exp(s - s.max(-1, keepdims=True))
    return (s / s.sum(-1, keepdims=True)) @ v


@pytest.fixture
def compiled_calls(monkeypatch):
    calls = []
    real = _attention_native.attention

    def spy(*a):
        done = real(*a)
        calls.append(done)
        return done

    monkeypatch.setattr(_attention_native, "attention", spy)
    return calls


def _sdpa(q, k, v, causal=False):
    with torch.no_grad():
        out = F.scaled_dot_product_attention(
            torch.tensor(q), torch.tensor(k), torch.tensor(v), is_causal=causal
        )
    return out.numpy()


CASES = [
    # (q shape, k shape, v shape)
    ((2, 3, 17, 8), (2, 3, 17, 8), (2, 3, 17, 5)),
    ((2, 3, 1, 16), (2, 3, 40, 16), (2, 3, 40, 16)),  # one query: decoding
    ((4, 9, 7), (1, 9, 7), (1, 9, 3)),  # keys and values broadcast over the batch
    ((5, 33), (21, 33), (21, 2)),  # no batch dims
    ((2, 1, 6, 4), (1, 3, 11, 4), (1, 3, 11, 4)),  # broadcast both ways
]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shapes", CASES, ids=str)
def test_compiled_attention_matches_float64(compiled_calls, threads, shapes, causal):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s).astype(np.float32) * 2 for s in shapes)
    out = _sdpa(q, k, v, causal)
    assert compiled_calls == [True]
    np.testing.assert_allclose(out, _reference(q, k, v, causal), rtol=2e-5, atol=2e-6)


def test_compiled_attention_on_strided_views_and_half(compiled_calls, monkeypatch):
    """q, k, v as multi-head attention makes them (views into one packed projection), half
    inputs (computed in float32), and the same values as the chunked NumPy path."""
    rng = np.random.default_rng(1)
    B, L, H, E = 3, 10, 4, 6  # noqa: N806
    packed = rng.standard_normal((B, L, 3, H, E)).astype(np.float32)
    q, k, v = (packed[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    assert not q.flags.c_contiguous
    out = _sdpa(q, k, v)
    np.testing.assert_allclose(out, _reference(q, k, v, False), rtol=2e-5, atol=2e-6)
    monkeypatch.setattr(_attention_native, "attention", lambda *a: False)
    np.testing.assert_allclose(out, _sdpa(q, k, v), rtol=1e-5, atol=1e-6)
    monkeypatch.undo()
    half = _sdpa(*(a.astype(np.float16) for a in (q, k, v)))
    assert half.dtype == np.float16
    ref = _reference(*(a.astype(np.float16) for a in (q, k, v)), False)
    np.testing.assert_allclose(half, ref, rtol=2e-3, atol=2e-3)


def test_multihead_attention_in_eval_uses_it(compiled_calls):
    rng = np.random.default_rng(2)
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    x = torch.tensor(rng.standard_normal((2, 9, 16)).astype(np.float32))
    with torch.no_grad():
        out, _ = mha(x, x, x, need_weights=False)
    assert True in compiled_calls
    w, b = mha.in_proj_weight.detach().numpy(), mha.in_proj_bias.detach().numpy()
    qkv = x.numpy() @ w.T + b
    heads = [qkv[..., i * 16 : (i + 1) * 16].reshape(2, 9, 4, 4).transpose(0, 2, 1, 3)
             for i in range(3)]  # fmt: skip
    o = _reference(*heads, False).transpose(0, 2, 1, 3).reshape(2, 9, 16)
    ref = o @ mha.out_proj.weight.detach().numpy().T + mha.out_proj.bias.detach().numpy()
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=1e-5)


def test_masks_dropout_and_gradients_keep_the_numpy_path(compiled_calls):
    rng = np.random.default_rng(3)
    q, k, v = (torch.tensor(rng.standard_normal((2, 5, 4)).astype(np.float32)) for _ in range(3))
    mask = torch.tensor(rng.random((5, 5)) > 0.3)
    with torch.no_grad():
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    q.requires_grad_()
    F.scaled_dot_product_attention(q, k, v).sum().backward()
    assert compiled_calls == []  # a mask, and a graph that keeps the probabilities
    assert q.grad is not None


def test_two_python_threads_and_nan(compiled_calls, concurrently):
    rng = np.random.default_rng(4)
    q, k, v = (rng.standard_normal((6, 4, 20, 8)).astype(np.float32) for _ in range(3))
    ref = _reference(q, k, v, False)

    def many():
        for _ in range(10):
            np.testing.assert_allclose(_sdpa(q, k, v), ref, rtol=2e-5, atol=2e-6)

    concurrently(many)
    q[1, 2, 3, 0] = np.nan  # that query's row is NaN, the others are not
    out = _sdpa(q, k, v)
    assert np.isnan(out[1, 2, 3]).all()
    out[1, 2, 3] = ref[1, 2, 3]
    np.testing.assert_allclose(out, ref, rtol=2e-5, atol=2e-6)
