"""cross_entropy.cu run on the host (host_kernels.py): the fused log_softmax + nll forward and
its backward, with class weights, ignored rows and label smoothing, against float64 NumPy
written from torch's definition (loss_i = -(1 - e) w_t log p_t - (e / C) sum_c w_c log p_c)."""

from __future__ import annotations

import numpy as np
import pytest

from tocha.core.cuda import _cross_entropy as CE
from tocha.core.cuda import _kernels as K
from tocha.core.cuda import _softmax as SM

from .host_kernels import BF16
from .host_kernels import KERNEL_DTYPES as DTYPES
from .host_kernels import rounded as _q

TOL = {np.float32: 2e-5, np.float64: 1e-12, np.float16: 2e-3, BF16: 1.6e-2}


def _ref(x, t, valid, wf, e):
    """(per-row loss, lse, d loss_i / d x_i) in float64 from torch's definition."""
    m, c = x.shape
    wf = np.ones(c) if wf is None else wf
    mx = x.max(1, keepdims=True)
    lse = (np.log(np.exp(x - mx).sum(1, keepdims=True)) + mx)[:, 0]
    logp = x - lse[:, None]
    tt = np.where(valid, t, 0)
    rows = np.arange(m)
    v = valid.astype(np.float64)
    nll = -wf[tt] * logp[rows, tt] * v
    smooth = -(wf * logp).sum(1) * v
    loss = (1 - e) * nll + ((e / c) * smooth if e else 0.0)
    p = np.exp(logp)
    onehot = np.zeros((m, c))
    onehot[rows, tt] = 1
    wt = wf[tt] * v
    d = (1 - e) * wt[:, None] * (p - onehot) + (e / c) * v[:, None] * (wf.sum() * p - wf)
    return loss, lse, d


def _case(host_cuda, m, c, dtype, weighted, e, ignore, seed=0, offset=False):
    rng = np.random.default_rng(seed)
    x = _q(rng.standard_normal((m, c)) * 3.0, dtype)
    t = rng.integers(0, c, m)
    if ignore:
        t[::3] = -100  # ignore_index rows
    valid = t != -100
    wf = _q(rng.random(c) + 0.5, dtype) if weighted else None
    if offset:  # one element past an aligned address: no vector loads
        buf = host_cuda.array(np.zeros(m * c + 1), dtype)
        xd = buf[1:].reshape(m, c)
        xd[...] = x.astype(dtype)
    else:
        xd = host_cuda.array(x, dtype)
    td = host_cuda.array(np.where(valid, t, 0), np.int64)
    vd = host_cuda.array(valid, np.bool_)
    wd = host_cuda.array(wf, dtype) if weighted else None
    return x, t, valid, wf, xd, td, vd, wd


