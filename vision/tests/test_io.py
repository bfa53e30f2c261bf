"""tocha.vision.io on scikit-image's photos: decoding vs Pillow, modes, round trips, errors."""

from __future__ import annotations

import importlib.util
import io as pyio
import os

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision import io
from tocha.vision.io import ImageReadMode

PIL_Image = pytest.importorskip("PIL.Image")

_SPEC = importlib.util.find_spec("skimage")
SKIMAGE_DATA = os.path.join(_SPEC.submodule_search_locations[0], "data") if _SPEC else None
needs_skimage = pytest.mark.skipif(
    SKIMAGE_DATA is None, reason="scikit-image's sample photos are not installed"
)


def photo(name: str) -> str:
    return os.path.join(SKIMAGE_DATA, name)


def pil_chw(img) -> np.ndarray:
    arr = np.asarray(img)
    return (arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)).copy()


def luma(chw: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, the reference for GRAY conversions."""
    r, g, b = chw[:3].astype(np.float64)
    return 0.299 * r + 0.587 * g + 0.114 * b


def as_tensor(arr: np.ndarray):
    return torch.from_numpy(np.ascontiguousarray(arr))


# --- decoding the photos ----------------------------------------------------------------------
@needs_skimage
@pytest.mark.parametrize(
    "name, channels",
    [("astronaut.png", 3), ("camera.png", 1), ("horse.png", 4), ("rocket.jpg", 3)],
)
def test_read_image_unchanged_matches_pillow(name, channels):
    img = io.read_image(photo(name))
    ref = pil_chw(PIL_Image.open(photo(name)))
    assert img.dtype == torch.uint8 and img.shape[0] == channels
    np.testing.assert_array_equal(img.numpy(), ref)
    # the same through read_file + decode_image, and decode_image on a path
    np.testing.assert_array_equal(io.decode_image(io.read_file(photo(name))).numpy(), ref)
    np.testing.assert_array_equal(io.decode_image(photo(name)).numpy(), ref)


@needs_skimage
def test_read_modes_on_rgb_photo():
    path = photo("chelsea.png")
    rgb = pil_chw(PIL_Image.open(path))
    assert rgb.shape == (3, 300, 451)
    gray = io.read_image(path, ImageReadMode.GRAY).numpy()
    assert gray.shape == (1, 300, 451)
    assert np.abs(gray[0] - luma(rgb)).max() <= 1.0
    ga = io.read_image(path, "gray_alpha").numpy()
    np.testing.assert_array_equal(ga[0], gray[0])
    assert (ga[1] == 255).all()
    rgba = io.read_image(path, ImageReadMode.RGB_ALPHA).numpy()
    np.testing.assert_array_equal(rgba[:3], rgb)
    assert (rgba[3] == 255).all()
    assert io.read_image(path, "RGBA").shape == (4, 300, 451)


@needs_skimage
def test_read_modes_on_gray_and_rgba_photos():
    cam = pil_chw(PIL_Image.open(photo("camera.png")))[0]
    rgb = io.read_image(photo("camera.png"), ImageReadMode.RGB).numpy()
    assert rgb.shape == (3, 512, 512)
    for c in range(3):
        np.testing.assert_array_equal(rgb[c], cam)
    horse = pil_chw(PIL_Image.open(photo("horse.png")))
    assert horse.shape[0] == 4
    np.testing.assert_array_equal(io.read_image(photo("horse.png"), "RGB").numpy(), horse[:3])
    ga = io.read_image(photo("horse.png"), ImageReadMode.GRAY_ALPHA).numpy()
    np.testing.assert_array_equal(ga[1], horse[3])
    assert np.abs(ga[0] - luma(horse)).max() <= 1.0


@needs_skimage
def test_decode_jpeg_modes_and_lists():
    data = io.read_file(photo("rocket.jpg"))
    rgb = io.decode_jpeg(data)
    ref = pil_chw(PIL_Image.open(photo("rocket.jpg")))
    np.testing.assert_array_equal(rgb.numpy(), ref)
    gray = io.decode_jpeg(data, mode=ImageReadMode.GRAY).numpy()
    assert gray.shape == (1, *ref.shape[1:])
    # libjpeg's grayscale output is the decoded Y plane: close to the luma of the decoded RGB
    # (which went through chroma upsampling and rounding), not computed from it
    diff = np.abs(gray[0] - luma(ref))
    assert diff.mean() < 0.5 and diff.max() <= 8.0
    converted = np.asarray(PIL_Image.open(photo("rocket.jpg")).convert("L"))
    assert (gray[0] != converted).any()  # the Y plane itself, not a conversion of the RGB
    outs = io.decode_jpeg([data, data])
    assert isinstance(outs, list) and len(outs) == 2 and outs[1].equal(rgb)
    with pytest.raises(RuntimeError, match="RGB_ALPHA is not supported for JPEG"):
        io.decode_jpeg(data, mode="RGBA")
    with pytest.raises(ValueError, match="at least one element"):
        io.decode_jpeg([])


@needs_skimage
def test_decode_gif_frames():
    path = photo("no_time_for_that_tiny.gif")
    pil = PIL_Image.open(path)
    frames = []
    for i in range(pil.n_frames):
        pil.seek(i)
        frames.append(pil_chw(pil.convert("RGB")))
    out = io.decode_gif(io.read_file(path))
    assert out.shape == (len(frames), 3, *frames[0].shape[1:]) and len(frames) > 1
    np.testing.assert_array_equal(out.numpy(), np.stack(frames))
    assert io.read_image(path).equal(out)


# --- round trips ------------------------------------------------------------------------------
@needs_skimage
@pytest.mark.parametrize("name", ["astronaut.png", "camera.png"])
def test_png_round_trip_is_lossless(name, tmp_path):
    img = io.read_image(photo(name))
    sizes = {}
    for level in (0, 6, 9):
        data = io.encode_png(img, compression_level=level)
        assert data.dtype == torch.uint8 and data.ndim == 1
        assert io.decode_png(data).equal(img)
        np.testing.assert_array_equal(pil_chw(PIL_Image.open(pyio.BytesIO(data.numpy()))), img)
        sizes[level] = data.numel()
    assert sizes[9] <= sizes[6] < sizes[0]
    out = tmp_path / "copy.png"
    io.write_png(img, out)
    assert io.read_image(out).equal(img)
    assert io.read_file(out).equal(io.encode_png(img))


@needs_skimage
def test_jpeg_round_trip_quality(tmp_path):
    img = io.read_image(photo("astronaut.png"))
    ref = img.numpy().astype(np.int16)
    errors, sizes = {}, {}
    for quality in (10, 75, 95):
        data = io.encode_jpeg(img, quality=quality)
        dec = io.decode_jpeg(data)
        assert dec.shape == img.shape and dec.dtype == torch.uint8
        # an independent decoder reads the same file
        pil = pil_chw(PIL_Image.open(pyio.BytesIO(data.numpy())))
        np.testing.assert_array_equal(dec.numpy(), pil)
        errors[quality] = np.abs(dec.numpy().astype(np.int16) - ref).mean()
        sizes[quality] = data.numel()
    assert errors[95] < errors[75] < errors[10] and errors[95] < 2.0
    assert sizes[10] < sizes[75] < sizes[95]
    gray = io.read_image(photo("camera.png"))
    assert io.decode_jpeg(io.encode_jpeg(gray, quality=90)).shape == (1, 512, 512)
    io.write_jpeg(img, tmp_path / "a.jpg", quality=95)
    assert io.read_image(tmp_path / "a.jpg").equal(io.decode_jpeg(io.encode_jpeg(img, 95)))
    assert [d.numel() for d in io.encode_jpeg([img, gray])] == [
        io.encode_jpeg(img).numel(),
        io.encode_jpeg(gray).numel(),
    ]


def test_read_write_file(tmp_path):
    payload = np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8)
    io.write_file(tmp_path / "blob", as_tensor(payload))
    assert (tmp_path / "blob").read_bytes() == payload.tobytes()
    back = io.read_file(str(tmp_path / "blob"))
    assert back.dtype == torch.uint8 and back.shape == (1000,)
    np.testing.assert_array_equal(back.numpy(), payload)
    with pytest.raises(RuntimeError, match="1-D uint8"):
        io.write_file(tmp_path / "x", torch.zeros(2, 2, dtype=torch.uint8))


# --- Pillow-made files: palettes, 16 bits, EXIF -----------------------------------------------
def _png_bytes(img) -> object:
    buf = pyio.BytesIO()
    img.save(buf, format="PNG")
    return as_tensor(np.frombuffer(buf.getvalue(), dtype=np.uint8))


def test_palette_png():
    pal = PIL_Image.new("P", (4, 3))
    pal.putpalette([0, 0, 0, 200, 10, 20] + [0] * 762)
    pal.putpixel((1, 1), 1)
    data = _png_bytes(pal)
    indices = io.decode_png(data).numpy()  # UNCHANGED: the palette indices, as torchvision
    assert indices.shape == (1, 3, 4) and indices.sum() == 1 and indices[0, 1, 1] == 1
    out = io.decode_png(data, mode="RGB").numpy()
    assert out.shape == (3, 3, 4)
    np.testing.assert_array_equal(out[:, 1, 1], [200, 10, 20])
    gray = io.decode_png(data, mode="GRAY").numpy()
    assert abs(int(gray[0, 1, 1]) - (0.299 * 200 + 0.587 * 10 + 0.114 * 20)) <= 1
    pal.info["transparency"] = 0
    out = io.decode_png(_png_bytes(pal), mode=ImageReadMode.RGB_ALPHA).numpy()
    assert out.shape == (4, 3, 4)
    assert out[3, 0, 0] == 0 and out[3, 1, 1] == 255


def test_sixteen_bit_png_keeps_its_range():
    values = np.array([[0, 1000, 65535]], dtype=np.uint16)
    out = io.decode_png(_png_bytes(PIL_Image.fromarray(values)))
    assert out.shape == (1, 1, 3)
    np.testing.assert_array_equal(out.numpy()[0], values)
    rgb = io.decode_png(_png_bytes(PIL_Image.fromarray(values)), mode="RGB").numpy()
    assert rgb.shape == (3, 1, 3) and (rgb == values).all()


def test_exif_orientation():
    pil = PIL_Image.new("RGB", (6, 2), (255, 0, 0))
    exif = PIL_Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buf = pyio.BytesIO()
    pil.save(buf, format="JPEG", exif=exif.tobytes())
    data = as_tensor(np.frombuffer(buf.getvalue(), dtype=np.uint8))
    assert io.decode_jpeg(data).shape == (3, 2, 6)
    assert io.decode_jpeg(data, apply_exif_orientation=True).shape == (3, 6, 2)
    assert io.decode_image(data, apply_exif_orientation=True).shape == (3, 6, 2)


@needs_skimage
@pytest.mark.parametrize("fmt", ["WEBP", "AVIF"])
def test_webp_and_avif_decode_as_pillow(fmt):
    features = pytest.importorskip("PIL.features")
    if not features.check(fmt.lower()):
        pytest.skip(f"Pillow was built without {fmt}")
    for name in ("chelsea.png", "horse.png"):
        buf = pyio.BytesIO()
        PIL_Image.open(photo(name)).save(buf, format=fmt, quality=90)
        data = as_tensor(np.frombuffer(buf.getvalue(), dtype=np.uint8))
        ref = pil_chw(PIL_Image.open(pyio.BytesIO(buf.getvalue())))
        decode = io.decode_webp if fmt == "WEBP" else io.decode_avif
        np.testing.assert_array_equal(decode(data).numpy(), ref)
        np.testing.assert_array_equal(io.decode_image(data).numpy(), ref)
        assert decode(data, mode="RGB").shape == (3, *ref.shape[1:])
    with pytest.raises(RuntimeError, match=f"not a {fmt} image"):
        decode(io.read_file(photo("chelsea.png")))


# --- errors -----------------------------------------------------------------------------------
@needs_skimage
def test_corrupt_and_non_image_files_raise_naming_them(tmp_path):
    good = tmp_path / "good.png"
    io.write_png(io.read_image(photo("coins.png")), good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:500])
    with pytest.raises(RuntimeError, match=r"read_image: cannot decode '.*truncated\.png'"):
        io.read_image(truncated)
    text = tmp_path / "notes.txt"
    text.write_text("not an image at all")
    with pytest.raises(RuntimeError, match=r"cannot decode '.*notes\.txt' as an image"):
        io.read_image(text)
    with pytest.raises(RuntimeError, match=r"decode_image: cannot decode the given 19 bytes"):
        io.decode_image(io.read_file(text))
    with pytest.raises(FileNotFoundError, match="missing.png"):
        io.read_image(tmp_path / "missing.png")


@needs_skimage
def test_wrong_format_and_bad_arguments():
    jpeg = io.read_file(photo("rocket.jpg"))
    with pytest.raises(RuntimeError, match=r"decode_png: .* is not a PNG image \(it is JPEG\)"):
        io.decode_png(jpeg)
    with pytest.raises(RuntimeError, match="decode_jpeg: .* not a JPEG"):
        io.decode_jpeg(io.encode_png(torch.zeros(1, 2, 2, dtype=torch.uint8)))
    with pytest.raises(ValueError, match="mode must be"):
        io.decode_image(jpeg, mode="CMYK")
    with pytest.raises(RuntimeError, match="1-D uint8 tensor of bytes"):
        io.decode_image(jpeg.float())
    img = torch.zeros(3, 4, 4, dtype=torch.uint8)
    with pytest.raises(ValueError, match="between 1 and 100, got 0"):
        io.encode_jpeg(img, quality=0)
    with pytest.raises(RuntimeError, match="between 0 and 9, got 10"):
        io.encode_png(img, compression_level=10)
    with pytest.raises(RuntimeError, match="channels should be 1 or 3, got 4"):
        io.encode_png(torch.zeros(4, 4, 4, dtype=torch.uint8))
    with pytest.raises(RuntimeError, match="dtype should be uint8, got torch.float32"):
        io.encode_jpeg(torch.zeros(3, 4, 4))
