"""softmax.cu run on the host (host_kernels.py): the launchers and kernels against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from tocha.core.cuda import _kernels as K
from tocha.core.cuda import _softmax as SM

from .host_kernels import BF16
from .host_kernels import KERNEL_DTYPES as DTYPES
from .host_kernels import rounded as _q


def _ref(x, dim, log):
    x = x.astype(np.float64)
    m = x.max(axis=dim, keepdims=True)
    ls = np.log(np.exp(x - m).sum(axis=dim, keepdims=True)) + m
    return x - ls if log else np.exp(x - ls)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape,dim", [((5, 37), 1), ((3, 4, 8), 1), ((2, 2100), -1)])
def test_softmax_forward_and_backward_match_numpy(host_cuda, shape, dim, log):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3
    y = SM.forward(host_cuda.array(x, np.float32), dim % len(shape), log)
    np.testing.assert_allclose(y, _ref(x, dim, log), rtol=2e-5, atol=2e-6)
    g = rng.standard_normal(shape)
    yy = _ref(x, dim, log)
    gx = SM.backward(
        host_cuda.array(yy, np.float32), host_cuda.array(g, np.float32), dim % len(shape), log
    )
    if log:
        want = g - np.exp(yy) * g.sum(axis=dim, keepdims=True)
    else:
        want = yy * (g - (g * yy).sum(axis=dim, keepdims=True))
    np.testing.assert_allclose(gx, want, rtol=2e-5, atol=2e-6)
    assert host_cuda.launched


# --- every dtype and launch path -----------------------------------------------------------

TOL = {np.float32: 2e-5, np.float64: 1e-12, np.float16: 2e-3, BF16: 1.6e-2}
STREAM = SM.CACHE * K.MAX_THREADS  # longer rows are read twice (no register cache)


def _two_pass(x, log):
    """torch's formula in float64 over the last dim, special values and all."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        z = x - x.max(-1, keepdims=True)
        s = np.exp(z).sum(-1, keepdims=True)
        return z - np.log(s) if log else np.exp(z) / s


def _bwd_ref(y, g, log):
    if log:
        return g - np.exp(y) * g.sum(-1, keepdims=True)
    return y * (g - (g * y).sum(-1, keepdims=True))


def _device(host_cuda, a, dtype, offset):
    """A device copy of ``a``; ``offset``: starting one element past an aligned address."""
    if not offset:
        return host_cuda.array(a, dtype)
    buf = host_cuda.array(np.zeros(a.size + 1), dtype)
    d = buf[1:].reshape(a.shape)
    d[...] = np.asarray(a).astype(dtype)
    return d


def _close(got, want, dtype, what):
    got = np.asarray(got).astype(np.float64)
    tol = TOL[dtype]
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=what)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize(
    "rows,cols,offset,vec",
    [
        (9, 8, False, True),  # 4 rows per block of 32 threads, the last block ragged; vectors
        (5, 33, False, False),  # an odd row length: one element per load
        (3, 1000, False, True),  # 4 warps per row: the (max, sum) merge through shared memory
        (5, 400, False, True),  # 2 warps per row, 2 rows per block sharing that memory
        (3, 1000, True, False),  # the same from a misaligned base: no vector loads
        (1, STREAM + 16, False, True),  # streaming: the row read again, 1024 threads
        (1, STREAM + 1, False, False),  # streaming with one element per load
    ],
)
def test_every_dtype_and_path_matches_numpy(host_cuda, dtype, log, rows, cols, offset, vec):
    rng = np.random.default_rng(1)
    x = _q(rng.standard_normal((rows, cols)) * 4.0, dtype)
    y = SM.forward(_device(host_cuda, x, dtype, offset), 1, log)
    v = 16 // np.dtype(dtype).itemsize if vec else 1
    suf = K.dtype_suffix(dtype)
    op = "log_softmax" if log else "softmax"
    assert host_cuda.launched == [f"{op}_fwd_{suf}_v{v}"]
    assert y.dtype == dtype and y.shape == (rows, cols)
    _close(y, _two_pass(x, log), dtype, "forward")
    yq = _q(y, dtype)  # the backward gets the forward's output, as autograd saves it
    g = _q(rng.standard_normal((rows, cols)), dtype)
    gx = SM.backward(_device(host_cuda, yq, dtype, offset), host_cuda.array(g, dtype), 1, log)
    assert host_cuda.launched[-1] == f"{op}_bwd_{suf}_v{v}"
    assert gx.dtype == dtype
    _close(gx, _bwd_ref(yq, g, log), dtype, "backward")


