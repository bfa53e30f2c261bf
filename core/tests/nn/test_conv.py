"""Convolutions: conv1d/2d/3d, conv_transpose1d/2d/3d, unfold/fold and the Conv/ConvTranspose
layers against direct NumPy loops over windows; first and second gradients by finite
differences (the im2col path, the implicit-GEMM path and the Winograd 3x3 path); torch's default initialisation,
reprs, padding modes and error messages."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn
from tocha.core.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


@pytest.fixture(params=["winograd", "im2col", "igemm"])
def path(request, monkeypatch):
    """Run with the kernel choice of one core (Winograd for 3x3 stride 1), with im2col
    everywhere, or with the implicit GEMM for every ungrouped stride-1 convolution whatever its
    size, whatever the machine's thread settings."""
    from tocha.core._ops import conv as conv_ops

    single = request.param == "winograd"
    monkeypatch.setattr(conv_ops, "_single_core", lambda: single)
    if request.param == "im2col":
        monkeypatch.setattr(conv_ops, "_IG_MIN_CHANNELS", 1 << 30)
    elif request.param == "igemm":
        monkeypatch.setattr(conv_ops, "_IG_MIN_CHANNELS", 1)
        monkeypatch.setattr(conv_ops, "_IG_MAX_MARGIN", float("inf"))
    return request.param


def t(a, rg=False, dtype=None):
    return torch.tensor(np.asarray(a), requires_grad=rg, dtype=dtype)


