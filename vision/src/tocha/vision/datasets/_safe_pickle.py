"""Load pickled dataset files without running code from them.

CIFAR's "python version" batches are pickles of dicts holding lists, strings, bytes and NumPy
arrays. :func:`pickle.load` would import and call any global the file names; here
:meth:`_RestrictedUnpickler.find_class` resolves only the few NumPy functions that rebuild an
array (each wrapped so it can only ever produce a plain ``ndarray``/``dtype``/scalar). Any other
global (``os.system``, ``builtins.eval``, a class with a ``__setstate__``, ...) raises
:class:`pickle.UnpicklingError` naming the global and the file, before anything is called.
"""

from __future__ import annotations

import codecs
import io
import pickle

import numpy as np

__all__ = ["restricted_load"]


def _reconstruct(subtype, shape, dtype_char):
    # numpy's own _reconstruct(ndarray, (0,), b'b'); BUILD then calls ndarray.__setstate__,
    # which only copies bytes into the array.
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"only numpy.ndarray may be rebuilt, not {subtype!r}")
    return np.ndarray.__new__(np.ndarray, shape, dtype_char)


def _frombuffer(buf, dtype, shape, order):
    # Protocol-5 pickles of arrays (numpy >= 1.16): the bytes come in-band.
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order).copy()


def _dtype(obj, align=False, copy=False):
    return np.dtype(obj, align=align, copy=copy)


def _scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError(f"only plain numpy scalars may be rebuilt, not {dtype!r}")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _encode(text, encoding="latin1"):
    # Protocol-2 pickles written by Python 3 store bytes as _codecs.encode(str, 'latin1').
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError("_codecs.encode is allowed only as str -> latin-1 bytes")
    return text.encode("latin1")


_ALLOWED = {}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = _reconstruct
    _ALLOWED[(_mod, "scalar")] = _scalar
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = _frombuffer
_ALLOWED[("numpy", "ndarray")] = np.ndarray
_ALLOWED[("numpy", "dtype")] = _dtype
_ALLOWED[("_codecs", "encode")] = _encode


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, name: str, encoding: str):
        super().__init__(file, encoding=encoding)
        self._name = name

    def find_class(self, module: str, name: str):
        fn = _ALLOWED.get((module, name))
        if fn is None:
            raise pickle.UnpicklingError(
                f"{self._name}: the pickle refers to the global {module}.{name}, which is not "
                "allowed in a dataset file (only dicts, lists, strings, bytes and NumPy arrays "
                "are rebuilt; nothing from the file is imported or called)"
            )
        return fn

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(f"{self._name}: persistent ids are not allowed ({pid!r})")


def restricted_load(path, encoding: str = "latin1"):
    """Unpickle ``path`` allowing only plain containers, strings, bytes and NumPy arrays."""
    with open(path, "rb") as f:
        data = f.read()
    return _RestrictedUnpickler(io.BytesIO(data), str(path), encoding).load()
