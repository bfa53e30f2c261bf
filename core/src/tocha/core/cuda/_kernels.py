"""tocha's hand-written CUDA kernels: loading and launch geometry.

The kernels are CUDA C++ in ``kernels/*.cu`` beside this file. Each file exposes plain
``extern "C"`` entry points, one per dtype (``softmax_fwd_f32``, ``softmax_fwd_f16``,
``softmax_fwd_bf16``, ...), each a thin instantiation of a ``__device__`` template, so the
names are stable for ``cupy.RawModule.get_function`` and the same file compiles with ``nvcc``
(the ``kernels`` nox session, no GPU needed) and with NVRTC at run time.

A file is compiled once per process and device architecture, on first use (NVRTC; CuPy caches
the binary on disk). Everything below the loader is pure Python and unit-tested on the CPU:
the choice of block sizes and grid shapes is where launch bugs hide, and it needs no GPU.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

KERNEL_DIR = Path(__file__).resolve().parent / "kernels"

# NVRTC options shared by every file (nvcc gets the same -std in the kernels session)
_OPTIONS = ("-std=c++17",)

MAX_THREADS = 1024  # threads per block on every architecture tocha supports (sm_80+)
WARP = 32
MAX_GRID_X = 2**31 - 1
MAX_GRID_YZ = 65535


def dtype_suffix(dtype) -> str:
    """The entry-point suffix for ``dtype``: 'f32', 'f64', 'f16' or 'bf16'.

    Raises:
        TypeError: for any other dtype, naming it.
    """
    dt = np.dtype(dtype)
    if dt == np.float32:
        return "f32"
    if dt == np.float64:
        return "f64"
    if dt == np.float16:
        return "f16"
    if dt.name == "bfloat16":  # ml_dtypes' and CuPy's bfloat16 share the name
        return "bf16"
    raise TypeError(f"tocha.core.cuda kernels: no kernel for dtype {dt.name}")


def source(stem: str) -> str:
    """The CUDA source of ``kernels/<stem>.cu``.

    Raises:
        FileNotFoundError: naming the missing file.
    """
    path = KERNEL_DIR / f"{stem}.cu"
    if not path.is_file():
        raise FileNotFoundError(f"tocha.core.cuda kernels: no kernel file {path}")
    return path.read_text()


def cuda_include_dirs(candidates=None) -> list[str]:
    """Directories holding the CUDA headers the kernels include (``cuda_bf16.h``,
    ``cuda_fp16.h``): NVRTC does not search them by itself, and CuPy adds only some. Looked for
    in ``$CUDA_PATH``/``$CUDA_HOME``, CuPy's CUDA path, the ``nvidia-*`` wheels of the CUDA
    runtime, and /usr/local/cuda; the first directory that has ``cuda_bf16.h`` wins."""
    if candidates is None:
        candidates = []
        for var in ("CUDA_PATH", "CUDA_HOME"):
            if os.environ.get(var):
                candidates.append(Path(os.environ[var]) / "include")
        try:
            import cupy

            path = cupy.cuda.get_cuda_path()
            if path:
                candidates.append(Path(path) / "include")
        except Exception:  # no CuPy: the loader is not used anyway
            pass
        try:  # the pip-installed CUDA runtime headers (nvidia/cu13/include, nvidia/cuda_runtime/...)
            import nvidia

            for root in nvidia.__path__:
                candidates.extend(sorted(Path(root).glob("*/include")))
        except Exception:
            pass
        candidates.append(Path("/usr/local/cuda/include"))
    for d in candidates:
        if (Path(d) / "cuda_bf16.h").is_file():
            return [str(d)]
    return []


@functools.cache
def _module(stem: str, arch: str):
    import cupy

    # the kernels directory too: files share device code through headers (rows.cuh)
    options = _OPTIONS + tuple(f"-I{d}" for d in [str(KERNEL_DIR), *cuda_include_dirs()])
    return cupy.RawModule(code=source(stem), options=options)


def function(stem: str, name: str):
    """The kernel ``name`` of ``kernels/<stem>.cu`` on the current device (compiled once per
    file and device architecture)."""
    import cupy

    arch = cupy.cuda.Device().compute_capability
    return _module(stem, arch).get_function(name)


# --- launch geometry (pure Python) --------------------------------------------------------


def blocks_for(n: int, threads: int) -> int:
    """Blocks of ``threads`` covering ``n`` elements with one thread each (at least 1, so an
    empty launch is still valid), capped at the grid limit: kernels stride by the grid."""
    if threads <= 0 or threads > MAX_THREADS:
        raise ValueError(f"blocks_for: threads must be in 1..{MAX_THREADS}, got {threads}")
    return max(1, min(MAX_GRID_X, -(-n // threads)))


def row_threads(ncols: int, per_thread: int = 4) -> int:
    """Threads per block for a row-wise kernel (one block per row: softmax, layer norm,
    cross-entropy): a multiple of the warp size giving each thread about ``per_thread``
    elements, at least one warp and at most ``MAX_THREADS``."""
    want = -(-max(ncols, 1) // per_thread)
    warps = -(-want // WARP)
    return int(min(MAX_THREADS, max(WARP, warps * WARP)))


def row_grid(nrows: int) -> tuple[int, int]:
    """A (x, y) grid with one block per row for up to 2**31-1 * 65535 rows; kernels compute
    ``row = blockIdx.y * gridDim.x + blockIdx.x`` and skip rows past ``nrows``."""
    if nrows <= MAX_GRID_X:
        return (max(1, nrows), 1)
    y = -(-nrows // MAX_GRID_X)
    if y > MAX_GRID_YZ:
        raise ValueError(f"row_grid: {nrows} rows exceed the CUDA grid")
    return (MAX_GRID_X, y)
