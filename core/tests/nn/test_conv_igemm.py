"""The implicit-GEMM convolution kernels (stride 1, ungrouped, CPU) against float64 NumPy
references, on odd sizes, a batch of one, channel counts that are multiples of nothing,
non-contiguous inputs, cropping paddings, 1-d and 3-d, with one and two intra-op threads: the
compiled direct kernels (``_native/conv.c``, float32; also built for a CPU without AVX-512),
the per-tap loops through CBLAS, and the NumPy fallback when CBLAS is not found
(``gemm_into`` itself: test_blas.py)."""

from __future__ import annotations

import platform

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import _blas, _native
from tocha.core._ops import _conv_direct
from tocha.core._ops import conv as conv_ops

RNG = np.random.default_rng(7)


def ref_conv(x, w, pad, dil=1):
    """Direct convolution in float64 (stride 1): one einsum per kernel tap."""
    nd = x.ndim - 2
    pad = (pad,) * nd if isinstance(pad, int) else tuple(pad)
    dil = (dil,) * nd if isinstance(dil, int) else tuple(dil)
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(p, p) for p in pad])
    K = w.shape[2:]  # noqa: N806
    O = [xp.shape[2 + i] - dil[i] * (K[i] - 1) for i in range(nd)]  # noqa: N806
    y = np.zeros((x.shape[0], w.shape[0], *O))
    for k in np.ndindex(*K):
        sl = tuple(slice(k[i] * dil[i], k[i] * dil[i] + O[i]) for i in range(nd))
        y += np.einsum("nc...,oc->no...", xp[(slice(None), slice(None)) + sl], w[(...,) + k])
    return y


def ref_weight_grad(x, g, K, pad, dil=1):  # noqa: N803
    nd = x.ndim - 2
    pad = (pad,) * nd if isinstance(pad, int) else tuple(pad)
    dil = (dil,) * nd if isinstance(dil, int) else tuple(dil)
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(p, p) for p in pad])
    O = g.shape[2:]  # noqa: N806
    gw = np.zeros((g.shape[1], x.shape[1], *K))
    for k in np.ndindex(*K):
        sl = tuple(slice(k[i] * dil[i], k[i] * dil[i] + O[i]) for i in range(nd))
        patch = xp[(slice(None), slice(None)) + sl]
        gf = g.astype(np.float64).reshape(g.shape[0], g.shape[1], -1)
        gw[(...,) + k] = np.einsum("nop,ncp->oc", gf, patch.reshape(x.shape[0], x.shape[1], -1))
    return gw


@pytest.fixture
def spy(monkeypatch):
    """Counts the implicit-GEMM calls (forward/input gradient and weight gradient)."""
    calls = {"conv": 0, "weight": 0}
    conv, weight = conv_ops._ig_conv, conv_ops._ig_weight

    def c(*a, **k):
        calls["conv"] += 1
        return conv(*a, **k)

    def w(*a, **k):
        calls["weight"] += 1
        return weight(*a, **k)

    monkeypatch.setattr(conv_ops, "_ig_conv", c)
    monkeypatch.setattr(conv_ops, "_ig_weight", w)
    monkeypatch.setattr(conv_ops, "_single_core", lambda: False)
    return calls


@pytest.fixture(params=["compiled", "cblas", "matmul"])
def blas(request, monkeypatch):
    """The compiled direct kernels (float32 data; counted in ``request.node.direct``), the
    per-tap loops through CBLAS, and the NumPy fallback used when CBLAS is not found."""
    if request.param == "compiled":
        if not _conv_direct.available(np.dtype(np.float32)):
            pytest.skip("the native convolution kernels could not be built here")
        calls = {"forward": 0, "weight": 0}
        fwd, rows = _conv_direct.forward, _conv_direct.forward_rows
        wg, few = _conv_direct.weight_grad, _conv_direct.weight_grad_few

        def counted(key, fn):
            def run(*a, **k):
                calls[key] += 1
                return fn(*a, **k)

            return run

        monkeypatch.setattr(_conv_direct, "forward", counted("forward", fwd))
        monkeypatch.setattr(_conv_direct, "forward_rows", counted("forward", rows))
        monkeypatch.setattr(_conv_direct, "weight_grad", counted("weight", wg))
        monkeypatch.setattr(_conv_direct, "weight_grad_few", counted("weight", few))
        request.node.direct = calls
        return request.param
    monkeypatch.setattr(_conv_direct, "available", lambda dt: False)
    if request.param == "cblas":
        if _blas._fn(np.dtype(np.float32)) is None:
            pytest.skip("no CBLAS found in this process")
    else:
        monkeypatch.setattr(_blas, "_fn", lambda dt: None)
    return request.param


