"""Pointwise maths: where, masked_fill, clamp, exp/log/trig/special functions, rounding,
predicates, logical and bitwise ops, complex helpers, relu and softmax.

Every differentiable op is a `Node` whose backward is written with tocha ops, so gradients
are themselves differentiable (double backward) wherever the maths is. Integer and bool
inputs to float functions (exp, sin, sqrt, sigmoid, ...) give the default float dtype, like
torch; abs, sign, floor, ... keep integer dtypes.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .. import _dtype, _parallel
from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ..autograd.grad_mode import MODE
from . import _act_native
from ._util import check_same_device, is_scalar, norm_dim, result_dtype, xp_of
from ._util import write_out as _out
from .reduce import _arg_last

_ndarray = np.ndarray

try:  # np.errstate costs ~1us per call; setting NumPy's context variable directly does not
    from numpy._core.umath import _extobj_contextvar as _EXTOBJ
    from numpy._core.umath import _make_extobj

    _QUIET_EXTOBJ = _make_extobj(all="ignore")
except Exception:  # pragma: no cover - other NumPy versions
    _EXTOBJ = None

try:  # the clip ufunc itself: np.clip / ndarray.clip add a Python layer (~1 us)
    from numpy._core.umath import clip as _np_clip
except Exception:  # pragma: no cover - other NumPy versions
    _np_clip = None


def _quiet_call(fn, *args):
    """``fn(*args)`` with NumPy's floating-point warnings off (torch gives nan/inf silently)."""
    if _EXTOBJ is None:
        with np.errstate(all="ignore"):
            return fn(*args)
    token = _EXTOBJ.set(_QUIET_EXTOBJ)
    try:
        return fn(*args)
    finally:
        _EXTOBJ.reset(token)


_FROM_NP = _dtype._BY_NP
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


# --- helpers --------------------------------------------------------------------------------
def _type_name(arr) -> str:
    return _dtype.SCALAR_TYPE_NAMES.get(str(arr.dtype), str(arr.dtype))


def _c10_name(arr) -> str:
    """The C++ type name torch prints in some messages (float, double, c10::Half ...)."""
    names = {
        "float32": "float",
        "float64": "double",
        "float16": "c10::Half",
        "bfloat16": "c10::BFloat16",
        "complex64": "c10::complex<float>",
        "complex128": "c10::complex<double>",
        "int64": "long int",
        "int32": "int",
    }
    return names.get(str(arr.dtype), str(arr.dtype))


def _dev_name(arr) -> str:
    return "cpu" if arr.__class__ is _ndarray else "cuda"


def _not_implemented(kernel: str, t: Tensor):
    """torch's error for a dtype a kernel does not support (NotImplementedError is a
    RuntimeError, as torch's is)."""
    raise NotImplementedError(
        f"\"{kernel}_{_dev_name(t._data)}\" not implemented for '{_type_name(t._data)}'"
    )


def _kernel_error(kernel: str, arr, device_suffix: bool = True):
    """torch's "<kernel>_cpu" not implemented for '<dtype>' error, from a raw array."""
    name = f"{kernel}_{_dev_name(arr)}" if device_suffix else kernel
    raise NotImplementedError(f"\"{name}\" not implemented for '{_type_name(arr)}'")


def _default_float():
    return _dtype.get_default_dtype().np


def _to_float(a):
    """Integer/bool arrays become the default float dtype (torch's int -> float rule)."""
    if a.dtype.kind in "biu":
        return a.astype(_default_float())
    return a


def _scalar_for(arr, s):
    """A scalar NumPy combines with ``arr`` without changing its dtype (bfloat16 needs this)."""
    if arr.dtype.kind == "V":
        return arr.dtype.type(s)
    return s


def _low_precision(a) -> bool:
    return a.dtype.kind == "V" or a.dtype == np.float16


_SCIPY_SPECIAL = []


def _special(xp):
    """scipy.special on the CPU, cupyx.scipy.special on the GPU (imported on first use)."""
    if xp is np:
        if not _SCIPY_SPECIAL:
            import scipy.special as sp

            _SCIPY_SPECIAL.append(sp)
        return _SCIPY_SPECIAL[0]
    import cupyx.scipy.special as sp

    return sp


def _via_f32(fn, a, *rest):
    """Run ``fn`` in float32 for half/bfloat16 arrays (SciPy has no kernels for them)."""
    if _low_precision(a):
        return fn(a.astype(np.float32), *rest).astype(a.dtype)
    return fn(a, *rest)


def _cj(t: Tensor) -> Tensor:
    """Complex conjugate for complex tensors (torch's gradient convention), else ``t``."""
    return t.conj() if t._data.dtype.kind == "c" else t


def _broadcast_shapes(*shapes) -> tuple:
    """Broadcast shapes with torch's error message."""
    first = shapes[0]
    for sh in shapes[1:]:
        if sh != first and sh != ():
            break
    else:
        return tuple(first)
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        pass
    ndim = max(len(s) for s in shapes)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    for d in range(ndim - 1, -1, -1):
        sizes = [p[d] for p in padded]
        big = [s for s in sizes if s != 1]
        if big and any(s != big[0] for s in big):
            i = next(k for k, s in enumerate(sizes) if s != 1)
            j = next(k for k, s in enumerate(sizes) if s != 1 and s != sizes[i])
            # torch broadcasts pairwise (the shape so far is "a", the next operand "b")
            raise RuntimeError(
                f"The size of tensor a ({sizes[i]}) must match the size of tensor "
                f"b ({sizes[j]}) at non-singleton dimension {d}"
            )
    raise RuntimeError(f"shapes {[list(s) for s in shapes]} cannot be broadcast together")


def _operands(name: str, a, b, to_float: bool = False, to_float_arg: int | None = None):
    """Tensors for the two operands of a binary op and their common NumPy dtype.

    Python scalars take part in promotion as torch's wrapped numbers and become 0-dim arrays
    of the result dtype on the other operand's device.
    """
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        if a._data.__class__ is not _ndarray or b._data.__class__ is not _ndarray:
            check_same_device(name, a, b)
        da = a._data.dtype
        if da is b._data.dtype and da.kind not in "biu":  # the common case: nothing to promote
            return a, b, da
        dt = result_dtype((a, b))
    elif ta:
        da = a._data.dtype
        if b.__class__ is float and da.kind == "f":
            # a Python float against a float tensor keeps the tensor's dtype
            return (
                a,
                wrap(
                    np.asarray(b, dtype=da)
                    if a._data.__class__ is _ndarray
                    else xp_of(a._data).asarray(b, dtype=da)
                ),
                da,
            )
        if not is_scalar(b):
            raise TypeError(
                f"{name}(): argument 'other' must be Tensor or Number, not {type(b).__name__}"
            )
        dt = result_dtype((a,), (b,))
    elif tb:
        db = b._data.dtype
        if a.__class__ is float and db.kind == "f":
            return (
                wrap(
                    np.asarray(a, dtype=db)
                    if b._data.__class__ is _ndarray
                    else xp_of(b._data).asarray(a, dtype=db)
                ),
                b,
                db,
            )
        if not is_scalar(a):
            raise TypeError(
                f"{name}(): argument 'input' must be Tensor or Number, not {type(a).__name__}"
            )
        dt = result_dtype((b,), (a,))
    else:
        raise TypeError(f"{name}(): expected at least one Tensor argument")
    npdt = dt.np
    if to_float and npdt.kind in "biu":
        npdt = _default_float()
    like = a if ta else b
    xp = xp_of(like._data)
    if not ta:
        a = wrap(xp.asarray(np.asarray(a).astype(npdt)))
    if not tb:
        b = wrap(xp.asarray(np.asarray(b).astype(npdt)))
    return a, b, npdt


def _require_tensor(name: str, x, arg: str, pos: int) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not {type(x).__name__}"
        )


def _as_bool_tensor(x, like: Tensor | None = None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    xp = xp_of(like._data) if like is not None else np
    return wrap(xp.asarray(x, dtype=bool))


# --- the generic unary node -------------------------------------------------------------------
class _Unary(Node):
    """``fn(xp, a)`` elementwise.

    ``to_float`` casts integer inputs to the default float dtype; half and bfloat16 are
    computed in float32 and rounded once (as torch's CPU kernels do); ``kernel`` names the
    torch kernel in the error for complex input when the op has no complex version.
    """

    to_float = True
    quiet = False  # silence NumPy's invalid/divide warnings (torch gives nan/inf silently)
    kernel: str | None = None
    ufunc = None  # when fn is this one NumPy ufunc, large inputs run on several threads

    @classmethod
    def fn(cls, xp, a):
        # by default the op is its ufunc, called by name on xp (CuPy names them as NumPy does);
        # an op without a ufunc overrides fn
        return getattr(xp, cls.ufunc.__name__)(a)

    def forward(self, a):
        dt = a.dtype
        uf = self.ufunc
        if (
            uf is not None
            and a.__class__ is _ndarray
            and dt.kind == "f"
            and dt.itemsize != 2
            and a.size < _parallel.MIN_ELEMENTS
        ):
            # the common case (a small float32/64 NumPy array): the ufunc, nothing else
            if not self.quiet:
                return uf(a)
            if _EXTOBJ is not None:
                token = _EXTOBJ.set(_QUIET_EXTOBJ)
                try:
                    return uf(a)
                finally:
                    _EXTOBJ.reset(token)
        kind = dt.kind
        low = None
        if kind == "f":
            if dt.itemsize == 2:
                low = dt
        elif kind in "biu":
            if self.to_float:
                a = a.astype(_default_float())
        elif kind == "V":
            low = dt
        elif kind == "c" and self.kernel is not None:
            _kernel_error(self.kernel, a)
        if low is not None:
            a = a.astype(np.float32)
        xp = np if a.__class__ is _ndarray else xp_of(a)
        res = None
        if self.ufunc is not None and a.size >= _parallel.MIN_ELEMENTS and xp is np:
            res = (
                _quiet_call(_parallel.unary, self.ufunc, a)
                if self.quiet
                else _parallel.unary(self.ufunc, a)
            )
        if res is None:
            res = _quiet_call(self.fn, xp, a) if self.quiet else self.fn(xp, a)
        return res if low is None else res.astype(low)


def _apply_unary(cls, input: Tensor) -> Tensor:
    """``cls.apply(input)`` for a `_Unary` op that keeps `_Unary.forward`.

    When nothing is recorded (grad mode off, or an input that does not require grad) and the
    input is a small float32/64 NumPy array, this computes what ``_Unary.forward`` does there
    (``cls.fn``, with NumPy's warnings off for ``quiet`` ops) and wraps it, without building
    a node: the call costs little more than the ufunc.
    """
    a = input._data
    if a.__class__ is _ndarray and not (input._rg and MODE.grad):
        dt = a.dtype
        if dt.kind == "f" and dt.itemsize != 2 and a.size < _parallel.MIN_ELEMENTS:
            uf = cls.ufunc
            if not cls.quiet:
                return wrap(uf(a) if uf is not None else cls.fn(np, a))
            if _EXTOBJ is not None:
                token = _EXTOBJ.set(_QUIET_EXTOBJ)
                try:
                    res = uf(a) if uf is not None else cls.fn(np, a)
                finally:
                    _EXTOBJ.reset(token)
                return wrap(res)
    return cls.apply(input)


class _Binary(Node):
    """``fn(xp, a, b)`` elementwise after casting both operands to ``dt`` (half and bfloat16
    computed in float32)."""

    quiet = False
    kernel: str | None = None

    @staticmethod
    def fn(xp, a, b):  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, a, b, dt=None):
        if dt is not None:
            a = a.astype(dt, copy=False)
            b = b.astype(dt, copy=False)
        dt = a.dtype
        kind = dt.kind
        low = None
        if kind == "c" and self.kernel is not None:
            _kernel_error(self.kernel, a)
        elif kind == "V" or (kind == "f" and dt.itemsize == 2):
            low = dt
            a = a.astype(np.float32)
            b = b.astype(np.float32)
        xp = np if a.__class__ is _ndarray else xp_of(a)
        res = _quiet_call(self.fn, xp, a, b) if self.quiet else self.fn(xp, a, b)
        return res if low is None else res.astype(low)


_INT_OF_SIZE = {2: np.int16, 4: np.int32, 8: np.int64}


def _select_or_zero(cond, a):
    """``np.where(cond, a, 0.0)``, bit for bit, for a float NumPy array ``a`` of ``cond``'s
    shape (see `_selectable`): the bits of ``a`` as integers times 0 or 1.

    NumPy's where with a scalar branches per element, so a mask the branch predictor cannot
    learn (the usual case: a ReLU mask in a training step) costs ~35 us on (64, 128) float32;
    the integer multiply is branch-free (~3 us). False gives the bits of +0.0, as the 0.0
    fill does; true gives ``a``'s bits unchanged (NaN payloads and -0.0 included).
    """
    it = _INT_OF_SIZE[a.dtype.itemsize]
    return np.multiply(a.view(it), cond).view(a.dtype)


