"""Aggregation base class (torch_geometric.nn.aggr.Aggregation)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Module

from ...utils._scatter import scatter, segment

__all__ = ["Aggregation"]


class Aggregation(Module):
    """Reduces a set of rows into groups: ``forward(x, index=None, ptr=None, dim_size=None,
    dim=-2)``. Without ``index`` and ``ptr`` everything is one group."""

    def __call__(self, x: Tensor, index=None, ptr=None, dim_size=None, dim: int = -2, **kwargs):
        if dim >= x.dim() or dim < -x.dim():
            raise ValueError(
                f"{type(self).__name__}: encountered invalid dimension '{dim}' of source tensor "
                f"with {x.dim()} dimensions"
            )
        if index is None and ptr is None:
            index = torch.zeros(x.size(dim), dtype=torch.long, device=x.device)
        if ptr is not None:
            if dim_size is None:
                dim_size = ptr.numel() - 1
            elif dim_size != ptr.numel() - 1:
                raise ValueError(
                    f"{type(self).__name__}: encountered invalid 'dim_size' (got {dim_size} but "
                    f"expected {ptr.numel() - 1})"
                )
        if index is not None and dim_size is None:
            dim_size = int(index.max()) + 1 if index.numel() > 0 else 0
        return super().__call__(x, index=index, ptr=ptr, dim_size=dim_size, dim=dim, **kwargs)

    def reset_parameters(self) -> None:
        pass

    def reduce(self, x: Tensor, index=None, ptr=None, dim_size=None, dim=-2, reduce="sum"):
        d = dim + x.dim() if dim < 0 else dim
        if ptr is not None and d == 0:
            return segment(x, ptr, reduce=reduce)
        if index is None:
            raise NotImplementedError(f"{type(self).__name__}: requires 'index' to be specified")
        return scatter(x, index, d, dim_size, reduce)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
