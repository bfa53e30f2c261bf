"""Token <-> index vocabularies (``torchtext.vocab``).

Example:
    >>> from tocha.text.vocab import build_vocab_from_iterator
    >>> v = build_vocab_from_iterator([["a", "b", "b"], ["c", "b", "a"]], specials=["<unk>"])
    >>> v.get_itos()
    ['<unk>', 'b', 'a', 'c']
    >>> v.set_default_index(v["<unk>"])
    >>> v(["b", "zzz"])
    [1, 0]
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence

from tocha.core import nn

__all__ = ["Vocab", "build_vocab_from_iterator", "vocab"]


class Vocab(nn.Module):
    """A list of tokens with a reverse index (``torchtext.vocab.Vocab``).

    Usually made by :func:`vocab` or :func:`build_vocab_from_iterator`. Looking up a token that
    is not in the vocabulary raises ``RuntimeError`` unless a default index is set.

    Args:
        tokens: the tokens in index order (no duplicates).

    Example:
        >>> from tocha.text.vocab import Vocab
        >>> v = Vocab(["<pad>", "hello", "world"])
        >>> v["world"], v.lookup_token(1), len(v), "hello" in v
        (2, 'hello', 3, True)
    """

    def __init__(self, tokens: Sequence[str] = ()) -> None:
        super().__init__()
        itos = list(tokens)
        stoi = {t: i for i, t in enumerate(itos)}
        if len(stoi) != len(itos):
            dup = next(t for t in itos if itos.count(t) > 1)
            raise RuntimeError(f"Vocab: duplicate token {dup!r} in the token list")
        self._itos = itos
        self._stoi = stoi
        self._default_index: int | None = None

    def forward(self, tokens: list[str]) -> list[int]:
        """Indices of ``tokens`` (same as :meth:`lookup_indices`)."""
        return self.lookup_indices(tokens)

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __getitem__(self, token: str) -> int:
        i = self._stoi.get(token)
        if i is not None:
            return i
        if self._default_index is None:
            raise RuntimeError(f"Token {token} not found and default index is not set")
        return self._default_index

    def __prepare_scriptable__(self) -> Vocab:
        return self

    def set_default_index(self, index: int | None) -> None:
        """Index returned for out-of-vocabulary tokens (None: raise instead)."""
        if index is not None and not isinstance(index, int):
            raise TypeError(f"Vocab.set_default_index: index must be an int, got {index!r}")
        self._default_index = index

    def get_default_index(self) -> int | None:
        """The default index, or None when unset."""
        return self._default_index

    def insert_token(self, token: str, index: int) -> None:
        """Insert ``token`` at ``index``; tokens at and after ``index`` move up by one.

        Raises:
            RuntimeError: ``index`` outside ``[0, len(vocab)]`` or ``token`` already present.
        """
        if not 0 <= index <= len(self._itos):
            raise RuntimeError(
                f"Specified index {index} is out of bounds for vocab of size {len(self._itos)}"
            )
        if token in self._stoi:
            raise RuntimeError(
                f"Token {token} already exists in the Vocab with index: {self._stoi[token]}"
            )
        self._itos.insert(index, token)
        for i in range(index, len(self._itos)):
            self._stoi[self._itos[i]] = i

    def append_token(self, token: str) -> None:
        """Add ``token`` at the end.

        Raises:
            RuntimeError: ``token`` is already present.
        """
        if token in self._stoi:
            raise RuntimeError(
                f"Token {token} already exists in the Vocab with index: {self._stoi[token]}"
            )
        self._stoi[token] = len(self._itos)
        self._itos.append(token)

    def lookup_token(self, index: int) -> str:
        """The token at ``index``.

        Raises:
            RuntimeError: ``index`` is out of range.
        """
        if not 0 <= index < len(self._itos):
            raise RuntimeError(
                f"Specified index {index} is out of bounds of the size of itos dictionary: "
                f"{len(self._itos)}."
            )
        return self._itos[index]

    def lookup_tokens(self, indices: Sequence[int]) -> list[str]:
        """Tokens at ``indices``."""
        return [self.lookup_token(int(i)) for i in indices]

    def lookup_indices(self, tokens: Sequence[str]) -> list[int]:
        """Indices of ``tokens`` (out-of-vocabulary ones get the default index)."""
        stoi = self._stoi
        if self._default_index is None:
            return [self[t] for t in tokens]
        d = self._default_index
        return [stoi.get(t, d) for t in tokens]

    def get_stoi(self) -> dict[str, int]:
        """A copy of the token -> index dict."""
        return dict(self._stoi)

    def get_itos(self) -> list[str]:
        """A copy of the index -> token list."""
        return list(self._itos)

    def extra_repr(self) -> str:
        return f"size={len(self._itos)}, default_index={self._default_index}"


def vocab(
    ordered_dict: dict[str, int],
    min_freq: int = 1,
    specials: Sequence[str] | None = None,
    special_first: bool = True,
) -> Vocab:
    """A :class:`Vocab` from token -> frequency pairs, in the dict's order.

    Tokens with a frequency below ``min_freq`` are dropped; ``specials`` are removed from the
    dict and put first (or last with ``special_first=False``), whatever their frequency.

    Example:
        >>> from collections import OrderedDict
        >>> from tocha.text.vocab import vocab
        >>> vocab(OrderedDict([("z", 3), ("a", 1), ("b", 2)]), min_freq=2,
        ...       specials=["<unk>"]).get_itos()
        ['<unk>', 'z', 'b']
    """
    specials = list(specials or [])
    od = OrderedDict(ordered_dict)
    for tok in specials:
        od.pop(tok, None)
    tokens = [tok for tok, freq in od.items() if freq >= min_freq]
    tokens = specials + tokens if special_first else tokens + specials
    return Vocab(tokens)


def build_vocab_from_iterator(
    iterator: Iterable[Iterable[str]],
    min_freq: int = 1,
    specials: Sequence[str] | None = None,
    special_first: bool = True,
    max_tokens: int | None = None,
) -> Vocab:
    """Count the tokens of an iterator of token lists and build a :class:`Vocab`.

    Tokens are ordered by decreasing frequency, ties in lexicographic order. With
    ``max_tokens`` the vocabulary keeps the ``max_tokens - len(specials)`` most frequent tokens.

    Args:
        iterator: yields lists (or other iterables) of tokens.
        min_freq: the least frequency a token needs to be kept.
        specials: special tokens, added first (or last) in the given order.
        special_first: put the specials at the start (else at the end).
        max_tokens: maximum vocabulary size, specials included.

    Raises:
        ValueError: ``max_tokens`` leaves no room beyond the specials.

    Example:
        >>> from tocha.text.vocab import build_vocab_from_iterator
        >>> build_vocab_from_iterator([["b", "a", "c", "a"]], specials=["<pad>"],
        ...                           special_first=False).get_itos()
        ['a', 'b', 'c', '<pad>']
    """
    counter: Counter = Counter()
    for tokens in iterator:
        counter.update(tokens)
    specials = list(specials or [])
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if max_tokens is not None:
        if len(specials) >= max_tokens:
            raise ValueError(
                f"build_vocab_from_iterator: len(specials) = {len(specials)} >= max_tokens = "
                f"{max_tokens}, so the vocab would be entirely special tokens"
            )
        ranked = ranked[: max_tokens - len(specials)]
    return vocab(
        OrderedDict(ranked), min_freq=min_freq, specials=specials, special_first=special_first
    )