def _selectable(cond, a) -> bool:
    """Whether `_select_or_zero` applies: a float ``a`` of ``cond``'s shape, both laid out so
    that the result is C-ordered either way (C-contiguous, or ``a`` a broadcast value)."""
    return (
        a.dtype.kind == "f"
        and a.ndim > 0
        and a.shape == cond.shape
        and cond.flags.c_contiguous
        and (a.flags.c_contiguous or not builtins.any(a.strides))
    )


def _is_plus_zero(b) -> bool:
    """Whether the 0-dim float array ``b`` holds +0.0 (not -0.0)."""
    v = b.item()
    return v == 0 and math.copysign(1.0, v) == 1.0


def _zero_grad(node: Node, g: Tensor):
    from .creation import zeros_like

    return tuple((zeros_like(g) if need else None) for need in node.needs_input_grad)


# --- where / masked_fill / fill ---------------------------------------------------------------
class Where(Node):
    def forward(self, a, b, cond=None, dt=None):
        self.cond = cond
        if dt is not None:
            a = a.astype(dt, copy=False)
            b = b.astype(dt, copy=False)
        if a.__class__ is _ndarray and b.__class__ is _ndarray and a.dtype == b.dtype:
            # a float tensor against a 0.0 fill (masked values, masked gradients): branch-free
            if b.ndim == 0 and _selectable(cond, a) and _is_plus_zero(b):
                return _select_or_zero(cond, a)
            if a.ndim == 0 and _selectable(cond, b) and _is_plus_zero(a):
                return _select_or_zero(np.logical_not(cond), b)
            return np.where(cond, a, b)
        return xp_of(a).where(cond, a, b)

    def backward(self, g):
        c = wrap(self.cond)
        na, nb = self.needs_input_grad
        return (where(c, g, 0.0) if na else None), (where(c, 0.0, g) if nb else None)


def where(condition: Tensor, input=None, other=None, *, out=None) -> Tensor | tuple:
    """Elements of ``input`` where ``condition`` holds, else of ``other`` (broadcast).

    ``input`` and ``other`` may be Python scalars. ``where(condition)`` alone is
    ``nonzero(condition, as_tuple=True)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.where(torch.tensor([True, False]), torch.tensor([1., 2.]), 0.0)
        tensor([1., 0.])
    """
    if input is None and other is None:
        nz = getattr(Tensor, "nonzero", None)
        if nz is None:
            raise NotImplementedError("where(condition) needs nonzero (index family)")
        return nz(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where() missing required argument 'input' or 'other'")
    if not isinstance(condition, Tensor):
        raise TypeError(
            f"where(): argument 'condition' must be Tensor, not {type(condition).__name__}"
        )
    cond = condition._data
    if cond.dtype.kind != "b":
        if cond.dtype == np.uint8:  # torch accepts it with a deprecation warning
            cond = cond.astype(bool)
        else:
            raise RuntimeError(
                "where expected condition to be a boolean tensor, but got a tensor with dtype "
                f"{_type_name(cond)}"
            )
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        xp = xp_of(cond)
        dt = _dtype.result_type_of((), (), (input, other)).np
        input = wrap(xp.asarray(np.asarray(input).astype(dt)))
        other = wrap(xp.asarray(np.asarray(other).astype(dt)))
        npdt = None
    else:
        input, other, npdt = _operands("where", input, other)
        if input._data.__class__ is not cond.__class__:
            check_same_device("where", condition, input)
    if npdt is not None and input._data.dtype == npdt and other._data.dtype == npdt:
        npdt = None
    try:
        res = Where.apply(input, other, cond=cond, dt=npdt)
    except ValueError:
        _broadcast_shapes(cond.shape, input._data.shape, other._data.shape)
        raise
    return _out(res, out)


def _check_mask(mask: Tensor, op: str = "masked_fill_"):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op[:-1]}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask._data.dtype.kind != "b":
        raise RuntimeError(
            f"{op} only supports boolean masks, but got mask with dtype "
            f"{_dtype.from_numpy_dtype(mask._data.dtype).name}"
        )
    return mask._data


class MaskedFill(Node):
    """Fill with a Python scalar."""

    def forward(self, a, mask=None, value=None):
        self.mask = mask
        try:
            v = a.dtype.type(value)
        except (OverflowError, TypeError, ValueError):
            v = np.asarray(value).astype(a.dtype)
        return xp_of(a).where(mask, v, a)

    def backward(self, g):
        return (masked_fill(g, wrap(self.mask), 0),)


class MaskedFillT(Node):
    """Fill with a 0-dim tensor (differentiable wrt the value)."""

    def forward(self, a, v, mask=None):
        self.mask = mask
        xp = xp_of(a)
        return xp.where(mask, v.astype(a.dtype, copy=False), a)

    def name(self):
        return "MaskedFillBackward1"

    def backward(self, g):
        m = wrap(self.mask)
        na, nv = self.needs_input_grad
        ga = masked_fill(g, m, 0) if na else None
        gv = where(m, g, 0.0).sum() if nv else None
        return ga, gv


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``input`` with the elements where ``mask`` is True replaced by ``value``.

    ``value`` is a Python scalar or a 0-dim tensor (whose gradient is the sum of the
    gradient over the masked elements).

    Example:
        >>> import tocha.core as torch
        >>> torch.tensor([1., 2., 3.]).masked_fill(torch.tensor([True, False, True]), 0.0)
        tensor([0., 2., 0.])
    """
    m = _check_mask(mask)
    _broadcast_shapes(input._data.shape, m.shape)
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value._data.ndim} dimension(s)."
            )
        if value._rg and MODE.grad:
            if value._data.__class__ is not input._data.__class__:
                value = value.to(input.device)
            return MaskedFillT.apply(input, value, mask=m)
        value = value.item()
    elif not is_scalar(value):
        raise TypeError(
            f"masked_fill(): argument 'value' must be Number or Tensor, not {type(value).__name__}"
        )
    return MaskedFill.apply(input, mask=m, value=value)


class Fill(Node):
    """A tensor shaped like the input and filled with a scalar: ``fill_``'s out-of-place half."""

    def forward(self, a, value=None):
        xp = xp_of(a)
        return xp.full(a.shape, np.asarray(value).astype(a.dtype), dtype=a.dtype)

    def backward(self, g):
        return _zero_grad(self, g)


class FillT(Node):
    def forward(self, a, v):
        return xp_of(a).broadcast_to(v.astype(a.dtype), a.shape).copy()

    def name(self):
        return "FillBackward3"

    def backward(self, g):
        na, nv = self.needs_input_grad
        from .creation import zeros_like

        return (zeros_like(g) if na else None), (g.sum() if nv else None)


def _filled(self: Tensor, value) -> Tensor:
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                "fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value._data.ndim} dimensions."
            )
        if value._data.__class__ is not self._data.__class__:
            value = value.to(self.device)
        return FillT.apply(self, value)
    if not is_scalar(value):
        raise TypeError(f"fill_(): argument 'value' must be Number, not {type(value).__name__}")
    return Fill.apply(self, value=value)


class Zero(Fill):
    pass


def _zeroed(self: Tensor) -> Tensor:
    return Zero.apply(self, value=0)


def fill_(self: Tensor, value) -> Tensor:
    """Fill ``self`` with ``value`` (a scalar or 0-dim tensor) in place.

    Example:
        >>> import tocha.core as torch
        >>> torch.zeros(3).fill_(2.5)
        tensor([2.5000, 2.5000, 2.5000])
    """
    from .inplace import inplace_apply

    data = self._data
    if (
        not (MODE.grad and (self._rg or (isinstance(value, Tensor) and value._rg)))
        and data.__class__ is _ndarray
        and data.flags.writeable
        and (is_scalar(value) or (isinstance(value, Tensor) and value._data.ndim == 0))
    ):
        if isinstance(value, Tensor):
            value = value.item()
        data[...] = np.asarray(value).astype(data.dtype)
        self._bump_version()
        return self
    return inplace_apply(self, _filled, "fill_", (value,), {}, cast_ok=True)


def zero_(self: Tensor) -> Tensor:
    """Fill ``self`` with zeros in place."""
    from .inplace import inplace_apply

    data = self._data
    if not (MODE.grad and self._rg) and data.__class__ is _ndarray and data.flags.writeable:
        data.fill(0)
        self._bump_version()
        return self
    return inplace_apply(self, _zeroed, "zero_", (), {}, cast_ok=True)


# --- abs / sign -----------------------------------------------------------------------------
class Abs(_Unary):
    ufunc = np.abs
    to_float = False
    save_inputs = (0,)

    def backward(self, g):
        (x,) = self.saved_inputs
        return g * sgn(x)


def _no_bool(kernel: str, t: Tensor):
    kind = t._data.dtype.kind
    if kind == "b":
        _not_implemented(kernel, t)
    if kind == "c" and kernel.endswith("_vml"):
        raise NotImplementedError(f"{kernel[:-4]} is not supported for complex inputs")


def abs(input: Tensor, *, out=None) -> Tensor:
    """Absolute value (the magnitude for complex input, as a real tensor).

    Example:
        >>> import tocha.core as torch
        >>> torch.abs(torch.tensor([-1.5, 2.0]))
        tensor([1.5000, 2.0000])
    """
    _no_bool("abs", input)
    res = _apply_unary(Abs, input)
    return res if out is None else _out(res, out)


absolute = abs


class Sign(_Unary):
    to_float = False

    @staticmethod
    def fn(xp, a):
        if a.dtype.kind == "b":
            return a.copy()
        return xp.sign(a)

    def backward(self, g):
        return _zero_grad(self, g)


def sign(input: Tensor, *, out=None) -> Tensor:
    """-1, 0 or 1 by the sign of each element (bool stays bool)."""
    if input._data.dtype.kind == "c":
        raise NotImplementedError(
            "Unlike NumPy, torch.sign is not intended to support complex numbers. "
            "Please use torch.sgn instead."
        )
    return _out(Sign.apply(input), out)


class Sgn(_Unary):
    to_float = False
    save_inputs = (0,)
    save_outputs = (0,)

    @staticmethod
    def fn(xp, a):
        if a.dtype.kind == "c":
            m = xp.abs(a)
            with np.errstate(all="ignore"):
                return xp.where(m == 0, 0, a / xp.where(m == 0, 1, m)).astype(a.dtype)
        if a.dtype.kind == "b":
            return a.copy()
        return xp.sign(a)

    def backward(self, g):
        (x,) = self.saved_inputs
        if x._data.dtype.kind != "c":
            return _zero_grad(self, g)
        # torch's sgn_backward: (g - Re(g * conj(sgn))*sgn) / |x|, 0 where x == 0
        (s,) = self.saved_outputs
        a = abs(x)
        res = (g - real(g * s.conj()) * s) / a.masked_fill(a == 0, 1.0)
        return res.masked_fill(a == 0, 0)


def sgn(input: Tensor, *, out=None) -> Tensor:
    """``x / |x|`` for complex input (0 at 0); ``sign`` for real input."""
    return _out(Sgn.apply(input), out)


# --- exp / log / sqrt -----------------------------------------------------------------------
class Exp(_Unary):
    ufunc = np.exp
    save_outputs = (0,)
    quiet = True

    def backward(self, g):
        (y,) = self.saved_outputs
        return g * _cj(y)


def exp(input: Tensor, *, out=None) -> Tensor:
    """``e ** input`` elementwise; integer input gives the default float dtype.

    Example:
        >>> import tocha.core as torch
        >>> torch.exp(torch.tensor([0.0, 1.0]))
        tensor([1.0000, 2.7183])
    """
    res = _apply_unary(Exp, input)
    return res if out is None else _out(res, out)


class Log(_Unary):
    ufunc = np.log
    save_inputs = (0,)
    quiet = True

    def backward(self, g):
        (x,) = self.saved_inputs
        return g / _cj(x)


def log(input: Tensor, *, out=None) -> Tensor:
    """Natural logarithm (nan below 0, -inf at 0, as torch)."""
    res = _apply_unary(Log, input)
    return res if out is None else _out(res, out)


class Sqrt(_Unary):
    ufunc = np.sqrt
    save_outputs = (0,)
    quiet = True

    def backward(self, g):
        (y,) = self.saved_outputs
        return g / (2 * _cj(y))


def sqrt(input: Tensor, *, out=None) -> Tensor:
    """Square root (nan below 0)."""
    res = _apply_unary(Sqrt, input)
    return res if out is None else _out(res, out)


