"""Activation functions as fused nodes: gelu, silu, mish, softplus, elu/selu/celu, leaky_relu,
hardtanh/relu6, hardswish, hardsigmoid, logsigmoid, threshold, hardshrink, softshrink, rrelu.

Each op's forward is one fused kernel (``_nnkernel.run``: cache-sized blocks, intra-op
threads, half/bfloat16 computed in float32). Its backward has two paths with the same maths:
during an ordinary backward (grad mode off) one fused kernel computes ``grad * f'(x)`` on raw
arrays; with ``create_graph=True`` the same formula is written in tocha ops, so the gradient is
itself differentiable (double backward).
"""

from __future__ import annotations

import math
import threading

import numpy as np

from .. import _parallel
from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ..autograd.grad_mode import MODE
from . import _act_native
from ._nnkernel import ndtr_into, run, select_into, special
from ._util import xp_of
from .pointwise import where

__all__ = [
    "gelu",
    "silu",
    "mish",
    "softplus",
    "elu",
    "selu",
    "celu",
    "leaky_relu",
    "hardtanh",
    "relu6",
    "hardswish",
    "hardsigmoid",
    "logsigmoid",
    "threshold",
    "hardshrink",
    "softshrink",
    "rrelu_with_noise",
]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT1_2 = 1.0 / math.sqrt(2.0)
_K_TANH = math.sqrt(2.0 / math.pi)
_C_TANH = 0.044715
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_TYPE_NAMES = {
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "bool": "Bool",
    "complex64": "ComplexFloat",
    "complex128": "ComplexDouble",
}


def require_float(input: Tensor, kernel: str) -> None:
    """torch's error for an activation that has no integer (or complex) kernel."""
    dt = input._data.dtype
    if dt.kind not in "fV":
        name = _TYPE_NAMES.get(str(dt), str(dt))
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{name}'")


class _Act(Node):
    """An elementwise activation: ``fwd(xp, out, x, **p)`` and ``bwd(xp, out, g, x, **p)``
    fused kernels, ``graph(g, x, **p)`` the same gradient in tocha ops."""

    save_inputs = (0,)
    cuda: str | None = None  # its fused kernel in cuda/_activation.py (the CuPy path)

    def _cuda(self):
        """(kernel name, scalar parameters) of the CuPy path."""
        return self.cuda, self.p

    def forward(self, x, **p):
        self.p = p
        if self.cuda is not None and x.__class__ is not np.ndarray:
            from ..cuda import _activation as _cuda_act

            name, params = self._cuda()
            y = _cuda_act.forward(name, x, params)
            if y is not None:
                return y
        return run(self.fwd, x, **p)

    def backward(self, g):
        (x,) = self.saved_inputs
        if MODE.grad:  # create_graph: a differentiable gradient
            return self.graph(g, x, **self.p)
        if self.cuda is not None and x._data.__class__ is not np.ndarray:
            from ..cuda import _activation as _cuda_act

            name, params = self._cuda()
            r = _cuda_act.backward(name, g._data, x._data, params)
            if r is not None:
                return wrap(r)
        return wrap(run(self.bwd, g._data, x._data, **self.p))


# --- gelu -------------------------------------------------------------------------------------
# float32 Phi(x) = sigmoid(x * h(x^2)): h(y) = logit(Phi(sqrt y)) / sqrt y is smooth, and a
# (4, 4) rational function of y, fitted for minimax relative error on |x| <= 5.6 (1.1e-7, so
# the exponent x * h carries about one float32 rounding of error), holds it; the rational keeps
# growing beyond the fit, so no clamp is needed until y^4 overflows (|x| > 3.7e4). Both
# polynomials come out of one GEMM of their coefficients with the powers [1, y, y^2, y^3, y^4]
# (3 multiplies), which costs less than the 15 vectorised passes of two Horner schemes; the
# coefficients carry -log2(e) so the sigmoid is 1 / (1 + exp2(x * P / Q)). A block whose result
# is not finite (inf or nan inputs, |x| beyond the rational's range) is recomputed exactly in
# float64 with scipy.special.ndtr.
_GELU_COEF = np.array(
    [
        [
            -2.302208185195923,
            -0.3232738673686981,
            -0.02706478349864483,
            -0.0008483559358865023,
            -2.6143272862100275e-06,
        ],
        [
            1.0,
            0.09487839788198471,
            0.0074829887598752975,
            9.656798647483811e-05,
            1.7976175215039802e-08,
        ],
        # the backward's third row: log2 of the Gaussian density, -y / 2 * log2(e) - log2(2 pi)/2
        [-0.5 * math.log2(2.0 * math.pi), -0.5 * math.log2(math.e), 0.0, 0.0, 0.0],
    ],
    dtype=np.float32,
)
_BLAS_MIN = 1 << 13  # OpenBLAS threads an sdot of over 10000 elements, a GEMM sooner or later
_GELU_LOCAL = threading.local()  # per-thread scratch: the powers and the GEMM's output


