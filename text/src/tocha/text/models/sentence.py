"""Sentence embeddings from a sentence-transformers model directory: a Hugging Face BERT,
a pooling module and an optional normalisation."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import Tensor, nn

from ..tokenizers import Tokenizer
from ._loading import read_json
from .bert import BertModel

__all__ = ["SentenceEncoder", "Pooling"]

_POOLING_MODES = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")


class Pooling(nn.Module):
    """sentence-transformers pooling of token embeddings (batch, seq, dim) under an attention
    mask: any of CLS token, mean, max and mean/sqrt(length), concatenated in that order.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.tensor([[[1.0, 2.0], [3.0, 6.0], [9.0, 9.0]]])
        >>> Pooling(2, pooling_mode_mean_tokens=True)(x, torch.tensor([[1, 1, 0]]))
        tensor([[2., 4.]])
    """

    def __init__(
        self,
        word_embedding_dimension: int,
        pooling_mode_cls_token: bool = False,
        pooling_mode_mean_tokens: bool = True,
        pooling_mode_max_tokens: bool = False,
        pooling_mode_mean_sqrt_len_tokens: bool = False,
    ) -> None:
        super().__init__()
        self.word_embedding_dimension = word_embedding_dimension
        self.modes = tuple(
            m
            for m, on in zip(
                _POOLING_MODES,
                (
                    pooling_mode_cls_token,
                    pooling_mode_mean_tokens,
                    pooling_mode_max_tokens,
                    pooling_mode_mean_sqrt_len_tokens,
                ),
            )
            if on
        )
        if not self.modes:
            raise ValueError("Pooling: no pooling mode is enabled")

    def get_sentence_embedding_dimension(self) -> int:
        return self.word_embedding_dimension * len(self.modes)

    def forward(self, tokens: Tensor, attention_mask: Tensor) -> Tensor:
        m = attention_mask.unsqueeze(-1).to(tokens.dtype)
        parts = []
        for mode in self.modes:
            if mode == "cls_token":
                parts.append(tokens[:, 0])
            elif mode == "max_tokens":
                # masked positions can never win the max (sentence-transformers uses -1e9)
                parts.append((tokens + (1.0 - m) * -1e9).max(dim=1).values)
            else:
                total = (tokens * m).sum(dim=1)
                count = m.sum(dim=1).clamp(min=1e-9)
                parts.append(total / (count if mode == "mean_tokens" else count.sqrt()))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class SentenceEncoder(nn.Module):
    """A sentence-transformers model: BERT token embeddings, pooling, optional L2 normalisation.

    ``from_pretrained(directory)`` reads ``modules.json`` (Transformer, Pooling, Normalize),
    ``1_Pooling/config.json``, ``sentence_bert_config.json`` (max_seq_length), the BERT weights
    and ``tokenizer.json``.

    ``encode`` needs the tokenizer that ``from_pretrained`` loads; called on token ids, the
    module gives the embeddings of a tokenized batch.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.text.models import BertConfig, BertModel
        >>> _ = torch.manual_seed(0)
        >>> bert = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
        ...                             num_attention_heads=2, intermediate_size=32))
        >>> enc = SentenceEncoder(bert, Pooling(16), normalize=True).eval()
        >>> emb = enc(torch.tensor([[1, 7, 2], [1, 2, 0]]), torch.tensor([[1, 1, 1], [1, 1, 0]]))
        >>> tuple(emb.shape), torch.allclose(emb.norm(dim=1), torch.ones(2))
        ((2, 16), True)
    """

    def __init__(
        self,
        bert: BertModel,
        pooling: Pooling,
        normalize: bool,
        tokenizer: Tokenizer | None = None,
        max_seq_length: int | None = None,
    ) -> None:
        super().__init__()
        self.bert = bert
        self.pooling = pooling
        self.normalize = normalize
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> SentenceEncoder:
        """The sentence-transformers model in ``directory`` (eval mode)."""
        directory = os.fspath(directory)
        who = "SentenceEncoder.from_pretrained"
        modules_path = os.path.join(directory, "modules.json")
        if os.path.isfile(modules_path):
            import json

            with open(modules_path, encoding="utf-8") as f:
                modules = json.load(f)
        else:  # a plain Hugging Face model: mean pooling, as sentence-transformers assumes
            modules = [{"type": "sentence_transformers.models.Transformer", "path": ""}]
        kinds = {m["type"].rsplit(".", 1)[-1]: m.get("path", "") for m in modules}
        unknown = set(kinds) - {"Transformer", "Pooling", "Normalize"}
        if unknown:
            raise ValueError(f"{who}: unsupported modules {sorted(unknown)} in {modules_path}")
        base = os.path.join(directory, kinds.get("Transformer", ""))
        bert = BertModel.from_pretrained(base)
        dim = bert.config.hidden_size
        if "Pooling" in kinds:
            pc = read_json(os.path.join(directory, kinds["Pooling"], "config.json"), who)
            dim = pc.get("word_embedding_dimension", dim)
            pooling = Pooling(dim, **{k: v for k, v in pc.items() if k.startswith("pooling_mode")
                                      and k[13:] in _POOLING_MODES})  # fmt: skip
        else:
            pooling = Pooling(dim)
        max_len = None
        st_path = os.path.join(base, "sentence_bert_config.json")
        if os.path.isfile(st_path):
            max_len = read_json(st_path, who).get("max_seq_length")
        if max_len is None:
            max_len = bert.config.max_position_embeddings
        tok = Tokenizer.from_file(os.path.join(base, "tokenizer.json"))
        return cls(bert, pooling, "Normalize" in kinds, tok, max_len).eval()

    def get_sentence_embedding_dimension(self) -> int:
        return self.pooling.get_sentence_embedding_dimension()

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        token_type_ids: Tensor | None = None,
    ) -> Tensor:
        """Sentence embeddings (batch, dim) of a tokenized batch.

        With padding in the batch, BERT runs on the real tokens only (``BertModel.token_rows``):
        pooling reads nothing else, so the embeddings are the same for less work."""
        if bool((attention_mask == 0).any()):
            rows, where = self.bert.token_rows(input_ids, attention_mask, token_type_ids)
            b, n = input_ids.shape
            flat = where[0] * n + where[1]
            tokens = torch.zeros(b * n, rows.shape[1], dtype=rows.dtype, device=rows.device)
            tokens = tokens.index_copy(0, flat, rows).view(b, n, -1)
        else:
            tokens = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
        emb = self.pooling(tokens, attention_mask)
        return F.normalize(emb, p=2.0, dim=1) if self.normalize else emb

    def encode(
        self,
        sentences: str | Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray | Tensor | list[Tensor]:
        """Embed ``sentences`` (one string gives one vector).

        Sentences are sorted by length so each batch pads little, then put back in order.
        Returns a float32 NumPy array (batch, dim) by default, one (batch, dim) Tensor with
        ``convert_to_tensor=True``, a list of 1-D Tensors with ``convert_to_numpy=False``
        (as sentence-transformers). The inputs go to the model's device.
        """
        if self.tokenizer is None:
            raise RuntimeError("SentenceEncoder.encode: no tokenizer (use from_pretrained)")
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("SentenceEncoder.encode: sentences must be strings")
        if batch_size < 1:
            raise ValueError(f"SentenceEncoder.encode: batch_size must be >= 1, got {batch_size}")
        # the file's own padding/truncation are off in Tokenizer; each call states its own
        n = self.max_seq_length
        kw = {} if n is None else {"truncation": True, "max_length": n}
        lengths = np.array([len(ids) for ids in self.tokenizer(texts, **kw)["input_ids"]])
        order = np.argsort(-lengths, kind="stable")
        dim = self.get_sentence_embedding_dimension()
        out = np.empty((len(texts), dim), dtype=np.float32)
        device = self.bert.embeddings.word_embeddings.weight.device
        with torch.no_grad():
            for lo in range(0, len(texts), batch_size):
                idx = order[lo : lo + batch_size]
                enc = self.tokenizer(
                    [texts[i] for i in idx], padding=True, return_tensors="np", **kw
                )
                ids, mask, types = (
                    torch.from_numpy(enc[k]).to(device)
                    for k in ("input_ids", "attention_mask", "token_type_ids")
                )
                emb = self(ids, mask, types)
                if normalize_embeddings:
                    emb = F.normalize(emb, p=2.0, dim=1)
                out[idx] = emb.cpu().numpy()
        if convert_to_tensor:
            res = torch.from_numpy(out)
            return res[0] if single else res
        if not convert_to_numpy:  # sentence-transformers: a list of 1-D tensors
            rows = [torch.from_numpy(r) for r in out]
            return rows[0] if single else rows
        return out[0] if single else out
