"""dtypes and torch's type-promotion rules.

A `dtype` is a small immutable object wrapping a NumPy dtype (bfloat16 comes from ml_dtypes).
Promotion follows torch: operands are ranked in three priority groups (tensors with dimensions,
zero-dim tensors, Python scalars); a lower group only changes the result when it is of a higher
category (bool < integer < floating < complex).
"""

from __future__ import annotations

import builtins

import ml_dtypes
import numpy as np

__all__ = [
    "dtype",
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "half",
    "float",
    "double",
    "short",
    "int",
    "long",
    "cfloat",
    "cdouble",
    "get_default_dtype",
    "set_default_dtype",
    "promote_types",
    "can_cast",
    "finfo",
    "iinfo",
]

_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3
float_py, int_py, bool_py = builtins.float, builtins.int, builtins.bool


class dtype:
    """A tensor element type, e.g. ``tocha.core.float32``.

    Example:
        >>> import tocha.core as torch
        >>> torch.float32.is_floating_point, torch.float32.itemsize
        (True, 4)
    """

    __slots__ = ("name", "np", "category", "itemsize", "is_signed", "_rank")

    def __init__(self, name: str, np_dtype, category: int, rank: int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category
        self.itemsize = self.np.itemsize
        self.is_signed = name not in ("bool", "uint8")
        self._rank = rank

    @property
    def is_floating_point(self) -> bool:
        return self.category == _FLOAT

    @property
    def is_complex(self) -> bool:
        return self.category == _COMPLEX

    def to_real(self) -> dtype:
        return {complex64: float32, complex128: float64}.get(self, self)

    def to_complex(self) -> dtype:
        return {float64: complex128, complex128: complex128}.get(self, complex64)

    def __repr__(self) -> str:
        return "torch." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


bool = dtype("bool", np.bool_, _BOOL, 0)  # noqa: A001 - torch's public name
uint8 = dtype("uint8", np.uint8, _INT, 1)
int8 = dtype("int8", np.int8, _INT, 2)
int16 = dtype("int16", np.int16, _INT, 3)
int32 = dtype("int32", np.int32, _INT, 4)
int64 = dtype("int64", np.int64, _INT, 5)
float16 = dtype("float16", np.float16, _FLOAT, 6)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, _FLOAT, 7)
float32 = dtype("float32", np.float32, _FLOAT, 8)
float64 = dtype("float64", np.float64, _FLOAT, 9)
complex64 = dtype("complex64", np.complex64, _COMPLEX, 10)
complex128 = dtype("complex128", np.complex128, _COMPLEX, 11)

half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001
cfloat, cdouble = complex64, complex128

ALL = (bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
ALL = ALL + (complex64, complex128)
_BY_NAME = {d.name: d for d in ALL}
# torch's C++ scalar-type names, used in its error messages and Tensor.type() strings
SCALAR_TYPE_NAMES = {
    "bool": "Bool",
    "uint8": "Byte",
    "int8": "Char",
    "int16": "Short",
    "int32": "Int",
    "int64": "Long",
    "float16": "Half",
    "bfloat16": "BFloat16",
    "float32": "Float",
    "float64": "Double",
    "complex64": "ComplexFloat",
    "complex128": "ComplexDouble",
}
_BY_NP = {d.np: d for d in ALL}
_NP_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)


def from_numpy_dtype(np_dtype) -> dtype:
    """The tocha dtype of a NumPy dtype (raises TypeError for unsupported ones)."""
    try:
        return _BY_NP[np_dtype]
    except (KeyError, TypeError):
        pass
    nd = np.dtype(np_dtype)
    if nd in _BY_NP:
        return _BY_NP[nd]
    # NumPy types torch lacks map to the nearest torch type (as torch.from_numpy refuses them,
    # but tensor() of e.g. uint16 data is still useful).
    widened = {"uint16": int32, "uint32": int64, "uint64": int64, "longdouble": float64}
    if nd.name in widened:
        return widened[nd.name]
    raise TypeError(
        f"can't convert np.ndarray of type numpy.{nd.name}. The only supported types are: "
        "float64, float32, float16, bfloat16, complex64, complex128, int64, int32, int16, int8, "
        "uint8, and bool."
    )


def to_dtype(obj) -> dtype:
    """Accept a tocha dtype, a NumPy dtype/type or a name (``'float32'``) and return a dtype."""
    if obj.__class__ is dtype:
        return obj
    if isinstance(obj, str):
        if obj in _BY_NAME:
            return _BY_NAME[obj]
        raise TypeError(f"unknown dtype name {obj!r}")
    if obj is float_py:
        return float64
    if obj is int_py:
        return int64
    if obj is bool_py:
        return bool
    if obj is complex:
        return complex128
    return from_numpy_dtype(obj)


