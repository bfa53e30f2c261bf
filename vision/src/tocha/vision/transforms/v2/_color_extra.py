"""More colour ops of torchvision.transforms.v2.functional: invert, posterize, solarize,
adjust_sharpness, autocontrast, equalize, adjust_gamma.

Tensors follow torchvision's tensor kernels (integer images truncate after float arithmetic,
float images live in [0, 1]); Pillow images go through ``PIL.ImageOps`` / ``ImageEnhance`` as in
torchvision. Boxes and masks pass through unchanged.

Example:
    >>> import tocha.core as torch
    >>> from tocha.vision.transforms.v2 import functional as F
    >>> img = torch.tensor([[[0, 100, 200]]], dtype=torch.uint8)
    >>> F.invert(img).tolist()
    [[[255, 155, 55]]]
    >>> F.posterize(img, 2).tolist()
    [[[0, 64, 192]]]
    >>> F.solarize(img, 128).tolist()
    [[[0, 100, 55]]]
"""

from __future__ import annotations

import numbers

import numpy as np

from . import functional as _F

__all__ = [
    "adjust_gamma",
    "adjust_sharpness",
    "autocontrast",
    "equalize",
    "invert",
    "posterize",
    "solarize",
]


def _dispatch(fn, inpt, pil_fn, arr_fn, channels=None):
    """Apply ``pil_fn`` to a Pillow image or ``arr_fn`` to an image tensor's array."""
    kind = _F._kind(inpt)
    if kind == "pil":
        return pil_fn(inpt)
    if kind in ("boxes", "mask", "keypoints"):
        return inpt
    if kind != "image":
        raise _F._type_error(fn, inpt)
    a = _F._image_array(fn, inpt)
    if channels is not None and a.shape[-3] not in channels:
        raise TypeError(f"{fn}: input image must have {channels} channels, got {a.shape[-3]}")
    return _F._wrap(arr_fn(a), inpt)


def _bound(dtype) -> float:
    return _F._max_value(dtype)


