"""interpolate (every mode, align_corners, scale_factor vs size, recompute_scale_factor,
antialias), grid_sample (bilinear / nearest / bicubic with each padding mode), affine_grid,
pixel_shuffle / unshuffle and channel_shuffle against NumPy / SciPy references; gradients by
finite differences; Upsample / PixelShuffle / Fold / ChannelShuffle layers."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import ndimage

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn
from tocha.core.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(3)


def t(a, rg=False):
    return torch.tensor(np.asarray(a), requires_grad=rg)


def _d(*s):
    return torch.tensor(RNG.standard_normal(s), requires_grad=True)


# --- references: one axis at a time ---------------------------------------------------------------
def along(x, axis, fn):
    return np.apply_along_axis(fn, axis, x)


def ref_linear_axis(n_out, align_corners, scale=None):
    def fn(v):
        n = v.shape[0]
        o = np.arange(n_out)
        if align_corners:
            src = o * ((n - 1) / (n_out - 1) if n_out > 1 else 0.0)
        else:
            sc = 1 / scale if scale else n / n_out
            src = np.maximum((o + 0.5) * sc - 0.5, 0)
        return np.interp(src, np.arange(n), v)

    return fn


def ref_nearest_axis(n_out, exact=False):
    def fn(v):
        n = v.shape[0]
        s = np.float32(n) / np.float32(n_out)
        o = np.arange(n_out).astype(np.float32)
        idx = np.floor((o + np.float32(0.5)) * s if exact else o * s).astype(int)
        return v[np.minimum(idx, n - 1)]

    return fn


def keys(x, a=-0.75):
    x = np.abs(x)
    return np.where(
        x <= 1,
        ((a + 2) * x - (a + 3)) * x * x + 1,
        np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0),
    )


def ref_cubic_axis(n_out, align_corners):
    def fn(v):
        n = v.shape[0]
        o = np.arange(n_out)
        if align_corners:
            src = o * ((n - 1) / (n_out - 1) if n_out > 1 else 0.0)
        else:
            src = (o + 0.5) * n / n_out - 0.5
        i0 = np.floor(src).astype(int)
        out = np.zeros(n_out)
        for k in range(-1, 3):
            idx = np.clip(i0 + k, 0, n - 1)
            out += v[idx] * keys(src - (i0 + k))
        return out

    return fn


def ref_area_axis(n_out):
    def fn(v):
        n = v.shape[0]
        return np.array(
            [v[(o * n) // n_out : -(-((o + 1) * n) // n_out)].mean() for o in range(n_out)]
        )

    return fn


def ref_aa_axis(n_out, kind):
    """The antialiased (PIL-style) resampling weights: the filter stretched by the scale."""
    interp = {"bilinear": 2, "bicubic": 4, "lanczos": 6}[kind]

    def filt(x):
        if kind == "bilinear":
            return np.maximum(0.0, 1 - np.abs(x))
        if kind == "lanczos":  # lanczos-3: sinc(x) sinc(x/3) on |x| < 3
            return np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)
        return keys(x, -0.5)

    def fn(v):
        n = v.shape[0]
        scale = n / n_out
        support = interp / 2 * max(scale, 1.0)
        out = np.zeros(n_out)
        for o in range(n_out):
            center = scale * (o + 0.5)
            lo = max(int(center - support + 0.5), 0)
            hi = min(int(center + support + 0.5), n)
            w = filt((np.arange(lo, hi) - center + 0.5) / max(scale, 1.0))
            out[o] = (v[lo:hi] * w).sum() / w.sum()
        return out

    return fn


def separable(x, fns):
    for i, fn in enumerate(fns):
        x = along(x, 2 + i, fn)
    return x


# --- interpolate ------------------------------------------------------------------------------------
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize(
    "shape,size", [((2, 3, 7), (11,)), ((2, 3, 5, 7), (9, 4)), ((1, 2, 3, 4, 5), (5, 7, 3))]
)
def test_linear_modes(shape, size, align_corners):
    x = RNG.standard_normal(shape)
    mode = {3: "linear", 4: "bilinear", 5: "trilinear"}[len(shape)]
    y = F.interpolate(t(x), size=size, mode=mode, align_corners=align_corners)
    ref = separable(x, [ref_linear_axis(s, align_corners) for s in size])
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-12)
    small = (1, 1) + tuple(min(s, 4) for s in shape[2:])

    def f(z):
        return F.interpolate(z, size=size, mode=mode, align_corners=align_corners)

    assert gradcheck(f, (_d(*small),)) and gradgradcheck(f, (_d(*small),))


def test_scale_factor_and_recompute_scale_factor():
    x = RNG.standard_normal((1, 1, 5))
    # without recompute the kernel uses 1/scale_factor, with it the ratio of the sizes
    y = F.interpolate(t(x), scale_factor=1.5, mode="linear")
    np.testing.assert_allclose(
        y.numpy(), separable(x, [ref_linear_axis(7, False, 1.5)]), atol=1e-12
    )
    y2 = F.interpolate(t(x), scale_factor=1.5, mode="linear", recompute_scale_factor=True)
    np.testing.assert_allclose(y2.numpy(), separable(x, [ref_linear_axis(7, False)]), atol=1e-12)
    assert not np.allclose(y.numpy(), y2.numpy())
    assert F.interpolate(torch.ones(1, 1, 4, 6), scale_factor=(0.5, 2)).shape == (1, 1, 2, 12)


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize(
    "shape,size",
    [
        ((2, 3, 7), (11,)),
        ((2, 3, 5, 7), (9, 3)),
        ((1, 2, 3, 4, 5), (6, 2, 7)),
        ((1, 1, 4, 6), (8, 12)),
    ],
)
def test_nearest_modes(shape, size, exact):
    x = RNG.standard_normal(shape)
    mode = "nearest-exact" if exact else "nearest"
    y = F.interpolate(t(x), size=size, mode=mode)
    np.testing.assert_array_equal(
        y.numpy(), separable(x, [ref_nearest_axis(s, exact) for s in size])
    )
    small = (1, 1) + tuple(min(s, 4) for s in shape[2:])

    def f(z):
        return F.interpolate(z, size=size, mode=mode)

    assert gradcheck(f, (_d(*small),)) and gradgradcheck(f, (_d(*small),))
    xi = torch.arange(6).view(1, 1, 6)
    assert F.interpolate(xi, size=3).tolist() == [[[0, 2, 4]]]


@pytest.mark.parametrize("align_corners", [False, True])
def test_bicubic(align_corners):
    x = RNG.standard_normal((2, 2, 5, 6))
    y = F.interpolate(t(x), size=(8, 4), mode="bicubic", align_corners=align_corners)
    ref = separable(x, [ref_cubic_axis(8, align_corners), ref_cubic_axis(4, align_corners)])
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-12)

    def f(z):
        return F.interpolate(z, size=(5, 3), mode="bicubic", align_corners=align_corners)

    assert gradcheck(f, (_d(1, 1, 3, 4),)) and gradgradcheck(f, (_d(1, 1, 3, 4),))


@pytest.mark.parametrize(
    "shape,size", [((2, 3, 7), (3,)), ((2, 3, 9, 10), (4, 3)), ((1, 2, 5, 6, 7), (2, 3, 4))]
)
def test_area(shape, size):
    x = RNG.standard_normal(shape)
    y = F.interpolate(t(x), size=size, mode="area")
    np.testing.assert_allclose(
        y.numpy(), separable(x, [ref_area_axis(s) for s in size]), atol=1e-12
    )


@pytest.mark.parametrize("kind", ["bilinear", "bicubic", "lanczos"])
@pytest.mark.parametrize("size", [(3, 4), (5, 6), (9, 13)])
def test_antialias(kind, size):
    x = RNG.standard_normal((1, 2, 11, 14))
    y = F.interpolate(t(x), size=size, mode=kind, antialias=True)
    ref = separable(x, [ref_aa_axis(size[0], kind), ref_aa_axis(size[1], kind)])
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-12)

    def f(z):
        return F.interpolate(z, size=(2, 3), mode=kind, antialias=True)

    assert gradcheck(f, (_d(1, 1, 5, 6),))


def test_interpolate_float32_and_errors():
    x = RNG.standard_normal((1, 2, 6, 7)).astype(np.float32)
    y = F.interpolate(t(x), scale_factor=2, mode="bilinear")
    assert y.dtype == torch.float32
    ref = separable(x.astype(np.float64), [ref_linear_axis(12, False), ref_linear_axis(14, False)])
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-6)
    z = torch.ones(1, 2, 5, 5)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(z, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(z, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(z)
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        F.interpolate(z, size=(3, 3, 3))
    with pytest.raises(NotImplementedError, match="Got 4D input, but linear mode needs 3D"):
        F.interpolate(z, size=3, mode="linear")
    with pytest.raises(NotImplementedError, match="Only 3D, 4D and 5D input"):
        F.interpolate(z, size=3, mode="foo")
    with pytest.raises(ValueError, match="Anti-alias option is restricted"):
        F.interpolate(z, size=3, antialias=True)
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful"):
        F.interpolate(z, size=3, recompute_scale_factor=True)
    with pytest.raises(ValueError, match="Lanczos mode requires antialias=True"):
        F.interpolate(z, size=3, mode="lanczos")
    with pytest.raises(ValueError, match="does not support align_corners=True"):
        F.interpolate(z, size=3, mode="lanczos", antialias=True, align_corners=True)


# --- grid_sample / affine_grid ------------------------------------------------------------------
def _unnorm(g, n, ac):
    return (g + 1) / 2 * (n - 1) if ac else ((g + 1) * n - 1) / 2


SCIPY_MODE = {
    ("zeros", False): "grid-constant",
    ("zeros", True): "grid-constant",
    ("border", False): "nearest",
    ("border", True): "nearest",
    ("reflection", False): "reflect",
    ("reflection", True): "mirror",
}


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_bilinear_matches_scipy(padding_mode, align_corners):
    x = RNG.standard_normal((2, 3, 5, 6))
    g = RNG.uniform(-1.4, 1.4, (2, 4, 7, 2))
    y = F.grid_sample(t(x), t(g), padding_mode=padding_mode, align_corners=align_corners)
    ref = np.zeros((2, 3, 4, 7))
    for n in range(2):
        iy = _unnorm(g[n, ..., 1], 5, align_corners)
        ix = _unnorm(g[n, ..., 0], 6, align_corners)
        for c in range(3):
            ref[n, c] = ndimage.map_coordinates(
                x[n, c], [iy, ix], order=1, mode=SCIPY_MODE[(padding_mode, align_corners)]
            )
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-10)

    def f(a, b):
        return F.grid_sample(
            a,
            b,
            padding_mode=padding_mode,
            align_corners=align_corners,
        )

    gg = torch.tensor(RNG.uniform(-1.2, 1.2, (1, 2, 3, 2)), requires_grad=True)
    assert gradcheck(f, (_d(1, 2, 3, 4), gg))


def _cubic_ref(img, iy, ix, padding_mode, ac):
    H, W = img.shape  # noqa: N806

    def coord(c, n):
        if padding_mode == "border":
            return np.clip(c, 0, n - 1)
        if padding_mode == "reflection":
            lo, span = (0.0, n - 1.0) if ac else (-0.5, float(n))
            if span <= 0:
                return 0.0
            c = abs(c - lo)
            flips = math.floor(c / span)
            extra = c - flips * span
            c = extra + lo if flips % 2 == 0 else span - extra + lo
            return np.clip(c, 0, n - 1)
        return c

    def val(yy, xx):
        yy, xx = coord(yy, H), coord(xx, W)
        yi, xi = int(yy), int(xx)
        return img[yi, xi] if 0 <= yi < H and 0 <= xi < W else 0.0

    y0, x0 = math.floor(iy), math.floor(ix)
    ty, tx = iy - y0, ix - x0
    return sum(
        val(y0 - 1 + a, x0 - 1 + b) * keys(ty - (a - 1)) * keys(tx - (b - 1))
        for a in range(4)
        for b in range(4)
    )


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_nearest_and_bicubic(padding_mode, align_corners):
    x = RNG.standard_normal((1, 2, 5, 6))
    g = RNG.uniform(-1.3, 1.3, (1, 3, 4, 2))
    yn = F.grid_sample(
        t(x), t(g), mode="nearest", padding_mode=padding_mode, align_corners=align_corners
    ).numpy()
    yc = F.grid_sample(
        t(x), t(g), mode="bicubic", padding_mode=padding_mode, align_corners=align_corners
    ).numpy()
    for i in range(3):
        for j in range(4):
            iy = _unnorm(g[0, i, j, 1], 5, align_corners)
            ix = _unnorm(g[0, i, j, 0], 6, align_corners)
            for c in range(2):
                np.testing.assert_allclose(
                    yc[0, c, i, j],
                    _cubic_ref(x[0, c], iy, ix, padding_mode, align_corners),
                    atol=1e-10,
                )
            if padding_mode == "zeros":
                ry, rx = np.rint(iy), np.rint(ix)
                ok = 0 <= ry < 5 and 0 <= rx < 6
                ref = x[0, :, int(ry), int(rx)] if ok else np.zeros(2)
                np.testing.assert_array_equal(yn[0, :, i, j], ref)
    gg = torch.tensor(RNG.uniform(-1.2, 1.2, (1, 2, 2, 2)), requires_grad=True)

    def f(a, b):
        return F.grid_sample(
            a,
            b,
            mode="bicubic",
            padding_mode=padding_mode,
            align_corners=align_corners,
        )

    assert gradcheck(f, (_d(1, 1, 3, 4), gg))
    b = torch.tensor(g, requires_grad=True)
    F.grid_sample(t(x), b, mode="nearest", align_corners=align_corners).sum().backward()
    assert b.grad is not None and not b.grad.numpy().any()


def test_grid_sample_3d_and_errors():
    x = RNG.standard_normal((1, 2, 3, 4, 5))
    g = RNG.uniform(-1, 1, (1, 2, 3, 4, 3))
    y = F.grid_sample(t(x), t(g), align_corners=True)
    for c in range(2):
        ref = ndimage.map_coordinates(
            x[0, c],
            [(g[0, ..., 2] + 1) / 2 * 2, (g[0, ..., 1] + 1) / 2 * 3, (g[0, ..., 0] + 1) / 2 * 4],
            order=1,
        )
        np.testing.assert_allclose(y.numpy()[0, c], ref, atol=1e-10)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(t(x[:, :, 0]), t(g[:, :, :, :, :2][:, 0]))
    with pytest.raises(ValueError, match="expected mode to be 'bilinear'"):
        F.grid_sample(t(x), t(g), mode="foo", align_corners=False)
    with pytest.raises(RuntimeError, match="bicubic interpolation only supports 4D input"):
        F.grid_sample(t(x), t(g), mode="bicubic", align_corners=False)
    with pytest.raises(RuntimeError, match="expected grid to have size 3 in last dimension"):
        F.grid_sample(t(x), t(g[..., :2]), align_corners=False)


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid(align_corners):
    theta = RNG.standard_normal((2, 2, 3))
    grid = F.affine_grid(t(theta), (2, 3, 4, 5), align_corners=align_corners).numpy()

    def base(n):
        v = np.linspace(-1, 1, n)
        return v if align_corners else v * (n - 1) / n

    ys, xs = np.meshgrid(base(4), base(5), indexing="ij")
    pts = np.stack([xs, ys, np.ones_like(xs)], -1)
    ref = np.einsum("hwk,nck->nhwc", pts, theta)
    np.testing.assert_allclose(grid, ref, atol=1e-12)
    theta3 = RNG.standard_normal((1, 3, 4))
    g3 = F.affine_grid(t(theta3), (1, 1, 2, 3, 4), align_corners=align_corners)
    assert g3.shape == (1, 2, 3, 4, 3)

    def f(a):
        return F.affine_grid(a, (2, 1, 3, 2), align_corners=align_corners)

    assert gradcheck(f, (torch.tensor(theta, requires_grad=True),))
    # the identity transform resamples an image onto itself
    img = t(RNG.standard_normal((1, 1, 4, 5)))
    eye = t(np.array([[[1.0, 0, 0], [0, 1.0, 0]]]))
    same = F.grid_sample(
        img,
        F.affine_grid(eye, (1, 1, 4, 5), align_corners=align_corners),
        align_corners=align_corners,
    )
    np.testing.assert_allclose(same.numpy(), img.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="Nx2x3"):
        F.affine_grid(t(RNG.standard_normal((1, 3, 3))), (1, 2, 4, 5), align_corners=False)


# --- shuffles -----------------------------------------------------------------------------------------
def test_pixel_shuffle_unshuffle_and_channel_shuffle():
    x = RNG.standard_normal((2, 12, 3, 4))
    y = F.pixel_shuffle(t(x), 2).numpy()
    ref = np.zeros((2, 3, 6, 8))
    for c in range(3):
        for i in range(2):
            for j in range(2):
                ref[:, c, i::2, j::2] = x[:, c * 4 + i * 2 + j]
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(F.pixel_unshuffle(t(y), 2).numpy(), x)
    assert F.pixel_shuffle(torch.randn(5, 2, 9, 3, 4), 3).shape == (5, 2, 1, 9, 12)
    cs = F.channel_shuffle(t(x), 3).numpy()
    np.testing.assert_array_equal(
        cs, x.reshape(2, 3, 4, 3, 4).transpose(0, 2, 1, 3, 4).reshape(2, 12, 3, 4)
    )
    assert gradcheck(lambda a: F.pixel_shuffle(a, 2), (_d(1, 8, 2, 3),))
    assert gradcheck(lambda a: F.channel_shuffle(a, 2), (_d(1, 4, 3),))
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(torch.randn(1, 6, 2, 2), 2)
    with pytest.raises(RuntimeError, match="height to be divisible by downscale_factor"):
        F.pixel_unshuffle(torch.randn(1, 2, 5, 4), 2)
    with pytest.raises(RuntimeError, match="Number of channels must be divisible by groups"):
        F.channel_shuffle(torch.randn(1, 6, 2, 2), 4)


def test_vision_layers():
    up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
    assert repr(up) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert repr(nn.Upsample(size=3)) == "Upsample(size=3, mode='nearest')"
    x = RNG.standard_normal((1, 2, 3, 4))
    ref = separable(x, [ref_linear_axis(6, True), ref_linear_axis(8, True)])
    np.testing.assert_allclose(up(t(x)).numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(
        nn.UpsamplingBilinear2d(scale_factor=2)(t(x)).numpy(), ref, atol=1e-12
    )
    assert nn.UpsamplingNearest2d(size=(6, 8))(t(x)).shape == (1, 2, 6, 8)
    assert repr(nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"
    assert nn.PixelUnshuffle(2)(torch.randn(1, 1, 4, 4)).shape == (1, 4, 2, 2)
    assert repr(nn.ChannelShuffle(2)) == "ChannelShuffle(groups=2)"
    assert repr(nn.Fold(4, 2)) == (
        "Fold(output_size=4, kernel_size=2, dilation=1, padding=0, stride=1)"
    )
    u = nn.Unfold(2, padding=1)(torch.randn(1, 3, 4, 4))
    assert u.shape == (1, 12, 25)
    assert nn.Fold((4, 4), 2, padding=1)(u).shape == (1, 3, 4, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.interpolate(t(x), scale_factor=2)  # no deprecation warning for interpolate
    with pytest.warns(UserWarning, match="deprecated"):
        F.upsample(t(x), scale_factor=2)
