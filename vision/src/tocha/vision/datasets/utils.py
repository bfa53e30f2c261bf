"""Download, integrity-check and unpack dataset files (``torchvision.datasets.utils``).

Downloads go through :func:`tocha.core.hub.download_url_to_file` (atomic, SHA-256 checked as
the bytes arrive). torchvision's catalogues record MD5 sums, so ``md5=`` is checked too; every
function also takes ``sha256=``. When a download fails, the error says which file to place in
which folder so that the same call works offline.

Archive extraction refuses, before writing anything, any member that would land outside the
target folder (absolute names, ``..`` components, links pointing out, device files).

Example:
    >>> import os, tempfile, zipfile
    >>> from tocha.vision.datasets.utils import extract_archive, check_integrity
    >>> d = tempfile.mkdtemp()
    >>> with zipfile.ZipFile(os.path.join(d, "a.zip"), "w") as z:
    ...     z.writestr("sub/x.txt", "hello")
    >>> out = extract_archive(os.path.join(d, "a.zip"))
    >>> open(os.path.join(out, "sub", "x.txt")).read()
    'hello'
    >>> check_integrity(os.path.join(out, "sub", "x.txt"), md5="5d41402abc4b2a76b9719d911017c592")
    True
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import pathlib
import tarfile
import zipfile
from collections.abc import Iterable

from tocha.core import hub

__all__ = [
    "calculate_md5",
    "check_md5",
    "check_integrity",
    "download_url",
    "download_and_extract_archive",
    "extract_archive",
    "iterable_to_str",
    "list_dir",
    "list_files",
    "verify_str_arg",
]

_CHUNK = 1024 * 1024


def _hash_file(fpath, algo: str) -> str:
    h = hashlib.new(algo)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def calculate_md5(fpath, chunk_size: int = _CHUNK) -> str:
    """The hex MD5 of a file's bytes."""
    return _hash_file(fpath, "md5")


def check_md5(fpath, md5: str, **kwargs) -> bool:
    """Whether the file's MD5 equals ``md5``."""
    return md5.lower() == calculate_md5(fpath, **kwargs)


def check_integrity(fpath, md5: str | None = None, *, sha256: str | None = None) -> bool:
    """Whether ``fpath`` is a file and matches the given checksums (none given: it exists)."""
    if not os.path.isfile(fpath):
        return False
    if md5 is not None and not check_md5(fpath, md5):
        return False
    return sha256 is None or _hash_file(fpath, "sha256") == sha256.lower()


def _expected(md5, sha256) -> str:
    parts = [f"md5 {md5}" if md5 else "", f"sha256 {sha256}" if sha256 else ""]
    return ", ".join(p for p in parts if p)


def download_url(
    url: str,
    root,
    filename: str | None = None,
    md5: str | None = None,
    max_redirect_hops: int = 3,
    *,
    sha256: str | None = None,
    progress: bool = True,
) -> None:
    """Download ``url`` into ``root/filename`` unless a verified copy is already there.

    Raises:
        RuntimeError: the download failed (the message names the file to place by hand and
            where), or the downloaded file does not match ``md5``/``sha256``.

    Example:
        >>> import os, pathlib, tempfile
        >>> d = tempfile.mkdtemp()
        >>> src = os.path.join(d, "src.bin")
        >>> _ = open(src, "wb").write(b"abc")
        >>> download_url(pathlib.Path(src).as_uri(), os.path.join(d, "out"), "copy.bin",
        ...              sha256="ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ...              progress=False)
        >>> open(os.path.join(d, "out", "copy.bin"), "rb").read()
        b'abc'
    """
    root = os.path.expanduser(os.fspath(root))
    filename = filename or os.path.basename(url.rstrip("/"))
    fpath = os.path.join(root, filename)
    os.makedirs(root, exist_ok=True)
    if check_integrity(fpath, md5, sha256=sha256):
        return
    expected = _expected(md5, sha256)
    try:
        hub.download_url_to_file(url, fpath, progress=progress, sha256=sha256)
    except RuntimeError as e:
        # core's message already says where to place the file; add the MD5 it must have.
        extra = f" ({expected})" if md5 else ""
        raise RuntimeError(f"download_url: {e}{extra}") from e
    if md5 is not None and not check_md5(fpath, md5):
        got = calculate_md5(fpath)
        os.remove(fpath)
        raise RuntimeError(
            f"download_url: {url} gave a file with md5 {got}, expected {md5}: the download is "
            f"corrupt or not the file expected; place a correct {filename} in {root}"
        )


def list_dir(root, prefix: bool = False) -> list[str]:
    """The folders directly in ``root`` (full paths when ``prefix``)."""
    root = os.path.expanduser(os.fspath(root))
    dirs = [p for p in os.listdir(root) if os.path.isdir(os.path.join(root, p))]
    return [os.path.join(root, d) for d in dirs] if prefix else dirs


def list_files(root, suffix, prefix: bool = False) -> list[str]:
    """The files directly in ``root`` whose names end with ``suffix`` (a string or tuple)."""
    root = os.path.expanduser(os.fspath(root))
    files = [
        p for p in os.listdir(root) if os.path.isfile(os.path.join(root, p)) and p.endswith(suffix)
    ]
    return [os.path.join(root, f) for f in files] if prefix else files


_COMPRESSORS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tar.xz", ".txz")


