"""torchvision.transforms.v2 geometry classes: random rotation/affine/perspective, elastic,
five/ten crops, blur, noise, erasing and bounding-box utilities (see ``_functional_geometry``).

Example:
    >>> import tocha.core as torch
    >>> from tocha.vision.transforms import v2
    >>> _ = torch.manual_seed(0)
    >>> v2.RandomRotation(30)(torch.zeros(3, 8, 8)).shape
    torch.Size([3, 8, 8])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

import tocha.core as torch

from .._mode import InterpolationMode, check_interpolation
from . import _functional_geometry as G
from . import functional as F
from ._transforms import (
    Transform,
    _fill_for,
    _RandomApplyTransform,
    _setup_size,
    query_chw,
    query_size,
)

__all__ = [
    "ClampBoundingBoxes",
    "ConvertBoundingBoxFormat",
    "ElasticTransform",
    "FiveCrop",
    "GaussianBlur",
    "GaussianNoise",
    "RandomAffine",
    "RandomErasing",
    "RandomPerspective",
    "RandomRotation",
    "SanitizeBoundingBoxes",
    "TenCrop",
]


def _uniform(lo, hi) -> float:
    return float(torch.empty(1).uniform_(float(lo), float(hi)).item())


def _range(value, name, who, center=0.0):
    """A number v becomes (center - v, center + v); a pair is kept."""
    if isinstance(value, numbers.Real):
        if value < 0:
            raise ValueError(f"{who}: if {name} is a single number, it must be non-negative")
        return [center - float(value), center + float(value)]
    if isinstance(value, Sequence) and len(value) == 2:
        return [float(v) for v in value]
    raise TypeError(f"{who}: {name} should be a number or a sequence of 2, got {value!r}")


class RandomRotation(Transform):
    """Rotate by an angle drawn from ``degrees`` (counter-clockwise).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> v2.RandomRotation((90, 90), expand=True)(torch.zeros(1, 2, 4)).shape
        torch.Size([1, 4, 2])
    """

    def __init__(
        self, degrees, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=0
    ):
        super().__init__()
        self.degrees = _range(degrees, "degrees", "RandomRotation")
        self.interpolation = check_interpolation(interpolation)
        self.expand = expand
        self.center = None if center is None else list(center)
        self.fill = fill

    def make_params(self, flat_inputs):
        return {"angle": _uniform(*self.degrees)}

    def transform(self, inpt, params):
        return F.rotate(
            inpt,
            params["angle"],
            self.interpolation,
            self.expand,
            self.center,
            _fill_for(self.fill, inpt),
        )


class RandomAffine(Transform):
    """Random rotation (clockwise), translation (fractions of W, H), scale and shear."""

    def __init__(
        self,
        degrees,
        translate=None,
        scale=None,
        shear=None,
        interpolation=InterpolationMode.NEAREST,
        fill=0,
        center=None,
    ):
        super().__init__()
        self.degrees = _range(degrees, "degrees", "RandomAffine")
        if translate is not None and (
            len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate)
        ):
            raise ValueError(f"RandomAffine: translate values should be in [0, 1], got {translate}")
        self.translate = translate
        if scale is not None and (len(scale) != 2 or any(s <= 0 for s in scale)):
            raise ValueError(f"RandomAffine: scale values should be positive, got {scale}")
        self.scale = scale
        if shear is not None:
            if isinstance(shear, numbers.Real):
                shear = [-float(shear), float(shear)]
            elif len(shear) not in (2, 4):
                raise ValueError(f"RandomAffine: shear should have 1, 2 or 4 values, got {shear}")
            shear = [float(s) for s in shear]
        self.shear = shear
        self.interpolation = check_interpolation(interpolation)
        self.fill = fill
        self.center = None if center is None else list(center)

    def make_params(self, flat_inputs):
        height, width = query_size(flat_inputs)
        angle = _uniform(*self.degrees)
        if self.translate is not None:
            mx, my = self.translate[0] * width, self.translate[1] * height
            translate = [int(round(_uniform(-mx, mx))), int(round(_uniform(-my, my)))]
        else:
            translate = [0, 0]
        scale = _uniform(*self.scale) if self.scale is not None else 1.0
        shear = [0.0, 0.0]
        if self.shear is not None:
            shear[0] = _uniform(self.shear[0], self.shear[1])
            if len(self.shear) == 4:
                shear[1] = _uniform(self.shear[2], self.shear[3])
        return {"angle": angle, "translate": translate, "scale": scale, "shear": shear}

    def transform(self, inpt, params):
        return F.affine(
            inpt,
            **params,
            interpolation=self.interpolation,
            fill=_fill_for(self.fill, inpt),
            center=self.center,
        )


class RandomPerspective(_RandomApplyTransform):
    """Perspective warp of random corner offsets (up to ``distortion_scale`` of half a side)."""

    def __init__(
        self, distortion_scale=0.5, p=0.5, interpolation=InterpolationMode.BILINEAR, fill=0
    ):
        super().__init__(p=p)
        if not 0 <= distortion_scale <= 1:
            raise ValueError(
                f"RandomPerspective: distortion_scale should be in [0, 1], got {distortion_scale}"
            )
        self.distortion_scale = distortion_scale
        self.interpolation = check_interpolation(interpolation)
        self.fill = fill

    def make_params(self, flat_inputs):
        height, width = query_size(flat_inputs)
        bh = int(self.distortion_scale * (height // 2)) + 1
        bw = int(self.distortion_scale * (width // 2)) + 1

        def ri(lo, hi):
            return int(torch.randint(lo, hi, size=(1,)).item())

        topleft = [ri(0, bw), ri(0, bh)]
        topright = [ri(width - bw, width), ri(0, bh)]
        botright = [ri(width - bw, width), ri(height - bh, height)]
        botleft = [ri(0, bw), ri(height - bh, height)]
        start = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
        end = [topleft, topright, botright, botleft]
        return {"coefficients": G._perspective_coeffs(start, end)}

    def transform(self, inpt, params):
        return F.perspective(
            inpt,
            None,
            None,
            self.interpolation,
            _fill_for(self.fill, inpt),
            coefficients=params["coefficients"],
        )


class ElasticTransform(Transform):
    """Random smooth displacement: uniform noise blurred with ``sigma``, scaled by ``alpha``."""

    def __init__(self, alpha=50.0, sigma=5.0, interpolation=InterpolationMode.BILINEAR, fill=0):
        super().__init__()
        self.alpha = _pair(alpha)
        self.sigma = _pair(sigma)
        self.interpolation = check_interpolation(interpolation)
        self.fill = fill

    def make_params(self, flat_inputs):
        size = list(query_size(flat_inputs))
        fields = []
        for i in range(2):
            d = torch.rand([1, 1] + size) * 2 - 1
            if self.sigma[i] > 0.0:
                k = int(8 * self.sigma[i] + 1)
                k += 1 - k % 2  # odd
                d = G.gaussian_blur(d, [k, k], [self.sigma[i], self.sigma[i]])
            fields.append(d * self.alpha[i] / size[i])
        displacement = torch.cat(fields, 1).permute(0, 2, 3, 1)
        return {"displacement": displacement}

    def transform(self, inpt, params):
        return F.elastic(
            inpt, params["displacement"], self.interpolation, _fill_for(self.fill, inpt)
        )


def _pair(v):
    if isinstance(v, numbers.Real):
        return [float(v), float(v)]
    if isinstance(v, Sequence) and len(v) in (1, 2):
        return [float(v[0]), float(v[-1])]
    raise TypeError(f"expected a number or a sequence of 1 or 2 numbers, got {v!r}")


def _no_boxes_or_masks(who, flat_inputs):
    for x in flat_inputs:
        if F._kind(x) in ("boxes", "mask"):
            raise TypeError(f"{who}: BoundingBoxes and Mask are not supported")


class FiveCrop(Transform):
    """Four corner crops and the centre crop, as a tuple (images only).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> len(v2.FiveCrop(2)(torch.zeros(1, 4, 4)))
        5
    """

    def __init__(self, size):
        super().__init__()
        self.size = _setup_size(size)

    def make_params(self, flat_inputs):
        _no_boxes_or_masks("FiveCrop", flat_inputs)
        return {}

    def transform(self, inpt, params):
        return F.five_crop(inpt, self.size)


class TenCrop(Transform):
    """``FiveCrop`` plus the five crops of the flipped image (images only)."""

    def __init__(self, size, vertical_flip=False):
        super().__init__()
        self.size = _setup_size(size)
        self.vertical_flip = vertical_flip

    def make_params(self, flat_inputs):
        _no_boxes_or_masks("TenCrop", flat_inputs)
        return {}

    def transform(self, inpt, params):
        return F.ten_crop(inpt, self.size, self.vertical_flip)


class GaussianBlur(Transform):
    """Gaussian blur with sigma drawn uniformly from ``sigma`` (same sigma on both axes)."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        super().__init__()
        self.kernel_size = _setup_size(kernel_size, "kernel_size")
        if any(k <= 0 or k % 2 == 0 for k in self.kernel_size):
            raise ValueError(
                f"GaussianBlur: kernel size should be odd and positive, got {kernel_size}"
            )
        if isinstance(sigma, numbers.Real):
            if sigma <= 0:
                raise ValueError(f"GaussianBlur: sigma should be positive, got {sigma}")
            sigma = (float(sigma), float(sigma))
        elif isinstance(sigma, Sequence) and len(sigma) == 2:
            if not 0.0 < sigma[0] <= sigma[1]:
                raise ValueError(f"GaussianBlur: sigma should be 0 < min <= max, got {sigma}")
        else:
            raise TypeError(f"GaussianBlur: sigma should be a number or a pair, got {sigma!r}")
        self.sigma = [float(s) for s in sigma]

    def make_params(self, flat_inputs):
        s = _uniform(*self.sigma)
        return {"sigma": [s, s]}

    def transform(self, inpt, params):
        return F.gaussian_blur(inpt, self.kernel_size, params["sigma"])


