"""Launchers of ``kernels/pool.cu``: the CuPy path of pooling in ``_ops/pool.py``.

- Max pooling (1-D and 2-D; 1-D runs as 2-D with a height of 1): one kernel computes the
  values and torch's int64 indices; the backward is a gather kernel (each input element sums
  the gradients of the windows whose argmax it is: deterministic, no atomics).
- Average and adaptive-average pooling are the ``Resample`` node with one linear map per
  spatial axis (see ``_ops/pool.py``). Their maps are *windows*: each output reads a
  contiguous run of inputs, with one weight per output (the reciprocal divisor) or, for their
  transposes (the backward), one weight per input. `window_tables` recognises such a map from
  its matrix, and one ``window2d`` kernel then applies both axes in one pass, forward and
  backward alike; any other map (interpolation, padding) keeps the xp path.

Functions return None for what the kernels do not cover, and the caller runs its xp code.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K
from ._conv import elem_strides, ints, span, supported, wide

ENABLED = True  # tests turn it off to compare against the xp path on the same GPU
THREADS = 256


def usable(x) -> bool:
    """Whether the kernels take ``x`` (a non-empty float array, kernels switched on)."""
    return ENABLED and x.size > 0 and supported(x.dtype)


def _name(kind, dtype, is_wide):
    return f"{kind}_{K.dtype_suffix(dtype)}{'_l' if is_wide else ''}"


def as_2d(K_, s, d, lo, O):  # noqa: N803
    """A 1-D or 2-D pooling geometry as 2-D (a leading axis of size 1), or None for 3-D."""
    if len(K_) == 2:
        return tuple(K_), tuple(s), tuple(d), tuple(lo), tuple(O)
    if len(K_) == 1:
        return (1,) + tuple(K_), (1,) + tuple(s), (1,) + tuple(d), (0,) + tuple(lo), (1,) + tuple(O)
    return None


def _pool_args(K2, s2, d2, lo2):  # noqa: N803
    # the kernel's order: kh, kw, sh, sw, ph, pw, dh, dw
    return tuple(K2) + tuple(s2) + tuple(lo2) + tuple(d2)


def max_pool(x, K_, s, d, lo, O, want_idx: bool):  # noqa: N803
    """``max_pool_arrays`` on the GPU: (values, int64 indices or None), or None."""
    import cupy as cp

    g2 = as_2d(K_, s, d, lo, O)
    if g2 is None or not usable(x):
        return None
    K2, s2, d2, lo2, O2 = g2  # noqa: N806
    x4 = x if x.ndim == 4 else x[:, :, None, :]
    N, C, H, W = x4.shape  # noqa: N806
    y = cp.empty((N, C) + O2, dtype=x.dtype)
    idx = cp.empty((N, C) + O2, dtype=np.int64)
    if y.size:
        is_w = wide(y.size, span(x4), H * W)
        args = (x4, y, idx) + ints(
            (N, C, H, W) + O2 + _pool_args(K2, s2, d2, lo2) + elem_strides(x4), is_w
        )
        K.function("pool", _name("maxpool2d_fwd", x.dtype, is_w))(
            (K.blocks_for(y.size, THREADS),), (THREADS,), args
        )
    shape = (N, C) + tuple(O)
    return y.reshape(shape), (idx.reshape(shape) if want_idx else None)


def max_pool_backward(g, idx, X, K_, s, d, lo):  # noqa: N803
    """The gradient of `max_pool` for the input size ``X``, as a gather, or None."""
    import cupy as cp

    O = tuple(g.shape[2:])  # noqa: N806
    g2 = as_2d(K_, s, d, lo, O)
    if g2 is None or not usable(g) or idx.dtype != np.int64:
        return None
    K2, s2, d2, lo2, O2 = g2  # noqa: N806
    X2 = tuple(X) if len(X) == 2 else (1,) + tuple(X)  # noqa: N806
    N, C = g.shape[:2]  # noqa: N806
    g4 = g.reshape((N, C) + O2)
    idx4 = cp.ascontiguousarray(idx).reshape((N, C) + O2)
    out = cp.empty((N, C) + X2, dtype=g.dtype)
    is_w = wide(out.size, span(g4), idx4.size)
    args = (g4, idx4, out) + ints(
        (N, C) + X2 + O2 + _pool_args(K2, s2, d2, lo2) + elem_strides(g4), is_w
    )
    K.function("pool", _name("maxpool2d_bwd", g.dtype, is_w))(
        (K.blocks_for(out.size, THREADS),), (THREADS,), args
    )
    return out.reshape((N, C) + tuple(X))


# --- windowed (average) pooling ---------------------------------------------------------------
def window_tables(w):
    """The window form of a (n_in, n_out) map matrix, or None when it has none.

    Returns ``(bounds, weights)``: ``bounds`` int64 (2*n_out,) the start and end of each
    output's contiguous input run, ``weights`` float64 (n_in + n_out,) the per-input weights
    then the per-output ones, with ``w[i, o] = weights[i] * weights[n_in + o]`` inside each run
    and 0 outside. Per-output weights are average pooling's forward, per-input weights its
    transpose (the backward).
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2:
        return None
    n_in, n_out = w.shape
    nz = w != 0
    count = nz.sum(axis=0)
    first = np.argmax(nz, axis=0)
    last = n_in - 1 - np.argmax(nz[::-1], axis=0)
    has = count > 0
    if not np.array_equal(count[has], (last - first + 1)[has]):
        return None  # a run with a hole: not a window
    start = np.where(has, first, 0)
    end = np.where(has, last + 1, 0)
    rows = np.arange(n_in)[:, None]
    band = (rows >= start[None, :]) & (rows < end[None, :])
    col_val = np.where(has, w[start, np.arange(n_out)], 0.0)
    if np.array_equal(w, band * col_val[None, :]):
        w_in, w_out = np.ones(n_in), col_val
    else:
        row_first = np.argmax(nz, axis=1)
        row_val = np.where(nz.any(axis=1), w[np.arange(n_in), row_first], 0.0)
        if not np.array_equal(w, band * row_val[:, None]):
            return None
        w_in, w_out = row_val, np.ones(n_out)
    bounds = np.concatenate([start, end]).astype(np.int64)
    return bounds, np.concatenate([w_in, w_out])


