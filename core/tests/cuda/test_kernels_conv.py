"""tocha's CUDA kernels for convolution (im2col/col2im, depthwise), pooling (max, windowed
average) and fused activations: the pure-Python parts (argument packing, kernel choice, the
window form of pooling maps) on the CPU, and every kernel against the xp path on a GPU
(``gpu``-marked: each launcher module's ``ENABLED`` switched off gives the reference on the
same device; forward and backward, float32/float16/bfloat16, odd sizes, non-contiguous and
empty inputs)."""

from __future__ import annotations

import re
from contextlib import contextmanager

import ml_dtypes
import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core._ops import pool as P
from tocha.core._ops.conv import Geometry
from tocha.core.cuda import _activation as A
from tocha.core.cuda import _conv as C
from tocha.core.cuda import _kernels as K
from tocha.core.cuda import _pool as PL
from tocha.core.nn.functional import _pooling as FP

# --- CPU: the parts that need no GPU --------------------------------------------------------


def _entry_points(stem: str) -> set[str]:
    """The extern "C" names a kernel file defines through its DEFINE_* macros."""
    text = K.source(stem)
    names = set()
    for macro, suffix in re.findall(r"^(DEFINE_\w+)\((\w+)", text, flags=re.M):
        if macro == "DEFINE_BOTH":
            names |= {f"im2col_{suffix}", f"im2col_{suffix}_l"}
        elif macro == "DEFINE_BOTH_COL2IM":
            names |= {f"col2im_{suffix}", f"col2im_{suffix}_l"}
        elif macro == "DEFINE_DW":
            names |= {f"dw_{k}_{suffix}" for k in ("fwd", "bwd_x", "bwd_w")}
        elif macro == "DEFINE_POOL":
            names |= {f"{k}_{suffix}" for k in ("maxpool2d_fwd", "maxpool2d_bwd", "window2d")}
    return names


DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("is_wide", [False, True])
def test_every_name_a_launcher_asks_for_is_defined(dt, is_wide):
    w = "_l" if is_wide else ""
    gd = C.gemm_dtype(dt)
    im = _entry_points("im2col")
    assert f"im2col_{C.pair_suffix(dt, gd)}{w}" in im
    assert f"im2col_{C.pair_suffix(dt, dt)}{w}" in im  # unfold keeps the dtype
    assert f"col2im_{C.pair_suffix(gd, dt)}{w}" in im
    assert f"col2im_{C.pair_suffix(dt, dt)}{w}" in im  # fold
    dw = _entry_points("depthwise")
    for kind in ("fwd", "bwd_x", "bwd_w"):
        assert C._dw_name(kind, dt, is_wide) in dw
    pool = _entry_points("pool")
    for kind in ("maxpool2d_fwd", "maxpool2d_bwd", "window2d"):
        assert PL._name(kind, dt, is_wide) in pool


def test_pair_suffix_and_gemm_dtype():
    assert C.pair_suffix(np.float32, np.float32) == "f32"
    assert C.pair_suffix(np.float16, np.float32) == "f16_f32"
    assert C.pair_suffix(ml_dtypes.bfloat16, np.float32) == "bf16_f32"
    assert C.pair_suffix(np.float32, ml_dtypes.bfloat16) == "f32_bf16"
    assert C.gemm_dtype(np.float16) == np.float32
    assert C.gemm_dtype(ml_dtypes.bfloat16) == np.float32
    assert C.gemm_dtype(np.float64) == np.float64
    with pytest.raises(TypeError, match="no kernel from float64 to float16"):
        C.pair_suffix(np.float64, np.float16)
    assert not C.supported(np.int64) and C.supported(np.float16)


def test_integer_arguments_match_the_entry_point_width():
    narrow = C.ints([1, 2**20], False)
    wide = C.ints([1, 2**40], True)
    assert all(type(v) is np.int32 for v in narrow)
    assert all(type(v) is np.int64 for v in wide) and int(wide[1]) == 2**40
    # the int32 flavour only while index + grid stays below 2**31
    assert not C.wide(C.NARROW_MAX - 1) and C.wide(C.NARROW_MAX)
    assert C.NARROW_MAX + K.blocks_for(C.NARROW_MAX, C.THREADS) * C.THREADS < 2**31 + C.THREADS


