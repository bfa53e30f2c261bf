"""torchvision.transforms.v2.functional: one function per op, dispatching on the input type.

Inputs: a Pillow image, an image tensor ``(..., C, H, W)`` (a plain tensor counts as an image),
and the ``tv_tensors`` types: ``Image``/``Video`` are images, ``BoundingBoxes`` and ``Mask``
receive the same geometry (boxes are moved, masks are resampled with nearest), colour ops leave
boxes and masks alone. Tensors are processed as NumPy arrays and come back on their device.

Example:
    >>> import tocha.core as torch
    >>> from tocha.vision.transforms.v2 import functional as F
    >>> img = torch.arange(12, dtype=torch.uint8).reshape(1, 3, 4)
    >>> F.horizontal_flip(img)[0, 0].tolist()
    [3, 2, 1, 0]
    >>> F.resize(img, [6, 8]).shape
    torch.Size([1, 6, 8])
"""

from __future__ import annotations

import numbers
import sys

import numpy as np

import tocha.core as torch

from .._mode import InterpolationMode, check_interpolation, pil_code
from . import _resize

__all__ = [
    "InterpolationMode",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "center_crop",
    "convert_image_dtype",
    "crop",
    "get_dimensions",
    "get_image_num_channels",
    "get_image_size",
    "get_num_channels",
    "get_size",
    "grayscale_to_rgb",
    "hflip",
    "horizontal_flip",
    "normalize",
    "pad",
    "pil_to_tensor",
    "resize",
    "resized_crop",
    "rgb_to_grayscale",
    "to_dtype",
    "to_grayscale",
    "to_image",
    "to_pil_image",
    "to_tensor",
    "vertical_flip",
    "vflip",
]


# ----------------------------------------------------------------------------- input kinds


def _pil():
    import PIL.Image

    return PIL.Image


def _is_pil(x) -> bool:
    mod = sys.modules.get("PIL.Image")
    return mod is not None and isinstance(x, mod.Image)


def _tv(name):
    """A tv_tensors class if that module is importable (it may be absent while being written)."""
    try:
        from tocha.vision import tv_tensors
    except ImportError:
        return None
    return getattr(tv_tensors, name, None)


def _isinstance_tv(x, name) -> bool:
    cls = _tv(name)
    return cls is not None and isinstance(x, cls)


def _kind(x) -> str:
    """'pil', 'image' (incl. Video and plain tensors), 'boxes', 'mask', 'keypoints', 'other'."""
    if _is_pil(x):
        return "pil"
    if isinstance(x, torch.Tensor):
        if _isinstance_tv(x, "BoundingBoxes"):
            return "boxes"
        if _isinstance_tv(x, "Mask"):
            return "mask"
        if _isinstance_tv(x, "KeyPoints"):
            return "keypoints"
        return "image"
    return "other"


def _type_error(fn, x):
    if _kind(x) == "keypoints":
        return TypeError(f"{fn}: KeyPoints are not supported by this transform yet")
    return TypeError(
        f"{fn}: input should be a PIL image, an image tensor or a tv_tensor, got {type(x).__name__}"
    )


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def _wrap(arr: np.ndarray, like, **meta):
    """A tensor of ``arr`` on ``like``'s device and of ``like``'s tv_tensor type."""
    out = torch.from_numpy(np.ascontiguousarray(arr))
    if like.device.type != "cpu":
        out = out.to(like.device)
    if type(like) is torch.Tensor:
        return out
    from tocha.vision import tv_tensors

    return tv_tensors.wrap(out, like=like, **meta)


def _float_dtype(a: np.ndarray):
    return a.dtype.type if a.dtype in (np.float32, np.float64) else np.float32


def _max_value(dtype) -> float:
    if np.issubdtype(dtype, np.floating):
        return 1.0
    if dtype == np.bool_:
        return 1
    return np.iinfo(dtype).max


def _check_image_tensor(fn, a: np.ndarray):
    if a.ndim < 2:
        raise ValueError(f"{fn}: an image tensor needs at least 2 dimensions (H, W), got {a.shape}")


# ----------------------------------------------------------------------------- meta


def get_dimensions(inpt) -> list[int]:
    """[channels, height, width] of an image.

    Example:
        >>> import tocha.core as torch
        >>> get_dimensions(torch.zeros(3, 5, 7))
        [3, 5, 7]
    """
    if _is_pil(inpt):
        return [len(inpt.getbands()), inpt.height, inpt.width]
    if isinstance(inpt, torch.Tensor):
        shape = tuple(inpt.shape)
        c = shape[-3] if len(shape) >= 3 else 1
        return [c, shape[-2], shape[-1]]
    raise _type_error("get_dimensions", inpt)


