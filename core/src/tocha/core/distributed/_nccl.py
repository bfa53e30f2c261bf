"""NCCL collectives on CuPy arrays (``backend='nccl'``), through ``cupy.cuda.nccl``.

One ``NcclCommunicator`` per (process group, device), created on the group's first CUDA
collective on that device: rank 0 of the group calls ``nccl.get_unique_id()`` and the id is
broadcast over the group's MPI communicator (so every member must make that first call
together, as every collective requires anyway). Operations are enqueued on CuPy's current
stream; with ``async_op=True`` the returned Work records an event after them and ``wait()``
synchronizes on it.

float16 and bfloat16 reduce natively (NCCL accumulates in float); bool is moved as uint8
(SUM/MAX as MAX = logical or, PRODUCT/MIN as MIN = logical and); complex is reduced as pairs
of reals (SUM/AVG only). AVG is ``ncclAvg`` where CuPy exposes it, else SUM and a division.
"""

from __future__ import annotations

import numpy as np

from .._dtype import _NP_BFLOAT16
from .._tensor import Tensor, wrap
from .distributed_c10d import ProcessGroup, RedOpType, Work

# ncclDataType_t / ncclRedOp_t values from nccl.h, used where CuPy lacks the constant
_NCCL_DTYPE_CODES = {
    "int8": 0,
    "uint8": 1,
    "int32": 2,
    "uint32": 3,
    "int64": 4,
    "uint64": 5,
    "float16": 6,
    "float32": 7,
    "float64": 8,
    "bfloat16": 9,
}
_NCCL_CONST = {
    "int8": "NCCL_INT8",
    "uint8": "NCCL_UINT8",
    "int32": "NCCL_INT32",
    "uint32": "NCCL_UINT32",
    "int64": "NCCL_INT64",
    "uint64": "NCCL_UINT64",
    "float16": "NCCL_FLOAT16",
    "float32": "NCCL_FLOAT32",
    "float64": "NCCL_FLOAT64",
    "bfloat16": "NCCL_BFLOAT16",
}


def _nccl():
    from cupy.cuda import nccl

    return nccl


def _dtype_code(dtype: np.dtype, fn: str) -> int:
    name = "bfloat16" if dtype == np.dtype(_NP_BFLOAT16) else dtype.name
    if name not in _NCCL_DTYPE_CODES:
        raise TypeError(f"{fn}: dtype {dtype} is not supported by NCCL")
    return getattr(_nccl(), _NCCL_CONST[name], _NCCL_DTYPE_CODES[name])


def _op_code(op, fn: str, dtype: np.dtype) -> tuple[int, bool]:
    """(ncclRedOp_t, whether a division by the group size must follow)."""
    nccl = _nccl()
    op = RedOpType(op)
    if dtype.kind == "b":
        table = {RedOpType.SUM: "MAX", RedOpType.MAX: "MAX", RedOpType.BOR: "MAX"}
        table.update({RedOpType.PRODUCT: "MIN", RedOpType.MIN: "MIN", RedOpType.BAND: "MIN"})
        if op not in table:
            raise ValueError(f"{fn}: ReduceOp.{op.name} is not supported for bool tensors")
        return getattr(nccl, f"NCCL_{table[op]}"), False
    if dtype.kind == "c" and op not in (RedOpType.SUM, RedOpType.AVG):
        raise ValueError(f"{fn}: ReduceOp.{op.name} is not supported for complex tensors on NCCL")
    if op == RedOpType.AVG:
        if hasattr(nccl, "NCCL_AVG") and (dtype.kind == "f" or dtype == _NP_BFLOAT16):
            return nccl.NCCL_AVG, False
        return nccl.NCCL_SUM, True
    names = {
        RedOpType.SUM: "NCCL_SUM",
        RedOpType.PRODUCT: "NCCL_PROD",
        RedOpType.MIN: "NCCL_MIN",
        RedOpType.MAX: "NCCL_MAX",
    }
    if op not in names:
        raise ValueError(f"{fn}: ReduceOp.{op.name} is not supported by NCCL")
    return getattr(nccl, names[op]), False


