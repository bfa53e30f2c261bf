"""The one embedding-lookup primitive behind EmbeddingBagCollection and EmbeddingCollection.

A lookup is ``out = S @ W[u]`` where ``u`` are the unique ids of the batch and ``S`` is a CSR
matrix (bags x unique ids) holding each id's coefficient in its bag (1, the per-sample weight,
or 1/len for MEAN). A non-pooled lookup is the same with one id per "bag". Backward is
``S.T @ grad``: the summed gradient of each touched row, never a dense table-sized gradient
unless the weight is an ordinary (non-fused) parameter, in which case it is scattered into
one dense array as ``nn.EmbeddingBag`` does.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import tocha.core as torch
from tocha.core import Tensor

__all__ = ["lookup"]


def _np(t: Tensor) -> np.ndarray:
    return t.detach().numpy()


class _Lookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight, psw, *, u, inv, offsets, mode, fused):
        w = weight._data
        nb = offsets.shape[0] - 1
        if psw is not None:
            coef = _np(psw).astype(w.dtype, copy=False)
        else:
            coef = np.ones(inv.shape[0], dtype=w.dtype)
        if mode == "mean":
            lengths = np.diff(offsets)
            coef = coef / np.maximum(lengths, 1).astype(w.dtype)[np.repeat(np.arange(nb), lengths)]
        s = sp.csr_matrix((coef, inv, offsets), shape=(nb, u.shape[0]))
        rows = w[u]
        ctx.s, ctx.u, ctx.inv, ctx.offsets, ctx.fused = s, u, inv, offsets, fused
        ctx.rows = rows if psw is not None else None
        ctx.weight = weight
        return torch.from_numpy(np.asarray(s @ rows))

    @staticmethod
    def backward(ctx, grad):
        g = _np(grad)
        w = ctx.weight._data
        grad_u = np.asarray(ctx.s.T @ g, dtype=w.dtype)
        grad_psw = None
        if ctx.rows is not None and ctx.needs_input_grad[1]:
            seg = np.repeat(np.arange(ctx.offsets.shape[0] - 1), np.diff(ctx.offsets))
            grad_psw = torch.from_numpy(np.einsum("ij,ij->i", ctx.rows[ctx.inv], g[seg]))
        if ctx.fused is not None:
            # the fused optimizer consumes the row gradient here: no .grad is produced
            ctx.fused.step_rows(w, ctx.u, grad_u)
            return None, grad_psw
        if not ctx.needs_input_grad[0]:
            return None, grad_psw
        dense = np.zeros_like(w)
        dense[ctx.u] = grad_u
        return torch.from_numpy(dense), grad_psw


def lookup(
    weight: Tensor,
    ids: np.ndarray,
    offsets: np.ndarray,
    mode: str = "sum",
    per_sample_weights: Tensor | None = None,
    who: str = "EmbeddingBagCollection",
    table: str = "",
) -> Tensor:
    """Pooled (``mode`` 'sum'/'mean') or per-id (``mode`` 'none') rows of ``weight``.

    ``ids`` are int ids, ``offsets`` the bag boundaries (``nbags + 1`` entries; ignored for
    'none'). A weight marked by ``apply_optimizer_in_backward`` is updated during backward.

    Example:
        >>> import numpy as np
        >>> import tocha.core as torch
        >>> w = torch.arange(6.0).reshape(3, 2)
        >>> lookup(w, np.array([0, 2, 1]), np.array([0, 2, 3]))
        tensor([[4., 6.],
                [2., 3.]])
    """
    n = weight.shape[0]
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        bad = int(ids.max()) if ids.max() >= n else int(ids.min())
        raise IndexError(f"{who}: id {bad} out of range for table {table!r} with {n} rows")
    if mode == "none":
        offsets = np.arange(ids.shape[0] + 1, dtype=np.int64)
        mode = "sum"
    if mode not in ("sum", "mean"):
        raise ValueError(f"{who}: unsupported pooling {mode!r} for the row-sparse lookup")
    u, inv = np.unique(ids, return_inverse=True)
    opts = getattr(weight, "_in_backward_optimizers", None)
    fused = opts[0] if opts else None
    return _Lookup.apply(
        weight,
        per_sample_weights,
        u=u,
        inv=inv.reshape(-1),
        offsets=np.asarray(offsets),
        mode=mode,
        fused=fused,
    )