def get_num_channels(inpt) -> int:
    """Number of channels of an image."""
    return get_dimensions(inpt)[0]


get_image_num_channels = get_num_channels


def get_size(inpt) -> list[int]:
    """[height, width] of an image, mask or the canvas of bounding boxes."""
    if _kind(inpt) == "boxes":
        return list(inpt.canvas_size)
    return get_dimensions(inpt)[1:]


def get_image_size(inpt) -> list[int]:
    """[width, height] (the classic order)."""
    h, w = get_size(inpt)
    return [w, h]


# ----------------------------------------------------------------------------- boxes


def _boxes_xyxy(boxes) -> np.ndarray:
    a = _np(boxes).astype(np.float64)
    fmt = str(getattr(boxes.format, "value", boxes.format)).upper()
    if fmt == "XYXY":
        return a.copy()
    out = a.copy()
    if fmt == "XYWH":
        out[..., 2:] = a[..., :2] + a[..., 2:]
    elif fmt == "CXCYWH":
        out[..., :2] = a[..., :2] - a[..., 2:] / 2
        out[..., 2:] = a[..., :2] + a[..., 2:] / 2
    else:
        raise ValueError(f"bounding boxes in format {fmt} are not supported by this transform")
    return out


def _boxes_back(xyxy: np.ndarray, like, canvas_size, clamp=True):
    # For axis-aligned boxes torchvision's "soft" and "hard" clamping coincide; None disables it.
    if clamp and getattr(like, "clamping_mode", "soft") is not None:
        h, w = canvas_size
        xyxy[..., 0::2] = np.clip(xyxy[..., 0::2], 0, w)
        xyxy[..., 1::2] = np.clip(xyxy[..., 1::2], 0, h)
    fmt = str(getattr(like.format, "value", like.format)).upper()
    out = xyxy.copy()
    if fmt == "XYWH":
        out[..., 2:] = xyxy[..., 2:] - xyxy[..., :2]
    elif fmt == "CXCYWH":
        out[..., :2] = (xyxy[..., :2] + xyxy[..., 2:]) / 2
        out[..., 2:] = xyxy[..., 2:] - xyxy[..., :2]
    # Integer boxes truncate back to their dtype, as torchvision's ``.to(dtype)`` does.
    dtype = _np(like).dtype
    return _wrap(out.astype(dtype), like, canvas_size=tuple(int(s) for s in canvas_size))


# ----------------------------------------------------------------------------- flips


def horizontal_flip(inpt):
    """Flip left-right (boxes are mirrored in their canvas).

    Example:
        >>> import tocha.core as torch
        >>> horizontal_flip(torch.tensor([[[1, 2, 3]]])).tolist()
        [[[3, 2, 1]]]
    """
    kind = _kind(inpt)
    if kind == "pil":
        return inpt.transpose(_pil().Transpose.FLIP_LEFT_RIGHT)
    if kind in ("image", "mask"):
        return _wrap(_np(inpt)[..., ::-1], inpt)
    if kind == "boxes":
        h, w = inpt.canvas_size
        b = _boxes_xyxy(inpt)
        b[..., [0, 2]] = w - b[..., [2, 0]]
        return _boxes_back(b, inpt, (h, w), clamp=False)
    raise _type_error("horizontal_flip", inpt)


def vertical_flip(inpt):
    """Flip top-bottom (boxes are mirrored in their canvas).

    Example:
        >>> import tocha.core as torch
        >>> vertical_flip(torch.tensor([[[1], [2]]])).tolist()
        [[[2], [1]]]
    """
    kind = _kind(inpt)
    if kind == "pil":
        return inpt.transpose(_pil().Transpose.FLIP_TOP_BOTTOM)
    if kind in ("image", "mask"):
        return _wrap(_np(inpt)[..., ::-1, :], inpt)
    if kind == "boxes":
        h, w = inpt.canvas_size
        b = _boxes_xyxy(inpt)
        b[..., [1, 3]] = h - b[..., [3, 1]]
        return _boxes_back(b, inpt, (h, w), clamp=False)
    raise _type_error("vertical_flip", inpt)


hflip = horizontal_flip
vflip = vertical_flip


# ----------------------------------------------------------------------------- resize