class GaussianNoise(Transform):
    """Add Gaussian noise to float images (clipped to [0, 1] by default)."""

    def __init__(self, mean=0.0, sigma=0.1, clip=True):
        super().__init__()
        self.mean = mean
        self.sigma = sigma
        self.clip = clip

    def transform(self, inpt, params):
        return F.gaussian_noise(inpt, self.mean, self.sigma, self.clip)


class RandomErasing(_RandomApplyTransform):
    """Erase a random rectangle (area fraction ``scale``, aspect ``ratio``) with ``value``.

    ``value="random"`` fills with standard normal noise.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> _ = torch.manual_seed(0)
        >>> out = v2.RandomErasing(p=1.0, value=0)(torch.ones(1, 10, 10))
        >>> bool(out.min() == 0)
        True
    """

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0, inplace=False):
        super().__init__(p=p)
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("RandomErasing: value should be a number, 'random' or a sequence")
        if isinstance(value, str) and value != "random":
            raise ValueError("RandomErasing: if value is a str, it should be 'random'")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("RandomErasing: scale and ratio should be of kind (min, max)")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError(f"RandomErasing: scale should be between 0 and 1, got {scale}")
        self.scale = scale
        self.ratio = ratio
        self.value = value
        self.inplace = inplace
        if isinstance(value, (int, float)):
            self._value = [float(value)]
        elif isinstance(value, str):
            self._value = None
        else:
            self._value = [float(v) for v in value]
        self._log_ratio = (math.log(ratio[0]), math.log(ratio[1]))

    def make_params(self, flat_inputs):
        img_c, img_h, img_w = query_chw(flat_inputs)
        if self._value is not None and len(self._value) not in (1, img_c):
            raise ValueError(
                f"RandomErasing: value has {len(self._value)} entries for a {img_c}-channel image"
            )
        area = img_h * img_w
        for _ in range(10):
            erase_area = area * _uniform(*self.scale)
            aspect = math.exp(_uniform(*self._log_ratio))
            h = int(round(math.sqrt(erase_area * aspect)))
            w = int(round(math.sqrt(erase_area / aspect)))
            if not (h < img_h and w < img_w):
                continue
            if self._value is None:
                v = torch.empty([img_c, h, w], dtype=torch.float32).normal_()
            else:
                v = torch.tensor(self._value)[:, None, None]
            i = int(torch.randint(0, img_h - h + 1, size=(1,)).item())
            j = int(torch.randint(0, img_w - w + 1, size=(1,)).item())
            return {"i": i, "j": j, "h": h, "w": w, "v": v}
        return {"i": 0, "j": 0, "h": img_h, "w": img_w, "v": None}

    def transform(self, inpt, params):
        if params["v"] is None or F._kind(inpt) not in ("pil", "image"):
            return inpt
        return F.erase(inpt, **params, inplace=self.inplace)


