"""Moving index tensors between tocha and NumPy.

Graph bookkeeping (sorting edges, sampling neighbours, building partitions) is integer work that
NumPy/SciPy do well; values that may carry gradients stay tocha tensors and are only indexed with
tocha ops, so autograd sees them.
"""

from __future__ import annotations

import numpy as np

import tocha.core as torch


def to_np(t) -> np.ndarray:
    """A NumPy view (CPU) or copy (GPU) of a tensor's data; arrays pass through."""
    if isinstance(t, torch.Tensor):
        if t.device.type != "cpu":
            t = t.cpu()
        return t.detach().numpy()
    return np.asarray(t)


def to_tensor(a: np.ndarray, device=None) -> torch.Tensor:
    """A tocha tensor sharing memory with ``a`` on the CPU, moved to ``device`` if given."""
    a = np.ascontiguousarray(a)
    if a.dtype == np.int32 or a.dtype == np.uint32 or a.dtype == np.uint64:
        a = a.astype(np.int64)
    t = torch.from_numpy(a)
    if device is not None and torch.device(device).type != "cpu":
        t = t.to(device)
    return t


def index_tensor(a, device=None) -> torch.Tensor:
    """An int64 tensor of ``a`` (array, list or tensor)."""
    if isinstance(a, torch.Tensor):
        return a if a.dtype == torch.int64 else a.long()
    return to_tensor(np.asarray(a, dtype=np.int64), device)


def maybe_num_nodes(edge_index, num_nodes: int | None = None) -> int:
    """``num_nodes`` if given, else one more than the largest node id in ``edge_index``."""
    if num_nodes is not None:
        return int(num_nodes)
    ei = to_np(edge_index)
    return int(ei.max()) + 1 if ei.size else 0
