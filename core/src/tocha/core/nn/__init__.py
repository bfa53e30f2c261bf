"""tocha.core.nn: modules, layers and losses (torch.nn)."""

from __future__ import annotations

import importlib as _importlib

from . import functional, init  # noqa: F401
from .modules import *  # noqa: F403
from .modules import __all__ as _modules_all
from .parameter import Buffer, Parameter, UninitializedParameter  # noqa: F401

__all__ = ["Parameter", "Buffer", "functional", "init", "parallel", "utils", *_modules_all]


def __getattr__(name):
    if name in ("utils", "parallel"):
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
