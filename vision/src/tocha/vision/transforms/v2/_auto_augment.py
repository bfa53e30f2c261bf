"""Automatic augmentation policies of torchvision.transforms.v2: AutoAugment (ImageNet, CIFAR10
and SVHN policies), RandAugment, TrivialAugmentWide and AugMix.

Each transforms the single image (or video) of a sample; labels and other non-image items pass
through, boxes and masks are refused (as in torchvision). Random choices come from tocha.core's
RNG, so ``torch.manual_seed`` reproduces them. The geometric ops (shear, translate, rotate) use
``functional.affine`` / ``functional.rotate``.

Example:
    >>> import tocha.core as torch
    >>> from tocha.vision.transforms import v2
    >>> _ = torch.manual_seed(0)
    >>> img = torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8)
    >>> v2.RandAugment()(img).shape
    torch.Size([3, 16, 16])
"""

from __future__ import annotations

import enum
import math

import numpy as np

import tocha.core as torch

from .._mode import InterpolationMode, check_interpolation
from . import _color_extra as CF
from . import functional as F
from ._transforms import Transform, _fill_for, _flatten, _unflatten

__all__ = ["AugMix", "AutoAugment", "AutoAugmentPolicy", "RandAugment", "TrivialAugmentWide"]


class AutoAugmentPolicy(enum.Enum):
    """The policies learned in the AutoAugment paper on three data sets."""

    IMAGENET = "imagenet"
    CIFAR10 = "cifar10"
    SVHN = "svhn"


def _linspace(start, end, n):
    return np.linspace(start, end, n, dtype=np.float32)


def _posterize_bits(top, span, n):
    # top - round(i / ((n - 1) / span)) for i in 0..n-1 (round half to even, as torch.round)
    return (top - np.round(np.arange(n) / ((n - 1) / span))).astype(np.int64)


_SCALAR = None  # ops without a magnitude


def _apply_op(image, op, magnitude, interpolation, fill):
    """One named op of the AutoAugment family on an image (PIL or tensor)."""
    if op == "Identity":
        return image
    if op in ("ShearX", "ShearY"):
        # torchvision shears by atan(magnitude) degrees around the top-left corner.
        angle = math.degrees(math.atan(magnitude))
        shear = [angle, 0.0] if op == "ShearX" else [0.0, angle]
        return F.affine(
            image, 0.0, [0, 0], 1.0, shear, interpolation=interpolation, fill=fill, center=[0, 0]
        )
    if op in ("TranslateX", "TranslateY"):
        shift = [int(magnitude), 0] if op == "TranslateX" else [0, int(magnitude)]
        return F.affine(image, 0.0, shift, 1.0, [0.0, 0.0], interpolation=interpolation, fill=fill)
    if op == "Rotate":
        return F.rotate(image, magnitude, interpolation=interpolation, fill=fill)
    if op == "Brightness":
        return F.adjust_brightness(image, 1.0 + magnitude)
    if op == "Color":
        return F.adjust_saturation(image, 1.0 + magnitude)
    if op == "Contrast":
        return F.adjust_contrast(image, 1.0 + magnitude)
    if op == "Sharpness":
        return CF.adjust_sharpness(image, 1.0 + magnitude)
    if op == "Posterize":
        return CF.posterize(image, int(magnitude))
    if op == "Solarize":
        bound = 255.0 if F._is_pil(image) else F._max_value(F._np(image).dtype)
        return CF.solarize(image, bound * magnitude)
    if op == "AutoContrast":
        return CF.autocontrast(image)
    if op == "Equalize":
        return CF.equalize(image)
    if op == "Invert":
        return CF.invert(image)
    raise ValueError(f"AutoAugment: unknown op {op!r}")


class _AutoAugmentBase(Transform):
    def __init__(self, interpolation=InterpolationMode.NEAREST, fill=None):
        super().__init__()
        self.interpolation = check_interpolation(interpolation)
        self.fill = fill

    def _augment(self, image, h, w):
        raise NotImplementedError

    def forward(self, *inputs):
        name = type(self).__name__
        sample = inputs if len(inputs) > 1 else inputs[0]
        flat: list = []
        spec = _flatten(sample, flat)
        if any(F._kind(x) in ("boxes", "mask", "keypoints") for x in flat):
            raise TypeError(f"{name}() does not support bounding boxes, masks or keypoints")
        needs = self._needs_transform_list(flat)
        idx = [i for i, (x, n) in enumerate(zip(flat, needs)) if n]
        if len(idx) != 1:
            raise TypeError(f"{name}: expected exactly one image or video, found {len(idx)}")
        image = flat[idx[0]]
        h, w = F.get_size(image)
        flat[idx[0]] = self._augment(image, h, w)
        return _unflatten(spec, iter(flat))

    def _op(self, image, op, magnitude):
        return _apply_op(image, op, magnitude, self.interpolation, _fill_for(self.fill, image))


