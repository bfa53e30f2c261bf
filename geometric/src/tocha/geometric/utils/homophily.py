"""``homophily``: how often edges join nodes of the same label."""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from ._arrays import to_np


def homophily(edge_index, y, batch=None, method: str = "edge"):
    """Edge homophily (share of edges whose ends have the same label) or node homophily (per
    node, the share of its incoming edges from same-label nodes, averaged over nodes; nodes
    without incoming edges count as 0). With ``batch``, one value per graph.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import homophily
        >>> ei = torch.tensor([[0, 1, 2, 3], [1, 2, 0, 2]])
        >>> y = torch.tensor([0, 0, 1, 1])
        >>> homophily(ei, y), homophily(ei, y, method='node')
        (0.5, 0.375)
    """
    if method not in ("edge", "node"):
        raise ValueError(f"homophily: method must be 'edge' or 'node', got {method!r}")
    ei, lab = to_np(edge_index), to_np(y).reshape(-1)
    same = (lab[ei[0]] == lab[ei[1]]).astype(np.float64)
    n = lab.shape[0]
    if method == "edge":
        if batch is None:
            return float(same.mean()) if same.size else 0.0
        b = to_np(batch)[ei[1]]
        g = int(to_np(batch).max()) + 1
        out = np.bincount(b, same, g) / np.maximum(np.bincount(b, minlength=g), 1)
        return torch.from_numpy(out.astype(np.float32))
    per_node = np.bincount(ei[1], same, n) / np.maximum(np.bincount(ei[1], minlength=n), 1)
    if batch is None:
        return float(per_node.mean()) if n else 0.0
    b = to_np(batch)
    g = int(b.max()) + 1
    out = np.bincount(b, per_node, g) / np.maximum(np.bincount(b, minlength=g), 1)
    return torch.from_numpy(out.astype(np.float32))
