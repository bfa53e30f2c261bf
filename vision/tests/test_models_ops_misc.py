"""tocha.vision.ops.misc (owned by the models helper): the zoo's building blocks."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import nn
from tocha.vision.ops import (
    Conv2dNormActivation,
    SqueezeExcitation,
    StochasticDepth,
    stochastic_depth,
)


def test_conv_norm_activation_layout_and_defaults():
    block = Conv2dNormActivation(4, 8, kernel_size=5, stride=2, dilation=1)
    assert isinstance(block[0], nn.Conv2d) and block[0].padding == (2, 2)
    assert block[0].bias is None  # the norm layer supplies the shift
    assert isinstance(block[1], nn.BatchNorm2d) and isinstance(block[2], nn.ReLU)
    assert block.out_channels == 8
    assert block(torch.zeros(1, 4, 9, 9)).shape == (1, 8, 5, 5)
    bare = Conv2dNormActivation(
        4, 8, kernel_size=3, dilation=2, norm_layer=None, activation_layer=None
    )
    assert len(bare) == 1 and bare[0].bias is not None and bare[0].padding == (2, 2)


def test_conv_norm_activation_values():
    torch.manual_seed(0)
    block = Conv2dNormActivation(2, 3, kernel_size=1, activation_layer=nn.ReLU6).eval()
    x = torch.randn(1, 2, 4, 4)
    w = block[0].weight.detach().numpy()[:, :, 0, 0]
    bn = block[1]
    ref = np.einsum("oc,nchw->nohw", w, x.numpy())
    ref = ref / np.sqrt(1.0 + bn.eps)  # fresh running stats: mean 0, var 1
    np.testing.assert_allclose(block(x).detach().numpy(), np.clip(ref, 0, 6), rtol=1e-5, atol=1e-6)


def test_squeeze_excitation_matches_numpy():
    torch.manual_seed(0)
    se = SqueezeExcitation(6, 2)
    x = torch.randn(2, 6, 3, 5)
    xn = x.numpy()
    pooled = xn.mean(axis=(2, 3))
    w1 = se.fc1.weight.detach().numpy()[:, :, 0, 0]
    b1 = se.fc1.bias.detach().numpy()
    w2 = se.fc2.weight.detach().numpy()[:, :, 0, 0]
    b2 = se.fc2.bias.detach().numpy()
    h = np.maximum(pooled @ w1.T + b1, 0)
    scale = 1 / (1 + np.exp(-(h @ w2.T + b2)))
    ref = xn * scale[:, :, None, None]
    np.testing.assert_allclose(se(x).detach().numpy(), ref, rtol=1e-5, atol=1e-6)


def test_stochastic_depth_row_and_batch():
    torch.manual_seed(0)
    x = torch.ones(4000, 3)
    y = stochastic_depth(x, 0.25, "row").numpy()
    # each row is all-zero or all 1/0.75, and about 25% of rows are dropped
    kept = y[y != 0]
    np.testing.assert_allclose(kept, 1 / 0.75, rtol=1e-6)
    assert (y == y[:, :1]).all()
    dropped = (y[:, 0] == 0).mean()
    assert 0.22 < dropped < 0.28
    assert abs(y.mean() - 1.0) < 0.05  # expectation preserved
    b = stochastic_depth(torch.ones(5, 2), 0.5, "batch").numpy()
    assert (b == b.flat[0]).all() and b.flat[0] in (0.0, 2.0)


def test_stochastic_depth_identity_and_errors():
    x = torch.randn(3, 2)
    assert stochastic_depth(x, 0.7, "row", training=False) is x
    assert stochastic_depth(x, 0.0, "row") is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        stochastic_depth(x, 1.5, "row")
    with pytest.raises(ValueError, match="'batch' or 'row'"):
        stochastic_depth(x, 0.5, "col")
    m = StochasticDepth(0.5, "row").eval()
    assert m(x) is x


def test_stochastic_depth_gradient():
    torch.manual_seed(3)
    x = torch.ones(6, 2, requires_grad=True)
    y = stochastic_depth(x, 0.5, "row")
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
