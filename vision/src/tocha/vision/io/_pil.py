"""Pillow <-> NumPy conversions shared by io and tv_tensors."""

from __future__ import annotations

import numpy as np


def pil_to_chw(img) -> np.ndarray:
    """The pixels of a PIL image as a ``[C, H, W]`` array in the image's own dtype."""
    arr = np.array(img, copy=True)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return np.ascontiguousarray(arr.transpose(2, 0, 1))
