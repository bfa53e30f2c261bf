"""Op table entries: indexing, gathering, scattering, sorting (tocha.core._ops.index).

Index arguments are int64 (or bool) NumPy arrays in ``args``: they become tensors but are not
differentiated. References are written independently of the implementation, mostly as plain
loops over the (small) index arrays.
"""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from . import ErrorInput, OpInfo, SampleInput

FLOATS = (torch.float32, torch.float64)
HALF = (torch.float16, torch.bfloat16)
INTS = (torch.int32, torch.int64)
ALL = HALF + FLOATS + INTS


def _arr(rng, shape, dtype, low=-3.0, high=3.0):
    if dtype.is_floating_point:
        return rng.uniform(low, high, shape).astype(dtype.np)
    return rng.integers(int(low), int(high) + 1, shape).astype(dtype.np)


def _distinct(rng, shape, dtype):
    """Values without ties (exact in every dtype), so sorting and max have one answer."""
    n = int(np.prod(shape))
    vals = (rng.permutation(n) - n // 2).astype(np.float64)
    if dtype.is_floating_point:
        vals = vals * 0.5
        if dtype in (torch.float32, torch.float64):
            vals = vals + rng.uniform(-0.1, 0.1, n)
    return vals.reshape(shape).astype(dtype.np)


def _i64(x):
    return np.asarray(x, dtype=np.int64)


def _perm_index(rng, shape, size, dim):
    """An index of ``shape`` whose entries along ``dim`` are distinct (values < size)."""
    moved = list(shape)
    n = moved.pop(dim)
    rows = int(np.prod(moved))
    idx = np.stack([rng.permutation(size)[:n] for _ in range(rows)])
    return np.moveaxis(idx.reshape(moved + [n]), -1, dim).astype(np.int64)


def _coords_iter(index):
    yield from np.ndindex(index.shape)


# --- getitem --------------------------------------------------------------------------------
def _getitem_basic_samples(dtype, rng):
    x = _arr(rng, (3, 4, 5), dtype)
    keys = [
        (1,),
        (-1, slice(1, 3)),
        (slice(None), 2, slice(None, None, 2)),
        (None, Ellipsis, 0),
        (Ellipsis, slice(1, None), None),
        (slice(0, 3, 2), slice(None), slice(4, 0, None)),
        (1, 2, 3),
    ]
    for k in keys:
        yield SampleInput((x,), {"key": k}, name=str(k))


def _getitem(x, key):
    return x[key]


def _getitem_ref(a, key):
    return np.asarray(a[key])


def _getitem_errors():
    x = np.zeros((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput((x,), {"key": (5,)}),
            IndexError,
            r"index 5 is out of bounds for dimension 0 with size 3",
        ),
        ErrorInput(
            SampleInput((x,), {"key": (1, -5)}),
            IndexError,
            r"index -5 is out of bounds for dimension 1 with size 4",
        ),
        ErrorInput(
            SampleInput((x,), {"key": (0, 1, 2)}),
            IndexError,
            r"too many indices for tensor of dimension 2",
        ),
        ErrorInput(
            SampleInput((x,), {"key": slice(None, None, -1)}),
            ValueError,
            r"step must be greater than zero",
        ),
        ErrorInput(
            SampleInput((x,), {"key": np.array([True, False, True, False])}),
            IndexError,
            r"The shape of the mask \[4\] at index 0 does not match the shape of the indexed "
            r"tensor \[3, 4\] at index 0",
        ),
        ErrorInput(
            SampleInput((x,), {"key": (slice(None), np.array([True, False, True]))}),
            IndexError,
            r"The shape of the mask \[3\] at index 0 does not match .* at index 1",
        ),
        ErrorInput(
            SampleInput((x,), {"key": np.array([1.0])}),
            IndexError,
            r"tensors used as indices must be long, int, byte or bool tensors",
        ),
        ErrorInput(
            SampleInput((x,), {"key": np.array([0, 3])}),
            IndexError,
            r"index 3 is out of bounds for dimension 0 with size 3",
        ),
        ErrorInput(
            SampleInput((x,), {"key": 1.5}),
            IndexError,
            r"only integers, slices",
        ),
    ]


def _getitem_adv_samples(dtype, rng):
    x = _arr(rng, (4, 5), dtype)
    yield SampleInput((x, _i64([0, 2, 2, -1])), name="repeated_rows")
    yield SampleInput((x, _i64([[0, 1], [3, 3]]), _i64([4, 0])), name="broadcast_pair")
    yield SampleInput((x, x > 0), name="bool_mask_full")
    yield SampleInput((x, np.array([True, False, True, True])), name="bool_mask_rows")
    yield SampleInput((x, _i64([1, 1, 0])), {"pre": (slice(1, 3),)}, name="slice_then_array")
    yield SampleInput((x, _i64([2, 0])), {"post": (slice(None, None, 2),)}, name="array_slice")
    y = _arr(rng, (2, 3, 4), dtype)
    yield SampleInput((y, _i64([0, 1, 1]), _i64([3, 0, 3])), {"mid": True}, name="split_adv")


def _getitem_adv(x, *idx, pre=(), post=(), mid=False):
    if mid:
        return x[idx[0], :, idx[1]]
    return x[pre + tuple(idx) + post]


def _getitem_adv_ref(a, *idx, pre=(), post=(), mid=False):
    if mid:
        return a[idx[0], :, idx[1]]
    return a[pre + tuple(idx) + post]


# --- setitem / index_put --------------------------------------------------------------------
def _setitem_samples(dtype, rng):
    x = _arr(rng, (4, 5), dtype)
    yield SampleInput((x, _arr(rng, (5,), dtype)), {"key": (1,)}, name="row")
    yield SampleInput(
        (x, _arr(rng, (4, 1), dtype)), {"key": (slice(None), slice(1, 3))}, name="bcast"
    )
    yield SampleInput((x, _arr(rng, (3, 5), dtype)), {"key": (_i64([3, 0, 2]),)}, name="rows")
    yield SampleInput(
        (x, _arr(rng, (1, 2), dtype)), {"key": (_i64([0, 3]), _i64([1, 4]))}, name="points"
    )
    yield SampleInput((x, _arr(rng, (), dtype)), {"key": (x > 0,)}, name="mask_scalar_value")
    yield SampleInput((x, _arr(rng, (1, 1, 5), dtype)), {"key": (2,)}, name="extra_leading_ones")


def _setitem(x, v, key):
    y = x.clone()
    y[key] = v
    return y


def _setitem_ref(a, v, key):
    y = a.copy()
    y[key] = v
    return y


def _setitem_scalar(x, key, value):
    y = x.clone()
    y[key] = value
    return y


def _setitem_scalar_samples(dtype, rng):
    x = _arr(rng, (4, 5), dtype)
    yield SampleInput((x,), {"key": (slice(1, 3), 0), "value": 2}, name="slice")
    yield SampleInput((x,), {"key": (_i64([0, 0, 3]),), "value": -1}, name="rows")
    yield SampleInput((x,), {"key": (x > 1,), "value": 0}, name="mask")


def _index_put_samples(dtype, rng):
    x = _arr(rng, (4, 3), dtype)
    yield SampleInput((x, _arr(rng, (3, 3), dtype), _i64([2, 0, 3])), name="rows")
    yield SampleInput(
        (x, _arr(rng, (2,), dtype), _i64([1, 3]), _i64([2, 0])), name="points_two_indices"
    )
    yield SampleInput(
        (x, _arr(rng, (3,), dtype), _i64([1, 1, 3]), _i64([0, 0, 2])),
        {"accumulate": True},
        name="accumulate_repeated",
    )
    yield SampleInput(
        (x, _arr(rng, (), dtype), _i64([0, 0, 0])), {"accumulate": True}, name="accumulate_bcast"
    )
    yield SampleInput((x, _arr(rng, (), dtype), x > 0), name="bool_mask")


def _index_put(x, v, *idx, accumulate=False):
    return torch.index_put(x, tuple(idx), v, accumulate=accumulate)


def _index_put_ref(a, v, *idx, accumulate=False):
    out = a.copy()
    if accumulate:
        np.add.at(out, tuple(idx), v)
    else:
        out[tuple(idx)] = v
    return out


def _index_put_errors():
    x = np.zeros((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput((x, np.zeros((), np.float64), _i64([0]))),
            RuntimeError,
            r"Index put requires the source and destination dtypes match, got Float for the "
            r"destination and Double for the source",
        ),
        ErrorInput(
            SampleInput((x, np.zeros((3,), np.float32), _i64([0, 1]))),
            RuntimeError,
            r"shape mismatch: value tensor of shape \[3\] cannot be broadcast to indexing result "
            r"of shape \[2, 4\]",
        ),
        ErrorInput(
            SampleInput((x, np.zeros((), np.float32), _i64([0]), _i64([0]), _i64([0]))),
            IndexError,
            r"too many indices for tensor of dimension 2",
        ),
    ]


# --- gather / scatter -----------------------------------------------------------------------
def _gather_samples(dtype, rng):
    x = _arr(rng, (3, 4), dtype)
    yield SampleInput((x, rng.integers(0, 4, (3, 5))), {"dim": 1}, name="dim1_repeats")
    yield SampleInput((x, rng.integers(0, 3, (2, 2))), {"dim": 0}, name="dim0_smaller")
    y = _arr(rng, (2, 3, 4), dtype)
    yield SampleInput((y, rng.integers(0, 3, (2, 2, 4))), {"dim": -2}, name="3d_negdim")
    yield SampleInput((_arr(rng, (5,), dtype), _i64([4, 0, 0])), {"dim": 0}, name="1d")


def _gather(x, idx, dim):
    return torch.gather(x, dim, idx)


def _gather_ref(a, idx, dim):
    dim = dim % a.ndim
    out = np.empty(idx.shape, a.dtype)
    for pos in _coords_iter(idx):
        src = list(pos)
        src[dim] = idx[pos]
        out[pos] = a[tuple(src)]
    return out


def _gather_errors():
    x = np.zeros((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput((x, _i64([[0, 7]])), {"dim": 1}),
            RuntimeError,
            r"index 7 is out of bounds for dimension 1 with size 4",
        ),
        ErrorInput(
            SampleInput((x, _i64([0, 1])), {"dim": 1}),
            RuntimeError,
            r"Index tensor must have the same number of dimensions as input tensor",
        ),
        ErrorInput(
            SampleInput((x, np.array([[0.0]])), {"dim": 1}),
            RuntimeError,
            r"gather\(\): Expected dtype int(32/int)?64 for index",
        ),
        ErrorInput(
            SampleInput((x, _i64([[0], [1], [2], [3]])), {"dim": 1}),
            RuntimeError,
            r"Size does not match at dimension 0 expected index \[4, 1\] to be no larger than "
            r"self \[3, 4\] apart from dimension 1",
        ),
        ErrorInput(
            SampleInput((x, _i64([[-1]])), {"dim": 1}),
            RuntimeError,
            r"index -1 is out of bounds for dimension 1 with size 4",
        ),
    ]


def _scatter_samples(dtype, rng):
    x = _arr(rng, (3, 5), dtype)
    yield SampleInput(
        (x, _arr(rng, (3, 3), dtype), _perm_index(rng, (3, 3), 5, 1)), {"dim": 1}, name="dim1"
    )
    yield SampleInput(
        (x, _arr(rng, (3, 4), dtype), _perm_index(rng, (2, 3), 3, 0)),
        {"dim": 0},
        name="src_larger",
    )
    y = _arr(rng, (2, 3, 4), dtype)
    yield SampleInput(
        (y, _arr(rng, (2, 3, 2), dtype), _perm_index(rng, (2, 3, 2), 4, 2)),
        {"dim": -1},
        name="3d",
    )


def _scatter(x, src, idx, dim):
    return torch.scatter(x, dim, idx, src)


def _scatter_ref(a, src, idx, dim, mode="set"):
    dim = dim % a.ndim
    out = a.copy()
    for pos in _coords_iter(idx):
        dst = list(pos)
        dst[dim] = idx[pos]
        dst = tuple(dst)
        if mode == "set":
            out[dst] = src[pos]
        elif mode == "add":
            out[dst] = out[dst] + src[pos]
        else:
            out[dst] = out[dst] * src[pos]
    return out


def _scatter_value_samples(dtype, rng):
    x = _arr(rng, (3, 5), dtype)
    yield SampleInput((x, rng.integers(0, 5, (3, 2))), {"dim": 1, "value": 2}, name="dim1")
    yield SampleInput((x, rng.integers(0, 3, (2, 5))), {"dim": 0, "value": -1}, name="dim0")


def _scatter_value(x, idx, dim, value):
    return torch.scatter(x, dim, idx, value=value)


def _scatter_value_ref(a, idx, dim, value):
    src = np.full(idx.shape, value, dtype=a.dtype)
    return _scatter_ref(a, src, idx, dim)


def _scatter_errors():
    x = np.zeros((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput((x, np.ones((1, 2), np.float32), _i64([[0, 7]])), {"dim": 1}),
            RuntimeError,
            r"index 7 is out of bounds for dimension 1 with size 4",
        ),
        ErrorInput(
            SampleInput((x, np.ones((1, 2), np.float64), _i64([[0, 1]])), {"dim": 1}),
            RuntimeError,
            r"scatter\(\): Expected self.dtype to be equal to src.dtype",
        ),
        ErrorInput(
            SampleInput((x, np.ones((1, 2), np.float32), np.array([[0.0, 1.0]])), {"dim": 1}),
            RuntimeError,
            r"scatter\(\): Expected dtype int(32/int)?64 for index",
        ),
        ErrorInput(
            SampleInput((x, np.ones((1, 1), np.float32), _i64([[0, 1]])), {"dim": 1}),
            RuntimeError,
            r"Expected index \[1, 2\] to be no larger than self \[3, 4\] apart from dimension 1 "
            r"and to be no larger size than src \[1, 1\]",
        ),
        ErrorInput(
            SampleInput((x, np.ones((2,), np.float32), _i64([0, 1])), {"dim": 1}),
            RuntimeError,
            r"Index tensor must have the same number of dimensions as self tensor",
        ),
    ]


def _scatter_add_samples(dtype, rng):
    x = _arr(rng, (3, 4), dtype)
    yield SampleInput(
        (x, _arr(rng, (3, 6), dtype), rng.integers(0, 4, (3, 6))), {"dim": 1}, name="repeats"
    )
    yield SampleInput(
        (x, _arr(rng, (4, 4), dtype), rng.integers(0, 3, (4, 2))), {"dim": 0}, name="src_larger"
    )
    z = _arr(rng, (6,), dtype)
    yield SampleInput((z, _arr(rng, (8,), dtype), rng.integers(0, 6, (8,))), {"dim": 0}, name="1d")


def _scatter_add(x, src, idx, dim):
    return torch.scatter_add(x, dim, idx, src)


def _scatter_add_ref(a, src, idx, dim):
    return _scatter_ref(a, src, idx, dim, mode="add")


def _legacy_reduce(x, src, idx, dim, reduce):
    return torch.scatter(x, dim, idx, src, reduce=reduce)


def _legacy_reduce_ref(a, src, idx, dim, reduce):
    return _scatter_ref(a, src, idx, dim, mode="add" if reduce == "add" else "mul")


def _legacy_reduce_samples(dtype, rng):
    x = _arr(rng, (3, 4), dtype, 1, 2)
    for red in ("add", "multiply"):
        yield SampleInput(
            (x, _arr(rng, (3, 5), dtype, 1, 2), rng.integers(0, 4, (3, 5))),
            {"dim": 1, "reduce": red},
            name=red,
        )


def _scatter_reduce_ref(a, src, idx, dim, reduce, include_self=True):
    dim = dim % a.ndim
    groups: dict = {}
    for pos in _coords_iter(idx):
        dst = list(pos)
        dst[dim] = idx[pos]
        groups.setdefault(tuple(dst), []).append(src[pos].astype(np.float64))
    out = a.copy()
    for dst, vals in groups.items():
        if include_self:
            vals = [a[dst].astype(np.float64)] + vals
        vals = np.array(vals)
        if reduce == "sum":
            r = vals.sum()
        elif reduce == "prod":
            r = vals.prod()
        elif reduce == "mean":
            r = vals.sum() / len(vals)
            if a.dtype.kind in "iu":
                r = np.floor(r)
        elif reduce == "amax":
            r = vals.max()
        else:
            r = vals.min()
        out[dst] = r
    return out


def _scatter_reduce_samples(reduce):
    def gen(dtype, rng):
        lo, hi = (0.5, 1.5) if reduce == "prod" else (-3, 3)
        x = _distinct(rng, (3, 4), dtype) if reduce in ("amax", "amin") else None
        for inc in (True, False):
            if x is None:
                x = _arr(rng, (3, 4), dtype, lo, hi)
            src = (
                _distinct(rng, (3, 5), dtype) + x.max() * 0
                if reduce in ("amax", "amin")
                else _arr(rng, (3, 5), dtype, lo, hi)
            )
            if reduce in ("amax", "amin") and dtype.is_floating_point:
                src = (src + np.asarray(0.25, src.dtype)).astype(src.dtype)  # no ties with self
            yield SampleInput(
                (x, src, rng.integers(0, 4, (3, 5))),
                {"dim": 1, "reduce": reduce, "include_self": inc},
                name=f"include_self={inc}",
            )
        if reduce == "prod" and dtype.is_floating_point:
            x = _arr(rng, (2, 3), dtype, lo, hi)
            x[0, 1] = 0
            src = _arr(rng, (2, 4), dtype, lo, hi)
            src[1, 0] = 0
            yield SampleInput(
                (x, src, _i64([[1, 1, 0, 2], [0, 2, 2, 2]])),
                {"dim": 1, "reduce": reduce},
                name="zeros",
            )

    return gen


def _scatter_reduce(x, src, idx, dim, reduce, include_self=True):
    return torch.scatter_reduce(x, dim, idx, src, reduce, include_self=include_self)


def _scatter_reduce_errors():
    x = np.zeros((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput(
                (x, np.ones((1, 2), np.float32), _i64([[0, 1]])), {"dim": 1, "reduce": "foo"}
            ),
            RuntimeError,
            r"reduce argument must be either sum, prod, mean, amax or amin, got foo",
        ),
        ErrorInput(
            SampleInput(
                (x, np.ones((1, 2), np.float32), _i64([[0, 9]])), {"dim": 1, "reduce": "sum"}
            ),
            RuntimeError,
            r"index 9 is out of bounds for dimension 1 with size 4",
        ),
    ]


# --- index_select / index_add / index_copy / index_fill -------------------------------------
def _index_select_samples(dtype, rng):
    x = _arr(rng, (3, 4), dtype)
    yield SampleInput((x, _i64([3, 0, 3])), {"dim": 1}, name="dim1_repeats")
    yield SampleInput((x, _i64([2, 1])), {"dim": 0}, name="dim0")
    yield SampleInput((x, np.array([1], np.int32)), {"dim": -1}, name="int32")
    yield SampleInput((x, _i64(2)), {"dim": 0}, name="scalar_index")


def _index_select(x, idx, dim):
    return torch.index_select(x, dim, idx)


def _index_select_ref(a, idx, dim):
    return np.take(a, np.atleast_1d(idx), axis=dim)


def _index_select_errors():
    x = np.zeros((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput((x, _i64([[0, 1]])), {"dim": 1}),
            IndexError,
            r"index_select\(\): Index is supposed to be a vector",
        ),
        ErrorInput(
            SampleInput((x, np.array([0.0])), {"dim": 1}),
            RuntimeError,
            r"index_select\(\): Expected dtype int32 or int64 for index",
        ),
        ErrorInput(
            SampleInput((x, _i64([9])), {"dim": 1}), IndexError, r"index out of range in self"
        ),
    ]


def _index_add_samples(dtype, rng):
    x = _arr(rng, (4, 3), dtype)
    yield SampleInput((x, _arr(rng, (5, 3), dtype), _i64([0, 2, 0, 3, 0])), {"dim": 0}, name="rep")
    yield SampleInput(
        (x, _arr(rng, (4, 2), dtype), _i64([2, 1])), {"dim": 1, "alpha": 2}, name="alpha"
    )


def _index_add(x, src, idx, dim, alpha=1):
    return torch.index_add(x, dim, idx, src, alpha=alpha)


def _index_add_ref(a, src, idx, dim, alpha=1):
    out = a.copy()
    for j, i in enumerate(idx):
        sl_out = [slice(None)] * a.ndim
        sl_out[dim] = i
        sl_src = [slice(None)] * a.ndim
        sl_src[dim] = j
        out[tuple(sl_out)] = out[tuple(sl_out)] + alpha * src[tuple(sl_src)]
    return out


def _index_add_errors():
    x = np.zeros((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput((x, np.ones((3, 1), np.float32), _i64([9])), {"dim": 1}),
            RuntimeError,
            r"index 9 is out of bounds for dimension 1 with size 4",
        ),
        ErrorInput(
            SampleInput((x, np.ones((3, 2), np.float32), _i64([1])), {"dim": 1}),
            RuntimeError,
            r"index_add_\(\): Number of indices \(1\) should be equal to source.size\(dim\): "
            r"\(2\), for dim: 1",
        ),
        ErrorInput(
            SampleInput((x, np.ones((1, 3), np.float32), _i64([0])), {"dim": 0}),
            RuntimeError,
            r"source tensor shape must match self tensor shape, excluding the specified "
            r"dimension. Got self.shape = \[3, 4\] source.shape = \[1, 3\]",
        ),
        ErrorInput(
            SampleInput((x, np.ones((1, 4), np.float64), _i64([0])), {"dim": 0}),
            RuntimeError,
            r"index_add_\(\): self \(Float\) and source \(Double\) must have the same scalar type",
        ),
    ]


def _index_copy_samples(dtype, rng):
    x = _arr(rng, (4, 3), dtype)
    yield SampleInput((x, _arr(rng, (2, 3), dtype), _i64([3, 1])), {"dim": 0}, name="dim0")
    yield SampleInput((x, _arr(rng, (4, 3), dtype), _i64([2, 0, 1])), {"dim": 1}, name="dim1")


def _index_copy(x, src, idx, dim):
    return torch.index_copy(x, dim, idx, src)


def _index_copy_ref(a, src, idx, dim):
    out = a.copy()
    sl = [slice(None)] * a.ndim
    sl[dim] = idx
    out[tuple(sl)] = src
    return out


def _index_copy_errors():
    x = np.zeros((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput((x, np.ones((1, 4), np.float32), _i64([7])), {"dim": 0}),
            IndexError,
            r"index_copy_\(\): index 7 is out of bounds for dimension 0 with size 3",
        ),
        ErrorInput(
            SampleInput((x, np.ones((1, 4), np.float32), np.array([0], np.int32)), {"dim": 0}),
            RuntimeError,
            r"index_copy_\(\): Expected a long tensor for index, but got Int",
        ),
        ErrorInput(
            SampleInput((x, np.ones((1, 4), np.float32), _i64([0, 1])), {"dim": 0}),
            IndexError,
            r"index_copy_\(\): Number of indices \(2\) should be equal to source.size\(dim\) "
            r"\(1\)",
        ),
    ]


def _index_fill_samples(dtype, rng):
    x = _arr(rng, (4, 3), dtype)
    yield SampleInput((x, _i64([3, 1, 3])), {"dim": 0, "value": 2}, name="dim0")
    yield SampleInput((x, _i64([-1])), {"dim": 1, "value": -1}, name="negative_index")


def _index_fill(x, idx, dim, value):
    return torch.index_fill(x, dim, idx, value)


def _index_fill_ref(a, idx, dim, value):
    out = a.copy()
    sl = [slice(None)] * a.ndim
    sl[dim] = idx
    out[tuple(sl)] = value
    return out


def _index_fill_tensor_samples(dtype, rng):
    x = _arr(rng, (4, 3), dtype)
    yield SampleInput((x, _i64([0, 2]), _arr(rng, (), dtype)), {"dim": 1}, name="tensor_value")


def _index_fill_tensor(x, idx, v, dim):
    return torch.index_fill(x, dim, idx, v)


def _index_fill_tensor_ref(a, idx, v, dim):
    return _index_fill_ref(a, idx, dim, v)


def _index_fill_errors():
    x = np.zeros((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput((x, _i64([9])), {"dim": 1, "value": 1.0}),
            IndexError,
            r"index 9 is out of bounds for dimension 1 with size 4",
        ),
        ErrorInput(
            SampleInput((x, np.array([0], np.int32)), {"dim": 1, "value": 1.0}),
            IndexError,
            r"index_fill_\(\): Expected dtype int64 for index",
        ),
        ErrorInput(
            SampleInput((x, _i64([0])), {"dim": 1, "value": torch.tensor([1.0])}),
            RuntimeError,
            r"index_fill_ only supports a 0-dimensional value tensor, but got tensor with 1 "
            r"dimension\(s\)",
        ),
    ]


# --- masks, take, put -----------------------------------------------------------------------
def _masked_scatter_samples(dtype, rng):
    x = _arr(rng, (3, 4), dtype)
    yield SampleInput((x, x > 0, _arr(rng, (12,), dtype)), name="same_shape")
    yield SampleInput(
        (x, np.array([True, False, True, True]), _arr(rng, (4, 4), dtype)), name="bcast_mask"
    )
    yield SampleInput(
        (
            _arr(rng, (4,), dtype),
            np.array([[True, False, False, True], [False] * 4]),
            _arr(rng, (3,), dtype),
        ),
        name="bcast_input",
    )


def _masked_scatter_ref(a, mask, src):
    shape = np.broadcast_shapes(a.shape, mask.shape)
    out = np.broadcast_to(a, shape).copy()
    m = np.broadcast_to(mask, shape)
    out[m] = src.reshape(-1)[: int(m.sum())]
    return out


def _masked_scatter_errors():
    x = np.zeros((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput((x, np.array([True, False, True, False]), np.ones(4, np.float32))),
            RuntimeError,
            r"Number of elements of source < number of ones in mask",
        ),
        ErrorInput(
            SampleInput((x, _i64([1, 0, 1, 0]), np.ones(12, np.float32))),
            RuntimeError,
            r"masked_scatter_ only supports boolean masks, but got mask with dtype Long",
        ),
    ]


def _masked_select_samples(dtype, rng):
    x = _arr(rng, (3, 4), dtype)
    yield SampleInput((x, x > 0), name="same_shape")
    yield SampleInput((x, np.array([False, True, True, False])), name="bcast_mask")
    yield SampleInput(
        (_arr(rng, (4,), dtype), rng.integers(0, 2, (2, 4)).astype(bool)), name="bcast_x"
    )


def _masked_select_ref(a, mask):
    shape = np.broadcast_shapes(a.shape, mask.shape)
    return np.broadcast_to(a, shape)[np.broadcast_to(mask, shape)]


def _masked_select_errors():
    x = np.zeros((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput((x, _i64([1, 0, 1, 0]))),
            RuntimeError,
            r"masked_select: expected BoolTensor for mask",
        ),
        ErrorInput(
            SampleInput((x, np.array([True, False, True]))),
            RuntimeError,
            r"The size of tensor a \(4\) must match the size of tensor b \(3\) at non-singleton "
            r"dimension 1",
        ),
    ]


def _take_samples(dtype, rng):
    x = _arr(rng, (3, 4), dtype)
    yield SampleInput((x, _i64([[0, 11], [5, 5]])), name="2d_index")
    yield SampleInput((x, _i64([-1, 3])), name="negative")


def _take_errors():
    x = np.zeros((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput((x, _i64([12]))),
            IndexError,
            r"out of range: tried to access index 12 on a tensor of 12 elements",
        ),
        ErrorInput(
            SampleInput((x, np.array([1.0], np.float32))),
            RuntimeError,
            r"take\(\): Expected a long tensor for index, but got Float",
        ),
    ]


def _take_along_samples(dtype, rng):
    x = _arr(rng, (3, 4), dtype)
    yield SampleInput((x, rng.integers(0, 4, (3, 2))), {"dim": 1}, name="dim1")
    yield SampleInput((x, rng.integers(0, 4, (1, 5))), {"dim": 1}, name="bcast_index")
    yield SampleInput((x, rng.integers(0, 3, (2, 1))), {"dim": 0}, name="bcast_input")
    yield SampleInput((x, _i64([11, 0, 4])), {"dim": None}, name="flat")


def _take_along(x, idx, dim):
    return torch.take_along_dim(x, idx, dim=dim)


def _take_along_ref(a, idx, dim):
    if dim is None:
        return np.take_along_axis(a.reshape(-1), idx.reshape(-1), axis=0)
    a_sh, i_sh = list(a.shape), list(idx.shape)
    a_sh[dim] = i_sh[dim] = 1
    common = np.broadcast_shapes(tuple(a_sh), tuple(i_sh))
    ashape, ishape = list(common), list(common)
    ashape[dim], ishape[dim] = a.shape[dim], idx.shape[dim]
    return np.take_along_axis(np.broadcast_to(a, ashape), np.broadcast_to(idx, ishape), axis=dim)


def _take_along_errors():
    x = np.zeros((2, 3), np.float32)
    return [
        ErrorInput(
            SampleInput((x, _i64([0, 1])), {"dim": 1}),
            RuntimeError,
            r"input and indices should have the same number of dimensions",
        ),
        ErrorInput(
            SampleInput((x, np.array([[0]], np.int32)), {"dim": 1}),
            RuntimeError,
            r"torch.take_along_dim\(\): dtype of indices should be Long but got Int",
        ),
    ]


def _put_samples(dtype, rng):
    x = _arr(rng, (3, 4), dtype)
    yield SampleInput((x, _i64([0, 11, 5]), _arr(rng, (3,), dtype)), name="set")
    yield SampleInput(
        (x, _i64([[1, 1], [-1, 1]]), _arr(rng, (2, 2), dtype)), {"accumulate": True}, name="acc"
    )


def _put(x, idx, src, accumulate=False):
    return torch.put(x, idx, src, accumulate=accumulate)


def _put_ref(a, idx, src, accumulate=False):
    out = a.copy().reshape(-1)
    if accumulate:
        np.add.at(out, idx.reshape(-1), src.reshape(-1))
    else:
        out[idx.reshape(-1)] = src.reshape(-1)
    return out.reshape(a.shape)


def _put_errors():
    x = np.zeros(3, np.float32)
    return [
        ErrorInput(
            SampleInput((x, _i64([0, 5]), np.ones(2, np.float32))),
            IndexError,
            r"out of range: tried to access index 5 on a tensor of 3 elements",
        ),
        ErrorInput(
            SampleInput((x, _i64([0, 1]), np.ones(1, np.float32))),
            IndexError,
            r"put_\(\): Expected source and index to have the same number of elements, but got "
            r"source.numel\(\) = 1, index.numel\(\) = 2",
        ),
    ]


# --- sorting --------------------------------------------------------------------------------
def _sort_samples(dtype, rng):
    yield SampleInput((_distinct(rng, (3, 5), dtype),), name="last_dim")
    yield SampleInput((_distinct(rng, (4, 3), dtype),), {"dim": 0}, name="dim0")
    yield SampleInput((_distinct(rng, (2, 6), dtype),), {"descending": True}, name="descending")
    yield SampleInput((_distinct(rng, (), dtype),), name="scalar")


def _sort_ref(a, dim=-1, descending=False, stable=False):
    if a.ndim == 0:
        return a.copy(), np.asarray(0, np.int64)
    key = -a.astype(np.float64) if descending else a
    idx = np.argsort(key, axis=dim, kind="stable")
    return np.take_along_axis(a, idx, axis=dim), idx


def _sort(x, **kw):
    return torch.sort(x, **kw)


def _argsort_ref(a, dim=-1, descending=False, stable=False):
    return _sort_ref(a, dim, descending)[1]


def _msort_samples(dtype, rng):
    yield SampleInput((_distinct(rng, (4, 3), dtype),), name="2d")


def _topk_samples(dtype, rng):
    yield SampleInput((_distinct(rng, (3, 6), dtype),), {"k": 2}, name="k2")
    yield SampleInput((_distinct(rng, (5, 3), dtype),), {"k": 3, "dim": 0}, name="dim0_all")
    yield SampleInput(
        (_distinct(rng, (2, 12), dtype),), {"k": 2, "largest": False}, name="smallest"
    )
    yield SampleInput((_distinct(rng, (40,), dtype),), {"k": 5}, name="partition_path")


def _topk(x, k, dim=-1, largest=True):
    return torch.topk(x, k, dim=dim, largest=largest)


def _topk_ref(a, k, dim=-1, largest=True):
    vals, idx = _sort_ref(a, dim, descending=largest)
    sl = [slice(None)] * a.ndim
    sl[dim] = slice(0, k)
    return vals[tuple(sl)], idx[tuple(sl)]


def _topk_errors():
    return [
        ErrorInput(
            SampleInput((np.zeros(3, np.float32),), {"k": 4}),
            RuntimeError,
            r"selected index k out of range",
        ),
        ErrorInput(
            SampleInput((np.zeros((3, 4), np.float32),), {"k": 1, "dim": 2}),
            IndexError,
            r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)",
        ),
    ]


