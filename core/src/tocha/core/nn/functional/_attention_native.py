"""Scaled dot-product attention through ``_native/gemm.c``'s ``tocha_attention_f32``: each
head's two products (the BLAS tocha uses, sequential) and its softmax in one compiled call over
the intra-op threads, for float32 NumPy arrays without a mask, dropout or kept probabilities
(inference, and forward passes that record no graph). Everything else, and machines without a
compiler or a CBLAS, take `_attention.Attention`'s chunked NumPy path, which computes the same
values (tests compare them)."""

from __future__ import annotations

import ctypes

import numpy as np

from ... import _blas, _native, _parallel

__all__ = ["attention"]

_F4 = np.dtype(np.float32)


def _function():
    P, I, N = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int  # noqa: N806
    return _native.function(
        "gemm", "tocha_attention_f32", P, N, N, I, I, I, I, I, ctypes.c_float, N,
        P, P, I, P, P, I, P, P, I, P, P, I, restype=N,
    )  # fmt: skip


def _matrices(a, batch):
    """(byte offsets of each matrix of ``a`` (..., R, C) over the broadcast ``batch``, row
    stride in elements), or None when rows are not contiguous or BLAS can't take the stride."""
    if a.dtype != _F4 or a.strides[-1] != 4 or a.strides[-2] % 4:
        return None
    ld = a.strides[-2] // 4
    if ld < a.shape[-1] and a.shape[-2] > 1:
        return None
    nb = a.ndim - 2
    off = np.zeros((1,) * nb, dtype=np.int64)
    for d in range(nb):
        shape = [1] * nb
        shape[d] = a.shape[d]
        off = off + (np.arange(a.shape[d], dtype=np.int64) * a.strides[d]).reshape(shape)
    off = np.ascontiguousarray(np.broadcast_to(off, batch), dtype=np.int64).reshape(-1)
    return off, max(ld, a.shape[-1], 1)


def attention(q, k, v, out, scale: float, causal: bool) -> bool:
    """``out[...] = softmax(scale * q @ k^T (causal: top-left)) @ v`` for float32 NumPy arrays
    (batch dims broadcast; ``out`` has the broadcast batch); False, with nothing written, when
    it does not apply."""
    if not (
        q.__class__ is np.ndarray and k.__class__ is np.ndarray and v.__class__ is np.ndarray
        and out.__class__ is np.ndarray and q.ndim >= 2 and k.ndim >= 2 and v.ndim >= 2
    ):  # fmt: skip
        return False
    batch = out.shape[:-2]
    L, E = q.shape[-2:]  # noqa: N806
    S, Ev = v.shape[-2:]  # noqa: N806
    if L == 0 or S == 0 or E == 0 or Ev == 0 or k.shape[-2] != S:
        return False
    ptr = _blas.gemm_pointer(_F4)
    fn = _function() if ptr is not None else None
    if fn is None:
        return False
    mats = [_matrices(a, batch) for a in (q, k, v, out)]
    if any(m is None for m in mats):
        return False
    heads = int(np.prod(batch)) if batch else 1
    parts = _parallel.threads_here() if _parallel.may_split() else 1
    (oq, ldq), (ok, ldk), (ov, ldv), (oo, ldo) = mats
    with _parallel.one_blas_thread():  # OpenBLAS as the BLAS: its own threads stay asleep
        failed = fn(ptr[0], ptr[1], parts, heads, L, S, E, Ev, scale, int(causal),
                    q.ctypes.data, oq.ctypes.data, ldq, k.ctypes.data, ok.ctypes.data, ldk,
                    v.ctypes.data, ov.ctypes.data, ldv, out.ctypes.data, oo.ctypes.data, ldo)  # fmt: skip
    return failed == 0
