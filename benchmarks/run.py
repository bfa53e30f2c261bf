"""Run the benchmarks side by side with their anchors and print medians and ratios.

    python benchmarks/run.py                  # everything, markdown table on stdout
    python benchmarks/run.py -k matmul        # only workloads whose name contains 'matmul'
    python benchmarks/run.py --rounds 31      # more rounds for steadier medians

Needs torch (the anchor) installed: `nox -s bench` installs the CPU build.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common_ops  # noqa: E402
import core_ops  # noqa: E402
import nn_training  # noqa: E402
from harness import measure, table  # noqa: E402


def machine() -> str:
    import numpy as np
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"NumPy {np.__version__}, torch {torch.__version__} (threads: {torch.get_num_threads()})"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-k", default="", help="only workloads whose name contains this")
    p.add_argument("--rounds", type=int, default=15)
    args = p.parse_args(argv)
    every = core_ops.workloads() + common_ops.workloads() + nn_training.workloads()
    work = [w for w in every if args.k.lower() in w.name.lower()]
    print(f"machine: {machine()}\n")
    results = []
    for w in work:
        r = measure(w, rounds=args.rounds)
        print(f"  {w.name}: ratio {r.ratio:.2f}", file=sys.stderr)
        results.append(r)
    print(table(results, "torch"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