def _kthvalue_samples(dtype, rng):
    yield SampleInput((_distinct(rng, (3, 5), dtype),), {"k": 2}, name="k2")
    yield SampleInput(
        (_distinct(rng, (4, 3), dtype),), {"k": 4, "dim": 0, "keepdim": True}, name="kd"
    )


def _kthvalue(x, k, dim=-1, keepdim=False):
    return torch.kthvalue(x, k, dim=dim, keepdim=keepdim)


def _kthvalue_ref(a, k, dim=-1, keepdim=False):
    vals, idx = _sort_ref(a, dim)
    v = np.take(vals, [k - 1], axis=dim)
    i = np.take(idx, [k - 1], axis=dim)
    if not keepdim:
        v, i = v.squeeze(dim), i.squeeze(dim)
    return v, i


def _kthvalue_errors():
    return [
        ErrorInput(
            SampleInput((np.zeros((3, 4), np.float32),), {"k": 5, "dim": 1}),
            RuntimeError,
            r"kthvalue\(\): selected number k out of range for dimension 1",
        )
    ]


# --- unique, nonzero ------------------------------------------------------------------------
def _unique_samples(dtype, rng):
    x = _arr(rng, (4, 5), dtype, -2, 2)
    yield SampleInput((x,), name="plain")
    yield SampleInput((x,), {"return_inverse": True, "return_counts": True}, name="inv_counts")
    rows = _arr(rng, (2, 3), dtype, -2, 2)
    y = np.concatenate([rows, rows[::-1], rows[:1]], axis=0)
    yield SampleInput((y,), {"dim": 0, "return_inverse": True, "return_counts": True}, name="dim0")
    yield SampleInput((np.asarray(2, dtype.np),), {"return_inverse": True}, name="scalar")


