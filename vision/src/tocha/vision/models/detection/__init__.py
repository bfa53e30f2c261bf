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
from .faster_rcnn import (
    FasterRCNN,
    FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
    FasterRCNN_MobileNet_V3_Large_FPN_Weights,
    FasterRCNN_ResNet50_FPN_V2_Weights,
    FasterRCNN_ResNet50_FPN_Weights,
    FastRCNNConvFCHead,
    FastRCNNPredictor,
    TwoMLPHead,
    fasterrcnn_mobilenet_v3_large_320_fpn,
    fasterrcnn_mobilenet_v3_large_fpn,
    fasterrcnn_resnet50_fpn,
    fasterrcnn_resnet50_fpn_v2,
)
from .fcos import FCOS, FCOS_ResNet50_FPN_Weights, FCOSHead, fcos_resnet50_fpn
from .keypoint_rcnn import (
    KeypointRCNN,
    KeypointRCNN_ResNet50_FPN_Weights,
    KeypointRCNNHeads,
    KeypointRCNNPredictor,
    keypointrcnn_resnet50_fpn,
)
from .mask_rcnn import (
    MaskRCNN,
    MaskRCNN_ResNet50_FPN_V2_Weights,
    MaskRCNN_ResNet50_FPN_Weights,
    MaskRCNNHeads,
    MaskRCNNPredictor,
    maskrcnn_resnet50_fpn,
    maskrcnn_resnet50_fpn_v2,
)
from .mtcnn import MTCNN, MTCNN_Weights, ONet, PNet, RNet, mtcnn
from .retinanet import (
    RetinaNet,
    RetinaNet_ResNet50_FPN_V2_Weights,
    RetinaNet_ResNet50_FPN_Weights,
    RetinaNetClassificationHead,
    RetinaNetHead,
    RetinaNetRegressionHead,
    retinanet_resnet50_fpn,
    retinanet_resnet50_fpn_v2,
)
from .ssd import (
    SSD,
    SSD300_VGG16_Weights,
    SSDClassificationHead,
    SSDHead,
    SSDRegressionHead,
    ssd300_vgg16,
)
from .ssdlite import (
    SSDLite320_MobileNet_V3_Large_Weights,
    SSDLiteHead,
    ssdlite320_mobilenet_v3_large,
)

__all__ = [
    "AnchorGenerator",
    "DefaultBoxGenerator",
    "FasterRCNN",
    "FasterRCNN_ResNet50_FPN_Weights",
    "FasterRCNN_ResNet50_FPN_V2_Weights",
    "FasterRCNN_MobileNet_V3_Large_FPN_Weights",
    "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights",
    "FastRCNNConvFCHead",
    "FastRCNNPredictor",
    "TwoMLPHead",
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "FCOS",
    "FCOS_ResNet50_FPN_Weights",
    "FCOSHead",
    "fcos_resnet50_fpn",
    "KeypointRCNN",
    "KeypointRCNN_ResNet50_FPN_Weights",
    "KeypointRCNNHeads",
    "KeypointRCNNPredictor",
    "keypointrcnn_resnet50_fpn",
    "MaskRCNN",
    "MaskRCNN_ResNet50_FPN_Weights",
    "MaskRCNNHeads",
    "MaskRCNNPredictor",
    "maskrcnn_resnet50_fpn",
    "MaskRCNN_ResNet50_FPN_V2_Weights",
    "maskrcnn_resnet50_fpn_v2",
    "RetinaNet",
    "RetinaNet_ResNet50_FPN_Weights",
    "RetinaNet_ResNet50_FPN_V2_Weights",
    "RetinaNetClassificationHead",
    "RetinaNetHead",
    "RetinaNetRegressionHead",
    "retinanet_resnet50_fpn",
    "retinanet_resnet50_fpn_v2",
    "SSD",
    "SSDClassificationHead",
    "SSDHead",
    "SSDRegressionHead",
    "SSD300_VGG16_Weights",
    "ssd300_vgg16",
    "SSDLite320_MobileNet_V3_Large_Weights",
    "SSDLiteHead",
    "ssdlite320_mobilenet_v3_large",
    "MTCNN",
    "MTCNN_Weights",
    "ONet",
    "PNet",
    "RNet",
    "mtcnn",
]