def _identity_tables(n: int):
    ar = np.arange(n, dtype=np.int64)
    return np.concatenate([ar, ar + 1]), np.ones(2 * n)


def _axis_tables(amap):
    """`window_tables` of an ``AxisMap`` (cached on it), identity for an identity gather."""
    hit = amap._cache.get("window")
    if hit is None and "window" not in amap._cache:
        if amap.idx is not None:
            hit = _identity_tables(amap.n_in) if amap.is_identity() else None
        else:
            hit = window_tables(amap.w)
        amap._cache["window"] = hit
    return hit


def plan_resample(shape, maps):
    """The per-axis tables ``(h, w)`` for applying ``maps`` ((axis, AxisMap), ...) to an array
    of ``shape`` with `window2d`, or None: a 3-D (N, C, L) or 4-D (N, C, H, W) array, maps on
    the spatial axes only, each a window (or an identity)."""
    nd = len(shape)
    if nd not in (3, 4) or not maps:
        return None
    tabs = {}
    for axis, m in maps:
        if axis < 2 or axis >= nd or axis in tabs or m.n_in != shape[axis]:
            return None
        t = _axis_tables(m)
        if t is None:
            return None
        tabs[axis] = (t, m.n_out)
    if nd == 3:
        h = (_identity_tables(1), 1)
        w = tabs[2]
    else:
        h = tabs.get(2) or (_identity_tables(shape[2]), shape[2])
        w = tabs.get(3) or (_identity_tables(shape[3]), shape[3])
    return h, w


def resample(x, maps):
    """``resample_array`` on the GPU for window maps, or None."""
    import cupy as cp

    if not usable(x):
        return None
    plan = plan_resample(x.shape, maps)
    if plan is None:
        return None
    ((hb, hw), OH), ((wb, ww), OW) = plan  # noqa: N806
    x4 = x if x.ndim == 4 else x[:, :, None, :]
    N, C, H, W = x4.shape  # noqa: N806
    acc = np.float64 if x.dtype == np.float64 else np.float32
    y = cp.empty((N, C, OH, OW), dtype=x.dtype)
    if y.size:
        is_w = wide(y.size, span(x4))
        args = (
            x4,
            y,
            cp.asarray(hb),
            cp.asarray(wb),
            cp.asarray(hw.astype(acc)),
            cp.asarray(ww.astype(acc)),
        ) + ints((N, C, H, W, OH, OW) + elem_strides(x4), is_w)
        K.function("pool", _name("window2d", x.dtype, is_w))(
            (K.blocks_for(y.size, THREADS),), (THREADS,), args
        )
    return y if x.ndim == 4 else y.reshape(N, C, OW)
