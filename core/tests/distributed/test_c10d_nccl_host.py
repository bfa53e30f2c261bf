"""backend='nccl' without a GPU: ``_nccl.py`` driven through ``dist.*`` on a ``new_group(...,
backend='nccl')``, with "CUDA" tensors over host memory and ``cupy.cuda.nccl`` replaced by
``fake_nccl.py`` (NCCL's semantics over MPI, reading and writing the raw pointers, counts and
type codes ``_nccl.py`` passes). Every result is checked against the same reduction in NumPy.

Marked mpi (not gpu): ``nox -s mpi`` runs it plainly (one rank) and under ``mpiexec -n 2`` and
``-n 4``. Each rank's data is a deterministic function of (rank, case), as in test_c10d.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("mpi4py")

import fake_nccl  # noqa: E402
from test_c10d import _np_dtype, data, reference  # noqa: E402

import tocha.core.distributed as dist  # noqa: E402
from tocha.core._device import cupy_or_none  # noqa: E402
from tocha.core._tensor import wrap  # noqa: E402
from tocha.core.distributed import _nccl  # noqa: E402

pytestmark = pytest.mark.mpi
ReduceOp = dist.ReduceOp
CODE = {"float16": 6, "float32": 7, "float64": 8, "bfloat16": 9, "int32": 2, "int64": 4}
OP = {"sum": 0, "prod": 1, "max": 2, "min": 3, "avg": 4}


@pytest.fixture(scope="module")
def nccl(dist_world):
    """The fake cupy installed for this module and an nccl group over every rank."""
    with pytest.MonkeyPatch.context() as mp:
        fake = fake_nccl.install(mp)
        assert dist.is_nccl_available()
        g = dist.new_group(list(range(dist_world.size)), backend="nccl")
        assert dist.get_backend(g) == "nccl"
        yield SimpleNamespace(group=g, fake=fake, n=dist_world.size, r=dist_world.rank)
        dist.destroy_process_group(g)
    cupy_or_none.cache_clear()  # in case anything looked CuPy up while the fake was installed


@pytest.fixture
def fake(nccl):
    nccl.fake.calls.clear()
    return nccl.fake


def cuda(arr):
    """A "CUDA" tensor on a copy of ``arr`` (its data a fake-CuPy array)."""
    t = wrap(fake_nccl.device_array(arr))
    assert t.is_cuda
    return t


def host(t) -> np.ndarray:
    return np.array(t._data)


def check(got: np.ndarray, expected: np.ndarray, dtype: str):
    got = np.asarray(got)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if dtype in ("float16", "bfloat16"):
        tol = 1e-2
    else:
        tol = 1e-6
    np.testing.assert_allclose(
        got.astype(np.complex128 if got.dtype.kind == "c" else np.float64),
        expected.astype(np.complex128 if expected.dtype.kind == "c" else np.float64),
        rtol=tol,
        atol=tol,
    )


ALL_OPS = [ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MAX, ReduceOp.MIN]


@pytest.mark.parametrize(
    "dtype,ops",
    [
        ("float32", ALL_OPS),
        ("float64", ALL_OPS),
        ("float16", ALL_OPS),
        ("bfloat16", ALL_OPS),
        ("int32", ALL_OPS),
        ("int64", ALL_OPS),
        ("complex64", [ReduceOp.SUM, ReduceOp.AVG]),
        ("bool", [ReduceOp.SUM, ReduceOp.MAX, ReduceOp.MIN, ReduceOp.PRODUCT]),
    ],
)
def test_all_reduce_every_op_against_numpy(nccl, fake, dtype, ops):
    n, r = nccl.n, nccl.r
    for case, op in enumerate(ops):
        shape = [(3, 5), (7,), (), (2, 3, 2), (0, 4)][case]
        xs = [data(k, shape, dtype, case) for k in range(n)]
        t = cuda(xs[r])
        before = t._version
        assert dist.all_reduce(t, op=op, group=nccl.group) is None
        check(host(t), reference(op, xs, dtype), dtype)
        assert t._version == before + 1
    # what reached NCCL: a single allReduce per call, with the count and codes NCCL needs
    assert fake.names() == ["allReduce"] * len(ops)
    for (_, count, code, op_code), op, case in zip(fake.calls, ops, range(len(ops))):
        numel = int(np.prod([(3, 5), (7,), (), (2, 3, 2), (0, 4)][case]))
        if dtype == "bool":  # as uint8: or = MAX, and = MIN
            assert code == 1
            assert op_code == OP["max" if op in (ReduceOp.SUM, ReduceOp.MAX) else "min"]
        elif dtype == "complex64":  # pairs of float32, summed (AVG: a division after)
            assert (count, code, op_code) == (2 * numel, 7, OP["sum"])
        else:
            assert (count, code) == (numel, CODE[dtype])
            want = {ReduceOp.SUM: "sum", ReduceOp.PRODUCT: "prod", ReduceOp.MAX: "max"}
            want.update({ReduceOp.MIN: "min", ReduceOp.AVG: "avg" if "int" not in dtype else "sum"})
            assert op_code == OP[want[op]]
        if dtype != "bool" and dtype != "complex64":
            assert count == numel


def test_all_reduce_avg_without_nccl_avg(nccl, fake, monkeypatch):
    """An older CuPy without NCCL_AVG (nor NCCL_BFLOAT16: nccl.h's code 9 is used): SUM,
    then the division in _nccl._average (bfloat16 was floor-divided there, as integers)."""
    monkeypatch.delattr(fake.nccl, "NCCL_AVG")
    monkeypatch.delattr(fake.nccl, "NCCL_BFLOAT16")
    n, r = nccl.n, nccl.r
    for case, dtype in enumerate(["float32", "bfloat16", "float64"]):
        xs = [data(k, (4, 3), dtype, 20 + case) for k in range(n)]
        t = cuda(xs[r])
        dist.all_reduce(t, op=ReduceOp.AVG, group=nccl.group)
        check(host(t), reference(ReduceOp.AVG, xs, dtype), dtype)
    assert [c[2:] for c in fake.calls] == [(7, OP["sum"]), (9, OP["sum"]), (8, OP["sum"])]


def test_all_reduce_integer_avg_truncates_toward_zero(nccl, fake):
    n, r = nccl.n, nccl.r
    xs = [np.array([-7, -5, -1, 0, 1, 5, 7, 3 * n + 1], np.int64) * (k + 1) for k in range(n)]
    t = cuda(xs[r])
    dist.all_reduce(t, op=ReduceOp.AVG, group=nccl.group)
    s = np.sum(xs, axis=0)
    np.testing.assert_array_equal(host(t), np.trunc(s / n).astype(np.int64))


def test_all_reduce_async_and_non_contiguous(nccl, fake):
    n, r = nccl.n, nccl.r
    xs = [data(k, (4, 6), "float32", 9) for k in range(n)]
    base = cuda(xs[r])
    view = wrap(base._data.T)  # transposed: not C-contiguous
    work = dist.all_reduce(view, group=nccl.group, async_op=True)
    synced = fake.events_synchronized
    assert work.wait() and work.is_completed()
    assert fake.events_synchronized == synced + 1
    check(host(base), reference(ReduceOp.SUM, xs, "float32"), "float32")
    # every other column: the untouched columns keep their values
    ys = [data(k, (3, 8), "float64", 10) for k in range(n)]
    base = cuda(ys[r])
    strided = wrap(base._data[:, ::2])
    dist.all_reduce(strided, op=ReduceOp.MAX, group=nccl.group)
    want = ys[r].copy()
    want[:, ::2] = np.max(np.stack(ys), axis=0)[:, ::2]
    check(host(base), want, "float64")
    assert fake.names() == ["allReduce", "allReduce"]
    assert fake.calls[0][1] == 24 and fake.calls[1][1] == 12


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int64", "complex64", "bool"])
def test_reduce_to_each_root(nccl, fake, dtype):
    n, r = nccl.n, nccl.r
    for dst in {0, n - 1}:
        op = ReduceOp.AVG if dtype in ("int64", "complex64") else ReduceOp.SUM
        op = ReduceOp.MIN if dtype == "bool" else op
        xs = [data(k, (2, 5), dtype, 30 + dst) for k in range(n)]
        t = cuda(xs[r])
        work = dist.reduce(t, dst=dst, op=op, group=nccl.group, async_op=dst == 0)
        if work is not None:
            assert work.wait()
        check(host(t), reference(op, xs, dtype) if r == dst else xs[r], dtype)
        # into a transposed (non-contiguous) tensor
        base = cuda(np.ascontiguousarray(xs[r].T))
        dist.reduce(wrap(base._data.T), dst=dst, op=op, group=nccl.group)
        check(host(base).T, reference(op, xs, dtype) if r == dst else xs[r], dtype)
    assert set(fake.names()) == {"reduce"}
    assert [c[4] for c in fake.calls] == [d for d in sorted({0, n - 1}) for _ in range(2)]


@pytest.mark.parametrize("dtype", ["float16", "bool", "complex64", "int32"])
def test_broadcast_from_last_rank(nccl, fake, dtype):
    n, r = nccl.n, nccl.r
    xs = [data(k, (3, 4), dtype, 40) for k in range(n)]
    t = cuda(xs[r])
    dist.broadcast(t, src=n - 1, group=nccl.group)
    check(host(t), xs[n - 1], dtype)
    # a non-contiguous view receives into its own elements only
    base = cuda(data(r, (4, 6), dtype, 41))
    keep = host(base).copy()
    work = dist.broadcast(wrap(base._data[::2, 1::2]), src=0, group=nccl.group, async_op=True)
    work.wait()
    keep[::2, 1::2] = data(0, (4, 6), dtype, 41)[::2, 1::2]
    check(host(base), keep, dtype)
    itemsize = _np_dtype(dtype).itemsize
    assert fake.calls == [
        ("broadcast", 12 * itemsize, 1, n - 1),  # moved as bytes
        ("broadcast", 6 * itemsize, 1, 0),
    ]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int32", "bool"])
def test_all_gather_and_all_gather_into_tensor(nccl, fake, dtype):
    n, r = nccl.n, nccl.r
    xs = [data(k, (2, 3), dtype, 50) for k in range(n)]
    lst = [cuda(np.zeros((2, 3), _np_dtype(dtype))) for _ in range(n)]
    dist.all_gather(lst, cuda(xs[r]), group=nccl.group)
    for k in range(n):
        check(host(lst[k]), xs[k], dtype)
    # concatenated (n*2, 3) and stacked (n, 2, 3) outputs; a transposed (non-contiguous) input
    out = cuda(np.zeros((2 * n, 3), _np_dtype(dtype)))
    dist.all_gather_into_tensor(out, cuda(xs[r]), group=nccl.group)
    check(host(out), np.concatenate(xs), dtype)
    base = cuda(np.zeros((n, 3, 2), _np_dtype(dtype)))
    out = wrap(base._data.transpose(0, 2, 1))  # stacked (n, 2, 3), not contiguous
    src = cuda(np.ascontiguousarray(xs[r].T))
    work = dist.all_gather_into_tensor(out, wrap(src._data.T), group=nccl.group, async_op=True)
    work.wait()
    check(host(base).transpose(0, 2, 1).reshape(2 * n, 3), np.concatenate(xs), dtype)
    # 0-d inputs
    scalars = [data(k, (), dtype, 51) for k in range(n)]
    out = cuda(np.zeros(n, _np_dtype(dtype)))
    dist.all_gather_into_tensor(out, cuda(scalars[r]), group=nccl.group)
    check(host(out), np.stack(scalars), dtype)
    nbytes = 6 * _np_dtype(dtype).itemsize
    assert [c[:2] for c in fake.calls] == [("allGather", nbytes)] * 3 + [
        ("allGather", _np_dtype(dtype).itemsize)
    ]


@pytest.mark.parametrize(
    "dtype,op",
    [
        ("float32", ReduceOp.SUM),
        ("float16", ReduceOp.MAX),
        ("bfloat16", ReduceOp.AVG),
        ("int64", ReduceOp.AVG),
        ("complex64", ReduceOp.AVG),
        ("bool", ReduceOp.SUM),
    ],
)
def test_reduce_scatter_tensor_and_list(nccl, fake, dtype, op):
    n, r = nccl.n, nccl.r
    chunks = [data(k, (n * 2, 3), dtype, 60) for k in range(n)]
    want = reference(op, [c[2 * r : 2 * r + 2] for c in chunks], dtype)
    out = cuda(np.zeros((2, 3), _np_dtype(dtype)))
    dist.reduce_scatter_tensor(out, cuda(chunks[r]), op=op, group=nccl.group)
    check(host(out), want, dtype)
    # the list form, into a non-contiguous output
    base = cuda(np.zeros((3, 2), _np_dtype(dtype)))
    pieces = [cuda(chunks[r][2 * j : 2 * j + 2]) for j in range(n)]
    work = dist.reduce_scatter(wrap(base._data.T), pieces, op=op, group=nccl.group, async_op=True)
    work.wait()
    check(host(base).T, want, dtype)
    per = 12 if dtype == "complex64" else 6
    assert [c[:2] for c in fake.calls] == [("reduceScatter", per)] * 2


def test_all_to_all_single_unequal_splits(nccl, fake):
    n, r = nccl.n, nccl.r
    # rank k sends splits[k][j] rows to rank j: what a rank sends and receives differ
    splits = [[(2 * k + j + 1) % 3 for j in range(n)] for k in range(n)]
    for dtype, row in (("float32", (2,)), ("int64", ()), ("bfloat16", (3,))):
        xs = [data(k, (sum(splits[k]), *row), dtype, 70) for k in range(n)]

        def chunk(k, j, xs=xs):
            off = sum(splits[k][:j])
            return xs[k][off : off + splits[k][j]]

        out_splits = [splits[k][r] for k in range(n)]
        want = np.concatenate([chunk(k, r) for k in range(n)])
        if row:  # into a transposed (non-contiguous) output
            base = cuda(np.zeros((*row, sum(out_splits)), _np_dtype(dtype)))
            out = wrap(base._data.T)
        else:
            base = out = cuda(np.zeros(sum(out_splits), _np_dtype(dtype)))
        dist.all_to_all_single(out, cuda(xs[r]), out_splits, splits[r], group=nccl.group)
        check(host(out), want, dtype)
        if row:
            check(host(base).T, want, dtype)
    # one grouped send and recv per non-empty split, self included, as bytes
    sends = [c for c in fake.calls if c[0] == "send"]
    recvs = [c for c in fake.calls if c[0] == "recv"]
    assert len(sends) == 3 * sum(1 for s in splits[r] if s)
    assert len(recvs) == 3 * sum(1 for k in range(n) if splits[k][r])
    assert all(c[2] == 1 for c in sends + recvs)


def test_all_to_all_single_equal_splits_async(nccl, fake):
    n, r = nccl.n, nccl.r
    xs = [data(k, (2 * n, 3), "float64", 71) for k in range(n)]
    out = cuda(np.zeros((2 * n, 3)))
    work = dist.all_to_all_single(out, cuda(xs[r]), group=nccl.group, async_op=True)
    assert work.wait()
    check(host(out), np.concatenate([x[2 * r : 2 * r + 2] for x in xs]), "float64")


def test_send_recv_pairs(nccl, fake):
    """Even ranks send first, odd ranks receive first: each ungrouped send meets its recv."""
    n, r = nccl.n, nccl.r
    if n < 2 or n % 2:
        pytest.skip("needs an even number (>= 2) of ranks")
    nxt, prv = (r + 1) % n, (r - 1) % n
    payload = cuda(data(r, (3, 4), "bfloat16", 80))
    got = cuda(np.zeros((4, 3), _np_dtype("bfloat16")))
    recv_into = wrap(got._data.T)  # non-contiguous: received into a copy, written back
    if r % 2 == 0:
        s = dist.isend(payload, dst=nxt, group=nccl.group)
        q = dist.irecv(recv_into, src=prv, group=nccl.group)
    else:
        q = dist.irecv(recv_into, src=prv, group=nccl.group)
        s = dist.isend(payload, dst=nxt, group=nccl.group)
    assert q.wait() and s.wait()
    assert q.source_rank() == prv
    check(host(got).T, data(prv, (3, 4), "bfloat16", 80), "bfloat16")
    # blocking forms
    t = cuda(data(r, (5,), "int64", 81))
    if r % 2 == 0:
        dist.send(t, dst=nxt, group=nccl.group)
        assert dist.recv(t, src=prv, group=nccl.group) == prv
    else:
        other = cuda(np.zeros(5, np.int64))
        assert dist.recv(other, src=prv, group=nccl.group) == prv
        dist.send(t, dst=nxt, group=nccl.group)
        t = other
    check(host(t), data(prv, (5,), "int64", 81), "int64")
    assert [c[0] for c in fake.calls].count("send") == 2


def test_unsupported_reductions_raise_on_every_rank(nccl, fake):
    g = nccl.group
    with pytest.raises(TypeError, match="not supported by NCCL"):
        dist.all_reduce(cuda(np.ones(3, np.int16)), group=g)
    with pytest.raises(ValueError, match="BAND"):
        dist.all_reduce(cuda(np.ones(3, np.float32)), op=ReduceOp.BAND, group=g)
    with pytest.raises(ValueError, match="complex"):
        dist.all_reduce(cuda(np.ones(3, np.complex64)), op=ReduceOp.MAX, group=g)
    with pytest.raises(ValueError, match="bool"):
        dist.all_reduce(cuda(np.ones(3, bool)), op=ReduceOp.AVG, group=g)
    with pytest.raises(ValueError, match="explicit src"):
        dist.irecv(cuda(np.ones(3, np.float32)), group=g)
    assert fake.calls == []  # nothing reached NCCL
    # int16 still broadcasts (moved as bytes)
    t = cuda(np.full(3, nccl.r, np.int16))
    dist.broadcast(t, src=0, group=g)
    np.testing.assert_array_equal(host(t), np.zeros(3, np.int16))


def test_fake_rejects_bad_pointers_counts_and_codes(nccl, fake):
    """The fake fails loudly where a GPU would read out of bounds or misread the type."""
    comm = _nccl.communicator(nccl.group, 0)
    buf = fake_nccl.device_array(np.zeros(4, np.float32))
    p = buf.data.ptr
    with pytest.raises(ValueError, match="run past the end"):
        comm.allReduce(p, p, 5, 7, 0, 0)
    with pytest.raises(ValueError, match="run past the end"):
        comm.allReduce(p + 8, p + 8, 3, 7, 0, 0)
    with pytest.raises(ValueError, match="unknown ncclDataType_t"):
        comm.allReduce(p, p, 4, 42, 0, 0)
    with pytest.raises(ValueError, match="unknown ncclRedOp_t"):
        comm.allReduce(p, p, 4, 7, 9, 0)
    with pytest.raises(ValueError, match="overlap"):
        comm.allReduce(p, p + 4, 3, 7, 0, 0)
    with pytest.raises(ValueError, match="not the address"):
        comm.allReduce(np.zeros(4, np.float32).ctypes.data, p, 4, 7, 0, 0)
    # allGather in place (sendbuff = recvbuff + rank * count) is allowed, other overlaps not
    n, r = nccl.n, nccl.r
    big = fake_nccl.device_array(np.zeros(2 * n, np.float32))
    big[2 * r : 2 * r + 2] = r + 1
    comm.allGather(big.data.ptr + 8 * r, big.data.ptr, 2, 7, 0)
    np.testing.assert_array_equal(np.asarray(big), np.repeat(np.arange(1, n + 1), 2))
    if n > 1:
        with pytest.raises(ValueError, match="overlaps"):
            comm.allGather(big.data.ptr + 8 * ((r + 1) % n), big.data.ptr, 2, 7, 0)
    # reduceScatter in place (recvbuff = sendbuff + rank * recvcount)
    big[...] = np.arange(2 * n, dtype=np.float32)
    comm.reduceScatter(big.data.ptr, big.data.ptr + 8 * r, 2, 7, 0, 0)
    np.testing.assert_array_equal(
        np.asarray(big[2 * r : 2 * r + 2]), n * np.arange(2 * r, 2 * r + 2)
    )


def test_fake_detects_mismatched_collectives(nccl, fake):
    if nccl.n < 2:
        pytest.skip("needs two ranks")
    comm = _nccl.communicator(nccl.group, 0)
    buf = fake_nccl.device_array(np.zeros(4, np.float32))
    count = 4 if nccl.r == 0 else 3  # the counts differ across ranks: a hang on a GPU
    with pytest.raises(fake_nccl.NcclError, match="collective mismatch"):
        comm.allReduce(buf.data.ptr, buf.data.ptr, count, 7, 0, 0)


RING = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {here!r})
    import numpy as np, pytest
    import fake_nccl
    fake_nccl.P2P_TIMEOUT_S = 2.0
    fake_nccl.install(pytest.MonkeyPatch())
    import tocha.core.distributed as dist
    from tocha.core._tensor import wrap
    dist.init_process_group("mpi")
    g = dist.new_group(backend="nccl")
    r, n = dist.get_rank(), dist.get_world_size()
    t = wrap(fake_nccl.device_array(np.full(4, r, np.float32)))
    got = wrap(fake_nccl.device_array(np.zeros(4, np.float32)))
    try:
        s = dist.isend(t, dst=(r + 1) % n, group=g)
        q = dist.irecv(got, src=(r - 1) % n, group=g)
        q.wait()
        s.wait()
        print(f"rank {{r}}: ring completed", flush=True)
    except RuntimeError as e:
        print(f"rank {{r}}: {{e}}", flush=True)
    try:
        dist.all_reduce(t, group=g)
    except Exception as e:
        print(f"rank {{r}} then: {{type(e).__name__}}: {{e}}", flush=True)
    dist.barrier()
    dist.destroy_process_group()
    """
)


