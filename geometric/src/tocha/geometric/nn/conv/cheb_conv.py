"""ChebConv (torch_geometric.nn.conv.ChebConv, Defferrard et al. 2016)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import ModuleList, Parameter

from ...utils._scatter import scatter
from ...utils.loop import add_self_loops, remove_self_loops
from ..dense.linear import Linear
from ..inits import zeros
from .message_passing import MessagePassing

__all__ = ["ChebConv"]


def _laplacian(edge_index, edge_weight, normalization, dtype, num_nodes):
    """Edges and weights of ``L = I - D^-1/2 A D^-1/2`` ('sym'), ``I - D^-1 A`` ('rw') or
    ``D - A`` (None), self-loops removed first (torch_geometric's get_laplacian)."""
    edge_index, edge_weight = remove_self_loops(edge_index, edge_weight)
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), dtype=dtype, device=edge_index.device)
    row, col = edge_index[0], edge_index[1]
    deg = scatter(edge_weight, row, 0, dim_size=num_nodes, reduce="sum")
    if normalization is None:
        edge_index, _ = add_self_loops(edge_index, num_nodes=num_nodes)
        return edge_index, torch.cat([-edge_weight, deg], dim=0)
    if normalization == "sym":
        # isolated nodes get 0 (torch_geometric masks the inf of 0 ** -0.5)
        zero = deg == 0
        dis = torch.where(zero, torch.ones_like(deg), deg).pow(-0.5).masked_fill(zero, 0.0)
        edge_weight = dis.index_select(0, row) * edge_weight * dis.index_select(0, col)
    else:
        zero = deg == 0
        dinv = (1.0 / torch.where(zero, torch.ones_like(deg), deg)).masked_fill(zero, 0.0)
        edge_weight = dinv.index_select(0, row) * edge_weight
    return add_self_loops(edge_index, -edge_weight, fill_value=1.0, num_nodes=num_nodes)


class ChebConv(MessagePassing):
    """Chebyshev spectral graph convolution of order ``K``:
    ``X' = sum_k T_k(L~) X W_k``, ``L~ = 2 L / lambda_max - I``.

    Args:
        in_channels: input size.
        out_channels: output size.
        K: Chebyshev filter size.
        normalization: ``'sym'`` (default), ``'rw'`` or ``None`` (then ``lambda_max`` is needed).
        bias: learn an additive bias.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import ChebConv
        >>> ChebConv(3, 2, K=3)(torch.ones(4, 3), torch.tensor([[0, 1], [1, 0]])).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        K: int,
        normalization: str | None = "sym",
        bias: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        if K <= 0:
            raise ValueError(f"ChebConv: 'K' needs to be positive (got {K})")
        if normalization not in (None, "sym", "rw"):
            raise ValueError(f"ChebConv: invalid normalization '{normalization}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.normalization = normalization
        self.fuse = True
        self.lins = ModuleList(
            [
                Linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
                for _ in range(K)
            ]
        )
        if bias:
            self.bias = Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for lin in self.lins:
            lin.reset_parameters()
        if self.bias is not None:
            zeros(self.bias)

    def __norm__(self, edge_index, num_nodes, edge_weight, normalization, lambda_max, dtype, batch):
        edge_index, edge_weight = _laplacian(
            edge_index, edge_weight, normalization, dtype, num_nodes
        )
        if batch is not None and isinstance(lambda_max, Tensor) and lambda_max.numel() > 1:
            lambda_max = lambda_max.index_select(0, batch.index_select(0, edge_index[0]))
        edge_weight = (2.0 * edge_weight) / lambda_max
        edge_weight = edge_weight.masked_fill(edge_weight == float("inf"), 0.0)
        loop = (edge_index[0] == edge_index[1]).to(edge_weight.dtype)
        return edge_index, edge_weight - loop

    def _prop(self, edge_index, x, norm):
        out = self._fused(edge_index, x, norm)
        return out if out is not None else self.propagate(edge_index, x=x, norm=norm)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        batch: Tensor | None = None,
        lambda_max=None,
    ) -> Tensor:
        if self.normalization != "sym" and lambda_max is None:
            raise ValueError(
                "ChebConv: you need to pass `lambda_max` to `forward() in case the normalization "
                "is non-symmetric"
            )
        if lambda_max is None:
            lambda_max = 2.0
        elif isinstance(lambda_max, Tensor):
            lambda_max = lambda_max.to(x.dtype)
        edge_index, norm = self.__norm__(
            edge_index,
            x.size(self.node_dim),
            edge_weight,
            self.normalization,
            lambda_max,
            x.dtype,
            batch,
        )
        tx0 = x
        out = self.lins[0](tx0)
        if len(self.lins) > 1:
            tx1 = self._prop(edge_index, x, norm)
            out = out + self.lins[1](tx1)
        for lin in self.lins[2:]:
            tx2 = 2.0 * self._prop(edge_index, tx1, norm) - tx0
            out = out + lin(tx2)
            tx0, tx1 = tx1, tx2
        if self.bias is not None:
            out = out + self.bias
        return out

    def message(self, x_j: Tensor, norm: Tensor) -> Tensor:
        return norm.view(-1, 1) * x_j

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.out_channels}, K={len(self.lins)}, "
            f"normalization={self.normalization})"
        )
