"""A rank that raises ends the whole job quickly with its traceback, never a hang.

Launched as ``mpiexec -n N python script.py`` from an ordinary pytest process (the
``mpiexec`` fixture in conftest.py kills the job and fails the test if it outlives the
timeout).
"""

from __future__ import annotations

import textwrap
import time

import pytest

pytestmark = pytest.mark.mpi

TRAIN = textwrap.dedent(
    """
    import sys, threading, time
    import tocha.core as torch
    import tocha.core.distributed as dist

    dist.init_process_group("mpi")
    rank = dist.get_rank()
    mode = sys.argv[1]
    w = torch.zeros(4)
    for step in range(100):
        g = torch.ones(4) * (rank + 1)
        if step == 3 and rank == 1:
            if mode == "main":
                raise RuntimeError(f"loss is nan at step {step}")
            t = threading.Thread(target=lambda: 1 / 0, name="loader")
            t.start()
            t.join()
            time.sleep(60)  # the thread's exception must end the job, not this sleep
        dist.all_reduce(g)  # rank 0 waits here for the rank that died
        w -= 0.1 * g
    print("finished", rank, flush=True)
    """
)


@pytest.mark.parametrize("nranks", [2, 4])
def test_exception_on_one_rank_aborts_the_job(mpiexec, tmp_path, nranks):
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    start = time.monotonic()
    res = mpiexec(script, nranks, timeout=60, args=["main"])
    elapsed = time.monotonic() - start
    out = res.stdout
    assert res.returncode != 0, out
    assert "[rank 1] Traceback (most recent call last):" in out, out
    assert "[rank 1] RuntimeError: loss is nan at step 3" in out, out
    assert "[rank 1] uncaught exception: aborting the MPI job" in out, out
    assert "finished" not in out, out
    assert elapsed < 30, f"the job took {elapsed:.1f} s to end"


def test_exception_in_a_thread_aborts_the_job(mpiexec, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    start = time.monotonic()
    res = mpiexec(script, 2, timeout=60, args=["thread"])
    out = res.stdout
    assert res.returncode != 0, out
    assert "[rank 1] ZeroDivisionError: division by zero" in out, out
    assert "in thread 'loader'" in out, out
    assert time.monotonic() - start < 30


def test_clean_run_exits_zero(mpiexec, tmp_path):
    script = tmp_path / "ok.py"
    script.write_text(
        "import tocha.core as torch, tocha.core.distributed as dist\n"
        "dist.init_process_group('mpi')\n"
        "t = torch.ones(2) * (dist.get_rank() + 1)\n"
        "dist.all_reduce(t)\n"
        "got = [None, None]\n"
        "dist.all_gather_object(got, t.tolist())\n"
        "if dist.get_rank() == 0:\n"
        "    print('sums', got, flush=True)\n"
        "dist.destroy_process_group()\n"
    )
    res = mpiexec(script, 2, timeout=60)
    assert res.returncode == 0, res.stdout
    assert "sums [[3.0, 3.0], [3.0, 3.0]]" in res.stdout, res.stdout
