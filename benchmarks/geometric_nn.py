"""tocha.geometric against torch_geometric on torch CPU: GCNConv and GATConv forward+backward on
a 100k-node, 1M-edge random graph (same weights, same graph), and scatter-sum of 1M rows.

Each side's output is checked against the other before timing.

    OMP_NUM_THREADS=1 python benchmarks/geometric_nn.py            # markdown table on stdout
    OMP_NUM_THREADS=1 python benchmarks/geometric_nn.py --rounds 3 --small
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Workload, measure, table  # noqa: E402


def _graph(n: int, e: int, f: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    ei = rng.integers(0, n, (2, e)).astype(np.int64)
    x = rng.standard_normal((n, f)).astype(np.float32)
    return ei, x


def _check(a, b, what: str, tol: float = 1e-4) -> None:
    err = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))
    if err > tol:
        raise AssertionError(f"{what}: tocha and torch_geometric differ (rel err {err:.2e})")


def _copy_state(tocha_mod, pyg_mod) -> None:
    import torch

    sd = {k: torch.from_numpy(v.detach().numpy().copy()) for k, v in tocha_mod.state_dict().items()}
    pyg_mod.load_state_dict(sd)


def _conv_workload(name: str, n: int, e: int, f: int, make, target: float) -> Workload:
    ei, x = _graph(n, e, f)

    def tocha_side():
        import tocha.core as tt
        import tocha.geometric.nn as gnn

        tt.manual_seed(0)
        conv = make(gnn)
        xt, et = tt.from_numpy(x).requires_grad_(), tt.from_numpy(ei)

        def step():
            xt.grad = None
            out = conv(xt, et)
            out.sum().backward()
            return out

        return step

    def anchor_side():
        import torch
        import torch_geometric.nn as pnn

        import tocha.core as tt
        import tocha.geometric.nn as gnn

        tt.manual_seed(0)
        ref = make(gnn)
        conv = make(pnn)
        _copy_state(ref, conv)
        xp, ep = torch.from_numpy(x).requires_grad_(), torch.from_numpy(ei)
        xt, et = tt.from_numpy(x).requires_grad_(), tt.from_numpy(ei)
        ot = ref(xt, et)
        ot.sum().backward()
        op = conv(xp, ep)
        op.sum().backward()
        _check(ot.detach().numpy(), op.detach().numpy(), name)
        _check(xt.grad.numpy(), xp.grad.numpy(), name + " (grad)")

        def step():
            xp.grad = None
            out = conv(xp, ep)
            out.sum().backward()
            return out

        return step

    return Workload(name, "geometric.nn", tocha_side, anchor_side, target)


def _scatter_workload(n: int, e: int, f: int) -> Workload:
    rng = np.random.default_rng(1)
    idx = rng.integers(0, n, e)
    src = rng.standard_normal((e, f)).astype(np.float32)

    def tocha_side():
        import tocha.core as tt
        from tocha.geometric.utils._scatter import scatter

        s, i = tt.from_numpy(src), tt.from_numpy(idx)
        return lambda: scatter(s, i, 0, n, "sum")

    def anchor_side():
        import torch
        from torch_geometric.utils import scatter

        import tocha.core as tt
        from tocha.geometric.utils._scatter import scatter as tscatter

        s, i = torch.from_numpy(src), torch.from_numpy(idx)
        ref = tscatter(tt.from_numpy(src), tt.from_numpy(idx), 0, n, "sum").numpy()
        _check(ref, scatter(s, i, 0, n, "sum").numpy(), "scatter")
        return lambda: scatter(s, i, 0, n, "sum")

    return Workload(
        f"scatter-sum {e // 1000}k x {f} rows", "geometric.utils", tocha_side, anchor_side, 1.0
    )


def workloads(small: bool = False) -> list[Workload]:
    n, e = (10_000, 100_000) if small else (100_000, 1_000_000)
    tag = f"{n // 1000}k nodes, {e // 1000}k edges"
    return [
        _conv_workload(
            f"GCNConv(64, 64) fwd+bwd, {tag}", n, e, 64, lambda m: m.GCNConv(64, 64), 1.0
        ),
        _conv_workload(
            f"GATConv(64, 8, heads=8) fwd+bwd, {tag}",
            n,
            e,
            64,
            lambda m: m.GATConv(64, 8, heads=8),
            1.3,
        ),
        _scatter_workload(n, e, 64),
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--small", action="store_true", help="10k nodes / 100k edges")
    p.add_argument("--only", default="", help="run workloads whose name contains this")
    args = p.parse_args(argv)
    import torch

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, NumPy {np.__version__}, torch threads "
        f"{torch.get_num_threads()}\n"
    )
    results = [
        measure(w, rounds=args.rounds, budget_s=0.5)
        for w in workloads(args.small)
        if args.only in w.name
    ]
    print(table(results, "torch_geometric"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