class ClampBoundingBoxes(Transform):
    """Clamp bounding boxes to their canvas."""

    def transform(self, inpt, params):
        if F._kind(inpt) != "boxes":
            return inpt
        return F.clamp_bounding_boxes(inpt)


class ConvertBoundingBoxFormat(Transform):
    """Convert bounding boxes to ``format`` (XYXY, XYWH or CXCYWH)."""

    def __init__(self, format):
        super().__init__()
        self.format = format

    def transform(self, inpt, params):
        if F._kind(inpt) != "boxes":
            return inpt
        return F.convert_bounding_box_format(inpt, new_format=self.format)


def _find_labels(sample):
    if isinstance(sample, tuple) and len(sample) >= 2:
        sample = sample[1]
    if not isinstance(sample, dict):
        raise ValueError(
            "SanitizeBoundingBoxes: the default labels_getter needs a dict sample, or a tuple "
            "whose second item is a dict; pass labels_getter=None or a callable"
        )
    key = next((k for k in sample if isinstance(k, str) and k.lower() == "labels"), None)
    if key is None:
        key = next((k for k in sample if isinstance(k, str) and "label" in k.lower()), None)
    if key is None:
        raise ValueError(
            "SanitizeBoundingBoxes: could not find a 'labels' key in the sample; "
            "pass labels_getter=None or a callable"
        )
    return sample[key]


