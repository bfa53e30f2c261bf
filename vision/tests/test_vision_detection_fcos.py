"""FCOS ResNet-50-FPN: torchvision's parameter count and keys, the linear box coder and the
point-to-box assignment against NumPy, a training step and eval output."""

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import nn
from tocha.vision.models import resnet50
from tocha.vision.models.detection import FCOS, FCOS_ResNet50_FPN_Weights, fcos_resnet50_fpn
from tocha.vision.models.detection._frozen_bn import FrozenBatchNorm2d
from tocha.vision.models.detection._utils import BoxLinearCoder
from tocha.vision.models.detection.backbone_utils import _resnet_fpn_extractor
from tocha.vision.ops.feature_pyramid_network import LastLevelP6P7


def test_parameter_count_and_keys():
    body = _resnet_fpn_extractor(
        resnet50(norm_layer=FrozenBatchNorm2d), 3, [2, 3, 4], LastLevelP6P7(256, 256)
    )
    m = FCOS(body, 91)
    assert sum(p.numel() for p in m.parameters()) == 32_269_600
    assert FCOS_ResNet50_FPN_Weights.COCO_V1.meta["num_params"] == 32_269_600
    keys = m.state_dict()
    for k in [
        "head.classification_head.conv.0.weight",
        "head.classification_head.conv.1.weight",  # GroupNorm
        "head.classification_head.conv.9.bias",
        "head.classification_head.cls_logits.weight",
        "head.regression_head.bbox_reg.weight",
        "head.regression_head.bbox_ctrness.bias",
    ]:
        assert k in keys, k
    assert isinstance(m.head.regression_head.conv[1], nn.GroupNorm)
    with pytest.raises(ValueError, match="should be 1"):
        from tocha.vision.models.detection import AnchorGenerator

        FCOS(body, 3, anchor_generator=AnchorGenerator(((8,),) * 5, ((0.5, 1.0),) * 5))


def test_box_linear_coder_matches_numpy():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, (10, 2))
    ref = np.concatenate([xy, xy + rng.uniform(2, 20, (10, 2))], 1)
    box = np.concatenate([xy - rng.uniform(0, 5, (10, 2)), xy + rng.uniform(5, 30, (10, 2))], 1)
    coder = BoxLinearCoder(normalize_by_size=True)
    enc = coder.encode(torch.tensor(ref), torch.tensor(box)).numpy()
    cx, cy = (ref[:, 0] + ref[:, 2]) / 2, (ref[:, 1] + ref[:, 3]) / 2
    w, h = ref[:, 2] - ref[:, 0], ref[:, 3] - ref[:, 1]
    expected = np.stack(
        [(cx - box[:, 0]) / w, (cy - box[:, 1]) / h, (box[:, 2] - cx) / w, (box[:, 3] - cy) / h], 1
    )
    np.testing.assert_allclose(enc, expected, rtol=1e-10)
    back = coder.decode(torch.tensor(enc), torch.tensor(ref)).numpy()
    np.testing.assert_allclose(back, box, rtol=1e-10)
    raw = (
        BoxLinearCoder(normalize_by_size=False).encode(torch.tensor(ref), torch.tensor(box)).numpy()
    )
    np.testing.assert_allclose(raw, expected * np.stack([w, h, w, h], 1), rtol=1e-10)


def _np_assign(points, sizes, gt, n_first, n_last, radius=1.5):
    n = points.shape[0]
    out = np.full(n, -1)
    lower, upper = sizes * 4, sizes * 8
    lower[:n_first], upper[n - n_last :] = 0, np.inf
    for i in range(n):
        best, best_area = -1, np.inf
        for j, (x0, y0, x1, y1) in enumerate(gt):
            c = ((x0 + x1) / 2, (y0 + y1) / 2)
            if max(abs(points[i, 0] - c[0]), abs(points[i, 1] - c[1])) >= radius * sizes[i]:
                continue
            d = [points[i, 0] - x0, points[i, 1] - y0, x1 - points[i, 0], y1 - points[i, 1]]
            if min(d) <= 0 or not (lower[i] < max(d) < upper[i]):
                continue
            area = (x1 - x0) * (y1 - y0)
            if area < best_area:
                best, best_area = j, area
        out[i] = best
    return out


