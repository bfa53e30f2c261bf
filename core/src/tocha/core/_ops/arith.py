"""Binary arithmetic with torch's type promotion: add, sub, mul, div (3 rounding modes),
remainder, pow, neg, and the comparison operators.

Every op has a Tensor-Tensor node and, where it saves work, a Tensor-scalar node (a Python
number never becomes a tensor). With grad off and equal dtypes the operators skip the node
machinery entirely: that path is what per-op overhead benchmarks measure.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import _dtype, _parallel
from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ..autograd.grad_mode import MODE
from ._util import broadcast_error, check_same_device, is_scalar, xp_of
from ._util import write_out as _out

_ndarray = np.ndarray
_FROM_NP = _dtype._BY_NP


# --- promotion ------------------------------------------------------------------------------
def _tt_dtype(a: Tensor, b: Tensor):
    """Common NumPy dtype of two tensors under torch's rules (None when already equal)."""
    da, db = a._data.dtype, b._data.dtype
    if da is db:
        return None
    ta, tb = _FROM_NP[da], _FROM_NP[db]
    za, zb = a._data.ndim == 0, b._data.ndim == 0
    if za == zb:
        res = _dtype._PROMOTE[(ta, tb)]
    else:
        dim_t, zero_t = (tb, ta) if za else (ta, tb)
        res = _dtype._combine(dim_t, zero_t)
    return res.np


def _ts_dtype(a: Tensor, s):
    """Dtype of tensor (op) Python scalar, when it differs from the tensor's (else None)."""
    kind = a._data.dtype.kind
    if isinstance(s, bool):
        return None
    if isinstance(s, int):
        return np.dtype(np.int64) if kind == "b" else None
    if isinstance(s, float):
        return _dtype.get_default_dtype().np if kind in "biu" else None
    if isinstance(s, complex):
        return _dtype._combine(_FROM_NP[a._data.dtype], _dtype.default_complex_dtype()).np
    if isinstance(s, np.generic):
        return _ts_dtype(a, s.item())
    raise TypeError(f"unsupported operand type {type(s).__name__}")


def _cast(arr, dt):
    return arr if dt is None else arr.astype(dt, copy=False)


def _scalar_for(arr, s):
    """A Python scalar NumPy can combine with ``arr`` without overflow errors (wraps like C)."""
    if arr.dtype.kind == "V":  # bfloat16: NumPy would promote a Python float to float32
        return arr.dtype.type(s)
    if isinstance(s, int) and not isinstance(s, bool) and arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        if not info.min <= s <= info.max:
            return np.array(s).astype(arr.dtype)
    return s


def _binary(name: str, tt: type, ts: type, a, b, int_to_float: bool = False):
    """Dispatch ``a (op) b`` where ``a`` is a Tensor and ``b`` a Tensor or a scalar."""
    if isinstance(b, Tensor):
        if a._data.__class__ is not b._data.__class__ or a._data.__class__ is not _ndarray:
            check_same_device(name, a, b)
        dt = _tt_dtype(a, b)
        if int_to_float:
            kind = (np.dtype(dt) if dt is not None else a._data.dtype).kind
            if kind in "biu":
                dt = _dtype.get_default_dtype().np
        return tt.apply(a, b, dt=dt)
    if not is_scalar(b):
        if isinstance(b, (_ndarray, list, tuple)):
            from .creation import as_tensor

            return _binary(name, tt, ts, a, as_tensor(b, device=a.device), int_to_float)
        return NotImplemented
    dt = _ts_dtype(a, b)
    if int_to_float and (np.dtype(dt) if dt is not None else a._data.dtype).kind in "biu":
        dt = _dtype.get_default_dtype().np
    return ts.apply(a, s=b, dt=dt)


_MIN_PAR = _parallel.MIN_ELEMENTS


