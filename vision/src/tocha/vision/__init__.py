"""tocha.vision: the torchvision of tocha (``import tocha.vision as torchvision``).

Submodules follow torchvision's paths: ``io``, ``tv_tensors``, ``transforms`` (and
``transforms.v2``), ``datasets``, ``models``, ``ops`` and ``utils``. They are imported on first
access, so ``import tocha.vision`` stays cheap.

Example:
    >>> import tocha.vision as torchvision
    >>> torchvision.__version__
    '0.1.0'
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("io", "tv_tensors", "transforms", "datasets", "models", "ops", "utils")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'tocha.vision' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