# --- NumPy references -------------------------------------------------------------------------
def ref_conv(x, w, b=None, stride=1, pad=0, dil=1, groups=1, pad_hi=None):
    nd = x.ndim - 2
    s, d = _tup(stride, nd), _tup(dil, nd)
    lo = _tup(pad, nd)
    hi = lo if pad_hi is None else _tup(pad_hi, nd)
    xp = np.pad(x, [(0, 0), (0, 0)] + list(zip(lo, hi)))
    N, C = x.shape[:2]  # noqa: N806
    Co, Cg = w.shape[:2]  # noqa: N806
    K = w.shape[2:]  # noqa: N806
    O = [(xp.shape[2 + i] - d[i] * (K[i] - 1) - 1) // s[i] + 1 for i in range(nd)]  # noqa: N806
    y = np.zeros((N, Co, *O))
    cog = Co // groups
    for o in np.ndindex(*O):
        for k in np.ndindex(*K):
            idx = tuple(o[i] * s[i] + k[i] * d[i] for i in range(nd))
            patch = xp[(slice(None), slice(None)) + idx]
            for g in range(groups):
                wk = w[(slice(g * cog, (g + 1) * cog), slice(None)) + k]
                y[(slice(None), slice(g * cog, (g + 1) * cog)) + o] += (
                    patch[:, g * Cg : (g + 1) * Cg] @ wk.T
                )
    if b is not None:
        y += b.reshape((1, -1) + (1,) * nd)
    return y


def ref_conv_transpose(x, w, b=None, stride=1, pad=0, out_pad=0, dil=1, groups=1):
    nd = x.ndim - 2
    s, p, op, d = _tup(stride, nd), _tup(pad, nd), _tup(out_pad, nd), _tup(dil, nd)
    N, Cin = x.shape[:2]  # noqa: N806
    I = x.shape[2:]  # noqa: E741, N806
    cog = w.shape[1]
    K = w.shape[2:]  # noqa: N806
    cig = Cin // groups
    full = [(I[i] - 1) * s[i] + d[i] * (K[i] - 1) + 1 + op[i] for i in range(nd)]
    y = np.zeros((N, cog * groups, *full))
    for i in np.ndindex(*I):
        for k in np.ndindex(*K):
            pos = tuple(i[j] * s[j] + k[j] * d[j] for j in range(nd))
            for g in range(groups):
                xi = x[(slice(None), slice(g * cig, (g + 1) * cig)) + i]
                wk = w[(slice(g * cig, (g + 1) * cig), slice(None)) + k]
                y[(slice(None), slice(g * cog, (g + 1) * cog)) + pos] += xi @ wk
    y = y[(slice(None), slice(None)) + tuple(slice(p[j], full[j] - p[j]) for j in range(nd))]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y


def _tup(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


# --- forward values -----------------------------------------------------------------------------
CONV_CASES = [
    # (input shape, weight shape, kwargs)
    ((2, 3, 9), (4, 3, 3), dict(stride=2, padding=1)),
    ((2, 4, 10), (6, 2, 4), dict(dilation=2, groups=2, padding=3)),
    ((1, 2, 7, 8), (3, 2, 3, 2), dict(stride=(2, 1), padding=(1, 0))),
    ((2, 4, 9, 9), (4, 1, 3, 3), dict(padding=1, groups=4)),  # depthwise
    ((2, 6, 8, 7), (4, 3, 2, 3), dict(stride=2, dilation=(2, 1), groups=2, padding=(2, 1))),
    ((1, 3, 8, 8), (5, 3, 1, 1), dict(stride=2)),
    ((2, 16, 7, 9), (8, 16, 3, 3), dict(padding=1)),  # Winograd path
    ((1, 12, 6, 5), (10, 12, 3, 3), dict(padding=0)),  # Winograd, odd output
    ((1, 2, 5, 6, 4), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=(1, 1, 0))),
]


@pytest.mark.parametrize("xs,ws,kw", CONV_CASES)
def test_conv_matches_direct_loops(xs, ws, kw, path):
    x, w, b = RNG.standard_normal(xs), RNG.standard_normal(ws), RNG.standard_normal(ws[0])
    fn = (F.conv1d, F.conv2d, F.conv3d)[len(xs) - 3]
    y = fn(t(x), t(w), t(b), **kw)
    ref = ref_conv(
        x,
        w,
        b,
        kw.get("stride", 1),
        kw.get("padding", 0),
        kw.get("dilation", 1),
        kw.get("groups", 1),
    )
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-10)
    # float32 (the Winograd kernel runs in float32 too)
    y32 = fn(t(x, dtype=torch.float32), t(w, dtype=torch.float32), t(b, dtype=torch.float32), **kw)
    assert y32.dtype == torch.float32
    np.testing.assert_allclose(y32.numpy(), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("k,d", [(4, 1), (3, 2), (2, 3), (5, 1)])
def test_conv_padding_same_and_valid(k, d):
    x, w = RNG.standard_normal((2, 3, 11)), RNG.standard_normal((2, 3, k))
    total = d * (k - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = F.conv1d(t(x), t(w), padding="same", dilation=d)
    assert y.shape == (2, 2, 11)
    np.testing.assert_allclose(
        y.numpy(), ref_conv(x, w, None, 1, total // 2, d, pad_hi=total - total // 2), atol=1e-10
    )
    np.testing.assert_allclose(
        F.conv1d(t(x), t(w), padding="valid", dilation=d).numpy(),
        ref_conv(x, w, None, 1, 0, d),
        atol=1e-10,
    )
    x2, w2 = RNG.standard_normal((1, 2, 6, 7)), RNG.standard_normal((3, 2, 4, 3))
    with pytest.warns(UserWarning, match="even kernel lengths"):
        y2 = F.conv2d(t(x2), t(w2), padding="same")
    np.testing.assert_allclose(
        y2.numpy(), ref_conv(x2, w2, None, 1, (1, 1), 1, pad_hi=(2, 1)), atol=1e-10
    )


TRANSPOSE_CASES = [
    ((2, 4, 5), (4, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 6), (4, 1, 2), dict(stride=3, output_padding=2, groups=2, dilation=1)),
    (
        (2, 4, 5, 6),
        (4, 3, 3, 3),
        dict(stride=(2, 3), padding=(0, 2), output_padding=(1, 2), dilation=(1, 2), groups=2),
    ),
    ((1, 16, 5, 6), (16, 8, 3, 3), dict(padding=1)),  # Winograd (stride 1)
    ((1, 16, 4, 4), (16, 9, 3, 3), dict(padding=0)),
    ((1, 2, 3, 4, 2), (2, 2, 2, 3, 2), dict(stride=2, output_padding=1)),
    ((8, 4, 5, 4), (4, 3, 3, 2), dict(padding=1, dilation=(1, 2))),  # batch-innermost col2im
]


@pytest.mark.parametrize("xs,ws,kw", TRANSPOSE_CASES)
def test_conv_transpose_matches_scatter_loops(xs, ws, kw, path):
    g = kw.get("groups", 1)
    x, w = RNG.standard_normal(xs), RNG.standard_normal(ws)
    b = RNG.standard_normal(ws[1] * g)
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[len(xs) - 3]
    y = fn(t(x), t(w), t(b), **kw)
    ref = ref_conv_transpose(
        x,
        w,
        b,
        kw.get("stride", 1),
        kw.get("padding", 0),
        kw.get("output_padding", 0),
        kw.get("dilation", 1),
        g,
    )
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-10)


def test_conv_transpose_is_the_input_gradient_of_conv(path):
    x = t(RNG.standard_normal((2, 4, 9, 8)), True)
    w = RNG.standard_normal((6, 2, 3, 3))
    y = F.conv2d(x, t(w), stride=2, padding=1, groups=2)
    g = RNG.standard_normal(y.shape)
    y.backward(t(g))
    gx = F.conv_transpose2d(t(g), t(w), stride=2, padding=1, output_padding=(0, 1), groups=2)
    np.testing.assert_allclose(x.grad.numpy(), gx.numpy(), atol=1e-10)


def test_unbatched_int_empty_and_half_inputs():
    x, w = RNG.standard_normal((3, 8)), RNG.standard_normal((2, 3, 3))
    np.testing.assert_allclose(F.conv1d(t(x), t(w)).numpy(), ref_conv(x[None], w)[0], atol=1e-12)
    xi = torch.arange(9).view(1, 1, 3, 3)
    yi = F.conv2d(xi, torch.ones(1, 1, 2, 2, dtype=torch.int64))
    assert yi.dtype == torch.int64 and yi.flatten().tolist() == [8, 12, 20, 24]
    e = F.conv2d(torch.zeros(0, 3, 5, 5), torch.zeros(4, 3, 3, 3))
    assert e.shape == (0, 4, 3, 3)
    xh = torch.randn(1, 8, 6, 6).to(torch.bfloat16)
    wh = torch.randn(8, 8, 3, 3).to(torch.bfloat16)
    yh = F.conv2d(xh, wh, padding=1)
    assert yh.dtype == torch.bfloat16
    ref = ref_conv(
        xh.float().numpy().astype(np.float64), wh.float().numpy().astype(np.float64), pad=1
    )
    np.testing.assert_allclose(yh.float().numpy(), ref, rtol=0.05, atol=0.15)


# --- gradients ----------------------------------------------------------------------------------
def _d(*s, rg=True):
    return torch.tensor(RNG.standard_normal(s), dtype=torch.float64, requires_grad=rg)


GRAD_CASES = [
    (
        lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
        ((2, 2, 7), (3, 2, 2), (3,)),
    ),
    (
        lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, groups=2),
        ((1, 4, 5, 4), (4, 2, 3, 2), (4,)),
    ),
    (lambda x, w, b: F.conv2d(x, w, b, padding=1), ((1, 8, 4, 5), (8, 8, 3, 3), (8,))),
    (lambda x, w: F.conv2d(x, w, padding="same", dilation=2), ((1, 2, 4, 4), (2, 2, 2, 3))),
    (
        lambda x, w, b: F.conv3d(x, w, b, padding=(1, 0, 1)),
        ((1, 2, 3, 3, 2), (2, 2, 2, 2, 2), (2,)),
    ),
    (
        lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, output_padding=1),
        ((1, 2, 3), (2, 3, 3), (3,)),
    ),
    (
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, groups=2),
        ((1, 4, 3, 3), (4, 1, 3, 3), (2,)),
    ),
    (lambda x, w: F.conv_transpose2d(x, w, padding=1), ((1, 8, 3, 4), (8, 8, 3, 3))),
    (lambda x, w: F.conv_transpose3d(x, w, stride=(1, 2, 1)), ((1, 2, 2, 2, 2), (2, 1, 2, 2, 2))),
]