# --- rounding -------------------------------------------------------------------------------
class _Rounding(_Unary):
    to_float = False

    def backward(self, g):
        return _zero_grad(self, g)


class Floor(_Rounding):
    @staticmethod
    def fn(xp, a):
        return a.copy() if a.dtype.kind in "iu" else xp.floor(a)


class Ceil(_Rounding):
    @staticmethod
    def fn(xp, a):
        return a.copy() if a.dtype.kind in "iu" else xp.ceil(a)


class Trunc(_Rounding):
    @staticmethod
    def fn(xp, a):
        return a.copy() if a.dtype.kind in "iu" else xp.trunc(a)


class Round(_Rounding):
    def forward(self, a, decimals=0):
        xp = xp_of(a)
        if a.dtype.kind in "iu":
            return a.copy()
        if decimals == 0:
            return xp.rint(a)
        # torch scales, rounds half to even, and scales back (so does NumPy's around)
        if decimals > 0:
            p = _scalar_for(a, 10.0**decimals)
            return xp.rint(a * p) / p
        p = _scalar_for(a, 10.0 ** (-decimals))
        return xp.rint(a / p) * p


def floor(input: Tensor, *, out=None) -> Tensor:
    """Largest integer not above each element (integer dtypes are returned unchanged)."""
    _no_bool("floor_vml", input)
    return _out(Floor.apply(input), out)


def ceil(input: Tensor, *, out=None) -> Tensor:
    """Smallest integer not below each element."""
    _no_bool("ceil_vml", input)
    return _out(Ceil.apply(input), out)


def trunc(input: Tensor, *, out=None) -> Tensor:
    """Round towards zero."""
    _no_bool("trunc_vml", input)
    return _out(Trunc.apply(input), out)


fix = trunc


def round(input: Tensor, *, decimals: int = 0, out=None) -> Tensor:  # noqa: A001
    """Round half to even, optionally to ``decimals`` decimal places.

    Example:
        >>> import tocha.core as torch
        >>> torch.round(torch.tensor([0.5, 1.5, 1.2345]), decimals=0)
        tensor([0., 2., 1.])
    """
    if input._data.dtype.kind in "bc":
        _not_implemented("round_vml", input)
    return _out(Round.apply(input, decimals=int(decimals)), out)


# --- clamp ----------------------------------------------------------------------------------
def _clip_bound(b) -> bool:
    """None, or a non-zero Python int / float well inside float32's range (not NaN, not
    bool): a bound the single-pass clip ufunc treats exactly as maximum / minimum do."""
    if b is None:
        return True
    c = b.__class__
    return (c is float or c is int) and b != 0 and -1e38 < b < 1e38


def _clamp_scalars(a, lo, hi):
    """``a`` clamped into [lo, hi] (Python number bounds, either may be None): maximum, then
    minimum, with the bounds in ``a``'s dtype."""
    if a.__class__ is _ndarray and a.dtype.kind == "f" and a.dtype.itemsize >= 4:
        if _np_clip is not None and _clip_bound(lo) and _clip_bound(hi):
            # one pass instead of two. The clip ufunc computes the same min(max(x, lo), hi),
            # NaN propagating; it differs only in the sign of a zero result against a zero
            # bound and in the NaN a NaN bound gives: _clip_bound excludes both.
            return _np_clip(a, -math.inf if lo is None else lo, math.inf if hi is None else hi)
        if hi is None and lo.__class__ in (int, float) and lo == 0 and math.copysign(1, lo) > 0:
            return _relu_np(a)  # clamp(min=0): maximum with +0, as relu
    xp = xp_of(a)
    if lo is not None:
        a = xp.maximum(a, _scalar_for(a, lo))
    if hi is not None:
        a = xp.minimum(a, _scalar_for(a, hi))
    return a


class Clamp(Node):
    """Clamp between Python scalar bounds."""

    save_inputs = (0,)

    def name(self):
        return "ClampBackward1"

    def forward(self, a, lo=None, hi=None, dt=None):
        if dt is not None:
            a = a.astype(dt, copy=False)
        self.lo, self.hi = lo, hi
        return _clamp_scalars(a, lo, hi)

    def backward(self, g):
        (x,) = self.saved_inputs
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None:
            mask = (x >= lo) & (x <= hi)
        elif lo is not None:
            mask = x >= lo
        else:
            mask = x <= hi
        return where(mask, g, 0.0)


class ClampT(Node):
    """Clamp between tensor bounds (either may be absent)."""

    save_inputs = (0, 1, 2)

    def forward(self, a, *bounds, has_lo=True, has_hi=True, dt=None):
        xp = xp_of(a)
        self.has_lo, self.has_hi = has_lo, has_hi
        if dt is not None:
            a = a.astype(dt, copy=False)
            bounds = [b.astype(dt, copy=False) for b in bounds]
        k = 0
        if has_lo:
            a = xp.maximum(a, bounds[k])
            k += 1
        if has_hi:
            a = xp.minimum(a, bounds[k])
        return a

    def backward(self, g):
        saved = self.saved_inputs
        x = saved[0]
        k = 1
        lo = hi = None
        if self.has_lo:
            lo = saved[k]
            k += 1
        if self.has_hi:
            hi = saved[k]
        needs = self.needs_input_grad
        res = [None] * len(needs)
        # torch's clamp_backward_min_max: a bound that wins gets the gradient
        if lo is not None and hi is not None:
            if needs[0]:
                res[0] = where((x >= lo) & (x <= hi), g, 0.0)
            if needs[1]:
                res[1] = where((x < lo) & (lo < hi), g, 0.0)
            if needs[2]:
                res[2] = where((x > hi) | (hi < lo), g, 0.0)
        elif lo is not None:
            if needs[0]:
                res[0] = where(x >= lo, g, 0.0)
            if needs[1]:
                res[1] = where(x < lo, g, 0.0)
        else:
            if needs[0]:
                res[0] = where(x <= hi, g, 0.0)
            if needs[1]:
                res[1] = where(x > hi, g, 0.0)
        return tuple(res)


# ClampT saves every input it receives; trim save_inputs to the number of bounds per call.
class _ClampT1(ClampT):
    save_inputs = (0, 1)

    def name(self):
        return "ClampBackward0"


class _ClampT2(ClampT):
    save_inputs = (0, 1, 2)

    def name(self):
        return "ClampBackward0"


def clamp(input: Tensor, min=None, max=None, *, out=None) -> Tensor:
    """Clamp every element into ``[min, max]`` (scalars or tensors; either may be None).

    The gradient passes where ``min <= input <= max``; a tensor bound gets the gradient
    where it is the result.

    Example:
        >>> import tocha.core as torch
        >>> torch.clamp(torch.tensor([-2.0, 0.5, 3.0]), min=-1.0, max=1.0)
        tensor([-1.0000,  0.5000,  1.0000])
    """
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if (
        (min is None or min.__class__ is float or min.__class__ is int)
        and (max is None or max.__class__ is float or max.__class__ is int)
        and input._data.dtype.kind == "f"
    ):  # the common call: Python number bounds on a float tensor keep its dtype (see below)
        if input._data.__class__ is _ndarray and not (input._rg and MODE.grad):
            res = wrap(_clamp_scalars(input._data, min, max))  # nothing to record: no node
        else:
            res = Clamp.apply(input, lo=min, hi=max)
        return res if out is None else _out(res, out)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        tensors = [input] + [b for b in (min, max) if isinstance(b, Tensor)]
        scalars = [b for b in (min, max) if b is not None and not isinstance(b, Tensor)]
        for t in tensors[1:]:
            if t._data.__class__ is not input._data.__class__:
                check_same_device("clamp", input, t)
        dt = result_dtype(tensors, scalars).np
        xp = xp_of(input._data)
        bounds = [
            b if isinstance(b, Tensor) else wrap(xp.asarray(np.asarray(b).astype(dt)))
            for b in (min, max)
            if b is not None
        ]
        node = _ClampT1 if len(bounds) == 1 else _ClampT2
        shapes = [input._data.shape] + [b._data.shape for b in bounds]
        _broadcast_shapes(*shapes)
        res = node.apply(
            input,
            *bounds,
            has_lo=min is not None,
            has_hi=max is not None,
            dt=None if all(t._data.dtype == dt for t in [input, *bounds]) else dt,
        )
        return _out(res, out)
    for b in (min, max):
        if b is not None and not is_scalar(b):
            raise TypeError(
                f"clamp(): argument 'min' must be Number or Tensor, not {type(b).__name__}"
            )
    kind = input._data.dtype.kind
    if kind == "f" or (
        kind in "iu"
        and (min is None or min.__class__ is int)
        and (max is None or max.__class__ is int)
    ):
        dt = None  # Python int/float bounds keep a float tensor's dtype (and int bounds an int's)
    else:
        scalars = [b for b in (min, max) if b is not None]
        dt = result_dtype((input,), scalars).np
        if dt == input._data.dtype:
            dt = None
    return _out(Clamp.apply(input, lo=min, hi=max, dt=dt), out)


clip = clamp


def clamp_min(input: Tensor, min) -> Tensor:
    """``clamp(input, min=min)``."""
    return clamp(input, min=min)


def clamp_max(input: Tensor, max) -> Tensor:
    """``clamp(input, max=max)``."""
    return clamp(input, max=max)


# --- sigmoid / tanh -------------------------------------------------------------------------
class Sigmoid(_Unary):
    save_outputs = (0,)
    quiet = True

    @staticmethod
    def fn(xp, a):
        if a.dtype.kind == "c":
            return 1 / (1 + xp.exp(-a))
        # 1 / (1 + exp(-x)) in one buffer: NumPy's SIMD exp is ~3x faster than SciPy's expit,
        # and exp overflowing to inf for very negative x gives the exact limit 0
        t = xp.negative(a, out=xp.empty(a.shape, a.dtype))  # an array even for 0-dim input
        xp.exp(t, out=t)
        t += 1
        return xp.reciprocal(t, out=t)

    def forward(self, a):
        y = _cuda_act_fwd("sigmoid", a)
        return _Unary.forward(self, a) if y is None else y

    def backward(self, g):
        (y,) = self.saved_outputs
        r = _cuda_act_bwd("sigmoid", g, y)
        if r is not None:
            return r
        if not MODE.grad and _low_precision(y._data) and g._data.dtype == y._data.dtype:
            return wrap(_via_f32(lambda yf, gf: gf * yf * (1 - yf), y._data, g._data))
        y = _cj(y)
        return g * y * (1 - y)


def sigmoid(input: Tensor, *, out=None) -> Tensor:
    """The logistic function ``1 / (1 + exp(-x))``, computed without overflow.

    Example:
        >>> import tocha.core as torch
        >>> torch.sigmoid(torch.tensor([0.0]))
        tensor([0.5000])
    """
    res = _apply_unary(Sigmoid, input)
    return res if out is None else _out(res, out)


class Tanh(_Unary):
    ufunc = np.tanh
    save_outputs = (0,)

    def forward(self, a):
        y = _cuda_act_fwd("tanh", a)
        return _Unary.forward(self, a) if y is None else y

    def backward(self, g):
        (y,) = self.saved_outputs
        r = _cuda_act_bwd("tanh", g, y)
        if r is not None:
            return r
        if not MODE.grad and _low_precision(y._data) and g._data.dtype == y._data.dtype:
            # in float32 as torch's half kernels: 1 - y*y rounded to half loses the digits
            # that matter where |y| is near 1
            return wrap(_via_f32(lambda yf, gf: gf * (1 - yf * yf), y._data, g._data))
        y = _cj(y)
        return g * (1 - y * y)


def _cuda_act_fwd(name, a):
    """CuPy: ``name``'s fused forward kernel (cuda/_activation.py), or None."""
    if a.__class__ is _ndarray or a.dtype.kind != "f":
        return None
    from ..cuda import _activation as _cuda_act

    return _cuda_act.forward(name, a)


def _cuda_act_bwd(name, g, y):
    """CuPy, no graph to record: ``name``'s fused backward from its output ``y``, or None."""
    if MODE.grad or y._data.__class__ is _ndarray:
        return None
    from ..cuda import _activation as _cuda_act

    r = _cuda_act.backward(name, g._data, y._data)
    return None if r is None else wrap(r)


def tanh(input: Tensor, *, out=None) -> Tensor:
    """Hyperbolic tangent."""
    res = _apply_unary(Tanh, input)
    return res if out is None else _out(res, out)


# --- complex helpers ------------------------------------------------------------------------
class Conj(Node):
    def forward(self, a):
        return xp_of(a).conj(a)

    def backward(self, g):
        return conj(g)


def conj(input: Tensor) -> Tensor:
    """Complex conjugate; a real tensor is returned as is (like torch).

    tocha materialises the conjugate (torch returns a lazily conjugated view).
    """
    if input._data.dtype.kind != "c":
        return input
    return Conj.apply(input)