def _unique(x, **kw):
    return torch.unique(x, **kw)


def _unique_ref(a, return_inverse=False, return_counts=False, dim=None):
    if dim is None:
        res = np.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        vals, inv, cnt = res
        inv = inv.reshape(a.shape)
    else:
        vals, inv, cnt = np.unique(a, return_inverse=True, return_counts=True, axis=dim)
        inv = inv.reshape(-1)
    out = [vals]
    if return_inverse:
        out.append(inv.astype(np.int64))
    if return_counts:
        out.append(cnt.astype(np.int64))
    return out[0] if len(out) == 1 else tuple(out)


def _unique_consecutive_samples(dtype, rng):
    x = np.array([1, 1, 2, 2, 2, 3, 1, 1, 2], dtype=np.float64).astype(dtype.np)
    yield SampleInput((x,), {"return_inverse": True, "return_counts": True}, name="1d")
    y = np.array([[1, 2], [1, 2], [3, 2], [1, 2]], dtype=np.float64).astype(dtype.np)
    yield SampleInput((y,), {"dim": 0, "return_counts": True, "return_inverse": True}, name="dim0")
    yield SampleInput((y,), {}, name="flat_2d")


def _unique_consecutive(x, **kw):
    return torch.unique_consecutive(x, **kw)


def _unique_consecutive_ref(a, return_inverse=False, return_counts=False, dim=None):
    if dim is None:
        seq = [a.reshape(-1)[i] for i in range(a.size)]
        inv_shape = a.shape
    else:
        seq = [np.take(a, i, axis=dim) for i in range(a.shape[dim])]
        inv_shape = (len(seq),)
    vals, inv, cnt = [], [], []
    for item in seq:
        if vals and np.array_equal(vals[-1], item):
            cnt[-1] += 1
        else:
            vals.append(item)
            cnt.append(1)
        inv.append(len(vals) - 1)
    v = np.array(vals, dtype=a.dtype) if dim is None else np.stack(vals, axis=dim)
    out = [v]
    if return_inverse:
        out.append(np.array(inv, np.int64).reshape(inv_shape))
    if return_counts:
        out.append(np.array(cnt, np.int64))
    return out[0] if len(out) == 1 else tuple(out)


