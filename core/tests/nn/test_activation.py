"""Activation functions and modules: values against NumPy/SciPy formulas, gradients against
finite differences (and second derivatives), dtypes, in-place variants, errors, reprs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import special

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn
from tocha.core.autograd import gradcheck, gradgradcheck

SELU_A = 1.6732632423543772848170429916717
SELU_S = 1.0507009873554804934193349852946


def _sig(x):
    return special.expit(x)


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.logaddexp(0, beta * x) / beta)


# name, kwargs, reference forward, reference derivative
ACTS = [
    ("relu", {}, lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    ("relu6", {}, lambda x: np.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)) * 1.0),
    ("hardtanh", {}, lambda x: np.clip(x, -1, 1), lambda x: ((x > -1) & (x < 1)) * 1.0),
    (
        "hardtanh",
        dict(min_val=-2.0, max_val=0.5),
        lambda x: np.clip(x, -2, 0.5),
        lambda x: ((x > -2) & (x < 0.5)) * 1.0,
    ),
    (
        "elu",
        dict(alpha=0.5),
        lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)),
        lambda x: np.where(x > 0, 1, 0.5 * np.exp(x)),
    ),
    (
        "selu",
        {},
        lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x)),
        lambda x: SELU_S * np.where(x > 0, 1, SELU_A * np.exp(x)),
    ),
    (
        "celu",
        dict(alpha=2.0),
        lambda x: np.maximum(x, 0) + np.minimum(0, 2 * np.expm1(x / 2)),
        lambda x: np.where(x > 0, 1, np.exp(x / 2)),
    ),
    (
        "leaky_relu",
        dict(negative_slope=0.2),
        lambda x: np.where(x > 0, x, 0.2 * x),
        lambda x: np.where(x > 0, 1, 0.2),
    ),
    (
        "gelu",
        {},
        lambda x: x * special.ndtr(x),
        lambda x: special.ndtr(x) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi),
    ),
    (
        "gelu",
        dict(approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
        None,
    ),
    ("silu", {}, lambda x: x * _sig(x), lambda x: _sig(x) * (1 + x * (1 - _sig(x)))),
    ("mish", {}, lambda x: x * np.tanh(_softplus(x)), None),
    ("softplus", {}, _softplus, lambda x: np.where(x > 20, 1, _sig(x))),
    (
        "softplus",
        dict(beta=2.0, threshold=3.0),
        lambda x: _softplus(x, 2.0, 3.0),
        lambda x: np.where(2 * x > 3, 1, _sig(2 * x)),
    ),
    (
        "hardswish",
        {},
        lambda x: x * np.clip(x + 3, 0, 6) / 6,
        lambda x: np.where(x <= -3, 0, np.where(x < 3, x / 3 + 0.5, 1)),
    ),
    (
        "hardsigmoid",
        {},
        lambda x: np.clip(x + 3, 0, 6) / 6,
        lambda x: ((x > -3) & (x < 3)) * float(np.float32(1 / 6)),
    ),
    ("logsigmoid", {}, lambda x: -np.logaddexp(0, -x), lambda x: _sig(-x)),
    ("softsign", {}, lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2),
    ("tanhshrink", {}, lambda x: x - np.tanh(x), lambda x: np.tanh(x) ** 2),
    (
        "hardshrink",
        {},
        lambda x: np.where(np.abs(x) > 0.5, x, 0),
        lambda x: (np.abs(x) > 0.5) * 1.0,
    ),
    (
        "softshrink",
        dict(lambd=1.0),
        lambda x: np.where(x > 1, x - 1, np.where(x < -1, x + 1, 0)),
        lambda x: (np.abs(x) > 1) * 1.0,
    ),
    (
        "threshold",
        dict(threshold=0.5, value=-2.0),
        lambda x: np.where(x > 0.5, x, -2.0),
        lambda x: (x > 0.5) * 1.0,
    ),
    ("sigmoid", {}, _sig, lambda x: _sig(x) * (1 - _sig(x))),
    ("tanh", {}, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    (
        "rrelu",
        {},
        lambda x: np.where(x >= 0, x, x * (1 / 8 + 1 / 3) / 2),
        lambda x: np.where(x > 0, 1, (1 / 8 + 1 / 3) / 2),
    ),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw, _, _ in ACTS]


def _x():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 7)) * 4
    x[0] = [0.0, -3.0, 3.0, 6.0, -1.0, 30.0, -30.0]
    return x


@pytest.mark.parametrize("name,kw,ref,dref", ACTS, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_values_and_first_derivative(name, kw, ref, dref, dtype):
    x = _x()
    t = torch.tensor(x, dtype=dtype, requires_grad=True)
    y = getattr(F, name)(t, **kw)
    assert y.dtype == dtype and tuple(y.shape) == x.shape
    tol = 1e-12 if dtype == torch.float64 else 3e-6
    xr = t.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(y.detach().numpy(), ref(xr), rtol=tol, atol=tol)
    if dref is not None:
        g = np.cos(np.arange(x.size)).reshape(x.shape)
        y.backward(torch.tensor(g, dtype=dtype))
        np.testing.assert_allclose(t.grad.numpy(), g * dref(xr), rtol=tol, atol=tol)


@pytest.mark.parametrize("name,kw,ref,dref", ACTS, ids=IDS)
def test_gradcheck_and_gradgradcheck(name, kw, ref, dref):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4)) * 3
    # keep away from the kinks, where finite differences are meaningless
    x[np.abs(x - np.round(x)) < 0.05] += 0.1
    t = torch.tensor(x, requires_grad=True)
    fn = lambda a: getattr(F, name)(a, **kw)  # noqa: E731
    assert gradcheck(fn, (t,))
    assert gradgradcheck(fn, (t,))


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "leaky_relu", "softplus", "mish"])
def test_large_input_blocked_and_threaded_path(name):
    # 2**18 elements: the fused kernels split into blocks and over the intra-op threads
    rng = np.random.default_rng(3)
    x = rng.standard_normal(1 << 18).astype(np.float32) * 3
    small = getattr(F, name)(torch.tensor(x[:1000])).numpy()
    t = torch.tensor(x, requires_grad=True)
    y = getattr(F, name)(t)
    np.testing.assert_array_equal(y.detach().numpy()[:1000], small)
    ref = dict(ACTS_BY_NAME)[name](x.astype(np.float64))
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=3e-6, atol=3e-6)
    y.sum().backward()
    assert np.isfinite(t.grad.numpy()).all()


ACTS_BY_NAME = [(n, r) for n, kw, r, _ in ACTS if not kw] + [
    ("elu", lambda x: np.where(x > 0, x, np.expm1(x))),
    ("leaky_relu", lambda x: np.where(x > 0, x, 0.01 * x)),
]


def test_gelu_float32_accuracy_over_the_whole_range():
    x = np.linspace(-12, 12, 20001).astype(np.float32)
    y = F.gelu(torch.tensor(x)).numpy().astype(np.float64)
    ref = x.astype(np.float64) * special.ndtr(x.astype(np.float64))
    np.testing.assert_allclose(y, ref, rtol=2e-6, atol=1e-7)


def test_gelu_float32_derivative_over_the_whole_range():
    # the float32 kernel's Phi (a sigmoid of a polynomial) and the Gaussian density, against
    # float64 SciPy: as accurate as torch's own float32 kernel
    x = np.linspace(-12, 12, 20001).astype(np.float32)
    t = torch.tensor(x, requires_grad=True)
    F.gelu(t).sum().backward()
    xd = x.astype(np.float64)
    ref = special.ndtr(xd) + xd * np.exp(-xd * xd / 2) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(t.grad.numpy(), ref, rtol=2e-6, atol=4e-7)


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "softplus", "hardswish", "leaky_relu"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_keeps_dtype(name, dtype):
    x = torch.linspace(-4, 4, 17).to(dtype).requires_grad_()
    y = getattr(F, name)(x)
    assert y.dtype == dtype
    ref = getattr(F, name)(x.detach().float())
    np.testing.assert_allclose(y.float().detach().numpy(), ref.numpy(), rtol=2e-2, atol=2e-2)
    y.sum().backward()
    assert x.grad.dtype == dtype


def test_extreme_values_do_not_overflow():
    x = torch.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    np.testing.assert_allclose(F.softplus(x).numpy(), [0, 0, np.log(2), 50, 1000], atol=1e-6)
    np.testing.assert_allclose(F.logsigmoid(x).numpy(), [-1000, -50, -np.log(2), 0, 0], atol=1e-6)
    np.testing.assert_allclose(F.silu(x).numpy(), [0, 0, 0, 50, 1000], atol=1e-6)
    np.testing.assert_allclose(F.elu(x).numpy(), [-1, -1, 0, 50, 1000], atol=1e-6)
    np.testing.assert_allclose(F.mish(x).numpy(), [0, 0, 0, 50, 1000], atol=1e-5)
    assert np.isfinite(F.gelu(x).numpy()).all()


def test_inplace_variants_share_memory_and_record_history():
    base = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = base * 1
    out = F.relu(y, inplace=True)
    assert out is y and out.grad_fn is not None
    out.sum().backward()
    np.testing.assert_allclose(base.grad.numpy(), [0, 1, 1])
    for fn, args in [
        (F.elu_, ()),
        (F.leaky_relu_, (0.1,)),
        (F.hardtanh_, ()),
        (F.threshold_, (0.0, 5.0)),
        (F.selu_, ()),
        (F.celu_, ()),
        (F.relu_, ()),
        (F.rrelu_, ()),
    ]:
        x = torch.tensor([-1.0, 2.0])
        ref = fn(torch.tensor([-1.0, 2.0]) * 1, *args).numpy().copy()
        assert fn(x, *args) is x
        np.testing.assert_allclose(x.numpy(), ref)
    x = torch.tensor([-1.0, 2.0])
    F.silu(x, inplace=True)
    np.testing.assert_allclose(x.numpy(), [-1 * _sig(-1), 2 * _sig(2)], rtol=1e-6)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.relu(torch.tensor([1.0], requires_grad=True), inplace=True)


def test_prelu_shared_and_per_channel():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    w = np.array([0.1, 0.2, 0.3])
    y = F.prelu(torch.tensor(x), torch.tensor(w)).numpy()
    np.testing.assert_allclose(y, np.where(x > 0, x, w[None, :, None] * x))
    y1 = F.prelu(torch.tensor(x), torch.tensor([0.25])).numpy()
    np.testing.assert_allclose(y1, np.where(x > 0, x, 0.25 * x))
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    assert gradcheck(F.prelu, (xt, wt)) and gradgradcheck(F.prelu, (xt, wt))
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel"):
        F.prelu(torch.tensor(x), torch.tensor([0.1, 0.2]))
    m = nn.PReLU(3, init=0.1)
    assert repr(m) == "PReLU(num_parameters=3)"
    np.testing.assert_allclose(m.weight.detach().numpy(), [0.1] * 3, rtol=1e-6)


def test_rrelu_training_samples_slopes_in_range():
    torch.manual_seed(0)
    x = torch.full((10000,), -1.0, requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = -y.detach().numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert abs(slopes.mean() - 0.2) < 0.01
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes, rtol=1e-6)
    assert (F.rrelu(torch.ones(5), training=True).numpy() == 1).all()


def test_glu_and_softmax_family():
    x = np.random.default_rng(0).standard_normal((3, 4))
    y = F.glu(torch.tensor(x), dim=1).numpy()
    np.testing.assert_allclose(y, x[:, :2] * _sig(x[:, 2:]))
    with pytest.raises(
        RuntimeError, match="Halving dimension must be even, but dimension 0 is size 3"
    ):
        F.glu(torch.tensor(x), dim=0)
    e = np.exp(x - x.max(1, keepdims=True))
    sm = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(F.softmax(torch.tensor(x), dim=1).numpy(), sm, rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(torch.tensor(x), dim=1).numpy(), np.log(sm))
    np.testing.assert_allclose(
        F.softmin(torch.tensor(x), dim=1).numpy(),
        F.softmax(torch.tensor(-x), dim=1).numpy(),
    )
    assert F.softmax(torch.tensor(x), dim=1, dtype=torch.float32).dtype == torch.float32
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        implicit = F.softmax(torch.tensor(x))
    np.testing.assert_allclose(implicit.numpy(), sm)  # 2-D input: dim 1


def test_gumbel_softmax_is_a_distribution_and_hard_is_one_hot():
    torch.manual_seed(0)
    logits = torch.tensor([[0.0, 1.0, 2.0]] * 4, requires_grad=True)
    y = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(y.sum(-1).detach().numpy(), 1.0, rtol=1e-6)
    h = F.gumbel_softmax(logits, hard=True)
    assert set(np.unique(h.detach().numpy())) <= {0.0, 1.0}
    np.testing.assert_allclose(h.sum(-1).detach().numpy(), 1.0)
    h.sum().backward()  # straight-through: the soft sample's gradient
    assert logits.grad is not None


def test_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(torch.zeros(2), approximate="exact")
    with pytest.raises(NotImplementedError, match="\"GeluKernelImpl\" not implemented for 'Long'"):
        F.gelu(torch.tensor([1, 2]))
    with pytest.raises(NotImplementedError, match="silu_cpu"):
        F.silu(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(torch.zeros(2), 1.0, -1.0)
    with pytest.raises(RuntimeError, match="lambda must be greater or equal to 0"):
        F.softshrink(torch.zeros(2), -1.0)
    # integer inputs where torch has kernels
    np.testing.assert_array_equal(F.relu6(torch.tensor([-3, 2, 9])).numpy(), [0, 2, 6])
    np.testing.assert_array_equal(F.threshold(torch.tensor([1, 5]), 2, 7).numpy(), [7, 5])


def test_grad_fn_names():
    x = torch.zeros(2, requires_grad=True)
    assert F.gelu(x).grad_fn.name() == "GeluBackward0"
    assert F.silu(x).grad_fn.name() == "SiluBackward0"
    assert F.elu(x).grad_fn.name() == "EluBackward0"
    assert F.leaky_relu(x).grad_fn.name() == "LeakyReluBackward0"


MODULES = [
    (nn.ReLU(), "ReLU()"),
    (nn.ReLU(True), "ReLU(inplace=True)"),
    (nn.ReLU6(), "ReLU6()"),
    (nn.Hardtanh(-2, 2, True), "Hardtanh(min_val=-2, max_val=2, inplace=True)"),
    (nn.LeakyReLU(), "LeakyReLU(negative_slope=0.01)"),
    (nn.ELU(0.5, True), "ELU(alpha=0.5, inplace=True)"),
    (nn.SELU(), "SELU()"),
    (nn.CELU(), "CELU(alpha=1.0)"),
    (nn.GELU("tanh"), "GELU(approximate='tanh')"),
    (nn.SiLU(True), "SiLU(inplace=True)"),
    (nn.Mish(), "Mish()"),
    (nn.Softplus(2, 10), "Softplus(beta=2, threshold=10)"),
    (nn.Softsign(), "Softsign()"),
    (nn.Sigmoid(), "Sigmoid()"),
    (nn.Tanh(), "Tanh()"),
    (nn.Hardswish(), "Hardswish()"),
    (nn.Hardsigmoid(), "Hardsigmoid()"),
    (nn.LogSigmoid(), "LogSigmoid()"),
    (nn.Softmax(1), "Softmax(dim=1)"),
    (nn.Softmax(), "Softmax(dim=None)"),
    (nn.LogSoftmax(-1), "LogSoftmax(dim=-1)"),
    (nn.Softmin(0), "Softmin(dim=0)"),
    (nn.Softmax2d(), "Softmax2d()"),
    (nn.GLU(), "GLU(dim=-1)"),
    (nn.Threshold(0.1, 20), "Threshold(threshold=0.1, value=20)"),
    (nn.Hardshrink(), "Hardshrink(0.5)"),
    (nn.Softshrink(0.3), "Softshrink(0.3)"),
    (nn.Tanhshrink(), "Tanhshrink()"),
    (nn.RReLU(0.1, 0.3, True), "RReLU(lower=0.1, upper=0.3, inplace=True)"),
]


@pytest.mark.parametrize("module,text", MODULES, ids=[t for _, t in MODULES])
def test_module_repr_and_forward(module, text):
    assert repr(module) == text
    x = torch.tensor([[[[-1.5, 0.5], [2.0, -0.2]]]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = module(x * 1)
    assert tuple(y.shape) == ((1, 1, 2, 1) if isinstance(module, nn.GLU) else (1, 1, 2, 2))
    assert module.state_dict() == {} or isinstance(module, nn.PReLU)


def test_softmax2d_and_modules_follow_the_functions():
    x = torch.tensor(np.random.default_rng(0).standard_normal((2, 3, 2, 2)))
    np.testing.assert_allclose(nn.Softmax2d()(x).numpy(), F.softmax(x, -3).numpy())
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D"):
        nn.Softmax2d()(torch.zeros(2))
    np.testing.assert_allclose(nn.ELU(0.3)(x).numpy(), F.elu(x, 0.3).numpy())
    np.testing.assert_allclose(nn.Softplus(2, 5)(x).numpy(), F.softplus(x, 2, 5).numpy())
    m = nn.RReLU(0.1, 0.3)
    m.eval()
    np.testing.assert_allclose(m(-torch.ones(3)).numpy(), -0.2)


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_half_tanh_sigmoid_backward_computes_in_float32(name):
    # torch's half kernels compute 1 - y*y (y * (1 - y)) in float and round once; in half
    # precision 1 - y*y loses most digits where |y| is near 1
    x = np.linspace(-4, 4, 201).astype(np.float16)
    xt = torch.from_numpy(x).requires_grad_()
    y = getattr(torch, name)(xt)
    y.backward(torch.ones_like(y))
    yf = y.detach().numpy().astype(np.float32)
    want = (1 - yf * yf) if name == "tanh" else yf * (1 - yf)
    np.testing.assert_array_equal(xt.grad.numpy(), want.astype(np.float16))
