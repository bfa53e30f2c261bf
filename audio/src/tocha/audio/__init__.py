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

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'tocha.audio' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
