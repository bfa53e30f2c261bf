"""torchvision.transforms.v2 transform classes.

A transform takes one sample (an image alone, or any nesting of tuples, lists and dicts holding
images, boxes, masks, labels, ...), draws its random parameters once with ``make_params`` (from
tocha.core's RNG, so ``torch.manual_seed`` makes them reproducible) and applies the same
parameters to every transformable input with ``transform``. As in torchvision, a plain tensor is
treated as the image only when the sample holds no Image/Video/PIL image, and only the first
plain tensor is; everything else that is not an image, box or mask passes through unchanged.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Sequence

import numpy as np

import tocha.core as torch
from tocha.core import nn

from .._mode import InterpolationMode, check_interpolation
from . import functional as F

# ----------------------------------------------------------------------------- sample plumbing


def _flatten(x, out):
    if isinstance(x, (tuple, list)):
        return (type(x), [_flatten(v, out) for v in x])
    if isinstance(x, dict):
        return (dict, {k: _flatten(v, out) for k, v in x.items()})
    out.append(x)
    return None


def _unflatten(spec, it):
    if spec is None:
        return next(it)
    kind, children = spec
    if kind is dict:
        return {k: _unflatten(v, it) for k, v in children.items()}
    values = [_unflatten(v, it) for v in children]
    if kind in (tuple, list):
        return kind(values)
    try:
        return kind(*values)  # namedtuple
    except TypeError:
        return kind(values)


def _is_pure_tensor(x) -> bool:
    return isinstance(x, torch.Tensor) and type(x) is torch.Tensor


def _is_image_like(x) -> bool:
    if F._is_pil(x):
        return True
    return any(F._isinstance_tv(x, n) for n in ("Image", "Video"))


def _is_tv_tensor(x) -> bool:
    return isinstance(x, torch.Tensor) and type(x) is not torch.Tensor


def query_size(flat_inputs) -> tuple[int, int]:
    """The (height, width) shared by every image, video, mask and box canvas of a sample."""
    sizes = set()
    for x in flat_inputs:
        kind = F._kind(x)
        if kind in ("pil", "image", "mask", "boxes"):
            sizes.add(tuple(F.get_size(x)))
    if not sizes:
        raise TypeError("No image, video, mask or bounding box was found in the sample")
    if len(sizes) > 1:
        raise ValueError(f"Found multiple HxW dimensions in the sample: {sorted(sizes)}")
    return sizes.pop()


def query_chw(flat_inputs) -> tuple[int, int, int]:
    """(channels, height, width) shared by the images of a sample."""
    dims = {tuple(F.get_dimensions(x)) for x in flat_inputs if F._kind(x) in ("pil", "image")}
    if not dims:
        raise TypeError("No image or video was found in the sample")
    if len(dims) > 1:
        raise ValueError(f"Found multiple CxHxW dimensions in the sample: {sorted(dims)}")
    return dims.pop()


def _setup_size(size, name="size"):
    if isinstance(size, numbers.Integral):
        return [int(size), int(size)]
    if isinstance(size, Sequence) and len(size) == 1:
        return [int(size[0]), int(size[0])]
    if isinstance(size, Sequence) and len(size) == 2:
        return [int(size[0]), int(size[1])]
    raise ValueError(f"{name} should be an int or a sequence of 1 or 2 ints, got {size!r}")


# ----------------------------------------------------------------------------- base classes


class Transform(nn.Module):
    """Base class: subclasses override ``make_params(flat_inputs)`` and ``transform(inpt, params)``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> class AddOne(v2.Transform):
        ...     def transform(self, inpt, params):
        ...         return inpt + 1
        >>> AddOne()(torch.zeros(1, 2, 2)).sum().item()
        4.0
    """

    # Types this transform touches; PIL images are added when Pillow is loaded.
    _transformed_types: tuple = (torch.Tensor,)

    def __init__(self):
        super().__init__()

    def make_params(self, flat_inputs: list) -> dict:
        return {}

    def transform(self, inpt, params: dict):
        raise NotImplementedError(f"{type(self).__name__} must implement transform()")

    def _types(self):
        pil = sys.modules.get("PIL.Image")
        return self._transformed_types + ((pil.Image,) if pil is not None else ())

    def _needs_transform_list(self, flat_inputs) -> list[bool]:
        transform_pure = not any(_is_image_like(x) for x in flat_inputs)
        types = self._types()
        needs = []
        for x in flat_inputs:
            needed = isinstance(x, types)
            if _is_pure_tensor(x):
                needed = needed and transform_pure
                transform_pure = False
            needs.append(needed)
        return needs

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        flat: list = []
        spec = _flatten(sample, flat)
        needs = self._needs_transform_list(flat)
        params = self.make_params([x for x, n in zip(flat, needs) if n])
        out = [self.transform(x, params) if n else x for x, n in zip(flat, needs)]
        return _unflatten(spec, iter(out))

    def extra_repr(self) -> str:
        items = []
        for name, value in self.__dict__.items():
            if name.startswith("_") or name == "training":
                continue
            items.append(f"{name}={value!r}")
        return ", ".join(items)

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


class _RandomApplyTransform(Transform):
    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p should be a probability in [0, 1], got {p}")
        super().__init__()
        self.p = p

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        if torch.rand(1).item() >= self.p:
            return sample
        return super().forward(*inputs)


# ----------------------------------------------------------------------------- containers


class Compose(Transform):
    """Apply transforms in sequence.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> t = v2.Compose([v2.CenterCrop(2), v2.RandomHorizontalFlip(p=1.0)])
        >>> t(torch.arange(9).reshape(1, 3, 3)).tolist()
        [[[1, 0], [4, 3]]]
    """

    def __init__(self, transforms):
        super().__init__()
        if not isinstance(transforms, Sequence):
            raise TypeError("Compose: argument transforms should be a sequence of callables")
        if not transforms:
            raise ValueError("Compose: pass at least one transform")
        self.transforms = list(transforms)

    def forward(self, *inputs):
        unpack = len(inputs) > 1
        for t in self.transforms:
            outputs = t(*inputs)
            inputs = outputs if unpack else (outputs,)
        return outputs

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def extra_repr(self):
        return "\n" + "\n".join(f"    {t}" for t in self.transforms) + "\n"


class RandomApply(Transform):
    """Apply the list of transforms together with probability ``p``."""

    def __init__(self, transforms, p: float = 0.5):
        super().__init__()
        if not isinstance(transforms, (Sequence, nn.ModuleList)):
            raise TypeError("RandomApply: transforms should be a sequence of callables")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomApply: p should be a probability in [0, 1], got {p}")
        self.transforms = list(transforms)
        self.p = p

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        if torch.rand(1).item() >= self.p:
            return sample
        for t in self.transforms:
            sample = t(sample)
        return sample


class RandomChoice(Transform):
    """Apply one transform picked at random (weights ``p``, uniform by default)."""

    def __init__(self, transforms, p=None):
        super().__init__()
        if not isinstance(transforms, Sequence):
            raise TypeError("RandomChoice: transforms should be a sequence of callables")
        if p is None:
            p = [1.0] * len(transforms)
        elif len(p) != len(transforms):
            raise ValueError(
                f"RandomChoice: got {len(p)} probabilities for {len(transforms)} transforms"
            )
        total = float(sum(p))
        self.transforms = list(transforms)
        self.p = [float(v) / total for v in p]

    def forward(self, *inputs):
        idx = int(torch.multinomial(torch.tensor(self.p), 1).item())
        return self.transforms[idx](*inputs)


class RandomOrder(Transform):
    """Apply the transforms in a random order."""

    def __init__(self, transforms):
        super().__init__()
        if not isinstance(transforms, Sequence):
            raise TypeError("RandomOrder: transforms should be a sequence of callables")
        self.transforms = list(transforms)

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        for idx in torch.randperm(len(self.transforms)).tolist():
            sample = self.transforms[idx](sample)
        return sample


class Lambda(Transform):
    """Apply a user function to the inputs of the given types (all inputs by default).

    Example:
        >>> from tocha.vision.transforms import v2
        >>> v2.Lambda(lambda x: x * 2)(3)
        6
    """

    def __init__(self, lambd, *types):
        super().__init__()
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd
        self.types = types or (object,)

    def _needs_transform_list(self, flat_inputs):
        return [isinstance(x, self.types) for x in flat_inputs]

    def transform(self, inpt, params):
        return self.lambd(inpt)


# ----------------------------------------------------------------------------- geometry


class Resize(Transform):
    """Resize to ``size`` (see ``functional.resize``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> v2.Resize(4)(torch.zeros(3, 8, 16)).shape
        torch.Size([3, 4, 8])
    """

    def __init__(
        self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True
    ):
        super().__init__()
        if isinstance(size, numbers.Integral):
            size = [int(size)]
        elif size is not None and not (isinstance(size, Sequence) and len(size) in (1, 2)):
            raise ValueError(f"Resize: size should be an int or a sequence of 1 or 2, got {size}")
        if size is None and max_size is None:
            raise ValueError("Resize: size can be None only if max_size is given")
        self.size = None if size is None else list(size)
        self.interpolation = check_interpolation(interpolation)
        self.max_size = max_size
        self.antialias = antialias

    def transform(self, inpt, params):
        return F.resize(inpt, self.size, self.interpolation, self.max_size, self.antialias)


class CenterCrop(Transform):
    """Crop the centre (see ``functional.center_crop``)."""

    def __init__(self, size):
        super().__init__()
        self.size = _setup_size(size)

    def transform(self, inpt, params):
        return F.center_crop(inpt, self.size)


class Pad(Transform):
    """Pad the borders (see ``functional.pad``)."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        super().__init__()
        F._parse_padding(padding)  # validates
        if padding_mode not in F._PAD_MODES:
            raise ValueError(f"Pad: padding_mode must be one of {F._PAD_MODES}, got {padding_mode}")
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def transform(self, inpt, params):
        return F.pad(inpt, self.padding, _fill_for(self.fill, inpt), self.padding_mode)


def _fill_for(fill, inpt):
    """``fill`` may be one value or a dict by tv_tensor type (masks usually take 0 or 255)."""
    if isinstance(fill, dict):
        for cls, value in fill.items():
            if isinstance(cls, type) and isinstance(inpt, cls):
                return value
        return fill.get("others", 0)
    return fill


class RandomCrop(Transform):
    """Crop at a random position, after optional ``padding`` / ``pad_if_needed``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> v2.RandomCrop(2)(torch.zeros(1, 5, 5)).shape
        torch.Size([1, 2, 2])
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        super().__init__()
        self.size = _setup_size(size)
        self.padding = None if padding is None else F._parse_padding(padding)
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    def make_params(self, flat_inputs):
        h, w = query_size(flat_inputs)
        ch, cw = self.size
        pl, pt, pr, pb = self.padding if self.padding is not None else (0, 0, 0, 0)
        h, w = h + pt + pb, w + pl + pr
        if self.pad_if_needed and h < ch:
            extra = ch - h
            pt, pb = pt + extra, pb + extra
            h += 2 * extra
        if self.pad_if_needed and w < cw:
            extra = cw - w
            pl, pr = pl + extra, pr + extra
            w += 2 * extra
        if h < ch or w < cw:
            raise ValueError(
                f"RandomCrop: required crop size {(ch, cw)} is larger than the (padded) input "
                f"size {(h, w)}"
            )
        top = int(torch.randint(0, h - ch + 1, size=()).item()) if h > ch else 0
        left = int(torch.randint(0, w - cw + 1, size=()).item()) if w > cw else 0
        return {"padding": [pl, pt, pr, pb], "top": top, "left": left, "height": ch, "width": cw}

    def transform(self, inpt, params):
        if any(params["padding"]):
            inpt = F.pad(inpt, params["padding"], _fill_for(self.fill, inpt), self.padding_mode)
        return F.crop(inpt, params["top"], params["left"], params["height"], params["width"])


class RandomResizedCrop(Transform):
    """Crop a random area (``scale`` of the image, aspect ``ratio``) and resize it to ``size``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> _ = torch.manual_seed(0)
        >>> v2.RandomResizedCrop(4)(torch.rand(3, 10, 12)).shape
        torch.Size([3, 4, 4])
    """

    def __init__(
        self,
        size,
        scale=(0.08, 1.0),
        ratio=(3.0 / 4.0, 4.0 / 3.0),
        interpolation=InterpolationMode.BILINEAR,
        antialias=True,
    ):
        super().__init__()
        self.size = _setup_size(size)
        if not isinstance(scale, Sequence) or not isinstance(ratio, Sequence):
            raise TypeError("RandomResizedCrop: scale and ratio should be sequences of 2 floats")
        self.scale = scale
        self.ratio = ratio
        self.interpolation = check_interpolation(interpolation)
        self.antialias = antialias
        self._log_ratio = (math.log(ratio[0]), math.log(ratio[1]))

    def make_params(self, flat_inputs):
        height, width = query_size(flat_inputs)
        area = height * width
        for _ in range(10):
            target_area = area * torch.empty(1).uniform_(self.scale[0], self.scale[1]).item()
            aspect = math.exp(torch.empty(1).uniform_(*self._log_ratio).item())
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                i = int(torch.randint(0, height - h + 1, size=(1,)).item())
                j = int(torch.randint(0, width - w + 1, size=(1,)).item())
                return {"top": i, "left": j, "height": h, "width": w}
        # Fallback: the whole image cropped to the nearest allowed aspect ratio, centred.
        in_ratio = width / height
        if in_ratio < min(self.ratio):
            w, h = width, int(round(width / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            h, w = height, int(round(height * max(self.ratio)))
        else:
            w, h = width, height
        return {"top": (height - h) // 2, "left": (width - w) // 2, "height": h, "width": w}

    def transform(self, inpt, params):
        return F.resized_crop(
            inpt,
            **params,
            size=self.size,
            interpolation=self.interpolation,
            antialias=self.antialias,
        )


class RandomHorizontalFlip(_RandomApplyTransform):
    """Flip left-right with probability ``p`` (image, boxes and masks together)."""

    def transform(self, inpt, params):
        return F.horizontal_flip(inpt)


class RandomVerticalFlip(_RandomApplyTransform):
    """Flip top-bottom with probability ``p`` (image, boxes and masks together)."""

    def transform(self, inpt, params):
        return F.vertical_flip(inpt)


# ----------------------------------------------------------------------------- conversions


class Normalize(Transform):
    """(x - mean) / std per channel on float images.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> v2.Normalize([0.5], [0.5])(torch.ones(1, 1, 1)).item()
        1.0
    """

    def __init__(self, mean, std, inplace=False):
        super().__init__()
        self.mean = list(mean)
        self.std = list(std)
        self.inplace = inplace

    def transform(self, inpt, params):
        return F.normalize(inpt, self.mean, self.std, self.inplace)


class ToImage(Transform):
    """PIL image, HWC ndarray or tensor to a ``tv_tensors.Image``."""

    _transformed_types = (torch.Tensor, np.ndarray)

    def _needs_transform_list(self, flat_inputs):
        needs = super()._needs_transform_list(flat_inputs)
        # Already-typed tv_tensors stay what they are.
        return [n and not _is_tv_tensor(x) for x, n in zip(flat_inputs, needs)]

    def transform(self, inpt, params):
        return F.to_image(inpt)


class PILToTensor(Transform):
    """PIL image to a CHW tensor of its own dtype."""

    _transformed_types = ()

    def transform(self, inpt, params):
        return F.pil_to_tensor(inpt)


class ToTensor(Transform):
    """Classic ToTensor: PIL image / HWC ndarray to a float CHW tensor in [0, 1] (uint8 input).

    Example:
        >>> import numpy as np
        >>> from tocha.vision.transforms import v2
        >>> v2.ToTensor()(np.zeros((2, 3, 3), np.uint8)).shape
        torch.Size([3, 2, 3])
    """

    _transformed_types = (np.ndarray,)

    def transform(self, inpt, params):
        return F.to_tensor(inpt)


class ToPILImage(Transform):
    """Tensor (CHW) or ndarray (HWC) to a PIL image."""

    _transformed_types = (torch.Tensor, np.ndarray)

    def __init__(self, mode=None):
        super().__init__()
        self.mode = mode

    def transform(self, inpt, params):
        if F._is_pil(inpt):
            return inpt
        return F.to_pil_image(inpt, mode=self.mode)


class ToDtype(Transform):
    """Convert dtypes; a single dtype converts images only, a dict maps types to dtypes."""

    def __init__(self, dtype, scale: bool = False):
        super().__init__()
        self.dtype = dtype
        self.scale = scale

    def transform(self, inpt, params):
        if F._is_pil(inpt):
            return inpt
        if isinstance(self.dtype, dict):
            dtype = None
            for cls, value in self.dtype.items():
                if isinstance(cls, type) and isinstance(inpt, cls) and cls is not torch.Tensor:
                    dtype = value
                    break
            else:
                key = torch.Tensor if _is_pure_tensor(inpt) else "others"
                dtype = self.dtype.get(key, self.dtype.get("others"))
            if dtype is None:
                return inpt
            return F.to_dtype(inpt, dtype, self.scale)
        if F._kind(inpt) != "image":
            return inpt
        return F.to_dtype(inpt, self.dtype, self.scale)


class ConvertImageDtype(Transform):
    """Classic ConvertImageDtype: ``to_dtype(scale=True)`` on images."""

    def __init__(self, dtype=None):
        super().__init__()
        self.dtype = torch.float32 if dtype is None else dtype

    def transform(self, inpt, params):
        if F._kind(inpt) != "image":
            return inpt
        return F.to_dtype(inpt, self.dtype, scale=True)


# ----------------------------------------------------------------------------- colour


class Grayscale(Transform):
    """Convert to grey with ``num_output_channels`` of 1 or 3."""

    def __init__(self, num_output_channels: int = 1):
        super().__init__()
        if num_output_channels not in (1, 3):
            raise ValueError(
                f"Grayscale: num_output_channels must be 1 or 3, got {num_output_channels}"
            )
        self.num_output_channels = num_output_channels

    def transform(self, inpt, params):
        return F.rgb_to_grayscale(inpt, self.num_output_channels)


class RandomGrayscale(_RandomApplyTransform):
    """Convert to grey with probability ``p`` (default 0.1), keeping the channel count."""

    def __init__(self, p: float = 0.1):
        super().__init__(p=p)

    def make_params(self, flat_inputs):
        return {"num_input_channels": query_chw(flat_inputs)[0]}

    def transform(self, inpt, params):
        return F.rgb_to_grayscale(inpt, params["num_input_channels"])


class ColorJitter(Transform):
    """Random brightness, contrast, saturation and hue, applied in a random order.

    Each argument is a non-negative number v (factor drawn from [max(0, 1 - v), 1 + v];
    hue: [-v, v] with v <= 0.5) or a (min, max) pair.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.transforms import v2
        >>> _ = torch.manual_seed(0)
        >>> v2.ColorJitter(0.4, 0.4, 0.4, 0.1)(torch.rand(3, 4, 4)).shape
        torch.Size([3, 4, 4])
    """

    def __init__(self, brightness=None, contrast=None, saturation=None, hue=None):
        super().__init__()
        self.brightness = self._check_input(brightness, "brightness")
        self.contrast = self._check_input(contrast, "contrast")
        self.saturation = self._check_input(saturation, "saturation")
        self.hue = self._check_input(hue, "hue", center=0, bound=(-0.5, 0.5), clip_first=False)

    @staticmethod
    def _check_input(value, name, center=1.0, bound=(0, float("inf")), clip_first=True):
        if value is None:
            return None
        if isinstance(value, numbers.Number):
            if value < 0:
                raise ValueError(f"ColorJitter: {name}={value} should be non-negative")
            value = [center - value, center + value]
            if clip_first:
                value[0] = max(value[0], 0.0)
        elif isinstance(value, Sequence) and len(value) == 2:
            value = [float(v) for v in value]
        else:
            raise TypeError(f"ColorJitter: {name}={value!r} should be a number or a pair")
        if not bound[0] <= value[0] <= value[1] <= bound[1]:
            raise ValueError(f"ColorJitter: {name} values should be within {bound}, got {value}")
        return None if value[0] == value[1] == center else (float(value[0]), float(value[1]))

    @staticmethod
    def _generate_value(left, right):
        return torch.empty(1).uniform_(left, right).item()

    def make_params(self, flat_inputs):
        fn_idx = torch.randperm(4).tolist()
        b = None if self.brightness is None else self._generate_value(*self.brightness)
        c = None if self.contrast is None else self._generate_value(*self.contrast)
        s = None if self.saturation is None else self._generate_value(*self.saturation)
        h = None if self.hue is None else self._generate_value(*self.hue)
        return {
            "fn_idx": fn_idx,
            "brightness_factor": b,
            "contrast_factor": c,
            "saturation_factor": s,
            "hue_factor": h,
        }

    def transform(self, inpt, params):
        out = inpt
        for fn_id in params["fn_idx"]:
            if fn_id == 0 and params["brightness_factor"] is not None:
                out = F.adjust_brightness(out, params["brightness_factor"])
            elif fn_id == 1 and params["contrast_factor"] is not None:
                out = F.adjust_contrast(out, params["contrast_factor"])
            elif fn_id == 2 and params["saturation_factor"] is not None:
                out = F.adjust_saturation(out, params["saturation_factor"])
            elif fn_id == 3 and params["hue_factor"] is not None:
                out = F.adjust_hue(out, params["hue_factor"])
        return out
