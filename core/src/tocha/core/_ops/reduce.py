"""Reductions: sum, mean, prod, max/min, var/std, norm, logsumexp, cumulative ops, median,
mode, quantile, all/any ... with torch's signatures, overloads, dtype rules and errors.

Gradients that select elements (max with ``dim``, median, mode, quantile) multiply the
incoming gradient by a constant mask built from the forward's indices, and reductions without
``dim`` (max, amax, median) share it evenly among ties, as torch does. Because every backward
is written with tocha ops (masks are constants), double backward works wherever the maths has
a second derivative.
"""

from __future__ import annotations

import builtins
import math
import warnings

import numpy as np

from .. import _dtype
from .._mode import MODE
from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ._util import norm_dim, norm_dims, return_type, xp_of
from ._util import type_name as _tname
from ._util import write_out as _write_out
from .shape import Expand, Reshape

_pymax = builtins.max
_INF = math.inf
_ndarray = np.ndarray
_INT64 = np.dtype(np.int64)


_VI = ("values", "indices")
_max_t = return_type("max", _VI)
_min_t = return_type("min", _VI)
_aminmax_t = return_type("aminmax", ("min", "max"))
_median_t = return_type("median", _VI)
_nanmedian_t = return_type("nanmedian", _VI)
_mode_t = return_type("mode", _VI)
_cummax_t = return_type("cummax", _VI)
_cummin_t = return_type("cummin", _VI)


# --- helpers ----------------------------------------------------------------------------------
def _keep_shape(shape: tuple, dims: tuple) -> tuple:
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def expand_reduced(g: Tensor, in_shape: tuple, dims: tuple, keepdim: bool) -> Tensor:
    """Broadcast a reduction's gradient back over the reduced dims (shared by reductions).

    The shapes are valid by construction, so this calls the view nodes directly rather than
    re-validating through ``reshape``/``expand`` (it runs on every reduction's backward).
    """
    if not keepdim and g._data.ndim:  # a 0-dim gradient broadcasts as it is
        g = Reshape.apply(g, shape=_keep_shape(in_shape, dims))
    elif dims is None and keepdim:  # full reduction keeping dims: already broadcastable
        pass
    if g._data.shape == in_shape:
        return g
    return Expand.apply(g, shape=in_shape)


def _low(arr) -> bool:
    """float16 / bfloat16: accumulate in float32 like torch, then cast back."""
    return arr.dtype == np.float16 or arr.dtype.kind == "V"


def _f32(arr):
    return arr.astype(np.float32) if _low(arr) else arr


def _is_float(arr) -> bool:
    return arr.dtype.kind in "fcV"


def _dims_arg(input: Tensor, dim, op: str) -> tuple:
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            dim = None
        elif len(dim) > 1:
            _check_unique(dim, input._data.ndim, op)
    dims = norm_dims(dim, input._data.ndim, op)
    return dims if input._data.ndim else ()  # dim 0 / -1 of a 0-dim tensor is the tensor


def _check_unique(dims, ndim: int, op: str) -> None:
    seen = set()
    for d in dims:
        w = norm_dim(d, ndim, op)
        if w in seen:
            raise RuntimeError(f"dim {w} appears multiple times in the list of dims")
        seen.add(w)


def _np_dtype(dtype):
    return _dtype.to_dtype(dtype).np if dtype is not None else None


def _const(arr) -> Tensor:
    """A constant (non-differentiable) tensor on the same device as ``arr``."""
    return wrap(arr)


def _numel(shape, dims) -> int:
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _flip(a, dim: int):
    return a[(slice(None),) * dim + (slice(None, None, -1),)]


def _check_nonempty_dims(a, dims: tuple, op: str, sep: str = "():") -> None:
    for d in dims:
        if a.shape[d] == 0:
            raise IndexError(f"{op}{sep} Expected reduction dim {d} to have non-zero size.")


def _onehot(idx_keep, shape: tuple, dim: int, dtype):
    """A mask of ``shape`` with a 1 where the index along ``dim`` equals ``idx_keep``."""
    xp = xp_of(idx_keep)
    n = shape[dim]
    ar = xp.arange(n).reshape((n,) + (1,) * (len(shape) - dim - 1))
    return xp.broadcast_to(ar == idx_keep, shape).astype(dtype)


def _index_backward(g: Tensor, idx_keep, in_shape: tuple, dim, keepdim: bool) -> Tensor:
    """Gradient of an op that picked ``input[..., idx, ...]`` along ``dim``."""
    if not in_shape:
        return g
    g = expand_reduced(g, in_shape, (dim,), keepdim)
    return g * _const(_onehot(idx_keep, in_shape, dim, g._data.dtype))


def _tie_mask(x, val_keep):
    """Where ``x`` equals the (broadcast) reduced value, a NaN matching a NaN."""
    xp = xp_of(x)
    m = x == val_keep
    if _is_float(x):
        m = m | (xp.isnan(x) & xp.isnan(val_keep))
    return m


def _even_ties(g: Tensor, x, val_keep, dims: tuple, keepdim: bool) -> Tensor:
    """Spread the gradient evenly over the elements equal to the reduced value (torch)."""
    m = _tie_mask(x, val_keep)
    cnt = m.sum(axis=dims, keepdims=True)
    w = (m / cnt).astype(g._data.dtype)
    return expand_reduced(g, x.shape, dims, keepdim) * _const(w)


def _to_last(a, dim: int):
    """``a`` with ``dim`` moved last and the rest flattened: shape (rows, n)."""
    xp = xp_of(a)
    if a.ndim == 0:
        return a.reshape(1, 1)
    m = xp.moveaxis(a, dim, -1)
    return m.reshape(-1, a.shape[dim])


def _argsort(a, axis: int = -1):
    xp = xp_of(a)
    if xp is np:
        return np.argsort(a, axis=axis, kind="stable")
    return xp.argsort(a, axis=axis)  # CuPy's sort is a stable radix sort


def _accumulate(ufunc_name: str, a, axis: int):
    """``ufunc.accumulate`` along ``axis``. CuPy implements ``accumulate`` only for ``add``:
    there a Hillis-Steele scan runs ceil(log2 n) vectorised steps instead."""
    xp = xp_of(a)
    fn = getattr(xp, ufunc_name)
    if xp is np:
        return fn.accumulate(a, axis=axis)
    out = a.copy()
    n = a.shape[axis]
    lead = (slice(None),) * axis
    step = 1
    while step < n:
        out[lead + (slice(step, None),)] = fn(
            out[lead + (slice(step, None),)], out[lead + (slice(None, n - step),)]
        )
        step *= 2
    return out


def _out_shape(shape: tuple, dims: tuple, keepdim: bool) -> tuple:
    if keepdim:
        return _keep_shape(shape, dims)
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def _int_dim(dim, ndim: int):
    """``dim`` wrapped into ``[0, ndim)`` when it is a plain in-range Python int of a tensor
    with dims, else None (the caller then takes the general, validating path)."""
    if dim.__class__ is int and -ndim <= dim < ndim:
        return dim % ndim
    return None


_ROW_OFFSETS: dict = {}


def _row_offsets(rows: int, n: int):
    """``arange(rows) * n`` (read-only, cached): the flat index of each row's first element."""
    off = _ROW_OFFSETS.get((rows, n))
    if off is None:
        if len(_ROW_OFFSETS) > 256:
            _ROW_OFFSETS.clear()
        off = np.arange(0, rows * n, n, dtype=np.int64)
        off.flags.writeable = False
        _ROW_OFFSETS[(rows, n)] = off
    return off


def _arg_last(a, is_min: bool = False, keepdim: bool = True):
    """(values, indices) of the max (min) along the last dim of a non-empty NumPy array, in
    keepdim shape or without the last dim.

    NumPy's ``max`` reduction along a contiguous last axis runs a short loop per row (8-12 us
    on a (64, 128) float32 array) while ``argmax`` is vectorised (~1.5 us); gathering the
    values at those indices with one flat index is the same as ``take_along_axis`` (and as
    ``max``: argmax picks the first NaN, so a NaN row gives NaN) at a fraction of its cost.
    """
    idx = a.argmin(axis=-1) if is_min else a.argmax(axis=-1)
    if idx.dtype != _INT64:  # intp: int64 on 64-bit platforms
        idx = idx.astype(np.int64)
    # reshape(-1) is a view of a C-contiguous array and a C-order copy otherwise: the row
    # offsets are right either way
    if a.ndim == 2:
        vals = a.reshape(-1)[idx + _row_offsets(idx.size, a.shape[1])]
    else:
        flat = idx.reshape(-1) + _row_offsets(idx.size, a.shape[-1])
        vals = a.reshape(-1)[flat].reshape(idx.shape)
    if keepdim:
        keep = a.shape[:-1] + (1,)
        return vals.reshape(keep), idx.reshape(keep)
    return vals, idx


