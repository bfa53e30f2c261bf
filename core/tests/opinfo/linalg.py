"""Op table entries: linear algebra (tocha.core._ops.linalg and tocha.core.linalg).

References are NumPy/SciPy. Samples are small and well conditioned: invertible matrices are
``X + n I``, positive-definite ones ``X X^T + n I``, symmetric ones have well separated
eigenvalues and SVD samples well separated singular values, so every gradient exists and finite
differences are accurate. Factorisations whose factors are only unique up to signs (eigh, svd)
are tested through gauge-invariant functions of the factors (``V diag(w) V^T``); ops that read
one triangle of a symmetric input (cholesky, eigh) are applied to ``(A + A^T) / 2`` so that the
finite differences see the same function as the analytical gradient.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

import tocha.core as torch
import tocha.core.linalg as LA

from . import ErrorInput, OpInfo, SampleInput

FLOATS = (torch.float32, torch.float64)
COMPLEX = (torch.complex64, torch.complex128)
MM_DTYPES = (
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
    torch.int32,
    torch.int64,
    torch.complex64,
    torch.complex128,
)
# LAPACK results in float32 differ from a float64 reference by a few ulps of the condition number
LA_TOL = {
    "float32": (2e-4, 2e-4),
    "float64": (1e-7, 1e-7),
    "complex64": (2e-4, 2e-4),
    "complex128": (1e-7, 1e-7),
}
MM_TOL = {"float16": (1e-2, 1e-2), "bfloat16": (3e-2, 3e-2), "float32": (1e-5, 1e-5)}


# --- sample makers ----------------------------------------------------------------------------
def _arr(rng, shape, dtype, low=-1.0, high=1.0):
    if dtype.is_complex:
        re, im = rng.uniform(low, high, shape), rng.uniform(low, high, shape)
        return np.asarray(re + 1j * im).astype(dtype.np)
    if dtype.is_floating_point:
        return rng.uniform(low, high, shape).astype(dtype.np)
    return rng.integers(-3, 4, shape).astype(dtype.np)


def _away(rng, shape, dtype, lo=0.5, hi=2.0):
    """Values with |x| in [lo, hi] (random signs): no zeros for abs-based norms."""
    x = rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)
    return np.asarray(x).astype(dtype.np)


def _wc(rng, shape, dtype):
    """Well-conditioned (diagonally dominant) square matrices."""
    n = shape[-1]
    return (_arr(rng, shape, dtype) + n * np.eye(n)).astype(dtype.np)


def _pd(rng, shape, dtype):
    """Symmetric positive-definite matrices X X^T + n I."""
    x = rng.uniform(-1, 1, shape)
    n = shape[-1]
    a = x @ np.swapaxes(x, -1, -2) + n * np.eye(n)
    return ((a + np.swapaxes(a, -1, -2)) / 2).astype(dtype.np)


def _orth(rng, shape):
    q, r = np.linalg.qr(rng.standard_normal(shape))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def _sym(rng, shape, dtype):
    """Symmetric matrices with eigenvalues at least 0.7 apart."""
    n = shape[-1]
    q = _orth(rng, shape)
    lam = np.linspace(-2.0, 2.0, n) + rng.uniform(-0.1, 0.1, shape[:-1])
    a = (q * lam[..., None, :]) @ np.swapaxes(q, -1, -2)
    return ((a + np.swapaxes(a, -1, -2)) / 2).astype(dtype.np)


def _sv(rng, shape, dtype, lo=1.0, hi=3.0):
    """Matrices with singular values evenly spread in [lo, hi] (distinct, non-zero)."""
    m, n = shape[-2:]
    k = min(m, n)
    u = _orth(rng, shape[:-2] + (m, k))
    v = _orth(rng, shape[:-2] + (n, k))
    s = np.linspace(hi, lo, k)
    return ((u * s) @ np.swapaxes(v, -1, -2)).astype(dtype.np)


def _tri(rng, shape, dtype, upper):
    a = rng.uniform(-1, 1, shape) + shape[-1] * np.eye(shape[-1])
    return (np.triu(a) if upper else np.tril(a)).astype(dtype.np)


def _up(a):
    if isinstance(a, np.ndarray) and a.dtype.kind == "c":
        return a.astype(np.complex128)
    return a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind in "fV" else a


def _r64(fn):
    """A reference computed in float64 (complex128) and cast back to the first input's dtype."""

    def ref(*args, **kw):
        first = next(a for a in _flat(args) if isinstance(a, np.ndarray))
        res = fn(*[_up_any(a) for a in args], **kw)
        if isinstance(res, tuple):
            return tuple(_back(r, first) for r in res)
        return _back(res, first)

    return ref


def _flat(args):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from a
        else:
            yield a


def _up_any(a):
    if isinstance(a, (list, tuple)):
        return type(a)(_up(x) for x in a)
    return _up(a)


def _back(res, like):
    res = np.asarray(res)
    if like.dtype.kind in "fcV" and res.dtype.kind in "fc":
        if like.dtype.kind == "c" and res.dtype.kind == "f":
            return res.astype(np.float32 if like.dtype == np.complex64 else np.float64)
        return res.astype(like.dtype)
    if like.dtype.kind in "iu" and res.dtype.kind in "iu":
        return res.astype(like.dtype)
    return res


def _sym_n(a):
    return (a + np.swapaxes(a, -1, -2)) / 2


def _err(args, exc, match, **kw):
    return ErrorInput(SampleInput(tuple(args), kw), exc, match)


F32 = np.float32


def _ones(*shape, dtype=F32):
    return np.ones(shape, dtype)


# --- products ---------------------------------------------------------------------------------
def _matmul_samples(dtype, rng):
    cases = [
        ((4,), (4,), "dot"),
        ((3, 4), (4,), "mat_vec"),
        ((4,), (4, 2), "vec_mat"),
        ((3, 4), (4, 2), "mat_mat"),
        ((2, 3, 4), (4, 2), "batch_mat_fold"),
        ((3, 4), (2, 4, 2), "mat_batch"),
        ((2, 1, 3, 4), (3, 4, 2), "broadcast_batch"),
        ((4,), (2, 4, 3), "vec_batch"),
        ((2, 3, 4), (4,), "batch_vec"),
        ((3, 0), (0, 2), "empty_inner"),
    ]
    for sa, sb, name in cases:
        yield SampleInput((_arr(rng, sa, dtype), _arr(rng, sb, dtype)), name=name)


def _matmul_errors():
    return [
        _err(
            [_ones(3, 4), _ones(5, 6)],
            RuntimeError,
            r"matmul: shapes \(3, 4\) and \(5, 6\) "
            r"cannot be multiplied \(4 != 5\)",
        ),
        _err([_ones(4), _ones(5)], RuntimeError, r"shapes \(4,\) and \(5,\) cannot be multiplied"),
        _err(
            [np.asarray(1.0, F32), _ones(3)],
            RuntimeError,
            r"both arguments to matmul need to be at least 1D, but they are 0D and 1D",
        ),
        _err(
            [_ones(2, 3, 4), _ones(3, 4, 6)],
            RuntimeError,
            r"size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton "
            r"dimension 0",
        ),
        _err(
            [_ones(3, 4), _ones(4, 6, dtype=np.float64)],
            RuntimeError,
            r"expected m1 and m2 to have the same dtype, but got: float != double",
        ),
    ]


def _mm_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 4), dtype), _arr(rng, (4, 2), dtype)), name="rect")
    yield SampleInput((_arr(rng, (1, 3), dtype), _arr(rng, (3, 1), dtype)), name="row_col")


def _mm_errors():
    return [
        _err(
            [_ones(3, 4), _ones(5, 6)],
            RuntimeError,
            r"mat1 and mat2 shapes cannot be multiplied \(3x4 and 5x6\)",
        ),
        _err([_ones(3), _ones(3, 4)], RuntimeError, r"self must be a matrix"),
        _err([_ones(3, 3), _ones(3)], RuntimeError, r"mat2 must be a matrix"),
    ]


