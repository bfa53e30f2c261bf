"""``cupy.ElementwiseKernel`` on the host, for the fake ``cupy`` of host_kernels.py: the
kernel's own ``operation`` text (and ``preamble``) compiled with g++ after ``host_cuda.h``
into a C++ loop over the elements, called through ctypes. What runs is the text the GPU
compiles, in the frame CuPy generates around it:

- parameters as CuPy parses them (``"float64 slope, T x"``): a one-letter type is a
  placeholder bound from the arrays' dtypes (``typedef <C type> T;`` before the preamble),
  the same placeholder bound twice to different dtypes is CuPy's ``TypeError``; scalars are
  cast to their parameter's dtype;
- the body sees ``const T &x`` for each input and ``T &y`` for each output (element
  ``_ind.get()``), the loop index ``i`` and ``_ind.size()``;
- C types as CuPy names them (``float``, ``double``, ``long long`` ...), float16 as a stand-in
  for CuPy's ``float16`` class (a ``__half`` converting implicitly from and to ``float``);
- inputs broadcast together, outputs allocated when not given, nothing launched for an empty
  result.

``raw`` parameters and ``size=`` are not supported (no kernel that runs here uses them).
An elementwise kernel has no inter-thread traffic, so one loop stands for CUDA's grid-stride
loop. Compiled kernels are cached per (operation, preamble, parameters, types), and each is
in a namespace of its own, so prebuild() compiles many in one g++ run (~1 s of header parsing
per run, which would otherwise be paid per kernel and dtype).
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

HEADER = Path(__file__).resolve().parent / "host_cuda.h"

launched: list[str] = []  # names of the kernels run, in order (tests clear and inspect it)

# CuPy's C type per dtype (cupy/_core/_scalar.pyx)
_CTYPES = {
    np.dtype(np.bool_): "bool",
    np.dtype(np.int8): "signed char",
    np.dtype(np.uint8): "unsigned char",
    np.dtype(np.int16): "short",
    np.dtype(np.uint16): "unsigned short",
    np.dtype(np.int32): "int",
    np.dtype(np.uint32): "unsigned int",
    np.dtype(np.int64): "long long",
    np.dtype(np.uint64): "unsigned long long",
    np.dtype(np.float16): "float16",
    np.dtype(np.float32): "float",
    np.dtype(np.float64): "double",
}

# <math.h> puts the float overloads (exp(float) ...) in the global namespace, as CUDA's device
# maths does; without it exp(v) of a float v would run in double here.
_PRELUDE = r"""
#include <math.h>
#include <cstddef>
// CuPy's float16 (cupy/float16.cuh): converts implicitly from float and to float
class float16 {
  __half data_;
 public:
  float16() = default;
  float16(float v) : data_(v) {}
  explicit float16(double v) : data_(v) {}
  explicit float16(bool v) : data_(float(v)) {}
  explicit float16(int v) : data_(float(v)) {}
  explicit float16(long long v) : data_(float(v)) {}
  operator float() const { return __half2float(data_); }
  float16& operator=(const float16&) = default;
  template <typename U> float16& operator=(const U& rhs) {
    *this = static_cast<float16>(rhs);
    return *this;
  }
};
static_assert(sizeof(float16) == 2);
struct tocha_ew_indexer {
  ptrdiff_t n, at;
  ptrdiff_t size() const { return n; }
  ptrdiff_t get() const { return at; }
  void set(ptrdiff_t i) { at = i; }
};
"""


class _Param:
    """One parameter as CuPy parses it: ``[raw] <dtype name | placeholder> <name>``."""

    def __init__(self, text: str, is_input: bool):
        words = text.split()
        if len(words) < 2:
            raise ValueError(f"ElementwiseKernel: syntax error in parameter {text!r}")
        self.type, self.name = words[-2:]
        if any(w != "raw" for w in words[:-2]):
            raise ValueError(f"ElementwiseKernel: unknown keyword in {text!r}")
        if "raw" in words[:-2]:
            raise NotImplementedError(f"host ElementwiseKernel: raw parameter {text!r}")
        self.dtype = None if len(self.type) == 1 else np.dtype(self.type)
        self.is_input = is_input


def _params(s: str, is_input: bool) -> list[_Param]:
    return [_Param(p, is_input) for p in s.split(",")] if s.strip() else []


_BUILD: list[Path] = []
_FNS: dict[str, object] = {}  # entry point -> ctypes function, over all kernels


def _compile(units: dict[str, str], name: str) -> None:
    """Build ``units`` (entry point -> its source) as one shared library (one g++ run: most
    of its time is reading the headers, so prebuild() batches many kernels into one)."""
    from .host_kernels import host_compiler

    found = host_compiler()
    if found is None:
        import pytest

        pytest.skip("g++ or the CUDA headers (cuda_fp16.h, cuda_bf16.h) are missing")
    if not _BUILD:
        _BUILD.append(Path(tempfile.mkdtemp(prefix="tocha-host-ew-")))
        atexit.register(shutil.rmtree, _BUILD[0], True)
    gxx, inc = found
    source = _PRELUDE + "".join(units.values())
    key = hashlib.sha256(source.encode()).hexdigest()[:16]
    cpp, so = _BUILD[0] / f"{name}-{key}.cpp", _BUILD[0] / f"{name}-{key}.so"
    cpp.write_text(source)
    res = subprocess.run(
        [gxx, "-std=c++20", "-O1", "-fPIC", "-pthread", f"-I{inc}", "-include", str(HEADER),
         "-shared", "-o", str(so), str(cpp)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError(f"ElementwiseKernel {name}: g++ failed:\n{res.stderr[-4000:]}")
    lib = ctypes.CDLL(str(so))
    for sym in units:
        fn = getattr(lib, sym)
        fn.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
        fn.restype = None
        _FNS[sym] = fn


def prebuild(calls) -> None:
    """Compile, in one g++ run, the kernels that ``kernel(*args)`` for each ``(kernel, args)``
    of ``calls`` will need (later calls with the same types then compile nothing)."""
    units = {}
    for kernel, args in calls:
        sym, text = kernel._unit(*kernel._bind(args)[3:5])
        if sym not in _FNS:
            units[sym] = text
    if units:
        _compile(units, "prebuild")


class ElementwiseKernel:
    """``cupy.ElementwiseKernel(in_params, out_params, operation, name, preamble=...)``."""

    def __init__(self, in_params, out_params, operation, name="kernel", preamble="", **kw):
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise ValueError(f'Invalid kernel name: "{name}"')
        unknown = set(kw) - {"reduce_dims", "no_return", "return_tuple", "options"}
        if unknown:
            raise TypeError(f"ElementwiseKernel: unsupported arguments {sorted(unknown)}")
        self.in_params = _params(in_params, True)
        self.out_params = _params(out_params, False)
        if "i" in [p.name for p in self.in_params + self.out_params]:
            raise ValueError("Can not use 'i' as a parameter name")
        self.operation, self.name, self.preamble = operation, name, preamble
        self.nin, self.nout = len(self.in_params), len(self.out_params)
        self.no_return = kw.get("no_return", False)
        self.return_tuple = kw.get("return_tuple", False)

    def _types(self, ins, outs) -> dict[str, np.dtype]:
        """CuPy's binding of the placeholders: outputs first, then inputs."""
        bound: dict[str, np.dtype] = {}
        for p, a in [*zip(self.out_params, outs), *zip(self.in_params, ins)]:
            if not isinstance(a, np.ndarray):
                continue
            if p.dtype is not None:
                if a.dtype != p.dtype:
                    raise TypeError(f"Type is mismatched. {p.name} {a.dtype} {p.dtype}")
            elif p.type in bound and bound[p.type] != a.dtype:
                raise TypeError(f"Type is mismatched. {p.name} {a.dtype} {bound[p.type]} {p.type}")
            else:
                bound.setdefault(p.type, a.dtype)
        return bound

    def _unit(self, bound: dict[str, np.dtype], scalar: tuple[bool, ...]) -> tuple[str, str]:
        """(entry point, source) of this kernel for these types: CuPy's frame around the
        operation, in a namespace of its own so that many kernels share one build."""

        def ctype(dt):
            if dt not in _CTYPES:
                raise TypeError(f"{self.name}: no C type for dtype {dt}")
            return _CTYPES[dt]

        typedefs = "".join(f"typedef {ctype(dt)} {t};\n" for t, dt in sorted(bound.items()))
        unpack, body = [], []
        for k, p in enumerate(self.in_params + self.out_params):
            c = p.type if p.dtype is None else ctype(p.dtype)
            if p.is_input and scalar[k]:
                unpack.append(f"const {c} {p.name} = *static_cast<const {c}*>(_args[{k}]);")
                continue
            const = "const " if p.is_input else ""
            unpack.append(f"{const}{c}* _raw_{p.name} = static_cast<{const}{c}*>(_args[{k}]);")
            body.append(f"{const}{c} &{p.name} = _raw_{p.name}[_ind.get()];")
        nl = "\n"
        text = (
            f"{typedefs}{self.preamble}\n"
            f'extern "C" void @(void** _args, ptrdiff_t _n) {{\n'
            f"{nl.join(unpack)}\n"
            f"tocha_ew_indexer _ind{{_n, 0}};\n"
            f"for (ptrdiff_t i = 0; i < _ind.size(); ++i) {{\n_ind.set(i);\n"
            f"{nl.join(body)}\n{self.operation};\n}}\n}}\n"
        )
        sym = f"tocha_ew_{self.name}_{hashlib.sha256(text.encode()).hexdigest()[:16]}"
        return sym, f"namespace {sym}_ns {{\n{text.replace('@', sym, 1)}}}\n"

    def _bind(self, args):
        """CuPy's argument handling: (inputs, outputs or [], broadcast shape, placeholder
        types, which inputs are scalars)."""
        from .host_kernels import DeviceArray

        if len(args) not in (self.nin, self.nin + self.nout):
            raise TypeError(
                f"Wrong number of arguments for {self.name!r}. It must be either {self.nin} "
                f"or {self.nin + self.nout} (with outputs), but given {len(args)}."
            )
        ins, outs = list(args[: self.nin]), list(args[self.nin :])
        for k, a in enumerate(ins + outs):
            if isinstance(a, np.ndarray) and not isinstance(a, DeviceArray):
                raise TypeError(f"{self.name}: argument {k} is a host NumPy array")
        if any(not isinstance(o, np.ndarray) for o in outs):
            raise TypeError("Output arguments type must be cupy.ndarray")
        scalar = tuple(not isinstance(a, np.ndarray) for a in ins)
        arrays = [a for a in ins + outs if isinstance(a, np.ndarray)]
        if not arrays:
            raise ValueError("Loop size is undecided.")
        shape = np.broadcast_shapes(*[a.shape for a in arrays])
        bound = self._types(ins, outs)
        for p, s in zip(self.in_params, scalar, strict=True):
            if s and p.dtype is None and p.type not in bound:
                raise TypeError(f"{self.name}: type {p.type} of {p.name} is undecided")
        return ins, outs, shape, bound, scalar

    def __call__(self, *args, **kwargs):
        from .host_kernels import DeviceArray

        if kwargs:
            raise TypeError(f"Wrong arguments {kwargs}")
        ins, outs, shape, bound, scalar = self._bind(args)
        if outs:
            if any(o.shape != shape for o in outs):
                raise ValueError("Out shape is mismatched")
        else:
            outs = [
                np.empty(shape, p.dtype if p.dtype is not None else bound[p.type]).view(DeviceArray)
                for p in self.out_params
            ]
        ret = None if self.no_return else (
            outs[0] if self.nout == 1 and not self.return_tuple else tuple(outs)
        )  # fmt: skip
        if 0 in shape:
            return ret
        keep = []  # the arrays the pointers point into, alive until the call returns
        for p, a, s in zip(self.in_params, ins, scalar, strict=True):
            if s:  # cast to the parameter's dtype as CuPy's CScalar.apply_dtype
                keep.append(np.array(a, dtype=p.dtype if p.dtype is not None else bound[p.type]))
            else:
                keep.append(np.ascontiguousarray(np.broadcast_to(a, shape)))
        work = [o if o.flags.c_contiguous else np.empty(shape, o.dtype) for o in outs]
        ptrs = [a.ctypes.data for a in keep + work]
        sym, text = self._unit(bound, scalar)
        if sym not in _FNS:
            _compile({sym: text}, self.name)
        _FNS[sym]((ctypes.c_void_p * len(ptrs))(*ptrs), int(np.prod(shape)))
        for o, w in zip(outs, work, strict=True):
            if w is not o:
                o[...] = w
        launched.append(self.name)
        return ret