def communicator(pg: ProcessGroup, device_id: int):
    """The group's NcclCommunicator on ``device_id`` (created collectively on first use)."""
    comm = pg._nccl.get(device_id)
    if comm is None:
        import cupy

        nccl = _nccl()
        uid = nccl.get_unique_id() if pg.rank() == 0 else None
        uid = pg.comm.bcast(uid, root=0)
        with cupy.cuda.Device(device_id):
            comm = nccl.NcclCommunicator(pg.size(), uid, pg.rank())
        pg._nccl[device_id] = comm
    return comm


def _one_device(fn: str, *tensors) -> None:
    """NCCL reads and writes only its communicator's device: every tensor on one CUDA device."""
    devices = {t.device for t in tensors}
    if len(devices) > 1 or any(d.type != "cuda" for d in devices):
        where = ", ".join(sorted(str(d) for d in devices))
        raise ValueError(
            f"{fn}: the nccl backend needs all tensors on one CUDA device, got {where}"
        )


def _stream():
    import cupy

    return cupy.cuda.get_current_stream()


def _flat(arr):
    """(contiguous flat array on arr's memory or a copy, whether it is arr's memory)."""
    if arr.flags.c_contiguous:
        return arr.reshape(-1), True
    import cupy

    return cupy.ascontiguousarray(arr).reshape(-1), False


def _as_nccl(flat):
    """A view NCCL has a type for: bool as uint8, complex as pairs of reals."""
    if flat.dtype.kind == "b":
        return flat.view(np.uint8)
    if flat.dtype.kind == "c":
        return flat.view(np.float32 if flat.dtype == np.complex64 else np.float64)
    return flat


def _average(buf, n: int) -> None:
    """AVG after a SUM where ncclAvg is not used: in place, integers truncated toward zero."""
    import cupy

    if buf.dtype.kind in "fc" or buf.dtype == _NP_BFLOAT16:  # bfloat16's kind is 'V'
        buf /= n
    else:
        q = abs(buf) // n
        buf[...] = cupy.where(buf < 0, -q, q)


def _done(pg, tensors_back, async_op: bool, post=None):
    """Write results back / divide, bump versions, and return a Work when async_op."""

    def finish():
        if post is not None:
            post()
        for t, buf, own in tensors_back:
            if not own:
                t._data[...] = buf.reshape(t._data.shape)
            t._bump_version()

    if not async_op:
        finish()
        return None
    import cupy

    event = cupy.cuda.Event(block=False, disable_timing=True)
    event.record(_stream())
    return Work([], finish, event=event)


def all_reduce(pg: ProcessGroup, tensor: Tensor, op, async_op: bool):
    arr = tensor._data
    comm = communicator(pg, arr.device.id)
    flat, own = _flat(arr)
    buf = _as_nccl(flat)
    code, divide = _op_code(op, "all_reduce", arr.dtype)
    s = _stream()
    comm.allReduce(
        buf.data.ptr, buf.data.ptr, buf.size, _dtype_code(buf.dtype, "all_reduce"), code, s.ptr
    )
    post = (lambda: _average(flat, pg.size())) if divide else None
    return _done(pg, [(tensor, flat, own)], async_op, post)


def reduce(pg: ProcessGroup, tensor: Tensor, root: int, op, async_op: bool):
    arr = tensor._data
    comm = communicator(pg, arr.device.id)
    flat, own = _flat(arr)
    is_root = pg.rank() == root
    out = flat if is_root else flat.copy()  # non-root ranks keep their tensor
    src, dst = _as_nccl(flat), _as_nccl(out)
    code, divide = _op_code(op, "reduce", arr.dtype)
    comm.reduce(
        src.data.ptr,
        dst.data.ptr,
        src.size,
        _dtype_code(src.dtype, "reduce"),
        code,
        root,
        _stream().ptr,
    )
    post = (lambda: _average(flat, pg.size())) if divide and is_root else None
    back = [(tensor, flat, own)] if is_root else []
    return _done(pg, back, async_op, post)


