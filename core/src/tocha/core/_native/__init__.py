"""Native CPU kernels: C sources beside this file, compiled on first use, called through ctypes.

Most of tocha's CPU work is a few large NumPy or BLAS calls per op, where Python costs nothing.
A few loops are many small calls instead (an LSTM's time steps: ~35 NumPy calls per step, each
holding the GIL), and there a C loop that releases the GIL is several times faster. As torch's
``torch.compile`` does for its CPU code, tocha compiles these few kernels with the system's C
compiler the first time they are needed and keeps the shared library in
``$TOCHA_HOME/native`` (default ``~/.cache/tocha/native``), keyed by the source, the compiler
and the CPU, so a later process loads it in microseconds.

Nothing depends on it: without a compiler, or when compiling fails, every caller runs its
NumPy path, which computes the same values (tests run both and compare). ``TOCHA_NATIVE``:
``auto`` (the default), ``0`` (never compile: NumPy paths only), ``1`` (required: an error
names why a kernel could not be built). ``CC`` picks the compiler (default: ``cc``, ``gcc``
or ``clang``, the first found).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import threading

__all__ = ["function", "load", "mode"]

_HERE = os.path.dirname(os.path.abspath(__file__))
# -march=native: the library is built for, and cached per, this CPU. -fno-math-errno: sqrt
# and friends need not set errno, so loops calling them vectorize (the kernels never read it).
# -ffp-contract=off: no fused multiply-adds the source does not write, so the kernels round as
# the NumPy code they replace does (a contracted g * w - a left 3e-5 where layer norm's
# gradient of a one-element row is exactly 0). -pthread: gemm.c's worker threads
_FLAGS = (
    "-O3", "-march=native", "-fno-math-errno", "-ffp-contract=off", "-fPIC", "-shared",
    "-std=gnu11", "-pthread",
)  # fmt: skip
_MODES = ("auto", "0", "1")
_lock = threading.Lock()
_libs: dict = {}  # name -> CDLL, or the reason it is unavailable (str)
_fns: dict = {}  # (library, function) -> the ctypes function, its argument types set


_parsed = [None, "auto"]  # the last TOCHA_NATIVE value seen and its meaning (ops ask per call)


def mode() -> str:
    """``TOCHA_NATIVE`` as ``'auto'``, ``'0'`` or ``'1'`` (an error for anything else)."""
    raw = os.environ.get("TOCHA_NATIVE")
    if raw == _parsed[0]:
        return _parsed[1]
    m = (raw or "auto").strip().lower() or "auto"
    m = {"off": "0", "false": "0", "on": "1", "true": "1"}.get(m, m)
    if m not in _MODES:
        raise ValueError(f"TOCHA_NATIVE must be one of auto, 0, 1, got {m!r}")
    _parsed[:] = [raw, m]
    return m


def _compiler() -> str | None:
    cc = os.environ.get("CC")
    if cc:
        return shutil.which(cc) or cc
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _cpu_identity() -> str:
    """What -march=native compiles for: the CPU model and its instruction-set flags."""
    try:
        with open("/proc/cpuinfo") as f:
            keep = [
                ln for ln in f.read().splitlines()[:40] if ln.startswith(("model name", "flags"))
            ]
        return "\n".join(keep)
    except OSError:
        return platform.processor() or platform.machine()


def _sources(name: str) -> list[str]:
    headers = sorted(f for f in os.listdir(_HERE) if f.endswith(".h"))
    return [os.path.join(_HERE, f) for f in [f"{name}.c", *headers]]


def _library_path(name: str, cc: str) -> str:
    h = hashlib.sha256()
    for path in _sources(name):
        with open(path, "rb") as f:
            h.update(f.read())
    st = os.stat(cc)
    h.update(f"{os.path.realpath(cc)}|{st.st_size}|{st.st_mtime_ns}".encode())
    h.update(" ".join(_FLAGS).encode())
    h.update(f"{sys.platform}|{platform.machine()}|{_cpu_identity()}".encode())
    from ..hub import _tocha_home

    ext = ".dll" if sys.platform == "win32" else ".so"
    return os.path.join(_tocha_home(), "native", f"{name}-{h.hexdigest()[:20]}{ext}")


def _build(name: str) -> ctypes.CDLL:
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set CC, or install gcc or clang)")
    out = _library_path(name, cc)
    if not os.path.exists(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        # compile beside the target and rename: a concurrent process never sees half a file
        tmp = f"{out}.{os.getpid()}.{threading.get_ident()}.tmp"
        cmd = [cc, *_FLAGS, os.path.join(_HERE, f"{name}.c"), "-o", tmp, "-lm"]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if res.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr.strip()}")
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return ctypes.CDLL(out)


def load(name: str) -> ctypes.CDLL | None:
    """The compiled kernel library ``name`` (``_native/<name>.c``), or None when unavailable.

    Built once per process at most; with ``TOCHA_NATIVE=1`` a failure raises, naming why.
    """
    m = mode()
    if m == "0":
        return None
    lib = _libs.get(name)
    if lib is None:
        with _lock:
            lib = _libs.get(name)
            if lib is None:
                try:
                    lib = _build(name)
                except Exception as e:  # no compiler, a read-only cache, a failed build
                    lib = f"{type(e).__name__}: {e}"
                _libs[name] = lib
    if isinstance(lib, str):
        if m == "1":
            raise RuntimeError(f"tocha native kernel {name!r} is unavailable: {lib}")
        return None
    return lib


def function(library: str, name: str, *argtypes, restype=None):
    """The C function ``name`` of ``load(library)`` taking ``argtypes`` and returning
    ``restype`` (nothing by default), or None when the library is unavailable."""
    fn = _fns.get((library, name))
    if fn is not None and mode() != "0":  # the per-call path: one dict lookup, one env read
        return fn
    lib = load(library)
    if lib is None:
        return None
    if fn is None:
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = list(argtypes), restype
        _fns[(library, name)] = fn
    return fn