class SanitizeBoundingBoxes(Transform):
    """Remove boxes smaller than ``min_size``/``min_area`` or outside the canvas, with their
    labels (found by ``labels_getter``) and masks.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision import tv_tensors
        >>> from tocha.vision.transforms import v2
        >>> boxes = tv_tensors.BoundingBoxes([[0, 0, 4, 4], [1, 1, 1, 3]], format="XYXY",
        ...                                  canvas_size=(8, 8))
        >>> out = v2.SanitizeBoundingBoxes()({"boxes": boxes, "labels": torch.tensor([1, 2])})
        >>> out["boxes"].tolist(), out["labels"].tolist()
        ([[0, 0, 4, 4]], [1])
    """

    def __init__(self, min_size=1.0, min_area=1.0, labels_getter="default"):
        super().__init__()
        if min_size < 1:
            raise ValueError(f"SanitizeBoundingBoxes: min_size must be >= 1, got {min_size}")
        if min_area < 1:
            raise ValueError(f"SanitizeBoundingBoxes: min_area must be >= 1, got {min_area}")
        self.min_size = float(min_size)
        self.min_area = float(min_area)
        if labels_getter == "default":
            self._labels_getter = _find_labels
        elif labels_getter is None or callable(labels_getter):
            self._labels_getter = labels_getter
        else:
            raise ValueError(
                f"SanitizeBoundingBoxes: labels_getter should be 'default', None or a callable, "
                f"got {labels_getter!r}"
            )
        self.labels_getter = labels_getter

    def forward(self, *inputs):
        from ._transforms import _flatten, _unflatten

        sample = inputs if len(inputs) > 1 else inputs[0]
        labels = None if self._labels_getter is None else self._labels_getter(sample)
        if labels is not None and not isinstance(labels, (tuple, list)):
            labels = (labels,)
        flat: list = []
        spec = _flatten(sample, flat)
        boxes = [x for x in flat if F._kind(x) == "boxes"]
        if len(boxes) != 1:
            raise ValueError(
                f"SanitizeBoundingBoxes: expected exactly one BoundingBoxes in the sample, got {len(boxes)}"
            )
        b = F._boxes_xyxy(boxes[0]).reshape(-1, 4)
        h, w = boxes[0].canvas_size
        ws, hs = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        valid = (ws >= self.min_size) & (hs >= self.min_size) & (b >= 0).all(-1)
        valid &= (b[:, 0] <= w) & (b[:, 2] <= w) & (b[:, 1] <= h) & (b[:, 3] <= h)
        valid &= ws * hs >= self.min_area
        idx = torch.from_numpy(np.flatnonzero(valid))
        out = []
        for x in flat:
            is_label = labels is not None and any(x is lab for lab in labels)
            if is_label or F._kind(x) in ("boxes", "mask"):
                sel = x[idx.to(x.device)]
                if F._kind(x) in ("boxes", "mask"):
                    # Indexing a tv_tensor gives a plain tensor; keep the type and metadata.
                    from tocha.vision import tv_tensors

                    sel = tv_tensors.wrap(sel, like=x)
                out.append(sel)
            else:
                out.append(x)
        return _unflatten(spec, iter(out))
