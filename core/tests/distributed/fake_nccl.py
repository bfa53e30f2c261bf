"""``cupy.cuda.nccl`` on the host: NCCL's semantics over MPI, for running ``_nccl.py`` without
a GPU.

The fake communicator is handed what CuPy's ``NcclCommunicator`` is handed: raw device
pointers, element counts, ``ncclDataType_t`` / ``ncclRedOp_t`` codes and a stream. It reads
and writes that memory through ctypes, so what is tested is the pointer arithmetic, the counts
and the type codes ``_nccl.py`` computes, not a second implementation of it. "Device" arrays
are :class:`NcclDeviceArray` (the ``DeviceArray`` of ``core/tests/cuda/host_kernels.py`` with
a ``.device``); every pointer must fall inside one of them, with ``count`` elements of the
named type fitting before its end, or the call fails loudly.

Semantics follow NCCL's documentation:

- collectives (allReduce, reduce, broadcast, allGather, reduceScatter): every rank must call
  the same collective with the same count, type, op and root, in the same order (checked:
  a mismatch raises on every rank); buffers may be in place only in NCCL's in-place layouts
  (``sendbuff == recvbuff``; allGather ``sendbuff == recvbuff + rank * count``; reduceScatter
  ``recvbuff == sendbuff + rank * recvcount``); any other overlap raises. reduce's recvbuff
  and broadcast's sendbuff only matter on the root. Reductions run in the buffer's type, one
  rank after another (ncclAvg: sum, then divide by the rank count; integers truncated).
- send / recv outside a group are "blocking for the GPU": the send completes only once the
  peer posts the matching recv (same count and type), so two ranks that both send first
  deadlock on a GPU; here that shows as a ``RuntimeError`` after ``P2P_TIMEOUT_S`` seconds.
  Inside ``groupStart()`` / ``groupEnd()`` operations run at ``groupEnd`` and progress
  together (sends to oneself included).

Execution is eager: an operation's result is in memory when the call returns (as if the GPU
ran it at once), and events are always complete. ``install(monkeypatch)`` puts the fake
``cupy`` (host_kernels' NumPy stand-in, plus ``cupy.cuda`` streams, events, devices and this
``nccl``) into ``sys.modules`` and returns a :class:`FakeNccl` that records every call.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import itertools
import os
import sys
import time
import types
import weakref
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # core/tests: the cuda package
from cuda.host_kernels import DeviceArray, fake_cupy  # noqa: E402

from tocha.core._dtype import _NP_BFLOAT16  # noqa: E402

P2P_TIMEOUT_S = 30.0
_P2P_TAG = 7401
_BOOT_TAG = 7402
_MAGIC = b"FAKENCCL"

# ncclDataType_t (nccl.h) -> NumPy dtype; ncclRedOp_t names
DTYPES = {
    0: np.dtype(np.int8),
    1: np.dtype(np.uint8),
    2: np.dtype(np.int32),
    3: np.dtype(np.uint32),
    4: np.dtype(np.int64),
    5: np.dtype(np.uint64),
    6: np.dtype(np.float16),
    7: np.dtype(np.float32),
    8: np.dtype(np.float64),
    9: np.dtype(_NP_BFLOAT16),
}
OPS = {0: "sum", 1: "prod", 2: "max", 3: "min", 4: "avg"}


# --- device memory ---------------------------------------------------------------------------

_LIVE: dict[int, tuple[int, int, weakref.ref]] = {}  # id -> (lo, hi, array)
_CURRENT_DEVICE = [0]


def _forget(key):
    return lambda _ref: _LIVE.pop(key, None)


class NcclDeviceArray(DeviceArray):
    """host_kernels' ``DeviceArray`` with CuPy's ``.device`` (a ``Device`` with ``.id``); every
    one is registered so the fake can check the pointers it is given."""

    def __array_finalize__(self, obj):
        dev = getattr(obj, "_device_id", None)
        self._device_id = _CURRENT_DEVICE[0] if dev is None else dev
        lo = self.__array_interface__["data"][0]
        if self.size:
            lo, hi = np.lib.array_utils.byte_bounds(self)
        else:
            hi = lo
        key = id(self)
        _LIVE[key] = (lo, hi, weakref.ref(self, _forget(key)))

    @property
    def device(self):
        return Device(self._device_id)


def device_array(a, dtype=None) -> NcclDeviceArray:
    """A C-contiguous "device" copy of ``a``."""
    return np.array(a, dtype=dtype, order="C").view(NcclDeviceArray)


def _owner(ptr: int, nbytes: int, what: str):
    """The live device array holding ``[ptr, ptr + nbytes)``; raises when there is none."""
    best = None
    for lo, hi, ref in list(_LIVE.values()):
        arr = ref()
        if arr is None or not lo <= ptr < max(hi, lo + 1):
            continue
        if ptr + nbytes <= hi:
            return arr
        best = max(best or 0, hi - ptr)
    if best is not None:
        raise ValueError(
            f"{what}: {nbytes} bytes from {ptr:#x} run past the end of the device buffer "
            f"({best} bytes left): the count is too large for the memory it points at"
        )
    raise ValueError(f"{what}: {ptr:#x} is not the address of any live device array")


def _typed(ptr: int, count: int, code, what: str, device: int):
    """(NumPy view of ``count`` elements of NCCL type ``code`` at ``ptr`` on ``device``, the
    array holding them)."""
    if code not in DTYPES:
        raise ValueError(f"{what}: unknown ncclDataType_t {code!r}")
    if not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"{what}: count must be a non-negative integer, got {count!r}")
    if not isinstance(ptr, (int, np.integer)):
        raise TypeError(f"{what}: a pointer must be an int, got {type(ptr).__name__}")
    dtype = DTYPES[code]
    count = int(count)
    nbytes = count * dtype.itemsize
    if count == 0:
        return np.empty(0, dtype), None
    owner = _owner(int(ptr), nbytes, what)
    if owner._device_id != device:
        raise ValueError(
            f"{what}: the memory is on device {owner._device_id}, the communicator's device is "
            f"{device}"
        )
    raw = (ctypes.c_char * nbytes).from_address(int(ptr))
    return np.frombuffer(raw, dtype=np.uint8).view(dtype), owner


def _overlap(p1: int, n1: int, p2: int, n2: int) -> bool:
    return n1 > 0 and n2 > 0 and p1 < p2 + n2 and p2 < p1 + n1


def _reduce(arrays: list, op: str, n: int):
    acc = arrays[0].copy()
    fn = {"sum": np.add, "avg": np.add, "prod": np.multiply, "max": np.maximum}
    fn = fn.get(op, np.minimum)
    for a in arrays[1:]:
        acc = fn(acc, a)
    if op == "avg":
        if acc.dtype.kind in "iu":
            acc = (np.sign(acc) * (np.abs(acc) // n)).astype(acc.dtype)
        else:
            acc = (acc / acc.dtype.type(n)).astype(acc.dtype)
    return acc


# --- groups and point to point ----------------------------------------------------------------

_GROUP = {"depth": 0, "ops": []}


_HANG = (
    "on a GPU this stream would hang (ncclSend/ncclRecv outside a group block the GPU until "
    "the peer's matching call runs; fuse them with groupStart()/groupEnd())"
)


def _wait(test, what: str, hint: str = _HANG):
    """Poll ``test()`` until true; a RuntimeError after ``P2P_TIMEOUT_S`` seconds."""
    limit = time.monotonic() + P2P_TIMEOUT_S
    while True:
        out = test()
        if out:
            return out
        if time.monotonic() > limit:
            raise RuntimeError(f"{what}: not matched within {P2P_TIMEOUT_S:g} s; {hint}")
        time.sleep(0.0005)


def _recv_into(comm, peer: int, view, code, count: int, what: str) -> None:
    _wait(lambda: comm._mpi.iprobe(source=peer, tag=_P2P_TAG), what)
    got_count, got_code, data = comm._mpi.recv(source=peer, tag=_P2P_TAG)
    if (got_count, got_code) != (count, code):
        raise RuntimeError(
            f"{what}: rank {peer} sent {got_count} elements of type {got_code}, this rank "
            f"receives {count} of type {code} (NCCL needs the same count and datatype)"
        )
    view[...] = np.frombuffer(data, dtype=view.dtype)


def groupStart():
    _GROUP["depth"] += 1


def groupEnd():
    if _GROUP["depth"] == 0:
        raise RuntimeError("groupEnd without groupStart (ncclInvalidUsage)")
    _GROUP["depth"] -= 1
    if _GROUP["depth"]:
        return
    ops, _GROUP["ops"] = _GROUP["ops"], []
    for kind, args in ops:
        if kind == "coll":
            args()
    sends = [a for k, a in ops if k == "send"]
    recvs = [a for k, a in ops if k == "recv"]
    reqs = [
        c._mpi.isend((v.size, code, v.tobytes()), dest=p, tag=_P2P_TAG) for c, p, v, code in sends
    ]
    for comm, peer, view, code in recvs:
        _recv_into(comm, peer, view, code, view.size, f"recv from {peer} (in a group)")
    for r in reqs:
        r.wait()


# --- the communicator -------------------------------------------------------------------------


def _mpi():
    from mpi4py import MPI

    return MPI


_TOKENS = itertools.count(1)


def get_unique_id() -> tuple:
    """128 signed chars, as CuPy's: the creator's MPI world rank and a fresh token."""
    world = _mpi().COMM_WORLD.Get_rank()
    raw = (
        _MAGIC
        + world.to_bytes(4, "little")
        + (os.getpid() * 65536 + next(_TOKENS)).to_bytes(8, "little")
    )
    raw = raw.ljust(128, b"\0")
    return tuple(b - 256 if b > 127 else b for b in raw)


class NcclError(RuntimeError):
    pass


class NcclCommunicator:
    """``NcclCommunicator(ndev, commId, rank)``: collective over the ``ndev`` processes that
    pass the same id (a private MPI communicator, ranks in NCCL rank order)."""

    def __init__(self, ndev: int, commId: tuple, rank: int):
        if not isinstance(commId, tuple) or len(commId) != 128:
            raise TypeError("NcclCommunicator: commId must be the 128-tuple of get_unique_id()")
        raw = bytes(b & 0xFF for b in commId)
        if not raw.startswith(_MAGIC):
            raise NcclError("NcclCommunicator: commId does not come from get_unique_id()")
        if not 0 <= rank < ndev:
            raise NcclError(f"NcclCommunicator: rank {rank} outside [0, {ndev})")
        root = int.from_bytes(raw[8:12], "little")
        token = raw[12:20]
        MPI = _mpi()
        world = MPI.COMM_WORLD
        me = world.Get_rank()
        what = f"ncclCommInitRank(rank {rank} of {ndev})"
        hint = "every rank of the communicator must call it with the creator's id"
        if me == root:
            members = {rank: me}
            while len(members) < ndev:
                _wait(lambda: world.iprobe(source=MPI.ANY_SOURCE, tag=_BOOT_TAG), what, hint)
                tok, r, w, nd = world.recv(source=MPI.ANY_SOURCE, tag=_BOOT_TAG)
                if tok != token or nd != ndev or r in members or not 0 <= r < ndev:
                    raise NcclError(f"{what}: inconsistent init from world rank {w}: rank {r}")
                members[r] = w
            order = [members[r] for r in range(ndev)]
            for w in order:
                if w != me:
                    world.send(order, dest=w, tag=_BOOT_TAG)
        else:
            world.send((token, rank, me, ndev), dest=root, tag=_BOOT_TAG)
            _wait(lambda: world.iprobe(source=root, tag=_BOOT_TAG), what, hint)
            order = world.recv(source=root, tag=_BOOT_TAG)
        group = world.Get_group().Incl(order)
        self._mpi = world.Create_group(group, tag=_BOOT_TAG)
        group.Free()
        assert self._mpi.Get_rank() == rank
        self._rank, self._size, self._device = rank, ndev, _CURRENT_DEVICE[0]
        self._error = None

    # cupy's accessors
    @property
    def comm(self) -> int:
        return id(self)

    def device_id(self) -> int:
        return self._device

    def rank_id(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def destroy(self) -> None:
        if self._mpi is not None:
            self._mpi.Free()
            self._mpi = None

    abort = destroy

    # --- helpers
    def _run(self, fn) -> None:
        if _GROUP["depth"]:
            _GROUP["ops"].append(("coll", fn))
        else:
            fn()

    def _exchange(self, name: str, meta: tuple, data):
        got = self._mpi.allgather((name, meta, data))
        for r, (n2, m2, _) in enumerate(got):
            if (n2, m2) != (name, meta):
                raise NcclError(
                    f"collective mismatch: rank {self._rank} called {name}{meta}, rank {r} "
                    f"{n2}{m2} (on a GPU: a hang or corrupted data)"
                )
        return [d for _, _, d in got]

    def _record(self, name, *args):
        FAKE.calls.append((name, *args))

    @staticmethod
    def _op(op, what):
        if op not in OPS:
            raise ValueError(f"{what}: unknown ncclRedOp_t {op!r}")
        return OPS[op]

    def _check_stream(self, stream, what):
        if self._mpi is None:
            raise NcclError(f"{what}: the communicator was destroyed")
        if self._error is not None:
            raise NcclError(f"{what}: the communicator is in error after: {self._error}")
        if not isinstance(stream, (int, np.integer)):
            raise TypeError(f"{what}: stream must be a cudaStream_t (int), got {stream!r}")

    # --- collectives
    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        what = "allReduce"
        self._check_stream(stream, what)
        name = self._op(op, what)
        send, keep1 = _typed(sendbuf, count, datatype, what + " sendbuff", self._device)
        recv, keep2 = _typed(recvbuf, count, datatype, what + " recvbuff", self._device)
        nbytes = send.nbytes
        if sendbuf != recvbuf and _overlap(sendbuf, nbytes, recvbuf, nbytes):
            raise ValueError(f"{what}: sendbuff and recvbuff overlap without being equal")
        self._record(what, count, datatype, op)

        def run(keep=(keep1, keep2)):
            xs = self._exchange(what, (count, datatype, op), send.tobytes())
            xs = [np.frombuffer(x, send.dtype) for x in xs]
            recv[...] = _reduce(xs, name, self._size)

        self._run(run)

    def reduce(self, sendbuf, recvbuf, count, datatype, op, root, stream):
        what = "reduce"
        self._check_stream(stream, what)
        name = self._op(op, what)
        if not 0 <= root < self._size:
            raise NcclError(f"{what}: root {root} outside [0, {self._size})")
        send, keep1 = _typed(sendbuf, count, datatype, what + " sendbuff", self._device)
        recv = keep2 = None
        if self._rank == root:  # recvbuff is only used on the root
            recv, keep2 = _typed(recvbuf, count, datatype, what + " recvbuff", self._device)
            if sendbuf != recvbuf and _overlap(sendbuf, send.nbytes, recvbuf, recv.nbytes):
                raise ValueError(f"{what}: sendbuff and recvbuff overlap without being equal")
        self._record(what, count, datatype, op, root)

        def run(keep=(keep1, keep2)):
            xs = self._exchange(what, (count, datatype, op, root), send.tobytes())
            if recv is not None:
                recv[...] = _reduce([np.frombuffer(x, send.dtype) for x in xs], name, self._size)

        self._run(run)

    def broadcast(self, sendbuff, recvbuff, count, datatype, root, stream):
        what = "broadcast"
        self._check_stream(stream, what)
        if not 0 <= root < self._size:
            raise NcclError(f"{what}: root {root} outside [0, {self._size})")
        recv, keep2 = _typed(recvbuff, count, datatype, what + " recvbuff", self._device)
        send = keep1 = None
        if self._rank == root:  # sendbuff is only used on the root
            send, keep1 = _typed(sendbuff, count, datatype, what + " sendbuff", self._device)
            if sendbuff != recvbuff and _overlap(sendbuff, send.nbytes, recvbuff, recv.nbytes):
                raise ValueError(f"{what}: sendbuff and recvbuff overlap without being equal")
        self._record(what, count, datatype, root)

        def run(keep=(keep1, keep2)):
            xs = self._exchange(
                what, (count, datatype, root), None if send is None else send.tobytes()
            )
            recv[...] = np.frombuffer(xs[root], recv.dtype)

        self._run(run)

    def bcast(self, buff, count, datatype, root, stream):
        self.broadcast(buff, buff, count, datatype, root, stream)

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):
        what = "allGather"
        self._check_stream(stream, what)
        send, keep1 = _typed(sendbuf, count, datatype, what + " sendbuff", self._device)
        recv, keep2 = _typed(
            recvbuf, count * self._size, datatype, what + " recvbuff", self._device
        )
        in_place = sendbuf == recvbuf + self._rank * send.nbytes
        if not in_place and _overlap(sendbuf, send.nbytes, recvbuf, recv.nbytes):
            raise ValueError(
                f"{what}: sendbuff overlaps recvbuff but is not recvbuff + rank * count"
            )
        self._record(what, count, datatype)

        def run(keep=(keep1, keep2)):
            xs = self._exchange(what, (count, datatype), send.tobytes())
            recv[...] = np.frombuffer(b"".join(xs), recv.dtype)

        self._run(run)

    def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):
        what = "reduceScatter"
        self._check_stream(stream, what)
        name = self._op(op, what)
        send, keep1 = _typed(
            sendbuf, recvcount * self._size, datatype, what + " sendbuff", self._device
        )
        recv, keep2 = _typed(recvbuf, recvcount, datatype, what + " recvbuff", self._device)
        in_place = recvbuf == sendbuf + self._rank * recv.nbytes
        if not in_place and _overlap(sendbuf, send.nbytes, recvbuf, recv.nbytes):
            raise ValueError(
                f"{what}: recvbuff overlaps sendbuff but is not sendbuff + rank * recvcount"
            )
        self._record(what, recvcount, datatype, op)

        def run(keep=(keep1, keep2)):
            xs = self._exchange(what, (recvcount, datatype, op), send.tobytes())
            lo = self._rank * recvcount
            blocks = [np.frombuffer(x, send.dtype)[lo : lo + recvcount] for x in xs]
            recv[...] = _reduce(blocks, name, self._size)

        self._run(run)

    # --- point to point
    def _peer(self, peer, what):
        if not 0 <= peer < self._size:
            raise NcclError(f"{what}: peer {peer} outside [0, {self._size})")

    def send(self, sendbuf, count, datatype, peer, stream):
        what = f"send to {peer}"
        self._check_stream(stream, what)
        self._peer(peer, what)
        view, keep = _typed(sendbuf, count, datatype, what, self._device)
        self._record("send", count, datatype, peer)
        if _GROUP["depth"]:
            _GROUP["ops"].append(("send", (self, peer, view, datatype)))
            return
        if peer == self._rank:
            raise RuntimeError(f"{what}: a send to oneself outside a group hangs the GPU")
        req = self._mpi.issend((view.size, datatype, view.tobytes()), dest=peer, tag=_P2P_TAG)
        self._blocking(lambda: _wait(req.Test, what))

    def recv(self, recvbuf, count, datatype, peer, stream):
        what = f"recv from {peer}"
        self._check_stream(stream, what)
        self._peer(peer, what)
        view, keep = _typed(recvbuf, count, datatype, what, self._device)
        self._record("recv", count, datatype, peer)
        if _GROUP["depth"]:
            _GROUP["ops"].append(("recv", (self, peer, view, datatype)))
            return
        if peer == self._rank:
            raise RuntimeError(f"{what}: a recv from oneself outside a group hangs the GPU")
        self._blocking(lambda: _recv_into(self, peer, view, datatype, view.size, what))

    def _blocking(self, fn) -> None:
        """An ungrouped send/recv; after a reported hang the communicator is unusable (NCCL's
        asynchronous error state; here its abandoned message could match a later call)."""
        try:
            fn()
        except RuntimeError as e:
            self._error = str(e)
            raise


# --- the rest of cupy.cuda --------------------------------------------------------------------


class Device:
    def __init__(self, device=None):
        self.id = _CURRENT_DEVICE[0] if device is None else int(device)
        self._prev = []

    def use(self):
        _CURRENT_DEVICE[0] = self.id

    def __enter__(self):
        self._prev.append(_CURRENT_DEVICE[0])
        self.use()
        return self

    def __exit__(self, *exc):
        _CURRENT_DEVICE[0] = self._prev.pop()

    def synchronize(self):
        pass

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)


class Stream:
    def __init__(self, ptr: int = 0):
        self.ptr = ptr

    def synchronize(self):
        pass


_NULL_STREAM = Stream(0)


class Event:
    """Execution is eager, so a recorded event is complete; records and waits are counted."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.recorded = False

    def record(self, stream=None):
        if stream is not None and not isinstance(stream, Stream):
            raise TypeError(f"Event.record: expected a Stream, got {type(stream).__name__}")
        self.recorded = True
        FAKE.events_recorded += 1

    def synchronize(self):
        FAKE.events_synchronized += 1

    @property
    def done(self) -> bool:
        return True