class _BinaryTT(Node):
    fn = None
    ufunc = None  # the NumPy ufunc of fn, when large inputs may run on several threads

    def forward(self, a, b, dt=None):
        if dt is not None:
            a = a.astype(dt, copy=False)
            b = b.astype(dt, copy=False)
        if a.size >= _MIN_PAR and self.ufunc is not None and a.__class__ is _ndarray:
            res = _parallel.binary(self.ufunc, a, b)
            if res is not None:
                return res
        return self.fn(a, b)


class _BinaryTS(Node):
    fn = None
    ufunc = None

    def forward(self, a, s, dt=None):
        if dt is not None:
            a = a.astype(dt, copy=False)
        self.s = s
        s = _scalar_for(a, s)
        if a.size >= _MIN_PAR and self.ufunc is not None and a.__class__ is _ndarray:
            res = _parallel.binary(self.ufunc, a, s)
            if res is not None:
                return res
        return self.fn(a, s)


class _RBinaryTS(_BinaryTS):
    def forward(self, a, s, dt=None):
        if dt is not None:
            a = a.astype(dt, copy=False)
        self.s = s
        return self.fn(_scalar_for(a, s), a)


# --- add / sub ------------------------------------------------------------------------------
class Add(_BinaryTT):
    fn = operator.add
    ufunc = np.add

    def backward(self, g):
        return g, g


class AddScalar(_BinaryTS):
    fn = operator.add
    ufunc = np.add

    def name(self):
        return "AddBackward1"

    def backward(self, g):
        return (g,)


class Sub(_BinaryTT):
    fn = operator.sub
    ufunc = np.subtract

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


class SubScalar(_BinaryTS):
    fn = operator.sub
    ufunc = np.subtract

    def name(self):
        return "SubBackward1"

    def backward(self, g):
        return (g,)


class RSubScalar(_RBinaryTS):
    fn = operator.sub

    def name(self):
        return "RsubBackward1"

    def backward(self, g):
        return (-g,)


class Neg(Node):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


# --- mul / div ------------------------------------------------------------------------------
class Mul(_BinaryTT):
    fn = operator.mul
    ufunc = np.multiply
    save_inputs = (0, 1)

    def backward(self, g):
        a, b = self.saved_inputs
        ea, eb = self.next_edges  # (not needs_input_grad: this is the hottest backward)
        na, nb = ea is not None, eb is not None
        if a._data.dtype.kind == "c" or b._data.dtype.kind == "c":
            a, b = a.conj(), b.conj()
        if a is b and na and nb:
            # x * x: both edges lead to x, so deliver the whole gradient once (2 passes, not 3)
            return g * (a + a), None
        return (g * b if na else None), (g * a if nb else None)


class MulScalar(_BinaryTS):
    fn = operator.mul
    ufunc = np.multiply

    def name(self):
        return "MulBackward1"

    def backward(self, g):
        return (g * self.s,)


class Div(_BinaryTT):
    fn = operator.truediv
    ufunc = np.true_divide
    save_inputs = (1,)
    save_outputs = (0,)

    def backward(self, g):
        (b,) = self.saved_inputs
        na, nb = self.needs_input_grad
        ga = g / b
        # d(a/b)/db = -(a/b)/b: reusing the output and g/b takes 3 passes instead of 5
        gb = -(ga * self.saved_outputs[0]) if nb else None
        return (ga if na else None), gb


class DivScalar(_BinaryTS):
    fn = operator.truediv
    ufunc = np.true_divide

    def name(self):
        return "DivBackward1"

    def backward(self, g):
        return (g / self.s,)


class RDivScalar(_RBinaryTS):
    fn = operator.truediv
    save_inputs = (0,)

    def name(self):
        return "ReciprocalBackward0"

    def backward(self, g):
        (a,) = self.saved_inputs
        return (-g * self.s / (a * a),)