def test_fake_reports_the_ungrouped_send_first_ring_as_a_gpu_hang(mpiexec, tmp_path):
    """Every rank isend()s to the next, then irecv()s from the previous: ungrouped ncclSend is
    "blocking for the GPU" (NCCL's docs) until the peer's ncclRecv runs, which is queued
    behind the peer's own send, so a GPU stream hangs; the fake says so instead of hanging."""
    script = tmp_path / "ring.py"
    script.write_text(RING.format(here=str(Path(__file__).resolve().parent)))
    res = mpiexec(script, 2, timeout=60)
    out = res.stdout
    assert res.returncode == 0, out
    assert "ring completed" not in out, out
    for r in (0, 1):
        assert f"rank {r}: send to {1 - r}: not matched within 2 s" in out, out
        assert f"rank {r} then: NcclError: allReduce: the communicator is in error" in out, out


def test_subgroup_without_rank_zero(nccl, fake):
    """A second nccl group over global ranks 1..n-1: its own communicator (bootstrapped from
    its group rank 0, global rank 1), global src/dst mapped to group ranks."""
    n, r = nccl.n, nccl.r
    ranks = list(range(1, n)) if n > 1 else [0]
    g = dist.new_group(ranks, backend="nccl")
    try:
        xs = {k: data(k, (2, 3), "float32", 90) for k in ranks}
        t = cuda(xs.get(r, np.full((2, 3), -1, np.float32)))
        assert dist.all_reduce(t, group=g) is None
        want = reference(ReduceOp.SUM, list(xs.values()), "float32")
        check(host(t), want if r in ranks else np.full((2, 3), -1, np.float32), "float32")
        t = cuda(xs.get(r, np.zeros((2, 3), np.float32)))
        dist.broadcast(t, src=ranks[-1], group=g)
        dist.reduce(t, dst=ranks[0], group=g)
        if r in ranks:
            want = xs[ranks[-1]] * (len(ranks) if r == ranks[0] else 1)
            check(host(t), want, "float32")
            (comm,) = g._nccl.values()
            assert (comm.size(), comm.rank_id()) == (len(ranks), ranks.index(r))
            # the roots NCCL was given are group ranks
            assert [c[0] for c in fake.calls] == ["allReduce", "broadcast", "reduce"]
            assert fake.calls[1][3] == len(ranks) - 1 and fake.calls[2][4] == 0
        else:
            assert fake.calls == []
            np.testing.assert_array_equal(host(t), np.zeros((2, 3), np.float32))
    finally:
        if r in ranks:
            dist.destroy_process_group(g)


