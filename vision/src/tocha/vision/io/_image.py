"""Image files <-> uint8 CHW tensors, through Pillow (torchvision.io's image functions)."""

from __future__ import annotations

import io as _pyio
import os
from enum import Enum
from typing import Any

import numpy as np

import tocha.core as torch
from tocha.core import Tensor

from ._pil import pil_to_chw

__all__ = [
    "ImageReadMode",
    "decode_avif",
    "decode_gif",
    "decode_image",
    "decode_jpeg",
    "decode_png",
    "decode_webp",
    "encode_jpeg",
    "encode_png",
    "read_file",
    "read_image",
    "write_file",
    "write_jpeg",
    "write_png",
]


class ImageReadMode(Enum):
    """The colour mode an image is converted to while decoding.

    * ``UNCHANGED``: as stored (a palette PNG gives its palette indices, as in torchvision)
    * ``GRAY``: one channel; ``GRAY_ALPHA``: gray and alpha
    * ``RGB``: three channels; ``RGB_ALPHA`` (alias ``RGBA``): RGB and alpha

    The functions also accept these names as strings (case-insensitive), e.g. ``mode="RGB"``.

    Example:
        >>> from tocha.vision.io import ImageReadMode
        >>> ImageReadMode.RGBA is ImageReadMode.RGB_ALPHA, ImageReadMode.GRAY.value
        (True, 1)
    """

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = RGB_ALPHA


def _read_mode(mode: ImageReadMode | str, fn: str) -> ImageReadMode:
    if isinstance(mode, ImageReadMode):
        return mode
    if isinstance(mode, str) and mode.upper() in ImageReadMode.__members__:
        return ImageReadMode[mode.upper()]
    raise ValueError(
        f"{fn}: mode must be an ImageReadMode or one of {list(ImageReadMode.__members__)}, "
        f"got {mode!r}"
    )


# --- files ------------------------------------------------------------------------------------
def read_file(path: str | os.PathLike) -> Tensor:
    """The bytes of a file as a one-dimensional uint8 tensor.

    Args:
        path: the file to read.

    Example:
        >>> import os, tempfile
        >>> from tocha.vision.io import read_file, write_file
        >>> import tocha.core as torch
        >>> path = os.path.join(tempfile.mkdtemp(), "x.bin")
        >>> write_file(path, torch.tensor([1, 2, 255], dtype=torch.uint8))
        >>> read_file(path)
        tensor([  1,   2, 255], dtype=torch.uint8)
    """
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def write_file(filename: str | os.PathLike, data: Tensor) -> None:
    """Write a one-dimensional uint8 tensor's bytes to ``filename``."""
    with open(os.fspath(filename), "wb") as f:
        f.write(_raw_bytes(data, "write_file"))


def _raw_bytes(data: Any, fn: str) -> bytes:
    """The bytes held by a 1-D uint8 tensor (the encoded file)."""
    if not isinstance(data, Tensor):
        raise TypeError(f"{fn}: expected a 1-D uint8 Tensor of bytes, got {type(data).__name__}")
    if data.dtype != torch.uint8 or data.ndim != 1:
        raise RuntimeError(
            f"{fn}: expected a 1-D uint8 tensor of bytes, got dtype {data.dtype} and shape "
            f"{tuple(data.shape)}"
        )
    return data.detach().cpu().numpy().tobytes()


