"""tocha.rec: the torchrec of tocha.

Submodules are imported on first access, so ``import tocha.rec`` stays cheap.

Example:
    >>> import tocha.rec
    >>> tocha.rec.__version__
    '0.1.0'
    >>> import tocha.rec as torchrec
    >>> torchrec.KeyedJaggedTensor is torchrec.sparse.jagged_tensor.KeyedJaggedTensor
    True
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("sparse", "modules", "models", "datasets", "metrics", "distributed", "optim")

# torchrec's top-level names, each resolved from its submodule on first access
_NAMES = {
    "JaggedTensor": "sparse.jagged_tensor",
    "KeyedJaggedTensor": "sparse.jagged_tensor",
    "KeyedTensor": "sparse.jagged_tensor",
    "EmbeddingBagCollection": "modules.embedding_modules",
    "EmbeddingCollection": "modules.embedding_modules",
    "EmbeddingBagConfig": "modules.embedding_configs",
    "EmbeddingConfig": "modules.embedding_configs",
    "PoolingType": "modules.embedding_configs",
    "DataType": "modules.embedding_configs",
    "DistributedModelParallel": "distributed.model_parallel",
}

__all__ = ["__version__", *_SUBMODULES, *_NAMES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'tocha.rec' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_NAMES))
