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

from . import distributed_c10d
from ._checkpoint import load_on_all_ranks, save_on_rank0
from .distributed_c10d import *  # noqa: F403  (torch.distributed re-exports its c10d API)
from .distributed_c10d import default_pg_timeout

__all__ = [*distributed_c10d.__all__, "default_pg_timeout", "load_on_all_ranks", "save_on_rank0"]


def __getattr__(name: str):
    # torch.distributed.optim (written by the DDP/ZeRO work) is loaded on first use
    if name == "optim":
        import importlib

        return importlib.import_module(f"{__name__}.optim")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
