"""Quantization arithmetic shared by the quantized modules (raw arrays, NumPy or CuPy)."""

from __future__ import annotations

import numpy as np

from ...._ops._util import xp_of  # noqa: F401 - the quantized modules' array-module rule

# Products of a uint8 activation offset (|q - zp| <= 255) and an int8 weight (|q| <= 127) are
# at most 32385 in magnitude; float32 holds every integer up to 2**24 exactly, so a float32
# GEMM over at most this many features returns the exact int32 sum. Above it, each partial sum
# is rounded to float32 (relative error ~6e-8 of the running sum): one SGEMM at any K is far
# cheaper than slicing K, and that rounding is ~1e5 times below the quantization error.
F32_EXACT_K = (1 << 24) // (255 * 127)


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
    # integers (zp is one) in three passes, and q - zp is what the GEMM takes, so no zero-point
    # correction (row/column sums of the weight) is needed afterwards. (Row chunks that stay
    # in cache were measured slower at MiniLM's sizes: the passes are already L2-resident.)
    q = xp.divide(x, np.float32(scale))
    xp.rint(q, out=q)
    xp.clip(q, -zp, 255.0 - zp, out=q)
    return q, scale


def weight_t_f32(q_w):
    """The int8 weight as the float32 (in, out) right-hand side of ``x @ W.T``.

    Converted per call (not cached: int8 storage is the point), F-ordered so BLAS reads it as a
    transposed C array with no copy.
    """
    return q_w.T.astype(np.float32)


def dynamic_linear(x, q_w, w_scale, bias, w_t=None):
    """``x @ dequant(q_w).T + bias`` with x quantized to uint8 for this batch: the integer
    product by one float32 SGEMM (exact for ``in_features <= F32_EXACT_K``, within float32
    rounding of the exact int32 sum above), then rescaled per output channel in place.

    ``w_t`` is ``weight_t_f32(q_w)`` when the caller reuses it (the LSTM's recurrent weight,
    converted once per forward instead of once per step).
    """
    k = q_w.shape[1]
    xq, x_scale = quantize_activation(x.astype(np.float32, copy=False))
    lead = xq.shape[:-1]
    if w_t is None:
        w_t = weight_t_f32(q_w)
    # the zero point needs no correction term: q - zp is what was quantized (see above)
    y = xq.reshape(-1, k) @ w_t
    y *= np.float32(x_scale) * w_scale.astype(np.float32, copy=False)
    if bias is not None:
        y += bias
    return y.reshape(lead + (q_w.shape[0],))