def broadcast(pg: ProcessGroup, tensor: Tensor, root: int, async_op: bool):
    arr = tensor._data
    comm = communicator(pg, arr.device.id)
    flat, own = _flat(arr)
    b = flat.view(np.uint8)
    comm.broadcast(
        b.data.ptr, b.data.ptr, b.size, _dtype_code(b.dtype, "broadcast"), root, _stream().ptr
    )
    back = [] if pg.rank() == root else [(tensor, flat, own)]
    return _done(pg, back, async_op)


def _gather_flat(pg: ProcessGroup, arr):
    import cupy

    comm = communicator(pg, arr.device.id)
    send = cupy.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    recv = cupy.empty(send.size * pg.size(), np.uint8)
    comm.allGather(
        send.data.ptr,
        recv.data.ptr,
        send.size,
        _dtype_code(send.dtype, "all_gather"),
        _stream().ptr,
    )
    return recv


def all_gather(pg: ProcessGroup, tensor_list: list, tensor: Tensor, async_op: bool):
    _one_device("all_gather", tensor, *tensor_list)
    recv = (
        _gather_flat(pg, tensor._data)
        .view(tensor._data.dtype)
        .reshape((pg.size(), *tensor._data.shape))
    )
    back = [(t, recv[i], False) for i, t in enumerate(tensor_list)]
    return _done(pg, back, async_op)


def all_gather_into_tensor(pg: ProcessGroup, output: Tensor, input: Tensor, async_op: bool):
    _one_device("all_gather_into_tensor", output, input)
    recv = _gather_flat(pg, input._data).view(input._data.dtype)
    return _done(pg, [(output, recv, False)], async_op)


def stack(tensors: list) -> Tensor:
    import cupy

    _one_device("reduce_scatter", *tensors)
    return wrap(cupy.stack([t._data for t in tensors]))


def reduce_scatter_tensor(pg: ProcessGroup, output: Tensor, input: Tensor, op, async_op: bool):
    import cupy

    _one_device("reduce_scatter_tensor", output, input)
    out = output._data
    comm = communicator(pg, out.device.id)
    send = _as_nccl(cupy.ascontiguousarray(input._data).reshape(-1))
    flat, own = _flat(out)
    recv = _as_nccl(flat)
    code, divide = _op_code(op, "reduce_scatter_tensor", out.dtype)
    comm.reduceScatter(
        send.data.ptr,
        recv.data.ptr,
        recv.size,
        _dtype_code(recv.dtype, "reduce_scatter_tensor"),
        code,
        _stream().ptr,
    )
    post = (lambda: _average(flat, pg.size())) if divide else None
    return _done(pg, [(output, flat, own)], async_op, post)


def all_to_all_single(pg, output: Tensor, input: Tensor, out_splits, in_splits, async_op: bool):
    import cupy

    _one_device("all_to_all_single", output, input)
    nccl = _nccl()
    comm = communicator(pg, input._data.device.id)
    send = cupy.ascontiguousarray(input._data).reshape(-1).view(np.uint8)
    flat, own = _flat(output._data)
    recv = flat.view(np.uint8)
    in_row = send.size // max(sum(in_splits), 1)
    out_row = recv.size // max(sum(out_splits), 1)
    code = _dtype_code(np.dtype(np.uint8), "all_to_all_single")
    s = _stream().ptr
    so = ro = 0
    nccl.groupStart()
    for peer in range(pg.size()):
        ns, nr = in_splits[peer] * in_row, out_splits[peer] * out_row
        if ns:
            comm.send(send[so:].data.ptr, ns, code, peer, s)
        if nr:
            comm.recv(recv[ro:].data.ptr, nr, code, peer, s)
        so += ns
        ro += nr
    nccl.groupEnd()
    return _done(pg, [(output, flat, own)], async_op)


def send_recv(pg: ProcessGroup, tensor: Tensor, peer: int, is_send: bool, result=None):
    comm = communicator(pg, tensor._data.device.id)
    flat, own = _flat(tensor._data)
    b = flat.view(np.uint8)
    code = _dtype_code(b.dtype, "isend" if is_send else "irecv")
    if is_send:
        comm.send(b.data.ptr, b.size, code, peer, _stream().ptr)
        back = []
    else:
        comm.recv(b.data.ptr, b.size, code, peer, _stream().ptr)
        back = [(tensor, flat, own)]
    work = _done(pg, back, True)
    work._result = result
    return work