def _trunc_div(a, b):
    xp = xp_of(a)
    if a.dtype.kind in "iu":
        q = xp.floor_divide(a, b)
        r = xp.remainder(a, b)
        fix = (r != 0) & ((a < 0) != (b < 0))
        return q + fix.astype(q.dtype)
    return xp.trunc(a / b)


class _NoGradBinary(_BinaryTT):
    """floor/trunc division: the gradient is zero almost everywhere (torch returns zeros)."""

    def backward(self, g):
        from .creation import zeros_like

        return tuple((zeros_like(g) if need else None) for need in self.needs_input_grad)


class FloorDiv(_NoGradBinary):
    fn = staticmethod(lambda a, b: xp_of(a).floor_divide(a, b))


class TruncDiv(_NoGradBinary):
    fn = staticmethod(_trunc_div)


class _NoGradBinaryTS(_BinaryTS):
    def backward(self, g):
        from .creation import zeros_like

        return (zeros_like(g),)


class FloorDivScalar(_NoGradBinaryTS):
    fn = staticmethod(lambda a, s: xp_of(a).floor_divide(a, s))


class RFloorDivScalar(_RBinaryTS):
    fn = staticmethod(lambda s, a: xp_of(a).floor_divide(s, a))
    backward = _NoGradBinaryTS.backward


class TruncDivScalar(_NoGradBinaryTS):
    fn = staticmethod(lambda a, s: _trunc_div(a, xp_of(a).asarray(s, dtype=a.dtype)))


# --- remainder / fmod -----------------------------------------------------------------------
class Remainder(_BinaryTT):
    """Python-style modulus (sign of the divisor), as torch.remainder."""

    fn = staticmethod(lambda a, b: xp_of(a).remainder(a, b))
    save_inputs = (0, 1)

    def backward(self, g):
        a, b = self.saved_inputs
        na, nb = self.needs_input_grad
        return (g if na else None), (-g * (a / b).floor() if nb else None)


class RemainderScalar(_BinaryTS):
    fn = staticmethod(lambda a, s: xp_of(a).remainder(a, s))

    def backward(self, g):
        return (g,)


class RRemainderScalar(_RBinaryTS):
    fn = staticmethod(lambda s, a: xp_of(a).remainder(s, a))
    save_inputs = (0,)

    def backward(self, g):
        (a,) = self.saved_inputs
        return (-g * (self.s / a).floor(),)


class Fmod(_BinaryTT):
    """C-style modulus (sign of the dividend), as torch.fmod."""

    fn = staticmethod(lambda a, b: xp_of(a).fmod(a, b))
    save_inputs = (0, 1)

    def backward(self, g):
        a, b = self.saved_inputs
        na, nb = self.needs_input_grad
        return (g if na else None), (-g * (a / b).trunc() if nb else None)


class FmodScalar(_BinaryTS):
    fn = staticmethod(lambda a, s: xp_of(a).fmod(a, s))

    def backward(self, g):
        return (g,)


# --- pow ------------------------------------------------------------------------------------
class Pow(_BinaryTT):
    fn = operator.pow
    save_inputs = (0, 1)
    save_outputs = (0,)

    def backward(self, g):
        a, b = self.saved_inputs
        na, nb = self.needs_input_grad
        ga = gb = None
        if a.is_complex() or b.is_complex():  # torch's convention: conjugate the derivative
            a, b = a.conj(), b.conj()
        if na:
            ga = g * b * a ** (b - 1)
            # torch: the gradient at a == 0 with exponent 0 is 0, not nan
            ga = ga.masked_fill((b == 0) & (a == 0), 0.0) if ga.is_floating_point() else ga
        if nb:
            (out,) = self.saved_outputs
            la = a.log()
            gb = g * out * la.masked_fill((a == 0) & (b >= 0), 0.0)
        return ga, gb


