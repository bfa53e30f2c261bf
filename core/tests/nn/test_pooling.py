"""Pooling: max (values and indices, ceil_mode, dilation, padding), average (count_include_pad,
divisor_override, ceil_mode), adaptive average / max, lp pooling and max_unpool against NumPy
loops over windows; gradients by finite differences; layers' reprs and errors."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn
from tocha.core.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(1)


def t(a, rg=False):
    return torch.tensor(np.asarray(a), requires_grad=rg)


def _tup(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _out(n, k, s, p, d, ceil):
    num = n + 2 * p - d * (k - 1) - 1
    o = (-(-num // s) if ceil else num // s) + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def ref_max_pool(x, k, s=None, p=0, d=1, ceil=False):
    nd = x.ndim - 2
    k = _tup(k, nd)
    s = _tup(s if s is not None else k, nd)
    p, d = _tup(p, nd), _tup(d, nd)
    X = x.shape[2:]  # noqa: N806
    O = [_out(X[i], k[i], s[i], p[i], d[i], ceil) for i in range(nd)]  # noqa: N806
    vals = np.full(x.shape[:2] + tuple(O), -np.inf)
    idx = np.zeros(x.shape[:2] + tuple(O), dtype=np.int64)
    for o in np.ndindex(*O):
        for kk in np.ndindex(*k):  # row-major order: the first maximum wins
            pos = [o[i] * s[i] - p[i] + kk[i] * d[i] for i in range(nd)]
            if any(q < 0 or q >= X[i] for i, q in enumerate(pos)):
                continue
            v = x[(slice(None), slice(None)) + tuple(pos)]
            sl = (slice(None), slice(None)) + o
            upd = v > vals[sl]
            vals[sl] = np.where(upd, v, vals[sl])
            idx[sl] = np.where(upd, np.ravel_multi_index(pos, X), idx[sl])
    return vals, idx


def ref_avg_pool(x, k, s=None, p=0, ceil=False, include_pad=True, divisor=None):
    nd = x.ndim - 2
    k = _tup(k, nd)
    s = _tup(s if s is not None else k, nd)
    p = _tup(p, nd)
    X = x.shape[2:]  # noqa: N806
    O = [_out(X[i], k[i], s[i], p[i], 1, ceil) for i in range(nd)]  # noqa: N806
    y = np.zeros(x.shape[:2] + tuple(O))
    for o in np.ndindex(*O):
        start = [o[i] * s[i] - p[i] for i in range(nd)]
        end = [min(start[i] + k[i], X[i] + p[i]) for i in range(nd)]
        pool = np.prod([end[i] - start[i] for i in range(nd)])
        lo = [max(a, 0) for a in start]
        hi = [min(b, X[i]) for i, b in enumerate(end)]
        win = x[(slice(None), slice(None)) + tuple(slice(a, b) for a, b in zip(lo, hi))]
        total = win.sum(axis=tuple(range(2, 2 + nd)))
        if divisor is not None:
            cnt = divisor
        elif include_pad:
            cnt = pool
        else:
            cnt = np.prod([b - a for a, b in zip(lo, hi)])
        y[(slice(None), slice(None)) + o] = total / cnt
    return y


def ref_adaptive(x, out, fn):
    nd = x.ndim - 2
    X = x.shape[2:]  # noqa: N806
    y = np.zeros(x.shape[:2] + tuple(out))
    for o in np.ndindex(*out):
        sl = tuple(
            slice((o[i] * X[i]) // out[i], -(-((o[i] + 1) * X[i]) // out[i])) for i in range(nd)
        )
        win = x[(slice(None), slice(None)) + sl]
        y[(slice(None), slice(None)) + o] = fn(win.reshape(win.shape[:2] + (-1,)), axis=-1)
    return y


MAX_CASES = [
    ((2, 3, 11), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 9, 10), dict(kernel_size=2)),
    ((2, 3, 9, 10), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((1, 2, 9, 10), dict(kernel_size=(2, 3), stride=1, dilation=2, padding=1)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 5, 6, 7), dict(kernel_size=2, stride=(1, 2, 2), padding=(1, 0, 1))),
]


@pytest.mark.parametrize("shape,kw", MAX_CASES)
def test_max_pool_values_and_indices(shape, kw):
    x = RNG.standard_normal(shape)
    fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[len(shape) - 3]
    v, i = fn(t(x), return_indices=True, **kw)
    rv, ri = ref_max_pool(
        x,
        kw["kernel_size"],
        kw.get("stride"),
        kw.get("padding", 0),
        kw.get("dilation", 1),
        kw.get("ceil_mode", False),
    )
    np.testing.assert_array_equal(v.numpy(), rv)
    np.testing.assert_array_equal(i.numpy(), ri)
    assert i.dtype == torch.int64
    np.testing.assert_array_equal(fn(t(x), **kw).numpy(), rv)
    # the gradient goes to the argmax of each window (summed where windows share it)
    xt = t(x, True)
    fn(xt, **kw).backward(torch.ones(*v.shape, dtype=torch.float64))
    ref_g = np.zeros(x.shape).reshape(x.shape[0], x.shape[1], -1)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            np.add.at(ref_g[n, c], ri[n, c].ravel(), 1.0)
    np.testing.assert_array_equal(xt.grad.numpy(), ref_g.reshape(x.shape))


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=(2, 3), stride=1),
    ],
)
def test_max_pool_ties_pick_the_first_maximum(kw):
    x = np.round(RNG.standard_normal((2, 3, 8, 8)))  # many ties
    v, i = F.max_pool2d(t(x), return_indices=True, **kw)
    rv, ri = ref_max_pool(x, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0))
    np.testing.assert_array_equal(v.numpy(), rv)
    np.testing.assert_array_equal(i.numpy(), ri)
    # without indices (2x2 keeps only each window's winning slot) the gradient goes to the
    # same first maximum
    xt = t(x, True)
    F.max_pool2d(xt, **kw).backward(torch.ones(*v.shape, dtype=torch.float64))
    ref_g = np.zeros(x.shape).reshape(x.shape[0], x.shape[1], -1)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            np.add.at(ref_g[n, c], ri[n, c].ravel(), 1.0)
    np.testing.assert_array_equal(xt.grad.numpy(), ref_g.reshape(x.shape))
    assert F.max_pool2d(torch.zeros(1, 1, 4, 4), 2, return_indices=True)[1].tolist() == [
        [[[0, 2], [8, 10]]]
    ]


def test_max_pool_ties_nan_and_unbatched():
    x = torch.tensor([[[1.0, 3.0, 3.0, 2.0, float("nan"), 0.0]]])
    v, i = F.max_pool1d(x, 2, return_indices=True)
    assert v[0, 0, :2].tolist() == [3.0, 3.0] and i.tolist() == [[[1, 2, 4]]]
    assert np.isnan(v[0, 0, 2].item())
    # two NaNs in a window: torch reports the last one
    xn = torch.zeros(1, 1, 2, 2)
    xn[0, 0, 0, 1] = float("nan")
    xn[0, 0, 1, 0] = float("nan")
    assert F.max_pool2d(xn, 2, return_indices=True)[1].item() == 2
    assert F.adaptive_max_pool2d(xn, 1, return_indices=True)[1].item() == 2
    assert F.adaptive_max_pool2d(torch.tensor([[[1.0, 3.0, 3.0]]]), 1, True)[1].item() == 1
    v2, i2 = F.max_pool2d(torch.arange(16.0).view(1, 4, 4), 2, return_indices=True)
    assert v2.shape == (1, 2, 2) and i2.tolist() == [[[5, 7], [13, 15]]]


AVG_CASES = [
    ((2, 3, 11), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 11), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ((2, 3, 9, 10), dict(kernel_size=2)),
    ((2, 3, 9, 10), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 9, 10), dict(kernel_size=(2, 3), stride=(1, 2), padding=1, count_include_pad=False)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=4)),
    ((1, 2, 5, 6, 7), dict(kernel_size=2, stride=(1, 2, 2), padding=(1, 0, 1))),
]


@pytest.mark.parametrize("shape,kw", AVG_CASES)
def test_avg_pool_values_and_gradients(shape, kw):
    x = RNG.standard_normal(shape)
    fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[len(shape) - 3]
    ref = ref_avg_pool(
        x,
        kw["kernel_size"],
        kw.get("stride"),
        kw.get("padding", 0),
        kw.get("ceil_mode", False),
        kw.get("count_include_pad", True),
        kw.get("divisor_override"),
    )
    np.testing.assert_allclose(fn(t(x), **kw).numpy(), ref, atol=1e-12)
    xs = tuple(min(s, 6) for s in shape)
    xs = (1, 2) + xs[2:]
    a = (torch.tensor(RNG.standard_normal(xs), requires_grad=True),)
    assert gradcheck(lambda z: fn(z, **kw), a) and gradgradcheck(lambda z: fn(z, **kw), a)


@pytest.mark.parametrize(
    "shape,out",
    [
        ((2, 3, 11), (4,)),
        ((2, 3, 9, 10), (4, 3)),
        ((2, 3, 9, 10), (1, 1)),
        ((2, 3, 8, 8), (4, 2)),
        ((1, 2, 5, 6, 7), (2, 3, 4)),
    ],
)
def test_adaptive_pools(shape, out):
    x = RNG.standard_normal(shape)
    nd = len(out)
    avg = (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d)[nd - 1]
    mx = (F.adaptive_max_pool1d, F.adaptive_max_pool2d, F.adaptive_max_pool3d)[nd - 1]
    np.testing.assert_allclose(avg(t(x), out).numpy(), ref_adaptive(x, out, np.mean), atol=1e-12)
    v, i = mx(t(x), out, return_indices=True)
    np.testing.assert_array_equal(v.numpy(), ref_adaptive(x, out, np.max))
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    np.testing.assert_array_equal(
        np.take_along_axis(flat, i.numpy().reshape(x.shape[0], x.shape[1], -1), -1),
        v.numpy().reshape(x.shape[0], x.shape[1], -1),
    )
    small = (1, 2) + tuple(min(s, 5) for s in shape[2:])
    a = (torch.tensor(RNG.standard_normal(small), requires_grad=True),)
    o2 = tuple(min(o, 3) for o in out)
    assert gradcheck(lambda z: avg(z, o2), a) and gradgradcheck(lambda z: avg(z, o2), a)
    assert gradcheck(lambda z: mx(z, o2), a)


def test_adaptive_none_and_unbatched():
    x = torch.randn(3, 6, 7)
    assert F.adaptive_avg_pool2d(x, (None, 2)).shape == (3, 6, 2)
    assert F.adaptive_max_pool2d(torch.randn(1, 3, 6, 7), (2, None)).shape == (1, 3, 2, 7)
    with pytest.raises(ValueError, match="Input dimension should be at least 3"):
        F.adaptive_avg_pool2d(torch.randn(5, 5), (2, 2))
    with pytest.raises(RuntimeError, match="Expected 3D or 4D tensor"):
        F.adaptive_avg_pool2d(torch.randn(5, 5), 2)


def test_lp_pool_and_max_unpool():
    x = RNG.uniform(0.1, 2.0, (1, 2, 6, 7))
    y = F.lp_pool2d(t(x), 3, 2, stride=2)
    ref = ref_avg_pool(x**3, 2, 2) * 4
    np.testing.assert_allclose(y.numpy(), ref ** (1 / 3), rtol=1e-12)
    assert gradcheck(lambda z: F.lp_pool1d(z, 2, 3, stride=2), (t(x[:, :, 0], True),))
    v, i = F.max_pool2d(t(x), 2, return_indices=True)
    u = F.max_unpool2d(v, i, 2, output_size=(6, 7))
    ref_u = np.zeros_like(x).reshape(1, 2, -1)
    np.put_along_axis(ref_u, i.numpy().reshape(1, 2, -1), v.numpy().reshape(1, 2, -1), -1)
    np.testing.assert_array_equal(u.numpy(), ref_u.reshape(x.shape))
    v6, i6 = F.max_pool2d(t(x[..., :6]), 2, return_indices=True)
    assert F.max_unpool2d(v6, i6, 2).shape == (1, 2, 6, 6)
    vt = t(v.numpy(), True)
    assert gradcheck(lambda z: F.max_unpool2d(z, i, 2, output_size=(6, 7)), (vt,))
    assert gradgradcheck(lambda z: F.max_unpool2d(z, i, 2, output_size=(6, 7)), (vt,))
    with pytest.raises(RuntimeError, match="Found an invalid max index"):
        F.max_unpool2d(v, i, 2, output_size=(5, 5))
    with pytest.raises(ValueError, match="invalid output_size"):
        F.max_unpool2d(v, i, 2, output_size=(9, 9))


def test_max_pool_gradients_double_backward():
    x = torch.tensor(RNG.standard_normal((1, 2, 5, 6)), requires_grad=True)
    f = lambda z: F.max_pool2d(z, 3, stride=2, padding=1, ceil_mode=True)  # noqa: E731
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))
    f2 = lambda z: F.adaptive_max_pool2d(z, (3, 4))  # noqa: E731
    assert gradgradcheck(f2, (x,))


def test_pool_errors():
    x = torch.randn(1, 2, 5, 5)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="stride should not be zero"):
        F.max_pool2d(x, 3, stride=0)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(x, 6)
    with pytest.raises(RuntimeError, match="non-empty 3D or 4D"):
        F.max_pool2d(torch.randn(5, 5), 2)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        F.avg_pool2d(x, 2, divisor_override=0)


def test_pool_layers():
    assert (
        repr(nn.MaxPool2d(2))
        == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    )
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AvgPool1d(3, 2)) == "AvgPool1d(kernel_size=(3,), stride=(2,), padding=(0,))"
    assert repr(nn.AdaptiveAvgPool2d((1, None))) == "AdaptiveAvgPool2d(output_size=(1, None))"
    assert repr(nn.AdaptiveMaxPool2d(1, True)) == "AdaptiveMaxPool2d(output_size=1)"
    assert (
        repr(nn.LPPool2d(2, 3))
        == "LPPool2d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)"
    )
    assert (
        repr(nn.MaxUnpool2d(2)) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    )
    x = torch.randn(2, 3, 8, 8)
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    v, i = pool(x)
    assert unpool(v, i).shape == x.shape
    assert nn.AvgPool3d(2)(torch.randn(1, 1, 4, 4, 4)).shape == (1, 1, 2, 2, 2)
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)
    assert nn.LPPool1d(2, 2)(torch.randn(1, 2, 6)).shape == (1, 2, 3)
    assert nn.MaxPool1d(2)(torch.randn(1, 2, 6)).shape == (1, 2, 3)
    assert nn.AdaptiveMaxPool3d(2)(torch.randn(1, 1, 4, 4, 4)).shape == (1, 1, 2, 2, 2)


def _frac_starts(u, n_in, n_out, k):
    alpha = (n_in - k) / (n_out - 1)
    seq = [int((i + u) * alpha) - int(u * alpha) for i in range(n_out - 1)]
    return seq + [n_in - k]


def test_fractional_max_pool2d_windows_and_gradients():
    x = RNG.standard_normal((2, 3, 9, 11))
    s = RNG.uniform(0, 1, (2, 3, 2))
    v, i = F.fractional_max_pool2d(
        t(x), (2, 3), output_size=(4, 5), return_indices=True, _random_samples=t(s)
    )
    for n in range(2):
        for c in range(3):
            rows = _frac_starts(s[n, c, 1], 9, 4, 2)  # samples are (w, h)
            cols = _frac_starts(s[n, c, 0], 11, 5, 3)
            for a, r0 in enumerate(rows):
                for b, c0 in enumerate(cols):
                    win = x[n, c, r0 : r0 + 2, c0 : c0 + 3]
                    assert v.numpy()[n, c, a, b] == win.max()
                    r, q = divmod(int(i.numpy()[n, c, a, b]), 11)
                    assert x[n, c, r, q] == win.max()
    st = t(s)
    assert gradcheck(
        lambda z: F.fractional_max_pool2d(z, 2, output_size=(3, 4), _random_samples=st),
        (t(x[:, :, :6, :7], True),),
    )
    assert F.fractional_max_pool3d(torch.randn(1, 2, 6, 6, 6), 2, output_ratio=0.5).shape == (
        1,
        2,
        3,
        3,
        3,
    )
    assert nn.FractionalMaxPool2d(3, output_ratio=0.5)(torch.randn(2, 3, 10, 12)).shape == (
        2,
        3,
        5,
        6,
    )
    with pytest.raises(ValueError, match="requires specifying either"):
        nn.FractionalMaxPool2d(3)
    with pytest.raises(ValueError, match="output_ratio must be between 0 and 1"):
        nn.FractionalMaxPool2d(3, output_ratio=1.5)
    with pytest.raises(RuntimeError, match="too large relative to input"):
        F.fractional_max_pool2d(torch.randn(1, 1, 5, 5), 3, output_size=4)


def test_top_level_torch_names():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.max_pool2d(x, 2).flatten().tolist() == [5.0, 7.0, 13.0, 15.0]
    v, i = torch.max_pool1d_with_indices(torch.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
    assert v.flatten().tolist() == [3.0, 2.0] and i.flatten().tolist() == [1, 2]
    assert torch.avg_pool1d(torch.ones(1, 1, 4), 2).flatten().tolist() == [1.0, 1.0]
    v, i = torch.adaptive_max_pool1d(torch.tensor([[[1.0, 3.0, 2.0]]]), 1)
    assert v.item() == 3.0 and i.item() == 1
    assert torch.constant_pad_nd(torch.ones(1, 2), (1, 1), 3.0).flatten().tolist() == [
        3.0,
        1.0,
        1.0,
        3.0,
    ]
    assert torch.pixel_shuffle(torch.randn(1, 4, 2, 2), 2).shape == (1, 1, 4, 4)
    assert (
        torch.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2)).flatten().tolist() == [4.0] * 4
    )


def test_max_pool_2x2_gradient_paths():
    # the 2x2 / stride-2 path keeps only the winners' slots; odd sizes leave a zero border
    x = np.round(RNG.standard_normal((2, 3, 7, 9)) * 2)  # ties
    xt = t(x, True)
    F.max_pool2d(xt, 2).backward(torch.ones(2, 3, 3, 4, dtype=torch.float64))
    _, ri = ref_max_pool(x, 2)
    ref = np.zeros((2, 3, 63))
    for n in range(2):
        for c in range(3):
            ref[n, c, ri[n, c].ravel()] = 1.0
    np.testing.assert_array_equal(xt.grad.numpy(), ref.reshape(x.shape))
    a = (t(RNG.standard_normal((1, 2, 5, 6)), True),)
    assert gradcheck(lambda z: F.max_pool2d(z, 2), a)
    assert gradgradcheck(lambda z: F.max_pool2d(z, 2), a)


def _torch_rule_max_pool2d(x, k, s, p):
    """Max pooling by torch's loop: each window starts from its first element inside the input
    and moves on only to a larger value (or a NaN)."""
    n, c, h, w = x.shape
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    val, idx = np.empty((n, c, oh, ow)), np.empty((n, c, oh, ow), np.int64)
    for i in range(oh):
        for j in range(ow):
            rows = [r for r in range(i * s - p, i * s - p + k) if 0 <= r < h]
            cols = [q for q in range(j * s - p, j * s - p + k) if 0 <= q < w]
            for b in range(n):
                for ch in range(c):
                    best, at = x[b, ch, rows[0], cols[0]], rows[0] * w + cols[0]
                    for r in rows:
                        for q in cols:
                            v = x[b, ch, r, q]
                            if v > best or np.isnan(v):
                                best, at = v, r * w + q
                    val[b, ch, i, j], idx[b, ch, i, j] = best, at
    return val, idx


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_max_pool_windows_at_the_floor_index_inside_the_input(dtype):
    # windows holding only -inf (or the integer minimum) equal the padding: their index is
    # still the first element inside the input, and the gradient stays in its own plane
    floor = -np.inf if dtype == np.float32 else np.iinfo(np.int64).min
    x = np.full((2, 2, 4, 5), floor, dtype)
    x[1, 1, 3, 4] = 7
    x[0, 1, 0, 0] = 5
    v, i = F.max_pool2d(torch.from_numpy(x), 3, 1, 1, return_indices=True)
    rv, ri = _torch_rule_max_pool2d(x.astype(np.float64), 3, 1, 1)
    np.testing.assert_array_equal(i.numpy(), ri)
    np.testing.assert_array_equal(v.numpy().astype(np.float64), rv)
    if dtype == np.float32:
        xt = torch.from_numpy(x).requires_grad_()
        F.max_pool2d(xt, 3, 1, 1).sum().backward()
        ref = np.zeros(x.size)
        flat = ri + (np.arange(4).reshape(2, 2, 1, 1) * 20)
        np.add.at(ref, flat.ravel(), 1.0)
        np.testing.assert_array_equal(xt.grad.numpy(), ref.reshape(x.shape))


@pytest.mark.parametrize("native", ["1", "0"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_compiled_and_numpy_paths_follow_torchs_rule(monkeypatch, native, dtype):
    """The 2x2 kernel (`_native/pool.c`) and its NumPy fallback: values, torch's indices (ties:
    the first maximum; NaN: the last NaN), and the gradient at the winners, odd sizes too."""
    from tocha.core import _native

    if native == "1" and _native._compiler() is None:
        pytest.skip("no C compiler on this machine")
    monkeypatch.setenv("TOCHA_NATIVE", native)
    x = np.round(RNG.standard_normal((2, 3, 7, 9)) * 2).astype(dtype)  # many ties
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan  # two NaNs in one window
    x[1, 2, 3, 3] = np.nan
    rv, ri = _torch_rule_max_pool2d(x, 2, 2, 0)
    v, i = F.max_pool2d(t(x), 2, return_indices=True)
    np.testing.assert_array_equal(v.numpy(), rv)
    np.testing.assert_array_equal(i.numpy(), ri)
    xt = t(x, True)
    g = RNG.standard_normal(rv.shape).astype(dtype)
    F.max_pool2d(xt, 2).backward(t(g))
    ref = np.zeros((2, 3, 63), dtype)
    for n in range(2):
        for c in range(3):
            ref[n, c, ri[n, c].ravel()] = g[n, c].ravel()
    np.testing.assert_array_equal(xt.grad.numpy(), ref.reshape(x.shape))
