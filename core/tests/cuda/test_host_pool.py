"""pool.cu run on the host (host_kernels.py): the launchers of ``tocha.core.cuda._pool``.

- max pooling (1-D and 2-D): values and int64 indices against a brute-force NumPy loop with
  torch's rules (first maximum wins ties, the last NaN wins, a window of -inf reports its first
  element inside the input) and against tocha's CPU op; the backward gather against NumPy's
  scatter-add and tocha's CPU autograd.
- ``resample`` (the ``window2d`` kernel): the per-axis maps tocha's ops build, recorded from
  their CPU runs (average pooling with padding / ceil_mode / count_include_pad /
  divisor_override, adaptive average pooling, area interpolation, and their backward's
  transposed maps), applied by the kernel and compared with the CPU ``resample_array``;
  interpolation and padding maps are not windows and stay on the xp path.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core._ops import pool as P
from tocha.core.cuda import _conv as C
from tocha.core.cuda import _kernels as K
from tocha.core.cuda import _pool as PL
from tocha.core.nn.functional import _pooling as FP

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]
TOL = {"f32": 2e-6, "f64": 1e-13, "f16": 1e-3, "bf16": 8e-3}


def _q(a, dt):
    return np.asarray(a).astype(dt).astype(np.float64)


def _close(got, want, dt, what=""):
    assert got.dtype == np.dtype(dt), (what, got.dtype)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    tol = TOL[K.dtype_suffix(dt)]
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(
        np.asarray(got, np.float64), want, rtol=tol, atol=tol * scale, err_msg=what
    )


def _strided(host, a, dt):
    """A device view of ``a`` (N, C, ...) with channels slowest in memory and a gap after
    each last-axis element: every stride differs from the contiguous one."""
    perm = (1, 0) + tuple(range(2, a.ndim))  # its own inverse
    buf = np.zeros(tuple(a.shape[i] for i in perm[:-1]) + (2 * a.shape[-1],))
    buf[..., ::2] = np.transpose(a, perm)
    view = np.transpose(host.array(buf, dt)[..., ::2], perm)
    assert not view.flags.c_contiguous and view.shape == a.shape
    return view


def _combos(cases):
    """Every case in every dtype with int32 indices, and each dtype once with the int64
    ("_l") entry points (the launchers switch at ``NARROW_MAX``; the tests lower it)."""
    out = [
        pytest.param(c, dt, False, id=f"{c}-{np.dtype(dt).name}") for c in cases for dt in DTYPES
    ]
    for i, dt in enumerate(DTYPES):
        c = cases[i % len(cases)]
        out.append(pytest.param(c, dt, True, id=f"{c}-{np.dtype(dt).name}-int64"))
    return out


@pytest.fixture
def index_width(monkeypatch):
    def set_wide(is_wide):
        if is_wide:
            monkeypatch.setattr(C, "NARROW_MAX", 1)  # _pool imports C.wide, which reads it
        return "_l" if is_wide else ""

    return set_wide


# --- max pooling ----------------------------------------------------------------------------------
def ref_max_pool(x, K_, s, d, lo, O):  # noqa: N803
    """Brute force over (N, C, H, W) with torch's rules: (values, flat h * W + w indices)."""
    N, C_, H, W = x.shape  # noqa: N806
    y = np.empty((N, C_) + tuple(O))
    idx = np.empty((N, C_) + tuple(O), dtype=np.int64)
    for n, c, oh, ow in np.ndindex(N, C_, *O):
        best, m = None, -np.inf
        for kh, kw in np.ndindex(*K_):
            h, w = oh * s[0] - lo[0] + kh * d[0], ow * s[1] - lo[1] + kw * d[1]
            if not (0 <= h < H and 0 <= w < W):
                continue
            v = x[n, c, h, w]
            # the window's first element inside the input (even at -inf), then a larger one
            # or any NaN (so the last NaN is kept)
            if best is None or v > m or np.isnan(v):
                best, m = h * W + w, v
        y[n, c, oh, ow], idx[n, c, oh, ow] = m, best
    return y, idx


MAX = {
    # dims, X, kernel, stride, padding, dilation, ceil_mode
    "2d": (2, (7, 9), 3, 2, 1, 1, False),
    "2d-dil-ceil": (2, (8, 7), (2, 3), (1, 2), (1, 1), (2, 1), True),
    "2d-overlap": (2, (6, 5), 3, 1, 1, 1, False),
    "1d-ceil": (1, (13,), 4, 3, 2, 1, True),
    "1d-dil": (1, (12,), 3, 2, 1, 2, False),
}


def _record(monkeypatch, module, name):
    """Wrap ``module.name`` to record each call's arguments and result."""
    calls = []
    orig = getattr(module, name)

    def rec(*args, **kw):
        out = orig(*args, **kw)
        calls.append((args, kw, out))
        return out

    monkeypatch.setattr(module, name, rec)
    return calls


