"""A generic edge-list reader (SNAP-style text files: ``src dst [weight]`` per line)."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from ..data import Data, InMemoryDataset
from ..utils._arrays import to_tensor


def read_edge_list(
    path: str,
    comment: str = "#",
    num_nodes: int | None = None,
    relabel: bool = False,
    undirected: bool = False,
) -> Data:
    """Read ``path`` with one edge per line: ``src dst`` or ``src dst weight`` separated by
    spaces, tabs or commas; lines starting with ``comment`` are skipped. A weight column
    becomes ``edge_weight``. With ``relabel=True`` arbitrary integer ids are mapped to
    ``0..n-1`` in increasing order (kept in ``node_ids``).

    Example:
        >>> import os, tempfile
        >>> from tocha.geometric.datasets import read_edge_list
        >>> path = os.path.join(tempfile.mkdtemp(), "g.txt")
        >>> with open(path, "w") as f:
        ...     _ = f.write("# toy\\n10 20\\n20 30\\n")
        >>> d = read_edge_list(path, relabel=True)
        >>> d.edge_index.tolist(), d.node_ids.tolist()
        ([[0, 1], [1, 2]], [10, 20, 30])
    """
    with open(path) as f:
        lines = [
            ln
            for ln in f.read().replace(",", " ").replace("\t", " ").splitlines()
            if ln.strip() and not ln.lstrip().startswith(comment)
        ]
    if not lines:
        raise ValueError(f"read_edge_list: {path} has no edges")
    width = len(lines[0].split())
    if width not in (2, 3):
        raise ValueError(f"read_edge_list: {path} lines need 2 or 3 columns, got {width}")
    try:
        flat = np.array(" ".join(lines).split(), dtype=np.float64)
    except ValueError as e:
        raise ValueError(f"read_edge_list: {path} holds a non-numeric value ({e})") from e
    if flat.size != width * len(lines):
        raise ValueError(f"read_edge_list: {path} has lines with different column counts")
    table = flat.reshape(-1, width)
    ei = table[:, :2].T.astype(np.int64)
    data = Data()
    if relabel:
        ids, inv = np.unique(ei, return_inverse=True)
        ei = inv.reshape(2, -1)
        data.node_ids = to_tensor(ids)
        num_nodes = ids.size if num_nodes is None else num_nodes
    elif ei.min() < 0:
        raise ValueError(f"read_edge_list: {path} has a negative node id {int(ei.min())}")
    w = table[:, 2].astype(np.float32) if width == 3 else None
    if undirected:
        ei = np.concatenate([ei, ei[::-1]], 1)
        w = np.concatenate([w, w]) if w is not None else None
    data.edge_index = to_tensor(ei)
    if w is not None:
        data.edge_weight = to_tensor(w)
    data.num_nodes = int(ei.max()) + 1 if num_nodes is None else int(num_nodes)
    return data


class EdgeListDataset(InMemoryDataset):
    """One graph read from ``<root>/raw/<filename>`` with :func:`read_edge_list`."""

    def __init__(
        self,
        root: str,
        filename: str,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        **read_kwargs,
    ):
        self.filename = filename
        super().__init__(root, transform, pre_transform)
        path = os.path.join(self.raw_dir, filename)
        if not os.path.exists(path):
            raise FileNotFoundError(f"EdgeListDataset: put the edge list at {path}")
        self.load_list([read_edge_list(path, **read_kwargs)])
