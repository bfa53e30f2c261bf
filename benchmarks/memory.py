"""Peak resident memory of a ResNet-18 (CIFAR) SGD step, tocha vs torch (issue 3).

Each library runs in its own fresh process that imports only that library, builds the model
of ``nn_training.resnet18_cifar``, runs a few training steps and reports its peak RSS
(``ru_maxrss``) and the growth over its RSS right after the imports.

    python benchmarks/memory.py            # prints a markdown table
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 3


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(name: str) -> None:
    sys.path.insert(0, HERE)
    import nn_training

    lib = nn_training._lib(name)
    base = _rss_mb()
    step = nn_training._resnet_sgd(name)()
    for _ in range(STEPS):
        step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"lib": lib.__name__, "peak_mb": peak, "growth_mb": peak - base}))


def measure(name: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", name], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
        return 0
    t, a = measure("tocha"), measure("torch")
    print("| ResNet-18 (CIFAR), batch 32, SGD step | tocha | torch | ratio | target |")
    print("|---|---:|---:|---:|---:|")
    for key, label in (("peak_mb", "peak RSS"), ("growth_mb", "growth over post-import RSS")):
        print(f"| {label} | {t[key]:.0f} MB | {a[key]:.0f} MB | {t[key] / a[key]:.2f} | <= 1.3 |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
