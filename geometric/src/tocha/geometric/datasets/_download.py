"""Fetching raw dataset files, with an offline error that says what to put where."""

from __future__ import annotations

import os
import zipfile

from tocha.core.hub import download_url_to_file


def fetch(url: str, dst: str, what: str, sha256: str | None = None) -> str:
    """Download ``url`` to ``dst`` (checked against ``sha256`` when known)."""
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    try:
        download_url_to_file(url, dst, progress=False, sha256=sha256)
    except Exception as e:  # network errors come in many types; all mean the same here
        raise RuntimeError(
            f"{what}: could not download {url} ({type(e).__name__}: {e}). Without network "
            f"access, download it elsewhere and put it at {dst}"
        ) from e
    return dst


def extract_zip(path: str, folder: str) -> None:
    """Extract ``path`` into ``folder``, refusing members that would land outside it."""
    root = os.path.realpath(folder)
    with zipfile.ZipFile(path) as z:
        for member in z.namelist():
            target = os.path.realpath(os.path.join(folder, member))
            if not target.startswith(root + os.sep) and target != root:
                raise RuntimeError(f"extract_zip: {path} has an unsafe member path {member!r}")
        z.extractall(folder)
