"""The helpers the detection builders and one-stage detectors share."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import nn
from tocha.vision.models import detection
from tocha.vision.models.detection._coco import ObjectDetection
from tocha.vision.models.detection._frozen_bn import FrozenBatchNorm2d
from tocha.vision.models.detection._one_stage import _nms_detections, _topk_candidates
from tocha.vision.models.detection._utils import _load_weights


class _FakeWeights:
    def __init__(self, state_dict: dict) -> None:
        self.state_dict = state_dict

    def get_state_dict(self, progress: bool = True, check_hash: bool = True) -> dict:
        return self.state_dict


def _tiny():
    return nn.Sequential(nn.Conv2d(1, 1, 1), FrozenBatchNorm2d(1))


def test_load_weights_zeroes_eps_only_for_the_legacy_checkpoint():
    torch.manual_seed(0)
    source = _tiny()
    legacy, other = _FakeWeights(source.state_dict()), _FakeWeights(source.state_dict())
    loaded = _load_weights(_tiny(), legacy, False, zero_eps_for=legacy)
    assert torch.equal(loaded[0].weight, source[0].weight)
    assert loaded[1].eps == 0.0
    assert _load_weights(_tiny(), other, False, zero_eps_for=legacy)[1].eps == 1e-5
    assert _load_weights(_tiny(), other, False)[1].eps == 1e-5
    untouched = _tiny()
    assert _load_weights(untouched, None, False, zero_eps_for=legacy) is untouched


def test_topk_candidates_and_nms():
    # 3 anchors x 2 classes, flattened anchor-major
    scores = torch.tensor([0.9, 0.1, 0.3, 0.8, 0.05, 0.7])
    top, anchor_idxs, labels = _topk_candidates(scores, 0.2, 3, num_classes=2)
    assert top.tolist() == [0.8999999761581421, 0.800000011920929, 0.699999988079071]
    assert anchor_idxs.tolist() == [0, 1, 2] and labels.tolist() == [0, 1, 1]
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 9.0], [20.0, 20.0, 30.0, 30.0]])
    det = _nms_detections(boxes, top, labels, nms_thresh=0.5, detections_per_img=2)
    assert list(det) == ["boxes", "scores", "labels"]
    # the two overlapping boxes have different labels, so both survive; the cap keeps 2
    assert det["labels"].tolist() == [0, 1] and det["boxes"].shape == (2, 4)


def test_coco_weights_share_preset_and_meta():
    enums = [getattr(detection, n) for n in dir(detection) if n.endswith("_Weights")]
    torchvision = [w for e in enums for w in e if w.url.startswith("https://download.pytorch")]
    coco = [w for w in torchvision if "keypoint" not in w.url]
    assert len(coco) == 11
    for w in torchvision:
        assert w.transforms is ObjectDetection
    for w in coco:
        assert len(w.meta["categories"]) == 91 and w.meta["min_size"] == (1, 1)
        enhanced = "enhanced training recipe" in w.meta["_docs"]
        assert enhanced == ("_v2_" in w.url), w.url
    kp = detection.KeypointRCNN_ResNet50_FPN_Weights
    assert kp.COCO_V1.meta["categories"] == ["no person", "person"]
    assert kp.COCO_V1.meta["min_size"] == (1, 1)
    assert "early epoch" in kp.COCO_LEGACY.meta["_docs"]
