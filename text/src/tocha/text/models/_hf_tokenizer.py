"""Batch tokenization for the models, on the Hugging Face ``tokenizers`` library. Kept private
and small so that it can switch to ``tocha.text.tokenizers`` later."""

from __future__ import annotations

import os

import numpy as np


class BatchTokenizer:
    """``tokenizer.json`` loaded with its fixed padding turned off; batches are padded to their
    own longest sequence, which the attention mask makes exact and which is much cheaper than
    a fixed length."""

    def __init__(self, path: str, max_length: int | None = None) -> None:
        from tokenizers import Tokenizer

        if not os.path.isfile(path):
            raise FileNotFoundError(f"SentenceEncoder: no tokenizer file {path}")
        try:
            self.tok = Tokenizer.from_file(path)
        except Exception as e:  # the Rust library raises its own exception type
            raise ValueError(f"SentenceEncoder: cannot read tokenizer {path}: {e}") from None
        self.tok.no_padding()
        if max_length is not None:
            self.tok.enable_truncation(max_length)
        pad = self.tok.token_to_id("[PAD]")
        self.pad_id = 0 if pad is None else pad

    def lengths(self, texts: list[str]) -> np.ndarray:
        """Token counts of ``texts`` (to sort them into batches of similar length)."""
        return np.array([len(e.ids) for e in self.tok.encode_batch(texts)], dtype=np.int64)

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        """``input_ids``, ``token_type_ids`` and ``attention_mask`` (int64, batch x longest)."""
        enc = self.tok.encode_batch(texts)
        n = max((len(e.ids) for e in enc), default=0)
        ids = np.full((len(enc), n), self.pad_id, dtype=np.int64)
        types = np.zeros((len(enc), n), dtype=np.int64)
        mask = np.zeros((len(enc), n), dtype=np.int64)
        for i, e in enumerate(enc):
            k = len(e.ids)
            ids[i, :k] = e.ids
            types[i, :k] = e.type_ids
            mask[i, :k] = 1
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
