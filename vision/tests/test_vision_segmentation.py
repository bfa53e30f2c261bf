"""tocha.vision.models.segmentation: FCN, DeepLabV3, LRASPP with torchvision's published
parameter counts, key names, dilated backbones, output dicts upsampled to the input size, and
IntermediateLayerGetter."""

from __future__ import annotations

from collections import OrderedDict
from functools import cache

import numpy as np
import pytest
from PIL import Image

import tocha.core as torch
from tocha.core import nn
from tocha.vision import models
from tocha.vision.models import segmentation
from tocha.vision.models._utils import IntermediateLayerGetter
from tocha.vision.models.segmentation._utils import _SimpleSegmentationModel

# torchvision's published counts (the weights' meta["num_params"]; all include the aux head)
TORCHVISION_NUM_PARAMS = {
    "fcn_resnet50": 35322218,
    "deeplabv3_mobilenet_v3_large": 11029328,
    "lraspp_mobilenet_v3_large": 3221538,
}
TORCHVISION_NUM_PARAMS_LARGE = {
    "fcn_resnet101": 54314346,
    "deeplabv3_resnet50": 42004074,
    "deeplabv3_resnet101": 60996202,
}
KEYS = {
    "fcn_resnet50": [
        "backbone.conv1.weight",
        "backbone.bn1.running_var",
        "backbone.layer3.5.conv2.weight",
        "backbone.layer4.2.bn3.bias",
        "classifier.0.weight",
        "classifier.1.running_mean",
        "classifier.4.weight",
        "classifier.4.bias",
        "aux_classifier.0.weight",
        "aux_classifier.4.bias",
    ],
    "deeplabv3_mobilenet_v3_large": [
        "backbone.0.0.weight",
        "backbone.4.block.2.fc1.weight",
        "backbone.13.block.1.0.weight",
        "backbone.16.0.weight",
        "classifier.0.convs.0.0.weight",
        "classifier.0.convs.1.1.running_mean",
        "classifier.0.convs.3.0.weight",
        "classifier.0.convs.4.1.weight",
        "classifier.0.project.0.weight",
        "classifier.0.project.1.bias",
        "classifier.1.weight",
        "classifier.4.bias",
        "aux_classifier.0.weight",
        "aux_classifier.4.weight",
    ],
    "lraspp_mobilenet_v3_large": [
        "backbone.0.0.weight",
        "backbone.16.1.running_var",
        "classifier.cbr.0.weight",
        "classifier.cbr.1.running_mean",
        "classifier.scale.1.weight",
        "classifier.low_classifier.weight",
        "classifier.low_classifier.bias",
        "classifier.high_classifier.weight",
        "classifier.high_classifier.bias",
    ],
}
# the backbone's classifier head is cut off, and LR-ASPP has no aux head
ABSENT = ["backbone.fc.weight", "backbone.avgpool", "backbone.17.", "backbone.classifier"]


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _build(name, **kw):
    aux = {} if name.startswith("lraspp") else {"aux_loss": True}
    return models.get_model(name, weights_backbone=None, **aux, **kw)


@cache
def _shared(name):
    """One seeded eval-mode instance per model for the tests that only read it."""
    torch.manual_seed(0)
    return _build(name).eval()


@pytest.mark.parametrize("name", sorted(TORCHVISION_NUM_PARAMS))
def test_num_params_and_keys_equal_torchvision(name):
    model = _shared(name)
    assert _count(model) == TORCHVISION_NUM_PARAMS[name]
    weights = models.get_model_weights(name)
    assert weights.DEFAULT.meta["num_params"] == _count(model)
    assert weights.DEFAULT is weights.COCO_WITH_VOC_LABELS_V1
    assert len(weights.DEFAULT.meta["categories"]) == 21
    keys = set(model.state_dict())
    assert not [k for k in KEYS[name] if k not in keys]
    joined = " ".join(sorted(keys))
    assert not [a for a in ABSENT if a in joined]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TORCHVISION_NUM_PARAMS_LARGE))
def test_num_params_of_the_resnet101_and_deeplab_resnet_variants(name):
    model = _build(name)
    assert _count(model) == TORCHVISION_NUM_PARAMS_LARGE[name]
    assert models.get_model_weights(name).DEFAULT.meta["num_params"] == _count(model)


