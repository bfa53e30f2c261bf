"""Convolutions through the compiled im2col / col2im (`_ops/_conv_native.py`) against the NumPy
gather and slice-adds they replace (checked against references in test_conv.py): outputs and
every gradient, over strides, dilations, paddings larger than the kernel, groups, odd sizes,
and both dtypes; and that the compiled kernels really ran."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import _native
from tocha.core._ops import _conv_direct, _conv_native

pytestmark = pytest.mark.skipif(_native._compiler() is None, reason="no C compiler on this machine")

CASES = [
    # (N, C, H, W), (Co, C/groups, kh, kw), conv2d keywords
    ((128, 1, 28, 28), (6, 1, 5, 5), dict(padding=2)),  # LeNet-5's layers
    ((128, 6, 14, 14), (16, 6, 5, 5), {}),
    ((3, 4, 11, 9), (6, 4, 3, 3), dict(stride=2, padding=1)),
    ((2, 4, 10, 13), (4, 2, 3, 2), dict(stride=(2, 3), padding=(4, 1), dilation=(2, 1), groups=2)),
    ((2, 3, 7, 8), (5, 3, 2, 3), dict(stride=3, dilation=2)),
    ((2, 2, 6, 6), (3, 2, 3, 3), dict(padding="same", dilation=2)),
]


def _conv(monkeypatch, native, dtype, xs, ws, kw, bias):
    monkeypatch.setenv("TOCHA_NATIVE", native)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal(xs).astype(dtype), requires_grad=True)
    w = torch.tensor(rng.standard_normal(ws).astype(dtype), requires_grad=True)
    b = torch.tensor(rng.standard_normal(ws[0]).astype(dtype), requires_grad=True) if bias else None
    y = F.conv2d(x, w, b, **kw)
    g = torch.tensor(rng.standard_normal(tuple(y.shape)).astype(dtype))
    y.backward(g)
    out = [y.detach().numpy(), x.grad.numpy(), w.grad.numpy()]
    return out + ([b.grad.numpy()] if bias else [])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", CASES)
def test_compiled_im2col_matches_numpy(monkeypatch, threads, dtype, xs, ws, kw):
    # stride-1 float32 layers take the direct kernels (test_conv_igemm.py) when built
    monkeypatch.setattr(_conv_direct, "available", lambda dt: False)
    calls = {"im2col": 0, "col2im": 0}
    for name in calls:
        real = getattr(_conv_native, name)

        def counted(*a, _real=real, _name=name):
            calls[_name] += 1
            return _real(*a)

        monkeypatch.setattr(_conv_native, name, counted)
    bias = xs[1] != 2
    got = _conv(monkeypatch, "1", dtype, xs, ws, kw, bias)
    assert calls["im2col"] + calls["col2im"] > 0, calls  # (short rows keep NumPy's gather)
    if kw.get("stride", 1) != 1:  # (stride 1 may take the flipped-kernel convolution instead)
        assert calls["col2im"] > 0, calls
    seen = dict(calls)
    ref = _conv(monkeypatch, "0", dtype, xs, ws, kw, bias)
    assert calls == seen  # the reference ran the NumPy gather
    eps = 1e-6 if dtype == np.float32 else 1e-14  # sums of ~150 products, in another order
    for a, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, r, rtol=10 * eps, atol=eps * np.abs(r).max())