# --- sum / mean / nansum / nanmean ------------------------------------------------------------
class Sum(Node):
    def forward(self, a, dims=None, keepdim=False, dt=None):
        self.in_shape = a.shape
        self.dims = dims
        self.keepdim = keepdim
        if dt is None:
            kind = a.dtype.kind
            if kind in "biu":
                dt = np.int64
            elif kind == "V" or (kind == "f" and a.dtype.itemsize == 2):  # _low, inlined
                return a.sum(axis=dims, keepdims=keepdim, dtype=np.float32).astype(a.dtype)
        elif a.dtype != dt:
            a = a.astype(dt)
        # the method, not xp.sum: same kernel without the Python dispatch layer
        return a.sum(axis=dims, keepdims=keepdim, dtype=dt)

    def backward(self, g):
        return expand_reduced(g, self.in_shape, self.dims, self.keepdim)


def _mean_fast(a, n: int) -> bool:
    """Whether ``a.sum(...) / n`` is np.mean's result for the NumPy array ``a`` (n elements
    per mean), without np.mean's Python layer (~6 us): float32/64 with 0 < n <= 2**24.

    np.mean sums the same way and divides in float64, rounding once to float32; a float32
    division gives the same correctly rounded quotient (both operands are exact float32
    values and float64 has more than 2 * 24 + 2 bits).
    """
    return 0 < n <= 16777216 and a.dtype.kind == "f" and a.dtype.itemsize >= 4


class Mean(Node):
    def forward(self, a, dims=None, keepdim=False, dt=None):
        self.in_shape = a.shape
        self.dims = dims
        self.keepdim = keepdim
        n = self.n = _numel(a.shape, dims)
        if dt is not None and a.dtype != dt:
            a = a.astype(dt)
        if a.__class__ is _ndarray and _mean_fast(a, n):
            return a.sum(axis=dims, keepdims=keepdim) / n
        xp = xp_of(a)
        if n == 0:  # NaN like torch, without NumPy's "Mean of empty slice" warning
            shape = _out_shape(a.shape, dims, keepdim)
            return xp.full(shape, np.nan, dtype=a.dtype)
        if _low(a):
            return xp.mean(a.astype(np.float32), axis=dims, keepdims=keepdim).astype(a.dtype)
        return xp.mean(a, axis=dims, keepdims=keepdim)

    def backward(self, g):
        return expand_reduced(g, self.in_shape, self.dims, self.keepdim) / self.n


class NanSum(Node):
    def forward(self, a, dims=None, keepdim=False, dt=None):
        xp = xp_of(a)
        self.in_shape = a.shape
        self.dims = dims
        self.keepdim = keepdim
        if dt is not None and a.dtype != dt:
            a = a.astype(dt)
        if _is_float(a):
            self.keep = ~xp.isnan(a)
            a = xp.where(self.keep, a, a.dtype.type(0))
        else:
            self.keep = None
            dt = np.int64
        if _low(a):
            return xp.sum(a, axis=dims, keepdims=keepdim, dtype=np.float32).astype(a.dtype)
        return xp.sum(a, axis=dims, keepdims=keepdim, dtype=dt)

    def name(self):
        return "NansumBackward0"

    def backward(self, g):
        g = expand_reduced(g, self.in_shape, self.dims, self.keepdim)
        return g * _const(self.keep.astype(g._data.dtype))


