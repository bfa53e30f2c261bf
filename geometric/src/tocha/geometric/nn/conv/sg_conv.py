"""SGConv and APPNP: propagation-only layers on the GCN-normalised adjacency."""

from __future__ import annotations

from tocha.core import Tensor
from tocha.core.nn import functional as F

from ..dense.linear import Linear
from .gcn_conv import _cached_gcn_norm, _layer_gcn_norm
from .message_passing import MessagePassing

__all__ = ["SGConv", "APPNP"]


class _Propagator(MessagePassing):
    """Shared ``A_hat x`` step (fused on the CPU)."""

    def _step(self, edge_index, x, edge_weight):
        out = self._fused(edge_index, x, edge_weight)
        if out is None:
            out = self.propagate(edge_index, x=x, edge_weight=edge_weight)
        return out

    def message(self, x_j: Tensor, edge_weight: Tensor | None) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j


class SGConv(_Propagator):
    """Simplified graph convolution: ``X' = (D^-1/2 (A + I) D^-1/2)^K X W``.

    Args:
        in_channels: input size.
        out_channels: output size.
        K: number of hops.
        cached: cache ``A_hat^K X`` (transductive).
        add_self_loops: add self-loops before normalising.
        bias: bias of ``lin``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import SGConv
        >>> SGConv(3, 2, K=2)(torch.ones(4, 3), torch.tensor([[0, 1], [1, 0]])).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        K: int = 1,
        cached: bool = False,
        add_self_loops: bool = True,
        bias: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.K = K
        self.cached = cached
        self.add_self_loops = add_self_loops
        self.fuse = True
        self._cached_x = None
        self.lin = Linear(in_channels, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin.reset_parameters()
        self._cached_x = None

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None):
        cache = self._cached_x
        if cache is None:
            edge_index, edge_weight = _layer_gcn_norm(self, x, edge_index, edge_weight)
            for _ in range(self.K):
                x = self._step(edge_index, x, edge_weight)
            if self.cached:
                self._cached_x = x
        else:
            x = cache.detach()
        return self.lin(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, K={self.K})"


class APPNP(_Propagator):
    """Personalised-PageRank propagation: ``X^(k+1) = (1 - alpha) A_hat X^(k) + alpha X^(0)``.

    Args:
        K: number of iterations.
        alpha: teleport probability.
        dropout: dropout on the normalised edge weights (training only).
        cached: cache the normalisation.
        add_self_loops: add self-loops before normalising.
        normalize: apply GCN normalisation.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import APPNP
        >>> APPNP(K=3, alpha=0.1)(torch.ones(4, 3), torch.tensor([[0, 1], [1, 0]])).shape
        torch.Size([4, 3])
    """

    def __init__(
        self,
        K: int,
        alpha: float,
        dropout: float = 0.0,
        cached: bool = False,
        add_self_loops: bool = True,
        normalize: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.K = K
        self.alpha = alpha
        self.dropout = dropout
        self.cached = cached
        self.add_self_loops = add_self_loops
        self.normalize = normalize
        self.fuse = True
        self._cached_edge_index = None

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self._cached_edge_index = None

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None):
        if self.normalize:
            edge_index, edge_weight = _cached_gcn_norm(self, x, edge_index, edge_weight)
        h = x
        for _ in range(self.K):
            w = edge_weight
            if self.dropout > 0 and self.training and w is not None:
                w = F.dropout(w, p=self.dropout)
            x = self._step(edge_index, x, w)
            x = x * (1 - self.alpha)
            x = x + self.alpha * h
        return x

    def __repr__(self) -> str:
        return f"{type(self).__name__}(K={self.K}, alpha={self.alpha})"
