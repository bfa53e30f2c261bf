"""InterpolationMode (torchvision.transforms.InterpolationMode) and its Pillow mapping."""

from __future__ import annotations

import enum


class InterpolationMode(enum.Enum):
    """Interpolation modes; values are the ``F.interpolate`` mode names.

    Example:
        >>> from tocha.vision.transforms import InterpolationMode
        >>> InterpolationMode("bicubic") is InterpolationMode.BICUBIC
        True
    """

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    # Pillow-only filters.
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


# Pillow's integer constants (Image.Resampling) for each mode.
_PIL_CODES = {
    InterpolationMode.NEAREST: 0,
    InterpolationMode.NEAREST_EXACT: 0,
    InterpolationMode.BILINEAR: 2,
    InterpolationMode.BICUBIC: 3,
    InterpolationMode.BOX: 4,
    InterpolationMode.HAMMING: 5,
    InterpolationMode.LANCZOS: 1,
}
_FROM_PIL = {
    0: InterpolationMode.NEAREST,
    2: InterpolationMode.BILINEAR,
    3: InterpolationMode.BICUBIC,
    4: InterpolationMode.BOX,
    5: InterpolationMode.HAMMING,
    1: InterpolationMode.LANCZOS,
}


def check_interpolation(interpolation) -> InterpolationMode:
    """Accept an InterpolationMode, its string value or a Pillow integer constant."""
    if isinstance(interpolation, InterpolationMode):
        return interpolation
    if isinstance(interpolation, str):
        return InterpolationMode(interpolation)
    if isinstance(interpolation, int) and interpolation in _FROM_PIL:
        return _FROM_PIL[interpolation]
    raise TypeError(
        "interpolation should be an InterpolationMode, a mode name or a Pillow integer constant, "
        f"got {interpolation!r}"
    )


def pil_code(mode: InterpolationMode) -> int:
    return _PIL_CODES[mode]
