"""tocha.core.distributed: torch.distributed on MPI (mpi4py) and NCCL (cupy.cuda.nccl).

Launch with ``mpiexec -n 4 python train.py`` (or ``srun``); rank and world size come from MPI.
mpi4py is imported by :func:`init_process_group`, not by ``import tocha.core``. See
docs/distributed-collectives.md.

Example (in one process this module needs no MPI)::

    >>> import tocha.core.distributed as dist
    >>> dist.is_initialized()
    False
    >>> dist.ReduceOp.SUM
    <RedOpType.SUM: 0>
"""

from __future__ import annotations

from ._checkpoint import load_on_all_ranks, save_on_rank0
from .distributed_c10d import (
    Backend,
    GroupMember,
    ProcessGroup,
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    all_to_all,
    all_to_all_single,
    barrier,
    broadcast,
    broadcast_object_list,
    default_pg_timeout,
    destroy_process_group,
    gather,
    gather_object,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_local_rank,
    get_node_local_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    irecv,
    is_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    isend,
    new_group,
    recv,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
    scatter_object_list,
    send,
)

__all__ = [
    "Backend",
    "GroupMember",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "all_to_all",
    "all_to_all_single",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "default_pg_timeout",
    "destroy_process_group",
    "gather",
    "gather_object",
    "get_backend",
    "get_global_rank",
    "get_group_rank",
    "get_local_rank",
    "get_node_local_rank",
    "get_process_group_ranks",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "irecv",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "is_nccl_available",
    "isend",
    "load_on_all_ranks",
    "new_group",
    "recv",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "save_on_rank0",
    "scatter",
    "scatter_object_list",
    "send",
]


def __getattr__(name: str):
    # torch.distributed.optim (written by the DDP/ZeRO work) is loaded on first use
    if name == "optim":
        import importlib

        return importlib.import_module(f"{__name__}.optim")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