class FakeNccl:
    """What :func:`install` returns: the fake modules and a log of the NCCL calls made."""

    def __init__(self):
        self.calls: list = []
        self.events_recorded = 0
        self.events_synchronized = 0
        self.cupy = None
        self.nccl = None

    def names(self) -> list:
        return [c[0] for c in self.calls]

    array = staticmethod(device_array)


FAKE = FakeNccl()


def _nccl_module() -> types.ModuleType:
    mod = types.ModuleType("cupy.cuda.nccl")
    mod.available = True
    for name in ("SUM", "PROD", "MAX", "MIN", "AVG"):
        setattr(mod, f"NCCL_{name}", ["SUM", "PROD", "MAX", "MIN", "AVG"].index(name))
    for code, dt in DTYPES.items():
        setattr(mod, f"NCCL_{'BFLOAT16' if code == 9 else dt.name.upper()}", code)
    mod.NcclCommunicator = NcclCommunicator
    mod.NcclError = NcclError
    mod.get_unique_id = get_unique_id
    mod.groupStart = groupStart
    mod.groupEnd = groupEnd
    mod.get_version = lambda: 22005
    mod.get_build_version = lambda: 22005
    return mod


def _to_device(r):
    return r.view(NcclDeviceArray) if isinstance(r, np.ndarray) else r


