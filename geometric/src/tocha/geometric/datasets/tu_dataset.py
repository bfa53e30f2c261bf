"""``TUDataset``: the TU Dortmund graph-classification benchmarks from their raw text files."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from ..data import InMemoryDataset
from ..utils._arrays import to_tensor
from ._collated import collated_graphs
from ._download import extract_zip, fetch

_URL = "https://www.chrsmrrs.com/graphkerneldatasets"
_CLEANED_URL = "https://raw.githubusercontent.com/nd7141/graph_datasets/master/datasets"


def _read(folder: str, prefix: str, name: str, dtype) -> np.ndarray | None:
    path = os.path.join(folder, f"{prefix}_{name}.txt")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read().replace(",", " ")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return np.zeros((0, 1), dtype=dtype)
    width = len(lines[0].split())
    try:
        flat = np.array(" ".join(lines).split(), dtype=dtype)
    except ValueError as e:
        raise ValueError(f"TUDataset: {path} holds a non-numeric value ({e})") from e
    if flat.size != width * len(lines):
        raise ValueError(f"TUDataset: {path} has rows of different lengths (first has {width})")
    return flat.reshape(len(lines), width)


def _one_hot_columns(labels: np.ndarray) -> np.ndarray:
    labels = labels - labels.min(axis=0)
    blocks = []
    for col in labels.T:
        block = np.zeros((col.size, int(col.max()) + 1), dtype=np.float32)
        block[np.arange(col.size), col] = 1.0
        blocks.append(block)
    return np.concatenate(blocks, 1)


def read_tu_data(folder: str, prefix: str):
    """Parse ``<prefix>_A.txt`` and its companions; returns the collated graphs and the
    numbers of node/edge attribute and label columns."""
    a = _read(folder, prefix, "A", np.int64)
    gi = _read(folder, prefix, "graph_indicator", np.int64)
    if a is None or gi is None:
        raise FileNotFoundError(
            f"TUDataset: {os.path.join(folder, prefix + '_A.txt')} and "
            f"{prefix}_graph_indicator.txt are required"
        )
    if a.shape[1] != 2:
        raise ValueError(f"TUDataset: {prefix}_A.txt must have 2 columns, got {a.shape[1]}")
    ei = a.T - 1
    node_graph = gi.reshape(-1) - 1
    n = node_graph.size
    if ei.size and (ei.min() < 0 or ei.max() >= n):
        raise ValueError(
            f"TUDataset: {prefix}_A.txt refers to node {int(ei.max()) + 1} but "
            f"{prefix}_graph_indicator.txt lists {n} nodes"
        )
    if n and np.any(np.diff(node_graph) < 0):
        raise ValueError(f"TUDataset: {prefix}_graph_indicator.txt is not sorted by graph")
    node_attr = _read(folder, prefix, "node_attributes", np.float32)
    node_lab = _read(folder, prefix, "node_labels", np.int64)
    edge_attr = _read(folder, prefix, "edge_attributes", np.float32)
    edge_lab = _read(folder, prefix, "edge_labels", np.int64)
    node_lab = _one_hot_columns(node_lab) if node_lab is not None else None
    edge_lab = _one_hot_columns(edge_lab) if edge_lab is not None else None
    x_parts = [p for p in (node_attr, node_lab) if p is not None]
    e_parts = [p for p in (edge_attr, edge_lab) if p is not None]
    x = np.concatenate(x_parts, 1) if x_parts else None
    ea = np.concatenate(e_parts, 1) if e_parts else None
    y = _read(folder, prefix, "graph_attributes", np.float32)
    if y is None:
        y = _read(folder, prefix, "graph_labels", np.int64)
        if y is not None:
            y = np.unique(y.reshape(-1), return_inverse=True)[1].astype(np.int64)
    elif y.shape[1] == 1:
        y = y.reshape(-1)
    # drop self-loops, merge duplicates (summing attributes), sort by source then target
    keep = ei[0] != ei[1]
    ei = ei[:, keep]
    ea = ea[keep] if ea is not None else None
    key = ei[0] * n + ei[1]
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    ei = np.stack([uniq // n, uniq % n]) if uniq.size else np.zeros((2, 0), np.int64)
    if ea is not None:
        summed = np.zeros((uniq.size, ea.shape[1]), dtype=ea.dtype)
        np.add.at(summed, inv.reshape(-1), ea)
        ea = summed
    num_graphs = int(node_graph.max()) + 1 if n else 0
    sizes = {
        "num_node_attributes": 0 if node_attr is None else node_attr.shape[1],
        "num_node_labels": 0 if node_lab is None else node_lab.shape[1],
        "num_edge_attributes": 0 if edge_attr is None else edge_attr.shape[1],
        "num_edge_labels": 0 if edge_lab is None else edge_lab.shape[1],
    }
    return node_graph, ei, x, ea, y, num_graphs, sizes


class TUDataset(InMemoryDataset):
    """A TU Dortmund graph dataset (MUTAG, PROTEINS, ENZYMES, IMDB-BINARY, ...).

    Raw files ``<name>_A.txt``, ``_graph_indicator.txt`` and the optional ``_graph_labels``,
    ``_graph_attributes``, ``_node_labels``, ``_node_attributes``, ``_edge_labels`` and
    ``_edge_attributes`` files are read from ``<root>/<name>/raw/``; if missing they are
    downloaded as ``<name>.zip`` (offline, the error says what to put where). Node labels are
    one-hot encoded after the node attributes; attributes are kept only with
    ``use_node_attr`` / ``use_edge_attr``, as in PyG.

    Example:
        >>> import os, tempfile
        >>> from tocha.geometric.datasets import TUDataset
        >>> root = tempfile.mkdtemp()
        >>> raw = os.path.join(root, "TOY", "raw"); os.makedirs(raw)
        >>> files = {"A": "1, 2\\n2, 1\\n3, 4\\n4, 3\\n4, 5\\n5, 4", "graph_indicator": "1\\n1\\n2\\n2\\n2",
        ...          "graph_labels": "-1\\n1", "node_labels": "0\\n1\\n0\\n0\\n2"}
        >>> for k, v in files.items():
        ...     with open(os.path.join(raw, f"TOY_{k}.txt"), "w") as f:
        ...         _ = f.write(v)
        >>> ds = TUDataset(root, "TOY")
        >>> len(ds), ds.num_classes, ds.num_node_features, ds[1]
        (2, 2, 3, Data(x=[3, 3], edge_index=[2, 4], y=[1]))
    """

    def __init__(
        self,
        root: str,
        name: str,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        pre_filter: Callable | None = None,
        force_reload: bool = False,
        use_node_attr: bool = False,
        use_edge_attr: bool = False,
        cleaned: bool = False,
    ):
        self.name = name
        self.cleaned = cleaned
        super().__init__(root, transform, pre_transform, pre_filter)
        node_graph, ei, x, ea, y, g, self.sizes = read_tu_data(self.raw_dir, name)
        if x is not None and not use_node_attr:
            x = x[:, self.sizes["num_node_attributes"] :]
        if ea is not None and not use_edge_attr:
            ea = ea[:, self.sizes["num_edge_attributes"] :]
        # like PyG, dropping every column leaves an empty [n, 0] tensor, not None
        x = None if x is None else to_tensor(np.ascontiguousarray(x))
        ea = None if ea is None else to_tensor(np.ascontiguousarray(ea))
        batch = collated_graphs(
            node_graph,
            ei,
            g,
            {"x": x},
            {"edge_attr": ea},
            {"y": None if y is None else to_tensor(y)},
        )
        if pre_filter is None and pre_transform is None:
            self._data, self.slices = batch, batch._slice_dict
        else:
            self.load_list(batch.to_data_list())

    @property
    def raw_dir(self) -> str:
        return os.path.join(self.root, self.name, "raw")

    @property
    def raw_file_names(self) -> list[str]:
        return [f"{self.name}_A.txt", f"{self.name}_graph_indicator.txt"]

    def download(self) -> None:
        url = _CLEANED_URL if self.cleaned else _URL
        dst = os.path.join(self.root, self.name, f"{self.name}.zip")
        fetch(f"{url}/{self.name}.zip", dst, "TUDataset")
        extract_zip(dst, os.path.join(self.root, self.name))
        inner = os.path.join(self.root, self.name, self.name)
        if os.path.isdir(inner):
            os.makedirs(self.raw_dir, exist_ok=True)
            for f in os.listdir(inner):
                os.replace(os.path.join(inner, f), os.path.join(self.raw_dir, f))
            os.rmdir(inner)
        os.remove(dst)

    @property
    def num_node_labels(self) -> int:
        return self.sizes["num_node_labels"]

    @property
    def num_node_attributes(self) -> int:
        return self.sizes["num_node_attributes"]

    @property
    def num_edge_labels(self) -> int:
        return self.sizes["num_edge_labels"]

    @property
    def num_edge_attributes(self) -> int:
        return self.sizes["num_edge_attributes"]

    def __repr__(self) -> str:
        n = len(self)
        return f"{self.name}({n if n > 1 else ''})"
