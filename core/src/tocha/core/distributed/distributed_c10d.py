"""Process groups and collectives on MPI (mpi4py), with NCCL for CuPy tensors.

Mirrors ``torch.distributed.distributed_c10d``. Design:

- The default group wraps a duplicate of ``MPI.COMM_WORLD`` (so user code calling mpi4py
  directly never matches tocha's messages); ``new_group`` splits it.
- Tensor collectives work in place on the tensor's ndarray through mpi4py's buffer interface
  (upper-case methods: ``Allreduce(MPI.IN_PLACE, buf)``), never pickling. Data movement
  (broadcast, gathers, scatters, all_to_all, send/recv) moves raw bytes (``MPI.BYTE``), so
  every dtype works, bfloat16 and bool included. Reductions use the array's MPI type;
  float16 and bfloat16 are reduced in float32 (cast, reduce, cast back: one rounding at the
  end, like NCCL's float accumulation) because MPI has no half types.
- ``ReduceOp.AVG`` is SUM followed by a division by the group size (MPI has no AVG).
- ``async_op=True`` uses MPI's nonblocking collectives and returns a :class:`Work`; results
  are written back into the tensors by ``Work.wait()`` (or a ``True`` ``is_completed()``).
- With ``backend='nccl'``, collectives on CUDA (CuPy) tensors run on a
  ``cupy.cuda.nccl.NcclCommunicator`` (see ``_nccl.py``); CPU tensors and object collectives
  still go over MPI.

mpi4py is imported by :func:`init_process_group`, never by ``import tocha.core``.
"""

from __future__ import annotations

import enum
import importlib.util
import os
import sys
import threading
import traceback
from datetime import timedelta
from typing import Any

import numpy as np

from .._dtype import _NP_BFLOAT16
from .._tensor import Tensor

__all__ = [
    "Backend",
    "GroupMember",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "all_to_all",
    "all_to_all_single",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "destroy_process_group",
    "gather",
    "gather_object",
    "get_backend",
    "get_global_rank",
    "get_group_rank",
    "get_local_rank",
    "get_node_local_rank",
    "get_process_group_ranks",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "irecv",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "is_nccl_available",
    "isend",
    "new_group",
    "recv",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
    "scatter_object_list",
    "send",
]

default_pg_timeout = timedelta(minutes=30)

_NOT_INIT = (
    "Default process group has not been initialized, please make sure to call init_process_group."
)


# --- availability ------------------------------------------------------------------------------


