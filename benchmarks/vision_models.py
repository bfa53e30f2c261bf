"""tocha-vision model benchmarks vs torch (issue 6).

torchvision has no CPU build here, so the anchor is the same architecture built with torch.nn
by `resnet50_torch` below (torchvision's Bottleneck ResNet-50: same layers, same parameter
count, 25,557,032); tocha's side is `tocha.vision.models.resnet50`. Both run inference in
eval mode under no_grad on the same random batch.

    python benchmarks/vision_models.py --rounds 9
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Workload, measure, table  # noqa: E402


def resnet50_torch():
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, cin, width, stride, down):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
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

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
              nn.MaxPool2d(3, 2, 1)]  # fmt: skip
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            s = stride if i == 0 else 1
            down = None
            if s != 1 or cin != width * 4:
                down = nn.Sequential(
                    nn.Conv2d(cin, width * 4, 1, s, bias=False), nn.BatchNorm2d(width * 4)
                )
            layers.append(Bottleneck(cin, width, s, down))
            cin = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    model = nn.Sequential(*layers)
    assert sum(p.numel() for p in model.parameters()) == 25_557_032
    return model.eval(), torch


def _resnet50_inference(name):
    def make():
        x = np.random.default_rng(0).standard_normal((8, 3, 224, 224)).astype(np.float32)
        if name == "torch":
            model, lib = resnet50_torch()
        else:
            import tocha.core as lib
            from tocha.vision.models import resnet50

            model = resnet50().eval()
        xt = lib.tensor(x)

        def step():
            with lib.no_grad():
                model(xt)

        return step

    return make


def workloads() -> list[Workload]:
    return [
        Workload("ResNet-50 inference, batch 8, 224x224", "vision", _resnet50_inference("tocha"),
                 _resnet50_inference("torch"), 1.0),
    ]  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args(argv)
    print(table([measure(w, rounds=args.rounds) for w in workloads()], "torch"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