@pytest.mark.parametrize("case,dt,wide", _combos(list(MAX)))
def test_max_pool_forward_and_backward(host_cuda, monkeypatch, index_width, case, dt, wide):
    rng = np.random.default_rng(3)
    nd, X, k, s, p, d, ceil = MAX[case]  # noqa: N806
    x = np.round(rng.standard_normal((2, 3) + X) * 2)  # small integers: many ties
    x[0, 0].flat[[1, 5]] = np.nan
    x[1, 2] = -np.inf  # a plane of -inf: every window reports its first element inside
    x[1, 1].flat[2:5] = -np.inf
    calls = _record(monkeypatch, P, "max_pool_arrays")
    xt = torch.tensor(x, requires_grad=True)
    y_cpu, idx_cpu = getattr(F, f"max_pool{nd}d")(
        xt, k, s, p, dilation=d, ceil_mode=ceil, return_indices=True
    )
    g = rng.standard_normal(tuple(y_cpu.shape))
    # tocha's CPU op reports a window of -inf by an index into its padding (negative or past
    # the window), torch and the kernel by its first element inside: the CPU comparison
    # leaves those windows out (their gradient is zero there)
    live = ~np.isneginf(y_cpu.detach().numpy())
    y_cpu.backward(torch.tensor(g * live))
    geom = calls[-1][0][1:6]  # K, s, d, lo, O as tocha's op passes them
    K_, s_, d_, lo, O = geom  # noqa: N806

    lsfx = K.dtype_suffix(dt) + index_width(wide)
    x2 = x if nd == 2 else x[:, :, None, :]
    g2 = (lambda t: t) if nd == 2 else (lambda t: (1,) + tuple(t))
    want_y, want_idx = ref_max_pool(x2, g2(K_), g2(s_), g2(d_), (0,) * (2 - nd) + tuple(lo),
                                    g2(O))  # fmt: skip
    want_y, want_idx = want_y.reshape(y_cpu.shape), want_idx.reshape(y_cpu.shape)
    # the brute force is torch's rule: tocha's CPU op agrees with it
    np.testing.assert_array_equal(idx_cpu.numpy()[live], want_idx[live])
    np.testing.assert_array_equal(y_cpu.detach().numpy(), want_y)

    xq = x.astype(dt)  # integers, +-inf and NaN: exact in every dtype
    y, idx = PL.max_pool(_strided(host_cuda, xq, dt), K_, s_, d_, lo, O, True)
    assert y.dtype == np.dtype(dt) and idx.dtype == np.int64
    np.testing.assert_array_equal(np.asarray(y, np.float64), want_y)
    np.testing.assert_array_equal(idx, want_idx)
    y2, none = PL.max_pool(host_cuda.array(xq, dt), K_, s_, d_, lo, O, False)
    assert none is None
    np.testing.assert_array_equal(np.asarray(y2, np.float64), want_y)

    # the backward: each input sums the gradients of the windows whose argmax it is
    gq = _q(g, dt)
    want_gx = np.zeros((2, 3, int(np.prod(X))))
    for n, c in np.ndindex(2, 3):
        np.add.at(want_gx[n, c], want_idx[n, c].ravel(), gq[n, c].ravel())
    want_gx = want_gx.reshape(x.shape)
    gx = PL.max_pool_backward(_strided(host_cuda, gq, dt), idx, X, K_, s_, d_, lo)
    _close(gx, want_gx, dt, "backward")
    if dt == np.float64:
        cpu_gx = np.zeros((2, 3, int(np.prod(X))))
        for n, c in np.ndindex(2, 3):
            np.add.at(cpu_gx[n, c], want_idx[n, c].ravel(), (g * live)[n, c].ravel())
        np.testing.assert_allclose(xt.grad.numpy(), cpu_gx.reshape(x.shape), rtol=1e-12)
    assert host_cuda.launched == [f"maxpool2d_fwd_{lsfx}"] * 2 + [f"maxpool2d_bwd_{lsfx}"]


def test_max_pool_3d_and_empty_fall_back(host_cuda):
    x = host_cuda.array(np.zeros((1, 1, 4, 4, 4)), np.float32)
    assert PL.max_pool(x, (2, 2, 2), (2, 2, 2), (1, 1, 1), (0, 0, 0), (2, 2, 2), True) is None
    e = host_cuda.array(np.zeros((0, 2, 4, 4)), np.float32)
    assert PL.max_pool(e, (2, 2), (2, 2), (1, 1), (0, 0), (2, 2), True) is None
    xi = host_cuda.array(np.zeros((1, 2, 4, 4)), np.int32)
    assert PL.max_pool(xi, (2, 2), (2, 2), (1, 1), (0, 0), (2, 2), True) is None
    assert host_cuda.launched == []