def _bmm_samples(dtype, rng):
    yield SampleInput((_arr(rng, (2, 3, 4), dtype), _arr(rng, (2, 4, 2), dtype)))


def _bmm_errors():
    return [
        _err([_ones(3, 4), _ones(3, 4, 2)], RuntimeError, r"batch1 must be a 3D tensor"),
        _err([_ones(2, 3, 4), _ones(4, 2)], RuntimeError, r"batch2 must be a 3D tensor"),
        _err(
            [_ones(2, 3, 4), _ones(3, 4, 5)],
            RuntimeError,
            r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] but got: "
            r"\[3, 4\]\.",
        ),
    ]


def _mv_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 4), dtype), _arr(rng, (4,), dtype)))


def _mv_errors():
    return [
        _err(
            [_ones(2, 3), _ones(4)],
            RuntimeError,
            r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)",
        ),
        _err(
            [_ones(2, 3, 3), _ones(3)],
            RuntimeError,
            r"vector \+ matrix @ vector expected, got 1, 3, 1",
        ),
    ]


def _dot_samples(dtype, rng):
    yield SampleInput((_arr(rng, (5,), dtype), _arr(rng, (5,), dtype)))


def _dot_errors():
    return [
        _err(
            [_ones(2, 3), _ones(2, 3)],
            RuntimeError,
            r"1D tensors expected, but got 2D and 2D tensors",
        ),
        _err(
            [_ones(3), _ones(4)],
            RuntimeError,
            r"inconsistent tensor size, expected tensor \[3\] and src \[4\] to have the same "
            r"number of elements, but got 3 and 4 elements respectively",
        ),
        _err(
            [_ones(3), _ones(3, dtype=np.float64)],
            RuntimeError,
            r"dot : expected both vectors to have same dtype, but found Float and Double",
        ),
    ]


def _inner_samples(dtype, rng):
    yield SampleInput((_arr(rng, (2, 3), dtype), _arr(rng, (4, 3), dtype)), name="mat")
    yield SampleInput((_arr(rng, (3,), dtype), _arr(rng, (3,), dtype)), name="vec")
    yield SampleInput((_arr(rng, (), dtype), _arr(rng, (2, 3), dtype)), name="scalar")


def _outer_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3,), dtype), _arr(rng, (4,), dtype)))


def _outer_errors():
    return [
        _err(
            [_ones(3, 3), _ones(4)], RuntimeError, r"outer: Expected 1-D argument self, but got 2-D"
        ),
    ]


def _scales(dtype):
    return {"beta": 0.5, "alpha": 2.0} if dtype.is_floating_point else {"beta": 2, "alpha": 3}


def _addmm_samples(dtype, rng):
    a, b = _arr(rng, (3, 4), dtype), _arr(rng, (4, 2), dtype)
    yield SampleInput((_arr(rng, (3, 2), dtype), a, b), name="default")
    yield SampleInput((_arr(rng, (2,), dtype), a, b), _scales(dtype), name="bcast_scaled")


def _ref_addmm(inp, a, b, beta=1, alpha=1):
    return beta * inp + alpha * (a @ b)


def _addmm_errors():
    return [
        _err(
            [_ones(3, 3), _ones(3, 4), _ones(5, 3)],
            RuntimeError,
            r"mat1 and mat2 shapes cannot be multiplied \(3x4 and 5x3\)",
        ),
        _err(
            [_ones(2, 3), _ones(3, 4), _ones(4, 3)],
            RuntimeError,
            r"The expanded size of the tensor \(3\) must match the existing size \(2\)",
        ),
    ]


def _addmv_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3,), dtype), _arr(rng, (3, 4), dtype), _arr(rng, (4,), dtype)))
    yield SampleInput(
        (_arr(rng, (1,), dtype), _arr(rng, (3, 4), dtype), _arr(rng, (4,), dtype)),
        _scales(dtype),
        name="scaled",
    )


def _addr_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 4), dtype), _arr(rng, (3,), dtype), _arr(rng, (4,), dtype)))
    yield SampleInput(
        (_arr(rng, (4,), dtype), _arr(rng, (3,), dtype), _arr(rng, (4,), dtype)),
        _scales(dtype),
        name="scaled",
    )


def _ref_addr(inp, a, b, beta=1, alpha=1):
    return beta * inp + alpha * np.outer(a, b)


def _bmm3(dtype, rng):
    return _arr(rng, (2, 3, 4), dtype), _arr(rng, (2, 4, 2), dtype)


def _baddbmm_samples(dtype, rng):
    a, b = _bmm3(dtype, rng)
    yield SampleInput((_arr(rng, (2, 3, 2), dtype), a, b))
    yield SampleInput((_arr(rng, (3, 1), dtype), a, b), _scales(dtype), name="scaled")


def _addbmm_samples(dtype, rng):
    a, b = _bmm3(dtype, rng)
    yield SampleInput((_arr(rng, (3, 2), dtype), a, b))
    yield SampleInput((_arr(rng, (2,), dtype), a, b), _scales(dtype), name="scaled")


def _ref_addbmm(inp, a, b, beta=1, alpha=1):
    return beta * inp + alpha * np.einsum("bij,bjk->ik", a, b)


# --- einsum / tensordot / kron / cross / trace ------------------------------------------------
_EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 2)]),
    ("ij,jk", [(3, 4), (4, 2)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ij->ji", [(3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(4,), (4,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 2, 4)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (1, 4, 2)]),
    ("ij,ij->", [(1, 3), (2, 3)]),
    ("iij,j->i", [(3, 3, 2), (2,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 2), (2, 2)]),
    ("i j , j k -> i k", [(2, 3), (3, 2)]),
]


def _einsum_samples(dtype, rng):
    for eq, shapes in _EINSUM_CASES:
        arrs = tuple(_arr(rng, s, dtype) for s in shapes)
        yield SampleInput(arrs, {"equation": eq}, name=eq.replace(" ", ""))


def _einsum_op(*ops, equation):
    return torch.einsum(equation, *ops)


def _einsum_ref(*arrs, equation):
    return np.einsum(equation.replace(" ", ""), *[_up(a) for a in arrs]).astype(arrs[0].dtype)


def _einsum_errors():
    def e(eq, shapes, match):
        return ErrorInput(
            SampleInput(tuple(_ones(*s) for s in shapes), {"equation": eq}), RuntimeError, match
        )

    return [
        e(
            "ij,jk->ik",
            [(2, 3), (4, 5)],
            r"einsum\(\): subscript j has size 4 for operand 1 which does not broadcast with "
            r"previously seen size 3",
        ),
        e(
            "ij,jk->ik",
            [(2, 3)],
            r"einsum\(\): fewer operands were provided than specified in the equation",
        ),
        e(
            "ij->i",
            [(3, 4, 5)],
            r"einsum\(\): the number of subscripts in the equation \(2\) does not match the "
            r"number of dimensions \(3\) for operand 0 and no ellipsis was given",
        ),
        e(
            "ii->i",
            [(3, 4)],
            r"einsum\(\): subscript i is repeated for operand 0 but the sizes don't match, 4 != 3",
        ),
        e("ij->jj", [(3, 4)], r"einsum\(\): output subscript j appears more than once"),
        e(
            "ij->k",
            [(3, 4)],
            r"einsum\(\): output subscript k does not appear in the equation for any input",
        ),
        e("i1->i", [(3, 4)], r"einsum\(\): invalid subscript given at index 1"),
    ]


def _tensordot_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 4, 2), dtype), _arr(rng, (4, 2, 3), dtype)), {"dims": 2})
    yield SampleInput(
        (_arr(rng, (3, 4, 2), dtype), _arr(rng, (4, 5, 3), dtype)),
        {"dims": ([1, 0], [0, 2])},
        name="lists",
    )
    yield SampleInput((_arr(rng, (2, 3), dtype), _arr(rng, (4,), dtype)), {"dims": 0}, name="outer")


