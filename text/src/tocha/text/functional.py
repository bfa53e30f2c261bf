"""Functional text transforms (``torchtext.functional``).

Example:
    >>> from tocha.text import functional as F
    >>> F.to_tensor(F.add_token(F.truncate([[5, 6, 7], [8]], 2), 0), padding_value=1)
    tensor([[0, 5, 6],
            [0, 8, 1]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tocha.core as torch

__all__ = ["add_token", "str_to_int", "to_tensor", "truncate"]


def _is_flat(x: Any) -> bool:
    return isinstance(x, list) and (not x or not isinstance(x[0], list))


def to_tensor(input: Any, padding_value: int | None = None, dtype=torch.long) -> torch.Tensor:
    """A list of ids into a 1-D tensor, or a batch of lists into a 2-D one.

    Rows of a batch are padded to the longest with ``padding_value``; without it they must have
    equal lengths.

    Raises:
        TypeError: the input is not a list of ints or a list of lists.
        ValueError: unequal rows and no ``padding_value``.

    Example:
        >>> from tocha.text.functional import to_tensor
        >>> to_tensor([[1, 2], [3]], padding_value=0)
        tensor([[1, 2],
                [3, 0]])
    """
    if not isinstance(input, list):
        raise TypeError(f"to_tensor: input type not supported: {type(input).__name__}")
    if _is_flat(input):
        return torch.tensor(input, dtype=dtype)
    lengths = np.fromiter((len(r) for r in input), dtype=np.int64, count=len(input))
    width = int(lengths.max()) if len(lengths) else 0
    if padding_value is None:
        if len(lengths) and (lengths != width).any():
            raise ValueError(
                f"to_tensor: rows have lengths {int(lengths.min())}..{width}; pass padding_value"
            )
        return torch.tensor(input, dtype=dtype)
    np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
    out = np.full((len(input), width), padding_value, dtype=np_dtype)
    mask = np.arange(width)[None, :] < lengths[:, None]
    if lengths.sum():
        out[mask] = np.concatenate([np.asarray(r, dtype=np_dtype) for r in input if len(r)])
    return torch.from_numpy(out)


def truncate(input: Any, max_seq_len: int) -> Any:
    """Keep the first ``max_seq_len`` items of a list (or of each list in a batch).

    Example:
        >>> from tocha.text.functional import truncate
        >>> truncate([["a", "b", "c"], ["d"]], 2)
        [['a', 'b'], ['d']]
    """
    if not isinstance(input, list):
        raise TypeError(f"truncate: input type not supported: {type(input).__name__}")
    if _is_flat(input):
        return input[:max_seq_len]
    return [row[:max_seq_len] for row in input]


def add_token(input: Any, token_id: Any, begin: bool = True) -> Any:
    """Put ``token_id`` (an id or a token string) at the start (or end) of a list or each row.

    Example:
        >>> from tocha.text.functional import add_token
        >>> add_token([1, 2], 0), add_token([["a"], ["b"]], "</s>", begin=False)
        ([0, 1, 2], [['a', '</s>'], ['b', '</s>']])
    """
    if not isinstance(input, list):
        raise TypeError(f"add_token: input type not supported: {type(input).__name__}")
    if _is_flat(input):
        return [token_id, *input] if begin else [*input, token_id]
    if begin:
        return [[token_id, *row] for row in input]
    return [[*row, token_id] for row in input]


def str_to_int(input: Any) -> Any:
    """Convert a string (or a list of strings, possibly nested) to ints.

    Example:
        >>> from tocha.text.functional import str_to_int
        >>> str_to_int(["1", "22"])
        [1, 22]
    """
    if isinstance(input, str):
        return int(input)
    if isinstance(input, list):
        return [str_to_int(x) for x in input]
    raise TypeError(f"str_to_int: input type not supported: {type(input).__name__}")
