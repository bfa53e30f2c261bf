"""Op table entries: shape ops (tocha.core._ops.shape)."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import as_strided as np_as_strided
from numpy.lib.stride_tricks import sliding_window_view

import tocha.core as torch

from . import ErrorInput, OpInfo, SampleInput

FLOATS = (torch.float32, torch.float64)
ALL = (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int32, torch.int64)
ALL_BOOL = ALL + (torch.bool,)


def _arr(rng, shape, dtype):
    if dtype is torch.bool:
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.is_floating_point:
        return rng.uniform(-3.0, 3.0, shape).astype(dtype.np)
    return rng.integers(-5, 6, shape).astype(dtype.np)


def _f32(*shape):
    return np.ones(shape, np.float32)


def _unary(*cases):
    """Samples ``(array of shape, *extra args)`` with kwargs: ``(shape, args, kwargs, name)``."""

    def gen(dtype, rng):
        for shape, args, kwargs, name in cases:
            yield SampleInput((_arr(rng, shape, dtype), *args), dict(kwargs), name=name)

    return gen


def _err(args, exc, match, **kwargs):
    return ErrorInput(SampleInput(tuple(args), kwargs), exc, match)


# --- references -------------------------------------------------------------------------------
def _ref_cat(ts, dim=0):
    keep = [t for t in ts if not (t.ndim == 1 and t.shape[0] == 0)] or list(ts)
    dt = np.result_type(*ts)
    return np.concatenate([t.astype(dt) for t in keep], axis=dim)


def _ref_split(a, size, dim=0):
    n = a.shape[dim]
    if isinstance(size, int):
        cuts = list(range(size, n, size))
    else:
        cuts = list(np.cumsum(size)[:-1])
    return tuple(np.split(a, cuts, axis=dim))


def _ref_chunk(a, chunks, dim=0):
    n = a.shape[dim]
    return _ref_split(a, -(-n // chunks), dim)


def _ref_tensor_split(a, arg, dim=0):
    if isinstance(arg, int):
        return tuple(np.array_split(a, arg, axis=dim))
    return tuple(np.split(a, list(arg), axis=dim))


def _ref_tensor_split_any(a, arg, dim=0):
    return _ref_tensor_split(a, arg.tolist() if isinstance(arg, np.ndarray) else arg, dim)


def _ref_broadcast_to(a, size):
    lead = len(size) - a.ndim
    return np.broadcast_to(
        a, tuple(a.shape[i - lead] if s == -1 else s for i, s in enumerate(size))
    )


def _ref_flatten(a, start_dim=0, end_dim=-1):
    if a.ndim == 0:
        return a.reshape(1)
    s, e = start_dim % a.ndim, end_dim % a.ndim
    return a.reshape(a.shape[:s] + (-1,) + a.shape[e + 1 :])


def _ref_narrow(a, dim, start, length):
    n = a.shape[dim]
    start = start + n if start < 0 else start
    idx = [slice(None)] * a.ndim
    idx[dim] = slice(start, start + length)
    return a[tuple(idx)]


def _ref_diag_embed(a, offset=0, dim1=-2, dim2=-1):
    n = a.shape[-1] + abs(offset)
    out = np.zeros(a.shape[:-1] + (n, n), a.dtype)
    diag = np.diagonal(out, offset, -2, -1)
    diag.setflags(write=True)
    diag[...] = a
    nd = a.ndim + 1
    d1, d2 = dim1 % nd, dim2 % nd
    # the two new dims sit at -2, -1 in ``out``: move them to (d1, d2)
    return np.moveaxis(out, (-2, -1), (d1, d2))


def _ref_unfold(a, dimension, size, step):
    if a.ndim == 0:
        return a.reshape(1)
    d = dimension % a.ndim
    w = sliding_window_view(a, size, axis=d)
    idx = [slice(None)] * w.ndim
    idx[d] = slice(None, None, step)
    return w[tuple(idx)]


def _ref_as_strided(a, size, stride, storage_offset=0):
    flat = np.ascontiguousarray(a).reshape(-1)[storage_offset:]
    return np_as_strided(flat, size, tuple(s * flat.itemsize for s in stride)).copy()


def _ref_movedim(a, source, destination):
    return np.moveaxis(a, source, destination)


def _ref_unflatten(a, dim, sizes):
    d = dim % a.ndim
    return a.reshape(a.shape[:d] + tuple(sizes) + a.shape[d + 1 :])


def _ref_repeat_interleave(a, repeats, dim=None):
    if isinstance(repeats, np.ndarray) and repeats.size == 1:
        repeats = int(repeats.reshape(-1)[0])
    return np.repeat(a, repeats, axis=dim)


def _ref_squeeze(a, dim=None):
    if dim is None:
        return np.squeeze(a)
    dims = (dim,) if isinstance(dim, int) else dim
    dims = tuple(d % a.ndim for d in dims if a.shape[d] == 1)
    return np.squeeze(a, axis=dims)


# --- samples ----------------------------------------------------------------------------------
def _cat_samples(dtype, rng):
    a = lambda *s: _arr(rng, s, dtype)  # noqa: E731
    yield SampleInput(([a(2, 3), a(1, 3), a(3, 3)],), name="dim0")
    yield SampleInput(([a(2, 3), a(2, 1)], 1), name="dim1")
    yield SampleInput(([a(2, 1, 3), a(2, 2, 3)],), {"dim": -2}, name="neg_dim")
    yield SampleInput(((a(2, 3),),), {"dim": -1}, name="single_tuple")
    yield SampleInput(([a(0), a(2, 3), a(1, 3)],), name="legacy_empty", grad=())
    if dtype is torch.float32:
        yield SampleInput(
            ([a(2, 2), rng.integers(0, 3, (2, 2)).astype(np.int32)],), name="promote_int"
        )


def _cat_out_dtype(sample, dtype):
    if sample.name == "promote_int":
        return torch.float32
    return dtype


def _stack_samples(dtype, rng):
    a = lambda *s: _arr(rng, s, dtype)  # noqa: E731
    yield SampleInput(([a(2, 3), a(2, 3), a(2, 3)],), name="dim0")
    yield SampleInput(([a(2, 3), a(2, 3)], 1), name="dim1")
    yield SampleInput(([a(2, 3), a(2, 3)],), {"dim": -1}, name="neg_dim")
    yield SampleInput(([a(), a()],), name="zero_dim")


def _multi_samples(shapes_list):
    def gen(dtype, rng):
        for shapes in shapes_list:
            yield SampleInput(
                ([_arr(rng, s, dtype) for s in shapes],), name="x".join(str(s) for s in shapes)
            )

    return gen


def _cat_errors():
    return [
        _err(
            ([_f32(2, 3), _f32(2, 4)],),
            RuntimeError,
            r"Sizes of tensors must match except in "
            r"dimension 0\. Expected size 3 but got size 4 for tensor number 1 in the list\.",
        ),
        _err(
            ([_f32(2, 3), _f32(3, 4)], 1),
            RuntimeError,
            r"Expected size 2 but got size 3 for tensor number 1",
        ),
        _err(([],), ValueError, r"expected a non-empty list of Tensors"),
        _err(
            ([_f32(2, 3), _f32(3)],),
            RuntimeError,
            r"Tensors must have same number of dimensions: got 2 and 1",
        ),
        _err(
            ([_f32(2, 3)], 2),
            IndexError,
            r"Dimension out of range \(expected to be in range "
            r"of \[-2, 1\], but got 2\)",
        ),
        _err(
            ([_f32(), _f32()],),
            RuntimeError,
            r"zero-dimensional tensor \(at position 0\) cannot be concatenated",
        ),
        _err((_f32(2, 3),), TypeError, r"must be tuple of Tensors, not Tensor"),
    ]


def _stack_errors():
    return [
        _err(
            ([_f32(2, 3), _f32(2, 4)],),
            RuntimeError,
            r"stack expects each tensor to be equal "
            r"size, but got \[2, 3\] at entry 0 and \[2, 4\] at entry 1",
        ),
        _err(([],), RuntimeError, r"stack expects a non-empty TensorList"),
        _err(([_f32(2, 3)], 3), IndexError, r"Dimension out of range"),
    ]


def _split_errors():
    return [
        _err(
            (_f32(5), [2, 2]),
            RuntimeError,
            r"split_with_sizes expects split_sizes to sum "
            r"exactly to 5 \(input tensor's size at dimension 0\), but got split_sizes=\[2, 2\]",
        ),
        _err(
            (_f32(5), 0),
            RuntimeError,
            r"split_size can only be 0 if dimension size is 0, but got dimension size of 5",
        ),
        _err((_f32(5), -1), RuntimeError, r"split expects split_size be non-negative"),
        _err((_f32(5), [2, -1, 4]), RuntimeError, r"only non-negative entries"),
        _err((_f32(), 1), RuntimeError, r"split expects at least a 1-dimensional tensor"),
        _err((_f32(2, 3), 1, 2), IndexError, r"Dimension out of range"),
        _err((_f32(2, 3), 2.0), TypeError, r"must be tuple of ints, not float"),
    ]


def _narrow_errors():
    return [
        _err(
            (_f32(5), 0, 3, 3),
            RuntimeError,
            r"start \(3\) \+ length \(3\) exceeds dimension "
            r"size \(5\)\.",
        ),
        _err(
            (_f32(5), 0, 6, 0),
            IndexError,
            r"start out of range \(expected to be in range of "
            r"\[-5, 5\], but got 6\)",
        ),
        _err((_f32(5), 0, 1, -1), RuntimeError, r"narrow\(\): length must be non-negative\."),
        _err((_f32(), 0, 0, 1), RuntimeError, r"narrow\(\) cannot be applied to a 0-dim tensor"),
        _err(
            (_f32(5), 0, np.array([1]), 1), RuntimeError, r"start must be an 0-dim integral Tensor"
        ),
        _err((_f32(5), 1, 0, 1), IndexError, r"Dimension out of range"),
    ]


def _repeat_errors():
    return [
        _err(
            (_f32(2, 3), (2,)),
            RuntimeError,
            r"Number of dimensions of repeat dims can not be "
            r"smaller than number of dimensions of tensor",
        ),
        _err(
            (_f32(2, 3), (-1, 2)),
            RuntimeError,
            r"Trying to create tensor with negative dimension -2: \[-2, 6\]",
        ),
    ]


def _T_quiet(a):
    with warnings.catch_warnings():  # torch deprecates .T on ndim != 2 but still computes it
        warnings.simplefilter("ignore", UserWarning)
        return a.T


# --- the table --------------------------------------------------------------------------------
def _op(name, op, ref, samples, dtypes=ALL, **kw):
    return OpInfo(name, op, ref, samples, dtypes, **kw)


OPS = [
    _op(
        "cat",
        torch.cat,
        _ref_cat,
        _cat_samples,
        ALL_BOOL,
        error_inputs=_cat_errors,
        out_dtype=_cat_out_dtype,
    ),
    _op("concat", torch.concat, _ref_cat, _cat_samples, FLOATS, out_dtype=_cat_out_dtype),
    _op("concatenate", torch.concatenate, _ref_cat, _cat_samples, FLOATS, out_dtype=_cat_out_dtype),
    _op(
        "stack",
        torch.stack,
        lambda ts, dim=0: np.stack(ts, axis=dim),
        _stack_samples,
        ALL_BOOL,
        error_inputs=_stack_errors,
    ),
    _op(
        "hstack",
        torch.hstack,
        np.hstack,
        _multi_samples([[(3,), (2,)], [(2, 3), (2, 1)], [(), (2,)]]),
        error_inputs=lambda: [_err(([],), RuntimeError, r"hstack expects a non-empty")],
    ),
    _op("vstack", torch.vstack, np.vstack, _multi_samples([[(3,), (2, 3)], [(), ()]])),
    _op("row_stack", torch.row_stack, np.vstack, _multi_samples([[(3,), (2, 3)]]), FLOATS),
    _op("dstack", torch.dstack, np.dstack, _multi_samples([[(3,), (1, 3)], [(2, 2), (2, 2, 2)]])),
    _op(
        "column_stack",
        torch.column_stack,
        np.column_stack,
        _multi_samples([[(3,), (3, 2)], [(), (1,)], [(2, 2, 1), (2, 1, 1)]]),
    ),
    _op(
        "split",
        torch.split,
        _ref_split,
        _unary(
            ((5, 2), (2,), {}, "int"),
            ((3, 5), ([1, 3, 1], 1), {}, "sizes"),
            ((3, 5), (5,), {"dim": -1}, "one_piece"),
            ((2, 4), ((1, 3),), {"dim": -1}, "tuple_sizes"),
        ),
        error_inputs=_split_errors,
    ),
    _op(
        "Tensor.split",
        lambda a, *args, **kw: a.split(*args, **kw),
        _ref_split,
        _unary(
            ((3, 5), (2, -1), {}, "neg_dim"),
            ((4, 2), ([3, 1],), {}, "sizes"),
        ),
        FLOATS,
    ),
    _op(
        "chunk",
        torch.chunk,
        _ref_chunk,
        _unary(
            ((6, 2), (4,), {}, "fewer"),
            ((2, 5), (3, -1), {}, "neg_dim"),
            ((3, 2), (1,), {}, "one"),
        ),
        error_inputs=lambda: [
            _err(
                (_f32(5), 0), RuntimeError, r"chunk expects `chunks` to be greater than 0, got: 0"
            ),
            _err((_f32(), 2), RuntimeError, r"chunk expects at least a 1-dimensional tensor"),
        ],
    ),
    _op(
        "tensor_split",
        torch.tensor_split,
        _ref_tensor_split_any,
        _unary(
            ((7, 2), (3,), {}, "sections"),
            ((2, 5), ([1, 4], -1), {}, "indices"),
            ((2, 5), ([-2],), {"dim": 1}, "neg_index"),
            ((5, 2), (np.array([1, 3]),), {}, "tensor_indices"),
        ),
        error_inputs=lambda: [
            _err((_f32(5), 0), RuntimeError, r"number of sections must be larger than 0, got 0"),
            _err((_f32(), 2), RuntimeError, r"tensor_split expected at least a 1-dimensional"),
            _err(
                (_f32(5), np.array([1.0])), RuntimeError, r"to have dtype of long, but got Double"
            ),
        ],
    ),
    _op(
        "hsplit",
        torch.hsplit,
        lambda a, s: tuple(np.hsplit(a, s)),
        _unary(((2, 4), (2,), {}, "2d"), ((6,), ([1, 4],), {}, "1d_idx")),
        error_inputs=lambda: [
            _err(
                (_f32(4, 3), 2),
                RuntimeError,
                r"torch.hsplit attempted to split along dimension "
                r"1, but the size of the dimension 3 is not divisible by the split_size 2!",
            ),
        ],
    ),
    _op(
        "vsplit",
        torch.vsplit,
        lambda a, s: tuple(np.vsplit(a, s)),
        _unary(((4, 2), (2,), {}, "2d")),
        error_inputs=lambda: [
            _err((_f32(3), 2), RuntimeError, r"torch.vsplit requires a tensor with at least 2"),
        ],
    ),
    _op(
        "dsplit",
        torch.dsplit,
        lambda a, s: tuple(np.dsplit(a, s)),
        _unary(((1, 2, 4), (2,), {}, "3d")),
    ),
    _op(
        "unbind",
        torch.unbind,
        lambda a, dim=0: tuple(np.moveaxis(a, dim, 0)),
        _unary(
            ((3, 2), (), {}, "dim0"),
            ((2, 3), (-1,), {}, "neg_dim"),
        ),
        ALL_BOOL,
        error_inputs=lambda: [
            _err((_f32(),), IndexError, r"Dimension specified as 0 but tensor has no dimensions"),
        ],
    ),
    _op(
        "narrow",
        torch.narrow,
        _ref_narrow,
        _unary(
            ((3, 5), (1, 1, 3), {}, "mid"),
            ((4, 2), (-2, -3, 2), {}, "neg_start"),
            ((4,), (0, 4, 0), {}, "empty_at_end"),
        ),
        ALL_BOOL,
        error_inputs=_narrow_errors,
    ),
    _op(
        "narrow_tensor_start",
        lambda a, s: torch.narrow(a, 0, s, 2),
        lambda a, s: _ref_narrow(a, 0, int(s), 2),
        lambda dt, rng: [SampleInput((_arr(rng, (5, 2), dt), np.array(2)))],
        FLOATS,
    ),
    _op(
        "flip",
        torch.flip,
        lambda a, dims: np.flip(a, dims),
        _unary(
            ((3, 4), ((0, 1),), {}, "both"),
            ((2, 3, 2), ([-1],), {}, "neg"),
            ((3,), ((),), {}, "none"),
        ),
        ALL_BOOL,
        error_inputs=lambda: [
            _err(
                (_f32(2, 3), (0, 0)),
                RuntimeError,
                r"dim 0 appears multiple times in the list of "
                r"dims",
            ),
            _err((_f32(2, 3), (2,)), IndexError, r"Dimension out of range"),
        ],
    ),
    _op(
        "Tensor.flip_varargs",
        lambda a: a.flip(0, -1),
        lambda a: np.flip(a, (0, -1)),
        _unary(((2, 3), (), {}, "2d")),
        FLOATS,
    ),
    _op(
        "fliplr",
        torch.fliplr,
        np.fliplr,
        _unary(((3, 4), (), {}, "2d")),
        error_inputs=lambda: [_err((_f32(3),), RuntimeError, r"Input must be >= 2-d\.")],
    ),
    _op(
        "flipud",
        torch.flipud,
        np.flipud,
        _unary(((3, 4), (), {}, "2d"), ((3,), (), {}, "1d")),
        error_inputs=lambda: [_err((_f32(),), RuntimeError, r"Input must be >= 1-d\.")],
    ),
    _op(
        "roll",
        torch.roll,
        lambda a, shifts, dims=None: np.roll(a, shifts, dims),
        _unary(
            ((3, 4), (5,), {}, "flat"),
            ((3, 4), ((1, -2), (0, 1)), {}, "two_dims"),
            ((2, 3), (-1, -1), {}, "neg_dim"),
        ),
        ALL_BOOL,
        error_inputs=lambda: [
            _err(
                (_f32(2, 3), 1, (0, 1)),
                RuntimeError,
                r"shifts and dimensions must align\. shifts: 1, dims:2",
            ),
            _err(
                (_f32(2, 3), (1, 2)),
                RuntimeError,
                r"shifts and dimensions must align\. shifts: 2, dims:0",
            ),
        ],
    ),
    _op(
        "rot90",
        torch.rot90,
        lambda a, k=1, dims=(0, 1): np.rot90(a, k, dims),
        _unary(
            ((3, 4), (), {}, "default"),
            ((2, 3, 4), (2, [1, 2]), {}, "k2"),
            ((2, 3, 4), (-1, [-1, 0]), {}, "k_neg"),
            ((2, 3), (4,), {}, "k4"),
            ((2, 3), (3,), {}, "k3"),
        ),
        error_inputs=lambda: [
            _err(
                (_f32(2, 3), 1, [0, 0]),
                RuntimeError,
                r"expected rotation dims to be different, "
                r"but got dim0 = 0 and dim1 = 0",
            ),
            _err(
                (_f32(2, 3), 1, [0]),
                RuntimeError,
                r"expected total rotation dims == 2, but got dims = 1",
            ),
            _err((_f32(3),), RuntimeError, r"expected total dims >= 2, but got total dims = 1"),
        ],
    ),
    _op(
        "repeat",
        lambda a, sizes: a.repeat(*sizes),
        lambda a, sizes: np.tile(a, sizes),
        _unary(
            ((2, 3), ((2, 1),), {}, "same_ndim"),
            ((2, 3), ((2, 1, 3),), {}, "extra_dim"),
            ((), ((3,),), {}, "scalar"),
            ((2, 2), ((0, 2),), {}, "zero"),
        ),
        ALL_BOOL,
        error_inputs=_repeat_errors,
    ),
    _op(
        "Tensor.repeat_tuple",
        lambda a: a.repeat((2, 2)),
        lambda a: np.tile(a, (2, 2)),
        _unary(((2,), (), {}, "1d")),
        FLOATS,
    ),
    _op(
        "tile",
        torch.tile,
        np.tile,
        _unary(
            ((2, 3), ((2,),), {}, "fewer_dims"),
            ((2, 3), ((2, 1, 2),), {}, "more_dims"),
        ),
    ),
    _op(
        "repeat_interleave",
        torch.repeat_interleave,
        _ref_repeat_interleave,
        _unary(
            ((2, 3), (2,), {}, "flat"),
            ((2, 3), (3,), {"dim": -1}, "int_dim"),
            ((2, 3), (np.array([2, 0, 1]),), {"dim": 1}, "tensor_repeats"),
            ((3, 2), (np.array([2]),), {"dim": 0}, "tensor_one"),
        ),
        error_inputs=lambda: [
            _err((_f32(2, 3), -1), RuntimeError, r"Repeats must be non-negative"),
            _err(
                (_f32(2, 3), np.array([1, 2, 3])),
                RuntimeError,
                r"repeats must have the same size as input along dim, but got repeats.size\(0\) = 3 "
                r"and input.size\(0\) = 6",
            ),
            _err(
                (_f32(2, 3), np.array([[1, 2]]), 0),
                RuntimeError,
                r"repeats must be 0-dim or 1-dim tensor",
            ),
            _err(
                (np.array(3),), RuntimeError, r"repeat_interleave only accept 1D vector as repeat"
            ),
        ],
    ),
    _op(
        "repeat_interleave_counts",
        torch.repeat_interleave,
        lambda r: np.repeat(np.arange(r.shape[0]), r),
        lambda dt, rng: [SampleInput((np.array([1, 2, 0, 3]),))],
        (torch.int64,),
        supports_grad=False,
    ),
    _op(
        "movedim",
        torch.movedim,
        _ref_movedim,
        _unary(
            ((2, 3, 4), (0, -1), {}, "int"),
            ((2, 3, 4), ((0, 1), (2, 0)), {}, "tuple"),
        ),
        error_inputs=lambda: [
            _err(
                (_f32(2, 3), (0, 1), (1,)), RuntimeError, r"movedim: Invalid source or destination"
            ),
            _err((_f32(2, 3), (0, 0), (1, 0)), RuntimeError, r"repeated dim in `source`"),
            _err((_f32(2, 3), (0, 1), (1, 1)), RuntimeError, r"repeated dim in `destination`"),
        ],
    ),
    _op("moveaxis", torch.moveaxis, _ref_movedim, _unary(((2, 3, 4), (-1, 0), {}, "int")), FLOATS),
    _op(
        "unflatten",
        torch.unflatten,
        _ref_unflatten,
        _unary(
            ((2, 6), (1, (3, 2)), {}, "mid"),
            ((6, 2), (-2, (-1, 2)), {}, "infer"),
        ),
        error_inputs=lambda: [
            _err(
                (_f32(2, 3), 1, (2, 2)),
                RuntimeError,
                r"unflatten: Provided sizes \[2, 2\] don't "
                r"multiply up to the size of dim 1 \(3\) in the input tensor",
            ),
            _err((_f32(2, 3), 1, ()), RuntimeError, r"unflatten: sizes must be non-empty"),
        ],
    ),
    _op(
        "broadcast_to",
        torch.broadcast_to,
        _ref_broadcast_to,
        _unary(((3, 1), ((2, 3, 4),), {}, "expand"), ((3,), ((2, -1),), {}, "minus_one")),
        error_inputs=lambda: [
            _err(
                (_f32(2, 3), (4, 3)),
                RuntimeError,
                r"The expanded size of the tensor \(4\) "
                r"must match the existing size \(2\) at non-singleton dimension 0",
            ),
        ],
    ),
    _op(
        "broadcast_tensors",
        torch.broadcast_tensors,
        lambda *a: tuple(np.broadcast_arrays(*a)),
        lambda dt, rng: [SampleInput((_arr(rng, (3, 1), dt), _arr(rng, (2, 1, 4), dt)))],
        error_inputs=lambda: [
            _err(
                (_f32(2, 3), _f32(4, 3)),
                RuntimeError,
                r"The size of tensor a \(2\) must match "
                r"the size of tensor b \(4\) at non-singleton dimension 0",
            ),
        ],
    ),
    _op(
        "atleast_1d",
        torch.atleast_1d,
        np.atleast_1d,
        _unary(((), (), {}, "0d"), ((3,), (), {}, "1d")),
    ),
    _op(
        "atleast_2d",
        torch.atleast_2d,
        np.atleast_2d,
        _unary(((), (), {}, "0d"), ((3,), (), {}, "1d"), ((2, 3, 1), (), {}, "3d")),
    ),
    _op(
        "atleast_3d",
        torch.atleast_3d,
        np.atleast_3d,
        _unary(((), (), {}, "0d"), ((3,), (), {}, "1d"), ((2, 3), (), {}, "2d")),
    ),
    _op(
        "atleast_3d_many",
        torch.atleast_3d,
        lambda *a: tuple(np.atleast_3d(*a)),
        lambda dt, rng: [SampleInput((_arr(rng, (3,), dt), _arr(rng, (2, 3), dt)))],
        FLOATS,
    ),
    _op(
        "diag",
        torch.diag,
        np.diag,
        _unary(
            ((3,), (), {}, "1d"),
            ((3,), (-1,), {}, "1d_below"),
            ((3, 4), (), {}, "2d"),
            ((3, 4), (2,), {}, "2d_above"),
            ((3, 4), (-2,), {}, "2d_below"),
        ),
        ALL_BOOL,
        error_inputs=lambda: [
            _err((_f32(2, 3, 4),), RuntimeError, r"diag\(\): Supports 1D or 2D tensors\. Got 3D"),
        ],
    ),
    _op(
        "diag_embed",
        torch.diag_embed,
        _ref_diag_embed,
        _unary(
            ((2, 3), (), {}, "default"),
            ((2, 3), (1, 0, 2), {}, "offset_dims"),
            ((2, 3), (-2, -1, 1), {}, "neg"),
            ((3,), (), {}, "1d"),
        ),
        error_inputs=lambda: [
            _err((_f32(2, 3), 0, -2, 1), RuntimeError, r"diagonal dimensions cannot be identical"),
        ],
    ),
    _op(
        "diagonal",
        torch.diagonal,
        np.diagonal,
        _unary(
            ((3, 4), (), {}, "default"),
            ((3, 4), (1,), {}, "above"),
            ((3, 2, 4), (-1, 2, 0), {}, "dims"),
            ((3, 4), (9,), {}, "empty"),
        ),
        ALL_BOOL,
        error_inputs=lambda: [
            _err(
                (_f32(2, 3), 0, 0, 0), RuntimeError, r"diagonal dimensions cannot be identical 0, 0"
            ),
            _err((_f32(2, 3), 0, 0, 2), IndexError, r"Dimension out of range"),
        ],
    ),
    _op(
        "diagflat",
        torch.diagflat,
        np.diagflat,
        _unary(((2, 2), (), {}, "2d"), ((3,), (-1,), {}, "below"), ((), (1,), {}, "0d")),
    ),
    _op(
        "tril",
        torch.tril,
        np.tril,
        _unary(
            ((3, 4), (), {}, "2d"),
            ((2, 3, 3), (-1,), {}, "batched"),
            ((3, 4), (2,), {}, "above"),
        ),
        ALL_BOOL,
        error_inputs=lambda: [
            _err((_f32(3),), RuntimeError, r"tril: input tensor must have at least 2 dimensions"),
        ],
    ),
    _op(
        "triu",
        torch.triu,
        np.triu,
        _unary(
            ((3, 4), (), {}, "2d"),
            ((2, 3, 3), (1,), {}, "batched"),
            ((3, 4), (-2,), {}, "below"),
        ),
        ALL_BOOL,
        error_inputs=lambda: [
            _err((_f32(3),), RuntimeError, r"triu: input tensor must have at least 2 dimensions"),
        ],
    ),
    _op(
        "Tensor.unfold",
        lambda a, *args: a.unfold(*args),
        _ref_unfold,
        _unary(
            ((2, 6), (1, 3, 1), {}, "overlap"),
            ((7, 2), (0, 2, 3), {}, "gap"),
            ((2, 5, 2), (-2, 2, 2), {}, "tiled"),
            ((2, 5), (1, 4, 1), {}, "big_overlap"),
            ((), (0, 1, 1), {}, "0d"),
        ),
        error_inputs=lambda: [
            _err(
                (_f32(5), 0, 6, 1),
                RuntimeError,
                r"maximum size for tensor at dimension 0 is 5 but size is 6",
            ),
            _err((_f32(5), 0, 2, 0), RuntimeError, r"step is 0 but must be > 0"),
            _err((_f32(5), 0, -1, 1), RuntimeError, r"size is -1 but must be >= 0"),
        ],
    ),
    _op(
        "as_strided",
        torch.as_strided,
        _ref_as_strided,
        _unary(
            ((2, 4), ((3, 3), (1, 2)), {}, "overlap"),
            ((2, 4), ((2, 2), (3, 1), 2), {}, "offset"),
            ((3, 3), ((3,), (4,)), {}, "diag"),
        ),
        error_inputs=lambda: [
            _err(
                (_f32(2, 3), (2, 2), (1,)), RuntimeError, r"mismatch in length of strides and shape"
            ),
            _err(
                (_f32(2, 3), (2, 2), (1, 2), 10),
                RuntimeError,
                r"setStorage: sizes \[2, 2\], "
                r"strides \[1, 2\], storage offset 10, and itemsize 4 requiring a storage size of 56 "
                r"are out of bounds for storage of size 24",
            ),
            _err((_f32(2, 3), (2,), (-1,)), RuntimeError, r"Negative strides are not supported"),
        ],
    ),
    _op("T", lambda a: a.T, lambda a: a.T, _unary(((3, 4), (), {}, "2d"))),
    _op("T_nd", _T_quiet, lambda a: a.T, _unary(((2, 3, 4), (), {}, "3d")), FLOATS),
    _op(
        "mT",
        lambda a: a.mT,
        lambda a: np.swapaxes(a, -1, -2),
        _unary(
            ((3, 4), (), {}, "2d"),
            ((2, 3, 4), (), {}, "batched"),
        ),
        error_inputs=lambda: [
            _err(
                (_f32(3),),
                RuntimeError,
                r"tensor\.mT is only supported on matrices or batches of "
                r"matrices\. Got 1-D tensor\.",
            ),
        ],
    ),
    _op(
        "H",
        lambda a: a.H,
        lambda a: a.T,
        _unary(((3, 4), (), {}, "2d")),
        error_inputs=lambda: [
            _err(
                (_f32(2, 3, 4),),
                RuntimeError,
                r"tensor\.H is only supported on matrices \(2-D "
                r"tensors\)\. Got 3-D tensor\.",
            ),
        ],
    ),
    _op(
        "mH",
        lambda a: a.mH,
        lambda a: np.swapaxes(a, -1, -2),
        _unary(((2, 3, 4), (), {}, "batched")),
        FLOATS,
    ),
    _op(
        "adjoint",
        torch.adjoint,
        lambda a: np.swapaxes(a, -1, -2),
        _unary(((2, 3, 4), (), {}, "batched")),
        FLOATS,
    ),
    _op("ravel", torch.ravel, np.ravel, _unary(((3, 4), (), {}, "2d"), ((), (), {}, "0d"))),
    _op(
        "ravel_noncontig",
        lambda a: a.t().ravel(),
        lambda a: a.T.ravel(),
        _unary(((3, 4), (), {}, "2d")),
        FLOATS,
    ),
    _op(
        "reshape",
        torch.reshape,
        np.reshape,
        _unary(
            ((3, 4), ((2, -1),), {}, "infer"),
            ((3, 4), ((12,),), {}, "flat"),
            ((), ((1, 1),), {}, "0d"),
        ),
        ALL_BOOL,
        error_inputs=lambda: [
            _err(
                (_f32(2, 3), (-1, 4)),
                RuntimeError,
                r"shape '\[-1, 4\]' is invalid for input of "
                r"size 6",
            ),
            _err((_f32(2, 3), (-1, -1)), RuntimeError, r"only one dimension can be inferred"),
        ],
    ),
    _op(
        "view",
        lambda a, *s: a.view(*s),
        lambda a, *s: a.reshape(*s),
        _unary(
            ((3, 4), (2, -1), {}, "infer"),
            ((3, 4), ((-1,),), {}, "flat"),
        ),
        error_inputs=lambda: [
            _err((_f32(2, 3), -2, 3), RuntimeError, r"invalid shape dimension -2"),
        ],
    ),
    _op(
        "flatten",
        torch.flatten,
        _ref_flatten,
        _unary(((2, 3, 4), (), {}, "all"), ((2, 3, 4), (1, -1), {}, "tail"), ((), (), {}, "0d")),
    ),
    _op(
        "squeeze",
        torch.squeeze,
        _ref_squeeze,
        _unary(
            ((1, 3, 1, 2), (), {}, "all"),
            ((1, 3, 1, 2), ((0, -2),), {}, "tuple"),
            ((1, 3, 1, 2), (1,), {}, "not_one"),
            ((1, 3, 1, 2), (-4,), {}, "neg"),
        ),
        ALL_BOOL,
        error_inputs=lambda: [
            _err((_f32(2, 1, 3), (1, 1)), RuntimeError, r"dim 1 appears multiple times"),
            _err((_f32(2, 1), 2), IndexError, r"Dimension out of range"),
        ],
    ),
    _op(
        "unsqueeze",
        torch.unsqueeze,
        np.expand_dims,
        _unary(((2, 3), (0,), {}, "front"), ((2, 3), (-1,), {}, "back"), ((), (0,), {}, "0d")),
    ),
    _op("permute", torch.permute, np.transpose, _unary(((2, 3, 4), ((2, 0, 1),), {}, "3d"))),
    _op("transpose", torch.transpose, np.swapaxes, _unary(((2, 3, 4), (0, -1), {}, "3d"))),
    _op("swapaxes", torch.swapaxes, np.swapaxes, _unary(((2, 3, 4), (-1, 1), {}, "3d")), FLOATS),
    _op(
        "expand",
        lambda a, *s: a.expand(*s),
        lambda a, *s: np.broadcast_to(a, s),
        _unary(
            ((3, 1), (2, 3, 4), {}, "expand"),
        ),
    ),
]