class NanMean(Node):
    def forward(self, a, dims=None, keepdim=False, dt=None):
        xp = xp_of(a)
        self.in_shape = a.shape
        self.dims = dims
        self.keepdim = keepdim
        if dt is not None and a.dtype != dt:
            a = a.astype(dt)
        keep = ~xp.isnan(a)
        cnt = keep.sum(axis=dims, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.w = keep / cnt  # 1 / count where not NaN, used by backward
        acc = _f32(a)
        s = xp.where(keep, acc, acc.dtype.type(0)).sum(axis=dims, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (s / cnt).astype(a.dtype)
        return out if keepdim else out.reshape(_out_shape(a.shape, dims, False))

    def name(self):
        return "NanmeanBackward0"

    def backward(self, g):
        g = expand_reduced(g, self.in_shape, self.dims, self.keepdim)
        return g * _const(self.w.astype(g._data.dtype))


def sum(
    input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None, out=None
) -> Tensor:
    """Sum over ``dim`` (all dims when None); bool and integer inputs sum to int64.

    Args:
        input: the tensor to reduce.
        dim: a dim, a tuple/list of dims, or None for all.
        keepdim: keep the reduced dims with size 1.
        dtype: cast the input to this dtype before summing.

    Example:
        >>> import tocha.core as torch
        >>> torch.tensor([[1, 2], [3, 4]]).sum(dim=0)
        tensor([4, 6])
    """
    if axis is not None:
        dim = axis
    if dim.__class__ is bool:  # torch.sum(x, keepdim) is not an overload; treat like torch
        raise TypeError("sum(): argument 'dim' must be tuple of ints, not bool")
    if dtype is None and out is None:
        a = input._data
        # nothing to record (and a float32/64 NumPy array): Sum.forward's result, no node
        direct = (
            a.__class__ is _ndarray
            and not (input._rg and MODE.grad)
            and a.dtype.kind == "f"
            and a.dtype.itemsize != 2
        )
        if dim is None:  # the common full sum
            if direct:
                return wrap(a.sum(keepdims=keepdim))
            return Sum.apply(input, keepdim=keepdim)
        d = _int_dim(dim, a.ndim)
        if d is not None:  # one int dim: what _dims_arg returns, without its generic checks
            if direct:
                return wrap(a.sum(axis=d, keepdims=keepdim))
            return Sum.apply(input, dims=(d,), keepdim=keepdim)
    dims = _dims_arg(input, dim, "sum")
    return _write_out(Sum.apply(input, dims=dims, keepdim=keepdim, dt=_np_dtype(dtype)), out)


def _mean_check(input: Tensor, dtype, op: str) -> None:
    if dtype is None and input._data.dtype.kind not in "fcV":
        if op == "mean":
            raise RuntimeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {_tname(input._data)}"
            )
        raise RuntimeError(
            f"{op}(): expected input to have floating point or complex dtype but got "
            f"{_tname(input._data)}"
        )


def mean(
    input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None, out=None
) -> Tensor:
    """Arithmetic mean over ``dim``; the input must be floating or complex (or give ``dtype``).

    Example:
        >>> import tocha.core as torch
        >>> torch.tensor([[1., 2.], [3., 5.]]).mean(1)
        tensor([1.5000, 4.0000])
    """
    if axis is not None:
        dim = axis
    a = input._data
    if dtype is None and out is None and a.dtype.kind == "f":  # the common case
        if dim is None:
            dims = tuple(range(a.ndim))
        else:
            d = _int_dim(dim, a.ndim)
            dims = None if d is None else (d,)
        if dims is not None:
            if a.__class__ is _ndarray and not (input._rg and MODE.grad):
                n = _numel(a.shape, dims)
                if _mean_fast(a, n):  # nothing to record: Mean.forward's result, no node
                    return wrap(a.sum(axis=dims, keepdims=keepdim) / n)
            return Mean.apply(input, dims=dims, keepdim=keepdim)
    _mean_check(input, dtype, "mean")
    dims = _dims_arg(input, dim, "mean")
    return _write_out(Mean.apply(input, dims=dims, keepdim=keepdim, dt=_np_dtype(dtype)), out)


def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """Sum treating NaN as zero.

    Example:
        >>> import tocha.core as torch
        >>> torch.nansum(torch.tensor([1., float('nan'), 2.]))
        tensor(3.)
    """
    dims = _dims_arg(input, dim, "nansum")
    return _write_out(NanSum.apply(input, dims=dims, keepdim=keepdim, dt=_np_dtype(dtype)), out)


def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """Mean of the non-NaN elements (NaN where all are NaN).

    Example:
        >>> import tocha.core as torch
        >>> torch.nanmean(torch.tensor([1., float('nan'), 2.]))
        tensor(1.5000)
    """
    _mean_check(input, dtype, "nanmean")
    dims = _dims_arg(input, dim, "nanmean")
    return _write_out(NanMean.apply(input, dims=dims, keepdim=keepdim, dt=_np_dtype(dtype)), out)


# --- prod -------------------------------------------------------------------------------------
class Prod(Node):
    save_inputs = (0,)
    save_outputs = (0,)

    def forward(self, a, dims=None, keepdim=False, dt=None):
        xp = xp_of(a)
        self.in_shape = a.shape
        self.dims = dims
        self.keepdim = keepdim
        self.dt = dt
        if dt is None:
            if a.dtype.kind in "biu":
                dt = np.int64
            elif _low(a):
                return xp.prod(a, axis=dims, keepdims=keepdim, dtype=np.float32).astype(a.dtype)
        elif a.dtype != dt:
            a = a.astype(dt)
        return xp.prod(a, axis=dims, keepdims=keepdim, dtype=dt)

    def backward(self, g):
        (x,) = self.saved_inputs
        (out,) = self.saved_outputs
        dims, keepdim, shape = self.dims, self.keepdim, self.in_shape
        g = expand_reduced(g, shape, dims, keepdim)
        xd = x._data
        zero = xd == 0
        if not bool(zero.any()):
            return g * expand_reduced(out, shape, dims, keepdim) / x
        # d prod / dx_i = product of the others. With zeros that is (product of the non-zero
        # elements) x (product of the zeros other than x_i); writing the zeros' product with x
        # itself (value 0, derivative 1) keeps the double backward right for one or two zeros.
        dt = xd.dtype
        zf = zero.astype(dt)
        nz = zero.sum(axis=dims, keepdims=True)
        one_m = _const(1 - zf)
        x_safe = x * one_m + _const(zf)
        q = Prod.apply(x_safe, dims=dims, keepdim=True, dt=self.dt)
        s = (x * _const(zf)).sum(dims, keepdim=True)
        n0, n1, n2 = ((nz == k).astype(dt) for k in (0, 1, 2))
        z = _const(zf * n1 + (1 - zf) * n0) + _const(zf * n2) * (s - x) + _const((1 - zf) * n1) * s
        return g * (q / x_safe) * z


def prod(
    input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None, out=None
) -> Tensor:
    """Product of the elements (over one ``dim``, or all); integer inputs give int64.

    The gradient is right with zeros in the input (one zero: the product of the others at that
    position; two or more: zero), like torch.

    Example:
        >>> import tocha.core as torch
        >>> torch.prod(torch.tensor([[1., 2.], [3., 4.]]), 1)
        tensor([ 2., 12.])
    """
    if axis is not None:
        dim = axis
    if dim is None:
        dims = tuple(range(input._data.ndim))
        keepdim = False
    else:
        if isinstance(dim, (tuple, list, bool)):
            raise TypeError(
                f"prod(): argument 'dim' (position 2) must be int, not {type(dim).__name__}"
            )
        dims = (norm_dim(dim, input._data.ndim, "prod"),) if input._data.ndim else ()
    return _write_out(Prod.apply(input, dims=dims, keepdim=keepdim, dt=_np_dtype(dtype)), out)


# --- max / min / amax / amin / argmax / argmin / aminmax ---------------------------------------
def _amax_last(a, dims: tuple) -> bool:
    """Whether amax / amin of the NumPy array ``a`` over ``dims`` is over its last dim only
    (of several), non-empty, real: then argmax + gather beats NumPy's per-row max loop
    (see _arg_last)."""
    return (
        len(dims) == 1
        and dims[0] == a.ndim - 1
        and a.ndim > 1
        and a.size > 0
        and a.dtype.kind in "fiu"
    )


def _amax_np(a, dims: tuple, keepdim: bool, is_min: bool):
    """amax / amin of the array ``a`` over ``dims`` (AMax's forward)."""
    if a.__class__ is _ndarray:
        if _amax_last(a, dims):
            return _arg_last(a, is_min, keepdim)[0]
        # what np.amax / np.amin run, without their Python wrapper
        return (np.minimum if is_min else np.maximum).reduce(a, axis=dims, keepdims=keepdim)
    xp = xp_of(a)
    fn = xp.amin if is_min else xp.amax
    return fn(a, axis=dims, keepdims=keepdim)


class AMax(Node):
    """amax / amin (and max / min without dim): the gradient is shared evenly among ties."""

    save_inputs = (0,)
    save_outputs = (0,)
    is_min = False

    def forward(self, a, dims=(), keepdim=False):
        self.dims = dims
        self.keepdim = keepdim
        return _amax_np(a, dims, keepdim, self.is_min)

    def name(self):
        return "AmaxBackward0"

    def backward(self, g):
        (x,) = self.saved_inputs
        (out,) = self.saved_outputs
        xd = x._data
        val = out._data if self.keepdim else out._data.reshape(_keep_shape(xd.shape, self.dims))
        return _even_ties(g, xd, val, self.dims, self.keepdim)


class AMin(AMax):
    is_min = True

    def name(self):
        return "AminBackward0"


class MaxAll(AMax):
    def name(self):
        return "MaxBackward1"


class MinAll(AMin):
    def name(self):
        return "MinBackward1"


class MaxDim(Node):
    """max / min along one dim: (values, indices); the gradient goes to the index."""

    nondiff_outputs = (1,)
    is_min = False

    def forward(self, a, dim=0, keepdim=False):
        xp = xp_of(a)
        self.in_shape = a.shape
        self.dim = dim
        self.keepdim = keepdim
        if a.ndim == 0:
            self.idx = xp.zeros((), dtype=np.int64)
            return a.copy(), self.idx
        if a.__class__ is _ndarray and dim == a.ndim - 1:
            # the common last dim: one flat gather instead of take_along_axis (~3x cheaper)
            val, idx = _arg_last(a, self.is_min)
            self.idx = idx
            if not keepdim:
                shape = a.shape[:-1]
                val, idx = val.reshape(shape), idx.reshape(shape)
            return val, idx
        fn = xp.argmin if self.is_min else xp.argmax
        idx = fn(a, axis=dim, keepdims=True).astype(np.int64)
        self.idx = idx
        val = xp.take_along_axis(a, idx, axis=dim)
        if not keepdim:
            val, idx = val.squeeze(dim), idx.squeeze(dim)
        return val, idx

    def name(self):
        return "MinBackward0" if self.is_min else "MaxBackward0"

    def backward(self, g, g_idx=None):
        return _index_backward(g, self.idx, self.in_shape, self.dim, self.keepdim)


class MinDim(MaxDim):
    is_min = True


def _reduce_dims_nonempty(input: Tensor, dim, op: str, sep: str = "():") -> tuple:
    a = input._data
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        if a.size == 0:
            raise RuntimeError(
                f"{op}(): Expected reduction dim to be specified for input.numel() == 0. "
                "Specify the reduction dim with the 'dim' argument."
            )
        return tuple(range(a.ndim))
    dims = _dims_arg(input, dim, op)
    if a.ndim:
        _check_nonempty_dims(a, dims, op, sep)
    return dims


def _max_min(input, dim, keepdim, other, op: str):
    if isinstance(dim, Tensor) or other is not None:
        from . import pointwise

        fn = pointwise.minimum if op == "min" else pointwise.maximum
        return fn(input, other if other is not None else dim)
    if dim is None:
        dims = _reduce_dims_nonempty(input, None, op)
        if input._data.__class__ is _ndarray and not (input._rg and MODE.grad):
            return wrap(_amax_np(input._data, dims, False, op == "min"))  # no node to record
        node = MinAll if op == "min" else MaxAll
        return node.apply(input, dims=dims, keepdim=False)
    a = input._data
    d = _int_dim(dim, a.ndim)
    if d is None or not a.shape[d]:  # validate (and raise torch's errors) the general way
        if isinstance(dim, (tuple, list, bool)):
            raise TypeError(
                f"{op}(): argument 'dim' (position 2) must be int, not {type(dim).__name__}"
            )
        d = norm_dim(dim, a.ndim, op)
        if a.ndim:
            _check_nonempty_dims(a, (d,), op)
    if a.__class__ is _ndarray and d == a.ndim - 1 and not (input._rg and MODE.grad):
        # nothing to record: MaxDim.forward's result, without a node
        values, indices = _arg_last(a, op == "min", keepdim)
        return (_min_t if op == "min" else _max_t)(wrap(values), wrap(indices))
    node = MinDim if op == "min" else MaxDim
    values, indices = node.apply(input, dim=d, keepdim=keepdim)
    return (_min_t if op == "min" else _max_t)(values, indices)


def max(input: Tensor, dim=None, keepdim: bool = False, *, other=None, axis=None, out=None):
    """The largest element; with ``dim``, ``(values, indices)`` along it; with a tensor, maximum.

    Overloads as torch: ``max(input)`` -> tensor; ``max(input, dim, keepdim=False)`` ->
    ``torch.return_types.max(values, indices)``; ``max(input, other)`` -> ``maximum``.
    Without ``dim`` the gradient is shared evenly among tied maxima; with ``dim`` it goes to
    the returned index.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.tensor([[1., 5.], [4., 2.]])
        >>> x.max()
        tensor(5.)
        >>> x.max(dim=1).indices
        tensor([1, 0])
    """
    if axis is not None:
        dim = axis
    return _write_out(_max_min(input, dim, keepdim, other, "max"), out)


def min(input: Tensor, dim=None, keepdim: bool = False, *, other=None, axis=None, out=None):
    """The smallest element; with ``dim``, ``(values, indices)``; with a tensor, minimum.

    Example:
        >>> import tocha.core as torch
        >>> torch.min(torch.tensor([[1., 5.], [4., 2.]]), 0)
        torch.return_types.min(
        values=tensor([1., 2.]),
        indices=tensor([0, 1]))
    """
    if axis is not None:
        dim = axis
    return _write_out(_max_min(input, dim, keepdim, other, "min"), out)


def amax(input: Tensor, dim=(), keepdim: bool = False, *, axis=None, out=None) -> Tensor:
    """The maximum over ``dim`` (a dim or tuple; all when empty); gradient split among ties.

    Example:
        >>> import tocha.core as torch
        >>> torch.amax(torch.tensor([[1., 5.], [4., 2.]]), dim=0)
        tensor([4., 5.])
    """
    if axis is not None:
        dim = axis
    a = input._data
    d = _int_dim(dim, a.ndim)
    if d is not None and a.shape[d] and out is None:  # one valid dim: no checks
        if a.__class__ is _ndarray and not (input._rg and MODE.grad):
            return wrap(_amax_np(a, (d,), keepdim, False))  # nothing to record: no node
        return AMax.apply(input, dims=(d,), keepdim=keepdim)
    dims = _reduce_dims_nonempty(input, dim, "amax")
    return _write_out(AMax.apply(input, dims=dims, keepdim=keepdim), out)


def amin(input: Tensor, dim=(), keepdim: bool = False, *, axis=None, out=None) -> Tensor:
    """The minimum over ``dim`` (a dim or tuple; all when empty); gradient split among ties."""
    if axis is not None:
        dim = axis
    a = input._data
    d = _int_dim(dim, a.ndim)
    if d is not None and a.shape[d] and out is None:  # one valid dim: no checks
        if a.__class__ is _ndarray and not (input._rg and MODE.grad):
            return wrap(_amax_np(a, (d,), keepdim, True))  # nothing to record: no node
        return AMin.apply(input, dims=(d,), keepdim=keepdim)
    dims = _reduce_dims_nonempty(input, dim, "amin")
    return _write_out(AMin.apply(input, dims=dims, keepdim=keepdim), out)


def aminmax(input: Tensor, *, dim=None, keepdim: bool = False, out=None):
    """``torch.return_types.aminmax(min, max)`` over ``dim`` (or all elements).

    Example:
        >>> import tocha.core as torch
        >>> torch.aminmax(torch.tensor([3., 1., 4.]))
        torch.return_types.aminmax(
        min=tensor(1.),
        max=tensor(4.))
    """
    a = input._data
    if dim is None:
        if a.size == 0:
            raise RuntimeError(
                "aminmax(): cannot compute aminmax over an empty dimension as the operation has "
                "no identity."
            )
        dims = tuple(range(a.ndim))
    else:
        d = norm_dim(dim, a.ndim, "aminmax")
        dims = (d,) if a.ndim else ()
        if a.ndim:
            _check_nonempty_dims(a, dims, "aminmax", ":")
    return _write_out(
        _aminmax_t(
            AMin.apply(input, dims=dims, keepdim=keepdim),
            AMax.apply(input, dims=dims, keepdim=keepdim),
        ),
        out,
    )


def _arg(input: Tensor, dim, keepdim: bool, op: str) -> Tensor:
    a = input._data
    if a.dtype.kind == "b":
        raise RuntimeError(f"{op}(): does not support bool input")
    xp = xp_of(a)
    fn = xp.argmin if op == "argmin" else xp.argmax
    if dim is None:
        if a.size == 0:
            raise IndexError(
                f"{op}(): Expected reduction dim to be specified for input.numel() == 0."
            )
        res = fn(a.reshape(-1))
        if keepdim:
            res = xp.asarray(res).reshape((1,) * a.ndim)
        return wrap(xp.asarray(res, dtype=np.int64))
    d = norm_dim(dim, a.ndim, op)
    if a.ndim == 0:
        return wrap(xp.zeros((), dtype=np.int64))
    _check_nonempty_dims(a, (d,), op)
    return wrap(fn(a, axis=d, keepdims=keepdim).astype(np.int64))


def argmax(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, out=None) -> Tensor:
    """Index of the largest element (of the flattened input when ``dim`` is None).

    Example:
        >>> import tocha.core as torch
        >>> torch.argmax(torch.tensor([[1., 5.], [4., 2.]]), dim=1)
        tensor([1, 0])
    """
    if axis is not None:
        dim = axis
    return _write_out(_arg(input, dim, keepdim, "argmax"), out)


def argmin(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, out=None) -> Tensor:
    """Index of the smallest element (of the flattened input when ``dim`` is None)."""
    if axis is not None:
        dim = axis
    return _write_out(_arg(input, dim, keepdim, "argmin"), out)


# --- var / std --------------------------------------------------------------------------------
class Var(Node):
    save_inputs = (0,)

    def forward(self, a, dims=(), correction=1, keepdim=False):
        self.dims, self.keepdim, self.in_shape = dims, keepdim, a.shape
        n = _numel(a.shape, dims)
        dof = self.dof = _pymax(0, n - correction)
        if (
            a.__class__ is _ndarray
            and a.ndim
            and correction.__class__ is int
            and 0 < dof <= 16777216
            and n <= 16777216
            and a.dtype.kind == "f"
            and a.dtype.itemsize >= 4
        ):
            # np.var's own steps without its Python layer: sum / n, subtract, square in place,
            # sum, / dof. Its float64 divisions by the exact counts round to the same float32
            # as float32 divisions (see Mean.forward).
            x = np.subtract(a, a.sum(axis=dims, keepdims=True) / n)
            np.square(x, out=x)
            return x.sum(axis=dims, keepdims=keepdim) / dof
        xp = xp_of(a)
        if self.dof <= 0:
            warnings.warn(
                "var(): degrees of freedom is <= 0. Correction should be strictly less than the "
                "reduction factor (input numel divided by output numel).",
                UserWarning,
                stacklevel=4,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                with np.errstate(invalid="ignore", divide="ignore"):
                    res = xp.var(_f32(a), axis=dims, ddof=correction, keepdims=keepdim)
        else:
            res = xp.var(_f32(a), axis=dims, ddof=correction, keepdims=keepdim)
        return res.astype(a.dtype) if _low(a) else res

    def backward(self, g):
        (x,) = self.saved_inputs
        g = expand_reduced(g, self.in_shape, self.dims, self.keepdim)
        return g * (x - x.mean(self.dims, keepdim=True)) * (2.0 / self.dof if self.dof else _INF)


class Std(Var):
    save_outputs = (0,)

    def forward(self, a, dims=(), correction=1, keepdim=False):
        v = Var.forward(self, a, dims, correction, keepdim)
        return xp_of(v).sqrt(v)

    def backward(self, g):
        (x,) = self.saved_inputs
        (out,) = self.saved_outputs
        od = out._data
        zero = od == 0
        # torch: the gradient of std is 0 where std is 0 (a constant slice), not NaN
        safe = out + _const(zero.astype(od.dtype))
        g = g / safe * _const((~zero).astype(od.dtype))
        g = expand_reduced(g, self.in_shape, self.dims, self.keepdim)
        return g * (x - x.mean(self.dims, keepdim=True)) * (1.0 / self.dof if self.dof else _INF)


def _var_args(input: Tensor, dim, unbiased, keepdim, correction, op: str):
    if isinstance(dim, bool):  # var(input, unbiased)
        if unbiased is not None:
            raise TypeError(f"{op}(): received an invalid combination of arguments")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise RuntimeError(f"{op}: can't specify both unbiased and correction")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    a = input._data
    if a.dtype.kind not in "fcV":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dims = _dims_arg(input, dim, op)
    return dims, correction, keepdim


def _var_fast_dims(input: Tensor, dim, unbiased, correction, out):
    """The dims of the common ``var(x)`` / ``var(x, int)`` call on a float tensor (default
    correction, no ``out``), or None: then ``_var_args`` parses and checks everything."""
    if unbiased is not None or correction is not None or out is not None:
        return None
    a = input._data
    if a.dtype.kind != "f":
        return None
    if dim is None:
        return tuple(range(a.ndim))
    d = _int_dim(dim, a.ndim)
    return None if d is None else (d,)


def _var_std(node, op: str, input: Tensor, dim, unbiased, keepdim, correction, out) -> Tensor:
    """var and std (``node`` Var or Std): the common call straight to the node, anything else
    through the full argument checks."""
    dims = _var_fast_dims(input, dim, unbiased, correction, out)
    if dims is not None:
        return node.apply(input, dims=dims, correction=1, keepdim=keepdim)
    dims, c, keepdim = _var_args(input, dim, unbiased, keepdim, correction, op)
    return _write_out(node.apply(input, dims=dims, correction=c, keepdim=keepdim), out)


def _with_mean(node, op: str, input: Tensor, dim, unbiased, keepdim, correction, out) -> tuple:
    """var_mean and std_mean: ``(node(input, ...), mean(input, ...))`` over the same dims."""
    dims, c, keepdim = _var_args(input, dim, unbiased, keepdim, correction, op)
    return _write_out(
        (
            node.apply(input, dims=dims, correction=c, keepdim=keepdim),
            Mean.apply(input, dims=dims, keepdim=keepdim),
        ),
        out,
    )


def var(
    input: Tensor,
    dim=None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction=None,
    axis=None,
    out=None,
) -> Tensor:
    """Variance over ``dim`` with Bessel's ``correction`` (default 1; ``unbiased`` is legacy).

    Example:
        >>> import tocha.core as torch
        >>> torch.var(torch.tensor([1., 2., 4.]), correction=0)
        tensor(1.5556)
    """
    if axis is not None:
        dim = axis
    return _var_std(Var, "var", input, dim, unbiased, keepdim, correction, out)


def std(
    input: Tensor,
    dim=None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction=None,
    axis=None,
    out=None,
) -> Tensor:
    """Standard deviation over ``dim`` (``correction`` as in :func:`var`).

    Example:
        >>> import tocha.core as torch
        >>> torch.std(torch.tensor([1., 2., 3.]))
        tensor(1.)
    """
    if axis is not None:
        dim = axis
    return _var_std(Std, "std", input, dim, unbiased, keepdim, correction, out)


def var_mean(
    input: Tensor,
    dim=None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction=None,
    out=None,
) -> tuple:
    """``(var(input, ...), mean(input, ...))`` as a tuple.

    Example:
        >>> import tocha.core as torch
        >>> torch.var_mean(torch.tensor([1., 3.]))
        (tensor(2.), tensor(2.))
    """
    return _with_mean(Var, "var_mean", input, dim, unbiased, keepdim, correction, out)


def std_mean(
    input: Tensor,
    dim=None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction=None,
    out=None,
) -> tuple:
    """``(std(input, ...), mean(input, ...))`` as a tuple."""
    return _with_mean(Std, "std_mean", input, dim, unbiased, keepdim, correction, out)


# --- norm -------------------------------------------------------------------------------------
class VectorNorm(Node):
    save_inputs = (0,)
    save_outputs = (0,)

    def forward(self, a, p=2.0, dims=(), keepdim=False):
        xp = xp_of(a)
        self.p, self.dims, self.keepdim = p, dims, keepdim
        low = _low(a)
        x = xp.abs(_f32(a))
        if p == 2:
            res = xp.sqrt((x * x).sum(axis=dims, keepdims=keepdim))
        elif p == 1:
            res = x.sum(axis=dims, keepdims=keepdim)
        elif p == _INF:
            res = x.max(axis=dims, keepdims=keepdim)
        elif p == -_INF:
            res = x.min(axis=dims, keepdims=keepdim)
        elif p == 0:
            res = (x != 0).sum(axis=dims, keepdims=keepdim).astype(x.dtype)
        else:
            with np.errstate(divide="ignore", over="ignore"):
                res = (x**p).sum(axis=dims, keepdims=keepdim) ** (1.0 / p)
        res = xp.asarray(res)
        if low:
            res = res.astype(a.dtype)
        elif res.dtype != x.dtype:
            res = res.astype(x.dtype)
        return res

    def name(self):
        return "LinalgVectorNormBackward0"

    def backward(self, g):
        (x,) = self.saved_inputs
        (out,) = self.saved_outputs
        p, dims, keepdim = self.p, self.dims, self.keepdim
        xd = x._data
        xp = xp_of(xd)
        shape = xd.shape
        if p == 0:
            from .creation import zeros_like

            return zeros_like(x)
        sign = xp.sign(xd)
        if p == 1:
            return expand_reduced(g, shape, dims, keepdim) * _const(sign)
        od = out._data if keepdim else out._data.reshape(_keep_shape(shape, dims))
        if p in (_INF, -_INF):
            m = xp.abs(xd) == od
            w = (sign * m / m.sum(axis=dims, keepdims=True)).astype(xd.dtype)
            return expand_reduced(g, shape, dims, keepdim) * _const(w)
        o = out if keepdim else out.reshape(od.shape)
        ozero = od == 0
        # torch's subgradient: 0 where the norm is 0 (and, for p < 1, where x is 0)
        o_safe = o + _const(ozero.astype(od.dtype))
        scale = expand_reduced(g, shape, dims, keepdim) * _const((~ozero).astype(od.dtype))
        if p == 2:
            return x * (scale / o_safe)
        xzero = xd == 0
        absx = x * _const(sign) + _const(xzero.astype(xd.dtype))
        return _const(sign) * absx ** (p - 1) * (scale / o_safe ** (p - 1))


def _vector_norm(input: Tensor, p, dim, keepdim: bool, dtype) -> Tensor:
    if dtype is not None:
        input = input.to(_dtype.to_dtype(dtype))
    a = input._data
    if a.dtype.kind not in "fcV":
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. "
            f"Got {_tname(a)}"
        )
    if isinstance(dim, int) and not isinstance(dim, bool):
        dim = (dim,)
    dims = _dims_arg(input, dim, "linalg.vector_norm")
    p = float(p)
    if p < 0 and _numel(a.shape, dims) == 0 or (p == _INF and a.size == 0):
        raise RuntimeError(
            f"linalg.vector_norm cannot compute the {p:g} norm on an empty tensor because the "
            "operation does not have an identity"
        )
    return VectorNorm.apply(input, p=p, dims=dims, keepdim=keepdim)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, out=None, dtype=None) -> Tensor:
    """The matrix or vector norm (torch.norm): ``p`` in 'fro', 'nuc', inf, -inf, 0, 1, 2, any
    float; ``dim`` a dim, a tuple of dims, or None for all elements.

    The 2-norm's gradient at 0 is 0 (the subgradient torch uses).

    Example:
        >>> import tocha.core as torch
        >>> torch.norm(torch.tensor([3., 4.]))
        tensor(5.)
        >>> torch.norm(torch.tensor([[1., -2.], [3., 4.]]), p=1, dim=1)
        tensor([3., 7.])
    """
    nd = input._data.ndim
    if isinstance(p, str):
        if p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2):
            return _write_out(_vector_norm(input, 2.0, dim, keepdim, dtype), out)
        if p not in ("fro", "nuc"):
            raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
        dims = tuple(range(nd)) if dim is None else (dim,) if isinstance(dim, int) else dim
        if nd < 2:
            raise RuntimeError(
                "linalg.matrix_norm: The input tensor A must have at least 2 dimensions."
            )
        if len(dims) != 2:
            raise RuntimeError(
                f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dims))}"
            )
        from .. import linalg

        return _write_out(linalg.matrix_norm(input, p, dims, keepdim, dtype=dtype), out)
    return _write_out(_vector_norm(input, 2.0 if p is None else p, dim, keepdim, dtype), out)