_default_dtype = float32


def get_default_dtype() -> dtype:
    """The dtype of floating tensors created from Python floats (``float32`` by default)."""
    return _default_dtype


def set_default_dtype(d: dtype) -> None:
    """Set the default floating dtype; only float32 and float64 (and float16/bfloat16) allowed."""
    global _default_dtype
    d = to_dtype(d)
    if d.category != _FLOAT:
        raise TypeError(f"set_default_dtype: only floating-point types are supported, got {d}")
    _default_dtype = d


def default_complex_dtype() -> dtype:
    return complex128 if _default_dtype is float64 else complex64


# Same-category promotion table computed once (torch's promote_types lattice).
def _promote_pair(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        if hi.category == _COMPLEX and lo.category == _FLOAT:
            return complex128 if (lo is float64 or hi is complex128) else complex64
        return hi
    if {a, b} == {float16, bfloat16}:
        return float32
    if a.category == _INT:
        if {a, b} == {uint8, int8}:
            return int16
        if uint8 in (a, b):
            return b if a is uint8 else a
    return a if a._rank > b._rank else b


_PROMOTE = {(a, b): _promote_pair(a, b) for a in ALL for b in ALL}


def promote_types(type1: dtype, type2: dtype) -> dtype:
    """The smallest dtype to which both may be cast (torch.promote_types).

    Example:
        >>> import tocha.core as torch
        >>> torch.promote_types(torch.uint8, torch.int8)
        torch.int16
    """
    return _PROMOTE[(to_dtype(type1), to_dtype(type2))]


def _combine(higher, lower):
    """torch's combine_categories: a lower-priority group only wins by category."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.category == _COMPLEX:
        return higher
    if lower.category == _COMPLEX:
        return higher.to_complex() if higher.category == _FLOAT else lower
    if higher.category == _FLOAT:
        return higher
    if higher is bool or lower.category == _FLOAT:
        return _PROMOTE[(higher, lower)]
    return higher


def scalar_dtype(value) -> dtype:
    """The dtype a Python scalar takes when wrapped (torch's 'wrapped number' rule)."""
    if isinstance(value, bool_py):
        return bool
    if isinstance(value, int_py):
        return int64
    if isinstance(value, float_py):
        return _default_dtype
    if isinstance(value, complex):
        return default_complex_dtype()
    if isinstance(value, np.generic):
        return from_numpy_dtype(value.dtype)
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


def result_type_of(dim_dtypes, zero_dim_dtypes=(), scalars=()) -> dtype:
    """Promote operands in torch's three priority groups (dimensioned, zero-dim, scalars)."""
    dim = zero = wrapped = None
    for d in dim_dtypes:
        dim = d if dim is None else _PROMOTE[(dim, d)]
    for d in zero_dim_dtypes:
        zero = d if zero is None else _PROMOTE[(zero, d)]
    for s in scalars:
        d = scalar_dtype(s)
        wrapped = d if wrapped is None else _PROMOTE[(wrapped, d)]
    return _combine(dim, _combine(zero, wrapped))


def can_cast(from_: dtype, to: dtype) -> bool:
    """torch.can_cast: False only when the cast lowers the category (float->int, etc.)."""
    return to_dtype(from_).category <= to_dtype(to).category


class finfo:
    """Machine limits of a floating dtype (torch.finfo)."""

    def __init__(self, type: dtype | None = None):
        d = to_dtype(type) if type is not None else _default_dtype
        if d.category not in (_FLOAT, _COMPLEX):
            raise TypeError(f"finfo: {d} is not a floating point dtype")
        info = ml_dtypes.finfo(d.to_real().np)
        self.dtype = d.to_real().name
        self.bits = d.to_real().itemsize * 8
        self.eps = float_py(info.eps)
        self.max = float_py(info.max)
        self.min = float_py(info.min)
        self.tiny = self.smallest_normal = float_py(info.tiny)
        self.resolution = 10.0 ** -int_py(info.precision)  # torch: exactly 10**-precision

    def __repr__(self):
        return (
            f"finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.tiny:g}, tiny={self.tiny:g}, "
            f"dtype={self.dtype})"
        )


class iinfo:
    """Machine limits of an integer dtype (torch.iinfo)."""

    def __init__(self, type: dtype):
        d = to_dtype(type)
        if d.category != _INT:
            raise TypeError(f"iinfo: {d} is not an integer dtype")
        info = np.iinfo(d.np) if d is not bool else np.iinfo(np.uint8)
        self.dtype = d.name
        self.bits = d.itemsize * 8
        self.max = int_py(info.max) if d is not bool else 1
        self.min = int_py(info.min) if d is not bool else 0

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