def _nonzero_samples(dtype, rng):
    x = _arr(rng, (3, 4), dtype, -1, 1)
    if dtype.is_floating_point:
        x = np.where(np.abs(x) < 0.4, np.zeros_like(x), x).astype(dtype.np)
    yield SampleInput((x,), name="2d")
    yield SampleInput((x,), {"as_tuple": True}, name="as_tuple")
    yield SampleInput((np.zeros((2, 0, 3), dtype.np),), name="empty")
    yield SampleInput((np.asarray(1, dtype.np),), name="scalar")


def _nonzero(x, as_tuple=False):
    return torch.nonzero(x, as_tuple=as_tuple)


def _nonzero_ref(a, as_tuple=False):
    if as_tuple:
        return tuple(i.astype(np.int64) for i in np.nonzero(np.atleast_1d(a)))
    return np.argwhere(a).astype(np.int64)


# --- searching and counting -----------------------------------------------------------------
def _searchsorted_samples(dtype, rng):
    seq = np.sort(_arr(rng, (6,), dtype, -3, 3))
    vals = _arr(rng, (2, 4), dtype, -4, 4)
    vals[0, :2] = seq[[1, 4]]  # exact hits, where left and right differ
    yield SampleInput((seq, vals), name="1d_left")
    yield SampleInput((seq, vals), {"right": True}, name="1d_right")
    yield SampleInput((seq, vals), {"side": "right", "out_int32": True}, name="side_int32")
    rows = np.sort(_arr(rng, (3, 5), dtype, -3, 3), axis=-1)
    rv = _arr(rng, (3, 4), dtype, -4, 4)
    rv[1, 0] = rows[1, 2]
    yield SampleInput((rows, rv), name="batched")
    yield SampleInput((rows, rv), {"right": True}, name="batched_right")
    perm = rng.permutation(6)
    yield SampleInput((seq[perm], vals, np.argsort(perm).astype(np.int64)), name="sorter")