def conj_physical(input: Tensor, *, out=None) -> Tensor:
    """The complex conjugate, always materialised."""
    if input._data.dtype.kind != "c":
        return _out(input.clone() if out is not None else input, out)
    return _out(Conj.apply(input), out)


def resolve_conj(input: Tensor) -> Tensor:
    """Identity: tocha never holds a lazily conjugated tensor."""
    return input


def resolve_neg(input: Tensor) -> Tensor:
    """Identity: tocha never holds a lazily negated tensor."""
    return input


def is_conj(input: Tensor) -> bool:
    """Always False: tocha materialises conjugates instead of setting a conjugate bit."""
    return False


def is_neg(input: Tensor) -> bool:
    """Always False: tocha never holds a lazily negated tensor."""
    return False


class Real(Node):
    is_view = True

    def forward(self, a):
        return a.real

    def backward(self, g):
        return (g,)


class Imag(Node):
    is_view = True

    def forward(self, a):
        return a.imag

    def backward(self, g):
        # d/d(imag) gives the gradient j*g on the complex input (torch's convention)
        return (g * 1j,)


def real(input: Tensor) -> Tensor:
    """The real part (a view for complex input; the tensor itself for real input)."""
    if input._data.dtype.kind != "c":
        return input
    return Real.apply(input)


def imag(input: Tensor) -> Tensor:
    """The imaginary part of a complex tensor (a view)."""
    if input._data.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(input)


def _set_real(self: Tensor, value) -> None:
    real(self).copy_(value)


def _set_imag(self: Tensor, value) -> None:
    imag(self).copy_(value)


class Angle(_Unary):
    save_inputs = (0,)
    quiet = True

    @staticmethod
    def fn(xp, a):
        if a.dtype.kind == "c":
            return xp.angle(a)
        pi = _scalar_for(a, math.pi)
        zero = _scalar_for(a, 0.0)
        # torch: pi for negative numbers, 0 otherwise, nan stays nan
        res = xp.where(a < 0, pi, zero).astype(a.dtype, copy=False)
        return xp.where(xp.isnan(a), a, res)

    def backward(self, g):
        (x,) = self.saved_inputs
        if x._data.dtype.kind != "c":
            return _zero_grad(self, g)
        a2 = x.real * x.real + x.imag * x.imag
        res = g * x * 1j / a2.masked_fill(a2 == 0, 1.0)
        return res.masked_fill(a2 == 0, 0)


def angle(input: Tensor, *, out=None) -> Tensor:
    """The argument of each element (0 or pi for real input)."""
    return _out(Angle.apply(input), out)


class Complex(Node):
    def forward(self, re, im):
        xp = xp_of(re)
        out_dt = np.complex128 if re.dtype == np.float64 else np.complex64
        res = xp.empty(np.broadcast_shapes(re.shape, im.shape), dtype=out_dt)
        res.real = re
        res.imag = im
        return res

    def backward(self, g):
        nr, ni = self.needs_input_grad
        return (real(g) if nr else None), (imag(g) if ni else None)


def complex(real: Tensor, imag: Tensor, *, out=None) -> Tensor:
    """The complex tensor ``real + 1j * imag`` (both float tensors of the same dtype).

    Example:
        >>> import tocha.core as torch
        >>> torch.complex(torch.tensor([1.0]), torch.tensor([2.0]))
        tensor([1.+2.j])
    """
    re, im = real._data, imag._data
    ok = (np.float16, np.float32, np.float64)
    if re.dtype not in ok or im.dtype not in ok:
        raise RuntimeError(
            "Expected both inputs to be Half, Float or Double tensors but got "
            f"{_type_name(re)} and {_type_name(im)}"
        )
    if re.dtype != im.dtype:
        raise RuntimeError(
            f"Expected object of scalar type {_type_name(re)} but got scalar type "
            f"{_type_name(im)} for second argument"
        )
    if re.dtype == np.float16:
        raise RuntimeError("complex: complex32 (from Half inputs) is not supported by tocha")
    check_same_device("complex", real, imag)
    _broadcast_shapes(re.shape, im.shape)
    return _out(Complex.apply(real, imag), out)


def polar(abs: Tensor, angle: Tensor, *, out=None) -> Tensor:
    """The complex tensor with magnitude ``abs`` and phase ``angle``."""
    return _out(complex(abs * cos(angle), abs * sin(angle)), out)


class ViewAsReal(Node):
    is_view = True

    def forward(self, a):
        return a[..., None].view(a.real.dtype)

    def backward(self, g):
        return view_as_complex(g.contiguous())


class ViewAsComplex(Node):
    is_view = True

    def forward(self, a):
        cdt = np.complex128 if a.dtype == np.float64 else np.complex64
        return a.view(cdt)[..., 0]

    def backward(self, g):
        return view_as_real(g)


def view_as_real(input: Tensor) -> Tensor:
    """A float view of a complex tensor with a trailing dimension of size 2 (re, im)."""
    if input._data.dtype.kind != "c":
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def view_as_complex(input: Tensor) -> Tensor:
    """A complex view of a float tensor whose last dimension has size 2 and stride 1."""
    a = input._data
    if a.dtype not in (np.float32, np.float64):
        raise RuntimeError(
            "view_as_complex is only supported for float and double tensors, but got a tensor "
            f"of scalar type: {_type_name(a)}"
        )
    if a.ndim == 0 or a.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if a.strides[-1] != a.itemsize:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % (2 * a.itemsize) for s in a.strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    return ViewAsComplex.apply(input)


# --- exp / log family -----------------------------------------------------------------------
class Exp2(_Unary):
    ufunc = np.exp2
    save_outputs = (0,)
    quiet = True

    def backward(self, g):
        (y,) = self.saved_outputs
        return g * _cj(y) * _LN2


class Expm1(_Unary):
    ufunc = np.expm1
    save_outputs = (0,)
    quiet = True

    def backward(self, g):
        (y,) = self.saved_outputs
        return g * (_cj(y) + 1)


class Log2(_Unary):
    ufunc = np.log2
    save_inputs = (0,)
    quiet = True

    def backward(self, g):
        (x,) = self.saved_inputs
        return g / (_cj(x) * _LN2)


class Log10(_Unary):
    ufunc = np.log10
    save_inputs = (0,)
    quiet = True

    def backward(self, g):
        (x,) = self.saved_inputs
        return g / (_cj(x) * _LN10)


class Log1p(_Unary):
    ufunc = np.log1p
    save_inputs = (0,)
    quiet = True

    def backward(self, g):
        (x,) = self.saved_inputs
        return g / (_cj(x) + 1)


class Rsqrt(_Unary):
    save_outputs = (0,)
    quiet = True

    @staticmethod
    def fn(xp, a):
        one = _scalar_for(a, 1.0)
        return one / xp.sqrt(a)

    def backward(self, g):
        (y,) = self.saved_outputs
        y = _cj(y)
        return g * y * y * y * -0.5


class Reciprocal(_Unary):
    ufunc = np.reciprocal
    save_outputs = (0,)
    quiet = True

    def backward(self, g):
        (y,) = self.saved_outputs
        y = _cj(y)
        return -g * y * y


def exp2(input: Tensor, *, out=None) -> Tensor:
    """``2 ** input``."""
    res = _apply_unary(Exp2, input)
    return res if out is None else _out(res, out)


def expm1(input: Tensor, *, out=None) -> Tensor:
    """``exp(input) - 1``, accurate near 0."""
    res = _apply_unary(Expm1, input)
    return res if out is None else _out(res, out)


def log2(input: Tensor, *, out=None) -> Tensor:
    """Base-2 logarithm."""
    res = _apply_unary(Log2, input)
    return res if out is None else _out(res, out)


def log10(input: Tensor, *, out=None) -> Tensor:
    """Base-10 logarithm."""
    res = _apply_unary(Log10, input)
    return res if out is None else _out(res, out)


def log1p(input: Tensor, *, out=None) -> Tensor:
    """``log(1 + input)``, accurate near 0."""
    res = _apply_unary(Log1p, input)
    return res if out is None else _out(res, out)


def rsqrt(input: Tensor, *, out=None) -> Tensor:
    """``1 / sqrt(input)``."""
    return _out(Rsqrt.apply(input), out)


def reciprocal(input: Tensor, *, out=None) -> Tensor:
    """``1 / input``; integer input gives the default float dtype."""
    res = _apply_unary(Reciprocal, input)
    return res if out is None else _out(res, out)


def square(input: Tensor, *, out=None) -> Tensor:
    """``input ** 2`` (integers stay integers, bool becomes int64)."""
    from .arith import pow as _pow

    if input._data.dtype.kind == "c":
        return _out(input * input, out)
    return _out(_pow(input, 2), out)


# --- trigonometric and hyperbolic -------------------------------------------------------------
class Sin(_Unary):
    ufunc = np.sin
    save_inputs = (0,)

    def backward(self, g):
        (x,) = self.saved_inputs
        return g * _cj(cos(x))


class Cos(_Unary):
    ufunc = np.cos
    save_inputs = (0,)

    def backward(self, g):
        (x,) = self.saved_inputs
        return -g * _cj(sin(x))


class Tan(_Unary):
    ufunc = np.tan
    save_outputs = (0,)

    def backward(self, g):
        (y,) = self.saved_outputs
        y = _cj(y)
        return g * (1 + y * y)


class Asin(_Unary):
    ufunc = np.arcsin
    save_inputs = (0,)
    quiet = True

    def backward(self, g):
        (x,) = self.saved_inputs
        x = _cj(x)
        return g * rsqrt(1 - x * x)


class Acos(_Unary):
    ufunc = np.arccos
    save_inputs = (0,)
    quiet = True

    def backward(self, g):
        (x,) = self.saved_inputs
        x = _cj(x)
        return -g * rsqrt(1 - x * x)


class Atan(_Unary):
    ufunc = np.arctan
    save_inputs = (0,)

    def backward(self, g):
        (x,) = self.saved_inputs
        x = _cj(x)
        return g / (1 + x * x)


class Sinh(_Unary):
    ufunc = np.sinh
    save_inputs = (0,)
    quiet = True

    def backward(self, g):
        (x,) = self.saved_inputs
        return g * _cj(cosh(x))


class Cosh(_Unary):
    ufunc = np.cosh
    save_inputs = (0,)
    quiet = True

    def backward(self, g):
        (x,) = self.saved_inputs
        return g * _cj(sinh(x))


class Asinh(_Unary):
    ufunc = np.arcsinh
    save_inputs = (0,)

    def backward(self, g):
        (x,) = self.saved_inputs
        x = _cj(x)
        return g * rsqrt(x * x + 1)


class Acosh(_Unary):
    ufunc = np.arccosh
    save_inputs = (0,)
    quiet = True

    def backward(self, g):
        (x,) = self.saved_inputs
        if x._data.dtype.kind != "c":
            return g * rsqrt(x * x - 1)
        # sqrt(x-1)*sqrt(x+1) rather than sqrt(x*x-1): the right branch for complex x
        return g / (sqrt(x - 1) * sqrt(x + 1)).conj()


class Atanh(_Unary):
    ufunc = np.arctanh
    save_inputs = (0,)
    quiet = True

    def backward(self, g):
        (x,) = self.saved_inputs
        x = _cj(x)
        return g / (1 - x * x)


def sin(input: Tensor, *, out=None) -> Tensor:
    """Sine (radians).

    Example:
        >>> import tocha.core as torch
        >>> torch.sin(torch.tensor([0.0]))
        tensor([0.])
    """
    res = _apply_unary(Sin, input)
    return res if out is None else _out(res, out)


def cos(input: Tensor, *, out=None) -> Tensor:
    """Cosine (radians)."""
    res = _apply_unary(Cos, input)
    return res if out is None else _out(res, out)


def tan(input: Tensor, *, out=None) -> Tensor:
    """Tangent (radians)."""
    res = _apply_unary(Tan, input)
    return res if out is None else _out(res, out)


def asin(input: Tensor, *, out=None) -> Tensor:
    """Inverse sine (nan outside [-1, 1])."""
    res = _apply_unary(Asin, input)
    return res if out is None else _out(res, out)


def acos(input: Tensor, *, out=None) -> Tensor:
    """Inverse cosine (nan outside [-1, 1])."""
    res = _apply_unary(Acos, input)
    return res if out is None else _out(res, out)


def atan(input: Tensor, *, out=None) -> Tensor:
    """Inverse tangent."""
    res = _apply_unary(Atan, input)
    return res if out is None else _out(res, out)


def sinh(input: Tensor, *, out=None) -> Tensor:
    """Hyperbolic sine."""
    res = _apply_unary(Sinh, input)
    return res if out is None else _out(res, out)


