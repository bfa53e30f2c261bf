"""Op table entries: pointwise maths (tocha.core._ops.pointwise)."""

from __future__ import annotations

import numpy as np
import scipy.special as sp

import tocha.core as torch

from . import ErrorInput, OpInfo, SampleInput

FLOATS = (torch.float32, torch.float64)
HALF = (torch.float16, torch.bfloat16)
INTS = (torch.int32, torch.int64)
ALL_FLOAT = HALF + FLOATS
COMPLEX = (torch.complex64, torch.complex128)
NUM = ALL_FLOAT + INTS


def _arr(rng, shape, dtype, low, high):
    if dtype.is_complex:
        re = rng.uniform(low, high, shape)
        im = rng.uniform(low, high, shape)
        return np.asarray(re + 1j * im).astype(dtype.np)
    if dtype.is_floating_point:
        return rng.uniform(low, high, shape).astype(dtype.np)
    if dtype is torch.bool:
        return rng.integers(0, 2, shape).astype(bool)
    lo, hi = int(np.ceil(low)), int(np.floor(high))
    return rng.integers(lo, hi + 1, shape).astype(dtype.np)


def _away(a, points, gap):
    """Move values within ``gap`` of any of ``points`` (non-differentiable spots) away."""
    a = a.copy()
    for p in points:
        close = np.abs(a.astype(np.float64) - p) < gap
        a[close] = (p + 2 * gap) if a.dtype.kind != "c" else a[close]
    return a


def _unary_samples(low=-2.0, high=2.0, avoid=(), gap=0.1, shapes=((3, 4), (), (2, 1, 3))):
    def gen(dtype, rng):
        for shape in shapes:
            a = _arr(rng, shape, dtype, low, high)
            if avoid and dtype.is_floating_point:
                a = _away(a, avoid, gap)
            yield SampleInput((a,), name=f"shape{shape}")

    return gen


def _float_out(sample, dtype):
    return dtype if (dtype.is_floating_point or dtype.is_complex) else torch.get_default_dtype()


def _bool_out(sample, dtype):
    return torch.bool


def _f64(fn, upcast=True):
    """Reference computed in float64 (complex128) for float inputs and cast back to the
    input's dtype, so SciPy, float16 and bfloat16 all get an accurate reference."""

    def ref(*args, **kw):
        like = next((a for a in args if isinstance(a, np.ndarray)), None)
        if like is None or not upcast or like.dtype.kind not in "fcV":
            return fn(*args, **kw)
        up = np.complex128 if like.dtype.kind == "c" else np.float64
        cast = [
            a.astype(up) if isinstance(a, np.ndarray) and a.dtype.kind in "fcV" else a for a in args
        ]
        with np.errstate(all="ignore"):
            res = fn(*cast, **kw)
        res = np.asarray(res)
        kind = "f" if like.dtype.kind == "V" else like.dtype.kind
        if res.dtype.kind in "fc":
            res = res.astype(like.dtype if res.dtype.kind == kind else res.dtype)
        return res

    return ref


def _unary(
    name,
    op,
    ref,
    low=-2.0,
    high=2.0,
    dtypes=ALL_FLOAT + INTS,
    int_to_float=True,
    avoid=(),
    gap=0.1,
    upcast=True,
    **kw,
):
    kw.setdefault("out_dtype", _float_out if int_to_float else None)
    if int_to_float:
        # integer inputs are computed in the default float dtype, the reference in float64
        kw["tol"] = {"int32": (1e-5, 1e-5), "int64": (1e-5, 1e-5), **kw.get("tol", {})}
    return OpInfo(
        name,
        op,
        _f64(ref, upcast),
        _unary_samples(low, high, avoid, gap),
        dtypes,
        **kw,
    )


# Looser tolerances for low precision: the reference is computed in float64.
_LOW = {"float16": (2e-2, 2e-2), "bfloat16": (5e-2, 5e-2)}


def _binary_samples(low=-2.0, high=2.0, low_b=None, high_b=None, scalar=None, avoid_b=()):
    low_b = low if low_b is None else low_b
    high_b = high if high_b is None else high_b

    def gen(dtype, rng):
        pairs = [((3, 4), (3, 4), "same"), ((2, 3), (3,), "broadcast"), ((), (2, 2), "zero_dim")]
        for sa, sb, name in pairs:
            a = _arr(rng, sa, dtype, low, high)
            b = _arr(rng, sb, dtype, low_b, high_b)
            if avoid_b and dtype.is_floating_point:
                b = _away(b, avoid_b, 0.1)
            yield SampleInput((a, b), name=name)
        if scalar is not None:
            yield SampleInput((_arr(rng, (2, 3), dtype, low, high), scalar), name="scalar")

    return gen


def _no_tie_samples(dtype, rng):
    """Pairs with no equal elements (maximum/minimum/fmax/fmin are not differentiable there)."""
    for sa, sb, name in [((3, 4), (3, 4), "same"), ((2, 3), (3,), "broadcast")]:
        a = _arr(rng, sa, dtype, -3, 3)
        b = _arr(rng, sb, dtype, -3, 3)
        if dtype.is_floating_point:
            b = b + np.asarray(0.05, dtype=b.dtype)
            a = np.where(np.abs(a - b) < 0.1, a + np.asarray(0.3, a.dtype), a).astype(a.dtype)
        yield SampleInput((a, b), name=name)


