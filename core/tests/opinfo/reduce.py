"""Op table entries: reductions (tocha.core._ops.reduce).

References are NumPy/SciPy computed in float64 and cast back to the dtype under test. Samples
for gradient checks use distinct values (no ties at the selected elements), so every selecting
reduction is differentiable there; samples with ties set ``grad=()`` and only test forward.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.special

import tocha.core as torch
from tocha.core._ops import reduce as _reduce

from . import ErrorInput, OpInfo, SampleInput

FLOATS = (torch.float32, torch.float64)
HALF_FLOATS = (torch.float16, torch.bfloat16) + FLOATS
ALL_NUM = HALF_FLOATS + (torch.int32, torch.int64)
_F64 = np.float64


# --- sample helpers ---------------------------------------------------------------------------
def _arr(rng, shape, dtype, low=-3.0, high=3.0):
    if dtype.is_floating_point:
        return rng.uniform(low, high, shape).astype(dtype.np)
    if dtype == torch.bool:
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(int(low), int(high) + 1, shape).astype(dtype.np)


def _distinct(rng, shape, dtype, low=-3.0, high=3.0):
    """Values with well separated entries (at least 0.05 apart): no ties for max, sort ..."""
    n = int(np.prod(shape)) if shape else 1
    base = np.linspace(low, high, n)
    return rng.permutation(base).reshape(shape).astype(dtype.np)


def _up(a):
    return a.astype(_F64) if isinstance(a, np.ndarray) and a.dtype.kind in "fV" else a


def _like(res, a):
    """Cast a float64 reference result back to the dtype of float input ``a``."""
    res = np.asarray(res)
    if a.dtype.kind in "fV" and res.dtype.kind == "f":
        return res.astype(a.dtype)
    return res


def _axis(dim):
    if isinstance(dim, list):
        return tuple(dim)
    return dim


def _dim_samples(dtype, rng, maker=_arr, low=-3.0, high=3.0, keep=True, neg=True, tup=True):
    """The standard reduction samples: all dims, one dim, negative dim keepdim, a tuple."""
    yield SampleInput((maker(rng, (3, 4), dtype, low, high),), name="all")
    yield SampleInput((maker(rng, (3, 4), dtype, low, high), 1), name="dim1")
    if neg and keep:
        yield SampleInput(
            (maker(rng, (2, 3, 4), dtype, low, high), -1), {"keepdim": True}, name="neg_keepdim"
        )
    if tup:
        yield SampleInput((maker(rng, (2, 3, 4), dtype, low, high), (0, 2)), name="tuple_dims")
        yield SampleInput(
            (maker(rng, (2, 3, 4), dtype, low, high), [-1, 0]),
            {"keepdim": True},
            name="list_dims_keepdim",
        )
    yield SampleInput((maker(rng, (), dtype, low, high),), name="zero_dim")


def _dim_error(op, nd=2):
    return ErrorInput(
        SampleInput((np.ones((2, 3), np.float32), 5)),
        IndexError,
        r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)",
    )


def _dup_error():
    return ErrorInput(
        SampleInput((np.ones((2, 3), np.float32), (0, 0))),
        RuntimeError,
        r"dim 0 appears multiple times in the list of dims",
    )


# --- references -------------------------------------------------------------------------------
def _ref_reduce(fn, int_dtype=None):
    def ref(a, dim=None, keepdim=False, dtype=None):
        if dtype is not None:
            return np.asarray(fn(a.astype(dtype.np), axis=_axis(dim), keepdims=keepdim))
        res = np.asarray(fn(_up(a), axis=_axis(dim), keepdims=keepdim))
        if a.dtype.kind in "biu" and int_dtype is not None:
            return res.astype(int_dtype)
        return _like(res, a)

    return ref


def _ref_nan(fn):
    def ref(a, dim=None, keepdim=False):
        return _like(fn(_up(a), axis=_axis(dim), keepdims=keepdim), a)

    return ref


def _ref_prod(a, dim=None, keepdim=False):
    res = np.prod(_up(a), axis=dim, keepdims=keepdim if dim is not None else False)
    return np.asarray(res).astype(np.int64) if a.dtype.kind in "biu" else _like(res, a)


def _ref_extreme(fn):
    def ref(a, dim=(), keepdim=False):
        if isinstance(dim, (tuple, list)) and len(dim) == 0:
            dim = None
        return np.asarray(fn(a, axis=_axis(dim), keepdims=keepdim))

    return ref


def _ref_max_dim(is_min):
    def ref(a, dim, keepdim=False):
        if a.ndim == 0:
            return a.copy(), np.asarray(0, np.int64)
        arg = np.argmin if is_min else np.argmax
        idx = np.asarray(arg(a, axis=dim, keepdims=True))
        val = np.take_along_axis(a, idx, axis=dim)
        if not keepdim:
            val, idx = val.squeeze(dim), idx.squeeze(dim)
        return val, idx.astype(np.int64)

    return ref


def _ref_arg(fn):
    def ref(a, dim=None, keepdim=False):
        if dim is None:
            res = np.asarray(fn(a.reshape(-1)))
            return res.reshape((1,) * a.ndim) if keepdim else res
        return np.asarray(fn(a, axis=dim, keepdims=keepdim)).astype(np.int64)

    return ref


def _ref_var(fn):
    def ref(a, dim=None, unbiased=None, keepdim=False, correction=None):
        if isinstance(dim, bool):
            dim, unbiased = None, dim
        ddof = correction if correction is not None else (0 if unbiased is False else 1)
        with warnings.catch_warnings():  # "Degrees of freedom <= 0" for one-element samples
            warnings.simplefilter("ignore", RuntimeWarning)
            return _like(fn(_up(a), axis=_axis(dim), ddof=ddof, keepdims=keepdim), a)

    return ref


def _ref_var_mean(fn):
    def ref(a, dim=None, keepdim=False, correction=None):
        ddof = 1 if correction is None else correction
        v = fn(_up(a), axis=_axis(dim), ddof=ddof, keepdims=keepdim)
        return _like(v, a), _like(np.mean(_up(a), axis=_axis(dim), keepdims=keepdim), a)

    return ref


def _ref_norm(a, p="fro", dim=None, keepdim=False):
    x = np.abs(_up(a))
    ax = _axis(dim)
    if p in ("fro", 2, 2.0):
        res = np.sqrt((x * x).sum(axis=ax, keepdims=keepdim))
    elif p == np.inf:
        res = x.max(axis=ax, keepdims=keepdim)
    elif p == -np.inf:
        res = x.min(axis=ax, keepdims=keepdim)
    elif p == 0:
        res = (x != 0).sum(axis=ax, keepdims=keepdim).astype(_F64)
    else:
        res = (x**p).sum(axis=ax, keepdims=keepdim) ** (1.0 / p)
    return _like(res, a)


def _ref_logsumexp(a, dim, keepdim=False):
    res = scipy.special.logsumexp(_up(a), axis=_axis(dim), keepdims=keepdim)
    if a.dtype.kind in "biu":
        return np.asarray(res).astype(np.float32)
    return _like(res, a)


def _ref_cumsum(a, dim, dtype=None):
    if a.ndim == 0:
        return _ref_cumsum(a.reshape(1), 0, dtype).reshape(())
    if dtype is not None:
        return np.cumsum(a.astype(dtype.np), axis=dim).astype(dtype.np)
    if a.dtype.kind in "biu":
        return np.cumsum(a, axis=dim, dtype=np.int64)
    return _like(np.cumsum(_up(a), axis=dim), a)


def _ref_cumprod(a, dim, dtype=None):
    if a.ndim == 0:
        return _ref_cumprod(a.reshape(1), 0, dtype).reshape(())
    if a.dtype.kind in "biu":
        return np.cumprod(a, axis=dim, dtype=np.int64)
    return _like(np.cumprod(_up(a), axis=dim), a)


def _ref_logcumsumexp(a, dim):
    if a.ndim == 0:
        return a.copy()
    return _like(np.logaddexp.accumulate(_up(a), axis=dim), a)


def _ref_cumext(is_min):
    def ref(a, dim):
        if a.ndim == 0:
            return a.copy(), np.asarray(0, np.int64)
        x = np.moveaxis(a, dim, -1)
        vals = np.empty_like(x)
        idx = np.empty(x.shape, dtype=np.int64)
        for pos in np.ndindex(*x.shape[:-1]):
            best, bi = None, 0
            for j, v in enumerate(x[pos]):
                if best is None or (v <= best if is_min else v >= best):
                    best, bi = v, j
                vals[pos + (j,)] = best
                idx[pos + (j,)] = bi
        return np.moveaxis(vals, -1, dim), np.moveaxis(idx, -1, dim)

    return ref


def _ref_logical(fn):
    def ref(a, dim=None, keepdim=False):
        return np.asarray(fn(a, axis=_axis(dim), keepdims=keepdim))

    return ref


def _ref_count_nonzero(a, dim=None):
    return np.asarray(np.count_nonzero(a, axis=_axis(dim))).astype(np.int64)


def _ref_median(a, dim=None, keepdim=False, ignore_nan=False):
    if dim is None:
        s = np.sort(a.reshape(-1))
        if ignore_nan:
            s = s[~np.isnan(s)] if a.dtype.kind == "f" else s
            return np.asarray(s[(s.size - 1) // 2] if s.size else np.nan, dtype=a.dtype)
        if a.dtype.kind == "f" and np.isnan(s).any():
            return np.asarray(np.nan, dtype=a.dtype)
        return np.asarray(s[(s.size - 1) // 2])
    x = np.moveaxis(a, dim, -1)
    vals = np.empty(x.shape[:-1], a.dtype)
    idx = np.empty(x.shape[:-1], np.int64)
    for pos in np.ndindex(*x.shape[:-1]):
        row = x[pos]
        keep = np.arange(row.size)
        if ignore_nan:
            keep = keep[~np.isnan(row)]
        order = keep[np.argsort(row[keep], kind="stable")]
        k = (order.size - 1) // 2 if order.size else (row.size - 1) // 2
        # an all-NaN slice: NaN at the middle position (torch's choice for this case)
        vals[pos], idx[pos] = (row[order[k]], order[k]) if order.size else (np.nan, k)
    if keepdim:
        vals, idx = np.expand_dims(vals, dim), np.expand_dims(idx, dim)
    return vals, idx


def _ref_mode(a, dim=-1, keepdim=False):
    x = np.moveaxis(a, dim, -1)
    vals = np.empty(x.shape[:-1], a.dtype)
    idx = np.empty(x.shape[:-1], np.int64)
    for pos in np.ndindex(*x.shape[:-1]):
        row = x[pos]
        uniq, counts = np.unique(row, return_counts=True)
        v = uniq[np.argmax(counts)]  # unique is sorted: the smallest of the most frequent
        vals[pos] = v
        idx[pos] = np.nonzero(row == v)[0][-1]
    if keepdim:
        vals, idx = np.expand_dims(vals, dim), np.expand_dims(idx, dim)
    return vals, idx


def _ref_quantile(fn):
    def ref(a, q, dim=None, keepdim=False, interpolation="linear"):
        return np.asarray(fn(a, q, axis=dim, keepdims=keepdim, method=interpolation)).astype(
            a.dtype
        )

    return ref


# --- samples ----------------------------------------------------------------------------------
def _sum_samples(dtype, rng):
    yield from _dim_samples(dtype, rng)
    if dtype.is_floating_point:
        yield SampleInput(
            (_arr(rng, (3, 4), dtype), 0), {"dtype": torch.float64}, name="dtype_kw", grad=()
        )


def _nan_samples(dtype, rng):
    for s in _dim_samples(dtype, rng):
        a = s.args[0]
        if a.ndim:
            a = a.copy()
            a.reshape(-1)[::5] = np.nan
        yield SampleInput((a,) + s.args[1:], s.kwargs, name=s.name)


def _prod_samples(dtype, rng):
    lo, hi = (0.5, 1.5) if dtype.is_floating_point else (-2, 2)
    yield SampleInput((_arr(rng, (3, 4), dtype, lo, hi),), name="all")
    yield SampleInput((_arr(rng, (3, 4), dtype, lo, hi), 1), name="dim1")
    yield SampleInput((_arr(rng, (2, 3, 4), dtype, lo, hi), -2), {"keepdim": True}, name="neg")
    a = _arr(rng, (3, 4), dtype, lo, hi)
    a[0, 1] = 0  # one zero in row 0, two in row 2, none in row 1
    a[2, 0] = a[2, 3] = 0
    yield SampleInput((a, 1), name="zeros")
    b = _arr(rng, (5,), dtype, lo, hi)
    b[1] = b[3] = b[4] = 0
    yield SampleInput((b,), name="three_zeros")
    yield SampleInput((_arr(rng, (), dtype, lo, hi),), name="zero_dim")


def _extreme_samples(dtype, rng):
    yield from _dim_samples(dtype, rng, maker=_distinct)
    if dtype.is_floating_point:
        tie = np.array([[1.0, 3.0, 3.0], [2.0, 0.5, 2.0]], dtype=dtype.np)
        yield SampleInput((tie, 1), name="ties_forward", grad=())


def _max_all_samples(dtype, rng):
    yield SampleInput((_distinct(rng, (3, 4), dtype),), name="all")
    yield SampleInput((_distinct(rng, (), dtype),), name="zero_dim")


def _max_dim_samples(dtype, rng):
    yield SampleInput((_distinct(rng, (3, 4), dtype), 1), name="dim1")
    yield SampleInput((_distinct(rng, (2, 3, 4), dtype), -2, True), name="neg_keepdim")
    yield SampleInput((_distinct(rng, (), dtype), 0), name="zero_dim")
    if dtype.is_floating_point:
        tie = np.array([[1.0, 3.0, 3.0], [2.0, 0.5, 2.0]], dtype=dtype.np)
        yield SampleInput((tie, 1), name="ties_first_index", grad=())


def _arg_samples(dtype, rng):
    yield SampleInput((_distinct(rng, (3, 4), dtype),), name="flat")
    yield SampleInput((_distinct(rng, (3, 4), dtype),), {"keepdim": True}, name="flat_keepdim")
    yield SampleInput((_distinct(rng, (3, 4), dtype), 1), name="dim1")
    yield SampleInput((_distinct(rng, (2, 3, 4), dtype), -1, True), name="neg_keepdim")


def _aminmax_samples(dtype, rng):
    yield SampleInput((_distinct(rng, (3, 4), dtype),), name="all")
    yield SampleInput((_distinct(rng, (3, 4), dtype),), {"dim": -1, "keepdim": True}, name="dim")
    yield SampleInput((_distinct(rng, (2, 3), dtype),), {"keepdim": True}, name="all_keepdim")


def _var_samples(dtype, rng):
    for s in _dim_samples(dtype, rng):
        if s.name == "zero_dim":  # one element: the variance is NaN
            s.grad = ()
        yield s
    yield SampleInput((_arr(rng, (3, 4), dtype), 1), {"correction": 0}, name="correction0")
    yield SampleInput(
        (_arr(rng, (3, 5), dtype), (0, 1)), {"correction": 2, "keepdim": True}, name="corr2"
    )
    yield SampleInput((_arr(rng, (4, 3), dtype), False), name="unbiased_positional")
    yield SampleInput((_arr(rng, (4, 3), dtype), 0, False, True), name="legacy_overload")


def _var_mean_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 4), dtype),), name="all")
    yield SampleInput((_arr(rng, (3, 4), dtype), 1), {"keepdim": True}, name="dim_keepdim")
    yield SampleInput((_arr(rng, (2, 3, 4), dtype), (0, 2)), {"correction": 0}, name="tuple")


def _away_from_zero(rng, shape, dtype):
    a = rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return a.astype(dtype.np)


def _norm_samples(dtype, rng):
    def mk(shape):
        return _away_from_zero(rng, shape, dtype)

    yield SampleInput((mk((3, 4)),), name="fro_all")
    yield SampleInput((mk((3, 4)),), {"p": 2, "dim": 1}, name="p2_dim")
    yield SampleInput((mk((2, 3, 4)),), {"p": 1, "dim": (0, 2)}, name="p1_tuple")
    yield SampleInput((mk((3, 4)),), {"p": 3, "dim": -1, "keepdim": True}, name="p3_keepdim")
    yield SampleInput((mk((3, 4)),), {"p": 0.5, "dim": 0}, name="p_half")
    yield SampleInput((_distinct(rng, (3, 4), dtype, 0.2, 3.0),), {"p": np.inf}, name="inf")
    yield SampleInput(
        (_distinct(rng, (3, 4), dtype, 0.2, 3.0),), {"p": -np.inf, "dim": 1}, name="neg_inf"
    )
    yield SampleInput((mk((3, 4)),), {"p": 0, "dim": 1}, name="p0")
    yield SampleInput((mk((3, 4)),), {"p": "fro", "dim": (0, 1)}, name="fro_tuple")


def _logsumexp_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 4), dtype), 1), name="dim1")
    yield SampleInput((_arr(rng, (2, 3, 4), dtype), (0, -1)), {"keepdim": True}, name="tuple")
    big = _arr(rng, (3, 4), dtype, 500.0, 600.0) if dtype == torch.float64 else None
    if big is not None:
        yield SampleInput((big, 0), name="large_values")


def _cum_samples(dtype, rng, lo=-3.0, hi=3.0, maker=_arr):
    yield SampleInput((maker(rng, (3, 4), dtype, lo, hi), 1), name="dim1")
    yield SampleInput((maker(rng, (2, 3, 4), dtype, lo, hi), -3), name="neg")
    yield SampleInput((maker(rng, (5,), dtype, lo, hi), 0), name="vector")
    yield SampleInput((maker(rng, (), dtype, lo, hi), 0), name="zero_dim")


def _cumsum_samples(dtype, rng):
    yield from _cum_samples(dtype, rng)
    if dtype.is_floating_point:
        yield SampleInput(
            (_arr(rng, (3, 4), dtype), 0), {"dtype": torch.float64}, name="dtype_kw", grad=()
        )


def _cumprod_samples(dtype, rng):
    lo, hi = (0.5, 1.5) if dtype.is_floating_point else (-2, 2)
    yield from _cum_samples(dtype, rng, lo, hi)
    a = _arr(rng, (3, 5), dtype, lo, hi)
    a[0, 1] = 0  # row 0: one zero; row 2: none
    a[1, 0] = 0
    yield SampleInput((a, 1), name="one_zero")
    b = _arr(rng, (2, 5), dtype, lo, hi)
    b[0, 1] = b[0, 3] = 0
    b[1, 4] = 0
    yield SampleInput((b, 1), name="two_zeros")


def _cumext_samples(dtype, rng):
    yield from _cum_samples(dtype, rng, maker=_distinct)
    if dtype.is_floating_point:
        tie = np.array([[1.0, 3.0, 3.0, 2.0, 5.0], [3.0, 1.0, 1.0, 2.0, 0.0]], dtype=dtype.np)
        yield SampleInput((tie, 1), name="ties", grad=())


def _logical_samples(dtype, rng):
    a = _arr(rng, (3, 4), dtype, 0, 2) if dtype != torch.bool else _arr(rng, (3, 4), dtype)
    yield SampleInput((a,), name="all")
    yield SampleInput((a, 1), name="dim")
    yield SampleInput((a, -1, True), name="keepdim")
    yield SampleInput((a, (0, 1)), name="tuple")


def _count_samples(dtype, rng):
    a = _arr(rng, (3, 4), dtype, -1, 1)
    yield SampleInput((a,), name="all")
    yield SampleInput((a, 1), name="dim")
    yield SampleInput((_arr(rng, (2, 3, 4), dtype, -1, 1), (0, 2)), name="tuple")


def _median_all_samples(dtype, rng):
    yield SampleInput((_distinct(rng, (3, 4), dtype),), name="even")
    yield SampleInput((_distinct(rng, (3, 3), dtype),), name="odd")


def _median_dim_samples(dtype, rng):
    yield SampleInput((_distinct(rng, (3, 4), dtype), 1), name="even")
    yield SampleInput((_distinct(rng, (2, 5, 3), dtype), -2, True), name="odd_keepdim")
    yield SampleInput((_distinct(rng, (4, 3), dtype), 0), name="dim0")


def _nanmedian_samples(dtype, rng):
    a = _distinct(rng, (3, 5), dtype)
    a[0, 1] = a[0, 3] = np.nan
    a[2, :] = np.nan
    yield SampleInput((a, 1), name="nans", grad=())
    yield SampleInput((_distinct(rng, (3, 4), dtype), 1), name="no_nan")
    yield SampleInput((_distinct(rng, (2, 5, 3), dtype), 0, True), name="keepdim")


def _mode_samples(dtype, rng):
    a = rng.integers(0, 4, (3, 7)).astype(dtype.np)
    yield SampleInput((a,), name="default_dim", grad=())
    yield SampleInput((a, 0), name="dim0", grad=())
    yield SampleInput((rng.integers(0, 3, (2, 6, 2)).astype(dtype.np), 1, True), grad=())
    if dtype.is_floating_point:
        # all distinct: the mode is the minimum; the only differentiable case
        yield SampleInput((_distinct(rng, (3, 4), dtype), 1), name="distinct")


def _quantile_samples(dtype, rng):
    def a(shape):
        return _distinct(rng, shape, dtype)

    qs = np.array([0.1, 0.5, 0.9], dtype=dtype.np)
    yield SampleInput((a((3, 5)), 0.3), name="scalar_q_all")
    yield SampleInput((a((3, 5)), 0.25, 1), name="dim")
    yield SampleInput((a((3, 5)), qs, -1, True), name="tensor_q_keepdim", grad=(0,))
    yield SampleInput((a((2, 3, 4)), qs, 1), name="tensor_q_3d", grad=(0,))
    yield SampleInput((a((4, 3)), np.asarray(0.7, dtype.np), 0), name="zero_dim_q", grad=(0,))
    yield SampleInput((a((3, 5)), 0.4), {"keepdim": True}, name="keepdim_all")
    for interp in ("lower", "higher", "midpoint", "nearest"):
        yield SampleInput(
            (a((3, 4)), np.array([0.2, 0.5, 0.9], dtype.np), 1),
            {"interpolation": interp},
            name=interp,
            grad=(0,),
        )


def _nanquantile_samples(dtype, rng):
    yield from _quantile_samples(dtype, rng)
    a = _distinct(rng, (3, 6), dtype)
    a[0, 2] = a[1, 0] = a[1, 5] = np.nan
    yield SampleInput((a, 0.4, 1), name="nans", grad=())


# --- errors -----------------------------------------------------------------------------------
def _f(shape=(2, 3)):
    return np.ones(shape, np.float32)


def _sum_errors():
    return [_dim_error("sum"), _dup_error()]


def _mean_errors():
    return [
        _dim_error("mean"),
        ErrorInput(
            SampleInput((np.ones((2, 3), np.int64),)),
            RuntimeError,
            r"mean\(\): could not infer output dtype.*Got: Long",
        ),
    ]


def _prod_errors():
    return [
        _dim_error("prod"),
        ErrorInput(SampleInput((_f(), (0, 1))), TypeError, r"prod\(\): argument 'dim'"),
    ]


def _max_errors():
    return [
        ErrorInput(
            SampleInput((np.ones((0,), np.float32),)),
            RuntimeError,
            r"max\(\): Expected reduction dim to be specified for input.numel\(\) == 0",
        ),
    ]


def _max_dim_errors():
    return [
        _dim_error("max"),
        ErrorInput(
            SampleInput((np.ones((2, 0), np.float32), 1)),
            IndexError,
            r"max\(\): Expected reduction dim 1 to have non-zero size",
        ),
        ErrorInput(SampleInput((_f(), (0, 1))), TypeError, r"max\(\): argument 'dim'"),
    ]


def _amax_errors():
    return [
        _dim_error("amax"),
        _dup_error(),
        ErrorInput(
            SampleInput((np.ones((2, 0), np.float32), 1)),
            IndexError,
            r"amax\(\): Expected reduction dim 1 to have non-zero size",
        ),
    ]


def _argmax_errors():
    return [
        ErrorInput(
            SampleInput((np.ones((0,), np.float32),)),
            IndexError,
            r"argmax\(\): Expected reduction dim to be specified for input.numel\(\) == 0",
        ),
        ErrorInput(
            SampleInput((np.ones((2, 0), np.float32), 1)),
            IndexError,
            r"argmax\(\): Expected reduction dim 1 to have non-zero size",
        ),
        _dim_error("argmax"),
    ]


def _aminmax_errors():
    return [
        ErrorInput(
            SampleInput((np.ones((2, 0), np.float32),)),
            RuntimeError,
            r"aminmax\(\): cannot compute aminmax over an empty dimension",
        ),
        ErrorInput(
            SampleInput((np.ones((2, 0), np.float32),), {"dim": 1}),
            IndexError,
            r"aminmax: Expected reduction dim 1 to have non-zero size",
        ),
    ]


def _var_errors():
    return [
        _dim_error("var"),
        ErrorInput(
            SampleInput((np.ones((2, 3), np.int64),)),
            RuntimeError,
            r"std and var only support floating point and complex dtypes",
        ),
    ]


def _norm_errors():
    return [
        ErrorInput(
            SampleInput((np.ones((2, 3), np.int64),)),
            RuntimeError,
            r"linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long",
        ),
        ErrorInput(
            SampleInput((np.ones((3,), np.float32),), {"p": "nuc"}),
            RuntimeError,
            r"linalg.matrix_norm: The input tensor A must have at least 2 dimensions",
        ),
        ErrorInput(
            SampleInput((np.ones((2, 3), np.float32),), {"p": "abc"}),
            RuntimeError,
            r"linalg.matrix_norm: Order abc not supported",
        ),
        ErrorInput(
            SampleInput((np.ones((2, 3, 4), np.float32),), {"p": "fro", "dim": (0, 1, 2)}),
            RuntimeError,
            r"linalg.matrix_norm: dim must be a 2-tuple. Got 0 1 2",
        ),
        ErrorInput(SampleInput((_f(),), {"dim": 4}), IndexError, r"Dimension out of range"),
    ]


def _cum_errors(name):
    def gen():
        return [
            ErrorInput(
                SampleInput((_f(), 2)),
                IndexError,
                r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)",
            )
        ]

    return gen


def _logcumsumexp_errors():
    return _cum_errors("logcumsumexp")() + [
        ErrorInput(
            SampleInput((np.ones((3,), np.int64), 0)),
            NotImplementedError,
            r"\"logcumsumexp_out_cpu\" not implemented for 'Long'",
        )
    ]


def _median_errors():
    return [
        ErrorInput(
            SampleInput((np.ones((2, 0), np.float32), 1)),
            IndexError,
            r"median\(\): Expected reduction dim 1 to have non-zero size",
        ),
        _dim_error("median"),
    ]


def _mode_errors():
    return [
        ErrorInput(
            SampleInput((np.ones((2, 0), np.float32), 1)),
            IndexError,
            r"mode\(\): Expected reduction dim 1 to have non-zero size",
        ),
    ]


def _quantile_errors():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    return [
        ErrorInput(
            SampleInput((x, 1.5)),
            RuntimeError,
            r"quantile\(\) q must be in the range \[0, 1\] but got 1.5",
        ),
        ErrorInput(
            SampleInput((x, np.array([0.5, 2.0], np.float32))),
            RuntimeError,
            r"quantile\(\) q values must be in the range \[0, 1\]",
        ),
        ErrorInput(
            SampleInput((x, np.array([[0.5]], np.float32))),
            RuntimeError,
            r"quantile\(\) q must be a scalar or 1D tensor",
        ),
        ErrorInput(
            SampleInput((x, np.array([0.5], np.float64))),
            RuntimeError,
            r"quantile\(\) q tensor must be same dtype as the input tensor",
        ),
        ErrorInput(
            SampleInput((x.astype(np.int64), 0.5)),
            RuntimeError,
            r"quantile\(\) input tensor must be either float or double dtype",
        ),
        ErrorInput(
            SampleInput((x, 0.5), {"interpolation": "foo"}),
            RuntimeError,
            r"quantile\(\) interpolation must be one of linear, lower, higher, midpoint or "
            r"nearest, but got foo",
        ),
        ErrorInput(
            SampleInput((np.ones((0,), np.float32), 0.5)),
            RuntimeError,
            r"quantile\(\) input tensor must be non-empty",
        ),
    ]


def _ref_median_dim(a, dim, keepdim=False):
    return _ref_median(a, dim, keepdim)


def _ref_nanmedian_dim(a, dim, keepdim=False):
    return _ref_median(a, dim, keepdim, ignore_nan=True)


def _ref_aminmax(a, dim=None, keepdim=False):
    return (
        np.asarray(np.amin(a, axis=dim, keepdims=keepdim)),
        np.asarray(np.amax(a, axis=dim, keepdims=keepdim)),
    )


_HALF_TOL = {"float16": (2e-2, 2e-2), "bfloat16": (3e-2, 5e-2)}


OPS = [
    OpInfo(
        "sum",
        torch.sum,
        _ref_reduce(np.sum, np.int64),
        _sum_samples,
        ALL_NUM + (torch.bool, torch.uint8),
        error_inputs=_sum_errors,
        tol={"float16": (1e-2, 5e-2), "bfloat16": (2e-2, 2e-1)},
    ),
    OpInfo(
        "Tensor.sum",
        lambda x, *a, **k: x.sum(*a, **k),
        _ref_reduce(np.sum, np.int64),
        _sum_samples,
        FLOATS,
    ),
    OpInfo(
        "mean",
        torch.mean,
        _ref_reduce(np.mean),
        _sum_samples,
        HALF_FLOATS,
        error_inputs=_mean_errors,
        tol=_HALF_TOL,
    ),
    OpInfo(
        "nansum",
        torch.nansum,
        _ref_nan(np.nansum),
        _nan_samples,
        FLOATS + (torch.float16,),
        tol={"float16": (1e-2, 5e-2)},
    ),
    OpInfo("nanmean", torch.nanmean, _ref_nan(np.nanmean), _nan_samples, FLOATS),
    OpInfo(
        "prod",
        torch.prod,
        _ref_prod,
        _prod_samples,
        ALL_NUM,
        error_inputs=_prod_errors,
        tol=_HALF_TOL,
    ),
    OpInfo(
        "max",
        torch.max,
        _ref_extreme(np.max),
        _max_all_samples,
        ALL_NUM,
        error_inputs=_max_errors,
    ),
    OpInfo(
        "max_dim",
        torch.max,
        _ref_max_dim(False),
        _max_dim_samples,
        ALL_NUM,
        error_inputs=_max_dim_errors,
    ),
    OpInfo("min", torch.min, _ref_extreme(np.min), _max_all_samples, ALL_NUM),
    OpInfo("min_dim", torch.min, _ref_max_dim(True), _max_dim_samples, ALL_NUM),
    OpInfo(
        "amax",
        torch.amax,
        _ref_extreme(np.amax),
        _extreme_samples,
        ALL_NUM,
        error_inputs=_amax_errors,
    ),
    OpInfo("amin", torch.amin, _ref_extreme(np.amin), _extreme_samples, ALL_NUM),
    OpInfo(
        "aminmax",
        torch.aminmax,
        _ref_aminmax,
        _aminmax_samples,
        ALL_NUM,
        error_inputs=_aminmax_errors,
    ),
    OpInfo(
        "argmax",
        torch.argmax,
        _ref_arg(np.argmax),
        _arg_samples,
        ALL_NUM,
        supports_grad=False,
        error_inputs=_argmax_errors,
    ),
    OpInfo("argmin", torch.argmin, _ref_arg(np.argmin), _arg_samples, ALL_NUM, supports_grad=False),
    OpInfo(
        "var",
        torch.var,
        _ref_var(np.var),
        _var_samples,
        HALF_FLOATS,
        error_inputs=_var_errors,
        tol=_HALF_TOL,
    ),
    OpInfo("std", torch.std, _ref_var(np.std), _var_samples, HALF_FLOATS, tol=_HALF_TOL),
    OpInfo("var_mean", torch.var_mean, _ref_var_mean(np.var), _var_mean_samples, FLOATS),
    OpInfo("std_mean", torch.std_mean, _ref_var_mean(np.std), _var_mean_samples, FLOATS),
    # torch.norm / Tensor.norm as written here (the linalg family also defines torch.norm)
    OpInfo(
        "norm",
        _reduce.norm,
        _ref_norm,
        _norm_samples,
        HALF_FLOATS,
        error_inputs=_norm_errors,
        tol=_HALF_TOL,
    ),
    OpInfo(
        "Tensor.norm",
        _reduce.TENSOR_METHODS["norm"],
        _ref_norm,
        _norm_samples,
        FLOATS,
    ),
    OpInfo(
        "logsumexp",
        torch.logsumexp,
        _ref_logsumexp,
        _logsumexp_samples,
        HALF_FLOATS + (torch.int64,),
        tol={**_HALF_TOL, "int64": (1e-6, 1e-6)},
        out_dtype=lambda s, dt: dt if dt.is_floating_point else torch.float32,
    ),
    OpInfo(
        "cumsum",
        torch.cumsum,
        _ref_cumsum,
        _cumsum_samples,
        ALL_NUM + (torch.bool, torch.uint8),
        error_inputs=_cum_errors("cumsum"),
        tol={"float16": (1e-2, 3e-2), "bfloat16": (2e-2, 1e-1)},
    ),
    OpInfo(
        "cumprod",
        torch.cumprod,
        _ref_cumprod,
        _cumprod_samples,
        ALL_NUM,
        error_inputs=_cum_errors("cumprod"),
        tol=_HALF_TOL,
    ),
    OpInfo(
        "logcumsumexp",
        torch.logcumsumexp,
        _ref_logcumsumexp,
        _cum_samples,
        HALF_FLOATS,
        error_inputs=_logcumsumexp_errors,
        tol=_HALF_TOL,
    ),
    OpInfo(
        "cummax",
        torch.cummax,
        _ref_cumext(False),
        _cumext_samples,
        ALL_NUM,
        error_inputs=_cum_errors("cummax"),
    ),
    OpInfo("cummin", torch.cummin, _ref_cumext(True), _cumext_samples, ALL_NUM),
    OpInfo(
        "all",
        torch.all,
        _ref_logical(np.all),
        _logical_samples,
        (torch.bool, torch.uint8, torch.float32, torch.int64),
        supports_grad=False,
    ),
    OpInfo(
        "any",
        torch.any,
        _ref_logical(np.any),
        _logical_samples,
        (torch.bool, torch.uint8, torch.float32, torch.int64),
        supports_grad=False,
    ),
    OpInfo(
        "count_nonzero",
        torch.count_nonzero,
        _ref_count_nonzero,
        _count_samples,
        (torch.bool, torch.float32, torch.int64),
        supports_grad=False,
        error_inputs=lambda: [_dup_error()],
    ),
    OpInfo(
        "median",
        torch.median,
        _ref_median,
        _median_all_samples,
        ALL_NUM,
    ),
    OpInfo(
        "median_dim",
        torch.median,
        _ref_median_dim,
        _median_dim_samples,
        ALL_NUM,
        error_inputs=_median_errors,
    ),
    OpInfo(
        "nanmedian",
        torch.nanmedian,
        lambda a: _ref_median(a, ignore_nan=True),
        lambda dt, rng: [
            *_median_all_samples(dt, rng),
            SampleInput((np.array([1.0, np.nan, 2.0, 3.0], dt.np),), name="nan", grad=()),
        ],
        HALF_FLOATS,
    ),
    OpInfo("nanmedian_dim", torch.nanmedian, _ref_nanmedian_dim, _nanmedian_samples, FLOATS),
    OpInfo(
        "mode",
        torch.mode,
        _ref_mode,
        _mode_samples,
        FLOATS + (torch.int32, torch.int64),
        error_inputs=_mode_errors,
    ),
    OpInfo(
        "quantile",
        torch.quantile,
        _ref_quantile(np.quantile),
        _quantile_samples,
        FLOATS,
        error_inputs=_quantile_errors,
    ),
    OpInfo(
        "nanquantile",
        torch.nanquantile,
        _ref_quantile(np.nanquantile),
        _nanquantile_samples,
        FLOATS,
    ),
]
