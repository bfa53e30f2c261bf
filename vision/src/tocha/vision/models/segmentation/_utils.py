"""What the segmentation models share: the backbone + head(s) wrapper, the VOC category names
and the evaluation preset their weights expect."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from tocha.core import nn
from tocha.core.nn import functional as F

from .._presets import ImageClassification

__all__ = ["_SimpleSegmentationModel", "SemanticSegmentation"]

_VOC_CATEGORIES = [
    "__background__",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
]


class _SimpleSegmentationModel(nn.Module):
    """Backbone (a dict of feature maps) -> classifier on ``'out'`` (and ``aux_classifier`` on
    ``'aux'``), each upsampled bilinearly to the input's height and width.

    Returns an ``OrderedDict`` with ``'out'`` and, when there is an auxiliary head, ``'aux'``.
    """

    __constants__ = ["aux_classifier"]

    def __init__(
        self, backbone: nn.Module, classifier: nn.Module, aux_classifier: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier
        self.aux_classifier = aux_classifier

    def forward(self, x):
        input_shape = tuple(x.shape[-2:])
        features = self.backbone(x)
        result: OrderedDict = OrderedDict()
        out = self.classifier(features["out"])
        result["out"] = F.interpolate(out, size=input_shape, mode="bilinear", align_corners=False)
        if self.aux_classifier is not None:
            aux = self.aux_classifier(features["aux"])
            result["aux"] = F.interpolate(
                aux, size=input_shape, mode="bilinear", align_corners=False
            )
        return result


class SemanticSegmentation(ImageClassification):
    """The evaluation preset of the segmentation weights: resize the short side to
    ``resize_size`` (no crop), rescale to [0, 1], normalize with ImageNet's mean and std.

    Example:
        >>> from PIL import Image
        >>> from tocha.vision.models.segmentation import SemanticSegmentation
        >>> SemanticSegmentation(resize_size=52)(Image.new("RGB", (80, 40))).shape
        torch.Size([3, 52, 104])
    """

    def __init__(
        self,
        *,
        resize_size: int | None,
        mean: tuple[float, ...] = (0.485, 0.456, 0.406),
        std: tuple[float, ...] = (0.229, 0.224, 0.225),
        interpolation="bilinear",
        antialias: bool | None = True,
    ) -> None:
        super().__init__(
            crop_size=0,
            resize_size=resize_size if resize_size is not None else 0,
            mean=mean,
            std=std,
            interpolation=interpolation,
            antialias=antialias,
        )
        self.crop_size = []
        self.resize_size = [resize_size] if resize_size is not None else []

    def _resize(self, arr: np.ndarray) -> np.ndarray:
        return super()._resize(arr) if self.resize_size else arr

    def _crop(self, arr: np.ndarray) -> np.ndarray:
        return arr

    def describe(self) -> str:
        return (
            "Accepts PIL images and CHW tensors. Images are resized to "
            f"resize_size={self.resize_size} ({self.interpolation}), rescaled to [0.0, 1.0] "
            f"and normalized with mean={self.mean} and std={self.std}."
        )