def _ref_tensordot(a, b, dims=2):
    return np.tensordot(a, b, axes=dims)


def _tensordot_errors():
    return [
        _err(
            [_ones(3, 4), _ones(5, 5)],
            RuntimeError,
            r"contracted dimensions need to match, but first has size 4 in dim 1 and second "
            r"has size 5 in dim 0",
            dims=([1], [0]),
        ),
        _err(
            [_ones(3, 4), _ones(4, 5)],
            RuntimeError,
            r"tensordot expects dims >= 0, but got dims=-1",
            dims=-1,
        ),
        _err(
            [_ones(3, 4), _ones(4, 5)],
            RuntimeError,
            r"both dimension lists should have same length",
            dims=([1], [0, 1]),
        ),
    ]


def _kron_samples(dtype, rng):
    yield SampleInput((_arr(rng, (2, 3), dtype), _arr(rng, (3, 2), dtype)))
    yield SampleInput((_arr(rng, (2, 3), dtype), _arr(rng, (3,), dtype)), name="diff_rank")
    yield SampleInput((_arr(rng, (2, 1, 2), dtype), _arr(rng, (2, 2), dtype)), name="3d")


def _cross_samples(dtype, rng):
    yield SampleInput((_arr(rng, (4, 3), dtype), _arr(rng, (4, 3), dtype)), {"dim": 1})
    yield SampleInput(
        (_arr(rng, (3, 2), dtype), _arr(rng, (3, 1), dtype)), {"dim": 0}, name="bcast_dim0"
    )


def _ref_cross(a, b, dim=-1):
    return np.cross(a, b, axis=dim)


def _linalg_cross_samples(dtype, rng):
    yield SampleInput((_arr(rng, (4, 3), dtype), _arr(rng, (4, 3), dtype)))
    yield SampleInput((_arr(rng, (3, 2), dtype), _arr(rng, (3, 2), dtype)), {"dim": 0}, name="d0")


def _cross_errors():
    return [
        _err(
            [_ones(2, 3), _ones(2, 4)],
            RuntimeError,
            r"linalg.cross: inputs dimension 1 must have length 3. Got 3 and 4",
            dim=1,
        ),
    ]


def _trace_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 3), dtype),))
    yield SampleInput((_arr(rng, (3, 4), dtype),), name="rect")


def _ref_trace(a):
    res = np.trace(a)
    return np.asarray(res, dtype=np.int64 if a.dtype.kind in "iu" else a.dtype)


def _trace_errors():
    return [
        _err([_ones(2, 3, 3)], RuntimeError, r"trace: expected a matrix, but got tensor with dim 3")
    ]


def _matrix_power_samples(dtype, rng):
    a = _wc(rng, (3, 3), dtype) / 3
    yield SampleInput((a, 3), name="n3")
    yield SampleInput((_wc(rng, (2, 3, 3), dtype) / 3, 2), name="batch_n2")
    yield SampleInput((a, 0), name="n0")
    yield SampleInput((a, 1), name="n1")
    yield SampleInput((a, -2), name="neg")


def _matrix_power_errors():
    return [
        _err(
            [_ones(3, 4), 2],
            RuntimeError,
            r"linalg.matrix_power: A must be batches of square matrices, but they are 3 by 4 "
            r"matrices",
        ),
    ]


def _ref_matrix_power(a, n):
    return np.linalg.matrix_power(a, n)


def _multi_dot_samples(dtype, rng):
    yield SampleInput(
        ([_arr(rng, (2, 3), dtype), _arr(rng, (3, 4), dtype), _arr(rng, (4, 2), dtype)],),
        name="mats",
    )
    yield SampleInput(
        ([_arr(rng, (3,), dtype), _arr(rng, (3, 4), dtype), _arr(rng, (4,), dtype)],),
        name="vec_ends",
    )
    yield SampleInput(([_arr(rng, (3,), dtype), _arr(rng, (3, 2), dtype)],), name="two")


def _ref_multi_dot(ts):
    return np.linalg.multi_dot(ts)


def _multi_dot_errors():
    return [
        _err(
            [[_ones(3, 3)]], RuntimeError, r"multi_dot\(\): expected at least 2 tensors but got 1"
        ),
        _err(
            [[_ones(3, 3), _ones(4, 3)]],
            RuntimeError,
            r"multi_dot\(\): tensors 0 and 1 with shapes \[3, 3\] and \[4, 3\] cannot be "
            r"multiplied",
        ),
    ]


def _chain_samples(dtype, rng):
    yield SampleInput(
        (_arr(rng, (2, 3), dtype), _arr(rng, (3, 4), dtype), _arr(rng, (4, 2), dtype))
    )


def _cdist_samples(dtype, rng):
    x1, x2 = _arr(rng, (3, 2), dtype), _arr(rng, (4, 2), dtype)
    yield SampleInput((x1, x2), name="p2")
    yield SampleInput(
        (_arr(rng, (2, 3, 2), dtype), _arr(rng, (2, 4, 2), dtype)),
        {"compute_mode": "use_mm_for_euclid_dist"},
        name="p2_mm_batch",
    )
    yield SampleInput((x1, x2), {"p": 1.0}, name="p1")
    yield SampleInput((x1, x2), {"p": 3.0}, name="p3")
    yield SampleInput((x1, x2), {"p": math.inf}, name="pinf")
    yield SampleInput((x1, x2), {"p": 0.0}, name="p0")


def _ref_cdist(x1, x2, p=2.0, compute_mode=None):
    d = np.abs(_up(x1)[..., :, None, :] - _up(x2)[..., None, :, :])
    if p == 0:
        res = (d != 0).sum(-1)
    elif p == math.inf:
        res = d.max(-1)
    else:
        res = (d**p).sum(-1) ** (1 / p)
    return res.astype(x1.dtype)


def _cdist_errors():
    return [
        _err(
            [_ones(2, 3), _ones(2, 4)],
            RuntimeError,
            r"X1 and X2 must have the same number of columns. X1: 3 X2: 4",
        ),
        _err(
            [_ones(3), _ones(2, 3)],
            RuntimeError,
            r"cdist only supports at least 2D tensors, X1 got: 1D",
        ),
        _err(
            [_ones(3, 3), _ones(3, 3)], RuntimeError, r"cdist only supports non-negative p", p=-1.0
        ),
    ]


# --- determinants, inverses, solves -----------------------------------------------------------
def _sq_samples(dtype, rng):
    yield SampleInput((_wc(rng, (3, 3), dtype),), name="3x3")
    yield SampleInput((_wc(rng, (2, 2, 2), dtype),), name="batch")
    yield SampleInput((_wc(rng, (1, 1), dtype),), name="1x1")


def _det_samples(dtype, rng):
    yield from _sq_samples(dtype, rng)
    yield SampleInput((-_wc(rng, (3, 3), dtype),), name="negative")
    sing = _arr(rng, (3, 3), dtype)
    sing[2] = sing[0] + sing[1]
    yield SampleInput((sing,), name="singular")


def _logdet_samples(dtype, rng):
    yield SampleInput((_pd(rng, (3, 3), dtype),), name="pd")
    yield SampleInput((_pd(rng, (2, 2, 2), dtype),), name="batch")
    neg = np.diag([1.0, -1.0, 2.0]).astype(dtype.np)
    yield SampleInput((neg,), grad=(), name="negative_det_nan")


def _ref_logdet(a):
    sign, logabs = np.linalg.slogdet(a)
    return np.where(sign < 0, np.nan, logabs).astype(a.dtype)


def _nonsquare_error(op):
    return _err(
        [_ones(3, 4)],
        RuntimeError,
        rf"{op}: A must be batches of square matrices, but they are 3 by 4 matrices",
    )