def _nan_pair_samples(dtype, rng):
    yield from _no_tie_samples(dtype, rng)
    if dtype.is_floating_point:
        a = np.array([1.0, np.nan, np.nan, -2.0], dtype=dtype.np)
        b = np.array([np.nan, 3.0, np.nan, 1.0], dtype=dtype.np)
        yield SampleInput((a, b), grad=(), name="nan")


# --- references -----------------------------------------------------------------------------
def _np_round(a, decimals=0):
    return np.round(a, decimals)


def _logit(a, eps=None):
    z = a if eps is None else np.clip(a, eps, 1 - eps)
    return np.log(z / (1 - z))


def _sigmoid(a):
    return sp.expit(a)


def _clamp(a, min=None, max=None):
    if min is not None:
        a = np.maximum(a, min)
    if max is not None:
        a = np.minimum(a, max)
    return a


def _where_ref(c, a, b):
    return np.where(c, a, b)


def _masked_fill_ref(a, m, v):
    return np.where(m, np.asarray(v).astype(a.dtype), a).astype(a.dtype)


def _heaviside_ref(a, v):
    return np.where(a == 0, v, (a > 0).astype(a.dtype)).astype(a.dtype)


def _angle_ref(a):
    if a.dtype.kind == "c":
        return np.angle(a)
    return np.where(a < 0, np.pi, 0.0)


def _xlogy_ref(a, b):
    return sp.xlogy(a, b)


def _frac_ref(a):
    return a - np.trunc(a)


def _sgn_ref(a):
    if a.dtype.kind == "c":
        m = np.abs(a)
        return np.where(m == 0, 0, a / np.where(m == 0, 1, m))
    return np.sign(a)


def _lerp_ref(a, b, w):
    return a + w * (b - a)


def _addcmul_ref(a, t1, t2, value=1):
    return a + value * t1 * t2


def _addcdiv_ref(a, t1, t2, value=1):
    return a + value * t1 / t2


def _softmax_ref(a, dim):
    return sp.softmax(a, axis=dim)


def _log_softmax_ref(a, dim):
    return sp.log_softmax(a, axis=dim)


def _shift_ref(left):
    def ref(a, b):
        b = np.asarray(b)
        return np.left_shift(a, b.astype(a.dtype)) if left else np.right_shift(a, b.astype(a.dtype))

    return ref


# --- samples for the multi-argument ops -----------------------------------------------------
def _where_samples(dtype, rng):
    for sc, sa, sb, name in [
        ((3, 4), (3, 4), (3, 4), "same"),
        ((3, 1), (1, 4), (4,), "broadcast"),
        ((2, 3), (), (2, 3), "zero_dim"),
    ]:
        c = rng.integers(0, 2, sc).astype(bool)
        yield SampleInput((c, _arr(rng, sa, dtype, -3, 3), _arr(rng, sb, dtype, -3, 3)), name=name)
    c = rng.integers(0, 2, (2, 3)).astype(bool)
    other = 1.5 if dtype.is_floating_point else (True if dtype is torch.bool else 2)
    yield SampleInput((c, _arr(rng, (2, 3), dtype, -3, 3), other), name="scalar_other")


def _masked_fill_samples(dtype, rng):
    a = _arr(rng, (3, 4), dtype, -3, 3)
    yield SampleInput((a, rng.integers(0, 2, (3, 4)).astype(bool), 2), name="int_value")
    a = _arr(rng, (3, 4), dtype, -3, 3)
    yield SampleInput((a, rng.integers(0, 2, (4,)).astype(bool), -1), name="broadcast_mask")
    if dtype.is_floating_point:
        a = _arr(rng, (2, 3), dtype, -3, 3)
        v = np.asarray(0.75, dtype=dtype.np)
        yield SampleInput((a, rng.integers(0, 2, (2, 3)).astype(bool), v), name="tensor_value")


def _clamp_samples(dtype, rng):
    def x(shape):
        a = _arr(rng, shape, dtype, -3, 3)
        if dtype.is_floating_point:
            a = _away(a, (-1.0, 1.0), 0.05)
        return a

    yield SampleInput((x((3, 4)),), {"min": -1, "max": 1}, name="both")
    yield SampleInput((x((3, 4)),), {"min": -1}, name="min_only")
    yield SampleInput((x((5,)),), {"max": 1}, name="max_only")


def _clamp_tensor_samples(dtype, rng):
    a = _arr(rng, (3, 4), dtype, -3, 3)
    lo = _arr(rng, (4,), dtype, -2, -0.5)
    hi = _arr(rng, (3, 1), dtype, 0.5, 2)
    if dtype.is_floating_point:
        a = np.where(np.abs(a - lo) < 0.05, a + 0.2, a).astype(dtype.np)
        a = np.where(np.abs(a - hi) < 0.05, a + 0.2, a).astype(dtype.np)
    yield SampleInput((a, lo, hi), name="both")
    a2 = _arr(rng, (2, 3), dtype, -3, 3)
    lo2 = _arr(rng, (2, 3), dtype, -1, 1)
    if dtype.is_floating_point:
        a2 = np.where(np.abs(a2 - lo2) < 0.05, a2 + 0.2, a2).astype(dtype.np)
    yield SampleInput((a2, lo2, None), name="min_only")