def _invert_array(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.bool_:
        return ~a
    if np.issubdtype(a.dtype, np.floating):
        return (a.dtype.type(1.0) - a).astype(a.dtype)
    return (_bound(a.dtype) - a.astype(np.int64)).astype(a.dtype)


def invert(inpt):
    """``max - x`` (255 - x for uint8, 1 - x for floats).

    Example:
        >>> import tocha.core as torch
        >>> invert(torch.tensor([[[0.25]]])).item()
        0.75
    """
    from PIL import ImageOps

    return _dispatch("invert", inpt, ImageOps.invert, _invert_array)


def posterize(inpt, bits: int):
    """Keep the ``bits`` most significant bits of each value (floats: ``2**bits`` levels).

    Example:
        >>> import tocha.core as torch
        >>> posterize(torch.tensor([[[0.3, 0.99]]]), 1).tolist()
        [[[0.0, 0.5]]]
    """
    from PIL import ImageOps

    if not isinstance(bits, numbers.Integral) or not 0 <= bits <= 8:
        raise ValueError(f"posterize: bits should be an int in [0, 8], got {bits!r}")
    bits = int(bits)

    def arr(a):
        if np.issubdtype(a.dtype, np.floating):
            levels = 1 << bits
            out = np.clip(np.floor(a * levels), 0, levels - 1) * (1.0 / levels)
            return out.astype(a.dtype)
        if a.dtype != np.uint8:
            raise TypeError(f"posterize: only uint8 and float images are supported, got {a.dtype}")
        mask = np.uint8((0xFF << (8 - bits)) & 0xFF)
        return a & mask

    return _dispatch("posterize", inpt, lambda im: ImageOps.posterize(im, bits), arr)


def solarize(inpt, threshold: float):
    """Invert every value ``>= threshold``.

    Example:
        >>> import tocha.core as torch
        >>> solarize(torch.tensor([[[0.2, 0.7]]]), 0.5).tolist()
        [[[0.20000000298023224, 0.30000001192092896]]]
    """
    from PIL import ImageOps

    def arr(a):
        if threshold > _bound(a.dtype):
            raise TypeError(
                f"solarize: threshold {threshold} must not exceed the image maximum "
                f"{_bound(a.dtype)}"
            )
        return np.where(a >= threshold, _invert_array(a), a)

    return _dispatch("solarize", inpt, lambda im: ImageOps.solarize(im, threshold), arr)


def autocontrast(inpt):
    """Stretch each channel so that its minimum becomes 0 and its maximum the dtype's maximum.

    Example:
        >>> import tocha.core as torch
        >>> autocontrast(torch.tensor([[[50, 100, 150]]], dtype=torch.uint8)).tolist()
        [[[0, 127, 255]]]
    """
    from PIL import ImageOps

    def arr(a):
        ct = _F._float_dtype(a)
        bound = _bound(a.dtype)
        lo = a.min(axis=(-2, -1), keepdims=True).astype(ct)
        hi = a.max(axis=(-2, -1), keepdims=True).astype(ct)
        flat = lo == hi
        # Constant channels are left as they are (scale 1, offset 0), as in torchvision.
        scale = np.where(flat, ct(1.0), bound / np.where(flat, ct(1.0), hi - lo)).astype(ct)
        lo = np.where(flat, ct(0.0), lo)
        out = np.clip((a.astype(ct) - lo) * scale, 0, bound)
        return out.astype(a.dtype)

    return _dispatch("autocontrast", inpt, ImageOps.autocontrast, arr)


def _equalize_uint8(a: np.ndarray) -> np.ndarray:
    """Pillow's ImageOps.equalize look-up table, per channel of every image."""
    flat = a.reshape(-1, a.shape[-2] * a.shape[-1])
    out = np.empty_like(flat)
    for i, ch in enumerate(flat):
        hist = np.bincount(ch, minlength=256)
        nonzero = hist[hist > 0]
        step = (int(nonzero.sum()) - int(nonzero[-1])) // 255 if len(nonzero) > 1 else 0
        if step == 0:
            out[i] = ch
            continue
        # lut[i] = (step // 2 + number of pixels below level i) // step
        below = np.concatenate([[0], np.cumsum(hist)[:-1]])
        lut = np.minimum((step // 2 + below) // step, 255).astype(np.uint8)
        out[i] = lut[ch]
    return out.reshape(a.shape)


def equalize(inpt):
    """Histogram equalisation per channel (Pillow's algorithm; floats go through uint8).

    Example:
        >>> import tocha.core as torch
        >>> img = torch.tensor([0] * 300 + [10] * 300 + [20] * 424, dtype=torch.uint8)
        >>> equalize(img.reshape(1, 32, 32)).unique().tolist()
        [0, 150, 255]
    """
    from PIL import ImageOps

    def arr(a):
        if a.dtype == np.uint8:
            return _equalize_uint8(a)
        u8 = _F._convert_array(a, np.dtype(np.uint8), True)
        return _F._convert_array(_equalize_uint8(u8), a.dtype, True)

    return _dispatch("equalize", inpt, ImageOps.equalize, arr)


def _smooth(a: np.ndarray) -> np.ndarray:
    """3x3 kernel [[1,1,1],[1,5,1],[1,1,1]] / 13 (Pillow's SMOOTH); the border is kept."""
    ct = _F._float_dtype(a)
    x = a.astype(ct)
    h, w = a.shape[-2:]
    if h <= 2 or w <= 2:
        return a.copy()
    acc = 4 * x[..., 1:-1, 1:-1]
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            acc = acc + x[..., dy : h - 2 + dy, dx : w - 2 + dx]
    inner = acc / ct(13.0)
    if not np.issubdtype(a.dtype, np.floating):
        inner = np.round(inner)
    out = a.copy()
    out[..., 1:-1, 1:-1] = inner.astype(a.dtype)
    return out


def adjust_sharpness(inpt, sharpness_factor: float):
    """Blend with a smoothed copy: 0 blurs, 1 keeps the image, 2 sharpens.

    Example:
        >>> import tocha.core as torch
        >>> img = torch.tensor([[[0, 0, 0], [0, 130, 0], [0, 0, 0]]], dtype=torch.uint8)
        >>> adjust_sharpness(img, 0.0)[0, 1, 1].item()
        50
    """
    from PIL import ImageEnhance

    f = float(sharpness_factor)
    if f < 0:
        raise ValueError(f"adjust_sharpness: sharpness_factor must be non-negative, got {f}")

    def arr(a):
        return _F._blend(a, _smooth(a), f)

    return _dispatch(
        "adjust_sharpness",
        inpt,
        lambda im: ImageEnhance.Sharpness(im).enhance(f),
        arr,
        channels=(1, 3),
    )


def adjust_gamma(inpt, gamma: float, gain: float = 1.0):
    """``gain * x ** gamma`` on intensities scaled to [0, 1].

    Example:
        >>> import tocha.core as torch
        >>> adjust_gamma(torch.tensor([[[0.25]]]), 0.5).item()
        0.5
    """
    if gamma < 0:
        raise ValueError(f"adjust_gamma: gamma must be non-negative, got {gamma}")

    def pil(im):
        # Same table as torchvision's PIL path: truncate (256 - 1e-3) * gain * (v / 255) ** gamma.
        lut = [int((255 + 1 - 1e-3) * gain * pow(v / 255.0, gamma)) for v in range(256)]
        lut = [min(max(v, 0), 255) for v in lut]
        mode = im.mode
        if mode not in ("L", "RGB"):
            im = im.convert("RGB")
        return im.point(lut * len(im.getbands())).convert(mode)

    def arr(a):
        if np.issubdtype(a.dtype, np.floating):
            return np.clip(gain * np.power(a, gamma), 0, 1).astype(a.dtype)
        x = _F._convert_array(a, np.dtype(np.float32), True)
        out = np.clip(gain * np.power(x, np.float32(gamma)), 0, 1).astype(np.float32)
        return _F._convert_array(out, a.dtype, True)

    return _dispatch("adjust_gamma", inpt, pil, arr)
