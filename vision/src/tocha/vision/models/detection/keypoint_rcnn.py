"""Keypoint R-CNN (He et al., "Mask R-CNN", section on human pose) with torchvision's names."""

from __future__ import annotations

from typing import Any

import tocha.core.nn.functional as F
from tocha.core import nn

from ...ops.poolers import MultiScaleRoIAlign
from .._api import WeightsEnum, register_model
from ..resnet import ResNet50_Weights
from ._coco import _coco_weights
from ._utils import _load_weights, _ovewrite_value_param
from .backbone_utils import _resnet50_fpn_backbone
from .faster_rcnn import FasterRCNN

__all__ = [
    "KeypointRCNN",
    "KeypointRCNN_ResNet50_FPN_Weights",
    "KeypointRCNNHeads",
    "KeypointRCNNPredictor",
    "keypointrcnn_resnet50_fpn",
]

_COCO_PERSON_CATEGORIES = ["no person", "person"]
_COCO_PERSON_KEYPOINT_NAMES = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip


class KeypointRCNNHeads(nn.Sequential):
    """3x3 convolutions with ReLU over the pooled RoI features of the keypoint branch."""

    def __init__(self, in_channels: int, layers: list[int]) -> None:
        blocks: list[nn.Module] = []
        previous = in_channels
        for out_channels in layers:
            blocks.append(nn.Conv2d(previous, out_channels, 3, stride=1, padding=1))
            blocks.append(nn.ReLU(inplace=True))
            previous = out_channels
        super().__init__(*blocks)
        for m in self.children():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)


class KeypointRCNNPredictor(nn.Module):
    """A stride-2 transposed convolution to one heatmap per keypoint, upsampled 2x more."""

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        kernel = 4
        self.kps_score_lowres = nn.ConvTranspose2d(
            in_channels, num_keypoints, kernel, stride=2, padding=kernel // 2 - 1
        )
        nn.init.kaiming_normal_(self.kps_score_lowres.weight, mode="fan_out", nonlinearity="relu")
        nn.init.constant_(self.kps_score_lowres.bias, 0)
        self.up_scale = 2
        self.out_channels = num_keypoints

    def forward(self, x):
        x = self.kps_score_lowres(x)
        return F.interpolate(
            x,
            scale_factor=float(self.up_scale),
            mode="bilinear",
            align_corners=False,
            recompute_scale_factor=False,
        )


class KeypointRCNN(FasterRCNN):
    """Faster R-CNN plus a keypoint branch: training targets also carry ``keypoints``
    (``[N, K, 3]``: x, y, visibility) and the losses add ``loss_keypoint``; in eval each
    detection gets ``keypoints`` (``[N, K, 3]``) and ``keypoints_scores``. ``min_size``
    defaults to torchvision's multi-scale ``(640, 672, 704, 736, 768, 800)``; other arguments
    as :class:`FasterRCNN`.
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int | None = None,
        min_size: int | tuple[int, ...] | None = None,
        max_size: int = 1333,
        *args: Any,
        keypoint_roi_pool: MultiScaleRoIAlign | None = None,
        keypoint_head: nn.Module | None = None,
        keypoint_predictor: nn.Module | None = None,
        num_keypoints: int | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(keypoint_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError(
                "keypoint_roi_pool should be of type MultiScaleRoIAlign or None instead of "
                f"{type(keypoint_roi_pool)}"
            )
        if min_size is None:
            min_size = (640, 672, 704, 736, 768, 800)
        if num_classes is not None and keypoint_predictor is not None:
            raise ValueError("num_classes should be None when keypoint_predictor is specified")
        if keypoint_predictor is not None:
            if num_keypoints is not None:
                raise ValueError(
                    "num_keypoints should be None when keypoint_predictor is specified"
                )
        else:
            num_keypoints = 17 if num_keypoints is None else num_keypoints
        out_channels = backbone.out_channels
        if keypoint_roi_pool is None:
            keypoint_roi_pool = MultiScaleRoIAlign(
                featmap_names=["0", "1", "2", "3"], output_size=14, sampling_ratio=2
            )
        if keypoint_head is None:
            keypoint_head = KeypointRCNNHeads(out_channels, [512] * 8)
        if keypoint_predictor is None:
            keypoint_predictor = KeypointRCNNPredictor(512, num_keypoints)
        super().__init__(backbone, num_classes, min_size, max_size, *args, **kwargs)
        self.roi_heads.keypoint_roi_pool = keypoint_roi_pool
        self.roi_heads.keypoint_head = keypoint_head
        self.roi_heads.keypoint_predictor = keypoint_predictor


# COCO person keypoints: these categories replace COCO's 91
_META = {
    "categories": _COCO_PERSON_CATEGORIES,
    "keypoint_names": _COCO_PERSON_KEYPOINT_NAMES,
    "num_params": 59137258,
}


class KeypointRCNN_ResNet50_FPN_Weights(WeightsEnum):
    COCO_LEGACY = _coco_weights(
        "https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-9f466800.pth",
        **_META,
        recipe="https://github.com/pytorch/vision/issues/1606",
        _metrics={"COCO-val2017": {"box_map": 50.6, "kp_map": 61.1}},
        _ops=133.924,
        _file_size=226.054,
        _docs="These weights were produced by following a similar training recipe as on "
        "the paper but use a checkpoint from an early epoch.",
    )
    COCO_V1 = _coco_weights(
        "https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-fc266e95.pth",
        **_META,
        recipe="https://github.com/pytorch/vision/tree/main/references/detection#keypoint-r-cnn",
        _metrics={"COCO-val2017": {"box_map": 54.6, "kp_map": 65.0}},
        _ops=137.42,
        _file_size=226.054,
    )
    DEFAULT = COCO_V1


@register_model()
def keypointrcnn_resnet50_fpn(
    *,
    weights: KeypointRCNN_ResNet50_FPN_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    num_keypoints: int | None = None,
    weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    **kwargs: Any,
) -> KeypointRCNN:
    """Keypoint R-CNN with a ResNet-50-FPN backbone (COCO person keypoints: 2 classes, 17
    keypoints by default); other arguments as
    :func:`~tocha.vision.models.detection.fasterrcnn_resnet50_fpn`.

    Example:
        >>> from tocha.vision.models.detection import keypointrcnn_resnet50_fpn
        >>> m = keypointrcnn_resnet50_fpn(weights_backbone=None)
        >>> m.roi_heads.keypoint_predictor.out_channels, m.transform.min_size[0]
        (17, 640)
    """
    weights = KeypointRCNN_ResNet50_FPN_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    if weights is not None:
        weights_backbone = None
        num_classes = _ovewrite_value_param(
            "num_classes", num_classes, len(weights.meta["categories"])
        )
        num_keypoints = _ovewrite_value_param(
            "num_keypoints", num_keypoints, len(weights.meta["keypoint_names"])
        )
    else:
        if num_classes is None:
            num_classes = 2
        if num_keypoints is None:
            num_keypoints = 17
    backbone = _resnet50_fpn_backbone(
        weights, weights_backbone, progress, trainable_backbone_layers
    )
    model = KeypointRCNN(backbone, num_classes, num_keypoints=num_keypoints, **kwargs)
    return _load_weights(model, weights, progress, KeypointRCNN_ResNet50_FPN_Weights.COCO_V1)
