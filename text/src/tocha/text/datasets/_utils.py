"""Shared machinery of the torchtext-style datasets: root folders, split arguments, fetching
files (download with an MD5 check, or a clear offline error) and safe archive extraction."""

from __future__ import annotations

import hashlib
import os
import tarfile
import zipfile
from collections.abc import Callable, Sequence

from tocha.core import hub
from tocha.core.utils.data import Dataset


def default_root() -> str:
    """``$TOCHA_HOME/text`` (``TOCHA_HOME`` defaults to ``$XDG_CACHE_HOME/tocha`` or
    ``~/.cache/tocha``), the counterpart of torchtext's ``~/.torchtext/cache``."""
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.getenv("TOCHA_HOME", os.path.join(cache, "tocha"))
    return os.path.join(os.path.expanduser(home), "text")


class TextSplit(Dataset):
    """One split of a dataset, held in memory: indexable, iterable, with a length."""

    def __init__(self, name: str, split: str, examples: list) -> None:
        self.name = name
        self.split = split
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int):
        return self.examples[index]

    def __iter__(self):
        return iter(self.examples)

    def __repr__(self) -> str:
        return f"{self.name}(split={self.split!r}, examples={len(self.examples)})"


def wrap_split(name: str, split: str | Sequence[str], valid: Sequence[str], load: Callable):
    """Call ``load(split)`` for one split (str) or each of several (tuple of results)."""
    splits = [split] if isinstance(split, str) else list(split)
    for s in splits:
        if s not in valid:
            raise ValueError(f"{name}: unknown split {s!r}; valid splits are {tuple(valid)}")
    results = tuple(TextSplit(name, s, load(s)) for s in splits)
    return results[0] if isinstance(split, str) else results


def _md5(path: str) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(name: str, url: str, path: str, md5: str | None, wanted: str) -> str:
    """``path``, downloading ``url`` there first when it is missing.

    A file already in place is trusted (it may be the user's own copy); a downloaded one must
    match ``md5`` (the hash torchtext records) or it is deleted.

    Raises:
        RuntimeError: offline or failed download (saying which file to put where), or a hash
            mismatch.
    """
    if os.path.isfile(path):
        return path
    try:
        hub.download_url_to_file(url, path, progress=False)
    except RuntimeError as e:
        expect = f" (md5 {md5})" if md5 else ""
        raise RuntimeError(
            f"{name}: {wanted} is missing and could not be downloaded. Put {wanted} in place, "
            f"or download {url}{expect} and place it at {path}. ({e})"
        ) from None
    if md5 is not None:
        got = _md5(path)
        if got != md5:
            os.remove(path)
            raise RuntimeError(
                f"{name}: {url} downloaded with md5 {got}, expected {md5}; the file was "
                "deleted (corrupt download or a changed file)"
            )
    return path


def _inside(base: str, name: str) -> bool:
    if os.path.isabs(name):
        return False
    target = os.path.realpath(os.path.join(base, name))
    return target == base or target.startswith(base + os.sep)


def extract(archive: str, to: str) -> None:
    """Unpack a zip or tar archive into ``to``, refusing members that would land outside it."""
    base = os.path.realpath(to)
    os.makedirs(base, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                for n in z.namelist():
                    if not _inside(base, n):
                        raise RuntimeError(f"{archive}: member {n!r} would be written outside {to}")
                z.extractall(base)
            return
        with tarfile.open(archive, "r:*") as tar:
            for m in tar.getmembers():
                if not _inside(base, m.name) or not (m.isfile() or m.isdir()):
                    raise RuntimeError(
                        f"{archive}: member {m.name!r} is outside {to} or not a plain file"
                    )
            if hasattr(tarfile, "data_filter"):
                tar.extractall(base, filter="data")
            else:
                tar.extractall(base)  # noqa: S202 - every member was checked above
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise RuntimeError(f"{archive}: not a readable zip/tar archive: {e}") from None


def read_text(path: str, name: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except UnicodeDecodeError as e:
        raise RuntimeError(f"{name}: {path} is not UTF-8 text: {e}") from None