def _searchsorted(seq, vals, sorter=None, **kw):
    return torch.searchsorted(seq, vals, sorter=sorter, **kw)


def _searchsorted_ref(seq, vals, sorter=None, right=False, side=None, out_int32=False):
    if sorter is not None:
        seq = seq[sorter]
    s = "right" if (right or side == "right") else "left"
    if seq.ndim == 1:
        res = np.searchsorted(seq, vals, side=s)
    else:
        res = np.stack([np.searchsorted(seq[i], vals[i], side=s) for i in range(seq.shape[0])])
    return res.astype(np.int32 if out_int32 else np.int64)


def _searchsorted_errors():
    seq = np.array([1.0, 3.0, 5.0], np.float32)
    return [
        ErrorInput(
            SampleInput((seq, np.array([2.0], np.float32)), {"side": "foo"}),
            RuntimeError,
            r"side can only be 'left' or 'right' but got foo",
        ),
        ErrorInput(
            SampleInput(
                (np.ones((2, 3), np.float32), np.ones((1, 2), np.float32)),
            ),
            RuntimeError,
            r"boundaries tensor should be 1 dimension or the first N-1 dimensions",
        ),
        ErrorInput(
            SampleInput((seq, np.array([2.0], np.float32)), {"side": "left", "right": True}),
            RuntimeError,
            r"side and right can't be set to opposites",
        ),
    ]


