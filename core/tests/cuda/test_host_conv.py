"""im2col.cu and depthwise.cu run on the host (host_kernels.py): every launcher of
``tocha.core.cuda._conv`` (the convolution forward, its input and weight gradients, the
transposed convolution, unfold / fold, the direct depthwise kernels) against a NumPy reference
in float64, for float32/float64/float16/bfloat16, strides, asymmetric padding, dilation,
groups, odd sizes, non-contiguous inputs and the int64-index ("_l") entry points."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core._ops import conv as CPU
from tocha.core._ops.conv import Geometry, out_size
from tocha.core.cuda import _conv as C
from tocha.core.cuda import _kernels as K

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]
# relative to the largest reference magnitude: one rounding of the result (half / bfloat16
# round once from a float32 accumulation), float32 accumulation otherwise
TOL = {"f32": 2e-6, "f64": 1e-13, "f16": 1e-3, "bf16": 8e-3}


# --- the NumPy reference (float64) ------------------------------------------------------------
def _sel(X, O, Kk, s, d, lo):  # noqa: N803
    """E[p, k, o] = 1 where window o's offset k reads input position p (padding reads none)."""
    p = np.arange(X)[:, None, None]
    return (p == np.arange(O)[None, None, :] * s - lo + np.arange(Kk)[None, :, None] * d) * 1.0


def _subs(nd):
    xs, ks, os_ = "xyz"[:nd], "klm"[:nd], "opq"[:nd]
    sels = ",".join(xs[i] + ks[i] + os_[i] for i in range(nd))
    return xs, ks, os_, sels


def ref_cols(x, geo):
    """(N, C, *K, *O): what each window offset reads, zero in the padding."""
    X, O, Kk, s, d, lo, _ = geo  # noqa: N806
    xs, ks, os_, sels = _subs(len(X))
    E = [_sel(*a) for a in zip(X, O, Kk, s, d, lo)]  # noqa: N806
    return np.einsum(f"nc{xs},{sels}->nc{ks}{os_}", x, *E)


def ref_uncols(cols, geo):
    """The adjoint of `ref_cols`: (N, C, *K, *O) -> (N, C, *X)."""
    X, O, Kk, s, d, lo, _ = geo  # noqa: N806
    xs, ks, os_, sels = _subs(len(X))
    E = [_sel(*a) for a in zip(X, O, Kk, s, d, lo)]  # noqa: N806
    return np.einsum(f"nc{ks}{os_},{sels}->nc{xs}", cols, *E)


