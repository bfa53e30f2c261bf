"""nn.init: gains, fans, and the distributions of every initialiser (seeded, large tensors)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

import tocha.core as torch
from tocha.core import nn
from tocha.core.nn import init
from tocha.core.nn.init import _calculate_correct_fan, _calculate_fan_in_and_fan_out


def arr(t):
    return t.detach().numpy().astype(np.float64)


def test_calculate_gain():
    for name in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose2d", "sigmoid"):
        assert init.calculate_gain(name) == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("leaky_relu", 1) == pytest.approx(1.0)
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")


def test_fans():
    assert _calculate_fan_in_and_fan_out(torch.empty(5, 3)) == (3, 5)
    assert _calculate_fan_in_and_fan_out(torch.empty(8, 4, 3, 3)) == (36, 72)
    assert _calculate_fan_in_and_fan_out(torch.empty(8, 4, 3)) == (12, 24)
    assert _calculate_correct_fan(torch.empty(8, 4, 3), "FAN_OUT") == 24
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        _calculate_fan_in_and_fan_out(torch.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(torch.empty(2, 2), mode="fan_avg")


def test_in_place_no_grad_on_parameters():
    p = nn.Parameter(torch.zeros(4, 6))
    v = p._version
    for fn in (
        init.uniform_,
        init.normal_,
        init.xavier_uniform_,
        init.xavier_normal_,
        init.kaiming_uniform_,
        init.kaiming_normal_,
        init.trunc_normal_,
        init.orthogonal_,
        init.eye_,
        init.ones_,
        init.zeros_,
        lambda t: init.constant_(t, 0.3),
        lambda t: init.sparse_(t, 0.5),
    ):
        out = fn(p)
        assert out is p and p.is_leaf and p.grad_fn is None and p.requires_grad
        assert p._version > v
        v = p._version


def test_uniform_normal_constant():
    t = init.uniform_(torch.empty(200, 200), -2.0, 3.0)
    a = arr(t)
    assert a.min() >= -2.0 and a.max() < 3.0
    assert a.mean() == pytest.approx(0.5, abs=0.03)
    assert a.std() == pytest.approx(5 / math.sqrt(12), rel=0.01)
    n = arr(init.normal_(torch.empty(200, 200), mean=1.0, std=0.5))
    assert n.mean() == pytest.approx(1.0, abs=0.01) and n.std() == pytest.approx(0.5, rel=0.01)
    np.testing.assert_array_equal(
        arr(init.constant_(torch.empty(2, 2), 0.25)), np.full((2, 2), 0.25)
    )
    np.testing.assert_array_equal(arr(init.ones_(torch.empty(3))), np.ones(3))
    np.testing.assert_array_equal(arr(init.zeros_(torch.ones(3))), np.zeros(3))


def test_generator_makes_draws_reproducible():
    g1 = torch.Generator().manual_seed(123)
    g2 = torch.Generator().manual_seed(123)
    a = init.kaiming_uniform_(torch.empty(5, 5), generator=g1)
    b = init.kaiming_uniform_(torch.empty(5, 5), generator=g2)
    assert torch.equal(a, b)
    torch.manual_seed(0)
    c = init.normal_(torch.empty(10))
    torch.manual_seed(0)
    d = init.normal_(torch.empty(10))
    assert torch.equal(c, d)


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
def test_xavier_bounds_and_std(shape):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(torch.empty(*shape))
    gain = 1.5
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    a = arr(init.xavier_uniform_(torch.empty(*shape), gain=gain))
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.99 * bound
    assert a.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    n = arr(init.xavier_normal_(torch.empty(*shape), gain=gain))
    assert n.std() == pytest.approx(gain * math.sqrt(2.0 / (fan_in + fan_out)), rel=0.02)
    assert abs(n.mean()) < 0.01 * n.std() * 10


@pytest.mark.parametrize(
    "kw, gain",
    [
        (
            {"a": math.sqrt(5)},
            math.sqrt(2 / 6),
        ),  # torch's Linear/Conv default: bound 1/sqrt(fan_in)
        ({"nonlinearity": "relu"}, math.sqrt(2)),
        ({"a": 0.1, "nonlinearity": "leaky_relu"}, math.sqrt(2 / 1.01)),
        ({"nonlinearity": "tanh", "mode": "fan_out"}, 5 / 3),
    ],
)
def test_kaiming_bounds_and_std(kw, gain):
    shape = (128, 64, 3, 3)
    mode = kw.get("mode", "fan_in")
    fan = _calculate_correct_fan(torch.empty(*shape), mode)
    bound = gain * math.sqrt(3.0 / fan)
    a = arr(init.kaiming_uniform_(torch.empty(*shape), **kw))
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.99 * bound
    assert a.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    n = arr(init.kaiming_normal_(torch.empty(*shape), **kw))
    assert n.std() == pytest.approx(gain / math.sqrt(fan), rel=0.02)


def test_linear_default_bound_is_one_over_sqrt_fan_in():
    a = arr(init.kaiming_uniform_(torch.empty(50, 400), a=math.sqrt(5)))
    assert np.abs(a).max() <= 1 / math.sqrt(400) and np.abs(a).max() > 0.99 / math.sqrt(400)


def test_kaiming_zero_element_warns_and_does_nothing():
    t = torch.empty(0, 3)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert init.kaiming_uniform_(t) is t


def test_trunc_normal_matches_scipy_truncnorm():
    mean, std, a, b = 0.5, 2.0, -1.0, 3.0
    x = arr(init.trunc_normal_(torch.empty(400, 250), mean=mean, std=std, a=a, b=b))
    assert x.min() >= a and x.max() <= b
    ref = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    assert x.mean() == pytest.approx(ref.mean(), abs=0.01)
    assert x.std() == pytest.approx(ref.std(), rel=0.01)
    # the whole distribution, not only its moments
    assert stats.kstest(x.ravel()[:20000], ref.cdf).pvalue > 1e-3
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(torch.empty(10), mean=10.0, std=1.0, a=-1.0, b=1.0)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (8, 2, 3, 3)])
def test_orthogonal(shape):
    t = init.orthogonal_(torch.empty(*shape, dtype=torch.float64), gain=2.0)
    q = arr(t).reshape(shape[0], -1) / 2.0
    rows, cols = q.shape
    gram = q.T @ q if rows >= cols else q @ q.T
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-12)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        init.orthogonal_(torch.empty(3))


def test_eye_and_dirac_exact():
    np.testing.assert_array_equal(arr(init.eye_(torch.empty(2, 3))), np.eye(2, 3))
    np.testing.assert_array_equal(arr(init.eye_(torch.empty(3, 2))), np.eye(3, 2))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(torch.empty(2, 2, 2))
    w = arr(init.dirac_(torch.empty(3, 2, 3, 3)))
    ref = np.zeros((3, 2, 3, 3))
    ref[0, 0, 1, 1] = ref[1, 1, 1, 1] = 1
    np.testing.assert_array_equal(w, ref)
    # groups: each group of output channels is an identity on its own inputs
    g = arr(init.dirac_(torch.empty(4, 2, 5), groups=2))
    ref = np.zeros((4, 2, 5))
    ref[0, 0, 2] = ref[1, 1, 2] = ref[2, 0, 2] = ref[3, 1, 2] = 1
    np.testing.assert_array_equal(g, ref)
    w3 = arr(init.dirac_(torch.empty(2, 2, 2, 2, 2)))
    assert w3.sum() == 2 and w3[0, 0, 1, 1, 1] == 1 and w3[1, 1, 1, 1, 1] == 1
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions"):
        init.dirac_(torch.empty(2, 2))
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        init.dirac_(torch.empty(3, 2, 3), groups=2)


def test_dirac_convolution_is_identity():
    # the convolution (cross-correlation, 'same' padding) of x with a Dirac kernel returns x
    w = arr(init.dirac_(torch.empty(3, 3, 3)))
    x = np.random.default_rng(0).standard_normal((3, 10))
    xp = np.pad(x, ((0, 0), (1, 1)))
    y = np.stack(
        [sum(np.correlate(xp[c], w[o, c], mode="valid") for c in range(3)) for o in range(3)]
    )
    np.testing.assert_allclose(y, x)


def test_sparse():
    w = arr(init.sparse_(torch.empty(20, 50), sparsity=0.25, std=0.5))
    assert ((w == 0).sum(axis=0) == 5).all()
    assert w[w != 0].std() == pytest.approx(0.5, rel=0.05)
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.sparse_(torch.empty(2, 2, 2), 0.1)


def test_deprecated_aliases_warn():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        t = init.xavier_uniform(torch.empty(3, 3))
    assert t.shape == (3, 3)
    assert any(
        issubclass(x.category, FutureWarning) and "xavier_uniform_" in str(x.message) for x in w
    )