def _lerp_samples(dtype, rng):
    a, b = _arr(rng, (3, 4), dtype, -2, 2), _arr(rng, (3, 4), dtype, -2, 2)
    yield SampleInput((a, b, 0.3), name="scalar_low")
    yield SampleInput((a.copy(), b.copy(), 0.7), name="scalar_high")
    w = _arr(rng, (4,), dtype, -0.5, 1.5)
    yield SampleInput((a.copy(), b.copy(), w), name="tensor_weight")


def _addc_samples(nonzero=False):
    def gen(dtype, rng):
        t2 = _arr(rng, (3, 4), dtype, 0.5, 2) if nonzero else _arr(rng, (3, 4), dtype, -2, 2)
        a, t1 = _arr(rng, (3, 4), dtype, -2, 2), _arr(rng, (3, 4), dtype, -2, 2)
        yield SampleInput((a, t1, t2), name="default")
        value = 0.5 if dtype.is_floating_point else 3
        yield SampleInput((a.copy(), t1.copy(), t2.copy()), {"value": value}, name="value")
        b = _arr(rng, (4,), dtype, -2, 2)
        yield SampleInput((b, t1.copy(), t2.copy()), {"value": 2}, name="broadcast")

    return gen


def _softmax_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 4), dtype, -3, 3),), {"dim": 1}, name="last")
    yield SampleInput((_arr(rng, (3, 4), dtype, -3, 3),), {"dim": 0}, name="first")
    yield SampleInput((_arr(rng, (2, 3, 2), dtype, -3, 3),), {"dim": -2}, name="middle")
    big = _arr(rng, (2, 3), dtype, -3, 3)
    big[0] += np.asarray(500 if dtype.itemsize >= 4 else 20, dtype=big.dtype)
    yield SampleInput((big,), {"dim": 1}, grad=(), name="large_values")


def _nan_to_num_samples(dtype, rng):
    a = _arr(rng, (3, 4), dtype, -3, 3)
    yield SampleInput((a,), name="finite")
    special = np.array([np.nan, np.inf, -np.inf, 1.5, -0.5], dtype=dtype.np)
    yield SampleInput((special,), grad=(), name="default")
    yield SampleInput(
        (special.copy(),), {"nan": 2.0, "posinf": 9.0, "neginf": -9.0}, grad=(), name="values"
    )


def _isx_samples(dtype, rng):
    a = _arr(rng, (3, 4), dtype, -3, 3)
    yield SampleInput((a,), name="plain")
    if dtype.is_floating_point:
        yield SampleInput(
            (np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 2.5], dtype=dtype.np),), name="special"
        )


def _isclose_samples(dtype, rng):
    a = _arr(rng, (3, 4), dtype, -3, 3)
    b = a.copy()
    if dtype.is_floating_point:
        b = (b + rng.uniform(-1e-3, 1e-3, b.shape)).astype(dtype.np)
    yield SampleInput((a, b), name="default")
    yield SampleInput((a, b), {"rtol": 1e-2, "atol": 1e-3}, name="loose")
    if dtype.is_floating_point:
        x = np.array([np.nan, np.inf, -np.inf, 1.0], dtype=dtype.np)
        y = np.array([np.nan, np.inf, np.inf, 1.0], dtype=dtype.np)
        yield SampleInput((x, y), name="special")
        yield SampleInput((x, y), {"equal_nan": True}, name="equal_nan")


def _logical_samples(dtype, rng):
    for sa, sb, name in [((3, 4), (3, 4), "same"), ((2, 3), (3,), "broadcast")]:
        a = _arr(rng, sa, dtype, -2, 2)
        b = _arr(rng, sb, dtype, -2, 2)
        a[..., 0] = 0
        yield SampleInput((a, b), name=name)


def _bitwise_samples(dtype, rng):
    for sa, sb, name in [((3, 4), (3, 4), "same"), ((2, 3), (3,), "broadcast")]:
        yield SampleInput((_arr(rng, sa, dtype, -20, 20), _arr(rng, sb, dtype, -20, 20)), name=name)
    yield SampleInput((_arr(rng, (2, 3), dtype, -20, 20), 5 if dtype is not torch.bool else True))


def _shift_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 4), dtype, -50, 50), _arr(rng, (3, 4), dtype, 0, 5)))
    yield SampleInput((_arr(rng, (2, 3), dtype, -50, 50), 2), name="scalar")


def _complex_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 4), dtype, -2, 2), _arr(rng, (3, 4), dtype, -2, 2)))
    yield SampleInput(
        (_arr(rng, (2, 3), dtype, -2, 2), _arr(rng, (3,), dtype, -2, 2)), name="broadcast"
    )


def _polar_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 4), dtype, 0.2, 2), _arr(rng, (3, 4), dtype, -3, 3)))


def _view_as_complex_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 2), dtype, -2, 2),))
    yield SampleInput((_arr(rng, (2, 3, 2), dtype, -2, 2),), name="3d")


def _complex_unary_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 4), dtype, -2, 2),))
    yield SampleInput((_arr(rng, (), dtype, -2, 2),), name="zero_dim")


# --- error cases ----------------------------------------------------------------------------
def _f32(*shape):
    return np.ones(shape, np.float32)