# --- the convolution kernels ----------------------------------------------------------------------
CASES = [
    # (x shape, w shape, padding, dilation)
    ((3, 17, 11, 13), (19, 17, 3, 3), 1, 1),  # odd sizes, channels multiples of nothing
    ((1, 16, 9, 7), (20, 16, 3, 3), 2, 2),  # batch 1, dilation, padding beyond the kernel
    ((2, 16, 10, 9), (16, 16, 5, 5), 2, 1),
    ((2, 16, 6, 5), (18, 16, 3, 3), 0, 1),  # no padding
    ((2, 16, 7, 8), (16, 16, 1, 1), 0, 1),  # 1x1: one tap
    ((2, 21, 9, 8), (50, 21, 3, 3), 1, 1),  # the wide weight-gradient tile, part-filled
    ((3, 1, 28, 28), (6, 1, 5, 5), 2, 1),  # LeNet-5's layers: one input channel, few outputs
    ((3, 6, 14, 14), (16, 6, 5, 5), 0, 1),
    ((2, 16, 13), (17, 16, 4), 1, 1),  # 1-d, even kernel
    # 1-d with fewer output channels than a vector's lanes: the last part-vector of positions
    # ends within a vector of the next row (the weight gradient once read it: 6.7 off)
    ((2, 3, 8), (4, 3, 3), 1, 1),
    ((3, 2, 5), (15, 2, 4), 2, 1),
    ((1, 16, 4, 5, 3), (16, 16, 3, 3, 3), 1, 1),  # 3-d
]


@pytest.mark.parametrize("xs,ws,pad,dil", CASES)
def test_forward_and_gradients_match_reference(
    xs, ws, pad, dil, threads, blas, spy, monkeypatch, request
):
    monkeypatch.setattr(conv_ops, "_IG_MAX_MARGIN", float("inf"))
    monkeypatch.setattr(conv_ops, "_IG_MAX_MARGIN_DIRECT", float("inf"))
    monkeypatch.setattr(conv_ops, "_IG_PARALLEL_FLOPS", 0)  # split even these small ones
    monkeypatch.setattr(conv_ops, "_IG_MIN_CHANNELS", 1)  # LeNet's: slow through CBLAS, not wrong
    monkeypatch.setattr(conv_ops, "_direct_weight_ok", lambda *a: True)  # (small maps: im2col)
    x = RNG.standard_normal(xs).astype(np.float32)
    w = RNG.standard_normal(ws).astype(np.float32)
    b = RNG.standard_normal(ws[0]).astype(np.float32)
    fn = (F.conv1d, F.conv2d, F.conv3d)[len(xs) - 3]
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    y = fn(xt, wt, bt, padding=pad, dilation=dil)
    nd = len(xs) - 2
    ref = ref_conv(x, w, pad, dil) + b.reshape((1, -1) + (1,) * nd)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-4, atol=1e-4)
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(torch.tensor(g))
    # input gradient: the transposed convolution, i.e. the correlation of the padded output
    # gradient with the flipped kernel
    K = ws[2:]  # noqa: N806
    flip = w[(slice(None), slice(None)) + (slice(None, None, -1),) * nd].swapaxes(0, 1)
    dil_t = (dil,) * nd
    pad_t = tuple(dil * (k - 1) - pad for k in K)
    gp = g.astype(np.float64)
    if min(pad_t) < 0:  # crop instead of pad
        gp = ref_conv(g, flip, tuple(dil * (k - 1) for k in K), dil)
        crop = tuple(slice(pad, pad + s) for s in xs[2:])
        gx_ref = gp[(slice(None), slice(None)) + crop]
    else:
        gx_ref = ref_conv(g, flip, pad_t, dil_t)
    np.testing.assert_allclose(xt.grad.numpy(), gx_ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        wt.grad.numpy(), ref_weight_grad(x, g, K, pad, dil), rtol=1e-4, atol=2e-4
    )
    np.testing.assert_allclose(bt.grad.numpy(), g.sum(axis=(0,) + tuple(range(2, nd + 2))), 1e-5)
    assert spy["conv"] == 2 and spy["weight"] == 1
    if blas == "compiled":  # the weight gradient's kernels cover 1-d and 2-d maps, and the
        # few-channel one (positions in the lanes) any
        few = ws[0] < _conv_direct.lanes()
        assert request.node.direct == {"forward": 2, "weight": 1 if nd <= 2 or few else 0}