def test_geometry_is_padded_to_three_dims_in_front():
    geo = Geometry((9,), (4,), (3,), (2,), (1,), (1,), 1)
    assert C.geo3(geo) == ((1, 1, 9), (1, 1, 4), (1, 1, 3), (1, 1, 2), (1, 1, 1), (0, 0, 1))
    geo2 = Geometry((8, 9), (8, 9), (3, 3), (1, 1), (2, 2), (2, 2), 4)
    assert C.geo3(geo2)[0] == (1, 8, 9) and C.geo3(geo2)[5] == (0, 2, 2)
    with pytest.raises(ValueError, match="4 spatial dims"):
        C.geo3(Geometry((2,) * 4, (2,) * 4, (1,) * 4, (1,) * 4, (1,) * 4, (0,) * 4, 1))


def test_strides_and_span_of_views():
    x = np.zeros((2, 3, 4, 5), np.float32)
    v = x.transpose(0, 1, 3, 2)  # non-contiguous
    assert C.elem_strides(v) == (60, 20, 1, 5)
    assert C.strides3(v) == (60, 20, 0, 1, 5)
    assert C.strides3(np.zeros((2, 3, 7))) == (21, 7, 0, 0, 1)
    assert C.span(x) == x.size and C.span(v) == x.size
    assert C.span(x[:, :, ::2]) == 1 + 60 + 2 * 20 + 2 * 5 + 4
    assert C.span(np.zeros((0, 3))) == 0


def test_depthwise_is_recognised_for_any_multiplier_in_2d_only():
    geo = Geometry((8, 8), (8, 8), (3, 3), (1, 1), (1, 1), (1, 1), 16)
    assert C.is_depthwise(geo, 16, (32, 1, 3, 3))
    assert not C.is_depthwise(geo, 32, (32, 2, 3, 3))  # groups < channels
    geo1 = Geometry((8,), (8,), (3,), (1,), (1,), (1,), 16)
    assert not C.is_depthwise(geo1, 16, (16, 1, 3))


@pytest.mark.parametrize("rows,n_red", [(1, 0), (1, 10**8), (288, 800_000), (10**6, 50), (9, 4096)])
def test_weight_splits_fill_the_gpu_without_tiny_blocks(rows, n_red):
    sp = C.weight_splits(rows, n_red)
    assert 1 <= sp <= K.MAX_GRID_YZ
    assert sp == 1 or n_red / sp >= C._SPLIT_MIN / 2  # no block with a sliver of work
    if n_red >= C._SPLIT_MIN * C._WEIGHT_BLOCKS:
        assert rows * sp >= min(C._WEIGHT_BLOCKS, rows * K.MAX_GRID_YZ)


def _dense(bounds, weights, n_in):
    n_out = bounds.shape[0] // 2
    w = np.zeros((n_in, n_out))
    for o in range(n_out):
        a, b = bounds[o], bounds[n_out + o]
        w[a:b, o] = weights[a:b] * weights[n_in + o]
    return w


AVG_CASES = [
    # n_in, k, s, p, ceil_mode, count_include_pad
    (7, 3, 2, 1, False, True),
    (7, 3, 2, 1, True, False),
    (8, 2, 2, 0, False, True),
    (33, 5, 3, 2, True, True),
    (1, 1, 1, 0, False, True),
]


@pytest.mark.parametrize("n_in,k,s,p,ceil,inc", AVG_CASES)
def test_average_pooling_maps_and_their_transposes_are_windows(n_in, k, s, p, ceil, inc):
    n_out = FP._pool_out((n_in,), (k,), (s,), (p,), (1,), ceil)[0]
    m = FP._avg_axis_map(n_in, n_out, k, s, p, ceil, inc)
    for mat in (m.w, m.T.w):
        tabs = PL.window_tables(mat)
        assert tabs is not None
        np.testing.assert_array_equal(_dense(*tabs, mat.shape[0]), mat)
    # the forward has per-output weights (the transpose per-output or per-input ones: with
    # equal divisors both forms hold, and the reconstruction above is what matters)
    assert (PL.window_tables(m.w)[1][:n_in] == 1).all()


