"""Faster R-CNN ResNet-50-FPN: torchvision's parameter count and key names, eval output,
a training step, and the RPN's proposal filtering."""

import inspect

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision.models import get_model_weights, list_models, resnet18, resnet50
from tocha.vision.models.detection import (
    FasterRCNN,
    FasterRCNN_ResNet50_FPN_Weights,
    fasterrcnn_resnet50_fpn,
)
from tocha.vision.models.detection._frozen_bn import FrozenBatchNorm2d
from tocha.vision.models.detection.backbone_utils import _resnet_fpn_extractor

# torchvision's published count, with the FrozenBatchNorm2d backbone of the COCO weights
PUBLISHED = 41_755_286
# ResNet-50's BatchNorm affine parameters (2 x 26,560 channels): parameters with plain BN
BN_AFFINE = 53_120


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def _small(seed=0, **kw):
    torch.manual_seed(seed)
    # fewer proposals and sampled RoIs than the defaults keep RoIAlign cheap
    cfg = dict(
        weights_backbone=None,
        num_classes=4,
        min_size=128,
        max_size=160,
        rpn_pre_nms_top_n_train=500,
        rpn_post_nms_top_n_train=200,
        rpn_pre_nms_top_n_test=500,
        rpn_post_nms_top_n_test=100,
        box_batch_size_per_image=64,
    )
    cfg.update(kw)
    return fasterrcnn_resnet50_fpn(**cfg)


@pytest.fixture(scope="module")
def model():
    # one build shared by the tests (ResNet-50 initialisation dominates their time)
    return _small()


def _targets():
    return [
        {"boxes": torch.tensor([[10.0, 20.0, 60.0, 80.0], [30.0, 30.0, 90.0, 70.0]]),
         "labels": torch.tensor([1, 3])},
        {"boxes": torch.tensor([[5.0, 5.0, 50.0, 40.0]]), "labels": torch.tensor([2])},
    ]  # fmt: skip