def _gelu_scratch(n: int):
    """(powers, products) scratch arrays of this thread with room for ``n`` elements; row 0 of
    the powers holds ones."""
    buf = getattr(_GELU_LOCAL, "buf", None)
    if buf is None or buf[0].shape[1] < n:
        v = np.empty((5, n), np.float32)
        v[0] = 1
        buf = _GELU_LOCAL.buf = (v, np.empty((3, n), np.float32))
    v, pq = buf
    if v.shape[1] != n:
        v, pq = v[:, :n], pq[:, :n]
    return v, pq


def _gelu_rational(x, rows: int):
    """``(r, pq)``: ``r = x * P(x^2) / Q(x^2)`` (the sigmoid's exponent, base 2) for a float32
    block, and the products array (with ``rows == 3`` its row 2 is log2 of the density)."""
    v, pq = _gelu_scratch(x.shape[0])
    y = v[1]
    np.square(x, out=y)
    np.square(y, out=v[2])
    np.multiply(v[2], y, out=v[3])
    np.square(v[2], out=v[4])
    np.matmul(_GELU_COEF[:rows], v, out=pq[:rows])
    r = pq[0]
    r /= pq[1]
    r *= x
    return r, pq


def _gelu_f32(out, x) -> None:
    """``out = gelu(x)`` for a float32 NumPy block."""
    if _act_native.gelu(out, x, _GELU_COEF):  # one compiled pass, when available
        return
    r, _ = _gelu_rational(x, 2)
    if not math.isfinite(np.dot(r, r)):  # inf/nan inputs or |x| > 3.7e4: exactly
        xd = x.astype(np.float64)
        np.multiply(xd, special(np).ndtr(xd), out=out, casting="unsafe")
        return
    np.exp2(r, out=r)
    r += 1
    np.divide(x, r, out=out)


def _gelu_grad_f32(out, g, x) -> None:
    """``out = g * gelu'(x) = g * (Phi(x) + x * pdf(x))`` for float32 NumPy blocks."""
    if _act_native.gelu_backward(out, g, x, _GELU_COEF):
        return
    r, pq = _gelu_rational(x, 3)
    if not math.isfinite(np.dot(r, r)):
        xd = x.astype(np.float64)
        dd = special(np).ndtr(xd)
        dd += xd * np.exp(-0.5 * xd * xd) * _INV_SQRT_2PI
        np.multiply(dd, g, out=out, casting="unsafe")
        return
    np.exp2(r, out=r)
    r += 1
    np.reciprocal(r, out=r)  # Phi(x)
    d = pq[2]
    np.exp2(d, out=d)  # pdf(x)
    d *= x
    d += r
    np.multiply(d, g, out=out)


def _in_one_blas_thread(fn, *args, **kw):
    """``fn(...)`` with OpenBLAS held to one thread: the float32 gelu kernels run a small GEMM
    per block, on tocha's intra-op threads, where BLAS's own threads would only contend."""
    with _parallel.one_blas_thread():
        return fn(*args, **kw)


def _gelu_fwd(xp, out, x, approximate):
    if approximate == "tanh":
        t = xp.multiply(x, x)
        t *= _C_TANH
        t += 1
        t *= x
        t *= _K_TANH
        xp.tanh(t, out=t)
        t += 1
        t *= x
        xp.multiply(t, 0.5, out=out)
    elif xp is np and x.dtype == np.float32:
        _gelu_f32(out, x)
    else:
        ndtr_into(xp, out, x)
        out *= x