def _inv_errors():
    sing = np.array([[1.0, 2, 3], [2, 4, 6], [1, 1, 1]], F32)
    return [
        _err(
            [np.zeros((3, 3), F32)],
            LA.LinAlgError,
            r"linalg.inv: The diagonal element 1 is zero, the inversion could not be completed "
            r"because the input matrix is singular.",
        ),
        _err([sing], RuntimeError, r"linalg.inv: The diagonal element 3 is zero"),
        _err(
            [np.stack([np.eye(3, dtype=F32), np.zeros((3, 3), F32)])],
            LA.LinAlgError,
            r"linalg.inv: \(Batch element 1\): The diagonal element 1 is zero",
        ),
        _nonsquare_error("linalg.inv"),
        _err(
            [_ones(3)],
            RuntimeError,
            r"linalg.inv: The input tensor A must have at least 2 dimensions.",
        ),
        _err(
            [np.ones((3, 3), np.int64)],
            RuntimeError,
            r"linalg.inv: Expected a floating point or complex tensor as input. Got Long",
        ),
        _err(
            [np.ones((3, 3), np.float16)],
            RuntimeError,
            r"linalg.inv: Low precision dtypes not supported. Got Half",
        ),
    ]


def _solve_samples(dtype, rng):
    a = _wc(rng, (3, 3), dtype)
    yield SampleInput((a, _arr(rng, (3,), dtype)), name="vector")
    yield SampleInput((a, _arr(rng, (3, 2), dtype)), name="matrix")
    ab = _wc(rng, (2, 3, 3), dtype)
    yield SampleInput((ab, _arr(rng, (2, 3), dtype)), name="batch_vectors")
    yield SampleInput((ab, _arr(rng, (3, 2), dtype)), name="broadcast_b")
    yield SampleInput((a, _arr(rng, (2, 3, 1), dtype)), name="broadcast_a")
    yield SampleInput((a, _arr(rng, (2, 3), dtype)), {"left": False}, name="right")


def _ref_solve(a, b, left=True):
    vec = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    if not left:
        return np.swapaxes(np.linalg.solve(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
    if vec:
        return np.linalg.solve(a, b[..., None])[..., 0]
    return np.linalg.solve(a, b)


def _solve_errors():
    return [
        _err(
            [np.zeros((3, 3), F32), _ones(3)],
            LA.LinAlgError,
            r"torch.linalg.solve: The solver failed because the input matrix is singular.",
        ),
        _err(
            [np.zeros((2, 3, 3), F32), _ones(3)],
            RuntimeError,
            r"torch.linalg.solve: \(Batch element 0\): The solver failed because the input "
            r"matrix is singular.",
        ),
        _err(
            [np.eye(3, dtype=F32), _ones(4)],
            RuntimeError,
            r"linalg.solve: Incompatible shapes of A and B for the equation AX = B \(3x3 and "
            r"4x1\)",
        ),
        _err(
            [np.eye(3, dtype=F32), _ones(3, 2, dtype=np.float64)],
            RuntimeError,
            r"linalg.solve: Expected A and B to have the same dtype, but found A of type Float "
            r"and B of type Double instead",
        ),
    ]


def _solve_ex_ref(a, b, left=True):
    return _ref_solve(a, b, left), np.zeros(a.shape[:-2], np.int32)


def _solve_tri_samples(dtype, rng):
    up = _tri(rng, (3, 3), dtype, True)
    lo = _tri(rng, (2, 3, 3), dtype, False)
    yield SampleInput((up, _arr(rng, (3, 2), dtype)), {"upper": True}, name="upper")
    yield SampleInput((lo, _arr(rng, (2, 3, 2), dtype)), {"upper": False}, name="lower_batch")
    yield SampleInput((up, _arr(rng, (2, 3), dtype)), {"upper": True, "left": False}, name="right")
    yield SampleInput(
        (lo, _arr(rng, (3, 1), dtype)), {"upper": False, "unitriangular": True}, name="unit"
    )
    # only the named triangle is read: garbage in the other one must not matter
    full = _wc(rng, (3, 3), dtype)
    yield SampleInput((full, _arr(rng, (3, 2), dtype)), {"upper": True}, grad=(), name="masked")


def _ref_solve_tri(a, b, upper, left=True, unitriangular=False):
    if not left:
        return np.swapaxes(
            _ref_solve_tri(
                np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2), not upper, True, unitriangular
            ),
            -1,
            -2,
        )
    return scipy.linalg.solve_triangular(a, b, lower=not upper, unit_diagonal=unitriangular)


def _solve_tri_errors():
    return [
        _err(
            [np.eye(3, dtype=F32), _ones(4, 2)],
            RuntimeError,
            r"linalg.solve_triangular: Incompatible shapes of A and B for the equation AX = B "
            r"\(3x3 and 4x2\)",
            upper=True,
        ),
    ]


def _triangular_solve_samples(dtype, rng):
    up = _tri(rng, (3, 3), dtype, True)
    yield SampleInput((_arr(rng, (3, 2), dtype), up), name="upper")
    yield SampleInput((_arr(rng, (3, 2), dtype), up), {"transpose": True}, name="transpose")
    lo = _tri(rng, (2, 3, 3), dtype, False)
    yield SampleInput((_arr(rng, (2, 3, 1), dtype), lo), {"upper": False}, name="lower")


def _ref_triangular_solve(b, a, upper=True, transpose=False, unitriangular=False):
    m = np.swapaxes(a, -1, -2) if transpose else a
    x = scipy.linalg.solve_triangular(m, b, lower=(upper == transpose), unit_diagonal=unitriangular)
    return x, a


# --- Cholesky ---------------------------------------------------------------------------------
def _pd_samples(dtype, rng):
    yield SampleInput((_pd(rng, (3, 3), dtype),), name="3x3")
    yield SampleInput((_pd(rng, (2, 2, 2), dtype),), name="batch")
    yield SampleInput((_pd(rng, (3, 3), dtype),), {"upper": True}, name="upper")


def _sym_t(a):
    """``(A + A^T) / 2`` for square inputs (others pass through to reach the op's checks)."""
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        return a
    return (a + a.transpose(-2, -1)) / 2


def _cholesky_op(a, upper=False):
    return LA.cholesky(_sym_t(a), upper=upper)


def _cholesky_ref(a, upper=False):
    L = np.linalg.cholesky(a)
    return np.swapaxes(L, -1, -2) if upper else L


def _torch_cholesky_op(a, upper=False):
    return torch.cholesky(_sym_t(a), upper)


def _cholesky_errors(op="linalg.cholesky", fn=None):
    return [
        _err(
            [np.array([[1.0, 2], [2, 1]], F32)],
            LA.LinAlgError,
            r"linalg.cholesky: The factorization could not be completed because the input is "
            r"not positive-definite \(the leading minor of order 2 is not positive-definite\).",
        ),
        _err(
            [np.stack([np.eye(2, dtype=F32), np.array([[1.0, 2], [2, 1]], F32)])],
            RuntimeError,
            r"linalg.cholesky: \(Batch element 1\): The factorization could not be completed",
        ),
        _err(
            [_ones(2, 3)],
            RuntimeError,
            r"linalg.cholesky: A must be batches of square matrices, but they are 2 by 3 "
            r"matrices",
        ),
    ]


def _cholesky_ex_op(a, upper=False):
    return LA.cholesky_ex(_sym_t(a), upper=upper)


def _cholesky_ex_ref(a, upper=False):
    return _cholesky_ref(a, upper), np.zeros(a.shape[:-2], np.int32)


def _cholesky_solve_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 2), dtype), _pd(rng, (3, 3), dtype)), name="lower")
    yield SampleInput(
        (_arr(rng, (2, 3, 1), dtype), _pd(rng, (3, 3), dtype)), {"upper": True}, name="upper_batch"
    )


def _cholesky_solve_op(b, a, upper=False):
    return torch.cholesky_solve(b, LA.cholesky(_sym_t(a), upper=upper), upper)


