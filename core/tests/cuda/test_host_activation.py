"""The fused activation kernels of cuda/_activation.py (CuPy ElementwiseKernels) run on the host
(host_elementwise.py): every entry of ``ACTIVATIONS``, forward and backward, in float16,
float32 and float64, against float64 NumPy maths and against tocha's CPU ops (forward and
autograd gradient) called on "device" tensors as a GPU user would; bfloat16 and the other cases
the launchers decline fall back to the xp code."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from scipy import special

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core._tensor import wrap
from tocha.core.cuda import _activation as ACT

from . import host_elementwise as HE

DTYPES = [np.float16, np.float32, np.float64]
NAMES = sorted(ACT.ACTIVATIONS)
# the scalar parameters the kernels get here (not the defaults, so each one matters)
PARAMS = {
    "leaky_relu": {"slope": 0.2},
    "softplus": {"beta": 2.0, "threshold": 3.0},
    "elu": {"alpha": 1.5, "scale": 1.25, "input_scale": 0.75},
    "hardsigmoid": {"scale": float(np.float32(1 / 6))},
}
K_TANH, C_TANH = math.sqrt(2 / math.pi), 0.044715


def _fwd_ref(name, x, p):
    """f(x) in float64."""
    if name == "relu":
        return np.where(x < 0, 0.0, x)
    if name == "sigmoid":
        return special.expit(x)
    if name == "tanh":
        return np.tanh(x)
    if name == "leaky_relu":
        return np.where(x > 0, x, p["slope"] * x)
    if name == "gelu":
        return x * special.ndtr(x)
    if name == "gelu_tanh":
        return 0.5 * x * (1 + np.tanh(K_TANH * (x + C_TANH * x**3)))
    if name == "silu":
        return x * special.expit(x)
    if name == "mish":
        return x * np.tanh(np.logaddexp(0, x))
    if name == "softplus":
        bx = p["beta"] * x
        return np.where(bx > p["threshold"], x, np.logaddexp(0, bx) / p["beta"])
    if name == "elu":
        a, s, i = p["alpha"], p["scale"], p["input_scale"]
        return np.where(x > 0, s * x, a * s * np.expm1(np.minimum(x, 0) * i))
    if name == "hardswish":
        return x * np.clip(x + 3, 0, 6) / 6
    assert name == "hardsigmoid"
    return np.clip(x + 3, 0, 6) / 6


def _bwd_ref(name, g, x, y, p):
    """g * f'(x) in float64 (``y`` = f(x) as the from_output kernels receive it)."""
    if name == "relu":
        return np.where(y > 0, g, 0.0)
    if name == "sigmoid":
        return g * y * (1 - y)
    if name == "tanh":
        return g * (1 - y * y)
    if name == "leaky_relu":
        return np.where(x > 0, g, g * p["slope"])
    if name == "gelu":
        return g * (special.ndtr(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi))
    if name == "gelu_tanh":
        t = np.tanh(K_TANH * (x + C_TANH * x**3))
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * K_TANH * (1 + 3 * C_TANH * x * x))
    if name == "silu":
        s = special.expit(x)
        return g * (s + x * s * (1 - s))
    if name == "mish":
        t, s = np.tanh(np.logaddexp(0, x)), special.expit(x)
        return g * (t + x * s * (1 - t * t))
    if name == "softplus":
        bx = p["beta"] * x
        return np.where(bx > p["threshold"], g, g * special.expit(bx))
    if name == "elu":
        a, s, i = p["alpha"], p["scale"], p["input_scale"]
        return np.where(x > 0, g * s, g * a * s * i * np.exp(np.minimum(x, 0) * i))
    if name == "hardswish":  # torch's gradient: 0 at x = -3, 1 at x = 3
        return np.where(x <= -3, 0.0, np.where(x >= 3, g, g * (x / 3 + 0.5)))
    assert name == "hardsigmoid"
    return np.where((x > -3) & (x < 3), g * p["scale"], 0.0)


# kernel against float64 maths: float64 to a few ulps; float32 to ~16 float32 ulps, float16
# (computed in float32, rounded once) to one float16 ulp (2**-10). atol: the float32 formulas
# cancel where a result is small, as torch's kernels do (gelu_tanh's gradient near x = -5
# takes (1 + t) and (1 - t * t) of t = tanh(..) ~ -1: ~1e-6 absolute on a 1e-6 result)
TOL = {np.float64: (1e-12, 1e-14), np.float32: (2e-6, 4e-6), np.float16: (1e-3, 4e-6)}


