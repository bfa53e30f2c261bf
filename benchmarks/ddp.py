"""DDP training throughput of the MLP 784-512-512-10 (batch 256 per rank), N ranks vs 1 rank.

    python benchmarks/ddp.py                  # 1 rank: a plain training loop, no MPI
    mpiexec -n 2 python benchmarks/ddp.py     # N ranks under DistributedDataParallel

Under mpiexec, rank 0 first times the 1-rank loop while the other ranks wait without
spinning (a polled non-blocking barrier), then every rank trains the DDP model; rank 0
prints the medians of the per-step times, the examples/s of both and their ratio (N is
ideal). Set OMP_NUM_THREADS (e.g. 1 with as many ranks as cores) to control BLAS threads:
both runs in one job use the same setting.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import tocha.core as torch
from tocha.core import nn


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )


def batch(rank: int, size: int):
    rng = np.random.default_rng(rank)
    x = torch.tensor(rng.standard_normal((size, 784)).astype(np.float32))
    return x, torch.tensor(rng.integers(0, 10, size))


def step_times(model, x, y, steps: int, warmup: int, sync=None) -> list[float]:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for i in range(warmup + steps):
        if sync is not None:
            sync()  # every rank starts the step together: the time includes waiting for peers
        t0 = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def launched_ranks() -> int:
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 1


def report(label: str, times: list[float], examples: int) -> float:
    med = statistics.median(times)
    rate = examples / med
    print(f"{label:<34} median step {med * 1e3:8.2f} ms   {rate:9.0f} examples/s")
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256, help="examples per rank and step")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--no-baseline", action="store_true", help="skip the in-job 1-rank run")
    args = ap.parse_args()
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    if launched_ranks() == 1:
        x, y = batch(0, args.batch)
        print(f"MLP 784-512-512-10, batch {args.batch}, BLAS threads {threads}")
        report("1 rank (no DDP)", step_times(mlp(), x, y, args.steps, args.warmup), args.batch)
        return

    import tocha.core.distributed as dist
    from tocha.core.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("mpi")
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, world = dist.get_rank(), dist.get_world_size()

    def quiet_barrier() -> None:
        req = comm.Ibarrier()
        while not req.Test():
            time.sleep(0.005)  # no busy wait: the 1-rank baseline keeps the cores to itself

    base = None
    if not args.no_baseline:
        if rank == 0:
            x, y = batch(0, args.batch)
            base = step_times(mlp(), x, y, args.steps, args.warmup)
        quiet_barrier()
    x, y = batch(rank, args.batch)
    model = DDP(mlp())
    times = step_times(model, x, y, args.steps, args.warmup, sync=dist.barrier)
    # a step is as slow as its slowest rank
    slowest = np.max(np.array(comm.allgather(times)), axis=0).tolist()
    if rank == 0:
        print(
            f"MLP 784-512-512-10, batch {args.batch} per rank, BLAS threads {threads}, "
            f"{len(model.reducer.buckets)} bucket(s)"
        )
        one = report("1 rank (no DDP, same job)", base, args.batch) if base else None
        many = report(f"{world} ranks (DDP)", slowest, args.batch * world)
        if one:
            print(f"speed-up {many / one:.2f}x on {world} ranks (ideal {world}x)")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