def _bucketize_samples(dtype, rng):
    b = np.sort(_distinct(rng, (5,), dtype))
    x = _arr(rng, (3, 4), dtype, -4, 4)
    x[0, :2] = b[[0, 3]]
    yield SampleInput((x, b), name="left")
    yield SampleInput((x, b), {"right": True}, name="right")


def _bucketize_ref(x, b, right=False):
    return np.searchsorted(b, x, side="right" if right else "left").astype(np.int64)


def _bincount_samples(dtype, rng):
    x = rng.integers(0, 6, (20,)).astype(dtype.np)
    yield SampleInput((x,), name="plain")
    yield SampleInput((x,), {"minlength": 9}, name="minlength")
    yield SampleInput((x, rng.uniform(0, 1, 20)), name="weights_f64")
    yield SampleInput((x, rng.uniform(0, 1, 20).astype(np.float32)), name="weights_f32")
    yield SampleInput((np.zeros(0, dtype.np),), {"minlength": 3}, name="empty")


def _bincount(x, weights=None, minlength=0):
    return torch.bincount(x, weights=weights, minlength=minlength)


def _bincount_ref(x, weights=None, minlength=0):
    res = np.bincount(x, weights=weights, minlength=minlength)
    if weights is not None and weights.dtype == np.float32:
        res = res.astype(np.float32)
    return res


