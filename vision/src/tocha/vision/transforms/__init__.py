"""torchvision.transforms: the classic names, served by the v2 implementations.

The classes accept what torchvision's v1 classes accept (PIL images and image tensors) and,
being v2 transforms, also samples that carry boxes and masks.

Example:
    >>> import numpy as np
    >>> import PIL.Image
    >>> from tocha.vision import transforms
    >>> t = transforms.Compose([
    ...     transforms.CenterCrop(4),
    ...     transforms.ToTensor(),
    ...     transforms.Normalize([0.5] * 3, [0.5] * 3),
    ... ])
    >>> x = t(PIL.Image.fromarray(np.full((6, 6, 3), 255, np.uint8)))
    >>> x.shape, x.max().item()
    (torch.Size([3, 4, 4]), 1.0)
"""

from . import functional
from ._mode import InterpolationMode
from .v2._transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    ConvertImageDtype,
    Grayscale,
    Lambda,
    Normalize,
    Pad,
    PILToTensor,
    RandomApply,
    RandomChoice,
    RandomCrop,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomOrder,
    RandomResizedCrop,
    RandomVerticalFlip,
    Resize,
    ToPILImage,
    ToTensor,
)

__all__ = [
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "ConvertImageDtype",
    "Grayscale",
    "InterpolationMode",
    "Lambda",
    "Normalize",
    "PILToTensor",
    "Pad",
    "RandomApply",
    "RandomChoice",
    "RandomCrop",
    "RandomGrayscale",
    "RandomHorizontalFlip",
    "RandomOrder",
    "RandomResizedCrop",
    "RandomVerticalFlip",
    "Resize",
    "ToPILImage",
    "ToTensor",
    "functional",
]
