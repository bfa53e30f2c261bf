"""Batching ``HeteroData`` graphs: every node and edge type is batched on its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tocha.core as torch

from ..utils._arrays import to_tensor
from .data import Data
from .hetero_data import HeteroData


def _is_node_index(key: str) -> bool:
    # the same declarations as homogeneous graphs: edge_index & co hold node ids
    return Data.batching.get(key) is not None and Data.batching[key].inc == "num_nodes"


def _collate(values: list, offsets: np.ndarray | None):
    """(joined value, slice boundaries) for one attribute of one store; ``offsets`` is
    ``[g]`` (added everywhere) or ``[g, 2]`` (added to row 0 / row 1 of an edge index)."""
    g = len(values)
    v0 = values[0]
    if not isinstance(v0, torch.Tensor):
        if isinstance(v0, (bool, int, float)):
            return torch.tensor(values), np.arange(g + 1), 0
        return list(values), np.arange(g + 1), 0
    if v0.dim() == 0:
        return torch.stack(values, 0), np.arange(g + 1), 0
    dim = v0.dim() - 1 if offsets is not None and offsets.ndim == 2 else 0
    sizes = np.array([v.shape[dim] for v in values], dtype=np.int64)
    value = torch.cat(values, dim) if g > 1 else v0
    if offsets is not None and offsets.any():
        if offsets.ndim == 2:  # rows of an edge index: [2, E]
            offs = np.repeat(offsets, sizes, axis=0).T
        else:
            offs = np.repeat(offsets, sizes).reshape(-1, *([1] * (value.dim() - 1)))
        value = value + to_tensor(np.ascontiguousarray(offs), value.device).to(value.dtype)
    return value, np.concatenate([[0], np.cumsum(sizes)]), dim


class HeteroDataBatch(HeteroData):
    """Several ``HeteroData`` graphs as one: each node store gets ``batch`` and ``ptr``, each
    edge store's ``edge_index`` rows are offset by the source / target node counts of the
    graphs before it. Built by ``Batch.from_data_list`` when given ``HeteroData`` objects.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Batch, HeteroData
        >>> h = HeteroData()
        >>> h['a'].x = torch.ones(2, 1)
        >>> h['b'].x = torch.ones(3, 1)
        >>> h['a', 'to', 'b'].edge_index = torch.tensor([[0, 1], [2, 0]])
        >>> b = Batch.from_data_list([h, h])
        >>> b['a', 'to', 'b'].edge_index.tolist(), b['b'].batch.tolist()
        ([[0, 1, 2, 3], [2, 0, 5, 3]], [0, 0, 0, 1, 1, 1])
        >>> b.get_example(1)['a', 'to', 'b'].edge_index.tolist()
        [[0, 1], [2, 0]]
    """

    @classmethod
    def from_data_list(
        cls,
        data_list: Sequence[HeteroData],
        follow_batch: Sequence[str] | None = None,
        exclude_keys: Sequence[str] | None = None,
    ) -> HeteroDataBatch:
        g = len(data_list)
        exclude = set(exclude_keys or ())
        out = cls()
        slices: dict[Any, dict[str, np.ndarray]] = {}
        incs: dict[Any, dict[str, np.ndarray]] = {}
        node_counts: dict[str, np.ndarray] = {}
        first = data_list[0]
        for nt in first.node_types:
            counts = np.array([d[nt].num_nodes or 0 for d in data_list], dtype=np.int64)
            node_counts[nt] = counts
        stores = [(t, True) for t in first.node_types] + [(t, False) for t in first.edge_types]
        for t, is_node in stores:
            store = out[t]
            slices[t], incs[t] = {}, {}
            for key in first[t].keys():  # noqa: SIM118 (stores iterate over items)
                if key in exclude:
                    continue
                values = [d[t].get(key) for d in data_list]
                if any(v is None for v in values):
                    raise ValueError(
                        f"Batch.from_data_list: attribute '{key}' of {t} is missing from "
                        f"some graphs"
                    )
                if key == "num_nodes":
                    store.num_nodes = int(node_counts[t].sum())
                    continue
                offsets = None
                if not is_node and _is_node_index(key):
                    src, _, dst = t
                    cum = [
                        np.concatenate([[0], np.cumsum(node_counts[x])[:-1]]) for x in (src, dst)
                    ]
                    offsets = np.stack(cum, 1)
                value, sl, _ = _collate(values, offsets)
                store[key] = value
                slices[t][key] = sl
                incs[t][key] = offsets
                if follow_batch and key in follow_batch:
                    store[f"{key}_batch"] = to_tensor(np.repeat(np.arange(g), np.diff(sl)))
                    store[f"{key}_ptr"] = to_tensor(sl.copy())
            if is_node:
                counts = node_counts[t]
                store.batch = to_tensor(np.repeat(np.arange(g, dtype=np.int64), counts))
                store.ptr = to_tensor(np.concatenate([[0], np.cumsum(counts)]))
        for key in first._global:
            if key not in exclude:
                value, sl, _ = _collate([d._global[key] for d in data_list], None)
                out._global[key] = value
                slices.setdefault(None, {})[key] = sl
        object.__setattr__(out, "_slices", slices)
        object.__setattr__(out, "_incs", incs)
        object.__setattr__(out, "_num_graphs", g)
        return out

    def __setattr__(self, key: str, value: Any) -> None:
        if key in ("_slices", "_incs", "_num_graphs"):
            object.__setattr__(self, key, value)
        else:
            super().__setattr__(key, value)

    @property
    def num_graphs(self) -> int:
        return self.__dict__.get("_num_graphs", 1)

    def __len__(self) -> int:
        return self.num_graphs

    def get_example(self, idx: int) -> HeteroData:
        """Graph ``idx`` as it was before batching."""
        g = self.num_graphs
        if idx < 0:
            idx += g
        if not 0 <= idx < g:
            raise IndexError(f"HeteroDataBatch.get_example: index {idx} out of range for {g}")
        out = HeteroData()
        for t, keys in self._slices.items():
            for key, sl in keys.items():
                src = self._global if t is None else self[t]._mapping
                value = src[key]
                a, b = int(sl[idx]), int(sl[idx + 1])
                if isinstance(value, list):
                    part = value[idx]
                elif value.dim() == 0 or (t is not None and key in ("batch", "ptr")):
                    continue
                else:
                    off = self._incs.get(t, {}).get(key)
                    dim = value.dim() - 1 if off is not None else 0
                    part = value.narrow(dim, a, b - a)
                    if off is not None and off[idx].any():
                        shift = to_tensor(off[idx].reshape(2, 1).copy(), value.device)
                        part = part - shift
                if t is None:
                    out._global[key] = part
                else:
                    out[t][key] = part
        for t, s in self._node_store_dict.items():
            if "num_nodes" in s._mapping:
                ptr = s.ptr
                out[t].num_nodes = int((ptr[idx + 1] - ptr[idx]).item())
        return out

    def to_data_list(self) -> list[HeteroData]:
        return [self.get_example(i) for i in range(self.num_graphs)]


__all__ = ["HeteroDataBatch"]
