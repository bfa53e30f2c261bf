"""WikiText-2 and WikiText-103 language-modelling corpora (``torchtext.datasets``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ._utils import default_root, extract, fetch, read_text, wrap_split

_SPECS = {
    "WikiText2": {
        "url": "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
        "md5": "542ccefacc6c27f945fb54453812b3cd",
        "folder": "wikitext-2",
        "num_lines": {"train": 36718, "valid": 3760, "test": 4358},
    },
    "WikiText103": {
        "url": "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-v1.zip",
        "md5": "9ddaacaf6af0710eda8c456decff7832",
        "folder": "wikitext-103",
        "num_lines": {"train": 1801350, "valid": 3760, "test": 4358},
    },
}


def _load(name: str, base: str, split: str) -> list[str]:
    spec = _SPECS[name]
    path = os.path.join(base, spec["folder"], f"wiki.{split}.tokens")
    if not os.path.isfile(path):
        archive = os.path.join(base, os.path.basename(spec["url"]))
        fetch(name, spec["url"], archive, spec["md5"], path)
        extract(archive, base)
        if not os.path.isfile(path):
            raise RuntimeError(f"{name}: {archive} has no {spec['folder']}/wiki.{split}.tokens")
    # lines keep their "\n", as torchtext yields them
    return read_text(path, name).splitlines(keepends=True)


def _make(name: str, root, split):
    base = os.path.join(os.fspath(root) if root is not None else default_root(), name)
    return wrap_split(name, split, ("train", "valid", "test"), lambda s: _load(name, base, s))


def WikiText2(root: str | None = None, split: str | Sequence[str] = ("train", "valid", "test")):  # noqa: N802
    """WikiText-2: the lines (with their ``"\\n"``) of ``wiki.{split}.tokens``.

    Files: ``root/WikiText2/wikitext-2/wiki.{train,valid,test}.tokens`` (from
    ``root/WikiText2/wikitext-2-v1.zip``, downloaded and MD5-checked when missing).

    Args:
        root: data folder (default: ``$TOCHA_HOME/text``).
        split: ``"train"``, ``"valid"``, ``"test"`` or a tuple of them.

    Example:
        >>> import os, tempfile
        >>> from tocha.text.datasets import WikiText2
        >>> root = tempfile.mkdtemp()
        >>> os.makedirs(os.path.join(root, "WikiText2", "wikitext-2"))
        >>> p = os.path.join(root, "WikiText2", "wikitext-2", "wiki.valid.tokens")
        >>> _ = open(p, "w").write(" \\n = Robert = \\n \\n He was born . \\n")
        >>> list(WikiText2(root, split="valid"))[1]
        ' = Robert = \\n'
    """
    return _make("WikiText2", root, split)


def WikiText103(  # noqa: N802
    root: str | None = None, split: str | Sequence[str] = ("train", "valid", "test")
):
    """WikiText-103: as :func:`WikiText2`, from ``root/WikiText103/wikitext-103/``.

    Example:
        >>> import tempfile
        >>> from tocha.text.datasets import WikiText103
        >>> WikiText103(tempfile.mkdtemp(), split="dev")
        Traceback (most recent call last):
        ...
        ValueError: WikiText103: unknown split 'dev'; valid splits are ('train', 'valid', 'test')
    """
    return _make("WikiText103", root, split)
