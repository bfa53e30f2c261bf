"""MovieLens readers and splits.

Readers return a dict of NumPy arrays ``user``, ``item`` (contiguous 0-based indices),
``rating``, ``timestamp`` plus the raw id of each index (``user_ids``, ``item_ids``).
Supported files: ml-100k ``u.data`` (tab separated, no header), ml-latest ``ratings.csv``
(header ``userId,movieId,rating,timestamp``) and RecBole atomic ``.inter`` files (typed
header such as ``user_id:token``). The real ml-100k ships with the ``recbole`` package:
:func:`recbole_ml100k_path` finds it without importing recbole.

Example:
    >>> import os
    >>> d = read_recbole_inter(recbole_ml100k_path())
    >>> len(d["rating"]), len(d["user_ids"]), len(d["item_ids"])
    (100000, 943, 1682)
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

__all__ = [
    "leave_one_out_split",
    "random_split",
    "read_ml100k_udata",
    "read_ml_latest_ratings",
    "read_recbole_inter",
    "recbole_ml100k_path",
    "temporal_split",
]


def recbole_ml100k_path() -> str:
    """Path of ``ml-100k.inter`` inside the installed ``recbole`` package."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "recbole_ml100k_path: the 'recbole' package is not installed (pip install recbole "
            "provides dataset_example/ml-100k/ml-100k.inter)"
        )
    path = os.path.join(
        spec.submodule_search_locations[0], "dataset_example", "ml-100k", "ml-100k.inter"
    )
    if not os.path.exists(path):
        raise FileNotFoundError(f"recbole_ml100k_path: {path} is missing from the recbole install")
    return path


def _index(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, inv = np.unique(raw, return_inverse=True)
    return inv.astype(np.int64), uniq


def _finish(users, items, ratings, ts) -> dict:
    u, uid = _index(users)
    i, iid = _index(items)
    return {
        "user": u,
        "item": i,
        "rating": ratings.astype(np.float32),
        "timestamp": ts.astype(np.int64),
        "user_ids": uid,
        "item_ids": iid,
    }


def _table(path: str, sep: str, skip: int, ncol: int) -> np.ndarray:
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()[skip:]
    rows = [ln.split(sep) for ln in lines if ln.strip()]
    bad = next((k for k, r in enumerate(rows) if len(r) < ncol), None)
    if bad is not None:
        raise ValueError(
            f"MovieLens reader: {path} line {bad + 1 + skip} has {len(rows[bad])} fields, "
            f"expected {ncol}"
        )
    return np.array([r[:ncol] for r in rows], dtype=object).astype(str)


def _num(col: np.ndarray, path: str, name: str, dtype) -> np.ndarray:
    try:
        return col.astype(np.float64).astype(dtype)
    except ValueError as e:
        raise ValueError(f"MovieLens reader: {path}: bad {name} value ({e})") from None


def read_ml100k_udata(path: str) -> dict:
    """Reads ml-100k ``u.data``: ``user item rating timestamp`` separated by tabs."""
    t = _table(path, "\t", 0, 4)
    return _finish(
        _num(t[:, 0], path, "user", np.int64),
        _num(t[:, 1], path, "item", np.int64),
        _num(t[:, 2], path, "rating", np.float32),
        _num(t[:, 3], path, "ts", np.int64),
    )


def read_ml_latest_ratings(path: str) -> dict:
    """Reads ml-latest(-small) ``ratings.csv``."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    if header[:4] != ["userId", "movieId", "rating", "timestamp"]:
        raise ValueError(f"MovieLens reader: {path} header {header} is not a ratings.csv header")
    t = _table(path, ",", 1, 4)
    return _finish(
        _num(t[:, 0], path, "user", np.int64),
        _num(t[:, 1], path, "item", np.int64),
        _num(t[:, 2], path, "rating", np.float32),
        _num(t[:, 3], path, "ts", np.int64),
    )


def read_recbole_inter(path: str) -> dict:
    """Reads a RecBole atomic ``.inter`` file with ``user_id``, ``item_id``, ``rating`` and
    ``timestamp`` columns (rating and timestamp optional)."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
    names = [h.split(":")[0] for h in header]
    for need in ("user_id", "item_id"):
        if need not in names:
            raise ValueError(f"read_recbole_inter: {path} has no {need} column (header {header})")
    t = _table(path, "\t", 1, len(names))
    col = {n: t[:, k] for k, n in enumerate(names)}
    n = t.shape[0]
    ratings = _num(col["rating"], path, "rating", np.float32) if "rating" in col else np.ones(n)
    ts = _num(col["timestamp"], path, "timestamp", np.int64) if "timestamp" in col else np.arange(n)
    return _finish(col["user_id"], col["item_id"], ratings, ts)


def random_split(n: int, test_fraction: float = 0.2, seed: int = 0) -> tuple:
    """Random train/test index split of ``n`` interactions."""
    perm = np.random.default_rng(seed).permutation(n)
    k = int(round(n * test_fraction))
    return np.sort(perm[k:]), np.sort(perm[:k])


def temporal_split(timestamps: np.ndarray, test_fraction: float = 0.2) -> tuple:
    """The latest ``test_fraction`` of interactions (by timestamp, stable) form the test set."""
    order = np.argsort(timestamps, kind="stable")
    k = int(round(len(order) * (1 - test_fraction)))
    return np.sort(order[:k]), np.sort(order[k:])


def leave_one_out_split(users: np.ndarray, timestamps: np.ndarray) -> tuple:
    """Each user's last interaction (by timestamp, ties by position) is the test set; the
    rest is training. Returns ``(train_idx, test_idx)``."""
    n = len(users)
    order = np.lexsort((np.arange(n), timestamps, users))
    last = np.r_[users[order][1:] != users[order][:-1], True]
    test = np.sort(order[last])
    mask = np.ones(n, dtype=bool)
    mask[test] = False
    return np.nonzero(mask)[0], test
