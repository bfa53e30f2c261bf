"""save_on_rank0 / load_on_all_ranks: one writer, every rank resumes from the same file."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

pytest.importorskip("mpi4py")

import tocha.core as torch  # noqa: E402
import tocha.core.distributed as dist  # noqa: E402

pytestmark = pytest.mark.mpi


def _shared_dir() -> str:
    """A directory made by rank 0 whose path every rank knows (one machine in these tests)."""
    path = [tempfile.mkdtemp(prefix="tocha-ckpt-") if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(path, src=0)
    return path[0]


def test_rank0_writes_every_rank_reads(dist_world):
    r = dist_world.rank
    folder = _shared_dir()
    path = os.path.join(folder, "ckpt.pt")
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    # each rank perturbs its copy: only rank 0's values may end up in the file
    with torch.no_grad():
        model.weight.add_(float(r))
    state = {"model": model.state_dict(), "epoch": 7 + r, "history": [0.5, 0.25]}
    dist.save_on_rank0(state, path)
    assert os.path.isfile(path)  # complete on every rank once save_on_rank0 returns
    loaded = dist.load_on_all_ranks(path)
    assert loaded["epoch"] == 7 and loaded["history"] == [0.5, 0.25]
    torch.manual_seed(0)
    expected = torch.nn.Linear(4, 3).weight.detach().numpy()
    np.testing.assert_array_equal(loaded["model"]["weight"].numpy(), expected)
    fresh = torch.nn.Linear(4, 3)
    fresh.load_state_dict(loaded["model"])
    gathered = [None] * dist_world.size
    dist.all_gather_object(gathered, fresh.weight.detach().numpy().tolist())
    assert all(g == gathered[0] for g in gathered)
    dist.barrier()
    if r == 0:
        os.remove(path)
        os.rmdir(folder)


def test_failed_save_raises_on_every_rank(dist_world):
    missing = os.path.join(_shared_dir(), "no", "such", "dir", "ckpt.pt")
    with pytest.raises(RuntimeError, match="save_on_rank0: rank 0 failed to save .*ckpt.pt"):
        dist.save_on_rank0({"x": torch.ones(2)}, missing)
