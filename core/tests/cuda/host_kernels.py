"""tocha's CUDA kernels run on the host: the launchers of ``tocha.core.cuda`` called with
NumPy arrays standing in for CuPy's, and every launch executed by the kernel's own source
compiled with g++ after ``host_cuda.h`` (CUDA's threads, barriers, shuffles and atomics as OS
threads). Nothing here is a second implementation of a kernel: what runs is the ``.cu`` text
the GPU compiles, so a wrong index, a missing barrier or a launcher that packs an argument of
the wrong width shows up in a test on a machine without a GPU.

Use the ``host_cuda`` fixture (conftest.py): inside a test, ``host_cuda.array(a)`` makes a
"device" array and the launchers (``_softmax.forward`` ...) run on it as on a GPU.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from tocha.core.cuda import _kernels as K

HEADER = Path(__file__).resolve().parent / "host_cuda.h"
BF16 = ml_dtypes.bfloat16
KERNEL_DTYPES = [np.float32, np.float64, np.float16, BF16]  # every kernel's entry points


def rounded(a, dtype):
    """``a`` rounded to ``dtype``, back in float64: what a kernel reading ``dtype`` sees."""
    return np.asarray(a).astype(dtype).astype(np.float64)


class DeviceArray(np.ndarray):
    """A NumPy array that passes for a CuPy one: ``isinstance(a, cupy.ndarray)`` holds under
    the fake module and ``a.data.ptr`` is its address."""

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])

    def get(self):
        return np.asarray(self)


def _device(r):
    return r.view(DeviceArray) if isinstance(r, np.ndarray) else r


def fake_cupy() -> types.ModuleType:
    """The part of CuPy's API the launchers use, on NumPy, returning DeviceArrays."""
    mod = types.ModuleType("cupy")
    mod.ndarray = DeviceArray
    for name in (
        "swapaxes", "triu", "einsum",
        "asarray", "ascontiguousarray", "empty", "empty_like", "zeros", "zeros_like", "full",
        "ones", "broadcast_to", "moveaxis", "matmul", "add", "arange", "concatenate", "cumsum",
        "where", "maximum", "minimum", "sqrt", "exp", "log", "abs", "argsort", "searchsorted",
        "lexsort", "stack", "nonzero",
    ):  # fmt: skip
        fn = getattr(np, name)
        setattr(mod, name, lambda *a, _f=fn, **k: _device(_f(*a, **k)))
    for name in ("float16", "float32", "float64", "int32", "int64", "uint8", "bool_"):
        setattr(mod, name, getattr(np, name))
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1)
    mod.cuda = types.SimpleNamespace(runtime=runtime, get_cuda_path=lambda: None)
    mod.ElementwiseKernel = __import__(
        f"{__package__}.host_elementwise", fromlist=["_"]
    ).ElementwiseKernel
    return mod


def host_compiler() -> tuple[str, str] | None:
    """(g++, the CUDA include directory with cuda_fp16.h / cuda_bf16.h), or None."""
    gxx, inc = shutil.which("g++"), K.cuda_include_dirs()
    return (gxx, inc[0]) if gxx and inc else None


# the scalar ctypes CuPy packs for each argument type (numpy scalars by their dtype)
_SCALARS = {
    np.dtype(np.int8): ctypes.c_int8,
    np.dtype(np.int16): ctypes.c_int16,
    np.dtype(np.int32): ctypes.c_int32,
    np.dtype(np.int64): ctypes.c_int64,
    np.dtype(np.uint8): ctypes.c_uint8,
    np.dtype(np.uint32): ctypes.c_uint32,
    np.dtype(np.uint64): ctypes.c_uint64,
    np.dtype(np.float32): ctypes.c_float,
    np.dtype(np.float64): ctypes.c_double,
    np.dtype(np.bool_): ctypes.c_bool,
}


def _pack(name: str, i: int, a):
    """A ctypes object holding argument ``i`` as CuPy passes it to the kernel."""
    if isinstance(a, DeviceArray):
        return ctypes.c_void_p(a.__array_interface__["data"][0])
    if isinstance(a, np.ndarray):
        raise TypeError(f"{name}: argument {i} is a host NumPy array, not a device array")
    if isinstance(a, np.generic):
        if a.dtype not in _SCALARS:
            raise TypeError(f"{name}: argument {i} has dtype {a.dtype}, which CuPy cannot pass")
        return _SCALARS[a.dtype](a.item())
    if isinstance(a, bool):
        return ctypes.c_bool(a)
    if isinstance(a, int):  # CuPy passes a Python int as a 64-bit integer
        return ctypes.c_int64(a)
    if isinstance(a, float):
        return ctypes.c_double(a)
    raise TypeError(f"{name}: argument {i} of type {type(a).__name__} cannot be passed")


def _dims(d) -> tuple[int, int, int]:
    d = (d,) if isinstance(d, int) else tuple(int(v) for v in d)
    return (d + (1, 1, 1))[:3]