@pytest.mark.parametrize("n_in,n_out", [(15, 7), (7, 15), (5, 5), (224, 7), (3, 1)])
def test_adaptive_average_maps_are_windows(n_in, n_out):
    m = FP._area_map(n_in, n_out)
    for mat in (m.w, m.T.w):
        tabs = PL.window_tables(mat)
        np.testing.assert_array_equal(_dense(*tabs, mat.shape[0]), mat)


def test_interpolation_and_holes_are_not_windows():
    # linear interpolation: weights vary along both a column and a row
    bilinear = np.array([[0.75, 0.25], [0.25, 0.75]])
    assert PL.window_tables(bilinear) is None
    hole = np.array([[0.5], [0.0], [0.5]])
    assert PL.window_tables(hole) is None
    assert PL.window_tables(np.ones(3)) is None


def _window_apply(x, plan):
    """What window2d computes, in NumPy, from the tables `plan_resample` returns."""
    ((hb, hw), oh), ((wb, ww), ow) = plan
    x4 = x if x.ndim == 4 else x[:, :, None, :]
    H, W = x4.shape[2:]  # noqa: N806
    wh = _dense(hb, hw, H)
    wwm = _dense(wb, ww, W)
    y = np.einsum("nchw,hp,wq->ncpq", x4, wh, wwm)
    return y if x.ndim == 4 else y[:, :, 0, :]


@pytest.mark.parametrize(
    "shape,maps_of",
    [
        (
            (2, 3, 9, 11),
            lambda: [
                (2, FP._avg_axis_map(9, 5, 3, 2, 1, True, False)),
                (3, FP._avg_axis_map(11, 6, 3, 2, 1, True, True)),
            ],
        ),
        ((2, 3, 15, 13), lambda: [(2, FP._area_map(15, 4)), (3, FP._area_map(13, 7))]),
        ((2, 3, 15, 13), lambda: [(3, FP._area_map(13, 7))]),
        ((2, 3, 10), lambda: [(2, FP._avg_axis_map(10, 5, 2, 2, 0, False, True))]),
    ],
)
def test_window_plan_reproduces_resample_forward_and_backward(shape, maps_of):
    x = np.random.default_rng(0).standard_normal(shape)
    maps = tuple(maps_of())
    plan = PL.plan_resample(x.shape, maps)
    y = P.resample_array(x, maps)
    np.testing.assert_allclose(_window_apply(x, plan), y, rtol=1e-12, atol=1e-12)
    # the backward applies the transposed maps in reverse order (Resample.backward)
    back = tuple((a, m.T) for a, m in reversed(maps))
    np.testing.assert_allclose(
        _window_apply(y, PL.plan_resample(y.shape, back)),
        P.resample_array(y, back),
        rtol=1e-12,
        atol=1e-12,
    )


def test_resample_plans_only_spatial_window_maps():
    m = FP._area_map(6, 3)
    assert PL.plan_resample((2, 3, 6, 6), [(1, FP._area_map(3, 3))]) is None  # channel axis
    assert PL.plan_resample((2, 6), [(1, m)]) is None  # no spatial axes
    assert PL.plan_resample((2, 3, 4, 6), [(2, m)]) is None  # size mismatch
    nearest = P.AxisMap(6, 3, idx=[0, 2, 4])
    assert PL.plan_resample((2, 3, 6, 6), [(2, nearest)]) is None
    (h, oh), (w, ow) = PL.plan_resample((2, 3, 5, 6), [(3, m)])
    assert (oh, ow) == (5, 3)  # the untouched axis as an identity window
    np.testing.assert_array_equal(_dense(*h, 5), np.eye(5))


@pytest.mark.parametrize("name", sorted(A.ACTIVATIONS))
def test_activation_kernel_sources(name):
    params = A.ACTIVATIONS[name][0]
    ops = []
    for bwd in (False, True):
        ins, outs, op = A.source(name, bwd)
        assert ins.startswith("T g, T x" if bwd else "T x") and outs == "T y"
        assert all(f"float64 {p}" in ins for p in params)
        assert op.count("r = ") >= 1 and op.endswith("y = (T)r;")
        ops.append(op)
    for p in params:  # every parameter is used by the forward or the backward
        assert any(f"(A){p}" in op for op in ops)
    assert A.supported(np.float16) and not A.supported(ml_dtypes.bfloat16)


