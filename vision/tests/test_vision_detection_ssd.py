"""SSD / SSDlite320-MobileNetV3-Large: torchvision's parameter count and keys, the
hard-negative-mined loss and the per-class candidate selection against references, eval
output and a training step."""

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import nn
from tocha.vision.models.detection import (
    SSD,
    DefaultBoxGenerator,
    SSDLite320_MobileNet_V3_Large_Weights,
    ssdlite320_mobilenet_v3_large,
)
from tocha.vision.ops import batched_nms, clip_boxes_to_image

PUBLISHED = 3_440_060


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ssdlite320_mobilenet_v3_large(weights_backbone=None, num_classes=4)


def _tiny_ssd(**kw):
    torch.manual_seed(1)
    backbone = nn.Sequential(nn.Conv2d(3, 8, 3, stride=4, padding=1), nn.ReLU())
    return SSD(backbone, DefaultBoxGenerator([[2]]), (32, 32), 3, **kw)


def test_parameter_count_and_state_dict_keys():
    torch.manual_seed(0)
    m = ssdlite320_mobilenet_v3_large(weights_backbone=None)
    assert sum(p.numel() for p in m.parameters()) == PUBLISHED
    assert SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta["num_params"] == PUBLISHED
    keys = m.state_dict()
    for k in [
        "backbone.features.0.0.0.weight",
        "backbone.features.0.0.1.running_mean",
        # a slice of a Sequential keeps its keys (torch's rule): C4's depthwise stays "1"
        "backbone.features.1.0.1.0.weight",
        "backbone.features.1.0.2.fc1.weight",
        "backbone.extra.0.0.0.weight",
        "backbone.extra.3.2.1.bias",
        "head.classification_head.module_list.0.0.0.weight",
        "head.classification_head.module_list.5.1.weight",
        "head.regression_head.module_list.0.1.bias",
    ]:
        assert k in keys, k
    # six maps (C4 expansion 672, the 480-channel reduced tail, then 512, 256, 256, 128)
    cls = m.head.classification_head.module_list
    assert [blk[1].in_channels for blk in cls] == [672, 480, 512, 256, 256, 128]
    assert [blk[1].out_channels for blk in cls] == [6 * 91] * 6
    assert m.transform.fixed_size == (320, 320) and m.transform.image_mean == [0.5] * 3
    assert (m.score_thresh, m.nms_thresh, m.detections_per_img) == (0.001, 0.55, 300)


def test_hard_negative_mining_loss_matches_numpy():
    ssd = _tiny_ssd()
    rng = np.random.default_rng(0)
    n_anchors = 20
    logits = rng.normal(size=(2, n_anchors, 3)).astype(np.float32)
    reg = rng.normal(size=(2, n_anchors, 4)).astype(np.float32)
    anchors = np.abs(rng.normal(size=(n_anchors, 2))).astype(np.float32) * 4
    anchors = np.concatenate([anchors, anchors + 6], 1)
    gt = [
        np.array([[1.0, 1, 9, 7], [3, 2, 12, 12]], np.float32),
        np.array([[0.0, 0, 5, 5]], np.float32),
    ]
    labels = [np.array([1, 2]), np.array([2])]
    matched = [np.full(n_anchors, -1), np.full(n_anchors, -1)]
    matched[0][[2, 5, 11]] = [0, 1, 1]
    matched[1][[7]] = [0]
    targets = [
        {"boxes": torch.tensor(g), "labels": torch.tensor(lab)} for g, lab in zip(gt, labels)
    ]
    out = ssd.compute_loss(
        targets,
        {"cls_logits": torch.tensor(logits), "bbox_regression": torch.tensor(reg)},
        [torch.tensor(anchors)] * 2,
        [torch.tensor(m) for m in matched],
    )
    n_fg = sum(int((m >= 0).sum()) for m in matched)
    cls_sum, box_sum = 0.0, 0.0
    for i in range(2):
        t = np.zeros(n_anchors, np.int64)
        fg = np.nonzero(matched[i] >= 0)[0]
        t[fg] = labels[i][matched[i][fg]]
        lse = np.log(np.exp(logits[i].astype(np.float64)).sum(1))
        ce = lse - logits[i][np.arange(n_anchors), t]
        neg = np.setdiff1d(np.arange(n_anchors), fg)
        hardest = neg[np.argsort(-ce[neg])][: 3 * fg.size]
        cls_sum += ce[fg].sum() + ce[hardest].sum()
        a, g = anchors[fg].astype(np.float64), gt[i][matched[i][fg]].astype(np.float64)
        aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
        gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
        enc = np.stack(
            [
                10 * (g[:, 0] + gw / 2 - a[:, 0] - aw / 2) / aw,
                10 * (g[:, 1] + gh / 2 - a[:, 1] - ah / 2) / ah,
                5 * np.log(gw / aw),
                5 * np.log(gh / ah),
            ],
            1,
        )
        d = np.abs(reg[i][fg] - enc)
        box_sum += np.where(d < 1, 0.5 * d**2, d - 0.5).sum()
    np.testing.assert_allclose(out["classification"].item(), cls_sum / n_fg, rtol=1e-5)
    np.testing.assert_allclose(out["bbox_regression"].item(), box_sum / n_fg, rtol=1e-5)