def test_point_assignment_matches_numpy():
    torch.manual_seed(0)
    m = FCOS(_resnet_fpn_extractor(resnet50(), 5, [2, 3, 4], LastLevelP6P7(256, 256)), 3)
    # three levels of points, strides 8, 16, 32 on a 64 x 64 image
    anchors, per_level = [], []
    for s in (8, 16, 32):
        g = np.arange(0, 64, s, dtype=np.float32)
        yy, xx = np.meshgrid(g, g, indexing="ij")
        c = np.stack([xx.ravel(), yy.ravel()], 1)
        anchors.append(np.concatenate([c - s / 2, c + s / 2], 1))
        per_level.append(c.shape[0])
    anchors = np.concatenate(anchors).astype(np.float32)
    gt = np.array(
        [[2.0, 3.0, 40.0, 45.0], [10.0, 10.0, 30.0, 26.0], [30.0, 0.0, 63.0, 63.0]], np.float32
    )
    captured = {}
    m.head.compute_loss = lambda t, h, a, matched: captured.setdefault("m", matched)
    m.compute_loss(
        [{"boxes": torch.tensor(gt), "labels": torch.tensor([1, 2, 1])}],
        {},
        [torch.tensor(anchors)],
        per_level,
    )
    points = (anchors[:, :2] + anchors[:, 2:]) / 2
    sizes = anchors[:, 2] - anchors[:, 0]
    ref = _np_assign(points, sizes, gt, per_level[0], per_level[-1])
    np.testing.assert_array_equal(captured["m"][0].numpy(), ref)
    assert (ref >= 0).sum() > 3 and len(set(ref[ref >= 0])) == 3


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return fcos_resnet50_fpn(weights_backbone=None, num_classes=3, min_size=128, max_size=160)


def test_train_step_and_eval(model):
    model.train()
    targets = [
        {
            "boxes": torch.tensor([[10.0, 20.0, 60.0, 80.0], [30.0, 30.0, 90.0, 70.0]]),
            "labels": torch.tensor([1, 2]),
        },
        {"boxes": torch.zeros((0, 4)), "labels": torch.zeros((0,), dtype=torch.int64)},
    ]
    losses = model([torch.rand(3, 100, 120), torch.rand(3, 90, 110)], targets)
    assert sorted(losses) == ["bbox_ctrness", "bbox_regression", "classification"]
    assert all(np.isfinite(v.item()) for v in losses.values())
    # untrained regression outputs ~0 distances: boxes collapse, GIoU loss near 1 per point
    assert 0.9 < losses["bbox_regression"].item() < 1.1
    sum(losses.values()).backward()
    for p in (
        model.head.classification_head.cls_logits.weight,
        model.head.regression_head.bbox_ctrness.weight,
    ):
        assert float(p.grad.abs().sum()) > 0
    # give the points boxes one stride wide so the untrained output is not degenerate
    nn.init.constant_(model.head.regression_head.bbox_reg.bias, 1.0)
    model.eval()
    model.score_thresh = 0.0
    with torch.no_grad():
        out = model([torch.rand(3, 100, 120)])[0]
    n = out["boxes"].shape[0]
    assert 0 < n <= 100
    s = out["scores"].numpy()
    # sqrt(sigmoid(class logit) * sigmoid(centre-ness)): the class prior is 0.01, so an
    # untrained score stays below sqrt(0.01) = 0.1 (plus the spread of the logits)
    assert (s > 0.03).all() and (s < 0.12).all()
    assert (out["boxes"][:, 2:] > out["boxes"][:, :2]).all()
