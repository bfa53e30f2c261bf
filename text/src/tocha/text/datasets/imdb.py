"""IMDB movie-review sentiment (``torchtext.datasets.IMDB``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ._utils import default_root, extract, fetch, read_text, wrap_split

URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
NUM_LINES = {"train": 25000, "test": 25000}
DATASET_NAME = "IMDB"
_LABELS = (("neg", 1), ("pos", 2))


def _load(base: str, split: str) -> list[tuple[int, str]]:
    folder = os.path.join(base, "aclImdb", split)
    if not all(os.path.isdir(os.path.join(folder, lab)) for lab, _ in _LABELS):
        archive = os.path.join(base, "aclImdb_v1.tar.gz")
        fetch(DATASET_NAME, URL, archive, MD5, f"the folders {folder}/{{neg,pos}}")
        extract(archive, base)
        if not os.path.isdir(folder):
            raise RuntimeError(f"{DATASET_NAME}: {archive} has no aclImdb/{split} folder")
    out = []
    for lab, value in _LABELS:
        d = os.path.join(folder, lab)
        if not os.path.isdir(d):
            raise RuntimeError(f"{DATASET_NAME}: missing folder {d}")
        for name in sorted(os.listdir(d)):
            if name.endswith(".txt"):
                text = read_text(os.path.join(d, name), DATASET_NAME)
                out.append((value, " ".join(text.split("\n")).strip()))
    return out


def IMDB(root: str | None = None, split: str | Sequence[str] = ("train", "test")):  # noqa: N802
    """IMDB reviews: ``(label, text)`` with label 1 (negative) or 2 (positive).

    Files: ``root/IMDB/aclImdb/{train,test}/{neg,pos}/*.txt`` (the layout of the official
    archive; ``root/IMDB/aclImdb_v1.tar.gz`` is extracted, or downloaded and MD5-checked,
    when the folders are missing). Negative reviews come first, files in name order.

    Args:
        root: data folder (default: ``$TOCHA_HOME/text``).
        split: ``"train"``, ``"test"`` or a tuple of them.

    Example:
        >>> import os, tempfile
        >>> from tocha.text.datasets import IMDB
        >>> root = tempfile.mkdtemp()
        >>> for lab, text in [("neg", "Dull."), ("pos", "Great fun!")]:
        ...     d = os.path.join(root, "IMDB", "aclImdb", "test", lab)
        ...     os.makedirs(d)
        ...     _ = open(os.path.join(d, "0_1.txt"), "w").write(text)
        >>> list(IMDB(root, split="test"))
        [(1, 'Dull.'), (2, 'Great fun!')]
    """
    base = os.path.join(os.fspath(root) if root is not None else default_root(), DATASET_NAME)
    return wrap_split(DATASET_NAME, split, ("train", "test"), lambda s: _load(base, s))
