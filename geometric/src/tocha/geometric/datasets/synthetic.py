"""Synthetic datasets: ``FakeDataset`` and ``StochasticBlockModelDataset``.

Both draw from tocha's global generator (via a NumPy generator seeded from it), so
``torch.manual_seed`` makes them reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import tocha.core as torch

from ..data import Data, InMemoryDataset
from ..utils._arrays import to_tensor


def _rng() -> np.random.Generator:
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))


def _random_edges(rng, n: int, avg_degree: float, undirected: bool) -> np.ndarray:
    e = int(n * avg_degree) // (2 if undirected else 1)
    ei = rng.integers(0, n, size=(2, e))
    ei = ei[:, ei[0] != ei[1]]
    if undirected:
        ei = np.concatenate([ei, ei[::-1]], 1)
    key = np.unique(ei[0] * n + ei[1])
    return np.stack([key // n, key % n])


class FakeDataset(InMemoryDataset):
    """Random graphs for tests and benchmarks (PyG's ``FakeDataset``): node counts around
    ``avg_num_nodes``, ``avg_degree`` random edges per node (no self-loops), Gaussian
    features shifted by the label, node- or graph-level labels.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.datasets import FakeDataset
        >>> _ = torch.manual_seed(0)
        >>> ds = FakeDataset(num_graphs=4, avg_num_nodes=20, num_channels=8, num_classes=3)
        >>> len(ds), ds.num_features, ds[0].y.shape[0], ds[0].is_undirected()
        (4, 8, 1, True)
    """

    def __init__(
        self,
        num_graphs: int = 1,
        avg_num_nodes: int = 1000,
        avg_degree: float = 10.0,
        num_channels: int = 64,
        edge_dim: int = 0,
        num_classes: int = 10,
        task: str = "auto",
        is_undirected: bool = True,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        **kwargs,
    ):
        super().__init__(None, transform, pre_transform)
        if task == "auto":
            task = "graph" if num_graphs > 1 else "node"
        if task not in ("node", "graph"):
            raise ValueError(f"FakeDataset: task must be 'node', 'graph' or 'auto', got {task!r}")
        avg_num_nodes = max(avg_num_nodes, int(avg_degree))
        avg_degree = max(avg_degree, 1)
        rng = _rng()
        graphs = []
        for _ in range(max(num_graphs, 1)):
            lo = max(3 * avg_num_nodes // 4, int(avg_degree))
            n = int(rng.integers(lo, max(5 * avg_num_nodes // 4, lo + 1)))
            d = Data()
            if num_classes > 0:
                y = (
                    rng.integers(0, num_classes, n)
                    if task == "node"
                    else rng.integers(0, num_classes, 1)
                )
                d.y = to_tensor(y.astype(np.int64))
            d.edge_index = to_tensor(_random_edges(rng, n, avg_degree, is_undirected))
            if num_channels > 0:
                x = rng.standard_normal((n, num_channels)).astype(np.float32)
                if num_classes > 0:
                    x += (y[:, None] if task == "node" else y[0]).astype(np.float32)
                d.x = to_tensor(x)
            else:
                d.num_nodes = n
            e = d.num_edges
            if edge_dim > 1:
                d.edge_attr = to_tensor(rng.random((e, edge_dim)).astype(np.float32))
            elif edge_dim == 1:
                d.edge_weight = to_tensor(rng.random(e).astype(np.float32))
            for key, shape in kwargs.items():
                d[key] = to_tensor(rng.standard_normal(shape).astype(np.float32))
            graphs.append(d)
        self.load_list(graphs)


def stochastic_blockmodel_edges(
    block_sizes: Sequence[int], edge_probs, directed: bool, rng: np.random.Generator
) -> np.ndarray:
    """Edges of a stochastic block model, sampled per block pair without a dense matrix."""
    sizes = np.asarray(block_sizes, dtype=np.int64)
    probs = np.asarray(edge_probs, dtype=np.float64)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    parts = []
    for a in range(sizes.size):
        for b in range(sizes.size):
            if not directed and b < a:
                continue
            na, nb = int(sizes[a]), int(sizes[b])
            total = na * nb
            k = rng.binomial(total, probs[a, b])
            if k == 0:
                continue
            flat = rng.choice(total, size=k, replace=False)
            r, c = flat // nb + starts[a], flat % nb + starts[b]
            keep = r != c if directed or a != b else r < c
            parts.append(np.stack([r[keep], c[keep]]))
    ei = np.concatenate(parts, 1) if parts else np.zeros((2, 0), np.int64)
    if not directed:
        ei = np.concatenate([ei, ei[::-1]], 1)
    n = int(starts[-1])
    key = np.unique(ei[0] * n + ei[1])
    return np.stack([key // n, key % n])


class StochasticBlockModelDataset(InMemoryDataset):
    """One graph from a stochastic block model: nodes in blocks of ``block_sizes``, an edge
    between blocks ``a`` and ``b`` with probability ``edge_probs[a][b]``, ``y`` the block.

    With ``num_channels`` the nodes get features separating the blocks: a Gaussian around a
    random per-block centre (PyG draws them with scikit-learn's ``make_classification``,
    which tocha.geometric does not depend on).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.datasets import StochasticBlockModelDataset
        >>> _ = torch.manual_seed(0)
        >>> ds = StochasticBlockModelDataset(None, [20, 30], [[0.5, 0.02], [0.02, 0.4]],
        ...                                  num_channels=4)
        >>> d = ds[0]
        >>> d.num_nodes, d.x.shape[1], d.y.tolist().count(1), d.is_undirected()
        (50, 4, 30, True)
    """

    def __init__(
        self,
        root: str | None,
        block_sizes,
        edge_probs,
        num_graphs: int = 1,
        num_channels: int | None = None,
        is_undirected: bool = True,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        force_reload: bool = False,
        **kwargs,
    ):
        sizes = np.asarray(
            block_sizes.tolist() if isinstance(block_sizes, torch.Tensor) else block_sizes,
            dtype=np.int64,
        )
        probs = np.asarray(
            edge_probs.tolist() if isinstance(edge_probs, torch.Tensor) else edge_probs,
            dtype=np.float64,
        )
        if probs.shape != (sizes.size, sizes.size):
            raise ValueError(
                f"StochasticBlockModelDataset: edge_probs must be {sizes.size}x{sizes.size} "
                f"for {sizes.size} blocks, got shape {probs.shape}"
            )
        if is_undirected and not np.allclose(probs, probs.T):
            raise ValueError(
                "StochasticBlockModelDataset: edge_probs must be symmetric for an undirected graph"
            )
        super().__init__(root, transform, pre_transform)
        self.block_sizes, self.edge_probs = sizes, probs
        rng = _rng()
        graphs = []
        for _ in range(num_graphs):
            y = np.repeat(np.arange(sizes.size), sizes)
            d = Data(
                edge_index=to_tensor(
                    stochastic_blockmodel_edges(sizes, probs, not is_undirected, rng)
                ),
                y=to_tensor(y),
            )
            if num_channels:
                centres = rng.standard_normal((sizes.size, num_channels)) * 2.0
                x = centres[y] + rng.standard_normal((y.size, num_channels))
                d.x = to_tensor(x.astype(np.float32))
            else:
                d.num_nodes = int(sizes.sum())
            graphs.append(d)
        self.load_list(graphs)