def _inputs(dtype, shape=(3, 41)):
    """Random values and every branch point of the table (the knees of hardswish/hardsigmoid,
    softplus's threshold for beta=2 (x = 1.5), zero and signed zero), as ``dtype``."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 4
    special_points = [0.0, -0.0, 3, -3, 6, -6, 1.5, 1.4990234375, 1.5009765625, 1e-3, -1e-3]
    special_points += [-9.5, 9.5, -15.0, 15.0, 2.75, -2.75]
    x.flat[: len(special_points)] = special_points
    return x.astype(dtype)


@pytest.fixture
def dev(host_cuda):
    """The host harness, with _activation's kernel cache emptied around the test (its kernels
    are built by whichever ``cupy`` was installed when first asked) and every kernel built
    once in one g++ run."""
    ACT._kernel.cache_clear()
    calls = []
    for dt in DTYPES:
        one = host_cuda.array([0.5], dt)
        for name in NAMES:
            s = ACT._scalars(name, PARAMS.get(name, {}))
            calls.append((ACT._kernel(name, False), (one, *s)))
            calls.append((ACT._kernel(name, True), (one, one, *s)))
    HE.prebuild(calls)
    HE.launched.clear()
    yield host_cuda
    ACT._kernel.cache_clear()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_forward_and_backward_match_float64_maths(dev, name, dtype):
    p = PARAMS.get(name, {})
    x = _inputs(dtype)
    y = ACT.forward(name, dev.array(x), p)
    assert HE.launched == [f"tocha_{name}_fwd"]
    assert y.dtype == dtype and y.shape == x.shape and isinstance(y, type(dev.array(x)))
    rtol, atol = TOL[dtype]
    x64 = x.astype(np.float64)
    want = _fwd_ref(name, x64, p)
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=rtol, atol=atol)

    g = (np.random.default_rng(1).standard_normal(x.shape) * 2).astype(dtype)
    from_output = ACT.ACTIVATIONS[name][3]
    saved = want.astype(dtype) if from_output else x  # what autograd saves for the kernel
    r = ACT.backward(name, dev.array(g), dev.array(saved), p)
    assert HE.launched == [f"tocha_{name}_fwd", f"tocha_{name}_bwd"]
    assert r.dtype == dtype and r.shape == x.shape
    want_g = _bwd_ref(name, g.astype(np.float64), x64, saved.astype(np.float64), p)
    np.testing.assert_allclose(r.astype(np.float64), want_g, rtol=rtol, atol=atol)


# tocha's functional ops whose CuPy path is one of the kernels: (op, kernel)
OPS = {
    "relu": (F.relu, "relu"),
    "sigmoid": (torch.sigmoid, "sigmoid"),
    "tanh": (torch.tanh, "tanh"),
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.2), "leaky_relu"),
    "gelu": (F.gelu, "gelu"),
    "gelu_tanh": (lambda t: F.gelu(t, approximate="tanh"), "gelu_tanh"),
    "silu": (F.silu, "silu"),
    "mish": (F.mish, "mish"),
    "softplus": (F.softplus, "softplus"),
    "softplus_beta": (lambda t: F.softplus(t, beta=2.0, threshold=3.0), "softplus"),
    "elu": (lambda t: F.elu(t, alpha=1.5), "elu"),
    "selu": (F.selu, "elu"),
    "celu": (lambda t: F.celu(t, alpha=2.0), "elu"),
    "hardswish": (F.hardswish, "hardswish"),
    "hardsigmoid": (F.hardsigmoid, "hardsigmoid"),
}
# kernel against tocha's CPU code on the same data (both round to the dtype; float16 CPU maths
# may run in float16 or float32, so two float16 ulps)
TOL_CPU = {np.float64: (1e-12, 1e-14), np.float32: (4e-6, 4e-6), np.float16: (2e-3, 4e-6)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(OPS))
def test_functional_ops_on_device_tensors_match_the_cpu_ops(dev, op, dtype):
    """F.<op> on a tensor whose data is a "device" array runs the fused kernels forward and in
    backward (the launchers get the op's own parameter dict), and gives the CPU op's output and
    gradient, NaN and infinities included."""
    fn, kernel = OPS[op]
    x = _inputs(dtype, (2, 53))
    x.flat[-7:] = [np.nan, np.inf, -np.inf, 50, -50, 1000, -1000]
    g = (np.random.default_rng(2).standard_normal(x.shape)).astype(dtype)
    xc = torch.tensor(x).requires_grad_()
    yc = fn(xc)
    yc.backward(torch.tensor(g))
    xd = wrap(dev.array(x)).requires_grad_()
    yd = fn(xd)
    yd.backward(wrap(dev.array(g)))
    assert HE.launched == [f"tocha_{kernel}_fwd", f"tocha_{kernel}_bwd"]
    assert yd.dtype == yc.dtype and xd.grad.dtype == xc.grad.dtype
    rtol, atol = TOL_CPU[dtype]
    np.testing.assert_allclose(yd._data, yc._data, rtol=rtol, atol=atol)
    if op == "tanh" and dtype is np.float16:
        # the CPU gradient g * (1 - y * y) runs in float16 and cancels near |y| = 1 (1 - y * y
        # of a rounded y * y: ~1% off); the kernel works in float32, as torch's half kernel
        # does: it is held to float64 maths of the same y instead
        y64 = yd._data.astype(np.float64)
        want = g.astype(np.float64) * (1 - y64 * y64)
        np.testing.assert_allclose(xd.grad._data.astype(np.float64), want, *TOL[dtype])
        return
    np.testing.assert_allclose(xd.grad._data, xc.grad._data, rtol=rtol, atol=atol)


def test_declined_cases_return_none(dev, monkeypatch):
    """bfloat16 (none in CuPy 13, minimal in 14: not taken), a gradient of another dtype, kernels switched
    off: None, and the caller runs its xp code; no kernel runs."""
    x = _inputs(np.float32, (4, 9))
    bf = x.astype(ml_dtypes.bfloat16)
    assert not ACT.supported(bf.dtype)  # CuPy 13's elementwise kernels have no bfloat16
    assert ACT.forward("gelu", dev.array(bf)) is None
    assert ACT.backward("silu", dev.array(bf), dev.array(bf)) is None
    # a gradient of another dtype than the input: CuPy would refuse the T binding
    assert ACT.backward("silu", dev.array(x, np.float64), dev.array(x)) is None
    with pytest.raises(TypeError, match="Type is mismatched"):
        ACT._kernel("silu", True)(dev.array(x, np.float64), dev.array(x))
    monkeypatch.setattr(ACT, "ENABLED", False)
    assert ACT.forward("relu", dev.array(x)) is None
    assert ACT.backward("relu", dev.array(x), dev.array(x)) is None
    assert HE.launched == []


def test_strided_broadcast_zero_d_and_empty_arrays(dev):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 7)) * 3
    xt = dev.array(x, np.float32).T  # a transposed (non-contiguous) view
    y = ACT.forward("gelu", xt)
    assert y.shape == (7, 5) and y.dtype == np.float32
    np.testing.assert_allclose(
        y, _fwd_ref("gelu", x.astype(np.float32).T.astype(np.float64), {}), 2e-6, 4e-6
    )
    # a zero-stride gradient (an expanded one, as sum's backward gives), and a (1, 5) row that
    # the kernel broadcasts against x as CuPy does
    row = rng.standard_normal(5)
    xs = dev.array(x.T)
    want = _bwd_ref("silu", np.broadcast_to(row, (7, 5)), x.T, None, {})
    for g in (np.broadcast_to(dev.array(row), (7, 5), subok=True), dev.array(row[None, :])):
        r = ACT.backward("silu", g, xs)
        assert r.shape == (7, 5) and r.dtype == np.float64
        np.testing.assert_allclose(r, want, 1e-12)
    y0 = ACT.forward("mish", dev.array(np.float64(-0.75)))
    assert y0.shape == () and y0.dtype == np.float64
    np.testing.assert_allclose(y0, _fwd_ref("mish", np.float64(-0.75), {}), 1e-12)
    assert HE.launched == ["tocha_gelu_fwd", *["tocha_silu_bwd"] * 2, "tocha_mish_fwd"]
    HE.launched.clear()
    e = ACT.forward("elu", dev.array(np.zeros((0, 3)), np.float16), PARAMS["elu"])
    assert e.shape == (0, 3) and e.dtype == np.float16
    r = ACT.backward("tanh", dev.array(np.zeros((0, 3))), dev.array(np.zeros((0, 3))))
    assert r.shape == (0, 3) and r.dtype == np.float64
    assert HE.launched == []  # CuPy launches nothing for an empty result


def test_host_elementwise_binds_cupy_names_and_types(dev):
    """The stand-in itself: the loop index ``i``, ``_ind.size()``, a scalar cast to the
    placeholder's dtype, a given non-contiguous output, CuPy's type errors."""
    import cupy  # the fake one the fixture installed

    k = cupy.ElementwiseKernel(
        "T x, T s, int32 n", "T y", "y = x * s + (T)i - (T)(_ind.size() * n)", "t_index"
    )
    x = np.arange(6.0).reshape(2, 3)
    want = x * 2.5 + np.arange(6).reshape(2, 3) - 6 * 3
    y = k(dev.array(x, np.float32), 2.5, 3)
    assert y.dtype == np.float32 and HE.launched == ["t_index"]
    np.testing.assert_array_equal(y, want)
    out = dev.array(np.zeros((3, 2)), np.float64).T
    assert k(dev.array(x), 2.5, 3, out) is out
    np.testing.assert_array_equal(out, want)
    with pytest.raises(TypeError, match="Type is mismatched"):
        k(dev.array(x, np.float32), 2.5, 3, dev.array(np.zeros((2, 3))))
    with pytest.raises(TypeError, match="Type is mismatched"):
        k(dev.array(x), 2.5, dev.array([3], np.int64))
    with pytest.raises(ValueError, match="Out shape is mismatched"):
        k(dev.array(x), 2.5, 3, dev.array(np.zeros((1, 3))))
