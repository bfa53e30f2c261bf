"""RetinaNet ResNet-50-FPN: torchvision's parameter count and keys, the focal and L1 losses
against NumPy, eval output, a training step."""

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision.models import resnet50
from tocha.vision.models.detection import (
    RetinaNet,
    RetinaNet_ResNet50_FPN_Weights,
    retinanet_resnet50_fpn,
)
from tocha.vision.models.detection._frozen_bn import FrozenBatchNorm2d
from tocha.vision.models.detection.backbone_utils import _resnet_fpn_extractor
from tocha.vision.models.detection.retinanet import (
    RetinaNetClassificationHead,
    RetinaNetRegressionHead,
)
from tocha.vision.ops.feature_pyramid_network import LastLevelP6P7

PUBLISHED = 34_014_999


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return retinanet_resnet50_fpn(
        weights_backbone=None, num_classes=4, min_size=128, max_size=160, topk_candidates=200
    )


def test_parameter_count_and_state_dict_keys():
    backbone = _resnet_fpn_extractor(
        resnet50(norm_layer=FrozenBatchNorm2d), 3, [2, 3, 4], LastLevelP6P7(256, 256)
    )
    m = RetinaNet(backbone, 91)
    assert _n_params(m) == PUBLISHED
    assert RetinaNet_ResNet50_FPN_Weights.COCO_V1.meta["num_params"] == PUBLISHED
    keys = m.state_dict()
    for k in [
        "backbone.fpn.inner_blocks.0.0.weight",
        "backbone.fpn.extra_blocks.p6.weight",
        "backbone.fpn.extra_blocks.p7.bias",
        "head.classification_head.conv.0.0.weight",
        "head.classification_head.conv.3.0.bias",
        "head.classification_head.cls_logits.weight",
        "head.regression_head.conv.0.0.weight",
        "head.regression_head.bbox_reg.weight",
    ]:
        assert k in keys, k
    # C3 (512 channels) is the first FPN input: P2 is skipped
    assert tuple(keys["backbone.fpn.inner_blocks.0.0.weight"].shape) == (256, 512, 1, 1)
    assert tuple(keys["head.classification_head.cls_logits.weight"].shape) == (9 * 91, 256, 3, 3)
    # the prior: every anchor starts at probability 0.01
    np.testing.assert_allclose(
        m.head.classification_head.cls_logits.bias.detach().numpy(), -np.log(99), rtol=1e-6
    )
    assert m.anchor_generator.sizes[0] == (32, 40, 50)


def _np_focal(x, t, alpha=0.25, gamma=2.0):
    p = 1 / (1 + np.exp(-x))
    ce = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    p_t = p * t + (1 - p) * (1 - t)
    return (alpha * t + (1 - alpha) * (1 - t)) * ce * (1 - p_t) ** gamma


def test_classification_and_regression_losses_match_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 10, 3)).astype(np.float32)
    reg = rng.normal(size=(2, 10, 4)).astype(np.float32) * 0.1
    matched = [np.array([0, -1, -2, 1, -1, 0, -1, -1, -2, -1]), np.full(10, -1)]
    matched[1][4] = 0
    labels = [np.array([2, 0]), np.array([1])]
    gt = [np.array([[0.0, 0, 10, 10], [5, 5, 20, 25]]), np.array([[2.0, 3, 12, 9]])]
    anchors = [np.abs(rng.normal(size=(10, 2))) * 5 for _ in range(2)]
    anchors = [np.concatenate([a, a + 8], 1).astype(np.float32) for a in anchors]
    targets = [
        {"boxes": torch.tensor(g.astype(np.float32)), "labels": torch.tensor(lab)}
        for g, lab in zip(gt, labels)
    ]
    outputs = {"cls_logits": torch.tensor(logits), "bbox_regression": torch.tensor(reg)}
    m_idx = [torch.tensor(m) for m in matched]
    cls_head = RetinaNetClassificationHead(8, 1, 3)
    got = cls_head.compute_loss(targets, outputs, m_idx).item()
    ref = 0.0
    for i in range(2):
        fg = matched[i] >= 0
        t = np.zeros((10, 3), np.float32)
        t[np.nonzero(fg)[0], labels[i][matched[i][fg]]] = 1
        valid = matched[i] != -2
        ref += _np_focal(logits[i][valid], t[valid]).sum() / max(1, fg.sum())
    np.testing.assert_allclose(got, ref / 2, rtol=1e-5)

    reg_head = RetinaNetRegressionHead(8, 1)
    got = reg_head.compute_loss(targets, outputs, [torch.tensor(a) for a in anchors], m_idx)
    ref = 0.0
    for i in range(2):
        fg = np.nonzero(matched[i] >= 0)[0]
        a, g = anchors[i][fg].astype(np.float64), gt[i][matched[i][fg]]
        aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
        gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
        enc = np.stack(
            [
                (g[:, 0] + gw / 2 - a[:, 0] - aw / 2) / aw,
                (g[:, 1] + gh / 2 - a[:, 1] - ah / 2) / ah,
                np.log(gw / aw),
                np.log(gh / ah),
            ],
            1,
        )
        ref += np.abs(reg[i][fg] - enc).sum() / max(1, fg.size)
    np.testing.assert_allclose(got.item(), ref / 2, rtol=1e-5)


def test_eval_outputs(model):
    model.eval()
    model.score_thresh = 0.0
    images = [torch.rand(3, 100, 120), torch.rand(3, 64, 50)]
    with torch.no_grad():
        out = model(images)
    for o, img in zip(out, images):
        assert sorted(o) == ["boxes", "labels", "scores"]
        n = o["boxes"].shape[0]
        assert 0 < n <= model.detections_per_img
        lab, s, b = o["labels"].numpy(), o["scores"].numpy(), o["boxes"].numpy()
        assert lab.dtype == np.int64 and ((lab >= 0) & (lab < 4)).all()
        # untrained: probabilities near the 0.01 prior
        assert (s > 0).all() and s.max() < 0.05
        assert (np.diff(s) <= 1e-7).all()
        h, w = img.shape[-2:]
        assert b.min() >= 0 and b[:, [0, 2]].max() <= w + 1e-3 and b[:, [1, 3]].max() <= h + 1e-3
    # default threshold 0.05 is above the prior: nothing detected
    model.score_thresh = 0.05
    with torch.no_grad():
        assert model(images[:1])[0]["boxes"].shape[0] == 0


def test_train_step(model):
    model.train()
    model.zero_grad()
    targets = [
        {"boxes": torch.tensor([[10.0, 20.0, 60.0, 80.0]]), "labels": torch.tensor([3])},
        {"boxes": torch.zeros((0, 4)), "labels": torch.zeros((0,), dtype=torch.int64)},
    ]
    losses = model([torch.rand(3, 100, 120), torch.rand(3, 90, 110)], targets)
    assert sorted(losses) == ["bbox_regression", "classification"]
    assert all(np.isfinite(v.item()) for v in losses.values())
    sum(losses.values()).backward()
    for p in [
        model.head.classification_head.cls_logits.weight,
        model.head.regression_head.bbox_reg.weight,
        model.backbone.fpn.extra_blocks.p6.weight,
    ]:
        assert p.grad is not None and float(p.grad.abs().sum()) > 0
