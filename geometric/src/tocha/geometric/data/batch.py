"""``Batch``: many graphs as one disconnected graph (torch_geometric.data.Batch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tocha.core as torch

from ..utils._arrays import to_tensor
from .data import Data

_BATCH_CLASSES: dict[type, type] = {}


def _norm_dim(dim: int, ndim: int) -> int:
    return dim + ndim if dim < 0 else dim


def batch_class_for(data_cls: type) -> type:
    """The ``<Name>Batch`` class for graphs of class ``data_cls`` (a subclass of both)."""
    batch_cls = _BATCH_CLASSES.get(data_cls)
    if batch_cls is None:
        batch_cls = type(f"{data_cls.__name__}Batch", (Batch, data_cls), {})
        _BATCH_CLASSES[data_cls] = batch_cls
    return batch_cls


class Batch(Data):
    """A batch of graphs stored as one big graph, with ``batch`` (graph id of every node) and
    ``ptr`` (node offsets, length ``num_graphs + 1``).

    Built with :meth:`from_data_list`; :meth:`to_data_list` and :meth:`get_example` undo it.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Batch, Data
        >>> g = Data(x=torch.ones(3, 2), edge_index=torch.tensor([[0, 1], [1, 2]]))
        >>> b = Batch.from_data_list([g, g])
        >>> b
        DataBatch(x=[6, 2], edge_index=[2, 4], batch=[6], ptr=[3])
        >>> b.edge_index.tolist()
        [[0, 1, 3, 4], [1, 2, 4, 5]]
        >>> b.num_graphs, b.get_example(1).edge_index.tolist()
        (2, [[0, 1], [1, 2]])
    """

    @classmethod
    def from_data_list(
        cls,
        data_list: Sequence[Data],
        follow_batch: Sequence[str] | None = None,
        exclude_keys: Sequence[str] | None = None,
    ) -> Batch:
        """Concatenate ``data_list`` into one batch; attributes are joined along their
        declared ``cat_dim`` and offset by their declared increment."""
        if len(data_list) == 0:
            raise ValueError("Batch.from_data_list: data_list is empty")
        first = data_list[0]
        from .hetero_data import HeteroData

        if isinstance(first, HeteroData):
            from .hetero_batch import HeteroDataBatch

            return HeteroDataBatch.from_data_list(data_list, follow_batch, exclude_keys)
        data_cls = type(first)
        if isinstance(first, Batch):
            data_cls = first._data_cls
        batch_cls = batch_class_for(data_cls)
        out = batch_cls.__new__(batch_cls)
        object.__setattr__(out, "_store", {})
        object.__setattr__(out, "_batching", dict(first._batching))
        exclude = set(exclude_keys or ())
        follow = set(follow_batch or ())
        g = len(data_list)
        keys: dict[str, None] = {}
        for d in data_list:
            for k in d.keys():  # noqa: SIM118 (Data iterates over (key, value) pairs)
                if k not in exclude:
                    keys[k] = None

        num_nodes = np.array([d.num_nodes or 0 for d in data_list], dtype=np.int64)
        slice_dict: dict[str, Any] = {}
        inc_dict: dict[str, Any] = {}
        for key in keys:
            values = [d._store.get(key) for d in data_list]
            if any(v is None for v in values):
                raise ValueError(
                    f"Batch.from_data_list: attribute '{key}' is missing from some graphs"
                )
            v0 = values[0]
            if key == "num_nodes":
                out._store[key] = int(num_nodes.sum())
                continue
            if isinstance(v0, torch.Tensor):
                cat_dim = first.__cat_dim__(key, v0)
                incs = np.array(
                    [int(d.__inc__(key, v)) for d, v in zip(data_list, values, strict=True)],
                    dtype=np.int64,
                )
                if cat_dim is None or v0.dim() == 0:
                    value = torch.stack(values, 0)
                    sizes = np.ones(g, dtype=np.int64)
                    dim = 0
                else:
                    dim = _norm_dim(cat_dim, v0.dim())
                    value = torch.cat(values, dim) if g > 1 else v0
                    sizes = np.array([v.shape[dim] for v in values], dtype=np.int64)
                cum_inc = np.concatenate([[0], np.cumsum(incs)[:-1]])
                if incs.any():
                    shape = [1] * value.dim()
                    shape[dim] = -1
                    offs = np.repeat(cum_inc, sizes).reshape(shape).astype(np.int64)
                    value = value + to_tensor(offs, value.device).to(value.dtype)
                out._store[key] = value
                slice_dict[key] = np.concatenate([[0], np.cumsum(sizes)])
                inc_dict[key] = cum_inc
                if key in follow:
                    out._store[f"{key}_batch"] = to_tensor(np.repeat(np.arange(g), sizes))
                    out._store[f"{key}_ptr"] = to_tensor(slice_dict[key].copy())
            elif isinstance(v0, (bool, int, float)) and not isinstance(v0, str):
                out._store[key] = torch.tensor(values)
                slice_dict[key] = np.arange(g + 1)
                inc_dict[key] = None
            else:
                out._store[key] = list(values)
                slice_dict[key] = np.arange(g + 1)
                inc_dict[key] = None

        dev = first.device
        out._store["batch"] = to_tensor(np.repeat(np.arange(g, dtype=np.int64), num_nodes), dev)
        out._store["ptr"] = to_tensor(np.concatenate([[0], np.cumsum(num_nodes)]), dev)
        out._slice_dict = slice_dict
        out._inc_dict = inc_dict
        out._num_graphs = g
        out._data_cls = data_cls
        return out

    # bookkeeping lives outside the attribute store so it never shows up in keys()
    def __setattr__(self, key: str, value: Any) -> None:
        if key in ("_slice_dict", "_inc_dict", "_num_graphs", "_data_cls"):
            object.__setattr__(self, key, value)
        else:
            super().__setattr__(key, value)

    def __getstate__(self):
        state = super().__getstate__()
        for k in ("_slice_dict", "_inc_dict", "_num_graphs", "_data_cls"):
            state[k] = self.__dict__.get(k)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        for k in ("_slice_dict", "_inc_dict", "_num_graphs", "_data_cls"):
            object.__setattr__(self, k, state.get(k))

    def __copy__(self):
        out = super().__copy__()
        for k in ("_slice_dict", "_inc_dict", "_num_graphs", "_data_cls"):
            object.__setattr__(out, k, self.__dict__.get(k))
        return out

    def clone(self):
        out = super().clone()
        for k in ("_slice_dict", "_inc_dict", "_num_graphs", "_data_cls"):
            object.__setattr__(out, k, self.__dict__.get(k))
        return out

    @property
    def num_graphs(self) -> int:
        """Number of graphs in the batch."""
        n = self.__dict__.get("_num_graphs")
        if n is not None:
            return n
        ptr = self._store.get("ptr")
        if ptr is not None:
            return int(ptr.numel()) - 1
        b = self._store.get("batch")
        return int(b.max().item()) + 1 if b is not None and b.numel() else 0

    def __len__(self) -> int:
        return self.num_graphs

    def get_example(self, idx: int) -> Data:
        """Graph ``idx`` as it was before batching."""
        slice_dict = self.__dict__.get("_slice_dict")
        if slice_dict is None:
            raise RuntimeError(
                "Batch.get_example: this batch was not built by Batch.from_data_list, so it "
                "cannot be split back into graphs"
            )
        g = self.num_graphs
        if idx < 0:
            idx += g
        if not 0 <= idx < g:
            raise IndexError(f"Batch.get_example: index {idx} out of range for {g} graphs")
        data_cls = self._data_cls
        out = data_cls.__new__(data_cls)
        object.__setattr__(out, "_store", {})
        object.__setattr__(out, "_batching", dict(self._batching))
        for key, value in self._store.items():
            if key not in slice_dict:
                if key == "num_nodes":
                    ptr = self._store["ptr"]
                    out._store[key] = int((ptr[idx + 1] - ptr[idx]).item())
                continue
            sl = slice_dict[key]
            start, stop = int(sl[idx]), int(sl[idx + 1])
            if isinstance(value, list):
                out._store[key] = value[idx]
                continue
            v0 = value
            cat_dim = self.__cat_dim__(key, v0)
            if cat_dim is None:
                part = value[idx]
            else:
                dim = _norm_dim(cat_dim, value.dim()) if value.dim() else 0
                part = value.narrow(dim, start, stop - start)
            inc = self._inc_dict[key]
            if inc is not None and inc[idx] != 0:
                part = part - int(inc[idx])
            out._store[key] = part
        return out

    def to_data_list(self) -> list[Data]:
        """All graphs of the batch, in order."""
        return [self.get_example(i) for i in range(self.num_graphs)]

    def index_select(self, idx) -> list[Data]:
        """The graphs at ``idx`` (slice, index list, tensor or bool mask)."""
        g = self.num_graphs
        if isinstance(idx, slice):
            ids = list(range(g))[idx]
        else:
            a = np.asarray(idx.tolist() if isinstance(idx, torch.Tensor) else idx)
            ids = np.flatnonzero(a).tolist() if a.dtype == np.bool_ else a.astype(int).tolist()
        return [self.get_example(i) for i in ids]

    def __getitem__(self, idx):
        if isinstance(idx, str):
            return super().__getitem__(idx)
        if isinstance(idx, (int, np.integer)):
            return self.get_example(int(idx))
        return self.index_select(idx)


__all__ = ["Batch"]