def test_parameter_count_and_state_dict_keys():
    backbone = _resnet_fpn_extractor(resnet50(norm_layer=FrozenBatchNorm2d), 3)
    model = FasterRCNN(backbone, num_classes=91)
    assert _n_params(model) == PUBLISHED
    assert FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["num_params"] == PUBLISHED
    assert len(FasterRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"]) == 91
    keys = model.state_dict()
    for k in [
        "backbone.body.conv1.weight",
        "backbone.body.bn1.running_var",
        "backbone.body.layer4.2.conv3.weight",
        "backbone.fpn.inner_blocks.0.0.weight",
        "backbone.fpn.layer_blocks.3.0.bias",
        "rpn.head.conv.0.0.weight",
        "rpn.head.cls_logits.weight",
        "rpn.head.bbox_pred.bias",
        "roi_heads.box_head.fc6.weight",
        "roi_heads.box_head.fc7.bias",
        "roi_heads.box_predictor.cls_score.weight",
        "roi_heads.box_predictor.bbox_pred.weight",
    ]:
        assert k in keys, k
    assert tuple(keys["roi_heads.box_head.fc6.weight"].shape) == (1024, 256 * 7 * 7)
    assert not any(k.endswith("num_batches_tracked") for k in keys)
    # default trainable_backbone_layers=3: conv1 and layer1 frozen
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(
        n.startswith(("backbone.body.conv1", "backbone.body.layer1")) for n in frozen
    )


def test_builder_without_pretrained_backbone(model):
    # plain BatchNorm2d (affine parameters) and a 4-class predictor instead of 91
    predictor_91 = (1024 * 91 + 91) + (1024 * 364 + 364)
    predictor_4 = (1024 * 4 + 4) + (1024 * 16 + 16)
    assert _n_params(model) == PUBLISHED + BN_AFFINE - predictor_91 + predictor_4
    # nothing frozen when there are no pretrained weights
    assert all(p.requires_grad for p in model.parameters())
    assert model.transform.min_size == (128,) and model.transform.max_size == 160
    assert model.rpn._pre_nms_top_n == {"training": 500, "testing": 500}
    assert model.roi_heads.fg_bg_sampler.batch_size_per_image == 64
    defaults = inspect.signature(FasterRCNN).parameters
    assert defaults["rpn_pre_nms_top_n_test"].default == 1000
    assert defaults["box_batch_size_per_image"].default == 512
    assert defaults["box_detections_per_img"].default == 100
    assert "fasterrcnn_resnet50_fpn" in list_models()
    assert get_model_weights("fasterrcnn_resnet50_fpn") is FasterRCNN_ResNet50_FPN_Weights
    with pytest.raises(ValueError, match="num_classes"):
        fasterrcnn_resnet50_fpn(weights="DEFAULT", num_classes=3)


def test_constructor_argument_errors():
    backbone = _resnet_fpn_extractor(resnet18(), 5)
    with pytest.raises(ValueError, match="num_classes should not be None"):
        FasterRCNN(backbone)
    with pytest.raises(TypeError, match="AnchorGenerator"):
        FasterRCNN(backbone, 3, rpn_anchor_generator="x")
    with pytest.raises(ValueError, match="out_channels"):
        FasterRCNN(resnet18(), 3)


def test_eval_output_structure_and_box_bounds(model):
    model.eval()
    model.roi_heads.score_thresh = 0.0
    images = [torch.rand(3, 100, 120), torch.rand(3, 90, 70)]
    with torch.no_grad():
        out = model(images)
    assert len(out) == 2
    for o, img in zip(out, images):
        assert sorted(o) == ["boxes", "labels", "scores"]
        n = o["boxes"].shape[0]
        assert 0 < n <= 100 and tuple(o["boxes"].shape) == (n, 4)
        assert o["labels"].dtype == torch.int64 and o["scores"].shape[0] == n
        b, lab, s = o["boxes"].numpy(), o["labels"].numpy(), o["scores"].numpy()
        # boxes are clipped to the resized image, then mapped back to the original size
        h, w = img.shape[-2:]
        assert (
            b.min() >= 0 and (b[:, [0, 2]] <= w + 1e-3).all() and (b[:, [1, 3]] <= h + 1e-3).all()
        )
        assert ((lab >= 1) & (lab < 4)).all()
        assert (np.diff(s) <= 1e-7).all()  # sorted by score


def test_train_step_losses_and_gradients(model):
    model.train()
    model.zero_grad()
    images = [torch.rand(3, 100, 120), torch.rand(3, 90, 110)]
    losses = model(images, _targets())
    assert sorted(losses) == [
        "loss_box_reg",
        "loss_classifier",
        "loss_objectness",
        "loss_rpn_box_reg",
    ]
    for v in losses.values():
        assert np.isfinite(v.item()) and v.item() >= 0
    # untrained classifier: close to log(4) per sampled RoI
    assert abs(losses["loss_classifier"].item() - np.log(4)) < 0.3
    assert abs(losses["loss_objectness"].item() - np.log(2)) < 0.1
    sum(losses.values()).backward()
    for p in [
        model.roi_heads.box_predictor.cls_score.weight,
        model.roi_heads.box_predictor.bbox_pred.weight,
        model.roi_heads.box_head.fc6.weight,
        model.rpn.head.cls_logits.weight,
        model.rpn.head.bbox_pred.weight,
        model.backbone.fpn.inner_blocks[0][0].weight,
    ]:
        assert p.grad is not None and float(p.grad.abs().sum()) > 0


def test_train_requires_valid_targets(model):
    model.train()
    with pytest.raises(ValueError, match="targets should be passed"):
        model([torch.rand(3, 64, 64)])
    bad = [{"boxes": torch.tensor([[10.0, 10.0, 5.0, 20.0]]), "labels": torch.tensor([1])}]
    with pytest.raises(ValueError, match=r"positive height and width.*index 0"):
        model([torch.rand(3, 64, 64)], bad)
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        model([torch.rand(3, 64, 64)], [{"boxes": torch.zeros(4), "labels": torch.tensor([1])}])


def test_state_dict_round_trip(model):
    a, b = model, _small(seed=5)
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    img = [torch.rand(3, 64, 80)]
    with torch.no_grad():
        oa, ob = a(img), b(img)
    np.testing.assert_array_equal(oa[0]["boxes"].numpy(), ob[0]["boxes"].numpy())


def test_rpn_filter_proposals_keeps_top_and_applies_nms(model):
    rpn = model.rpn.eval()
    rpn._pre_nms_top_n = {"training": 2000, "testing": 3}
    rpn._post_nms_top_n = {"training": 2000, "testing": 2}
    # one image, two levels of 4 anchors; proposals 0 and 1 overlap heavily
    props = torch.tensor(
        [[[0.0, 0, 10, 10], [0, 0, 10, 11], [20, 20, 30, 30], [40, 40, 41, 41],
          [0, 0, 10, 10], [50, 50, 60, 60], [50, 50, 60, 61], [70, 70, 90, 90]]]
    )  # fmt: skip
    obj = torch.tensor([[5.0, 4.0, 3.0, -1.0, 0.5, 2.0, 1.0, 0.0]])
    boxes, scores = rpn.filter_proposals(props, obj, [(100, 100)], [4, 4])
    # level 0 top-3: 0, 1, 2 -> NMS drops 1; level 1 top-3: 5, 6, 4 -> NMS drops 6 (4 is alone
    # in level 1); keep the 2 best overall
    np.testing.assert_allclose(boxes[0].numpy(), [[0, 0, 10, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(
        scores[0].numpy(), 1 / (1 + np.exp(-np.array([5.0, 3.0]))), rtol=1e-6
    )
