"""``train_test_split_edges`` (deprecated in PyG in favour of RandomLinkSplit; kept for old
code)."""

from __future__ import annotations

import math

import numpy as np

import tocha.core as torch

from ._arrays import to_np, to_tensor


def train_test_split_edges(data, val_ratio: float = 0.05, test_ratio: float = 0.1):
    """Split an undirected graph's edges into train/val/test positives and sample as many
    val/test negatives, setting ``train_pos_edge_index`` (both directions),
    ``val_pos_edge_index``, ``test_pos_edge_index``, ``val_neg_edge_index``,
    ``test_neg_edge_index`` and removing ``edge_index``. Uses tocha's global generator.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.utils import to_undirected, train_test_split_edges
        >>> _ = torch.manual_seed(0)
        >>> ei = to_undirected(torch.tensor([[0, 1, 2, 3, 0, 1], [1, 2, 3, 4, 2, 4]]))
        >>> d = train_test_split_edges(Data(edge_index=ei, num_nodes=5), 0.2, 0.2)
        >>> d.train_pos_edge_index.shape[1], d.val_pos_edge_index.shape[1]
        (8, 1)
    """
    n = data.num_nodes
    ei = to_np(data.edge_index)
    row, col = ei
    upper = row < col
    row, col = row[upper], col[upper]
    e = row.shape[0]
    n_v = int(math.floor(val_ratio * e))
    n_t = int(math.floor(test_ratio * e))
    perm = to_np(torch.randperm(e))
    row, col = row[perm], col[perm]
    dev = data.edge_index.device
    data.val_pos_edge_index = to_tensor(np.stack([row[:n_v], col[:n_v]]), dev)
    data.test_pos_edge_index = to_tensor(
        np.stack([row[n_v : n_v + n_t], col[n_v : n_v + n_t]]), dev
    )
    r, c = row[n_v + n_t :], col[n_v + n_t :]
    data.train_pos_edge_index = to_tensor(
        np.stack([np.concatenate([r, c]), np.concatenate([c, r])]), dev
    )
    # negatives: upper-triangle non-edges
    neg = np.triu(np.ones((n, n), dtype=bool), 1)
    neg[ei[0], ei[1]] = False
    neg[ei[1], ei[0]] = False
    nr, nc = np.nonzero(neg)
    p = to_np(torch.randperm(nr.shape[0]))[: n_v + n_t]
    nr, nc = nr[p], nc[p]
    data.val_neg_edge_index = to_tensor(np.stack([nr[:n_v], nc[:n_v]]), dev)
    data.test_neg_edge_index = to_tensor(np.stack([nr[n_v : n_v + n_t], nc[n_v : n_v + n_t]]), dev)
    data.edge_index = None
    return data
