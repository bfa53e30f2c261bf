"""Read the weight tensors of an ONNX file without the ``onnx`` package and without executing
anything: a minimal protobuf walk over ModelProto -> GraphProto (and sub-graphs of If/Loop
nodes) collecting TensorProto initializers and Constant-node tensors.
"""

from __future__ import annotations

import numpy as np

# TensorProto.DataType -> numpy dtype
_DTYPES = {
    1: np.float32,
    2: np.uint8,
    3: np.int8,
    5: np.int16,
    6: np.int32,
    7: np.int64,
    9: np.bool_,
    10: np.float16,
    11: np.float64,
}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes):
    """Yield (field_number, wire_type, value) of one protobuf message."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            val, i = _varint(buf, i)
        elif wire == 1:
            val, i = buf[i : i + 8], i + 8
        elif wire == 2:
            ln, i = _varint(buf, i)
            val, i = buf[i : i + ln], i + ln
        elif wire == 5:
            val, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if i > n:
            raise ValueError("truncated protobuf message")
        yield field, wire, val


def _tensor(buf: bytes) -> tuple[str, np.ndarray]:
    dims: list[int] = []
    dtype, name, raw = 1, "", None
    floats: list[bytes] = []
    for f, w, v in _fields(buf):
        if f == 1:
            if w == 2:  # packed
                j = 0
                while j < len(v):
                    d, j = _varint(v, j)
                    dims.append(d)
            else:
                dims.append(v)
        elif f == 2:
            dtype = v
        elif f == 8:
            name = v.decode("utf-8", "replace")
        elif f == 9:
            raw = v
        elif f == 4 and w == 2:
            floats.append(v)
    if dtype not in _DTYPES:
        return name, np.zeros(0)
    if raw is not None:
        arr = np.frombuffer(raw, dtype=_DTYPES[dtype])
    elif floats:
        arr = np.frombuffer(b"".join(floats), dtype=np.float32)
    else:
        arr = np.zeros(0, dtype=_DTYPES[dtype])
    n = int(np.prod(dims)) if dims else 1
    if arr.size != n:
        return name, np.zeros(0)
    return name, arr.reshape(dims).copy()


def _graph(buf: bytes, out: list, path: str) -> None:
    for f, _, v in _fields(buf):
        if f == 5:  # initializer
            out.append((path,) + _tensor(v))
        elif f == 1:  # node: look into attributes for tensors / sub-graphs
            node_name = ""
            attrs = []
            for nf, _, nv in _fields(v):
                if nf == 3:
                    node_name = nv.decode("utf-8", "replace")
                elif nf == 5:
                    attrs.append(nv)
            for a in attrs:
                aname = ""
                for af, _, av in _fields(a):
                    if af == 1:
                        aname = av.decode("utf-8", "replace")
                    elif af == 5:  # t
                        nm, arr = _tensor(av)
                        out.append((path, nm or node_name, arr))
                    elif af == 6:  # g
                        _graph(av, out, f"{path}/{node_name}.{aname}")


def onnx_tensors(path: str) -> list[tuple[str, str, np.ndarray]]:
    """All weight tensors of an ONNX model as ``(graph path, name, array)``."""
    with open(path, "rb") as fh:
        buf = fh.read()
    out: list = []
    try:
        for f, _, v in _fields(buf):
            if f == 7:
                _graph(v, out, "")
    except (IndexError, ValueError) as e:
        raise RuntimeError(f"cannot parse ONNX file '{path}': {e}") from None
    return out
