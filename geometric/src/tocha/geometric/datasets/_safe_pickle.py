"""A restricted unpickler for the Planetoid raw files (scipy sparse matrices, NumPy arrays and
a ``defaultdict`` of lists, often written by Python 2).

Only the reconstruction callables of those types are resolvable; any other global in the
stream raises ``pickle.UnpicklingError`` naming it, so a crafted file cannot run code.
"""

from __future__ import annotations

import _codecs
import collections
import importlib
import pickle

import numpy as np
import scipy.sparse as sp


def _numpy_attr(name: str):
    for mod in (
        "numpy._core.multiarray",
        "numpy.core.multiarray",
        "numpy._core.numeric",
        "numpy.core.numeric",
    ):
        try:
            obj = getattr(importlib.import_module(mod), name, None)
        except ImportError:  # pragma: no cover - depends on the NumPy version
            continue
        if obj is not None:
            return obj
    raise pickle.UnpicklingError(f"numpy has no {name}")  # pragma: no cover


_SPARSE = {
    "csr_matrix": sp.csr_matrix,
    "csc_matrix": sp.csc_matrix,
    "coo_matrix": sp.coo_matrix,
    "lil_matrix": sp.lil_matrix,
}
_SAFE_CLASSES = (*_SPARSE.values(), collections.defaultdict)


def _reconstructor(cls, base, state):
    # copyreg._reconstructor, limited to the allowed classes built on ``object``
    if cls not in _SAFE_CLASSES or base is not object:
        raise pickle.UnpicklingError(f"refusing to reconstruct {cls!r} from {base!r}")
    return object.__new__(cls)


def _allowed(module: str, name: str):
    if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in (
        "_reconstruct",
        "scalar",
    ):
        return _numpy_attr(name)
    if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
        return _numpy_attr(name)
    if module == "numpy" and name in ("ndarray", "dtype"):
        return getattr(np, name)
    if module == "_codecs" and name == "encode":
        return _codecs.encode
    if module == "collections" and name == "defaultdict":
        return collections.defaultdict
    if module in ("builtins", "__builtin__") and name in ("list", "dict", "set", "int", "object"):
        return {"list": list, "dict": dict, "set": set, "int": int, "object": object}[name]
    if module in ("copyreg", "copy_reg") and name == "_reconstructor":
        return _reconstructor
    if module.startswith("scipy.sparse") and name in _SPARSE:
        return _SPARSE[name]
    return None


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        obj = _allowed(module, name)
        if obj is None:
            raise pickle.UnpicklingError(
                f"global '{module}.{name}' is not allowed in a Planetoid raw file"
            )
        return obj


def safe_load(path: str):
    """Unpickle ``path`` allowing only NumPy / scipy.sparse / defaultdict reconstruction."""
    with open(path, "rb") as f:
        return SafeUnpickler(f, encoding="latin1").load()
