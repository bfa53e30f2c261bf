"""Linear, Bilinear, Identity, LazyLinear, Flatten/Unflatten: values against NumPy, torch's
default initialisations, gradients (first and second order), shapes, dtypes and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn
from tocha.core.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def t(a, rg=False):
    return torch.tensor(a, requires_grad=rg)


@pytest.mark.parametrize("shape", [(4,), (5, 4), (2, 3, 4)])
def test_linear_values_and_gradients(shape):
    x, w, b = RNG.standard_normal(shape), RNG.standard_normal((3, 4)), RNG.standard_normal(3)
    y = F.linear(t(x), t(w), t(b))
    np.testing.assert_allclose(y.numpy(), x @ w.T + b, atol=1e-12)
    np.testing.assert_allclose(F.linear(t(x), t(w)).numpy(), x @ w.T, atol=1e-12)
    xt, wt, bt = t(x, True), t(w, True), t(b, True)
    g = RNG.standard_normal(y.shape)
    F.linear(xt, wt, bt).backward(t(g))
    np.testing.assert_allclose(xt.grad.numpy(), g @ w, atol=1e-12)
    g2, x2 = g.reshape(-1, 3), x.reshape(-1, 4)
    np.testing.assert_allclose(wt.grad.numpy(), g2.T @ x2, atol=1e-12)
    np.testing.assert_allclose(bt.grad.numpy(), g2.sum(0), atol=1e-12)
    args = (t(x, True), t(w, True), t(b, True))
    assert gradcheck(F.linear, args) and gradgradcheck(F.linear, args)
    assert gradcheck(F.linear, args[:2]) and gradgradcheck(F.linear, args[:2])


def test_linear_only_needed_grads_noncontiguous_and_float32():
    x = t(RNG.standard_normal((4, 5)).T.copy().T)  # non-contiguous view semantics via copy
    w = t(RNG.standard_normal((3, 5)), True)
    y = F.linear(x.t().t(), w)
    y.sum().backward()
    assert x.grad is None and w.grad is not None
    xf = torch.tensor(RNG.standard_normal((8, 5)), dtype=torch.float32)
    wf = torch.tensor(RNG.standard_normal((3, 5)), dtype=torch.float32)
    y = F.linear(xf, wf)
    assert y.dtype == torch.float32
    np.testing.assert_allclose(y.numpy(), xf.numpy() @ wf.numpy().T, rtol=1e-5, atol=1e-5)
    xh = xf.to(torch.bfloat16)
    assert F.linear(xh, wf.to(torch.bfloat16)).dtype == torch.bfloat16
    xt = t(RNG.standard_normal((5, 4)), True)  # a transposed view as input
    wt = t(RNG.standard_normal((3, 5)))
    assert gradcheck(lambda a: F.linear(a.t(), wt), (xt,))


def test_linear_errors():
    with pytest.raises(
        RuntimeError, match="mat1 and mat2 shapes cannot be multiplied \\(3x4 and 3x5\\)"
    ):
        F.linear(torch.zeros(3, 4), torch.zeros(5, 3))
    with pytest.raises(RuntimeError, match="mat1 and mat2 must have the same dtype"):
        F.linear(torch.zeros(3, 4), torch.zeros(5, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="linear\\(\\): argument 'input'"):
        F.linear([1.0], torch.zeros(2, 1))


def test_linear_module_default_init_and_repr():
    torch.manual_seed(0)
    m = nn.Linear(64, 300)
    assert repr(m) == "Linear(in_features=64, out_features=300, bias=True)"
    assert list(m.state_dict()) == ["weight", "bias"]
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    bound = 1 / math.sqrt(64)  # kaiming_uniform_(a=sqrt(5)) and the bias rule both give this
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # U(-b, b) has std b / sqrt(3)
    assert abs(w.mean()) < 0.02 * bound
    m2 = nn.Linear(4, 2, bias=False, dtype=torch.float64)
    assert m2.bias is None and m2.weight.dtype == torch.float64
    assert repr(m2) == "Linear(in_features=4, out_features=2, bias=False)"
    y = m(torch.randn(7, 64))
    assert tuple(y.shape) == (7, 300) and y.grad_fn.name() == "AddmmBackward0"
    torch.manual_seed(1)
    a = nn.Linear(3, 3).weight.detach().numpy().copy()
    torch.manual_seed(1)
    np.testing.assert_array_equal(nn.Linear(3, 3).weight.detach().numpy(), a)


def test_bilinear():
    x1, x2 = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 2))
    w, b = RNG.standard_normal((4, 3, 2)), RNG.standard_normal(4)
    y = F.bilinear(t(x1), t(x2), t(w), t(b)).numpy()
    np.testing.assert_allclose(y, np.einsum("ni,kij,nj->nk", x1, w, x2) + b, atol=1e-12)
    args = (t(x1, True), t(x2, True), t(w, True), t(b, True))
    assert gradcheck(F.bilinear, args) and gradgradcheck(F.bilinear, args)
    y3 = F.bilinear(t(x1.reshape(5, 1, 3)), t(x2.reshape(5, 1, 2)), t(w))
    assert tuple(y3.shape) == (5, 1, 4)
    m = nn.Bilinear(3, 2, 4)
    assert repr(m) == "Bilinear(in1_features=3, in2_features=2, out_features=4, bias=True)"
    assert np.abs(m.weight.detach().numpy()).max() <= 1 / math.sqrt(3)
    assert tuple(m(t(x1).float(), t(x2).float()).shape) == (5, 4)
    with pytest.raises(RuntimeError, match="input2 size does not match weight size"):
        F.bilinear(t(x1), t(x1), t(w))


def test_identity_lazy_flatten_unflatten():
    x = torch.randn(2, 3, 4)
    assert nn.Identity(3, foo=1)(x) is x
    m = nn.LazyLinear(5)
    assert repr(m) == "LazyLinear(in_features=0, out_features=5, bias=True)"
    y = m(x)
    assert tuple(y.shape) == (2, 3, 5) and type(m) is nn.Linear and m.in_features == 4
    assert np.abs(m.weight.detach().numpy()).max() <= 0.5
    f = nn.Flatten()
    assert repr(f) == "Flatten(start_dim=1, end_dim=-1)"
    assert tuple(f(x).shape) == (2, 12)
    assert tuple(nn.Flatten(0, 1)(x).shape) == (6, 4)
    u = nn.Unflatten(1, (3, 2))
    assert repr(u) == "Unflatten(dim=1, unflattened_size=(3, 2))"
    assert tuple(u(torch.randn(4, 6)).shape) == (4, 3, 2)
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints"):
        nn.Unflatten(1, (2, 2.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layout", ["contiguous", "strided_x", "transposed_w", "batched"])
def test_linear_with_bias_in_the_gemm_matches_numpy(dtype, layout):
    """Inputs large enough for the bias-first GEMM path, against float64 NumPy maths, with
    operands that are views (the path must fall back or handle them)."""
    rng = np.random.default_rng(7)
    npdt = np.float32 if dtype == torch.float32 else np.float64
    x = rng.standard_normal((96, 130)).astype(npdt)
    w = rng.standard_normal((70, 130)).astype(npdt)
    b = rng.standard_normal(70).astype(npdt)
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    if layout == "strided_x":
        tx = torch.from_numpy(np.ascontiguousarray(np.repeat(x, 2, axis=1)))[:, ::2]
    elif layout == "transposed_w":
        tw = torch.from_numpy(np.ascontiguousarray(w.T)).t()
    elif layout == "batched":
        tx = tx.reshape(2, 48, 130)
    y = F.linear(tx, tw, torch.from_numpy(b))
    want = (x.astype(np.float64) @ w.astype(np.float64).T + b).reshape(y.shape)
    tol = 1e-4 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(y.numpy(), want, rtol=tol, atol=tol)
    assert y.dtype == dtype
