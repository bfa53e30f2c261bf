"""The nn layers, one family per file; each file exports ``__all__``."""

from __future__ import annotations

import importlib as _importlib

__all__: list = []
_FILES = [
    "module",
    "container",
    "linear",
    "activation",
    "dropout",
    "sparse",
    "normalization",
    "batchnorm",
    "loss",
    "conv",
    "pooling",
    "padding",
    "upsampling",
    "pixelshuffle",
    "fold",
    "distance",
    "flatten",
    "channelshuffle",
    "rnn",
    "transformer",
    "attention",
]
for _name in _FILES:
    try:
        _mod = _importlib.import_module(f".{_name}", __name__)
    except ModuleNotFoundError as _e:  # a family not written yet
        if _e.name != f"{__name__}.{_name}":
            raise
        continue
    for _sym in _mod.__all__:
        globals()[_sym] = getattr(_mod, _sym)
        __all__.append(_sym)
