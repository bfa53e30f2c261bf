"""Detection models. MTCNN (Zhang et al., 2016) is not in torchvision; it lives here, beside
where torchvision keeps its detectors, because it is one: images in, boxes and scores out.

Example:
    >>> from tocha.vision.models import detection
    >>> detection.MTCNN().pnet.conv1.out_channels
    10
"""

from .mtcnn import *  # noqa: F403
from .mtcnn import MTCNN, MTCNN_Weights, ONet, PNet, RNet, mtcnn

__all__ = ["MTCNN", "MTCNN_Weights", "ONet", "PNet", "RNet", "mtcnn"]
