"""Random graph generators: ``erdos_renyi_graph`` and ``stochastic_blockmodel_graph``.

They draw from tocha's global generator (through a NumPy generator seeded from it)."""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from ._arrays import to_tensor


def _rng() -> np.random.Generator:
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))


def erdos_renyi_graph(num_nodes: int, edge_prob: float, directed: bool = False):
    """Every ordered (``directed``) or unordered pair of distinct nodes is an edge with
    probability ``edge_prob``; edges come sorted by source, then target.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import erdos_renyi_graph, is_undirected
        >>> _ = torch.manual_seed(0)
        >>> ei = erdos_renyi_graph(20, 0.3)
        >>> is_undirected(ei), bool((ei[0] != ei[1]).all())
        (True, True)
    """
    from ..datasets.synthetic import stochastic_blockmodel_edges

    return to_tensor(stochastic_blockmodel_edges([num_nodes], [[edge_prob]], directed, _rng()))


def stochastic_blockmodel_graph(block_sizes, edge_probs, directed: bool = False):
    """A stochastic block model: an edge between nodes of blocks ``a`` and ``b`` with
    probability ``edge_probs[a][b]``, sampled per block pair without a dense matrix.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import stochastic_blockmodel_graph
        >>> _ = torch.manual_seed(0)
        >>> ei = stochastic_blockmodel_graph([5, 5], [[1.0, 0.0], [0.0, 1.0]])
        >>> ei.shape[1], bool(((ei[0] < 5) == (ei[1] < 5)).all())
        (40, True)
    """
    from ..datasets.synthetic import stochastic_blockmodel_edges

    sizes = block_sizes.tolist() if isinstance(block_sizes, torch.Tensor) else block_sizes
    probs = edge_probs.tolist() if isinstance(edge_probs, torch.Tensor) else edge_probs
    return to_tensor(stochastic_blockmodel_edges(sizes, probs, directed, _rng()))
