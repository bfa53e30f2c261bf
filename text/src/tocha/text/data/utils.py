"""Simple word tokenizers and n-grams (``torchtext.data.utils``).

Example:
    >>> from tocha.text.data.utils import get_tokenizer, ngrams_iterator
    >>> tok = get_tokenizer("basic_english")
    >>> tok("You can now install TorchText using pip!")
    ['you', 'can', 'now', 'install', 'torchtext', 'using', 'pip', '!']
    >>> list(ngrams_iterator(["here", "we", "are"], 2))
    ['here', 'we', 'are', 'here we', 'we are']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

__all__ = ["char_tokenizer", "get_tokenizer", "ngrams_iterator"]

# torchtext's basic_english rules: quotes and punctuation become separate tokens, <br /> and
# ;: vanish, whitespace collapses
_BASIC_RULES = [
    (re.compile(r"\'"), " '  "),
    (re.compile(r"\""), ""),
    (re.compile(r"\."), " . "),
    (re.compile(r"<br \/>"), " "),
    (re.compile(r","), " , "),
    (re.compile(r"\("), " ( "),
    (re.compile(r"\)"), " ) "),
    (re.compile(r"\!"), " ! "),
    (re.compile(r"\?"), " ? "),
    (re.compile(r"\;"), " "),
    (re.compile(r"\:"), " "),
    (re.compile(r"\s+"), " "),
]


def _basic_english_normalize(line: str) -> list[str]:
    line = line.lower()
    for pattern, repl in _BASIC_RULES:
        line = pattern.sub(repl, line)
    return line.split()


def _split_tokenizer(line: str) -> list[str]:
    return line.split()


def char_tokenizer(line: str) -> list[str]:
    """Every character is a token (spaces included).

    Example:
        >>> from tocha.text.data.utils import char_tokenizer
        >>> char_tokenizer("hi !")
        ['h', 'i', ' ', '!']
    """
    return list(line)


def get_tokenizer(tokenizer: str | Callable | None, language: str = "en") -> Callable:
    """A tokenizer function for a name (``torchtext.data.utils.get_tokenizer``).

    Args:
        tokenizer: ``None`` (split on whitespace), ``"basic_english"`` (lower-case, split
            punctuation), ``"char"`` (characters) or a callable (returned as is).
        language: must be ``"en"`` for ``"basic_english"``.

    Raises:
        ValueError: an unknown name, or ``basic_english`` for another language.
        ModuleNotFoundError: ``"spacy"``/``"moses"``/``"toktok"``/``"revtok"``/``"subword"``
            when that third-party library is not installed.

    Example:
        >>> from tocha.text.data.utils import get_tokenizer
        >>> get_tokenizer(None)("a  b")
        ['a', 'b']
    """
    if callable(tokenizer):
        return tokenizer
    if tokenizer is None:
        return _split_tokenizer
    if tokenizer == "basic_english":
        if language != "en":
            raise ValueError(
                f"get_tokenizer: basic_english is only available for English ('en'), "
                f"got language={language!r}"
            )
        return _basic_english_normalize
    if tokenizer == "char":
        return char_tokenizer
    if tokenizer == "spacy":
        import spacy  # noqa: PLC0415 - optional third-party tokenizer

        nlp = spacy.load(language)
        return lambda s: [t.text for t in nlp.tokenizer(s)]
    if tokenizer == "moses":
        from sacremoses import MosesTokenizer  # noqa: PLC0415

        return MosesTokenizer().tokenize
    if tokenizer == "toktok":
        from nltk.tokenize.toktok import ToktokTokenizer  # noqa: PLC0415

        return ToktokTokenizer().tokenize
    if tokenizer == "revtok":
        import revtok  # noqa: PLC0415

        return revtok.tokenize
    if tokenizer == "subword":
        import revtok  # noqa: PLC0415

        return lambda s: revtok.tokenize(s, decap=True)
    raise ValueError(
        f"get_tokenizer: unknown tokenizer {tokenizer!r}; valid choices are None, "
        "'basic_english', 'char', 'spacy', 'moses', 'toktok', 'revtok', 'subword' or a callable"
    )


def ngrams_iterator(token_list: Sequence[str], ngrams: int) -> Iterator[str]:
    """The tokens, then every 2-gram, ..., ``ngrams``-gram joined by spaces.

    Example:
        >>> from tocha.text.data.utils import ngrams_iterator
        >>> list(ngrams_iterator(["a", "b", "c"], 3))
        ['a', 'b', 'c', 'a b', 'b c', 'a b c']
    """
    yield from token_list
    for n in range(2, ngrams + 1):
        for gram in zip(*[token_list[i:] for i in range(n)], strict=False):
            yield " ".join(gram)
