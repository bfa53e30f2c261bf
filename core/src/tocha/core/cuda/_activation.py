"""Fused activation kernels on the GPU: one ``cupy.ElementwiseKernel`` per forward and one per
backward (``grad * f'(x)``), instead of the several xp passes (and, for half types, the casts
to float32 and back) of the reference code in ``_ops/activation.py`` and ``_ops/pointwise.py``.

The maths is the reference's, computed in float32 for float16 (float64 for float64) and
rounded once. Each entry of `ACTIVATIONS` holds the forward and backward bodies in C++ over
``v`` (the input, or the saved output for the ``from_output`` ops sigmoid, tanh and relu),
``gv`` (the incoming gradient) and the op's scalar parameters; ``A`` is the accumulation type.
`forward` / `backward` return None for what they do not cover (other dtypes, mismatched
dtypes, kernels switched off) and the caller runs its xp code.
"""

from __future__ import annotations

import functools
import math

import numpy as np

ENABLED = True  # tests turn it off to compare against the xp path on the same GPU

_PREAMBLE = r"""
template <typename T> struct tocha_acc { typedef float type; };
template <> struct tocha_acc<double> { typedef double type; };
// NaN-propagating clamps (fmax/fmin would turn a NaN into the bound; the xp code keeps it)
template <typename A> __device__ A tocha_max0(A v) { return v < (A)0 ? (A)0 : v; }
template <typename A> __device__ A tocha_min0(A v) { return v > (A)0 ? (A)0 : v; }
template <typename A> __device__ A tocha_clip06(A v) {
    return v < (A)0 ? (A)0 : (v > (A)6 ? (A)6 : v);
}
"""

_K_TANH = repr(math.sqrt(2.0 / math.pi))
_C_TANH = "0.044715"
_INV_SQRT_2PI = repr(1.0 / math.sqrt(2.0 * math.pi))
_SQRT1_2 = repr(1.0 / math.sqrt(2.0))

# name: (parameters, forward body giving r, backward body giving r, from_output)
ACTIVATIONS: dict[str, tuple[tuple[str, ...], str, str, bool]] = {
    "relu": ((), "r = tocha_max0(v);", "r = v > (A)0 ? gv : (A)0;", True),
    "sigmoid": (
        (),
        "r = (A)1 / ((A)1 + exp(-v));",
        "r = gv * v * ((A)1 - v);",
        True,
    ),
    "tanh": ((), "r = tanh(v);", "r = gv * ((A)1 - v * v);", True),
    "leaky_relu": (
        ("slope",),
        "r = v > (A)0 ? v : v * (A)slope;",
        "r = v > (A)0 ? gv : gv * (A)slope;",
        False,
    ),
    "gelu": (
        (),
        f"r = v * (A)0.5 * erfc(-v * (A){_SQRT1_2});",
        f"A cdf = (A)0.5 * erfc(-v * (A){_SQRT1_2});"
        f" r = gv * (cdf + v * exp((A)-0.5 * v * v) * (A){_INV_SQRT_2PI});",
        False,
    ),
    "gelu_tanh": (
        (),
        f"A t = tanh((A){_K_TANH} * (v + (A){_C_TANH} * v * v * v)); r = (A)0.5 * v * ((A)1 + t);",
        f"A t = tanh((A){_K_TANH} * (v + (A){_C_TANH} * v * v * v));"
        f" r = gv * ((A)0.5 * ((A)1 + t) + (A)0.5 * (A){_K_TANH} * v * ((A)1 - t * t)"
        f" * ((A)1 + (A)3 * (A){_C_TANH} * v * v));",
        False,
    ),
    "silu": (
        (),
        "r = v / ((A)1 + exp(-v));",
        "A s = (A)1 / ((A)1 + exp(-v)); r = gv * s * ((A)1 + v * ((A)1 - s));",
        False,
    ),
    "mish": (
        (),
        "A t = tanh(tocha_max0(v) + log1p(exp(-fabs(v)))); r = v * t;",
        "A t = tanh(tocha_max0(v) + log1p(exp(-fabs(v))));"
        " A s = (A)1 / ((A)1 + exp(-v)); r = gv * (t + v * s * ((A)1 - t * t));",
        False,
    ),
    "softplus": (
        ("beta", "threshold"),
        "A bx = v * (A)beta;"
        " r = bx > (A)threshold ? v : (tocha_max0(bx) + log1p(exp(-fabs(bx)))) / (A)beta;",
        "A bx = v * (A)beta; r = bx > (A)threshold ? gv : gv / ((A)1 + exp(-bx));",
        False,
    ),
    "elu": (
        ("alpha", "scale", "input_scale"),
        "r = v > (A)0 ? (A)scale * v : (A)alpha * (A)scale * expm1(v * (A)input_scale);",
        "r = v > (A)0 ? gv * (A)scale"
        " : gv * (A)alpha * (A)scale * (A)input_scale * exp(tocha_min0(v) * (A)input_scale);",
        False,
    ),
    "hardswish": (
        (),
        "r = v * tocha_clip06(v + (A)3) / (A)6;",
        "r = v <= (A)-3 ? (A)0 : (v >= (A)3 ? gv : gv * (v / (A)3 + (A)0.5));",
        False,
    ),
    "hardsigmoid": (
        ("scale",),
        "r = tocha_clip06(v + (A)3) / (A)6;",
        "r = (v > (A)-3 && v < (A)3) ? gv * (A)scale : (A)0;",
        False,
    ),
}

_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def supported(dtype) -> bool:
    """float16, float32 and float64 (CuPy's elementwise kernels have no bfloat16)."""
    return np.dtype(dtype) in _DTYPES


def source(name: str, backward: bool) -> tuple[str, str, str]:
    """``(in_params, out_params, operation)`` of the kernel for ``name`` (pure Python)."""
    params, fwd, bwd, _ = ACTIVATIONS[name]
    scalars = "".join(f", float64 {p}" for p in params)
    if backward:
        ins = "T g, T x" + scalars
        body = "const A gv = (A)g; const A v = (A)x; A r; " + bwd
    else:
        ins = "T x" + scalars
        body = "const A v = (A)x; A r; " + fwd
    return ins, "T y", "typedef tocha_acc<T>::type A; " + body + " y = (T)r;"


@functools.cache
def _kernel(name: str, backward: bool):
    import cupy as cp

    ins, outs, op = source(name, backward)
    kname = f"tocha_{name}_{'bwd' if backward else 'fwd'}"
    return cp.ElementwiseKernel(ins, outs, op, kname, preamble=_PREAMBLE)


def _scalars(name, params) -> tuple:
    return tuple(float(params[p]) for p in ACTIVATIONS[name][0])


def forward(name: str, x, params=None):
    """``f(x)`` by one fused kernel, or None."""
    if not ENABLED or not supported(x.dtype):
        return None
    return _kernel(name, False)(x, *_scalars(name, params or {}))


def backward(name: str, g, x, params=None):
    """``g * f'(x)`` by one fused kernel (``x`` the saved output for the ``from_output``
    ops), or None."""
    if not ENABLED or not supported(x.dtype) or g.dtype != x.dtype:
        return None
    return _kernel(name, True)(g, x, *_scalars(name, params or {}))