class PowScalar(_BinaryTS):
    fn = operator.pow
    save_inputs = (0,)

    def name(self):
        return "PowBackward0"

    def backward(self, g):
        (a,) = self.saved_inputs
        s = self.s
        if s == 0:
            from .creation import zeros_like

            return (zeros_like(a),)
        if a.is_complex():  # torch's convention: conjugate the derivative
            return (g * (s * a ** (s - 1)).conj(),)
        return (g * s * a ** (s - 1),)


class RPowScalar(_RBinaryTS):
    fn = operator.pow
    save_outputs = (0,)

    def name(self):
        return "PowBackward1"

    def backward(self, g):
        (out,) = self.saved_outputs
        s = self.s
        if s == 0:
            return (g * 0 * out,)
        return (g * out * float(np.log(s)),)


# --- the public functions -------------------------------------------------------------------
def _int_pow_check(a: Tensor, b) -> None:
    if a._data.dtype.kind in "iu" and is_scalar(b) and isinstance(b, int) and b < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")


def add(input, other, *, alpha=1, out=None) -> Tensor:
    """``input + alpha * other`` with broadcasting and type promotion."""
    if not isinstance(input, Tensor):
        return _reflect(add, input, other, alpha=alpha)
    if alpha != 1:
        other = other * alpha
    return _out(_binary("add", Add, AddScalar, input, other), out)


def sub(input, other, *, alpha=1, out=None) -> Tensor:
    """``input - alpha * other``."""
    if not isinstance(input, Tensor):
        return _reflect(sub, input, other, alpha=alpha)
    if input._data.dtype.kind == "b" and (
        isinstance(other, Tensor) and other._data.dtype.kind == "b"
    ):
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead."
        )
    if alpha != 1:
        other = other * alpha
    return _out(_binary("sub", Sub, SubScalar, input, other), out)


def rsub(input, other, *, alpha=1) -> Tensor:
    """``other - alpha * input``."""
    if alpha != 1:
        input = input * alpha
    if isinstance(other, Tensor):
        return sub(other, input)
    return _binary("rsub", Sub, RSubScalar, input, other)


def mul(input, other, *, out=None) -> Tensor:
    """Elementwise product with broadcasting."""
    if not isinstance(input, Tensor):
        return _reflect(mul, input, other)
    return _out(_binary("mul", Mul, MulScalar, input, other), out)


def div(input, other, *, rounding_mode=None, out=None) -> Tensor:
    """Division: true (default), ``'trunc'`` or ``'floor'`` rounding, as torch.div."""
    if not isinstance(input, Tensor):
        return _reflect(div, input, other, rounding_mode=rounding_mode)
    if rounding_mode is None:
        res = _binary("div", Div, DivScalar, input, other, int_to_float=True)
    elif rounding_mode == "floor":
        res = _binary("div", FloorDiv, FloorDivScalar, input, other)
    elif rounding_mode == "trunc":
        res = _binary("div", TruncDiv, TruncDivScalar, input, other)
    else:
        raise ValueError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"'{rounding_mode}'"
        )
    _check_int_zero_div(input, other, rounding_mode)
    return _out(res, out)


def _check_int_zero_div(a, b, rounding_mode):
    if rounding_mode is None:
        return
    if a._data.dtype.kind in "iub":
        bd = b._data if isinstance(b, Tensor) else b
        if (bd == 0) is True or (not is_scalar(bd) and bool((bd == 0).any())):
            raise RuntimeError("ZeroDivisionError")


def floor_divide(input, other, *, out=None) -> Tensor:
    return div(input, other, rounding_mode="floor", out=out)


def true_divide(input, other, *, out=None) -> Tensor:
    return div(input, other, out=out)


def remainder(input, other, *, out=None) -> Tensor:
    """Python-style modulus: the result has the sign of the divisor."""
    if not isinstance(input, Tensor):
        from .creation import as_tensor

        return remainder(as_tensor(input, device=other.device), other)
    return _out(_binary("remainder", Remainder, RemainderScalar, input, other), out)


