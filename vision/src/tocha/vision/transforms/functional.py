"""torchvision.transforms.functional: the classic function names (v2 implementations).

Example:
    >>> import tocha.core as torch
    >>> from tocha.vision.transforms import functional as F
    >>> F.hflip(torch.tensor([[[1, 2]]])).tolist()
    [[[2, 1]]]
    >>> F.get_image_size(torch.zeros(3, 4, 5))
    [5, 4]
"""

from ._mode import InterpolationMode
from .v2.functional import (
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    center_crop,
    convert_image_dtype,
    crop,
    get_dimensions,
    get_image_num_channels,
    get_image_size,
    hflip,
    normalize,
    pad,
    pil_to_tensor,
    resize,
    resized_crop,
    rgb_to_grayscale,
    to_grayscale,
    to_pil_image,
    to_tensor,
    vflip,
)

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
    "hflip",
    "normalize",
    "pad",
    "pil_to_tensor",
    "resize",
    "resized_crop",
    "rgb_to_grayscale",
    "to_grayscale",
    "to_pil_image",
    "to_tensor",
    "vflip",
]
