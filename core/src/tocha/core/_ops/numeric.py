"""Numerical helpers torch keeps in its namespace: finite differences (``diff``), distances
(``dist``), covariance and correlation (``cov``, ``corrcoef``), trapezoidal integration
(``trapezoid``/``trapz``, ``cumulative_trapezoid``), integer ``gcd``/``lcm``, ``frexp``,
``nextafter``, ``renorm``, ``mvlgamma`` and the regularised incomplete gamma functions
(``igamma``/``igammac``).

Most are compositions of differentiable tocha ops, so they have first and second derivatives
without a backward of their own; ``frexp`` and ``igamma``/``igammac`` are nodes.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _dtype
from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ._util import as_tensor_like, norm_dim, result_dtype, xp_of
from ._util import return_type as _return_type
from ._util import type_name as _tname
from ._util import write_out as _out


def _float_of(t: Tensor) -> Tensor:
    """Integer and bool tensors as the default float dtype (torch's rule for these ops)."""
    return t.to(_dtype.get_default_dtype()) if t._data.dtype.kind in "biu" else t


# --- diff / dist ------------------------------------------------------------------------------
def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (bool tensors: ``!=`` of neighbours),
    after ``prepend`` / ``append`` are concatenated along ``dim``.

    Example:
        >>> import tocha.core as torch
        >>> torch.diff(torch.tensor([1, 3, 6, 10]))
        tensor([2, 3, 4])
    """
    from .shape import cat

    nd = input._data.ndim
    if nd == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = norm_dim(dim, nd, "diff")
    parts = []
    for extra in (prepend, append):
        if extra is not None and extra._data.ndim != nd:
            raise RuntimeError(
                "diff expects prepend or append to be the same dimension as input "
                f"(input has {nd} dims, got {extra._data.ndim})"
            )
    if prepend is not None:
        parts.append(prepend)
    parts.append(input)
    if append is not None:
        parts.append(append)
    x = cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        m = x._data.shape[d]
        if m == 0:
            break
        hi, lo = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
        x = hi != lo if x._data.dtype == np.bool_ else hi - lo
    return x


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The ``p``-norm of ``input - other`` (broadcast), as a 0-dim tensor.

    Example:
        >>> import tocha.core as torch
        >>> torch.dist(torch.tensor([3.0, 4.0]), torch.zeros(2))
        tensor(5.)
    """
    from ..linalg import vector_norm

    if isinstance(p, Tensor):
        p = p.item()
    return vector_norm(input - other, p)


# --- cov / corrcoef ---------------------------------------------------------------------------
def cov(input: Tensor, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
    """The covariance matrix of the variables in the rows of ``input`` (observations in the
    columns), with integer frequency weights ``fweights`` and observation weights
    ``aweights``; ``correction`` is Bessel's correction (1: unbiased).

    Example:
        >>> import tocha.core as torch
        >>> torch.cov(torch.tensor([[1.0, 2.0, 4.0], [3.0, 1.0, 7.0]]))
        tensor([[2.3333, 3.6667],
                [3.6667, 9.3333]])
    """
    nd = input._data.ndim
    if nd > 2:
        raise RuntimeError(
            "cov(): expected input to have two or fewer dimensions but got an input with "
            f"{nd} dimensions"
        )
    x = input.reshape(1, -1) if nd < 2 else input
    x = _float_of(x)
    n_obs = x._data.shape[1]
    w = None
    if fweights is not None:
        if fweights._data.ndim > 1 or fweights._data.size != n_obs:
            raise RuntimeError(
                f"cov(): expected fweights to have one dimension and {n_obs} elements but got "
                f"shape {list(fweights._data.shape)}"
            )
        if fweights._data.dtype.kind not in "iu":
            raise RuntimeError(
                f"cov(): expected fweights to have integral dtype but got {_tname(fweights._data)}"
            )
        if fweights._data.size and int(fweights._data.min()) < 0:
            raise RuntimeError(f"cov(): fweights cannot be negative but got {fweights._data.min()}")
        w = fweights.reshape(-1)
    if aweights is not None:
        if aweights._data.ndim > 1 or aweights._data.size != n_obs:
            raise RuntimeError(
                f"cov(): expected aweights to have one dimension and {n_obs} elements but got "
                f"shape {list(aweights._data.shape)}"
            )
        if aweights._data.dtype.kind not in "f":
            raise RuntimeError(
                "cov(): expected aweights to have floating point dtype but got "
                f"{_tname(aweights._data)}"
            )
        if aweights._data.size and float(aweights._data.min()) < 0:
            raise RuntimeError(f"cov(): aweights cannot be negative but got {aweights._data.min()}")
        w = aweights.reshape(-1) if w is None else w * aweights.reshape(-1)
    if w is None:
        w_sum = n_obs
        avg = x.mean(1, keepdim=True)
        norm_factor = n_obs - correction
    else:
        w = w.to(x.dtype) if w._data.dtype != x._data.dtype else w
        w_sum = w.sum()
        avg = (x * w).sum(1, keepdim=True) / w_sum
        if aweights is None:
            norm_factor = w_sum - correction
        else:
            norm_factor = w_sum - correction * (w * aweights.reshape(-1)).sum() / w_sum
    if isinstance(norm_factor, Tensor):
        norm_factor = norm_factor.clamp(min=0)
    else:
        norm_factor = max(norm_factor, 0)
    xm = x - avg
    xw = xm if w is None else xm * w
    c = xw.matmul(xm.mT.conj() if xm._data.dtype.kind == "c" else xm.mT) / norm_factor
    return c.reshape(()) if nd < 2 or c._data.shape == (1, 1) and nd < 2 else c


def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the variables in the rows of ``input``, clipped to
    [-1, 1].

    Example:
        >>> import tocha.core as torch
        >>> torch.corrcoef(torch.tensor([[1.0, 2.0, 3.0], [2.0, 2.0, 5.0]]))
        tensor([[1.0000, 0.8660],
                [0.8660, 1.0000]])
    """
    if input._data.ndim > 2:
        raise RuntimeError(
            "corrcoef(): expected input to have two or fewer dimensions but got an input with "
            f"{input._data.ndim} dimensions"
        )
    c = cov(input)
    if c._data.ndim == 0:
        return c / c
    std = c.diagonal().sqrt()
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    if c._data.dtype.kind == "c":
        from .. import complex as _complex

        return _complex(c.real.clamp(-1, 1), c.imag.clamp(-1, 1))
    return c.clamp(-1, 1)


# --- trapezoid / cumulative_trapezoid ---------------------------------------------------------
def _trapz_terms(y: Tensor, x, dx, dim: int, op: str):
    """Per-interval areas along ``dim`` (the last dim of the result is the intervals)."""
    nd = y._data.ndim
    if nd == 0:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [-1, 0])")
    d = norm_dim(dim, nd, op)
    y = _float_of(y)
    m = y._data.shape[d]
    if m == 0:
        return None, d
    mid = (y.narrow(d, 1, m - 1) + y.narrow(d, 0, m - 1)) / 2
    if x is None:
        return mid * (1.0 if dx is None else dx), d
    if isinstance(x, Tensor):
        x = _float_of(x)
        if x._data.ndim == 1:
            if x._data.shape[0] != m:
                raise RuntimeError(
                    f"{op}: There must be one `x` value for each sample point (x has "
                    f"{x._data.shape[0]} values, y has {m} samples along dim {d})"
                )
            shape = [1] * nd
            shape[d] = m
            x = x.reshape(shape)
            xd = d
        else:
            xd = d - nd + x._data.ndim if x._data.ndim < nd else d
        mx = x._data.shape[xd]
        dxs = x.narrow(xd, 1, mx - 1) - x.narrow(xd, 0, mx - 1)
        return mid * dxs, d
    return mid * x, d  # a number: the spacing (torch.trapezoid(y, 0.5))


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The integral of ``y`` along ``dim`` by the trapezoidal rule, at sample points ``x``
    (a tensor) or with spacing ``dx`` (default 1).

    Example:
        >>> import tocha.core as torch
        >>> torch.trapezoid(torch.tensor([1.0, 3.0, 6.0, 10.0]))
        tensor(14.5000)
    """
    if x is not None and dx is not None:
        raise TypeError("trapezoid() received both 'x' and 'dx'; pass one of them")
    terms, d = _trapz_terms(y, x, dx, dim, "trapezoid")
    if terms is None:
        shape = list(y._data.shape)
        del shape[d]
        return wrap(xp_of(y._data).zeros(shape, dtype=_float_of(y)._data.dtype))
    return terms.sum(d)


def trapz(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """``trapezoid`` under its older name."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The running trapezoidal integral of ``y`` along ``dim`` (one fewer element there).

    Example:
        >>> import tocha.core as torch
        >>> torch.cumulative_trapezoid(torch.tensor([1.0, 3.0, 6.0, 10.0]))
        tensor([ 2.0000,  6.5000, 14.5000])
    """
    if x is not None and dx is not None:
        raise TypeError("cumulative_trapezoid() received both 'x' and 'dx'; pass one of them")
    terms, d = _trapz_terms(y, x, dx, dim, "cumulative_trapezoid")
    if terms is None:
        return _float_of(y).clone()
    return terms.cumsum(d)


# --- gcd / lcm / frexp / nextafter ------------------------------------------------------------
def _int_binary(fn_name: str, input: Tensor, other, out):
    other = as_tensor_like(other, input)
    for t in (input, other):
        if t._data.dtype.kind not in "iu":
            raise NotImplementedError(f"\"{fn_name}_cpu\" not implemented for '{_tname(t._data)}'")
    dt = result_dtype([input, other])
    xp = xp_of(input._data)
    res = getattr(xp, fn_name)(input._data, other._data).astype(dt.np, copy=False)
    return _out(wrap(res), out, fn_name)


def gcd(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The elementwise greatest common divisor of integer tensors (non-negative).

    Example:
        >>> import tocha.core as torch
        >>> torch.gcd(torch.tensor([12, -18, 0]), torch.tensor([8, 12, 0]))
        tensor([4, 6, 0])
    """
    return _int_binary("gcd", input, other, out)


def lcm(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The elementwise least common multiple of integer tensors (non-negative)."""
    return _int_binary("lcm", input, other, out)


class Frexp(Node):
    nondiff_outputs = (1,)

    def forward(self, a):
        m, e = xp_of(a).frexp(a)
        self.exponent = e
        return m, e.astype(np.int32)

    def backward(self, gm, ge=None):
        # mantissa = x / 2**exponent with the exponent piecewise constant
        scale = xp_of(gm._data).ldexp(np.ones((), gm._data.dtype), -self.exponent)
        return gm * wrap(scale.astype(gm._data.dtype, copy=False))


def frexp(input: Tensor, *, out=None):
    """Mantissa in [0.5, 1) (signed) and int32 exponent with ``input = mantissa * 2**exponent``.

    Example:
        >>> import tocha.core as torch
        >>> torch.frexp(torch.tensor([8.0, 0.3])).exponent
        tensor([ 4, -1], dtype=torch.int32)
    """
    if input._data.dtype.kind not in "fV" or input._data.dtype.kind == "V":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    m, e = Frexp.apply(input)
    res = _return_type("frexp", ("mantissa", "exponent"))(m, e)
    return _out(res, out, "frexp") if out is not None else res


def nextafter(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The next floating-point value after ``input`` towards ``other`` (no gradient, as torch).

    Example:
        >>> import tocha.core as torch
        >>> float(torch.nextafter(torch.tensor(1.0), torch.tensor(2.0)) - 1.0)
        1.1920928955078125e-07
    """
    other = as_tensor_like(other, input)
    dt = result_dtype([input, other])
    if not dt.is_floating_point:
        raise NotImplementedError(f"\"nextafter_cpu\" not implemented for '{_tname(input._data)}'")
    xp = xp_of(input._data)
    res = xp.nextafter(input._data.astype(dt.np, copy=False), other._data.astype(dt.np, copy=False))
    return _out(wrap(res), out, "nextafter")


# --- renorm / mvlgamma ------------------------------------------------------------------------
def renorm(input: Tensor, p: float, dim: int, maxnorm: float, *, out=None) -> Tensor:
    """``input`` with every slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled
    down to norm ``maxnorm`` (torch's factor ``maxnorm / (norm + 1e-7)``).

    Example:
        >>> import tocha.core as torch
        >>> torch.renorm(torch.tensor([[3.0, 4.0], [0.3, 0.4]]), 2, 0, 1.0)
        tensor([[0.6000, 0.8000],
                [0.3000, 0.4000]])
    """
    from .. import where
    from ..linalg import vector_norm

    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    nd = input._data.ndim
    if nd <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {nd} dimensions")
    d = norm_dim(dim, nd, "renorm")
    others = tuple(i for i in range(nd) if i != d)
    norm = vector_norm(input, p, dim=others, keepdim=True)
    factor = where(norm > maxnorm, maxnorm / (norm + 1e-7), norm.new_ones(()))
    return _out(input * factor, out, "renorm")


def mvlgamma(input: Tensor, p: int, *, out=None) -> Tensor:
    """The log of the multivariate gamma function of dimension ``p``:
    ``p (p - 1) / 4 log(pi) + sum_i lgamma(input - i / 2)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.mvlgamma(torch.tensor([2.5]), 2)
        tensor([0.8570])
    """
    if p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1, got {p}")
    x = _float_of(input)
    xp = xp_of(x._data)
    offsets = wrap(xp.arange(p, dtype=x._data.dtype) / x._data.dtype.type(2))
    res = (x.unsqueeze(-1) - offsets).lgamma().sum(-1) + p * (p - 1) / 4 * math.log(math.pi)
    return _out(res, out, "mvlgamma")


# --- igamma / igammac -------------------------------------------------------------------------
def _gammainc(xp, upper: bool):
    if xp is np:
        from scipy import special
    else:
        from cupyx.scipy import special
    return special.gammaincc if upper else special.gammainc


class Igamma(Node):
    """The regularised lower (or, ``upper``, upper) incomplete gamma function P(a, x)."""

    save_inputs = (0, 1)

    def forward(self, a, x, upper):
        self.upper = upper
        return _gammainc(xp_of(a), upper)(a, x).astype(a.dtype, copy=False)

    def name(self):
        return "IgammacBackward0" if self.upper else "IgammaBackward0"

    def backward(self, g):
        need_a, need_x = self.needs_input_grad
        if need_a:
            raise NotImplementedError(
                f"the derivative for '{'igammac' if self.upper else 'igamma'}: input' is not "
                "implemented."
            )
        a, x = self.saved_inputs
        # dP/dx = x^(a-1) e^(-x) / Gamma(a), in logs for range; Q = 1 - P
        d = ((a - 1) * x.log() - x - a.lgamma()).exp()
        return None, (-g * d if self.upper else g * d)


def _igamma(input: Tensor, other, upper: bool, out):
    other = as_tensor_like(other, input)
    dt = result_dtype([input, other])
    name = "igammac" if upper else "igamma"
    if not dt.is_floating_point:
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_tname(input._data)}'")
    a = input if input._data.dtype == dt.np else input.to(dt)
    x = other if other._data.dtype == dt.np else other.to(dt)
    return _out(Igamma.apply(a, x, upper=upper), out, name)


def igamma(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The regularised lower incomplete gamma function P(input, other) (SciPy's gammainc).

    Differentiable with respect to ``other`` only, as in torch.

    Example:
        >>> import tocha.core as torch
        >>> torch.igamma(torch.tensor([1.0]), torch.tensor([0.5]))
        tensor([0.3935])
    """
    return _igamma(input, other, False, out)


def igammac(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The regularised upper incomplete gamma function Q(input, other) = 1 - P."""
    return _igamma(input, other, True, out)


FUNCTIONS = [
    "diff",
    "dist",
    "cov",
    "corrcoef",
    "trapezoid",
    "trapz",
    "cumulative_trapezoid",
    "gcd",
    "lcm",
    "frexp",
    "nextafter",
    "renorm",
    "mvlgamma",
    "igamma",
    "igammac",
]
TENSOR_METHODS = {
    "diff": diff,
    "dist": dist,
    "cov": cov,
    "corrcoef": corrcoef,
    "gcd": gcd,
    "lcm": lcm,
    "frexp": frexp,
    "nextafter": nextafter,
    "renorm": renorm,
    "mvlgamma": mvlgamma,
    "igamma": igamma,
    "igammac": igammac,
}
INPLACE: dict = {
    "gcd_": gcd,
    "lcm_": lcm,
    "nextafter_": nextafter,
    "renorm_": renorm,
    "mvlgamma_": mvlgamma,
    "igamma_": igamma,
    "igammac_": igammac,
}
