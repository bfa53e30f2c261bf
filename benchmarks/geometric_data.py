"""tocha.geometric data-side workloads against torch_geometric (PyG) on torch CPU.

- scatter-sum of 1M rows (16 features) into 100k groups: tocha.geometric.utils.scatter vs
  torch_geometric.utils.scatter, once with the same index tensor every call (the GNN-layer
  case, where tocha reuses its sorted plan) and once with a fresh index tensor per call.
- graph utilities on a 100k-node 1M-edge random graph: coalesce (with and without a weight),
  to_undirected, subgraph (30k nodes), k_hop_subgraph (2 hops from 100 seeds).
- Batch.from_data_list of 128 small graphs (10-30 nodes, 4 edges per node): the per-batch
  cost of graph-classification DataLoaders.
- NeighborLoader [15, 10] sampling, batch 1024 seeds, on a 100k-node 1M-edge random graph.
  PyG's NeighborLoader needs pyg-lib or torch-sparse to sample; when neither is installed
  (the case here: no wheel for this torch) only tocha's throughput is printed.

    OMP_NUM_THREADS=1 python benchmarks/geometric_data.py
    OMP_NUM_THREADS=1 python benchmarks/geometric_data.py --rounds 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Workload, fmt_time, measure, table  # noqa: E402

N_ROWS, N_FEAT, N_GROUPS = 1_000_000, 16, 100_000
N_NODES, N_EDGES = 100_000, 1_000_000


def _scatter_inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    src = rng.standard_normal((N_ROWS, N_FEAT)).astype(np.float32)
    index = rng.integers(0, N_GROUPS, N_ROWS)
    return src, index


def _scatter_workload(fresh_index: bool) -> Workload:
    src, index = _scatter_inputs()

    def tocha_side():
        import tocha.core as torch
        from tocha.geometric.utils import scatter

        s = torch.from_numpy(src)
        i = torch.from_numpy(index)
        if fresh_index:
            return lambda: scatter(s, torch.from_numpy(index.copy()), 0, N_GROUPS, "sum")
        return lambda: scatter(s, i, 0, N_GROUPS, "sum")

    def anchor_side():
        import torch
        from torch_geometric.utils import scatter

        s = torch.from_numpy(src)
        i = torch.from_numpy(index)
        if fresh_index:
            return lambda: scatter(s, torch.from_numpy(index.copy()), 0, N_GROUPS, "sum")
        return lambda: scatter(s, i, 0, N_GROUPS, "sum")

    name = "scatter-sum 1M x 16 -> 100k" + (" (fresh index)" if fresh_index else "")
    return Workload(name, "geometric.utils", tocha_side, anchor_side, 1.0)


def _util_workloads() -> list[Workload]:
    rng = np.random.default_rng(1)
    ei = rng.integers(0, N_NODES, (2, N_EDGES))
    w = rng.standard_normal(N_EDGES).astype(np.float32)
    sub = rng.permutation(N_NODES)[:30_000]
    n = N_NODES
    calls = {
        "coalesce 1M edges": lambda U, e, w, s: U.coalesce(e, num_nodes=n),
        "coalesce 1M edges + weight": lambda U, e, w, s: U.coalesce(e, w, n),
        "to_undirected 1M edges": lambda U, e, w, s: U.to_undirected(e, num_nodes=n),
        "subgraph 30k of 100k nodes": lambda U, e, w, s: U.subgraph(s, e, w, True, n),
        "k_hop_subgraph 2 hops, 100 seeds": lambda U, e, w, s: U.k_hop_subgraph(
            s[:100], 2, e, True, n
        ),
    }
    out = []
    for name, call in calls.items():

        def tocha_side(call=call):
            import tocha.core as torch
            import tocha.geometric.utils as U

            f = torch.from_numpy
            e, ww, s = f(ei), f(w), f(sub)
            return lambda: call(U, e, ww, s)

        def anchor_side(call=call):
            import torch
            import torch_geometric.utils as U

            f = torch.from_numpy
            e, ww, s = f(ei), f(w), f(sub)
            return lambda: call(U, e, ww, s)

        out.append(Workload(name, "geometric.utils", tocha_side, anchor_side, 1.0))
    return out


def _collate_workload() -> Workload:
    rng = np.random.default_rng(0)
    graphs = []
    for _ in range(128):
        n = int(rng.integers(10, 30))
        graphs.append(
            (
                rng.standard_normal((n, 8)).astype(np.float32),
                rng.integers(0, n, (2, 4 * n)),
                rng.integers(0, 2, 1),
            )
        )

    def tocha_side():
        import tocha.core as torch
        from tocha.geometric.data import Batch, Data

        f = torch.from_numpy
        data = [Data(x=f(x), edge_index=f(ei), y=f(y)) for x, ei, y in graphs]
        return lambda: Batch.from_data_list(data)

    def anchor_side():
        import torch
        from torch_geometric.data import Batch, Data

        f = torch.from_numpy
        data = [Data(x=f(x), edge_index=f(ei), y=f(y)) for x, ei, y in graphs]
        return lambda: Batch.from_data_list(data)

    return Workload(
        "Batch.from_data_list, 128 graphs", "geometric.data", tocha_side, anchor_side, 1.0
    )


def _graph(seed: int = 0):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, N_NODES, (2, N_EDGES)),
        rng.standard_normal((N_NODES, 16)).astype(np.float32),
    )


def _tocha_loader(ei, x, batch_size=1024):
    import tocha.core as torch
    from tocha.geometric.data import Data
    from tocha.geometric.loader import NeighborLoader

    torch.manual_seed(0)
    data = Data(x=torch.from_numpy(x), edge_index=torch.from_numpy(ei))
    return NeighborLoader(data, [15, 10], batch_size=batch_size, shuffle=True)


def _pyg_loader(ei, x, batch_size=1024):
    import torch
    from torch_geometric.data import Data
    from torch_geometric.loader import NeighborLoader

    data = Data(x=torch.from_numpy(x), edge_index=torch.from_numpy(ei))
    loader = NeighborLoader(data, [15, 10], batch_size=batch_size, shuffle=True)
    next(iter(loader))  # raises ImportError without pyg-lib / torch-sparse
    return loader


def _batches(make):
    def build():
        it = iter(make())

        def step():
            nonlocal it
            try:
                return next(it)
            except StopIteration:
                it = iter(make())
                return next(it)

        return step

    return build


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    import torch_geometric

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, NumPy {np.__version__}, torch {torch.__version__}, "
        f"torch_geometric {torch_geometric.__version__}\n"
    )
    results = [measure(_scatter_workload(f), rounds=args.rounds, budget_s=0.3) for f in (0, 1)]
    for w in _util_workloads():
        results.append(measure(w, rounds=args.rounds, budget_s=0.3))
    results.append(measure(_collate_workload(), rounds=args.rounds, budget_s=0.2))

    ei, x = _graph()
    tocha_make = lambda: _tocha_loader(ei, x)  # noqa: E731
    try:
        _pyg_loader(ei, x)
        pyg_ok = True
    except ImportError as e:
        pyg_ok = False
        print(f"  torch_geometric NeighborLoader cannot sample here: {e}", file=sys.stderr)
    if pyg_ok:
        w = Workload(
            "NeighborLoader [15, 10], batch 1024, 100k nodes / 1M edges (per batch)",
            "geometric.loader",
            _batches(tocha_make),
            _batches(lambda: _pyg_loader(ei, x)),
            1.0,
        )
        results.append(measure(w, rounds=args.rounds, budget_s=0.5))
    print(table(results, "torch_geometric"))
    if not pyg_ok:
        step = _batches(tocha_make)()
        step()
        times = []
        for _ in range(max(args.rounds, 5) * 4):
            t0 = time.perf_counter()
            b = step()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(
            f"\nNeighborLoader [15, 10], batch 1024, 100k nodes / 1M edges: tocha "
            f"{fmt_time(med)} per batch ({1024 / med:,.0f} seed nodes/s; last batch "
            f"{b.num_nodes} nodes, {b.num_edges} edges). torch_geometric: not measurable "
            f"(needs pyg-lib or torch-sparse, neither installable here)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