# --- decoding ---------------------------------------------------------------------------------
def _open(input: Tensor | str | os.PathLike, fn: str, mode: ImageReadMode, exif: bool):
    """Decode with Pillow; returns ``(image, format, what)``, ``what`` naming the source for
    errors (the format is read before any EXIF transpose, which drops it)."""
    import PIL.Image
    import PIL.ImageOps

    if isinstance(input, (str, os.PathLike)):
        what = repr(os.fspath(input))
        with open(os.fspath(input), "rb") as f:
            data = f.read()
    else:
        data = _raw_bytes(input, fn)
        what = f"the given {len(data)} bytes (starting {data[:8]!r})"
    try:
        img = PIL.Image.open(_pyio.BytesIO(data))
        if img.format == "JPEG" and mode is ImageReadMode.GRAY and img.mode != "L":
            # let libjpeg output its luma plane directly, as torchvision's GRAY decode does
            img.draft("L", img.size)
        img.load()
    except (PIL.UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise RuntimeError(f"{fn}: cannot decode {what} as an image: {e}") from None
    fmt = img.format
    if exif:
        img = PIL.ImageOps.exif_transpose(img)
    return img, fmt, what


_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _to_array(img, mode: ImageReadMode) -> np.ndarray:
    """The CHW array of a decoded image in ``mode`` (uint8; uint16 for 16-bit grayscale)."""
    pil_mode = img.mode
    if pil_mode in _SIXTEEN_BIT:
        # 16-bit grayscale (PNG): keep the 16 bits, as torchvision returns uint16 for them
        gray = np.clip(np.asarray(img), 0, 65535).astype(np.uint16)[None]
        if mode in (ImageReadMode.UNCHANGED, ImageReadMode.GRAY):
            return np.ascontiguousarray(gray)
        opaque = np.full_like(gray, 65535)
        parts = {
            ImageReadMode.GRAY_ALPHA: [gray, opaque],
            ImageReadMode.RGB: [gray] * 3,
            ImageReadMode.RGB_ALPHA: [gray] * 3 + [opaque],
        }[mode]
        return np.concatenate(parts, axis=0)
    if mode is ImageReadMode.UNCHANGED:
        if pil_mode in ("P", "L", "LA", "RGB", "RGBA"):
            # palette images stay palette indices, one channel, as torchvision's UNCHANGED
            target = pil_mode
        elif pil_mode == "1":
            target = "L"  # 0 / 255, as a 1-bit PNG expanded to 8 bits
        elif pil_mode.endswith("A") or "transparency" in img.info:
            target = "RGBA"
        else:
            target = "RGB"  # CMYK, YCbCr, LAB, ... JPEGs: RGB
    else:
        target = {
            ImageReadMode.GRAY: "L",
            ImageReadMode.GRAY_ALPHA: "LA",
            ImageReadMode.RGB: "RGB",
            ImageReadMode.RGB_ALPHA: "RGBA",
        }[mode]
    if pil_mode == "P" and target in ("L", "LA", "RGB") and "transparency" in img.info:
        img = img.convert("RGBA")  # resolve the transparent index before dropping alpha
    if img.mode != target:
        img = img.convert(target)
    return pil_to_chw(img)


def _decode(input, mode, apply_exif_orientation, fn, formats=None) -> Tensor:
    mode = _read_mode(mode, fn)
    img, fmt, what = _open(input, fn, mode, apply_exif_orientation)
    if formats is not None and fmt not in formats:
        raise RuntimeError(f"{fn}: {what} is not a {formats[0]} image (it is {fmt})")
    if fmt in ("JPEG", "MPO") and mode in (ImageReadMode.GRAY_ALPHA, ImageReadMode.RGB_ALPHA):
        raise RuntimeError(
            f"{fn}: mode {mode.name} is not supported for JPEG images ({what}); use "
            "UNCHANGED, GRAY or RGB"
        )
    if fmt == "GIF":
        return _gif_frames(img)
    return _as_tensor(_to_array(img, mode))


def _as_tensor(arr: np.ndarray) -> Tensor:
    if arr.dtype == np.uint16:
        try:
            return torch.from_numpy(arr)
        except TypeError:
            # tocha.core has no uint16 dtype yet: hold 16-bit samples (0..65535) in int32,
            # as torchvision's own 16-bit PNG reader did before torch had uint16
            return torch.from_numpy(arr.astype(np.int32))
    return torch.from_numpy(arr)


def _gif_frames(img) -> Tensor:
    """All frames of a GIF as RGB: ``[C, H, W]`` for one frame, ``[N, C, H, W]`` for more."""
    frames = []
    for i in range(getattr(img, "n_frames", 1)):
        img.seek(i)
        frames.append(pil_to_chw(img.convert("RGB")))
    arr = frames[0] if len(frames) == 1 else np.stack(frames)
    return torch.from_numpy(arr)


def decode_image(
    input: Tensor | str | os.PathLike,
    mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
    apply_exif_orientation: bool = False,
) -> Tensor:
    """Decode an encoded image (JPEG, PNG, GIF, WEBP, or any other format Pillow reads).

    Args:
        input: a 1-D uint8 tensor holding the file's bytes, or a path.
        mode: an :class:`ImageReadMode` or its name. Default: ``UNCHANGED``.
        apply_exif_orientation: rotate/flip the image as its EXIF orientation tag says.

    Returns:
        A uint8 ``[C, H, W]`` tensor (16-bit grayscale PNGs: uint16, held in int32 while
        tocha.core lacks uint16; GIFs: RGB frames,
        ``[N, C, H, W]`` when there are several). Undecodable data raises a RuntimeError naming
        the source.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.io import decode_image, encode_png
        >>> img = torch.arange(24, dtype=torch.uint8).reshape(2, 3, 4)[:1]
        >>> decode_image(encode_png(img)).equal(img)
        True
        >>> decode_image(encode_png(img), mode="RGB").shape
        torch.Size([3, 3, 4])
    """
    return _decode(input, mode, apply_exif_orientation, "decode_image")


def read_image(
    path: str | os.PathLike,
    mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
    apply_exif_orientation: bool = False,
) -> Tensor:
    """Read an image file into a uint8 ``[C, H, W]`` tensor (see :func:`decode_image`).

    Example:
        >>> import os, tempfile
        >>> import tocha.core as torch
        >>> from tocha.vision.io import read_image, write_png
        >>> path = os.path.join(tempfile.mkdtemp(), "gray.png")
        >>> write_png(torch.full((1, 2, 3), 7, dtype=torch.uint8), path)
        >>> read_image(path, mode="RGB")
        tensor([[[7, 7, 7],
                 [7, 7, 7]],
        <BLANKLINE>
                [[7, 7, 7],
                 [7, 7, 7]],
        <BLANKLINE>
                [[7, 7, 7],
                 [7, 7, 7]]], dtype=torch.uint8)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"read_image: expected a path, got {type(path).__name__}")
    return _decode(path, mode, apply_exif_orientation, "read_image")


def decode_png(
    input: Tensor,
    mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
    apply_exif_orientation: bool = False,
) -> Tensor:
    """Decode PNG bytes (a 1-D uint8 tensor) into a ``[C, H, W]`` tensor: uint8, or the
    16-bit samples of a 16-bit grayscale PNG (in int32 while tocha.core lacks uint16). Data
    that is not a PNG raises a RuntimeError."""
    return _decode(input, mode, apply_exif_orientation, "decode_png", formats=("PNG",))


def decode_jpeg(
    input: Tensor | list[Tensor],
    mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
    device: str | torch.device = "cpu",
    apply_exif_orientation: bool = False,
) -> Tensor | list[Tensor]:
    """Decode JPEG bytes (a 1-D uint8 tensor, or a list of them) into uint8 ``[C, H, W]``
    tensors on ``device``. Modes: ``UNCHANGED``, ``GRAY`` or ``RGB``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.io import decode_jpeg, encode_jpeg
        >>> img = torch.full((3, 8, 8), 128, dtype=torch.uint8)
        >>> out = decode_jpeg(encode_jpeg(img, quality=95))
        >>> out.shape, int((out.int() - 128).abs().max())
        (torch.Size([3, 8, 8]), 0)
    """
    if isinstance(input, list):
        if not input:
            raise ValueError("decode_jpeg: the input list must contain at least one element")
        return [decode_jpeg(x, mode, device, apply_exif_orientation) for x in input]
    out = _decode(input, mode, apply_exif_orientation, "decode_jpeg", formats=("JPEG", "MPO"))
    return out if torch.device(device).type == "cpu" else out.to(device)


def decode_gif(input: Tensor) -> Tensor:
    """Decode GIF bytes into RGB uint8 ``[C, H, W]`` (one frame) or ``[N, C, H, W]``."""
    return _decode(input, ImageReadMode.UNCHANGED, False, "decode_gif", formats=("GIF",))


def decode_webp(input: Tensor, mode: ImageReadMode | str = ImageReadMode.UNCHANGED) -> Tensor:
    """Decode WEBP bytes into a uint8 ``[C, H, W]`` tensor (RGB or RGBA)."""
    return _decode(input, mode, False, "decode_webp", formats=("WEBP",))


def decode_avif(input: Tensor, mode: ImageReadMode | str = ImageReadMode.UNCHANGED) -> Tensor:
    """Decode AVIF bytes into a uint8 ``[C, H, W]`` tensor (needs Pillow built with AVIF)."""
    return _decode(input, mode, False, "decode_avif", formats=("AVIF",))


# --- encoding ---------------------------------------------------------------------------------
def _image_array(input: Any, fn: str) -> np.ndarray:
    """The HWC (or HW) uint8 array Pillow encodes, from a ``[C, H, W]`` uint8 tensor."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: expected a uint8 [C, H, W] Tensor, got {type(input).__name__}")
    if input.dtype != torch.uint8:
        raise RuntimeError(f"{fn}: input tensor dtype should be uint8, got {input.dtype}")
    arr = input.detach().cpu().numpy()
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise RuntimeError(
            f"{fn}: input should be a 3-D [C, H, W] tensor, got shape {tuple(input.shape)}"
        )
    if arr.shape[0] not in (1, 3):
        raise RuntimeError(f"{fn}: the number of channels should be 1 or 3, got {arr.shape[0]}")
    return np.ascontiguousarray(arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0))


