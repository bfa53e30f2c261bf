"""Saving and loading checkpoints: ``save`` / ``load`` (``torch.save`` / ``torch.load``).

tocha's format
--------------
One file, a valid `safetensors <https://github.com/huggingface/safetensors>`_ file: the tensor
data in safetensors layout, and the structure of the saved object (dicts, lists, numbers, ...)
as a JSON document in the header's ``__metadata__`` under ``"tocha.structure"`` (with
``"format": "pt"``, ``"tocha.format": "1"`` and ``"tocha.crc32"``, the CRC-32 of the tensor
data, checked on every load that reads the data rather than mapping it). Tensors are named by their path in the object
(``"model.conv1.weight"``, ``"optimizer.state.0.exp_avg"``), so a saved ``state_dict`` opens
with any safetensors reader under its own key names. Nothing is pickled, so loading never runs
code from a file.

The structure is a tree of JSON values: ``null``, booleans, integers, finite floats and
strings stand for themselves; anything else is an object with one tag key, e.g.
``{"tensor": "fc.weight", "id": 0}`` (plus ``"requires_grad"``, ``"parameter"``, ``"device"``
when set), ``{"dict": [[key, value], ...]}``, ``{"odict": [...], "attrs": {"_metadata": ...}}``,
``{"list": [...]}``, ``{"tuple": [...]}``, ``{"size": [...]}``, ``{"float": "nan"}``,
``{"bytes": "<base64>"}``, ``{"complex": [re, im]}``, ``{"dtype": "float32"}``,
``{"device": "cuda:0"}``, ``{"set": [...]}``. A tensor object that appears several times is
stored once and loads as one object; distinct tensors viewing the same memory (same data
pointer, shape and strides) are stored once and load sharing memory.

``load`` also reads ``.safetensors`` files (a dict of tensors) and PyTorch checkpoints, zip and
legacy, without torch (see :mod:`tocha.core._torch_pickle`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import pickle
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from . import _device, _dtype
from . import _safetensors as _st
from . import _torch_pickle as _tp
from ._tensor import Size, Tensor, wrap
from ._torch_pickle import add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals

__all__ = [
    "save",
    "load",
    "add_safe_globals",
    "get_safe_globals",
    "clear_safe_globals",
    "safe_globals",
]

FORMAT_VERSION = "1"
_STRUCTURE_KEY = "tocha.structure"
_FORMAT_KEY = "tocha.format"
_CRC_KEY = "tocha.crc32"  # of the data section: safetensors itself has no checksum
_CDOUBLE = np.dtype(np.complex128)

# --- save --------------------------------------------------------------------------------------


def _path_str(path: list) -> str:
    return "obj" + "".join(f"[{p!r}]" for p in path)


class _Encoder:
    """Turn an object into a JSON-able structure plus the list of tensors to write."""

    def __init__(self):
        self.items: list = []  # (name, safetensors code, host array)
        self.names: set = set()
        self.by_memory: dict = {}  # (ptr, shape, strides, dtype, device) -> stored name
        self.by_object: dict = {}  # id(tensor) -> (node, tensor)
        self.active: set = set()  # ids of the containers on the current path (cycles)
        self.parameter_cls = _tp._parameter_class()

    def encode(self, obj, path: list):
        if obj is None or obj is True or obj is False or type(obj) is str:
            return obj
        if type(obj) is int:
            return obj
        if type(obj) is float:
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, Tensor):
            return self._tensor(obj, path)
        if isinstance(obj, (dict, list, tuple, set, frozenset)):
            if id(obj) in self.active:
                raise ValueError(
                    f"save: the object contains a reference cycle at {_path_str(path)}"
                )
            self.active.add(id(obj))
            try:
                return self._container(obj, path)
            finally:
                self.active.discard(id(obj))
        if isinstance(obj, (bool, np.bool_)):
            return bool(obj)
        if isinstance(obj, (int, np.integer)):
            return int(obj)
        if isinstance(obj, (float, np.floating)):
            return self.encode(float(obj), path)
        if isinstance(obj, str):
            return str(obj)
        if isinstance(obj, (complex, np.complexfloating)):
            c = complex(obj)
            return {"complex": [self.encode(c.real, path), self.encode(c.imag, path)]}
        if isinstance(obj, (bytes, bytearray)):
            return {"bytes": base64.b64encode(bytes(obj)).decode("ascii")}
        if isinstance(obj, _dtype.dtype):
            return {"dtype": obj.name}
        if isinstance(obj, _device.device):
            return {"device": str(obj)}
        if isinstance(obj, np.ndarray):
            if obj.dtype.kind not in "biufc" and obj.dtype != _dtype._NP_BFLOAT16:
                raise TypeError(
                    f"save: cannot save a NumPy array of dtype {obj.dtype} at {_path_str(path)}"
                )
            node = self._tensor(wrap(obj), path, key=None)
            node["ndarray"] = True
            return node
        raise TypeError(
            f"save: cannot save an object of type {type(obj).__qualname__!r} at "
            f"{_path_str(path)}: tocha's format holds tensors, numbers, strings, bytes, None, "
            "dtypes, devices and dicts/lists/tuples/sets of them (it never pickles)"
        )

    def _key(self, key, path: list):
        if key is None or isinstance(key, (str, int, float, bool, np.integer, np.floating)):
            return self.encode(key, path)
        if isinstance(key, tuple):
            return {"tuple": [self._key(k, path) for k in key]}
        raise TypeError(
            f"save: dict key {key!r} at {_path_str(path)} is a {type(key).__name__}; keys must "
            "be str, int, float, bool, None or tuples of them"
        )

    def _container(self, obj, path: list):
        if isinstance(obj, dict):
            pairs = [[self._key(k, path), self.encode(v, [*path, k])] for k, v in obj.items()]
            if isinstance(obj, OrderedDict):
                node = {"odict": pairs}
                meta = getattr(obj, "_metadata", None)
                if meta is not None:  # torch state_dicts: per-module versions for loading
                    node["attrs"] = {"_metadata": self.encode(meta, [*path, "_metadata"])}
                return node
            return {"dict": pairs}
        if isinstance(obj, Size):
            return {"size": [int(s) for s in obj]}
        tag = (
            "list"
            if isinstance(obj, list)
            else "tuple"
            if isinstance(obj, tuple)
            else "set"
            if isinstance(obj, set)
            else "frozenset"
        )
        if tag in ("set", "frozenset"):
            return {tag: [self._key(v, path) for v in obj]}
        return {tag: [self.encode(v, [*path, i]) for i, v in enumerate(obj)]}

    def _name(self, path: list) -> str:
        base = ".".join(str(p) for p in path) or "tensor"
        name, n = base, 1
        while name in self.names or name == "__metadata__":
            name = f"{base}~{n}"
            n += 1
        self.names.add(name)
        return name

    def _tensor(self, t: Tensor, path: list, key="object"):
        if key is not None:
            seen = self.by_object.get(id(t))
            if seen is not None:
                return seen[0]
        arr = t._data
        dev = str(t.device)
        mem = None
        if arr.nbytes:
            ptr = arr.__array_interface__["data"][0] if dev == "cpu" else arr.data.ptr
            mem = (ptr, arr.shape, arr.strides, arr.dtype.str, dev)
        name = self.by_memory.get(mem) if mem is not None else None
        is_complex128 = arr.dtype == _CDOUBLE
        if name is None:
            name = self._name(path)
            host = _st.host_array(arr)
            if is_complex128:  # safetensors has no C128: store (..., 2) float64
                host = host.reshape(host.shape + (1,)).view(np.float64)
            self.items.append((name, _st.dtype_code(host.dtype), host))
            if mem is not None:
                self.by_memory[mem] = name
        node: dict = {"tensor": name, "id": len(self.by_object)}
        if is_complex128:
            node["complex128"] = True
        if t.requires_grad:
            node["requires_grad"] = True
        if self.parameter_cls is not None and isinstance(t, self.parameter_cls):
            node["parameter"] = True
        if dev != "cpu":
            node["device"] = dev
        # keep `t` referenced so its id cannot be reused by another object during the walk
        self.by_object[id(t) if key is not None else ("nd", len(self.by_object))] = (node, t)
        return node


def save(
    obj,
    f,
    pickle_module=None,
    pickle_protocol: int = 2,
    _use_new_zipfile_serialization: bool = True,
    _disable_byteorder_record: bool = False,
) -> None:
    """Save ``obj`` (a state_dict, a checkpoint dict, a tensor, ...) to ``f``.

    Writes tocha's format (safetensors data plus a JSON structure; see the module docstring),
    never a pickle. ``pickle_module``, ``pickle_protocol`` and the ``_``-options are accepted
    for torch compatibility and ignored.

    Args:
        obj: tensors, Python numbers, strings, bytes, None, dtypes, devices, ``torch.Size`` and
            dicts (incl. OrderedDict, keys str/int/float/bool/None/tuple), lists, tuples and
            sets of them, nested to any depth. Parameters and ``requires_grad`` are kept.
        f: a path (``str`` / ``os.PathLike``) or a binary file object. A path is written
            atomically: a temporary file beside it is written, flushed, fsynced and renamed
            over it, so a crash leaves either the old file or the new one, never a mix.

    Raises:
        TypeError: for an object the format cannot hold, naming where it is in ``obj``
            (checked before anything is written).

    Example:
        >>> import os, tempfile
        >>> import tocha.core as torch
        >>> from tocha.core.serialization import load, save
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.pt")
        >>> save({"epoch": 3, "w": torch.ones(2, 2), "hist": [0.5, 0.25]}, path)
        >>> ckpt = load(path)
        >>> ckpt["epoch"], ckpt["w"].shape, ckpt["hist"]
        (3, torch.Size([2, 2]), [0.5, 0.25])
    """
    enc = _Encoder()
    structure = enc.encode(obj, [])
    metadata = {
        "format": "pt",
        _FORMAT_KEY: FORMAT_VERSION,
        _CRC_KEY: f"{_st.crc32_of(enc.items):08x}",
        _STRUCTURE_KEY: json.dumps(structure, separators=(",", ":"), allow_nan=False),
    }
    if isinstance(f, (str, os.PathLike)):
        parent = os.path.dirname(os.path.abspath(os.fspath(f)))
        if not os.path.isdir(parent):
            raise RuntimeError(f"Parent directory {parent} does not exist.")
        with _st.atomic_write(f) as fh:
            _st.write_tensors(fh, enc.items, metadata)
        return
    if not hasattr(f, "write"):
        raise TypeError(f"save: f must be a path or a binary file object, got {type(f).__name__}")
    _st.write_tensors(f, enc.items, metadata)
    with contextlib.suppress(AttributeError, OSError, ValueError):
        f.flush()


# --- load --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _source(f) -> Iterator:
    """(buffer of the whole file, path or None, display name) for a path or file object."""
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        with _st.open_buffer(path) as buf:
            yield buf, path, path
        return
    if isinstance(f, (bytes, bytearray, memoryview)):
        raise TypeError(
            "load: f must be a path or a binary file object; wrap bytes in io.BytesIO(data)"
        )
    if not hasattr(f, "read"):
        raise TypeError(f"load: f must be a path or a file object, got {type(f).__name__}")
    data = f.read()
    if isinstance(data, str):
        raise TypeError("load: the file object is in text mode; open it with 'rb'")
    name = getattr(f, "name", None)
    yield bytes(data), None, name if isinstance(name, str) else f"<{type(f).__name__}>"


def load(
    f,
    map_location=None,
    pickle_module=None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    **pickle_load_args,
):
    """Load an object saved with :func:`save`, a ``.safetensors`` file, or a PyTorch file.

    The format is detected from the content: tocha's own format, plain safetensors (returns a
    dict of tensors), PyTorch's zip format and the legacy pre-1.6 pickle format. PyTorch
    files are read without torch by a restricted unpickler that only rebuilds tensors, numbers,
    strings and plain containers; any other global is refused with
    :class:`pickle.UnpicklingError` naming it (``weights_only=False`` does not lift this: tocha
    never runs code from a file; see :func:`add_safe_globals`).

    Args:
        f: a path or a binary file object.
        map_location: where tensors go, as in torch: None (where they were saved), a device
            or string (``'cpu'``, ``'cuda:0'``), a dict remapping saved locations
            (``{'cuda:1': 'cuda:0'}``), or a callable ``(storage, location) -> storage | None``.
        pickle_module: must be None (tocha never uses pickle to load).
        weights_only: accepted for torch compatibility; loading is always weights-only.
        mmap: map the file copy-on-write instead of reading it (paths only): tensors page in
            on use and writes to them never reach the file.
        pickle_load_args: only ``encoding`` (for Python 2 strings in old PyTorch files).

    Raises:
        RuntimeError: the file is empty, truncated, corrupt or of an unknown format (the
            message names the file and what is wrong).
        pickle.UnpicklingError: a PyTorch file needs a global tocha refuses.

    Example:
        >>> import io
        >>> import tocha.core as torch
        >>> from tocha.core.serialization import load, save
        >>> buf = io.BytesIO()
        >>> save({"w": torch.arange(3.0)}, buf)
        >>> _ = buf.seek(0)
        >>> load(buf, map_location="cpu")
        {'w': tensor([0., 1., 2.])}
    """
    if pickle_module is not None and pickle_module is not pickle:
        raise RuntimeError(
            "load: tocha never unpickles arbitrary objects, so a custom pickle_module cannot be "
            "used; loading is always weights-only"
        )
    encoding = pickle_load_args.pop("encoding", "utf-8")
    if pickle_load_args:
        raise TypeError(f"load() got unexpected keyword arguments {sorted(pickle_load_args)}")
    with _source(f) as (buf, path, name):
        if mmap and path is None:
            raise ValueError("load: mmap=True needs f to be a file path")
        size = len(buf)
        head = bytes(buf[:512])
        if size == 0:
            raise RuntimeError(
                f"{name}: the file is empty (0 bytes): not a checkpoint (was it truncated or "
                "never written?)"
            )
        if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            return _tp.load_zip(buf, path, name, map_location, bool(mmap), encoding)
        # safetensors before pickles: a header length of 128..255 starts with byte 0x80 too
        if size >= 9 and head[8:9] == b"{":
            return _load_safetensors(buf, path, name, map_location, bool(mmap))
        if head[:1] == b"\x80":
            return _tp.load_legacy(buf, path, name, map_location, bool(mmap), encoding)
        if _tp.is_legacy_tar(head):
            raise RuntimeError(
                f"{name} is in PyTorch's legacy .tar format (torch < 0.4), which cannot be loaded "
                "weights-only; load and re-save it with torch"
            )
        raise RuntimeError(
            f"{name}: not a checkpoint tocha can read ({size} bytes starting with {head[:16]!r}): "
            "expected tocha's format or safetensors, a PyTorch zip archive or a legacy "
            "PyTorch pickle"
        )


def _load_safetensors(buf, path, name, map_location, mmap):
    header = _st.parse_header(buf, name)
    restore = _tp.make_restore_location(map_location, name)
    mapped = _st.data_memmap(path, header) if mmap else None
    meta = header.metadata or {}
    if _STRUCTURE_KEY not in meta:
        return {
            key: wrap(restore(_st.read_entry(buf, header, e, name, mapped), "cpu"))
            for key, e in header.entries.items()
        }
    version = meta.get(_FORMAT_KEY)
    if version != FORMAT_VERSION:
        raise RuntimeError(
            f"{name}: tocha format version {version!r} is not supported by this tocha (it reads "
            f"version {FORMAT_VERSION}); upgrade tocha-core"
        )
    crc = meta.get(_CRC_KEY)
    if crc is not None and not mmap and f"{_st.data_crc32(buf, header):08x}" != crc:
        raise RuntimeError(
            f"{name}: corrupt tocha checkpoint: the tensor data fails its CRC-32 check"
        )
    try:
        structure = json.loads(meta[_STRUCTURE_KEY])
    except json.JSONDecodeError as e:
        raise RuntimeError(f"{name}: corrupt tocha checkpoint: bad structure JSON ({e})") from None
    return _Decoder(buf, header, name, restore, mapped).decode(structure)


class _Decoder:
    def __init__(self, buf, header, name, restore, mapped):
        self.buf, self.header, self.name = buf, header, name
        self.restore, self.mapped = restore, mapped
        self.arrays: dict = {}  # (tensor name, location) -> placed array (aliases share)
        self.objects: dict = {}  # node id -> Tensor (one object saved twice loads as one)

    def corrupt(self, what: str) -> RuntimeError:
        return RuntimeError(f"{self.name}: corrupt tocha checkpoint: {what}")

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list) or not isinstance(node, dict) or len(node) == 0:
            raise self.corrupt(f"unexpected structure node {node!r:.80}")
        if "tensor" in node:
            return self._tensor(node)
        if "odict" in node or "dict" in node:
            tag = "odict" if "odict" in node else "dict"
            pairs = node[tag]
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 for p in pairs
            ):
                raise self.corrupt(f"malformed {tag} node")
            out = OrderedDict() if tag == "odict" else {}
            for k, v in pairs:
                out[self._hashable(self.decode(k))] = self.decode(v)
            attrs = node.get("attrs")
            if attrs is not None and tag == "odict":
                if not isinstance(attrs, dict) or set(attrs) - {"_metadata"}:
                    raise self.corrupt("malformed OrderedDict attributes")
                for k, v in attrs.items():
                    setattr(out, k, self.decode(v))
            return out
        (tag, value), *_ = node.items()
        if tag in ("list", "tuple", "set", "frozenset", "size"):
            if not isinstance(value, list):
                raise self.corrupt(f"malformed {tag} node")
            items = [self.decode(v) for v in value]
            if tag == "list":
                return items
            if tag == "tuple":
                return tuple(items)
            if tag == "size":
                if not all(type(i) is int for i in items):
                    raise self.corrupt("torch.Size of non-integers")
                return Size(items)
            items = [self._hashable(i) for i in items]
            return set(items) if tag == "set" else frozenset(items)
        if tag == "float" and value in ("nan", "inf", "-inf"):
            return float(value)
        if tag == "complex" and isinstance(value, list) and len(value) == 2:
            return complex(self.decode(value[0]), self.decode(value[1]))
        if tag == "bytes" and isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                raise self.corrupt("invalid base64 bytes") from None
        if tag == "dtype" and value in _dtype._BY_NAME:
            return _dtype._BY_NAME[value]
        if tag == "device" and isinstance(value, str):
            try:
                return _device.device(value)
            except (RuntimeError, ValueError):
                raise self.corrupt(f"invalid device {value!r}") from None
        raise self.corrupt(f"unknown structure node {node!r:.80}")

    def _hashable(self, key):
        try:
            hash(key)
        except TypeError:
            raise self.corrupt(f"unhashable dict key or set item {key!r:.60}") from None
        return key

    def _tensor(self, node: dict):
        oid = node.get("id")
        if oid in self.objects:
            return self.objects[oid]
        tname = node["tensor"]
        entry = self.header.entries.get(tname) if isinstance(tname, str) else None
        if entry is None:
            raise self.corrupt(f"the structure refers to tensor {tname!r}, which is not stored")
        location = node.get("device", "cpu")
        if not isinstance(location, str):
            raise self.corrupt(f"invalid device {location!r}")
        key = (tname, location)
        arr = self.arrays.get(key)
        if arr is None:
            host = _st.read_entry(self.buf, self.header, entry, self.name, self.mapped)
            if node.get("complex128"):
                if host.dtype != np.float64 or not host.ndim or host.shape[-1] != 2:
                    raise self.corrupt(f"complex128 tensor {tname!r} is not stored as (..., 2)")
                host = host.view(_CDOUBLE).reshape(host.shape[:-1])
            arr = self.arrays[key] = self.restore(host, location)
        if node.get("ndarray"):
            return arr if isinstance(arr, np.ndarray) else arr.get()
        t = wrap(arr)
        rg = bool(node.get("requires_grad", False))
        if node.get("parameter"):
            t = _tp.make_parameter(t, rg)
        elif rg:
            try:
                t.requires_grad_(True)
            except RuntimeError:
                raise self.corrupt(f"tensor {tname!r} of {t.dtype} marked requires_grad") from None
        self.objects[oid] = t
        return t