def _bincount_out_dtype(sample, dtype):
    if len(sample.args) > 1:
        return torch.float32 if sample.args[1].dtype == np.float32 else torch.float64
    return torch.int64


def _bincount_errors():
    return [
        ErrorInput(
            SampleInput((_i64([1, -2, 2]),)),
            RuntimeError,
            r"bincount only supports 1-d non-negative integral inputs",
        ),
        ErrorInput(
            SampleInput((_i64([[1, 2]]),)),
            RuntimeError,
            r"bincount only supports 1-d non-negative integral inputs",
        ),
        ErrorInput(
            SampleInput((_i64([1, 2]), np.ones(1))),
            RuntimeError,
            r"weights should be 1-d and have the same length as input",
        ),
        ErrorInput(
            SampleInput((np.ones(2, np.float32),)), RuntimeError, r"not implemented for 'Float'"
        ),
    ]


def _histc_samples(dtype, rng):
    # values on a grid of quarter-steps between bin edges, so no value sits on an edge
    x = (rng.integers(0, 40, 30) / 4 + 0.125 - 5).astype(dtype.np)
    yield SampleInput((x,), {"bins": 8, "min": -4, "max": 4}, name="range")
    yield SampleInput((x,), {"bins": 5}, name="data_range")


def _histc(x, bins=100, min=0, max=0):
    return torch.histc(x, bins=bins, min=min, max=max)


def _histc_ref(x, bins=100, min=0, max=0):
    lo, hi = float(min), float(max)
    xf = x.astype(np.float64)
    if lo == hi:
        lo, hi = float(xf.min()), float(xf.max())
    return np.histogram(xf, bins=bins, range=(lo, hi))[0].astype(x.dtype)


def _histc_errors():
    x = np.array([1.0, 2.0, 5.0], np.float32)
    return [
        ErrorInput(
            SampleInput((x,), {"bins": 4, "min": 3, "max": 1}),
            RuntimeError,
            r"torch.histc: max must be larger than min",
        ),
        ErrorInput(
            SampleInput((x,), {"bins": 0}),
            RuntimeError,
            r"bins must be > 0, but got 0",
        ),
        ErrorInput(
            SampleInput((_i64([1, 2]),), {"bins": 4}),
            RuntimeError,
            r"not implemented for 'Long'",
        ),
    ]


def _histogram_samples(dtype, rng):
    x = (rng.integers(0, 40, 30) / 4 + 0.125 - 5).astype(dtype.np)
    yield SampleInput((x,), {"bins": 6}, name="bins")
    yield SampleInput((x,), {"bins": 4, "range": (-2.0, 2.0), "density": True}, name="density")
    yield SampleInput(
        (x,), {"bins": 3, "weight": torch.tensor(np.linspace(0, 1, 30).astype(dtype.np))}, name="w"
    )


def _histogram(x, bins, **kw):
    return torch.histogram(x, bins, **kw)


