"""nn.utils: gradient clipping, parameter vectors, parametrizations, weight/spectral norm."""

from __future__ import annotations

import copy
import math
import pickle
import warnings

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import nn
from tocha.core.nn.utils import parametrizations as P
from tocha.core.nn.utils import parametrize


class Lin(nn.Module):
    def __init__(self, i, o, dtype=None):
        super().__init__()
        self.in_features, self.out_features = i, o
        self.weight = nn.Parameter(torch.randn(o, i, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(o, dtype=dtype))

    def forward(self, x):
        return x @ self.weight.T + self.bias

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias=True"


def arr(t):
    return t.detach().numpy().astype(np.float64)


def _params_with_grads(rng, shapes, dtype=np.float32):
    ps = []
    for s in shapes:
        p = nn.Parameter(torch.zeros(*s, dtype=torch.float64 if dtype == np.float64 else None))
        p.grad = torch.tensor(rng.standard_normal(s).astype(dtype))
        ps.append(p)
    return ps


# --- gradient clipping -------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, math.inf])
def test_clip_grad_norm_matches_numpy(norm_type):
    rng = np.random.default_rng(0)
    ps = _params_with_grads(rng, [(3, 4), (5,), (2, 2, 2)])
    grads = [arr(p.grad) for p in ps]
    flat = np.concatenate([g.ravel() for g in grads])
    ref = np.abs(flat).max() if norm_type == math.inf else np.linalg.norm(flat, ord=norm_type)
    no_grad = nn.Parameter(torch.ones(2))  # parameters without .grad are skipped
    total = nn.utils.clip_grad_norm_([*ps, no_grad], max_norm=0.5, norm_type=norm_type)
    assert total.dim() == 0 and float(total) == pytest.approx(ref, rel=1e-5)
    coef = min(1.0, 0.5 / (ref + 1e-6))
    for p, g in zip(ps, grads):
        np.testing.assert_allclose(arr(p.grad), g * coef, rtol=1e-5)
    assert no_grad.grad is None
    assert float(nn.utils.get_total_norm([p.grad for p in ps], norm_type)) == pytest.approx(
        0.5, rel=1e-4
    )


def test_clip_grad_norm_below_max_leaves_grads_and_accepts_tensor_and_generator():
    rng = np.random.default_rng(1)
    (p,) = _params_with_grads(rng, [(4,)], dtype=np.float64)
    g = arr(p.grad)
    total = nn.utils.clip_grad_norm_(p, max_norm=100.0)
    assert total.dtype == torch.float64 and float(total) == pytest.approx(np.linalg.norm(g))
    np.testing.assert_allclose(arr(p.grad), g)  # scaled by 100 / (norm + 1e-6) clamped to 1
    m = Lin(3, 2)
    m(torch.randn(5, 3)).sum().backward()
    grads = [arr(q.grad) for q in m.parameters()]
    total = nn.utils.clip_grad_norm_(m.parameters(), 1e-3)
    flat = np.concatenate([x.ravel() for x in grads])
    assert float(total) == pytest.approx(np.linalg.norm(flat), rel=1e-5)
    after = np.concatenate([arr(q.grad).ravel() for q in m.parameters()])
    assert np.linalg.norm(after) == pytest.approx(1e-3, rel=1e-3)


def test_clip_grad_norm_edge_cases():
    assert float(nn.utils.clip_grad_norm_([], 1.0)) == 0.0
    with pytest.warns(UserWarning, match="`parameters` is an empty generator"):
        nn.utils.clip_grad_norm_((p for p in []), 1.0)
    p = nn.Parameter(torch.ones(3))
    p.grad = torch.tensor([1.0, float("inf"), 2.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isinf(float(nn.utils.clip_grad_norm_([p], 1.0)))
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        nn.utils.clip_grad_norm([], 1.0)


def test_clip_grads_with_norm_and_clip_grad_value():
    p = nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([3.0, 4.0])
    nn.utils.clip_grads_with_norm_([p], 1.0, torch.tensor(5.0))
    np.testing.assert_allclose(arr(p.grad), [3 / (5 + 1e-6), 4 / (5 + 1e-6)], rtol=1e-6)
    rng = np.random.default_rng(2)
    ps = _params_with_grads(rng, [(10,), (3, 3)])
    before = [arr(q.grad) for q in ps]
    assert nn.utils.clip_grad_value_(ps, 0.5) is None
    for q, g in zip(ps, before):
        np.testing.assert_array_equal(arr(q.grad), np.clip(g, -0.5, 0.5).astype(np.float32))


# --- parameters <-> vector -----------------------------------------------------------------------
def test_parameters_to_vector_round_trip():
    m = nn.Sequential(Lin(3, 2), Lin(2, 4))
    vec = nn.utils.parameters_to_vector(m.parameters())
    ref = np.concatenate([arr(p).ravel() for p in m.parameters()])
    np.testing.assert_array_equal(arr(vec), ref)
    assert vec.numel() == sum(p.numel() for p in m.parameters())
    # differentiable: d(sum(vec * c))/dp = c reshaped
    c = torch.arange(vec.numel(), dtype=torch.float32)
    (vec * c).sum().backward()
    np.testing.assert_array_equal(arr(m[0].weight.grad).ravel(), np.arange(6))
    new = torch.arange(vec.numel(), dtype=torch.float32) * 0.5
    nn.utils.vector_to_parameters(new, m.parameters())
    np.testing.assert_array_equal(arr(nn.utils.parameters_to_vector(m.parameters())), arr(new))
    np.testing.assert_array_equal(arr(m[1].bias), arr(new)[-4:])
    assert isinstance(m[1].bias, nn.Parameter)
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        nn.utils.vector_to_parameters([1.0], m.parameters())


# --- parametrize ------------------------------------------------------------------------------------
class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).T

    def right_inverse(self, a):
        return a.triu()


class Double(nn.Module):
    def forward(self, x):
        return 2 * x

    def right_inverse(self, y):
        return y / 2


def test_register_parametrization_basics():
    torch.manual_seed(0)
    m = Lin(3, 3)
    w0 = m.weight
    parametrize.register_parametrization(m, "weight", Symmetric())
    assert type(m).__name__ == "ParametrizedLin" and isinstance(m, Lin)
    assert parametrize.type_before_parametrizations(m) is Lin
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "weight")
    assert not parametrize.is_parametrized(m, "bias")
    assert m.parametrizations.weight.original is w0  # the same Parameter object
    w = arr(m.weight)
    np.testing.assert_allclose(w, w.T)
    np.testing.assert_allclose(np.triu(w), np.triu(arr(w0)))
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert [n for n, _ in m.named_parameters()] == ["bias", "parametrizations.weight.original"]
    # gradients reach the original: d sum(W)/dX = 1 on the diagonal, 2 above it, 0 below
    m.weight.sum().backward()
    np.testing.assert_array_equal(
        arr(w0.grad), np.triu(np.ones((3, 3))) + np.triu(np.ones((3, 3)), 1)
    )
    # assigning sets the original through right_inverse
    target = torch.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [3.0, 5.0, 6.0]])
    m.weight = target
    np.testing.assert_allclose(arr(m.weight), arr(target))
    assert repr(m) == (
        "ParametrizedLin(\n"
        "  in_features=3, out_features=3, bias=True\n"
        "  (parametrizations): ModuleDict(\n"
        "    (weight): ParametrizationList(\n"
        "      (0): Symmetric()\n"
        "    )\n"
        "  )\n"
        ")"
    )


