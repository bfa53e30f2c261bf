"""torchvision.transforms.v2: transforms that carry images, boxes and masks together.

Example:
    >>> import tocha.core as torch
    >>> from tocha.vision.transforms import v2
    >>> _ = torch.manual_seed(0)
    >>> t = v2.Compose([
    ...     v2.RandomResizedCrop(8),
    ...     v2.RandomHorizontalFlip(),
    ...     v2.ToDtype(torch.float32, scale=True),
    ...     v2.Normalize([0.5] * 3, [0.5] * 3),
    ... ])
    >>> t(torch.zeros(3, 20, 30, dtype=torch.uint8)).shape
    torch.Size([3, 8, 8])
"""

from .._mode import InterpolationMode
from . import functional
from ._transforms import (
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
    ToDtype,
    ToImage,
    ToPILImage,
    ToTensor,
    Transform,
    query_chw,
    query_size,
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
    "ToDtype",
    "ToImage",
    "ToPILImage",
    "ToTensor",
    "Transform",
    "functional",
    "query_chw",
    "query_size",
]

# Colour augmentations and batch mixing (in _augment.py).
from ._augment import (  # noqa: E402
    CutMix,
    MixUp,
    RandomAdjustSharpness,
    RandomAutocontrast,
    RandomEqualize,
    RandomInvert,
    RandomPosterize,
    RandomSolarize,
)

__all__ += [
    "CutMix",
    "MixUp",
    "RandomAdjustSharpness",
    "RandomAutocontrast",
    "RandomEqualize",
    "RandomInvert",
    "RandomPosterize",
    "RandomSolarize",
]

# Geometry extras (rotation, affine, perspective, elastic, crops, blur, noise, erasing, boxes).
from ._geometry_extra import (  # noqa: E402
    ClampBoundingBoxes,
    ConvertBoundingBoxFormat,
    ElasticTransform,
    FiveCrop,
    GaussianBlur,
    GaussianNoise,
    RandomAffine,
    RandomErasing,
    RandomPerspective,
    RandomRotation,
    SanitizeBoundingBoxes,
    TenCrop,
)

__all__ += [
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

# Automatic augmentation policies (in _auto_augment.py).
from ._auto_augment import (  # noqa: E402
    AugMix,
    AutoAugment,
    AutoAugmentPolicy,
    RandAugment,
    TrivialAugmentWide,
)

__all__ += ["AugMix", "AutoAugment", "AutoAugmentPolicy", "RandAugment", "TrivialAugmentWide"]
