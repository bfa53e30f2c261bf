"""SSD (Liu et al., "SSD: Single Shot MultiBox Detector") with torchvision's module names:
the detector, its scoring heads and the hard-negative-mined loss."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any

import numpy as np

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn

from ...ops import boxes as box_ops
from .._api import WeightsEnum, register_model
from ..vgg import VGG16_Weights, cfgs, make_layers, vgg16
from . import _utils as det_utils
from ._coco import _coco_weights
from ._one_stage import _flatten_level, _match_anchors_by_iou, _nms_detections
from ._utils import _load_weights, _weights_and_classes
from .anchor_utils import DefaultBoxGenerator
from .backbone_utils import _freeze_stages, _validate_trainable_layers
from .generalized_rcnn import _transform_and_backbone
from .transform import _imagenet_transform

__all__ = [
    "SSD",
    "SSD300_VGG16_Weights",
    "SSDClassificationHead",
    "SSDHead",
    "SSDRegressionHead",
    "SSDScoringHead",
    "ssd300_vgg16",
]


def _xavier_init(conv: nn.Module) -> None:
    for layer in conv.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, 0.0)


class SSDScoringHead(nn.Module):
    """One module per feature map, each output ``[N, A*C, H, W]`` flattened to
    ``[N, H*W*A, C]`` and concatenated over the maps."""

    def __init__(self, module_list: nn.ModuleList, num_columns: int) -> None:
        super().__init__()
        self.module_list = module_list
        self.num_columns = num_columns

    def _get_result_from_module_list(self, x, idx: int):
        return self.module_list[idx](x)

    def forward(self, x: list):
        out = [
            _flatten_level(self._get_result_from_module_list(features, i), self.num_columns)
            for i, features in enumerate(x)
        ]
        return torch.cat(out, dim=1)


class SSDClassificationHead(SSDScoringHead):
    """A 3x3 convolution per feature map to ``num_anchors[i] * num_classes`` logits."""

    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int) -> None:
        cls_logits = nn.ModuleList()
        for channels, anchors in zip(in_channels, num_anchors):
            cls_logits.append(nn.Conv2d(channels, num_classes * anchors, kernel_size=3, padding=1))
        _xavier_init(cls_logits)
        super().__init__(cls_logits, num_classes)


class SSDRegressionHead(SSDScoringHead):
    """A 3x3 convolution per feature map to ``num_anchors[i] * 4`` box deltas."""

    def __init__(self, in_channels: list[int], num_anchors: list[int]) -> None:
        bbox_reg = nn.ModuleList()
        for channels, anchors in zip(in_channels, num_anchors):
            bbox_reg.append(nn.Conv2d(channels, 4 * anchors, kernel_size=3, padding=1))
        _xavier_init(bbox_reg)
        super().__init__(bbox_reg, 4)


class SSDHead(nn.Module):
    """The classification and regression heads of SSD."""

    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int) -> None:
        super().__init__()
        self.classification_head = SSDClassificationHead(in_channels, num_anchors, num_classes)
        self.regression_head = SSDRegressionHead(in_channels, num_anchors)

    def forward(self, x: list) -> dict:
        return {
            "bbox_regression": self.regression_head(x),
            "cls_logits": self.classification_head(x),
        }


class SSD(nn.Module):
    """SSD: a backbone giving several feature maps, default boxes on each and one scoring head.

    Images are resized to the fixed ``size`` ``(h, w)`` (``size_divisible=1``). Training
    returns ``{"bbox_regression", "classification"}`` (smooth L1 on the positives, cross-entropy
    on the positives and the hardest ``(1 - positive_fraction) / positive_fraction`` times as
    many negatives, both divided by the number of positives); eval returns per image
    ``boxes``, ``scores``, ``labels``. Arguments and defaults are torchvision's.
    """

    def __init__(
        self,
        backbone: nn.Module,
        anchor_generator: DefaultBoxGenerator,
        size: tuple[int, int],
        num_classes: int,
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        head: nn.Module | None = None,
        score_thresh: float = 0.01,
        nms_thresh: float = 0.45,
        detections_per_img: int = 200,
        iou_thresh: float = 0.5,
        topk_candidates: int = 400,
        positive_fraction: float = 0.25,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.anchor_generator = anchor_generator
        self.box_coder = det_utils.BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
        if head is None:
            if hasattr(backbone, "out_channels"):
                out_channels = backbone.out_channels
            else:
                out_channels = det_utils.retrieve_out_channels(backbone, size)
            if len(out_channels) != len(anchor_generator.aspect_ratios):
                raise ValueError(
                    f"The length of the output channels from the backbone ({len(out_channels)}) "
                    "do not match the length of the anchor generator aspect ratios "
                    f"({len(anchor_generator.aspect_ratios)})"
                )
            head = SSDHead(out_channels, anchor_generator.num_anchors_per_location(), num_classes)
        self.head = head
        self.proposal_matcher = det_utils.SSDMatcher(iou_thresh)
        self.transform = _imagenet_transform(
            min(size), max(size), image_mean, image_std, size_divisible=1, fixed_size=size, **kwargs
        )
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates
        self.neg_to_pos_ratio = (1.0 - positive_fraction) / positive_fraction

    def eager_outputs(self, losses: dict, detections: list):
        return losses if self.training else detections

    def compute_loss(
        self, targets: list, head_outputs: dict, anchors: list, matched_idxs: list
    ) -> dict:
        bbox_regression = head_outputs["bbox_regression"]
        cls_logits = head_outputs["cls_logits"]
        num_foreground = 0
        bbox_loss, cls_targets = [], []
        for tgt, reg, logits, anc, matched in zip(
            targets, bbox_regression, cls_logits, anchors, matched_idxs
        ):
            fg = torch.where(matched >= 0)[0]
            fg_matched = matched[fg]
            num_foreground += fg_matched.numel()
            target_regression = self.box_coder.encode_single(tgt["boxes"][fg_matched], anc[fg, :])
            bbox_loss.append(F.smooth_l1_loss(reg[fg, :], target_regression, reduction="sum"))
            gt_classes = torch.zeros(
                (logits.shape[0],), dtype=tgt["labels"].dtype, device=tgt["labels"].device
            )
            gt_classes[fg] = tgt["labels"][fg_matched]
            cls_targets.append(gt_classes)
        bbox_loss = torch.stack(bbox_loss)
        cls_targets = torch.stack(cls_targets)
        num_classes = cls_logits.shape[-1]
        cls_loss = F.cross_entropy(
            cls_logits.reshape(-1, num_classes), cls_targets.reshape(-1), reduction="none"
        ).reshape(cls_targets.shape)
        # hard negative mining: per image the negatives of highest loss, 3 per positive
        foreground = cls_targets > 0
        num_negative = self.neg_to_pos_ratio * foreground.sum(1, keepdim=True)
        negative_loss = cls_loss.detach().clone()
        negative_loss[foreground] = -float("inf")
        _, idx = negative_loss.sort(1, descending=True)
        background = idx.sort(1)[1] < num_negative
        N = max(1, num_foreground)
        return {
            "bbox_regression": bbox_loss.sum() / N,
            "classification": (cls_loss[foreground].sum() + cls_loss[background].sum()) / N,
        }

    def postprocess_detections(
        self, head_outputs: dict, image_anchors: list, image_shapes: list
    ) -> list[dict]:
        """Per class the ``topk_candidates`` best scores above ``score_thresh``, then
        class-wise NMS; the per-class selection is one sort over all (box, class) pairs."""
        bbox_regression = head_outputs["bbox_regression"]
        pred_scores = F.softmax(head_outputs["cls_logits"], dim=-1)
        detections = []
        for boxes, scores, anchors, image_shape in zip(
            bbox_regression, pred_scores, image_anchors, image_shapes
        ):
            boxes = self.box_coder.decode_single(boxes, anchors)
            boxes = box_ops.clip_boxes_to_image(boxes, image_shape)
            s = scores[:, 1:].detach().cpu().numpy()
            box_idx, cls_idx = np.nonzero(s > self.score_thresh)
            cand = s[box_idx, cls_idx]
            # classes ascending, scores descending within a class (stable for ties)
            order = np.lexsort((-cand, cls_idx))
            box_idx, cls_idx, cand = box_idx[order], cls_idx[order], cand[order]
            starts = np.searchsorted(cls_idx, cls_idx, side="left")
            rank = np.arange(cls_idx.size) - starts
            sel = rank < self.topk_candidates
            box_sel = torch.from_numpy(box_idx[sel]).to(boxes.device)
            labels = torch.from_numpy(cls_idx[sel].astype(np.int64) + 1).to(boxes.device)
            detections.append(
                _nms_detections(
                    boxes[box_sel],
                    scores[box_sel, labels],
                    labels,
                    self.nms_thresh,
                    self.detections_per_img,
                )
            )
        return detections

    def forward(self, images: list, targets: list | None = None):
        images, targets, features, original_image_sizes = _transform_and_backbone(
            self, images, targets
        )
        features = list(features.values())
        head_outputs = self.head(features)
        anchors = self.anchor_generator(images, features)
        losses, detections = {}, []
        if self.training:
            if targets is None:
                raise ValueError("targets should not be None")
            matched_idxs = _match_anchors_by_iou(anchors, targets, self.proposal_matcher)
            losses = self.compute_loss(targets, head_outputs, anchors, matched_idxs)
        else:
            detections = self.postprocess_detections(head_outputs, anchors, images.image_sizes)
            detections = self.transform.postprocess(
                detections, images.image_sizes, original_image_sizes
            )
        return self.eager_outputs(losses, detections)


class SSDFeatureExtractorVGG(nn.Module):
    """VGG-16 cut for SSD300 (paper, fig. 2): conv4_3 (L2-normalised and rescaled by a learnt
    per-channel weight, initially 20), then conv5 with the atrous fc6/fc7, then conv8_2 ..
    conv11_2 (plus conv12_2 for SSD512 when ``highres``)."""

    def __init__(self, backbone: nn.Module, highres: bool) -> None:
        super().__init__()
        _, _, maxpool3_pos, maxpool4_pos, _ = (
            i for i, layer in enumerate(backbone) if isinstance(layer, nn.MaxPool2d)
        )
        # ceil mode at pool3 gives the paper's 38x38 conv4_3 map at 300x300
        backbone[maxpool3_pos].ceil_mode = True
        self.scale_weight = nn.Parameter(torch.ones(512) * 20)
        self.features = nn.Sequential(*backbone[:maxpool4_pos])

        def pair(cin: int, mid: int, cout: int, **conv) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, mid, kernel_size=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(mid, cout, **conv),
                nn.ReLU(inplace=True),
            )

        extra = nn.ModuleList(
            [
                pair(1024, 256, 512, kernel_size=3, padding=1, stride=2),  # conv8_2
                pair(512, 128, 256, kernel_size=3, padding=1, stride=2),  # conv9_2
                pair(256, 128, 256, kernel_size=3),  # conv10_2
                pair(256, 128, 256, kernel_size=3),  # conv11_2
            ]
        )
        if highres:
            extra.append(pair(256, 128, 256, kernel_size=4))  # conv12_2 (SSD512)
        _xavier_init(extra)
        fc = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=False),  # modified pool5
            nn.Conv2d(512, 1024, kernel_size=3, padding=6, dilation=6),  # fc6, atrous
            nn.ReLU(inplace=True),
            nn.Conv2d(1024, 1024, kernel_size=1),  # fc7
            nn.ReLU(inplace=True),
        )
        _xavier_init(fc)
        # conv5_1 .. conv5_3 (VGG's pool5 dropped), then fc6/fc7
        extra.insert(0, nn.Sequential(*backbone[maxpool4_pos:-1], fc))
        self.extra = extra

    def forward(self, x) -> OrderedDict:
        x = self.features(x)
        output = [self.scale_weight.reshape(1, -1, 1, 1) * F.normalize(x)]
        for block in self.extra:
            x = block(x)
            output.append(x)
        return OrderedDict([(str(i), v) for i, v in enumerate(output)])


class _VGGFeatures(nn.Module):
    """VGG's ``features`` with VGG's initialisation, without its classifier."""

    def __init__(self, features: nn.Sequential) -> None:
        super().__init__()
        self.features = features
        for m in features.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)


def _vgg_extractor(backbone: nn.Module, highres: bool, trainable_layers: int) -> nn.Module:
    backbone = backbone.features
    # the max pools end the stages
    stage_indices = [0] + [i for i, b in enumerate(backbone) if isinstance(b, nn.MaxPool2d)][:-1]
    num_stages = len(stage_indices)
    if not 0 <= trainable_layers <= num_stages:
        raise ValueError(
            f"trainable_layers should be in the range [0, {num_stages}]. "
            f"Instead got {trainable_layers}"
        )
    _freeze_stages(backbone, stage_indices, trainable_layers)
    return SSDFeatureExtractorVGG(backbone, highres)


class SSD300_VGG16_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(
        "https://download.pytorch.org/models/ssd300_vgg16_coco-b556d3b4.pth",
        num_params=35641826,
        recipe="https://github.com/pytorch/vision/tree/main/references/detection#ssd300-vgg16",
        _metrics={"COCO-val2017": {"box_map": 25.1}},
        _ops=34.858,
        _file_size=135.988,
    )
    DEFAULT = COCO_V1


# torchvision's default backbone weights are VGG16_Weights.IMAGENET1K_FEATURES (the SSD
# authors' conversion); used when the VGG enum has that member, else no default download
_VGG16_FEATURES = getattr(VGG16_Weights, "IMAGENET1K_FEATURES", None)


@register_model()
def ssd300_vgg16(
    *,
    weights: SSD300_VGG16_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: VGG16_Weights | None = _VGG16_FEATURES,
    trainable_backbone_layers: int | None = None,
    **kwargs: Any,
) -> SSD:
    """SSD300 over VGG-16 ("SSD: Single Shot MultiBox Detector"); ``kwargs`` go to :class:`SSD`.

    Example:
        >>> from tocha.vision.models.detection import ssd300_vgg16
        >>> m = ssd300_vgg16(weights_backbone=None, num_classes=3)
        >>> m.anchor_generator.num_anchors_per_location(), m.transform.fixed_size
        ([4, 6, 6, 6, 4, 4], (300, 300))
    """
    weights = SSD300_VGG16_Weights.verify(weights)
    weights_backbone = VGG16_Weights.verify(weights_backbone)
    if "size" in kwargs:
        warnings.warn(
            "The size of the model is already fixed; ignoring the parameter.", stacklevel=2
        )
        kwargs.pop("size")
    weights_backbone, num_classes = _weights_and_classes(weights, weights_backbone, num_classes)
    trainable_backbone_layers = _validate_trainable_layers(
        weights is not None or weights_backbone is not None, trainable_backbone_layers, 5, 4
    )
    if weights_backbone is not None:
        backbone = vgg16(weights=weights_backbone, progress=progress)
    else:
        # only the convolutional part is kept: skip building VGG's 120M-parameter classifier
        backbone = _VGGFeatures(make_layers(cfgs["D"]))
    backbone = _vgg_extractor(backbone, False, trainable_backbone_layers)
    anchor_generator = DefaultBoxGenerator(
        [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
        scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
        steps=[8, 16, 32, 64, 100, 300],
    )
    defaults = {
        # the backbone was trained on 0..255 inputs minus the mean
        "image_mean": [0.48235, 0.45882, 0.40784],
        "image_std": [1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0],
    }
    model = SSD(backbone, anchor_generator, (300, 300), num_classes, **{**defaults, **kwargs})
    return _load_weights(model, weights, progress)