def _encoded(img_array: np.ndarray, **save_kwargs) -> Tensor:
    import PIL.Image

    buf = _pyio.BytesIO()
    PIL.Image.fromarray(img_array).save(buf, **save_kwargs)
    return torch.from_numpy(np.frombuffer(buf.getvalue(), dtype=np.uint8).copy())


def encode_jpeg(input: Tensor | list[Tensor], quality: int = 75) -> Tensor | list[Tensor]:
    """Encode uint8 ``[C, H, W]`` image(s) (C = 1 or 3) as JPEG; returns 1-D uint8 tensor(s).

    Args:
        input: an image tensor or a list of them.
        quality: 1 (smallest) to 100 (best). Default: 75.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.io import encode_jpeg
        >>> data = encode_jpeg(torch.zeros(3, 16, 16, dtype=torch.uint8))
        >>> data.dtype, data[:2].tolist()  # the JPEG start-of-image marker
        (torch.uint8, [255, 216])
    """
    if not 1 <= quality <= 100:
        raise ValueError(
            f"encode_jpeg: image quality should be a positive number between 1 and 100, got {quality}"
        )
    if isinstance(input, list):
        if not input:
            raise ValueError(
                "encode_jpeg: requires at least one input tensor when a list is passed"
            )
        return [encode_jpeg(x, quality) for x in input]
    return _encoded(_image_array(input, "encode_jpeg"), format="JPEG", quality=int(quality))


def encode_png(input: Tensor, compression_level: int = 6) -> Tensor:
    """Encode a uint8 ``[C, H, W]`` image (C = 1 or 3) as PNG; returns a 1-D uint8 tensor.

    Args:
        input: the image tensor.
        compression_level: zlib level, 0 (none) to 9 (smallest). Default: 6.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.io import encode_png
        >>> bytes(encode_png(torch.zeros(1, 4, 4, dtype=torch.uint8))[1:4].tolist())
        b'PNG'
    """
    if not 0 <= compression_level <= 9:
        raise RuntimeError(
            f"encode_png: compression level should be between 0 and 9, got {compression_level}"
        )
    arr = _image_array(input, "encode_png")
    return _encoded(arr, format="PNG", compress_level=int(compression_level))


def write_jpeg(input: Tensor, filename: str | os.PathLike, quality: int = 75) -> None:
    """Encode ``input`` as JPEG (see :func:`encode_jpeg`) and write it to ``filename``."""
    write_file(filename, encode_jpeg(input, quality))


def write_png(input: Tensor, filename: str | os.PathLike, compression_level: int = 6) -> None:
    """Encode ``input`` as PNG (see :func:`encode_png`) and write it to ``filename``."""
    write_file(filename, encode_png(input, compression_level))
