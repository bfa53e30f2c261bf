"""Detection models with torchvision's module paths, names and state_dict keys (Faster R-CNN,
RetinaNet, SSDlite), plus MTCNN, which torchvision does not have but which is a detector too.

Example:
    >>> from tocha.vision.models import detection
    >>> detection.MTCNN().pnet.conv1.out_channels
    10
    >>> detection.AnchorGenerator().num_anchors_per_location()
    [9]
"""

from .anchor_utils import AnchorGenerator, DefaultBoxGenerator
from .faster_rcnn import *  # noqa: F403
from .faster_rcnn import (
    FasterRCNN,
    FasterRCNN_ResNet50_FPN_Weights,
    FastRCNNPredictor,
    TwoMLPHead,
    fasterrcnn_resnet50_fpn,
)
from .mtcnn import *  # noqa: F403
from .mtcnn import MTCNN, MTCNN_Weights, ONet, PNet, RNet, mtcnn

__all__ = [
    "AnchorGenerator",
    "DefaultBoxGenerator",
    "FasterRCNN",
    "FasterRCNN_ResNet50_FPN_Weights",
    "FastRCNNPredictor",
    "TwoMLPHead",
    "fasterrcnn_resnet50_fpn",
    "MTCNN",
    "MTCNN_Weights",
    "ONet",
    "PNet",
    "RNet",
    "mtcnn",
]
