"""embedding.cu run on the host (host_kernels.py): the launchers of ``_embedding`` (lookup,
atomic and sorted backward with padding / frequency scaling, embedding_bag's sum, max and row
gradient) against float64 NumPy references, and the BagMax node's GPU branch against its CPU
branch."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.core._ops.layers import BagMax
from tocha.core._tensor import wrap
from tocha.core.cuda import _embedding as E
from tocha.core.cuda import _kernels as K

from .host_kernels import BF16
from .host_kernels import KERNEL_DTYPES as DTYPES


def _tol(dtype):
    return {np.float64: 1e-12, np.float32: 2e-6, np.float16: 2e-3, BF16: 1.6e-2}[dtype]


def _f64(a):
    return np.asarray(a).astype(np.float64)


def _acc(dtype):
    return np.float64 if dtype == np.float64 else np.float32


def _xp():
    import cupy  # the fake module the host_cuda fixture installed

    return cupy


# --- lookup -----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,d", [((4, 5), 1), ((3, 7), 33), ((70,), 9)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_gathers_rows(host_cuda, dtype, shape, d):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((11, d)).astype(dtype)
    idx = rng.integers(0, 11, size=shape)
    idx.reshape(-1)[:3] = [10, 0, 10]  # the last row, the first, a repeat
    out = E.forward(host_cuda.array(w), host_cuda.array(idx, np.int32))
    assert host_cuda.launched == [f"embedding_fwd_{K.dtype_suffix(dtype)}"]
    assert out.shape == shape + (d,) and out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(_f64(out), _f64(w)[idx])


@pytest.mark.parametrize("shape,d", [((0,), 4), ((2, 0), 4), ((3,), 0)])
def test_forward_of_nothing(host_cuda, shape, d):
    w = host_cuda.array(np.ones((5, d), np.float32))
    out = E.forward(w, host_cuda.array(np.zeros(shape, np.int64)))
    assert out.shape == shape + (d,)
    assert host_cuda.launched == []


# --- lookup backward --------------------------------------------------------------------------
NUM, PAD = 12, 3


def _row_scale(flat, kind):
    """Embedding._row_scale: 1/count for scale_grad_by_freq, 0 on padding_idx (float64)."""
    if kind is None:
        return None
    counts = np.bincount(flat, minlength=NUM)
    return (1.0 / counts[flat]) * (flat != PAD)


def _sequential(g, flat, scale, dtype):
    """The sorted kernel's arithmetic: each row summed in index order in the accumulation
    type, then rounded once to ``dtype``."""
    a = _acc(dtype)
    g = np.asarray(g).astype(a)
    out = np.zeros((NUM, g.shape[1]), dtype=a)
    for i, t in enumerate(flat.tolist()):
        v = g[i] if scale is None else g[i] * a(scale[i])
        out[t] = out[t] + v
    return out.astype(dtype)


@pytest.mark.parametrize("scale_kind", [None, "freq_pad"])
@pytest.mark.parametrize("det", [False, True])
@pytest.mark.parametrize("d", [5, 40])
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_scatters_rows(host_cuda, dtype, d, det, scale_kind):
    rng = np.random.default_rng(1)
    n = 150
    flat = rng.integers(0, NUM - 2, size=n)  # rows 10, 11 get nothing; ~15 repeats per row
    idx = flat.reshape(15, 10)  # the launcher flattens any index shape
    g = rng.standard_normal((n, d)).astype(dtype)
    scale = _row_scale(flat, scale_kind)
    out = E.backward(host_cuda.array(g), host_cuda.array(idx), NUM, scale, det=det)
    kind = "sorted" if det else "atomic"
    assert host_cuda.launched == [f"embedding_bwd_{kind}_{K.dtype_suffix(dtype)}"]
    assert out.shape == (NUM, d) and out.dtype == np.dtype(dtype)
    want = np.zeros((NUM, d))
    np.add.at(want, flat, _f64(g) * (1.0 if scale is None else scale[:, None]))
    tol = _tol(dtype)
    np.testing.assert_allclose(_f64(out), want, rtol=tol, atol=tol * 4)
    assert not _f64(out)[NUM - 2 :].any()
    if scale is not None:
        assert not _f64(out)[PAD].any()  # padding_idx gets no gradient
    if det:  # a fixed order of terms: bit for bit the sequential sum
        np.testing.assert_array_equal(_f64(out), _f64(_sequential(g, flat, scale, dtype)))


def test_backward_follows_use_deterministic_algorithms(host_cuda):
    rng = np.random.default_rng(2)
    flat = rng.integers(0, NUM, size=40)
    g = rng.standard_normal((40, 6)).astype(np.float32)
    old = E.deterministic()
    outs = []
    try:
        for flag in (False, True):
            torch.use_deterministic_algorithms(flag)
            outs.append(E.backward(host_cuda.array(g), host_cuda.array(flat), NUM))
    finally:
        torch.use_deterministic_algorithms(old)
    assert host_cuda.launched == ["embedding_bwd_atomic_f32", "embedding_bwd_sorted_f32"]
    want = np.zeros((NUM, 6))
    np.add.at(want, flat, _f64(g))
    for out in outs:
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("det", [False, True])
def test_backward_contention_on_one_row(host_cuda, det):
    # 1000 gradient rows of width 1 all onto row 7: every atomic collides
    rng = np.random.default_rng(3)
    g = rng.uniform(-1, 1, size=(1000, 1)).astype(np.float32)
    flat = np.full(1000, 7, np.int64)
    out = E.backward(host_cuda.array(g), host_cuda.array(flat), NUM, det=det)
    np.testing.assert_allclose(out[7, 0], _f64(g).sum(), rtol=1e-5, atol=1e-5)
    assert not np.delete(_f64(out), 7, axis=0).any()


@pytest.mark.parametrize("det", [False, True])
@pytest.mark.parametrize("n,d", [(0, 4), (3, 0)])
def test_backward_of_nothing_is_zero(host_cuda, det, n, d):
    g = host_cuda.array(np.ones((n, d), np.float16))
    out = E.backward(g, host_cuda.array(np.zeros(n, np.int64)), NUM, det=det)
    assert out.shape == (NUM, d) and out.dtype == np.float16
    assert not _f64(out).any()
    assert host_cuda.launched == []


# --- embedding_bag ----------------------------------------------------------------------------
SIZES = [3, 0, 5, 1, 0, 4, 0]  # empty bags first-inner, middle and last
NB = len(SIZES)
SEG = np.repeat(np.arange(NB), SIZES)
N = len(SEG)
STARTS = np.concatenate([[0], np.cumsum(SIZES)[:-1]])


def _offsets():
    off = E.offsets_from_seg(_xp(), SEG, NB)
    np.testing.assert_array_equal(off, np.concatenate([[0], np.cumsum(SIZES)]))
    return off


@pytest.mark.parametrize("d", [1, 37])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bag_sum_with_per_sample_weights(host_cuda, dtype, d):
    rng = np.random.default_rng(4)
    rows = rng.standard_normal((N, d)).astype(dtype)
    # mean's 1/count times per-sample weights, as BagReduce builds ``c`` (float64)
    coef = rng.uniform(0.1, 2.0, size=N) / np.maximum(np.bincount(SEG, minlength=NB), 1)[SEG]
    out = E.bag_sum(host_cuda.array(rows), host_cuda.array(coef), _offsets(), NB)
    assert host_cuda.launched == [f"bag_sum_fwd_{K.dtype_suffix(dtype)}"]
    assert out.shape == (NB, d) and out.dtype == np.dtype(dtype)
    want = np.zeros((NB, d))
    np.add.at(want, SEG, _f64(rows) * coef[:, None])
    tol = _tol(dtype)
    np.testing.assert_allclose(_f64(out), want, rtol=tol, atol=tol * 4)
    assert not _f64(out)[[1, 4, 6]].any()


def test_bag_sum_of_no_bags(host_cuda):
    out = E.bag_sum(
        host_cuda.array(np.ones((0, 3), np.float32)),
        host_cuda.array(np.zeros(0)),
        host_cuda.array(np.zeros(1, np.int64)),
        0,
    )
    assert out.shape == (0, 3)
    assert host_cuda.launched == []


def _bag_max_ref(rows, keep):
    """torch's loop per bag and dim: the first kept row starts the max (whatever it holds, NaN
    and -inf too) and only a strictly larger value replaces it (so a later NaN never does);
    0 / -1 for a bag with no kept row."""
    r = _f64(rows)
    d = r.shape[1]
    out = np.zeros((NB, d))
    pos = np.full((NB, d), -1, dtype=np.int64)
    for b in range(NB):
        ks = [k for k in range(STARTS[b], STARTS[b] + SIZES[b]) if keep is None or keep[k]]
        for j in range(d):
            for k in ks:
                if pos[b, j] < 0 or r[k, j] > out[b, j]:
                    out[b, j], pos[b, j] = r[k, j], k
    return out, pos


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("d", [1, 37])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bag_max_values_and_positions(host_cuda, dtype, d, masked):
    rng = np.random.default_rng(5)
    # small integers: ties everywhere, so the first row attaining the max must be picked
    rows = rng.integers(-3, 3, size=(N, d)).astype(np.float64)
    rows[2, 0] = np.nan  # bag 0: a NaN after the first row never wins (torch)
    rows[3, 0] = np.nan  # bag 2: a NaN first row is the max
    rows[9:13, 0] = -np.inf  # bag 5: only -inf: the max is -inf at the first kept row
    rows = rows.astype(dtype)
    keep = None
    if masked:  # padding_idx rows: bag 3 (one row) has none left, bag 5 loses its first
        keep = np.ones(N, bool)
        keep[[8, 9]] = False
    kp = None if keep is None else host_cuda.array(keep)
    out, pos = E.bag_max(host_cuda.array(rows), kp, E.offsets_from_starts(_xp(), STARTS, N), NB)
    assert host_cuda.launched == [f"bag_max_fwd_{K.dtype_suffix(dtype)}"]
    want, want_pos = _bag_max_ref(rows, keep)
    assert out.dtype == np.dtype(dtype) and pos.dtype == np.int64
    np.testing.assert_array_equal(_f64(out), want)
    np.testing.assert_array_equal(pos, want_pos)
    assert not np.isnan(_f64(out)[0, 0]) and np.isnan(_f64(out)[2, 0]) and pos[2, 0] == 3
    assert _f64(out)[5, 0] == -np.inf and pos[5, 0] == (10 if masked else 9)
    if masked:
        assert (pos[3] == -1).all() and not _f64(out)[3].any()


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, BF16])
def test_bag_max_node_forward_and_backward_match_the_cpu_branch(host_cuda, dtype, masked):
    # BagMax's GPU branch (the kernel's positions) against its CPU branch (reduceat) on the
    # same rows: values, and the gradient routed to the rows that won
    rng = np.random.default_rng(6)
    d = 9
    rows = rng.integers(-4, 4, size=(N, d)).astype(np.float64)
    rows[3, 0] = rows[2, 1] = np.nan  # a first row's NaN wins, a later one never does
    rows[9:13, 2] = -np.inf  # a bag of -inf: -inf at its first kept row
    rows = rows.astype(dtype)
    keep = None
    if masked:
        keep = np.ones(N, bool)
        keep[[0, 8, 9, 12]] = False
    nonempty = np.asarray(SIZES) > 0
    g = rng.standard_normal((NB, d)).astype(dtype)
    res = {}
    for where in ("cpu", "gpu"):
        mk = np.asarray if where == "cpu" else host_cuda.array
        node = BagMax.__new__(BagMax)
        out = node.forward(
            mk(rows), starts=mk(STARTS), nonempty=mk(nonempty), nbags=NB,
            keep=None if keep is None else mk(keep),
        )  # fmt: skip
        with torch.no_grad():
            grad = node.backward(wrap(mk(g)))
        res[where] = (np.asarray(out), np.asarray(grad._data))
    assert host_cuda.launched == [f"bag_max_fwd_{K.dtype_suffix(dtype)}"]
    np.testing.assert_array_equal(_f64(res["gpu"][0]), _f64(res["cpu"][0]))
    np.testing.assert_array_equal(_f64(res["gpu"][1]), _f64(res["cpu"][1]))
    # and against the reference: each bag's gradient lands on its first maximal kept row
    _, want_pos = _bag_max_ref(rows, keep)
    want = np.zeros((N, d))
    b, j = np.nonzero(want_pos >= 0)
    want[want_pos[b, j], j] = _f64(g)[b, j]
    np.testing.assert_array_equal(_f64(res["gpu"][1]), want)


@pytest.mark.parametrize("d", [1, 37])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bag_rows_backward(host_cuda, dtype, d):
    rng = np.random.default_rng(7)
    g = rng.standard_normal((NB, d)).astype(dtype)
    coef = rng.uniform(-2, 2, size=N)
    out = E.bag_rows_backward(host_cuda.array(g), host_cuda.array(SEG), host_cuda.array(coef))
    assert host_cuda.launched == [f"bag_rows_bwd_{K.dtype_suffix(dtype)}"]
    assert out.shape == (N, d) and out.dtype == np.dtype(dtype)
    a = _acc(dtype)
    # one product in the accumulation type, one rounding: bit for bit
    want = (np.asarray(g).astype(a)[SEG] * coef.astype(a)[:, None]).astype(dtype)
    np.testing.assert_array_equal(_f64(out), _f64(want))
    tol = _tol(dtype)
    np.testing.assert_allclose(_f64(out), _f64(g)[SEG] * coef[:, None], rtol=tol, atol=tol)


def test_bag_rows_backward_of_no_rows(host_cuda):
    out = E.bag_rows_backward(
        host_cuda.array(np.ones((2, 3), np.float32)),
        host_cuda.array(np.zeros(0, np.int64)),
        host_cuda.array(np.zeros(0)),
    )
    assert out.shape == (0, 3)
    assert host_cuda.launched == []


# --- the whole ops on "device" tensors ------------------------------------------------------
def _pair_ops(host_cuda, a, dtype, grad=False):
    dev = wrap(host_cuda.array(a, dtype))
    cpu = wrap(np.array(a, dtype=dtype))
    if grad:
        dev.requires_grad_()
        cpu.requires_grad_()
    return dev, cpu


def _close_ops(dev, cpu, dtype, scale=1.0):
    assert type(dev._data) is not np.ndarray  # stayed on the "device"
    tol = _tol(dtype) * scale
    np.testing.assert_allclose(_f64(dev._data), _f64(cpu._data), rtol=tol, atol=tol)


@pytest.mark.parametrize("det", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_f_embedding_and_embedding_bag_on_device_tensors(host_cuda, dtype, det):
    # F.embedding / F.embedding_bag (padding_idx, per-sample weights, an empty bag) with device
    # weights: forward and weight gradient through the kernels, against the same ops on NumPy
    import tocha.core.nn.functional as F

    rng = np.random.default_rng(8)
    w0 = rng.standard_normal((10, 6))
    idx = rng.integers(0, 10, size=(4, 5))
    idx[0, :3] = 2  # padding_idx, repeated
    off = np.array([0, 3, 3, 10, 18])
    old = E.deterministic()
    torch.use_deterministic_algorithms(det)
    try:
        wd, wc = _pair_ops(host_cuda, w0, dtype, grad=True)
        yd = F.embedding(wrap(host_cuda.array(idx)), wd, padding_idx=2)
        yc = F.embedding(wrap(idx), wc, padding_idx=2)
        _close_ops(yd, yc, dtype)
        g = rng.standard_normal(yc.shape)
        yd.backward(wrap(host_cuda.array(g, dtype)))
        yc.backward(wrap(np.array(g, dtype=dtype)))
        _close_ops(wd.grad, wc.grad, dtype, scale=4)
        assert not _f64(wd.grad._data)[2].any()
        for mode in ("sum", "mean", "max"):
            wd.grad = wc.grad = None
            kw = dict(mode=mode, padding_idx=2)
            yd = F.embedding_bag(
                wrap(host_cuda.array(idx.reshape(-1))), wd, wrap(host_cuda.array(off)), **kw
            )
            yc = F.embedding_bag(wrap(idx.reshape(-1)), wc, wrap(off), **kw)
            _close_ops(yd, yc, dtype, scale=4)
            g = rng.standard_normal(yc.shape)
            yd.backward(wrap(host_cuda.array(g, dtype)))
            yc.backward(wrap(np.array(g, dtype=dtype)))
            _close_ops(wd.grad, wc.grad, dtype, scale=8)
        # per-sample weights: the forward (their backward takes the xp path, not a kernel)
        psw = rng.uniform(0.5, 2, size=idx.size)
        with torch.no_grad():
            yd = F.embedding_bag(
                wrap(host_cuda.array(idx.reshape(-1))), wd, wrap(host_cuda.array(off)),
                per_sample_weights=wrap(host_cuda.array(psw, dtype)), mode="sum", padding_idx=2,
            )  # fmt: skip
            yc = F.embedding_bag(
                wrap(idx.reshape(-1)), wc, wrap(off),
                per_sample_weights=wrap(np.array(psw, dtype=dtype)), mode="sum", padding_idx=2,
            )  # fmt: skip
        _close_ops(yd, yc, dtype, scale=4)
    finally:
        torch.use_deterministic_algorithms(old)
    s = K.dtype_suffix(dtype)
    bwd = f"embedding_bwd_{'sorted' if det else 'atomic'}_{s}"
    for name in (f"embedding_fwd_{s}", bwd, f"bag_sum_fwd_{s}", f"bag_max_fwd_{s}"):
        assert name in host_cuda.launched
    assert host_cuda.launched.count(f"bag_sum_fwd_{s}") == 3  # sum, mean, weighted sum
    assert f"bag_rows_bwd_{s}" in host_cuda.launched


# --- launch geometry the launchers only reach on huge inputs --------------------------------
def test_elementwise_kernels_stride_over_a_small_grid(host_cuda):
    # blocks_for caps the grid at 2**31 - 1 blocks and the kernels stride by the grid: two
    # blocks of 32 threads over 14 * 9 = 126 elements exercise the stride loop
    rng = np.random.default_rng(9)
    n, d = 14, 9
    w = rng.standard_normal((NUM, d)).astype(np.float32)
    idx = rng.integers(0, NUM, size=n)
    g = rng.standard_normal((n, d)).astype(np.float32)
    coef = rng.uniform(-2, 2, size=n).astype(np.float32)
    i64 = np.int64
    out = host_cuda.array(np.full((n, d), np.nan, np.float32))
    host_cuda.function("embedding", "embedding_fwd_f32")(
        (2,), (32,), (host_cuda.array(w), host_cuda.array(idx), out, i64(n), i64(d))
    )
    np.testing.assert_array_equal(out, w[idx])
    acc = host_cuda.array(np.zeros((NUM, d), np.float32))
    host_cuda.function("embedding", "embedding_bwd_atomic_f32")(
        (2,), (32,),
        (host_cuda.array(g), host_cuda.array(idx), host_cuda.array(coef), np.int32(1), acc,
         i64(n), i64(d)),
    )  # fmt: skip
    want = np.zeros((NUM, d))
    np.add.at(want, idx, _f64(g) * _f64(coef)[:, None])
    np.testing.assert_allclose(acc, want, rtol=1e-5, atol=1e-6)
    grows = host_cuda.array(np.full((n, d), np.nan, np.float32))
    host_cuda.function("embedding", "bag_rows_bwd_f32")(
        (2,), (32,), (host_cuda.array(w), host_cuda.array(idx), host_cuda.array(coef), grows,
                      i64(n), i64(d)),
    )  # fmt: skip
    np.testing.assert_array_equal(grows, w[idx] * coef[:, None])


def test_row_kernels_on_a_two_dimensional_grid_and_wide_rows(host_cuda):
    # row_grid folds more than 2**31 - 1 rows into (x, y): a (2, 3) grid over 5 bags (the sixth
    # block has no bag), and d = 70 over 32 threads per block (the column loop strides)
    rng = np.random.default_rng(10)
    d = 70
    rows = rng.integers(-3, 3, size=(N, d)).astype(np.float32)
    coef = rng.uniform(0.5, 2, size=N).astype(np.float32)
    off = np.concatenate([[0], np.cumsum(SIZES)])[:6]  # the first 5 bags
    i64 = np.int64
    out = host_cuda.array(np.full((6, d), 7.0, np.float32))  # row 5 must stay untouched
    host_cuda.function("embedding", "bag_sum_fwd_f32")(
        (2, 3), (32,),
        (host_cuda.array(rows), host_cuda.array(coef), host_cuda.array(off), out, i64(5), i64(d)),
    )  # fmt: skip
    want = np.zeros((5, d))
    np.add.at(want, SEG[: off[-1]], _f64(rows[: off[-1]]) * _f64(coef[: off[-1]])[:, None])
    np.testing.assert_allclose(out[:5], want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out[5], 7.0)
    mx = host_cuda.array(np.full((6, d), 7.0, np.float32))
    pos = host_cuda.array(np.full((6, d), 99, np.int64))
    host_cuda.function("embedding", "bag_max_fwd_f32")(
        (2, 3), (32,),
        (host_cuda.array(rows), host_cuda.array(np.ones(1, np.uint8)), np.int32(0),
         host_cuda.array(off), mx, pos, i64(5), i64(d)),
    )  # fmt: skip
    want_mx, want_pos = _bag_max_ref(rows, None)
    np.testing.assert_array_equal(mx[:5], want_mx[:5])
    np.testing.assert_array_equal(pos[:5], want_pos[:5])
    assert (mx[5] == 7.0).all() and (pos[5] == 99).all()
    # the sorted backward: 5 distinct indices, one block each
    flat = rng.integers(0, 5, size=30)
    g = rng.standard_normal((30, d)).astype(np.float32)
    order, starts, uniq = E.sorted_runs(np, flat)
    assert len(uniq) == 5
    gw = host_cuda.array(np.zeros((NUM, d), np.float32))
    host_cuda.function("embedding", "embedding_bwd_sorted_f32")(
        (2, 3), (32,),
        (host_cuda.array(g), host_cuda.array(order), host_cuda.array(starts),
         host_cuda.array(uniq), host_cuda.array(np.ones(1, np.float32)), np.int32(0), gw,
         i64(5), i64(d)),
    )  # fmt: skip
    np.testing.assert_array_equal(gw, _sequential(g, flat, None, np.float32))


def test_launches_use_wide_rows_past_one_block(host_cuda):
    # d = 1100 > 1024: row_threads caps the block and each thread takes two columns
    rng = np.random.default_rng(11)
    d = 1100
    g = rng.standard_normal((6, d)).astype(np.float32)
    flat = np.array([1, 0, 1, 1, 0, 1])
    out = E.backward(host_cuda.array(g), host_cuda.array(flat), 2, det=True)
    np.testing.assert_array_equal(out, _sequential(g, flat, None, np.float32)[:2])
    off = host_cuda.array(np.array([0, 2, 6]))
    s = E.bag_sum(host_cuda.array(g), host_cuda.array(np.ones(6)), off, 2)
    np.testing.assert_allclose(s, [g[:2].sum(0), g[2:].sum(0)], rtol=1e-5, atol=1e-5)
