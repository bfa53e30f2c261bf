"""LSTM aggregation over sorted neighbourhoods (torch_geometric.nn.aggr.LSTMAggregation)."""

from __future__ import annotations

import numpy as np

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import LSTM

from .base import Aggregation

__all__ = ["LSTMAggregation", "dense_groups"]


def dense_groups(x: Tensor, index: Tensor, dim_size: int) -> tuple[Tensor, int]:
    """Pack the rows of ``x`` (grouped by a non-decreasing ``index``) into a zero-padded
    ``(dim_size, max_group, F)`` tensor, keeping the row order within each group."""
    idx = index.detach().cpu().numpy()
    if idx.size and np.any(np.diff(idx) < 0):
        raise ValueError("LSTMAggregation: can only operate on 'index' sorted in ascending order")
    counts = np.bincount(idx, minlength=dim_size) if idx.size else np.zeros(dim_size, np.int64)
    width = int(counts.max()) if counts.size else 0
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = np.arange(idx.size) - starts[idx]
    flat = torch.from_numpy(idx * width + pos).to(x.device)
    out = x.new_zeros((dim_size * width,) + tuple(x.shape[1:])).index_add(0, flat, x)
    return out.view((dim_size, width) + tuple(x.shape[1:])), width


class LSTMAggregation(Aggregation):
    """Runs an LSTM over each (sorted) group and keeps the last hidden state.

    Args:
        in_channels: feature size of the rows.
        out_channels: hidden size of the LSTM.
    """

    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.lstm = LSTM(in_channels, out_channels, batch_first=True, **kwargs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lstm.reset_parameters()

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2) -> Tensor:
        d = dim + x.dim() if dim < 0 else dim
        if d != 0:
            raise ValueError("LSTMAggregation: only supports 'dim=0' / 'node_dim=-2' on 2-D input")
        dense, _ = dense_groups(x, index, dim_size)
        return self.lstm(dense)[0][:, -1]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"