def _cholesky_solve_ref(b, a, upper=False):
    return np.linalg.solve(a, b)


def _cholesky_inverse_op(a, upper=False):
    return torch.cholesky_inverse(LA.cholesky(_sym_t(a), upper=upper), upper)


def _cholesky_inverse_ref(a, upper=False):
    return np.linalg.inv(a)


# --- QR / eigh / SVD --------------------------------------------------------------------------
def _qr_samples(dtype, rng):
    yield SampleInput((_sv(rng, (4, 3), dtype),), name="tall")
    yield SampleInput((_sv(rng, (3, 3), dtype),), name="square")
    yield SampleInput((_sv(rng, (2, 2, 4), dtype),), name="wide_batch")
    yield SampleInput((_sv(rng, (4, 3), dtype),), {"mode": "complete"}, grad=(), name="complete")
    yield SampleInput((_sv(rng, (3, 4), dtype),), {"mode": "complete"}, name="complete_wide")


def _ref_qr(a, mode="reduced"):
    return np.linalg.qr(a, mode=mode)


def _qr_r_samples(dtype, rng):
    yield SampleInput((_sv(rng, (4, 3), dtype),), {"mode": "r"})


def _ref_qr_r(a, mode="r"):
    return np.zeros((0,), a.dtype), np.linalg.qr(a, mode="r")


def _torch_qr_samples(dtype, rng):
    yield SampleInput((_sv(rng, (4, 3), dtype),), name="some")
    yield SampleInput((_sv(rng, (3, 3), dtype),), {"some": False}, name="full_square")


def _ref_torch_qr(a, some=True):
    return np.linalg.qr(a, mode="reduced" if some else "complete")


def _qr_errors():
    return [
        _err(
            [_ones(3)],
            RuntimeError,
            r"linalg.qr: The input tensor A must have at least 2 dimensions.",
        ),
        _err([_ones(3, 3)], RuntimeError, r"qr received unrecognized mode 'x'", mode="x"),
    ]


def _weights(n, like):
    return np.arange(1.0, n + 1.0).astype(like.dtype)


def _eigh_samples(dtype, rng):
    yield SampleInput((_sym(rng, (3, 3), dtype),), name="3x3")
    yield SampleInput((_sym(rng, (2, 3, 3), dtype),), name="batch")
    yield SampleInput((_sym(rng, (3, 3), dtype),), {"UPLO": "U"}, name="upper")


def _eigh_op(a, UPLO="L"):
    lam, v = LA.eigh(_sym_t(a), UPLO=UPLO)
    w = torch.from_numpy(_weights(a.shape[-1], a._data)).to(a.device)
    return lam, (v * w) @ v.transpose(-2, -1)


def _eigh_ref(a, UPLO="L"):
    lam, v = np.linalg.eigh(_up(a))
    w = _weights(a.shape[-1], a)
    return lam.astype(a.dtype), ((v * w) @ np.swapaxes(v, -1, -2)).astype(a.dtype)


def _eigvalsh_op(a, UPLO="L"):
    return LA.eigvalsh(_sym_t(a), UPLO=UPLO)


def _eigvalsh_ref(a, UPLO="L"):
    return np.linalg.eigvalsh(_up(a)).astype(a.dtype)


def _eig_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 3), dtype),), name="3x3")
    yield SampleInput((_wc(rng, (2, 2, 2), dtype),), name="batch")


def _eig_ref(a):
    w = np.linalg.eigvals(a)
    return w.astype(np.complex64 if a.dtype == np.float32 else np.complex128)


def _eigh_errors():
    return [
        _err(
            [_ones(2, 3)],
            RuntimeError,
            r"linalg.eigh: A must be batches of square matrices, but they are 2 by 3 matrices",
        ),
    ]


def _svd_samples(dtype, rng):
    yield SampleInput((_sv(rng, (4, 3), dtype),), {"full_matrices": False}, name="tall")
    yield SampleInput((_sv(rng, (3, 4), dtype),), {"full_matrices": False}, name="wide")
    yield SampleInput((_sv(rng, (2, 3, 3), dtype),), {"full_matrices": False}, name="batch")
    yield SampleInput((_sv(rng, (4, 3), dtype),), name="full_tall")
    yield SampleInput((_sv(rng, (2, 4), dtype),), name="full_wide")


def _gauge_svd(u, s, vh, k, w, tr, mm):
    u, vh = u[..., :, :k], vh[..., :k, :]
    return s, mm(u * w, vh), mm(u * w, tr(u)), mm(tr(vh) * w, vh)


def _svd_op(a, full_matrices=True):
    u, s, vh = LA.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    w = torch.from_numpy(_weights(k, a._data)).to(a.device)
    return _gauge_svd(u, s, vh, k, w, lambda x: x.transpose(-2, -1), torch.matmul)


def _svd_ref(a, full_matrices=True):
    u, s, vh = np.linalg.svd(_up(a), full_matrices=full_matrices)
    k = s.shape[-1]
    res = _gauge_svd(u, s, vh, k, _weights(k, u), lambda x: np.swapaxes(x, -1, -2), np.matmul)
    return tuple(r.astype(a.dtype) for r in res)


def _torch_svd_samples(dtype, rng):
    yield SampleInput((_sv(rng, (4, 3), dtype),), name="some")
    yield SampleInput((_sv(rng, (3, 4), dtype),), {"some": False}, name="full")


def _torch_svd_op(a, some=True):
    u, s, v = torch.svd(a, some=some)
    k = s.shape[-1]
    w = torch.from_numpy(_weights(k, a._data)).to(a.device)
    return _gauge_svd(u, s, v.transpose(-2, -1), k, w, lambda x: x.transpose(-2, -1), torch.matmul)


def _torch_svd_ref(a, some=True):
    return _svd_ref(a, full_matrices=not some)


def _svdvals_samples(dtype, rng):
    yield SampleInput((_sv(rng, (4, 3), dtype),), name="tall")
    yield SampleInput((_sv(rng, (2, 2, 3), dtype),), name="batch_wide")


def _svdvals_ref(a):
    return _back(np.linalg.svd(_up(a), compute_uv=False), a)


def _svd_errors():
    return [
        _err(
            [_ones(3)],
            RuntimeError,
            r"linalg.svd: The input tensor A must have at least 2 dimensions.",
        ),
    ]


# --- pinv / rank / lstsq / matrix functions ---------------------------------------------------
def _pinv_samples(dtype, rng):
    yield SampleInput((_sv(rng, (4, 3), dtype),), name="tall")
    yield SampleInput((_sv(rng, (2, 2, 3), dtype),), name="wide_batch")
    rank_def = _sv(rng, (3, 3), dtype)
    u, s, vh = np.linalg.svd(rank_def.astype(np.float64))
    s[-1] = 0.0
    yield SampleInput((((u * s) @ vh).astype(dtype.np),), grad=(), name="rank_deficient")
    yield SampleInput((_sv(rng, (3, 3), dtype),), {"rtol": 0.5}, grad=(), name="rtol_cut")
    yield SampleInput((_sym(rng, (3, 3), dtype),), {"hermitian": True}, name="hermitian")


def _pinv_op(a, **kw):
    if kw.get("hermitian"):
        a = _sym_t(a)
    return LA.pinv(a, **kw)


def _pinv_ref(a, rtol=None, hermitian=False):
    a64 = _up(a)
    if rtol is None:
        rtol = np.finfo(a.dtype).eps * max(a.shape[-2:])
    return np.linalg.pinv(a64, rcond=rtol, hermitian=hermitian).astype(a.dtype)


def _pinverse_samples(dtype, rng):
    yield SampleInput((_sv(rng, (4, 3), dtype),))


def _pinverse_ref(a, rcond=1e-15):
    return np.linalg.pinv(_up(a), rcond=rcond).astype(a.dtype)