# --- logsumexp --------------------------------------------------------------------------------
class LogSumExp(Node):
    save_inputs = (0,)
    save_outputs = (0,)

    def forward(self, a, dims=(), keepdim=False):
        self.dims, self.keepdim = dims, keepdim
        if (
            a.__class__ is _ndarray
            and len(dims) == 1
            and dims[0] == a.ndim - 1
            and a.ndim > 1
            and a.size
            and a.dtype.kind == "f"
            and a.dtype.itemsize >= 4
        ):
            m = _arg_last(a)[0]  # the max along the last dim, cheaply (see _arg_last)
            if np.isfinite(m).all():
                # the same steps as below, in one buffer; with a finite max every sum is
                # >= 1 (exp(0) at the max), so no log(0) to silence
                t = np.subtract(a, m)
                np.exp(t, out=t)
                s = t.sum(axis=dims, keepdims=True)
                np.log(s, out=s)
                s += m
                return s if keepdim else s.reshape(a.shape[:-1])
        xp = xp_of(a)
        x = _f32(a)
        if x.size == 0 or not dims:
            m = xp.zeros(_keep_shape(x.shape, dims), dtype=x.dtype) if x.size == 0 else x
        else:
            m = xp.amax(x, axis=dims, keepdims=True)
        # an infinite max would give inf - inf = NaN in the shift: shift by 0 there instead
        m = xp.where(xp.isfinite(m), m, x.dtype.type(0))
        with np.errstate(divide="ignore"):
            res = xp.log(xp.exp(x - m).sum(axis=dims, keepdims=True)) + m
        if not keepdim:
            res = res.reshape(_out_shape(x.shape, dims, False))
        return res.astype(a.dtype) if _low(a) else res

    def name(self):
        return "LogsumexpBackward0"

    def backward(self, g):
        (x,) = self.saved_inputs
        (out,) = self.saved_outputs
        shape = x._data.shape
        o = out if self.keepdim else out.reshape(_keep_shape(shape, self.dims))
        return expand_reduced(g, shape, self.dims, self.keepdim) * (x - o).exp()