@pytest.mark.parametrize("fn,shapes", GRAD_CASES)
def test_conv_gradcheck_and_gradgradcheck(fn, shapes, path):
    args = tuple(_d(*s) for s in shapes)
    assert gradcheck(fn, args)
    assert gradgradcheck(fn, args)


def test_only_the_needed_gradients_are_computed():
    x, w = _d(1, 2, 5, 5, rg=False), _d(3, 2, 3, 3)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad is not None
    x2, w2 = _d(1, 2, 5, 5), _d(3, 2, 3, 3, rg=False)
    F.conv2d(x2, w2).sum().backward()
    assert x2.grad is not None and w2.grad is None


def test_weight_gradient_of_3x3_paths_matches_reference(path):
    x = RNG.standard_normal((2, 16, 9, 7)).astype(np.float32)
    w = RNG.standard_normal((16, 16, 3, 3)).astype(np.float32)
    xt, wt = t(x, True), t(w, True)
    y = F.conv2d(xt, wt, padding=1)
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(t(g))
    # dL/dw[o, c, i, j] = sum over n, positions of g * shifted x
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (1, 1), (1, 1)])
    ref = np.zeros(w.shape)
    for i in range(3):
        for j in range(3):
            ref[:, :, i, j] = np.einsum("nohw,nchw->oc", g, xp[:, :, i : i + 9, j : j + 7])
    np.testing.assert_allclose(wt.grad.numpy(), ref, rtol=1e-4, atol=1e-3)
    gx_ref = ref_conv_transpose(g.astype(np.float64), w.astype(np.float64), pad=1)
    np.testing.assert_allclose(xt.grad.numpy(), gx_ref, rtol=1e-4, atol=1e-3)