def is_mpi_available() -> bool:
    """Whether mpi4py can be imported (checked without importing it)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_nccl_available() -> bool:
    """Whether CuPy with its NCCL bindings is importable (imports CuPy when present)."""
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        from cupy.cuda import nccl
    except ImportError:
        return False
    return bool(getattr(nccl, "available", True))


def is_available() -> bool:
    """Whether ``tocha.core.distributed`` can run: it needs mpi4py (``pip install mpich mpi4py``)."""
    return is_mpi_available()


# --- ReduceOp, Backend ---------------------------------------------------------------------------


class RedOpType(enum.IntEnum):
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7


class ReduceOp:
    """Reduction operations, as ``torch.distributed.ReduceOp`` (``ReduceOp.SUM``, ...)."""

    RedOpType = RedOpType
    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR


class Backend(str):
    """Backend names: ``Backend.MPI == 'mpi'``, ``Backend.NCCL == 'nccl'``."""

    MPI = "mpi"
    NCCL = "nccl"
    GLOO = "gloo"

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        value = name.lower()
        if value not in ("mpi", "nccl"):
            raise ValueError(
                f"init_process_group: backend {name!r} is not supported by tocha; use 'mpi' "
                "(CPU and, via host copies, CUDA tensors) or 'nccl' (CUDA tensors over NCCL, "
                "the rest over MPI)"
            )
        return str.__new__(cls, value)


# --- process groups ------------------------------------------------------------------------------


class ProcessGroup:
    """A set of ranks with its own MPI communicator (and, lazily, its NCCL communicators)."""

    def __init__(self, comm, backend: str, ranks: list[int]):
        self.comm = comm
        self.backend = backend
        self.ranks = ranks  # global ranks, in group-rank order
        self._index = {g: i for i, g in enumerate(ranks)}
        self._rank = comm.Get_rank()
        self._size = comm.Get_size()
        self._nccl = {}  # device id -> NcclCommunicator, created on first CUDA collective

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def group_rank(self, global_rank: int, fn: str, what: str = "rank") -> int:
        try:
            return self._index[global_rank]
        except (KeyError, TypeError):
            raise ValueError(
                f"{fn}: {what} {global_rank!r} is not part of the group (its global ranks are "
                f"{self.ranks})"
            ) from None

    def __repr__(self) -> str:
        return f"ProcessGroup(backend={self.backend!r}, ranks={self.ranks})"


class _NonMember:
    def __repr__(self) -> str:
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    """``GroupMember.WORLD`` (the default group) and ``GroupMember.NON_GROUP_MEMBER``."""

    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = _NonMember()


class group:  # noqa: N801 - torch's name
    """``group.WORLD``: the default process group once initialized."""

    WORLD: ProcessGroup | None = None


_STATE: dict[str, Any] = {"world": None, "local_rank": None, "hooks": None, "groups": []}


def _mpi():
    from mpi4py import MPI

    return MPI


def is_initialized() -> bool:
    """Whether :func:`init_process_group` has been called (and not destroyed)."""
    return _STATE["world"] is not None


def _world(fn: str) -> ProcessGroup:
    pg = _STATE["world"]
    if pg is None:
        raise ValueError(f"{fn}: {_NOT_INIT}")
    return pg


def _group(group, fn: str) -> ProcessGroup | None:
    """The ProcessGroup for ``group`` (None: the default); None if this rank is not in it."""
    world = _world(fn)
    if group is None or group is GroupMember.WORLD:
        return world
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"{fn}: group must be a ProcessGroup or None, got {type(group).__name__}")
    return group


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    store=None,
    group_name: str = "",
    pg_options=None,
    device_id=None,
) -> None:
    """Join the job started by ``mpiexec``/``srun``: rank and world size come from MPI.

    Args:
        backend: ``'mpi'`` (default) or ``'nccl'`` (CUDA tensors over NCCL, its unique id
            broadcast over MPI; everything else over MPI).
        init_method, store, group_name, pg_options, device_id: accepted for torch
            compatibility; MPI's launcher already did the rendezvous.
        timeout: accepted; MPI collectives have no timeout. A rank that raises aborts the job
            instead (see below), which is what the timeout guards against in torch.
        world_size, rank: when given (not -1) they must equal MPI's, else ValueError.

    After this call an uncaught exception on any rank (main thread or another thread) prints
    that rank's traceback, each line prefixed with ``[rank N]``, and calls ``MPI_Abort`` so the
    whole job ends with a non-zero exit status instead of hanging in the next collective.

    Example (run under ``mpiexec -n 2 python script.py``)::

        import tocha.core as torch
        import tocha.core.distributed as dist

        dist.init_process_group("mpi")
        t = torch.ones(3) * (dist.get_rank() + 1)
        dist.all_reduce(t)  # t == [3., 3., 3.] on both ranks
    """
    if _STATE["world"] is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = Backend(backend if backend is not None else "mpi")
    if not is_mpi_available():
        raise RuntimeError(
            "init_process_group: mpi4py is not installed; `pip install mpich mpi4py` "
            "(or `pip install tocha-core[distributed]`)"
        )
    if name == Backend.NCCL and not is_nccl_available():
        raise RuntimeError(
            "init_process_group: backend='nccl' needs CuPy with NCCL (`pip install "
            "cupy-cuda12x` and the nvidia-nccl-cu12 wheel); use backend='mpi' otherwise"
        )
    MPI = _mpi()
    world = MPI.COMM_WORLD
    mpi_rank, mpi_size = world.Get_rank(), world.Get_size()
    if world_size not in (-1, None) and world_size != mpi_size:
        raise ValueError(
            f"init_process_group: world_size={world_size} but the MPI job has {mpi_size} "
            f"processes (launch with `mpiexec -n {world_size}` or leave world_size out)"
        )
    if rank not in (-1, None) and rank != mpi_rank:
        raise ValueError(
            f"init_process_group: rank={rank} but MPI gives this process rank {mpi_rank}; "
            "tocha takes the rank from MPI (leave rank out)"
        )
    comm = world.Dup()
    pg = ProcessGroup(comm, str(name), list(range(mpi_size)))
    node = comm.Split_type(MPI.COMM_TYPE_SHARED, key=mpi_rank)
    _STATE["local_rank"] = (node.Get_rank(), node.Get_size())
    node.Free()
    _STATE["world"] = pg
    GroupMember.WORLD = pg
    group.WORLD = pg
    _install_abort_hooks(mpi_rank)


def destroy_process_group(group=None) -> None:
    """Free ``group`` (default: the default group and every group made by new_group)."""
    if group is None or group is _STATE["world"]:
        pg = _world("destroy_process_group")
        for sub in _STATE["groups"]:
            _free(sub)
        _STATE["groups"] = []
        _free(pg)
        _STATE["world"] = None
        GroupMember.WORLD = None
        globals()["group"].WORLD = None
        _uninstall_abort_hooks()
        return
    if isinstance(group, ProcessGroup):
        _free(group)
        if group in _STATE["groups"]:
            _STATE["groups"].remove(group)


def _free(pg: ProcessGroup) -> None:
    pg._nccl.clear()
    if pg.comm is not None:
        pg.comm.Free()
        pg.comm = None


def new_group(
    ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False
):
    """A group of the given global ranks (all ranks of the default group must call it).

    Group ranks follow the order of the sorted global ranks, as torch. A rank outside
    ``ranks`` gets ``GroupMember.NON_GROUP_MEMBER``.
    """
    world = _world("new_group")
    if ranks is None:
        ranks = list(range(world.size()))
    ranks = sorted(int(r) for r in ranks)
    bad = [r for r in ranks if not 0 <= r < world.size()]
    if bad or len(set(ranks)) != len(ranks):
        raise ValueError(
            f"new_group: ranks must be distinct global ranks in [0, {world.size()}), got {ranks}"
        )
    # checked before the Split, so every rank raises alike instead of leaving others waiting
    name = world.backend if backend is None else str(Backend(backend))
    if name == Backend.NCCL and not is_nccl_available():
        raise RuntimeError("new_group: backend='nccl' needs CuPy with NCCL (cupy-cuda12x)")
    MPI = _mpi()
    me = world.rank()
    member = me in ranks
    # Split is collective over every rank: non-members pass MPI.UNDEFINED and get COMM_NULL.
    comm = world.comm.Split(0 if member else MPI.UNDEFINED, key=me)
    if not member:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, name, ranks)
    _STATE["groups"].append(pg)
    return pg


def get_rank(group=None) -> int:
    """This process's rank in ``group`` (default group if None); -1 if not a member."""
    pg = _group(group, "get_rank")
    return -1 if pg is None else pg.rank()


