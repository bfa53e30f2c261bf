"""Op table entries: binary arithmetic (tocha.core._ops.arith)."""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from . import ErrorInput, OpInfo, SampleInput

FLOATS = (torch.float32, torch.float64)
ALL_NUM = (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int32, torch.int64)


def _arr(rng, shape, dtype, low=-3.0, high=3.0):
    if dtype.is_floating_point:
        return rng.uniform(low, high, shape).astype(dtype.np)
    return rng.integers(int(low), int(high) + 1, shape).astype(dtype.np)


def _binary_samples(low=-3.0, high=3.0, nonzero_rhs=False):
    def gen(dtype, rng):
        pairs = [
            ((3, 4), (3, 4), "same"),
            ((3, 4), (4,), "broadcast_row"),
            ((2, 1, 4), (3, 1), "broadcast_both"),
            ((), (2, 3), "scalar_tensor"),
        ]
        for sa, sb, name in pairs:
            a, b = _arr(rng, sa, dtype, low, high), _arr(rng, sb, dtype, low, high)
            if nonzero_rhs:
                b = np.where(np.abs(b) < 0.5, np.asarray(1.5, dtype=b.dtype), b).astype(b.dtype)
            yield SampleInput((a, b), name=name)
        yield SampleInput(
            (_arr(rng, (2, 3), dtype, low, high), 2.5 if dtype.is_floating_point else 3),
            name="python_scalar",
        )

    return gen


def _broadcast_error():
    return [
        ErrorInput(
            SampleInput((np.ones((2, 3), np.float32), np.ones((4,), np.float32))),
            (RuntimeError, ValueError),
            r"(?i)operands could not be broadcast|must match",
        )
    ]


def _float_out(sample, dtype):
    return dtype if dtype.is_floating_point else torch.get_default_dtype()


def _np(fn):
    """Reference that keeps the dtype of the array operand against a Python scalar."""

    def ref(a, b, **kw):
        res = fn(a, b)
        if not isinstance(b, np.ndarray) and isinstance(a, np.ndarray):
            res = np.asarray(res)
        return res

    return ref


OPS = [
    OpInfo(
        "add", torch.add, _np(np.add), _binary_samples(), ALL_NUM, error_inputs=_broadcast_error
    ),
    OpInfo("sub", torch.sub, _np(np.subtract), _binary_samples(), ALL_NUM),
    OpInfo("mul", torch.mul, _np(np.multiply), _binary_samples(), ALL_NUM),
    OpInfo(
        "div",
        torch.div,
        _np(np.true_divide),
        _binary_samples(nonzero_rhs=True),
        ALL_NUM,
        out_dtype=_float_out,
        tol={"float16": (2e-2, 2e-2)},
    ),
    OpInfo(
        "div_floor",
        lambda a, b: torch.div(a, b, rounding_mode="floor"),
        _np(np.floor_divide),
        _binary_samples(nonzero_rhs=True),
        ALL_NUM,
        supports_grad=False,
        tol={"float16": (1e-2, 1.0), "bfloat16": (1e-2, 1.0)},
    ),
    OpInfo(
        "div_trunc",
        lambda a, b: torch.div(a, b, rounding_mode="trunc"),
        _np(
            lambda a, b: (
                np.trunc(np.true_divide(a, b)).astype(np.result_type(a, b))
                if np.result_type(a, b).kind == "f"
                else (np.sign(a) * np.sign(b) * (np.abs(a) // np.abs(b))).astype(
                    np.result_type(a, b)
                )
            )
        ),
        _binary_samples(nonzero_rhs=True),
        (torch.float32, torch.float64, torch.int64),
        supports_grad=False,
    ),
    OpInfo(
        "remainder",
        torch.remainder,
        _np(np.remainder),
        _binary_samples(low=0.6, high=3.0, nonzero_rhs=True),
        FLOATS + (torch.int64,),
    ),
    OpInfo(
        "fmod",
        torch.fmod,
        _np(np.fmod),
        _binary_samples(low=0.6, high=3.0, nonzero_rhs=True),
        FLOATS + (torch.int64,),
    ),
    OpInfo("pow", torch.pow, _np(np.power), _binary_samples(low=0.5, high=2.0), FLOATS),
    OpInfo(
        "neg",
        torch.neg,
        np.negative,
        lambda dt, rng: [SampleInput((_arr(rng, (3, 4), dt),))],
        ALL_NUM,
    ),
    OpInfo("eq", torch.eq, _np(np.equal), _binary_samples(), ALL_NUM, supports_grad=False),
    OpInfo("lt", torch.lt, _np(np.less), _binary_samples(), ALL_NUM, supports_grad=False),
    OpInfo("ge", torch.ge, _np(np.greater_equal), _binary_samples(), ALL_NUM, supports_grad=False),
]
