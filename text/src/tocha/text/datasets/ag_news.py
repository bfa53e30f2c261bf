"""AG News topic classification (``torchtext.datasets.AG_NEWS``)."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

from ._utils import default_root, fetch, wrap_split

URL = {
    "train": "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/train.csv",
    "test": "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/test.csv",
}
MD5 = {"train": "b1a00f826fdfbd249f79597b59e1dc12", "test": "d52ea96a97a2d943681189a97654912d"}
NUM_LINES = {"train": 120000, "test": 7600}
DATASET_NAME = "AG_NEWS"


def _load(root: str, split: str) -> list[tuple[int, str]]:
    path = os.path.join(root, f"{split}.csv")
    fetch(DATASET_NAME, URL[split], path, MD5[split], path)
    out = []
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        try:
            for row in reader:
                if not row:
                    continue
                try:
                    label = int(row[0])
                except ValueError:
                    raise RuntimeError(
                        f"{DATASET_NAME}: {path}: line {reader.line_num}: label {row[0]!r} is "
                        "not an integer (expected rows: class index, title, description)"
                    ) from None
                out.append((label, " ".join(row[1:])))
        except csv.Error as e:
            raise RuntimeError(f"{DATASET_NAME}: {path}: line {reader.line_num}: {e}") from None
    return out


def AG_NEWS(root: str | None = None, split: str | Sequence[str] = ("train", "test")):  # noqa: N802
    """AG News: ``(label, text)`` with label 1..4 (World, Sports, Business, Sci/Tech) and text
    the title and description joined by a space.

    Files: ``root/AG_NEWS/{train,test}.csv`` (downloaded and MD5-checked when missing).

    Args:
        root: data folder (default: ``$TOCHA_HOME/text``).
        split: ``"train"``, ``"test"`` or a tuple of them (then a tuple of datasets).

    Example:
        >>> import os, tempfile
        >>> from tocha.text.datasets import AG_NEWS
        >>> root = tempfile.mkdtemp()
        >>> os.makedirs(os.path.join(root, "AG_NEWS"))
        >>> _ = open(os.path.join(root, "AG_NEWS", "test.csv"), "w").write(
        ...     '"3","Stocks up","Markets rallied."\\n')
        >>> list(AG_NEWS(root, split="test"))
        [(3, 'Stocks up Markets rallied.')]
    """
    base = os.path.join(os.fspath(root) if root is not None else default_root(), DATASET_NAME)
    return wrap_split(DATASET_NAME, split, ("train", "test"), lambda s: _load(base, s))