def test_postprocess_matches_per_class_loop():
    ssd = _tiny_ssd(score_thresh=0.2, topk_candidates=5, detections_per_img=12)
    rng = np.random.default_rng(4)
    n = 40
    logits = torch.tensor(rng.normal(size=(1, n, 3)).astype(np.float32) * 2)
    reg = torch.tensor(rng.normal(size=(1, n, 4)).astype(np.float32) * 0.5)
    xy = rng.uniform(0, 24, (n, 2)).astype(np.float32)
    anchors = torch.tensor(
        np.concatenate([xy, xy + rng.uniform(4, 12, (n, 2))], 1).astype(np.float32)
    )
    got = ssd.postprocess_detections(
        {"cls_logits": logits, "bbox_regression": reg}, [anchors], [(32, 32)]
    )[0]
    # the reference: torchvision's loop over classes with topk per class
    boxes = clip_boxes_to_image(ssd.box_coder.decode_single(reg[0], anchors), (32, 32))
    scores = torch.softmax(logits[0], -1)
    bs, ss, ls = [], [], []
    for label in range(1, 3):
        s = scores[:, label]
        keep = s > 0.2
        s, b = s[keep], boxes[keep]
        s, idx = s.topk(min(5, s.shape[0]))
        bs.append(b[idx])
        ss.append(s)
        ls.append(torch.full((s.shape[0],), label, dtype=torch.int64))
    bs, ss, ls = torch.cat(bs), torch.cat(ss), torch.cat(ls)
    keep = batched_nms(bs, ss, ls, ssd.nms_thresh)[:12]
    np.testing.assert_allclose(got["boxes"].numpy(), bs[keep].numpy(), rtol=1e-6)
    np.testing.assert_allclose(got["scores"].numpy(), ss[keep].numpy(), rtol=1e-6)
    np.testing.assert_array_equal(got["labels"].numpy(), ls[keep].numpy())
    assert got["boxes"].shape[0] > 0


def test_eval_outputs_scaled_to_original(model):
    model.eval()
    images = [torch.rand(3, 100, 80), torch.rand(3, 60, 150)]
    with torch.no_grad():
        out = model(images)
    for o, img in zip(out, images):
        assert sorted(o) == ["boxes", "labels", "scores"]
        n = o["boxes"].shape[0]
        assert 0 < n <= 300
        b, lab = o["boxes"].numpy(), o["labels"].numpy()
        h, w = img.shape[-2:]
        assert b.min() >= 0 and b[:, [0, 2]].max() <= w + 1e-3 and b[:, [1, 3]].max() <= h + 1e-3
        assert ((lab >= 1) & (lab < 4)).all()


def test_train_step(model):
    model.train()
    model.zero_grad()
    targets = [
        {
            "boxes": torch.tensor([[10.0, 20.0, 60.0, 80.0], [5.0, 5.0, 30.0, 25.0]]),
            "labels": torch.tensor([1, 3]),
        }
    ]
    targets.append({"boxes": torch.tensor([[40.0, 10.0, 90.0, 50.0]]), "labels": torch.tensor([2])})
    # two images: the last extra block is 1x1, and BatchNorm needs more than one value
    losses = model([torch.rand(3, 100, 120), torch.rand(3, 80, 90)], targets)
    assert sorted(losses) == ["bbox_regression", "classification"]
    assert all(np.isfinite(v.item()) and v.item() > 0 for v in losses.values())
    sum(losses.values()).backward()
    # only the levels holding a matched box or a mined hard negative get gradients
    for head in (model.head.classification_head, model.head.regression_head):
        assert float(head.module_list[0][1].weight.grad.abs().sum()) > 0
    assert float(model.backbone.extra[0][0][0].weight.grad.abs().sum()) > 0


def test_builder_errors():
    with pytest.raises(ValueError, match="num_classes"):
        ssdlite320_mobilenet_v3_large(weights="DEFAULT", num_classes=5)
    with pytest.raises(ValueError, match="output channels"):
        backbone = nn.Sequential(nn.Conv2d(3, 8, 3, stride=4, padding=1))
        SSD(backbone, DefaultBoxGenerator([[2], [2]]), (32, 32), 3)
