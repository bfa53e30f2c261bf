"""Iterator helpers of ``torchtext.data.functional``.

Example:
    >>> from tocha.text.data.functional import to_map_style_dataset, simple_space_split
    >>> ds = to_map_style_dataset(iter([(1, "a b"), (2, "c")]))
    >>> len(ds), ds[1]
    (2, (2, 'c'))
    >>> list(simple_space_split(["a b", "c"]))
    [['a', 'b'], ['c']]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from tocha.core.utils.data import Dataset

__all__ = [
    "custom_replace",
    "numericalize_tokens_from_iterator",
    "simple_space_split",
    "to_map_style_dataset",
]


class _MapStyleDataset(Dataset):
    def __init__(self, items: list) -> None:
        self._data = items

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, idx: int):
        return self._data[idx]


def to_map_style_dataset(iter_data: Iterable) -> Dataset:
    """Read an iterable dataset into memory as an indexable (map-style) dataset."""
    return _MapStyleDataset(list(iter_data))


def custom_replace(replace_pattern: Sequence[tuple[str, str]]) -> Callable:
    """A function that applies ``(regex, replacement)`` rules to each string of an iterator.

    Example:
        >>> from tocha.text.data.functional import custom_replace
        >>> list(custom_replace([(r"\\d+", "<num>"), (r"\\s+", " ")])(["in  1999"]))
        ['in <num>']
    """
    rules = [(re.compile(p), r) for p, r in replace_pattern]

    def _replace(txt_iter: Iterable[str]) -> Iterator[str]:
        for line in txt_iter:
            for pattern, repl in rules:
                line = pattern.sub(repl, line)
            yield line

    return _replace


def simple_space_split(iterator: Iterable[str]) -> Iterator[list[str]]:
    """Split each string on whitespace."""
    for line in iterator:
        yield line.split()


def numericalize_tokens_from_iterator(
    vocab: Any, iterator: Iterable[Iterable[str]], removed_tokens: Sequence[str] | None = None
) -> Iterator[Iterator[int]]:
    """For each token list, an iterator of its ids in ``vocab`` (skipping ``removed_tokens``).

    Example:
        >>> from tocha.text.data.functional import numericalize_tokens_from_iterator
        >>> from tocha.text.vocab import Vocab
        >>> v = Vocab(["<pad>", "a", "b"])
        >>> [list(ids) for ids in numericalize_tokens_from_iterator(v, [["a", "b", "<pad>"]],
        ...                                                         removed_tokens=["<pad>"])]
        [[1, 2]]
    """
    removed = set(removed_tokens or ())
    for tokens in iterator:
        yield iter([vocab[t] for t in tokens if t not in removed])