class HostKernel:
    """One entry point: called as a CuPy RawKernel, ``fn(grid, block, args)``."""

    def __init__(self, lib, name: str):
        self.name = name
        self._launch = getattr(lib, f"tocha_launch_{name}")
        self._launch.argtypes = [ctypes.c_uint] * 6 + [ctypes.c_void_p]
        self._launch.restype = None
        sizes = (ctypes.c_longlong * 64)()
        count = getattr(lib, f"tocha_params_{name}")(sizes)
        self.param_sizes = list(sizes[:count])
        self.launches = 0
        # what CuPy's RawKernel.attributes reports (reading it makes CuPy compile the kernel)
        self.attributes = {"max_threads_per_block": K.MAX_THREADS, "num_regs": 0}

    def __call__(self, grid, block, args, shared_mem=0, stream=None):
        gx, gy, gz = _dims(grid)
        bx, by, bz = _dims(block)
        if bx * by * bz > K.MAX_THREADS:
            raise ValueError(f"{self.name}: {bx * by * bz} threads per block > {K.MAX_THREADS}")
        if not (1 <= gx <= K.MAX_GRID_X and 1 <= gy <= K.MAX_GRID_YZ and 1 <= gz <= 65535):
            raise ValueError(f"{self.name}: grid {(gx, gy, gz)} outside CUDA's limits")
        packed = [_pack(self.name, i, a) for i, a in enumerate(args)]
        if len(packed) != len(self.param_sizes):
            raise TypeError(
                f"{self.name}: {len(packed)} arguments for {len(self.param_sizes)} parameters"
            )
        for i, (p, size) in enumerate(zip(packed, self.param_sizes, strict=True)):
            if ctypes.sizeof(p) != size:
                raise TypeError(
                    f"{self.name}: argument {i} is {ctypes.sizeof(p)} bytes "
                    f"({type(args[i]).__name__}), the parameter {size}"
                )
        ptrs = (ctypes.c_void_p * max(1, len(packed)))(
            *[ctypes.cast(ctypes.pointer(p), ctypes.c_void_p) for p in packed]
        )
        self._launch(gx, gy, gz, bx, by, bz, ptrs)
        self.launches += 1


class HostModule:
    """``kernels/<stem>.cu`` (or the CUDA ``source`` text given) compiled for the host, with a
    launcher per entry point."""

    def __init__(self, stem: str, build_dir: Path, source: str | None = None):
        found = host_compiler()
        if found is None:
            pytest.skip("g++ or the CUDA headers (cuda_fp16.h, cuda_bf16.h) are missing")
        gxx, inc = found
        src = K.KERNEL_DIR / f"{stem}.cu"
        if source is not None:  # e.g. a cupy.RawKernel's text (tocha.core.jit's fused groups)
            src = build_dir / f"{stem}-{hashlib.sha256(source.encode()).hexdigest()[:16]}.cu"
            src.write_text(source)
        flags = ["-std=c++20", "-O1", "-fPIC", "-pthread", f"-I{inc}", f"-I{K.KERNEL_DIR}"]
        flags += ["-include", str(HEADER)]
        # entry points: the extern "C" functions once the file's macros are expanded
        pre = subprocess.run(
            [gxx, "-E", "-P", *flags, "-x", "c++", str(src)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert pre.returncode == 0, pre.stderr[-4000:]
        names = re.findall(r'extern\s+"C"\s+void\s+(\w+)\s*\(', pre.stdout)
        assert names, f'no extern "C" entry points in {src.name}'
        wrappers = [f'#include "{src}"']
        for n in names:
            wrappers.append(
                f'extern "C" void tocha_launch_{n}(unsigned gx, unsigned gy, unsigned gz, '
                f"unsigned bx, unsigned by, unsigned bz, void** args) {{ "
                f"tocha_host::launch({{gx, gy, gz}}, {{bx, by, bz}}, "
                f"[&] {{ tocha_host::call({n}, args); }}); }}\n"
                f'extern "C" int tocha_params_{n}(long long* out) {{ '
                f"return tocha_host::param_sizes({n}, out); }}"
            )
        text = "\n".join(wrappers)
        key = hashlib.sha256((text + src.read_text() + HEADER.read_text()).encode()).hexdigest()
        so = build_dir / f"{stem}-{key[:16]}.so"
        if not so.exists():
            cpp = build_dir / f"{stem}-{key[:16]}.cpp"
            cpp.write_text(text)
            res = subprocess.run(
                [gxx, *flags, "-shared", "-o", str(so), str(cpp)],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert res.returncode == 0, res.stderr[-4000:]
        self.lib = ctypes.CDLL(str(so))
        self.names = names
        self.kernels = {n: HostKernel(self.lib, n) for n in names}

    def get_function(self, name: str) -> HostKernel:
        if name not in self.kernels:
            raise KeyError(f"no entry point {name} in the host build (has: {self.names})")
        return self.kernels[name]


_MODULES: dict = {}


class HostCuda:
    """What the ``host_cuda`` fixture yields: device arrays and the launches made."""

    def __init__(self, build_dir: Path):
        self.build_dir = build_dir
        self.launched: list[str] = []

    def module(self, stem: str) -> HostModule:
        key = (stem, self.build_dir)
        if key not in _MODULES:  # one build per file and test session
            _MODULES[key] = HostModule(stem, self.build_dir)
        return _MODULES[key]

    def function(self, stem: str, name: str):
        kernel = self.module(stem).get_function(name)

        def launch(*args, **kwargs):
            self.launched.append(name)
            return kernel(*args, **kwargs)

        return launch

    @staticmethod
    def array(a, dtype=None) -> DeviceArray:
        """A C-contiguous "device" copy of ``a``."""
        return np.array(a, dtype=dtype, order="C").view(DeviceArray)


def install(monkeypatch, build_dir: Path) -> HostCuda:
    """Route ``tocha.core.cuda._kernels.function`` to host builds and fake ``cupy``."""
    host = HostCuda(build_dir)
    fake = fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(K, "function", host.function)
    import tocha.core._device as D

    monkeypatch.setattr(D, "cupy_or_none", lambda: fake)
    for mod in list(sys.modules.values()):  # launchers that imported cupy_or_none by name
        if getattr(mod, "__name__", "").startswith("tocha.core.cuda._") and hasattr(
            mod, "cupy_or_none"
        ):
            monkeypatch.setattr(mod, "cupy_or_none", lambda: fake)
    return host
