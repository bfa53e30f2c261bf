"""Softmax over groups of rows (torch_geometric.utils.softmax)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor

from ._scatter import gather_rows, scatter

__all__ = ["softmax"]


def softmax(
    src: Tensor,
    index: Tensor | None = None,
    ptr: Tensor | None = None,
    num_nodes: int | None = None,
    dim: int = 0,
) -> Tensor:
    """Softmax of ``src`` within each group of entries sharing the same ``index`` (or lying in
    the same CSR segment ``ptr``) along ``dim``.

    Args:
        src: the scores.
        index: group of each entry along ``dim``.
        ptr: CSR pointers of sorted groups, used instead of ``index`` when given.
        num_nodes: number of groups (default ``index.max() + 1``).
        dim: the dimension the groups run along.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import softmax
        >>> softmax(torch.tensor([1.0, 1.0, 2.0]), torch.tensor([0, 0, 1]))
        tensor([0.5000, 0.5000, 1.0000])
    """
    if ptr is not None:
        d = dim + src.dim() if dim < 0 else dim
        p = ptr.detach().cpu().numpy()
        counts = torch.from_numpy(p[1:] - p[:-1]).to(src.device)
        index = torch.repeat_interleave(torch.arange(p.shape[0] - 1, device=src.device), counts)
        num_nodes = p.shape[0] - 1
        dim = d
    elif index is None:
        raise NotImplementedError("softmax: one of `index` or `ptr` must be given")
    if num_nodes is None:
        num_nodes = int(index.max()) + 1 if index.numel() > 0 else 0
    # the max is a constant shift (its gradient cancels), so it is taken without autograd
    d = dim + src.dim() if dim < 0 else dim

    def pick(t: Tensor) -> Tensor:
        return gather_rows(t, index) if d == 0 else t.index_select(d, index)

    src_max = scatter(src.detach(), index, dim, dim_size=num_nodes, reduce="max")
    out = (src - pick(src_max)).exp()
    out_sum = scatter(out, index, dim, dim_size=num_nodes, reduce="sum") + 1e-16
    return out / pick(out_sum)