def _gelu_bwd(xp, out, g, x, approximate):
    if approximate == "tanh":
        x2 = xp.multiply(x, x)
        t = xp.multiply(x2, _C_TANH)
        t += 1
        t *= x
        t *= _K_TANH
        xp.tanh(t, out=t)
        xp.multiply(t, t, out=out)
        xp.subtract(1, out, out=out)
        out *= x
        x2 *= 3 * _C_TANH
        x2 += 1
        out *= x2
        out *= 0.5 * _K_TANH
        t += 1
        t *= 0.5
        out += t
        out *= g
    else:
        if xp is np and x.dtype == np.float32:
            _gelu_grad_f32(out, g, x)
            return
        ndtr_into(xp, out, x)
        t = xp.multiply(x, x)
        t *= -0.5
        xp.exp(t, out=t)
        t *= x
        t *= _INV_SQRT_2PI
        out += t
        out *= g


class Gelu(_Act):
    fwd = staticmethod(_gelu_fwd)
    bwd = staticmethod(_gelu_bwd)
    cuda = "gelu"

    def forward(self, x, **p):
        if x.__class__ is np.ndarray and p["approximate"] == "none":
            y = _act_native.gelu_array(x, _GELU_COEF)  # one compiled call per thread
            if y is not None:
                self.p = p
                return y
            if x.size >= _BLAS_MIN:
                return _in_one_blas_thread(_Act.forward, self, x, **p)
        return _Act.forward(self, x, **p)

    def backward(self, g):
        x = self.saved_inputs[0]._data
        if x.__class__ is np.ndarray and self.p["approximate"] == "none":
            gd = g._data
            if not MODE.grad and gd.__class__ is np.ndarray:
                gx = _act_native.gelu_backward_array(gd, x, _GELU_COEF)
                if gx is not None:
                    return wrap(gx)
            if x.size >= _BLAS_MIN:
                return _in_one_blas_thread(_Act.backward, self, g)
        return _Act.backward(self, g)

    def _cuda(self):
        return ("gelu_tanh" if self.p["approximate"] == "tanh" else "gelu"), {}

    @staticmethod
    def graph(g, x, approximate):
        if approximate == "tanh":
            x2 = x * x
            t = (x * (1 + _C_TANH * x2) * _K_TANH).tanh()
            d = 0.5 * (1 + t) + (0.5 * _K_TANH) * x * (1 - t * t) * (1 + (3 * _C_TANH) * x2)
            return g * d
        cdf = 0.5 * (1 + (x * _SQRT1_2).erf())
        pdf = (-0.5 * x * x).exp() * _INV_SQRT_2PI
        return g * (cdf + x * pdf)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` (Phi the standard normal CDF), or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    require_float(input, "GeluKernelImpl")
    return Gelu.apply(input, approximate=approximate)


# --- silu / mish / softplus / logsigmoid ------------------------------------------------------
def _sigmoid_into(xp, out, x):
    xp.negative(x, out=out)
    xp.exp(out, out=out)
    out += 1
    xp.reciprocal(out, out=out)


def _silu_fwd(xp, out, x):
    xp.negative(x, out=out)
    xp.exp(out, out=out)
    out += 1
    xp.divide(x, out, out=out)


def _silu_bwd(xp, out, g, x):
    s = xp.empty_like(x)
    _sigmoid_into(xp, s, x)
    xp.subtract(1, s, out=out)
    out *= x
    out += 1
    out *= s
    out *= g


class Silu(_Act):
    fwd = staticmethod(_silu_fwd)
    bwd = staticmethod(_silu_bwd)
    cuda = "silu"

    @staticmethod
    def graph(g, x):
        s = x.sigmoid()
        return g * (s * (1 + x * (1 - s)))


def silu(input: Tensor) -> Tensor:
    """``x * sigmoid(x)``."""
    require_float(input, "silu_cpu")
    return Silu.apply(input)


def _softplus_into(xp, out, x):
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    t = xp.abs(x)
    xp.negative(t, out=t)
    xp.exp(t, out=t)
    xp.log1p(t, out=t)
    xp.maximum(x, 0, out=out)
    out += t


def _tanh_softplus(x: Tensor) -> Tensor:
    return (x.clamp(min=0) + (-x.abs()).exp().log1p()).tanh()


def _mish_fwd(xp, out, x):
    _softplus_into(xp, out, x)
    xp.tanh(out, out=out)
    out *= x


def _mish_bwd(xp, out, g, x):
    _softplus_into(xp, out, x)
    xp.tanh(out, out=out)  # out = tanh(softplus(x))
    s = xp.empty_like(x)
    _sigmoid_into(xp, s, x)
    s *= x
    t = xp.multiply(out, out)
    xp.subtract(1, t, out=t)
    s *= t
    out += s
    out *= g


class Mish(_Act):
    fwd = staticmethod(_mish_fwd)
    bwd = staticmethod(_mish_bwd)
    cuda = "mish"

    @staticmethod
    def graph(g, x):
        t = _tanh_softplus(x)
        return g * (t + x * x.sigmoid() * (1 - t * t))


def mish(input: Tensor) -> Tensor:
    """``x * tanh(softplus(x))``."""
    require_float(input, "mish_cpu")
    return Mish.apply(input)


def _softplus_fwd(xp, out, x, beta, threshold):
    bx = x if beta == 1 else xp.multiply(x, beta)
    sp = xp.empty_like(x)
    _softplus_into(xp, sp, bx)
    if beta != 1:
        sp /= beta
    select_into(xp, out, bx > threshold, x, sp)


def _softplus_bwd(xp, out, g, x, beta, threshold):
    bx = x if beta == 1 else xp.multiply(x, beta)
    s = xp.empty_like(x)
    _sigmoid_into(xp, s, bx)
    s *= g
    select_into(xp, out, bx > threshold, g, s)


class Softplus(_Act):
    fwd = staticmethod(_softplus_fwd)
    bwd = staticmethod(_softplus_bwd)
    cuda = "softplus"

    @staticmethod
    def graph(g, x, beta, threshold):
        bx = x * beta
        return where(bx > threshold, g, g * bx.sigmoid())


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, and ``x`` where ``beta * x > threshold``."""
    require_float(input, "softplus_cpu")
    return Softplus.apply(input, beta=beta, threshold=threshold)


def _logsigmoid_fwd(xp, out, x):
    t = xp.abs(x)
    xp.negative(t, out=t)
    xp.exp(t, out=t)
    xp.log1p(t, out=t)
    xp.minimum(x, 0, out=out)
    out -= t


def _logsigmoid_bwd(xp, out, g, x):
    xp.exp(x, out=out)  # sigmoid(-x) = 1 / (1 + exp(x)); exp overflowing to inf gives 0
    out += 1
    xp.divide(g, out, out=out)


class LogSigmoid(_Act):
    fwd = staticmethod(_logsigmoid_fwd)
    bwd = staticmethod(_logsigmoid_bwd)

    def name(self):
        return "LogSigmoidBackward0"

    @staticmethod
    def graph(g, x):
        return g * (-x).sigmoid()


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))`` computed without overflow."""
    require_float(input, "log_sigmoid_cpu")
    return LogSigmoid.apply(input)


# --- elu / selu / celu ------------------------------------------------------------------------
def _elu_fwd(xp, out, x, alpha, scale, input_scale):
    # branch-free: scale * max(x, 0) + alpha * scale * expm1(min(x, 0) * input_scale); one
    # of the two terms is an exact zero, and min(x, 0) keeps expm1 from overflowing
    xp.minimum(x, 0, out=out)
    if input_scale != 1:
        out *= input_scale
    xp.expm1(out, out=out)
    out *= alpha * scale
    pos = xp.maximum(x, 0)
    if scale != 1:
        pos *= scale
    out += pos


def _elu_bwd(xp, out, g, x, alpha, scale, input_scale):
    neg = xp.minimum(x, 0)
    if input_scale != 1:
        neg *= input_scale
    xp.exp(neg, out=neg)
    neg *= alpha * scale * input_scale
    neg *= g
    if scale != 1:
        pos = xp.multiply(g, scale)
    else:
        pos = g
    select_into(xp, out, x > 0, pos, neg)


class Elu(_Act):
    fwd = staticmethod(_elu_fwd)
    bwd = staticmethod(_elu_bwd)
    cuda = "elu"

    @staticmethod
    def graph(g, x, alpha, scale, input_scale):
        neg = g * (alpha * scale * input_scale) * (x * input_scale).exp()
        return where(x > 0, g * scale, neg)


def elu(input: Tensor, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0):
    """``scale * x`` for ``x > 0``, else ``alpha * scale * (exp(x * input_scale) - 1)``."""
    require_float(input, "elu_cpu")
    return Elu.apply(input, alpha=float(alpha), scale=float(scale), input_scale=float(input_scale))


def selu(input: Tensor) -> Tensor:
    """``elu`` with SELU's fixed ``alpha`` and ``scale``."""
    return elu(input, SELU_ALPHA, SELU_SCALE, 1.0)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return elu(input, alpha, 1.0, 1.0 / alpha)


# --- piecewise-linear activations -------------------------------------------------------------
def _leaky_fwd(xp, out, x, slope):
    xp.multiply(x, slope, out=out)
    select_into(xp, out, x > 0, x, out)


def _leaky_bwd(xp, out, g, x, slope):
    xp.multiply(g, slope, out=out)
    select_into(xp, out, x > 0, g, out)


class LeakyRelu(_Act):
    fwd = staticmethod(_leaky_fwd)
    bwd = staticmethod(_leaky_bwd)
    cuda = "leaky_relu"

    @staticmethod
    def graph(g, x, slope):
        return where(x > 0, g, g * slope)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` for ``x > 0``, else ``negative_slope * x``."""
    require_float(input, "leaky_relu_cpu")
    return LeakyRelu.apply(input, slope=negative_slope)


def _mask_where(g: Tensor, mask) -> Tensor:
    """``g`` where the constant boolean array ``mask`` holds, else 0 (differentiable in g)."""
    return where(wrap(mask), g, 0.0)


def _scalar(arr, v):
    """``v`` as the scalar type NumPy should combine with ``arr`` (integers stay integers)."""
    if arr.dtype.kind in "iub":
        return int(v)
    return v


class _Masked(Node):
    """An activation whose derivative is a constant 0/1 mask of the input (times ``scale``)."""

    save_inputs = (0,)
    scale = 1

    def forward(self, x, **p):
        self.p = p
        return self.fwd(x, **p)

    def backward(self, g):
        (x,) = self.saved_inputs
        mask = self.mask(x._data, **self.p)
        if MODE.grad:
            res = _mask_where(g, mask)
            return res if self.scale == 1 else res * self.scale
        return wrap(run(_mul_mask, g._data, mask, scale=self.scale))


def _mul_mask(xp, out, g, mask, scale):
    select_into(xp, out, mask, g, 0.0)
    if scale != 1:
        out *= scale


class Hardtanh(_Masked):
    @staticmethod
    def fwd(x, lo, hi):
        if x.dtype.kind in "iu":
            return x.clip(_scalar(x, lo), _scalar(x, hi)).astype(x.dtype)
        return run(_hardtanh_fwd, x, lo=lo, hi=hi)

    @staticmethod
    def mask(x, lo, hi):
        return (x > lo) & (x < hi)


def _hardtanh_fwd(xp, out, x, lo, hi):
    xp.clip(x, lo, hi, out=out)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``x`` clamped to ``[min_val, max_val]``."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if input._data.dtype.kind == "b":
        raise NotImplementedError("\"clamp_scalar_cpu\" not implemented for 'Bool'")
    return Hardtanh.apply(input, lo=min_val, hi=max_val)


def relu6(input: Tensor) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return hardtanh(input, 0.0, 6.0)


def _hardswish_fwd(xp, out, x):
    xp.add(x, 3, out=out)
    xp.clip(out, 0, 6, out=out)
    out *= x
    out /= 6


def _hardswish_bwd(xp, out, g, x):
    xp.divide(x, 3, out=out)
    out += 0.5
    out *= g
    select_into(xp, out, x >= 3, g, out)
    select_into(xp, out, x <= -3, 0.0, out)


class Hardswish(_Act):
    fwd = staticmethod(_hardswish_fwd)
    bwd = staticmethod(_hardswish_bwd)
    cuda = "hardswish"

    @staticmethod
    def graph(g, x):
        mid = g * (x / 3 + 0.5)
        return where(x <= -3, 0.0, where(x < 3, mid, g))


def hardswish(input: Tensor) -> Tensor:
    """``x * relu6(x + 3) / 6``."""
    require_float(input, "hardswish_cpu")
    return Hardswish.apply(input)


def _hardsigmoid_fwd(xp, out, x):
    xp.add(x, 3, out=out)
    xp.clip(out, 0, 6, out=out)
    out /= 6


class Hardsigmoid(_Masked):
    scale = float(np.float32(1 / 6))  # torch's kernel multiplies by a float 1/6

    @staticmethod
    def fwd(x):
        if x.__class__ is not np.ndarray:  # CuPy: the fused kernel (None: not covered)
            from ..cuda import _activation as _cuda_act

            y = _cuda_act.forward("hardsigmoid", x, {"scale": Hardsigmoid.scale})
            if y is not None:
                return y
        return run(_hardsigmoid_fwd, x)

    def backward(self, g):
        (x,) = self.saved_inputs
        if not MODE.grad and x._data.__class__ is not np.ndarray:
            from ..cuda import _activation as _cuda_act

            r = _cuda_act.backward("hardsigmoid", g._data, x._data, {"scale": self.scale})
            if r is not None:
                return wrap(r)
        return _Masked.backward(self, g)

    @staticmethod
    def mask(x):
        return (x > -3) & (x < 3)


def hardsigmoid(input: Tensor) -> Tensor:
    """``relu6(x + 3) / 6``."""
    require_float(input, "hardsigmoid_cpu")
    return Hardsigmoid.apply(input)


class Threshold(_Masked):
    @staticmethod
    def fwd(x, threshold, value):
        if x.dtype.kind in "iu":
            xp = xp_of(x)
            return xp.where(x > threshold, x, xp.asarray(_scalar(x, value)).astype(x.dtype))
        return run(_threshold_fwd, x, threshold=threshold, value=value)

    @staticmethod
    def mask(x, threshold, value):
        return x > threshold


def _threshold_fwd(xp, out, x, threshold, value):
    select_into(xp, out, x > threshold, x, value)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``."""
    if input._data.dtype.kind == "b":
        raise NotImplementedError("\"threshold_cpu\" not implemented for 'Bool'")
    return Threshold.apply(input, threshold=threshold, value=value)


