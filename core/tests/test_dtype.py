"""dtypes: torch's promotion table and result-type rules, finfo/iinfo, can_cast, attributes."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import tocha.core as torch

_ABBR = {
    "b1": torch.bool,
    "u1": torch.uint8,
    "i1": torch.int8,
    "i2": torch.int16,
    "i4": torch.int32,
    "i8": torch.int64,
    "f2": torch.float16,
    "bf": torch.bfloat16,
    "f4": torch.float32,
    "f8": torch.float64,
    "c8": torch.complex64,
    "c16": torch.complex128,
}
_ORDER = list(_ABBR)

# torch.promote_types for every pair, generated once with torch 2.13 (a published reference):
# row = first argument, columns in the order of _ORDER.
PROMOTE_TABLE = {
    "b1": "b1 u1 i1 i2 i4 i8 f2 bf f4 f8 c8 c16",
    "u1": "u1 u1 i2 i2 i4 i8 f2 bf f4 f8 c8 c16",
    "i1": "i1 i2 i1 i2 i4 i8 f2 bf f4 f8 c8 c16",
    "i2": "i2 i2 i2 i2 i4 i8 f2 bf f4 f8 c8 c16",
    "i4": "i4 i4 i4 i4 i4 i8 f2 bf f4 f8 c8 c16",
    "i8": "i8 i8 i8 i8 i8 i8 f2 bf f4 f8 c8 c16",
    "f2": "f2 f2 f2 f2 f2 f2 f2 f4 f4 f8 c8 c16",
    "bf": "bf bf bf bf bf bf f4 bf f4 f8 c8 c16",
    "f4": "f4 f4 f4 f4 f4 f4 f4 f4 f4 f8 c8 c16",
    "f8": "f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 c16 c16",
    "c8": "c8 c8 c8 c8 c8 c8 c8 c8 c8 c16 c8 c16",
    "c16": "c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16",
}


@pytest.mark.parametrize("a", _ORDER)
def test_promote_types_matches_torch_table(a):
    row = PROMOTE_TABLE[a].split()
    for b, want in zip(_ORDER, row, strict=True):
        got = torch.promote_types(_ABBR[a], _ABBR[b])
        assert got == _ABBR[want], f"promote_types({_ABBR[a]}, {_ABBR[b]}) = {got}, want {want}"


def test_promote_types_is_symmetric():
    for a in _ORDER:
        for b in _ORDER:
            assert torch.promote_types(_ABBR[a], _ABBR[b]) == torch.promote_types(
                _ABBR[b], _ABBR[a]
            )


_SCALARS = {"True": True, "2": 2, "-1": -1, "300": 300, "2.5": 2.5, "1.0": 1.0}
_SCALARS.update({"1.5": 1.5, "1j": 1j})


def _operand(spec: str):
    """'t:int32' a 1-D tensor, 'z:int32' a zero-dim tensor, 's:2.5' a Python scalar."""
    kind, val = spec.split(":")
    if kind == "s":
        return _SCALARS[val]
    dt = getattr(torch, val)
    return torch.ones((2,), dtype=dt) if kind == "t" else torch.ones((), dtype=dt)


# (left, right, default dtype, result dtype), checked with torch 2.13
RESULT_TYPES = [
    ("t:int32", "s:2.5", "float32", "float32"),
    ("t:int32", "s:2.5", "float64", "float64"),
    ("t:int32", "s:2", "float32", "int32"),
    ("t:uint8", "s:-1", "float32", "uint8"),
    ("t:uint8", "s:300", "float32", "uint8"),
    ("t:bool", "s:True", "float32", "bool"),
    ("t:bool", "s:2", "float32", "int64"),
    ("t:bool", "s:2.5", "float64", "float64"),
    ("t:float16", "z:float64", "float32", "float16"),
    ("t:float16", "s:2.5", "float64", "float16"),
    ("t:bfloat16", "s:2.5", "float32", "bfloat16"),
    ("t:uint8", "t:int8", "float32", "int16"),
    ("z:uint8", "z:int8", "float32", "int16"),
    ("t:bool", "t:bool", "float32", "bool"),
    ("t:int64", "s:1.0", "float32", "float32"),
    ("t:int64", "s:1.0", "float64", "float64"),
    ("t:int8", "z:int64", "float32", "int8"),
    ("t:uint8", "z:int64", "float32", "uint8"),
    ("t:int8", "z:float64", "float32", "float64"),
    ("t:bool", "z:int32", "float32", "int32"),
    ("t:bool", "z:float64", "float32", "float64"),
    ("z:bool", "s:1.5", "float64", "float64"),
    ("z:int64", "z:float16", "float32", "float16"),
    ("z:int32", "s:2.5", "float32", "float32"),
    ("t:float32", "z:complex128", "float32", "complex64"),
    ("t:float64", "z:complex64", "float32", "complex128"),
    ("t:int32", "s:1j", "float32", "complex64"),
    ("t:int32", "s:1j", "float64", "complex128"),
    ("t:bfloat16", "t:float16", "float32", "float32"),
    ("t:int16", "t:int32", "float32", "int32"),
    ("t:int32", "t:float16", "float32", "float16"),
]


@pytest.mark.parametrize("left, right, default, want", RESULT_TYPES)
def test_result_type_of_binary_ops(left, right, default, want):
    torch.set_default_dtype(getattr(torch, default))
    a, b = _operand(left), _operand(right)
    want = getattr(torch, want)
    assert (a + b).dtype == want
    assert (a * b).dtype == want
    assert (b + a).dtype == want  # operand order (and the reflected operator) don't matter


def test_scalar_values_are_not_upcast_by_wrapped_numbers():
    x = torch.tensor([1, 2], dtype=torch.int32) + 2.5
    assert x.dtype == torch.float32 and x.tolist() == [3.5, 4.5]
    h = torch.tensor([1.0], dtype=torch.float16) + torch.tensor(1e-4, dtype=torch.float64)
    assert h.dtype == torch.float16 and h.tolist() == [1.0]  # computed in float16


def test_bfloat16_arithmetic():
    a = torch.tensor([1.0, 2.5, -3.0], dtype=torch.bfloat16)
    b = torch.tensor([0.5, 0.25, 2.0], dtype=torch.bfloat16)
    na = np.array([1.0, 2.5, -3.0], dtype=ml_dtypes.bfloat16)
    nb = np.array([0.5, 0.25, 2.0], dtype=ml_dtypes.bfloat16)
    for got, ref in [(a + b, na + nb), (a * b, na * nb), (a - b, na - nb), (a / b, na / nb)]:
        assert got.dtype == torch.bfloat16
        np.testing.assert_array_equal(got.float().numpy(), ref.astype(np.float32))
    assert (a * 2.5).dtype == torch.bfloat16
    assert (a + torch.ones(3)).dtype == torch.float32
    # bfloat16 has an 8-bit significand: 1 + 2**-9 rounds back to 1
    one = torch.tensor([1.0], dtype=torch.bfloat16)
    assert (one + 2**-9).tolist() == [1.0]
    assert (one + 2**-7).tolist() == [1.0 + 2**-7]


@pytest.mark.parametrize(
    "dtype, bits, eps, max_, tiny, resolution",
    [
        (torch.float16, 16, 2**-10, 65504.0, 2**-14, 0.001),
        (torch.bfloat16, 16, 2**-7, float(ml_dtypes.finfo(ml_dtypes.bfloat16).max), 2**-126, 0.01),
        (torch.float32, 32, 2**-23, float(np.finfo(np.float32).max), 2**-126, 1e-06),
        (torch.float64, 64, 2**-52, float(np.finfo(np.float64).max), 2**-1022, 1e-15),
        (torch.complex64, 32, 2**-23, float(np.finfo(np.float32).max), 2**-126, 1e-06),
        (torch.complex128, 64, 2**-52, float(np.finfo(np.float64).max), 2**-1022, 1e-15),
    ],
)
def test_finfo_values(dtype, bits, eps, max_, tiny, resolution):
    fi = torch.finfo(dtype)
    assert fi.bits == bits
    assert fi.eps == eps
    assert fi.max == max_ and fi.min == -max_
    assert fi.tiny == tiny and fi.smallest_normal == tiny
    assert fi.resolution == pytest.approx(resolution, rel=1e-3)
    assert fi.dtype == dtype.to_real().name


def test_finfo_resolution_is_exact_power_of_ten():
    assert torch.finfo(torch.float16).resolution == 0.001
    assert torch.finfo(torch.bfloat16).resolution == 0.01
    assert torch.finfo(torch.float32).resolution == 1e-06


def test_finfo_default_and_errors():
    assert torch.finfo().dtype == "float32"
    torch.set_default_dtype(torch.float64)
    assert torch.finfo().bits == 64
    with pytest.raises(TypeError):
        torch.finfo(torch.int32)
    with pytest.raises(TypeError):
        torch.iinfo(torch.float32)


@pytest.mark.parametrize(
    "dtype, bits, lo, hi",
    [
        (torch.uint8, 8, 0, 255),
        (torch.int8, 8, -128, 127),
        (torch.int16, 16, -(2**15), 2**15 - 1),
        (torch.int32, 32, -(2**31), 2**31 - 1),
        (torch.int64, 64, -(2**63), 2**63 - 1),
    ],
)
def test_iinfo_values(dtype, bits, lo, hi):
    ii = torch.iinfo(dtype)
    assert (ii.bits, ii.min, ii.max, ii.dtype) == (bits, lo, hi, dtype.name)
    assert isinstance(ii.max, int)


def test_iinfo_refuses_bool():
    with pytest.raises(TypeError):
        torch.iinfo(torch.bool)


def test_can_cast_follows_categories():
    cats = {"b1": 0, "u1": 1, "i1": 1, "i2": 1, "i4": 1, "i8": 1}
    cats.update({"f2": 2, "bf": 2, "f4": 2, "f8": 2, "c8": 3, "c16": 3})
    for a in _ORDER:
        for b in _ORDER:
            want = cats[a] <= cats[b]  # torch: only a lower category is refused
            assert torch.can_cast(_ABBR[a], _ABBR[b]) is want, (a, b)
    assert torch.can_cast(torch.float64, torch.float16)
    assert not torch.can_cast(torch.float32, torch.int64)
    assert not torch.can_cast(torch.int8, torch.bool)


@pytest.mark.parametrize("name", _ORDER)
def test_dtype_attributes(name):
    d = _ABBR[name]
    assert d.is_floating_point == (name[0] in "fb" and name != "b1")
    assert d.is_complex == (name[0] == "c")
    assert d.is_signed == (name not in ("b1", "u1"))
    sizes = {"b1": 1, "u1": 1, "i1": 1, "i2": 2, "i4": 4, "i8": 8, "f2": 2, "bf": 2, "f4": 4}
    sizes.update({"f8": 8, "c8": 8, "c16": 16})
    assert d.itemsize == sizes[name]
    assert repr(d) == f"torch.{d.name}"


def test_dtype_aliases_and_conversions():
    assert torch.float is torch.float32 and torch.double is torch.float64
    assert torch.half is torch.float16 and torch.long is torch.int64
    assert torch.int is torch.int32 and torch.short is torch.int16
    assert torch.cfloat is torch.complex64 and torch.cdouble is torch.complex128
    assert torch.float32.to_complex() is torch.complex64
    assert torch.float64.to_complex() is torch.complex128
    assert torch.complex64.to_real() is torch.float32
    assert torch.complex128.to_real() is torch.float64
    import pickle

    assert pickle.loads(pickle.dumps(torch.bfloat16)) is torch.bfloat16
