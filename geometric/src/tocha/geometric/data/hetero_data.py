"""``HeteroData``: a graph with several node and edge types (torch_geometric.data.HeteroData)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import tocha.core as torch

from .data import _shape_str

NodeType = str
EdgeType = tuple[str, str, str]


class _Storage:
    """Attributes of one node or edge type, reachable as ``store.x`` or ``store['x']``."""

    def __init__(self, key, parent: HeteroData | None = None):
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_mapping", {})
        object.__setattr__(self, "_parent", parent)

    def __getattr__(self, key: str) -> Any:
        mapping = object.__getattribute__(self, "_mapping")
        if key in mapping:
            return mapping[key]
        if key.startswith("__"):
            raise AttributeError(key)
        raise AttributeError(f"'{type(self).__name__}' has no attribute '{key}'")

    def __setattr__(self, key: str, value: Any) -> None:
        prop = getattr(type(self), key, None)
        if isinstance(prop, property) and prop.fset is not None:
            prop.fset(self, value)
        elif value is None:
            self._mapping.pop(key, None)
        else:
            self._mapping[key] = value

    def __delattr__(self, key: str) -> None:
        self._mapping.pop(key, None)

    def __getitem__(self, key: str) -> Any:
        return self._mapping[key]

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)

    def __contains__(self, key: str) -> bool:
        return key in self._mapping

    def __len__(self) -> int:
        return len(self._mapping)

    def __iter__(self):
        return iter(self._mapping.items())

    def keys(self):
        return list(self._mapping)

    def items(self):
        return self._mapping.items()

    def values(self):
        return self._mapping.values()

    def get(self, key: str, default=None):
        return self._mapping.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._mapping)

    def __getstate__(self):
        return {"_key": self._key, "_mapping": self._mapping, "_parent": self._parent}

    def __setstate__(self, state):
        for k, v in state.items():
            object.__setattr__(self, k, v)

    def _body(self) -> str:
        return "{ " + ", ".join(f"{k}={_shape_str(v)}" for k, v in self._mapping.items()) + " }"

    def __repr__(self) -> str:
        return f"{self._body()}"

    def apply(self, func: Callable) -> _Storage:
        for k, v in list(self._mapping.items()):
            if isinstance(v, torch.Tensor):
                self._mapping[k] = func(v)
        return self


class NodeStorage(_Storage):
    """Attributes of one node type."""

    @property
    def num_nodes(self) -> int | None:
        m = self._mapping
        if "num_nodes" in m:
            return int(m["num_nodes"])
        for key in ("x", "pos", "batch", "n_id"):
            v = m.get(key)
            if isinstance(v, torch.Tensor) and v.dim() > 0:
                return int(v.shape[0])
        for v in m.values():
            if isinstance(v, torch.Tensor) and v.dim() > 0:
                return int(v.shape[0])
        return None

    @num_nodes.setter
    def num_nodes(self, n: int) -> None:
        self._mapping["num_nodes"] = int(n)

    @property
    def num_node_features(self) -> int:
        x = self._mapping.get("x")
        return 0 if x is None else (1 if x.dim() == 1 else int(x.shape[-1]))

    @property
    def num_features(self) -> int:
        return self.num_node_features


class EdgeStorage(_Storage):
    """Attributes of one edge type ``(src, relation, dst)``."""

    @property
    def num_edges(self) -> int:
        ei = self._mapping.get("edge_index")
        if isinstance(ei, torch.Tensor):
            return int(ei.shape[1])
        ea = self._mapping.get("edge_attr")
        return int(ea.shape[0]) if isinstance(ea, torch.Tensor) else 0

    @property
    def num_edge_features(self) -> int:
        ea = self._mapping.get("edge_attr")
        return 0 if ea is None else (1 if ea.dim() == 1 else int(ea.shape[-1]))


class HeteroData:
    """A heterogeneous graph: one attribute store per node type and per edge type.

    Node types are strings; edge types are ``(src_type, relation, dst_type)`` triples. Stores
    are created on first access, so ``data['paper'].x = ...`` just works.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import HeteroData
        >>> data = HeteroData()
        >>> data['paper'].x = torch.randn(4, 3)
        >>> data['author'].x = torch.randn(2, 5)
        >>> data['author', 'writes', 'paper'].edge_index = torch.tensor([[0, 1], [2, 3]])
        >>> data.metadata()
        (['paper', 'author'], [('author', 'writes', 'paper')])
        >>> tuple(data['writes'].edge_index.shape)
        (2, 2)
        >>> data.num_nodes
        6
    """

    def __init__(self, _mapping: dict | None = None, **kwargs):
        object.__setattr__(self, "_global", {})
        object.__setattr__(self, "_node_store_dict", {})
        object.__setattr__(self, "_edge_store_dict", {})
        for key, value in {**(_mapping or {}), **kwargs}.items():
            if isinstance(value, dict):
                store = self[key]
                for k, v in value.items():
                    store[k] = v
            else:
                setattr(self, key, value)

    # ----------------------------------------------------------------------- stores
    def _to_edge_type(self, key) -> EdgeType | None:
        if isinstance(key, tuple) and len(key) == 3:
            return key
        if isinstance(key, tuple) and len(key) == 2:
            src, dst = key
            cands = [et for et in self._edge_store_dict if et[0] == src and et[2] == dst]
            if len(cands) == 1:
                return cands[0]
            if not cands:
                return (src, "to", dst)
            raise KeyError(f"HeteroData: {key} matches several edge types {cands}")
        if isinstance(key, str):
            cands = [et for et in self._edge_store_dict if et[1] == key]
            if len(cands) == 1:
                return cands[0]
        return None

    def __getitem__(self, key):
        if isinstance(key, str) and key in self._node_store_dict:
            return self._node_store_dict[key]
        et = self._to_edge_type(key)
        if et is not None:
            store = self._edge_store_dict.get(et)
            if store is None:
                store = self._edge_store_dict[et] = EdgeStorage(et, self)
            return store
        if isinstance(key, str):
            store = self._node_store_dict[key] = NodeStorage(key, self)
            return store
        raise KeyError(f"HeteroData: invalid key {key!r}")

    def __setitem__(self, key, value) -> None:
        if isinstance(key, str) and not isinstance(value, dict):
            setattr(self, key, value)
            return
        store = self[key]
        for k, v in dict(value).items():
            store[k] = v

    def __delitem__(self, key) -> None:
        if isinstance(key, str) and key in self._node_store_dict:
            del self._node_store_dict[key]
            return
        et = self._to_edge_type(key)
        if et in self._edge_store_dict:
            del self._edge_store_dict[et]
        else:
            self._global.pop(key, None)

    def __contains__(self, key) -> bool:
        if isinstance(key, str) and (key in self._node_store_dict or key in self._global):
            return True
        return isinstance(key, tuple) and self._to_edge_type(key) in self._edge_store_dict

    def __getattr__(self, key: str) -> Any:
        g = object.__getattribute__(self, "_global")
        if key in g:
            return g[key]
        if key.endswith("_dict") and not key.startswith("_"):
            return self.collect(key[: -len("_dict")])
        if key.startswith("__"):
            raise AttributeError(key)
        raise AttributeError(f"'HeteroData' has no attribute '{key}'")

    def __setattr__(self, key: str, value: Any) -> None:
        if value is None:
            self._global.pop(key, None)
        else:
            self._global[key] = value

    def __getstate__(self):
        return {
            "_global": self._global,
            "_node_store_dict": self._node_store_dict,
            "_edge_store_dict": self._edge_store_dict,
        }

    def __setstate__(self, state):
        for k, v in state.items():
            object.__setattr__(self, k, v)

    # ----------------------------------------------------------------------- views
    @property
    def node_types(self) -> list[NodeType]:
        return list(self._node_store_dict)

    @property
    def edge_types(self) -> list[EdgeType]:
        return list(self._edge_store_dict)

    def metadata(self) -> tuple[list[NodeType], list[EdgeType]]:
        """``(node_types, edge_types)``, as heterogeneous layers expect."""
        return self.node_types, self.edge_types

    @property
    def node_stores(self) -> list[NodeStorage]:
        return list(self._node_store_dict.values())

    @property
    def edge_stores(self) -> list[EdgeStorage]:
        return list(self._edge_store_dict.values())

    @property
    def stores(self) -> list[_Storage]:
        return self.node_stores + self.edge_stores

    def node_items(self):
        return list(self._node_store_dict.items())

    def edge_items(self):
        return list(self._edge_store_dict.items())

    def collect(self, key: str) -> dict:
        """``{type: store[key]}`` over the node and edge types that have ``key``."""
        out: dict = {}
        for t, s in (*self._node_store_dict.items(), *self._edge_store_dict.items()):
            if key in s:
                out[t] = s[key]
        return out

    @property
    def num_nodes(self) -> int:
        return sum(s.num_nodes or 0 for s in self.node_stores)

    @property
    def num_edges(self) -> int:
        return sum(s.num_edges for s in self.edge_stores)

    @property
    def num_node_features(self) -> dict[NodeType, int]:
        return {t: s.num_node_features for t, s in self._node_store_dict.items()}

    @property
    def num_features(self) -> dict[NodeType, int]:
        return self.num_node_features

    def keys(self) -> list[str]:
        out: dict[str, None] = dict.fromkeys(self._global)
        for s in self.stores:
            out.update(dict.fromkeys(s.keys()))
        return list(out)

    def apply(self, func: Callable) -> HeteroData:
        for s in self.stores:
            s.apply(func)
        for k, v in list(self._global.items()):
            if isinstance(v, torch.Tensor):
                self._global[k] = func(v)
        return self

    def to(self, device, *args, **kwargs) -> HeteroData:
        return self.apply(lambda t: t.to(device))

    def cpu(self) -> HeteroData:
        return self.apply(lambda t: t.cpu())

    def clone(self) -> HeteroData:
        """A deep copy: every tensor cloned."""
        return copy.copy(self).apply(lambda t: t.clone())

    def __copy__(self) -> HeteroData:
        # new stores with the same values, so setting an attribute on the copy (as transforms
        # do) leaves the original untouched
        out = type(self).__new__(type(self))
        object.__setattr__(out, "_global", dict(self._global))
        object.__setattr__(out, "_node_store_dict", {})
        object.__setattr__(out, "_edge_store_dict", {})
        for t, s in self._node_store_dict.items():
            ns = out._node_store_dict[t] = NodeStorage(t, out)
            ns._mapping.update(s._mapping)
        for t, s in self._edge_store_dict.items():
            es = out._edge_store_dict[t] = EdgeStorage(t, out)
            es._mapping.update(s._mapping)
        for k, v in self.__dict__.items():  # a HeteroDataBatch's slice tables
            if k not in ("_global", "_node_store_dict", "_edge_store_dict"):
                object.__setattr__(out, k, v)
        return out

    def __deepcopy__(self, memo) -> HeteroData:
        return self.clone()

    def validate(self, raise_on_error: bool = True) -> bool:
        """Check every edge type's ``edge_index`` against its source and target node counts."""
        for (src, rel, dst), s in self._edge_store_dict.items():
            ei = s.get("edge_index")
            if ei is None or ei.numel() == 0:
                continue
            for row, nt in ((0, src), (1, dst)):
                n = self[nt].num_nodes if nt in self._node_store_dict else None
                hi = int(ei[row].max().item())
                if n is not None and hi >= n:
                    if raise_on_error:
                        raise ValueError(
                            f"HeteroData.validate: edge type {(src, rel, dst)} refers to "
                            f"{nt} node {hi} but '{nt}' has {n} nodes"
                        )
                    return False
        return True

    def __repr__(self) -> str:
        lines = [f"  {k}={_shape_str(v)}," for k, v in self._global.items()]
        lines += [f"  {t}={s._body()}," for t, s in self._node_store_dict.items()]
        lines += [f"  ({', '.join(t)})={s._body()}," for t, s in self._edge_store_dict.items()]
        if not lines:
            return "HeteroData()"
        lines[-1] = lines[-1][:-1]
        return "HeteroData(\n" + "\n".join(lines) + "\n)"


__all__ = ["EdgeStorage", "HeteroData", "NodeStorage"]
