"""A pretend GPU for the ``gpu``-marked tests: ``TOCHA_FAKE_GPU=1 pytest -m gpu core/tests``.

``cupy`` (and the parts of ``cupyx`` tocha uses) are replaced by NumPy returning
``DeviceArray``s, a NumPy subclass that tocha's dispatch sees as a CuPy array; tocha's own CUDA
kernels run on the host from their ``.cu`` source (host_kernels.py). So every CUDA code path of
tocha (device moves, the ``xp`` branches of the ops, kernel launchers and kernels) executes and
is compared with the CPU by the same tests a GPU machine runs.

It is as strict as CuPy where CuPy is strict in ways that catch bugs: a host NumPy array mixed
into a device ufunc raises TypeError, as CuPy does. What it cannot show is anything about
speed, streams running concurrently, or CuPy functions that differ from NumPy's.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np

from .host_elementwise import ElementwiseKernel
from .host_kernels import DeviceArray, HostCuda


class _Device:
    """``cupy.cuda.Device``: one device, id 0."""

    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise RuntimeError(f"fake GPU: there is one device, asked for {self.id}")
        self.compute_capability = "90"

    def use(self):
        return None

    def synchronize(self):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self):
        return self.id


class _Stream:
    _next = 1

    def __init__(self, null=False, non_blocking=False, ptr=None, priority=0):
        if null:
            self.ptr = 0
        else:
            self.ptr = _Stream._next
            _Stream._next += 1
        self.device_id = 0

    def synchronize(self):
        return None

    def use(self):
        _STATE["stream"] = self
        return self

    def wait_event(self, event):
        return None

    def record(self, event=None):
        event = event or _Event()
        return event

    @property
    def done(self):
        return True

    def __enter__(self):
        self._prev = _STATE["stream"]
        _STATE["stream"] = self
        return self

    def __exit__(self, *exc):
        _STATE["stream"] = self._prev
        return False


class _Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.done = True

    def record(self, stream=None):
        return None

    def synchronize(self):
        return None


class _Pool:
    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        return None

    def n_free_blocks(self):
        return 0


_STATE: dict = {}


def _no_tracking(size):  # pragma: no cover - never called: there is no device memory
    raise RuntimeError("fake GPU: no device allocator")


def _to_device(r):
    if isinstance(r, np.ndarray) and r.__class__ is not DeviceArray:
        return r.view(DeviceArray)
    if isinstance(r, np.generic):  # CuPy's reductions and scalar indexing give 0-d arrays
        return np.asarray(r).view(DeviceArray)
    if isinstance(r, tuple):
        return tuple(_to_device(v) for v in r)
    if isinstance(r, list):
        return [_to_device(v) for v in r]
    return r


def _host_leak(args) -> bool:
    for a in args:
        if a.__class__ is np.ndarray and a.ndim > 0:
            return True
        if isinstance(a, (list, tuple)) and _host_leak(a):
            return True
    return False


def _device_fn(name, fn, accepts_host=False):
    def call(*args, **kwargs):
        if not accepts_host and _host_leak(args):
            raise TypeError(f"fake GPU: cupy.{name} got a host numpy.ndarray")
        return _to_device(fn(*args, **kwargs))

    call.__name__ = name
    return call


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    # CuPy refuses numpy.ndarray operands (only scalars and 0-d arrays mix with device arrays)
    out = kwargs.get("out") or ()
    if _host_leak(inputs) or _host_leak(out):
        raise TypeError(f"fake GPU: {ufunc.__name__} mixes a device array with a host ndarray")
    args = [np.asarray(x) if isinstance(x, DeviceArray) else x for x in inputs]
    if out:
        kwargs["out"] = tuple(np.asarray(o) if isinstance(o, DeviceArray) else o for o in out)
    r = getattr(ufunc, method)(*args, **kwargs)
    if out:
        return out[0] if len(out) == 1 else out
    return _to_device(r)


def _diagonal(a, offset=0, axis1=0, axis2=1):
    # CuPy's diagonal is a writable view, NumPy's a read-only one: the same view, writable
    base = np.asarray(a)
    d = np.diagonal(base, offset, axis1, axis2)
    if d.size == 0:
        return d.view(DeviceArray)
    if not base.flags.c_contiguous:
        raise TypeError("fake GPU: diagonal of a non-contiguous array")
    skip = (d.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // d.itemsize
    v = np.lib.stride_tricks.as_strided(base.reshape(-1)[skip:], d.shape, d.strides)
    return v.view(DeviceArray)


def _getitem(self, key):
    return _to_device(np.ndarray.__getitem__(self, key))


class _Module(types.ModuleType):
    """Any NumPy function not defined here, wrapped to take and return device arrays."""

    def __init__(self, name, base, accepts_host=False):
        super().__init__(name)
        self._base = base
        self._accepts_host = accepts_host

    def __getattr__(self, name):
        attr = getattr(self._base, name)
        if isinstance(attr, types.ModuleType):  # cupy.lib.stride_tricks, cupy.linalg, ...
            # views' .base is a host array here, which tocha's as_strided passes on
            attr = _Module(f"{self.__name__}.{name}", attr, name == "stride_tricks")
        elif callable(attr) and not isinstance(attr, type):
            attr = _device_fn(name, attr, self._accepts_host)
        setattr(self, name, attr)
        return attr


def _asnumpy(a, stream=None, out=None):
    r = np.array(np.asarray(a))
    if out is not None:
        out[...] = r
        return out
    return r


def build(host: HostCuda) -> tuple[types.ModuleType, dict]:
    """The fake ``cupy`` module and the ``sys.modules`` entries to install."""
    cp = _Module("cupy", np)
    cp.ndarray = DeviceArray
    for name in ("asarray", "array", "ascontiguousarray", "asanyarray"):
        setattr(cp, name, _device_fn(name, getattr(np, name), accepts_host=True))
    cp.asnumpy = _asnumpy
    # CuPy's sorts are stable radix sorts
    cp.argsort = _device_fn("argsort", lambda a, axis=-1, kind=None: np.argsort(a, axis, "stable"))
    cp.sort = _device_fn("sort", lambda a, axis=-1, kind=None: np.sort(a, axis, "stable"))
    cp.get_array_module = lambda *a: cp if any(isinstance(x, DeviceArray) for x in a) else np
    cp.get_default_memory_pool = lambda: _POOL
    cp.get_default_pinned_memory_pool = lambda: _POOL
    cp.RawModule = None  # tocha loads kernels through _kernels.function (patched)
    cp.RawKernel = lambda code, name, options=(), **kw: _raw_kernel(host, code, name)
    cp.ElementwiseKernel = ElementwiseKernel
    cp.random = _Module("cupy.random", np.random)
    cp.random.RandomState = _RandomState
    cp.fft = _Module("cupy.fft", np.fft)
    cp.linalg = _Module("cupy.linalg", np.linalg)

    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: 1,
        getDevice=lambda: 0,
        setDevice=lambda i: None,
        getDeviceProperties=lambda i: {
            "name": b"tocha fake GPU (host)",
            "totalGlobalMem": 16 << 30,
            "major": 9,
            "minor": 0,
            "multiProcessorCount": 1,
        },  # fmt: skip
        memGetInfo=lambda: (15 << 30, 16 << 30),
        pointerGetAttributes=_pointer_attributes,
        memoryTypeHost=1,
    )
    _STATE["stream"] = _Stream(null=True)
    _Stream.null = _STATE["stream"]
    cuda = types.SimpleNamespace(
        runtime=runtime,
        Device=_Device,
        Stream=_Stream,
        Event=_Event,
        get_current_stream=lambda device=None: _STATE["stream"],
        get_elapsed_time=lambda a, b: 0.0,
        set_allocator=lambda alloc=None: None,
        get_allocator=lambda: _no_tracking,  # not the pool's: tocha leaves it alone
        get_cuda_path=lambda: None,
        set_pinned_memory_allocator=lambda alloc=None: None,
    )
    cp.cuda = cuda
    cuda.curand = types.SimpleNamespace(CURAND_RNG_PSEUDO_PHILOX4_32_10=1)

    import scipy.linalg
    import scipy.special

    cupyx = types.ModuleType("cupyx")
    cupyx.scatter_add = lambda a, idx, v: np.add.at(a, idx, v)
    cupyx.scatter_max = lambda a, idx, v: np.maximum.at(a, idx, v)
    cupyx.scatter_min = lambda a, idx, v: np.minimum.at(a, idx, v)
    cupyx.empty_pinned = lambda shape, dtype=float, order="C": _pinned(np.empty, shape, dtype)
    cupyx.zeros_pinned = lambda shape, dtype=float, order="C": _pinned(np.zeros, shape, dtype)
    cupyx.scipy = types.ModuleType("cupyx.scipy")
    cupyx.scipy.special = _Module("cupyx.scipy.special", scipy.special)
    cupyx.scipy.linalg = _Module("cupyx.scipy.linalg", scipy.linalg)
    modules = {
        "cupy": cp,
        "cupy.cuda": cuda,
        "cupy.cuda.curand": cuda.curand,
        "cupyx": cupyx,
        "cupyx.scipy": cupyx.scipy,
        "cupyx.scipy.special": cupyx.scipy.special,
        "cupyx.scipy.linalg": cupyx.scipy.linalg,
    }
    return cp, modules


def _raw_kernel(host, code: str, name: str):
    """``cupy.RawKernel(code, name)``: the text built for the host (host_kernels.HostModule)."""
    from .host_kernels import HostModule

    return HostModule("rawkernel", host.build_dir, source=code).get_function(name)


_PINNED: list = []  # the page-locked host buffers handed out (kept alive: never freed here)


def _pinned(make, shape, dtype):
    a = make(shape, dtype)
    _PINNED.append(a)
    return a


def _pointer_attributes(ptr):
    # cudaMemoryTypeHost (1) for page-locked memory, unregistered (0) for any other host memory
    for a in _PINNED:
        lo = a.__array_interface__["data"][0]
        if lo <= ptr < lo + max(a.nbytes, 1):
            return types.SimpleNamespace(type=1, device=0)
    return types.SimpleNamespace(type=0, device=0)


class _RandomState:
    """``cupy.random.RandomState``'s methods tocha calls (CuPy's signatures, with ``dtype``),
    drawn from NumPy's PCG64: the same seed gives the same numbers, as with curand."""

    def __init__(self, seed=None, method=None):
        self.seed(seed)

    def seed(self, seed=None):
        self._g = np.random.Generator(np.random.PCG64(None if seed is None else int(seed)))

    def random_sample(self, size=None, dtype=float):
        return _to_device(self._g.random(size).astype(dtype))

    def standard_normal(self, size=None, dtype=float):
        return _to_device(self._g.standard_normal(size).astype(dtype))

    def standard_exponential(self, size=None, dtype=float):
        return _to_device(self._g.standard_exponential(size).astype(dtype))

    def randint(self, low, high=None, size=None, dtype=int):
        return _to_device(self._g.integers(low, high, size=size, dtype=dtype))

    def permutation(self, n):
        return _to_device(self._g.permutation(n))

    def poisson(self, lam=1.0, size=None, dtype=int):
        return _to_device(self._g.poisson(np.asarray(lam), size).astype(dtype))


_POOL = _Pool()


def install(build_dir) -> HostCuda:
    """Make this process see one (host-emulated) GPU. Call before tocha first asks for CuPy."""
    from tocha.core import _device as D
    from tocha.core.cuda import _kernels as K

    host = HostCuda(Path(build_dir))
    cp, modules = build(host)
    sys.modules.update(modules)
    DeviceArray.__array_ufunc__ = _array_ufunc
    DeviceArray.device = property(lambda self: _Device(0))
    DeviceArray.__getitem__ = _getitem
    DeviceArray.set = lambda self, arr, stream=None: np.copyto(np.asarray(self), arr)
    DeviceArray.diagonal = _diagonal
    cp.diagonal = _diagonal
    K.function = host.function
    D.cupy_or_none.cache_clear()
    return host
