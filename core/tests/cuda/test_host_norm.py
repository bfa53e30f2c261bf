"""norm.cu run on the host (host_kernels.py): layer_norm and rms_norm forward (with and without
weight and bias, the saved mean and rstd) and backward (gx from the row kernels, gw and gb from
the two-stage ``*_wb_partial`` column sums over several parts) against float64 NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from tocha.core.cuda import _kernels as K
from tocha.core.cuda import _norm as NO
from tocha.core.cuda import _softmax as SM

from .host_kernels import BF16
from .host_kernels import KERNEL_DTYPES as DTYPES
from .host_kernels import rounded as _q

# one rounding of the result in the dtype (float32/64 accumulate a little more)
TOL = {np.float32: 2e-5, np.float64: 1e-12, np.float16: 2e-3, BF16: 1.6e-2}
STREAM = SM.CACHE * K.MAX_THREADS  # longer rows are read again (no register cache)


def _close(got, want, dtype, what):
    got = np.asarray(got).astype(np.float64)
    tol = TOL[dtype]
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=what)


def _ref_fwd(x, w, b, eps, center):
    """(y, mean, rstd) over the last dim of a 2-d float64 ``x``."""
    mean = x.mean(-1) if center else np.zeros(x.shape[0])
    d = x - mean[:, None]
    rstd = 1 / np.sqrt((d * d).mean(-1) + eps)
    y = d * rstd[:, None]
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y, mean, rstd


def _ref_bwd(x, g, w, mean, rstd, center):
    """(gx, gw, gb) of a 2-d float64 ``x`` from the statistics."""
    xh = (x - mean[:, None]) * rstd[:, None]
    gh = g * w if w is not None else g
    c2 = (gh * xh).mean(-1, keepdims=True)
    c1 = gh.mean(-1, keepdims=True) if center else 0.0
    gx = rstd[:, None] * (gh - xh * c2 - c1)
    return gx, (g * xh).sum(0), g.sum(0)


def _data(rows, cols, dtype, seed=0, offset=False, host_cuda=None):
    """x, g, w, b rounded to ``dtype`` (float64 copies) and x as a device array; ``offset``:
    x starts one element past an aligned address (no vector loads)."""
    rng = np.random.default_rng(seed)
    x = _q(rng.standard_normal((rows, cols)) * 2.0 + 1.5, dtype)
    g = _q(rng.standard_normal((rows, cols)), dtype)
    w = _q(rng.standard_normal(cols) + 1.0, dtype)
    b = _q(rng.standard_normal(cols), dtype)
    if offset:
        buf = host_cuda.array(np.zeros(rows * cols + 1), dtype)
        xd = buf[1:].reshape(rows, cols)
        xd[...] = x.astype(dtype)
    else:
        xd = host_cuda.array(x, dtype)
    return x, g, w, b, xd


def _vec(dtype) -> int:
    return 16 // np.dtype(dtype).itemsize


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize(
    "rows,cols,offset,vec",
    [
        (7, 64, False, True),  # 4 rows per block of 32 threads, the last block ragged; vectors
        (6, 33, False, False),  # odd row length: one element per load
        (3, 640, False, True),  # 3 warps per row (row_sum through shared memory)
        (3, 640, True, False),  # the same rows from a misaligned base: no vector loads
        (5, 400, False, True),  # 2 warps per row, 2 rows per block sharing that memory
        (1, 1, False, False),  # a single element: variance 0, y = bias
    ],
)
def test_norm_forward_and_backward_match_numpy(host_cuda, dtype, center, rows, cols, offset, vec):
    _check(host_cuda, dtype, center, rows, cols, offset, vec)


# 1024 OS threads per block are slow here: the streaming path for two (dtype, op) pairs
@pytest.mark.parametrize("dtype,center", [(np.float32, True), (np.float16, False)])
def test_norm_long_rows_take_the_streaming_path(host_cuda, dtype, center):
    _check(host_cuda, dtype, center, 1, STREAM + 16, False, True)  # the row read again


def _check(host_cuda, dtype, center, rows, cols, offset, vec):
    x, g, w, b, xd = _data(rows, cols, dtype, offset=offset, host_cuda=host_cuda)
    eps = 1e-5
    wd, bd = host_cuda.array(w, dtype), host_cuda.array(b, dtype)
    y, mean, rstd = NO.forward(xd, wd, bd, 1, eps, center)
    name = "layer_norm" if center else "rms_norm"
    v = _vec(dtype) if vec else 1
    assert host_cuda.launched == [f"{name}_fwd_{K.dtype_suffix(dtype)}_v{v}"]
    acc = SM.acc_dtype(dtype)
    assert y.dtype == dtype and y.shape == (rows, cols) and rstd.dtype == acc
    yr, mr, rr = _ref_fwd(x, w, None if not center else b, eps, center)
    _close(y, yr, dtype, "y")
    stol = 1e-12 if acc == np.float64 else 2e-6
    np.testing.assert_allclose(rstd, rr, rtol=stol)
    if center:
        assert mean.dtype == acc
        np.testing.assert_allclose(mean, mr, rtol=stol, atol=stol)
    else:
        assert mean is None

    gd = host_cuda.array(g, dtype)
    gx, gw, gb = NO.backward(xd, gd, wd, mean, rstd, 1, True, True, center)
    gxr, gwr, gbr = _ref_bwd(x, g, w, mr, rr, center)
    assert gx.dtype == gw.dtype == dtype
    _close(gx, gxr, dtype, "gx")
    _close(gw, gwr, dtype, "gw")
    if center:
        _close(gb, gbr, dtype, "gb")
    else:
        assert gb is None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "center,has_w,has_b",
    [(True, False, False), (True, True, False), (True, False, True), (False, False, False)],
)
def test_norm_without_weight_or_bias(host_cuda, dtype, center, has_w, has_b):
    x, g, w, b, xd = _data(5, 40, dtype, seed=1, host_cuda=host_cuda)
    w, b = (w if has_w else None), (b if has_b else None)
    wd = host_cuda.array(w, dtype) if has_w else None
    bd = host_cuda.array(b, dtype) if has_b else None
    y, mean, rstd = NO.forward(xd, wd, bd, 1, 1e-3, center)
    yr, mr, rr = _ref_fwd(x, w, b, 1e-3, center)
    _close(y, yr, dtype, "y")
    gd = host_cuda.array(g, dtype)
    gx, gw, gb = NO.backward(xd, gd, wd, mean, rstd, 1, True, has_w, has_b)
    gxr, gwr, gbr = _ref_bwd(x, g, w, mr, rr, center)
    _close(gx, gxr, dtype, "gx")
    assert (gw is None) != has_w and (gb is None) != has_b
    if has_w:
        _close(gw, gwr, dtype, "gw")
    if has_b:
        _close(gb, gbr, dtype, "gb")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [130, 200])
def test_weight_bias_gradients_over_several_parts(host_cuda, dtype, rows):
    parts, per = NO.wb_parts(rows)
    assert parts > 1 and per % NO.WB_LANES  # several parts, rows not a multiple of the lanes
    cols = 40  # two column tiles, the second ragged
    x, g, w, b, xd = _data(rows, cols, dtype, seed=2, host_cuda=host_cuda)
    gd, wd = host_cuda.array(g, dtype), host_cuda.array(w, dtype)
    # the statistics as the forward saves them, in the accumulation dtype
    acc = SM.acc_dtype(dtype)
    _, mr, rr = _ref_fwd(x, None, None, 1e-5, True)
    mean, rstd = host_cuda.array(mr, acc), host_cuda.array(rr, acc)
    _, gwr, gbr = _ref_bwd(x, g, w, mr.astype(acc), rr.astype(acc), True)
    suf = K.dtype_suffix(dtype)
    for need_w, need_b in [(True, True), (True, False), (False, True)]:
        host_cuda.launched.clear()
        gx, gw, gb = NO.backward(xd, gd, wd, mean, rstd, 1, False, need_w, need_b)
        assert gx is None and host_cuda.launched == [f"layer_norm_wb_partial_{suf}"]
        assert (gw is not None) == need_w and (gb is not None) == need_b
        if need_w:
            _close(gw, gwr, dtype, "gw")
        if need_b:
            _close(gb, gbr, dtype, "gb")
    _, _, rr0 = _ref_fwd(x, None, None, 1e-5, False)
    _, gwr0, _ = _ref_bwd(x, g, w, np.zeros(rows), rr0, False)
    gx, gw, gb = NO.backward(xd, gd, wd, None, host_cuda.array(rr0, acc), 1, False, True, False)
    assert gb is None and host_cuda.launched[-1] == f"rms_norm_wb_partial_{suf}"
    _close(gw, gwr0, dtype, "rms gw")
    # no atomics: the same gradients bit for bit on a second run
    again = NO.backward(xd, gd, wd, mean, rstd, 1, False, True, True)
    first = NO.backward(xd, gd, wd, mean, rstd, 1, False, True, True)
    assert np.array_equal(again[1].view(np.uint8), first[1].view(np.uint8))


def test_trailing_dims_non_contiguous_and_empty(host_cuda):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 3, 4, 5))
    xd = host_cuda.array(x, np.float32).transpose(1, 0, 2, 3)  # (3, 6, 4, 5), not contiguous
    w = rng.standard_normal((4, 5))
    b = rng.standard_normal((4, 5))
    wd, bd = host_cuda.array(w, np.float32), host_cuda.array(b, np.float32)
    y, mean, rstd = NO.forward(xd, wd, bd, 2, 1e-5, True)  # rows of 4 * 5 = 20
    x2 = _q(x, np.float32).transpose(1, 0, 2, 3).reshape(18, 20)
    yr, mr, rr = _ref_fwd(x2, _q(w, np.float32).ravel(), _q(b, np.float32).ravel(), 1e-5, True)
    assert y.shape == (3, 6, 4, 5) and mean.shape == (18,)
    _close(y.reshape(18, 20), yr, np.float32, "y")
    g = rng.standard_normal((3, 6, 4, 5))
    gx, gw, gb = NO.backward(
        xd, host_cuda.array(g, np.float32), wd, mean, rstd, 2, True, True, True
    )
    g2 = _q(g, np.float32).reshape(18, 20)
    gxr, gwr, gbr = _ref_bwd(x2, g2, _q(w, np.float32).ravel(), mr, rr, True)
    assert gx.shape == (3, 6, 4, 5) and gw.shape == gb.shape == (4, 5)
    _close(gx.reshape(18, 20), gxr, np.float32, "gx")
    _close(gw.reshape(20), gwr, np.float32, "gw")
    _close(gb.reshape(20), gbr, np.float32, "gb")
    host_cuda.launched.clear()
    empty = host_cuda.array(np.zeros((0, 8)), np.float32)
    assert NO.forward(empty, None, None, 1, 1e-5, True) is None  # the xp path handles it
    assert NO.forward(host_cuda.array(x, np.int32), None, None, 1, 1e-5, True) is None
    w64 = host_cuda.array(w, np.float64)
    assert NO.forward(xd, w64, None, 2, 1e-5, True) is None  # weight of another dtype
    assert host_cuda.launched == []


@pytest.mark.parametrize("cols", [200, STREAM + 4])
def test_layer_norm_variance_is_centred(host_cuda, cols):
    # rows far from 0 with unit spread: E[x^2] - E[x]^2 in float32 would lose the variance
    rng = np.random.default_rng(4)
    x = _q(rng.standard_normal((1, cols)) + 3e3, np.float32)
    y, mean, rstd = NO.forward(host_cuda.array(x, np.float32), None, None, 1, 1e-5, True)
    yr, mr, rr = _ref_fwd(x, None, None, 1e-5, True)
    np.testing.assert_allclose(mean, mr, rtol=1e-6)
    np.testing.assert_allclose(rstd, rr, rtol=1e-4)
    np.testing.assert_allclose(y, yr, rtol=1e-3, atol=1e-3)
