"""``Data``: one homogeneous graph with arbitrary attributes (torch_geometric.data.Data).

How an attribute is concatenated and offset when graphs are batched is *declared* per attribute
(see :class:`Batching` and :meth:`Data.declare`), not guessed from its name. ``edge_index``,
``face`` and the edge-index attributes that PyG's utilities produce are declared by default;
``__inc__`` / ``__cat_dim__`` can still be overridden in a subclass as in PyG.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

import tocha.core as torch

from ..utils._arrays import to_np, to_tensor


@dataclass(frozen=True)
class Batching:
    """How one attribute is batched.

    Args:
        cat_dim: dimension along which graphs are concatenated; ``None`` stacks them along a
            new leading dimension; negative values count from the end (``-1`` for
            ``edge_index``).
        inc: what is added to graph ``i``'s values: ``0`` (nothing), ``'num_nodes'`` (the
            number of nodes of the graphs before it), ``'num_edges'``, or a callable
            ``f(data) -> int`` giving each graph's increment.
    """

    cat_dim: int | None = 0
    inc: int | str | Callable[[Any], int] = 0


NODE_INDEX = Batching(cat_dim=-1, inc="num_nodes")

_DEFAULT_BATCHING: dict[str, Batching] = {
    key: NODE_INDEX
    for key in (
        "edge_index",
        "face",
        "edge_label_index",
        "pos_edge_index",
        "neg_edge_index",
        "train_pos_edge_index",
        "train_neg_edge_index",
        "val_pos_edge_index",
        "val_neg_edge_index",
        "test_pos_edge_index",
        "test_neg_edge_index",
    )
}

# attributes that read as None when unset (PyG defines them as properties); any other unset
# attribute raises AttributeError, so hasattr(data, 'train_mask') behaves as in PyG
_OPTIONAL = frozenset(
    ("x", "edge_index", "edge_attr", "edge_weight", "y", "pos", "batch", "face", "time")
)


def _shape_str(v: Any) -> str:
    if isinstance(v, torch.Tensor):
        return f"[{', '.join(str(s) for s in v.shape)}]"
    if isinstance(v, (list, tuple)):
        return f"[{len(v)}]"
    if isinstance(v, str):
        return f"'{v}'"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_shape_str(x)}" for k, x in v.items()) + "}"
    return str(v)


class Data:
    """A graph: node features ``x``, connectivity ``edge_index`` (shape ``[2, num_edges]``),
    ``edge_attr``, labels ``y``, positions ``pos`` and any other attribute.

    Args:
        x: node feature matrix ``[num_nodes, num_node_features]``.
        edge_index: graph connectivity in COO format ``[2, num_edges]``.
        edge_attr: edge features ``[num_edges, num_edge_features]``.
        y: targets.
        pos: node positions ``[num_nodes, num_dimensions]``.
        **kwargs: further attributes.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> data = Data(x=torch.randn(3, 16), edge_index=ei)
        >>> data
        Data(x=[3, 16], edge_index=[2, 4])
        >>> data.num_nodes, data.num_edges, data.is_undirected()
        (3, 4, True)
    """

    #: class-wide batching declarations; extend with :meth:`declare`.
    batching: ClassVar[dict[str, Batching]] = _DEFAULT_BATCHING

    def __init__(self, x=None, edge_index=None, edge_attr=None, y=None, pos=None, **kwargs):
        object.__setattr__(self, "_store", {})
        object.__setattr__(self, "_batching", {})
        for key, value in (
            ("x", x),
            ("edge_index", edge_index),
            ("edge_attr", edge_attr),
            ("y", y),
            ("pos", pos),
            *kwargs.items(),
        ):
            if value is not None:
                self._store[key] = value

    # ----------------------------------------------------------------------- declarations
    @classmethod
    def declare(cls, key: str, cat_dim: int | None = 0, inc: Any = 0) -> None:
        """Declare, for this class and its subclasses, how attribute ``key`` is batched.

        Example:
            >>> from tocha.geometric.data import Data
            >>> class PairData(Data):
            ...     pass
            >>> PairData.declare("edge_index_s", cat_dim=-1, inc=lambda d: d.x_s.size(0))
        """
        if "batching" not in cls.__dict__:
            cls.batching = dict(cls.batching)
        cls.batching[key] = Batching(cat_dim, inc)

    def declare_attr(self, key: str, cat_dim: int | None = 0, inc: Any = 0) -> Data:
        """Declare for this object only how attribute ``key`` is batched; returns ``self``."""
        self._batching[key] = Batching(cat_dim, inc)
        return self

    def batching_of(self, key: str) -> Batching:
        """The declaration that applies to ``key`` (instance, then class, then the default)."""
        spec = self._batching.get(key)
        if spec is None:
            spec = type(self).batching.get(key)
        return spec if spec is not None else Batching()

    def __inc__(self, key: str, value: Any, *args, **kwargs) -> Any:
        """Increment added to ``value`` when this graph follows others in a batch."""
        inc = self.batching_of(key).inc
        if callable(inc):
            return inc(self)
        if inc == "num_nodes":
            return self.num_nodes
        if inc == "num_edges":
            return self.num_edges
        return inc

    def __cat_dim__(self, key: str, value: Any, *args, **kwargs) -> int | None:
        """Dimension along which ``value`` is concatenated in a batch (``None``: stacked)."""
        return self.batching_of(key).cat_dim

    # ----------------------------------------------------------------------- attributes
    def __getattr__(self, key: str) -> Any:
        store = object.__getattribute__(self, "_store")
        if key in store:
            return store[key]
        if key in _OPTIONAL:
            return None  # PyG's properties: data.edge_attr is None when unset
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'")

    def __setattr__(self, key: str, value: Any) -> None:
        prop = getattr(type(self), key, None)
        if isinstance(prop, property):
            if prop.fset is None:
                raise AttributeError(f"Data: attribute '{key}' is read-only")
            prop.fset(self, value)
        elif value is None:
            self._store.pop(key, None)
        else:
            self._store[key] = value

    def __delattr__(self, key: str) -> None:
        self._store.pop(key, None)

    def __getitem__(self, key: str) -> Any:
        return self._store[key]

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)

    def __delitem__(self, key: str) -> None:
        self._store.pop(key, None)

    def __contains__(self, key: str) -> bool:
        return key in self._store

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        yield from self._store.items()

    def __len__(self) -> int:
        return len(self._store)

    def __call__(self, *keys: str) -> Iterator[tuple[str, Any]]:
        for key, value in self._store.items():
            if not keys or key in keys:
                yield key, value

    def keys(self) -> list[str]:
        """Names of the attributes that are set."""
        return list(self._store)

    def items(self):
        return self._store.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._store.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._store)

    def update(self, data) -> Data:
        for key, value in data.items():
            setattr(self, key, value)
        return self

    def __getstate__(self):
        return {"_store": self._store, "_batching": self._batching}

    def __setstate__(self, state):
        object.__setattr__(self, "_store", state["_store"])
        object.__setattr__(self, "_batching", state.get("_batching", {}))

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={_shape_str(v)}" for k, v in self._store.items())
        return f"{type(self).__name__}({body})"

    # ----------------------------------------------------------------------- sizes
    @property
    def num_nodes(self) -> int | None:
        """Explicit ``num_nodes`` if set, else the first dimension of ``x`` / ``pos`` / any
        node-level tensor, else one more than the largest id in ``edge_index``."""
        store = self._store
        if "num_nodes" in store:
            return int(store["num_nodes"])
        for key in ("x", "pos", "batch", "node_type", "n_id"):
            v = store.get(key)
            if isinstance(v, torch.Tensor) and v.dim() > 0:
                return int(v.shape[0])
        ei = store.get("edge_index")
        if isinstance(ei, torch.Tensor):
            return int(ei.max().item()) + 1 if ei.numel() else 0
        face = store.get("face")
        if isinstance(face, torch.Tensor) and face.numel():
            return int(face.max().item()) + 1
        return None

    @num_nodes.setter
    def num_nodes(self, n: int | None) -> None:
        if n is None:
            self._store.pop("num_nodes", None)
        else:
            self._store["num_nodes"] = int(n)

    @property
    def num_edges(self) -> int:
        """Number of edges (columns of ``edge_index``, else rows of ``edge_attr``)."""
        ei = self._store.get("edge_index")
        if isinstance(ei, torch.Tensor):
            return int(ei.shape[1])
        ea = self._store.get("edge_attr")
        if isinstance(ea, torch.Tensor):
            return int(ea.shape[0])
        return 0

    @property
    def num_node_features(self) -> int:
        x = self._store.get("x")
        if x is None:
            return 0
        return 1 if x.dim() == 1 else int(x.shape[-1])

    @property
    def num_features(self) -> int:
        return self.num_node_features

    @property
    def num_edge_features(self) -> int:
        ea = self._store.get("edge_attr")
        if ea is None:
            return 0
        return 1 if ea.dim() == 1 else int(ea.shape[-1])

    @property
    def num_node_types(self) -> int:
        return 1

    @property
    def num_edge_types(self) -> int:
        return 1

    # ----------------------------------------------------------------------- classification
    def is_edge_attr(self, key: str) -> bool:
        """Whether ``key`` holds one entry per edge (first dim equal to ``num_edges``)."""
        if key == "edge_index" or self.batching_of(key).inc != 0:
            return False
        v = self._store.get(key)
        if not isinstance(v, torch.Tensor) or v.dim() == 0:
            return False
        n_e = self.num_edges
        if v.shape[0] != n_e:
            return False
        # a tensor sized like both nodes and edges is an edge attribute only if it says so
        return key.startswith("edge_") or key == "e_id" or v.shape[0] != self.num_nodes

    def is_node_attr(self, key: str) -> bool:
        """Whether ``key`` holds one entry per node (first dim equal to ``num_nodes``)."""
        if key == "num_nodes" or self.batching_of(key).inc != 0 or self.is_edge_attr(key):
            return False
        v = self._store.get(key)
        if not isinstance(v, torch.Tensor) or v.dim() == 0:
            return False
        return v.shape[0] == self.num_nodes

    def has_isolated_nodes(self) -> bool:
        n = self.num_nodes
        ei = to_np(self.edge_index)
        return bool(np.unique(ei).size < n)

    def has_self_loops(self) -> bool:
        ei = to_np(self.edge_index)
        return bool((ei[0] == ei[1]).any())

    def is_undirected(self) -> bool:
        from ..utils.undirected import is_undirected

        return is_undirected(self.edge_index, self.edge_attr, num_nodes=self.num_nodes)

    def is_directed(self) -> bool:
        return not self.is_undirected()

    def validate(self, raise_on_error: bool = True) -> bool:
        """Check that ``edge_index`` is ``[2, E]`` int64 with ids below ``num_nodes``."""
        ei = self.edge_index
        msg = None
        if ei is not None:
            if ei.dim() != 2 or ei.shape[0] != 2:
                msg = f"Data.validate: edge_index must have shape [2, E], got {list(ei.shape)}"
            elif ei.dtype != torch.int64:
                msg = f"Data.validate: edge_index must be int64, got {ei.dtype}"
            elif ei.numel():
                n, lo, hi = self.num_nodes, int(ei.min().item()), int(ei.max().item())
                if lo < 0 or hi >= n:
                    msg = (
                        f"Data.validate: edge_index refers to node {hi if hi >= n else lo} "
                        f"but the graph has {n} nodes"
                    )
        if msg is not None and raise_on_error:
            raise ValueError(msg)
        return msg is None

    # ----------------------------------------------------------------------- transforms
    def apply(self, func: Callable, *keys: str) -> Data:
        """Apply ``func`` to every tensor attribute (or those in ``keys``), in place."""
        for key, value in list(self._store.items()):
            if keys and key not in keys:
                continue
            if isinstance(value, torch.Tensor):
                self._store[key] = func(value)
        return self

    def to(self, device, *keys: str, non_blocking: bool = False) -> Data:
        """Move tensor attributes to ``device`` (returns ``self``, like PyG)."""
        return self.apply(lambda t: t.to(device), *keys)

    def cpu(self, *keys: str) -> Data:
        return self.apply(lambda t: t.cpu(), *keys)

    def cuda(self, device=None, *keys: str, non_blocking: bool = False) -> Data:
        return self.apply(lambda t: t.cuda(device), *keys)

    def contiguous(self, *keys: str) -> Data:
        return self.apply(lambda t: t.contiguous(), *keys)

    def detach(self, *keys: str) -> Data:
        return self.apply(lambda t: t.detach(), *keys)

    def requires_grad_(self, *keys: str, requires_grad: bool = True) -> Data:
        return self.apply(lambda t: t.requires_grad_(requires_grad), *keys)

    def clone(self) -> Data:
        """A deep copy: every tensor cloned."""
        out = copy.copy(self)
        object.__setattr__(out, "_store", {})
        object.__setattr__(out, "_batching", dict(self._batching))
        for key, value in self._store.items():
            out._store[key] = (
                value.clone() if isinstance(value, torch.Tensor) else copy.deepcopy(value)
            )
        return out

    def __copy__(self) -> Data:
        out = type(self).__new__(type(self))
        object.__setattr__(out, "_store", dict(self._store))
        object.__setattr__(out, "_batching", dict(self._batching))
        return out

    def __deepcopy__(self, memo) -> Data:
        return self.clone()

    @property
    def device(self):
        for value in self._store.values():
            if isinstance(value, torch.Tensor):
                return value.device
        return torch.device("cpu")

    # ----------------------------------------------------------------------- subgraphs
    def subgraph(self, subset) -> Data:
        """The subgraph induced by ``subset`` (bool mask or node indices), relabelled.

        Node attributes are indexed by ``subset``, edge attributes by the kept edges.

        Example:
            >>> import tocha.core as torch
            >>> from tocha.geometric.data import Data
            >>> d = Data(x=torch.arange(4.0).view(4, 1),
            ...          edge_index=torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]]))
            >>> s = d.subgraph(torch.tensor([1, 2, 3]))
            >>> s.edge_index.tolist(), s.x.view(-1).tolist()
            ([[0, 1], [1, 2]], [1.0, 2.0, 3.0])
        """
        n = self.num_nodes
        sub = to_np(subset)
        if sub.dtype == np.bool_:
            if sub.shape[0] != n:
                raise ValueError(
                    f"Data.subgraph: mask has {sub.shape[0]} entries but the graph has {n} nodes"
                )
            idx = np.flatnonzero(sub)
        else:
            idx = sub.astype(np.int64)
        ei = to_np(self.edge_index) if self.edge_index is not None else np.zeros((2, 0), np.int64)
        mapping = np.full(n, -1, dtype=np.int64)
        mapping[idx] = np.arange(idx.size)
        keep = (mapping[ei[0]] >= 0) & (mapping[ei[1]] >= 0)
        e_idx = np.flatnonzero(keep)
        return self._select(idx, e_idx, mapping)

    def edge_subgraph(self, subset) -> Data:
        """The graph with only the edges in ``subset`` (mask or indices); nodes are kept."""
        sub = to_np(subset)
        e_idx = np.flatnonzero(sub) if sub.dtype == np.bool_ else sub.astype(np.int64)
        return self._select(None, e_idx, None)

    def _select(self, node_idx, edge_idx, mapping) -> Data:
        out = copy.copy(self)
        object.__setattr__(out, "_store", {})
        dev = self.device
        n_t = to_tensor(node_idx, dev) if node_idx is not None else None
        e_t = to_tensor(edge_idx, dev)
        for key, value in self._store.items():
            if key == "edge_index":
                ei = to_np(value)[:, edge_idx]
                if mapping is not None:
                    ei = mapping[ei]
                out._store[key] = to_tensor(ei, dev)
            elif key == "num_nodes":
                out._store[key] = int(node_idx.size) if node_idx is not None else value
            elif self.is_edge_attr(key):
                out._store[key] = value.index_select(0, e_t)
            elif n_t is not None and self.is_node_attr(key):
                out._store[key] = value.index_select(0, n_t)
            else:
                out._store[key] = value
        return out

    def to_heterogeneous(self, *args, **kwargs):  # pragma: no cover - not provided
        raise NotImplementedError("Data.to_heterogeneous is not provided by tocha.geometric")

    def stores_as(self, other):  # PyG API used by some transforms
        return self

    @property
    def stores(self) -> list[Data]:
        return [self]

    @property
    def node_stores(self) -> list[Data]:
        return [self]

    @property
    def edge_stores(self) -> list[Data]:
        return [self]


__all__ = ["Batching", "Data", "NODE_INDEX"]