def fmod(input, other, *, out=None) -> Tensor:
    """C-style modulus: the result has the sign of the dividend."""
    return _out(_binary("fmod", Fmod, FmodScalar, input, other), out)


def pow(input, exponent, *, out=None) -> Tensor:
    """``input ** exponent`` elementwise (either may be a scalar)."""
    if not isinstance(input, Tensor):
        return _out(_rpow(exponent, input), out)
    _int_pow_check(input, exponent)
    return _out(_binary("pow", Pow, PowScalar, input, exponent), out)


def _rpow(t: Tensor, s) -> Tensor:
    dt = _ts_dtype(t, s)
    if isinstance(s, (int, float)) and t._data.dtype.kind in "iub" and isinstance(s, float):
        dt = _dtype.get_default_dtype().np
    return RPowScalar.apply(t, s=s, dt=dt)


def neg(input, *, out=None) -> Tensor:
    """``-input``."""
    if input._data.dtype.kind == "b":
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    return _out(Neg.apply(input), out)


negative = neg


def _reflect(fn, input, other, **kw):
    """``fn(scalar, tensor)`` called as a function: treat the scalar as a 0-dim tensor."""
    from .creation import as_tensor

    dev = other.device if isinstance(other, Tensor) else None
    return fn(as_tensor(input, device=dev), other, **kw)


# --- comparisons (no gradient) --------------------------------------------------------------
def _compare(name: str, fn, a, b) -> Tensor:
    if isinstance(b, Tensor):
        if a._data.__class__ is not b._data.__class__:
            check_same_device(name, a, b)
        dt = _tt_dtype(a, b)
        try:
            return wrap(fn(_cast(a._data, dt), _cast(b._data, dt)))
        except ValueError:
            raise broadcast_error(name, a._data.shape, b._data.shape) from None
    if is_scalar(b):
        return wrap(fn(a._data, b))
    if isinstance(b, (_ndarray, list, tuple)):
        from .creation import as_tensor

        return _compare(name, fn, a, as_tensor(b, device=a.device))
    return NotImplemented


def eq(input, other) -> Tensor:
    """Elementwise ``input == other`` as a bool tensor."""
    return _compare("eq", operator.eq, input, other)


def ne(input, other) -> Tensor:
    return _compare("ne", operator.ne, input, other)


def lt(input, other) -> Tensor:
    return _compare("lt", operator.lt, input, other)


def le(input, other) -> Tensor:
    return _compare("le", operator.le, input, other)


def gt(input, other) -> Tensor:
    return _compare("gt", operator.gt, input, other)


def ge(input, other) -> Tensor:
    return _compare("ge", operator.ge, input, other)


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


# --- operators: fast paths for the common case ----------------------------------------------
def _fast(fn, tt: type, ts: type, name: str):
    """An operator that skips dispatch when both operands are NumPy arrays of one dtype.

    Only for ops whose forward is ``fn(a, b)`` and whose node saves inputs only (add, sub,
    mul): ``record_binary`` relies on that.
    """
    ufunc = tt.ufunc

    def op(self, other):
        if other.__class__ is Tensor or isinstance(other, Tensor):  # e.g. an nn.Parameter
            a = self._data
            b = other._data
            if a.dtype is b.dtype and a.__class__ is _ndarray and b.__class__ is _ndarray:
                res = _parallel.binary(ufunc, a, b) if a.size >= _MIN_PAR else None
                if res is None:
                    try:
                        res = fn(a, b)
                    except ValueError:
                        raise broadcast_error(name, a.shape, b.shape) from None
                if (self._rg or other._rg) and MODE.grad:
                    return tt.record_binary(self, other, res)
                return wrap(res)
        elif other.__class__ is float and self._data.dtype.kind == "f":  # not bfloat16 ("V")
            a = self._data
            if not (self._rg and MODE.grad) and a.__class__ is _ndarray and a.size < _MIN_PAR:
                return wrap(fn(a, other))
            return ts.apply(self, s=other)
        return _binary(name, tt, ts, self, other)

    op.__name__ = f"__{name}__"
    return op


