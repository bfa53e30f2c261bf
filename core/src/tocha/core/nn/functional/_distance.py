"""Distance functions of ``torch.nn.functional``: cosine_similarity, pairwise_distance, pdist."""

from __future__ import annotations

from ..._tensor import Tensor

__all__ = ["cosine_similarity", "pairwise_distance", "pdist"]


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``x1 . x2 / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim`` (the operands
    broadcast).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.cosine_similarity(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]]))
        tensor([0.7071])
    """
    if x1._data.shape != x2._data.shape:
        from ..._ops.shape import broadcast_tensors

        x1, x2 = broadcast_tensors(x1, x2)
    # each operand normalised first: the product of the norms can overflow or underflow
    n1 = x1.norm(dim=dim, keepdim=True).clamp_min(eps)
    n2 = x2.norm(dim=dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dim (the operands broadcast).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.pairwise_distance(torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]]), eps=0.0)
        tensor([5.])
    """
    nd = max(x1._data.ndim, x2._data.ndim)
    d = nd - 1 if nd else 0
    diff = x1 - x2 + eps
    if diff._data.ndim == 0:
        return diff.abs()
    return diff.norm(p, d, keepdim=keepdim)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """The p-norm distances between every pair of rows ``i < j`` of an (N, M) input, in the
    order of the upper triangle.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.pdist(torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]))
        tensor([5.0000, 1.0000, 4.2426])
    """
    if input._data.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input._data.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    import numpy as np

    from ..._tensor import wrap

    n = input._data.shape[0]
    i, j = np.triu_indices(n, 1)
    from ..._ops._util import xp_of

    xp = xp_of(input._data)
    diff = input[wrap(xp.asarray(i))] - input[wrap(xp.asarray(j))]
    return diff.norm(p, 1)