def install(monkeypatch) -> FakeNccl:
    """Put a fake ``cupy`` with this ``cupy.cuda.nccl`` in ``sys.modules``."""
    cupy = fake_cupy()
    cupy.__spec__ = importlib.machinery.ModuleSpec("cupy", None, is_package=True)
    cupy.__path__ = []
    cupy.ndarray = DeviceArray
    for name in ("asarray", "ascontiguousarray", "empty", "zeros", "stack", "where", "concatenate"):
        fn = getattr(cupy, name)
        setattr(cupy, name, lambda *a, _f=fn, **k: _to_device(_f(*a, **k)))
    cuda = types.ModuleType("cupy.cuda")
    cuda.__path__ = []
    for key, value in vars(cupy.cuda).items():
        setattr(cuda, key, value)
    cuda.runtime.getDeviceCount = lambda: 1
    cuda.Device = Device
    cuda.Stream = Stream
    cuda.Event = Event
    cuda.get_current_stream = lambda: _NULL_STREAM
    nccl = _nccl_module()
    cuda.nccl = nccl
    cupy.cuda = cuda
    for name, mod in (("cupy", cupy), ("cupy.cuda", cuda), ("cupy.cuda.nccl", nccl)):
        monkeypatch.setitem(sys.modules, name, mod)
    FAKE.__init__()
    FAKE.cupy, FAKE.nccl = cupy, nccl
    return FAKE