def cosh(input: Tensor, *, out=None) -> Tensor:
    """Hyperbolic cosine."""
    res = _apply_unary(Cosh, input)
    return res if out is None else _out(res, out)


def asinh(input: Tensor, *, out=None) -> Tensor:
    """Inverse hyperbolic sine."""
    res = _apply_unary(Asinh, input)
    return res if out is None else _out(res, out)


def acosh(input: Tensor, *, out=None) -> Tensor:
    """Inverse hyperbolic cosine (nan below 1)."""
    res = _apply_unary(Acosh, input)
    return res if out is None else _out(res, out)


def atanh(input: Tensor, *, out=None) -> Tensor:
    """Inverse hyperbolic tangent (nan outside [-1, 1])."""
    res = _apply_unary(Atanh, input)
    return res if out is None else _out(res, out)


arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh


class _Scale(_Unary):
    """Multiplication by a constant (deg2rad, rad2deg)."""

    c = 1.0

    @classmethod
    def fn(cls, xp, a):
        return a * _scalar_for(a, cls.c)

    def backward(self, g):
        return g * self.c


class Deg2Rad(_Scale):
    c = math.pi / 180.0


class Rad2Deg(_Scale):
    c = 180.0 / math.pi


def deg2rad(input: Tensor, *, out=None) -> Tensor:
    """Degrees to radians."""
    if input._data.dtype.kind == "c":
        raise RuntimeError("deg2rad is not supported for complex tensors.")
    return _out(Deg2Rad.apply(input), out)


def rad2deg(input: Tensor, *, out=None) -> Tensor:
    """Radians to degrees."""
    if input._data.dtype.kind == "c":
        raise RuntimeError("rad2deg is not supported for complex tensors.")
    return _out(Rad2Deg.apply(input), out)


# --- binary float functions -----------------------------------------------------------------
class Atan2(_Binary):
    kernel = "atan2"
    save_inputs = (0, 1)

    @staticmethod
    def fn(xp, a, b):
        return xp.arctan2(a, b)

    def backward(self, g):
        a, b = self.saved_inputs
        na, nb = self.needs_input_grad
        r = a * a + b * b
        # torch: the gradient at the origin is 0 rather than nan
        recip = where(r == 0, 0.0, 1 / r.masked_fill(r == 0, 1.0))
        return (g * b * recip if na else None), (-g * a * recip if nb else None)


class Hypot(_Binary):
    kernel = "hypot"
    save_inputs = (0, 1)
    save_outputs = (0,)

    @staticmethod
    def fn(xp, a, b):
        return xp.hypot(a, b)

    def backward(self, g):
        a, b = self.saved_inputs
        (y,) = self.saved_outputs
        na, nb = self.needs_input_grad
        return (g * a / y if na else None), (g * b / y if nb else None)


class LogAddExp(_Binary):
    save_inputs = (0, 1)

    @staticmethod
    def fn(xp, a, b):
        if a.dtype.kind == "c":  # NumPy's logaddexp is real-only
            m = xp.where(a.real >= b.real, a, b)
            return m + xp.log(xp.exp(a - m) + xp.exp(b - m))
        return xp.logaddexp(a, b)

    def backward(self, g):
        a, b = self.saved_inputs
        na, nb = self.needs_input_grad
        return (g * sigmoid(a - b) if na else None), (g * sigmoid(b - a) if nb else None)


class LogAddExp2(_Binary):
    save_inputs = (0, 1)

    @staticmethod
    def fn(xp, a, b):
        return xp.logaddexp2(a, b)

    def backward(self, g):
        a, b = self.saved_inputs
        na, nb = self.needs_input_grad
        ga = g / (1 + exp2(b - a)) if na else None
        gb = g / (1 + exp2(a - b)) if nb else None
        return ga, gb


class Xlogy(_Binary):
    kernel = "xlogy"
    save_inputs = (0, 1)
    quiet = True

    @staticmethod
    def fn(xp, a, b):
        res = a * xp.log(b)
        return xp.where((a == 0) & ~xp.isnan(b), _scalar_for(a, 0.0), res).astype(
            a.dtype, copy=False
        )

    def backward(self, g):
        x, y = self.saved_inputs
        nx, ny = self.needs_input_grad
        gx = gy = None
        if nx:
            gx = g * where((x == 0) & ~isnan(y), 0.0, log(y))
        if ny:
            gy = g * x / y
        return gx, gy


class Copysign(_Binary):
    kernel = "copysign"
    save_inputs = (0,)
    save_outputs = (0,)

    @staticmethod
    def fn(xp, a, b):
        return xp.copysign(a, b)

    def backward(self, g):
        na, nb = self.needs_input_grad
        ga = gb = None
        if na:
            (x,) = self.saved_inputs
            (y,) = self.saved_outputs
            # torch: the ratio result/self, 0 where self == 0
            ga = g * where(x == 0, 0.0, y / x.masked_fill(x == 0, 1.0))
        if nb:
            from .creation import zeros_like

            gb = zeros_like(g)
        return ga, gb


def _float_binary(
    name: str, node: type, input, other, out, tensor_other: bool = True, ints: bool = True
):
    if tensor_other:
        if not isinstance(input, Tensor):
            raise TypeError(
                f"{name}(): argument 'input' (position 1) must be Tensor, not "
                f"{type(input).__name__}"
            )
        if not isinstance(other, Tensor):
            raise TypeError(
                f"{name}(): argument 'other' (position 2) must be Tensor, not "
                f"{type(other).__name__}"
            )
    if not ints:
        a, b, dt = _operands(name, input, other)
        if dt.kind in "biu":
            _kernel_error(name, np.empty(0, dt) if dt.kind != "b" else np.empty(0, bool))
    else:
        a, b, dt = _operands(name, input, other, to_float=True)
    _broadcast_shapes(a._data.shape, b._data.shape)
    if a._data.dtype == dt and b._data.dtype == dt:
        dt = None
    return _out(node.apply(a, b, dt=dt), out)