def _pinv_errors():
    return [
        _err(
            [_ones(3)],
            RuntimeError,
            r"linalg.pinv\(Float\{\[3\]\}\): expected a tensor with 2 or more dimensions",
        ),
    ]


def _rank_samples(dtype, rng):
    yield SampleInput((_sv(rng, (4, 3), dtype),), name="full")
    yield SampleInput((np.ones((2, 3, 3), dtype.np),), name="rank_one_batch")
    yield SampleInput((_sv(rng, (3, 3), dtype),), {"atol": 1.5}, name="atol")
    yield SampleInput((_sym(rng, (3, 3), dtype),), {"hermitian": True}, name="hermitian")


def _rank_ref(a, atol=None, hermitian=False):
    return np.asarray(np.linalg.matrix_rank(_up(a), tol=atol, hermitian=hermitian), np.int64)


def _lstsq_samples(dtype, rng):
    yield SampleInput((_sv(rng, (5, 3), dtype), _arr(rng, (5, 2), dtype)), name="gelsy")
    yield SampleInput(
        (_sv(rng, (5, 3), dtype), _arr(rng, (5, 2), dtype)), {"driver": "gelsd"}, name="gelsd"
    )
    yield SampleInput((_sv(rng, (3, 4), dtype), _arr(rng, (3, 1), dtype)), name="underdetermined")
    yield SampleInput(
        (_sv(rng, (2, 4, 3), dtype), _arr(rng, (2, 4), dtype)),
        {"driver": "gelss"},
        name="batch_vector",
    )


def _lstsq_ref(a, b, driver="gelsy"):
    vec = b.ndim == a.ndim - 1
    bm = b[..., None] if vec else b
    a64, b64 = _up(a), _up(bm)
    sols, ress, ranks, svs = [], [], [], []
    flat_a = a64.reshape((-1,) + a.shape[-2:])
    flat_b = np.broadcast_to(b64, a.shape[:-2] + bm.shape[-2:]).reshape((-1,) + bm.shape[-2:])
    for ai, bi in zip(flat_a, flat_b):
        x, r, k, s = np.linalg.lstsq(ai, bi, rcond=None)
        sols.append(x)
        ress.append(r)
        ranks.append(k)
        svs.append(s)
    batch = a.shape[:-2]
    x = np.stack(sols).reshape(batch + sols[0].shape)
    if vec:
        x = x[..., 0]
    m, n = a.shape[-2:]
    if driver == "gelsy" or m <= n:
        res = np.zeros((0,), a.dtype)
    else:
        res = np.stack(ress).reshape(batch + ress[0].shape)
        if vec:
            res = res[..., 0]
    rank = np.asarray(ranks, np.int64).reshape(batch)
    sv = np.stack(svs).reshape(batch + svs[0].shape) if driver in ("gelsd", "gelss") else None
    sv = np.zeros((0,), a.dtype) if sv is None else sv
    return x.astype(a.dtype), res.astype(a.dtype), rank, sv.astype(a.dtype)


def _lstsq_errors():
    return [
        _err(
            [_ones(5, 3), _ones(4, 2)],
            RuntimeError,
            r"torch.linalg.lstsq: input.size\(-2\) should match other.size\(-2\)",
        ),
        _err(
            [_ones(5, 3), _ones(5, 2)],
            RuntimeError,
            r"torch.linalg.lstsq: parameter `driver` should be one of \(gels, gelsy, gelsd, "
            r"gelss\)",
            driver="foo",
        ),
    ]


def _expm_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 3), dtype),), name="3x3")
    yield SampleInput((_arr(rng, (2, 2, 2), dtype),), name="batch")


def _expm_ref(a):
    return scipy.linalg.expm(_up(a)).astype(a.dtype)


# --- norms ------------------------------------------------------------------------------------
def _vector_norm_samples(dtype, rng):
    x = _away(rng, (3, 4), dtype)
    yield SampleInput((x,), name="all")
    yield SampleInput((x, 2, 1), name="dim1")
    yield SampleInput((_away(rng, (2, 3, 4), dtype), 2, (0, 2), True), name="dims_keepdim")
    yield SampleInput((x, 1, -1), name="ord1")
    yield SampleInput((x, math.inf, 0), name="inf")
    yield SampleInput((x, -math.inf), name="neg_inf")
    yield SampleInput((x, 3.0, 1), name="ord3")
    yield SampleInput((x, 0.5), name="ord_half")
    yield SampleInput((x, -1.0, 1), name="ord_neg1")
    yield SampleInput((x, 0, 1), name="ord0")
    yield SampleInput((_away(rng, (), dtype),), name="scalar")
    yield SampleInput((np.zeros((3,), dtype.np),), grad=(), name="zeros")


def _ref_vector_norm(x, ord=2, dim=None, keepdim=False):
    x64 = np.abs(_up(x))
    axis = dim
    if isinstance(dim, list):
        axis = tuple(dim)
    if ord == math.inf:
        r = x64.max(axis=axis, keepdims=keepdim)
    elif ord == -math.inf:
        r = x64.min(axis=axis, keepdims=keepdim)
    elif ord == 0:
        r = (x64 != 0).sum(axis=axis, keepdims=keepdim)
    else:
        r = (x64**ord).sum(axis=axis, keepdims=keepdim) ** (1.0 / ord)
    return np.asarray(r).astype(x.dtype)


def _vector_norm_errors():
    return [
        _err(
            [np.ones(3, np.int64)],
            RuntimeError,
            r"linalg.vector_norm: Expected a floating point or complex tensor as input. "
            r"Got Long",
        ),
        _err(
            [np.zeros((0, 3), F32)],
            RuntimeError,
            r"linalg.vector_norm cannot compute the inf norm on an empty tensor",
            ord=math.inf,
        ),
    ]


