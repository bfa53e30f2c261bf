"""Compile CUDA kernel files with NVRTC, as cupy.RawModule does at run time, without a GPU.

    python .ci/nvrtc_compile.py core/src/tocha/core/cuda/kernels/*.cu

Needs CuPy with its CUDA toolkit wheels (`pip install "cupy-cuda13x[ctk]"`); the `kernels-nvrtc`
nox session installs them. CuPy's own `compile_using_nvrtc` asks the driver for the current
device, so this calls NVRTC through CuPy's bindings directly. Any error or warning fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cupy
from cuda.pathfinder import find_nvidia_header_directory
from cupy_backends.cuda.libs import nvrtc

ARCHS = ("compute_80", "compute_90", "sm_80", "sm_90")
# the include paths and default execution space cupy.RawModule compiles with
INCLUDES = [
    f"-I{find_nvidia_header_directory('cudart')}",
    f"-I{Path(cupy.__file__).parent / '_core' / 'include'}",
]


def compile_file(path: Path) -> int:
    """Number of architectures ``path`` failed (or warned) for."""
    src = path.read_text()
    bad = 0
    for arch in ARCHS:
        prog = nvrtc.createProgram(src, path.name, (), ())
        opts = ["-std=c++17", f"-arch={arch}", f"-I{path.parent}", *INCLUDES]
        opts.append("--device-as-default-execution-space")
        try:
            nvrtc.compileProgram(prog, opts)
            log = nvrtc.getProgramLog(prog).strip()
            print(f"{path.name} {arch}: ok" + (f"\n  warnings:\n{log}" if log else ""))
            bad += bool(log)
        except Exception as exc:  # NVRTCError: the log says why
            print(f"{path.name} {arch}: FAILED ({exc})\n{nvrtc.getProgramLog(prog)}")
            bad += 1
        finally:
            nvrtc.destroyProgram(prog)
    return bad


def main(paths: list[str]) -> int:
    print(f"NVRTC {nvrtc.getVersion()}")
    failed = [p for p in paths if compile_file(Path(p))]
    if failed:
        print(f"{len(failed)} of {len(paths)} file(s) failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
