"""backend='nccl': collectives on CUDA (CuPy) tensors over cupy.cuda.nccl, against NumPy.

Marked mpi and gpu: run on a GPU machine with ``mpiexec -n N python -m pytest -m "mpi and gpu"
core/tests/distributed/test_c10d_nccl.py`` (N ranks need N GPUs: NCCL refuses two ranks on one
device). The NCCL communicator belongs to a ``new_group(..., backend='nccl')`` over every rank,
so these tests share the session's MPI default group with the other in-world tests.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mpi4py")

from test_c10d import _np_dtype, data, reference  # noqa: E402

import tocha.core as torch  # noqa: E402
import tocha.core.distributed as dist  # noqa: E402

pytestmark = [pytest.mark.mpi, pytest.mark.gpu]
ReduceOp = dist.ReduceOp


@pytest.fixture(scope="module")
def nccl_group(dist_world):
    if not dist.is_nccl_available():  # the same answer on every rank of one machine
        pytest.skip("CuPy with NCCL is not installed")
    import cupy

    if cupy.cuda.runtime.getDeviceCount() < dist_world.size:
        pytest.skip(f"{dist_world.size} ranks need {dist_world.size} GPUs for NCCL")
    cupy.cuda.Device(dist.get_local_rank()).use()
    g = dist.new_group(list(range(dist_world.size)), backend="nccl")
    yield g
    dist.destroy_process_group(g)


def cuda(arr: np.ndarray):
    return torch.from_numpy(np.array(arr, copy=True)).to("cuda")


def check(t, expected, dtype: str):
    assert t.is_cuda
    got = t.cpu().numpy()
    assert got.dtype == expected.dtype
    tol = 1e-2 if dtype in ("float16", "bfloat16") else 1e-6
    np.testing.assert_allclose(
        got.astype(np.float64), expected.astype(np.float64), rtol=tol, atol=tol
    )


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "float16", "bfloat16"])
def test_nccl_all_reduce(dist_world, nccl_group, dtype):
    n, r = dist_world.size, dist_world.rank
    for case, op in enumerate([ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX, ReduceOp.MIN]):
        xs = [data(k, (3, 5), dtype, case) for k in range(n)]
        t = cuda(xs[r])
        dist.all_reduce(t, op=op, group=nccl_group)
        check(t, reference(op, xs, dtype), dtype)


def test_nccl_async_and_non_contiguous(dist_world, nccl_group):
    n, r = dist_world.size, dist_world.rank
    xs = [data(k, (4, 6), "float32", 9) for k in range(n)]
    base = cuda(xs[r])
    view = base.t()
    work = dist.all_reduce(view, group=nccl_group, async_op=True)
    assert work.wait() and work.is_completed()
    check(base, reference(ReduceOp.SUM, xs, "float32"), "float32")


def test_nccl_broadcast_reduce_gathers(dist_world, nccl_group):
    n, r = dist_world.size, dist_world.rank
    xs = [data(k, (2, 3), "float32", 11) for k in range(n)]
    t = cuda(xs[r])
    dist.broadcast(t, src=n - 1, group=nccl_group)
    check(t, xs[n - 1], "float32")
    t = cuda(xs[r])
    dist.reduce(t, dst=0, group=nccl_group)
    check(t, reference(ReduceOp.SUM, xs, "float32") if r == 0 else xs[r], "float32")
    out = cuda(np.zeros((2 * n, 3), np.float32))
    dist.all_gather_into_tensor(out, cuda(xs[r]), group=nccl_group)
    check(out, np.concatenate(xs), "float32")
    lst = [cuda(np.zeros((2, 3), np.float32)) for _ in range(n)]
    dist.all_gather(lst, cuda(xs[r]), group=nccl_group)
    for k in range(n):
        check(lst[k], xs[k], "float32")
    chunks = [data(k, (n * 2,), "float32", 12) for k in range(n)]
    rs = cuda(np.zeros(2, np.float32))
    dist.reduce_scatter_tensor(rs, cuda(chunks[r]), group=nccl_group)
    check(rs, reference(ReduceOp.SUM, [c[2 * r : 2 * r + 2] for c in chunks], "float32"), "float32")


def test_nccl_all_to_all_single_unequal_and_p2p(dist_world, nccl_group):
    n, r = dist_world.size, dist_world.rank
    splits = [[(k + j) % 3 for j in range(n)] for k in range(n)]
    xs = [data(k, (sum(splits[k]), 2), "float32", 13) for k in range(n)]

    def chunk(k, j):
        off = sum(splits[k][:j])
        return xs[k][off : off + splits[k][j]]

    out_splits = [splits[k][r] for k in range(n)]
    out = cuda(np.zeros((sum(out_splits), 2), _np_dtype("float32")))
    dist.all_to_all_single(out, cuda(xs[r]), out_splits, splits[r], group=nccl_group)
    check(out, np.concatenate([chunk(k, r) for k in range(n)]), "float32")
    if n >= 2:
        nxt, prv = (r + 1) % n, (r - 1) % n
        got = cuda(np.zeros(4, np.float32))
        mine = cuda(data(r, (4,), "float32", 14))
        # NCCL's send and recv outside a group each block until the peer's matching call:
        # a ring where every rank sends first would hang, so even ranks send first
        if r % 2 == 0:
            dist.isend(mine, dst=nxt, group=nccl_group).wait()
            dist.irecv(got, src=prv, group=nccl_group).wait()
        else:
            dist.irecv(got, src=prv, group=nccl_group).wait()
            dist.isend(mine, dst=nxt, group=nccl_group).wait()
        check(got, data(prv, (4,), "float32", 14), "float32")
