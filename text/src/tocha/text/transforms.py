"""Composable text transforms (``torchtext.transforms``), each an ``nn.Module``.

Example:
    >>> import tocha.text.transforms as T
    >>> from tocha.text.vocab import vocab
    >>> v = vocab({"<pad>": 1, "<s>": 1, "hi": 1, "there": 1})
    >>> pipeline = T.Sequential(T.VocabTransform(v), T.Truncate(2), T.AddToken(1),
    ...                         T.ToTensor(padding_value=0))
    >>> pipeline([["hi", "there", "hi"], ["there"]])
    tensor([[1, 2, 3],
            [1, 3, 0]])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import tocha.core as torch
from tocha.core import nn
from tocha.core.nn import functional as nnF

from . import functional as F
from .vocab import Vocab

__all__ = [
    "AddToken",
    "LabelToIndex",
    "PadTransform",
    "Sequential",
    "StrToIntTransform",
    "ToTensor",
    "Truncate",
    "VocabTransform",
]


class VocabTransform(nn.Module):
    """Tokens to indices through a :class:`~tocha.text.vocab.Vocab` (a list or a batch).

    Example:
        >>> from tocha.text.transforms import VocabTransform
        >>> from tocha.text.vocab import vocab
        >>> VocabTransform(vocab({"a": 1, "b": 1}))([["b"], ["a", "b"]])
        [[1], [0, 1]]
    """

    def __init__(self, vocab: Vocab) -> None:
        super().__init__()
        if not isinstance(vocab, Vocab):
            raise TypeError(f"VocabTransform: vocab must be a Vocab, got {type(vocab).__name__}")
        self.vocab = vocab

    def forward(self, input: Any) -> Any:
        if isinstance(input, list) and (not input or isinstance(input[0], str)):
            return self.vocab.lookup_indices(input)
        if isinstance(input, list) and isinstance(input[0], list):
            return [self.vocab.lookup_indices(row) for row in input]
        raise TypeError(f"VocabTransform: input type not supported: {type(input).__name__}")


class ToTensor(nn.Module):
    """Ids (a list, or a batch padded with ``padding_value``) to a tensor of ``dtype``.

    Example:
        >>> from tocha.text.transforms import ToTensor
        >>> ToTensor(padding_value=-1)([[1, 2, 3], [4]])
        tensor([[ 1,  2,  3],
                [ 4, -1, -1]])
    """

    def __init__(self, padding_value: int | None = None, dtype=torch.long) -> None:
        super().__init__()
        self.padding_value = padding_value
        self.dtype = dtype

    def forward(self, input: Any) -> torch.Tensor:
        return F.to_tensor(input, padding_value=self.padding_value, dtype=self.dtype)


class Truncate(nn.Module):
    """Keep the first ``max_seq_len`` items (of a list or of each row).

    Example:
        >>> from tocha.text.transforms import Truncate
        >>> Truncate(2)([1, 2, 3])
        [1, 2]
    """

    def __init__(self, max_seq_len: int) -> None:
        super().__init__()
        self.max_seq_len = max_seq_len

    def forward(self, input: Any) -> Any:
        return F.truncate(input, self.max_seq_len)


class AddToken(nn.Module):
    """Add a token (id or string) at the beginning or end of a list or of each row.

    Example:
        >>> from tocha.text.transforms import AddToken
        >>> AddToken(token=2, begin=False)([[7], [8, 9]])
        [[7, 2], [8, 9, 2]]
    """

    def __init__(self, token: int | str, begin: bool = True) -> None:
        super().__init__()
        self.token = token
        self.begin = begin

    def forward(self, input: Any) -> Any:
        return F.add_token(input, self.token, self.begin)


class PadTransform(nn.Module):
    """Pad the last dimension of a tensor up to ``max_length`` with ``pad_value``.

    Longer tensors are returned unchanged.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.text.transforms import PadTransform
        >>> PadTransform(max_length=4, pad_value=0)(torch.tensor([[1, 2], [3, 4]]))
        tensor([[1, 2, 0, 0],
                [3, 4, 0, 0]])
    """

    def __init__(self, max_length: int, pad_value: int) -> None:
        super().__init__()
        self.max_length = max_length
        self.pad_value = float(pad_value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.size(-1)
        if n < self.max_length:
            x = nnF.pad(x, (0, self.max_length - n), value=self.pad_value)
        return x


class StrToIntTransform(nn.Module):
    """Strings (or lists of strings) to ints.

    Example:
        >>> from tocha.text.transforms import StrToIntTransform
        >>> StrToIntTransform()([["1", "2"], ["3"]])
        [[1, 2], [3]]
    """

    def forward(self, input: Any) -> Any:
        return F.str_to_int(input)


class LabelToIndex(nn.Module):
    """Label strings to indices, from ``label_names`` or a file with one label per line.

    Args:
        label_names: the labels in index order.
        label_path: a file with one label per line (instead of ``label_names``).
        sort_names: sort the names first.

    Raises:
        ValueError: neither or both of ``label_names`` and ``label_path`` given.
        RuntimeError: an unknown label is looked up (from the :class:`Vocab`).

    Example:
        >>> from tocha.text.transforms import LabelToIndex
        >>> t = LabelToIndex(["neg", "pos"])
        >>> t("pos"), t(["pos", "neg"])
        (1, [1, 0])
    """

    def __init__(
        self,
        label_names: Sequence[str] | None = None,
        label_path: str | os.PathLike | None = None,
        sort_names: bool = False,
    ) -> None:
        super().__init__()
        if (label_names is None) == (label_path is None):
            raise ValueError("LabelToIndex: pass exactly one of label_names or label_path")
        if label_path is not None:
            with open(label_path, encoding="utf-8") as fh:
                label_names = [line.strip() for line in fh if line.strip()]
        names = list(label_names)
        if sort_names:
            names = sorted(names)
        self._label_vocab = Vocab(names)
        self._label_names = self._label_vocab.get_itos()

    @property
    def label_names(self) -> list[str]:
        """The labels in index order."""
        return list(self._label_names)

    def forward(self, input: Any) -> Any:
        if isinstance(input, str):
            return self._label_vocab[input]
        if isinstance(input, list):
            return self._label_vocab.lookup_indices(input)
        raise TypeError(f"LabelToIndex: input type not supported: {type(input).__name__}")


class Sequential(nn.Sequential):
    """Apply transforms one after another (``torchtext.transforms.Sequential``).

    Example:
        >>> from tocha.text.transforms import Sequential, Truncate, AddToken
        >>> Sequential(Truncate(1), AddToken(0))([5, 6])
        [0, 5]
    """

    def forward(self, input: Any) -> Any:
        for module in self:
            input = module(input)
        return input
