"""Everyday ops on a small (64, 128) float32 tensor, grad off: the per-call cost user code
(and nn layers) pays most often. No target is set by an issue; 1.0 (torch's speed) is the aim."""

from __future__ import annotations

import numpy as np
from harness import Workload

_A = np.random.default_rng(0).standard_normal((64, 128)).astype(np.float32)
_I = np.random.default_rng(1).integers(0, 64, 32)

CASES = {
    "x[0]": lambda L, x: x[0],
    "x[:, 1:3]": lambda L, x: x[:, 1:3],
    "x[idx]": lambda L, x: x[L.tensor(_I)],
    "x.view(-1)": lambda L, x: x.view(-1),
    "x.sum(1)": lambda L, x: x.sum(1),
    "x.mean()": lambda L, x: x.mean(),
    "x.max(1)": lambda L, x: x.max(1),
    "x.exp()": lambda L, x: x.exp(),
    "x.relu()": lambda L, x: x.relu(),
    "x.softmax(-1)": lambda L, x: x.softmax(-1),
    "where(x > 0, x, 0.)": lambda L, x: L.where(x > 0, x, 0.0),
    "cat([x, x])": lambda L, x: L.cat([x, x], 0),
    "x.t() @ x": lambda L, x: x.t() @ x,
    "zeros(64, 128)": lambda L, x: L.zeros(64, 128),
}


def _builder(lib_name: str, fn):
    def make():
        import torch

        import tocha.core as tocha

        lib = tocha if lib_name == "tocha" else torch
        x = lib.tensor(_A)
        return lambda: fn(lib, x)

    return make


def workloads() -> list[Workload]:
    return [
        Workload(
            f"`{name}` (64, 128) f32", "common ops", _builder("tocha", f), _builder("torch", f), 1.0
        )
        for name, f in CASES.items()
    ]