# --- unfold / fold ------------------------------------------------------------------------------
def test_unfold_matches_windows_and_fold_is_its_adjoint():
    x = RNG.standard_normal((2, 3, 6, 7))
    k, d, p, s = (2, 3), (1, 2), 1, (2, 1)
    cols = F.unfold(t(x), k, dilation=d, padding=p, stride=s)
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    oh = (6 + 2 - 1 * (2 - 1) - 1) // 2 + 1
    ow = (7 + 2 - 2 * (3 - 1) - 1) // 1 + 1
    ref = np.zeros((2, 3, 2, 3, oh, ow))
    for i in range(2):
        for j in range(3):
            ref[:, :, i, j] = xp[:, :, i : i + 2 * (oh - 1) + 1 : 2, j * 2 : j * 2 + ow]
    np.testing.assert_allclose(cols.numpy(), ref.reshape(2, 18, oh * ow), atol=0)
    # <unfold(x), c> == <x, fold(c)>
    c = RNG.standard_normal(cols.shape)
    folded = F.fold(t(c), (6, 7), k, dilation=d, padding=p, stride=s)
    np.testing.assert_allclose((cols.numpy() * c).sum(), (x * folded.numpy()).sum(), rtol=1e-12)
    # fold(unfold(ones)) counts how many windows cover each pixel
    ones = F.fold(F.unfold(torch.ones(1, 1, 4, 4), 2), (4, 4), 2)
    np.testing.assert_allclose(
        ones.numpy()[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]
    )
    assert F.unfold(torch.ones(3, 4, 4), 2).shape == (12, 9)
    assert gradcheck(lambda a: F.unfold(a, 2, padding=1, stride=2), (_d(1, 2, 3, 4),))
    assert gradgradcheck(lambda a: F.fold(a, (3, 4), 2, padding=1, stride=2), (_d(1, 8, 6),))