def _where_errors():
    c = np.ones((2, 3), bool)
    return [
        ErrorInput(
            SampleInput((c, _f32(2, 3), _f32(4))),
            RuntimeError,
            r"The size of tensor .* must match the size of tensor",
        ),
        ErrorInput(
            SampleInput((_f32(3), _f32(3), _f32(3))),
            RuntimeError,
            r"where expected condition to be a boolean tensor, but got a tensor with dtype Float",
        ),
    ]


def _masked_fill_errors():
    return [
        ErrorInput(
            SampleInput((_f32(3), _f32(3), 1.0)),
            RuntimeError,
            r"masked_fill_ only supports boolean masks, but got mask with dtype float",
        ),
        ErrorInput(
            SampleInput((_f32(3), np.ones(3, bool), _f32(2))),
            RuntimeError,
            r"only supports a 0-dimensional value tensor, but got tensor with 1 dimension",
        ),
    ]


def _bitwise_errors(name, kernel):
    def errors():
        return [
            ErrorInput(
                SampleInput((_f32(3), _f32(3))),
                RuntimeError,
                rf"\"{kernel}_cpu\" not implemented for 'Float'",
            ),
            ErrorInput(
                SampleInput((np.ones(3, np.int64), 1.5)),
                RuntimeError,
                rf"\"{kernel}_cpu\" not implemented for 'Float'",
            ),
        ]

    return errors


def _clamp_errors():
    return [
        ErrorInput(
            SampleInput((_f32(3),)),
            RuntimeError,
            r"torch.clamp: At least one of 'min' or 'max' must not be None",
        )
    ]


def _binary_tensor_errors(name):
    def errors():
        return [
            ErrorInput(
                SampleInput((_f32(3), 1.0)),
                TypeError,
                rf"{name}\(\): argument 'other' \(position 2\) must be Tensor, not float",
            ),
            ErrorInput(
                SampleInput((_f32(2, 3), _f32(4))),
                RuntimeError,
                r"The size of tensor a \(3\) must match the size of tensor b \(4\) at "
                r"non-singleton dimension 1",
            ),
        ]

    return errors


def _not_impl_error(kernel, arr, dtname):
    def errors():
        return [
            ErrorInput(
                SampleInput((arr,)),
                RuntimeError,
                rf"\"{kernel}_cpu\" not implemented for '{dtname}'",
            )
        ]

    return errors


def _complex_errors():
    return [
        ErrorInput(
            SampleInput((_f32(3), np.ones(3, np.float64))),
            RuntimeError,
            r"Expected object of scalar type Float but got scalar type Double for second argument",
        ),
        ErrorInput(
            SampleInput((np.ones(3, np.int64), np.ones(3, np.int64))),
            RuntimeError,
            r"Expected both inputs to be Half, Float or Double tensors but got Long and Long",
        ),
    ]


def _softmax_errors():
    return [
        ErrorInput(
            SampleInput((np.ones(3, np.int64),), {"dim": 0}),
            RuntimeError,
            r"not implemented for 'Long'",
        ),
        ErrorInput(
            SampleInput((_f32(3),), {"dim": 1}),
            IndexError,
            r"Dimension out of range \(expected to be in range of \[-1, 0\], but got 1\)",
        ),
    ]


def _isclose_errors():
    return [
        ErrorInput(
            SampleInput((_f32(3), np.ones(3, np.float64))),
            RuntimeError,
            r"Float did not match Double",
        )
    ]


def _heaviside_errors():
    return [
        ErrorInput(
            SampleInput((_f32(3), np.ones(3, np.float64))),
            RuntimeError,
            r"heaviside is not yet implemented for tensors with different dtypes",
        )
    ]


def _polygamma_errors():
    return [
        ErrorInput(
            SampleInput((_f32(3),), {"n": -1}),
            RuntimeError,
            r"polygamma\(n, x\) does not support negative n",
        )
    ]


def _view_as_complex_errors():
    return [
        ErrorInput(
            SampleInput((_f32(2, 3),)), RuntimeError, r"Tensor must have a last dimension of size 2"
        )
    ]


def _imag_errors():
    return [
        ErrorInput(
            SampleInput((_f32(3),)),
            RuntimeError,
            r"imag is not implemented for tensors with non-complex dtypes",
        )
    ]


# --- the table ------------------------------------------------------------------------------
_ZERO_GRAD = {"supports_gradgrad": False}  # backward is zeros: nothing to differentiate twice