def test_one_device_per_call(nccl, fake):
    """A second device gets its own communicator; tensors of one call on two devices (or a
    CPU one among them) are refused before NCCL is handed a pointer it cannot use."""
    n, r, g = nccl.n, nccl.r, nccl.group
    xs = [data(k, (5,), "float64", 95) for k in range(n)]
    with fake_nccl.Device(1):
        t1 = cuda(xs[r])
    assert t1._data.device.id == 1 and str(t1.device) == "cuda:1"
    dist.all_reduce(t1, op=ReduceOp.MAX, group=g)
    check(host(t1), reference(ReduceOp.MAX, xs, "float64"), "float64")
    assert g._nccl[1].device_id() == 1
    t0 = cuda(xs[r])
    cpu = wrap(np.zeros(5 * n))
    assert not cpu.is_cuda
    calls = len(fake.calls)
    with pytest.raises(ValueError, match="one CUDA device, got cuda:0, cuda:1"):
        dist.all_gather([t1] * n, t0, group=g)
    with pytest.raises(ValueError, match="one CUDA device, got cpu, cuda:0"):
        dist.all_gather_into_tensor(cpu, t0, group=g)
    with pytest.raises(ValueError, match="reduce_scatter_tensor: .* cuda:0, cuda:1"):
        dist.reduce_scatter_tensor(t1, cuda(np.zeros(5 * n)), group=g)
    if n > 1:  # (one input is stacked onto the current device, as cupy.stack does)
        with pytest.raises(ValueError, match="reduce_scatter: .* cuda:0, cuda:1"):
            dist.reduce_scatter(t0, [t1] + [t0] * (n - 1), group=g)
    with pytest.raises(ValueError, match="all_to_all_single: .* cpu, cuda:0"):
        dist.all_to_all_single(cpu, cuda(np.zeros(5 * n)), group=g)
    assert len(fake.calls) == calls
    # the fake itself refuses a pointer of another device
    with pytest.raises(ValueError, match="on device 1, the communicator's device is 0"):
        comm = _nccl.communicator(g, 0)
        comm.allReduce(t1._data.data.ptr, t1._data.data.ptr, 5, 8, 0, 0)