def atan2(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The angle of the point ``(other, input)``, quadrant-aware, in radians."""
    return _float_binary("atan2", Atan2, input, other, out)


def arctan2(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Alias of ``atan2``."""
    return _float_binary("arctan2", Atan2, input, other, out)


def hypot(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """``sqrt(input ** 2 + other ** 2)`` without overflow."""
    return _float_binary("hypot", Hypot, input, other, out, ints=False)


def logaddexp(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """``log(exp(input) + exp(other))`` computed stably."""
    return _float_binary("logaddexp", LogAddExp, input, other, out, ints=False)


def logaddexp2(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """``log2(2 ** input + 2 ** other)`` computed stably."""
    return _float_binary("logaddexp2", LogAddExp2, input, other, out, ints=False)


def xlogy(input, other, *, out=None) -> Tensor:
    """``input * log(other)``, and 0 where ``input`` is 0 (unless ``other`` is nan).

    Either argument may be a Python scalar.
    """
    return _float_binary("xlogy", Xlogy, input, other, out, tensor_other=False)


def copysign(input: Tensor, other, *, out=None) -> Tensor:
    """The magnitude of ``input`` with the sign of ``other`` (a tensor or a scalar)."""
    return _float_binary("copysign", Copysign, input, other, out, tensor_other=False)


class Maximum(_Binary):
    save_inputs = (0, 1)

    @staticmethod
    def fn(xp, a, b):
        return xp.maximum(a, b)

    def backward(self, g):
        a, b = self.saved_inputs
        na, nb = self.needs_input_grad
        # torch splits the gradient evenly between equal operands
        half = where(a == b, g / 2, g)
        return (half.masked_fill(a < b, 0) if na else None), (
            half.masked_fill(a > b, 0) if nb else None
        )


class Minimum(_Binary):
    save_inputs = (0, 1)

    @staticmethod
    def fn(xp, a, b):
        return xp.minimum(a, b)

    def backward(self, g):
        a, b = self.saved_inputs
        na, nb = self.needs_input_grad
        half = where(a == b, g / 2, g)
        return (half.masked_fill(a > b, 0) if na else None), (
            half.masked_fill(a < b, 0) if nb else None
        )


class Fmax(_Binary):
    save_inputs = (0, 1)

    @staticmethod
    def fn(xp, a, b):
        return xp.fmax(a, b)

    def backward(self, g):
        a, b = self.saved_inputs
        na, nb = self.needs_input_grad
        # the first operand wins ties; a nan operand loses
        pick_a = (a >= b) | isnan(b)
        return (where(pick_a, g, 0.0) if na else None), (where(pick_a, 0.0, g) if nb else None)


class Fmin(_Binary):
    save_inputs = (0, 1)

    @staticmethod
    def fn(xp, a, b):
        return xp.fmin(a, b)

    def backward(self, g):
        a, b = self.saved_inputs
        na, nb = self.needs_input_grad
        pick_a = (a <= b) | isnan(b)
        return (where(pick_a, g, 0.0) if na else None), (where(pick_a, 0.0, g) if nb else None)


def _minmax(name: str, node: type, input: Tensor, other: Tensor, out):
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    if not isinstance(other, Tensor):
        raise TypeError(
            f"{name}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}"
        )
    a, b, dt = _operands(name, input, other)
    if dt.kind == "c":
        raise RuntimeError(f"{name} not implemented for complex tensors.")
    _broadcast_shapes(a._data.shape, b._data.shape)
    if a._data.dtype == dt and b._data.dtype == dt:
        dt = None
    return _out(node.apply(a, b, dt=dt), out)


def maximum(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Elementwise maximum (nan propagates; equal elements share the gradient).

    Example:
        >>> import tocha.core as torch
        >>> torch.maximum(torch.tensor([1., 5.]), torch.tensor([3., 2.]))
        tensor([3., 5.])
    """
    return _minmax("maximum", Maximum, input, other, out)


def minimum(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Elementwise minimum (nan propagates; equal elements share the gradient)."""
    return _minmax("minimum", Minimum, input, other, out)


def fmax(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Elementwise maximum that ignores nan (nan only where both are nan)."""
    return _minmax("fmax", Fmax, input, other, out)


def fmin(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Elementwise minimum that ignores nan."""
    return _minmax("fmin", Fmin, input, other, out)


def heaviside(input: Tensor, values: Tensor, *, out=None) -> Tensor:
    """The Heaviside step: 0 below 0, ``values`` at 0, 1 above (not differentiable)."""
    _require_tensor("heaviside", input, "input", 1)
    if not isinstance(values, Tensor):
        raise TypeError(
            f"heaviside(): argument 'values' (position 2) must be Tensor, not "
            f"{type(values).__name__}"
        )
    if input._data.dtype != values._data.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    if input._data.dtype.kind == "c":
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    check_same_device("heaviside", input, values)
    a, v = input._data, values._data
    _broadcast_shapes(a.shape, v.shape)
    xp = xp_of(a)
    res = xp.where(a == 0, v, (a > 0).astype(a.dtype)).astype(a.dtype, copy=False)
    if MODE.grad and (input._rg or values._rg):
        return _out(_NoDerivative.apply(input, values, res=res, op="heaviside"), out)
    return _out(wrap(res), out)


class _NoDerivative(Node):
    """A recorded op whose derivative torch does not implement: backward raises like torch."""

    def forward(self, *arrays, res=None, op=""):
        self.op = op
        return res

    def name(self):
        return self.op.capitalize() + "Backward0" if self.op else "NotImplemented"

    def backward(self, g):
        raise RuntimeError(f"derivative for aten::{self.op} is not implemented")


# --- special functions ----------------------------------------------------------------------
class Erf(_Unary):
    kernel = "erf_vml"
    save_inputs = (0,)

    @staticmethod
    def fn(xp, a):
        return _via_f32(_special(xp).erf, a)

    def backward(self, g):
        (x,) = self.saved_inputs
        return g * (2.0 / math.sqrt(math.pi)) * exp(-x * x)


class Erfc(_Unary):
    kernel = "erfc_vml"
    save_inputs = (0,)

    @staticmethod
    def fn(xp, a):
        return _via_f32(_special(xp).erfc, a)

    def backward(self, g):
        (x,) = self.saved_inputs
        return g * (-2.0 / math.sqrt(math.pi)) * exp(-x * x)


class Erfinv(_Unary):
    kernel = "erfinv_vml"
    save_outputs = (0,)
    quiet = True

    @staticmethod
    def fn(xp, a):
        return _via_f32(_special(xp).erfinv, a)

    def backward(self, g):
        (y,) = self.saved_outputs
        return g * (math.sqrt(math.pi) / 2.0) * exp(y * y)


class Lgamma(_Unary):
    kernel = "lgamma_vml"
    save_inputs = (0,)
    quiet = True

    @staticmethod
    def fn(xp, a):
        return _via_f32(_special(xp).gammaln, a)

    def backward(self, g):
        (x,) = self.saved_inputs
        return g * digamma(x)


class Digamma(_Unary):
    save_inputs = (0,)
    quiet = True

    def forward(self, a):
        if a.dtype.kind == "c":
            _kernel_error("digamma", a, device_suffix=False)
        return super().forward(a)

    @staticmethod
    def fn(xp, a):
        sp = _special(xp)

        def f(z):
            # torch: digamma(0) is -inf (SciPy gives nan at the pole 0 only, from its sign)
            res = sp.digamma(z)
            return xp.where(z == 0, -xp.inf, res).astype(z.dtype, copy=False)

        return _via_f32(f, a)

    def backward(self, g):
        (x,) = self.saved_inputs
        return g * polygamma(1, x)


class Polygamma(_Unary):
    save_inputs = (0,)
    quiet = True

    def forward(self, a, n=0):
        self.n = n
        if a.dtype.kind == "c":
            _kernel_error("digamma" if n == 0 else "trigamma" if n == 1 else "polygamma", a, False)
        if a.dtype.kind in "biu":
            a = a.astype(_default_float())
        xp = xp_of(a)
        if n == 0:
            return Digamma.fn(xp, a)
        sp = _special(xp)
        with np.errstate(all="ignore"):
            return _via_f32(lambda z: sp.polygamma(n, z).astype(z.dtype, copy=False), a)

    def backward(self, g):
        (x,) = self.saved_inputs
        return g * polygamma(self.n + 1, x)


class I0(_Unary):
    kernel = "i0_vml"
    save_inputs = (0,)

    @staticmethod
    def fn(xp, a):
        return _via_f32(_special(xp).i0, a)

    def backward(self, g):
        (x,) = self.saved_inputs
        return g * _i1(x)


class _I1Op(_Unary):
    kernel = "i1_vml"
    save_inputs = (0,)
    save_outputs = (0,)

    @staticmethod
    def fn(xp, a):
        return _via_f32(_special(xp).i1, a)

    def name(self):
        return "SpecialI1Backward0"

    def backward(self, g):
        (x,) = self.saved_inputs
        (y,) = self.saved_outputs
        # I1'(x) = I0(x) - I1(x)/x, which tends to 1/2 at x = 0
        safe = x.masked_fill(x == 0, 1.0)
        d = where(x == 0, 0.5, i0(x) - y / safe)
        return g * d


def _i1(input: Tensor) -> Tensor:
    return _I1Op.apply(input)


class Sinc(_Unary):
    save_inputs = (0,)
    quiet = True

    @staticmethod
    def fn(xp, a):
        if _low_precision(a):
            return xp.sinc(a.astype(np.float32)).astype(a.dtype)
        return xp.sinc(a)

    def backward(self, g):
        (x,) = self.saved_inputs
        safe = x.masked_fill(x == 0, 1.0)
        d = (cos(safe * math.pi) - sinc(safe)) / safe
        return g * where(x == 0, 0.0, d)


class Logit(_Unary):
    save_inputs = (0,)
    quiet = True

    def forward(self, a, eps=None):
        self.eps = eps
        if a.dtype.kind == "c":
            _kernel_error("logit", a)
        if a.dtype.kind in "biu":
            a = a.astype(_default_float())
        xp = xp_of(a)
        z = a
        if eps is not None:
            z = xp.clip(a, _scalar_for(a, eps), _scalar_for(a, 1.0 - eps))
        one = _scalar_for(a, 1.0)
        with np.errstate(all="ignore"):
            return xp.log(z / (one - z))

    def backward(self, g):
        (x,) = self.saved_inputs
        d = g / (x * (1 - x))
        if self.eps is None:
            # torch: nan outside the domain [0, 1]
            return where((x < 0) | (x > 1), math.nan, d)
        lo, hi = self.eps, 1.0 - self.eps
        return where((x < lo) | (x > hi), 0.0, d)


def erf(input: Tensor, *, out=None) -> Tensor:
    """The error function."""
    return _out(Erf.apply(input), out)


def erfc(input: Tensor, *, out=None) -> Tensor:
    """The complementary error function ``1 - erf(x)``."""
    return _out(Erfc.apply(input), out)


def erfinv(input: Tensor, *, out=None) -> Tensor:
    """The inverse error function on (-1, 1) (+-inf at +-1, nan outside)."""
    return _out(Erfinv.apply(input), out)


def lgamma(input: Tensor, *, out=None) -> Tensor:
    """``log(|gamma(x)|)``."""
    return _out(Lgamma.apply(input), out)


def digamma(input: Tensor, *, out=None) -> Tensor:
    """The logarithmic derivative of the gamma function (-inf at 0, like torch)."""
    return _out(Digamma.apply(input), out)


def polygamma(n: int, input: Tensor, *, out=None) -> Tensor:
    """The ``n``-th derivative of digamma (``n = 0`` is digamma itself).

    Example:
        >>> import tocha.core as torch
        >>> torch.polygamma(1, torch.tensor([1.0]))  # pi ** 2 / 6
        tensor([1.6449])
    """
    if isinstance(n, Tensor):
        n = int(n.item())
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return _out(Polygamma.apply(input, n=int(n)), out)


def i0(input: Tensor, *, out=None) -> Tensor:
    """The modified Bessel function of the first kind, order 0."""
    return _out(I0.apply(input), out)


def sinc(input: Tensor, *, out=None) -> Tensor:
    """The normalised sinc ``sin(pi x) / (pi x)`` (1 at 0)."""
    return _out(Sinc.apply(input), out)


def logit(input: Tensor, eps: float | None = None, *, out=None) -> Tensor:
    """``log(p / (1 - p))``; with ``eps`` the input is first clamped to ``[eps, 1 - eps]``."""
    return _out(Logit.apply(input, eps=None if eps is None else float(eps)), out)


# --- misc unary -----------------------------------------------------------------------------
class Frac(_Unary):
    to_float = False

    @staticmethod
    def fn(xp, a):
        return a - xp.trunc(a)

    def backward(self, g):
        return (g,)


def frac(input: Tensor, *, out=None) -> Tensor:
    """The fractional part ``x - trunc(x)`` (keeps the sign)."""
    if input._data.dtype.kind in "biuc":
        _not_implemented("frac", input)
    return _out(Frac.apply(input), out)


def signbit(input: Tensor, *, out=None) -> Tensor:
    """Whether the sign bit is set (True for -0.0); a bool tensor."""
    a = input._data
    xp = xp_of(a)
    if a.dtype.kind == "c":
        raise NotImplementedError("signbit is not implemented for complex tensors.")
    if a.dtype.kind == "b" or a.dtype.kind == "u":
        res = xp.zeros(a.shape, dtype=bool)
    elif a.dtype.kind == "i":
        res = a < 0
    else:
        res = xp.signbit(a)
    return _out(wrap(res), out)


class NanToNum(_Unary):
    to_float = False
    save_inputs = (0,)

    def forward(self, a, nan=0.0, posinf=None, neginf=None):
        xp = xp_of(a)
        if a.dtype.kind in "biu":
            return a.copy()
        if a.dtype.kind == "c":
            return xp.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)
        fi = _dtype.finfo(_FROM_NP[a.dtype])
        hi = fi.max if posinf is None else posinf
        lo = fi.min if neginf is None else neginf
        res = xp.where(xp.isnan(a), _scalar_for(a, nan), a)
        res = xp.where(res == xp.inf, _scalar_for(a, hi), res)
        res = xp.where(res == -xp.inf, _scalar_for(a, lo), res)
        return res.astype(a.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved_inputs
        return where(isfinite(x), g, 0.0)


def nan_to_num(
    input: Tensor,
    nan: float = 0.0,
    posinf: float | None = None,
    neginf: float | None = None,
    *,
    out=None,
) -> Tensor:
    """Replace nan, +inf and -inf by finite values (by default 0 and the dtype's extremes).

    Example:
        >>> import tocha.core as torch
        >>> torch.nan_to_num(torch.tensor([float('nan'), 1.0]))
        tensor([0., 1.])
    """
    return _out(NanToNum.apply(input, nan=nan, posinf=posinf, neginf=neginf), out)


def positive(input: Tensor) -> Tensor:
    """``input`` itself (torch.positive); bool tensors are refused like torch."""
    if input._data.dtype.kind == "b":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def float_power(input, exponent, *, out=None) -> Tensor:
    """``input ** exponent`` computed in double precision (float64, or complex128 when either
    operand is complex)."""
    from .arith import pow as _pow

    cplx = any(
        (isinstance(x, Tensor) and x._data.dtype.kind == "c") or isinstance(x, builtins.complex)
        for x in (input, exponent)
    )
    target = _dtype.complex128 if cplx else _dtype.float64

    def up(x):
        return x.to(target) if isinstance(x, Tensor) else x

    return _out(_pow(up(input), up(exponent)), out)


def ldexp(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """``input * 2 ** other``."""
    _require_tensor("ldexp", input, "input", 1)
    _require_tensor("ldexp", other, "other", 2)
    from .arith import pow as _pow

    res = input * _pow(2.0, other)
    if res._data.dtype.kind in "biu":
        res = res.to(_dtype.get_default_dtype())
    return _out(res, out)


# --- lerp / addcmul / addcdiv ---------------------------------------------------------------
class Lerp(Node):
    save_inputs = (0, 1)

    def forward(self, a, b, w=None, dt=None):
        if dt is not None:
            a = a.astype(dt, copy=False)
            b = b.astype(dt, copy=False)
        self.w = w
        wa = _scalar_for(a, w)
        # torch's two-sided formula keeps lerp exact at both ends
        if w < 0.5:
            return a + wa * (b - a)
        return b - (b - a) * _scalar_for(a, 1.0 - w)

    def backward(self, g):
        na, nb = self.needs_input_grad
        w = self.w
        return (g * (1.0 - w) if na else None), (g * w if nb else None)


class LerpT(Node):
    save_inputs = (0, 1, 2)

    def forward(self, a, b, w, dt=None):
        if dt is not None:
            a = a.astype(dt, copy=False)
            b = b.astype(dt, copy=False)
            w = w.astype(dt, copy=False)
        xp = xp_of(a)
        d = b - a
        half = _scalar_for(a, 0.5)
        one = _scalar_for(a, 1.0)
        return xp.where(xp.abs(w) < half, a + w * d, b - d * (one - w))

    def name(self):
        return "LerpBackward1"

    def backward(self, g):
        a, b, w = self.saved_inputs
        na, nb, nw = self.needs_input_grad
        ga = g * (1 - w) if na else None
        gb = g * w if nb else None
        gw = g * (b - a) if nw else None
        return ga, gb, gw


def lerp(input: Tensor, end: Tensor, weight, *, out=None) -> Tensor:
    """``input + weight * (end - input)`` with a scalar or tensor ``weight``.

    Example:
        >>> import tocha.core as torch
        >>> torch.lerp(torch.tensor([0., 10.]), torch.tensor([10., 20.]), 0.5)
        tensor([ 5., 15.])
    """
    if not isinstance(end, Tensor):
        raise TypeError(f"lerp(): argument 'end' must be Tensor, not {type(end).__name__}")
    if input._data.dtype != end._data.dtype:
        raise RuntimeError(
            f"expected dtype {_c10_name(input._data)} for `end` but got dtype "
            f"{_c10_name(end._data)}"
        )
    if input._data.dtype.kind not in "fcV":
        _kernel_error(
            "lerp_kernel_tensor" if isinstance(weight, Tensor) else "lerp_kernel_scalar",
            input._data,
            device_suffix=False,
        )
    check_same_device("lerp", input, end)
    if isinstance(weight, Tensor):
        if weight._data.dtype != input._data.dtype:
            raise RuntimeError(
                f"expected dtype {_c10_name(input._data)} for `weight` but got dtype "
                f"{_c10_name(weight._data)}"
            )
        _broadcast_shapes(input._data.shape, end._data.shape, weight._data.shape)
        return _out(LerpT.apply(input, end, weight), out)
    _broadcast_shapes(input._data.shape, end._data.shape)
    return _out(Lerp.apply(input, end, w=weight), out)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1, out=None) -> Tensor:
    """``input + value * tensor1 * tensor2``."""
    if isinstance(value, float) and result_dtype((input, tensor1, tensor2)).np.kind in "biu":
        value = int(value)  # torch converts ``value`` to the integer result type
    prod = tensor1 * tensor2
    return _out(input + (prod * value if value != 1 else prod), out)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1, out=None) -> Tensor:
    """``input + value * tensor1 / tensor2`` (integer tensors are refused, like torch)."""
    if tensor1._data.dtype.kind in "biu" and tensor2._data.dtype.kind in "biu":
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
            "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2))."
            "to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for "
            "float inputs. The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes."
        )
    quot = tensor1 / tensor2
    return _out(input + (quot * value if value != 1 else quot), out)


# --- predicates -----------------------------------------------------------------------------
def _pred(fn_float, int_value: bool):
    def pred(input: Tensor) -> Tensor:
        a = input._data
        xp = xp_of(a)
        if a.dtype.kind in "biu":
            return wrap(xp.full(a.shape, int_value, dtype=bool))
        return wrap(fn_float(xp, a))

    return pred


isnan = _pred(lambda xp, a: xp.isnan(a), False)
isinf = _pred(lambda xp, a: xp.isinf(a), False)
isfinite = _pred(lambda xp, a: xp.isfinite(a), True)
isnan.__doc__ = "Whether each element is nan (a bool tensor)."
isinf.__doc__ = "Whether each element is +inf or -inf."
isfinite.__doc__ = "Whether each element is finite (not nan, not +-inf)."
isnan.__name__, isinf.__name__, isfinite.__name__ = "isnan", "isinf", "isfinite"


def isposinf(input: Tensor, *, out=None) -> Tensor:
    """Whether each element is +inf."""
    a = input._data
    if a.dtype.kind == "c":
        raise RuntimeError("isposinf does not support complex inputs.")
    xp = xp_of(a)
    if a.dtype.kind in "biu":
        return _out(wrap(xp.zeros(a.shape, dtype=bool)), out)
    return _out(wrap(a == xp.inf), out)


def isneginf(input: Tensor, *, out=None) -> Tensor:
    """Whether each element is -inf."""
    a = input._data
    if a.dtype.kind == "c":
        raise RuntimeError("isneginf does not support complex inputs.")
    xp = xp_of(a)
    if a.dtype.kind in "biu":
        return _out(wrap(xp.zeros(a.shape, dtype=bool)), out)
    return _out(wrap(a == -xp.inf), out)


def isreal(input: Tensor) -> Tensor:
    """Whether each element is real (imaginary part 0); always True for real dtypes."""
    a = input._data
    xp = xp_of(a)
    if a.dtype.kind == "c":
        return wrap(a.imag == 0)
    return wrap(xp.ones(a.shape, dtype=bool))


def isclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise (equal infinities are close).

    Example:
        >>> import tocha.core as torch
        >>> torch.isclose(torch.tensor([1.0, 2.0]), torch.tensor([1.0 + 1e-9, 2.1]))
        tensor([ True, False])
    """
    _require_tensor("isclose", input, "input", 1)
    _require_tensor("isclose", other, "other", 2)
    a, b = input._data, other._data
    if a.dtype != b.dtype:
        raise RuntimeError(f"{_type_name(a)} did not match {_type_name(b)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    check_same_device("isclose", input, other)
    _broadcast_shapes(a.shape, b.shape)
    xp = xp_of(a)
    if a.dtype.kind == "b":
        return wrap(a == b)
    if a.dtype.kind == "V" or a.dtype == np.float16:
        a, b = a.astype(np.float32), b.astype(np.float32)
    with np.errstate(all="ignore"):
        if a.dtype.kind in "iu":
            a, b = a.astype(np.float64), b.astype(np.float64)
        res = a == b
        diff = xp.abs(a - b)
        res = res | (xp.isfinite(diff) & (diff <= atol + rtol * xp.abs(b)))
        if equal_nan:
            res = res | (xp.isnan(a) & xp.isnan(b))
    return wrap(res)


def allclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether every element of ``input`` is close to ``other`` (see ``isclose``)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and the same values."""
    if tuple(input._data.shape) != tuple(other._data.shape):
        return False
    check_same_device("equal", input, other)
    return bool((input._data == other._data).all())


# --- logical and bitwise ----------------------------------------------------------------------
def _arrays2(name: str, a, b):
    """Raw arrays of the two tensor operands of a non-differentiable binary op."""
    _require_tensor(name, a, "input", 1)
    _require_tensor(name, b, "other", 2)
    if a._data.__class__ is not _ndarray or b._data.__class__ is not _ndarray:
        check_same_device(name, a, b)
    _broadcast_shapes(a._data.shape, b._data.shape)
    return a._data, b._data


def logical_and(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Elementwise logical AND of the truth values (nonzero is True); a bool tensor."""
    a, b = _arrays2("logical_and", input, other)
    return _out(wrap(xp_of(input._data).logical_and(a, b)), out)


def logical_or(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Elementwise logical OR; a bool tensor."""
    a, b = _arrays2("logical_or", input, other)
    return _out(wrap(xp_of(input._data).logical_or(a, b)), out)


def logical_xor(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Elementwise logical XOR; a bool tensor."""
    a, b = _arrays2("logical_xor", input, other)
    return _out(wrap(xp_of(input._data).logical_xor(a, b)), out)


def logical_not(input: Tensor, *, out=None) -> Tensor:
    """Elementwise logical NOT; a bool tensor."""
    return _out(wrap(xp_of(input._data).logical_not(input._data)), out)


_SHIFT_KERNELS = {"bitwise_left_shift": "lshift", "bitwise_right_shift": "rshift"}


def _bitwise(name: str, fn, input, other, out=None) -> Tensor:
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{name}(): expected a Tensor argument")
    if isinstance(other, Tensor) or is_scalar(other):
        if not isinstance(input, Tensor) and not is_scalar(input):
            return NotImplemented
    else:
        return NotImplemented
    a, b, dt = _operands(name, input, other)
    if dt.kind not in "biu" or (dt.kind == "b" and name in _SHIFT_KERNELS):
        kernel = _SHIFT_KERNELS.get(name, name)
        t = a if a._data.dtype.kind not in "biu" else b
        if t._data.dtype.kind in "biu":
            t = wrap(a._data.astype(dt))
        _not_implemented(kernel, t)
    x, y = a._data, b._data
    if x.dtype != dt:
        x = x.astype(dt)
    if y.dtype != dt:
        y = y.astype(dt)
    _broadcast_shapes(x.shape, y.shape)
    with np.errstate(all="ignore"):
        return _out(wrap(fn(xp_of(x), x, y)), out)


def _shift(xp, x, y, left: bool):
    # torch: shifting by the bit width or more gives 0 (or -1 for negative right shifts)
    if x.dtype.kind == "b":
        x = x.astype(np.uint8)
        y = y.astype(np.uint8)
    bits = x.dtype.itemsize * 8
    big = (y >= bits) | (y < 0)
    ys = xp.where(big, 0, y).astype(x.dtype, copy=False)
    if left:
        res = xp.left_shift(x, ys)
        return xp.where(big, 0, res).astype(x.dtype, copy=False)
    res = xp.right_shift(x, ys)
    fill = xp.where(x < 0, -1, 0) if x.dtype.kind == "i" else 0
    return xp.where(big, fill, res).astype(x.dtype, copy=False)


def bitwise_and(input, other, *, out=None) -> Tensor:
    """Elementwise AND of integer or bool tensors (or a tensor and a scalar)."""
    return _bitwise("bitwise_and", lambda xp, x, y: xp.bitwise_and(x, y), input, other, out)


def bitwise_or(input, other, *, out=None) -> Tensor:
    """Elementwise OR of integer or bool tensors."""
    return _bitwise("bitwise_or", lambda xp, x, y: xp.bitwise_or(x, y), input, other, out)


def bitwise_xor(input, other, *, out=None) -> Tensor:
    """Elementwise XOR of integer or bool tensors."""
    return _bitwise("bitwise_xor", lambda xp, x, y: xp.bitwise_xor(x, y), input, other, out)


def bitwise_left_shift(input, other, *, out=None) -> Tensor:
    """``input << other`` elementwise on integer tensors."""
    return _bitwise(
        "bitwise_left_shift", lambda xp, x, y: _shift(xp, x, y, True), input, other, out
    )


def bitwise_right_shift(input, other, *, out=None) -> Tensor:
    """``input >> other`` elementwise (arithmetic shift for signed integers)."""
    return _bitwise(
        "bitwise_right_shift", lambda xp, x, y: _shift(xp, x, y, False), input, other, out
    )


def bitwise_not(input: Tensor, *, out=None) -> Tensor:
    """Elementwise NOT (logical NOT for bool tensors)."""
    a = input._data
    if a.dtype.kind not in "biu":
        _not_implemented("bitwise_not", input)
    xp = xp_of(a)
    return _out(wrap(xp.logical_not(a) if a.dtype.kind == "b" else xp.invert(a)), out)


def _op(fn, reflected: bool = False):
    def op(self, other):
        if not (isinstance(other, Tensor) or is_scalar(other)):
            return NotImplemented
        return fn(other, self) if reflected else fn(self, other)

    return op


# --- relu / softmax -------------------------------------------------------------------------
def _relu_np(a):
    """``np.maximum(a, 0)`` (Relu's forward) for a NumPy array."""
    return np.maximum(a, _scalar_for(a, 0))


class Relu(_Unary):
    to_float = False
    save_outputs = (0,)

    @staticmethod
    def fn(xp, a):
        return xp.maximum(a, _scalar_for(a, 0))

    def forward(self, a, into=False):
        if a.__class__ is _ndarray:
            if into:  # relu_ under autograd: inplace_apply checked a with _relu_into_ok
                _relu_into(a)
                return a
            if _relu_fast_dtype(a.dtype):
                return _relu_np(a)  # what _Unary.forward ends in, without its checks
        y = _cuda_act_fwd("relu", a)
        return _Unary.forward(self, a) if y is None else y

    def backward(self, g):
        (y,) = self.saved_outputs
        r = _cuda_act_bwd("relu", g, y)
        if r is not None:
            return r
        yd, gd = y._data, g._data
        if not MODE.grad and gd.__class__ is _ndarray and yd.__class__ is _ndarray:
            # where(y > 0, g, 0.0) below without the tocha ops around it (the same result;
            # see _select_or_zero); with create_graph the tocha ops record the graph
            gx = _act_native.relu_backward(yd, gd)  # one compiled pass, when available
            if gx is not None:
                return wrap(gx)
            mask = yd > 0
            if _selectable(mask, gd):
                return wrap(_select_or_zero(mask, gd))
        return where(y > 0, g, 0.0)


def _relu_into_ok(a) -> bool:
    """Whether relu_ can write ``max(a, 0)`` straight into ``a`` (a writeable NumPy float, not
    half, or integer array: Relu.forward's fast dtypes) instead of computing a new array and
    copying it back."""
    return a.__class__ is _ndarray and a.flags.writeable and _relu_fast_dtype(a.dtype)


def _relu_fast_dtype(dt) -> bool:
    """Float (not half) and integer dtypes: NumPy's maximum runs on them directly."""
    return (dt.kind == "f" and dt.itemsize != 2) or dt.kind in "iu"


def _relu_into(a) -> None:
    """``a = max(a, 0)`` in place, for ``a`` that passed ``_relu_into_ok``."""
    np.maximum(a, _scalar_for(a, 0), out=a)


def relu(input: Tensor) -> Tensor:
    """``max(input, 0)`` elementwise.

    Example:
        >>> import tocha.core as torch
        >>> torch.relu(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """
    a = input._data
    kind = a.dtype.kind
    if kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    if kind == "c":
        raise NotImplementedError("clamp is not supported for complex types")
    if (
        kind == "f"
        and a.dtype.itemsize != 2
        and a.__class__ is _ndarray
        and not (input._rg and MODE.grad)
    ):  # nothing to record: Relu.forward's result, without a node
        return wrap(_relu_np(a))
    return Relu.apply(input)


def _fast_float(a) -> bool:
    """A non-empty float32/float64 NumPy array: the case the softmax fast paths handle."""
    if a.__class__ is not _ndarray:
        return False
    dt = a.dtype
    return dt.kind == "f" and dt.itemsize >= 4 and a.size > 0


def _row_max(a, dim: int):
    """``a.max(axis=dim, keepdims=True)`` (the softmax shift) for a non-empty NumPy array.

    Along the last dim this is argmax + gather (`reduce._arg_last`), 3-5x cheaper than
    NumPy's max reduction there; the value is the same (a tie of -0.0 and 0.0 may give the
    other zero, which shifts every element identically).
    """
    if dim == a.ndim - 1:
        return _arg_last(a)[0]
    return a.max(axis=dim, keepdims=True)


def _small_grads(g: Tensor, y: Tensor) -> bool:
    """Whether a softmax backward may run on the raw arrays: grad mode off (no graph of the
    backward is wanted) and ``g`` like ``y`` (a small float32/64 NumPy array, as the tocha
    ops in the general path would compute serially)."""
    gd, yd = g._data, y._data
    return (
        not MODE.grad
        and gd.__class__ is _ndarray
        and yd.__class__ is _ndarray
        and gd.dtype is yd.dtype
        and gd.shape == yd.shape
        and yd.dtype.kind == "f"
        and yd.dtype.itemsize >= 4
        and yd.size < _parallel.MIN_ELEMENTS
        and gd.flags.c_contiguous  # every intermediate C-ordered, as in the general path
        and yd.flags.c_contiguous
    )


def _unshifted_exp_is_exact(a) -> bool:
    """Whether softmax may skip its row-max shift on ``a``: every ``exp(x)`` is then a normal
    float (no underflow) and a row sum cannot overflow, so ``exp(x) / sum(exp(x))`` has the
    rounding error of the shifted form. Two global reductions are 2-2.5x cheaper than the
    row max and the subtraction they replace. NaN fails both tests (the shifted path then
    propagates it as torch does)."""
    return a.size > 0 and a.min() >= -80.0 and a.max() <= 60.0


def _softmax_np(a, dim: int):
    """Softmax.forward's general path for a `_fast_float` array, in one buffer. Needs
    ``_EXTOBJ``."""
    if _unshifted_exp_is_exact(a):
        e = np.exp(a)
        e /= e.sum(axis=dim, keepdims=True)
        return e
    token = _EXTOBJ.set(_QUIET_EXTOBJ)  # rows of inf give nan, as in torch, without warnings
    try:
        e = np.subtract(a, _row_max(a, dim))
        np.exp(e, out=e)
        e /= e.sum(axis=dim, keepdims=True)
    finally:
        _EXTOBJ.reset(token)
    return e


def _log_softmax_np(a, dim: int):
    """LogSoftmax.forward's general path for a `_fast_float` array (the same NumPy ops, as
    quiet), with fewer buffers. Needs ``_EXTOBJ``."""
    token = _EXTOBJ.set(_QUIET_EXTOBJ)
    try:
        z = np.array(a) if _unshifted_exp_is_exact(a) else np.subtract(a, _row_max(a, dim))
        s = np.exp(z).sum(axis=dim, keepdims=True)
        np.subtract(z, np.log(s, out=s), out=z)
    finally:
        _EXTOBJ.reset(token)
    return z


class Softmax(Node):
    save_outputs = (0,)

    def forward(self, a, dim=None, dt=None):
        if dt is not None:
            a = a.astype(dt, copy=False)
        self.dim = dim
        if dim is not None and _EXTOBJ is not None and _fast_float(a):
            return _softmax_np(a, dim)
        if dim is not None and a.__class__ is not _ndarray:  # CuPy: the row kernel
            from ..cuda import _softmax as _cu

            y = _cu.forward(a, dim, log=False)
            if y is not None:
                return y
        out_dt = a.dtype
        if _low_precision(a):
            a = a.astype(np.float32)
        xp = xp_of(a)
        if dim is None:  # 0-dim input
            return xp.ones_like(a).astype(out_dt)
        e = xp.exp(a - a.max(axis=dim, keepdims=True))
        e /= e.sum(axis=dim, keepdims=True)
        return e.astype(out_dt, copy=False)

    def backward(self, g):
        (y,) = self.saved_outputs
        if self.dim is None:
            return y * (g - g * y)
        if not MODE.grad and y._data.__class__ is not _ndarray:  # CuPy, no graph: the kernel
            from ..cuda import _softmax as _cu

            gx = _cu.backward(y._data, g._data, self.dim, log=False)
            if gx is not None:
                return wrap(gx)
        if _small_grads(g, y):
            # y * (g - (g * y).sum(dim, keepdim=True)) below, NumPy op for NumPy op (the
            # same results) in one buffer, without a tocha op per step
            gd, yd = g._data, y._data
            t = gd * yd
            np.subtract(gd, t.sum(axis=self.dim, keepdims=True), out=t)
            t *= yd
            return wrap(t)
        # with create_graph: tocha ops, so the gradient is itself differentiable
        return y * (g - (g * y).sum(dim=self.dim, keepdim=True))


class LogSoftmax(Node):
    save_outputs = (0,)

    def forward(self, a, dim=None, dt=None):
        if dt is not None:
            a = a.astype(dt, copy=False)
        self.dim = dim
        if dim is not None and _EXTOBJ is not None and _fast_float(a):
            return _log_softmax_np(a, dim)
        if dim is not None and a.__class__ is not _ndarray:  # CuPy: the row kernel
            from ..cuda import _softmax as _cu

            y = _cu.forward(a, dim, log=True)
            if y is not None:
                return y
        out_dt = a.dtype
        if _low_precision(a):
            a = a.astype(np.float32)
        xp = xp_of(a)
        if dim is None:
            return xp.zeros_like(a).astype(out_dt)
        z = a - a.max(axis=dim, keepdims=True)
        with np.errstate(all="ignore"):
            z = z - xp.log(xp.exp(z).sum(axis=dim, keepdims=True))
        return z.astype(out_dt, copy=False)

    def backward(self, g):
        (y,) = self.saved_outputs
        if self.dim is None:
            return g - exp(y) * g
        if not MODE.grad and y._data.__class__ is not _ndarray:  # CuPy, no graph: the kernel
            from ..cuda import _softmax as _cu

            gx = _cu.backward(y._data, g._data, self.dim, log=True)
            if gx is not None:
                return wrap(gx)
        if _small_grads(g, y) and _EXTOBJ is not None:
            # g - exp(y) * g.sum(dim, keepdim=True) below, NumPy op for NumPy op (exp quiet
            # as the Exp op runs it) in one buffer
            gd = g._data
            token = _EXTOBJ.set(_QUIET_EXTOBJ)
            try:
                t = np.exp(y._data)
            finally:
                _EXTOBJ.reset(token)
            t *= gd.sum(axis=self.dim, keepdims=True)
            np.subtract(gd, t, out=t)
            return wrap(t)
        return g - exp(y) * g.sum(dim=self.dim, keepdim=True)


def _softmax_args(name: str, input: Tensor, dim, dtype):
    if dim is None:
        raise TypeError(f"{name}() missing required argument 'dim'")
    dt = None
    if dtype is not None:
        dt = _dtype.to_dtype(dtype).np
        if dt == input._data.dtype:
            dt = None
    d = norm_dim(dim, input._data.ndim, name)
    if dtype is None and input._data.dtype.kind not in "fcV":
        last = input._data.ndim <= 1 or d == input._data.ndim - 1
        kernel = f"{name}_lastdim_kernel_impl" if last else f"{name}_kernel_impl"
        _kernel_error(kernel, input._data, device_suffix=False)
    return (None if input._data.ndim == 0 else d), dt


def _softmax_dim(input: Tensor, dim, dtype):
    """The wrapped dim of the common call (float input, an in-range int dim, no dtype), or
    None: then `_softmax_args` parses and checks everything."""
    if dtype is None and dim.__class__ is int:
        a = input._data
        nd = a.ndim
        if -nd <= dim < nd and a.dtype.kind == "f":
            return dim % nd
    return None


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """``exp(x) / exp(x).sum(dim)``, computed stably (the max is subtracted first).

    Args:
        input: the tensor.
        dim: the dimension along which the result sums to 1.
        dtype: cast the input to this dtype before the operation.

    Example:
        >>> import tocha.core as torch
        >>> torch.softmax(torch.tensor([1.0, 1.0]), dim=0)
        tensor([0.5000, 0.5000])
    """
    d = _softmax_dim(input, dim, dtype)
    if d is not None:
        if not (input._rg and MODE.grad) and _EXTOBJ is not None and _fast_float(input._data):
            return wrap(_softmax_np(input._data, d))  # nothing to record: no node
        return Softmax.apply(input, dim=d)
    d, dt = _softmax_args("softmax", input, dim, dtype)
    return Softmax.apply(input, dim=d, dt=dt)


def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """``log(softmax(x, dim))`` computed stably."""
    d = _softmax_dim(input, dim, dtype)
    if d is not None:
        if not (input._rg and MODE.grad) and _EXTOBJ is not None and _fast_float(input._data):
            return wrap(_log_softmax_np(input._data, d))  # nothing to record: no node
        return LogSoftmax.apply(input, dim=d)
    d, dt = _softmax_args("log_softmax", input, dim, dtype)
    return LogSoftmax.apply(input, dim=d, dt=dt)


# --- exports --------------------------------------------------------------------------------
_UNARY_INPLACE = [
    "abs",
    "absolute",
    "sign",
    "sgn",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "rsqrt",
    "square",
    "reciprocal",
    "floor",
    "ceil",
    "trunc",
    "fix",
    "frac",
    "round",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "arcsinh",
    "arccosh",
    "arctanh",
    "deg2rad",
    "rad2deg",
    "erf",
    "erfc",
    "erfinv",
    "lgamma",
    "digamma",
    "i0",
    "sinc",
    "sigmoid",
    "logit",
    "nan_to_num",
    "relu",
    "conj_physical",
    "clamp",
    "clip",
    "clamp_min",
    "clamp_max",
    "copysign",
    "atan2",
    "arctan2",
    "hypot",
    "xlogy",
    "lerp",
    "addcmul",
    "addcdiv",
    "heaviside",
    "float_power",
    "ldexp",
    "logical_and",
    "logical_or",
    "logical_xor",
    "logical_not",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "masked_fill",
]

_OTHER_FUNCTIONS = [
    "where",
    "positive",
    "signbit",
    "logaddexp",
    "logaddexp2",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "polygamma",
    "isnan",
    "isinf",
    "isposinf",
    "isneginf",
    "isfinite",
    "isreal",
    "isclose",
    "allclose",
    "equal",
    "angle",
    "complex",
    "polar",
    "view_as_real",
    "view_as_complex",
    "conj",
    "resolve_conj",
    "resolve_neg",
    "is_conj",
    "is_neg",
    "real",
    "imag",
    "softmax",
    "log_softmax",
]


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    return polygamma(n, self)


def _where_method(self: Tensor, condition: Tensor, other) -> Tensor:
    return where(condition, self, other)


def _top_level_inplace(name: str):
    """``torch.exp_(t)`` etc.: torch's top-level spelling of the in-place methods."""

    def fn(input: Tensor, *args, **kwargs) -> Tensor:
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = name
    fn.__doc__ = f"``input.{name}(...)``."
    return fn


_g = globals()
TENSOR_METHODS = {name: _g[name] for name in _UNARY_INPLACE + _OTHER_FUNCTIONS}
for _n in ("complex", "polar", "view_as_real", "view_as_complex", "is_conj", "is_neg", "real"):
    TENSOR_METHODS.pop(_n, None)
TENSOR_METHODS.pop("imag", None)
TENSOR_METHODS.update(
    {
        "where": _where_method,
        "polygamma": _polygamma_method,
        "fill_": fill_,
        "zero_": zero_,
        "is_conj": is_conj,
        "is_neg": is_neg,
        "real": property(real, _set_real),
        "imag": property(imag, _set_imag),
        "__and__": _op(bitwise_and),
        "__or__": _op(bitwise_or),
        "__xor__": _op(bitwise_xor),
        "__lshift__": _op(bitwise_left_shift),
        "__rshift__": _op(bitwise_right_shift),
        "__rand__": _op(bitwise_and, reflected=True),
        "__ror__": _op(bitwise_or, reflected=True),
        "__rxor__": _op(bitwise_xor, reflected=True),
        "__rlshift__": _op(bitwise_left_shift, reflected=True),
        "__rrshift__": _op(bitwise_right_shift, reflected=True),
        "__invert__": bitwise_not,
        "__abs__": abs,
    }
)

INPLACE = {name + "_": _g[name] for name in _UNARY_INPLACE}
INPLACE["polygamma_"] = _polygamma_method
INPLACE.update(
    {
        "__iand__": bitwise_and,
        "__ior__": bitwise_or,
        "__ixor__": bitwise_xor,
        "__ilshift__": bitwise_left_shift,
        "__irshift__": bitwise_right_shift,
    }
)

# torch has these in-place spellings at the top level too (torch.exp_(t), torch.relu_(t), ...).
_TOP_INPLACE = [
    n + "_"
    for n in _UNARY_INPLACE
    if n
    not in (
        "absolute",
        "sign",
        "sgn",
        "signbit",
        "logical_and",
        "logical_or",
        "logical_xor",
        "logical_not",
        "bitwise_and",
        "bitwise_or",
        "bitwise_xor",
        "bitwise_not",
        "bitwise_left_shift",
        "bitwise_right_shift",
        "copysign",
        "atan2",
        "arctan2",
        "hypot",
        "lerp",
        "addcmul",
        "addcdiv",
        "heaviside",
        "float_power",
        "digamma",
        "lgamma",
        "erfinv",
        "masked_fill",
    )
] + ["fill_", "zero_"]
for _n in _TOP_INPLACE:
    _g[_n] = _top_level_inplace(_n)

FUNCTIONS = _UNARY_INPLACE + _OTHER_FUNCTIONS + _TOP_INPLACE
del _g, _n