def test_unfold_fold_errors():
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.unfold(torch.ones(2, 3), 2)
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        F.unfold(torch.ones(1, 2, 3, 4, 5), 2)
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        F.fold(torch.ones(1, 13, 9), (4, 4), 2)
    with pytest.raises(RuntimeError, match="match the calculated number of sliding blocks"):
        F.fold(torch.ones(1, 12, 8), (4, 4), 2)
    with pytest.raises(RuntimeError, match="must be at least one"):
        F.unfold(torch.ones(1, 3, 4, 4), 5)


# --- errors -------------------------------------------------------------------------------------
def test_conv_errors_match_torch():
    x = torch.randn(2, 4, 8, 8)
    with pytest.raises(
        RuntimeError,
        match=r"expected input\[2, 4, 8, 8\] to have 3 channels, "
        r"but got 4 channels instead",
    ):
        F.conv2d(x, torch.randn(6, 3, 3, 3))
    with pytest.raises(RuntimeError, match="not supported for strided convolutions"):
        F.conv2d(x, torch.randn(6, 4, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="Invalid padding string: 'foo'"):
        F.conv2d(x, torch.randn(6, 4, 3, 3), padding="foo")
    with pytest.raises(RuntimeError, match=r"Kernel size: \(9 x 9\). Kernel size can't be"):
        F.conv2d(x, torch.randn(6, 4, 9, 9))
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D \\(batched\\)"):
        F.conv2d(torch.randn(4, 8), torch.randn(6, 4, 3, 3))
    with pytest.raises(RuntimeError, match="should be the same"):
        F.conv2d(x, torch.randn(6, 4, 3, 3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="expected bias to be 1-dimensional with 6 elements"):
        F.conv2d(x, torch.randn(6, 4, 3, 3), torch.randn(5))
    with pytest.raises(RuntimeError, match="non-positive stride"):
        F.conv2d(x, torch.randn(6, 4, 3, 3), stride=0)
    with pytest.raises(RuntimeError, match="negative padding"):
        F.conv2d(x, torch.randn(6, 4, 3, 3), padding=-1)
    with pytest.raises(RuntimeError, match="a list of 2 values"):
        F.conv2d(x, torch.randn(6, 4, 3, 3), stride=(1, 2, 3))
    with pytest.raises(RuntimeError, match="expected weight to be divisible by 2"):
        F.conv2d(x, torch.randn(5, 2, 3, 3), groups=2)
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride"):
        F.conv_transpose2d(x, torch.randn(4, 3, 3, 3), output_padding=1)
    with pytest.raises(RuntimeError, match="Given transposed=1"):
        F.conv_transpose2d(x, torch.randn(3, 3, 3, 3))
    with pytest.raises(TypeError, match="must be tuple of ints, not str"):
        F.conv_transpose2d(x, torch.randn(4, 3, 3, 3), padding="same")
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.conv_transpose2d(torch.randn(1, 2, 5, 5), torch.randn(2, 1, 3, 3), padding=5)


# --- layers ---------------------------------------------------------------------------------------
def test_conv_layers_shapes_repr_and_state_dict():
    m = nn.Conv2d(3, 64, 3, padding=1)
    assert repr(m) == "Conv2d(3, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert list(m.state_dict()) == ["weight", "bias"]
    assert m.weight.shape == (64, 3, 3, 3) and m(torch.randn(2, 3, 8, 8)).shape == (2, 64, 8, 8)
    m2 = nn.Conv2d(3, 6, (3, 5), stride=2, dilation=2, groups=3, bias=False, padding_mode="reflect")
    assert repr(m2) == (
        "Conv2d(3, 6, kernel_size=(3, 5), stride=(2, 2), dilation=(2, 2), "
        "groups=3, bias=False, padding_mode=reflect)"
    )
    assert m2.weight.shape == (6, 1, 3, 5) and m2.bias is None
    m3 = nn.Conv2d(3, 6, 4, padding="same")
    assert repr(m3) == "Conv2d(3, 6, kernel_size=(4, 4), stride=(1, 1), padding=same)"
    assert m3._reversed_padding_repeated_twice == [1, 2, 1, 2]
    mt = nn.ConvTranspose2d(3, 6, 3, stride=2, output_padding=1, groups=3)
    assert repr(mt) == (
        "ConvTranspose2d(3, 6, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1), groups=3)"
    )
    assert mt.weight.shape == (3, 2, 3, 3)
    assert nn.Conv1d(2, 4, 3)(torch.randn(2, 6)).shape == (4, 4)
    assert nn.Conv3d(2, 4, 3, padding=1)(torch.randn(1, 2, 3, 4, 5)).shape == (1, 4, 3, 4, 5)


@pytest.mark.parametrize(
    "cls,shape",
    [(nn.Conv1d, (8, 4, 5)), (nn.Conv2d, (8, 4, 3, 3)), (nn.ConvTranspose2d, (4, 8, 3, 3))],
)
def test_default_initialisation_is_torchs(cls, shape):
    m = cls(4, 8, shape[2:] if len(shape) > 3 else shape[2])
    fan_in = shape[1] * math.prod(shape[2:])
    bound = 1 / math.sqrt(fan_in)
    w = m.weight.detach().numpy()
    # kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert np.abs(w).max() <= bound + 1e-7 and np.abs(w).max() > 0.8 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound + 1e-7
    torch.manual_seed(3)
    a = cls(4, 8, 3).weight.detach().numpy()
    torch.manual_seed(3)
    b = cls(4, 8, 3).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")]
)
def test_conv_padding_modes(mode, np_mode):
    m = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode).double()
    x = RNG.standard_normal((1, 2, 5, 6))
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (2, 2)], mode=np_mode)
    ref = ref_conv(xp, m.weight.detach().numpy(), m.bias.detach().numpy())
    np.testing.assert_allclose(m(t(x)).detach().numpy(), ref, atol=1e-10)


