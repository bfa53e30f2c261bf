"""The detectors on a CUDA device: same outputs as on the CPU (skipped without a GPU)."""

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision.models.detection import retinanet_resnet50_fpn, ssdlite320_mobilenet_v3_large

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU with cupy"),
]


@pytest.mark.parametrize("builder", [retinanet_resnet50_fpn, ssdlite320_mobilenet_v3_large])
def test_eval_and_train_on_cuda_match_cpu(builder):
    torch.manual_seed(0)
    kw = {"min_size": 128, "max_size": 160} if builder is retinanet_resnet50_fpn else {}
    model = builder(weights_backbone=None, num_classes=3, score_thresh=0.0, **kw).eval()
    images = [torch.rand(3, 100, 120), torch.rand(3, 80, 90)]
    with torch.no_grad():
        cpu = model(images)
        model.to("cuda")
        gpu = model([im.to("cuda") for im in images])
    for c, g in zip(cpu, gpu):
        assert g["boxes"].device.type == "cuda"
        n = min(10, c["boxes"].shape[0])
        np.testing.assert_allclose(
            g["scores"][:n].cpu().numpy(), c["scores"][:n].numpy(), atol=1e-4
        )
    model.train()
    targets = [
        {"boxes": torch.tensor([[10.0, 20.0, 60.0, 80.0]], device="cuda"),
         "labels": torch.tensor([1], device="cuda")},
        {"boxes": torch.tensor([[5.0, 5.0, 50.0, 40.0]], device="cuda"),
         "labels": torch.tensor([2], device="cuda")},
    ]  # fmt: skip
    losses = model([im.to("cuda") for im in images], targets)
    sum(losses.values()).backward()
    assert all(np.isfinite(v.item()) for v in losses.values())
