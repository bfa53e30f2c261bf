"""SST-2 binary sentiment from GLUE (``torchtext.datasets.SST2``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ._utils import default_root, extract, fetch, read_text, wrap_split

URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
MD5 = "9f81648d4199384278b86e315dac217c"
NUM_LINES = {"train": 67349, "dev": 872, "test": 1821}
DATASET_NAME = "SST2"


def _load(base: str, split: str) -> list[tuple]:
    path = os.path.join(base, "SST-2", f"{split}.tsv")
    if not os.path.isfile(path):
        archive = os.path.join(base, "SST-2.zip")
        fetch(DATASET_NAME, URL, archive, MD5, path)
        extract(archive, base)
        if not os.path.isfile(path):
            raise RuntimeError(f"{DATASET_NAME}: {archive} has no SST-2/{split}.tsv")
    lines = read_text(path, DATASET_NAME).splitlines()[1:]  # the first line is a header
    out: list[tuple] = []
    for n, line in enumerate(lines, 2):
        if not line.strip():
            continue
        cols = line.split("\t")
        if split == "test":
            # test.tsv is "index<TAB>sentence", without labels
            if len(cols) < 2:
                raise RuntimeError(f"{DATASET_NAME}: {path}: line {n}: expected index, sentence")
            out.append((cols[1].strip(),))
        else:
            try:
                out.append((cols[0].strip(), int(cols[1])))
            except (IndexError, ValueError):
                raise RuntimeError(
                    f"{DATASET_NAME}: {path}: line {n}: expected 'sentence<TAB>label(0/1)', "
                    f"got {line[:80]!r}"
                ) from None
    return out


def SST2(root: str | None = None, split: str | Sequence[str] = ("train", "dev", "test")):  # noqa: N802
    """SST-2: ``(text, label)`` with label 0 (negative) / 1 (positive); ``test`` gives
    ``(text,)`` only.

    Files: ``root/SST2/SST-2/{train,dev,test}.tsv`` (from ``root/SST2/SST-2.zip``, downloaded
    and MD5-checked when missing).

    Args:
        root: data folder (default: ``$TOCHA_HOME/text``).
        split: ``"train"``, ``"dev"``, ``"test"`` or a tuple of them.

    Example:
        >>> import os, tempfile
        >>> from tocha.text.datasets import SST2
        >>> root = tempfile.mkdtemp()
        >>> os.makedirs(os.path.join(root, "SST2", "SST-2"))
        >>> _ = open(os.path.join(root, "SST2", "SST-2", "dev.tsv"), "w").write(
        ...     "sentence\\tlabel\\nit 's a charming journey . \\t1\\n")
        >>> SST2(root, split="dev")[0]
        ("it 's a charming journey .", 1)
    """
    base = os.path.join(os.fspath(root) if root is not None else default_root(), DATASET_NAME)
    return wrap_split(DATASET_NAME, split, ("train", "dev", "test"), lambda s: _load(base, s))
