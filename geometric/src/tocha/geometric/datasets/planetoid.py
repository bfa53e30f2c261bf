"""``Planetoid``: Cora, CiteSeer and PubMed from their raw ``ind.<name>.*`` files."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

import tocha.core as torch

from ..data import Data, InMemoryDataset
from ..utils._arrays import to_np, to_tensor
from ..utils.coalesce import coalesce
from ._download import fetch
from ._safe_pickle import safe_load

_URL = "https://github.com/kimiyoung/planetoid/raw/master/data"
_NAMES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


def _dense(obj, path: str) -> np.ndarray:
    if hasattr(obj, "toarray"):
        obj = obj.toarray()
    a = np.asarray(obj)
    if a.ndim != 2:
        raise ValueError(f"Planetoid: {path} holds an array of shape {a.shape}, expected 2-D")
    return a.astype(np.float32)


def read_planetoid_data(folder: str, prefix: str) -> Data:
    """Parse ``ind.<prefix>.{x,tx,allx,y,ty,ally,graph,test.index}`` in ``folder``."""
    items = {}
    for name in _NAMES:
        path = os.path.join(folder, f"ind.{prefix.lower()}.{name}")
        if name == "test.index":
            try:
                items[name] = np.loadtxt(path, dtype=np.int64, ndmin=1)
            except ValueError as e:
                raise ValueError(f"Planetoid: {path} is not a list of integers ({e})") from e
            continue
        try:
            obj = safe_load(path)
        except FileNotFoundError:
            raise
        except Exception as e:
            raise ValueError(f"Planetoid: cannot read {path}: {e}") from e
        items[name] = obj if name == "graph" else _dense(obj, path)
    tx, allx = items["tx"], items["allx"]
    y, ty, ally = items["y"], items["ty"], items["ally"]
    graph, test_index = items["graph"], items["test.index"]
    if not isinstance(graph, dict):
        raise ValueError(f"Planetoid: ind.{prefix}.graph holds {type(graph).__name__}, not a dict")
    sorted_test = np.sort(test_index)
    if prefix.lower() == "citeseer":
        # isolated test nodes have no row in tx/ty: give them zero rows
        span = int(test_index.max() - test_index.min()) + 1
        tx_ext = np.zeros((span, tx.shape[1]), tx.dtype)
        tx_ext[sorted_test - test_index.min()] = tx
        ty_ext = np.zeros((span, ty.shape[1]), ty.dtype)
        ty_ext[sorted_test - test_index.min()] = ty
        tx, ty = tx_ext, ty_ext
    feats = np.concatenate([allx, tx], 0)
    feats[test_index] = feats[sorted_test]
    labels = np.concatenate([ally, ty], 0).argmax(1).astype(np.int64)
    labels[test_index] = labels[sorted_test]
    n = labels.shape[0]
    masks = {}
    for key, idx in (
        ("train_mask", np.arange(y.shape[0])),
        ("val_mask", np.arange(y.shape[0], y.shape[0] + 500)),
        ("test_mask", test_index),
    ):
        m = np.zeros(n, dtype=bool)
        m[idx[idx < n]] = True
        masks[key] = m
    keys = np.fromiter(graph.keys(), dtype=np.int64, count=len(graph))
    lens = np.fromiter((len(v) for v in graph.values()), dtype=np.int64, count=len(graph))
    cols = np.fromiter(
        (c for v in graph.values() for c in v), dtype=np.int64, count=int(lens.sum())
    )
    ei = np.stack([np.repeat(keys, lens), cols])
    ei = ei[:, ei[0] != ei[1]]  # the raw graphs contain duplicates and self-loops
    edge_index = coalesce(to_tensor(ei), num_nodes=n, sort_by_row=False)
    return Data(
        x=to_tensor(feats),
        edge_index=edge_index,
        y=to_tensor(labels),
        **{k: to_tensor(v) for k, v in masks.items()},
    )


class Planetoid(InMemoryDataset):
    """The citation networks Cora, CiteSeer and PubMed (Yang et al., 2016).

    Raw files are read from ``<root>/<name>/raw/ind.<name>.*``; missing files are downloaded
    from the Planetoid repository (offline, the error names the file and where it goes). The
    pickled raw files are read by a restricted unpickler that only rebuilds NumPy arrays,
    scipy sparse matrices and the adjacency dict.

    Args:
        root: dataset folder.
        name: ``'Cora'``, ``'CiteSeer'`` or ``'PubMed'``.
        split: ``'public'`` (the fixed Planetoid split), ``'full'`` (all non-val/test nodes
            train) or ``'random'`` (``num_train_per_class`` per class, ``num_val``,
            ``num_test``, drawn from tocha's global generator).
    """

    def __init__(
        self,
        root: str,
        name: str,
        split: str = "public",
        num_train_per_class: int = 20,
        num_val: int = 500,
        num_test: int = 1000,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        force_reload: bool = False,
    ):
        self.name = name
        self.split = split.lower()
        if self.split not in ("public", "full", "random"):
            raise ValueError(
                f"Planetoid: split must be 'public', 'full' or 'random', got {split!r}"
            )
        super().__init__(root, transform, pre_transform)
        data = read_planetoid_data(self.raw_dir, self.name)
        if self.split == "full":
            data.train_mask = ~(data.val_mask | data.test_mask)
        elif self.split == "random":
            y = to_np(data.y)
            train = np.zeros(y.shape[0], dtype=bool)
            for c in range(int(y.max()) + 1):
                idx = np.flatnonzero(y == c)
                train[idx[to_np(torch.randperm(idx.size))[:num_train_per_class]]] = True
            rest = np.flatnonzero(~train)
            rest = rest[to_np(torch.randperm(rest.size))]
            val = np.zeros_like(train)
            val[rest[:num_val]] = True
            test = np.zeros_like(train)
            test[rest[num_val : num_val + num_test]] = True
            data.train_mask, data.val_mask, data.test_mask = map(to_tensor, (train, val, test))
        self.load_list([data])

    @property
    def raw_dir(self) -> str:
        return os.path.join(self.root, self.name, "raw")

    @property
    def raw_file_names(self) -> list[str]:
        return [f"ind.{self.name.lower()}.{n}" for n in _NAMES]

    def download(self) -> None:
        for f in self.raw_file_names:
            dst = os.path.join(self.raw_dir, f)
            if not os.path.exists(dst):
                fetch(f"{_URL}/{f}", dst, "Planetoid")

    def __repr__(self) -> str:
        return f"{self.name}()"
