"""tocha.core.distributed in one process, without MPI: import cost, errors before init."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tocha.core as torch
import tocha.core.distributed as dist
from tocha.core.distributed import distributed_c10d as c10d


@pytest.fixture
def no_process_group(monkeypatch):
    """The state before init_process_group, even when an mpi test of this session ran it."""
    monkeypatch.setitem(c10d._STATE, "world", None)


def test_import_tocha_core_does_not_import_mpi4py():
    code = "import sys, tocha.core as t; t.distributed.ReduceOp; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "call",
    [
        lambda: dist.all_reduce(torch.ones(2)),
        lambda: dist.broadcast(torch.ones(2), 0),
        lambda: dist.get_rank(),
        lambda: dist.barrier(),
        lambda: dist.all_gather_object([None], 1),
        lambda: dist.new_group([0]),
    ],
)
def test_collectives_before_init_name_the_function(no_process_group, call):
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized") as e:
        call()
    assert str(e.value).split(":")[0] in (
        "all_reduce",
        "broadcast",
        "get_rank",
        "barrier",
        "all_gather_object",
        "new_group",
    )


def test_reduce_op_and_backend_names():
    assert [int(op) for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.PRODUCT)] == [
        0,
        1,
        2,
    ]
    assert dist.ReduceOp.MAX.name == "MAX" and dist.ReduceOp.MIN.name == "MIN"
    assert dist.Backend("MPI") == "mpi" and dist.Backend.NCCL == "nccl"
    with pytest.raises(ValueError, match="backend 'gloo' is not supported by tocha"):
        dist.Backend("gloo")


def test_local_rank_from_launcher_environment(no_process_group, monkeypatch):
    for var in ("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"):
        monkeypatch.delenv(var, raising=False)
    assert dist.get_local_rank() == 0
    monkeypatch.setenv("MPI_LOCALRANKID", "3")
    assert dist.get_local_rank() == 3
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert dist.get_local_rank() == 1


def test_is_available_matches_mpi4py():
    import importlib.util

    assert dist.is_available() == (importlib.util.find_spec("mpi4py") is not None)
    assert dist.is_mpi_available() == dist.is_available()