def _rop(fn_name: str):
    def op(self, other):
        if fn_name == "sub":
            return rsub(self, other)
        if fn_name == "truediv":
            if isinstance(other, Tensor):
                return div(other, self)
            dt = _ts_dtype(self, other)
            if (np.dtype(dt) if dt is not None else self._data.dtype).kind in "biu":
                dt = _dtype.get_default_dtype().np
            return RDivScalar.apply(self, s=other, dt=dt)
        if fn_name == "floordiv":
            return _binary("floordiv", FloorDiv, RFloorDivScalar, self, other)
        if fn_name == "mod":
            return _binary("remainder", Remainder, RRemainderScalar, self, other)
        if fn_name == "pow":
            return _rpow(self, other)
        raise AssertionError(fn_name)

    return op


TENSOR_METHODS = {
    "add": add,
    "sub": sub,
    "subtract": sub,
    "mul": mul,
    "multiply": mul,
    "div": div,
    "divide": div,
    "true_divide": true_divide,
    "floor_divide": floor_divide,
    "remainder": remainder,
    "fmod": fmod,
    "pow": pow,
    "neg": neg,
    "negative": neg,
    "eq": eq,
    "ne": ne,
    "lt": lt,
    "le": le,
    "gt": gt,
    "ge": ge,
    "greater": gt,
    "greater_equal": ge,
    "less": lt,
    "less_equal": le,
    "not_equal": ne,
    "__add__": _fast(operator.add, Add, AddScalar, "add"),
    "__radd__": _fast(operator.add, Add, AddScalar, "add"),
    "__sub__": _fast(operator.sub, Sub, SubScalar, "sub"),
    "__rsub__": _rop("sub"),
    "__mul__": _fast(operator.mul, Mul, MulScalar, "mul"),
    "__rmul__": _fast(operator.mul, Mul, MulScalar, "mul"),
    "__truediv__": lambda self, other: div(self, other),
    "__rtruediv__": _rop("truediv"),
    "__floordiv__": lambda self, other: div(self, other, rounding_mode="floor"),
    "__rfloordiv__": _rop("floordiv"),
    "__mod__": lambda self, other: remainder(self, other),
    "__rmod__": _rop("mod"),
    "__pow__": lambda self, other: pow(self, other),
    "__rpow__": _rop("pow"),
    "__neg__": neg,
    "__pos__": lambda self: self,
    "__eq__": eq,
    "__ne__": ne,
    "__lt__": lt,
    "__le__": le,
    "__gt__": gt,
    "__ge__": ge,
}

# In-place variants (a.add_(b) etc.) are generated in _ops/inplace.py from these functions.
INPLACE = {
    "add_": add,
    "sub_": sub,
    "subtract_": sub,
    "mul_": mul,
    "multiply_": mul,
    "div_": div,
    "divide_": div,
    "true_divide_": true_divide,
    "floor_divide_": floor_divide,
    "remainder_": remainder,
    "fmod_": fmod,
    "pow_": pow,
    "neg_": neg,
    "negative_": neg,
    "eq_": eq,
    "ne_": ne,
    "lt_": lt,
    "le_": le,
    "gt_": gt,
    "ge_": ge,
    "__iadd__": add,
    "__isub__": sub,
    "__imul__": mul,
    "__itruediv__": div,
    "__ifloordiv__": floor_divide,
    "__imod__": remainder,
    "__ipow__": pow,
}

FUNCTIONS = [
    "add",
    "sub",
    "subtract",
    "rsub",
    "mul",
    "multiply",
    "div",
    "divide",
    "true_divide",
    "floor_divide",
    "remainder",
    "fmod",
    "pow",
    "neg",
    "negative",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "not_equal",
]
subtract, multiply, divide = sub, mul, div