def test_chained_parametrizations_cache_and_remove():
    m = Lin(2, 2)
    orig = arr(m.weight)
    parametrize.register_parametrization(m, "weight", Symmetric())
    parametrize.register_parametrization(m, "weight", Double())
    expected = 2 * (np.triu(orig) + np.triu(orig, 1).T)
    np.testing.assert_allclose(arr(m.weight), expected, rtol=1e-6)
    assert m.weight is not m.weight
    with parametrize.cached():
        assert m.weight is m.weight
    assert m.weight is not m.weight
    p_obj = m.parametrizations.weight.original
    parametrize.remove_parametrizations(m, "weight")  # keeps the parametrized value
    assert type(m) is Lin and not hasattr(m, "parametrizations")
    assert m.weight is p_obj and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(arr(m.weight), expected, rtol=1e-6)
    assert list(m.state_dict()) == ["bias", "weight"]
    m2 = Lin(2, 2)
    orig2 = arr(m2.weight)
    parametrize.register_parametrization(m2, "weight", Double())
    parametrize.remove_parametrizations(m2, "weight", leave_parametrized=False)
    np.testing.assert_allclose(arr(m2.weight), orig2 / 2)  # right_inverse was stored
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(m2, "weight")


def test_parametrization_errors_copy_and_pickle():
    class Flatten(nn.Module):
        def forward(self, x):
            return x.reshape(-1)

    m = Lin(2, 2)
    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(m, "weight", Flatten())
    assert not parametrize.is_parametrized(m) and isinstance(m.weight, nn.Parameter)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized"):
        parametrize.register_parametrization(m, "nope", Double())
    parametrize.register_parametrization(m, "weight", Double())
    c = copy.deepcopy(m)
    assert type(c).__name__ == "ParametrizedLin"
    np.testing.assert_array_equal(arr(c.weight), arr(m.weight))
    assert c.parametrizations.weight.original is not m.parametrizations.weight.original
    with pytest.raises(RuntimeError, match="Serialization of parametrized modules is only"):
        pickle.dumps(m)
    # the class change is per instance
    assert type(Lin(1, 1)) is Lin


