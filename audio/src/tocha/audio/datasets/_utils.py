"""Download (sha256-checked) and safe extraction shared by the datasets."""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import urllib.request
import zipfile


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_and_extract(url: str, sha256: str | None, root: str, name: str) -> None:
    """Fetch ``url`` into ``root`` (atomically), check its sha256, extract it there."""
    os.makedirs(root, exist_ok=True)
    archive = os.path.join(root, os.path.basename(url))
    if not os.path.exists(archive):
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".download-")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url) as resp:  # noqa: S310
                while block := resp.read(1 << 20):
                    out.write(block)
            os.replace(tmp, archive)
        except OSError as e:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise RuntimeError(
                f"{name}: could not download {url} ({e}); download it yourself and place it "
                f"at '{archive}'"
            ) from None
    if sha256 is not None:
        got = sha256_of(archive)
        if got != sha256:
            raise RuntimeError(
                f"{name}: '{archive}' has sha256 {got}, expected {sha256}; delete it and retry"
            )
    extract(archive, root, name)


def extract(archive: str, dest: str, name: str) -> None:
    """Extract a tar/zip archive, refusing members that would escape ``dest``."""
    dest_abs = os.path.abspath(dest)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for m in z.namelist():
                if not os.path.abspath(os.path.join(dest, m)).startswith(dest_abs + os.sep):
                    raise RuntimeError(f"{name}: unsafe path {m!r} in '{archive}'")
            z.extractall(dest)
        return
    try:
        with tarfile.open(archive) as t:
            t.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as e:
        raise RuntimeError(f"{name}: cannot extract '{archive}': {e}") from None


def missing(name: str, path: str, url: str | None, what: str) -> RuntimeError:
    how = f"pass download=True to fetch {url}, or " if url else ""
    return RuntimeError(f"{name}: dataset not found at '{path}'; {how}place {what} there")
