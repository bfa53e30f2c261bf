"""``Dataset`` and ``InMemoryDataset`` (torch_geometric.data), minus on-disk processed caches.

Raw files are parsed on construction (the formats tocha.geometric reads parse in well under a
second for the standard benchmarks), so nothing is pickled to ``processed/`` and loading never
executes code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import tocha.core as torch

from .batch import Batch
from .data import Data


def _as_list(x) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


class Dataset:
    """Base class of graph datasets (torch_geometric.data.Dataset).

    Subclasses implement :meth:`len` and :meth:`get`; ``raw_file_names`` and
    :meth:`download` are consulted when a ``root`` is given. ``transform`` is applied to every
    item on access, ``pre_transform`` / ``pre_filter`` once when the data is first built.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data, Dataset
        >>> class Tiny(Dataset):
        ...     def len(self):
        ...         return 3
        ...     def get(self, idx):
        ...         return Data(x=torch.full((idx + 1, 2), float(idx)))
        >>> ds = Tiny()
        >>> len(ds), ds[2].num_nodes, len(ds[1:])
        (3, 3, 2)
    """

    def __init__(
        self,
        root: str | None = None,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        pre_filter: Callable | None = None,
        log: bool = True,
        force_reload: bool = False,
    ):
        self.root = os.path.expanduser(root) if root is not None else None
        self.transform = transform
        self.pre_transform = pre_transform
        self.pre_filter = pre_filter
        self.log = log
        self._indices: Sequence[int] | None = None
        self.force_reload = force_reload
        if self.root is not None and self._has_download():
            self._download()
        if self.root is not None and type(self).process is not Dataset.process:
            self._process()

    # -- to override ---------------------------------------------------------------------
    @property
    def raw_file_names(self) -> str | list[str]:
        return []

    @property
    def processed_file_names(self) -> str | list[str]:
        return []

    def download(self) -> None:
        raise NotImplementedError

    def process(self) -> None:
        pass

    def len(self) -> int:
        raise NotImplementedError

    def get(self, idx: int) -> Data:
        raise NotImplementedError

    # -- paths -------------------------------------------------------------------------
    @property
    def raw_dir(self) -> str:
        return os.path.join(self.root, "raw")

    @property
    def processed_dir(self) -> str:
        return os.path.join(self.root, "processed")

    @property
    def raw_paths(self) -> list[str]:
        return [os.path.join(self.raw_dir, f) for f in _as_list(self.raw_file_names)]

    @property
    def processed_paths(self) -> list[str]:
        return [os.path.join(self.processed_dir, f) for f in _as_list(self.processed_file_names)]

    def _process(self) -> None:
        paths = self.processed_paths
        if paths and all(os.path.exists(p) for p in paths) and not self.force_reload:
            return
        os.makedirs(self.processed_dir, exist_ok=True)
        self.process()

    def _has_download(self) -> bool:
        return type(self).download is not Dataset.download

    def _download(self) -> None:
        if all(os.path.exists(p) for p in self.raw_paths):
            return
        os.makedirs(self.raw_dir, exist_ok=True)
        self.download()

    # -- access --------------------------------------------------------------------------
    def indices(self) -> Sequence[int]:
        return range(self.len()) if self._indices is None else self._indices

    def __len__(self) -> int:
        return len(self.indices())

    def __getitem__(self, idx):
        if isinstance(idx, (int, np.integer)) or (isinstance(idx, torch.Tensor) and idx.dim() == 0):
            data = self.get(self.indices()[int(idx)])
            return data if self.transform is None else self.transform(data)
        return self.index_select(idx)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def index_select(self, idx) -> Dataset:
        """A view of the dataset restricted to ``idx`` (slice, indices, tensor or mask)."""
        indices = self.indices()
        if isinstance(idx, slice):
            sel = list(indices)[idx]
        else:
            a = idx.cpu().numpy() if isinstance(idx, torch.Tensor) else np.asarray(idx)
            if a.dtype == np.bool_:
                a = np.flatnonzero(a)
            sel = [indices[int(i)] for i in a]
        out = self.__class__.__new__(self.__class__)
        out.__dict__ = dict(self.__dict__)
        out._indices = sel
        return out

    def shuffle(self, return_perm: bool = False):
        """A randomly permuted view (uses tocha's global generator)."""
        perm = torch.randperm(len(self))
        ds = self.index_select(perm)
        return (ds, perm) if return_perm else ds

    def _first(self) -> Data:
        data = self[0]
        return data[0] if isinstance(data, tuple) else data

    @property
    def num_node_features(self) -> int:
        return self._first().num_node_features

    @property
    def num_features(self) -> int:
        return self.num_node_features

    @property
    def num_edge_features(self) -> int:
        return self._first().num_edge_features

    @property
    def num_classes(self) -> int:
        """Classes in ``y``: ``max + 1`` for integer labels, else the last dimension."""
        data = self.__dict__.get("_data")
        if data is not None:
            y = data.y
        else:
            ys = [self.get(i).y for i in self.indices()]
            ys = [y for y in ys if y is not None]
            y = torch.cat([y.reshape(-1) if y.dim() <= 1 else y for y in ys], 0) if ys else None
        if y is None or y.numel() == 0:
            return 0
        if y.numel() == y.shape[0] and not y.is_floating_point():
            return int(y.max().item()) + 1
        return int(y.shape[-1])

    def __repr__(self) -> str:
        n = len(self)
        return f"{type(self).__name__}({n if n > 1 else ''})"


class InMemoryDataset(Dataset):
    """A dataset held in memory as one collated :class:`~tocha.geometric.data.Batch`.

    Subclasses build a list of :class:`Data` and call ``self.data, self.slices =
    self.collate(data_list)`` (or ``self.load_list(data_list)``), as in PyG.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data, InMemoryDataset
        >>> graphs = [Data(x=torch.ones(n, 1), y=torch.tensor([n % 2])) for n in (2, 3, 4)]
        >>> ds = InMemoryDataset.from_data_list(graphs)
        >>> len(ds), ds[1].num_nodes, ds.num_classes
        (3, 3, 2)
    """

    def __init__(
        self,
        root: str | None = None,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        pre_filter: Callable | None = None,
        log: bool = True,
        force_reload: bool = False,
    ):
        self._data: Data | None = None
        self.slices: dict[str, Any] | None = None
        super().__init__(root, transform, pre_transform, pre_filter, log, force_reload)

    @classmethod
    def from_data_list(cls, data_list: Sequence[Data], transform=None) -> InMemoryDataset:
        """An in-memory dataset of ``data_list``."""
        ds = cls.__new__(cls)
        InMemoryDataset.__init__(ds, None, transform)
        ds.load_list(list(data_list))
        return ds

    @staticmethod
    def collate(data_list: Sequence[Data]) -> tuple[Data, dict | None]:
        """``(data, slices)``: one graph as is, several as a Batch with its slice table."""
        if len(data_list) == 1:
            return data_list[0], None
        b = Batch.from_data_list(data_list)
        return b, b._slice_dict

    @classmethod
    def save(cls, data_list: Sequence[Data], path: str) -> None:
        """Write ``data_list`` to ``path`` in tocha's checkpoint format (safetensors + JSON,
        no pickle), for :meth:`load`."""
        data, slices = cls.collate(list(data_list))
        record: dict[str, Any] = {"format": "tocha.geometric.InMemoryDataset/1"}
        record["store"] = dict(data._store)
        if slices is not None:
            record["slices"] = {k: torch.from_numpy(np.asarray(v)) for k, v in slices.items()}
            record["incs"] = {
                k: torch.from_numpy(np.asarray(v))
                for k, v in data._inc_dict.items()
                if v is not None
            }
            record["num_graphs"] = data.num_graphs
        torch.save(record, path)

    def load(self, path: str, data_cls: type = Data) -> None:
        """Read a file written by :meth:`save` (loading never executes code)."""
        record = torch.load(path)
        if not isinstance(record, dict) or record.get("format") != (
            "tocha.geometric.InMemoryDataset/1"
        ):
            raise ValueError(f"{type(self).__name__}.load: {path} was not written by save()")
        store = record["store"]
        if "slices" not in record:
            data = data_cls.__new__(data_cls)
            object.__setattr__(data, "_store", dict(store))
            object.__setattr__(data, "_batching", {})
            self._data, self.slices = data, None
            return
        from .batch import batch_class_for

        batch_cls = batch_class_for(data_cls)
        data = batch_cls.__new__(batch_cls)
        object.__setattr__(data, "_store", dict(store))
        object.__setattr__(data, "_batching", {})
        slices = {k: v.numpy() for k, v in record["slices"].items()}
        incs = {k: record["incs"][k].numpy() if k in record["incs"] else None for k in slices}
        data._slice_dict, data._inc_dict = slices, incs
        data._num_graphs, data._data_cls = int(record["num_graphs"]), data_cls
        self._data, self.slices = data, slices

    def load_list(self, data_list: list[Data]) -> None:
        """Apply ``pre_filter`` / ``pre_transform`` and hold ``data_list`` collated."""
        if self.pre_filter is not None:
            data_list = [d for d in data_list if self.pre_filter(d)]
        if self.pre_transform is not None:
            data_list = [self.pre_transform(d) for d in data_list]
        self._data, self.slices = self.collate(data_list)

    @property
    def data(self) -> Data:
        return self._data

    @data.setter
    def data(self, value: Data) -> None:
        self._data = value

    def len(self) -> int:
        if self._data is None:
            return 0
        if self.slices is None:
            return 1
        return self._data.num_graphs

    def get(self, idx: int) -> Data:
        if self.slices is None:
            if idx != 0:
                raise IndexError(f"{type(self).__name__}: index {idx} out of range for 1 graph")
            return self._data.clone()
        return self._data.get_example(idx)

    def __getattr__(self, key: str):
        # dataset.x, dataset.edge_index ... read through to the collated data as in PyG
        if key.startswith("_") or key in ("slices", "transform"):
            raise AttributeError(key)
        data = self.__dict__.get("_data")
        if data is not None and key in data:
            return data[key]
        raise AttributeError(f"'{type(self).__name__}' has no attribute '{key}'")


__all__ = ["Dataset", "InMemoryDataset"]
