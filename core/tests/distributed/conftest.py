"""Multi-rank test setup: tests must never hang CI.

Two ways to run an ``mpi``-marked test, both used by ``nox -s mpi``:

1. In the world: pytest itself runs under ``mpiexec -n N python -m pytest -m mpi ...``; every
   rank runs the same tests in the same order. The ``dist_world`` fixture initializes the
   default process group once per session. When a test fails on any rank, the hook below
   prints that rank's report (each line prefixed with ``[rank r]``) and calls ``MPI_Abort``,
   so ranks waiting in a collective for the failed one are ended, never left hanging. Tests
   must make the same collective calls on every rank and skip on all ranks or none.
   Run plainly (``pytest -m mpi``), these tests see a world of one rank.
2. Launched: an ordinary pytest process runs ``mpiexec -n N python script.py`` through the
   ``mpiexec`` fixture, with a timeout (the fault tests: a rank must be able to crash). The
   fixture skips inside an MPI job (no nested launches) and where mpiexec is missing.

Nothing here imports mpi4py unless a test asks for it, so the default (``-m "not mpi"``) run
needs no MPI.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest

# set by MPICH's hydra (PMI_SIZE), Open MPI (OMPI_COMM_WORLD_SIZE) and PMIx launchers / srun
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "SLURM_NTASKS")


def in_mpi_job() -> bool:
    """Whether this process was started by an MPI launcher with more than one rank."""
    for var in _SIZE_VARS[:3]:
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 1:
            return True
    return False


@pytest.fixture(scope="session")
def dist_world():
    """Initialize tocha.core.distributed once (backend 'mpi'); yields ``rank`` and ``size``."""
    pytest.importorskip("mpi4py")
    import tocha.core.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("mpi")
    yield SimpleNamespace(rank=dist.get_rank(), size=dist.get_world_size())
    dist.barrier()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed or not in_mpi_job() or "mpi4py" not in sys.modules:
        return
    from mpi4py import MPI

    if not MPI.Is_initialized() or MPI.Is_finalized():
        return
    rank = MPI.COMM_WORLD.Get_rank()
    text = f"{item.nodeid} failed ({report.when}):\n{report.longreprtext}\n"
    prefix = f"[rank {rank}] "
    sys.stderr.write("".join(prefix + line for line in text.splitlines(True)))
    sys.stderr.write(f"{prefix}aborting the MPI job so the other ranks do not hang\n")
    sys.stderr.flush()
    MPI.COMM_WORLD.Abort(1)


@pytest.fixture
def mpiexec():
    """``run(script, n, timeout=60, args=())`` -> CompletedProcess of ``mpiexec -n n python``.

    Output (stdout and stderr merged) is in ``.stdout``. A job that outlives ``timeout``
    seconds is killed (launcher and ranks) and fails the test.
    """
    if in_mpi_job():
        pytest.skip("launches its own mpiexec: runs in the plain (non-mpiexec) pytest pass")
    pytest.importorskip("mpi4py")
    launcher = shutil.which("mpiexec") or shutil.which("mpirun")
    if launcher is None:
        pytest.skip("mpiexec not found (pip install mpich mpi4py)")

    def run(script, n: int, timeout: float = 60, args=()):
        env = dict(os.environ)
        for var in list(env):  # a clean launch even when pytest itself runs under a launcher
            if var.startswith(("PMI_", "PMIX_", "OMPI_", "HYDRA_")):
                del env[var]
        cmd = [launcher, "-n", str(n), sys.executable, str(script), *map(str, args)]
        # own session: on a timeout the whole job (launcher and ranks) is killed, not just
        # the launcher, so no rank outlives the test
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            raise AssertionError(
                f"{' '.join(cmd)} did not end within {timeout} s; output:\n{out}"
            ) from None
        return subprocess.CompletedProcess(cmd, proc.returncode, out, None)

    return run
