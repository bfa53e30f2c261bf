"""tocha.vision.models: shapes, parameter counts, training steps, torchvision key names, registry."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision import models

# torchvision's published parameter counts (the "Params" column of its classification table)
TORCHVISION_NUM_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "wide_resnet50_2": 68_883_240,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "alexnet": 61_100_840,
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_large": 5_483_032,
    "mobilenet_v3_small": 2_542_856,
    "efficientnet_b0": 5_288_548,
    "efficientnet_b1": 7_794_184,
    "efficientnet_b2": 9_109_994,
    "efficientnet_b3": 12_233_232,
}
# not in torchvision: the Lite0 checkpoint's tensor sizes, and LeNet-5's classic count
OTHER_NUM_PARAMS = {"efficientnet_lite0": 4_652_008, "lenet5": 61_706}
# building the 100M-parameter VGG heads takes seconds each: the default run checks two
SLOW = {"vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"}


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _params(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


@pytest.mark.parametrize("name", _params(sorted(TORCHVISION_NUM_PARAMS)))
def test_num_params_equal_torchvision(name):
    model = models.get_model(name, **({"init_weights": False} if "vgg" in name else {}))
    assert _count(model) == TORCHVISION_NUM_PARAMS[name]
    # the weights enum says the same
    assert models.get_model_weights(name).DEFAULT.meta["num_params"] == _count(model)


@pytest.mark.parametrize("name", sorted(OTHER_NUM_PARAMS))
def test_num_params_other(name):
    assert _count(models.get_model(name)) == OTHER_NUM_PARAMS[name]


def test_registry_lists_every_model():
    expected = set(TORCHVISION_NUM_PARAMS) | set(OTHER_NUM_PARAMS)
    everything = models.list_models()
    assert everything == sorted(everything) and expected <= set(everything)
    assert models.list_models(include="mobilenet*", exclude="*small") == [
        "mobilenet_v2",
        "mobilenet_v3_large",
    ]
    # module= selects the models defined in that module only (as torchvision): the
    # classification builders, not detection's
    classification = models.list_models(module=models)
    assert expected <= set(classification) and "mtcnn" not in classification
    assert "mtcnn" in everything


# one training step on a small input at the documented 224x224 where that is cheap
STEP = [
    ("resnet18", 224),
    ("resnet34", 64),
    ("resnet50", 64),
    ("resnet101", 64),
    ("resnet152", 64),
    ("resnext50_32x4d", 64),
    ("wide_resnet50_2", 64),
    ("alexnet", 224),
    ("mobilenet_v2", 224),
    ("mobilenet_v3_large", 224),
    ("mobilenet_v3_small", 224),
    ("efficientnet_b0", 224),
    ("efficientnet_b1", 64),
    ("efficientnet_b2", 64),
    ("efficientnet_b3", 64),
    ("efficientnet_lite0", 224),
    ("lenet5", 32),
]


@pytest.mark.parametrize(("name", "size"), STEP)
def test_forward_backward_step(name, size):
    torch.manual_seed(0)
    model = models.get_model(name, num_classes=7)
    chans = 1 if name == "lenet5" else 3
    x = torch.randn(2, chans, size, size)
    target = torch.tensor([1, 5])
    model.train()
    out = model(x)
    assert out.shape == (2, 7)
    loss = torch.nn.functional.cross_entropy(out, target)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    assert all(np.isfinite(g.numpy()).all() for g in grads)
    # an SGD step lowers the loss on this batch (eval-free check that gradients point downhill)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    opt.step()
    model.eval()
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 7)
    assert np.isfinite(y.numpy()).all()


@pytest.mark.parametrize("name", ["vgg11", "vgg11_bn"])
def test_vgg_forward_backward(name):
    model = models.get_model(name, num_classes=3)
    out = model(torch.randn(1, 3, 32, 32))
    assert out.shape == (1, 3)
    out.sum().backward()
    assert model.features[0].weight.grad.shape == (64, 3, 3, 3)


@pytest.mark.parametrize(
    ("name", "size", "shape"),
    [
        ("resnet18", 224, (1, 1000)),
        ("mobilenet_v3_small", 224, (1, 1000)),
        ("efficientnet_b0", 224, (1, 1000)),
        ("alexnet", 224, (1, 1000)),
    ],
)
def test_default_head_shape(name, size, shape):
    model = models.get_model(name).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, size, size)).shape == shape


def test_resnet_feature_map_sizes():
    m = models.resnet18().eval()
    x = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        assert x.shape == (1, 64, 56, 56)
        x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
    assert x.shape == (1, 512, 7, 7)


# key names as in torchvision's checkpoints (a few per family, including the deepest ones)
KEYS = {
    "resnet50": (
        320,
        [
            "conv1.weight",
            "layer1.0.downsample.0.weight",
            "layer1.0.downsample.1.running_var",
            "layer4.2.bn3.num_batches_tracked",
            "fc.bias",
        ],
    ),
    "resnet18": (122, ["layer2.0.downsample.1.weight", "layer4.1.conv2.weight", "fc.weight"]),
    "vgg16": (32, ["features.0.weight", "features.28.bias", "classifier.6.weight"]),
    "vgg16_bn": (None, ["features.1.running_mean", "features.41.weight", "classifier.3.weight"]),
    "alexnet": (16, ["features.10.weight", "classifier.1.weight", "classifier.6.bias"]),
    "mobilenet_v2": (
        314,
        [
            "features.0.0.weight",
            "features.1.conv.0.0.weight",
            "features.1.conv.1.weight",
            "features.2.conv.2.weight",
            "features.18.1.running_mean",
            "classifier.1.weight",
        ],
    ),
    "mobilenet_v3_large": (
        312,
        [
            "features.4.block.2.fc1.weight",
            "features.4.block.3.1.bias",
            "features.16.0.weight",
            "classifier.0.weight",
            "classifier.3.weight",
        ],
    ),
    "mobilenet_v3_small": (244, ["features.1.block.1.fc2.bias", "features.12.0.weight"]),
    "efficientnet_b0": (
        360,
        [
            "features.0.0.weight",
            "features.1.0.block.1.fc1.weight",
            "features.2.0.block.0.1.running_var",
            "features.8.0.weight",
            "classifier.1.weight",
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(KEYS))
def test_state_dict_key_names(name):
    kwargs = {"init_weights": False} if name.startswith("vgg") else {}
    sd = models.get_model(name, **kwargs).state_dict()
    count, keys = KEYS[name]
    for k in keys:
        assert k in sd, f"{name}: missing {k}"
    if count is not None:
        assert len(sd) == count


def test_state_dict_round_trip_into_fresh_model():
    torch.manual_seed(1)
    a = models.mobilenet_v3_small(num_classes=5).eval()
    b = models.mobilenet_v3_small(num_classes=5).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


def test_weights_api():
    w = models.get_weight("ResNet50_Weights.IMAGENET1K_V2")
    assert w is models.ResNet50_Weights.DEFAULT
    assert w.url.endswith("resnet50-11ad3fa6.pth")
    assert len(w.meta["categories"]) == 1000
    assert w.meta["categories"][285] == "Egyptian cat"
    assert models.get_model_weights(models.efficientnet_b1) is models.EfficientNet_B1_Weights
    assert models.get_model_weights("vgg16_bn") is models.VGG16_BN_Weights
    tf = w.transforms()
    assert tf.resize_size == [232] and tf.crop_size == [224]
    with pytest.raises(ValueError, match="Failed to find Weights"):
        models.ResNet18_Weights.verify("NOPE")
    with pytest.raises(ValueError, match="unknown model"):
        models.get_model("resnet9000")
    with pytest.raises(ValueError, match="num_classes"):
        # the weights fix the head size: a conflicting request is refused before any loading
        models.resnet18(weights="DEFAULT", num_classes=10)


def test_lenet_refuses_weights():
    with pytest.raises(ValueError, match="lenet5"):
        models.lenet5(weights="DEFAULT")


def test_same_padding_matches_tensorflow_sizes():
    from tocha.vision.models.efficientnet import Conv2dSame

    conv = Conv2dSame(1, 1, 3, stride=2, bias=False)
    torch.nn.init.ones_(conv.weight)
    x = torch.ones(1, 1, 4, 4)
    y = conv(x)
    # TF "SAME", stride 2, 4x4 input: pad 1 only at bottom/right -> 2x2 output whose top-left
    # window is fully inside (9 ones) and whose bottom-right window sees 2x2 real pixels
    np.testing.assert_array_equal(y.detach().numpy()[0, 0], [[9.0, 6.0], [6.0, 4.0]])