# --- GPU: every kernel against the xp path on the same device ----------------------------------
TOL = {
    np.float32: dict(rtol=1e-4, atol=1e-4),
    np.float64: dict(rtol=1e-10, atol=1e-10),
    np.float16: dict(rtol=2e-2, atol=2e-2),
    ml_dtypes.bfloat16: dict(rtol=5e-2, atol=5e-2),
}
GPU_DTYPES = [np.float32, np.float16, ml_dtypes.bfloat16]


@contextmanager
def _kernels_off():
    saved = (C.ENABLED, PL.ENABLED, A.ENABLED)
    C.ENABLED = PL.ENABLED = A.ENABLED = False
    try:
        yield
    finally:
        C.ENABLED, PL.ENABLED, A.ENABLED = saved


def _tdtype(dt):
    return {np.float32: torch.float32, np.float16: torch.float16, np.float64: torch.float64}.get(
        dt, torch.bfloat16
    )


def _cuda(arr, dt, grad=True, transpose=False):
    t = torch.tensor(np.asarray(arr, np.float32)).to(_tdtype(dt)).cuda()
    if transpose:  # a non-contiguous view of the same values
        t = t.transpose(-1, -2).contiguous().transpose(-1, -2)
    return t.requires_grad_(grad)


def _np(t):
    return t.detach().float().cpu().numpy()


def _run(fn, arrays, dt, transpose=False, grad_out_seed=1):
    """(outputs, input grads) of ``fn`` on CUDA copies of ``arrays``, as float32 NumPy."""
    ts = [_cuda(a, dt, transpose=transpose and a.ndim >= 3) for a in arrays]
    out = fn(*ts)
    outs = out if isinstance(out, tuple) else (out,)
    y = outs[0]
    rng = np.random.default_rng(grad_out_seed)
    g = _cuda(rng.standard_normal(tuple(y.shape)), dt, grad=False)
    if y.numel():
        y.backward(g)
    return [_np(o) if o.dtype.is_floating_point else o.cpu().numpy() for o in outs], [
        None if t.grad is None else _np(t.grad) for t in ts
    ]


def _compare(fn, arrays, dt, transpose=False):
    got = _run(fn, arrays, dt, transpose)
    with _kernels_off():
        ref = _run(fn, arrays, dt, transpose)
    for a, b in zip(got[0] + got[1], ref[0] + ref[1]):
        if a is None or b is None:
            assert a is None and b is None
        elif a.dtype.kind in "iu":
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, **TOL[dt])


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


CONV_CASES = [
    # nd, N, C, Co, size, k, stride, padding, dilation, groups
    (1, 2, 3, 4, 33, 3, 1, 1, 1, 1),
    (1, 3, 4, 6, 31, 5, 2, 2, 2, 2),
    (2, 2, 3, 5, 9, 3, 1, 1, 1, 1),
    (2, 2, 4, 8, 11, 3, 2, 0, 1, 2),
    (2, 1, 6, 6, 10, 2, 3, 1, 2, 3),
    (2, 2, 8, 8, 9, 3, 2, 1, 1, 8),  # depthwise
    (2, 2, 8, 16, 12, 5, 1, 2, 2, 8),  # depthwise, multiplier 2
    (2, 2, 1, 4, 7, 3, 1, 1, 1, 1),  # one input channel: depthwise with multiplier 4
    (3, 2, 2, 3, 6, 3, 1, 1, 1, 1),
    (3, 1, 4, 4, 7, 2, 2, 0, 1, 2),
]


