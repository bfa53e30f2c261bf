"""tocha.text.models against torch: checkpoints written by torch.save load through
from_pretrained, and the models compute what the same layers in torch compute (compat
session only)."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as TF  # noqa: E402

import tocha.core as ttorch  # noqa: E402
from tocha.text.models import GPT, BertConfig, BertModel, GPTConfig  # noqa: E402
from tocha.text.models import _sampling as S  # noqa: E402


def _to_torch(sd):
    return {k: torch.from_numpy(v.detach().numpy().copy()) for k, v in sd.items()}


def _bert_torch(sd, cfg, ids, mask):
    """Hugging Face's BertModel forward (eval) in torch.nn.functional."""
    h, nh = cfg.hidden_size, cfg.num_attention_heads
    n = ids.shape[1]

    def lin(x, name):
        return TF.linear(x, sd[name + ".weight"], sd[name + ".bias"])

    def ln(x, name):
        return TF.layer_norm(x, (h,), sd[name + ".weight"], sd[name + ".bias"], cfg.layer_norm_eps)

    x = (
        sd["embeddings.word_embeddings.weight"][ids]
        + sd["embeddings.position_embeddings.weight"][:n]
    )
    x = ln(x + sd["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    for i in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, p + "attention.self." + t).view(x.shape[0], n, nh, -1).transpose(1, 2)
                   for t in ("query", "key", "value"))  # fmt: skip
        ctx = TF.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        a = ln(lin(ctx.transpose(1, 2).reshape(x.shape), p + "attention.output.dense") + x,
               p + "attention.output.LayerNorm")  # fmt: skip
        x = ln(lin(TF.gelu(lin(a, p + "intermediate.dense")), p + "output.dense") + a,
               p + "output.LayerNorm")  # fmt: skip
    return x, torch.tanh(lin(x[:, 0], "pooler.dense"))


def test_bert_from_torch_saved_bin_matches_torch(tmp_path):
    ttorch.manual_seed(0)
    cfg = BertConfig(vocab_size=90, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=40)  # fmt: skip
    sd = _to_torch(BertModel(cfg).state_dict())
    sd["embeddings.position_ids"] = torch.arange(40)[None]  # as older checkpoints carry it
    # a head checkpoint, as torch.save writes it (zip format), with the bert. prefix
    torch.save({"bert." + k: v for k, v in sd.items()}, tmp_path / "pytorch_model.bin")
    with open(tmp_path / "config.json", "w") as f:
        json.dump(cfg.to_dict(), f)
    model = BertModel.from_pretrained(tmp_path)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 90, (3, 7))
    mask = np.ones((3, 7), np.int64)
    mask[1, 4:] = 0
    with ttorch.no_grad():
        out = model(input_ids=ttorch.from_numpy(ids), attention_mask=ttorch.from_numpy(mask))
    ref, pooled = _bert_torch(sd, cfg, torch.from_numpy(ids), torch.from_numpy(mask))
    real = mask.astype(bool)
    np.testing.assert_allclose(out.last_hidden_state.numpy()[real], ref.numpy()[real], atol=1e-5)
    np.testing.assert_allclose(out.pooler_output.numpy(), pooled.numpy(), atol=1e-5)


def test_gpt_from_torch_saved_bin_and_greedy_decoding_match_torch(tmp_path):
    ttorch.manual_seed(0)
    cfg = GPTConfig(vocab_size=70, n_positions=48, n_embd=32, n_layer=2, n_head=4)
    sd = _to_torch(GPT(cfg).state_dict())
    # the gpt2 checkpoint layout: no transformer. prefix, no lm_head, mask buffers
    raw = {k[len("transformer.") :]: v for k, v in sd.items() if k != "lm_head.weight"}
    for i in range(2):
        raw[f"h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, 48, 48, dtype=torch.uint8))
    torch.save(raw, tmp_path / "pytorch_model.bin")
    with open(tmp_path / "config.json", "w") as f:
        json.dump(cfg.to_dict(), f)
    model = GPT.from_pretrained(tmp_path)
    e, nh = 32, 4

    def forward(ids):
        n = ids.shape[1]
        x = sd["transformer.wte.weight"][ids] + sd["transformer.wpe.weight"][:n]
        for i in range(2):
            p = f"transformer.h.{i}."

            def ln(t, name, p=p):
                return TF.layer_norm(t, (e,), sd[p + name + ".weight"], sd[p + name + ".bias"])

            def conv(t, name, p=p):
                return torch.addmm(sd[p + name + ".bias"], t.reshape(-1, t.shape[-1]),
                                   sd[p + name + ".weight"]).view(*t.shape[:-1], -1)  # fmt: skip

            q, k, v = conv(ln(x, "ln_1"), "attn.c_attn").split(e, dim=2)
            q, k, v = (t.view(1, n, nh, -1).transpose(1, 2) for t in (q, k, v))
            ctx = TF.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + conv(ctx.transpose(1, 2).reshape(1, n, e), "attn.c_proj")
            x = x + conv(TF.gelu(conv(ln(x, "ln_2"), "mlp.c_fc"), approximate="tanh"), "mlp.c_proj")
        x = TF.layer_norm(x, (e,), sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"])
        return x @ sd["transformer.wte.weight"].T

    prompt = np.array([[5, 17, 3]])
    seq = torch.from_numpy(prompt)
    with torch.no_grad():
        for _ in range(12):
            seq = torch.cat([seq, forward(seq)[:, -1].argmax(-1, keepdim=True)], 1)
        full = forward(seq).numpy()
    ours = model.generate(ttorch.from_numpy(prompt), max_new_tokens=12)
    np.testing.assert_array_equal(ours.numpy(), seq.numpy())
    with ttorch.no_grad():
        logits = model(ttorch.from_numpy(seq.numpy())).logits.numpy()
    np.testing.assert_allclose(logits, full, atol=1e-4)


def test_top_k_top_p_match_torch_formulation():
    # the filters as Hugging Face writes them in torch (TopK/TopPLogitsWarper)
    scores = torch.from_numpy(np.random.default_rng(0).standard_normal((5, 40)).astype(np.float32))
    kth = torch.topk(scores, 7)[0][..., -1, None]
    ref_k = scores.masked_fill(scores < kth, -float("inf"))
    s_sorted, order = torch.sort(scores, descending=False)
    cum = s_sorted.softmax(-1).cumsum(-1)
    drop = cum <= 1 - 0.8
    drop[..., -1:] = 0
    ref_p = scores.masked_fill(drop.scatter(1, order, drop), -float("inf"))
    ts = ttorch.from_numpy(scores.numpy())
    np.testing.assert_array_equal(S.top_k_filter(ts, 7).numpy(), ref_k.numpy())
    np.testing.assert_array_equal(S.top_p_filter(ts, 0.8).numpy(), ref_p.numpy())