def _shrink_mask(x, lambd):
    return (x < -lambd) | (x > lambd)


class Hardshrink(_Masked):
    mask = staticmethod(_shrink_mask)

    @staticmethod
    def fwd(x, lambd):
        return run(_mul_mask, x, _shrink_mask(x, lambd), scale=1)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > lambd``, else 0."""
    require_float(input, "hardshrink_cpu")
    return Hardshrink.apply(input, lambd=lambd)


def _softshrink_fwd(xp, out, x, lambd):
    xp.clip(x, -lambd, lambd, out=out)
    xp.subtract(x, out, out=out)


class Softshrink(_Masked):
    mask = staticmethod(_shrink_mask)

    @staticmethod
    def fwd(x, lambd):
        return run(_softshrink_fwd, x, lambd=lambd)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {_num(lambd)}.")
    require_float(input, "softshrink_check")
    return Softshrink.apply(input, lambd=lambd)


def _num(v) -> str:
    v = float(v)
    return str(int(v)) if v == int(v) else repr(v)


class RreluWithNoise(Node):
    """``x * noise`` where ``noise`` (a constant) holds the sampled slopes, 1 for ``x > 0``."""

    def forward(self, x, noise):
        self.noise = noise
        return x * noise

    def backward(self, g):
        return g * wrap(self.noise)


def rrelu_with_noise(input: Tensor, noise) -> Tensor:
    return RreluWithNoise.apply(input, noise=noise)


FUNCTIONS = ["selu", "celu", "threshold", "hardshrink"]
TENSOR_METHODS = {"hardshrink": hardshrink}
INPLACE: dict = {}
