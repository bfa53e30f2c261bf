"""Pointwise behaviour the op table cannot express: in-place variants, views, out=, gradient
conventions at ties and bounds (values checked against torch), operators, dtype rules,
complex gradients and error messages."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.special as sp

import tocha.core as torch
from tocha.core.testing import assert_close


def _t(data, **kw):
    return torch.tensor(data, **kw)


# --- in-place variants --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,args,ref",
    [
        ("exp_", (), np.exp),
        ("log_", (), np.log),
        ("sqrt_", (), np.sqrt),
        ("sigmoid_", (), sp.expit),
        ("tanh_", (), np.tanh),
        ("abs_", (), np.abs),
        ("floor_", (), np.floor),
        ("ceil_", (), np.ceil),
        ("trunc_", (), np.trunc),
        ("round_", (), np.round),
        ("sin_", (), np.sin),
        ("reciprocal_", (), np.reciprocal),
        ("clamp_", (0.5, 1.5), lambda a: np.clip(a, 0.5, 1.5)),
        ("clip_", (0.5, 1.5), lambda a: np.clip(a, 0.5, 1.5)),
        ("clamp_min_", (1.0,), lambda a: np.maximum(a, 1.0)),
        ("clamp_max_", (1.0,), lambda a: np.minimum(a, 1.0)),
        ("relu_", (), lambda a: np.maximum(a, 0)),
        ("erf_", (), sp.erf),
        ("lgamma_", (), sp.gammaln),
        ("polygamma_", (1,), lambda a: sp.polygamma(1, a)),
    ],
)
def test_inplace_writes_same_memory_and_bumps_version(name, args, ref):
    a = np.array([0.25, 0.75, 1.25, 2.5], dtype=np.float32)
    x = torch.from_numpy(a.copy())
    view = x[1:] if hasattr(torch.Tensor, "__getitem__") else None
    v0 = x._version
    res = getattr(x, name)(*args)
    assert res is x
    assert x._version > v0
    assert_close(x, ref(a.astype(np.float64)).astype(np.float32), rtol=1e-5, atol=1e-6)
    if view is not None:
        assert_close(view, x.numpy()[1:])


def test_top_level_inplace_functions():
    x = _t([0.0, 1.0])
    assert torch.exp_(x) is x
    assert_close(x, _t([1.0, math.e]))
    y = _t([-1.0, 2.0])
    torch.relu_(y)
    assert_close(y, _t([0.0, 2.0]))
    z = _t([-3.0, 3.0])
    torch.clamp_(z, min=-1.0, max=1.0)
    assert_close(z, _t([-1.0, 1.0]))
    w = torch.ones(3)
    torch.fill_(w, 2.0)
    assert_close(w, torch.full((3,), 2.0))
    torch.zero_(w)
    assert_close(w, torch.zeros(3))


def test_inplace_float_result_into_int_tensor_raises():
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        _t([1, 2]).exp_()
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        _t([1, 2]).clamp_(min=1.5)
    x = _t([-1, 2])
    x.abs_()  # abs keeps the integer dtype
    assert x.tolist() == [1, 2] and x.dtype == torch.int64


def test_inplace_on_leaf_requiring_grad_raises():
    x = _t([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x.sigmoid_()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x.fill_(1.0)
    with torch.no_grad():
        x.fill_(3.0)  # allowed under no_grad (initialisation)
    assert x.item() == 3.0


def test_inplace_sigmoid_gradient_and_history():
    x = _t([0.5, -2.0], requires_grad=True)
    y = x * 1
    y.sigmoid_()
    assert y.grad_fn.name() == "SigmoidBackward0"
    y.sum().backward()
    s = sp.expit(np.array([0.5, -2.0]))
    assert_close(x.grad, torch.from_numpy((s * (1 - s)).astype(np.float32)))


def test_saved_output_modified_in_place_raises():
    x = _t([1.0, -2.0], requires_grad=True)
    y = x.exp()
    z = y.tanh()
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_masked_fill_inplace():
    x = torch.ones(2, 3)
    res = x.masked_fill_(_t([True, False, True]), 5)
    assert res is x
    assert x.tolist() == [[5.0, 1.0, 5.0], [5.0, 1.0, 5.0]]
    with pytest.raises(RuntimeError, match=r"doesn't match the broadcast shape \[2, 3\]"):
        torch.ones(3).masked_fill_(torch.ones(2, 3, dtype=torch.bool), 0)


def test_masked_fill_out_of_place_broadcasts_and_casts_value():
    r = torch.ones(3).masked_fill(torch.ones(2, 3, dtype=torch.bool), 0)
    assert tuple(r.shape) == (2, 3)
    r = torch.zeros(3, dtype=torch.int64).masked_fill(torch.ones(3, dtype=torch.bool), 1.7)
    assert r.tolist() == [1, 1, 1] and r.dtype == torch.int64


def test_masked_fill_gradients_to_input_and_tensor_value():
    x = _t([1.0, 2.0, 3.0], requires_grad=True)
    v = _t(5.0, requires_grad=True)
    m = _t([True, False, True])
    y = x.masked_fill(m, v)
    assert y.grad_fn.name() == "MaskedFillBackward1"
    (y * _t([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 0.0]
    assert v.grad.item() == 4.0


def test_fill_and_zero_gradients():
    x = _t([1.0, 2.0], requires_grad=True)
    v = _t(3.0, requires_grad=True)
    y = x * 1
    y.fill_(v)
    (y * _t([1.0, 2.0])).sum().backward()
    assert y.tolist() == [3.0, 3.0]
    assert x.grad.tolist() == [0.0, 0.0]
    assert v.grad.item() == 3.0

    x2 = _t([1.0, 2.0], requires_grad=True)
    y2 = x2 * 1
    y2.zero_()
    assert y2.grad_fn.name() == "ZeroBackward0"
    y2.sum().backward()
    assert x2.grad.tolist() == [0.0, 0.0]


def test_fill_casts_and_validates():
    x = _t([3, 2])
    x.fill_(2.7)
    assert x.tolist() == [2, 2]
    x.fill_(_t(7))
    assert x.tolist() == [7, 7]
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor"):
        x.fill_(_t([1]))


def test_bitwise_inplace_operators():
    a = _t([1, 2])
    b = a
    a |= 4
    a <<= 1
    assert b is a and a.tolist() == [10, 12]
    a &= _t([8, 4])
    a ^= 1
    assert a.tolist() == [9, 5]
    a >>= 1
    assert a.tolist() == [4, 2]
    m = _t([True, False])
    m &= _t([True, True])
    m ^= True
    assert m.tolist() == [False, True]


# --- views and out= ---------------------------------------------------------------------------
def test_real_imag_are_views():
    z = torch.zeros(2, dtype=torch.complex64)
    z.real.fill_(2.0)
    z.imag.fill_(-1.0)
    assert z.tolist() == [2 - 1j, 2 - 1j]
    z.real = _t([1.0, 3.0])
    assert z.tolist() == [1 - 1j, 3 - 1j]
    x = _t([1.0, 2.0])
    assert torch.real(x) is x and x.real is x
    with pytest.raises(RuntimeError, match="imag is not implemented for tensors with non-complex"):
        x.imag  # noqa: B018


def test_view_as_real_and_complex_share_memory():
    z = torch.zeros(2, dtype=torch.complex128)
    v = torch.view_as_real(z)
    assert tuple(v.shape) == (2, 2) and v.dtype == torch.float64
    v.fill_(1.5)
    assert z.tolist() == [1.5 + 1.5j, 1.5 + 1.5j]
    r = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    c = torch.view_as_complex(r)
    assert c.tolist() == [1 + 2j, 3 + 4j] and c.dtype == torch.complex64
    r.zero_()
    assert c.tolist() == [0j, 0j]


def test_out_argument():
    x = _t([1.0, 2.0])
    o = torch.empty(2)
    r = torch.exp(x, out=o)
    assert r is o
    assert_close(o, _t([math.e, math.e**2]))
    o2 = torch.empty(2)
    torch.clamp(_t([-2.0, 2.0]), -1, 1, out=o2)
    assert o2.tolist() == [-1.0, 1.0]
    o3 = torch.empty(2)
    torch.atan2(_t([1.0, 0.0]), _t([0.0, 1.0]), out=o3)
    assert_close(o3, _t([math.pi / 2, 0.0]))


# --- gradient conventions (values checked against torch 2.x) ------------------------------------
def test_maximum_minimum_split_gradient_at_ties():
    x = _t([1.0, 2.0, 2.0, 3.0], requires_grad=True)
    y = _t([2.0, 2.0, 1.0, 3.0], requires_grad=True)
    torch.maximum(x, y).sum().backward()
    assert x.grad.tolist() == [0.0, 0.5, 1.0, 0.5]
    assert y.grad.tolist() == [1.0, 0.5, 0.0, 0.5]
    x.grad = y.grad = None
    torch.minimum(x, y).sum().backward()
    assert x.grad.tolist() == [1.0, 0.5, 0.0, 0.5]


def test_fmax_fmin_give_ties_and_nan_to_the_number():
    x = _t([1.0, 2.0, 2.0, float("nan")], requires_grad=True)
    y = _t([2.0, 2.0, float("nan"), 1.0], requires_grad=True)
    r = torch.fmax(x, y)
    assert r.tolist() == [2.0, 2.0, 2.0, 1.0]
    r.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 0.0]
    assert y.grad.tolist() == [1.0, 0.0, 0.0, 1.0]


def test_clamp_scalar_gradient_is_inclusive_at_bounds():
    x = _t([1.0, 2.0, 2.5, 3.0, 4.0], requires_grad=True)
    torch.clamp(x, 2.0, 3.0).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    x.grad = None
    torch.clamp(x, 4.0, 1.0).sum().backward()  # min > max: everything is max
    assert x.grad.tolist() == [0.0] * 5
    assert torch.clamp(_t([0.0, 5.0]), 4.0, 1.0).tolist() == [1.0, 1.0]


def test_clamp_tensor_bounds_gradients_match_torch():
    x = _t([1.0, 2.0, 2.0, 3.0, 0.0, 5.0, 1.5, 2.0], requires_grad=True)
    lo = _t([2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0], requires_grad=True)
    hi = _t([3.0, 3.0, 1.0, 3.0, 1.0, 1.0, 1.0, 2.0], requires_grad=True)
    y = torch.clamp(x, lo, hi)
    assert y.tolist() == [2.0, 2.0, 1.0, 3.0, 1.0, 1.0, 1.0, 2.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    assert lo.grad.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert hi.grad.tolist() == [0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]


def test_clamp_type_promotion_and_errors():
    r = torch.clamp(_t([1, 2, 3]), min=1.5)
    assert r.dtype == torch.float32 and r.tolist() == [1.5, 2.0, 3.0]
    assert torch.clamp(_t([1, 5]), 2, 4).dtype == torch.int64
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
        torch.clamp(_t([1.0]))


def test_where_gradients_reduce_to_broadcast_shapes():
    c = _t([[True, False, True], [False, False, True]])
    a = _t([1.0, 2.0, 3.0], requires_grad=True)
    b = _t(5.0, requires_grad=True)
    torch.where(c, a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 0.0, 2.0]
    assert b.grad.item() == 3.0


def test_where_dtype_rules_and_condition_checks():
    c = _t([True, False])
    assert torch.where(c, 1.0, 0).dtype == torch.float32
    assert torch.where(c, 1, 0).dtype == torch.int64
    assert torch.where(c, _t([1, 2]), 2.5).dtype == torch.float32
    assert torch.where(c, _t([1.0, 2.0], dtype=torch.float64), 2).dtype == torch.float64
    assert torch.where(c, _t([1, 2]), 2.5).tolist() == [1.0, 2.5]
    assert torch.where(_t([1, 0], dtype=torch.uint8), 1.0, 0.0).tolist() == [1.0, 0.0]
    assert _t([1.0, 2.0]).where(c, _t(9.0)).tolist() == [1.0, 9.0]
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
        torch.where(_t([1.0, 0.0]), 1.0, 0.0)


def test_where_single_argument_is_nonzero():
    if not hasattr(torch.Tensor, "nonzero"):
        pytest.skip("nonzero (index family) not available")
    rows, cols = torch.where(_t([[True, False], [False, True]]))
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1]


def test_xlogy_zero_and_nan_conventions():
    r = torch.xlogy(_t([0.0, 0.0, 1.0]), _t([0.0, float("nan"), 2.0]))
    assert r.tolist()[0] == 0.0 and math.isnan(r.tolist()[1])
    assert r.tolist()[2] == pytest.approx(math.log(2.0))
    assert torch.xlogy(2, _t([1.0])).tolist() == [0.0]
    assert torch.xlogy(_t([0, 2]), 3).dtype == torch.float32


def test_logit_gradient_with_and_without_eps():
    x = _t([0.05, 0.5, 0.95, 1.5], requires_grad=True)
    torch.logit(x, eps=0.1).sum().backward()
    assert_close(x.grad, _t([0.0, 4.0, 0.0, 0.0]))
    x.grad = None
    torch.logit(x).sum().backward()
    assert math.isnan(x.grad.tolist()[3])  # outside [0, 1], like torch


def test_atan2_gradient_at_origin_is_zero():
    a = _t([0.0, 1.0], requires_grad=True)
    b = _t([0.0, 1.0], requires_grad=True)
    torch.atan2(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 0.5] and b.grad.tolist() == [0.0, -0.5]


def test_lerp_weight_scalar_and_tensor():
    s, e = _t([1.0, 2.0], requires_grad=True), _t([3.0, 5.0], requires_grad=True)
    w = _t([0.25, 0.75], requires_grad=True)
    assert_close(torch.lerp(s, e, 0.3), _t([1.6, 2.9]))
    torch.lerp(s, e, w).sum().backward()
    assert s.grad.tolist() == [0.75, 0.25]
    assert e.grad.tolist() == [0.25, 0.75]
    assert w.grad.tolist() == [2.0, 3.0]


def test_addcmul_addcdiv():
    a, t1, t2 = _t([1.0, 2.0]), _t([3.0, 4.0]), _t([2.0, 8.0])
    assert torch.addcmul(a, t1, t2, value=0.5).tolist() == [4.0, 18.0]
    assert torch.addcdiv(a, t1, t2, value=2).tolist() == [4.0, 3.0]
    # torch converts a float value to the integer result type
    r = torch.addcmul(_t([1, 1]), _t([2, 2]), _t([3, 3]), value=1.5)
    assert r.tolist() == [7, 7] and r.dtype == torch.int64
    with pytest.raises(RuntimeError, match="Integer division with addcdiv is no longer supported"):
        torch.addcdiv(_t([1]), _t([1]), _t([1]))


# --- double backward ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fn,d2",
    [
        (torch.tanh, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
        (torch.sigmoid, lambda x: sp.expit(x) * (1 - sp.expit(x)) * (1 - 2 * sp.expit(x))),
        (torch.exp, np.exp),
        (torch.log, lambda x: -1 / x**2),
        (torch.sqrt, lambda x: -0.25 * x**-1.5),
        (torch.lgamma, lambda x: sp.polygamma(1, x)),
        (torch.digamma, lambda x: sp.polygamma(2, x)),
        (torch.erf, lambda x: -4 * x / math.sqrt(math.pi) * np.exp(-(x**2))),
        (torch.atan, lambda x: -2 * x / (1 + x**2) ** 2),
    ],
)
def test_second_derivative_values(fn, d2):
    a = np.array([0.3, 0.9, 1.7])
    x = torch.tensor(a, requires_grad=True)
    (g,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x)
    assert_close(h, torch.from_numpy(d2(a)), rtol=1e-7, atol=1e-9)


def test_softmax_double_backward_and_stability():
    x = torch.tensor([[1000.0, 1001.0, 1002.0], [-5.0, 0.0, 5.0]], dtype=torch.float64)
    s = torch.softmax(x, dim=1)
    assert_close(s, torch.from_numpy(sp.softmax(x.numpy(), axis=1)))
    ls = torch.log_softmax(x, 1)
    assert_close(ls, torch.from_numpy(sp.log_softmax(x.numpy(), axis=1)))
    xr = torch.tensor(np.random.default_rng(0).normal(size=(2, 3)), requires_grad=True)
    w = torch.tensor(np.random.default_rng(1).normal(size=(2, 3)))
    assert torch.autograd.gradgradcheck(lambda t: torch.softmax(t, 1) * w, (xr,))
    assert torch.autograd.gradgradcheck(lambda t: torch.log_softmax(t, 0) * w, (xr,))


def test_softmax_dtype_and_zero_dim():
    x = _t([1, 2, 3])
    r = torch.softmax(x, 0, dtype=torch.float64)
    assert r.dtype == torch.float64
    assert_close(r, torch.from_numpy(sp.softmax(np.array([1.0, 2.0, 3.0]))))
    assert torch.softmax(_t(2.0), 0).item() == 1.0
    assert torch.log_softmax(_t(2.0), -1).item() == 0.0
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        torch.softmax(x, 0)


def test_polygamma_gradients_are_twice_differentiable():
    x = torch.tensor([0.7, 1.3, 2.9], dtype=torch.float64, requires_grad=True)
    for n in (0, 1, 2):
        assert torch.autograd.gradcheck(lambda t, n=n: torch.polygamma(n, t), (x,))
        assert torch.autograd.gradgradcheck(lambda t, n=n: torch.polygamma(n, t), (x,))


def test_i0_gradient_is_i1_and_differentiable():
    x = torch.tensor([-1.5, 0.4, 2.0], dtype=torch.float64, requires_grad=True)
    torch.i0(x).sum().backward()
    assert_close(x.grad, torch.from_numpy(sp.i1(x.detach().numpy())))
    assert torch.autograd.gradgradcheck(torch.i0, (x,))


# --- complex gradients (torch's conjugate Wirtinger convention; values from torch) --------------
def _cplx():
    re = torch.tensor([1.0, -3.0], dtype=torch.float64, requires_grad=True)
    im = torch.tensor([2.0, 0.5], dtype=torch.float64, requires_grad=True)
    return re, im, torch.complex(re, im)


def test_complex_abs_and_angle_gradients():
    re, im, z = _cplx()
    z.abs().sum().backward()
    zz = np.array([1 + 2j, -3 + 0.5j])
    g = zz / np.abs(zz)
    assert_close(re.grad, torch.from_numpy(g.real))
    assert_close(im.grad, torch.from_numpy(g.imag))
    re, im, z = _cplx()
    torch.angle(z).sum().backward()
    g = zz * 1j / np.abs(zz) ** 2
    assert_close(re.grad, torch.from_numpy(g.real))
    assert_close(im.grad, torch.from_numpy(g.imag))


def test_complex_holomorphic_gradient_is_conjugated():
    re, im, z = _cplx()
    torch.exp(z).real.sum().backward()
    g = np.conj(np.exp(np.array([1 + 2j, -3 + 0.5j])))
    assert_close(re.grad, torch.from_numpy(g.real))
    assert_close(im.grad, torch.from_numpy(g.imag))


def test_complex_real_imag_gradients():
    re, im, z = _cplx()
    (z.real * 2 + z.imag * 3).sum().backward()
    assert re.grad.tolist() == [2.0, 2.0] and im.grad.tolist() == [3.0, 3.0]


def test_polar():
    r = torch.polar(_t([2.0]), _t([math.pi / 2]))
    assert r.dtype == torch.complex64
    assert_close(torch.view_as_real(r), _t([[0.0, 2.0]]), atol=1e-6, rtol=0)


# --- operators and dtype rules ------------------------------------------------------------------
def test_bitwise_operators_and_reflected_forms():
    a = _t([5, 3])
    assert (a & 1).tolist() == [1, 1]
    assert (1 | a).tolist() == [5, 3]
    assert (6 ^ a).tolist() == [3, 5]
    assert (~a).tolist() == [-6, -4]
    assert (a << 2).tolist() == [20, 12]
    assert (1 << a).tolist() == [32, 8]
    assert (a >> 1).tolist() == [2, 1]
    assert (True ^ _t([True, False])).tolist() == [False, True]
    assert (~_t([True, False])).tolist() == [False, True]
    assert (_t([5], dtype=torch.int8) & _t([3])).dtype == torch.int64


def test_shifts_past_the_bit_width():
    assert (_t([-8, 8]) >> 70).tolist() == [-1, 0]
    assert (_t([1, 1]) << 64).tolist() == [0, 0]
    assert (_t([255], dtype=torch.uint8) << 1).tolist() == [254]


def test_bitwise_on_floats_raises_like_torch():
    with pytest.raises(
        NotImplementedError, match=r"\"bitwise_and_cpu\" not implemented for 'Float'"
    ):
        _t([1.0]) & _t([1.0])
    with pytest.raises(RuntimeError, match=r"\"bitwise_or_cpu\" not implemented for 'Float'"):
        _t([1]) | 1.5
    with pytest.raises(RuntimeError, match=r"\"lshift_cpu\" not implemented for 'Float'"):
        _t([1.0]) << 1
    with pytest.raises(RuntimeError, match=r"\"bitwise_not_cpu\" not implemented for 'Float'"):
        ~_t([1.0])


@pytest.mark.parametrize(
    "fn", [torch.exp, torch.sin, torch.sqrt, torch.sigmoid, torch.log1p, torch.erf, torch.rsqrt]
)
def test_integer_inputs_to_float_functions_give_default_dtype(fn):
    x = _t([1, 2, 3])
    assert fn(x).dtype == torch.float32
    torch.set_default_dtype(torch.float64)
    try:
        assert fn(x).dtype == torch.float64
    finally:
        torch.set_default_dtype(torch.float32)


def test_integer_preserving_functions():
    x = _t([-3, 2], dtype=torch.int32)
    for fn in (
        torch.abs,
        torch.sign,
        torch.floor,
        torch.ceil,
        torch.trunc,
        torch.round,
        torch.relu,
    ):
        assert fn(x).dtype == torch.int32
    assert torch.square(_t([True, False])).dtype == torch.int64
    assert torch.sign(_t([True, False])).dtype == torch.bool
    assert torch.nan_to_num(x).dtype == torch.int32
    assert torch.signbit(x).tolist() == [True, False]


def test_half_precision_is_computed_in_float32():
    x = torch.tensor([0.5, 1.0], dtype=torch.float16)
    r = torch.deg2rad(x)
    assert r.dtype == torch.float16
    want = (np.array([0.5, 1.0], np.float32) * np.float32(np.pi / 180)).astype(np.float16)
    assert r.numpy().tolist() == want.tolist()
    assert torch.erfinv(torch.tensor([0.5], dtype=torch.bfloat16)).dtype == torch.bfloat16


def test_predicates_and_comparisons():
    x = _t([float("nan"), float("inf"), -float("inf"), 1.0])
    assert torch.isnan(x).tolist() == [True, False, False, False]
    assert torch.isinf(x).tolist() == [False, True, True, False]
    assert torch.isposinf(x).tolist() == [False, True, False, False]
    assert torch.isneginf(x).tolist() == [False, False, True, False]
    assert torch.isfinite(x).tolist() == [False, False, False, True]
    assert torch.isreal(_t([1 + 0j, 1 + 1j])).tolist() == [True, False]
    assert torch.isclose(x, x).tolist() == [False, True, True, True]
    assert torch.isclose(x, x, equal_nan=True).tolist() == [True, True, True, True]
    assert torch.allclose(_t([1.0, 2.0]), _t([1.0, 2.000001])) is True
    assert torch.equal(_t([1.0, 2.0]), _t([1.0, 2.0])) is True
    assert torch.equal(_t([1.0, 2.0]), _t([1.0, 2.0, 3.0])) is False
    with pytest.raises(RuntimeError, match="Float did not match Double"):
        torch.isclose(_t([1.0]), _t([1.0], dtype=torch.float64))


def test_nan_to_num_defaults_and_gradient():
    x = _t([float("nan"), float("inf"), -float("inf"), 1.5], requires_grad=True)
    y = torch.nan_to_num(x)
    fi = np.finfo(np.float32)
    assert y.tolist() == [0.0, float(fi.max), float(fi.min), 1.5]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0]
    b = torch.nan_to_num(torch.tensor([float("inf")], dtype=torch.bfloat16))
    assert b.dtype == torch.bfloat16 and math.isfinite(b.item())


def test_round_decimals_and_half_to_even():
    assert torch.round(_t([0.5, 1.5, 2.5, -0.5])).tolist() == [0.0, 2.0, 2.0, -0.0]
    assert_close(torch.round(_t([1.2345, 2.5551]), decimals=2), _t([1.23, 2.56]))
    assert torch.round(_t([1234.0]), decimals=-2).tolist() == [1200.0]


def test_grad_fn_names_match_torch():
    x = _t([0.5], requires_grad=True)
    names = {
        torch.exp: "ExpBackward0",
        torch.abs: "AbsBackward0",
        torch.sigmoid: "SigmoidBackward0",
        torch.tanh: "TanhBackward0",
        torch.relu: "ReluBackward0",
        torch.erf: "ErfBackward0",
        (lambda t: t.clamp(0, 1)): "ClampBackward1",
        (lambda t: torch.where(t > 0, t, 0.0)): "WhereBackward0",
        (lambda t: t.masked_fill(t > 0, 1.0)): "MaskedFillBackward0",
        (lambda t: torch.softmax(t, 0)): "SoftmaxBackward0",
    }
    for fn, name in names.items():
        assert fn(x).grad_fn.name() == name


@pytest.mark.parametrize(
    "call,exc,msg",
    [
        (
            lambda: torch.abs(_t([True])),
            NotImplementedError,
            r"\"abs_cpu\" not implemented for 'Bool'",
        ),
        (lambda: torch.sign(_t([1j])), NotImplementedError, "Please use torch.sgn instead"),
        (lambda: torch.floor(_t([1j])), NotImplementedError, "floor is not supported for complex"),
        (
            lambda: torch.frac(_t([1])),
            NotImplementedError,
            r"\"frac_cpu\" not implemented for 'Long'",
        ),
        (lambda: torch.erf(_t([1j])), NotImplementedError, r"\"erf_vml_cpu\" not implemented"),
        (lambda: torch.relu(_t([True])), RuntimeError, "Boolean inputs not supported for relu"),
        (lambda: torch.atan2(_t([1.0]), 1.0), TypeError, "must be Tensor, not float"),
        (
            lambda: torch.maximum(_t([1j]), _t([1j])),
            RuntimeError,
            "maximum not implemented for complex",
        ),
        (
            lambda: torch.hypot(_t([1]), _t([1])),
            NotImplementedError,
            r"\"hypot_cpu\" not implemented for 'Long'",
        ),
        (lambda: torch.lerp(_t([1]), _t([2]), 0.5), NotImplementedError, "lerp_kernel_scalar"),
        (
            lambda: torch.lerp(_t([1.0]), _t([2.0], dtype=torch.float64), 0.5),
            RuntimeError,
            "expected dtype float for `end` but got dtype double",
        ),
        (lambda: torch.polygamma(-1, _t([1.0])), RuntimeError, "does not support negative n"),
        (
            lambda: torch.complex(_t([1]), _t([1])),
            RuntimeError,
            "Expected both inputs to be Half, Float or Double",
        ),
        (lambda: torch.view_as_complex(torch.ones(2, 3)), RuntimeError, "last dimension of size 2"),
        (
            lambda: torch.heaviside(_t([1.0]), _t([1.0], dtype=torch.float64)),
            RuntimeError,
            "different dtypes",
        ),
        (
            lambda: torch.where(torch.ones(3, dtype=torch.bool), torch.ones(3), torch.ones(4)),
            RuntimeError,
            r"The size of tensor a \(3\) must match the size of tensor b \(4\)",
        ),
        (
            lambda: torch.ones(3).masked_fill(torch.ones(3), 1.0),
            RuntimeError,
            "only supports boolean masks, but got mask with dtype float",
        ),
        (
            lambda: torch.positive(_t([True])),
            RuntimeError,
            r"The `\+` operator, on a bool tensor is not supported",
        ),
    ],
)
def test_error_messages(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_heaviside_has_no_derivative():
    x = _t([1.0, 0.0, -1.0], requires_grad=True)
    y = torch.heaviside(x, _t([0.5]))
    assert y.tolist() == [1.0, 0.5, 0.0]
    with pytest.raises(RuntimeError, match="derivative for aten::heaviside is not implemented"):
        y.sum().backward()


def _shifted_softmax(a, axis):
    """softmax and log_softmax in float64 the way torch computes them (row max shift), so
    rows holding inf or nan give torch's nan results."""
    with np.errstate(all="ignore"):
        z = a - a.max(axis=axis, keepdims=True)
        s = np.exp(z).sum(axis=axis, keepdims=True)
        return np.exp(z) / s, z - np.log(s)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "case",
    ["moderate", "large", "very_negative", "mixed_extremes", "inf_rows", "nan_row"],
)
def test_softmax_shift_free_path_matches_the_shifted_maths(case, dtype):
    """softmax/log_softmax skip the row-max shift only when every exp(x) is a normal float
    and the row sums cannot overflow; either way the result is the shifted maths."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 37))
    if case == "large":
        a = a * 5 + 70.0  # above the overflow-safe bound: the shifted path
    elif case == "very_negative":
        a = a - 95.0  # exp underflows without the shift
    elif case == "mixed_extremes":
        a[0, 0], a[1, 1] = 500.0, -500.0
    elif case == "inf_rows":
        a[0, 3], a[2, :] = np.inf, -np.inf
    elif case == "nan_row":
        a[4, 5] = np.nan
    a = a.astype(dtype).astype(np.float64)  # the reference sees the same rounded inputs
    x = torch.from_numpy(a.astype(dtype))
    # float32: relative error of exp, absolute error of x - logsumexp (|x| up to ~10)
    tol = dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch gives nan rows without a warning
        for dim in (0, 1):
            want, want_log = _shifted_softmax(a, dim)
            np.testing.assert_allclose(torch.softmax(x, dim).numpy(), want, equal_nan=True, **tol)
            got_log = torch.log_softmax(x, dim).numpy()
            np.testing.assert_allclose(got_log, want_log, equal_nan=True, **tol)