def test_conv_transpose_output_size_and_lazy_layers():
    m = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1)
    x = torch.randn(1, 8, 5, 5)
    assert m(x).shape == (1, 4, 9, 9)
    assert m(x, output_size=(10, 10)).shape == (1, 4, 10, 10)
    assert m(x, output_size=[1, 4, 10, 9]).shape == (1, 4, 10, 9)
    with pytest.raises(ValueError, match="requested an output size of"):
        m(x, output_size=(12, 12))
    lazy = nn.LazyConv2d(6, 3)
    assert lazy(torch.randn(2, 5, 7, 7)).shape == (2, 6, 5, 5)
    assert type(lazy) is nn.Conv2d and lazy.in_channels == 5 and lazy.weight.shape == (6, 5, 3, 3)
    lt = nn.LazyConvTranspose1d(3, 2, stride=2)
    assert lt(torch.randn(1, 4, 5)).shape == (1, 3, 10) and lt.weight.shape == (4, 3, 2)


def test_conv_layer_constructor_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="Invalid padding string 'foo'"):
        nn.Conv2d(4, 6, 3, padding="foo")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(4, 6, 3, padding_mode="foo")
    with pytest.raises(ValueError, match="not supported for strided convolutions"):
        nn.Conv2d(4, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported'):
        nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.Conv2d(4, 6, 3, groups=0)


def test_conv_layer_trains():
    torch.manual_seed(0)
    m = nn.Conv2d(2, 3, 3, padding=1)
    x = torch.randn(4, 2, 6, 6)
    target = F.conv2d(x, torch.randn(3, 2, 3, 3), torch.randn(3), padding=1)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    first = None
    for _ in range(40):
        opt.zero_grad()
        loss = ((m(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.05 * first