_MATRIX_ORDS = ["fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2]


def _matrix_norm_samples(dtype, rng):
    for o in _MATRIX_ORDS:
        a = _sv(rng, (3, 4), dtype, 0.5, 2.5) if o in ("nuc", 2, -2) else _away(rng, (3, 4), dtype)
        yield SampleInput((a, o), name=f"ord_{o}")
    yield SampleInput((_away(rng, (2, 3, 3), dtype), 1, (0, 2), True), name="dims_keepdim")
    yield SampleInput((_sv(rng, (2, 3, 3), dtype), 2, (-1, -2)), name="svd_transposed_dims")


def _ref_matrix_norm(a, ord="fro", dim=(-2, -1), keepdim=False):
    return np.asarray(np.linalg.norm(_up(a), ord=ord, axis=tuple(dim), keepdims=keepdim)).astype(
        a.dtype
    )


def _matrix_norm_errors():
    return [
        _err(
            [_ones(3)],
            RuntimeError,
            r"linalg.matrix_norm: The input tensor A must have at least 2 dimensions.",
        ),
        _err([_ones(3, 3), 3], RuntimeError, r"linalg.matrix_norm: Order 3 not supported."),
        _err(
            [_ones(3, 3), "fro", (1, 1)],
            RuntimeError,
            r"linalg.matrix_norm: dims must be different. Got \(1, 1\)",
        ),
    ]


def _norm_samples(dtype, rng):
    x = _away(rng, (3, 4), dtype)
    yield SampleInput((x,), name="default_flat")
    yield SampleInput((_away(rng, (2, 3, 2), dtype),), name="default_3d")
    yield SampleInput((x, "fro"), name="fro")
    yield SampleInput((_sv(rng, (3, 3), dtype), "nuc"), name="nuc")
    yield SampleInput((x, math.inf), name="matrix_inf")
    yield SampleInput((x[0], 3.0), name="vector_ord3")
    yield SampleInput((x, None, 1), name="dim1")
    yield SampleInput((x, 1, (0, 1)), name="matrix_dims")


def _ref_norm(a, ord=None, dim=None, keepdim=False):
    a64 = _up(a)
    if dim is None and ord is None:
        return np.asarray(np.linalg.norm(a64.reshape(-1))).astype(a.dtype)
    return np.asarray(np.linalg.norm(a64, ord=ord, axis=dim, keepdims=keepdim)).astype(a.dtype)


def _norm_errors():
    return [
        _err(
            [_ones(3, 3, 3), 2],
            RuntimeError,
            r"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
            r"Got 3D.",
        ),
    ]


def _cond_samples(dtype, rng):
    a = _sv(rng, (3, 3), dtype, 0.5, 3.0)
    yield SampleInput((a,), name="default")
    yield SampleInput((_sv(rng, (2, 3, 3), dtype),), name="batch")
    yield SampleInput((a, -2), name="neg2")
    yield SampleInput((_away(rng, (3, 3), dtype) + 3 * np.eye(3, dtype=dtype.np), 1), name="ord1")
    yield SampleInput((a, "fro"), name="fro")


def _ref_cond(a, p=None):
    return np.asarray(np.linalg.cond(_up(a), p)).astype(a.dtype)


def _tensorinv_samples(dtype, rng):
    yield SampleInput((_wc(rng, (6, 6), dtype).reshape(6, 2, 3),), {"ind": 1}, name="ind1")
    yield SampleInput((_wc(rng, (4, 4), dtype).reshape(2, 2, 2, 2),), name="ind2")


def _ref_tensorinv(a, ind=2):
    return np.linalg.tensorinv(_up(a), ind=ind).astype(a.dtype)


def _tensorsolve_samples(dtype, rng):
    yield SampleInput((_wc(rng, (6, 6), dtype).reshape(2, 3, 6), _arr(rng, (2, 3), dtype)))
    yield SampleInput(
        (_wc(rng, (6, 6), dtype).reshape(6, 2, 3), _arr(rng, (2, 3), dtype)),
        {"dims": (0,)},
        name="dims",
    )


def _ref_tensorsolve(a, b, dims=None):
    return np.linalg.tensorsolve(_up(a), _up(b), axes=dims).astype(a.dtype)


def _vecdot_samples(dtype, rng):
    yield SampleInput((_arr(rng, (3, 4), dtype), _arr(rng, (3, 4), dtype)), name="last")
    yield SampleInput((_arr(rng, (3, 4), dtype), _arr(rng, (4,), dtype)), name="bcast")
    yield SampleInput(
        (_arr(rng, (3, 4), dtype), _arr(rng, (3, 1), dtype)), {"dim": 0}, name="dim0_bcast"
    )


def _ref_vecdot(x, y, dim=-1):
    return (x * y).sum(dim)


def _diagonal_samples(dtype, rng):
    yield SampleInput((_arr(rng, (2, 3, 4), dtype),), name="default")
    yield SampleInput((_arr(rng, (3, 4), dtype),), {"offset": 1}, name="offset")
    yield SampleInput(
        (_arr(rng, (2, 3, 4), dtype),), {"offset": -1, "dim1": 0, "dim2": 2}, name="dims"
    )


def _ref_diagonal(a, offset=0, dim1=-2, dim2=-1):
    return np.diagonal(a, offset, dim1, dim2).copy()


def _vander_samples(dtype, rng):
    yield SampleInput((_away(rng, (4,), dtype),), name="square")
    yield SampleInput((_away(rng, (2, 3), dtype),), {"N": 4}, name="batch_N")


def _ref_vander(x, N=None):
    n = x.shape[-1] if N is None else N
    return (_up(x)[..., None] ** np.arange(n)).astype(x.dtype)


OPS = [
    # products
    OpInfo(
        "matmul",
        torch.matmul,
        _r64(np.matmul),
        _matmul_samples,
        MM_DTYPES,
        error_inputs=_matmul_errors,
        tol=MM_TOL,
    ),
    OpInfo("linalg.matmul", LA.matmul, _r64(np.matmul), _mm_samples, FLOATS),
    OpInfo("Tensor.__matmul__", lambda a, b: a @ b, _r64(np.matmul), _matmul_samples, FLOATS),
    OpInfo(
        "mm", torch.mm, _r64(np.matmul), _mm_samples, MM_DTYPES, error_inputs=_mm_errors, tol=MM_TOL
    ),
    OpInfo(
        "bmm",
        torch.bmm,
        _r64(np.matmul),
        _bmm_samples,
        MM_DTYPES,
        error_inputs=_bmm_errors,
        tol=MM_TOL,
    ),
    OpInfo(
        "mv", torch.mv, _r64(np.matmul), _mv_samples, MM_DTYPES, error_inputs=_mv_errors, tol=MM_TOL
    ),
    OpInfo(
        "dot",
        torch.dot,
        _r64(np.dot),
        _dot_samples,
        MM_DTYPES,
        error_inputs=_dot_errors,
        tol=MM_TOL,
    ),
    OpInfo("vdot", torch.vdot, _r64(np.vdot), _dot_samples, FLOATS + COMPLEX),
    OpInfo("inner", torch.inner, _r64(np.inner), _inner_samples, FLOATS + (torch.int64,)),
    OpInfo(
        "outer",
        torch.outer,
        _r64(np.outer),
        _outer_samples,
        MM_DTYPES,
        error_inputs=_outer_errors,
        tol=MM_TOL,
    ),
    OpInfo("ger", torch.ger, _r64(np.outer), _outer_samples, FLOATS),
    OpInfo(
        "addmm",
        torch.addmm,
        _r64(_ref_addmm),
        _addmm_samples,
        FLOATS + (torch.int64,),
        error_inputs=_addmm_errors,
    ),
    OpInfo("addmv", torch.addmv, _r64(_ref_addmm), _addmv_samples, FLOATS + (torch.int64,)),
    OpInfo("addr", torch.addr, _r64(_ref_addr), _addr_samples, FLOATS + (torch.int64,)),
    OpInfo("baddbmm", torch.baddbmm, _r64(_ref_addmm), _baddbmm_samples, FLOATS),
    OpInfo("addbmm", torch.addbmm, _r64(_ref_addbmm), _addbmm_samples, FLOATS),
    OpInfo(
        "einsum",
        _einsum_op,
        _einsum_ref,
        _einsum_samples,
        FLOATS + COMPLEX + (torch.int64,),
        error_inputs=_einsum_errors,
    ),
    OpInfo(
        "tensordot",
        torch.tensordot,
        _r64(_ref_tensordot),
        _tensordot_samples,
        FLOATS,
        error_inputs=_tensordot_errors,
    ),
    OpInfo("kron", torch.kron, _r64(np.kron), _kron_samples, FLOATS + COMPLEX + (torch.int64,)),
    OpInfo(
        "cross", torch.cross, _r64(_ref_cross), _cross_samples, FLOATS, error_inputs=_cross_errors
    ),
    OpInfo("linalg.cross", LA.cross, _r64(_ref_cross), _linalg_cross_samples, FLOATS),
    OpInfo(
        "trace",
        torch.trace,
        _ref_trace,
        _trace_samples,
        FLOATS + (torch.int32,),
        error_inputs=_trace_errors,
    ),
    OpInfo(
        "linalg.matrix_power",
        LA.matrix_power,
        _r64(_ref_matrix_power),
        _matrix_power_samples,
        FLOATS,
        tol=LA_TOL,
    ),
    OpInfo(
        "matrix_power",
        torch.matrix_power,
        _r64(_ref_matrix_power),
        _matrix_power_samples,
        FLOATS,
        tol=LA_TOL,
        error_inputs=_matrix_power_errors,
    ),
    OpInfo(
        "linalg.multi_dot",
        LA.multi_dot,
        _r64(_ref_multi_dot),
        _multi_dot_samples,
        FLOATS,
        error_inputs=_multi_dot_errors,
    ),
    OpInfo(
        "chain_matmul",
        torch.chain_matmul,
        _r64(lambda *ts: np.linalg.multi_dot(ts)),
        _chain_samples,
        FLOATS,
    ),
    OpInfo(
        "cdist",
        torch.cdist,
        _ref_cdist,
        _cdist_samples,
        FLOATS,
        error_inputs=_cdist_errors,
        tol={"float32": (1e-4, 1e-5)},
    ),
    # determinants, inverses, solves
    OpInfo(
        "linalg.det",
        LA.det,
        _r64(np.linalg.det),
        _det_samples,
        FLOATS + COMPLEX,
        tol=LA_TOL,
        error_inputs=lambda: [_nonsquare_error("linalg.det")],
    ),
    OpInfo("det", torch.det, _r64(np.linalg.det), _det_samples, FLOATS, tol=LA_TOL),
    OpInfo(
        "linalg.slogdet",
        LA.slogdet,
        _r64(np.linalg.slogdet),
        _sq_samples,
        FLOATS + COMPLEX,
        tol=LA_TOL,
        error_inputs=lambda: [_nonsquare_error("linalg.slogdet")],
    ),
    OpInfo("slogdet", torch.slogdet, _r64(np.linalg.slogdet), _sq_samples, FLOATS, tol=LA_TOL),
    OpInfo("logdet", torch.logdet, _r64(_ref_logdet), _logdet_samples, FLOATS, tol=LA_TOL),
    OpInfo(
        "linalg.inv",
        LA.inv,
        _r64(np.linalg.inv),
        _sq_samples,
        FLOATS + COMPLEX,
        tol=LA_TOL,
        error_inputs=_inv_errors,
    ),
    OpInfo("inverse", torch.inverse, _r64(np.linalg.inv), _sq_samples, FLOATS, tol=LA_TOL),
    OpInfo(
        "linalg.inv_ex",
        LA.inv_ex,
        _r64(lambda a: (np.linalg.inv(a), np.zeros(a.shape[:-2], np.int32))),
        _sq_samples,
        FLOATS,
        tol=LA_TOL,
    ),
    OpInfo(
        "linalg.solve",
        LA.solve,
        _r64(_ref_solve),
        _solve_samples,
        FLOATS + COMPLEX,
        tol=LA_TOL,
        error_inputs=_solve_errors,
    ),
    OpInfo("linalg.solve_ex", LA.solve_ex, _r64(_solve_ex_ref), _solve_samples, FLOATS, tol=LA_TOL),
    OpInfo(
        "linalg.solve_triangular",
        LA.solve_triangular,
        _r64(_ref_solve_tri),
        _solve_tri_samples,
        FLOATS,
        tol=LA_TOL,
        error_inputs=_solve_tri_errors,
    ),
    OpInfo(
        "triangular_solve",
        torch.triangular_solve,
        _r64(_ref_triangular_solve),
        _triangular_solve_samples,
        FLOATS,
        tol=LA_TOL,
    ),
    # Cholesky
    OpInfo(
        "linalg.cholesky",
        _cholesky_op,
        _r64(_cholesky_ref),
        _pd_samples,
        FLOATS,
        tol=LA_TOL,
        error_inputs=_cholesky_errors,
    ),
    OpInfo("cholesky", _torch_cholesky_op, _r64(_cholesky_ref), _pd_samples, FLOATS, tol=LA_TOL),
    OpInfo(
        "linalg.cholesky_ex",
        _cholesky_ex_op,
        _r64(_cholesky_ex_ref),
        _pd_samples,
        FLOATS,
        tol=LA_TOL,
    ),
    OpInfo(
        "cholesky_solve",
        _cholesky_solve_op,
        _r64(_cholesky_solve_ref),
        _cholesky_solve_samples,
        FLOATS,
        tol=LA_TOL,
    ),
    OpInfo(
        "cholesky_inverse",
        _cholesky_inverse_op,
        _r64(_cholesky_inverse_ref),
        _pd_samples,
        FLOATS,
        tol=LA_TOL,
    ),
    # QR / eigh / SVD
    OpInfo(
        "linalg.qr", LA.qr, _r64(_ref_qr), _qr_samples, FLOATS, tol=LA_TOL, error_inputs=_qr_errors
    ),
    OpInfo(
        "linalg.qr_r",
        LA.qr,
        _r64(_ref_qr_r),
        _qr_r_samples,
        FLOATS,
        tol=LA_TOL,
        supports_grad=False,
    ),
    OpInfo("qr", torch.qr, _r64(_ref_torch_qr), _torch_qr_samples, FLOATS, tol=LA_TOL),
    OpInfo(
        "linalg.eigh",
        _eigh_op,
        _eigh_ref,
        _eigh_samples,
        FLOATS,
        tol=LA_TOL,
        error_inputs=_eigh_errors,
    ),
    OpInfo("linalg.eigvalsh", _eigvalsh_op, _eigvalsh_ref, _eigh_samples, FLOATS, tol=LA_TOL),
    OpInfo(
        "linalg.svd", _svd_op, _svd_ref, _svd_samples, FLOATS, tol=LA_TOL, error_inputs=_svd_errors
    ),
    OpInfo("svd", _torch_svd_op, _torch_svd_ref, _torch_svd_samples, FLOATS, tol=LA_TOL),
    OpInfo(
        "linalg.svdvals", LA.svdvals, _svdvals_ref, _svdvals_samples, FLOATS + COMPLEX, tol=LA_TOL
    ),
    # pseudo-inverse, rank, least squares, matrix functions
    OpInfo(
        "linalg.pinv",
        _pinv_op,
        _pinv_ref,
        _pinv_samples,
        FLOATS,
        tol=LA_TOL,
        error_inputs=_pinv_errors,
    ),
    OpInfo("pinverse", torch.pinverse, _pinverse_ref, _pinverse_samples, FLOATS, tol=LA_TOL),
    OpInfo(
        "linalg.matrix_rank", LA.matrix_rank, _rank_ref, _rank_samples, FLOATS, supports_grad=False
    ),
    OpInfo(
        "linalg.lstsq",
        LA.lstsq,
        _lstsq_ref,
        _lstsq_samples,
        FLOATS,
        tol=LA_TOL,
        error_inputs=_lstsq_errors,
    ),
    OpInfo("linalg.matrix_exp", LA.matrix_exp, _expm_ref, _expm_samples, FLOATS, tol=LA_TOL),
    OpInfo("matrix_exp", torch.matrix_exp, _expm_ref, _expm_samples, FLOATS, tol=LA_TOL),
    # norms and the rest
    OpInfo(
        "linalg.vector_norm",
        LA.vector_norm,
        _ref_vector_norm,
        _vector_norm_samples,
        FLOATS,
        error_inputs=_vector_norm_errors,
        tol={"float32": (1e-5, 1e-5)},
    ),
    OpInfo(
        "linalg.matrix_norm",
        LA.matrix_norm,
        _ref_matrix_norm,
        _matrix_norm_samples,
        FLOATS,
        tol=LA_TOL,
        error_inputs=_matrix_norm_errors,
    ),
    OpInfo(
        "linalg.norm",
        LA.norm,
        _ref_norm,
        _norm_samples,
        FLOATS,
        tol=LA_TOL,
        error_inputs=_norm_errors,
    ),
    OpInfo("linalg.cond", LA.cond, _ref_cond, _cond_samples, FLOATS, tol=LA_TOL),
    OpInfo(
        "linalg.tensorinv", LA.tensorinv, _ref_tensorinv, _tensorinv_samples, FLOATS, tol=LA_TOL
    ),
    OpInfo(
        "linalg.tensorsolve",
        LA.tensorsolve,
        _ref_tensorsolve,
        _tensorsolve_samples,
        FLOATS,
        tol=LA_TOL,
    ),
    OpInfo("linalg.vecdot", LA.vecdot, _r64(_ref_vecdot), _vecdot_samples, FLOATS),
    OpInfo("linalg.diagonal", LA.diagonal, _ref_diagonal, _diagonal_samples, FLOATS),
    OpInfo("linalg.vander", LA.vander, _ref_vander, _vander_samples, FLOATS),
]
