"""Launcher of ``kernels/attention.cu``: a flash-style scaled-dot-product attention forward.

It covers attention without a mask tensor, dropout or returned weights (``is_causal`` is
fine), with q, k, v of one floating dtype (float32/float16/bfloat16), equal batch shapes and
head dims up to 128; the ``Attention`` node keeps its xp path for everything else. The forward
saves the per-row log-sum-exp instead of the (L, S) probabilities; backward rebuilds them
from it (:func:`probs`) and runs the node's xp backward.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K

BQ = 16  # query rows per block (kernels/attention.cu)
THREADS = 128  # 4 warps
DMAX = 128


def eligible(q, k, v) -> bool:
    """Whether the flash kernel takes these raw q (..., L, E), k (..., S, E), v (..., S, Ev)."""
    if not (q.dtype == k.dtype == v.dtype) or q.ndim < 2 or not (q.ndim == k.ndim == v.ndim):
        return False
    try:
        if K.dtype_suffix(q.dtype) == "f64":
            return False
    except TypeError:
        return False
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]) or k.shape[-2] != v.shape[-2]:
        return False
    e, ev, n_q, n_k = q.shape[-1], v.shape[-1], q.shape[-2], k.shape[-2]
    return k.shape[-1] == e and 0 < e <= DMAX and 0 < ev <= DMAX and n_q > 0 and n_k > 0


def grid(batch: int, n_q: int) -> tuple[int, int]:
    """One block per (batch*head, tile of ``BQ`` query rows)."""
    return K.row_grid(batch * -(-n_q // BQ))


def forward(q, k, v, scale: float, causal: bool):
    """``(out, lse)``: out (..., L, Ev) in q's dtype, lse (..., L) float32."""
    import cupy as cp

    batch = q.shape[:-2]
    n_q, e = q.shape[-2:]
    n_k, ev = v.shape[-2:]
    bh = int(np.prod(batch, dtype=np.int64))
    q3, k3, v3 = (cp.ascontiguousarray(a).reshape(bh, a.shape[-2], a.shape[-1]) for a in (q, k, v))
    out = cp.empty((bh, n_q, ev), dtype=q.dtype)
    lse = cp.empty((bh, n_q), dtype=np.float32)
    fn = K.function("attention", f"attn_fwd_{K.dtype_suffix(q.dtype)}")
    fn(
        grid(bh, n_q),
        (THREADS,),
        (
            q3,
            k3,
            v3,
            out,
            lse,
            np.int64(bh),
            np.int64(n_q),
            np.int64(n_k),
            np.int32(e),
            np.int32(ev),
            np.float32(scale),
            np.int32(bool(causal)),
        ),
    )
    return out.reshape(batch + (n_q, ev)), lse.reshape(batch + (n_q,))


def probs(xp, q, k, lse, scale: float, causal: bool):
    """The float32 probabilities ``exp(q k^T * scale - lse)`` (masked above the diagonal when
    ``causal``) that a forward with log-sum-exp ``lse`` used."""
    s = xp.matmul(
        q.astype(np.float32) * np.float32(scale), xp.swapaxes(k.astype(np.float32), -1, -2)
    )
    s -= lse[..., None]
    if causal:
        n_q, n_k = s.shape[-2:]
        s[..., xp.triu(xp.ones((n_q, n_k), dtype=bool), 1)] = -np.inf
    return xp.exp(s, out=s)
