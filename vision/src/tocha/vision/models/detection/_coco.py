"""COCO category names (torchvision's 91-entry list with the unused ids as "N/A") and the
ObjectDetection preset of the detection weights."""

from __future__ import annotations

from typing import Any

import tocha.core as torch

from ...transforms.v2 import functional as F
from .._api import Weights

__all__ = ["ObjectDetection"]

_COCO_CATEGORIES = [
    "__background__", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train",
    "truck", "boat", "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter",
    "bench", "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
    "giraffe", "N/A", "backpack", "umbrella", "N/A", "N/A", "handbag", "tie", "suitcase",
    "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
    "skateboard", "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork",
    "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot",
    "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed", "N/A",
    "dining table", "N/A", "N/A", "toilet", "N/A", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "N/A",
    "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
]  # fmt: skip

# the two "_docs" texts of torchvision's COCO detection checkpoints
_PAPER_RECIPE = (
    "These weights were produced by following a similar training recipe as on the paper."
)
_ENHANCED_RECIPE = (
    "These weights were produced using an enhanced training recipe to boost the model accuracy."
)


class ObjectDetection:
    """A PIL image or uint8 tensor to a float ``[C, H, W]`` tensor in 0..1 (the detectors
    normalise and resize internally).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection._coco import ObjectDetection
        >>> ObjectDetection()(torch.full((3, 2, 2), 255, dtype=torch.uint8)).max().item()
        1.0
    """

    def __call__(self, img):
        if not isinstance(img, torch.Tensor):
            img = F.pil_to_tensor(img)
        return F.convert_image_dtype(img, torch.float)

    def __repr__(self) -> str:
        return self.__class__.__name__ + "()"

    def describe(self) -> str:
        return (
            "Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image "
            "``torch.Tensor`` objects. The images are rescaled to ``[0.0, 1.0]``."
        )


def _coco_weights(url: str, **meta: Any) -> Weights:
    """A COCO detection checkpoint: the ObjectDetection preset and the meta every one shares
    (COCO's categories, ``min_size`` (1, 1), the paper-recipe ``_docs``); ``meta`` adds the
    checkpoint's own entries and may override those."""
    shared = {"categories": _COCO_CATEGORIES, "min_size": (1, 1), "_docs": _PAPER_RECIPE}
    return Weights(url=url, transforms=ObjectDetection, meta={**shared, **meta})
