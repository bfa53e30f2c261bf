"""SSD300-VGG16: torchvision's parameter count and keys, the paper's feature map sizes and
its 8732 default boxes, and a training step."""

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision.models.detection import SSD300_VGG16_Weights, ssd300_vgg16


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ssd300_vgg16(weights_backbone=None)


def test_parameter_count_keys_feature_maps_and_boxes(model):
    assert sum(p.numel() for p in model.parameters()) == 35_641_826
    assert SSD300_VGG16_Weights.COCO_V1.meta["num_params"] == 35_641_826
    keys = model.state_dict()
    for k in [
        "backbone.scale_weight",
        "backbone.features.21.weight",  # conv4_3
        "backbone.extra.0.1.weight",  # conv5_1 (after pool4)
        "backbone.extra.0.7.1.weight",  # fc6
        "backbone.extra.4.2.bias",  # conv11_2
        "head.classification_head.module_list.1.weight",
        "head.regression_head.module_list.5.bias",
    ]:
        assert k in keys, k
    np.testing.assert_array_equal(keys["backbone.scale_weight"].numpy(), np.full(512, 20.0))
    # pool3 in ceil mode gives the paper's 38x38 conv4_3 map
    assert model.backbone.features[16].ceil_mode
    model.eval()
    with torch.no_grad():
        images, _ = model.transform([torch.rand(3, 120, 100)])
        feats = list(model.backbone(images.tensors).values())
    assert [tuple(f.shape[1:]) for f in feats] == [
        (512, 38, 38),
        (1024, 19, 19),
        (512, 10, 10),
        (256, 5, 5),
        (256, 3, 3),
        (256, 1, 1),
    ]
    boxes = model.anchor_generator(images, feats)[0]
    assert tuple(boxes.shape) == (8732, 4)
    # the first default box: centre (4, 4) (step 8), side 0.07 * 300 = 21
    np.testing.assert_allclose(
        boxes[0].numpy(), [4 - 10.5, 4 - 10.5, 4 + 10.5, 4 + 10.5], rtol=1e-5
    )
    # conv4_3 is L2-normalised over channels, then scaled by 20
    norms = np.sqrt((feats[0].numpy() ** 2).sum(1))
    np.testing.assert_allclose(norms[norms > 1e-3], 20.0, rtol=1e-4)


@pytest.mark.slow
def test_train_step(model):
    model.train()
    targets = [
        # a small box (about 20 px at 300x300) matches conv4_3's default boxes
        {
            "boxes": torch.tensor([[10.0, 20.0, 60.0, 80.0], [40.0, 40.0, 48.0, 47.0]]),
            "labels": torch.tensor([5, 3]),
        },
        {"boxes": torch.tensor([[5.0, 5.0, 50.0, 40.0]]), "labels": torch.tensor([7])},
    ]
    losses = model([torch.rand(3, 100, 120), torch.rand(3, 90, 110)], targets)
    assert all(np.isfinite(v.item()) for v in losses.values())
    sum(losses.values()).backward()
    assert float(model.backbone.scale_weight.grad.abs().sum()) > 0
