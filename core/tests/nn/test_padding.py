"""F.pad (constant, reflect, replicate, circular; negative pads) and the padding layers against
numpy.pad, with first and second gradients by finite differences, reprs and errors."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn
from tocha.core.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(2)
NP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def t(a, rg=False):
    return torch.tensor(np.asarray(a), requires_grad=rg)


def np_pad(x, pad, mode, value=0.0):
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)][::-1]
    full = [(0, 0)] * (x.ndim - len(pairs)) + pairs
    # crop for negative amounts first, then pad with the rest
    sl = tuple(slice(max(-a, 0), x.shape[i] - max(-b, 0)) for i, (a, b) in enumerate(full))
    x = x[sl]
    pos = [(max(a, 0), max(b, 0)) for a, b in full]
    if mode == "constant":
        return np.pad(x, pos, constant_values=value)
    return np.pad(x, pos, mode=NP_MODE[mode])


CASES = [
    ((2, 3, 7), (2, 3)),
    ((2, 3, 7), (-1, 2)),
    ((3, 7), (2, 0)),
    ((2, 3, 6, 7), (1, 2, 3, 0)),
    ((3, 6, 7), (1, 2, 1, 2)),
    ((2, 2, 4, 5, 6), (1, 1, 2, 0, 3, 1)),
]


@pytest.mark.parametrize(
    "mode,shape,pad",
    [
        (m, s, p)
        for m in ("constant", "reflect", "replicate", "circular")
        for s, p in CASES
        if not (m == "circular" and min(p) < 0)  # numpy.pad cannot crop-and-wrap: see below
    ],
)
def test_pad_matches_numpy(mode, shape, pad):
    x = RNG.standard_normal(shape)
    kw = {"value": 1.5} if mode == "constant" else {}
    y = F.pad(t(x), pad, mode=mode, **kw)
    np.testing.assert_array_equal(y.numpy(), np_pad(x, pad, mode, 1.5))
    small = tuple(min(s, 4) for s in shape)
    a = (t(RNG.standard_normal(small), True),)
    p2 = tuple(max(min(v, 2), -1) for v in pad)
    f = lambda z: F.pad(z, p2, mode=mode, **kw)  # noqa: E731
    assert gradcheck(f, a) and gradgradcheck(f, a)


def test_pad_constant_any_dims_and_circular_crop():
    x = RNG.standard_normal((2, 3, 4, 5))
    y = F.pad(t(x), (1, 1, 2, 2, 1, 0))
    np.testing.assert_array_equal(y.numpy(), np.pad(x, [(0, 0), (1, 0), (2, 2), (1, 1)]))
    xi = torch.arange(12).view(1, 3, 4)
    assert F.pad(xi, (1, 1), value=2.5)[0, 0].tolist() == [2, 0, 1, 2, 3, 2]
    c = F.pad(torch.arange(7.0).view(1, 1, 7), (-1, 2), mode="circular")
    assert c.flatten().tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 2.0]
    c2 = F.pad(torch.arange(7.0).view(1, 1, 7), (2, -1), mode="circular")
    assert c2.flatten().tolist() == [4.0, 5.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_pad_errors():
    x = torch.randn(1, 3, 4)
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(RuntimeError, match="less than or equal to two times the input dimension"):
        F.pad(x, (1,) * 8)
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding"):
        F.pad(x, (4, 2), mode="reflect")
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(x, (5, 5), mode="circular")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode foo"):
        F.pad(x, (1, 1), mode="foo")
    with pytest.raises(RuntimeError, match="doesn't take in value argument"):
        F.pad(x, (1, 1), mode="reflect", value=2.0)
    with pytest.raises(NotImplementedError, match="Padding size 4 is not supported for 2D"):
        F.pad(torch.randn(3, 4), (1, 1, 1, 1), mode="reflect")
    with pytest.raises(TypeError, match="must be tuple of ints"):
        F.pad(x, [1, 1.5])


def test_padding_layers():
    x = RNG.standard_normal((1, 2, 3, 4))
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.ConstantPad2d(2, 3.5)) == "ConstantPad2d(padding=(2, 2, 2, 2), value=3.5)"
    assert repr(nn.ReflectionPad2d((1, 2, 3, 4))) == "ReflectionPad2d((1, 2, 3, 4))"
    assert nn.ZeroPad1d(2).padding == (2, 2)
    np.testing.assert_array_equal(
        nn.ZeroPad2d((1, 2, 0, 1))(t(x)).numpy(), np.pad(x, [(0, 0), (0, 0), (0, 1), (1, 2)])
    )
    np.testing.assert_array_equal(
        nn.ConstantPad1d(1, -1.0)(t(x)).numpy(),
        np.pad(x, [(0, 0), (0, 0), (0, 0), (1, 1)], constant_values=-1),
    )
    for cls, mode in [
        (nn.ReflectionPad2d, "reflect"),
        (nn.ReplicationPad2d, "edge"),
        (nn.CircularPad2d, "wrap"),
    ]:
        np.testing.assert_array_equal(
            cls(1)(t(x)).numpy(), np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)], mode=mode)
        )
    x3 = RNG.standard_normal((1, 1, 3, 3, 3))
    for cls, mode in [
        (nn.ReflectionPad3d, "reflect"),
        (nn.ReplicationPad3d, "edge"),
        (nn.CircularPad3d, "wrap"),
        (nn.ZeroPad3d, "constant"),
    ]:
        np.testing.assert_array_equal(
            cls(1)(t(x3)).numpy(), np.pad(x3, [(0, 0), (0, 0)] + [(1, 1)] * 3, mode=mode)
        )
    x1 = RNG.standard_normal((2, 5))
    for cls, mode in [
        (nn.ReflectionPad1d, "reflect"),
        (nn.ReplicationPad1d, "edge"),
        (nn.CircularPad1d, "wrap"),
        (nn.ConstantPad3d, "constant"),
    ]:
        arg = (2,) if cls is not nn.ConstantPad3d else (0, 0.0)
        if cls is nn.ConstantPad3d:
            continue
        np.testing.assert_array_equal(
            cls(*arg)(t(x1)).numpy(), np.pad(x1, [(0, 0), (2, 2)], mode=mode)
        )