# --- windowed (average) pooling: resample -------------------------------------------------------
RESAMPLE = {
    # input shape, the tocha op, which of its resample calls (forward, backward) are windows
    "avg2d": ((2, 3, 7, 9), lambda t: F.avg_pool2d(t, 3, 2, 1), (True, True)),
    "avg2d-ceil-nopad": (
        (2, 3, 8, 7),
        lambda t: F.avg_pool2d(t, (3, 2), (2, 1), (1, 0), ceil_mode=True, count_include_pad=False),
        (True, True),
    ),
    "avg2d-divisor": (
        (1, 2, 8, 6),
        lambda t: F.avg_pool2d(t, 2, 2, divisor_override=3),
        (True,) * 2,
    ),
    "avg1d": (
        (2, 3, 13),
        lambda t: F.avg_pool1d(t, 4, 3, 2, ceil_mode=True, count_include_pad=False),
        (True, True),
    ),
    "adaptive2d": ((2, 3, 11, 7), lambda t: F.adaptive_avg_pool2d(t, (4, 3)), (True, True)),
    "adaptive1d": ((2, 2, 10), lambda t: F.adaptive_avg_pool1d(t, 4), (True, True)),
    "area": ((1, 3, 9, 10), lambda t: F.interpolate(t, size=(4, 10), mode="area"), (True, True)),
    # a gather forward (xp path) whose adjoint sums runs of outputs: a window backward
    "nearest-up": ((1, 2, 4, 5), lambda t: F.interpolate(t, scale_factor=2), (False, True)),
    "nearest-down": ((1, 2, 7, 6), lambda t: F.interpolate(t, size=(3, 4)), (False, True)),
    "replicate": ((1, 2, 4, 6), lambda t: F.pad(t, (1, 2, 2, 1), mode="replicate"), (False, True)),
    # interpolation weights and reflections are no windows either way
    "bilinear": (
        (1, 2, 4, 6),
        lambda t: F.interpolate(t, size=(7, 5), mode="bilinear", align_corners=False),
        (False, False),
    ),
    "reflect": ((1, 2, 4, 6), lambda t: F.pad(t, (1, 2, 2, 1), mode="reflect"), (False, False)),
}


def _resample_calls(monkeypatch, case, rng):
    """The (input, maps) of each ``resample_array`` call of the op's forward and backward on
    the CPU (float64)."""
    shape, op, _ = RESAMPLE[case]
    orig = P.resample_array
    calls = _record(monkeypatch, P, "resample_array")
    x = torch.tensor(rng.standard_normal(shape), requires_grad=True)
    y = op(x)
    y.backward(torch.tensor(rng.standard_normal(tuple(y.shape))))
    monkeypatch.setattr(P, "resample_array", orig)
    return [(args[0], args[1]) for args, _, _ in calls]


@pytest.mark.parametrize("case,dt,wide", _combos(list(RESAMPLE)))
def test_resample_runs_window_maps_on_the_kernel(
    host_cuda, monkeypatch, index_width, case, dt, wide
):
    calls = _resample_calls(monkeypatch, case, np.random.default_rng(11))
    windows = RESAMPLE[case][2]
    assert len(calls) == len(windows)  # forward, backward
    lsfx = K.dtype_suffix(dt) + index_width(wide)
    for i, ((x, maps), is_window) in enumerate(zip(calls, windows)):
        what = f"{case} {'backward' if i else 'forward'}"
        assert (PL.plan_resample(x.shape, maps) is not None) == is_window, what
        xq = _q(x, dt)
        dev = _strided(host_cuda, xq, dt) if i == 0 else host_cuda.array(xq, dt)
        got = PL.resample(dev, maps)
        if not is_window:
            assert got is None, what
            continue
        _close(got, P.resample_array(xq, maps), dt, what)  # tocha's CPU in float64
    assert host_cuda.launched == [f"window2d_{lsfx}"] * sum(windows)


def test_window_resample_one_axis_and_identity(host_cuda):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5, 9))
    for maps in (
        ((3, FP._area_map(9, 4)),),  # the height untouched: an identity window
        ((2, FP._avg_axis_map(5, 3, 2, 2, 1, False, True)),),
        ((2, P.AxisMap(5, 5, idx=np.arange(5))), (3, FP._area_map(9, 9))),  # identities
    ):
        want = P.resample_array(x, maps)
        _close(PL.resample(host_cuda.array(x, np.float64), maps), want, np.float64)
    assert host_cuda.launched == ["window2d_f64"] * 3
    e = host_cuda.array(np.zeros((0, 2, 4, 4)), np.float32)
    assert PL.resample(e, ((2, FP._area_map(4, 2)),)) is None  # empty: the xp path
    assert len(host_cuda.launched) == 3


def test_pool_ops_dispatch_device_arrays_to_the_kernels(host_cuda):
    """``_ops/pool.py``'s array functions send a device array to these kernels (as on a GPU)."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 7, 9))
    geom = ((3, 3), (2, 2), (1, 1), (1, 1), (4, 5))
    y, idx = P.max_pool_arrays(host_cuda.array(x, np.float32), *geom, True)
    want_y, want_idx = ref_max_pool(x.astype(np.float32).astype(np.float64), *geom)
    np.testing.assert_array_equal(np.asarray(y, np.float64), want_y)
    np.testing.assert_array_equal(idx, want_idx)
    maps = ((2, FP._area_map(7, 3)), (3, FP._avg_axis_map(9, 5, 3, 2, 1, False, True)))
    _close(P.resample_array(host_cuda.array(x, np.float64), maps), P.resample_array(x, maps),
           np.float64)  # fmt: skip
    assert host_cuda.launched == ["maxpool2d_fwd_f32", "window2d_f64"]