def get_world_size(group=None) -> int:
    """Number of ranks in ``group`` (default group if None); -1 if not a member."""
    pg = _group(group, "get_world_size")
    return -1 if pg is None else pg.size()


def get_backend(group=None) -> str:
    pg = _group(group, "get_backend")
    if pg is None:
        raise ValueError("get_backend: this rank is not part of the group")
    return pg.backend


def get_local_rank() -> int:
    """This process's rank among the processes on its node.

    From MPI's shared-memory split (``MPI_COMM_TYPE_SHARED``) after init_process_group;
    before it, from the launcher's environment (``LOCAL_RANK``, ``MPI_LOCALRANKID`` (MPICH),
    ``OMPI_COMM_WORLD_LOCAL_RANK`` (Open MPI), ``SLURM_LOCALID``), else 0.
    """
    if _STATE["local_rank"] is not None and _STATE["world"] is not None:
        return _STATE["local_rank"][0]
    for var in ("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"):
        value = os.environ.get(var)
        if value is not None and value.strip().isdigit():
            return int(value)
    return 0


def get_node_local_rank(fallback_rank: int | None = None) -> int:
    """torch's name for :func:`get_local_rank`."""
    return get_local_rank()


def get_process_group_ranks(group) -> list[int]:
    pg = _group(group, "get_process_group_ranks")
    if pg is None:
        raise ValueError("get_process_group_ranks: this rank is not part of the group")
    return list(pg.ranks)


def get_global_rank(group, group_rank: int) -> int:
    pg = _group(group, "get_global_rank")
    if pg is None or not 0 <= group_rank < pg.size():
        raise ValueError(f"get_global_rank: group rank {group_rank} is not part of the group")
    return pg.ranks[group_rank]


def get_group_rank(group, global_rank: int) -> int:
    pg = _group(group, "get_group_rank")
    if pg is None:
        raise ValueError("get_group_rank: this rank is not part of the group")
    return pg.group_rank(global_rank, "get_group_rank", "global rank")


# --- abort on an uncaught exception ------------------------------------------------------------


def _abort_with_traceback(rank: int, exc_type, exc, tb, where: str = "") -> None:
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    prefix = f"[rank {rank}] "
    lines = [prefix + line for line in text.splitlines(True)]
    lines.append(
        f"{prefix}uncaught exception{where}: aborting the MPI job (MPI_Abort with error code 1)\n"
    )
    try:
        sys.stderr.write("".join(lines))
        sys.stderr.flush()
        sys.stdout.flush()
    finally:
        _mpi().COMM_WORLD.Abort(1)


def _install_abort_hooks(rank: int) -> None:
    old_sys, old_thread = sys.excepthook, threading.excepthook

    def excepthook(exc_type, exc, tb):
        _abort_with_traceback(rank, exc_type, exc, tb)

    def thread_excepthook(args):
        if args.exc_type is SystemExit:
            return old_thread(args)
        name = f" in thread {args.thread.name!r}" if args.thread is not None else ""
        _abort_with_traceback(rank, args.exc_type, args.exc_value, args.exc_traceback, name)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
    _STATE["hooks"] = (old_sys, old_thread, excepthook, thread_excepthook)


def _uninstall_abort_hooks() -> None:
    hooks = _STATE["hooks"]
    if hooks is None:
        return
    old_sys, old_thread, mine_sys, mine_thread = hooks
    # only restore what is still ours: user code may have chained its own hook meanwhile
    if sys.excepthook is mine_sys:
        sys.excepthook = old_sys
    if threading.excepthook is mine_thread:
        threading.excepthook = old_thread
    _STATE["hooks"] = None


# --- Work ------------------------------------------------------------------------------------------


class Work:
    """Handle of an ``async_op=True`` operation: ``wait()``, ``is_completed()``."""

    def __init__(self, requests=(), finish=None, result=None, event=None, status=None):
        self._requests = [r for r in requests if r is not None]
        self._status = status  # an MPI.Status filled by the (single) request: irecv's source
        self._finish = finish
        self._result = result
        self._event = event  # a CuPy event (NCCL): completion is the stream reaching it
        self._done = not self._requests and event is None
        if self._done:
            self._run_finish()

    def _run_finish(self) -> None:
        finish, self._finish = self._finish, None
        if finish is not None:
            out = finish()
            if out is not None:
                self._result = out

    def wait(self, timeout: timedelta | None = None) -> bool:
        if not self._done:
            if self._status is not None:
                self._requests[0].Wait(self._status)
            elif self._requests:
                _mpi().Request.Waitall(self._requests)
            if self._event is not None:
                self._event.synchronize()
            self._done = True
            self._run_finish()
        return True

    def is_completed(self) -> bool:
        if not self._done:
            if self._status is not None:
                ready = self._requests[0].Test(self._status)
            else:
                ready = not self._requests or _mpi().Request.Testall(self._requests)
            if ready and self._event is not None:
                ready = self._event.done
            if ready:
                self._done = True
                self._run_finish()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed()

    def result(self):
        self.wait()
        return self._result

    def source_rank(self) -> int:
        """For irecv with ``src=None``: the global rank the message came from."""
        self.wait()
        return self._result


