"""EdgeConv and DynamicEdgeConv (torch_geometric.nn.conv, Wang et al. 2019) and ``knn``."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Module

from ..inits import reset
from .message_passing import MessagePassing

__all__ = ["EdgeConv", "DynamicEdgeConv", "knn"]


def knn(x: Tensor, y: Tensor, k: int, batch_x=None, batch_y=None) -> Tensor:
    """For each row of ``y`` its ``k`` nearest rows of ``x`` (Euclidean) within the same graph.

    Returns:
        ``(2, M)``: row 0 the index into ``y``, row 1 the index into ``x``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn.conv.edge_conv import knn
        >>> x = torch.tensor([[0.0], [1.0], [5.0]])
        >>> knn(x, torch.tensor([[0.9]]), 2)
        tensor([[0, 0],
                [1, 0]])
    """
    xa = x.detach().cpu().numpy().reshape(x.shape[0], -1)
    ya = y.detach().cpu().numpy().reshape(y.shape[0], -1)
    bx = batch_x.detach().cpu().numpy() if batch_x is not None else np.zeros(len(xa), np.int64)
    by = batch_y.detach().cpu().numpy() if batch_y is not None else np.zeros(len(ya), np.int64)
    rows, cols = [], []
    for g in np.unique(by):
        xi = np.flatnonzero(bx == g)
        yi = np.flatnonzero(by == g)
        if not xi.size:
            continue
        kk = min(k, xi.size)
        _, nn = cKDTree(xa[xi]).query(ya[yi], k=kk)
        nn = nn.reshape(len(yi), kk)
        rows.append(np.repeat(yi, kk))
        cols.append(xi[nn.reshape(-1)])
    if not rows:
        return torch.zeros(2, 0, dtype=torch.long, device=x.device)
    out = np.stack([np.concatenate(rows), np.concatenate(cols)]).astype(np.int64)
    return torch.from_numpy(out).to(x.device)


class EdgeConv(MessagePassing):
    """``x'_i = aggr_{j in N(i)} nn([x_i, x_j - x_i])`` (dynamic graph CNN edge convolution).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import EdgeConv
        >>> EdgeConv(torch.nn.Linear(6, 4))(torch.ones(4, 3), torch.tensor([[0, 1], [1, 2]])).shape
        torch.Size([4, 4])
    """

    def __init__(self, nn: Module, aggr: str = "max", **kwargs) -> None:
        super().__init__(aggr=aggr, **kwargs)
        self.nn = nn
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset(self.nn)

    def forward(self, x, edge_index: Tensor) -> Tensor:
        if isinstance(x, Tensor):
            x = (x, x)
        return self.propagate(edge_index, x=x, size=None)

    def message(self, x_i: Tensor, x_j: Tensor) -> Tensor:
        return self.nn(torch.cat([x_i, x_j - x_i], dim=-1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(nn={self.nn})"


class DynamicEdgeConv(MessagePassing):
    """EdgeConv on the k-nearest-neighbour graph of the current features (self included).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import DynamicEdgeConv
        >>> conv = DynamicEdgeConv(torch.nn.Linear(6, 4), k=2)
        >>> conv(torch.randn(5, 3), torch.tensor([0, 0, 0, 1, 1])).shape
        torch.Size([5, 4])
    """

    def __init__(self, nn: Module, k: int, aggr: str = "max", num_workers: int = 1, **kwargs):
        super().__init__(aggr=aggr, flow="source_to_target", **kwargs)
        self.nn = nn
        self.k = k
        self.num_workers = num_workers
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset(self.nn)

    def forward(self, x, batch=None) -> Tensor:
        if isinstance(x, Tensor):
            x = (x, x)
        if x[0].dim() != 2:
            raise ValueError("DynamicEdgeConv: static graphs not supported")
        b = (batch, batch) if not isinstance(batch, (tuple, list)) else batch
        edge_index = knn(x[0], x[1], self.k, b[0], b[1]).flip([0])
        return self.propagate(edge_index, x=x, size=None)

    def message(self, x_i: Tensor, x_j: Tensor) -> Tensor:
        return self.nn(torch.cat([x_i, x_j - x_i], dim=-1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(nn={self.nn}, k={self.k})"
