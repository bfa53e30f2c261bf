"""tocha.core.nn.functional (torch.nn.functional): one family per private file, each exporting
``__all__``; everything is re-exported here, as ``import torch.nn.functional as F`` expects."""

from __future__ import annotations

import importlib as _importlib

__all__: list = []
_FILES = [
    "_activation",
    "_linear",
    "_dropout",
    "_embedding",
    "_normalization",
    "_loss",
    "_conv",
    "_pooling",
    "_padding",
    "_vision",
    "_attention",
    "_distance",
]
for _name in _FILES:
    try:
        _mod = _importlib.import_module(f".{_name}", __name__)
    except ModuleNotFoundError as _e:
        if _e.name != f"{__name__}.{_name}":
            raise
        continue
    for _sym in _mod.__all__:
        globals()[_sym] = getattr(_mod, _sym)
        __all__.append(_sym)
