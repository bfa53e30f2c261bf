r"""Train a small character-level GPT (tocha.text.models.GPT, GPT-2's architecture) on real
text, watch the loss fall, and sample from it with the KV cache.

The text is found offline: by default the Zen of Python (the stdlib ``this`` module, decoded)
followed by the license texts Debian ships in ``/usr/share/common-licenses`` (CC0-1.0,
Apache-2.0, ... whichever are present); ``--text FILE`` trains on any UTF-8 file instead.

    python examples/text/char_gpt.py --steps 300
    python examples/text/char_gpt.py --text /usr/share/common-licenses/CC0-1.0 --steps 500

The model is a 4-layer, 128-wide, 4-head GPT over characters (about 0.8M parameters), trained
with AdamW on random 64-character windows (90% of the text; the last 10% is held out to show
the validation loss falls too). With ``--save DIR`` it is written as a Hugging Face-style
directory (``config.json`` + ``model.safetensors``) that ``GPT.from_pretrained(DIR)`` reloads.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import io
import os
import sys
import time

import numpy as np

import tocha.core as torch
from tocha.text.models import GPT, GPTConfig

LICENSES = "/usr/share/common-licenses"


def default_text() -> str:
    """The Zen of Python and the license texts installed on this machine."""
    with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the Zen
        import this
    parts = [codecs.decode(this.s, "rot13")]  # stored rot13-encoded
    if os.path.isdir(LICENSES):
        for name in ("CC0-1.0", "Apache-2.0", "Artistic", "BSD", "MPL-2.0", "GPL-3"):
            path = os.path.join(LICENSES, name)
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    parts.append(f.read())
    return "\n\n".join(parts)


def batches(data: np.ndarray, block: int, batch: int, rng: np.random.Generator):
    """Random (batch, block + 1) windows of ``data``, forever."""
    while True:
        start = rng.integers(0, len(data) - block - 1, batch)
        yield torch.from_numpy(data[start[:, None] + np.arange(block + 1)])


@torch.no_grad()
def evaluate(model: GPT, data: np.ndarray, block: int, rng: np.random.Generator) -> float:
    model.eval()
    x = next(batches(data, block, 64, rng))
    loss = float(model(x, labels=x).loss)
    model.train()
    return loss


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--text", help="a UTF-8 text file (default: Zen of Python + licenses)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--block", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", help="write the trained model to this directory")
    args = p.parse_args(argv)

    if args.text:
        with open(args.text, encoding="utf-8") as f:
            text = f.read()
    else:
        text = default_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    if len(val) <= args.block + 1:
        raise SystemExit(f"char_gpt: the text ({len(text)} characters) is too short")
    print(f"text: {len(text)} characters, {len(chars)} distinct")

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    config = GPTConfig(vocab_size=len(chars), n_positions=256, n_embd=128, n_layer=4, n_head=4,
                       resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                       bos_token_id=0, eos_token_id=None)  # fmt: skip
    model = GPT(config).train()
    print(f"model: {model.num_parameters():,} parameters")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    rest = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": rest, "weight_decay": 0.0}], lr=args.lr)  # fmt: skip
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps)

    first = evaluate(model, val, args.block, np.random.default_rng(1))
    print(f"step    0  val loss {first:.3f}  (uniform guess: {np.log(len(chars)):.3f})")
    t0 = time.perf_counter()
    stream = batches(train, args.block, args.batch, rng)
    for step in range(1, args.steps + 1):
        x = next(stream)
        loss = model(x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == args.steps:
            v = evaluate(model, val, args.block, np.random.default_rng(1))
            print(f"step {step:4d}  train loss {float(loss):.3f}  val loss {v:.3f}  "
                  f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
    last = evaluate(model, val, args.block, np.random.default_rng(1))

    model.eval()
    for prompt in ("Beautiful is ", "Licensed under "):
        ids = torch.tensor([[stoi.get(c, 0) for c in prompt]])
        greedy = model.generate(ids, max_new_tokens=80)
        sampled = model.generate(ids, max_new_tokens=80, do_sample=True, temperature=0.8,
                                 top_k=10, generator=torch.Generator().manual_seed(0))  # fmt: skip
        for kind, out in (("greedy", greedy), ("sampled", sampled)):
            sample = "".join(chars[i] for i in out[0].tolist())
            print(f"--- {kind}: {sample!r}")
    if args.save:
        model.save_pretrained(args.save)
        with open(os.path.join(args.save, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("".join(chars))
        print(f"saved to {args.save}")
    print(f"val loss {first:.3f} -> {last:.3f}")
    return 0 if last < first else 1


if __name__ == "__main__":
    sys.exit(main())
