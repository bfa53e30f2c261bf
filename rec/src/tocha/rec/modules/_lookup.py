"""The one embedding-lookup primitive behind EmbeddingBagCollection and EmbeddingCollection.

A lookup is ``out = S @ W`` where ``S`` is a CSR matrix (bags x table rows) holding each id's
coefficient in its bag (1, the per-sample weight, or 1/len for MEAN); the sparse product reads
only the rows the batch names. A non-pooled lookup is the same with one id per "bag". Backward
is ``S_u.T @ grad`` with ``S_u`` the same matrix over the batch's unique ids: the summed
gradient of each touched row, never a dense table-sized gradient
unless the weight is an ordinary (non-fused) parameter, in which case it is scattered into
one dense array as ``nn.EmbeddingBag`` does.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import tocha.core as torch
from tocha.core import Tensor

from .._kernels import accumulate_rows, pool

__all__ = ["lookup"]


def _np(t: Tensor) -> np.ndarray:
    return t.detach().numpy()


class _Lookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight, psw, *, ids, offsets, mode, fused):
        w = weight._data
        nb = offsets.shape[0] - 1
        if psw is not None:
            coef = _np(psw).astype(w.dtype)
        else:
            coef = np.ones(ids.shape[0], dtype=w.dtype)
        if mode == "mean":
            lengths = np.diff(offsets)
            coef /= np.maximum(lengths, 1).astype(w.dtype)[np.repeat(np.arange(nb), lengths)]
        ctx.coef, ctx.ids, ctx.offsets, ctx.fused, ctx.weight = coef, ids, offsets, fused, weight
        return torch.from_numpy(pool(w, offsets, ids, coef))

    @staticmethod
    def backward(ctx, grad):
        g = np.ascontiguousarray(_np(grad))
        weight = ctx.weight
        w = weight._data
        ids, offsets, coef = ctx.ids, ctx.offsets, ctx.coef
        grad_psw = None
        if ctx.needs_input_grad[1]:
            seg = np.repeat(np.arange(offsets.shape[0] - 1), np.diff(offsets))
            grad_psw = torch.from_numpy(np.einsum("ij,ij->i", w.take(ids, axis=0), g[seg]))
        fused = ctx.fused
        if fused is not None:
            # the fused optimizer consumes the row gradient here: no .grad is produced
            if getattr(fused, "step_bags", None) is not None and fused.step_bags(
                w, offsets, ids, coef, g
            ):
                return None, grad_psw
            # the summed gradient of each touched row: (unique ids x bags).T @ grad
            u, inv = np.unique(ids, return_inverse=True)
            st = sp.csr_matrix(
                (coef, inv.reshape(-1), offsets), shape=(offsets.shape[0] - 1, u.shape[0])
            )
            fused.step_rows(w, u, np.asarray(st.T @ g, dtype=w.dtype))
            return None, grad_psw
        if not ctx.needs_input_grad[0]:
            return None, grad_psw
        dense = np.zeros_like(w)
        accumulate_rows(dense, offsets, ids, coef, g)
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
    # one index dtype for ids and offsets, as the compiled CSR loops require
    ids = np.asarray(ids).astype(np.int64, copy=False)
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        bad = int(ids.max()) if ids.max() >= n else int(ids.min())
        raise IndexError(f"{who}: id {bad} out of range for table {table!r} with {n} rows")
    if mode == "none":
        offsets = np.arange(ids.shape[0] + 1, dtype=np.int64)
        mode = "sum"
    if mode not in ("sum", "mean"):
        raise ValueError(f"{who}: unsupported pooling {mode!r} for the row-sparse lookup")
    opts = getattr(weight, "_in_backward_optimizers", None)
    fused = opts[0] if opts else None
    return _Lookup.apply(
        weight,
        per_sample_weights,
        ids=ids,
        offsets=np.asarray(offsets).astype(np.int64, copy=False),
        mode=mode,
        fused=fused,
    )
