"""segment.cu run on the host (host_kernels.py): ``_segment.scatter_into`` (atomic and sorted
kernels) and ``_segment.segment_csr`` against float64 NumPy references."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.core.cuda import _kernels as K
from tocha.core.cuda import _segment as S

from .host_kernels import BF16
from .host_kernels import KERNEL_DTYPES as DTYPES

UFUNC = {"sum": np.add, "amax": np.maximum, "amin": np.minimum, "prod": np.multiply}


def _tol(dtype):
    return {np.float64: 1e-12, np.float32: 2e-6, np.float16: 2e-3, BF16: 1.6e-2}[dtype]


def _f64(a):
    return np.asarray(a).astype(np.float64)


def _scatter_ref(out0, tgt, src, op):
    """``out.flat[tgt] (op)= src`` in float64 on the values as the kernel sees them."""
    r = _f64(out0).reshape(-1).copy()
    with np.errstate(invalid="ignore"):  # NaN operands
        UFUNC[op].at(r, tgt, _f64(src))
    return r.reshape(out0.shape)


def _sequential_f32(out0, tgt, src, op):
    """The sorted kernel's arithmetic: each target combined in index order in float32."""
    r = np.asarray(out0, dtype=np.float32).reshape(-1).copy()
    for t, v in zip(tgt.tolist(), np.asarray(src, dtype=np.float32)):
        r[t] = UFUNC[op](r[t], v)
    return r.reshape(out0.shape)


def _case(dtype, op, n=700, shape=(6, 7), seed=0):
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    # targets drawn from the first size-3 elements (the last three stay untouched) with
    # ~16 duplicates each: contention on every atomic
    tgt = rng.integers(0, size - 3, size=n).astype(np.int64)
    if op == "prod":
        out0 = rng.uniform(0.5, 1.5, size=shape)
        src = rng.uniform(0.8, 1.25, size=n)
    else:
        out0 = rng.standard_normal(shape)
        src = rng.standard_normal(n) * 2
    return out0.astype(dtype), tgt, src.astype(dtype)