OPS = [
    OpInfo(
        "where",
        torch.where,
        _where_ref,
        _where_samples,
        NUM + (torch.bool,),
        error_inputs=_where_errors,
        out_dtype=lambda s, dt: dt,
    ),
    OpInfo(
        "masked_fill",
        torch.masked_fill,
        _masked_fill_ref,
        _masked_fill_samples,
        NUM + (torch.bool,),
        error_inputs=_masked_fill_errors,
        out_dtype=lambda s, dt: dt,
    ),
    OpInfo(
        "masked_fill_method",
        lambda a, m, v: a.masked_fill(m, v),
        _masked_fill_ref,
        _masked_fill_samples,
        FLOATS,
    ),
    _unary(
        "abs",
        torch.abs,
        np.abs,
        int_to_float=False,
        avoid=(0.0,),
        dtypes=NUM,
        error_inputs=_not_impl_error("abs", np.ones(3, bool), "Bool"),
    ),
    OpInfo(
        "abs_complex",
        torch.abs,
        np.abs,
        _complex_unary_samples,
        COMPLEX,
        supports_grad=False,
        out_dtype=lambda s, dt: dt.to_real(),
    ),
    _unary("sign", torch.sign, np.sign, int_to_float=False, dtypes=NUM, **_ZERO_GRAD),
    _unary("sgn", torch.sgn, _sgn_ref, int_to_float=False, dtypes=NUM, **_ZERO_GRAD),
    OpInfo(
        "sgn_complex", torch.sgn, _sgn_ref, _complex_unary_samples, COMPLEX, supports_grad=False
    ),
    _unary("exp", torch.exp, np.exp),
    _unary("exp2", torch.exp2, np.exp2),
    _unary("expm1", torch.expm1, np.expm1),
    _unary("log", torch.log, np.log, 0.1, 3.0),
    _unary("log2", torch.log2, np.log2, 0.1, 3.0),
    _unary("log10", torch.log10, np.log10, 0.1, 3.0),
    _unary("log1p", torch.log1p, np.log1p, -0.8, 3.0),
    _unary("sqrt", torch.sqrt, np.sqrt, 0.1, 3.0),
    _unary("rsqrt", torch.rsqrt, lambda a: 1 / np.sqrt(a), 0.2, 3.0, tol=_LOW),
    _unary("reciprocal", torch.reciprocal, lambda a: 1 / a, 0.3, 3.0, tol=_LOW),
    _unary(
        "square",
        torch.square,
        np.square,
        int_to_float=False,
        dtypes=NUM,
    ),
    _unary("floor", torch.floor, np.floor, -3, 3, int_to_float=False, dtypes=NUM, **_ZERO_GRAD),
    _unary("ceil", torch.ceil, np.ceil, -3, 3, int_to_float=False, dtypes=NUM, **_ZERO_GRAD),
    _unary("trunc", torch.trunc, np.trunc, -3, 3, int_to_float=False, dtypes=NUM, **_ZERO_GRAD),
    _unary("fix", torch.fix, np.trunc, -3, 3, int_to_float=False, dtypes=NUM, **_ZERO_GRAD),
    _unary("round", torch.round, np.round, -3, 3, int_to_float=False, dtypes=NUM, **_ZERO_GRAD),
    OpInfo(
        "round_decimals",
        lambda a: torch.round(a, decimals=2),
        lambda a: np.round(a, 2),
        _unary_samples(-3, 3),
        FLOATS,
        supports_gradgrad=False,
    ),
    _unary(
        "frac",
        torch.frac,
        _frac_ref,
        -3,
        3,
        int_to_float=False,
        dtypes=ALL_FLOAT,
        avoid=(-2.0, -1.0, 0.0, 1.0, 2.0),
        gap=0.05,
        error_inputs=_not_impl_error("frac", np.ones(3, np.int32), "Int"),
    ),
    _unary(
        "signbit",
        torch.signbit,
        np.signbit,
        dtypes=ALL_FLOAT,
        supports_grad=False,
        out_dtype=_bool_out,
        upcast=False,
    ),
    _unary("sin", torch.sin, np.sin),
    _unary("cos", torch.cos, np.cos),
    _unary("tan", torch.tan, np.tan, -1.2, 1.2, tol=_LOW),
    _unary("asin", torch.asin, np.arcsin, -0.9, 0.9),
    _unary("arcsin", torch.arcsin, np.arcsin, -0.9, 0.9, dtypes=FLOATS),
    _unary("acos", torch.acos, np.arccos, -0.9, 0.9),
    _unary("arccos", torch.arccos, np.arccos, -0.9, 0.9, dtypes=FLOATS),
    _unary("atan", torch.atan, np.arctan),
    _unary("arctan", torch.arctan, np.arctan, dtypes=FLOATS),
    _unary("sinh", torch.sinh, np.sinh),
    _unary("cosh", torch.cosh, np.cosh),
    _unary("tanh", torch.tanh, np.tanh),
    _unary("asinh", torch.asinh, np.arcsinh),
    _unary("arcsinh", torch.arcsinh, np.arcsinh, dtypes=FLOATS),
    _unary("acosh", torch.acosh, np.arccosh, 1.1, 3.0),
    _unary("arccosh", torch.arccosh, np.arccosh, 1.1, 3.0, dtypes=FLOATS),
    _unary("atanh", torch.atanh, np.arctanh, -0.9, 0.9, tol=_LOW),
    _unary("arctanh", torch.arctanh, np.arctanh, -0.9, 0.9, dtypes=FLOATS),
    _unary("deg2rad", torch.deg2rad, np.deg2rad, -180, 180, tol=_LOW),
    _unary("rad2deg", torch.rad2deg, np.rad2deg, tol=_LOW),
    _unary("erf", torch.erf, sp.erf),
    _unary("erfc", torch.erfc, sp.erfc),
    _unary("erfinv", torch.erfinv, sp.erfinv, -0.9, 0.9, dtypes=ALL_FLOAT + INTS, tol=_LOW),
    _unary("lgamma", torch.lgamma, sp.gammaln, 0.2, 4.0, tol=_LOW),
    _unary("digamma", torch.digamma, sp.digamma, 0.3, 4.0, tol=_LOW),
    OpInfo(
        "polygamma_n0",
        lambda a, n=0: torch.polygamma(n, a),
        _f64(lambda a: sp.polygamma(0, a)),
        _unary_samples(0.3, 4.0),
        FLOATS,
        error_inputs=_polygamma_errors,
    ),
    OpInfo(
        "polygamma_n1",
        lambda a: torch.polygamma(1, a),
        _f64(lambda a: sp.polygamma(1, a)),
        _unary_samples(0.3, 4.0),
        FLOATS + INTS[1:],
        out_dtype=_float_out,
    ),
    OpInfo(
        "polygamma_n2",
        lambda a: a.polygamma(2),
        _f64(lambda a: sp.polygamma(2, a)),
        _unary_samples(0.5, 4.0),
        FLOATS,
    ),
    _unary("i0", torch.i0, sp.i0, -3, 3, avoid=(0.0,), tol=_LOW),
    _unary("sinc", torch.sinc, np.sinc, -2, 2, avoid=(0.0,), tol=_LOW),
    _unary("sigmoid", torch.sigmoid, _sigmoid, -5, 5),
    OpInfo(
        "sigmoid_extreme",
        torch.sigmoid,
        _f64(_sigmoid),
        lambda dt, rng: [SampleInput((np.array([-800.0, -50.0, 0.0, 50.0, 800.0], dt.np),))],
        FLOATS,
        supports_grad=False,
    ),
    _unary("logit", torch.logit, _logit, 0.1, 0.9, dtypes=ALL_FLOAT, tol=_LOW),
    OpInfo(
        "logit_eps",
        lambda a: torch.logit(a, eps=0.2),
        _f64(lambda a: _logit(a, 0.2)),
        _unary_samples(0.0, 1.0, avoid=(0.2, 0.8), gap=0.03),
        ALL_FLOAT,
        tol=_LOW,
    ),
    OpInfo(
        "nan_to_num",
        torch.nan_to_num,
        np.nan_to_num,
        _nan_to_num_samples,
        (torch.float16,) + FLOATS,
    ),
    _unary(
        "relu", torch.relu, lambda a: np.maximum(a, 0), int_to_float=False, dtypes=NUM, avoid=(0.0,)
    ),
    _unary("angle", torch.angle, _angle_ref, avoid=(0.0,), **_ZERO_GRAD),
    OpInfo(
        "angle_complex",
        torch.angle,
        np.angle,
        _complex_unary_samples,
        COMPLEX,
        supports_grad=False,
        out_dtype=lambda s, dt: dt.to_real(),
    ),
    OpInfo(
        "clamp",
        torch.clamp,
        _clamp,
        _clamp_samples,
        NUM,
        error_inputs=_clamp_errors,
    ),
    OpInfo(
        "clip",
        lambda a, **kw: a.clip(**kw),
        _clamp,
        _clamp_samples,
        FLOATS,
    ),
    OpInfo(
        "clamp_tensor",
        lambda a, lo, hi: torch.clamp(a, lo, hi),
        lambda a, lo, hi: _clamp(a, lo, hi),
        _clamp_tensor_samples,
        NUM,
    ),
    OpInfo(
        "clamp_min",
        lambda a: torch.clamp_min(a, 0.5),
        lambda a: np.maximum(a, 0.5).astype(a.dtype),
        _unary_samples(-2, 2, avoid=(0.5,)),
        FLOATS,
    ),
    OpInfo(
        "clamp_max",
        lambda a: a.clamp_max(0.5),
        lambda a: np.minimum(a, 0.5).astype(a.dtype),
        _unary_samples(-2, 2, avoid=(0.5,)),
        FLOATS,
    ),
    OpInfo(
        "atan2",
        torch.atan2,
        _f64(np.arctan2),
        _binary_samples(0.2, 2.0),
        ALL_FLOAT + INTS,
        out_dtype=_float_out,
        error_inputs=_binary_tensor_errors("atan2"),
        tol={**_LOW, "int32": (1e-5, 1e-5), "int64": (1e-5, 1e-5)},
    ),
    OpInfo(
        "hypot",
        torch.hypot,
        _f64(np.hypot),
        _binary_samples(0.2, 2.0),
        ALL_FLOAT,
        error_inputs=_binary_tensor_errors("hypot"),
        tol=_LOW,
    ),
    OpInfo(
        "logaddexp", torch.logaddexp, _f64(np.logaddexp), _binary_samples(), ALL_FLOAT, tol=_LOW
    ),
    OpInfo(
        "logaddexp2", torch.logaddexp2, _f64(np.logaddexp2), _binary_samples(), ALL_FLOAT, tol=_LOW
    ),
    OpInfo(
        "xlogy",
        torch.xlogy,
        _f64(_xlogy_ref),
        _binary_samples(-2.0, 2.0, 0.2, 3.0, scalar=2.5),
        ALL_FLOAT,
        tol=_LOW,
    ),
    OpInfo(
        "xlogy_zero",
        torch.xlogy,
        _xlogy_ref,
        lambda dt, rng: [
            SampleInput(
                (np.array([0.0, 0.0, 1.0, 0.0], dt.np), np.array([0.0, np.nan, 2.0, -1.0], dt.np)),
                grad=(),
            )
        ],
        FLOATS,
        supports_grad=False,
    ),
    OpInfo(
        "copysign",
        torch.copysign,
        _f64(np.copysign),
        _binary_samples(0.3, 2.0, -2.0, 2.0, scalar=-1.0),
        ALL_FLOAT,
        grad_eps=1e-6,
    ),
    OpInfo("maximum", torch.maximum, _f64(np.maximum), _nan_pair_samples, NUM),
    OpInfo("minimum", torch.minimum, _f64(np.minimum), _nan_pair_samples, NUM),
    OpInfo(
        "fmax",
        torch.fmax,
        _f64(np.fmax),
        _nan_pair_samples,
        NUM,
        error_inputs=_binary_tensor_errors("fmax"),
    ),
    OpInfo("fmin", torch.fmin, _f64(np.fmin), _nan_pair_samples, NUM),
    OpInfo(
        "heaviside",
        torch.heaviside,
        _heaviside_ref,
        lambda dt, rng: [
            SampleInput(
                (
                    np.array(
                        [-1.5, 0.0, 2.0, 0.0, np.nan] if dt.is_floating_point else [-1, 0, 2, 0, 3],
                        dt.np,
                    ),
                    np.array([0.5] if dt.is_floating_point else [7], dt.np),
                )
            )
        ],
        FLOATS + INTS,
        supports_grad=False,
        error_inputs=_heaviside_errors,
    ),
    OpInfo("lerp", torch.lerp, _lerp_ref, _lerp_samples, ALL_FLOAT, tol=_LOW),
    OpInfo("addcmul", torch.addcmul, _addcmul_ref, _addc_samples(), FLOATS + INTS),
    OpInfo("addcdiv", torch.addcdiv, _addcdiv_ref, _addc_samples(True), ALL_FLOAT, tol=_LOW),
    OpInfo(
        "softmax",
        torch.softmax,
        _f64(_softmax_ref),
        _softmax_samples,
        ALL_FLOAT,
        error_inputs=_softmax_errors,
    ),
    OpInfo(
        "log_softmax",
        lambda a, dim: a.log_softmax(dim),
        _f64(_log_softmax_ref),
        _softmax_samples,
        ALL_FLOAT,
        tol={"float16": (2e-2, 5e-2), "bfloat16": (5e-2, 2e-1)},
    ),
    OpInfo(
        "softmax_dtype",
        lambda a, dim: torch.softmax(a, dim, dtype=torch.float64),
        lambda a, dim: sp.softmax(a.astype(np.float64), axis=dim),
        _softmax_samples,
        (torch.float32,) + INTS,
        supports_grad=False,
        out_dtype=lambda s, dt: torch.float64,
        # a float64 result: last-bit differences from SciPy's shifted form
        tol={"int32": (1e-13, 0.0), "int64": (1e-13, 0.0)},
    ),
    # --- predicates
    OpInfo(
        "isnan", torch.isnan, np.isnan, _isx_samples, NUM, supports_grad=False, out_dtype=_bool_out
    ),
    OpInfo(
        "isinf", torch.isinf, np.isinf, _isx_samples, NUM, supports_grad=False, out_dtype=_bool_out
    ),
    OpInfo(
        "isposinf",
        torch.isposinf,
        np.isposinf,
        _isx_samples,
        FLOATS + INTS,
        supports_grad=False,
        out_dtype=_bool_out,
    ),
    OpInfo(
        "isneginf",
        torch.isneginf,
        np.isneginf,
        _isx_samples,
        FLOATS + INTS,
        supports_grad=False,
        out_dtype=_bool_out,
    ),
    OpInfo(
        "isfinite",
        torch.isfinite,
        np.isfinite,
        _isx_samples,
        NUM,
        supports_grad=False,
        out_dtype=_bool_out,
    ),
    OpInfo(
        "isreal",
        torch.isreal,
        np.isreal,
        _isx_samples,
        FLOATS + INTS + COMPLEX,
        supports_grad=False,
        out_dtype=_bool_out,
    ),
    OpInfo(
        "isclose",
        torch.isclose,
        np.isclose,
        _isclose_samples,
        FLOATS + INTS,
        supports_grad=False,
        out_dtype=_bool_out,
        error_inputs=_isclose_errors,
    ),
    # --- logical / bitwise
    *[
        OpInfo(
            f"logical_{n}",
            getattr(torch, f"logical_{n}"),
            getattr(np, f"logical_{n}"),
            _logical_samples,
            FLOATS + INTS + (torch.bool,),
            supports_grad=False,
            out_dtype=_bool_out,
        )
        for n in ("and", "or", "xor")
    ],
    OpInfo(
        "logical_not",
        torch.logical_not,
        np.logical_not,
        _unary_samples(-2, 2),
        FLOATS + INTS + (torch.bool,),
        supports_grad=False,
        out_dtype=_bool_out,
    ),
    *[
        OpInfo(
            f"bitwise_{n}",
            getattr(torch, f"bitwise_{n}"),
            getattr(np, f"bitwise_{n}"),
            _bitwise_samples,
            INTS + (torch.uint8, torch.int8, torch.bool),
            supports_grad=False,
            error_inputs=_bitwise_errors(f"bitwise_{n}", f"bitwise_{n}"),
        )
        for n in ("and", "or", "xor")
    ],
    OpInfo(
        "bitwise_not",
        torch.bitwise_not,
        np.invert,
        _unary_samples(-20, 20),
        INTS + (torch.uint8, torch.bool),
        supports_grad=False,
        error_inputs=_not_impl_error("bitwise_not", _f32(3), "Float"),
    ),
    OpInfo(
        "bitwise_left_shift",
        torch.bitwise_left_shift,
        _shift_ref(True),
        _shift_samples,
        INTS,
        supports_grad=False,
        error_inputs=_bitwise_errors("bitwise_left_shift", "lshift"),
    ),
    OpInfo(
        "bitwise_right_shift",
        torch.bitwise_right_shift,
        _shift_ref(False),
        _shift_samples,
        INTS,
        supports_grad=False,
    ),
    OpInfo(
        "__and__",
        lambda a, b: a & b,
        np.bitwise_and,
        _bitwise_samples,
        INTS + (torch.bool,),
        supports_grad=False,
    ),
    OpInfo(
        "__or__",
        lambda a, b: a | b,
        np.bitwise_or,
        _bitwise_samples,
        INTS + (torch.bool,),
        supports_grad=False,
    ),
    OpInfo(
        "__xor__",
        lambda a, b: a ^ b,
        np.bitwise_xor,
        _bitwise_samples,
        INTS + (torch.bool,),
        supports_grad=False,
    ),
    OpInfo(
        "__invert__",
        lambda a: ~a,
        np.invert,
        _unary_samples(-9, 9),
        INTS + (torch.bool,),
        supports_grad=False,
    ),
    OpInfo(
        "__lshift__",
        lambda a, b: a << b,
        _shift_ref(True),
        _shift_samples,
        INTS,
        supports_grad=False,
    ),
    OpInfo(
        "__rshift__",
        lambda a, b: a >> b,
        _shift_ref(False),
        _shift_samples,
        INTS,
        supports_grad=False,
    ),
    # --- complex
    OpInfo(
        "complex",
        torch.complex,
        lambda a, b: a + 1j * b,
        _complex_samples,
        FLOATS,
        # gradients of complex outputs are checked through view_as_real (real outputs) below
        supports_grad=False,
        out_dtype=lambda s, dt: dt.to_complex(),
        error_inputs=_complex_errors,
    ),
    OpInfo(
        "complex_as_real",
        lambda a, b: torch.view_as_real(torch.complex(a, b)),
        lambda a, b: np.stack(np.broadcast_arrays(a, b), -1),
        _complex_samples,
        FLOATS,
    ),
    OpInfo(
        "polar",
        torch.polar,
        lambda r, t: r * np.exp(1j * t),
        _polar_samples,
        FLOATS,
        supports_grad=False,
        out_dtype=lambda s, dt: dt.to_complex(),
    ),
    OpInfo(
        "polar_as_real",
        lambda r, t: torch.view_as_real(torch.polar(r, t)),
        lambda r, t: np.stack([r * np.cos(t), r * np.sin(t)], -1),
        _polar_samples,
        FLOATS,
    ),
    OpInfo(
        "view_as_complex_real",
        lambda a: torch.view_as_real(torch.view_as_complex(a)) * 2,
        lambda a: a * 2,
        _view_as_complex_samples,
        FLOATS,
        error_inputs=lambda: _view_as_complex_errors(),
    ),
    OpInfo(
        "view_as_complex",
        torch.view_as_complex,
        lambda a: a[..., 0] + 1j * a[..., 1],
        _view_as_complex_samples,
        FLOATS,
        supports_grad=False,
        out_dtype=lambda s, dt: dt.to_complex(),
        error_inputs=_view_as_complex_errors,
    ),
    OpInfo(
        "real_imag_roundtrip",
        lambda a, b: torch.complex(a, b).real * torch.complex(a, b).imag,
        lambda a, b: a * b,
        _complex_samples,
        FLOATS,
    ),
    OpInfo(
        "real",
        torch.real,
        np.real,
        _complex_unary_samples,
        FLOATS + COMPLEX,
        supports_grad=False,
        out_dtype=lambda s, dt: dt.to_real() if dt.is_complex else dt,
    ),
    OpInfo(
        "imag",
        torch.imag,
        np.imag,
        _complex_unary_samples,
        COMPLEX,
        supports_grad=False,
        out_dtype=lambda s, dt: dt.to_real(),
        error_inputs=_imag_errors,
    ),
    OpInfo(
        "conj",
        torch.conj,
        np.conj,
        _complex_unary_samples,
        FLOATS + COMPLEX,
    ),
    OpInfo("conj_physical", torch.conj_physical, np.conj, _complex_unary_samples, FLOATS + COMPLEX),
    OpInfo(
        "resolve_conj", torch.resolve_conj, lambda a: a, _complex_unary_samples, FLOATS + COMPLEX
    ),
    OpInfo("resolve_neg", torch.resolve_neg, lambda a: a, _complex_unary_samples, FLOATS),
    # complex forward of the holomorphic functions
    *[
        OpInfo(
            f"{n}_complex",
            getattr(torch, n),
            _f64(ref),
            _complex_unary_samples,
            COMPLEX,
            supports_grad=False,
        )
        for n, ref in [
            ("exp", np.exp),
            ("log", np.log),
            ("sqrt", np.sqrt),
            ("sin", np.sin),
            ("cos", np.cos),
            ("tanh", np.tanh),
            ("reciprocal", lambda a: 1 / a),
            ("sigmoid", lambda a: 1 / (1 + np.exp(-a))),
        ]
    ],
]
