"""Node degrees from an index vector (torch_geometric.utils.degree)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor

__all__ = ["degree"]


def degree(index: Tensor, num_nodes: int | None = None, dtype=None) -> Tensor:
    """Count how often each node id occurs in the 1-D ``index``.

    Args:
        index: node ids (for example ``edge_index[0]`` or ``edge_index[1]``).
        num_nodes: number of nodes (default ``index.max() + 1``).
        dtype: result dtype (default: the default float dtype).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import degree
        >>> degree(torch.tensor([0, 1, 0, 2, 0]))
        tensor([3., 1., 1.])
    """
    if index.dim() != 1:
        raise ValueError(f"degree: index must be one-dimensional (got {index.dim()} dimensions)")
    n = int(index.max()) + 1 if num_nodes is None and index.numel() > 0 else (num_nodes or 0)
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    if index.device.type == "cpu":
        counts = torch.bincount(index, minlength=n) if index.numel() else torch.zeros(n).long()
        if counts.shape[0] > n:
            raise IndexError(
                f"degree: index {counts.shape[0] - 1} is out of bounds for num_nodes {n}"
            )
        return counts.to(dtype)
    one = torch.ones(index.shape[0], dtype=dtype, device=index.device)
    return torch.zeros(n, dtype=dtype, device=index.device).scatter_add(0, index, one)