INF, NAN = float("inf"), float("nan")


def _special_rows(cols):
    """Rows of ``cols`` elements (a few columns apart, so different threads and warps hold
    the special values): +inf, nan, only -inf, some -inf, -inf everywhere but one warp, huge."""
    rng = np.random.default_rng(2)
    rows = rng.standard_normal((7, cols))
    rows[0, cols // 2] = INF
    rows[1, cols - 1] = NAN
    rows[2] = -INF
    rows[3, ::3] = -INF
    rows[4, : cols - 40] = -INF  # only the last threads see finite values
    rows[5, 1] = 1e30  # exp(x - max) underflows to 0 everywhere else
    rows[6, cols // 3] = -INF
    rows[6, 0] = INF
    return rows


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize(
    "cols,dtype", [(64, np.float32), (1000, np.float32), (400, np.float32), (640, np.float64)]
)
def test_special_values_as_the_two_pass_formula(host_cuda, log, cols, dtype):
    # torch: +inf or nan in a row, or a row of only -inf, make the whole row nan; -inf
    # elsewhere is a 0 probability (-inf log-probability)
    x = _special_rows(cols)
    y = SM.forward(host_cuda.array(x, dtype), 1, log).astype(np.float64)
    want = _two_pass(x, log)
    assert np.isnan(want[[0, 1, 2, 6]]).all() and not np.isnan(want[[3, 4, 5]]).any()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_allclose(y[ok], want[ok], rtol=1e-6, atol=1e-7)
    # backward from that output: 0 probabilities (-inf log-probabilities) pass the gradient
    # as the formula does, nan rows stay nan rows
    g = np.random.default_rng(4).standard_normal(x.shape)
    gx = SM.backward(host_cuda.array(y, dtype), host_cuda.array(g, dtype), 1, log)
    want = _bwd_ref(y, g, log)
    assert np.isnan(want).any(axis=1).tolist() == [True, True, True, False, False, False, True]
    np.testing.assert_allclose(gx, want, rtol=1e-5, atol=1e-6)  # nan where want is nan


def test_special_values_on_the_streaming_path(host_cuda):
    x = _special_rows(STREAM + 4)[[0, 3, 4]]
    for log in (False, True):
        y = SM.forward(host_cuda.array(x, np.float32), 1, log).astype(np.float64)
        want = _two_pass(x, log)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(want))
        ok = ~np.isnan(want)
        np.testing.assert_allclose(y[ok], want[ok], rtol=1e-5, atol=1e-7)


def test_other_dims_non_contiguous_and_refusals(host_cuda):
    rng = np.random.default_rng(3)
    x = _q(rng.standard_normal((4, 33, 6)) * 2, np.float16)
    xd = host_cuda.array(x, np.float16)
    for dim in (0, 1, 2):
        y = SM.forward(xd, dim, True)
        assert y.shape == x.shape and y.flags.c_contiguous
        _close(y, np.moveaxis(_two_pass(np.moveaxis(x, dim, -1), True), -1, dim), np.float16, dim)
    xt = host_cuda.array(x[:, :, 0], np.float32).T  # (33, 4), not contiguous
    y = SM.forward(xt, 1, False)
    _close(y, _two_pass(x[:, :, 0].T, False), np.float32, "transposed")
    host_cuda.launched.clear()
    assert SM.forward(host_cuda.array(np.zeros((0, 5)), np.float32), 1, False) is None
    assert SM.forward(host_cuda.array(x, np.int32), 1, False) is None
    assert SM.forward(x, 1, False) is None  # a NumPy array: the xp path
    y32 = host_cuda.array(x, np.float32)
    assert SM.backward(y32, host_cuda.array(x, np.float64), 1, False) is None  # mixed dtypes
    assert host_cuda.launched == []
