"""Criteo TSV reader (torchrec.datasets.criteo names).

Each line: label, 13 integer features, 26 categorical features as 32-bit hex strings, tab
separated; empty fields are missing. Dense features become ``log(1 + max(x, 0))``; each
categorical is hashed into ``hash_size`` rows (one id per feature, missing -> length 0).
Files are read in chunks of ``batch_size`` lines, so memory is bounded by one chunk.

Example:
    >>> import tempfile, os
    >>> line = "1\\t" + "\\t".join(["3"] * 13) + "\\t" + "\\t".join(["68fd1e64"] * 26) + "\\n"
    >>> path = os.path.join(tempfile.mkdtemp(), "day_0.tsv")
    >>> _ = open(path, "w").write(line * 3)
    >>> b = next(iter(CriteoIterDataPipe([path], batch_size=2, hash_size=1000)))
    >>> b.dense_features.shape, b.sparse_features.stride(), b.labels.tolist()
    (torch.Size([2, 13]), 2, [1.0, 1.0])
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

import tocha.core as torch

from ..modules.hashing import hash_ids
from ..sparse.jagged_tensor import KeyedJaggedTensor
from .utils import Batch

__all__ = [
    "CAT_FEATURE_COUNT",
    "DEFAULT_CAT_NAMES",
    "DEFAULT_INT_NAMES",
    "DEFAULT_LABEL_NAME",
    "INT_FEATURE_COUNT",
    "CriteoIterDataPipe",
    "parse_criteo_lines",
]

INT_FEATURE_COUNT = 13
CAT_FEATURE_COUNT = 26
DEFAULT_LABEL_NAME = "label"
DEFAULT_INT_NAMES = [f"int_{i}" for i in range(INT_FEATURE_COUNT)]
DEFAULT_CAT_NAMES = [f"cat_{i}" for i in range(CAT_FEATURE_COUNT)]
_NCOL = 1 + INT_FEATURE_COUNT + CAT_FEATURE_COUNT


def _hex_to_int(cells: np.ndarray) -> np.ndarray:
    """Vectorised hex decoding of 8-character cells; other widths fall back per cell."""
    flat = cells.reshape(-1)
    if flat.size and np.all(np.char.str_len(flat) == 8):
        raw = bytes.fromhex("".join(flat.tolist()))
        return np.frombuffer(raw, dtype=">u4").astype(np.int64).reshape(cells.shape)
    return np.array([int(c, 16) for c in flat], dtype=np.int64).reshape(cells.shape)


def parse_criteo_lines(
    lines: list[str],
    hash_size: int | list[int] = 0,
    hash_method: str = "modulo",
    source: str = "<lines>",
    first_line: int = 1,
) -> Batch:
    """Parses Criteo TSV lines into a Batch (dense log1p, hashed categorical KJT)."""
    rows = [ln.rstrip("\r\n").split("\t") for ln in lines]
    bad = [i for i, r in enumerate(rows) if len(r) != _NCOL]
    if bad:
        i = bad[0]
        raise ValueError(
            f"Criteo reader: {source} line {first_line + i} has {len(rows[i])} fields, "
            f"expected {_NCOL}"
        )
    a = np.array(rows, dtype=object).astype(str) if rows else np.empty((0, _NCOL), str)
    try:
        ints = np.where(a[:, : 1 + INT_FEATURE_COUNT] == "", "0", a[:, : 1 + INT_FEATURE_COUNT])
        ints = ints.astype(np.int64)
        cats = a[:, 1 + INT_FEATURE_COUNT :]
        present = cats != ""
        cat_ids = _hex_to_int(np.where(present, cats, "00000000"))
    except ValueError as e:
        raise ValueError(f"Criteo reader: {source} near line {first_line}: {e}") from None
    labels = ints[:, 0].astype(np.float32)
    dense = np.log1p(np.maximum(ints[:, 1:], 0)).astype(np.float32)
    # key-major: all rows of cat_0, then cat_1 ...
    present_t = present.T
    ids = cat_ids.T[present_t]
    lengths = present_t.astype(np.int32).reshape(-1)
    if hash_size:
        sizes = [hash_size] * CAT_FEATURE_COUNT if isinstance(hash_size, int) else list(hash_size)
        per_key = present_t.sum(1)
        bounds = np.r_[0, np.cumsum(per_key)]
        for k, n in enumerate(sizes):
            ids[bounds[k] : bounds[k + 1]] = hash_ids(
                ids[bounds[k] : bounds[k + 1]], n, hash_method
            )
    kjt = KeyedJaggedTensor.from_lengths_sync(
        DEFAULT_CAT_NAMES, torch.from_numpy(ids), torch.from_numpy(lengths)
    )
    return Batch(torch.from_numpy(dense), kjt, torch.from_numpy(labels))


class CriteoIterDataPipe:
    """Streams Batches from Criteo TSV files.

    Args:
        paths: TSV files, read in order.
        batch_size: lines per batch (the last batch of a file may be smaller).
        hash_size: rows per categorical table (one int for all, a list per feature, or 0 to
            keep the raw 32-bit ids).
        hash_method: ``'modulo'`` (default) or ``'splitmix64'``.
    """

    def __init__(
        self,
        paths: list[str],
        batch_size: int = 8192,
        hash_size: int | list[int] = 0,
        hash_method: str = "modulo",
    ) -> None:
        self.paths = [str(p) for p in paths]
        self.batch_size = batch_size
        self.hash_size = hash_size
        self.hash_method = hash_method

    def __iter__(self) -> Iterator[Batch]:
        for path in self.paths:
            with open(path, encoding="ascii", errors="strict") as f:
                line_no = 1
                while True:
                    lines = list(itertools.islice(f, self.batch_size))
                    if not lines:
                        break
                    yield parse_criteo_lines(lines, self.hash_size, self.hash_method, path, line_no)
                    line_no += len(lines)
