"""Small PyG transforms: ``Constant``, ``OneHotDegree``, ``ToDevice``, ``RemoveIsolatedNodes``,
``LargestConnectedComponents``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

import tocha.core as torch

from ..utils._arrays import to_np, to_tensor
from .base_transform import BaseTransform


def _add_node_features(data, feats, cat: bool):
    """Appends ``feats`` (``[num_nodes, k]``) to ``data.x`` when ``cat`` and there is an ``x``
    (a 1-D ``x`` counts as one feature column), else makes ``feats`` the new ``x``."""
    x = data.x
    if x is not None and cat:
        x = x.view(-1, 1) if x.dim() == 1 else x
        data.x = torch.cat([x, feats.to(x.dtype)], -1)
    else:
        data.x = feats
    return data


class Constant(BaseTransform):
    """Append a constant feature ``value`` to every node (or make it ``x`` when there is none,
    or when ``cat=False``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.transforms import Constant
        >>> Constant(0.5)(Data(x=torch.ones(2, 1))).x.tolist()
        [[1.0, 0.5], [1.0, 0.5]]
    """

    def __init__(self, value: float = 1.0, cat: bool = True, node_types=None):
        self.value, self.cat = value, cat

    def forward(self, data):
        n = data.num_nodes
        return _add_node_features(data, torch.full((n, 1), self.value), self.cat)

    def __repr__(self) -> str:
        return f"Constant(value={self.value})"


class OneHotDegree(BaseTransform):
    """Append the one-hot encoded out-degree (in-degree with ``in_degree=True``) of every node,
    degrees ``0 .. max_degree``, to its features.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.transforms import OneHotDegree
        >>> d = Data(edge_index=torch.tensor([[0, 0, 1], [1, 2, 0]]), num_nodes=3)
        >>> OneHotDegree(2)(d).x.tolist()
        [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """

    def __init__(self, max_degree: int, in_degree: bool = False, cat: bool = True):
        self.max_degree, self.in_degree, self.cat = max_degree, in_degree, cat

    def forward(self, data):
        n = data.num_nodes
        idx = to_np(data.edge_index)[1 if self.in_degree else 0]
        deg = np.bincount(idx, minlength=n)
        if deg.size and deg.max() > self.max_degree:
            raise RuntimeError(
                f"OneHotDegree: a node has degree {int(deg.max())} > max_degree {self.max_degree}"
            )
        oh = np.zeros((n, self.max_degree + 1), dtype=np.float32)
        oh[np.arange(n), deg] = 1.0
        return _add_node_features(data, to_tensor(oh, data.edge_index.device), self.cat)

    def __repr__(self) -> str:
        return f"OneHotDegree({self.max_degree})"


class ToDevice(BaseTransform):
    """Move the tensors (or only ``attrs``) to ``device``."""

    def __init__(self, device, attrs: list[str] | None = None, non_blocking: bool = False):
        self.device, self.attrs = device, list(attrs or [])

    def forward(self, data):
        return data.to(self.device, *self.attrs)

    def __repr__(self) -> str:
        return f"ToDevice({self.device})"


def _keep_nodes(data, keep: np.ndarray):
    return data.subgraph(to_tensor(keep, data.edge_index.device))


class RemoveIsolatedNodes(BaseTransform):
    """Drop the nodes that no edge touches (a node with only a self-loop is kept, as in PyG's
    transform) and relabel the rest.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.transforms import RemoveIsolatedNodes
        >>> d = Data(x=torch.arange(4.0).view(4, 1), edge_index=torch.tensor([[0, 3], [3, 0]]))
        >>> out = RemoveIsolatedNodes()(d)
        >>> out.x.view(-1).tolist(), out.edge_index.tolist()
        ([0.0, 3.0], [[0, 1], [1, 0]])
    """

    def forward(self, data):
        n = data.num_nodes
        keep = np.zeros(n, dtype=bool)
        keep[to_np(data.edge_index).reshape(-1)] = True
        return data if keep.all() else _keep_nodes(data, keep)


class LargestConnectedComponents(BaseTransform):
    """Keep the ``num_components`` largest connected components (``connection='weak'`` or
    ``'strong'``), found with SciPy's ``connected_components``."""

    def __init__(self, num_components: int = 1, connection: str = "weak"):
        if connection not in ("weak", "strong"):
            raise ValueError(
                f"LargestConnectedComponents: connection must be 'weak' or 'strong', "
                f"got {connection!r}"
            )
        self.num_components, self.connection = num_components, connection

    def forward(self, data):
        n = data.num_nodes
        ei = to_np(data.edge_index)
        adj = sp.coo_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(n, n))
        num, comp = connected_components(adj, connection=self.connection)
        if num <= self.num_components:
            return data
        sizes = np.bincount(comp, minlength=num)
        # ties broken exactly as PyG does (the last entries of NumPy's default argsort)
        top = sizes.argsort()[-self.num_components :]
        return _keep_nodes(data, np.isin(comp, top))

    def __repr__(self) -> str:
        return f"LargestConnectedComponents({self.num_components})"
