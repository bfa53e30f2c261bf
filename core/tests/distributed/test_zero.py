"""ZeroRedundancyOptimizer: each rank steps its shard (torch's greedy partition), the result
equals the unsharded optimizer on 2 and 4 ranks; consolidate_state_dict gives the unsharded
optimizer's state_dict on rank 0, and loading it resumes identically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("_train_worker.py")

# parameter sizes of the worker's MLP 8-16-16-3: weights 128, 256, 48; biases 16, 16, 3
SIZES = [128, 16, 256, 16, 48, 3]


def greedy(sizes, n):
    """torch's partition: largest first, each to the currently smallest rank."""
    owned = [0] * n
    for s in sorted(sizes, reverse=True):
        owned[owned.index(min(owned))] += s
    return owned


@pytest.mark.mpi
@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_zero_equals_unsharded_optimizer(mpiexec, tmp_path, n, kind):
    proc = mpiexec(WORKER, n, timeout=120, args=(f"zero_{kind}", tmp_path))
    assert proc.returncode == 0, proc.stdout
    results = [np.load(tmp_path / f"rank{r}.npz") for r in range(n)]
    expected_owned = greedy(SIZES, n)
    assert sum(int(r["n_local_state"]) for r in results) == len(SIZES)  # state is sharded
    for r, res in enumerate(results):
        assert res["owned"].tolist() == expected_owned
        for k in [k for k in res.files if k.startswith("p_")]:
            np.testing.assert_allclose(res[k], res["ref_" + k], rtol=1e-5, atol=1e-6, err_msg=k)
        if r:
            assert str(res["not_consolidated"]).startswith("Optimizer state has not been")
    top = results[0]
    assert bool(top["same_ids"]) and bool(top["same_groups"])
    state_keys = [k for k in top.files if k.startswith("state_")]
    assert len(state_keys) == len(SIZES) * (1 if kind == "sgd" else 3)
    for k in state_keys:
        np.testing.assert_allclose(top[k], top["ref_" + k], rtol=1e-5, atol=1e-7, err_msg=k)


def test_zero_needs_an_initialized_process_group():
    import tocha.core as torch
    from tocha.core.distributed.optim import ZeroRedundancyOptimizer

    dist = pytest.importorskip("tocha.core.distributed")
    if dist.is_initialized():
        pytest.skip("a process group is already initialized in this process")
    with pytest.raises(RuntimeError, match="init_process_group"):
        ZeroRedundancyOptimizer([torch.zeros(2, requires_grad=True)], torch.optim.SGD, lr=0.1)
