"""Text classification and sentence-pair (NLI) datasets read from CSV, TSV or JSON lines."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tocha.core.utils.data import Dataset

from ._records import column_getter, read_rows

__all__ = ["SentencePairDataset", "TextClassificationDataset"]

Column = int | str | Sequence[int | str]


def _label_index(path: str, raw: list, label_map, lines: list[int]) -> tuple[list, list[str]]:
    """Map raw labels to ints; returns (labels, classes)."""
    if label_map is None:
        classes = sorted(set(raw), key=_natural_key)
        index = {c: i for i, c in enumerate(classes)}
    elif isinstance(label_map, Mapping):
        index = dict(label_map)
        inv = {v: k for k, v in index.items()}
        classes = [inv.get(i, "") for i in range(max(index.values(), default=-1) + 1)]
    elif isinstance(label_map, list | tuple):
        classes = [str(c) for c in label_map]
        index = {c: i for i, c in enumerate(classes)}
    else:
        raise TypeError(
            f"{path}: label_map must be None, a dict or a list of names, got "
            f"{type(label_map).__name__}"
        )
    out = []
    for lab, n in zip(raw, lines, strict=True):
        try:
            out.append(index[lab])
        except KeyError:
            raise ValueError(
                f"{path}: line {n}: label {lab!r} is not in label_map (known: {sorted(index)})"
            ) from None
    return out, classes


def _natural_key(label: str):
    # "2" before "10" when every label is a number
    s = str(label)
    return (0, int(s), "") if s.lstrip("-").isdigit() else (1, 0, s)


class _Rows(Dataset):
    """A list of examples with an optional per-example ``transform``."""

    def __init__(self, examples: list, transform: Callable | None) -> None:
        self.examples = examples
        self.transform = transform

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int):
        ex = self.examples[index]
        return self.transform(ex) if self.transform is not None else ex

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


class TextClassificationDataset(_Rows):
    """``(text, label)`` examples from a CSV, TSV or JSON-lines file.

    Args:
        path: the file.
        text_column: name (with a header / JSONL) or index of the text; several columns are
            joined with a space (AG News' title and description).
        label_column: name or index of the label.
        format: ``"csv"``, ``"tsv"`` or ``"jsonl"`` (default: from the extension).
        has_header: the first CSV/TSV row names the columns.
        label_map: ``None`` (the sorted distinct labels become 0..K-1, numbers in numeric
            order), a dict raw label -> index, or a list of names in index order.
        delimiter: overrides ``,`` / tab.
        transform: applied to each ``(text, label)`` example on access.

    Attributes:
        classes: the label names in index order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a missing column, a malformed line or an unknown label (naming file and
            line).

    Example:
        >>> import os, tempfile
        >>> from tocha.text.data import TextClassificationDataset
        >>> p = os.path.join(tempfile.mkdtemp(), "reviews.csv")
        >>> _ = open(p, "w").write('text,label\\n"good, really",pos\\nbad,neg\\n')
        >>> ds = TextClassificationDataset(p, "text", "label")
        >>> ds[0], ds.classes
        (('good, really', 1), ['neg', 'pos'])
    """

    def __init__(
        self,
        path: str | os.PathLike,
        text_column: Column = "text",
        label_column: int | str = "label",
        format: str | None = None,
        has_header: bool = True,
        label_map: Mapping | Sequence[str] | None = None,
        delimiter: str | None = None,
        transform: Callable | None = None,
    ) -> None:
        path = os.fspath(path)
        header, rows = read_rows(path, format, has_header, delimiter)
        get_text = column_getter(path, header, text_column, "text")
        get_label = column_getter(path, header, label_column, "label")
        texts, raw, lines = [], [], []
        for n, row in rows:
            texts.append(str(get_text(row, n)))
            raw.append(get_label(row, n))
            lines.append(n)
        labels, self.classes = _label_index(path, raw, label_map, lines)
        super().__init__(list(zip(texts, labels, strict=True)), transform)


class SentencePairDataset(_Rows):
    """``(text_a, text_b, label)`` examples (NLI, paraphrase) from CSV, TSV or JSON lines.

    Args:
        path: the file.
        text_a_column: the first sentence (premise) column.
        text_b_column: the second sentence (hypothesis) column.
        label_column: the label column, or None for unlabelled files (examples are pairs).
        format: ``"csv"``, ``"tsv"`` or ``"jsonl"`` (default: from the extension).
        has_header: the first CSV/TSV row names the columns.
        label_map: as :class:`TextClassificationDataset`.
        skip_labels: rows with these raw labels are dropped (SNLI marks no-consensus pairs
            with ``"-"``).
        delimiter: overrides ``,`` / tab.
        transform: applied to each example on access.

    Example:
        >>> import json, os, tempfile
        >>> from tocha.text.data import SentencePairDataset
        >>> p = os.path.join(tempfile.mkdtemp(), "snli.jsonl")
        >>> rows = [{"sentence1": "A man eats.", "sentence2": "Someone eats.",
        ...          "gold_label": "entailment"},
        ...         {"sentence1": "A dog.", "sentence2": "A cat.", "gold_label": "-"}]
        >>> _ = open(p, "w").write("\\n".join(json.dumps(r) for r in rows))
        >>> ds = SentencePairDataset(p, "sentence1", "sentence2", "gold_label",
        ...                          label_map=["entailment", "neutral", "contradiction"])
        >>> len(ds), ds[0]
        (1, ('A man eats.', 'Someone eats.', 0))
    """

    def __init__(
        self,
        path: str | os.PathLike,
        text_a_column: int | str = "sentence1",
        text_b_column: int | str = "sentence2",
        label_column: int | str | None = "label",
        format: str | None = None,
        has_header: bool = True,
        label_map: Mapping | Sequence[str] | None = None,
        skip_labels: Sequence[str] = ("-",),
        delimiter: str | None = None,
        transform: Callable | None = None,
    ) -> None:
        path = os.fspath(path)
        header, rows = read_rows(path, format, has_header, delimiter)
        get_a = column_getter(path, header, text_a_column, "text_a")
        get_b = column_getter(path, header, text_b_column, "text_b")
        get_label = (
            None if label_column is None else column_getter(path, header, label_column, "label")
        )
        skip = set(skip_labels)
        a, b, raw, lines = [], [], [], []
        for n, row in rows:
            if get_label is not None:
                lab = get_label(row, n)
                if lab in skip:
                    continue
                raw.append(lab)
            a.append(str(get_a(row, n)))
            b.append(str(get_b(row, n)))
            lines.append(n)
        if get_label is None:
            self.classes: list[str] = []
            examples: list[Any] = list(zip(a, b, strict=True))
        else:
            labels, self.classes = _label_index(path, raw, label_map, lines)
            examples = list(zip(a, b, labels, strict=True))
        super().__init__(examples, transform)