def logsumexp(input: Tensor, dim, keepdim: bool = False, *, axis=None, out=None) -> Tensor:
    """``log(sum(exp(input)))`` over ``dim``, computed stably (shifted by the maximum).

    Example:
        >>> import tocha.core as torch
        >>> torch.logsumexp(torch.tensor([1000., 1000.]), 0)
        tensor(1000.6932)
    """
    if axis is not None:
        dim = axis
    if out is None and input._data.dtype.kind == "f":
        d = _int_dim(dim, input._data.ndim)
        if d is not None:
            return LogSumExp.apply(input, dims=(d,), keepdim=keepdim)
    dims = _dims_arg(input, dim, "logsumexp")
    if input._data.dtype.kind in "biu":
        input = input.to(_dtype.get_default_dtype())
    return _write_out(LogSumExp.apply(input, dims=dims, keepdim=keepdim), out)


# --- cumulative ops ---------------------------------------------------------------------------
def _cum_forward(fn, a, dim: int, reverse: bool):
    if a.ndim == 0:
        return fn(a.reshape(1), 0).reshape(())
    if reverse:
        return _flip(fn(_flip(a, dim), dim), dim)
    return fn(a, dim)


class Cumsum(Node):
    def forward(self, a, dim=0, reverse=False, dt=None):
        xp = xp_of(a)
        self.dim, self.reverse = dim, reverse
        if dt is None:
            dt = np.int64 if a.dtype.kind in "biu" else None
        if dt is not None and a.dtype != dt:
            a = a.astype(dt)
        out_dt = a.dtype
        res = _cum_forward(lambda v, d: xp.cumsum(_f32(v), axis=d), a, dim, reverse)
        return res.astype(out_dt, copy=False)

    def backward(self, g):
        return Cumsum.apply(g, dim=self.dim, reverse=not self.reverse)


