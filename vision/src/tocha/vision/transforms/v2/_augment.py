"""Random colour transforms (RandomInvert, RandomPosterize, ...) and the batch-level MixUp and
CutMix of torchvision.transforms.v2.

Example:
    >>> import tocha.core as torch
    >>> from tocha.vision.transforms import v2
    >>> _ = torch.manual_seed(0)
    >>> imgs, labels = torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    >>> out_imgs, out_labels = v2.MixUp(num_classes=5)(imgs, labels)
    >>> out_labels.shape, round(out_labels.sum().item(), 4)
    (torch.Size([4, 5]), 4.0)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

import tocha.core as torch

from . import _color_extra as CF
from . import functional as F
from ._transforms import Transform, _is_pure_tensor, _RandomApplyTransform, query_size

__all__ = [
    "CutMix",
    "MixUp",
    "RandomAdjustSharpness",
    "RandomAutocontrast",
    "RandomEqualize",
    "RandomInvert",
    "RandomPosterize",
    "RandomSolarize",
]


class RandomInvert(_RandomApplyTransform):
    """Invert the colours with probability ``p`` (see ``functional.invert``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> v2.RandomInvert(p=1.0)(torch.tensor([[[10]]], dtype=torch.uint8)).item()
        245
    """

    def transform(self, inpt, params):
        return CF.invert(inpt)


class RandomPosterize(_RandomApplyTransform):
    """Posterize to ``bits`` bits with probability ``p`` (see ``functional.posterize``)."""

    def __init__(self, bits: int, p: float = 0.5):
        super().__init__(p=p)
        if not isinstance(bits, numbers.Integral) or not 0 <= bits <= 8:
            raise ValueError(f"RandomPosterize: bits should be an int in [0, 8], got {bits!r}")
        self.bits = int(bits)

    def transform(self, inpt, params):
        return CF.posterize(inpt, self.bits)


class RandomSolarize(_RandomApplyTransform):
    """Solarize above ``threshold`` with probability ``p`` (see ``functional.solarize``)."""

    def __init__(self, threshold: float, p: float = 0.5):
        super().__init__(p=p)
        self.threshold = threshold

    def transform(self, inpt, params):
        return CF.solarize(inpt, self.threshold)


class RandomAdjustSharpness(_RandomApplyTransform):
    """Adjust sharpness by ``sharpness_factor`` with probability ``p``."""

    def __init__(self, sharpness_factor: float, p: float = 0.5):
        super().__init__(p=p)
        if sharpness_factor < 0:
            raise ValueError(
                f"RandomAdjustSharpness: sharpness_factor must be non-negative, "
                f"got {sharpness_factor}"
            )
        self.sharpness_factor = float(sharpness_factor)

    def transform(self, inpt, params):
        return CF.adjust_sharpness(inpt, self.sharpness_factor)


class RandomAutocontrast(_RandomApplyTransform):
    """Autocontrast with probability ``p`` (see ``functional.autocontrast``)."""

    def transform(self, inpt, params):
        return CF.autocontrast(inpt)


class RandomEqualize(_RandomApplyTransform):
    """Histogram-equalize with probability ``p`` (see ``functional.equalize``)."""

    def transform(self, inpt, params):
        return CF.equalize(inpt)


# ----------------------------------------------------------------------------- MixUp / CutMix


def _sample_beta(alpha: float) -> float:
    """One Beta(alpha, alpha) draw, seeded from tocha's RNG so torch.manual_seed reproduces it.

    tocha.core has no torch.distributions.Beta, so the draw comes from NumPy's generator: the
    value differs from torch's for the same seed, the distribution does not.
    """
    seed = int(torch.randint(0, 2**62, (1,)).item())
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def _default_labels(sample):
    """torchvision's heuristic: the second item of a tuple/list, or a dict's "labels" key."""
    if isinstance(sample, (tuple, list)):
        if len(sample) < 2:
            raise ValueError("expected the sample to be (images, labels), got a single item")
        sample = sample[1]
    if _is_pure_tensor(sample):
        return sample
    if isinstance(sample, dict):
        for key in sample:
            if isinstance(key, str) and key.lower() == "labels":
                return sample[key]
    raise ValueError(
        "could not find the labels: pass (images, labels), a dict with a 'labels' key, "
        "or a labels_getter"
    )


class _BaseMixUpCutMix(Transform):
    def __init__(self, *, alpha: float = 1.0, num_classes=None, labels_getter="default"):
        super().__init__()
        if alpha <= 0:
            raise ValueError(f"{type(self).__name__}: alpha must be positive, got {alpha}")
        if num_classes is not None and num_classes < 1:
            raise ValueError(
                f"{type(self).__name__}: num_classes must be a positive int or None, "
                f"got {num_classes}"
            )
        self.alpha = float(alpha)
        self.num_classes = num_classes
        if labels_getter == "default":
            self._labels_getter = _default_labels
        elif callable(labels_getter):
            self._labels_getter = labels_getter
        else:
            raise ValueError(
                f"{type(self).__name__}: labels_getter should be 'default' or a callable, "
                f"got {labels_getter!r}"
            )

    def forward(self, *inputs):
        from ._transforms import _flatten, _unflatten

        name = type(self).__name__
        sample = inputs if len(inputs) > 1 else inputs[0]
        flat: list = []
        spec = _flatten(sample, flat)
        if any(F._kind(x) in ("pil", "boxes", "mask", "keypoints") for x in flat):
            raise ValueError(f"{name}() does not support PIL images, bounding boxes and masks")
        labels = self._labels_getter(sample)
        if not isinstance(labels, torch.Tensor):
            raise ValueError(f"{name}: the labels should be a tensor, got {type(labels).__name__}")
        needs = self._needs_transform_list(flat)
        images = [x for x, n in zip(flat, needs) if n and x is not labels]
        if len(images) != 1:
            raise ValueError(f"{name}: expected exactly one batch of images, found {len(images)}")
        image = images[0]
        if image.ndim != 4:
            raise ValueError(
                f"{name}: expected a batched image (B, C, H, W), got shape {tuple(image.shape)}"
            )
        if labels.ndim == 1:
            if self.num_classes is None:
                raise ValueError(f"{name}: num_classes is needed to one-hot encode 1-d labels")
            labels_1h = torch.nn.functional.one_hot(labels.long(), num_classes=self.num_classes)
        elif labels.ndim == 2:
            labels_1h = labels  # already one-hot / soft labels
        else:
            raise ValueError(f"{name}: labels should be 1-d or 2-d, got shape {labels.shape}")
        if labels_1h.shape[0] != image.shape[0]:
            raise ValueError(
                f"{name}: the batch holds {image.shape[0]} images but {labels_1h.shape[0]} labels"
            )
        params = self.make_params([image])
        lam = params["lam"]
        lab = labels_1h.float() if not labels_1h.dtype.is_floating_point else labels_1h
        mixed_labels = lab.roll(1, 0) * (1.0 - lam) + lab * lam
        out = []
        for x in flat:
            if x is labels:
                out.append(mixed_labels)
            elif x is image:
                out.append(self._mix_image(x, params))
            else:
                out.append(x)
        return _unflatten(spec, iter(out))


class MixUp(_BaseMixUpCutMix):
    """Blend each image and its one-hot label with the previous one in the batch.

    ``lam ~ Beta(alpha, alpha)``; ``out = lam * x + (1 - lam) * x.roll(1, 0)``, labels the same.
    Integer images are mixed in float and truncated back to their dtype.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> _ = torch.manual_seed(0)
        >>> x, y = torch.rand(2, 3, 4, 4), torch.tensor([0, 1])
        >>> _, y2 = v2.MixUp(num_classes=2)(x, y)
        >>> torch.allclose(y2.sum(1), torch.ones(2))
        True
    """

    def make_params(self, flat_inputs):
        return {"lam": _sample_beta(self.alpha)}

    def _mix_image(self, x, params):
        lam = params["lam"]
        a = F._np(x)
        ct = F._float_dtype(a)
        out = np.roll(a, 1, axis=0).astype(ct) * ct(1.0 - lam) + a.astype(ct) * ct(lam)
        return F._wrap(out.astype(a.dtype), x)


class CutMix(_BaseMixUpCutMix):
    """Paste a random box of the previous image of the batch; labels mix by the box's area.

    ``lam ~ Beta(alpha, alpha)`` sets the box size (side ``sqrt(1 - lam)`` of the image, centred
    at a uniform random pixel, clipped to the image); labels mix with
    ``1 - box_area / image_area``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> _ = torch.manual_seed(0)
        >>> x, y = torch.rand(2, 3, 8, 8), torch.tensor([0, 1])
        >>> x2, y2 = v2.CutMix(num_classes=2)(x, y)
        >>> x2.shape, torch.allclose(y2.sum(1), torch.ones(2))
        (torch.Size([2, 3, 8, 8]), True)
    """

    def make_params(self, flat_inputs):
        lam = _sample_beta(self.alpha)
        h, w = query_size(flat_inputs)
        r_x = int(torch.randint(w, size=(1,)).item())
        r_y = int(torch.randint(h, size=(1,)).item())
        r = 0.5 * math.sqrt(1.0 - lam)
        r_w_half, r_h_half = int(r * w), int(r * h)
        x1, y1 = max(r_x - r_w_half, 0), max(r_y - r_h_half, 0)
        x2, y2 = min(r_x + r_w_half, w), min(r_y + r_h_half, h)
        lam_adjusted = float(1.0 - (x2 - x1) * (y2 - y1) / (w * h))
        return {"box": (x1, y1, x2, y2), "lam": lam_adjusted}

    def _mix_image(self, x, params):
        x1, y1, x2, y2 = params["box"]
        a = F._np(x)
        out = a.copy()
        out[..., y1:y2, x1:x2] = np.roll(a, 1, axis=0)[..., y1:y2, x1:x2]
        return F._wrap(out, x)
