"""Language-modelling data: a corpus as one stream of token ids, cut into sliding windows."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

import tocha.core as torch
from tocha.core.utils.data import Dataset

__all__ = ["LanguageModelingDataset"]


def _read_lines(path: str) -> list[str]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"LanguageModelingDataset: no file {path}")
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().splitlines()
    except UnicodeDecodeError as e:
        raise ValueError(f"LanguageModelingDataset: {path} is not UTF-8 text: {e}") from None


class LanguageModelingDataset(Dataset):
    """Windows of ``block_size`` tokens over a corpus, for next-token prediction.

    The lines of the corpus are tokenized, joined into one id stream (with ``eos_id`` after
    each line when given; empty lines are skipped), and window ``i`` starts at ``i * stride``.

    Args:
        source: a text file path, a list of lines, or a 1-D sequence/array/tensor of ids
            (then ``tokenizer`` is not used).
        tokenizer: ``str -> list[int]`` (e.g. ``lambda s: vocab(get_tokenizer("basic_english")
            (s))``), or a :class:`tocha.text.tokenizers.Tokenizer` (encoded in batch, without
            special tokens).
        block_size: tokens per window.
        stride: step between window starts (default ``block_size``: no overlap).
        eos_id: id appended after every line.
        return_targets: items are ``(x, y)`` with ``y`` the window shifted by one token
            (windows then take ``block_size + 1`` tokens); else just ``x``.
        drop_last: drop the tail shorter than a window; with False a last window is aligned
            with the end of the stream so every token is seen.

    Raises:
        ValueError: ``block_size``/``stride`` not positive, or no ``tokenizer`` for text.

    Example:
        >>> from tocha.text.data import LanguageModelingDataset
        >>> ds = LanguageModelingDataset(list(range(10)), block_size=4, stride=3)
        >>> len(ds), ds[1]
        (2, (tensor([3, 4, 5, 6]), tensor([4, 5, 6, 7])))
    """

    def __init__(
        self,
        source: str | os.PathLike | Sequence[str] | Sequence[int] | Any,
        tokenizer: Callable[[str], Sequence[int]] | Any | None = None,
        block_size: int = 128,
        stride: int | None = None,
        eos_id: int | None = None,
        return_targets: bool = True,
        drop_last: bool = True,
    ) -> None:
        stride = block_size if stride is None else stride
        if block_size <= 0 or stride <= 0:
            raise ValueError(
                f"LanguageModelingDataset: block_size and stride must be positive, got "
                f"block_size={block_size}, stride={stride}"
            )
        self.block_size = int(block_size)
        self.stride = int(stride)
        self.return_targets = return_targets
        self.ids = self._stream(source, tokenizer, eos_id)
        need = self.block_size + (1 if return_targets else 0)
        n = len(self.ids)
        starts = np.arange(0, max(n - need + 1, 0), self.stride, dtype=np.int64)
        if not drop_last and n >= need and (len(starts) == 0 or starts[-1] != n - need):
            starts = np.append(starts, n - need)
        self.starts = starts
        self._need = need
        self._tensor = torch.from_numpy(self.ids)

    @staticmethod
    def _stream(source, tokenizer, eos_id) -> np.ndarray:
        if isinstance(source, torch.Tensor):
            return source.detach().cpu().numpy().astype(np.int64).ravel()
        if isinstance(source, np.ndarray):
            return source.astype(np.int64).ravel()
        if isinstance(source, str | os.PathLike):
            lines: Iterable[str] = _read_lines(os.fspath(source))
        else:
            seq = list(source)
            if not seq or not isinstance(seq[0], str):
                return np.asarray(seq, dtype=np.int64)
            lines = seq
        lines = [ln for ln in lines if ln.strip()]
        if tokenizer is None:
            raise ValueError("LanguageModelingDataset: text needs a tokenizer")
        if hasattr(tokenizer, "encode_batch") and hasattr(tokenizer, "backend_tokenizer"):
            rows = tokenizer(lines, add_special_tokens=False)["input_ids"] if lines else []
        else:
            rows = [tokenizer(ln) for ln in lines]
        if eos_id is not None:
            rows = [[*r, eos_id] for r in rows]
        total = sum(len(r) for r in rows)
        return np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=total)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int):
        n = len(self.starts)
        if not -n <= index < n:
            raise IndexError(f"LanguageModelingDataset: index {index} out of range for {n} windows")
        s = int(self.starts[index])
        x = self._tensor[s : s + self.block_size]
        if not self.return_targets:
            return x
        return x, self._tensor[s + 1 : s + 1 + self.block_size]
