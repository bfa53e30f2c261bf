"""tocha-core 1/4 benchmarks: per-op overhead, BLAS-bound matmul, an elementwise chain."""

from __future__ import annotations

import numpy as np
from harness import Workload


def _libs():
    import torch

    import tocha.core as tocha

    return tocha, torch


def _overhead(expr: str, requires_grad: bool, backward: bool):
    def build(lib_name):
        def make():
            tocha, torch = _libs()
            lib = tocha if lib_name == "tocha" else torch
            rng = np.random.default_rng(0)
            a, b, c = (
                lib.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=requires_grad)
                for _ in range(3)
            )
            if expr == "a + b":
                fn = lambda: a + b  # noqa: E731
            else:
                fn = lambda: a * b + c  # noqa: E731
            if not backward:
                return fn

            def fwd_bwd():
                fn().sum().backward()

            return fwd_bwd

        return make

    return build("tocha"), build("torch")


def _matmul():
    def build(lib_name):
        def make():
            tocha, torch = _libs()
            lib = tocha if lib_name == "tocha" else torch
            rng = np.random.default_rng(0)
            a = lib.tensor(rng.standard_normal((1024, 1024)).astype(np.float32), requires_grad=True)
            b = lib.tensor(rng.standard_normal((1024, 1024)).astype(np.float32), requires_grad=True)

            def step():
                a.grad = None
                b.grad = None
                (a @ b).sum().backward()

            return step

        return make

    return build("tocha"), build("torch")


def _chain():
    """20 elementwise ops on 1M float32 elements, forward and backward."""

    def build(lib_name):
        def make():
            tocha, torch = _libs()
            lib = tocha if lib_name == "tocha" else torch
            rng = np.random.default_rng(0)
            x = lib.tensor(rng.uniform(0.5, 1.5, 1_000_000).astype(np.float32), requires_grad=True)

            def step():
                x.grad = None
                y = x * 1.5
                y = y + 0.25
                y = y.exp()
                y = y.log()
                y = y.sin()
                y = y * y
                y = y.sqrt()
                y = y + x
                y = y.tanh()
                y = y.sigmoid()
                y = y * x
                y = y - 0.5
                y = y.abs()
                y = y + 1.0
                y = y.reciprocal()
                y = y.cos()
                y = y / x
                y = y.relu()
                y = y.neg()
                y = y.sum()  # 20th op
                y.backward()

            return step

        return make

    return build("tocha"), build("torch")


def workloads() -> list[Workload]:
    out = []
    for expr in ("a + b", "a * b + c"):
        for rg, bw, label in (
            (False, False, "fwd"),
            (True, False, "fwd, requires_grad"),
            (True, True, "fwd+bwd"),
        ):
            t, a = _overhead(expr, rg, bw)
            out.append(Workload(f"`{expr}` 4 elems, {label}", "per-op overhead", t, a, 1.0))
    t, a = _matmul()
    out.append(Workload("`a @ b` 1024x1024 f32, fwd+bwd", "matmul", t, a, 1.0))
    t, a = _chain()
    out.append(Workload("20-op elementwise chain, 1M f32, fwd+bwd", "elementwise", t, a, 1.2))
    return out