def resize(inpt, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to ``size`` ((h, w), or an int for the shorter edge keeping the aspect ratio).

    Pillow images use Pillow's resampler. Tensors: bilinear/bicubic with ``antialias=True``
    follow Pillow's convolution (uint8 equals Pillow's fixed-point result, horizontal pass
    first); ``antialias=False`` and the nearest modes follow ``F.interpolate``.
    Masks use nearest; boxes are scaled.

    Example:
        >>> import tocha.core as torch
        >>> resize(torch.zeros(3, 10, 20), 5).shape
        torch.Size([3, 5, 10])
    """
    interpolation = check_interpolation(interpolation)
    kind = _kind(inpt)
    if kind in ("other", "keypoints"):
        raise _type_error("resize", inpt)
    h, w = get_size(inpt)
    oh, ow = _resize.output_size(h, w, [size] if isinstance(size, int) else size, max_size)
    if kind == "pil":
        if (oh, ow) == (h, w):
            return inpt.copy()
        return inpt.resize((ow, oh), resample=pil_code(interpolation))
    if kind == "boxes":
        b = _boxes_xyxy(inpt)
        b[..., 0::2] *= ow / w
        b[..., 1::2] *= oh / h
        return _boxes_back(b, inpt, (oh, ow), clamp=True)
    a = _np(inpt)
    if kind == "mask":
        mode = "nearest"
    elif interpolation.value in ("nearest", "nearest-exact", "bilinear", "bicubic"):
        mode = interpolation.value
    else:
        raise ValueError(
            f"resize: interpolation {interpolation.value!r} is only supported for PIL images; "
            "tensors take nearest, nearest-exact, bilinear or bicubic"
        )
    _check_image_tensor("resize", a)
    squeeze = a.ndim == 2
    if squeeze:
        a = a[None]
    work = a if a.dtype != np.bool_ else a.astype(np.uint8)
    out = _resize.resize_array(work, oh, ow, mode, bool(antialias)).astype(a.dtype, copy=False)
    return _wrap(out[0] if squeeze else out, inpt)


# ----------------------------------------------------------------------------- crop and pad


def _pad_array(a: np.ndarray, left, top, right, bottom, fill, mode) -> np.ndarray:
    # Negative padding crops, as torch.nn.functional.pad does.
    crop_t, crop_b = max(-top, 0), max(-bottom, 0)
    crop_l, crop_r = max(-left, 0), max(-right, 0)
    a = a[..., crop_t : a.shape[-2] - crop_b, crop_l : a.shape[-1] - crop_r]
    top, bottom, left, right = max(top, 0), max(bottom, 0), max(left, 0), max(right, 0)
    widths = [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)]
    if mode == "constant":
        if fill is None:
            fill = 0
        if isinstance(fill, (list, tuple)) and len(fill) > 1 and a.ndim >= 3:
            out = np.empty(
                (*a.shape[:-2], a.shape[-2] + top + bottom, a.shape[-1] + left + right), a.dtype
            )
            fills = np.asarray(fill, dtype=np.float64)
            if fills.size != a.shape[-3]:
                raise ValueError(
                    f"pad: fill has {fills.size} values but the image has {a.shape[-3]} channels"
                )
            out[...] = fills.astype(a.dtype).reshape(-1, 1, 1)
            out[..., top : top + a.shape[-2], left : left + a.shape[-1]] = a
            return out
        if isinstance(fill, (list, tuple)):
            fill = fill[0]
        return np.pad(a, widths, mode="constant", constant_values=np.asarray(fill).astype(a.dtype))
    if mode == "reflect":
        h, w = a.shape[-2:]
        if top >= h or bottom >= h or left >= w or right >= w:
            raise ValueError(
                f"pad: reflect padding must be smaller than the input size, got padding "
                f"(left={left}, top={top}, right={right}, bottom={bottom}) for size ({h}, {w})"
            )
    return np.pad(a, widths, mode=mode)


_PAD_MODES = ("constant", "edge", "reflect", "symmetric")


def _parse_padding(padding):
    if isinstance(padding, numbers.Integral):
        return [int(padding)] * 4
    if not isinstance(padding, (list, tuple)) or len(padding) not in (1, 2, 4):
        raise ValueError(
            f"pad: padding must be an int or a sequence of 1, 2 or 4 ints, got {padding!r}"
        )
    padding = [int(p) for p in padding]
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return [padding[0], padding[1], padding[0], padding[1]]
    return padding


def pad(inpt, padding, fill=None, padding_mode="constant"):
    """Pad the borders: int (all sides), (left/right, top/bottom) or (left, top, right, bottom).

    Modes ``constant`` (with ``fill``), ``edge``, ``reflect`` and ``symmetric``.

    Example:
        >>> import tocha.core as torch
        >>> pad(torch.tensor([[[1, 2]]]), [1, 0], padding_mode="reflect").tolist()
        [[[2, 1, 2, 1]]]
    """
    if padding_mode not in _PAD_MODES:
        raise ValueError(f"pad: padding_mode must be one of {_PAD_MODES}, got {padding_mode!r}")
    left, top, right, bottom = _parse_padding(padding)
    kind = _kind(inpt)
    if kind == "pil":
        a = np.asarray(inpt)
        hwc = a.ndim == 3
        chw = a.transpose(2, 0, 1) if hwc else a
        if isinstance(fill, (list, tuple)) and not hwc:
            fill = fill[0]
        out = _pad_array(chw, left, top, right, bottom, fill, padding_mode)
        out = out.transpose(1, 2, 0) if hwc else out
        img = _pil().fromarray(np.ascontiguousarray(out), mode=inpt.mode)
        if inpt.mode == "P":
            img.putpalette(inpt.getpalette())
        return img
    if kind in ("image", "mask"):
        a = _np(inpt)
        _check_image_tensor("pad", a)
        return _wrap(_pad_array(a, left, top, right, bottom, fill, padding_mode), inpt)
    if kind == "boxes":
        h, w = inpt.canvas_size
        b = _boxes_xyxy(inpt)
        b[..., 0::2] += left
        b[..., 1::2] += top
        return _boxes_back(b, inpt, (h + top + bottom, w + left + right), clamp=False)
    raise _type_error("pad", inpt)


def crop(inpt, top: int, left: int, height: int, width: int):
    """Crop the box (top, left, height, width); regions outside the image are zero.

    Example:
        >>> import tocha.core as torch
        >>> crop(torch.arange(16).reshape(1, 4, 4), 1, 2, 2, 2).tolist()
        [[[6, 7], [10, 11]]]
    """
    top, left, height, width = int(top), int(left), int(height), int(width)
    kind = _kind(inpt)
    if kind == "pil":
        return inpt.crop((left, top, left + width, top + height))
    if kind in ("image", "mask"):
        a = _np(inpt)
        _check_image_tensor("crop", a)
        h, w = a.shape[-2:]
        right, bottom = left + width, top + height
        if left < 0 or top < 0 or right > w or bottom > h:
            a = _pad_array(a, -left, -top, right - w, bottom - h, 0, "constant")
            return _wrap(a, inpt)
        return _wrap(a[..., top:bottom, left:right], inpt)
    if kind == "boxes":
        b = _boxes_xyxy(inpt)
        b[..., 0::2] -= left
        b[..., 1::2] -= top
        return _boxes_back(b, inpt, (height, width), clamp=True)
    raise _type_error("crop", inpt)


def center_crop(inpt, output_size):
    """Crop the centre (h, w) (an int gives a square); smaller images are zero-padded first.

    Example:
        >>> import tocha.core as torch
        >>> center_crop(torch.arange(16).reshape(1, 4, 4), 2).tolist()
        [[[5, 6], [9, 10]]]
    """
    if isinstance(output_size, numbers.Integral):
        ch, cw = int(output_size), int(output_size)
    elif len(output_size) == 1:
        ch = cw = int(output_size[0])
    else:
        ch, cw = int(output_size[0]), int(output_size[1])
    h, w = get_size(inpt)
    if ch > h or cw > w:
        # Pad to at least the crop size the way torchvision does (extra pixel on the right/bottom).
        pl = (cw - w) // 2 if cw > w else 0
        pt = (ch - h) // 2 if ch > h else 0
        pr = (cw - w + 1) // 2 if cw > w else 0
        pb = (ch - h + 1) // 2 if ch > h else 0
        inpt = pad(inpt, [pl, pt, pr, pb], fill=0)
        h, w = get_size(inpt)
        if (ch, cw) == (h, w):
            return inpt
    top = int(round((h - ch) / 2.0))
    left = int(round((w - cw) / 2.0))
    return crop(inpt, top, left, ch, cw)


def resized_crop(
    inpt,
    top,
    left,
    height,
    width,
    size,
    interpolation=InterpolationMode.BILINEAR,
    antialias=True,
):
    """``crop`` then ``resize`` (Pillow images: one resample of the box)."""
    return resize(crop(inpt, top, left, height, width), size, interpolation, antialias=antialias)


# ----------------------------------------------------------------------------- conversions


def pil_to_tensor(pic):
    """A Pillow image as a CHW tensor of its own dtype (no scaling).

    Example:
        >>> import PIL.Image
        >>> pil_to_tensor(PIL.Image.new("RGB", (4, 2))).shape
        torch.Size([3, 2, 4])
    """
    if not _is_pil(pic):
        raise TypeError(f"pil_to_tensor: pic should be a PIL image, got {type(pic).__name__}")
    a = np.array(pic, copy=True)
    if a.dtype == np.uint16:
        a = a.astype(np.int32)  # tocha.core has no uint16 dtype; int32 keeps every value
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


def _to_image_array(inpt) -> np.ndarray:
    if _is_pil(inpt):
        return _np(pil_to_tensor(inpt))
    if isinstance(inpt, np.ndarray):
        a = inpt[:, :, None] if inpt.ndim == 2 else inpt
        if a.ndim < 3:
            raise ValueError(f"to_image: an array needs 2 or 3 dimensions (HWC), got {inpt.shape}")
        return np.ascontiguousarray(np.moveaxis(a, -1, -3))
    if isinstance(inpt, torch.Tensor):
        return _np(inpt)
    raise TypeError(
        f"to_image: input should be a PIL image, an ndarray or a tensor, got {type(inpt).__name__}"
    )


def to_image(inpt):
    """A ``tv_tensors.Image`` (CHW) from a PIL image, an HWC ndarray or a tensor.

    Without the tv_tensors module the result is a plain CHW tensor.

    Example:
        >>> import numpy as np
        >>> to_image(np.zeros((2, 3, 4), np.uint8)).shape
        torch.Size([4, 2, 3])
    """
    out = torch.from_numpy(_to_image_array(inpt))
    if isinstance(inpt, torch.Tensor) and inpt.device.type != "cpu":
        out = out.to(inpt.device)
    image_cls = _tv("Image")
    return image_cls(out) if image_cls is not None else out


_NUM_VALUE_BITS = {
    np.dtype(np.uint8): 8,
    np.dtype(np.int8): 7,
    np.dtype(np.int16): 15,
    np.dtype(np.uint16): 16,
    np.dtype(np.int32): 31,
    np.dtype(np.uint32): 32,
    np.dtype(np.int64): 63,
    np.dtype(np.uint64): 64,
}


def _np_dtype(dtype) -> np.dtype:
    return torch.empty(0, dtype=dtype).numpy().dtype


def _convert_array(a: np.ndarray, target: np.dtype, scale: bool) -> np.ndarray:
    if not scale or a.dtype == target:
        return a.astype(target)
    src_float = np.issubdtype(a.dtype, np.floating)
    dst_float = np.issubdtype(target, np.floating)
    if a.dtype == np.bool_:
        return a.astype(target) * (1 if dst_float else _max_value(target))
    if src_float and dst_float:
        return a.astype(target)
    if not src_float and dst_float:
        return (a.astype(np.float64) / _max_value(a.dtype)).astype(target)
    if src_float:
        # torchvision: multiply by (max + 1 - eps) and truncate, so 1.0 maps to max.
        return (a.astype(np.float64) * (_max_value(target) + 1.0 - 1e-3)).astype(target)
    nin, nout = _NUM_VALUE_BITS[a.dtype], _NUM_VALUE_BITS[target]
    if nin > nout:
        return (a.astype(np.int64) >> (nin - nout)).astype(target)
    return a.astype(target) << (nout - nin)


def to_dtype(inpt, dtype=None, scale: bool = False):
    """Convert an image's dtype; ``scale=True`` maps value ranges (uint8 0..255 <-> 0.0..1.0).

    Boxes and masks are converted without scaling.

    Example:
        >>> import tocha.core as torch
        >>> to_dtype(torch.tensor([0, 255], dtype=torch.uint8), torch.float32, scale=True).tolist()
        [0.0, 1.0]
    """
    if dtype is None:
        dtype = torch.float32
    kind = _kind(inpt)
    if kind == "other" or kind == "pil":
        raise TypeError(f"to_dtype: input should be a tensor, got {type(inpt).__name__}")
    target = _np_dtype(dtype)
    a = _np(inpt)
    if kind != "image":
        return _wrap(a.astype(target), inpt)
    return _wrap(_convert_array(a, target, scale), inpt)


def convert_image_dtype(image, dtype=None):
    """Classic ``convert_image_dtype``: ``to_dtype(image, dtype, scale=True)``."""
    return to_dtype(image, torch.float32 if dtype is None else dtype, scale=True)


def to_tensor(pic):
    """Classic ``ToTensor``: PIL image or HWC ndarray to a CHW tensor, uint8 scaled to [0, 1].

    Example:
        >>> import numpy as np
        >>> to_tensor(np.full((1, 2, 3), 255, np.uint8)).max().item()
        1.0
    """
    if _is_pil(pic):
        # torchvision reads 16-bit images as int16 here (values above 32767 wrap).
        a = np.asarray(pic) if not pic.mode.startswith("I;16") else np.array(pic, np.int16)
        if pic.mode == "1":
            a = a.astype(np.uint8) * 255
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_tensor: pic should be 2 or 3 dimensional, got {pic.ndim} dims")
        a = pic
    else:
        raise TypeError(
            f"to_tensor: pic should be a PIL image or ndarray, got {type(pic).__name__}"
        )
    if a.ndim == 2:
        a = a[:, :, None]
    a = a.transpose(2, 0, 1)
    if a.dtype == np.uint8:
        # One pass: read the HWC bytes, write the CHW floats (a fresh contiguous buffer).
        ft = _np_dtype(torch.get_default_dtype())
        out = np.empty(a.shape, dtype=ft)
        np.divide(a, ft.type(255), out=out)
        return torch.from_numpy(out)
    return torch.from_numpy(np.array(a, order="C"))


def to_pil_image(pic, mode=None):
    """A Pillow image from a CHW tensor or an HWC ndarray (floats are scaled by 255).

    Example:
        >>> import tocha.core as torch
        >>> to_pil_image(torch.zeros(3, 2, 4)).size
        (4, 2)
    """
    if isinstance(pic, torch.Tensor):
        a = _np(pic)
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3:
            raise ValueError(f"to_pil_image: pic should be 2 or 3 dimensional, got {a.ndim} dims")
        if np.issubdtype(a.dtype, np.floating) and mode != "F":
            a = (a * 255).astype(np.uint8)
        a = a.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        a = pic[:, :, None] if pic.ndim == 2 else pic
        if a.ndim != 3:
            raise ValueError(f"to_pil_image: pic should be 2 or 3 dimensional, got {pic.ndim} dims")
    else:
        raise TypeError(
            f"to_pil_image: pic should be a tensor or ndarray, got {type(pic).__name__}"
        )
    c = a.shape[2]
    if c == 1:
        a = a[:, :, 0]
        defaults = {
            np.uint8: "L",
            np.int16: "I;16",
            np.uint16: "I;16",
            np.int32: "I",
            np.float32: "F",
        }
        expected = defaults.get(a.dtype.type)
        if mode is None:
            if expected is None:
                raise TypeError(f"to_pil_image: input type {a.dtype} is not supported")
            mode = expected
        if mode == "I;16" and a.dtype != np.uint16:
            a = a.astype(np.uint16)
    else:
        allowed = {2: ("LA",), 3: ("RGB", "YCbCr", "HSV"), 4: ("RGBA", "CMYK", "RGBX")}
        if c not in allowed:
            raise ValueError(f"to_pil_image: pic should have 1-4 channels, got {c}")
        if mode is None:
            if a.dtype != np.uint8:
                raise TypeError(f"to_pil_image: {c}-channel input must be uint8, got {a.dtype}")
            mode = allowed[c][0]
        elif mode not in allowed[c]:
            raise ValueError(f"to_pil_image: only modes {allowed[c]} are supported for {c}D inputs")
    return _pil().fromarray(np.ascontiguousarray(a), mode=mode)


# ----------------------------------------------------------------------------- colour


def normalize(inpt, mean, std, inplace: bool = False):
    """(x - mean) / std per channel on a float image tensor.

    Example:
        >>> import tocha.core as torch
        >>> normalize(torch.ones(2, 1, 1), [0.5, 0.0], [0.5, 2.0]).flatten().tolist()
        [1.0, 0.5]
    """
    kind = _kind(inpt)
    if kind != "image":
        if kind in ("boxes", "mask", "keypoints"):
            return inpt
        raise TypeError(f"normalize: input should be an image tensor, got {type(inpt).__name__}")
    a = _np(inpt)
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"normalize: input tensor should be a float tensor, got {a.dtype}")
    if a.ndim < 3:
        raise ValueError(f"normalize: expected a (..., C, H, W) tensor, got shape {a.shape}")
    m = np.asarray(mean, dtype=a.dtype).reshape(-1, 1, 1)
    s = np.asarray(std, dtype=a.dtype).reshape(-1, 1, 1)
    if (s == 0).any():
        raise ValueError(f"normalize: std evaluated to zero after conversion to {a.dtype}: {std}")
    out = np.subtract(a, m)
    out /= s
    if inplace and inpt.device.type == "cpu" and type(inpt) is torch.Tensor:
        a[...] = out
        return inpt
    return _wrap(out, inpt)


def _gray(a: np.ndarray) -> np.ndarray:
    r, g, b = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    ct = _float_dtype(a)
    return (r.astype(ct) * 0.2989 + g.astype(ct) * 0.587 + b.astype(ct) * 0.114)[..., None, :, :]


def _blend(a: np.ndarray, b, ratio: float) -> np.ndarray:
    ct = _float_dtype(a)
    out = a.astype(ct) * ct(ratio) + np.asarray(b, dtype=ct) * ct(1.0 - ratio)
    out = np.clip(out, 0, _max_value(a.dtype))
    return out.astype(a.dtype)  # integer images truncate, as torchvision does


def _image_array(fn, inpt):
    a = _np(inpt)
    if a.ndim < 3:
        raise ValueError(f"{fn}: expected a (..., C, H, W) image tensor, got shape {a.shape}")
    return a


def rgb_to_grayscale(inpt, num_output_channels: int = 1):
    """Luma 0.2989 R + 0.587 G + 0.114 B (PIL images: ``convert('L')``).

    Example:
        >>> import tocha.core as torch
        >>> rgb_to_grayscale(torch.full((3, 1, 1), 100, dtype=torch.uint8)).flatten().tolist()
        [99]
    """
    if num_output_channels not in (1, 3):
        raise ValueError(
            f"rgb_to_grayscale: num_output_channels must be 1 or 3, got {num_output_channels}"
        )
    kind = _kind(inpt)
    if kind == "pil":
        img = inpt.convert("L")
        if num_output_channels == 3:
            img = _pil().merge("RGB", [img, img, img])
        return img
    if kind in ("boxes", "mask", "keypoints"):
        return inpt
    if kind != "image":
        raise _type_error("rgb_to_grayscale", inpt)
    a = _image_array("rgb_to_grayscale", inpt)
    c = a.shape[-3]
    if c == 1:
        g = a
    elif c == 3:
        g = _gray(a).astype(a.dtype)
    else:
        raise TypeError(f"rgb_to_grayscale: input image must have 1 or 3 channels, got {c}")
    if num_output_channels == 3:
        g = np.repeat(g, 3, axis=-3)
    return _wrap(g.copy(), inpt)


to_grayscale = rgb_to_grayscale


def grayscale_to_rgb(inpt):
    """Repeat a 1-channel image to 3 channels (PIL: ``convert('RGB')``)."""
    kind = _kind(inpt)
    if kind == "pil":
        return inpt.convert("RGB")
    if kind != "image":
        return inpt
    a = _image_array("grayscale_to_rgb", inpt)
    if a.shape[-3] == 3:
        return _wrap(a.copy(), inpt)
    return _wrap(np.repeat(a, 3, axis=-3), inpt)


def _color_dispatch(fn, inpt, factor, pil_fn, arr_fn):
    if factor < 0:
        raise ValueError(f"{fn}: factor must be non-negative, got {factor}")
    kind = _kind(inpt)
    if kind == "pil":
        return pil_fn(inpt)
    if kind in ("boxes", "mask", "keypoints"):
        return inpt
    if kind != "image":
        raise _type_error(fn, inpt)
    a = _image_array(fn, inpt)
    c = a.shape[-3]
    if c not in (1, 3):
        raise TypeError(f"{fn}: input image must have 1 or 3 channels, got {c}")
    return _wrap(arr_fn(a), inpt)


def adjust_brightness(inpt, brightness_factor: float):
    """Multiply intensities by ``brightness_factor`` (clamped to the dtype's range).

    Example:
        >>> import tocha.core as torch
        >>> adjust_brightness(torch.tensor([[[100]]], dtype=torch.uint8), 3.0).item()
        255
    """
    from PIL import ImageEnhance

    f = float(brightness_factor)
    return _color_dispatch(
        "adjust_brightness",
        inpt,
        f,
        lambda im: ImageEnhance.Brightness(im).enhance(f),
        lambda a: _blend(a, 0.0, f),
    )


def adjust_contrast(inpt, contrast_factor: float):
    """Blend with the mean grey level (``contrast_factor=0`` gives a flat grey image)."""
    from PIL import ImageEnhance

    f = float(contrast_factor)

    def arr(a):
        if a.shape[-3] == 3:
            g = _gray(a)
            if not np.issubdtype(a.dtype, np.floating):
                g = np.floor(g)
        else:
            g = a.astype(_float_dtype(a))
        return _blend(a, g.mean(axis=(-3, -2, -1), keepdims=True), f)

    return _color_dispatch(
        "adjust_contrast", inpt, f, lambda im: ImageEnhance.Contrast(im).enhance(f), arr
    )


def adjust_saturation(inpt, saturation_factor: float):
    """Blend with the greyscale image (0 gives grey, 1 the original, >1 more saturated)."""
    from PIL import ImageEnhance

    f = float(saturation_factor)

    def arr(a):
        if a.shape[-3] == 1:
            return a.copy()
        g = _gray(a)
        if not np.issubdtype(a.dtype, np.floating):
            g = np.floor(g)
        return _blend(a, g, f)

    return _color_dispatch(
        "adjust_saturation", inpt, f, lambda im: ImageEnhance.Color(im).enhance(f), arr
    )


def _rgb_to_hsv(rgb):
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    maxc = np.maximum(np.maximum(r, g), b)
    minc = np.minimum(np.minimum(r, g), b)
    cr = maxc - minc
    eqc = cr == 0
    s = cr / np.where(maxc == 0, 1, maxc)
    crd = np.where(eqc, 1, cr)
    rc, gc, bc = (maxc - r) / crd, (maxc - g) / crd, (maxc - b) / crd
    hr = np.where(maxc == r, bc - gc, 0)
    hg = np.where((maxc == g) & (maxc != r), 2.0 + rc - bc, 0)
    hb = np.where((maxc != g) & (maxc != r), 4.0 + gc - rc, 0)
    h = np.mod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return h, s, maxc


def _hsv_to_rgb(h, s, v):
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    choices_r = [v, q, p, p, t, v]
    choices_g = [t, v, v, q, p, p]
    choices_b = [p, p, t, v, v, q]
    r = np.choose(i, choices_r)
    g = np.choose(i, choices_g)
    b = np.choose(i, choices_b)
    return np.stack([r, g, b], axis=-3)


def adjust_hue(inpt, hue_factor: float):
    """Rotate the hue by ``hue_factor`` turns, in [-0.5, 0.5].

    Example:
        >>> import tocha.core as torch
        >>> red = torch.tensor([1.0, 0.0, 0.0]).reshape(3, 1, 1)
        >>> adjust_hue(red, 1 / 3).flatten().tolist()
        [0.0, 1.0, 0.0]
    """
    f = float(hue_factor)
    if not -0.5 <= f <= 0.5:
        raise ValueError(f"adjust_hue: hue_factor must be in [-0.5, 0.5], got {hue_factor}")

    def pil_fn(im):
        if im.mode in ("L", "1", "I", "F"):
            return im
        mode = im.mode
        h, s, v = im.convert("HSV").split()
        hv = np.array(h, dtype=np.uint8)
        # uint8 arithmetic wraps around, which is exactly a rotation of the hue circle.
        with np.errstate(over="ignore"):
            hv = (hv + np.uint8(np.int64(f * 255) % 256)).astype(np.uint8)
        h = _pil().fromarray(hv, "L")
        return _pil().merge("HSV", (h, s, v)).convert(mode)

    def arr(a):
        if a.shape[-3] == 1 or f == 0:
            return a.copy()
        x = _convert_array(a, np.dtype(_float_dtype(a)), scale=True)
        h, s, v = _rgb_to_hsv(x)
        out = _hsv_to_rgb(np.mod(h + f, 1.0), s, v).astype(x.dtype)
        return _convert_array(out, a.dtype, scale=True)

    kind = _kind(inpt)
    if kind == "pil":
        return pil_fn(inpt)
    return _color_dispatch("adjust_hue", inpt, 0.0, pil_fn, arr)


# Colour ops added in their own module (invert, posterize, ...); imported last (it uses this one).
from ._color_extra import (  # noqa: E402
    adjust_gamma,
    adjust_sharpness,
    autocontrast,
    equalize,
    invert,
    posterize,
    solarize,
)

__all__ += [
    "adjust_gamma",
    "adjust_sharpness",
    "autocontrast",
    "equalize",
    "invert",
    "posterize",
    "solarize",
]

# Geometry ops added in their own module (rotate, affine, ...); imported last (it uses this one).
from ._functional_geometry import (  # noqa: E402
    affine,
    clamp_bounding_boxes,
    convert_bounding_box_format,
    elastic,
    elastic_transform,
    erase,
    five_crop,
    gaussian_blur,
    gaussian_noise,
    perspective,
    rotate,
    ten_crop,
)

__all__ += [
    "affine",
    "clamp_bounding_boxes",
    "convert_bounding_box_format",
    "elastic",
    "elastic_transform",
    "erase",
    "five_crop",
    "gaussian_blur",
    "gaussian_noise",
    "perspective",
    "rotate",
    "ten_crop",
]
