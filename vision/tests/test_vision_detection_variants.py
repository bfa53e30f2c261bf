"""The v2 detectors (Faster R-CNN v2, RetinaNet v2): torchvision's parameter counts and key
names, and a RetinaNet v2 training step through its GIoU box loss."""

import numpy as np

import tocha.core as torch
from tocha.core import nn
from tocha.vision.models.detection import (
    FasterRCNN_ResNet50_FPN_V2_Weights,
    RetinaNet_ResNet50_FPN_V2_Weights,
    fasterrcnn_resnet50_fpn_v2,
    retinanet_resnet50_fpn_v2,
)


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_fasterrcnn_v2_count_and_keys():
    m = fasterrcnn_resnet50_fpn_v2()
    assert _n_params(m) == 43_712_278
    assert FasterRCNN_ResNet50_FPN_V2_Weights.DEFAULT.meta["num_params"] == 43_712_278
    keys = m.state_dict()
    for k in [
        "backbone.fpn.inner_blocks.0.1.running_mean",
        "rpn.head.conv.1.0.weight",
        "roi_heads.box_head.0.1.weight",
        "roi_heads.box_head.5.weight",
        "roi_heads.box_predictor.cls_score.weight",
    ]:
        assert k in keys, k
    assert tuple(keys["roi_heads.box_head.5.weight"].shape) == (1024, 256 * 7 * 7)


def test_retinanet_v2_count_keys_and_giou_train_step():
    torch.manual_seed(0)
    m = retinanet_resnet50_fpn_v2()
    assert _n_params(m) == 38_198_935
    assert RetinaNet_ResNet50_FPN_V2_Weights.DEFAULT.meta["num_params"] == 38_198_935
    keys = m.state_dict()
    assert tuple(keys["backbone.fpn.extra_blocks.p6.weight"].shape) == (256, 2048, 3, 3)
    assert "head.classification_head.conv.0.1.weight" in keys  # GroupNorm
    assert isinstance(m.head.regression_head.conv[3][1], nn.GroupNorm)

    m = retinanet_resnet50_fpn_v2(num_classes=3, min_size=96, max_size=128).train()
    targets = [
        {"boxes": torch.tensor([[10.0, 20.0, 60.0, 80.0]]), "labels": torch.tensor([1])},
        {"boxes": torch.tensor([[5.0, 5.0, 50.0, 40.0]]), "labels": torch.tensor([2])},
    ]
    losses = m([torch.rand(3, 100, 120), torch.rand(3, 90, 110)], targets)
    # a GIoU loss per foreground anchor lies in [0, 2]
    assert 0 < losses["bbox_regression"].item() < 2
    assert np.isfinite(losses["classification"].item())
    sum(losses.values()).backward()
    assert float(m.head.regression_head.bbox_reg.weight.grad.abs().sum()) > 0