def _collective(async_op: bool, finish, start, run, *args, **kwargs):
    """One MPI collective: for async_op, ``start(*args, **kwargs)`` (the nonblocking call) in a
    Work that runs ``finish`` on wait; else ``run`` (the blocking call), then ``finish()``."""
    if async_op:
        return Work([start(*args, **kwargs)], finish)
    run(*args, **kwargs)
    finish()
    return None


def _complete(requests, finish, async_op: bool):
    """Finish an operation: blocking (requests already done) or a Work for async_op."""
    if async_op:
        return Work(requests, finish)
    if requests:
        _mpi().Request.Waitall([r for r in requests if r is not None])
    if finish is not None:
        finish()
    return None


# --- buffers -------------------------------------------------------------------------------------


def _check_tensor(t, fn: str, name: str = "tensor") -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(t).__name__}")


def _check_list(lst, fn: str, name: str) -> None:
    if not isinstance(lst, (list, tuple)) or not all(isinstance(t, Tensor) for t in lst):
        raise TypeError(f"{fn}: {name} must be a list of Tensors, got {type(lst).__name__}")


def _is_numpy(arr) -> bool:
    return arr.__class__ is np.ndarray


def _host(t: Tensor) -> tuple[np.ndarray, bool]:
    """(C-contiguous NumPy array holding t's values, whether it is t's own buffer)."""
    arr = t._data
    if _is_numpy(arr):
        if arr.flags.c_contiguous:
            return arr, True
        return np.ascontiguousarray(arr), False
    return arr.get(), False  # CuPy over the MPI backend: through host memory


def _store(t: Tensor, values: np.ndarray) -> None:
    """Write ``values`` into t's buffer (in place, keeping views and the version counter)."""
    arr = t._data
    if _is_numpy(arr):
        if values is not arr:
            np.copyto(arr, values.reshape(arr.shape), casting="unsafe")
    else:
        import cupy

        arr[...] = cupy.asarray(values.reshape(arr.shape))
    t._bump_version()


def _bytes(arr: np.ndarray) -> np.ndarray:
    return arr.reshape(-1).view(np.uint8)


_HALF = (np.dtype(np.float16), np.dtype(_NP_BFLOAT16))


def _mpi_op(op, dtype: np.dtype, fn: str):
    """(MPI op, whether AVG division follows, dtype to reduce in) for a ReduceOp on dtype."""
    MPI = _mpi()
    try:
        op = RedOpType(op)
    except ValueError:
        raise ValueError(f"{fn}: unknown reduce op {op!r}; use a ReduceOp member") from None
    kind = dtype.kind
    if kind == "b":
        table = {
            RedOpType.SUM: MPI.LOR,
            RedOpType.MAX: MPI.LOR,
            RedOpType.BOR: MPI.LOR,
            RedOpType.PRODUCT: MPI.LAND,
            RedOpType.MIN: MPI.LAND,
            RedOpType.BAND: MPI.LAND,
            RedOpType.BXOR: MPI.LXOR,
        }
        if op not in table:
            raise ValueError(f"{fn}: ReduceOp.{op.name} is not supported for bool tensors")
        return table[op], False, np.dtype(np.uint8)
    if op in (RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR) and kind not in "iu":
        raise ValueError(
            f"{fn}: ReduceOp.{op.name} needs an integer or bool tensor, got dtype {dtype}"
        )
    if op in (RedOpType.MIN, RedOpType.MAX) and kind == "c":
        raise ValueError(f"{fn}: ReduceOp.{op.name} is not defined for complex dtype {dtype}")
    table = {
        RedOpType.SUM: MPI.SUM,
        RedOpType.AVG: MPI.SUM,
        RedOpType.PRODUCT: MPI.PROD,
        RedOpType.MIN: MPI.MIN,
        RedOpType.MAX: MPI.MAX,
        RedOpType.BAND: MPI.BAND,
        RedOpType.BOR: MPI.BOR,
        RedOpType.BXOR: MPI.BXOR,
    }
    work = np.dtype(np.float32) if dtype in _HALF else dtype
    return table[op], op == RedOpType.AVG, work


def _reduce_buffer(arr: np.ndarray, work: np.dtype) -> tuple[np.ndarray, bool]:
    """(typed array MPI reduces, whether it is arr's memory): arr itself, a uint8 view of a
    bool array, or a float32 copy of a float16/bfloat16 one."""
    if arr.dtype == work:
        return arr, True
    if arr.dtype.kind == "b":
        return arr.view(np.uint8), True
    return arr.astype(work), False


def _average(buf: np.ndarray, n: int) -> None:
    if buf.dtype.kind in "fc":
        np.divide(buf, n, out=buf)
    else:  # integers: truncate toward zero, as C integer division (NCCL's ncclAvg)
        q = np.abs(buf) // n
        np.copyto(buf, np.where(buf < 0, -q, q))


def _finish_reduce(
    t: Tensor, arr: np.ndarray, own: bool, buf: np.ndarray, inplace: bool, avg: bool, n: int
):
    """Post-processing of a reduction into ``buf``: AVG division, cast back, write back."""

    def finish():
        if avg:
            _average(buf, n)
        if not inplace:
            np.copyto(arr, buf, casting="unsafe")
        if own:
            t._bump_version()
        else:
            _store(t, arr)

    return finish