def test_registry_and_builder_defaults():
    assert models.list_models(module=segmentation) == [
        "deeplabv3_mobilenet_v3_large",
        "deeplabv3_resnet101",
        "deeplabv3_resnet50",
        "fcn_resnet101",
        "fcn_resnet50",
        "lraspp_mobilenet_v3_large",
    ]
    assert "fcn_resnet50" in models.list_models()
    assert "fcn_resnet50" not in models.list_models(module=models.detection)
    # without weights: 21 classes, no auxiliary head (aux_loss=None)
    model = models.get_model("deeplabv3_mobilenet_v3_large", weights_backbone=None)
    assert model.aux_classifier is None
    assert model.classifier[4].out_channels == 21
    assert models.get_weight("FCN_ResNet50_Weights.DEFAULT").name == "COCO_WITH_VOC_LABELS_V1"
    with pytest.raises(NotImplementedError, match="auxiliary loss"):
        segmentation.lraspp_mobilenet_v3_large(weights_backbone=None, aux_loss=True)
    with pytest.raises(ValueError, match="num_classes"):
        segmentation.fcn_resnet50(weights="DEFAULT", num_classes=3)


@pytest.mark.parametrize("name", sorted(TORCHVISION_NUM_PARAMS))
def test_outputs_are_upsampled_to_odd_input_sizes(name):
    torch.manual_seed(0)
    model = _shared(name)
    x = torch.randn(2, 3, 37, 45)
    with torch.no_grad():
        out = model(x)
        one = model(x[1:2])
    assert isinstance(out, OrderedDict)
    expected = ["out"] if name.startswith("lraspp") else ["out", "aux"]
    assert list(out) == expected
    for v in out.values():
        assert tuple(v.shape) == (2, 21, 37, 45)
    np.testing.assert_allclose(out["out"].numpy()[1:], one["out"].numpy(), rtol=1e-4, atol=1e-5)


def test_dilated_resnet_backbone_keeps_output_stride_8():
    body = _shared("fcn_resnet50").backbone
    assert list(body) == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    # torchvision: the first block of a dilated stage keeps the previous dilation
    assert body.layer3[0].conv2.dilation == (1, 1) and body.layer3[0].conv2.stride == (1, 1)
    assert body.layer3[1].conv2.dilation == (2, 2)
    assert body.layer4[0].conv2.dilation == (2, 2) and body.layer4[0].conv2.padding == (2, 2)
    assert body.layer4[2].conv2.dilation == (4, 4)
    assert body.layer4[0].downsample[0].stride == (1, 1)
    with torch.no_grad():
        feats = body(torch.zeros(1, 3, 64, 64))
    assert {k: tuple(v.shape) for k, v in feats.items()} == {
        "aux": (1, 1024, 8, 8),
        "out": (1, 2048, 8, 8),
    }


def test_dilated_mobilenet_backbone_positions_and_strides():
    body = _shared("lraspp_mobilenet_v3_large").backbone
    # C2 (stride 8) is block 4, the last layer is 16; the dilated tail does not stride
    assert body.return_layers == {"4": "low", "16": "high"}
    assert len(body) == 17
    dw = body["13"].block[1][0]
    assert dw.stride == (1, 1) and dw.dilation == (2, 2) and dw.padding == (4, 4)
    with torch.no_grad():
        feats = body(torch.zeros(1, 3, 64, 64))
    assert tuple(feats["low"].shape) == (1, 40, 8, 8)
    assert tuple(feats["high"].shape) == (1, 960, 4, 4)
    assert _shared("deeplabv3_mobilenet_v3_large").backbone.return_layers == {
        "16": "out",
        "4": "aux",
    }


