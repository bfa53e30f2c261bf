"""Operators for vision (torchvision.ops): boxes, RoI pooling, losses and building blocks."""

from .misc import (
    Conv2dNormActivation,
    FrozenBatchNorm2d,
    SqueezeExcitation,
    StochasticDepth,
    stochastic_depth,
)

__all__ = [
    "Conv2dNormActivation",
    "FrozenBatchNorm2d",
    "SqueezeExcitation",
    "StochasticDepth",
    "stochastic_depth",
]

# boxes, NMS, RoI ops, FPN and focal loss (appended by the ops helper)
from .boxes import (  # noqa: E402
    batched_nms,
    box_area,
    box_convert,
    box_iou,
    clip_boxes_to_image,
    complete_box_iou,
    distance_box_iou,
    generalized_box_iou,
    masks_to_boxes,
    nms,
    remove_small_boxes,
)

__all__ += [
    "batched_nms",
    "box_area",
    "box_convert",
    "box_iou",
    "clip_boxes_to_image",
    "complete_box_iou",
    "distance_box_iou",
    "generalized_box_iou",
    "masks_to_boxes",
    "nms",
    "remove_small_boxes",
]
from .ps_roi_align import PSRoIAlign, ps_roi_align  # noqa: E402
from .roi_align import RoIAlign, roi_align  # noqa: E402
from .roi_pool import RoIPool, roi_pool  # noqa: E402

__all__ += ["PSRoIAlign", "RoIAlign", "RoIPool", "ps_roi_align", "roi_align", "roi_pool"]
from .feature_pyramid_network import FeaturePyramidNetwork  # noqa: E402
from .focal_loss import sigmoid_focal_loss  # noqa: E402
from .poolers import MultiScaleRoIAlign  # noqa: E402

__all__ += ["FeaturePyramidNetwork", "MultiScaleRoIAlign", "sigmoid_focal_loss"]
from .ciou_loss import complete_box_iou_loss  # noqa: E402
from .diou_loss import distance_box_iou_loss  # noqa: E402
from .giou_loss import generalized_box_iou_loss  # noqa: E402

__all__ += ["complete_box_iou_loss", "distance_box_iou_loss", "generalized_box_iou_loss"]
from .deform_conv import DeformConv2d, deform_conv2d  # noqa: E402

__all__ += ["DeformConv2d", "deform_conv2d"]
