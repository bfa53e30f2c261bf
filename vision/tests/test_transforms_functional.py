"""transforms.v2.functional against Pillow, NumPy and per-pixel reference implementations."""

from __future__ import annotations

import colorsys
import importlib.util
import math
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageEnhance
import PIL.ImageOps
import pytest

import tocha.core as torch
from tocha.vision.transforms import InterpolationMode
from tocha.vision.transforms import functional as F1
from tocha.vision.transforms.v2 import functional as F


def _photo(name):
    spec = importlib.util.find_spec("skimage")
    if spec is None:
        pytest.skip("scikit-image (its photos are the test images) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "data" / name
    return PIL.Image.open(path).convert("RGB")


@pytest.fixture(scope="module", params=["chelsea.png", "astronaut.png"])
def photo(request):
    img = _photo(request.param)
    if img.width > 300:  # keep the tests quick: a 256 x 256 crop of astronaut
        img = img.crop((100, 0, 356, 256))
    return img


def _chw(pil):
    a = np.asarray(pil)
    return a.transpose(2, 0, 1) if a.ndim == 3 else a[None]


def _maxdiff(a, b):
    return int(np.abs(np.asarray(a, dtype=np.int64) - np.asarray(b, dtype=np.int64)).max())


# ----------------------------------------------------------------------------- resize


SIZES = [(224, 224), (100, 377), (517, 403), (37, 12)]


@pytest.mark.parametrize("mode", [InterpolationMode.BILINEAR, InterpolationMode.BICUBIC])
@pytest.mark.parametrize("size", SIZES)
def test_resize_uint8_tensor_matches_pillow_within_one(photo, mode, size):
    out = F.resize(F.pil_to_tensor(photo), list(size), interpolation=mode, antialias=True)
    ref = photo.resize(size[::-1], resample=PIL.Image.Resampling[mode.name])
    assert out.dtype == torch.uint8 and tuple(out.shape) == (3, *size)
    diff = np.abs(out.numpy().astype(int) - _chw(ref))
    if mode == InterpolationMode.BILINEAR:
        assert diff.max() <= 1
    else:
        # Same coefficients and rounding as Pillow, horizontal pass first like torch; Pillow 13
        # sometimes runs the vertical pass first, and where bicubic overshoot was clipped in its
        # uint8 intermediate a few pixels differ by more (torch's own float path: up to 5).
        assert (diff <= 1).mean() > 0.999 and diff.max() <= 5


@pytest.mark.parametrize("mode", [InterpolationMode.BILINEAR, InterpolationMode.BICUBIC])
def test_resize_single_axis_uint8_equals_pillow(photo, mode):
    # One pass only: Pillow's fixed-point coefficients are reproduced exactly.
    h, w = photo.height, photo.width
    t = F.pil_to_tensor(photo)
    pm = PIL.Image.Resampling[mode.name]
    for size in [(h, w // 3), (h // 2, w), (h, w * 2 - 1)]:
        ref = _chw(photo.resize(size[::-1], resample=pm))
        np.testing.assert_array_equal(F.resize(t, list(size), mode).numpy(), ref)


@pytest.mark.parametrize("mode", [InterpolationMode.BILINEAR, InterpolationMode.BICUBIC])
def test_resize_float_tensor_matches_pillow(photo, mode):
    t = F.to_dtype(F.pil_to_tensor(photo), torch.float32, scale=True)
    out = F.resize(t, [150, 101], mode)
    assert out.dtype == torch.float32
    ref = _chw(photo.resize((101, 150), resample=PIL.Image.Resampling[mode.name]))
    # Pillow rounds and clips its uint8 intermediate; the float path does neither (bicubic
    # overshoots [0, 1] as torch's does), so compare clipped values, allowing rare outliers
    # where Pillow clipped the intermediate.
    diff = np.abs(np.clip(out.numpy(), 0, 1) * 255 - ref)
    assert (diff <= 1).mean() > 0.999


def test_resize_pil_input_is_pillows_resize(photo):
    out = F.resize(photo, [120, 80], InterpolationMode.BICUBIC)
    assert isinstance(out, PIL.Image.Image)
    ref = photo.resize((80, 120), resample=PIL.Image.Resampling.BICUBIC)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


def test_resize_nearest_exact_is_pixel_centre_sampling(photo):
    t = F.pil_to_tensor(photo)
    a = t.numpy()
    h, w = a.shape[1:]
    for size in [(91, 130), (400, 333)]:
        out = F.resize(t, list(size), InterpolationMode.NEAREST_EXACT).numpy()
        rows = np.minimum(((np.arange(size[0]) + 0.5) * h / size[0]).astype(int), h - 1)
        cols = np.minimum(((np.arange(size[1]) + 0.5) * w / size[1]).astype(int), w - 1)
        np.testing.assert_array_equal(out, a[:, rows][:, :, cols])


def _interp_reference(a, oh, ow, mode):
    """Per-pixel F.interpolate(align_corners=False), straight from the formulas."""
    h, w = a.shape[-2:]
    out = np.zeros(a.shape[:-2] + (oh, ow))

    def cubic(x, A=-0.75):
        x = abs(x)
        if x < 1:
            return ((A + 2) * x - (A + 3)) * x * x + 1
        if x < 2:
            return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
        return 0.0

    for i in range(oh):
        for j in range(ow):
            if mode == "nearest":
                out[..., i, j] = a[..., min(int(i * h / oh), h - 1), min(int(j * w / ow), w - 1)]
            elif mode == "bilinear":
                sy = max((i + 0.5) * h / oh - 0.5, 0.0)
                sx = max((j + 0.5) * w / ow - 0.5, 0.0)
                y0, x0 = int(sy), int(sx)
                y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
                ly, lx = sy - y0, sx - x0
                out[..., i, j] = (1 - ly) * (
                    (1 - lx) * a[..., y0, x0] + lx * a[..., y0, x1]
                ) + ly * ((1 - lx) * a[..., y1, x0] + lx * a[..., y1, x1])
            else:
                sy = (i + 0.5) * h / oh - 0.5
                sx = (j + 0.5) * w / ow - 0.5
                y, x = math.floor(sy), math.floor(sx)
                acc = 0.0
                for dy in range(-1, 3):
                    for dx in range(-1, 3):
                        yy, xx = min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)
                        acc = acc + cubic(sy - (y + dy)) * cubic(sx - (x + dx)) * a[..., yy, xx]
                out[..., i, j] = acc
    return out


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
@pytest.mark.parametrize("size", [(7, 5), (13, 17), (4, 11)])
def test_resize_without_antialias_is_interpolate(mode, size):
    rng = np.random.default_rng(0)
    a = rng.random((2, 9, 8)).astype(np.float32)
    out = F.resize(torch.from_numpy(a), list(size), InterpolationMode(mode), antialias=False)
    np.testing.assert_allclose(out.numpy(), _interp_reference(a, *size, mode), atol=1e-5)


def test_resize_bilinear_halving_without_antialias_averages_blocks():
    a = np.arange(2 * 8 * 6, dtype=np.float64).reshape(2, 8, 6) ** 1.5
    out = F.resize(torch.from_numpy(a), [4, 3], antialias=False).numpy()
    ref = a.reshape(2, 4, 2, 3, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_resize_size_rules():
    t = torch.zeros(3, 300, 451, dtype=torch.uint8)
    assert F.get_size(F.resize(t, 224)) == [224, int(224 * 451 / 300)]
    assert F.get_size(F.resize(t, [224])) == [224, 336]
    assert F.get_size(F.resize(t, 224, max_size=300)) == [int(300 * 224 / 336), 300]
    assert F.get_size(F.resize(t, None, max_size=100)) == [66, 100]
    assert F.get_size(F.resize(torch.zeros(1, 400, 100), 50)) == [200, 50]
    with pytest.raises(ValueError, match="max_size"):
        F.resize(t, 224, max_size=200)
    with pytest.raises(ValueError, match="max_size"):
        F.resize(t, [10, 20], max_size=200)


def test_resize_batched_and_2d_inputs():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (2, 3, 20, 30), dtype=np.uint8)
    out = F.resize(torch.from_numpy(a), [10, 12]).numpy()
    for k in range(2):
        ref = F.resize(torch.from_numpy(a[k]), [10, 12]).numpy()
        np.testing.assert_array_equal(out[k], ref)
    assert tuple(F.resize(torch.from_numpy(a[0, 0]), [5, 6]).shape) == (5, 6)


def test_resize_rejects_pillow_only_modes_on_tensors():
    with pytest.raises(ValueError, match="lanczos"):
        F.resize(torch.zeros(1, 4, 4), [2, 2], InterpolationMode.LANCZOS)
    out = F.resize(PIL.Image.new("RGB", (4, 4)), [2, 2], InterpolationMode.LANCZOS)
    assert out.size == (2, 2)


# ----------------------------------------------------------------------------- crop, pad, flip


def test_crop_center_crop_flip_exact(photo):
    t = F.pil_to_tensor(photo)
    a = t.numpy()
    np.testing.assert_array_equal(F.crop(t, 10, 20, 30, 40).numpy(), a[:, 10:40, 20:60])
    np.testing.assert_array_equal(_chw(F.crop(photo, 10, 20, 30, 40)), a[:, 10:40, 20:60])
    for size in [(100, 101), (99, 1), 57]:
        ct, cp = F.center_crop(t, size), F.center_crop(photo, size)
        np.testing.assert_array_equal(ct.numpy(), _chw(cp))
    h, w = a.shape[1:]
    top, left = int(round((h - 57) / 2)), int(round((w - 57) / 2))
    np.testing.assert_array_equal(
        F.center_crop(t, 57).numpy(), a[:, top : top + 57, left : left + 57]
    )
    np.testing.assert_array_equal(F.horizontal_flip(t).numpy(), a[:, :, ::-1])
    np.testing.assert_array_equal(F.vertical_flip(t).numpy(), a[:, ::-1])
    np.testing.assert_array_equal(_chw(F.hflip(photo)), a[:, :, ::-1])
    np.testing.assert_array_equal(_chw(F1.vflip(photo)), a[:, ::-1])


def test_crop_outside_is_zero_padded_like_pillow():
    img = PIL.Image.fromarray(np.arange(1, 13, dtype=np.uint8).reshape(3, 4))
    t = F.pil_to_tensor(img)
    for box in [(-1, -2, 4, 5), (2, 1, 3, 6)]:
        np.testing.assert_array_equal(F.crop(t, *box).numpy(), _chw(F.crop(img, *box)))


def test_center_crop_larger_than_image_pads():
    t = torch.ones(1, 2, 3, dtype=torch.uint8)
    out = F.center_crop(t, [4, 6]).numpy()[0]
    ref = np.zeros((4, 6), np.uint8)
    ref[1:3, 1:4] = 1
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(
        _chw(F.center_crop(PIL.Image.fromarray(ref[1:3, 1:4]), [4, 6]))[0], ref
    )


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
@pytest.mark.parametrize("padding", [2, [1, 3], [1, 2, 3, 0]])
def test_pad_modes_match_numpy(mode, padding):
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (3, 5, 6), dtype=np.uint8)
    p = [padding] * 4 if isinstance(padding, int) else padding
    p = p * 2 if len(p) == 2 else p
    left, top, right, bottom = p
    kw = {"constant_values": 7} if mode == "constant" else {}
    ref = np.pad(a, [(0, 0), (top, bottom), (left, right)], mode=mode, **kw)
    fill = 7 if mode == "constant" else None
    np.testing.assert_array_equal(F.pad(torch.from_numpy(a), padding, fill, mode).numpy(), ref)
    pil = PIL.Image.fromarray(a.transpose(1, 2, 0))
    np.testing.assert_array_equal(_chw(F.pad(pil, padding, fill, mode)), ref)


def test_pad_fill_per_channel_and_pillow_expand():
    img = PIL.Image.fromarray(np.full((2, 2, 3), 9, np.uint8))
    out = F.pad(F.pil_to_tensor(img), [1, 2], fill=[10, 20, 30]).numpy()
    ref = _chw(PIL.ImageOps.expand(img, border=(1, 2, 1, 2), fill=(10, 20, 30)))
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(_chw(F.pad(img, [1, 2], fill=(10, 20, 30))), ref)


def test_pad_errors_and_negative_padding():
    t = torch.arange(12).reshape(1, 3, 4)
    with pytest.raises(ValueError, match="padding_mode"):
        F.pad(t, 1, padding_mode="wrap")
    with pytest.raises(ValueError, match="reflect"):
        F.pad(t, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding"):
        F.pad(t, [1, 2, 3])
    np.testing.assert_array_equal(F.pad(t, [-1, 0, 0, -1]).numpy(), t.numpy()[:, :2, 1:])


# ----------------------------------------------------------------------------- conversions


def test_conversions_roundtrip(photo):
    t = F.pil_to_tensor(photo)
    assert t.dtype == torch.uint8 and tuple(t.shape) == (3, photo.height, photo.width)
    np.testing.assert_array_equal(np.asarray(F.to_pil_image(t)), np.asarray(photo))
    x = F1.to_tensor(photo)
    assert x.dtype == torch.float32
    np.testing.assert_allclose(x.numpy(), t.numpy() / 255.0, rtol=1e-6)
    back = F.to_pil_image(x)  # floats are scaled by 255 and truncated, as torchvision does
    assert _maxdiff(np.asarray(back), np.asarray(photo)) <= 1
    img = F.to_image(np.asarray(photo))
    np.testing.assert_array_equal(img.numpy(), t.numpy())
    np.testing.assert_array_equal(F.to_image(photo).numpy(), t.numpy())
    gray = PIL.Image.fromarray(np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert tuple(F.pil_to_tensor(gray).shape) == (1, 2, 3)
    assert F.to_pil_image(F.pil_to_tensor(gray)).mode == "L"
    assert F.to_pil_image(torch.zeros(1, 2, 2)).mode == "L"
    assert F.to_pil_image(torch.zeros(1, 2, 2), mode="F").mode == "F"
    assert F.to_pil_image(torch.zeros(4, 2, 2, dtype=torch.uint8)).mode == "RGBA"
    with pytest.raises(TypeError, match="pil_to_tensor"):
        F.pil_to_tensor(t)


def test_to_dtype_scaling():
    u8 = torch.tensor([0, 1, 128, 255], dtype=torch.uint8)
    np.testing.assert_allclose(
        F.to_dtype(u8, torch.float32, scale=True).numpy(), np.array([0, 1, 128, 255]) / 255
    )
    assert F.to_dtype(u8, torch.float32).tolist() == [0.0, 1.0, 128.0, 255.0]
    f = torch.tensor([0.0, 0.5, 0.999, 1.0])
    assert F.to_dtype(f, torch.uint8, scale=True).tolist() == [0, 127, 255, 255]
    assert F.to_dtype(u8, torch.int16, scale=True).tolist() == [0, 128, 128 * 128, 255 * 128]
    i16 = torch.tensor([0, 256, 32767], dtype=torch.int16)
    assert F.to_dtype(i16, torch.uint8, scale=True).tolist() == [0, 2, 255]
    assert F.convert_image_dtype(u8).dtype == torch.float32


def test_normalize():
    rng = np.random.default_rng(3)
    a = rng.random((2, 3, 4, 5)).astype(np.float32)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    out = F.normalize(torch.from_numpy(a), mean, std).numpy()
    ref = (a - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    t = torch.from_numpy(a.copy())
    assert F.normalize(t, mean, std, inplace=True) is t
    np.testing.assert_allclose(t.numpy(), ref, rtol=1e-6)
    with pytest.raises(TypeError, match="float"):
        F.normalize(torch.zeros(3, 2, 2, dtype=torch.uint8), mean, std)
    with pytest.raises(ValueError, match="std"):
        F.normalize(torch.zeros(3, 2, 2), mean, [1.0, 0.0, 1.0])


# ----------------------------------------------------------------------------- colour


def test_grayscale_matches_pillow_within_one(photo):
    t = F.pil_to_tensor(photo)
    g = F.rgb_to_grayscale(t)
    assert tuple(g.shape) == (1, photo.height, photo.width)
    assert _maxdiff(g.numpy(), _chw(photo.convert("L"))) <= 1
    g3 = F.rgb_to_grayscale(t, num_output_channels=3).numpy()
    np.testing.assert_array_equal(g3, np.repeat(g.numpy(), 3, axis=0))
    assert F.rgb_to_grayscale(photo, 3).mode == "RGB"
    f = F.rgb_to_grayscale(F.to_dtype(t, torch.float32, scale=True)).numpy()
    ref = (0.2989 * t.numpy()[0] + 0.587 * t.numpy()[1] + 0.114 * t.numpy()[2]) / 255
    np.testing.assert_allclose(f[0], ref, atol=1e-6)


ENHANCERS = {
    "adjust_brightness": PIL.ImageEnhance.Brightness,
    "adjust_contrast": PIL.ImageEnhance.Contrast,
    "adjust_saturation": PIL.ImageEnhance.Color,
}


@pytest.mark.parametrize("name", sorted(ENHANCERS))
@pytest.mark.parametrize("factor", [0.0, 0.3, 0.9, 1.0, 1.4, 2.0])
def test_color_ops_match_pillow_within_one(photo, name, factor):
    fn = getattr(F, name)
    out = fn(F.pil_to_tensor(photo), factor)
    ref = ENHANCERS[name](photo).enhance(factor)
    assert out.dtype == torch.uint8
    # torchvision floors the luma where Pillow rounds it: factors up to 2 keep within 1 level.
    assert _maxdiff(out.numpy(), _chw(ref)) <= 1
    np.testing.assert_array_equal(np.asarray(fn(photo, factor)), np.asarray(ref))


def test_color_ops_float_formulas():
    rng = np.random.default_rng(4)
    a = rng.random((3, 6, 7))
    t = torch.from_numpy(a)
    gray = 0.2989 * a[0] + 0.587 * a[1] + 0.114 * a[2]
    np.testing.assert_allclose(F.adjust_brightness(t, 1.7).numpy(), np.clip(a * 1.7, 0, 1))
    np.testing.assert_allclose(
        F.adjust_contrast(t, 0.6).numpy(), np.clip(0.6 * a + 0.4 * gray.mean(), 0, 1)
    )
    np.testing.assert_allclose(
        F.adjust_saturation(t, 1.8).numpy(), np.clip(1.8 * a - 0.8 * gray, 0, 1)
    )
    with pytest.raises(ValueError, match="non-negative"):
        F.adjust_brightness(t, -0.1)
    with pytest.raises(TypeError, match="channels"):
        F.adjust_contrast(torch.zeros(2, 3, 3), 0.5)


@pytest.mark.parametrize("hue", [-0.5, -0.2, 0.0, 0.07, 0.3, 0.5])
def test_adjust_hue_against_colorsys(hue):
    rng = np.random.default_rng(5)
    a = rng.random((3, 5, 6))
    out = F.adjust_hue(torch.from_numpy(a), hue).numpy()
    ref = np.empty_like(a)
    for i in range(5):
        for j in range(6):
            h, s, v = colorsys.rgb_to_hsv(*a[:, i, j])
            ref[:, i, j] = colorsys.hsv_to_rgb((h + hue) % 1.0, s, v)
    np.testing.assert_allclose(out, ref, atol=1e-9)


def test_adjust_hue_uint8(photo):
    t = F.pil_to_tensor(photo)
    a = t.numpy()[:, :40, :40]
    out = F.adjust_hue(torch.from_numpy(a.copy()), 0.25).numpy()
    ref = np.empty_like(a)
    for i in range(40):
        for j in range(40):
            h, s, v = colorsys.rgb_to_hsv(*(a[:, i, j] / 255.0))
            rgb = np.array(colorsys.hsv_to_rgb((h + 0.25) % 1.0, s, v))
            ref[:, i, j] = (rgb * (255 + 1 - 1e-3)).astype(np.uint8)
    assert _maxdiff(out, ref) <= 1
    # Pillow's path goes through its 8-bit HSV image, so it is only close to the tensor path.
    pil_out = _chw(F.adjust_hue(photo, 0.25))
    assert np.abs(pil_out.astype(int) - F.adjust_hue(t, 0.25).numpy()).mean() < 2.0
    with pytest.raises(ValueError, match=r"\[-0.5, 0.5\]"):
        F.adjust_hue(t, 0.6)


def test_errors_name_the_function():
    with pytest.raises(TypeError, match="horizontal_flip"):
        F.horizontal_flip([1, 2, 3])
    with pytest.raises(TypeError, match="resize"):
        F.resize("x", 3)


def test_pil_modes_to_tensor():
    expected = {
        "1": (torch.float32, torch.bool),
        "L": (torch.float32, torch.uint8),
        "I": (torch.int32, torch.int32),
        "F": (torch.float32, torch.float32),
        "I;16": (torch.int16, torch.int32),
    }
    for mode, (classic, plain) in expected.items():
        im = PIL.Image.new(mode, (3, 2), 1)
        assert F.to_tensor(im).dtype == classic and tuple(F.to_tensor(im).shape) == (1, 2, 3)
        assert F.pil_to_tensor(im).dtype == plain
    assert F.to_tensor(PIL.Image.new("1", (2, 2), 1)).tolist() == [[[1.0, 1.0], [1.0, 1.0]]]
    big = PIL.Image.new("I;16", (1, 1), 40000)
    assert F.pil_to_tensor(big).item() == 40000 and F.to_tensor(big).item() == 40000 - 65536
