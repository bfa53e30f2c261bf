"""Mask R-CNN ResNet-50-FPN: torchvision's parameter count and keys, version-1 mask head keys,
pasting masks into the image against NumPy, a training step and eval masks."""

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision.models import resnet50
from tocha.vision.models.detection import (
    MaskRCNN,
    MaskRCNN_ResNet50_FPN_V2_Weights,
    MaskRCNN_ResNet50_FPN_Weights,
    MaskRCNNHeads,
    maskrcnn_resnet50_fpn,
    maskrcnn_resnet50_fpn_v2,
)
from tocha.vision.models.detection._frozen_bn import FrozenBatchNorm2d
from tocha.vision.models.detection.backbone_utils import _resnet_fpn_extractor
from tocha.vision.models.detection.roi_heads import maskrcnn_inference, project_masks_on_boxes
from tocha.vision.models.detection.transform import paste_masks_in_image


def test_parameter_count_and_keys():
    m = MaskRCNN(_resnet_fpn_extractor(resnet50(norm_layer=FrozenBatchNorm2d), 3), 91)
    assert sum(p.numel() for p in m.parameters()) == 44_401_393
    assert MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["num_params"] == 44_401_393
    keys = m.state_dict()
    for k in [
        "roi_heads.mask_head.0.0.weight",
        "roi_heads.mask_head.3.0.bias",
        "roi_heads.mask_predictor.conv5_mask.weight",
        "roi_heads.mask_predictor.mask_fcn_logits.bias",
        "roi_heads.box_head.fc6.weight",
    ]:
        assert k in keys, k
    assert tuple(keys["roi_heads.mask_predictor.mask_fcn_logits.weight"].shape) == (91, 256, 1, 1)
    assert m.roi_heads.mask_roi_pool.output_size == (14, 14)


def test_v2_parameter_count_and_keys():
    m = maskrcnn_resnet50_fpn_v2()
    assert sum(p.numel() for p in m.parameters()) == 46_359_409
    assert MaskRCNN_ResNet50_FPN_V2_Weights.DEFAULT.meta["num_params"] == 46_359_409
    keys = m.state_dict()
    assert "roi_heads.mask_head.3.1.running_var" in keys and "rpn.head.conv.1.0.weight" in keys


def test_mask_head_version1_keys_load():
    torch.manual_seed(0)
    src, dst = MaskRCNNHeads(8, [4, 4], 1), MaskRCNNHeads(8, [4, 4], 1)
    old = {
        k.replace(f"{k[0]}.0.", f"mask_fcn{int(k[0]) + 1}."): v for k, v in src.state_dict().items()
    }
    assert "mask_fcn2.weight" in old
    dst.load_state_dict(old)
    assert torch.equal(dst[1][0].weight, src[1][0].weight)


def _np_paste(mask, box, h, w, padding=1):
    M = mask.shape[-1]
    scale = (M + 2 * padding) / M
    m = np.pad(mask, padding)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = (box[2] - box[0]) / 2 * scale, (box[3] - box[1]) / 2 * scale
    x0, y0, x1, y1 = (int(v) for v in (cx - hw, cy - hh, cx + hw, cy + hh))  # truncation
    bw, bh = max(x1 - x0 + 1, 1), max(y1 - y0 + 1, 1)

    # bilinear, align_corners=False, by separable interpolation
    def axis(n_out, n_in):
        src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, None)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        t = src - i0
        A = np.zeros((n_out, n_in))
        A[np.arange(n_out), i0] += 1 - t
        A[np.arange(n_out), i1] += t
        return A

    resized = axis(bh, m.shape[0]) @ m @ axis(bw, m.shape[1]).T
    out = np.zeros((h, w))
    for y in range(max(y0, 0), min(y1 + 1, h)):
        for x in range(max(x0, 0), min(x1 + 1, w)):
            out[y, x] = resized[y - y0, x - x0]
    return out


