"""The two sparse kernels of every embedding lookup, on SciPy's compiled CSR/CSC loops.

``pool``: ``out = S @ W`` and ``accumulate_rows``: ``W += alpha * S.T @ G`` where ``S`` (bags x
rows) is given by bag ``offsets``, row ``ids`` and per-id ``coef``. The second runs in place
over the touched rows only (repeated ids accumulate), so neither a dense gradient nor a
de-duplication pass is needed for SGD or for a dense ``.grad``. SciPy's ``_sparsetools`` loops
(``Y += A @ X``) are used directly; where they are missing or the dtype is not float32/64, the
public ``scipy.sparse`` product does the same with a temporary.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

try:  # the compiled loops behind scipy.sparse's matrix products
    from scipy.sparse import _sparsetools as _st
except ImportError:  # pragma: no cover - very old or very new SciPy
    _st = None

__all__ = ["accumulate_rows", "pool"]

_FAST = (np.dtype(np.float32), np.dtype(np.float64))


def _fast(*arrays) -> bool:
    dt = arrays[0].dtype
    return (
        _st is not None
        and dt in _FAST
        and all(a.dtype == dt and a.flags.c_contiguous for a in arrays)
    )


def pool(w: np.ndarray, offsets: np.ndarray, ids: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``out[b] = sum_{i in bag b} coef[i] * w[ids[i]]`` for every bag.

    Example:
        >>> w = np.arange(6, dtype=np.float32).reshape(3, 2)
        >>> pool(w, np.array([0, 2, 3]), np.array([0, 2, 1]), np.ones(3, np.float32))
        array([[4., 6.],
               [2., 3.]], dtype=float32)
    """
    nb = offsets.shape[0] - 1
    coef = coef.astype(w.dtype, copy=False)
    if _fast(w, coef):
        out = np.zeros((nb, w.shape[1]), dtype=w.dtype)
        _st.csr_matvecs(
            nb, w.shape[0], w.shape[1], offsets, ids, coef, w.reshape(-1), out.reshape(-1)
        )
        return out
    s = sp.csr_matrix((coef, ids, offsets), shape=(nb, w.shape[0]))
    return np.asarray(s @ w, dtype=w.dtype)


def accumulate_rows(
    w: np.ndarray,
    offsets: np.ndarray,
    ids: np.ndarray,
    coef: np.ndarray,
    g: np.ndarray,
    alpha: float = 1.0,
) -> None:
    """In place: ``w[ids[i]] += alpha * coef[i] * g[bag(i)]`` for every id (repeats add up).

    Example:
        >>> w = np.zeros((3, 2), np.float32)
        >>> g = np.array([[1.0, 1.0], [2.0, 2.0]], np.float32)
        >>> accumulate_rows(w, np.array([0, 2, 3]), np.array([0, 0, 2]), np.ones(3, np.float32), g)
        >>> w.tolist()
        [[2.0, 2.0], [0.0, 0.0], [2.0, 2.0]]
    """
    nb = offsets.shape[0] - 1
    data = (
        (coef * alpha).astype(w.dtype, copy=False)
        if alpha != 1.0
        else coef.astype(w.dtype, copy=False)
    )
    g = np.ascontiguousarray(g, dtype=w.dtype)
    if _fast(w, data, g):
        _st.csc_matvecs(
            w.shape[0], nb, w.shape[1], offsets, ids, data, g.reshape(-1), w.reshape(-1)
        )
        return
    s = sp.csr_matrix((data, ids, offsets), shape=(nb, w.shape[0]))
    u = np.unique(ids)
    w[u] += np.asarray((s.T @ g)[u], dtype=w.dtype)
