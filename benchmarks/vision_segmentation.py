"""tocha-vision segmentation benchmark vs torch: FCN-ResNet50 inference (issue 6).

torchvision has no CPU build here, so the anchor is the same network written with torch.nn
below: torchvision's FCN-ResNet50 layout (ResNet-50 with ``replace_stride_with_dilation=[False,
True, True]``, FCNHead on ``layer4`` and the auxiliary FCNHead on ``layer3``, bilinear upsampling
to the input size) with its module names, so tocha's state_dict loads into it as it is and both
outputs (``out`` and ``aux``) are checked equal before timing. Eval mode, no_grad, batch 1.

    python benchmarks/vision_segmentation.py --rounds 3 --size 128
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Workload, measure, table  # noqa: E402


def fcn_resnet50_torch(num_classes: int = 21):
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride, dilation, down):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, dilation, dilation, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(width * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = down

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.bn3(self.conv3(out)) + idt)

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            cin, dilation = 64, 1
            stages = ((64, 3, 1, False), (128, 4, 2, False), (256, 6, 2, True), (512, 3, 2, True))
            for i, (width, blocks, stride, dilate) in enumerate(stages, 1):
                previous = dilation
                if dilate:  # torchvision: the stride becomes dilation from the next block on
                    dilation *= stride
                    stride = 1
                down = None
                if stride != 1 or cin != width * 4:
                    down = nn.Sequential(
                        nn.Conv2d(cin, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4)
                    )
                layer = [Bottleneck(cin, width, stride, previous, down)]
                cin = width * 4
                layer += [Bottleneck(cin, width, 1, dilation, None) for _ in range(blocks - 1)]
                setattr(self, f"layer{i}", nn.Sequential(*layer))

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            aux = self.layer3(self.layer2(self.layer1(x)))
            return aux, self.layer4(aux)

    def head(cin):
        return nn.Sequential(
            nn.Conv2d(cin, cin // 4, 3, padding=1, bias=False), nn.BatchNorm2d(cin // 4),
            nn.ReLU(), nn.Dropout(0.1), nn.Conv2d(cin // 4, num_classes, 1),
        )  # fmt: skip

    class FCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = Backbone()
            self.classifier = head(2048)
            self.aux_classifier = head(1024)

        def forward(self, x):
            size = x.shape[-2:]
            aux, out = self.backbone(x)
            up = dict(size=size, mode="bilinear", align_corners=False)
            return {
                "out": F.interpolate(self.classifier(out), **up),
                "aux": F.interpolate(self.aux_classifier(aux), **up),
            }

    model = FCN().eval()
    assert sum(p.numel() for p in model.parameters()) == 35_322_218
    return model, torch


def _pair(size: int):
    import tocha.core as lib_t
    from tocha.vision.models.segmentation import fcn_resnet50

    lib_t.manual_seed(0)
    model_t = fcn_resnet50(weights_backbone=None, aux_loss=True).eval()
    # non-trivial BN statistics, so the check sees more than the identity normalisation
    rng = np.random.default_rng(1)
    with lib_t.no_grad():
        for name, buf in model_t.named_buffers():
            if name.endswith("running_mean"):
                buf.copy_(lib_t.tensor(rng.normal(0, 0.1, buf.shape).astype(np.float32)))
            elif name.endswith("running_var"):
                buf.copy_(lib_t.tensor(rng.uniform(0.5, 2.0, buf.shape).astype(np.float32)))
    model_a, lib_a = fcn_resnet50_torch()
    state = {k: lib_a.from_numpy(np.array(v.numpy())) for k, v in model_t.state_dict().items()}
    model_a.load_state_dict(state, strict=True)
    x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
    xt, xa = lib_t.tensor(x), lib_a.tensor(x)
    with lib_t.no_grad(), lib_a.no_grad():
        got, ref = model_t(xt), model_a(xa)
        for key in ("out", "aux"):
            a, b = got[key].numpy(), ref[key].numpy()
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3 * float(np.abs(b).max()))
    return (model_t, lib_t, xt), (model_a, lib_a, xa)


def workloads(size: int) -> list[Workload]:
    cache: dict = {}

    def side(i):
        def make():
            if "pair" not in cache:
                cache["pair"] = _pair(size)
            model, lib, x = cache["pair"][i]

            def step():
                with lib.no_grad():
                    model(x)

            return step

        return make

    name = f"FCN-ResNet50 (aux) inference, batch 1, {size}x{size}"
    return [Workload(name, "vision", side(0), side(1), 1.5)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--size", type=int, default=128)
    args = p.parse_args(argv)
    print(table([measure(w, rounds=args.rounds) for w in workloads(args.size)], "torch"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