def _rcumsum(t: Tensor, dim: int) -> Tensor:
    return Cumsum.apply(t, dim=dim, reverse=True)


class Cumprod(Node):
    save_inputs = (0,)
    save_outputs = (0,)

    def forward(self, a, dim=0, dt=None):
        xp = xp_of(a)
        self.dim = dim
        if dt is None:
            dt = np.int64 if a.dtype.kind in "biu" else None
        if dt is not None and a.dtype != dt:
            a = a.astype(dt)
        out_dt = a.dtype
        res = _cum_forward(lambda v, d: xp.cumprod(_f32(v), axis=d), a, dim, False)
        return res.astype(out_dt, copy=False)

    def backward(self, g):
        (x,) = self.saved_inputs
        (out,) = self.saved_outputs
        d = self.dim
        xd = x._data
        if xd.ndim == 0:
            return g
        zero = xd == 0
        if not bool(zero.any()):
            return _rcumsum(g * out, d) / x
        # With zeros (per slice, k = the first zero): before k the usual formula; at k the
        # products of the elements other than x_k; after k, x_k times the same sums (value 0,
        # but it keeps the derivative in x_k for double backward).
        xp = xp_of(xd)
        dt = xd.dtype
        nz = xp.cumsum(zero, axis=d)
        first = (zero & (nz == 1)).astype(dt)
        before = (nz == 0).astype(dt)
        after_incl = (nz >= 1).astype(dt)
        after = after_incl - first
        zf = zero.astype(dt)
        x_safe = x * _const(1 - zf) + _const(zf)
        x1 = x * _const(1 - first) + _const(first)
        c1 = Cumprod.apply(x1, dim=d)
        gc = g * c1
        xk = (x * _const(first)).sum(d, keepdim=True)
        term_before = _rcumsum(g * out, d) / x_safe * _const(before)
        term_k = (gc * _const(after_incl)).sum(d, keepdim=True) * _const(first)
        term_after = xk * _rcumsum(gc, d) / x_safe * _const(after)
        return term_before + term_k + term_after


class LogCumSumExp(Node):
    save_inputs = (0,)
    save_outputs = (0,)

    def forward(self, a, dim=0, reverse=False):
        self.dim, self.reverse = dim, reverse
        res = _cum_forward(lambda v, d: _accumulate("logaddexp", _f32(v), d), a, dim, reverse)
        return res.astype(a.dtype, copy=False)

    def name(self):
        return "LogcumsumexpBackward0"

    def backward(self, g):
        (x,) = self.saved_inputs
        (out,) = self.saved_outputs
        d = self.dim
        if x._data.ndim == 0:
            return g
        # grad_i = sum_{j>=i} g_j exp(x_i - out_j), every exponent <= 0. Split g by sign and
        # sum in log space with the reversed logcumsumexp; a zero part is a large negative
        # log (not -inf) so the double backward stays finite.
        gd = g._data
        big = gd.dtype.type(-1e4)
        res = None
        for sgn, mask in ((1.0, gd > 0), (-1.0, gd < 0)):
            mf = mask.astype(gd.dtype)
            lg = (g * (sgn * _const(mf)) + _const(1 - mf)).log() + _const((1 - mf) * big)
            part = (x + LogCumSumExp.apply(lg - out, dim=d, reverse=not self.reverse)).exp()
            res = part if res is None else res - part
        return res


def _cum_args(input: Tensor, dim, op: str) -> int:
    return norm_dim(dim, input._data.ndim, op)


def cumsum(input: Tensor, dim: int, *, dtype=None, axis=None, out=None) -> Tensor:
    """Cumulative sum along ``dim``; integer and bool inputs give int64.

    Example:
        >>> import tocha.core as torch
        >>> torch.cumsum(torch.tensor([1, 2, 3]), 0)
        tensor([1, 3, 6])
    """
    if axis is not None:
        dim = axis
    d = _cum_args(input, dim, "cumsum")
    return _write_out(Cumsum.apply(input, dim=d, reverse=False, dt=_np_dtype(dtype)), out)


def cumprod(input: Tensor, dim: int, *, dtype=None, axis=None, out=None) -> Tensor:
    """Cumulative product along ``dim``; the gradient is right with zeros in the input.

    Example:
        >>> import tocha.core as torch
        >>> torch.cumprod(torch.tensor([1., 2., 3.]), 0)
        tensor([1., 2., 6.])
    """
    if axis is not None:
        dim = axis
    d = _cum_args(input, dim, "cumprod")
    return _write_out(Cumprod.apply(input, dim=d, dt=_np_dtype(dtype)), out)


