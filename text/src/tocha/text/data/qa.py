"""Extractive question answering: SQuAD-format JSON and answer spans in token positions."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import tocha.core as torch

from .classification import _Rows

__all__ = ["SquadDataset", "prepare_qa_features"]


class SquadDataset(_Rows):
    """The questions of a SQuAD v1.1 / v2.0 JSON file, one dict per question.

    Each example is ``{"id", "title", "context", "question", "answers": {"text": [...],
    "answer_start": [...]}, "is_impossible"}`` (the layout of Hugging Face ``datasets``).

    Args:
        path: the JSON file (``{"data": [{"title", "paragraphs": [{"context", "qas"}]}]}``).
        transform: applied to each example on access.

    Raises:
        ValueError: not SQuAD JSON, or an answer that does not occur at its ``answer_start``.

    Example:
        >>> import json, os, tempfile
        >>> from tocha.text.data import SquadDataset
        >>> p = os.path.join(tempfile.mkdtemp(), "dev.json")
        >>> qa = {"id": "q1", "question": "Who?",
        ...       "answers": [{"text": "Ada", "answer_start": 0}]}
        >>> doc = {"title": "t", "paragraphs": [{"context": "Ada wrote it.", "qas": [qa]}]}
        >>> _ = open(p, "w").write(json.dumps({"data": [doc]}))
        >>> SquadDataset(p)[0]["answers"]
        {'text': ['Ada'], 'answer_start': [0]}
    """

    def __init__(self, path: str | os.PathLike, transform: Callable | None = None) -> None:
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"SquadDataset: no file {path}")
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"SquadDataset: {path} is not valid JSON: {e}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise ValueError(f"SquadDataset: {path} has no 'data' list (not SQuAD format)")
        examples = []
        try:
            for article in doc["data"]:
                title = article.get("title", "")
                for para in article["paragraphs"]:
                    context = para["context"]
                    for qa in para["qas"]:
                        texts = [a["text"] for a in qa.get("answers", [])]
                        starts = [int(a["answer_start"]) for a in qa.get("answers", [])]
                        for t, s in zip(texts, starts, strict=True):
                            if context[s : s + len(t)] != t:
                                raise ValueError(
                                    f"SquadDataset: {path}: question {qa.get('id')!r}: answer "
                                    f"{t!r} is not at answer_start {s} of its context"
                                )
                        examples.append(
                            {
                                "id": qa.get("id", str(len(examples))),
                                "title": title,
                                "context": context,
                                "question": qa["question"],
                                "answers": {"text": texts, "answer_start": starts},
                                "is_impossible": bool(qa.get("is_impossible", not texts)),
                            }
                        )
        except (KeyError, TypeError) as e:
            raise ValueError(f"SquadDataset: {path} is not SQuAD format (missing {e})") from None
        super().__init__(examples, transform)


def prepare_qa_features(
    examples: Sequence[dict],
    tokenizer: Any,
    max_length: int = 384,
    stride: int = 128,
    padding: bool | str = "max_length",
) -> Any:
    """Tokenize (question, context) pairs and turn answer character spans into token spans.

    Long contexts are split into windows that overlap by ``stride`` tokens (only the context
    is truncated). A window that does not contain the whole first answer, and an unanswerable
    question, point at token 0 (the ``[CLS]`` position), as in BERT's SQuAD recipe.

    Args:
        examples: dicts with ``question``, ``context`` and ``answers`` (as
            :class:`SquadDataset` yields).
        tokenizer: a :class:`tocha.text.tokenizers.Tokenizer`.
        max_length: tokens per window.
        stride: overlap between windows of one context.
        padding: passed to the tokenizer.

    Returns:
        A ``BatchEncoding`` with tensors ``input_ids``, ``token_type_ids``, ``attention_mask``,
        ``offset_mapping``, ``start_positions``, ``end_positions`` and ``example_index``
        (the example each window comes from).

    Example:
        >>> from tocha.text.tokenizers import Tokenizer
        >>> from tocha.text.data import prepare_qa_features
        >>> tok = Tokenizer.train(iterator=["who wrote it ada wrote it"] * 5,
        ...                       kind="wordpiece", vocab_size=60)
        >>> ex = {"question": "who wrote it", "context": "ada wrote it",
        ...       "answers": {"text": ["ada"], "answer_start": [0]}}
        >>> f = prepare_qa_features([ex], tok, max_length=16, stride=4)
        >>> s, e = int(f["start_positions"][0]), int(f["end_positions"][0])
        >>> tok.decode(f["input_ids"][0, s : e + 1])
        'ada'
    """
    questions = [ex["question"].lstrip() for ex in examples]
    contexts = [ex["context"] for ex in examples]
    enc = tokenizer(
        questions,
        contexts,
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        padding=padding,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_tensors="np",
    )
    sample = enc.pop("overflow_to_sample_mapping")
    offsets = enc["offset_mapping"]
    n_rows, width = enc["input_ids"].shape
    seq = np.full((n_rows, width), -1, dtype=np.int64)
    for r, e in enumerate(enc.encodings):
        ids = [(-1 if s is None else s) for s in e.sequence_ids]
        seq[r, : len(ids)] = ids

    start_char = np.full(len(examples), -1, dtype=np.int64)
    end_char = np.full(len(examples), -1, dtype=np.int64)
    for i, ex in enumerate(examples):
        ans = ex["answers"]
        if ans["text"]:
            start_char[i] = ans["answer_start"][0]
            end_char[i] = start_char[i] + len(ans["text"][0])
    sc, ec = start_char[sample][:, None], end_char[sample][:, None]

    ctx = seq == 1
    has_ctx = ctx.any(axis=1)
    first = np.where(has_ctx, ctx.argmax(axis=1), 0)
    last = np.where(has_ctx, width - 1 - ctx[:, ::-1].argmax(axis=1), 0)
    rows = np.arange(n_rows)
    inside = (
        has_ctx
        & (sc[:, 0] >= 0)
        & (offsets[rows, first, 0] <= sc[:, 0])
        & (offsets[rows, last, 1] >= ec[:, 0])
    )
    # the start token is the last context token starting at or before the answer's first
    # character; the end token the first context token ending at or after its last
    starts_before = ctx & (offsets[..., 0] <= sc)
    start_tok = width - 1 - starts_before[:, ::-1].argmax(axis=1)
    ends_after = ctx & (offsets[..., 1] >= ec)
    end_tok = ends_after.argmax(axis=1)
    start_pos = np.where(inside, start_tok, 0)
    end_pos = np.where(inside, end_tok, 0)

    out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in enc.items()}
    out["start_positions"] = torch.from_numpy(start_pos.astype(np.int64))
    out["end_positions"] = torch.from_numpy(end_pos.astype(np.int64))
    out["example_index"] = torch.from_numpy(np.asarray(sample, dtype=np.int64))
    return type(enc)(out, enc.encodings)
