"""The preprocessing that pretrained classification weights expect (torchvision's presets).

Implemented on Pillow + NumPy so the zoo does not depend on the transforms package.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

import tocha.core as torch

_PIL_MODES = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


def _mode_name(interpolation) -> str:
    name = getattr(interpolation, "value", interpolation)
    name = str(name).lower()
    if name not in _PIL_MODES:
        raise ValueError(
            f"ImageClassification: unsupported interpolation {interpolation!r}; "
            f"use one of {sorted(_PIL_MODES)}"
        )
    return name


def _to_float_hwc(img) -> np.ndarray:
    """A PIL image or a CHW tensor/array as an HWC float32 array in [0, 1]."""
    if isinstance(img, Image.Image):
        arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
        return arr
    arr = img.numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
    if arr.ndim != 3:
        raise ValueError(f"ImageClassification: expected a CHW image, got shape {arr.shape}")
    scale = 255.0 if arr.dtype == np.uint8 else 1.0
    return np.ascontiguousarray(arr.transpose(1, 2, 0), dtype=np.float32) / scale


class ImageClassification:
    """Resize the short side, center-crop, rescale to [0, 1] and normalize; returns CHW float.

    Takes a PIL image or a CHW tensor (uint8 in [0, 255] or float in [0, 1]); a batch of CHW
    tensors (NCHW) is processed image by image.

    Example:
        >>> from PIL import Image
        >>> from tocha.vision.models._presets import ImageClassification
        >>> t = ImageClassification(crop_size=224)
        >>> t(Image.new("RGB", (320, 240), (124, 116, 104))).shape
        torch.Size([3, 224, 224])
    """

    def __init__(
        self,
        *,
        crop_size: int,
        resize_size: int = 256,
        mean: tuple[float, ...] = (0.485, 0.456, 0.406),
        std: tuple[float, ...] = (0.229, 0.224, 0.225),
        interpolation="bilinear",
        antialias: bool | None = True,
    ) -> None:
        self.crop_size = [crop_size]
        self.resize_size = [resize_size]
        self.mean = list(mean)
        self.std = list(std)
        self.interpolation = _mode_name(interpolation)
        self.antialias = antialias

    def _resize(self, arr: np.ndarray) -> np.ndarray:
        h, w = arr.shape[:2]
        size = self.resize_size[0]
        # torchvision's Resize(int): the short side becomes `size`, the long one is truncated
        if h <= w:
            nh, nw = size, int(size * w / h)
        else:
            nh, nw = int(size * h / w), size
        if (nh, nw) == (h, w):
            return arr
        mode = _PIL_MODES[self.interpolation]
        # per channel in Pillow's float mode: no uint8 rounding between resize and normalize
        chans = [
            np.asarray(Image.fromarray(arr[..., c], mode="F").resize((nw, nh), mode))
            for c in range(arr.shape[2])
        ]
        return np.stack(chans, axis=-1)

    def _crop(self, arr: np.ndarray) -> np.ndarray:
        c = self.crop_size[0]
        h, w = arr.shape[:2]
        if h < c or w < c:
            pad_h, pad_w = max(c - h, 0), max(c - w, 0)
            arr = np.pad(
                arr,
                ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)),
            )
            h, w = arr.shape[:2]
        top = int(round((h - c) / 2.0))
        left = int(round((w - c) / 2.0))
        return arr[top : top + c, left : left + c]

    def _one(self, img) -> np.ndarray:
        arr = self._crop(self._resize(_to_float_hwc(img)))
        arr = (arr - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32)

    def __call__(self, img):
        if isinstance(img, torch.Tensor) and img.ndim == 4:
            return torch.from_numpy(np.stack([self._one(x) for x in img]))
        return torch.from_numpy(self._one(img))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(\n    crop_size={self.crop_size}\n"
            f"    resize_size={self.resize_size}\n    mean={self.mean}\n    std={self.std}\n"
            f"    interpolation={self.interpolation}\n)"
        )

    def describe(self) -> str:
        return (
            "Accepts PIL images and CHW tensors. Images are resized to "
            f"resize_size={self.resize_size} ({self.interpolation}), center-cropped to "
            f"crop_size={self.crop_size}, rescaled to [0.0, 1.0] and normalized with "
            f"mean={self.mean} and std={self.std}."
        )