def logcumsumexp(input: Tensor, dim: int, *, axis=None, out=None) -> Tensor:
    """``log(cumsum(exp(input)))`` along ``dim``, computed stably.

    Example:
        >>> import tocha.core as torch
        >>> torch.logcumsumexp(torch.tensor([0., 0.]), 0)
        tensor([0.0000, 0.6931])
    """
    if axis is not None:
        dim = axis
    d = _cum_args(input, dim, "logcumsumexp")
    if input._data.dtype.kind not in "fcV":
        raise NotImplementedError(
            f"\"logcumsumexp_out_cpu\" not implemented for '{_tname(input._data)}'"
        )
    return _write_out(LogCumSumExp.apply(input, dim=d, reverse=False), out)


class CumMax(Node):
    nondiff_outputs = (1,)
    is_min = False

    def forward(self, a, dim=0):
        xp = xp_of(a)
        self.dim = dim
        if a.ndim == 0:
            self.idx = xp.zeros((), dtype=np.int64)
            return a.copy(), self.idx
        ufunc = "minimum" if self.is_min else "maximum"
        if a.dtype.kind == "b":
            vals = _accumulate("logical_and" if self.is_min else "logical_or", a, dim)
        else:
            vals = _accumulate(ufunc, a, dim)
        n = a.shape[dim]
        ar = xp.arange(n).reshape((n,) + (1,) * (a.ndim - dim - 1))
        # the latest position that reached the running extreme (torch takes the last tie);
        # once a NaN is seen it is the extreme, and a later NaN takes over its index
        hit = a == vals
        if _is_float(a):
            hit = hit | xp.isnan(a)
        idx = _accumulate("maximum", xp.where(hit, ar, 0), dim).astype(np.int64)
        self.idx = idx
        return vals, idx

    def name(self):
        return "CumminBackward0" if self.is_min else "CummaxBackward0"

    def backward(self, g, g_idx=None):
        if g._data.ndim == 0:
            return g
        from .creation import zeros_like

        return zeros_like(g).scatter_add(self.dim, wrap(self.idx), g)


class CumMin(CumMax):
    is_min = True


def cummax(input: Tensor, dim: int, *, axis=None, out=None):
    """Running maximum along ``dim``: ``torch.return_types.cummax(values, indices)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.cummax(torch.tensor([1., 3., 2.]), 0).values
        tensor([1., 3., 3.])
    """
    if axis is not None:
        dim = axis
    d = _cum_args(input, dim, "cummax")
    return _write_out(_cummax_t(*CumMax.apply(input, dim=d)), out)


def cummin(input: Tensor, dim: int, *, axis=None, out=None):
    """Running minimum along ``dim``: ``torch.return_types.cummin(values, indices)``."""
    if axis is not None:
        dim = axis
    d = _cum_args(input, dim, "cummin")
    return _write_out(_cummin_t(*CumMin.apply(input, dim=d)), out)


# --- all / any / count_nonzero ----------------------------------------------------------------
def _logical(input: Tensor, dim, keepdim: bool, op: str) -> Tensor:
    a = input._data
    xp = xp_of(a)
    dims = _dims_arg(input, dim, op)
    fn = xp.all if op == "all" else xp.any
    res = xp.asarray(fn(a, axis=dims, keepdims=keepdim))
    if a.dtype == np.uint8:  # torch keeps uint8 for all/any of uint8
        res = res.astype(np.uint8)
    return wrap(res)


def all(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, out=None) -> Tensor:
    """Whether every element (over ``dim``) is non-zero, as a bool tensor.

    Example:
        >>> import tocha.core as torch
        >>> torch.all(torch.tensor([[True, False], [True, True]]), dim=1)
        tensor([False,  True])
    """
    if axis is not None:
        dim = axis
    return _write_out(_logical(input, dim, keepdim, "all"), out)