def test_parametrized_buffer():
    m = nn.Module()
    m.register_buffer("table", torch.ones(2, 2))
    parametrize.register_parametrization(m, "table", Double())
    assert list(m.state_dict()) == ["parametrizations.table.original"]
    # the original stores right_inverse(table), so the parametrized value is unchanged
    np.testing.assert_array_equal(arr(m.parametrizations.table.original), np.full((2, 2), 0.5))
    np.testing.assert_array_equal(arr(m.table), np.ones((2, 2)))
    assert [n for n, _ in m.named_buffers()] == ["parametrizations.table.original"]


# --- weight_norm -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, None, -2])
def test_weight_norm_parametrization(dim):
    torch.manual_seed(0)
    m = Lin(3, 4, dtype=torch.float64)
    w = arr(m.weight)
    P.weight_norm(m, dim=dim)
    g = m.parametrizations.weight.original0
    v = m.parametrizations.weight.original1
    if dim is None:
        norm = np.linalg.norm(w)
    else:
        axis = 1 if dim % 2 == 0 else 0
        norm = np.linalg.norm(w, axis=axis, keepdims=True)
    np.testing.assert_allclose(arr(g), norm)
    np.testing.assert_allclose(arr(v), w)
    np.testing.assert_allclose(arr(m.weight), w)  # g * v / ||v|| with g = ||v||
    assert list(m.state_dict()) == [
        "bias",
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    ]
    # weight == g * v / ||v|| for any g and v, and gradients reach both
    with torch.no_grad():
        g.mul_(0.5)
        v.add_(torch.ones_like(v))
    gv, vv = arr(g), arr(v)
    vnorm = np.linalg.norm(vv) if dim is None else np.linalg.norm(vv, axis=axis, keepdims=True)
    np.testing.assert_allclose(arr(m.weight), gv * vv / vnorm)
    assert torch.autograd.gradcheck(
        lambda gg, vv_: P._weight_norm(vv_, gg, -1 if dim is None else dim),
        (g.detach().clone().requires_grad_(), v.detach().clone().requires_grad_()),
    )
    m(torch.ones(2, 3, dtype=torch.float64)).sum().backward()
    assert g.grad is not None and v.grad is not None


