"""The autograd engine: backward, grad, hooks, modes, custom Functions, higher order, errors."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.core.testing import assert_close


def _t(values, requires_grad=True, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype, requires_grad=requires_grad)


# --- basic backward ---------------------------------------------------------------------------
def test_backward_accumulates_into_leaf_grad():
    x = _t([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    assert_close(x.grad, _t([2.0, 4.0, 6.0], False))
    (x * 3.0).sum().backward()
    assert_close(x.grad, _t([5.0, 7.0, 9.0], False))


def test_broadcast_gradient_is_reduced_to_input_shape():
    a = _t(np.arange(6.0).reshape(2, 3))
    b = _t([[1.0], [2.0]])
    c = _t(2.0)
    (a * b + c).sum().backward()
    assert b.grad.shape == (2, 1)
    assert_close(b.grad, _t([[3.0], [12.0]], False))
    assert_close(c.grad, _t(6.0, False))
    assert_close(a.grad, _t([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]], False))


def test_same_tensor_used_twice_sums_gradients():
    x = _t([3.0])
    y = x * x + x
    y.backward(torch.ones_like(y))
    assert_close(x.grad, _t([7.0], False))


def test_nonscalar_backward_needs_gradient():
    x = _t([1.0, 2.0])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (x * 2).backward()
    (x * 2).backward(torch.tensor([1.0, 10.0], dtype=torch.float64))
    assert_close(x.grad, _t([2.0, 20.0], False))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch.tensor([1.0]).sum().backward()


def test_freed_graph_second_backward_raises_and_retain_graph_allows_it():
    x = _t([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_close(x.grad, _t([4.0, 8.0], False))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_deep_graph_has_no_recursion_limit():
    x = _t([1.0])
    y = x
    for _ in range(20000):
        y = y + 1.0
    y.sum().backward()
    assert_close(x.grad, _t([1.0], False))


def test_grad_is_not_aliased_between_leaves():
    a, b = _t([1.0]), _t([2.0])
    (a + b).sum().backward()
    a.grad.add_(5.0)
    assert_close(b.grad, _t([1.0], False))


# --- autograd.grad and higher order ------------------------------------------------------------
def test_grad_does_not_accumulate_and_allow_unused():
    x, z = _t([2.0]), _t([5.0])
    (g,) = torch.autograd.grad((x**3).sum(), x)
    assert_close(g, _t([12.0], False))
    assert x.grad is None
    with pytest.raises(RuntimeError, match="not have been used in the graph"):
        torch.autograd.grad((x * 2).sum(), [x, z])
    gx, gz = torch.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None
    assert_close(gx, _t([2.0], False))


def test_grad_with_respect_to_intermediate():
    x = _t([1.0, 2.0])
    h = x * 3.0
    y = (h * h).sum()
    (gh,) = torch.autograd.grad(y, h)
    assert_close(gh, _t([6.0, 12.0], False))


def test_third_derivative_of_x4():
    x = _t(1.5)
    y = x**4
    (g1,) = torch.autograd.grad(y, x, create_graph=True)
    (g2,) = torch.autograd.grad(g1, x, create_graph=True)
    (g3,) = torch.autograd.grad(g2, x)
    assert_close(g1, _t(4 * 1.5**3, False).detach())
    assert_close(g2.detach(), _t(12 * 1.5**2, False))
    assert_close(g3, _t(24 * 1.5, False))


def _fd_grad(f, x: np.ndarray, eps=1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in range(x.size):
        d = np.zeros_like(x)
        d.flat[i] = eps
        g.flat[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


def test_gradient_penalty_matches_finite_differences():
    """d/dw || d/dx f(x, w) ||^2 for f = sum(tanh-free polynomial) checked numerically."""
    rng = np.random.default_rng(0)
    x0, w0 = rng.normal(size=4), rng.normal(size=4)

    def penalty_np(w):
        # f = sum((x*w)^3 + x^2 w) ; df/dx = 3 x^2 w^3 + 2 x w
        gx = 3 * x0**2 * w**3 + 2 * x0 * w
        return np.sum(gx**2)

    x = _t(x0)
    w = _t(w0)
    f = ((x * w) ** 3 + x * x * w).sum()
    (gx,) = torch.autograd.grad(f, x, create_graph=True)
    penalty = (gx * gx).sum()
    penalty.backward()
    assert_close(penalty.detach(), _t(penalty_np(w0), False))
    assert_close(w.grad, _t(_fd_grad(penalty_np, w0), False), rtol=1e-6, atol=1e-6)


def test_hessian_vector_product_matches_finite_differences():
    rng = np.random.default_rng(1)
    x0, v0 = rng.normal(size=5), rng.normal(size=5)
    a = rng.normal(size=5)

    def grad_np(x):  # f = sum(a * x^3) + (sum x)^2 ; grad = 3 a x^2 + 2 sum(x)
        return 3 * a * x**2 + 2 * np.sum(x)

    x = _t(x0)
    f = (torch.tensor(a) * x**3).sum() + x.sum() ** 2
    (g,) = torch.autograd.grad(f, x, create_graph=True)
    (hv,) = torch.autograd.grad(g, x, grad_outputs=torch.tensor(v0))
    eps = 1e-6
    expected = (grad_np(x0 + eps * v0) - grad_np(x0 - eps * v0)) / (2 * eps)
    assert_close(hv, torch.tensor(expected), rtol=1e-6, atol=1e-6)
    _, hv2 = torch.autograd.functional.hvp(
        lambda t: (torch.tensor(a) * t**3).sum() + t.sum() ** 2,
        torch.tensor(x0),
        torch.tensor(v0),
    )
    assert_close(hv2, torch.tensor(expected), rtol=1e-6, atol=1e-6)


# --- functional API ----------------------------------------------------------------------------
def test_jacobian_and_hessian():
    x0 = np.array([1.0, 2.0, 3.0])
    jac = torch.autograd.functional.jacobian(lambda t: t**2 * t.sum(), torch.tensor(x0))
    s = x0.sum()
    expected = np.diag(2 * x0 * s) + (x0**2)[:, None]
    assert_close(jac, torch.tensor(expected))
    hes = torch.autograd.functional.hessian(
        lambda t: (t**3).sum() + (t[0] * t[1]), torch.tensor(x0)
    )
    exp_h = np.diag(6 * x0)
    exp_h[0, 1] = exp_h[1, 0] = 1.0
    assert_close(hes, torch.tensor(exp_h))


def test_jacobian_tuple_inputs_and_vjp_jvp():
    a0, b0 = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])
    fn = lambda a, b: a[:, None] * b[None, :]  # noqa: E731
    ja, jb = torch.autograd.functional.jacobian(fn, (torch.tensor(a0), torch.tensor(b0)))
    assert ja.shape == (2, 3, 2) and jb.shape == (2, 3, 3)
    exp_a = np.zeros((2, 3, 2))
    exp_b = np.zeros((2, 3, 3))
    for i in range(2):
        for j in range(3):
            exp_a[i, j, i] = b0[j]
            exp_b[i, j, j] = a0[i]
    assert_close(ja, torch.tensor(exp_a))
    assert_close(jb, torch.tensor(exp_b))
    v = np.arange(6.0).reshape(2, 3)
    _, (va, vb) = torch.autograd.functional.vjp(
        fn, (torch.tensor(a0), torch.tensor(b0)), torch.tensor(v)
    )
    assert_close(va, torch.tensor(np.einsum("ij,ijk->k", v, exp_a)))
    assert_close(vb, torch.tensor(np.einsum("ij,ijk->k", v, exp_b)))
    _, jv = torch.autograd.functional.jvp(
        lambda a: a * a, torch.tensor(a0), torch.tensor([1.0, -1.0])
    )
    assert_close(jv, torch.tensor([2.0, -4.0], dtype=torch.float64))  # the input's dtype


# --- modes ------------------------------------------------------------------------------------
def test_grad_modes():
    x = _t([1.0])
    with torch.no_grad():
        assert not (x * 2).requires_grad
        with torch.enable_grad():
            assert (x * 2).requires_grad
    assert (x * 2).requires_grad
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    torch.set_grad_enabled(False)
    assert not torch.is_grad_enabled()
    torch.set_grad_enabled(True)
    with torch.inference_mode():
        assert not (x * 2).requires_grad
        assert torch.is_inference_mode_enabled()

    @torch.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        torch.tensor([1, 2]).requires_grad_()
    y = _t([1.0]) * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert y.grad_fn is not None and not y.is_leaf


# --- hooks ------------------------------------------------------------------------------------
def test_tensor_hooks_on_leaf_and_intermediate_and_retain_grad():
    x = _t([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: g * 10)
    h = x * 3.0
    h.retain_grad()
    handle = h.register_hook(lambda g: seen.append(g.clone()))
    (h * h).sum().backward()
    assert_close(seen[0], _t([6.0, 12.0], False))
    assert_close(h.grad, _t([6.0, 12.0], False))
    assert_close(x.grad, _t([180.0, 360.0], False))
    handle.remove()


def test_next_functions_and_names():
    x = _t([1.0])
    y = x * 2.0 + x
    assert y.grad_fn.name() == "AddBackward0"
    names = {fn.name() for fn, _ in y.grad_fn.next_functions if fn is not None}
    assert "torch::autograd::AccumulateGrad" in names


# --- in-place and version counters ------------------------------------------------------------
def test_inplace_modification_of_saved_tensor_raises():
    a = _t([1.0, 2.0])
    b = a * 1.0
    c = b * b
    b.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_inplace_on_leaf_requiring_grad_raises_and_under_no_grad_is_fine():
    w = _t([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.mul_(2.0)
    with torch.no_grad():
        w.mul_(2.0)
    assert_close(w.detach(), _t([2.0, 4.0], False))
    assert w._version == 1


def test_inplace_rebases_history():
    x = _t([1.0, 2.0])
    y = x * 2.0
    y.mul_(x)  # y = 2 x^2
    y.sum().backward()
    assert_close(x.grad, _t([4.0, 8.0], False))


# --- custom Function --------------------------------------------------------------------------
class _Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x**3 * scale

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False)
        return grad * 3 * x**2 * ctx.scale, None


def test_custom_function_with_double_backward():
    x = _t([1.0, 2.0])
    y = _Cube.apply(x, 2.0)
    assert y.grad_fn is not None
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    assert_close(g.detach(), _t([6.0, 24.0], False))
    (gg,) = torch.autograd.grad(g.sum(), x)
    assert_close(gg, _t([12.0, 24.0], False))


class _SplitSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        mask = x > 0
        ctx.mark_non_differentiable(mask)
        return x * 2, mask

    @staticmethod
    def backward(ctx, grad, grad_mask):
        return grad * 2


def test_custom_function_non_differentiable_output():
    x = _t([-1.0, 1.0])
    y, mask = _SplitSign.apply(x)
    assert not mask.requires_grad
    y.sum().backward()
    assert_close(x.grad, _t([2.0, 2.0], False))


def test_gradcheck_detects_a_wrong_backward():
    class Wrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x  # should be 2 x

    x = _t([1.0, 2.0])
    assert torch.autograd.gradcheck(lambda t: t * t, (x,))
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        torch.autograd.gradcheck(Wrong.apply, (x,))
    assert torch.autograd.gradcheck(Wrong.apply, (x,), raise_exception=False) is False


# --- anomaly detection ------------------------------------------------------------------------
def test_detect_anomaly_names_the_op():
    class NanGrad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, grad):
            return grad * float("nan")

    x = _t([1.0])
    with (
        torch.autograd.detect_anomaly(),
        pytest.raises(RuntimeError, match="Function 'NanGradBackward' returned nan values"),
    ):
        NanGrad.apply(x).sum().backward()
    NanGrad.apply(x).sum().backward()  # outside anomaly mode: no error, nan gradient
    assert np.isnan(x.grad.item())


def test_node_that_receives_no_gradient_still_releases_its_inputs():
    """A backward returning None for an input that is also reachable another way: the engine
    must not wait forever for the silent edge (torch gives [1., 1.])."""

    class FirstOnly(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g, None

    a = _t([1.0, 1.0])
    FirstOnly.apply(a, a * 2).sum().backward()
    assert_close(a.grad, _t([1.0, 1.0], False))
