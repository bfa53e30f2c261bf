"""Dropout family: the kept fraction and scale, determinism under manual_seed, channel-wise
masks, alpha dropout's preserved statistics, gradients equal to the mask, in-place, eval."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn


def test_dropout_keeps_one_minus_p_and_scales():
    torch.manual_seed(0)
    x = torch.ones(100000, requires_grad=True)
    y = F.dropout(x, 0.3)
    v = y.detach().numpy()
    assert set(np.unique(v)) == {0.0, np.float32(1 / 0.7)}
    assert abs((v != 0).mean() - 0.7) < 0.01
    y.backward(torch.ones(100000))
    np.testing.assert_array_equal(x.grad.numpy(), v)  # the gradient is the scaled mask


def test_dropout_is_repeatable_and_identity_when_off():
    torch.manual_seed(3)
    a = F.dropout(torch.ones(50)).numpy()
    torch.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(torch.ones(50)).numpy(), a)
    x = torch.randn(4)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert (F.dropout(x, 1.0).numpy() == 0).all()
    with pytest.raises(
        ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"
    ):
        F.dropout(x, 1.5)


def test_channel_dropout_zeroes_whole_channels():
    torch.manual_seed(0)
    y = F.dropout2d(torch.ones(8, 16, 3, 3), 0.5).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert ((per_channel == 0).all(2) | (per_channel == 2).all(2)).all()
    y1 = F.dropout1d(torch.ones(16, 5), 0.5).numpy()  # unbatched (C, L)
    assert ((y1 == 0).all(1) | (y1 == 2).all(1)).all()
    y3 = F.dropout3d(torch.ones(2, 8, 2, 2, 2), 0.5).numpy().reshape(2, 8, -1)
    assert ((y3 == 0).all(2) | (y3 == 2).all(2)).all()
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        F.dropout1d(torch.ones(3), 0.5)
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        F.dropout2d(torch.ones(2, 3, 4), 0.5)


def test_alpha_dropout_preserves_mean_and_variance():
    torch.manual_seed(0)
    x = torch.randn(200000)
    y = F.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    assert F.alpha_dropout(x, 0.2) is x  # training defaults to False
    x = torch.randn(4000, 50, 1)
    z = F.feature_alpha_dropout(x, 0.3, training=True).numpy()
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    xg = torch.randn(10, requires_grad=True)
    out = F.alpha_dropout(xg, 0.5, training=True)
    out.sum().backward()
    a = xg.grad.numpy()
    assert len(np.unique(np.round(a, 6))) <= 2  # the gradient is the per-element scale


def test_inplace_and_modules():
    torch.manual_seed(0)
    x = torch.ones(1000)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and set(np.unique(x.numpy())) <= {0.0, 2.0}
    m = nn.Dropout(0.2)
    assert repr(m) == "Dropout(p=0.2, inplace=False)"
    m.eval()
    z = torch.randn(5)
    assert m(z) is z
    for cls in (nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout):
        mod = cls(0.4, True)
        assert repr(mod) == f"{cls.__name__}(p=0.4, inplace=True)"
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout(-0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert tuple(nn.Dropout2d()(torch.ones(2, 3, 4, 4)).shape) == (2, 3, 4, 4)