def _nccl_path(pg: ProcessGroup, *tensors) -> bool:
    """Whether this call runs on NCCL: nccl backend and CUDA (CuPy) tensors."""
    return pg.backend == Backend.NCCL and not _is_numpy(tensors[0]._data)


# --- collectives -----------------------------------------------------------------------------------


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` across the group, in place on every rank.

    Example (2 ranks)::

        t = torch.tensor([1.0, 2.0]) * (dist.get_rank() + 1)
        dist.all_reduce(t)                       # [3., 6.] on both ranks
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    """
    _check_tensor(tensor, "all_reduce")
    pg = _group(group, "all_reduce")
    if pg is None:
        return None
    if _nccl_path(pg, tensor):
        from . import _nccl

        return _nccl.all_reduce(pg, tensor, op, async_op)
    mpi_op, avg, work = _mpi_op(op, tensor._data.dtype, "all_reduce")
    arr, own = _host(tensor)
    buf, inplace = _reduce_buffer(arr, work)
    MPI = _mpi()
    finish = _finish_reduce(tensor, arr, own, buf, inplace, avg, pg.size())
    return _collective(
        async_op, finish, pg.comm.Iallreduce, pg.comm.Allreduce, MPI.IN_PLACE, buf, mpi_op
    )


def reduce(tensor: Tensor, dst: int = 0, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` across the group into rank ``dst``'s tensor (others keep theirs)."""
    _check_tensor(tensor, "reduce")
    pg = _group(group, "reduce")
    if pg is None:
        return None
    root = pg.group_rank(dst, "reduce", "dst")
    if _nccl_path(pg, tensor):
        from . import _nccl

        return _nccl.reduce(pg, tensor, root, op, async_op)
    mpi_op, avg, work = _mpi_op(op, tensor._data.dtype, "reduce")
    arr, own = _host(tensor)
    MPI = _mpi()
    is_root = pg.rank() == root
    if is_root:
        buf, inplace = _reduce_buffer(arr, work)
        send = MPI.IN_PLACE
        finish = _finish_reduce(tensor, arr, own, buf, inplace, avg, pg.size())
    else:  # non-root ranks keep their tensor unchanged
        send, buf, finish = _reduce_buffer(arr, work)[0], None, None
    requests = [pg.comm.Ireduce(send, buf, mpi_op, root=root)] if async_op else []
    if not async_op:
        pg.comm.Reduce(send, buf, mpi_op, root=root)
    return _complete(requests, finish, async_op)


def broadcast(tensor: Tensor, src: int = 0, group=None, async_op: bool = False):
    """Copy rank ``src``'s tensor into ``tensor`` on every rank of the group."""
    _check_tensor(tensor, "broadcast")
    pg = _group(group, "broadcast")
    if pg is None:
        return None
    root = pg.group_rank(src, "broadcast", "src")
    if _nccl_path(pg, tensor):
        from . import _nccl

        return _nccl.broadcast(pg, tensor, root, async_op)
    arr, own = _host(tensor)
    buf = _bytes(arr)
    is_root = pg.rank() == root

    def finish():
        if not is_root:
            if own:
                tensor._bump_version()
            else:
                _store(tensor, arr)

    return _collective(async_op, finish, pg.comm.Ibcast, pg.comm.Bcast, buf, root=root)


def _check_like(t: Tensor, ref: Tensor, fn: str, name: str, i: int | None = None) -> None:
    where = f"{name}[{i}]" if i is not None else name
    if t._data.dtype != ref._data.dtype:
        raise TypeError(
            f"{fn}: {where} has dtype {t.dtype} but the input tensor has dtype {ref.dtype}"
        )
    if tuple(t.shape) != tuple(ref.shape):
        raise ValueError(
            f"{fn}: {where} has shape {tuple(t.shape)} but the input tensor has shape "
            f"{tuple(ref.shape)}"
        )


def _check_count(lst, n: int, fn: str, name: str) -> None:
    if len(lst) != n:
        raise ValueError(f"{fn}: {name} has {len(lst)} tensors but the group has {n} ranks")


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """Fill ``tensor_list[i]`` with rank i's ``tensor`` (same shape and dtype on every rank)."""
    _check_tensor(tensor, "all_gather")
    _check_list(tensor_list, "all_gather", "tensor_list")
    pg = _group(group, "all_gather")
    if pg is None:
        return None
    n = pg.size()
    _check_count(tensor_list, n, "all_gather", "tensor_list")
    for i, t in enumerate(tensor_list):
        _check_like(t, tensor, "all_gather", "tensor_list", i)
    if _nccl_path(pg, tensor):
        from . import _nccl

        return _nccl.all_gather(pg, tensor_list, tensor, async_op)
    arr, _ = _host(tensor)
    out = np.empty((n, *arr.shape), dtype=arr.dtype)

    def finish():
        for i, t in enumerate(tensor_list):
            _store(t, out[i])

    return _collective(
        async_op, finish, pg.comm.Iallgather, pg.comm.Allgather, _bytes(arr), _bytes(out)
    )


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group=None, async_op=False):
    """Gather every rank's ``input_tensor`` into ``output_tensor``, concatenated along dim 0
    (output shape ``(world_size * d0, ...)``) or stacked (``(world_size, d0, ...)``)."""
    fn = "all_gather_into_tensor"
    _check_tensor(output_tensor, fn, "output_tensor")
    _check_tensor(input_tensor, fn, "input_tensor")
    pg = _group(group, fn)
    if pg is None:
        return None
    n = pg.size()
    _check_out_numel(output_tensor, input_tensor, n, fn, "output_tensor", "input_tensor")
    if _nccl_path(pg, input_tensor):
        from . import _nccl

        return _nccl.all_gather_into_tensor(pg, output_tensor, input_tensor, async_op)
    arr, _ = _host(input_tensor)
    out, own = _host(output_tensor)

    def finish():
        if own:
            output_tensor._bump_version()
        else:
            _store(output_tensor, out)

    return _collective(
        async_op, finish, pg.comm.Iallgather, pg.comm.Allgather, _bytes(arr), _bytes(out)
    )