def test_non_contiguous_and_half_inputs(spy, monkeypatch):
    monkeypatch.setattr(conv_ops, "_IG_MAX_MARGIN", float("inf"))
    monkeypatch.setattr(conv_ops, "_IG_MAX_MARGIN_DIRECT", float("inf"))
    base = RNG.standard_normal((2, 9, 20, 16)).astype(np.float32)
    x = base.transpose(0, 3, 2, 1)[:, :, ::2, 1:]  # (2, 16, 10, 8), no unit stride anywhere
    w = RNG.standard_normal((24, 16, 3, 3)).astype(np.float32)
    w_nc = np.ascontiguousarray(w.transpose(2, 3, 1, 0)).transpose(3, 2, 0, 1)
    y = F.conv2d(torch.tensor(x), torch.tensor(w_nc), padding=1)
    np.testing.assert_allclose(y.numpy(), ref_conv(x, w, 1), rtol=1e-4, atol=1e-4)
    xh, wh = torch.tensor(x).half(), torch.tensor(w).half()
    yh = F.conv2d(xh, wh, padding=1)
    assert yh.dtype == torch.float16
    ref = ref_conv(xh.float().numpy(), wh.float().numpy(), 1)
    np.testing.assert_allclose(yh.float().numpy(), ref, rtol=2e-2, atol=5e-2)
    assert spy["conv"] == 2


def test_transposed_convolution_with_cropping_padding(spy, monkeypatch):
    # padding 3 > kernel - 1: the flipped convolution starts inside the input (negative offset)
    monkeypatch.setattr(conv_ops, "_IG_MAX_MARGIN", float("inf"))
    monkeypatch.setattr(conv_ops, "_IG_MAX_MARGIN_DIRECT", float("inf"))
    g = RNG.standard_normal((2, 16, 9, 10))
    w = RNG.standard_normal((16, 17, 3, 3))
    y = F.conv_transpose2d(torch.tensor(g), torch.tensor(w), padding=3)
    full = ref_conv(g, w[:, :, ::-1, ::-1].swapaxes(0, 1), 2)  # the unpadded transposed conv
    np.testing.assert_allclose(y.numpy(), full[:, :, 3:-3, 3:-3], atol=1e-10)
    assert spy["conv"] == 1


def test_float32_error_on_the_benchmark_layer(spy):
    """The workload of the Conv2d benchmark takes the implicit GEMM by default, and its float32
    error is that of a direct convolution (measured 2-4e-7 relative; torch's is the same)."""
    x = RNG.standard_normal((8, 64, 56, 56)).astype(np.float32)
    w = (RNG.standard_normal((64, 64, 3, 3)) / 24).astype(np.float32)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, padding=1)
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(torch.tensor(g))
    assert spy == {"conv": 2, "weight": 1}
    ref = ref_conv(x, w, 1)
    assert np.abs(y.detach().numpy() - ref).max() <= 2e-6 * np.abs(ref).max()
    gw = ref_weight_grad(x, g, (3, 3), 1)
    assert np.abs(wt.grad.numpy() - gw).max() <= 2e-6 * np.abs(gw).max()


