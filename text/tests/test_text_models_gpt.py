"""GPT-2: Hugging Face key names and Conv1D layout, the forward against NumPy, KV-cache
generation against full recomputation, eos handling and left padding."""

import os

import numpy as np
import pytest
from scipy.special import softmax

import tocha.core as torch
from tocha.core.safetensors import load_file, save_file
from tocha.text.models import GPT, GPTConfig, KVCache


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=61, n_positions=64, n_embd=32, n_layer=3, n_head=4)
    cfg.update(kw)
    return GPT(GPTConfig(**cfg)).eval()


def _numpy_gpt(sd, ids, n_head):
    """GPT-2's forward from its definition (float64, Conv1D weights are (in, out))."""
    w = {k: v.numpy().astype(np.float64) for k, v in sd.items()}
    b, n = ids.shape
    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:n]

    def ln(t, p):
        mu = t.mean(-1, keepdims=True)
        var = ((t - mu) ** 2).mean(-1, keepdims=True)
        return (t - mu) / np.sqrt(var + 1e-5) * w[p + ".weight"] + w[p + ".bias"]

    def gelu_tanh(t):
        return 0.5 * t * (1 + np.tanh(np.sqrt(2 / np.pi) * (t + 0.044715 * t**3)))

    e = x.shape[-1]
    d = e // n_head
    causal = np.triu(np.full((n, n), -np.inf), 1)
    i = 0
    while f"transformer.h.{i}.ln_1.weight" in w:
        p = f"transformer.h.{i}."
        h = ln(x, p + "ln_1") @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (
            h[..., j * e : (j + 1) * e].reshape(b, n, n_head, d).transpose(0, 2, 1, 3)
            for j in range(3)
        )
        s = softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + causal, axis=-1)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, n, e)
        x = x + ctx @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        f = gelu_tanh(ln(x, p + "ln_2") @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + f @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        i += 1
    return ln(x, "transformer.ln_f") @ w["transformer.wte.weight"].T


def test_keys_layout_and_forward_matches_numpy():
    model = _model()
    sd = model.state_dict()
    assert tuple(sd["transformer.h.0.attn.c_attn.weight"].shape) == (32, 96)  # (in, out)
    assert tuple(sd["transformer.h.2.mlp.c_proj.weight"].shape) == (128, 32)
    assert model.lm_head.weight is model.transformer.wte.weight
    assert {"transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.bias",
            "lm_head.weight"} <= set(sd)  # fmt: skip
    ids = np.random.default_rng(0).integers(0, 61, (2, 9))
    with torch.no_grad():
        got = model(torch.from_numpy(ids)).logits.numpy()
    ref = _numpy_gpt(sd, ids, 4)
    assert np.abs(got - ref).max() < 1e-4


def test_hf_gpt2_checkpoint_without_prefix_loads_strict(tmp_path):
    model = _model()
    model.config.save_pretrained(tmp_path)
    # the layout of Hugging Face's gpt2 files: no transformer. prefix, no lm_head (tied), and
    # the old causal-mask buffers attn.bias / attn.masked_bias
    sd = {
        k[len("transformer.") :]: v for k, v in model.state_dict().items() if k != "lm_head.weight"
    }
    for i in range(3):
        sd[f"h.{i}.attn.bias"] = torch.ones(1, 1, 64, 64).tril()
        sd[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(
        {k: v.contiguous() for k, v in sd.items()}, os.path.join(tmp_path, "model.safetensors")
    )
    back = GPT.from_pretrained(tmp_path)
    assert back.lm_head.weight is back.transformer.wte.weight
    ids = torch.tensor([[3, 1, 4, 1, 5]])
    with torch.no_grad():
        assert torch.equal(back(ids).logits, model(ids).logits)
    back.save_pretrained(tmp_path / "again")
    saved = load_file(os.path.join(tmp_path / "again", "model.safetensors"))
    assert "lm_head.weight" not in saved and "transformer.h.0.attn.c_attn.weight" in saved
    # an unknown key is refused
    sd["h.0.extra.weight"] = torch.ones(2)
    save_file(
        {k: v.contiguous() for k, v in sd.items()}, os.path.join(tmp_path, "model.safetensors")
    )
    with pytest.raises(RuntimeError, match="(?s)GPT.from_pretrained.*h.0.extra.weight"):
        GPT.from_pretrained(tmp_path)


def test_incremental_logits_equal_full_forward():
    model = _model()
    ids = torch.randint(0, 61, (2, 12), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = model(ids).logits
        out = model(ids[:, :5], use_cache=True)
        cache = out.past_key_values
        parts = [out.logits]
        for lo, hi in ((5, 6), (6, 9), (9, 12)):  # single steps and chunks
            parts.append(model(ids[:, lo:hi], past_key_values=cache, use_cache=True).logits)
    assert isinstance(cache, KVCache) and cache.get_seq_length() == 12 and len(cache) == 3
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)


def test_generate_with_and_without_cache_identical_greedy_and_sampled():
    model = _model()
    prompt = torch.randint(0, 61, (3, 4), generator=torch.Generator().manual_seed(1))
    a = model.generate(prompt, max_new_tokens=25, use_cache=True)
    b = model.generate(prompt, max_new_tokens=25, use_cache=False)
    assert tuple(a.shape) == (3, 29) and torch.equal(a, b) and torch.equal(a[:, :4], prompt)
    # greedy = argmax of the full forward at every step
    with torch.no_grad():
        logits = model(a).logits
    assert torch.equal(logits[:, 3:-1].argmax(-1), a[:, 4:])
    kw = dict(do_sample=True, temperature=0.7, top_k=20, top_p=0.9, repetition_penalty=1.2)
    s1 = model.generate(prompt, 25, generator=torch.Generator().manual_seed(7), **kw)
    s2 = model.generate(
        prompt, 25, use_cache=False, generator=torch.Generator().manual_seed(7), **kw
    )
    s3 = model.generate(prompt, 25, generator=torch.Generator().manual_seed(8), **kw)
    assert torch.equal(s1, s2) and not torch.equal(s1, s3)
    assert not torch.equal(s1, a)


def test_eos_pads_finished_rows_and_stops():
    model = _model()
    prompt = torch.randint(0, 61, (2, 3), generator=torch.Generator().manual_seed(1))
    free = model.generate(prompt, 10)
    eos = int(free[0, 5])  # the third token row 0 generates
    out = model.generate(prompt, 10, eos_token_id=eos, pad_token_id=60)
    row0 = out[0, 3:].tolist()
    stop = row0.index(eos)
    assert all(t == 60 for t in row0[stop + 1 :])
    assert torch.equal(out[0, : 3 + stop + 1], free[0, : 3 + stop + 1])
    # the default eos is the config's, as in Hugging Face's generation config
    model.config.eos_token_id = eos
    assert torch.equal(model.generate(prompt, 10, pad_token_id=60), out)
    # all rows finished: generation stops early
    both = model.generate(free[:1, :5], 10, eos_token_id=int(free[0, 5]))
    assert tuple(both.shape) == (1, 6)


def test_left_padded_prompt_generates_as_unpadded():
    model = _model()
    short = torch.tensor([[7, 8, 9]])
    padded = torch.tensor([[0, 0, 7, 8, 9]])
    mask = torch.tensor([[0, 0, 1, 1, 1]])
    a = model.generate(short, 8)
    b = model.generate(padded, 8, attention_mask=mask)
    c = model.generate(padded, 8, attention_mask=mask, use_cache=False)
    assert torch.equal(b[:, 2:], a) and torch.equal(b, c)


def test_training_step_lowers_loss_and_errors():
    model = _model(n_layer=2)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    ids = torch.randint(0, 61, (4, 16), generator=torch.Generator().manual_seed(0))
    losses = []
    for _ in range(5):
        loss = model(ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0] - 0.5
    with pytest.raises(ValueError, match="GPT.generate: prompt length 60 \\+ max_new_tokens 10"):
        model.generate(torch.zeros(1, 60, dtype=torch.int64), 10)
    with pytest.raises(ValueError, match="GPTConfig: n_embd 30 is not a multiple of n_head 4"):
        GPTConfig(n_embd=30, n_head=4)