def _check_out_numel(big: Tensor, small: Tensor, n: int, fn: str, big_name: str, small_name: str):
    if big._data.dtype != small._data.dtype:
        raise TypeError(
            f"{fn}: {big_name} has dtype {big.dtype} but {small_name} has dtype {small.dtype}"
        )
    if big.numel() != n * small.numel():
        raise ValueError(
            f"{fn}: {big_name} must have world_size ({n}) times the elements of {small_name}: "
            f"shapes {tuple(big.shape)} and {tuple(small.shape)} ({big.numel()} != "
            f"{n} * {small.numel()})"
        )


def reduce_scatter(output: Tensor, input_list: list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list[i]`` across ranks into rank i's ``output``."""
    _check_tensor(output, "reduce_scatter", "output")
    _check_list(input_list, "reduce_scatter", "input_list")
    pg = _group(group, "reduce_scatter")
    if pg is None:
        return None
    _check_count(input_list, pg.size(), "reduce_scatter", "input_list")
    for i, t in enumerate(input_list):
        _check_like(t, output, "reduce_scatter", "input_list", i)
    if _nccl_path(pg, output):
        from . import _nccl

        flat = _nccl.stack(input_list)
        return _nccl.reduce_scatter_tensor(pg, output, flat, op, async_op)
    stacked = np.stack([_host(t)[0] for t in input_list]) if input_list else None
    return _reduce_scatter_arrays(pg, output, stacked, op, async_op, "reduce_scatter")


def reduce_scatter_tensor(
    output: Tensor, input: Tensor, op=ReduceOp.SUM, group=None, async_op=False
):
    """Reduce ``input`` (world_size chunks along dim 0) across ranks; chunk i goes to rank i."""
    fn = "reduce_scatter_tensor"
    _check_tensor(output, fn, "output")
    _check_tensor(input, fn, "input")
    pg = _group(group, fn)
    if pg is None:
        return None
    _check_out_numel(input, output, pg.size(), fn, "input", "output")
    if _nccl_path(pg, output):
        from . import _nccl

        return _nccl.reduce_scatter_tensor(pg, output, input, op, async_op)
    return _reduce_scatter_arrays(pg, output, _host(input)[0], op, async_op, fn)


def _reduce_scatter_arrays(pg, output: Tensor, send: np.ndarray, op, async_op: bool, fn: str):
    mpi_op, avg, work = _mpi_op(op, output._data.dtype, fn)
    arr, own = _host(output)
    send = _reduce_buffer(send, work)[0].reshape(-1)
    buf, inplace = _reduce_buffer(arr, work)
    finish = _finish_reduce(output, arr, own, buf, inplace, avg, pg.size())
    return _collective(
        async_op,
        finish,
        pg.comm.Ireduce_scatter_block,
        pg.comm.Reduce_scatter_block,
        send,
        buf,
        mpi_op,
    )


def _split_sizes(splits, d0: int, n: int, fn: str, name: str, numel_name: str) -> list[int]:
    if splits is None or len(splits) == 0:
        if d0 % n:
            raise ValueError(
                f"{fn}: {numel_name}.shape[0] = {d0} is not divisible by world_size {n}; "
                f"pass {name}"
            )
        return [d0 // n] * n
    splits = [int(s) for s in splits]
    if len(splits) != n or any(s < 0 for s in splits):
        raise ValueError(
            f"{fn}: {name} must be {n} non-negative sizes (one per rank), got {splits}"
        )
    if sum(splits) != d0:
        raise ValueError(
            f"{fn}: {name} {splits} sum to {sum(splits)} but {numel_name}.shape[0] is {d0}"
        )
    return splits


def _displs(counts: list[int]) -> list[int]:
    out, acc = [], 0
    for c in counts:
        out.append(acc)
        acc += c
    return out


def all_to_all_single(
    output: Tensor,
    input: Tensor,
    output_split_sizes=None,
    input_split_sizes=None,
    group=None,
    async_op: bool = False,
):
    """Split ``input`` along dim 0 (``input_split_sizes[i]`` rows to rank i) and receive
    ``output_split_sizes[j]`` rows from rank j into ``output``; equal splits when omitted."""
    fn = "all_to_all_single"
    _check_tensor(output, fn, "output")
    _check_tensor(input, fn, "input")
    pg = _group(group, fn)
    if pg is None:
        return None
    if output._data.dtype != input._data.dtype:
        raise TypeError(f"{fn}: output has dtype {output.dtype} but input has {input.dtype}")
    n = pg.size()
    if input.dim() == 0 or output.dim() == 0:
        raise ValueError(f"{fn}: input and output need at least one dimension")
    in_row = input.numel() // max(input.shape[0], 1) if input.shape[0] else 0
    out_row = output.numel() // max(output.shape[0], 1) if output.shape[0] else 0
    if input.shape[0] and output.shape[0] and tuple(input.shape[1:]) != tuple(output.shape[1:]):
        raise ValueError(
            f"{fn}: input shape {tuple(input.shape)} and output shape {tuple(output.shape)} "
            "differ beyond dim 0"
        )
    in_splits = _split_sizes(input_split_sizes, input.shape[0], n, fn, "input_split_sizes", "input")
    out_splits = _split_sizes(
        output_split_sizes, output.shape[0], n, fn, "output_split_sizes", "output"
    )
    if _nccl_path(pg, input):
        from . import _nccl

        return _nccl.all_to_all_single(pg, output, input, out_splits, in_splits, async_op)
    item = input._data.itemsize
    send_counts = [s * in_row * item for s in in_splits]
    recv_counts = [s * out_row * item for s in out_splits]
    arr, _ = _host(input)
    out, own = _host(output)
    MPI = _mpi()
    sendspec = [_bytes(arr), (send_counts, _displs(send_counts)), MPI.BYTE]
    recvspec = [_bytes(out), (recv_counts, _displs(recv_counts)), MPI.BYTE]

    def finish():
        if own:
            output._bump_version()
        else:
            _store(output, out)

    return _collective(async_op, finish, pg.comm.Ialltoallv, pg.comm.Alltoallv, sendspec, recvspec)


def all_to_all(output_tensor_list: list, input_tensor_list: list, group=None, async_op=False):
    """Send ``input_tensor_list[i]`` to rank i; receive rank j's into ``output_tensor_list[j]``
    (sizes may differ per rank; dtypes must match)."""
    fn = "all_to_all"
    _check_list(output_tensor_list, fn, "output_tensor_list")
    _check_list(input_tensor_list, fn, "input_tensor_list")
    pg = _group(group, fn)
    if pg is None:
        return None
    n = pg.size()
    _check_count(output_tensor_list, n, fn, "output_tensor_list")
    _check_count(input_tensor_list, n, fn, "input_tensor_list")
    dtypes = {t._data.dtype for t in (*output_tensor_list, *input_tensor_list)}
    if len(dtypes) > 1:
        raise TypeError(f"{fn}: all tensors must have one dtype, got {sorted(map(str, dtypes))}")
    ins = [_host(t)[0] for t in input_tensor_list]
    send = np.concatenate([_bytes(a) for a in ins]) if ins else np.empty(0, np.uint8)
    send_counts = [a.nbytes for a in ins]
    recv_counts = [t.nbytes for t in output_tensor_list]
    recv = np.empty(sum(recv_counts), np.uint8)
    rdispls = _displs(recv_counts)
    MPI = _mpi()
    sendspec = [send, (send_counts, _displs(send_counts)), MPI.BYTE]
    recvspec = [recv, (recv_counts, rdispls), MPI.BYTE]

    def finish():
        for t, off, c in zip(output_tensor_list, rdispls, recv_counts):
            _store(t, recv[off : off + c].view(t._data.dtype))

    return _collective(async_op, finish, pg.comm.Ialltoallv, pg.comm.Alltoallv, sendspec, recvspec)


def _root_list(pg, root: int, lst, tensor: Tensor, fn: str, name: str, role: str) -> bool:
    """Check scatter's ``scatter_list`` / gather's ``gather_list``: on the root (the ``role``
    rank) one tensor like ``tensor`` per rank, elsewhere empty; whether this rank is the root."""
    if pg.rank() != root:
        if lst:
            raise ValueError(f"{fn}: {name} must be empty on non-{role} ranks")
        return False
    if lst is None:
        raise ValueError(f"{fn}: {name} is required on the {role} rank")
    _check_list(lst, fn, name)
    _check_count(lst, pg.size(), fn, name)
    for i, t in enumerate(lst):
        _check_like(t, tensor, fn, name, i)
    return True


def scatter(tensor: Tensor, scatter_list=None, src: int = 0, group=None, async_op: bool = False):
    """Rank ``src`` sends ``scatter_list[i]`` to rank i, which receives it into ``tensor``."""
    _check_tensor(tensor, "scatter")
    pg = _group(group, "scatter")
    if pg is None:
        return None
    root = pg.group_rank(src, "scatter", "src")
    send = None
    if _root_list(pg, root, scatter_list, tensor, "scatter", "scatter_list", "source"):
        send = _bytes(np.stack([_host(t)[0] for t in scatter_list]))
    out, own = _host(tensor)

    def finish():
        if own:
            tensor._bump_version()
        else:
            _store(tensor, out)

    return _collective(
        async_op, finish, pg.comm.Iscatter, pg.comm.Scatter, send, _bytes(out), root=root
    )


def gather(tensor: Tensor, gather_list=None, dst: int = 0, group=None, async_op: bool = False):
    """Rank ``dst`` receives every rank's ``tensor`` into ``gather_list`` (in rank order)."""
    _check_tensor(tensor, "gather")
    pg = _group(group, "gather")
    if pg is None:
        return None
    root = pg.group_rank(dst, "gather", "dst")
    recv = None
    if _root_list(pg, root, gather_list, tensor, "gather", "gather_list", "destination"):
        recv = np.empty((pg.size(), *tensor.shape), tensor._data.dtype)
    arr, _ = _host(tensor)

    def finish():
        if recv is not None:
            for i, t in enumerate(gather_list):
                _store(t, recv[i])

    rbuf = _bytes(recv) if recv is not None else None
    return _collective(
        async_op, finish, pg.comm.Igather, pg.comm.Gather, _bytes(arr), rbuf, root=root
    )


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Block until every rank of the group has reached this call."""
    pg = _group(group, "barrier")
    if pg is None:
        return None
    if async_op:
        return Work([pg.comm.Ibarrier()])
    pg.comm.Barrier()
    return None


# --- point to point ------------------------------------------------------------------------------


def _p2p_peer(pg: ProcessGroup, peer, fn: str, what: str) -> int:
    r = pg.group_rank(peer, fn, what)
    if r == pg.rank():
        raise ValueError(f"{fn}: {what} {peer} is this process's own rank; use a copy instead")
    return r


def send(tensor: Tensor, dst: int, group=None, tag: int = 0) -> None:
    """Send ``tensor`` to global rank ``dst`` (blocks until the buffer may be reused)."""
    isend(tensor, dst, group, tag).wait()


def recv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0) -> int:
    """Receive into ``tensor`` from global rank ``src`` (any rank if None); returns the sender."""
    return irecv(tensor, src, group, tag).source_rank()


def isend(tensor: Tensor, dst: int, group=None, tag: int = 0) -> Work | None:
    """Nonblocking send; ``wait()`` on the returned Work before changing ``tensor``."""
    _check_tensor(tensor, "isend")
    pg = _group(group, "isend")
    if pg is None:
        return None
    peer = _p2p_peer(pg, dst, "isend", "dst")
    if _nccl_path(pg, tensor):
        from . import _nccl

        return _nccl.send_recv(pg, tensor, peer, True)
    arr, _ = _host(tensor)
    # `arr` stays referenced by the Work (via the closure) until the send completes
    return Work([pg.comm.Isend(_bytes(arr), dest=peer, tag=tag)], lambda keep=arr: None)


def irecv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0) -> Work | None:
    """Nonblocking receive into ``tensor``; the values are there after ``wait()``."""
    _check_tensor(tensor, "irecv")
    pg = _group(group, "irecv")
    if pg is None:
        return None
    MPI = _mpi()
    if src is None:
        peer = MPI.ANY_SOURCE
    else:
        peer = _p2p_peer(pg, src, "irecv", "src")
    if _nccl_path(pg, tensor):
        from . import _nccl

        if src is None:
            raise ValueError("irecv: the nccl backend needs an explicit src for CUDA tensors")
        return _nccl.send_recv(pg, tensor, peer, False, result=src)
    out, own = _host(tensor)
    status = MPI.Status()
    req = pg.comm.Irecv(_bytes(out), source=peer, tag=tag)

    def finish():
        if own:
            tensor._bump_version()
        else:
            _store(tensor, out)
        return pg.ranks[status.Get_source()] if src is None else src

    return Work([req], finish, status=status)


# --- object collectives (pickle: for Python objects, never for tensor collectives) -------------


def broadcast_object_list(object_list: list, src: int = 0, group=None, device=None) -> None:
    """Replace ``object_list``'s items on every rank by rank ``src``'s (in place)."""
    pg = _group(group, "broadcast_object_list")
    if pg is None:
        return
    root = pg.group_rank(src, "broadcast_object_list", "src")
    objs = pg.comm.bcast(list(object_list) if pg.rank() == root else None, root=root)
    if len(objs) != len(object_list):
        raise ValueError(
            f"broadcast_object_list: rank {src} sent {len(objs)} objects but this rank's "
            f"object_list has {len(object_list)} slots"
        )
    object_list[:] = objs


def all_gather_object(object_list: list, obj, group=None) -> None:
    """``object_list[i]`` = rank i's ``obj`` (object_list must have world_size slots)."""
    pg = _group(group, "all_gather_object")
    if pg is None:
        return
    if len(object_list) != pg.size():
        raise ValueError(
            f"all_gather_object: object_list has {len(object_list)} slots but the group has "
            f"{pg.size()} ranks"
        )
    object_list[:] = pg.comm.allgather(obj)


def gather_object(obj, object_gather_list=None, dst: int = 0, group=None) -> None:
    """On rank ``dst``, ``object_gather_list[i]`` = rank i's ``obj``."""
    pg = _group(group, "gather_object")
    if pg is None:
        return
    root = pg.group_rank(dst, "gather_object", "dst")
    if pg.rank() == root and (object_gather_list is None or len(object_gather_list) != pg.size()):
        have = None if object_gather_list is None else len(object_gather_list)
        raise ValueError(
            f"gather_object: object_gather_list on the destination rank needs {pg.size()} "
            f"slots, got {have}"
        )
    got = pg.comm.gather(obj, root=root)
    if pg.rank() == root:
        object_gather_list[:] = got


def scatter_object_list(
    scatter_object_output_list: list, scatter_object_input_list=None, src: int = 0, group=None
) -> None:
    """Rank i receives ``scatter_object_input_list[i]`` (from rank ``src``) into
    ``scatter_object_output_list[0]``."""
    pg = _group(group, "scatter_object_list")
    if pg is None:
        return
    root = pg.group_rank(src, "scatter_object_list", "src")
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError(
            "scatter_object_list: scatter_object_output_list must be a list with at least one slot"
        )
    items = None
    if pg.rank() == root:
        items = list(scatter_object_input_list or [])
        if len(items) != pg.size():
            raise ValueError(
                f"scatter_object_list: scatter_object_input_list has {len(items)} objects but "
                f"the group has {pg.size()} ranks"
            )
    scatter_object_output_list[0] = pg.comm.scatter(items, root=root)