def _inside(base: str, name: str) -> bool:
    """Whether ``name`` (relative to ``base``) resolves to a path within ``base``."""
    if os.path.isabs(name) or name.startswith(("/", "\\")):
        return False
    target = os.path.realpath(os.path.join(base, name))
    return target == base or target.startswith(base + os.sep)


def _escape_error(archive, member: str, to_path: str, why: str) -> RuntimeError:
    return RuntimeError(
        f"extract_archive: member {member!r} of {archive} {why} outside {to_path}; "
        "refusing to extract this archive"
    )


def _check_tar(tar: tarfile.TarFile, archive, base: str) -> None:
    for m in tar.getmembers():
        if not _inside(base, m.name):
            raise _escape_error(archive, m.name, base, "would be written")
        if m.issym():
            # A symlink's target is relative to the folder holding the link.
            link = os.path.join(os.path.dirname(m.name), m.linkname)
            if os.path.isabs(m.linkname) or not _inside(base, link):
                raise _escape_error(archive, m.name, base, f"links to {m.linkname!r}")
        elif m.islnk():
            if not _inside(base, m.linkname):
                raise _escape_error(archive, m.name, base, f"hard-links to {m.linkname!r}")
        elif not (m.isfile() or m.isdir()):
            raise _escape_error(archive, m.name, base, "is a device or fifo, not allowed")


def _extract_tar(from_path, to_path: str) -> None:
    with tarfile.open(from_path, "r:*") as tar:
        _check_tar(tar, from_path, os.path.realpath(to_path))
        if hasattr(tarfile, "data_filter"):  # belt and braces where Python has the filter
            tar.extractall(to_path, filter="data")
        else:
            tar.extractall(to_path)  # noqa: S202 - every member was checked above


def _extract_zip(from_path, to_path: str) -> None:
    base = os.path.realpath(to_path)
    with zipfile.ZipFile(from_path) as z:
        for name in z.namelist():
            if not _inside(base, name) or ".." in pathlib.PurePosixPath(name).parts:
                raise _escape_error(from_path, name, base, "would be written")
        z.extractall(to_path)


def _decompress(from_path: str, to_path: str | None, suffix: str) -> str:
    out = to_path or from_path[: -len(suffix)]
    if os.path.isdir(out):
        out = os.path.join(out, os.path.basename(from_path)[: -len(suffix)])
    with _COMPRESSORS[suffix](from_path, "rb") as src, open(out, "wb") as dst:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            dst.write(chunk)
    return out


def extract_archive(from_path, to_path=None, remove_finished: bool = False) -> str:
    """Unpack a tar (optionally gz/bz2/xz), zip, or a single .gz/.bz2/.xz file.

    Returns the folder extracted into (for archives) or the decompressed file's path.

    Raises:
        RuntimeError: a member would be written outside ``to_path`` (nothing is extracted).
        ValueError: the suffix is not a known archive or compression.
    """
    from_path = os.fspath(from_path)
    to_path = os.fspath(to_path) if to_path is not None else os.path.dirname(from_path)
    lower = from_path.lower()
    if lower.endswith(_TAR_SUFFIXES):
        os.makedirs(to_path, exist_ok=True)
        _extract_tar(from_path, to_path)
        result = to_path
    elif lower.endswith(".zip"):
        os.makedirs(to_path, exist_ok=True)
        _extract_zip(from_path, to_path)
        result = to_path
    else:
        suffix = next((s for s in _COMPRESSORS if lower.endswith(s)), None)
        if suffix is None:
            raise ValueError(
                f"extract_archive: cannot tell the archive type of {from_path}; known suffixes "
                f"are {', '.join(_TAR_SUFFIXES + ('.zip',) + tuple(_COMPRESSORS))}"
            )
        result = _decompress(from_path, to_path if os.path.isdir(to_path) else None, suffix)
    if remove_finished:
        os.remove(from_path)
    return result


def download_and_extract_archive(
    url: str,
    download_root,
    extract_root=None,
    filename: str | None = None,
    md5: str | None = None,
    remove_finished: bool = False,
    *,
    sha256: str | None = None,
    progress: bool = True,
) -> None:
    """:func:`download_url` into ``download_root``, then :func:`extract_archive` it."""
    download_root = os.path.expanduser(os.fspath(download_root))
    extract_root = download_root if extract_root is None else os.fspath(extract_root)
    filename = filename or os.path.basename(url.rstrip("/"))
    download_url(url, download_root, filename, md5, sha256=sha256, progress=progress)
    extract_archive(os.path.join(download_root, filename), extract_root, remove_finished)


def iterable_to_str(iterable: Iterable) -> str:
    return "'" + "', '".join(str(item) for item in iterable) + "'"


def verify_str_arg(value, arg: str | None = None, valid_values=None, custom_msg=None) -> str:
    """Check that ``value`` is a string among ``valid_values``; return it.

    Example:
        >>> verify_str_arg("train", "split", ("train", "test"))
        'train'
    """
    if not isinstance(value, str):
        msg = "Expected type str" + (f" for argument {arg}," if arg is not None else ",")
        raise ValueError(f"{msg} but got type {type(value)}.")
    if valid_values is None or value in valid_values:
        return value
    if custom_msg is not None:
        raise ValueError(custom_msg)
    raise ValueError(
        f"Unknown value '{value}' for argument {arg}. "
        f"Valid values are {{{iterable_to_str(valid_values)}}}."
    )
