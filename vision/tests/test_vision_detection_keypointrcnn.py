"""Keypoint R-CNN ResNet-50-FPN: torchvision's parameter count and keys, heatmap encoding and
decoding against NumPy, a training step and eval keypoints."""

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision.models import resnet50
from tocha.vision.models.detection import (
    KeypointRCNN,
    KeypointRCNN_ResNet50_FPN_Weights,
    keypointrcnn_resnet50_fpn,
)
from tocha.vision.models.detection._frozen_bn import FrozenBatchNorm2d
from tocha.vision.models.detection.backbone_utils import _resnet_fpn_extractor
from tocha.vision.models.detection.roi_heads import heatmaps_to_keypoints, keypoints_to_heatmap


def test_parameter_count_and_keys():
    m = KeypointRCNN(_resnet_fpn_extractor(resnet50(norm_layer=FrozenBatchNorm2d), 3), 2)
    assert sum(p.numel() for p in m.parameters()) == 59_137_258
    w = KeypointRCNN_ResNet50_FPN_Weights
    assert w.DEFAULT is w.COCO_V1 and w.COCO_LEGACY.meta["num_params"] == 59_137_258
    assert len(w.COCO_V1.meta["keypoint_names"]) == 17
    keys = m.state_dict()
    assert tuple(keys["roi_heads.keypoint_head.0.weight"].shape) == (512, 256, 3, 3)
    assert tuple(keys["roi_heads.keypoint_head.14.weight"].shape) == (512, 512, 3, 3)
    assert tuple(keys["roi_heads.keypoint_predictor.kps_score_lowres.weight"].shape) == (
        512,
        17,
        4,
        4,
    )
    assert m.transform.min_size == (640, 672, 704, 736, 768, 800)


def test_keypoints_to_heatmap_matches_numpy():
    rois = np.array([[10.0, 20.0, 66.0, 48.0], [0.0, 0.0, 8.0, 8.0]], np.float32)
    kps = np.array(
        [
            [[10.0, 20.0, 1], [65.9, 47.9, 1], [66.0, 48.0, 1], [30.0, 30.0, 0], [5.0, 30.0, 1]],
            [[1.0, 7.0, 2], [8.0, 0.0, 1], [9.0, 1.0, 1], [4.0, 4.0, 1], [0.0, 0.0, 1]],
        ],
        np.float32,
    )
    hm, valid = keypoints_to_heatmap(torch.tensor(kps), torch.tensor(rois), 56)
    ref_hm, ref_valid = np.zeros((2, 5), np.int64), np.zeros((2, 5), np.int64)
    for r in range(2):
        x1, y1, x2, y2 = rois[r]
        for k in range(5):
            x, y, v = kps[r, k]
            gx = 55 if x == x2 else int(np.floor((x - x1) * np.float32(56 / (x2 - x1))))
            gy = 55 if y == y2 else int(np.floor((y - y1) * np.float32(56 / (y2 - y1))))
            ok = 0 <= gx < 56 and 0 <= gy < 56 and v > 0
            ref_valid[r, k] = int(ok)
            ref_hm[r, k] = (gy * 56 + gx) if ok else 0
    np.testing.assert_array_equal(valid.numpy(), ref_valid)
    np.testing.assert_array_equal(hm.numpy(), ref_hm)
    assert ref_valid.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 1, 1]]


def test_heatmaps_to_keypoints_finds_the_peaks():
    maps = np.zeros((1, 2, 8, 8), np.float32)
    maps[0, 0, 2, 5] = 10.0
    maps[0, 1, 6, 1] = 7.0
    # an RoI of 16 x 16 px: each heatmap cell spans 2 px
    xy, scores = heatmaps_to_keypoints(
        torch.tensor(maps), torch.tensor([[100.0, 50.0, 116.0, 66.0]])
    )
    assert tuple(xy.shape) == (1, 2, 3) and tuple(scores.shape) == (1, 2)
    np.testing.assert_allclose(xy[0, :, 2].numpy(), [1.0, 1.0])
    # the 2x bicubic upsampling ties the two pixels of a peak cell; argmax takes the first:
    # cell (row 2, col 5) -> pixel (4, 10) -> centre (100 + 10.5, 50 + 4.5)
    np.testing.assert_allclose(xy[0, 0, :2].numpy(), [110.5, 54.5])
    np.testing.assert_allclose(xy[0, 1, :2].numpy(), [102.5, 62.5])
    # the upsampled peak values (a bicubic kernel's weights on a single spike)
    np.testing.assert_allclose(scores[0].numpy(), [7.7248, 5.4073], rtol=1e-4)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return keypointrcnn_resnet50_fpn(
        weights_backbone=None,
        min_size=96,
        max_size=128,
        rpn_post_nms_top_n_train=100,
        rpn_post_nms_top_n_test=20,
        box_batch_size_per_image=32,
        box_score_thresh=0.0,
    )


def test_train_step_and_eval_keypoints(model):
    model.train()
    kp = torch.tensor(
        [[[20.0, 30.0, 1.0], [40.0, 50.0, 1.0], [0.0, 0.0, 0.0]] + [[30.0, 40.0, 2.0]] * 14]
    )
    targets = [
        {
            "boxes": torch.tensor([[10.0, 20.0, 60.0, 80.0]]),
            "labels": torch.tensor([1]),
            "keypoints": kp,
        },
        {
            "boxes": torch.tensor([[5.0, 5.0, 50.0, 40.0]]),
            "labels": torch.tensor([1]),
            "keypoints": kp * torch.tensor([0.5, 0.5, 1.0]),
        },
    ]
    losses = model([torch.rand(3, 100, 120), torch.rand(3, 90, 110)], targets)
    assert "loss_keypoint" in losses
    # untrained: close to the uniform cross-entropy over a 56 x 56 heatmap
    assert abs(losses["loss_keypoint"].item() - np.log(56 * 56)) < 1.0
    sum(losses.values()).backward()
    assert float(model.roi_heads.keypoint_predictor.kps_score_lowres.weight.grad.abs().sum()) > 0
    model.eval()
    with torch.no_grad():
        out = model([torch.rand(3, 100, 120)])[0]
    n = out["boxes"].shape[0]
    assert n > 0 and tuple(out["keypoints"].shape) == (n, 17, 3)
    assert tuple(out["keypoints_scores"].shape) == (n, 17)
    # every keypoint lies in its detection's box (mapped back to the original image)
    b, k = out["boxes"].numpy(), out["keypoints"].numpy()
    assert (k[..., 0] >= b[:, None, 0] - 1e-3).all() and (k[..., 0] <= b[:, None, 2] + 1e-3).all()
    assert (k[..., 1] >= b[:, None, 1] - 1e-3).all() and (k[..., 1] <= b[:, None, 3] + 1e-3).all()
