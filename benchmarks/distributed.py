"""all_reduce throughput: tocha.core.distributed against raw mpi4py ``Allreduce``.

    mpiexec -n 2 python benchmarks/distributed.py                # 40 MB float32, 21 rounds
    mpiexec -n 2 python benchmarks/distributed.py --mb 40 --rounds 31 --op avg
    python benchmarks/distributed.py --nccl --mb 256             # GPU: NCCL all_reduce, 1 rank

Each round times one tocha ``all_reduce(t)`` and one ``comm.Allreduce(MPI.IN_PLACE, a)`` on a
NumPy array of the same size, interleaved, each after a barrier; a round's time is the
slowest rank's. Prints the medians, the bus bandwidth (algorithm bytes / time) and the
ratio raw time / tocha time (throughput of tocha relative to raw mpi4py; target >= 0.9).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import tocha.core as torch
import tocha.core.distributed as dist


def timed(fn, comm) -> float:
    from mpi4py import MPI

    comm.Barrier()
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    return comm.allreduce(elapsed, op=MPI.MAX)  # the collective ends when its slowest rank does


def bench_mpi(args) -> None:
    from mpi4py import MPI

    dist.init_process_group("mpi")
    comm = MPI.COMM_WORLD
    rank, n = comm.Get_rank(), comm.Get_size()
    numel = int(args.mb * 1e6) // 4
    op = {"sum": dist.ReduceOp.SUM, "avg": dist.ReduceOp.AVG}[args.op]
    # small values: 2 ** rounds growth under SUM stays finite in float32
    rng = np.random.default_rng(rank)
    t = torch.from_numpy(rng.random(numel, dtype=np.float32))
    raw = rng.random(numel, dtype=np.float32)

    def tocha_op():
        dist.all_reduce(t, op=op)

    def raw_op():
        comm.Allreduce(MPI.IN_PLACE, raw, op=MPI.SUM)
        if args.op == "avg":
            np.divide(raw, n, out=raw)

    for _ in range(args.warmup):
        timed(tocha_op, comm)
        timed(raw_op, comm)
    tocha_times, raw_times = [], []
    for _ in range(args.rounds):
        tocha_times.append(timed(tocha_op, comm))
        raw_times.append(timed(raw_op, comm))
    if rank == 0:
        tm, rm = statistics.median(tocha_times), statistics.median(raw_times)
        nbytes = numel * 4
        print(
            f"all_reduce {args.op.upper()} of {nbytes / 1e6:.0f} MB float32 on {n} ranks "
            f"({MPI.Get_library_version().splitlines()[0].strip()}), {args.rounds} rounds"
        )
        print(f"  tocha  all_reduce : median {tm * 1e3:8.2f} ms  {nbytes / tm / 1e9:6.2f} GB/s")
        print(f"  mpi4py Allreduce  : median {rm * 1e3:8.2f} ms  {nbytes / rm / 1e9:6.2f} GB/s")
        print(f"  ratio (mpi4py time / tocha time, throughput of tocha vs raw): {rm / tm:.3f}")
    dist.destroy_process_group()


def bench_nccl(args) -> None:
    import cupy

    dist.init_process_group("nccl")
    numel = int(args.mb * 1e6) // 4
    t = torch.ones(numel, device="cuda")
    n = dist.get_world_size()
    times = []
    for i in range(args.warmup + args.rounds):
        dist.barrier()
        cupy.cuda.get_current_stream().synchronize()
        start = time.perf_counter()
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        cupy.cuda.get_current_stream().synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    assert float(t[:4].sum().item()) == 4.0, "NCCL AVG of ones must stay ones"
    if dist.get_rank() == 0:
        med = statistics.median(times)
        print(
            f"NCCL all_reduce AVG of {numel * 4 / 1e6:.0f} MB float32 on {n} rank(s): "
            f"median {med * 1e3:.3f} ms ({numel * 4 / med / 1e9:.1f} GB/s), values correct"
        )
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=40.0, help="tensor size in MB (float32)")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--op", choices=["sum", "avg"], default="sum")
    parser.add_argument("--nccl", action="store_true", help="NCCL on CuPy tensors (needs a GPU)")
    args = parser.parse_args()
    if args.rounds + args.warmup > 100:
        parser.error("at most 100 rounds + warmup (SUM doubles the values each round)")
    (bench_nccl if args.nccl else bench_mpi)(args)


if __name__ == "__main__":
    main()
