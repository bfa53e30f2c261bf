"""tocha-core 2/4 benchmarks: layers and training steps of small models, tocha vs torch (issue 3).

Every workload builds the same model in both libraries from the same code (``lib`` is either
``tocha.core`` or ``torch``), with the same seed-free random inputs, and times one call of
``step``. Peak memory of the ResNet-18 step is measured separately by ``memory.py``.
"""

from __future__ import annotations

import numpy as np
from harness import Workload


def _lib(name: str):
    if name == "torch":
        import torch

        return torch
    import tocha.core

    return tocha.core


def _inputs(lib, *shape, classes: int | None = None, batch: int | None = None):
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal(shape).astype(np.float32))
    if classes is None:
        return x
    return x, lib.tensor(rng.integers(0, classes, batch or shape[0]))


def train_step(lib, model, opt, x, y):
    """One optimisation step: the closure every training workload times."""
    loss_fn = lib.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return step


# ---------------------------------------------------------------- models (shared by both libs)


def mlp(nn):
    return nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )


def lenet5(nn):
    """LeNet-5 for 1x28x28 inputs (padding 2 on the first conv, as in the classic 32x32 net)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )  # fmt: skip


def resnet18_cifar(nn):
    """ResNet-18, CIFAR variant: 3x3 stem without max-pool, stages of two BasicBlocks."""

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.shortcut(x))

    layers = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- workloads


def _mlp_sgd(name):
    def make():
        lib = _lib(name)
        lib.manual_seed(0)
        model = mlp(lib.nn)
        x, y = _inputs(lib, 256, 784, classes=10)
        return train_step(
            lib, model, lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), x, y
        )

    return make


def _lenet_adam(name):
    def make():
        lib = _lib(name)
        lib.manual_seed(0)
        model = lenet5(lib.nn)
        x, y = _inputs(lib, 128, 1, 28, 28, classes=10)
        return train_step(lib, model, lib.optim.Adam(model.parameters(), lr=1e-3), x, y)

    return make


def _resnet_sgd(name):
    def make():
        lib = _lib(name)
        lib.manual_seed(0)
        model = resnet18_cifar(lib.nn)
        x, y = _inputs(lib, 32, 3, 32, 32, classes=10)
        opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        return train_step(lib, model, opt, x, y)

    return make


def _conv_fwd_bwd(name):
    def make():
        lib = _lib(name)
        lib.manual_seed(0)
        conv = lib.nn.Conv2d(64, 64, 3, padding=1)
        x = _inputs(lib, 8, 64, 56, 56).requires_grad_()

        def step():
            conv.zero_grad()
            x.grad = None
            conv(x).sum().backward()

        return step

    return make


def _lstm_fwd_bwd(name):
    def make():
        lib = _lib(name)
        lib.manual_seed(0)
        lstm = lib.nn.LSTM(256, 256, num_layers=2)
        x = _inputs(lib, 64, 32, 256)  # (seq, batch, features)

        def step():
            lstm.zero_grad()
            out, _ = lstm(x)
            out.sum().backward()

        return step

    return make


def _transformer_fwd(name):
    def make():
        lib = _lib(name)
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(384, 12, dim_feedforward=1536, batch_first=True)
        enc = lib.nn.TransformerEncoder(layer, 6, enable_nested_tensor=False).eval()
        x = _inputs(lib, 16, 128, 384)

        def step():
            with lib.no_grad():
                enc(x)

        return step

    return make


class _Digits:
    """A map-style dataset of 28x28 float images and int labels, built per library."""

    def __init__(self, lib, n=8192):
        rng = np.random.default_rng(0)
        self.lib = lib
        self.images = rng.random((n, 1, 28, 28), dtype=np.float32)
        self.labels = rng.integers(0, 10, n)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.lib.from_numpy(self.images[i]), int(self.labels[i])


def _dataloader(name):
    def make():
        lib = _lib(name)
        loader = lib.utils.data.DataLoader(
            _Digits(lib), batch_size=128, shuffle=True, num_workers=2, persistent_workers=True
        )

        def epoch():
            for _ in loader:
                pass

        return epoch

    return make


def workloads() -> list[Workload]:
    return [
        Workload("MLP 784-512-512-10, batch 256, SGD step", "training", _mlp_sgd("tocha"),
                 _mlp_sgd("torch"), 1.1),
        Workload("LeNet-5 1x28x28, batch 128, Adam step", "training", _lenet_adam("tocha"),
                 _lenet_adam("torch"), 1.3),
        Workload("ResNet-18 (CIFAR) 3x32x32, batch 32, SGD step", "training",
                 _resnet_sgd("tocha"), _resnet_sgd("torch"), 1.5),
        Workload("Conv2d 3x3 64->64, 8x56x56, fwd+bwd", "layers", _conv_fwd_bwd("tocha"),
                 _conv_fwd_bwd("torch"), 1.5),
        Workload("LSTM 2 layers, hidden 256, seq 64, batch 32, fwd+bwd", "layers",
                 _lstm_fwd_bwd("tocha"), _lstm_fwd_bwd("torch"), 1.3),
        Workload("TransformerEncoder 6x(384, 12 heads), 16x128, fwd", "layers",
                 _transformer_fwd("tocha"), _transformer_fwd("torch"), 1.2),
        Workload("DataLoader 2 workers, 8192 28x28 samples, batch 128", "data",
                 _dataloader("tocha"), _dataloader("torch"), 1.0),
    ]  # fmt: skip