# (op, probability, magnitude bin) pairs from the AutoAugment paper (as torchvision lists them).
_POLICIES = {
    AutoAugmentPolicy.IMAGENET: [
        (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
        (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
        (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
        (("Solarize", 0.6, 3), ("Equalize", 0.6, None)),
        (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
        (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
        (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
        (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
        (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
        (("Equalize", 0.0, None), ("Equalize", 0.8, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
        (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
        (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
        (("ShearX", 0.6, 5), ("Equalize", 1.0, None)),
        (("Color", 0.4, 0), ("Equalize", 0.6, None)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
    ],
    AutoAugmentPolicy.CIFAR10: [
        (("Invert", 0.1, None), ("Contrast", 0.2, 6)),
        (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
        (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)),
        (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.5, None), ("Equalize", 0.9, None)),
        (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
        (("Color", 0.4, 3), ("Brightness", 0.6, 7)),
        (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
        (("Equalize", 0.6, None), ("Equalize", 0.5, None)),
        (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
        (("Color", 0.7, 7), ("TranslateX", 0.5, 8)),
        (("Equalize", 0.3, None), ("AutoContrast", 0.4, None)),
        (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)),
        (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
        (("Solarize", 0.5, 2), ("Invert", 0.0, None)),
        (("Equalize", 0.2, None), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.2, None), ("Equalize", 0.6, None)),
        (("Color", 0.9, 9), ("Equalize", 0.6, None)),
        (("AutoContrast", 0.8, None), ("Solarize", 0.2, 8)),
        (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
        (("Solarize", 0.4, 5), ("AutoContrast", 0.9, None)),
        (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.9, None), ("Solarize", 0.8, 3)),
        (("Equalize", 0.8, None), ("Invert", 0.1, None)),
        (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, None)),
    ],
    AutoAugmentPolicy.SVHN: [
        (("ShearX", 0.9, 4), ("Invert", 0.2, None)),
        (("ShearY", 0.9, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.6, None), ("Solarize", 0.6, 6)),
        (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("AutoContrast", 0.8, None)),
        (("ShearY", 0.9, 8), ("Invert", 0.4, None)),
        (("ShearY", 0.9, 5), ("Solarize", 0.2, 6)),
        (("Invert", 0.9, None), ("AutoContrast", 0.8, None)),
        (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("Solarize", 0.3, 3)),
        (("ShearY", 0.8, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.9, None), ("TranslateY", 0.6, 6)),
        (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Contrast", 0.3, 3), ("Rotate", 0.8, 4)),
        (("Invert", 0.8, None), ("TranslateY", 0.0, 2)),
        (("ShearY", 0.7, 6), ("Solarize", 0.4, 8)),
        (("Invert", 0.6, None), ("Rotate", 0.8, 4)),
        (("ShearY", 0.3, 7), ("TranslateX", 0.9, 3)),
        (("ShearX", 0.1, 6), ("Invert", 0.6, None)),
        (("Solarize", 0.7, 2), ("TranslateY", 0.6, 7)),
        (("ShearY", 0.8, 4), ("Invert", 0.8, None)),
        (("ShearX", 0.7, 9), ("TranslateY", 0.8, 3)),
        (("ShearY", 0.8, 5), ("AutoContrast", 0.7, None)),
        (("ShearX", 0.7, 2), ("Invert", 0.1, None)),
    ],
}


def _space_autoaugment(n, h, w):
    """op -> (magnitudes for n bins, or None; signed) for AutoAugment and RandAugment."""
    return {
        "ShearX": (_linspace(0.0, 0.3, n), True),
        "ShearY": (_linspace(0.0, 0.3, n), True),
        "TranslateX": (_linspace(0.0, 150.0 / 331.0 * w, n), True),
        "TranslateY": (_linspace(0.0, 150.0 / 331.0 * h, n), True),
        "Rotate": (_linspace(0.0, 30.0, n), True),
        "Brightness": (_linspace(0.0, 0.9, n), True),
        "Color": (_linspace(0.0, 0.9, n), True),
        "Contrast": (_linspace(0.0, 0.9, n), True),
        "Sharpness": (_linspace(0.0, 0.9, n), True),
        "Posterize": (_posterize_bits(8, 4, n), False),
        "Solarize": (_linspace(1.0, 0.0, n), False),
        "AutoContrast": (_SCALAR, False),
        "Equalize": (_SCALAR, False),
        "Invert": (_SCALAR, False),
    }


def _random_key(space):
    keys = list(space)
    return keys[int(torch.randint(len(keys), (1,)).item())]


class AutoAugment(_AutoAugmentBase):
    """AutoAugment: pick one of the policy's 25 sub-policies and apply its two ops, each with
    its own probability (magnitudes from 10 bins, sign drawn at random).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> _ = torch.manual_seed(0)
        >>> t = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
        >>> t(torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)).dtype
        torch.uint8
    """

    def __init__(
        self,
        policy=AutoAugmentPolicy.IMAGENET,
        interpolation=InterpolationMode.NEAREST,
        fill=None,
    ):
        super().__init__(interpolation=interpolation, fill=fill)
        try:
            policy = AutoAugmentPolicy(policy)
        except ValueError:
            raise ValueError(
                f"AutoAugment: policy should be one of {[p.value for p in AutoAugmentPolicy]}, "
                f"got {policy!r}"
            ) from None
        self.policy = policy
        self._policies = _POLICIES[policy]

    def _augment(self, image, h, w):
        sub = self._policies[int(torch.randint(len(self._policies), (1,)).item())]
        probs = torch.rand(2).tolist()
        signs = torch.randint(2, (2,)).tolist()
        space = _space_autoaugment(10, h, w)
        for i, (op, p, bin_id) in enumerate(sub):
            if probs[i] <= p:
                mags, signed = space[op]
                magnitude = float(mags[bin_id]) if bin_id is not None else 0.0
                if signed and signs[i] == 0:
                    magnitude = -magnitude
                image = self._op(image, op, magnitude)
        return image


class RandAugment(_AutoAugmentBase):
    """RandAugment: ``num_ops`` ops drawn uniformly, all at bin ``magnitude`` of
    ``num_magnitude_bins``; signed ops flip sign with probability 1/2.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> _ = torch.manual_seed(0)
        >>> v2.RandAugment(num_ops=3)(torch.rand(3, 8, 8)).shape
        torch.Size([3, 8, 8])
    """

    def __init__(
        self,
        num_ops: int = 2,
        magnitude: int = 9,
        num_magnitude_bins: int = 31,
        interpolation=InterpolationMode.NEAREST,
        fill=None,
    ):
        super().__init__(interpolation=interpolation, fill=fill)
        if not 0 <= magnitude < num_magnitude_bins:
            raise ValueError(
                f"RandAugment: magnitude should be in [0, num_magnitude_bins={num_magnitude_bins}),"
                f" got {magnitude}"
            )
        self.num_ops = int(num_ops)
        self.magnitude = int(magnitude)
        self.num_magnitude_bins = int(num_magnitude_bins)

    def _augment(self, image, h, w):
        space = _space_autoaugment(self.num_magnitude_bins, h, w)
        del space["Invert"]
        space = {"Identity": (_SCALAR, False), **space}
        for _ in range(self.num_ops):
            op = _random_key(space)
            mags, signed = space[op]
            magnitude = 0.0
            if mags is not None:
                magnitude = float(mags[self.magnitude])
                if signed and torch.rand(()).item() <= 0.5:
                    magnitude = -magnitude
            image = self._op(image, op, magnitude)
        return image


class TrivialAugmentWide(_AutoAugmentBase):
    """TrivialAugment (wide space): one op drawn uniformly at a uniformly drawn magnitude bin.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> _ = torch.manual_seed(0)
        >>> v2.TrivialAugmentWide()(torch.zeros(1, 8, 8, dtype=torch.uint8)).shape
        torch.Size([1, 8, 8])
    """

    def __init__(
        self, num_magnitude_bins: int = 31, interpolation=InterpolationMode.NEAREST, fill=None
    ):
        super().__init__(interpolation=interpolation, fill=fill)
        if num_magnitude_bins < 2:
            raise ValueError(
                f"TrivialAugmentWide: num_magnitude_bins should be at least 2, "
                f"got {num_magnitude_bins}"
            )
        self.num_magnitude_bins = int(num_magnitude_bins)

    def _augment(self, image, h, w):
        n = self.num_magnitude_bins
        space = {
            "Identity": (_SCALAR, False),
            "ShearX": (_linspace(0.0, 0.99, n), True),
            "ShearY": (_linspace(0.0, 0.99, n), True),
            "TranslateX": (_linspace(0.0, 32.0, n), True),
            "TranslateY": (_linspace(0.0, 32.0, n), True),
            "Rotate": (_linspace(0.0, 135.0, n), True),
            "Brightness": (_linspace(0.0, 0.99, n), True),
            "Color": (_linspace(0.0, 0.99, n), True),
            "Contrast": (_linspace(0.0, 0.99, n), True),
            "Sharpness": (_linspace(0.0, 0.99, n), True),
            "Posterize": (_posterize_bits(8, 6, n), False),
            "Solarize": (_linspace(1.0, 0.0, n), False),
            "AutoContrast": (_SCALAR, False),
            "Equalize": (_SCALAR, False),
        }
        op = _random_key(space)
        mags, signed = space[op]
        magnitude = 0.0
        if mags is not None:
            magnitude = float(mags[int(torch.randint(n, ()).item())])
            if signed and torch.rand(()).item() <= 0.5:
                magnitude = -magnitude
        return self._op(image, op, magnitude)


def _sample_dirichlet(alpha: list[float]) -> np.ndarray:
    """A Dirichlet draw seeded from tocha's RNG (tocha.core has no torch.distributions)."""
    seed = int(torch.randint(0, 2**62, (1,)).item())
    return np.random.default_rng(seed).dirichlet(alpha)


class AugMix(_AutoAugmentBase):
    """AugMix: ``mixture_width`` chains of 1-3 random ops (or ``chain_depth``), mixed with
    Dirichlet weights and blended with the original by a Beta draw.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> _ = torch.manual_seed(0)
        >>> v2.AugMix()(torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)).shape
        torch.Size([3, 8, 8])
    """

    _PARAMETER_MAX = 10

    def __init__(
        self,
        severity: int = 3,
        mixture_width: int = 3,
        chain_depth: int = -1,
        alpha: float = 1.0,
        all_ops: bool = True,
        interpolation=InterpolationMode.BILINEAR,
        fill=None,
    ):
        super().__init__(interpolation=interpolation, fill=fill)
        if not 1 <= severity <= self._PARAMETER_MAX:
            raise ValueError(
                f"AugMix: severity should be between 1 and {self._PARAMETER_MAX}, got {severity}"
            )
        if alpha <= 0:
            raise ValueError(f"AugMix: alpha must be positive, got {alpha}")
        self.severity = int(severity)
        self.mixture_width = int(mixture_width)
        self.chain_depth = int(chain_depth)
        self.alpha = float(alpha)
        self.all_ops = bool(all_ops)

    def _space(self, h, w):
        n = self._PARAMETER_MAX
        space = {
            "ShearX": (_linspace(0.0, 0.3, n), True),
            "ShearY": (_linspace(0.0, 0.3, n), True),
            "TranslateX": (_linspace(0.0, w / 3.0, n), True),
            "TranslateY": (_linspace(0.0, h / 3.0, n), True),
            "Rotate": (_linspace(0.0, 30.0, n), True),
            "Posterize": (_posterize_bits(4, 4, n), False),
            "Solarize": (_linspace(1.0, 0.0, n), False),
            "AutoContrast": (_SCALAR, False),
            "Equalize": (_SCALAR, False),
        }
        if self.all_ops:
            for op in ("Brightness", "Color", "Contrast", "Sharpness"):
                space[op] = (_linspace(0.0, 0.9, n), True)
        return space

    def _augment(self, image, h, w):
        is_pil = F._is_pil(image)
        tensor = F.pil_to_tensor(image) if is_pil else image
        orig = F._np(tensor)
        space = self._space(h, w)
        # Weight of the original vs the mixture, then the weights of the chains.
        m = _sample_dirichlet([self.alpha, self.alpha])
        weights = _sample_dirichlet([self.alpha] * self.mixture_width) * m[1]
        ct = F._float_dtype(orig)
        mix = orig.astype(ct) * ct(m[0])
        for i in range(self.mixture_width):
            aug = tensor
            depth = self.chain_depth
            if depth <= 0:
                depth = int(torch.randint(1, 4, (1,)).item())
            for _ in range(depth):
                op = _random_key(space)
                mags, signed = space[op]
                magnitude = 0.0
                if mags is not None:
                    magnitude = float(mags[int(torch.randint(self.severity, ()).item())])
                if signed and torch.rand(()).item() < 0.5:
                    magnitude = -magnitude
                aug = self._op(aug, op, magnitude)
            mix += F._np(aug).astype(ct) * ct(weights[i])
        out = F._wrap(mix.astype(orig.dtype), tensor)
        return F.to_pil_image(out) if is_pil else out