@pytest.mark.parametrize("det", [False, True])
@pytest.mark.parametrize("op", ["sum", "amax", "amin", "prod"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_into_matches_ufunc_at(host_cuda, dtype, op, det):
    out0, tgt, src = _case(dtype, op)
    out = host_cuda.array(out0)
    S.scatter_into(out, host_cuda.array(tgt), host_cuda.array(src), op, det=det)
    kind = "sorted" if det else "atomic"
    assert host_cuda.launched == [f"scatter_{kind}_{K.dtype_suffix(dtype)}"]
    assert out.dtype == np.dtype(dtype)
    ref = _scatter_ref(out0, tgt, src, op)
    if op in ("amax", "amin"):  # a selection: exact
        np.testing.assert_array_equal(_f64(out), ref)
    else:
        # half types: float32 accumulation, one rounding at the end
        tol = _tol(dtype)
        np.testing.assert_allclose(_f64(out), ref, rtol=tol, atol=tol * 4)
    np.testing.assert_array_equal(_f64(out).reshape(-1)[-3:], _f64(out0).reshape(-1)[-3:])
    if det and dtype == np.float32:  # the sorted kernel adds in index order, bit for bit
        np.testing.assert_array_equal(np.asarray(out), _sequential_f32(out0, tgt, src, op))


@pytest.mark.parametrize("det", [False, True])
@pytest.mark.parametrize("op", ["sum", "amax", "amin", "prod"])
def test_scatter_into_names_of_the_ops_and_a_scalar_source(host_cuda, op, det):
    # index.py passes NumPy's ufunc names ('add', 'maximum', ...); a 0-d source broadcasts
    alias = {"sum": "add", "amax": "maximum", "amin": "minimum", "prod": "multiply"}[op]
    rng = np.random.default_rng(1)
    out0 = rng.standard_normal((3, 5)).astype(np.float32)
    tgt = np.array([0, 4, 4, 14, 7, 4, 0, 9], dtype=np.int64)
    src = np.float32(0.75)
    out = host_cuda.array(out0)
    S.scatter_into(out, host_cuda.array(tgt), host_cuda.array(src), alias, det=det)
    ref = _scatter_ref(out0, tgt, np.full(tgt.shape, 0.75), op)
    np.testing.assert_allclose(_f64(out), ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("det", [False, True])
def test_scatter_into_casts_the_source_and_all_onto_one_target(host_cuda, det):
    # every one of 600 float64 source values lands on element 2 of a bfloat16 output
    rng = np.random.default_rng(2)
    out0 = np.zeros(5, dtype=BF16)
    tgt = np.full(600, 2, dtype=np.int64)
    src = rng.uniform(-1, 1, size=600)
    out = host_cuda.array(out0)
    S.scatter_into(out, host_cuda.array(tgt), host_cuda.array(src), "sum", det=det)
    # the launcher casts the source to bfloat16 first, then sums in float32
    want = _f64(src.astype(BF16)).sum()
    np.testing.assert_allclose(float(out[2]), want, rtol=1e-2, atol=2e-2)
    np.testing.assert_array_equal(_f64(out)[[0, 1, 3, 4]], 0)


@pytest.mark.parametrize("det", [False, True])
@pytest.mark.parametrize("op", ["amax", "amin"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_max_min_propagate_nan(host_cuda, dtype, op, det):
    out0 = np.array([0.0, np.nan, 1.0, -1.0, 2.0], dtype=dtype)
    tgt = np.array([0, 0, 1, 2, 2, 3, 0, 4, 3], dtype=np.int64)
    src = np.array([5, -5, 3, np.nan, 7, 9, 1, -9, -4], dtype=dtype)
    out = host_cuda.array(out0)
    S.scatter_into(out, host_cuda.array(tgt), host_cuda.array(src), op, det=det)
    ref = _scatter_ref(out0, tgt, src, op)
    assert np.isnan(ref[1]) and np.isnan(ref[2])
    np.testing.assert_array_equal(_f64(out), ref)


@pytest.mark.parametrize("flag", [False, True])
def test_scatter_into_follows_use_deterministic_algorithms(host_cuda, flag):
    out0, tgt, src = _case(np.float32, "sum", n=300)
    old = S.deterministic()
    torch.use_deterministic_algorithms(flag)
    try:
        out = host_cuda.array(out0)
        S.scatter_into(out, host_cuda.array(tgt), host_cuda.array(src), "sum")
    finally:
        torch.use_deterministic_algorithms(old)
    assert host_cuda.launched == ["scatter_sorted_f32" if flag else "scatter_atomic_f32"]
    np.testing.assert_allclose(_f64(out), _scatter_ref(out0, tgt, src, "sum"), rtol=1e-5)


def test_scatter_into_with_flat_targets_of_a_2d_index(host_cuda):
    # what index.py does for scatter_add(dim=1): the coordinates folded into flat offsets
    rng = np.random.default_rng(3)
    out0 = rng.standard_normal((4, 6))
    index = rng.integers(0, 6, size=(4, 9))
    src = rng.standard_normal((4, 9))
    rows = np.arange(4)[:, None]
    out = host_cuda.array(out0, np.float64)
    tgt = S.flat_targets(_fake_xp(), (6, 1), (rows, index))
    S.scatter_into(out, host_cuda.array(tgt), host_cuda.array(src, np.float64), "add", det=True)
    want = out0.copy()
    np.add.at(want, (np.broadcast_to(rows, index.shape), index), src)
    np.testing.assert_allclose(out, want, rtol=1e-13, atol=1e-13)


def _fake_xp():
    import cupy  # the fake module host_cuda installed

    return cupy


@pytest.mark.parametrize("det", [False, True])
def test_scatter_into_takes_int32_targets(host_cuda, det):
    # the kernels read int64 targets: narrower ones must be widened by the launcher
    out0, tgt, src = _case(np.float32, "sum", n=100)
    out = host_cuda.array(out0)
    S.scatter_into(out, host_cuda.array(tgt, np.int32), host_cuda.array(src), "sum", det=det)
    np.testing.assert_allclose(_f64(out), _scatter_ref(out0, tgt, src, "sum"), rtol=1e-5)


@pytest.mark.parametrize("det", [False, True])
def test_scatter_into_nothing_leaves_the_output(host_cuda, det):
    out0 = np.arange(4, dtype=np.float32)
    out = host_cuda.array(out0)
    empty = host_cuda.array(np.zeros(0, np.int64))
    S.scatter_into(out, empty, host_cuda.array(np.zeros(0, np.float32)), "sum", det=det)
    np.testing.assert_array_equal(out, out0)
    assert host_cuda.launched == []


# --- segment_csr ------------------------------------------------------------------------------
OFFSETS = np.array([0, 0, 3, 3, 10, 11, 20], dtype=np.int64)  # empty first and third segments
NROWS = 23  # rows 20..22 belong to no segment


def _segment_ref(x, offsets, reduce):
    x2 = _f64(x).reshape(x.shape[0], -1)
    nseg = len(offsets) - 1
    out = np.zeros((nseg, x2.shape[1]))
    arg = np.full((nseg, x2.shape[1]), -1, dtype=np.int64)
    for s in range(nseg):
        lo, hi = offsets[s], offsets[s + 1]
        if hi == lo:
            continue
        seg = x2[lo:hi]
        if reduce == "sum":
            out[s] = seg.sum(0)
        elif reduce == "mean":
            out[s] = seg.mean(0)
        else:
            pick = np.argmax if reduce == "max" else np.argmin  # first hit; NaN wins
            a = pick(seg, axis=0)
            arg[s] = lo + a
            out[s] = seg[a, np.arange(seg.shape[1])]
    return out.reshape((nseg,) + x.shape[1:]), arg.reshape((nseg,) + x.shape[1:])


@pytest.mark.parametrize("tail", [(1,), (37,), (300,), (2, 3)])
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_segment_csr_matches_numpy(host_cuda, dtype, reduce, tail):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((NROWS,) + tail) * 3).astype(dtype)
    arg_wanted = reduce in ("max", "min")
    res = S.segment_csr(host_cuda.array(x), host_cuda.array(OFFSETS), reduce, arg_wanted)
    assert host_cuda.launched == [f"segment_csr_{K.dtype_suffix(dtype)}"]
    out, arg = res if arg_wanted else (res, None)
    want, want_arg = _segment_ref(x, OFFSETS, reduce)
    assert out.shape == want.shape and out.dtype == np.dtype(dtype)
    if arg_wanted:
        np.testing.assert_array_equal(_f64(out), want)
        np.testing.assert_array_equal(arg, want_arg)
    else:
        tol = _tol(dtype)
        np.testing.assert_allclose(_f64(out), want, rtol=tol, atol=tol * 4)
    assert not _f64(out)[[0, 2]].any()  # empty segments give 0


@pytest.mark.parametrize("reduce", ["max", "min", "sum"])
@pytest.mark.parametrize("dtype", [np.float32, BF16])
def test_segment_csr_ties_keep_the_first_row_and_nan_wins(host_cuda, dtype, reduce):
    # small integers: many ties, and sums exact in every dtype
    rng = np.random.default_rng(5)
    x = rng.integers(-2, 3, size=(NROWS, 40)).astype(np.float64)
    x[4, 3] = x[8, 3] = np.nan  # segment 3 (rows 3..9): the first NaN is its arg
    x[10, 5] = np.nan  # a one-row segment holding a NaN
    x = x.astype(dtype)
    out, arg = S.segment_csr(host_cuda.array(x), host_cuda.array(OFFSETS), reduce, True)
    want, want_arg = _segment_ref(x, OFFSETS, reduce)
    np.testing.assert_array_equal(_f64(out), want)
    assert np.isnan(_f64(out)[3, 3]) and np.isnan(_f64(out)[4, 5])
    if reduce == "sum":  # no arg for a sum
        assert (arg == -1).all()
    else:
        np.testing.assert_array_equal(arg, want_arg)
        assert arg[3, 3] == 4 and arg[4, 5] == 10


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_segment_csr_with_no_rows_or_no_segments(host_cuda, reduce):
    x = host_cuda.array(np.zeros((0, 3), np.float32))
    out, arg = S.segment_csr(x, host_cuda.array(np.zeros(3, np.int64)), reduce, True)
    assert out.shape == (2, 3) and arg.shape == (2, 3)
    np.testing.assert_array_equal(out, 0)
    np.testing.assert_array_equal(arg, -1)
    x = host_cuda.array(np.ones((4, 2), np.float64))
    out = S.segment_csr(x, host_cuda.array(np.zeros(1, np.int64)), reduce)
    assert out.shape == (0, 2)
    assert host_cuda.launched == ["segment_csr_f32"]


def test_segment_csr_one_dimensional_rows(host_cuda):
    x = np.arange(NROWS, dtype=np.float64)[::-1].copy()
    out, arg = S.segment_csr(host_cuda.array(x), host_cuda.array(OFFSETS), "min", True)
    want, want_arg = _segment_ref(x, OFFSETS, "min")
    assert out.shape == (6,) and arg.shape == (6,)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(arg, want_arg)
    np.testing.assert_array_equal(arg, [-1, 2, -1, 9, 10, 19])


def test_segment_csr_rejects_an_unknown_reduction(host_cuda):
    with pytest.raises(ValueError, match="segment_csr: reduce must be"):
        S.segment_csr(host_cuda.array(np.ones((2, 2))), host_cuda.array(OFFSETS[:2]), "prod")


@pytest.mark.parametrize("det", [False, True])
@pytest.mark.parametrize("name", ["add", "maximum", "minimum", "multiply"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_index_scatter_at_on_a_device_array_runs_the_kernels(host_cuda, dtype, name, det):
    # index.py's _scatter_at (scatter_add / scatter_reduce / index_add on a GPU) with a device
    # output: coordinates folded by flat_targets, then scatter_into, as the op runs on CuPy
    from tocha.core._ops.index import _scatter_at

    rng = np.random.default_rng(6)
    out0 = rng.uniform(0.5, 1.5, size=(5, 4)).astype(dtype)
    index = rng.integers(0, 5, size=(7, 4))
    coords = (host_cuda.array(index), host_cuda.array(np.arange(4)[None, :]))
    vals = rng.uniform(0.5, 1.5, size=(7, 4)).astype(dtype)
    out = host_cuda.array(out0)
    old = S.deterministic()
    torch.use_deterministic_algorithms(det)
    try:
        _scatter_at(name, out, coords, host_cuda.array(vals))
    finally:
        torch.use_deterministic_algorithms(old)
    kind = "sorted" if det else "atomic"
    assert host_cuda.launched == [f"scatter_{kind}_{K.dtype_suffix(dtype)}"]
    want = _f64(out0)
    getattr(np, name).at(want, (index, np.arange(4)[None, :]), _f64(vals))
    tol = _tol(dtype)
    np.testing.assert_allclose(_f64(out), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("det", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_ops_on_device_tensors(host_cuda, dtype, det):
    # Tensor.scatter_add / index_add / scatter_reduce (sum/amax/amin/prod, include_self either
    # way) on device tensors run the scatter kernels and agree with the same ops on NumPy
    from tocha.core._tensor import wrap

    rng = np.random.default_rng(7)
    x0 = rng.uniform(0.5, 1.5, size=(5, 6))
    index = rng.integers(0, 5, size=(8, 6))
    src0 = rng.uniform(0.5, 1.5, size=(8, 6))
    rows = rng.integers(0, 5, size=8)

    def both(a, dt=dtype):
        return wrap(host_cuda.array(a, dt)), wrap(np.array(a, dtype=dt))

    (xd, xc), (sd, sc) = both(x0), both(src0)
    (idd, idc), (rd, rc) = both(index, np.int64), both(rows, np.int64)
    calls = [
        lambda x, i, r, s: x.scatter_add(0, i, s),
        lambda x, i, r, s: x.index_add(0, r, s),
    ] + [
        lambda x, i, r, s, red=red, inc=inc: x.scatter_reduce(0, i, s, red, include_self=inc)
        # ('mean' counts in an integer array: cupyx's scatter_add, no kernel of ours)
        for red in ("sum", "amax", "amin", "prod")
        for inc in (True, False)
    ]
    old = S.deterministic()
    torch.use_deterministic_algorithms(det)
    try:
        for k, f in enumerate(calls):
            before = len(host_cuda.launched)
            yd, yc = f(xd, idd, rd, sd), f(xc, idc, rc, sc)
            assert len(host_cuda.launched) > before, k  # a kernel ran
            assert type(yd._data) is not np.ndarray
            tol = _tol(dtype) * 4
            np.testing.assert_allclose(_f64(yd._data), _f64(yc._data), rtol=tol, atol=tol)
    finally:
        torch.use_deterministic_algorithms(old)
    assert set(host_cuda.launched) == {
        f"scatter_{'sorted' if det else 'atomic'}_{K.dtype_suffix(dtype)}"
    }


# --- launch geometry the launchers only reach on huge inputs --------------------------------
@pytest.mark.parametrize("op", ["sum", "amax", "prod"])
def test_scatter_kernels_stride_over_a_small_grid(host_cuda, op):
    # blocks_for caps the grid and the kernels stride by it: 2 blocks of 32 threads over 300
    # sources (atomic) and over the ~97 runs of equal targets (sorted)
    out0, tgt, src = _case(np.float32, op, n=300, shape=(10, 10))
    code = np.int32(S.op_code(op))
    out = host_cuda.array(out0.reshape(-1))
    host_cuda.function("segment", "scatter_atomic_f32")(
        (2,), (32,),
        (host_cuda.array(src), host_cuda.array(tgt), out, np.int64(len(tgt)), code),
    )  # fmt: skip
    ref = _scatter_ref(out0, tgt, src, op).reshape(-1)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    order, starts, run_tgt = S.sorted_runs(np, tgt)
    assert len(run_tgt) > 64
    out = host_cuda.array(out0.reshape(-1))
    host_cuda.function("segment", "scatter_sorted_f32")(
        (2,), (32,),
        (host_cuda.array(src[order]), host_cuda.array(starts), host_cuda.array(run_tgt), out,
         np.int64(len(run_tgt)), code),
    )  # fmt: skip
    np.testing.assert_array_equal(out, _sequential_f32(out0, tgt, src, op).reshape(-1))


def test_segment_csr_on_a_two_dimensional_grid_and_wide_rows(host_cuda):
    # row_grid folds more than 2**31 - 1 segments into (x, y): a (2, 3) grid over 5 segments
    # (the sixth block has none), and d = 70 over 32 threads (the column loop strides)
    rng = np.random.default_rng(8)
    d = 70
    x = rng.standard_normal((NROWS, d)).astype(np.float32)
    off = OFFSETS[:6]
    out = host_cuda.array(np.full((6, d), 7.0, np.float32))
    arg = host_cuda.array(np.full((6, d), 99, np.int64))
    host_cuda.function("segment", "segment_csr_f32")(
        (2, 3), (32,),
        (host_cuda.array(x), host_cuda.array(off), out, arg, np.int32(1), np.int64(5),
         np.int64(d), np.int32(1)),
    )  # fmt: skip
    want, want_arg = _segment_ref(x, off, "max")
    np.testing.assert_array_equal(out[:5], want)
    np.testing.assert_array_equal(arg[:5], want_arg)
    assert (out[5] == 7.0).all() and (arg[5] == 99).all()


@pytest.mark.parametrize("reduce", ["mean", "min"])
def test_segment_csr_rows_wider_than_a_block(host_cuda, reduce):
    # d = 1100 > 1024 threads: each thread takes two columns
    rng = np.random.default_rng(9)
    x = rng.standard_normal((7, 1100)).astype(np.float32)
    off = np.array([0, 3, 3, 7])
    out, arg = S.segment_csr(host_cuda.array(x), host_cuda.array(off), reduce, True)
    want, want_arg = _segment_ref(x, off, reduce)
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)
    if reduce == "min":
        np.testing.assert_array_equal(arg, want_arg)