def _grouped(cols, G):  # noqa: N803
    N, Cc = cols.shape[:2]  # noqa: N806
    nd = (cols.ndim - 2) // 2
    kk = int(np.prod(cols.shape[2 : 2 + nd]))
    return cols.reshape(N, G, Cc // G * kk, -1)  # (N, G, Cg*prod(K), P)


def ref_conv(x, w, geo, b=None):
    G = geo[6]  # noqa: N806
    Co = w.shape[0]  # noqa: N806
    cols = _grouped(ref_cols(x, geo), G)
    y = np.einsum("gik,ngkp->ngip", w.reshape(G, Co // G, -1), cols)
    y = y.reshape((x.shape[0], Co) + tuple(geo[1]))
    if b is not None:
        y = y + b.reshape((1, Co) + (1,) * len(geo[1]))
    return y


def ref_conv_grads(x, w, g, geo):
    """(gx, gw) of sum(g * conv(x, w))."""
    G = geo[6]  # noqa: N806
    N, Co = g.shape[:2]  # noqa: N806
    gg = g.reshape(N, G, Co // G, -1)
    gw = np.einsum("ngip,ngkp->gik", gg, _grouped(ref_cols(x, geo), G)).reshape(w.shape)
    gcols = np.einsum("gik,ngip->ngkp", w.reshape(G, Co // G, -1), gg)
    nd = len(geo[0])
    gcols = gcols.reshape((N, x.shape[1]) + tuple(geo[2]) + tuple(geo[1]))
    assert gcols.ndim == 2 + 2 * nd
    return ref_uncols(gcols, geo), gw


# --- helpers --------------------------------------------------------------------------------
def _q(a, dt):
    """``a`` rounded to ``dt`` and back to float64: the values the kernels see."""
    return np.asarray(a).astype(dt).astype(np.float64)


def _close(got, want, dt, what=""):
    suffix = K.dtype_suffix(dt)
    assert got.dtype == np.dtype(dt), (what, got.dtype)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    tol = TOL[suffix]
    np.testing.assert_allclose(
        np.asarray(got, dtype=np.float64), want, rtol=tol, atol=tol * scale, err_msg=what
    )


def _geometry(X, Kk, s, d, lo, hi, G):  # noqa: N803
    return Geometry(X, out_size(X, Kk, s, d, lo, hi), Kk, s, d, lo, G)


def _strided(host, a, dt):
    """A device array holding ``a`` whose memory is channels-last with a gap: every stride
    differs from the contiguous one (the kernels read through element strides)."""
    perm = (0,) + tuple(range(2, a.ndim)) + (1,)
    buf = np.zeros(tuple(a.shape[i] for i in perm[:-1]) + (2 * a.shape[1] + 1,))
    buf[..., 1 : 2 * a.shape[1] + 1 : 2] = np.transpose(a, perm)
    dev = host.array(buf, dt)[..., 1::2]
    view = np.moveaxis(dev, -1, 1)
    assert not view.flags.c_contiguous and view.shape == a.shape
    return view


def _combos(cases):
    """Every case in every dtype with int32 indices, and each dtype once more with the int64
    ("_l") entry points (on a case of its own: the launchers switch at ``NARROW_MAX``
    elements, far too many for the host, so the tests lower it)."""
    out = [
        pytest.param(c, dt, False, id=f"{c}-{np.dtype(dt).name}") for c in cases for dt in DTYPES
    ]
    out += [
        pytest.param(
            cases[i % len(cases)], dt, True, id=f"{cases[i % len(cases)]}-{np.dtype(dt).name}-int64"
        )
        for i, dt in enumerate(DTYPES)
    ]
    return out


@pytest.fixture
def index_width(monkeypatch):
    def set_wide(is_wide):
        if is_wide:
            monkeypatch.setattr(C, "NARROW_MAX", 1)
        return "_l" if is_wide else ""

    return set_wide


def _names(host, prefix):
    return [n for n in host.launched if n.startswith(prefix)]


# --- general convolutions: im2col + GEMM, GEMM + col2im --------------------------------------
CASES = {
    # X, K, stride, dilation, padding lo, padding hi, N, C, Co, groups
    "1d": ((13,), (3,), (2,), (1,), (1,), (1,), 2, 3, 4, 1),
    "1d-channelwise": ((10,), (4,), (1,), (2,), (3,), (2,), 2, 3, 6, 3),
    "2d-asym-pad": ((7, 9), (3, 2), (2, 1), (1, 2), (2, 0), (0, 1), 2, 4, 6, 1),
    "2d-groups": ((9, 8), (3, 3), (3, 2), (2, 1), (1, 1), (1, 1), 1, 4, 6, 2),
    "3d": ((4, 5, 3), (2, 3, 1), (1, 2, 1), (2, 1, 1), (1, 1, 0), (1, 1, 0), 1, 2, 3, 1),
    "3d-groups": ((3, 4, 5), (1, 2, 2), (1, 1, 2), (1, 2, 1), (0, 1, 1), (0, 0, 1), 2, 4, 4, 2),
}


@pytest.mark.parametrize("case,dt,wide", _combos(list(CASES)))
def test_conv_forward_and_both_gradients_match_numpy(
    host_cuda, monkeypatch, index_width, case, dt, wide
):
    X, Kk, s, d, lo, hi, N, Ci, Co, G = CASES[case]  # noqa: N806
    geo = _geometry(X, Kk, s, d, lo, hi, G)
    rng = np.random.default_rng(len(X) * 10 + G)
    x = _q(rng.standard_normal((N, Ci) + X), dt)
    w = _q(rng.standard_normal((Co, Ci // G) + Kk) * 0.5, dt)
    b = _q(rng.standard_normal(Co), dt)
    g = _q(rng.standard_normal((N, Co) + geo[1]), dt)
    assert not C.is_depthwise(geo, Ci, w.shape)
    sfx = K.dtype_suffix(dt)
    pair = sfx if C.gemm_dtype(dt) == np.dtype(dt) else f"{sfx}_f32"
    lsfx = index_width(wide)

    keep = []
    y = C.conv_forward(_strided(host_cuda, x, dt), host_cuda.array(w, dt), geo,
                       host_cuda.array(b, dt), keep)  # fmt: skip
    _close(y, ref_conv(x, w, geo, b), dt, "forward")
    assert _names(host_cuda, "im2col") == [f"im2col_{pair}{lsfx}"]
    assert len(keep) == 1 and keep[0][0] == (0, N) and keep[0][1].dtype == C.gemm_dtype(dt)

    gx_ref, gw_ref = ref_conv_grads(x, w, g, geo)
    dx, dg = host_cuda.array(x, dt), host_cuda.array(g, dt)
    # no bias, and columns over the size kept for the weight gradient
    monkeypatch.setattr(C, "_KEEP_COLS_BYTES", keep[0][1].nbytes - 1)
    unkept = []
    _close(C.conv_forward(dx, host_cuda.array(w, dt), geo, None, unkept), ref_conv(x, w, geo), dt)
    assert unkept == [] and len(_names(host_cuda, "im2col")) == 2
    host_cuda.launched.clear()

    # the weight gradient from the forward's kept columns, then from a fresh im2col
    _close(C.conv_weight_forward(dx, dg, geo, w.shape, keep), gw_ref, dt, "weight (kept)")
    assert _names(host_cuda, "im2col") == []
    _close(C.conv_weight_forward(dx, dg, geo, w.shape), gw_ref, dt, "weight")
    assert _names(host_cuda, "im2col") == [f"im2col_{pair}{lsfx}"]

    # the input gradient is the transposed convolution (col2im); with a bias it is
    # ConvTranspose's forward
    cpair = sfx if C.gemm_dtype(dt) == np.dtype(dt) else f"f32_{sfx}"
    _close(C.conv_transpose_forward(_strided(host_cuda, g, dt), host_cuda.array(w, dt), geo),
           gx_ref, dt, "input")  # fmt: skip
    bt = _q(rng.standard_normal(Ci), dt)
    gxb = C.conv_transpose_forward(dg, host_cuda.array(w, dt), geo, host_cuda.array(bt, dt))
    _close(gxb, gx_ref + bt.reshape((1, Ci) + (1,) * len(X)), dt, "transposed + bias")
    assert _names(host_cuda, "col2im") == [f"col2im_{cpair}{lsfx}"] * 2


def test_numpy_reference_is_torch_convolution():
    """The reference above against tocha's CPU convolution and its autograd (torch's
    semantics), so the host tests compare the kernels with the right numbers."""
    for case in ("2d-asym-pad", "3d-groups", "1d-channelwise"):
        X, Kk, s, d, lo, hi, N, Ci, Co, G = CASES[case]  # noqa: N806
        geo = _geometry(X, Kk, s, d, lo, hi, G)
        rng = np.random.default_rng(1)
        x = torch.tensor(rng.standard_normal((N, Ci) + X), requires_grad=True)
        w = torch.tensor(rng.standard_normal((Co, Ci // G) + Kk), requires_grad=True)
        y = CPU.conv_nd(x, w, None, s, lo, hi, d, G)
        want = ref_conv(x.detach().numpy(), w.detach().numpy(), geo)
        np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-12, atol=1e-12)
        g = rng.standard_normal(y.shape)
        y.backward(torch.tensor(g))
        gx, gw = ref_conv_grads(x.detach().numpy(), w.detach().numpy(), g, geo)
        np.testing.assert_allclose(x.grad.numpy(), gx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(w.grad.numpy(), gw, rtol=1e-12, atol=1e-12)
    xs = torch.tensor(np.random.default_rng(2).standard_normal((2, 3, 8, 7)))
    ws = torch.tensor(np.random.default_rng(3).standard_normal((6, 3, 3, 2)))
    got = F.conv2d(xs, ws, stride=(2, 1), padding=1, dilation=(1, 2))
    geo = _geometry((8, 7), (3, 2), (2, 1), (1, 2), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(got.numpy(), ref_conv(xs.numpy(), ws.numpy(), geo), rtol=1e-12)


# --- unfold / fold: torch's (N, C*prod(K), L) layout ----------------------------------------------
UNFOLD = {
    # X, K, stride, dilation, padding
    "1d": ((11,), (3,), (2,), (2,), (1,)),
    "2d": ((7, 6), (3, 2), (2, 1), (1, 2), (1, 0)),
    "3d": ((3, 4, 5), (2, 1, 3), (1, 2, 1), (1, 1, 2), (1, 0, 2)),
}


@pytest.mark.parametrize("case,dt,wide", _combos(list(UNFOLD)))
def test_unfold_and_fold_match_numpy(host_cuda, index_width, case, dt, wide):
    X, Kk, s, d, p = UNFOLD[case]  # noqa: N806
    geo = _geometry(X, Kk, s, d, p, p, 1)
    N, Ci = 2, 3  # noqa: N806
    sfx = K.dtype_suffix(dt) + index_width(wide)
    rng = np.random.default_rng(5)
    x = _q(rng.standard_normal((N, Ci) + X), dt)
    R, L = Ci * int(np.prod(Kk)), int(np.prod(geo[1]))  # noqa: N806
    want = ref_cols(x, geo).reshape(N, R, L)
    got = C.unfold(_strided(host_cuda, x, dt), geo)
    # unfold copies values: exact in every dtype
    assert got.dtype == np.dtype(dt)
    np.testing.assert_array_equal(np.asarray(got, np.float64), want)
    np.testing.assert_array_equal(np.asarray(got, np.float64), CPU._unfold_array(x, geo))
    cols = _q(rng.standard_normal((N, R, L)), dt)
    folded = C.fold(host_cuda.array(cols, dt), geo, Ci)
    want_f = ref_uncols(cols.reshape((N, Ci) + Kk + geo[1]), geo)
    _close(folded, want_f, dt, "fold")
    np.testing.assert_allclose(want_f, CPU._fold_array(cols, geo, Ci), rtol=1e-12, atol=1e-12)
    assert host_cuda.launched == [f"im2col_{sfx}", f"col2im_{sfx}"]


# --- depthwise: direct kernels ----------------------------------------------------------------------
DW = {
    # X, K, stride, dilation, padding lo, padding hi, N, C, multiplier
    "3x3-pad": ((7, 5), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 1, 2, 1),
    "stride-dil-mult2": ((9, 10), (2, 2), (2, 3), (2, 1), (2, 0), (1, 2), 2, 2, 2),
    "one-channel-mult3": ((5, 7), (2, 3), (1, 2), (1, 1), (0, 1), (1, 1), 1, 1, 3),
}


@pytest.mark.parametrize("case,dt,wide", _combos(list(DW)))
def test_depthwise_forward_and_both_gradients_match_numpy(
    host_cuda, monkeypatch, index_width, case, dt, wide
):
    X, Kk, s, d, lo, hi, N, Ci, mult = DW[case]  # noqa: N806
    Co = Ci * mult  # noqa: N806
    geo = _geometry(X, Kk, s, d, lo, hi, Ci)
    rng = np.random.default_rng(7)
    x = _q(rng.standard_normal((N, Ci) + X), dt)
    w = _q(rng.standard_normal((Co, 1) + Kk), dt)
    b = _q(rng.standard_normal(Co), dt)
    g = _q(rng.standard_normal((N, Co) + geo[1]), dt)
    assert C.is_depthwise(geo, Ci, w.shape)
    gx_ref, gw_ref = ref_conv_grads(x, w, g, geo)
    lsfx = K.dtype_suffix(dt) + index_width(wide)

    y = C.conv_forward(_strided(host_cuda, x, dt), host_cuda.array(w, dt), geo,
                       host_cuda.array(b, dt))  # fmt: skip
    _close(y, ref_conv(x, w, geo, b), dt, "forward")
    y = C.conv_forward(host_cuda.array(x, dt), host_cuda.array(w, dt), geo)
    _close(y, ref_conv(x, w, geo), dt, "forward, no bias")

    gx = C.conv_transpose_forward(_strided(host_cuda, g, dt), host_cuda.array(w, dt), geo)
    _close(gx, gx_ref, dt, "input")
    bt = _q(rng.standard_normal(Ci), dt)
    gxb = C.conv_transpose_forward(host_cuda.array(g, dt), host_cuda.array(w, dt), geo,
                                   host_cuda.array(bt, dt))  # fmt: skip
    _close(gxb, gx_ref + bt[None, :, None, None], dt, "transposed + bias")

    # the weight gradient: two or three uneven slices per weight element, summed after (and for
    # float32 one slice too)
    rows, n_red = Co * int(np.prod(Kk)), N * int(np.prod(geo[1]))
    if dt == np.float32:
        assert C.weight_splits(rows, n_red) == 1
        gw = C.conv_weight_forward(host_cuda.array(x, dt), host_cuda.array(g, dt), geo, w.shape)
        _close(gw, gw_ref, dt, "weight, one slice")
    if dt != np.float32:
        # two-warp blocks: the launch is 256 threads (float32 runs it), a host thread each
        monkeypatch.setattr(C, "THREADS", 64)
    splits = 2 if n_red % 2 else 3
    monkeypatch.setattr(C, "_SPLIT_MIN", -(-n_red // splits))
    assert C.weight_splits(rows, n_red) == splits and n_red % splits != 0
    gw = C.conv_weight_forward(_strided(host_cuda, x, dt), _strided(host_cuda, g, dt), geo, w.shape)
    _close(gw, gw_ref, dt, "weight")
    n_w = 2 if dt == np.float32 else 1
    want = [f"dw_fwd_{lsfx}"] * 2 + [f"dw_bwd_x_{lsfx}"] * 2 + [f"dw_bwd_w_{lsfx}"] * n_w
    assert host_cuda.launched == want


# --- what the kernels leave to the xp path -------------------------------------------------------
def test_empty_and_unsupported_inputs_fall_back(host_cuda):
    geo = _geometry((5, 5), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 1)
    w = host_cuda.array(np.ones((4, 3, 3, 3)), np.float32)
    assert C.conv_forward(host_cuda.array(np.ones((0, 3, 5, 5)), np.float32), w, geo) is None
    xi = host_cuda.array(np.ones((1, 3, 5, 5)), np.int32)
    assert C.conv_forward(xi, host_cuda.array(np.ones((4, 3, 3, 3)), np.int32), geo) is None
    assert C.unfold(xi, geo) is None
    # no output positions (a kernel larger than the padded input)
    geo0 = Geometry((2, 2), (0, 0), (5, 5), (1, 1), (1, 1), (0, 0), 1)
    x = host_cuda.array(np.ones((1, 3, 2, 2)), np.float32)
    assert C.conv_forward(x, host_cuda.array(np.ones((4, 3, 5, 5)), np.float32), geo0) is None
    assert host_cuda.launched == []


def test_empty_gradients_fall_back(host_cuda):
    geo = _geometry((5, 5), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 1)
    w = host_cuda.array(np.ones((4, 3, 3, 3)), np.float32)
    g0 = host_cuda.array(np.ones((0, 4, 5, 5)), np.float32)
    x0 = host_cuda.array(np.ones((0, 3, 5, 5)), np.float32)
    assert C.conv_transpose_forward(g0, w, geo) is None
    assert C.conv_weight_forward(x0, g0, geo, (4, 3, 3, 3)) is None
    assert C.fold(host_cuda.array(np.ones((0, 27, 25)), np.float32), geo, 3) is None
    assert host_cuda.launched == []


def test_conv_ops_dispatch_device_arrays_to_the_kernels(host_cuda):
    """``_ops/conv.py``'s array functions send a device array to these kernels (as on a GPU)."""
    X, Kk, s, d, lo, hi, N, Ci, Co, G = CASES["2d-groups"]  # noqa: N806
    geo = _geometry(X, Kk, s, d, lo, hi, G)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((N, Ci) + X)
    w = rng.standard_normal((Co, Ci // G) + Kk)
    g = rng.standard_normal((N, Co) + geo[1])
    dx, dw, dg = (host_cuda.array(a, np.float64) for a in (x, w, g))
    gx, gw = ref_conv_grads(x, w, g, geo)
    _close(CPU.conv_forward(dx, dw, geo), ref_conv(x, w, geo), np.float64)
    _close(CPU.conv_transpose_forward(dg, dw, geo), gx, np.float64)
    _close(CPU.conv_weight_forward(dx, dg, geo, w.shape), gw, np.float64)
    cols = CPU._unfold_array(dx, geo)
    _close(CPU._fold_array(cols, geo, Ci), ref_uncols(ref_cols(x, geo), geo), np.float64)
    dwg = Geometry(*geo[:6], Ci)  # the same geometry, depthwise
    wd = rng.standard_normal((Ci, 1) + Kk)
    _close(CPU.conv_forward(dx, host_cuda.array(wd, np.float64), dwg), ref_conv(x, wd, dwg),
           np.float64)  # fmt: skip
    assert host_cuda.launched == [
        "im2col_f64", "col2im_f64", "im2col_f64", "im2col_f64", "col2im_f64", "dw_fwd_f64"
    ]  # fmt: skip