OPTIONS = [(False, 0.0, False), (False, 0.1, True), (True, 0.0, True), (True, 0.2, False)]
SHAPES = [
    (9, 8, False, True),  # 4 rows per block of 32 threads, the last block ragged; vectors
    (5, 33, False, False),  # an odd row length: one element per load
    (3, 1000, False, True),  # 4 warps per row
    (5, 400, False, True),  # 2 warps per row, 2 rows per block sharing that memory
]
# every option on every shape, and a misaligned base (no vector loads) with the fullest one
CASES = [o + s for s in SHAPES for o in OPTIONS] + [(True, 0.2, True, 3, 1000, True, False)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted,e,ignore,m,c,offset,vec", CASES)
def test_cross_entropy_forward_and_backward_match_numpy(
    host_cuda, dtype, weighted, e, ignore, m, c, offset, vec
):
    x, t, valid, wf, xd, td, vd, wd = _case(host_cuda, m, c, dtype, weighted, e, ignore, 1, offset)
    r = CE.forward(xd, td, vd, wd, e)
    v = 16 // np.dtype(dtype).itemsize if vec else 1
    suf = K.dtype_suffix(dtype)
    assert host_cuda.launched == [f"cross_entropy_fwd_{suf}_v{v}"]
    loss, lse, wt, wf_acc, big_w = r
    acc = SM.acc_dtype(dtype)
    assert loss.dtype == lse.dtype == acc and loss.shape == (m,)
    lr, lser, d = _ref(x, t, valid, wf, e)
    stol = 1e-12 if acc == np.float64 else 3e-6
    np.testing.assert_allclose(lse, lser, rtol=stol, atol=stol)
    np.testing.assert_allclose(loss, lr, rtol=stol * 4, atol=stol * 4 * max(1.0, c / 30))
    if ignore:
        assert not loss[~valid].any()
    np.testing.assert_array_equal(wt, (wf[t.clip(0)] if weighted else 1.0) * valid)
    assert float(big_w) == pytest.approx(wf.sum() if weighted else c, rel=1e-6)

    # the gradient of sum_i s_i loss_i, with the per-row pieces as loss.py prepares them
    s = _q(np.random.default_rng(2).standard_normal(m), acc)
    wt64 = wt.astype(np.float64)
    sa = s * ((1 - e) * wt64 + (e / c) * float(big_w) * valid)
    hot = s * (1 - e) * wt64
    sm = s * (e / c) * valid if e else None
    gx = CE.backward(
        xd,
        td,
        lse,
        host_cuda.array(sa, acc),
        host_cuda.array(hot, acc),
        None if sm is None else host_cuda.array(sm, acc),
        wf_acc,
    )
    assert host_cuda.launched[-1] == f"cross_entropy_bwd_{suf}_v{v}"
    assert gx.dtype == dtype and gx.shape == (m, c)
    want = s[:, None] * d
    tol = TOL[dtype]
    scale = max(1e-3, float(np.abs(want).max()))
    np.testing.assert_allclose(gx.astype(np.float64), want, rtol=tol, atol=tol * scale)
    if ignore:
        assert not gx[~valid].astype(np.float64).any()  # ignored rows get no gradient


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_cross_entropy_scalar_scale_single_column_and_refusals(host_cuda, dtype):
    # a scalar row scale (reduction 'sum' without weights or ignored rows), broadcast
    x, t, valid, _, xd, td, vd, _ = _case(host_cuda, 6, 40, dtype, False, 0.0, False, seed=3)
    loss, lse, wt, _, _ = CE.forward(xd, td, vd, None, 0.0)
    _, _, d = _ref(x, t, valid, None, 0.0)
    gx = CE.backward(xd, td, lse, np.float32(0.25), 0.25 * wt, None, None)
    np.testing.assert_allclose(gx.astype(np.float64), 0.25 * d, rtol=TOL[dtype], atol=TOL[dtype])
    # one class: log p = 0, so no loss and no gradient, with or without smoothing
    x1 = host_cuda.array(np.full((3, 1), 2.5), dtype)
    t1 = host_cuda.array(np.zeros(3), np.int64)
    v1 = host_cuda.array(np.ones(3), np.bool_)
    loss1, lse1, wt1, _, bw1 = CE.forward(x1, t1, v1, None, 0.1)
    np.testing.assert_allclose(lse1, 2.5, rtol=1e-6)
    np.testing.assert_allclose(loss1, 0.0, atol=1e-6)
    sa = host_cuda.array(np.ones(3), np.float32)
    g1 = CE.backward(x1, t1, lse1, sa, sa * 0.9, sa * 0.1, None)
    np.testing.assert_allclose(g1.astype(np.float64), 0.0, atol=1e-6)
    host_cuda.launched.clear()
    assert CE.forward(host_cuda.array(np.zeros((0, 4)), dtype), t1[:0], v1[:0], None, 0.0) is None
    assert CE.forward(host_cuda.array(np.zeros(4), dtype), t1, v1, None, 0.0) is None  # 1-d
    w64 = host_cuda.array(np.ones(40), np.float64)
    assert CE.forward(xd, td, vd, w64, 0.0) is None  # class weights of another dtype
    assert host_cuda.launched == []


@pytest.mark.parametrize("e", [0.0, 0.1])
def test_masked_classes_at_minus_inf(host_cuda, e):
    # -inf logits (masked classes) other than the target: a finite loss without smoothing
    # and a zero probability; with smoothing torch's sum of log p over the classes is -inf
    x, t, valid, _, _, td, vd, _ = _case(host_cuda, 5, 48, np.float32, False, 0.0, False, 5)
    x[:, 1::2] = -np.inf
    t = t // 2 * 2  # targets on the finite columns
    td = host_cuda.array(t, np.int64)
    xd = host_cuda.array(x, np.float32)
    loss, lse, wt, _, big_w = CE.forward(xd, td, vd, None, e)
    lr, lser, d = _ref(x, t, valid, None, e)
    np.testing.assert_allclose(lse, lser, rtol=3e-6)
    if e:
        assert np.isposinf(loss).all() and np.isposinf(lr).all()
    else:
        np.testing.assert_allclose(loss, lr, rtol=1e-5)
    s = np.ones(5)
    sa = host_cuda.array(s * ((1 - e) + e * float(big_w) / 48), np.float32)
    hot = host_cuda.array(s * (1 - e), np.float32)
    sm = host_cuda.array(s * e / 48, np.float32) if e else None
    gx = CE.backward(xd, td, lse, sa, hot, sm, None)
    assert np.isfinite(gx).all()
    np.testing.assert_allclose(gx, d, rtol=2e-5, atol=2e-6)
