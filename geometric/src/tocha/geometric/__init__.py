"""tocha.geometric: the torch_geometric of tocha.

Submodules are imported on first access, so ``import tocha.geometric`` stays cheap.

Example:
    >>> import tocha.geometric
    >>> tocha.geometric.__version__
    '0.1.0'
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("data", "loader", "nn", "utils", "transforms", "datasets")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'tocha.geometric' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
