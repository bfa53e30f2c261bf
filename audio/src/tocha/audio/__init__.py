"""tocha.audio: the torchaudio of tocha.

Submodules are imported on first access, so ``import tocha.audio`` stays cheap.

Example:
    >>> import tocha.audio
    >>> tocha.audio.__version__
    '0.1.0'
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("functional", "transforms", "datasets", "models", "pipelines", "compliance", "io")

# torchaudio's top-level I/O functions, resolved from ``io`` on first use.
_IO_NAMES = ("load", "save", "info", "AudioMetaData", "list_audio_backends")

__all__ = ["__version__", *_SUBMODULES, *_IO_NAMES]


def list_audio_backends() -> list[str]:
    """The available I/O backends: only ``'soundfile'`` (libsndfile)."""
    return ["soundfile"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _IO_NAMES:
        return getattr(importlib.import_module(f"{__name__}.io"), name)
    raise AttributeError(f"module 'tocha.audio' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_IO_NAMES))