@pytest.mark.gpu
@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dt", GPU_DTYPES)
@pytest.mark.parametrize("transpose", [False, True])
def test_conv_kernels_match_the_xp_path(case, dt, transpose):
    nd, N, Ci, Co, size, k, s, p, d, G = case  # noqa: N806
    conv = getattr(F, f"conv{nd}d")
    x = _rand(N, Ci, *(size,) * nd)
    w = _rand(Co, Ci // G, *(k,) * nd, seed=1) * 0.3
    b = _rand(Co, seed=2)
    _compare(
        lambda x_, w_, b_: conv(x_, w_, b_, stride=s, padding=p, dilation=d, groups=G),
        [x, w, b],
        dt,
        transpose,
    )


@pytest.mark.gpu
@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dt", GPU_DTYPES)
def test_conv_transpose_kernels_match_the_xp_path(case, dt):
    nd, N, Ci, Co, size, k, s, p, d, G = case  # noqa: N806
    fn = getattr(F, f"conv_transpose{nd}d")
    x = _rand(N, Ci, *(size,) * nd)
    w = _rand(Ci, Co // G, *(k,) * nd, seed=1) * 0.3
    b = _rand(Co, seed=2)
    op = min(s, d) - 1 if max(s, d) > 1 else 0
    _compare(
        lambda x_, w_, b_: fn(
            x_, w_, b_, stride=s, padding=p, output_padding=op, groups=G, dilation=d
        ),
        [x, w, b],
        dt,
    )


@pytest.mark.gpu
@pytest.mark.parametrize("dt", GPU_DTYPES)
def test_conv_empty_batch_and_double_backward(dt):
    x = _cuda(_rand(0, 3, 5, 5), dt)
    w = _cuda(_rand(4, 3, 3, 3), dt)
    assert tuple(F.conv2d(x, w).shape) == (0, 4, 3, 3)
    # double backward runs through the same kernels (every gradient is a conv node)
    x = _cuda(_rand(2, 4, 6, 6), np.float32)
    w = _cuda(_rand(4, 1, 3, 3, seed=3), np.float32)

    def penalty():
        y = F.conv2d(x, w, padding=1, groups=4)
        (gx,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
        return gx.square().sum()

    got = torch.autograd.grad(penalty(), w)[0]
    with _kernels_off():
        ref = torch.autograd.grad(penalty(), w)[0]
    np.testing.assert_allclose(_np(got), _np(ref), rtol=1e-4, atol=1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize("dt", GPU_DTYPES)
def test_unfold_fold_kernels_match_the_xp_path(dt):
    x = _rand(2, 3, 9, 10)
    _compare(lambda x_: F.unfold(x_, (3, 2), dilation=(1, 2), padding=1, stride=(2, 1)), [x], dt)
    # the blocks of a (9, 10) map: (9 + 2 - 2 - 1) // 2 + 1 = 5 rows of 10 + 2 - 2 - 1 + 1 = 10
    cols = _rand(2, 3 * 6, 5 * 10)
    _compare(
        lambda c_: F.fold(c_, (9, 10), (3, 2), dilation=(1, 2), padding=1, stride=(2, 1)),
        [cols],
        dt,
    )


MAX_CASES = [
    # nd, size, k, stride, padding, dilation, ceil_mode
    (2, 9, 3, 2, 1, 1, False),
    (2, 8, 2, 2, 0, 1, False),
    (2, 11, 3, 2, 1, 2, True),
    (2, 33, 4, 3, 2, 1, True),
    (1, 31, 3, 1, 1, 1, False),
    (1, 1000, 5, 4, 2, 1, True),
]


@pytest.mark.gpu
@pytest.mark.parametrize("case", MAX_CASES)
@pytest.mark.parametrize("dt", GPU_DTYPES)
@pytest.mark.parametrize("transpose", [False, True])
def test_max_pool_kernels_match_the_xp_path(case, dt, transpose):
    nd, size, k, s, p, d, ceil = case
    fn = getattr(F, f"max_pool{nd}d")
    x = _rand(2, 3, *(size,) * nd)
    x[0, 0, ..., 0] = np.nan  # NaN windows: torch takes the NaN's index
    _compare(
        lambda x_: fn(x_, k, s, p, dilation=d, ceil_mode=ceil, return_indices=True),
        [x],
        dt,
        transpose,
    )


@pytest.mark.gpu
def test_max_pool_ties_pick_the_first_and_backward_is_deterministic():
    x = torch.zeros(1, 1, 4, 4, device="cuda", requires_grad=True)
    y, idx = F.max_pool2d(x, 3, 1, return_indices=True)
    assert idx.cpu().tolist() == [[[[0, 1], [4, 5]]]]
    y.backward(torch.ones_like(y))
    g1 = x.grad.cpu().numpy().copy()
    x.grad = None
    F.max_pool2d(x, 3, 1).backward(torch.ones(1, 1, 2, 2, device="cuda"))
    np.testing.assert_array_equal(x.grad.cpu().numpy(), g1)
    assert g1[0, 0, 0, 0] == 1 and g1.sum() == 4


AVG_GPU_CASES = [
    # size, k, stride, padding, ceil_mode, count_include_pad, divisor_override
    (9, 3, 2, 1, False, True, None),
    (9, 3, 2, 1, True, False, None),
    (33, 4, 3, 2, True, True, None),
    (8, 2, 2, 0, False, True, 3),
    (1000, 5, 5, 0, False, True, None),
]


@pytest.mark.gpu
@pytest.mark.parametrize("case", AVG_GPU_CASES)
@pytest.mark.parametrize("dt", GPU_DTYPES)
@pytest.mark.parametrize("transpose", [False, True])
def test_avg_pool_kernels_match_the_xp_path(case, dt, transpose):
    size, k, s, p, ceil, inc, div = case
    x = _rand(2, 3, 7, size) if size > 100 else _rand(2, 3, size, size + 2)
    _compare(lambda x_: F.avg_pool2d(x_, k, s, p, ceil, inc, div), [x], dt, transpose)
    _compare(lambda x_: F.avg_pool1d(x_[:, :, 0], k, s, p, ceil, inc), [x], dt)


@pytest.mark.gpu
@pytest.mark.parametrize("out", [(7, 7), (4, 5), (15, 15), (1, 3)])
@pytest.mark.parametrize("dt", GPU_DTYPES)
def test_adaptive_avg_pool_kernels_match_the_xp_path(out, dt):
    _compare(lambda x_: F.adaptive_avg_pool2d(x_, out), [_rand(2, 3, 15, 13)], dt, True)


@pytest.mark.gpu
def test_pool_empty_input_falls_back():
    x = torch.zeros(0, 3, 8, 8, device="cuda")
    assert tuple(F.max_pool2d(x, 2).shape) == (0, 3, 4, 4)
    assert tuple(F.avg_pool2d(x, 2).shape) == (0, 3, 4, 4)


ACT_FNS = {
    "relu": lambda x: F.relu(x),
    "sigmoid": lambda x: torch.sigmoid(x),
    "tanh": lambda x: torch.tanh(x),
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "gelu": lambda x: F.gelu(x),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": lambda x: F.silu(x),
    "mish": lambda x: F.mish(x),
    "softplus": lambda x: F.softplus(x, beta=2.0, threshold=3.0),
    "elu": lambda x: F.elu(x, 0.7),
    "selu": lambda x: F.selu(x),
    "hardswish": lambda x: F.hardswish(x),
    "hardsigmoid": lambda x: F.hardsigmoid(x),
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(ACT_FNS))
@pytest.mark.parametrize("dt", [np.float32, np.float16, np.float64, ml_dtypes.bfloat16])
@pytest.mark.parametrize("cols", [1, 31, 33, 1000, 4097])
def test_activation_kernels_match_the_xp_path(name, dt, cols):
    x = _rand(3, cols) * 4
    x[0, 0] = 3.0  # the hardswish / hardsigmoid corners
    if cols > 1:
        x[0, 1] = -3.0
    _compare(ACT_FNS[name], [x], dt)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(ACT_FNS))
def test_activation_kernels_on_views_empty_and_nan(name):
    x = _rand(2, 5, 7) * 4
    x[0, 0, 0] = np.nan
    _compare(ACT_FNS[name], [x], np.float32, transpose=True)
    e = torch.zeros(0, 4, device="cuda", requires_grad=True)
    assert tuple(ACT_FNS[name](e).shape) == (0, 4)


@pytest.mark.gpu
def test_activation_double_backward_keeps_the_graph():
    x = _cuda(_rand(4, 33), np.float32)
    (g,) = torch.autograd.grad(F.gelu(x).sum(), x, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), x)
    xn = _rand(4, 33).astype(np.float64)
    pdf = np.exp(-0.5 * xn * xn) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(_np(gg), pdf * (2 - xn * xn), rtol=1e-4, atol=1e-5)