def test_weight_norm_loads_legacy_state_dict():
    m_old = Lin(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nn.utils.weight_norm(m_old)
    with torch.no_grad():
        m_old.weight_g.mul_(3.0)
    m_old(torch.ones(1, 3))  # recompute weight from g and v
    sd = m_old.state_dict()
    assert list(sd) == ["bias", "weight_g", "weight_v"]
    m_new = P.weight_norm(Lin(3, 2))
    m_new.load_state_dict(sd)
    np.testing.assert_allclose(arr(m_new.weight), arr(m_old.weight), rtol=1e-6)


def test_legacy_weight_norm_hook_and_remove():
    m = Lin(3, 2)
    w = arr(m.weight)
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        nn.utils.weight_norm(m)
    assert type(m.weight) is torch.Tensor and "weight" not in m._parameters
    np.testing.assert_allclose(arr(m.weight_g), np.linalg.norm(w, axis=1, keepdims=True), rtol=1e-6)
    with torch.no_grad():
        m.weight_g.fill_(2.0)
    x = torch.ones(1, 3)
    y = m(x)  # the pre-hook recomputes weight = g v / ||v||
    expected_w = 2.0 * w / np.linalg.norm(w, axis=1, keepdims=True)
    np.testing.assert_allclose(arr(m.weight), expected_w, rtol=1e-6)
    y.sum().backward()
    assert m.weight_g.grad is not None and m.weight_v.grad is not None
    with (
        pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", FutureWarning)
        nn.utils.weight_norm(m)
    nn.utils.remove_weight_norm(m)
    assert isinstance(m.weight, nn.Parameter) and list(m.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(arr(m.weight), expected_w, rtol=1e-6)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in Lin"):
        nn.utils.remove_weight_norm(m)


# --- spectral_norm ---------------------------------------------------------------------------------
def _top_sv(w):
    return np.linalg.svd(w.reshape(w.shape[0], -1), compute_uv=False)[0]


def test_spectral_norm_parametrization():
    torch.manual_seed(0)
    m = Lin(6, 4, dtype=torch.float64)
    w = arr(m.weight)
    P.spectral_norm(m)
    assert list(m.state_dict()) == [
        "bias",
        "parametrizations.weight.original",
        "parametrizations.weight.0._u",
        "parametrizations.weight.0._v",
    ]
    for _ in range(10):
        m(torch.ones(1, 6, dtype=torch.float64))
    assert _top_sv(arr(m.weight)) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(arr(m.weight) * _top_sv(w), w, rtol=1e-5)
    u = arr(m.parametrizations.weight[0]._u)
    m.eval()  # no power iteration in eval mode
    m(torch.ones(1, 6, dtype=torch.float64))
    np.testing.assert_array_equal(arr(m.parametrizations.weight[0]._u), u)
    m.train()
    m(torch.ones(1, 6, dtype=torch.float64)).sum().backward()
    assert m.parametrizations.weight.original.grad is not None


def test_spectral_norm_gradient_with_fixed_vectors():
    # d sigma / dW = u v^T when u, v are the singular vectors: check one entry by finite differences
    torch.manual_seed(3)
    m = Lin(3, 3, dtype=torch.float64)
    P.spectral_norm(m, n_power_iterations=5)
    m.eval()  # u and v fixed
    wo = m.parametrizations.weight.original
    (m.weight * torch.ones(3, 3, dtype=torch.float64)).sum().backward()
    g = arr(wo.grad)
    sn = m.parametrizations.weight[0]
    u, v = sn._u.detach(), sn._v.detach()

    def loss(wmat):
        sigma = float(u.dot(wmat.mv(v)))
        return float(wmat.sum()) / sigma

    eps = 1e-6
    base = wo.detach().clone()
    for i, j in ((0, 0), (1, 2)):
        plus, minus = base.clone(), base.clone()
        plus[i, j] += eps
        minus[i, j] -= eps
        assert g[i, j] == pytest.approx((loss(plus) - loss(minus)) / (2 * eps), rel=1e-5)


def test_spectral_norm_conv_weight_and_dim():
    torch.manual_seed(1)
    m = nn.Module()
    m.weight = nn.Parameter(torch.randn(4, 3, 2, 2, dtype=torch.float64))
    P.spectral_norm(m, dim=1)
    w = arr(m.weight)
    mat = np.moveaxis(w, 1, 0).reshape(3, -1)
    assert np.linalg.svd(mat, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-3)


def test_legacy_spectral_norm():
    torch.manual_seed(2)
    m = Lin(5, 4)
    nn.utils.spectral_norm(m)
    sd = m.state_dict()
    assert list(sd) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert sd._metadata[""]["spectral_norm"] == {"weight.version": 1}
    for _ in range(50):
        m(torch.ones(1, 5))
    assert _top_sv(arr(m.weight)) == pytest.approx(1.0, abs=1e-4)
    m(torch.ones(1, 5)).sum().backward()
    assert m.weight_orig.grad is not None
    nn.utils.remove_spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"]
    assert _top_sv(arr(m.weight)) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(m)


# --- orthogonal --------------------------------------------------------------------------------------
@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_orthogonal(orthogonal_map, shape):
    torch.manual_seed(0)
    m = nn.Module()
    m.weight = nn.Parameter(torch.randn(*shape, dtype=torch.float64))
    P.orthogonal(m, orthogonal_map=orthogonal_map)
    q = arr(m.weight)
    gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-10)
    # still orthogonal after a gradient step on the unconstrained original
    m.weight.sum().backward()
    orig = m.parametrizations.weight.original
    with torch.no_grad():
        orig.sub_(0.1 * orig.grad)
    q2 = arr(m.weight)
    gram = q2.T @ q2 if shape[0] >= shape[1] else q2 @ q2.T
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-10)
    assert not np.allclose(q, q2)
    # assigning an orthogonal matrix reproduces it
    target = np.linalg.qr(np.random.default_rng(1).standard_normal((max(shape), min(shape))))[0]
    if shape[0] < shape[1]:
        target = target.T
    m.weight = torch.tensor(target)
    np.testing.assert_allclose(arr(m.weight), target, atol=1e-10)


def test_skip_init():
    class Affine(nn.Module):
        def __init__(self, n, device=None):
            super().__init__()
            self.w = nn.Parameter(torch.ones(n, device=device))

    m = nn.utils.skip_init(Affine, 3)
    assert isinstance(m.w, nn.Parameter) and tuple(m.w.shape) == (3,)
    with pytest.raises(RuntimeError, match="Module must support a 'device' arg"):
        nn.utils.skip_init(Lin, 2, 2)


# --- fusion and functional_call ------------------------------------------------------------------
class EvalNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.num_features, self.eps = n, 1e-5
        self.weight = nn.Parameter(torch.tensor(np.linspace(0.5, 2.0, n).astype(np.float32)))
        self.bias = nn.Parameter(torch.tensor(np.linspace(-1.0, 1.0, n).astype(np.float32)))
        self.register_buffer("running_mean", torch.tensor(np.arange(n, dtype=np.float32)))
        self.register_buffer("running_var", torch.tensor(np.arange(1, n + 1, dtype=np.float32)))


def test_fuse_linear_bn_eval_matches_linear_then_bn():
    torch.manual_seed(0)
    lin, bn = Lin(3, 4).eval(), EvalNorm(4).eval()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    y = x @ arr(lin.weight).T + arr(lin.bias)
    ref = (y - arr(bn.running_mean)) / np.sqrt(arr(bn.running_var) + bn.eps) * arr(bn.weight)
    ref += arr(bn.bias)
    fused = nn.utils.fuse_linear_bn_eval(lin, bn)
    assert fused is not lin and isinstance(fused.weight, nn.Parameter)
    np.testing.assert_allclose(arr(fused(torch.tensor(x))), ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        nn.utils.fuse_linear_bn_eval(lin.train(), bn)


def test_fuse_conv_bn_weights_per_output_channel():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    bn = EvalNorm(4)
    fw, fb = nn.utils.fuse_conv_bn_weights(
        torch.tensor(w), None, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
    )
    scale = arr(bn.weight) / np.sqrt(arr(bn.running_var) + bn.eps)
    np.testing.assert_allclose(arr(fw), w * scale[:, None, None, None], rtol=1e-6)
    np.testing.assert_allclose(arr(fb), -arr(bn.running_mean) * scale + arr(bn.bias), rtol=1e-6)
    fw_t, _ = nn.utils.fuse_conv_bn_weights(
        torch.tensor(w.transpose(1, 0, 2, 3).copy()),
        None,
        bn.running_mean,
        bn.running_var,
        bn.eps,
        bn.weight,
        bn.bias,
        transpose=True,
    )
    np.testing.assert_allclose(
        arr(fw_t), (w * scale[:, None, None, None]).transpose(1, 0, 2, 3), rtol=1e-6
    )


def test_functional_call():
    from tocha.core.nn.utils.stateless import _functional_call

    m = Lin(2, 1)
    w_before = arr(m.weight)
    w = torch.tensor([[1.0, 2.0]], requires_grad=True)
    out = _functional_call(m, {"weight": w}, (torch.tensor([[3.0, 4.0]]),))
    np.testing.assert_allclose(arr(out), [[11.0 + float(m.bias)]])
    out.sum().backward()
    np.testing.assert_array_equal(arr(w.grad), [[3.0, 4.0]])
    assert m.weight.grad is None and isinstance(m.weight, nn.Parameter)
    np.testing.assert_array_equal(arr(m.weight), w_before)
    # tied weights: a value for one name is used for every name of the same parameter
    a, b = Lin(2, 2), Lin(2, 2)
    b.weight = a.weight
    seq = nn.Sequential(a, b)
    z = torch.zeros(2, 2)
    out = _functional_call(seq, {"0.weight": z}, torch.ones(1, 2))
    np.testing.assert_allclose(arr(out), arr(b.bias)[None], atol=1e-7)
    with pytest.raises(RuntimeError, match="Missing key\\(s\\): '0.bias'"):
        _functional_call(seq, {"0.weight": z}, torch.ones(1, 2), strict=True)
    with pytest.warns(FutureWarning, match="torch.func.functional_call"):
        nn.utils.stateless.functional_call(m, {}, torch.ones(1, 2))
