"""DistributedDataParallel: 2 and 4 ranks each on their slice of the batch end at the same
parameters as one process on the full batch (float32 tolerance); no_sync accumulation,
find_unused_parameters, buffer broadcasts; bucket layout as torch's (no MPI for that one).

The multi-rank programs live in _train_worker.py and are launched with the ``mpiexec``
fixture (conftest.py) under a timeout, so a broken reduction fails instead of hanging.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import nn
from tocha.core.nn.parallel.distributed import _FIRST_BUCKET_BYTES, _bucket_assignment

WORKER = Path(__file__).with_name("_train_worker.py")


def launch(mpiexec, tmp_path, scenario: str, n: int) -> list:
    proc = mpiexec(WORKER, n, timeout=120, args=(scenario, tmp_path))
    assert proc.returncode == 0, proc.stdout
    return [np.load(tmp_path / f"rank{r}.npz") for r in range(n)]


def assert_matches_reference(res) -> None:
    keys = [k for k in res.files if k.startswith("p_")]
    assert keys
    for k in keys:
        np.testing.assert_allclose(res[k], res["ref_" + k], rtol=1e-5, atol=1e-6, err_msg=k)


@pytest.mark.mpi
@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize(
    ("kind", "cap", "n_buckets"),
    [("sgd", "default", 1), ("adam", "default", 1), ("sgd", "0.0001", 3)],
)
def test_ddp_equals_single_process(mpiexec, tmp_path, n, kind, cap, n_buckets):
    results = launch(mpiexec, tmp_path, f"ddp_{kind}_{cap}", n)
    for res in results:
        assert_matches_reference(res)
        assert int(res["n_buckets"]) == n_buckets
    for k in results[0].files:  # every rank holds the same replica
        np.testing.assert_array_equal(results[0][k], results[-1][k])


@pytest.mark.mpi
@pytest.mark.parametrize("n", [2, 4])
def test_no_sync_accumulation(mpiexec, tmp_path, n):
    for res in launch(mpiexec, tmp_path, "no_sync", n):
        assert_matches_reference(res)


@pytest.mark.mpi
@pytest.mark.parametrize("n", [2, 4])
def test_find_unused_parameters(mpiexec, tmp_path, n):
    for res in launch(mpiexec, tmp_path, "unused", n):
        for k in res.files:
            if not k.startswith("expect_"):
                continue
            got, want = res["grad_" + k[7:]], res[k]
            if k.startswith("expect_c."):  # unused on every rank: no gradient at all
                assert np.isnan(got).all(), k
            else:  # b is used on rank 0 only: every rank gets rank 0's gradient / n
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=k)
        assert np.abs(res["grad_b.weight"]).max() > 0


@pytest.mark.mpi
def test_unused_parameters_without_detection_raise(mpiexec, tmp_path):
    for r, res in enumerate(launch(mpiexec, tmp_path, "unused_error", 2)):
        msg = str(res["msg"])
        assert msg.startswith("Expected to have finished reduction in the prior iteration")
        assert "find_unused_parameters=True" in msg
        assert msg.endswith(f"rank {r}: b.weight, b.bias, c.weight, c.bias")


@pytest.mark.mpi
def test_buffers_broadcast_and_state_dict_keys(mpiexec, tmp_path):
    results = launch(mpiexec, tmp_path, "buffers", 2)
    for r, res in enumerate(results):
        np.testing.assert_array_equal(res["after_init"], [1.0, 1.0, 1.0])  # rank 0's at init
        np.testing.assert_array_equal(res["after_fwd"], [10.0] * 3)  # rank 0's before forward
        np.testing.assert_array_equal(res["no_broadcast_init"], [r + 1.0] * 3)
        np.testing.assert_array_equal(res["no_broadcast"], [10.0 * (r + 1)] * 3)
        assert res["keys"].tolist() == ["module.lin.bias", "module.lin.weight", "module.scale"]


def _names(model, cap_mb):
    params = list(model.parameters())
    names = [n for n, _ in model.named_parameters()]
    cap = int((25 if cap_mb is None else cap_mb) * 1024 * 1024)
    first = _FIRST_BUCKET_BYTES if cap_mb is None else None
    return [[names[i] for i in b] for b in _bucket_assignment(params, cap, first)]


def test_bucket_layout_matches_torch():
    # torch 2.x's reducer buckets after its first iteration for six Linear(512, 512)
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(512, 512) for _ in range(6)])
    rev = [f"{i}.{w}" for i in range(5, -1, -1) for w in ("bias", "weight")]
    assert _names(model, None) == [rev[:2], rev[2:]]  # 1 MiB first bucket, then 25 MiB
    assert _names(model, 1) == [rev[i : i + 2] for i in range(0, 12, 2)]
    assert _names(model, 3) == [rev[:6], rev[6:]]


def test_bucket_assignment_separates_dtypes():
    ps = [torch.zeros(300_000), torch.zeros(10), torch.zeros(5, dtype=torch.float64)]
    ps.append(torch.zeros(300_000))
    # reverse order; float64 in its own stream; 1.2 MB closes the 1 MiB first bucket
    assert _bucket_assignment(ps, 25 * 2**20, _FIRST_BUCKET_BYTES) == [[3], [2], [1, 0]]
    assert _bucket_assignment(ps, 1000, None) == [[3], [2], [1, 0]]
    assert _bucket_assignment(ps, 2**30, None) == [[3, 1, 0], [2]]


def test_ddp_needs_an_initialized_process_group():
    from tocha.core.nn.parallel import DistributedDataParallel

    dist = pytest.importorskip("tocha.core.distributed")
    if dist.is_initialized():
        pytest.skip("a process group is already initialized in this process")
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedDataParallel(nn.Linear(2, 2))
