"""tocha-core 2/4 benchmarks: training steps of small models, tocha vs torch (issue 3)."""

from __future__ import annotations

import numpy as np
from harness import Workload


def _mlp_step(lib_name: str):
    """MLP 784-512-512-10, batch 256, one SGD step (forward, cross-entropy, backward, update)."""

    def make():
        import torch

        import tocha.core as tocha

        lib = tocha if lib_name == "tocha" else torch
        lib.manual_seed(0)
        model = lib.nn.Sequential(
            lib.nn.Linear(784, 512),
            lib.nn.ReLU(),
            lib.nn.Linear(512, 512),
            lib.nn.ReLU(),
            lib.nn.Linear(512, 10),
        )
        opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        rng = np.random.default_rng(0)
        x = lib.tensor(rng.standard_normal((256, 784)).astype(np.float32))
        y = lib.tensor(rng.integers(0, 10, 256))
        loss_fn = lib.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

        return step

    return make


def workloads() -> list[Workload]:
    return [
        Workload(
            "MLP 784-512-512-10, batch 256, SGD step",
            "training",
            _mlp_step("tocha"),
            _mlp_step("torch"),
            1.1,
        ),
    ]
