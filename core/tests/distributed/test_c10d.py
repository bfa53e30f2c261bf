"""Every collective against the same reduction done in one process with NumPy.

Run under ``mpiexec -n N python -m pytest -m mpi core/tests/distributed`` (N = 1, 2, 4 in
``nox -s mpi``). Each rank's data is a deterministic function of (rank, case), so every rank
can build every other rank's input and the NumPy reference locally.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mpi4py")

import tocha.core as torch  # noqa: E402
import tocha.core.distributed as dist  # noqa: E402
from tocha.core._dtype import _NP_BFLOAT16  # noqa: E402

pytestmark = pytest.mark.mpi

ReduceOp = dist.ReduceOp

DTYPES = ["float32", "float64", "int64", "int32", "float16", "bfloat16", "complex64", "bool"]
SHAPES = [(), (5,), (3, 4), (2, 3, 2)]
NP_REDUCE = {
    ReduceOp.SUM: lambda xs: np.sum(xs, axis=0),
    ReduceOp.PRODUCT: lambda xs: np.prod(xs, axis=0),
    ReduceOp.MIN: lambda xs: np.min(xs, axis=0),
    ReduceOp.MAX: lambda xs: np.max(xs, axis=0),
}


def _np_dtype(name: str) -> np.dtype:
    return np.dtype(_NP_BFLOAT16) if name == "bfloat16" else np.dtype(name)


def data(rank: int, shape, dtype: str, case: int = 0) -> np.ndarray:
    """Small integer values (exact sums and products in every dtype) unique per rank/case."""
    rng = np.random.default_rng(1000 * case + rank)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    vals = rng.integers(-3, 4, size=shape).astype(np.float64)
    if dtype == "complex64":
        vals = vals + 1j * rng.integers(-3, 4, size=shape)
    return vals.astype(_np_dtype(dtype))


def reference(op, xs: list[np.ndarray], dtype: str) -> np.ndarray:
    n = len(xs)
    wide = np.stack([x.astype(np.complex128 if dtype == "complex64" else np.float64) for x in xs])
    if dtype == "bool":
        wide = np.stack(xs)
        if op in (ReduceOp.SUM, ReduceOp.MAX):
            return wide.any(axis=0)
        return wide.all(axis=0)
    if op == ReduceOp.AVG:
        out = wide.sum(axis=0) / n
        if dtype in ("int32", "int64"):
            out = np.trunc(out)
    else:
        out = NP_REDUCE[op](wide)
    return out.astype(_np_dtype(dtype))


def tensor(arr: np.ndarray):
    return torch.from_numpy(np.array(arr, copy=True))


def check(t, expected, dtype: str):
    got = t.numpy()
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    if dtype in ("float16", "bfloat16"):
        np.testing.assert_allclose(
            got.astype(np.float64), expected.astype(np.float64), rtol=1e-2, atol=1e-2
        )
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def _ops_for(dtype: str):
    ops = [ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX]
    if dtype == "complex64":
        return [ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT]
    if dtype == "bool":
        return [ReduceOp.SUM, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX]
    return ops


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_all_reduce(dist_world, dtype, shape):
    n, r = dist_world.size, dist_world.rank
    for case, op in enumerate(_ops_for(dtype)):
        xs = [data(k, shape, dtype, case) for k in range(n)]
        t = tensor(xs[r])
        assert dist.all_reduce(t, op=op) is None
        check(t, reference(op, xs, dtype), dtype)


def test_all_reduce_in_place_on_views_and_version(dist_world):
    n, r = dist_world.size, dist_world.rank
    base = torch.from_numpy(np.arange(12, dtype=np.float32).reshape(3, 4) * (r + 1))
    view = base.t()  # non-contiguous: values go through a copy and are written back
    v0 = base._version
    dist.all_reduce(view)
    tri = n * (n + 1) / 2
    np.testing.assert_array_equal(base.numpy(), np.arange(12).reshape(3, 4) * tri)
    assert base._version > v0
    row = base[1]  # contiguous view: reduced in place in base's memory
    dist.all_reduce(row, op=ReduceOp.MAX)
    np.testing.assert_array_equal(base.numpy()[1], np.arange(4, 8) * tri)


def test_all_reduce_async(dist_world):
    n, r = dist_world.size, dist_world.rank
    xs = [data(k, (64,), "float32", 7) for k in range(n)]
    t = tensor(xs[r])
    work = dist.all_reduce(t, op=ReduceOp.AVG, async_op=True)
    assert isinstance(work, dist.Work)
    assert work.wait() is True
    assert work.is_completed()
    check(t, reference(ReduceOp.AVG, xs, "float32"), "float32")
    work = dist.all_reduce(t, async_op=True)
    while not work.is_completed():
        pass
    check(t, reference(ReduceOp.AVG, xs, "float32") * n, "float32")


@pytest.mark.parametrize("dtype", ["float32", "int64", "bfloat16", "bool", "complex64"])
def test_broadcast(dist_world, dtype):
    n, r = dist_world.size, dist_world.rank
    for src in range(n):
        xs = [data(k, (3, 5), dtype, src) for k in range(n)]
        t = tensor(xs[r])
        dist.broadcast(t, src=src)
        check(t, xs[src], dtype)
    t = tensor(data(r, (4,), dtype, 99))
    dist.broadcast(t, src=n - 1, async_op=True).wait()
    check(t, data(n - 1, (4,), dtype, 99), dtype)


@pytest.mark.parametrize("dtype", ["float32", "int32", "float16"])
def test_reduce(dist_world, dtype):
    n, r = dist_world.size, dist_world.rank
    for dst in range(n):
        for case, op in enumerate([ReduceOp.SUM, ReduceOp.MAX, ReduceOp.AVG]):
            xs = [data(k, (2, 3), dtype, 10 * dst + case) for k in range(n)]
            t = tensor(xs[r])
            dist.reduce(t, dst=dst, op=op)
            check(t, reference(op, xs, dtype) if r == dst else xs[r], dtype)


@pytest.mark.parametrize("dtype", ["float32", "int64", "bfloat16", "bool"])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)], ids=str)
def test_all_gather(dist_world, dtype, shape):
    n, r = dist_world.size, dist_world.rank
    xs = [data(k, shape, dtype, 3) for k in range(n)]
    out = [tensor(np.zeros(shape, _np_dtype(dtype))) for _ in range(n)]
    dist.all_gather(out, tensor(xs[r]))
    for k in range(n):
        check(out[k], xs[k], dtype)


def test_all_gather_into_tensor_cat_and_stack(dist_world):
    n, r = dist_world.size, dist_world.rank
    xs = [data(k, (2, 3), "float32", 4) for k in range(n)]
    cat = torch.zeros(2 * n, 3)
    dist.all_gather_into_tensor(cat, tensor(xs[r]))
    check(cat, np.concatenate(xs), "float32")
    stacked = torch.zeros(n, 2, 3)
    dist.all_gather_into_tensor(stacked, tensor(xs[r]), async_op=True).wait()
    check(stacked, np.stack(xs), "float32")


@pytest.mark.parametrize("dtype", ["float32", "int64", "bfloat16"])
def test_reduce_scatter(dist_world, dtype):
    n, r = dist_world.size, dist_world.rank
    # rank k's input list: n chunks of shape (3,)
    xs = [[data(k, (3,), dtype, 20 + j) for j in range(n)] for k in range(n)]
    for op in (ReduceOp.SUM, ReduceOp.MAX, ReduceOp.AVG):
        out = tensor(np.zeros(3, _np_dtype(dtype)))
        dist.reduce_scatter(out, [tensor(x) for x in xs[r]], op=op)
        check(out, reference(op, [xs[k][r] for k in range(n)], dtype), dtype)
        out = tensor(np.zeros(3, _np_dtype(dtype)))
        dist.reduce_scatter_tensor(out, tensor(np.concatenate(xs[r])), op=op)
        check(out, reference(op, [xs[k][r] for k in range(n)], dtype), dtype)


def _splits(k: int, n: int) -> list[int]:
    """Unequal split sizes: rank k sends (k + j) % 3 rows to rank j."""
    return [(k + j) % 3 for j in range(n)]


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_all_to_all_single_unequal(dist_world, dtype):
    n, r = dist_world.size, dist_world.rank
    send_splits = [_splits(k, n) for k in range(n)]
    xs = [data(k, (sum(send_splits[k]), 2), dtype, 30) for k in range(n)]

    def chunk(k, j):  # rows rank k sends to rank j
        off = sum(send_splits[k][:j])
        return xs[k][off : off + send_splits[k][j]]

    out_splits = [send_splits[k][r] for k in range(n)]
    out = tensor(np.zeros((sum(out_splits), 2), _np_dtype(dtype)))
    dist.all_to_all_single(out, tensor(xs[r]), out_splits, send_splits[r])
    check(out, np.concatenate([chunk(k, r) for k in range(n)]), dtype)


def test_all_to_all_single_equal_and_async(dist_world):
    n, r = dist_world.size, dist_world.rank
    xs = [data(k, (2 * n, 3), "float32", 31) for k in range(n)]
    out = torch.zeros(2 * n, 3)
    dist.all_to_all_single(out, tensor(xs[r]), async_op=True).wait()
    check(out, np.concatenate([xs[k][2 * r : 2 * r + 2] for k in range(n)]), "float32")


def test_all_to_all_lists(dist_world):
    n, r = dist_world.size, dist_world.rank
    # rank k sends a tensor of shape (k + j + 1,) to rank j
    ins = [[data(k, (k + j + 1,), "float64", 40 + j) for j in range(n)] for k in range(n)]
    outs = [torch.zeros(k + r + 1, dtype=torch.float64) for k in range(n)]
    dist.all_to_all(outs, [tensor(x) for x in ins[r]])
    for k in range(n):
        check(outs[k], ins[k][r], "float64")


def test_scatter_and_gather(dist_world):
    n, r = dist_world.size, dist_world.rank
    for root in range(n):
        xs = [data(k, (2, 2), "float32", 50 + root) for k in range(n)]
        out = torch.zeros(2, 2)
        dist.scatter(out, [tensor(x) for x in xs] if r == root else None, src=root)
        check(out, xs[r], "float32")
        glist = [torch.zeros(2, 2) for _ in range(n)] if r == root else None
        dist.gather(tensor(xs[r] * 2), glist, dst=root)
        if r == root:
            for k in range(n):
                check(glist[k], xs[k] * 2, "float32")


def test_send_recv_ring(dist_world):
    n, r = dist_world.size, dist_world.rank
    if n < 2:
        pytest.skip("point-to-point needs at least 2 ranks")
    nxt, prv = (r + 1) % n, (r - 1) % n
    out = torch.zeros(4, dtype=torch.int64)
    # isend first so the ring cannot deadlock
    sreq = dist.isend(tensor(data(r, (4,), "int64", 60)), dst=nxt)
    rreq = dist.irecv(out, src=prv)
    rreq.wait()
    sreq.wait()
    check(out, data(prv, (4,), "int64", 60), "int64")
    # blocking send/recv with an unknown source: recv returns the sender's rank
    if r == 0:
        got = torch.zeros(3)
        senders = sorted(dist.recv(got) for _ in range(n - 1))
        assert senders == list(range(1, n))
    else:
        dist.send(torch.full((3,), float(r)), dst=0)


def test_barrier_and_async_barrier(dist_world):
    dist.barrier()
    work = dist.barrier(async_op=True)
    assert work.wait() and work.is_completed()


def test_new_group_subset(dist_world):
    n, r = dist_world.size, dist_world.rank
    evens = list(range(0, n, 2))
    odds = list(range(1, n, 2))
    g_even = dist.new_group(evens)
    g_odd = dist.new_group(odds) if odds else None
    mine, members = (g_even, evens) if r % 2 == 0 else (g_odd, odds)
    other = g_odd if r % 2 == 0 else g_even
    assert dist.get_rank(mine) == members.index(r)
    assert dist.get_world_size(mine) == len(members)
    if other is not None:
        assert other is dist.GroupMember.NON_GROUP_MEMBER
        assert dist.get_rank(other) == -1
        assert dist.all_reduce(torch.ones(1), group=other) is None  # not a member: no-op
    t = torch.tensor([float(r)])
    dist.all_reduce(t, group=mine)
    assert t.item() == sum(members)
    # src is a global rank, as in torch
    b = torch.tensor([float(r)])
    dist.broadcast(b, src=members[-1], group=mine)
    assert b.item() == members[-1]
    assert dist.get_process_group_ranks(mine) == members
    assert dist.get_global_rank(mine, 0) == members[0]
    with pytest.raises(ValueError, match="not part of the group"):
        dist.broadcast(b, src=99, group=mine)
    for g in (g_even, g_odd):
        if g is not None and g is not dist.GroupMember.NON_GROUP_MEMBER:
            dist.destroy_process_group(g)


def test_object_collectives(dist_world):
    n, r = dist_world.size, dist_world.rank
    objs = [{"rank": r, "t": torch.arange(3) + r}, "x" * r, None]
    if r != 0:
        objs = [None, None, None]
    dist.broadcast_object_list(objs, src=0)
    assert objs[0]["rank"] == 0 and objs[1] == "" and objs[2] is None
    assert objs[0]["t"].tolist() == [0, 1, 2]
    gathered = [None] * n
    dist.all_gather_object(gathered, ("r", r))
    assert gathered == [("r", k) for k in range(n)]
    dst = n - 1
    glist = [None] * n if r == dst else None
    dist.gather_object(r * 10, glist, dst=dst)
    if r == dst:
        assert glist == [k * 10 for k in range(n)]
    out = [None]
    dist.scatter_object_list(out, [f"to {k}" for k in range(n)] if r == 0 else None, src=0)
    assert out == [f"to {r}"]


def test_errors_name_function_and_values(dist_world):
    n, r = dist_world.size, dist_world.rank
    with pytest.raises(ValueError, match=r"all_gather: tensor_list\[0\] has shape \(3,\).*\(2,\)"):
        dist.all_gather([torch.zeros(3) for _ in range(n)], torch.zeros(2))
    with pytest.raises(TypeError, match="all_gather: tensor_list\\[0\\] has dtype"):
        dist.all_gather([torch.zeros(2, dtype=torch.int64) for _ in range(n)], torch.zeros(2))
    with pytest.raises(ValueError, match=f"has {n + 1} tensors but the group has {n} ranks"):
        dist.all_gather([torch.zeros(2) for _ in range(n + 1)], torch.zeros(2))
    with pytest.raises(ValueError, match="all_gather_into_tensor: output_tensor must have"):
        dist.all_gather_into_tensor(torch.zeros(n * 2 + 1), torch.zeros(2))
    with pytest.raises(ValueError, match=r"input_split_sizes \[.*\] sum to"):
        dist.all_to_all_single(torch.zeros(n), torch.zeros(n), [1] * n, [2] * n)
    with pytest.raises(ValueError, match="ReduceOp.MAX is not defined for complex"):
        dist.all_reduce(torch.zeros(2, dtype=torch.complex64), op=ReduceOp.MAX)
    with pytest.raises(ValueError, match="backend 'gloo' is not supported by tocha"):
        dist.new_group(list(range(n)), backend="gloo")
    with pytest.raises(ValueError, match=r"new_group: ranks must be distinct .* got \[0, 0\]"):
        dist.new_group([0, 0])
    with pytest.raises(ValueError, match="initialize the default process group twice"):
        dist.init_process_group("mpi")
    assert dist.is_initialized()
    assert dist.get_backend() == "mpi"
    assert 0 <= dist.get_local_rank() < n
    assert r == dist.get_rank()
