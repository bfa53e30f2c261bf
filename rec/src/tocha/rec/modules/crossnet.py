"""Cross networks of DCN and DCN-v2 (torchrec.modules.crossnet).

Each layer computes ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l``; LowRankCrossNet factors
``W_l = U_l V_l`` (DCN-v2's low-rank form).

Example:
    >>> import tocha.core as torch
    >>> net = LowRankCrossNet(in_features=6, num_layers=2, low_rank=3)
    >>> net(torch.randn(4, 6)).shape
    torch.Size([4, 6])
"""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor, nn

__all__ = ["CrossNet", "LowRankCrossNet", "VectorCrossNet"]


def _xavier(*shape) -> nn.Parameter:
    return nn.Parameter(nn.init.xavier_normal_(torch.empty(*shape)))


class CrossNet(nn.Module):
    """Full-rank cross network: ``kernels`` (N x N) and ``bias`` (N x 1) per layer."""

    def __init__(self, in_features: int, num_layers: int) -> None:
        super().__init__()
        self._num_layers = num_layers
        self.kernels = nn.ParameterList(
            [_xavier(in_features, in_features) for _ in range(num_layers)]
        )
        self.bias = nn.ParameterList(
            [nn.Parameter(torch.zeros(in_features, 1)) for _ in range(num_layers)]
        )

    def forward(self, input: Tensor) -> Tensor:
        x0 = input.unsqueeze(2)
        xl = x0
        for k, b in zip(self.kernels, self.bias):
            xl = x0 * (torch.matmul(k, xl) + b) + xl
        return xl.squeeze(2)


class LowRankCrossNet(nn.Module):
    """Low-rank cross network: ``W_kernels`` (N x r), ``V_kernels`` (r x N), ``bias`` (N,)."""

    def __init__(self, in_features: int, num_layers: int, low_rank: int = 1) -> None:
        super().__init__()
        if low_rank < 1:
            raise ValueError(f"LowRankCrossNet: low_rank must be >= 1, got {low_rank}")
        self._num_layers = num_layers
        self._low_rank = low_rank
        self.W_kernels = nn.ParameterList(
            [_xavier(in_features, low_rank) for _ in range(num_layers)]
        )
        self.V_kernels = nn.ParameterList(
            [_xavier(low_rank, in_features) for _ in range(num_layers)]
        )
        self.bias = nn.ParameterList(
            [nn.Parameter(torch.zeros(in_features)) for _ in range(num_layers)]
        )

    def forward(self, input: Tensor) -> Tensor:
        x0 = input
        xl = x0
        for w, v, b in zip(self.W_kernels, self.V_kernels, self.bias):
            xl_w = torch.nn.functional.linear(torch.nn.functional.linear(xl, v), w)
            xl = x0 * (xl_w + b) + xl
        return xl


class VectorCrossNet(nn.Module):
    """DCN-v1 cross network: ``x_{l+1} = x_0 (x_l . w_l) + b_l + x_l`` with vector kernels."""

    def __init__(self, in_features: int, num_layers: int) -> None:
        super().__init__()
        self._num_layers = num_layers
        self.kernels = nn.ParameterList([_xavier(in_features, 1) for _ in range(num_layers)])
        self.bias = nn.ParameterList(
            [nn.Parameter(torch.zeros(in_features, 1)) for _ in range(num_layers)]
        )

    def forward(self, input: Tensor) -> Tensor:
        x0 = input.unsqueeze(2)
        xl = x0
        for k, b in zip(self.kernels, self.bias):
            xl_w = torch.tensordot(xl, k, dims=([1], [0]))  # (B, 1, 1)
            xl = torch.matmul(x0, xl_w) + b + xl
        return xl.squeeze(2)