@pytest.mark.parametrize("compiled", [True, False])
def test_only_cpu_float_ungrouped_stride_one_convolutions_qualify(compiled, monkeypatch):
    if not compiled:
        monkeypatch.setattr(_conv_direct, "available", lambda dt: False)
    elif not _conv_direct.available(np.dtype(np.float32)):
        pytest.skip("the native convolution kernels could not be built here")
    geo = conv_ops.Geometry((16, 16), (16, 16), (3, 3), (1, 1), (1, 1), (1, 1), 1)
    f32 = np.dtype(np.float32)
    assert conv_ops._ig_ok(np, f32, geo, 64, 64, 4)
    assert not conv_ops._ig_ok(object(), f32, geo, 64, 64, 4)  # CuPy keeps its own kernels
    assert not conv_ops._ig_ok(np, np.dtype(np.int64), geo, 64, 64, 4)
    assert not conv_ops._ig_ok(np, f32, geo, 64, 64, 0)
    # few channels: a tiny GEMM inner dimension through CBLAS; the compiled kernels take them
    assert conv_ops._ig_ok(np, f32, geo, 3, 64, 4) == compiled
    grouped = conv_ops.Geometry((16, 16), (16, 16), (3, 3), (1, 1), (1, 1), (1, 1), 2)
    strided = conv_ops.Geometry((16, 16), (8, 8), (3, 3), (2, 2), (1, 1), (1, 1), 1)
    tiny = conv_ops.Geometry((4, 4), (4, 4), (3, 3), (1, 1), (1, 1), (1, 1), 1)  # 36/16 padded
    for geo_ in (grouped, strided, tiny):
        assert not conv_ops._ig_ok(np, f32, geo_, 64, 64, 4)
    if compiled:  # 8x8 maps: 1.56 computed per output, only for layers with few channels
        at8 = conv_ops.Geometry((8, 8), (8, 8), (3, 3), (1, 1), (1, 1), (1, 1), 1)
        assert not conv_ops._ig_ok(np, f32, at8, 256, 256, 4)
        assert conv_ops._ig_ok(np, f32, at8, 6, 16, 4)
        # the weight gradient: compiled for few output channels and large maps, else im2col
        assert conv_ops._direct_weight_ok(6, 16, (10, 10))
        assert conv_ops._direct_weight_ok(64, 64, (32, 32))
        assert not conv_ops._direct_weight_ok(128, 128, (16, 16))
        assert not conv_ops._direct_weight_ok(3, 64, (32, 32))


def _x86_with_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return platform.machine() == "x86_64" and " avx2 " in f.read()
    except OSError:
        return False


@pytest.mark.skipif(not _x86_with_avx2(), reason="checked on Linux x86-64 CPUs with AVX2")
def test_kernels_built_for_a_cpu_without_avx512(tmp_path, monkeypatch):
    """conv.c's 8-lane tiles (AVX2: 16 registers), which -march=native does not build on an
    AVX-512 machine: built for x86-64-v3 in a fresh cache and compared with the reference."""
    if _native._compiler() is None:
        pytest.skip("no C compiler")
    flags = tuple("-march=x86-64-v3" if f == "-march=native" else f for f in _native._FLAGS)
    monkeypatch.setattr(_native, "_FLAGS", flags)
    monkeypatch.setenv("TOCHA_HOME", str(tmp_path))
    monkeypatch.setattr(_native, "_libs", {})
    monkeypatch.setattr(_native, "_fns", {})
    monkeypatch.setattr(_conv_direct, "_layout_cache", [])
    monkeypatch.setattr(conv_ops, "_IG_PARALLEL_FLOPS", 0)
    assert _conv_direct._layout()[3] == 8  # 8 lanes: the AVX2 build
    for co in (6, 20, 50):  # the few-channel, narrow and wide weight-gradient kernels
        x = RNG.standard_normal((2, 17, 10, 9)).astype(np.float32)
        w = RNG.standard_normal((co, 17, 3, 3)).astype(np.float32)
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        y = F.conv2d(xt, wt, padding=1)
        np.testing.assert_allclose(y.detach().numpy(), ref_conv(x, w, 1), rtol=1e-4, atol=1e-4)
        g = RNG.standard_normal(y.shape).astype(np.float32)
        y.backward(torch.tensor(g))
        gw = ref_weight_grad(x, g, (3, 3), 1)
        np.testing.assert_allclose(wt.grad.numpy(), gw, rtol=1e-4, atol=2e-4)
