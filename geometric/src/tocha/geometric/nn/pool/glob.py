"""Global (readout) pooling: one row per graph (torch_geometric.nn.pool.glob)."""

from __future__ import annotations

from tocha.core import Tensor

from ...utils._scatter import scatter

__all__ = ["global_add_pool", "global_mean_pool", "global_max_pool"]


def _pool(x: Tensor, batch, size, reduce: str) -> Tensor:
    dim = -1 if x.dim() == 1 else -2
    if batch is None:
        keep = x.dim() <= 2
        if reduce == "sum":
            return x.sum(dim=dim, keepdim=keep)
        if reduce == "mean":
            return x.mean(dim=dim, keepdim=keep)
        return x.max(dim=dim, keepdim=keep)[0]
    return scatter(x, batch, dim=dim, dim_size=size, reduce=reduce)


def global_add_pool(x: Tensor, batch: Tensor | None = None, size: int | None = None) -> Tensor:
    """Sum of the node features of each graph.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import global_add_pool
        >>> global_add_pool(torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([0, 0, 1]))
        tensor([[3.],
                [4.]])
    """
    return _pool(x, batch, size, "sum")


def global_mean_pool(x: Tensor, batch: Tensor | None = None, size: int | None = None) -> Tensor:
    """Mean of the node features of each graph.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import global_mean_pool
        >>> global_mean_pool(torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([0, 0, 1]))
        tensor([[1.5000],
                [4.0000]])
    """
    return _pool(x, batch, size, "mean")


def global_max_pool(x: Tensor, batch: Tensor | None = None, size: int | None = None) -> Tensor:
    """Feature-wise maximum over the nodes of each graph.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import global_max_pool
        >>> global_max_pool(torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([0, 0, 1]))
        tensor([[2.],
                [4.]])
    """
    return _pool(x, batch, size, "max")