def _histogram_ref(x, bins, range=None, weight=None, density=False):
    w = None if weight is None else weight.numpy().astype(np.float64)
    h, e = np.histogram(x.astype(np.float64), bins=bins, range=range, weights=w, density=density)
    return h.astype(x.dtype), e.astype(x.dtype)


OPS = [
    OpInfo(
        "getitem_basic",
        _getitem,
        _getitem_ref,
        _getitem_basic_samples,
        ALL,
        error_inputs=_getitem_errors,
    ),
    OpInfo("getitem_advanced", _getitem_adv, _getitem_adv_ref, _getitem_adv_samples, ALL),
    OpInfo("setitem", _setitem, _setitem_ref, _setitem_samples, ALL),
    OpInfo(
        "setitem_scalar",
        _setitem_scalar,
        lambda a, key, value: _setitem_ref(a, np.asarray(value, a.dtype), key),
        _setitem_scalar_samples,
        ALL,
    ),
    OpInfo(
        "index_put",
        _index_put,
        _index_put_ref,
        _index_put_samples,
        ALL,
        error_inputs=_index_put_errors,
    ),
    OpInfo("gather", _gather, _gather_ref, _gather_samples, ALL, error_inputs=_gather_errors),
    OpInfo("scatter", _scatter, _scatter_ref, _scatter_samples, ALL, error_inputs=_scatter_errors),
    OpInfo("scatter_value", _scatter_value, _scatter_value_ref, _scatter_value_samples, ALL),
    OpInfo("scatter_add", _scatter_add, _scatter_add_ref, _scatter_add_samples, ALL),
    OpInfo(
        "scatter_legacy_reduce",
        _legacy_reduce,
        _legacy_reduce_ref,
        _legacy_reduce_samples,
        FLOATS + (torch.int64,),
        supports_grad=False,
    ),
]
OPS += [
    OpInfo(
        f"scatter_reduce_{red}",
        _scatter_reduce,
        _scatter_reduce_ref,
        _scatter_reduce_samples(red),
        FLOATS + (torch.float16, torch.int64),
        error_inputs=_scatter_reduce_errors if red == "sum" else None,
        tol={"float16": (2e-2, 2e-2)},
    )
    for red in ("sum", "prod", "mean", "amax", "amin")
]
OPS += [
    OpInfo(
        "index_select",
        _index_select,
        _index_select_ref,
        _index_select_samples,
        ALL,
        error_inputs=_index_select_errors,
    ),
    OpInfo(
        "index_add",
        _index_add,
        _index_add_ref,
        _index_add_samples,
        ALL,
        error_inputs=_index_add_errors,
    ),
    OpInfo(
        "index_copy",
        _index_copy,
        _index_copy_ref,
        _index_copy_samples,
        ALL,
        error_inputs=_index_copy_errors,
    ),
    OpInfo(
        "index_fill",
        _index_fill,
        _index_fill_ref,
        _index_fill_samples,
        ALL,
        error_inputs=_index_fill_errors,
    ),
    OpInfo(
        "index_fill_tensor_value",
        _index_fill_tensor,
        _index_fill_tensor_ref,
        _index_fill_tensor_samples,
        FLOATS,
    ),
    OpInfo(
        "masked_scatter",
        torch.masked_scatter,
        _masked_scatter_ref,
        _masked_scatter_samples,
        ALL,
        error_inputs=_masked_scatter_errors,
    ),
    OpInfo(
        "masked_select",
        torch.masked_select,
        _masked_select_ref,
        _masked_select_samples,
        ALL,
        error_inputs=_masked_select_errors,
    ),
    OpInfo(
        "take",
        torch.take,
        lambda a, i: np.take(a, i),
        _take_samples,
        ALL,
        error_inputs=_take_errors,
    ),
    OpInfo(
        "take_along_dim",
        _take_along,
        _take_along_ref,
        _take_along_samples,
        ALL,
        error_inputs=_take_along_errors,
    ),
    OpInfo("put", _put, _put_ref, _put_samples, ALL, error_inputs=_put_errors),
    OpInfo("sort", _sort, _sort_ref, _sort_samples, ALL),
    OpInfo(
        "argsort",
        lambda x, **kw: torch.argsort(x, **kw),
        _argsort_ref,
        _sort_samples,
        ALL,
        supports_grad=False,
    ),
    OpInfo("msort", torch.msort, lambda a: np.sort(a, axis=0), _msort_samples, ALL),
    OpInfo("topk", _topk, _topk_ref, _topk_samples, ALL, error_inputs=_topk_errors),
    OpInfo(
        "kthvalue", _kthvalue, _kthvalue_ref, _kthvalue_samples, ALL, error_inputs=_kthvalue_errors
    ),
    OpInfo("unique", _unique, _unique_ref, _unique_samples, ALL, supports_grad=False),
    OpInfo(
        "unique_consecutive",
        _unique_consecutive,
        _unique_consecutive_ref,
        _unique_consecutive_samples,
        ALL,
        supports_grad=False,
    ),
    OpInfo(
        "nonzero",
        _nonzero,
        _nonzero_ref,
        _nonzero_samples,
        ALL + (torch.bool,),
        supports_grad=False,
    ),
    OpInfo(
        "argwhere",
        torch.argwhere,
        lambda a: np.argwhere(a).astype(np.int64),
        lambda dt, rng: [s for s in _nonzero_samples(dt, rng) if not s.kwargs],
        ALL,
        supports_grad=False,
    ),
    OpInfo(
        "searchsorted",
        _searchsorted,
        _searchsorted_ref,
        _searchsorted_samples,
        FLOATS + INTS,
        supports_grad=False,
        error_inputs=_searchsorted_errors,
    ),
    OpInfo(
        "bucketize",
        lambda x, b, **kw: torch.bucketize(x, b, **kw),
        _bucketize_ref,
        _bucketize_samples,
        FLOATS + INTS,
        supports_grad=False,
    ),
    OpInfo(
        "bincount",
        _bincount,
        _bincount_ref,
        _bincount_samples,
        INTS,
        supports_grad=False,
        out_dtype=_bincount_out_dtype,
        error_inputs=_bincount_errors,
    ),
    OpInfo(
        "histc",
        _histc,
        _histc_ref,
        _histc_samples,
        HALF + FLOATS,
        supports_grad=False,
        error_inputs=_histc_errors,
    ),
    OpInfo(
        "histogram",
        _histogram,
        _histogram_ref,
        _histogram_samples,
        FLOATS,
        supports_grad=False,
    ),
]