def any(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, out=None) -> Tensor:
    """Whether any element (over ``dim``) is non-zero, as a bool tensor."""
    if axis is not None:
        dim = axis
    return _write_out(_logical(input, dim, keepdim, "any"), out)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The number of non-zero elements (over ``dim``, a dim or tuple), as int64.

    Example:
        >>> import tocha.core as torch
        >>> torch.count_nonzero(torch.tensor([[0, 1], [2, 3]]), dim=0)
        tensor([1, 2])
    """
    a = input._data
    dims = _dims_arg(input, dim, "count_nonzero")
    return wrap(xp_of(a).asarray((a != 0).sum(axis=dims, dtype=np.int64)))


# --- median / nanmedian / mode ----------------------------------------------------------------
class MedianAll(Node):
    """median over all elements: the lower median; the gradient is shared among ties."""

    save_inputs = (0,)

    def forward(self, a, ignore_nan=False):
        xp = xp_of(a)
        flat = a.reshape(-1)
        if flat.size == 0:
            self.val = xp.asarray(np.nan, dtype=a.dtype) if _is_float(a) else xp.zeros((), a.dtype)
            return self.val.copy()
        s = xp.sort(flat)
        if _is_float(a):
            nan = xp.isnan(s)
            cnt = int((~nan).sum()) if ignore_nan else (flat.size if not bool(nan.any()) else 0)
            k = (cnt - 1) // 2 if cnt else flat.size - 1
        else:
            k = (flat.size - 1) // 2
        self.val = s[k]
        return s[k].reshape(())

    def name(self):
        return "MedianBackward0"

    def backward(self, g):
        (x,) = self.saved_inputs
        xd = x._data
        return _even_ties(g, xd, self.val.reshape((1,) * xd.ndim), tuple(range(xd.ndim)), False)


class MedianDim(Node):
    nondiff_outputs = (1,)

    def forward(self, a, dim=0, keepdim=False, ignore_nan=False):
        xp = xp_of(a)
        self.in_shape, self.dim, self.keepdim = a.shape, dim, keepdim
        rows = _to_last(a, dim)
        n = rows.shape[1]
        order = _argsort(rows, -1)
        s = xp.take_along_axis(rows, order, axis=1)
        r = xp.arange(rows.shape[0])
        if _is_float(a):
            nan = xp.isnan(s)
            if ignore_nan:
                cnt = (~nan).sum(axis=1)
                # an all-NaN slice: torch picks the middle of the (all NaN) sorted slice
                k = xp.where(cnt == 0, (n - 1) // 2, (cnt - 1) // 2)
            else:
                k = xp.full(rows.shape[0], (n - 1) // 2)
                has_nan = nan[:, -1]
                # a NaN in the slice makes the median NaN, at the first NaN's index
                k = xp.where(has_nan, n - nan.sum(axis=1), k)
        else:
            k = xp.full(rows.shape[0], (n - 1) // 2)
        val = s[r, k]
        idx = order[r, k].astype(np.int64)
        out_shape = _out_shape(a.shape, (dim,), True) if a.ndim else ()
        val, idx = val.reshape(out_shape), idx.reshape(out_shape)
        self.idx = idx
        if not keepdim and a.ndim:
            val, idx = val.squeeze(dim), idx.squeeze(dim)
        return val, idx

    def name(self):
        return "MedianBackward1"

    def backward(self, g, g_idx=None):
        return _index_backward(g, self.idx, self.in_shape, self.dim, self.keepdim)


class ModeDim(Node):
    nondiff_outputs = (1,)

    def forward(self, a, dim=0, keepdim=False):
        xp = xp_of(a)
        self.in_shape, self.dim, self.keepdim = a.shape, dim, keepdim
        rows = _to_last(a, dim)
        m, n = rows.shape
        s = xp.sort(rows, axis=1)
        pos = xp.broadcast_to(xp.arange(n), (m, n))
        new = xp.ones((m, n), dtype=bool)
        new[:, 1:] = s[:, 1:] != s[:, :-1]
        start = _accumulate("maximum", xp.where(new, pos, 0), 1)
        run = pos - start + 1  # the length of the run of equal values up to here
        best = xp.argmax(run, axis=1)  # first longest run's end: the smallest most-frequent
        r = xp.arange(m)
        val = s[r, best]
        eq = rows == val[:, None]
        idx = (n - 1 - xp.argmax(eq[:, ::-1], axis=1)).astype(np.int64)  # torch: last index
        out_shape = _out_shape(a.shape, (dim,), True) if a.ndim else ()
        val, idx = val.reshape(out_shape), idx.reshape(out_shape)
        self.idx = idx
        if not keepdim and a.ndim:
            val, idx = val.squeeze(dim), idx.squeeze(dim)
        return val, idx

    def name(self):
        return "ModeBackward0"

    def backward(self, g, g_idx=None):
        return _index_backward(g, self.idx, self.in_shape, self.dim, self.keepdim)


def _median(input: Tensor, dim, keepdim: bool, ignore_nan: bool, op: str):
    if dim is None:
        return MedianAll.apply(input, ignore_nan=ignore_nan)
    a = input._data
    d = norm_dim(dim, a.ndim, op)
    if a.ndim:
        _check_nonempty_dims(a, (d,), "median")
    vals, idx = MedianDim.apply(input, dim=d, keepdim=keepdim, ignore_nan=ignore_nan)
    return (_nanmedian_t if ignore_nan else _median_t)(vals, idx)


def median(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, out=None):
    """The lower median (the smaller middle value for an even count); NaN if any is NaN.

    Without ``dim`` returns a tensor (gradient shared among ties); with ``dim``
    ``torch.return_types.median(values, indices)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.median(torch.tensor([4., 1., 3., 2.]))
        tensor(2.)
    """
    if axis is not None:
        dim = axis
    return _write_out(_median(input, dim, keepdim, False, "median"), out)


def nanmedian(input: Tensor, dim=None, keepdim: bool = False, *, out=None):
    """The lower median of the non-NaN values (NaN when all are NaN)."""
    return _write_out(_median(input, dim, keepdim, True, "nanmedian"), out)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False, *, out=None):
    """The most frequent value along ``dim`` (the smallest on a tie) and its last index.

    Example:
        >>> import tocha.core as torch
        >>> torch.mode(torch.tensor([2, 1, 2, 1, 3]))
        torch.return_types.mode(
        values=tensor(1),
        indices=tensor(3))
    """
    a = input._data
    d = norm_dim(dim, a.ndim, "mode")
    if a.ndim:
        _check_nonempty_dims(a, (d,), "mode")
    return _write_out(_mode_t(*ModeDim.apply(input, dim=d, keepdim=keepdim)), out)


# --- quantile / nanquantile -------------------------------------------------------------------
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


class Quantile(Node):
    """Quantiles by sorting; backward spreads each gradient over the (one or two) elements
    interpolated, with constant weights, so double backward is free."""

    def forward(self, a, q=None, dim=None, keepdim=False, interp="linear", ignore_nan=False):
        xp = xp_of(a)
        self.in_shape, self.dim = a.shape, dim
        self.scalar_q = q.ndim == 0
        qv = q.reshape(-1).astype(a.dtype)
        if dim is None:
            rows = a.reshape(1, -1)
        else:
            rows = _to_last(a, dim)
        m, n = rows.shape
        order = _argsort(rows, -1)
        s = xp.take_along_axis(rows, order, axis=1)
        nan = xp.isnan(s)
        if ignore_nan:
            cnt = (~nan).sum(axis=1)
            rank = qv[:, None] * xp.maximum(cnt - 1, 0)[None, :].astype(a.dtype)
        else:
            rank = xp.broadcast_to(qv[:, None] * a.dtype.type(n - 1), (qv.size, m))
            # a NaN makes the quantile NaN: point at the last (NaN) element
            rank = xp.where(nan[:, -1][None, :], a.dtype.type(n - 1), rank)
        lo = xp.floor(rank)
        hi = xp.ceil(rank)
        if interp == "lower":
            hi = lo
        elif interp == "higher":
            lo = hi
        elif interp == "nearest":
            lo = hi = xp.round(rank)  # round half to even, as torch
        w = rank - lo
        if interp == "midpoint":
            w = xp.where(hi > lo, a.dtype.type(0.5), a.dtype.type(0))
        elif interp != "linear":
            w = xp.zeros_like(rank)
        lo, hi = lo.astype(np.int64), hi.astype(np.int64)
        r = xp.arange(m)[None, :]
        vlo, vhi = s[r, lo], s[r, hi]
        diff = vhi - vlo
        with np.errstate(invalid="ignore"):
            val = xp.where(w >= 0.5, vhi - diff * (1 - w), vlo + diff * w)
        # constant weights of each input element in each output, for backward
        ar = xp.arange(n)
        olo, ohi = order[r, lo], order[r, hi]
        self.weights = (1 - w)[..., None] * (ar == olo[..., None]) + w[..., None] * (
            ar == ohi[..., None]
        )
        self.rows_shape = (m, n)
        out_shape = _quantile_shape(a.shape, dim, keepdim)
        self.out_shape = out_shape
        res = val.reshape((qv.size,) + out_shape)
        return res.reshape(out_shape) if self.scalar_q else res

    def backward(self, g):
        nq = self.weights.shape[0]
        m, n = self.rows_shape
        g3 = g.reshape(nq, m, 1)
        gr = (g3 * _const(self.weights.astype(g._data.dtype))).sum(0)
        shape, dim = self.in_shape, self.dim
        if dim is None or not shape:
            return gr.reshape(shape)
        moved = tuple(s for i, s in enumerate(shape) if i != dim) + (shape[dim],)
        perm = list(range(len(shape) - 1))
        perm.insert(dim, len(shape) - 1)
        return gr.reshape(moved).permute(perm)


def _quantile_shape(shape: tuple, dim, keepdim: bool) -> tuple:
    if dim is None:
        return (1,) * len(shape) if keepdim else ()
    if not shape:
        return ()
    return _out_shape(shape, (dim,), keepdim)


def _quantile(input: Tensor, q, dim, keepdim: bool, interpolation: str, ignore_nan: bool):
    a = input._data
    xp = xp_of(a)
    if a.dtype not in (np.float32, np.float64):
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q._data.ndim > 1:
            raise RuntimeError("quantile() q must be a scalar or 1D tensor")
        if q._data.dtype != a.dtype:
            raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
        qd = q._data
        if qd.size and not bool(((qd >= 0) & (qd <= 1)).all()):
            raise RuntimeError("quantile() q values must be in the range [0, 1]")
    else:
        if not 0 <= q <= 1:
            raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q:g}")
        qd = xp.asarray(q, dtype=a.dtype)
    if a.size == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(
            "quantile() interpolation must be one of linear, lower, higher, midpoint or "
            f"nearest, but got {interpolation}"
        )
    d = None if dim is None else norm_dim(dim, a.ndim, "quantile")
    return Quantile.apply(
        input, q=qd, dim=d, keepdim=keepdim, interp=interpolation, ignore_nan=ignore_nan
    )


def quantile(
    input: Tensor, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear", out=None
) -> Tensor:
    """The ``q``-th quantiles (``q`` a float or a 0-/1-D tensor in [0, 1]) over ``dim`` (or all
    elements), interpolating as ``interpolation`` says; a 1-D ``q`` adds a leading dim.

    Example:
        >>> import tocha.core as torch
        >>> torch.quantile(torch.tensor([1., 2., 3., 4.]), 0.5)
        tensor(2.5000)
    """
    return _write_out(_quantile(input, q, dim, keepdim, interpolation, False), out)


def nanquantile(
    input: Tensor, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear", out=None
) -> Tensor:
    """Like :func:`quantile`, ignoring NaN values (NaN where a slice is all NaN)."""
    return _write_out(_quantile(input, q, dim, keepdim, interpolation, True), out)


# --- exports ----------------------------------------------------------------------------------
FUNCTIONS = [
    "sum",
    "mean",
    "nansum",
    "nanmean",
    "prod",
    "max",
    "min",
    "amax",
    "amin",
    "aminmax",
    "argmax",
    "argmin",
    "var",
    "std",
    "var_mean",
    "std_mean",
    "norm",
    "logsumexp",
    "cumsum",
    "cumprod",
    "logcumsumexp",
    "cummax",
    "cummin",
    "all",
    "any",
    "count_nonzero",
    "median",
    "nanmedian",
    "mode",
    "quantile",
    "nanquantile",
]


def _tensor_norm(self: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    return norm(self, p, dim, keepdim, dtype=dtype)


TENSOR_METHODS = {
    name: globals()[name] for name in FUNCTIONS if name not in ("var_mean", "std_mean")
}
TENSOR_METHODS["norm"] = _tensor_norm
INPLACE: dict = {"cumsum_": cumsum, "cumprod_": cumprod}