def _bilinear_reference(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres (align_corners=False), edges clamped."""
    c, h, w = img.shape

    def axis(n_in, n_out):
        src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, None)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, fy = axis(h, out_h)
    x0, x1, fx = axis(w, out_w)
    top = img[:, y0][:, :, x0] * (1 - fx) + img[:, y0][:, :, x1] * fx
    bot = img[:, y1][:, :, x0] * (1 - fx) + img[:, y1][:, :, x1] * fx
    return top * (1 - fy[:, None]) + bot * fy[:, None]


def test_simple_segmentation_model_upsamples_bilinearly_like_numpy():
    torch.manual_seed(0)

    class Pool(nn.Module):
        def forward(self, x):
            small = nn.functional.avg_pool2d(x, 4)
            return OrderedDict(out=small, aux=small[:, :1])

    model = _SimpleSegmentationModel(Pool(), nn.Identity(), nn.Identity())
    x = torch.randn(1, 2, 20, 28)
    out = model(x)
    small = nn.functional.avg_pool2d(x, 4).numpy()[0]
    np.testing.assert_allclose(
        out["out"].numpy()[0], _bilinear_reference(small, 20, 28), 1e-5, 1e-6
    )
    np.testing.assert_allclose(
        out["aux"].numpy()[0], _bilinear_reference(small[:1], 20, 28), 1e-5, 1e-6
    )


def test_intermediate_layer_getter_runs_children_in_order_and_drops_the_rest():
    torch.manual_seed(0)
    net = nn.Sequential(
        OrderedDict(
            a=nn.Conv2d(3, 4, 3),
            b=nn.ReLU(),
            c=nn.Conv2d(4, 2, 1),
            head=nn.Flatten(),
        )
    )
    getter = IntermediateLayerGetter(net, {"a": "first", "c": "last"})
    assert list(getter) == ["a", "b", "c"]
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        out = getter(x)
        a = net.a(x)
        c = net.c(net.b(a))
    assert list(out) == ["first", "last"]
    np.testing.assert_array_equal(out["first"].numpy(), a.numpy())
    np.testing.assert_array_equal(out["last"].numpy(), c.numpy())
    assert sorted(getter.state_dict()) == ["a.bias", "a.weight", "c.bias", "c.weight"]
    with pytest.raises(ValueError, match=r"return_layers \['zz'\] are not children"):
        IntermediateLayerGetter(net, {"zz": "x"})


def test_lraspp_head_matches_its_definition():
    torch.manual_seed(0)
    from tocha.vision.models.segmentation.lraspp import LRASPPHead

    head = LRASPPHead(low_channels=3, high_channels=5, num_classes=2, inter_channels=4).eval()
    low, high = torch.randn(1, 3, 8, 8), torch.randn(1, 5, 4, 4)
    with torch.no_grad():
        got = head({"low": low, "high": high}).numpy()[0]
    h = high.numpy()[0]
    bn = head.cbr[1]
    cbr = np.einsum("oi,ihw->ohw", head.cbr[0].weight.detach().numpy()[:, :, 0, 0], h)
    cbr = (cbr - bn.running_mean.numpy()[:, None, None]) / np.sqrt(
        bn.running_var.numpy()[:, None, None] + bn.eps
    )
    cbr = np.maximum(cbr * bn.weight.detach().numpy()[:, None, None], 0)  # bias is zero
    gate = head.scale[1].weight.detach().numpy()[:, :, 0, 0] @ h.mean((1, 2))
    mixed = _bilinear_reference(cbr / (1 + np.exp(-gate))[:, None, None], 8, 8)
    w_lo, b_lo = head.low_classifier.weight.detach().numpy()[:, :, 0, 0], head.low_classifier.bias
    w_hi, b_hi = head.high_classifier.weight.detach().numpy()[:, :, 0, 0], head.high_classifier.bias
    ref = np.einsum("oi,ihw->ohw", w_lo, low.numpy()[0]) + b_lo.detach().numpy()[:, None, None]
    ref += np.einsum("oi,ihw->ohw", w_hi, mixed) + b_hi.detach().numpy()[:, None, None]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "name",
    [
        "lraspp_mobilenet_v3_large",
        "deeplabv3_mobilenet_v3_large",
        pytest.param("fcn_resnet50", marks=pytest.mark.slow),
    ],
)
def test_forward_backward_step(name):
    torch.manual_seed(0)
    model = _build(name, num_classes=4).train()
    x = torch.randn(2, 3, 32, 32)
    target = torch.from_numpy(np.random.default_rng(0).integers(0, 4, (2, 32, 32)))

    def loss_at_seed():
        torch.manual_seed(1)  # the same dropout masks on every call
        out = model(x)
        loss = nn.functional.cross_entropy(out["out"], target)
        if "aux" in out:  # torchvision's reference recipe: out + 0.5 * aux
            loss = loss + 0.5 * nn.functional.cross_entropy(out["aux"], target)
        return loss

    with torch.no_grad():
        before = loss_at_seed().item()
    loss_at_seed().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads), f"{name}: a parameter got no gradient"
    assert all(np.isfinite(g.numpy()).all() for g in grads)
    norm = float(np.sqrt(sum(float((g * g).sum().item()) for g in grads)))
    with torch.no_grad():
        for p in model.parameters():
            p -= (1e-3 / norm) * p.grad
        after = loss_at_seed().item()
    assert after < before, f"{name}: loss {before} -> {after}"


def test_semantic_segmentation_preset_resizes_short_side_without_crop():
    preset = segmentation.FCN_ResNet50_Weights.DEFAULT.transforms()
    assert preset.resize_size == [520]
    small = segmentation.SemanticSegmentation(resize_size=20)
    img = Image.new("RGB", (50, 25), (255, 0, 128))
    out = small(img).numpy()
    assert out.shape == (3, 20, 40)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    expected = (np.array([255, 0, 128]) / 255.0 - mean) / std
    np.testing.assert_allclose(out[:, 10, 20], expected, rtol=1e-5)
    assert segmentation.SemanticSegmentation(resize_size=None)(img).shape == (3, 25, 50)