def test_paste_masks_matches_numpy():
    rng = np.random.default_rng(0)
    masks = rng.uniform(size=(3, 1, 6, 6)).astype(np.float32)
    boxes = np.array(
        [[3.2, 4.7, 20.1, 15.9], [-5.0, 2.0, 8.0, 30.0], [25.0, 10.0, 33.5, 19.0]], np.float32
    )
    got = paste_masks_in_image(torch.tensor(masks), torch.tensor(boxes), (24, 30)).numpy()
    assert got.shape == (3, 1, 24, 30)
    for i in range(3):
        np.testing.assert_allclose(got[i, 0], _np_paste(masks[i, 0], boxes[i], 24, 30), atol=1e-5)
    assert paste_masks_in_image(torch.zeros(0, 1, 6, 6), torch.zeros(0, 4), (5, 7)).shape == (
        0,
        1,
        5,
        7,
    )


def test_project_masks_and_inference():
    gt = torch.zeros(2, 16, 16)
    gt[1, 4:12, 4:12] = 1.0
    # RoIAlign samples (aligned=False) of a box inside the square of mask 1 all read ones;
    # those of the same box on mask 0 read zeros
    out = project_masks_on_boxes(
        gt, torch.tensor([[4.0, 4.0, 11.0, 11.0]] * 2), torch.tensor([1, 0]), 4
    )
    np.testing.assert_allclose(out[0].numpy(), np.ones((4, 4)), atol=1e-6)
    np.testing.assert_allclose(out[1].numpy(), np.zeros((4, 4)))
    logits = torch.tensor(np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2) - 10)
    probs = maskrcnn_inference(logits, [torch.tensor([2]), torch.tensor([0])])
    np.testing.assert_allclose(
        probs[0].numpy()[0, 0], 1 / (1 + np.exp(-(np.arange(8, 12).reshape(2, 2) - 10))), rtol=1e-6
    )
    np.testing.assert_allclose(
        probs[1].numpy()[0, 0], 1 / (1 + np.exp(-(np.arange(12, 16).reshape(2, 2) - 10))), rtol=1e-6
    )


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return maskrcnn_resnet50_fpn(
        weights_backbone=None,
        num_classes=3,
        min_size=96,
        max_size=128,
        rpn_post_nms_top_n_train=100,
        rpn_post_nms_top_n_test=50,
        box_batch_size_per_image=32,
        box_score_thresh=0.0,
    )


def test_train_step_and_eval_masks(model):
    model.train()
    masks = torch.zeros(2, 100, 120, dtype=torch.uint8)
    masks[0, 20:80, 10:60] = 1
    masks[1, 30:70, 30:90] = 1
    targets = [
        {
            "boxes": torch.tensor([[10.0, 20.0, 60.0, 80.0], [30.0, 30.0, 90.0, 70.0]]),
            "labels": torch.tensor([1, 2]),
            "masks": masks,
        },
        {
            "boxes": torch.tensor([[5.0, 5.0, 50.0, 40.0]]),
            "labels": torch.tensor([2]),
            "masks": torch.ones(1, 90, 110, dtype=torch.uint8),
        },
    ]
    losses = model([torch.rand(3, 100, 120), torch.rand(3, 90, 110)], targets)
    assert sorted(losses) == [
        "loss_box_reg",
        "loss_classifier",
        "loss_mask",
        "loss_objectness",
        "loss_rpn_box_reg",
    ]
    assert all(np.isfinite(v.item()) for v in losses.values())
    sum(losses.values()).backward()
    assert float(model.roi_heads.mask_predictor.mask_fcn_logits.weight.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="masks key"):
        model(
            [torch.rand(3, 64, 64)],
            [{"boxes": torch.tensor([[1.0, 1, 9, 9]]), "labels": torch.tensor([1])}],
        )
    model.eval()
    with torch.no_grad():
        out = model([torch.rand(3, 100, 120)])[0]
    n = out["boxes"].shape[0]
    assert n > 0 and tuple(out["masks"].shape) == (n, 1, 100, 120)
    m = out["masks"].numpy()
    assert m.min() >= 0 and m.max() <= 1
