"""The other detectors (Faster R-CNN v2 and MobileNetV3-FPN, RetinaNet v2): torchvision's
parameter counts and key names, and training steps (RetinaNet v2 through its GIoU loss)."""

import numpy as np

import tocha.core as torch
from tocha.core import nn
from tocha.vision.models import mobilenet_v3_large
from tocha.vision.models.detection import (
    AnchorGenerator,
    FasterRCNN,
    FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
    FasterRCNN_MobileNet_V3_Large_FPN_Weights,
    FasterRCNN_ResNet50_FPN_V2_Weights,
    RetinaNet_ResNet50_FPN_V2_Weights,
    fasterrcnn_mobilenet_v3_large_320_fpn,
    fasterrcnn_resnet50_fpn_v2,
    retinanet_resnet50_fpn_v2,
)
from tocha.vision.models.detection._frozen_bn import FrozenBatchNorm2d
from tocha.vision.models.detection.backbone_utils import _mobilenet_extractor


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

    # the same model trains: shrink its input size instead of building a smaller one
    m.transform.min_size, m.transform.max_size = (96,), 128
    m.train()
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


def test_fasterrcnn_mobilenet_count_keys_and_train_step():
    torch.manual_seed(0)
    body = _mobilenet_extractor(mobilenet_v3_large(norm_layer=FrozenBatchNorm2d), True, 3)
    anchors = AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
    m = FasterRCNN(body, 91, rpn_anchor_generator=anchors)
    assert _n_params(m) == 19_386_354
    for w in (
        FasterRCNN_MobileNet_V3_Large_FPN_Weights,
        FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
    ):
        assert w.DEFAULT.meta["num_params"] == 19_386_354
    keys = m.state_dict()
    # the FPN reads the last two stages: block 13 (160 channels) and the last conv (960)
    assert tuple(keys["backbone.fpn.inner_blocks.0.0.weight"].shape) == (256, 160, 1, 1)
    assert tuple(keys["backbone.fpn.inner_blocks.1.0.weight"].shape) == (256, 960, 1, 1)
    # trainable_backbone_layers=3: the blocks before the third-last stage (index 7) are frozen
    trainable = {
        n.split(".")[1]
        for n, p in m.backbone.named_parameters()
        if p.requires_grad and n.startswith("body")
    }
    assert trainable == {str(i) for i in range(7, 17)}

    m = fasterrcnn_mobilenet_v3_large_320_fpn(
        weights_backbone=None,
        num_classes=3,
        rpn_post_nms_top_n_train=200,
        box_batch_size_per_image=64,
    )
    assert (m.transform.min_size, m.transform.max_size) == ((320,), 640)
    assert m.rpn._post_nms_top_n["testing"] == 150 and m.rpn.score_thresh == 0.05
    m.train()
    targets = [
        {"boxes": torch.tensor([[10.0, 20.0, 60.0, 80.0]]), "labels": torch.tensor([1])},
        {"boxes": torch.tensor([[5.0, 5.0, 50.0, 40.0]]), "labels": torch.tensor([2])},
    ]
    losses = m([torch.rand(3, 100, 120), torch.rand(3, 90, 110)], targets)
    assert all(np.isfinite(v.item()) for v in losses.values())
    sum(losses.values()).backward()
    assert float(m.rpn.head.cls_logits.weight.grad.abs().sum()) > 0
