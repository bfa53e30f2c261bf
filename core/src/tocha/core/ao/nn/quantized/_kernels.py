"""Quantization arithmetic shared by the quantized modules (raw arrays, NumPy or CuPy)."""

from __future__ import annotations

import numpy as np

# Products of a uint8 activation offset (|q - zp| <= 255) and an int8 weight (|q| <= 127) are
# at most 32385; float32 holds every integer sum exactly up to 2**24, so a float32 GEMM over at
# most this many features gives the exact int32-style accumulation.
_F32_EXACT_K = (1 << 24) // (255 * 127)


def xp_of(a):
    if isinstance(a, np.ndarray):
        return np
    import cupy  # pragma: no cover - GPU

    return cupy  # pragma: no cover - GPU


def quantize_weight(w, dtype: str = "qint8"):
    """Per-output-channel symmetric int8: ``w ~= q * scale[:, None]``, q in [-127, 127].

    Returns ``(q, scale)`` with q int8 (out, in) and scale float32 (out,).
    """
    xp = xp_of(w)
    w = w.astype(np.float32, copy=False)
    amax = xp.abs(w).max(axis=1) if w.shape[1] else xp.zeros(w.shape[0], np.float32)
    scale = (amax / 127.0).astype(np.float32)
    scale = xp.where(scale > 0, scale, np.float32(1.0))  # all-zero rows: any scale is exact
    q = xp.clip(xp.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def quantize_activation(x):
    """Per-tensor asymmetric uint8 of one batch: ``x ~= (q - zp) * scale``.

    The range always contains 0 (so zero, e.g. padding, is exact), as torch's observers do.
    Returns ``(q - zp, scale)`` with ``q - zp`` as float32 integers.
    """
    xp = xp_of(x)
    lo = min(float(x.min()), 0.0) if x.size else 0.0
    hi = max(float(x.max()), 0.0) if x.size else 0.0
    scale = (hi - lo) / 255.0
    if scale == 0.0:
        scale = 1.0
    zp = float(np.clip(np.rint(-lo / scale), 0, 255))
    # clip(rint(x / s) + zp, 0, 255) - zp, as clip(rint(x / s), -zp, 255 - zp): the same
    # integers (zp is one) in three in-place passes
    q = xp.divide(x, np.float32(scale))
    xp.rint(q, out=q)
    xp.clip(q, -zp, 255.0 - zp, out=q)
    return q, scale


def dynamic_linear(x, q_w, w_scale, bias):
    """``x @ dequant(q_w).T + bias`` with x quantized to uint8 for this batch and the product
    accumulated exactly (as an int32 GEMM would), then rescaled per output channel.

    The GEMM runs in float32 on slices of at most ``_F32_EXACT_K`` input features, each of whose
    partial sums is an exact integer in float32; the slices are added in float64 (exact too).
    """
    k = q_w.shape[1]
    xq, x_scale = quantize_activation(x.astype(np.float32, copy=False))
    lead = xq.shape[:-1]
    xq = xq.reshape(-1, k).astype(np.float32, copy=False)
    wt = q_w.T.astype(np.float32)
    if k <= _F32_EXACT_K:
        y = xq @ wt
        y *= np.float32(x_scale) * w_scale.astype(np.float32)
    else:
        acc = None
        for a in range(0, k, _F32_EXACT_K):
            part = xq[:, a : a + _F32_EXACT_K] @ wt[a : a + _F32_EXACT_K]
            acc = part.astype(np.float64) if acc is None else acc + part
        y = (acc * (x_scale * w_scale.astype(np.float64))).astype(np.float32)
    if bias is not None:
        y += bias
    return y.reshape(lead + (q_w.shape[0],))
