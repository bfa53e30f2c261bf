"""FrozenBatchNorm2d lives in ops.misc, as in torchvision; re-exported for the detectors."""

from ...ops.misc import FrozenBatchNorm2d

__all__ = ["FrozenBatchNorm2d"]
