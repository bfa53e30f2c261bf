"""Linear algebra: matmul and friends, einsum, tensordot, and the ``torch.linalg`` functions.

Forward passes call BLAS/LAPACK through the array module (``xp.matmul``, ``xp.linalg.*``), so
the same line runs on NumPy and CuPy. Every backward is written with tocha ops (matmul, solve,
transposes, masks), so gradients are themselves differentiable (double backward, Hessian-vector
products). Contractions that are not a single matmul (einsum, tensordot, kron, addbmm ...) are
compositions of differentiable ops, so they get their gradients for free.

The matrix-calculus formulas are the standard ones (Giles 2008, "An extended collection of
matrix derivative results"; Murray 2016 for Cholesky; Townsend 2016 for the SVD; Walter &
Lehmann / Liao et al. 2019 for QR).
"""

from __future__ import annotations

import collections
import math
import numbers
import string
import warnings

import numpy as np

from .. import _blas, _dtype
from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ..autograd.grad_mode import MODE
from ._util import check_same_device, norm_dim, return_type, xp_of
from ._util import write_out as _out
from .shape import diag_embed, diagonal, tril, triu

__all__ = ["LinAlgError"]

_ndarray = np.ndarray


class LinAlgError(RuntimeError):
    """Raised when a linear algebra routine fails (singular or non positive-definite input).

    A subclass of RuntimeError, like ``torch.linalg.LinAlgError``.
    """


_C_SCALAR = {
    "float32": "float",
    "float64": "double",
    "float16": "c10::Half",
    "bfloat16": "c10::BFloat16",
    "int64": "long int",
    "int32": "int",
    "int16": "short int",
    "int8": "signed char",
    "uint8": "unsigned char",
    "bool": "bool",
    "complex64": "c10::complex<float>",
    "complex128": "c10::complex<double>",
}


def _tname(t: Tensor) -> str:
    return _dtype.SCALAR_TYPE_NAMES[t.dtype.name]


_RT_slogdet = return_type("slogdet", ("sign", "logabsdet"))
_RT_linalg_slogdet = return_type("linalg_slogdet", ("sign", "logabsdet"))
_RT_linalg_eigh = return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))
_RT_linalg_eig = return_type("linalg_eig", ("eigenvalues", "eigenvectors"))
_RT_linalg_svd = return_type("linalg_svd", ("U", "S", "Vh"))
_RT_svd = return_type("svd", ("U", "S", "V"))
_RT_linalg_qr = return_type("linalg_qr", ("Q", "R"))
_RT_qr = return_type("qr", ("Q", "R"))
_RT_linalg_inv_ex = return_type("linalg_inv_ex", ("inverse", "info"))
_RT_linalg_cholesky_ex = return_type("linalg_cholesky_ex", ("L", "info"))
_RT_linalg_solve_ex = return_type("linalg_solve_ex", ("result", "info"))
_RT_linalg_lstsq = return_type("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))
_RT_triangular_solve = return_type("triangular_solve", ("solution", "cloned_coefficient"))


def _mT(x: Tensor) -> Tensor:
    return x.transpose(-2, -1)


def _H(x: Tensor) -> Tensor:
    """Conjugate transpose of the last two dims (a plain transpose for real tensors)."""
    t = x.transpose(-2, -1)
    return t.conj() if x._data.dtype.kind == "c" else t


def _conj(x: Tensor) -> Tensor:
    return x.conj() if x._data.dtype.kind == "c" else x


def _eye(n: int, m: int, like) -> Tensor:
    """A constant identity (n x m) with the dtype and device of the raw array ``like``."""
    return wrap(xp_of(like).eye(n, m, dtype=like.dtype))


def _tril(x: Tensor, k: int = 0) -> Tensor:
    return tril(x, k)


def _triu(x: Tensor, k: int = 0) -> Tensor:
    return triu(x, k)


def _diag_embed(v: Tensor) -> Tensor:
    """``(..., n) -> (..., n, n)`` with ``v`` on the diagonal."""
    return diag_embed(v)


def _inv_offdiag(e: Tensor) -> Tensor:
    """``1 / e`` off the diagonal and 0 on it (for the eigen/singular gaps matrices)."""
    d = e._data
    xp = xp_of(d)
    n = d.shape[-1]
    inf_diag = xp.where(xp.eye(n, dtype=bool), xp.asarray(np.inf, dtype=d.dtype), 0).astype(d.dtype)
    return 1 / (e + wrap(inf_diag))


def _check_float(op: str, *ts: Tensor, low_ok: bool = False) -> None:
    for t in ts:
        k = t._data.dtype.kind
        if k not in "fcV":
            raise RuntimeError(
                f"{op}: Expected a floating point or complex tensor as input. Got {_tname(t)}"
            )
        if not low_ok and (k == "V" or t._data.dtype == np.float16):
            raise RuntimeError(f"{op}: Low precision dtypes not supported. Got {_tname(t)}")


def _check_matrix(op: str, A: Tensor, square: bool = True, name: str = "A") -> None:
    shape = A._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions.")
    if square and shape[-1] != shape[-2]:
        raise RuntimeError(
            f"{op}: {name} must be batches of square matrices, but they are {shape[-2]} by "
            f"{shape[-1]} matrices"
        )


def _batch_prefix(idx, shape) -> str:
    return f"(Batch element {idx}): " if len(shape) > 2 else ""


def _getrf_info(a) -> np.ndarray | None:
    """LAPACK getrf ``info`` per matrix: 0, or the 1-based index of the first zero pivot."""
    if a.__class__ is not _ndarray:
        a = a.get()
    import scipy.linalg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lu, _ = scipy.linalg.lu_factor(a, check_finite=False)
    zero = np.diagonal(lu, axis1=-2, axis2=-1) == 0
    return np.where(zero.any(-1), zero.argmax(-1) + 1, 0).astype(np.int32)


def _potrf(a):
    """Cholesky factors and LAPACK potrf ``info`` per matrix (the failure path only)."""
    if a.__class__ is not _ndarray:
        a = a.get()
    from scipy.linalg import lapack

    batch = a.shape[:-2]
    flat = a.reshape((-1,) + a.shape[-2:])
    out = np.zeros_like(flat)
    info = np.zeros(flat.shape[0], dtype=np.int32)
    potrf = lapack.get_lapack_funcs("potrf", (flat,))
    for i in range(flat.shape[0]):  # only reached when a factorisation has failed
        c, inf = potrf(flat[i], lower=1)
        out[i] = np.tril(c)
        info[i] = inf
    return out.reshape(a.shape), info.reshape(batch)


def _first_bad(info: np.ndarray):
    flat = info.reshape(-1)
    idx = int(np.flatnonzero(flat)[0])
    return idx, int(flat[idx])


_WARNED: set = set()


def _deprecated(name: str, msg: str) -> None:
    """Warn once per process, as torch's TORCH_WARN_ONCE does for deprecated functions."""
    if name not in _WARNED:
        _WARNED.add(name)
        warnings.warn(msg, UserWarning, stacklevel=3)


# --- matmul ---------------------------------------------------------------------------------
def _half(dt) -> bool:
    return dt.kind == "V" or dt == np.float16


# dtypes whose product the array module computes itself (BLAS for floats and complex); a set
# lookup is ~100 ns cheaper than _half's comparisons on every matmul
_DIRECT = frozenset(
    np.dtype(t)
    for t in (
        np.float32,
        np.float64,
        np.complex64,
        np.complex128,
        np.int64,
        np.int32,
        np.int16,
        np.int8,
        np.uint8,
        np.bool_,
    )
)


def _matmul_arrays(a, b):
    """``a @ b`` on raw arrays, folding a batch onto a 2-D right operand into one GEMM."""
    if a.dtype in _DIRECT:
        if a.ndim > 2 and b.ndim == 2 and a.flags.c_contiguous:
            out = _blas.matmul(a.reshape(-1, a.shape[-1]), b)
            return out.reshape(a.shape[:-1] + (b.shape[-1],))
        if a.ndim == 2 and b.ndim == 2:
            return _blas.matmul(a, b)
        # the ndarray operator is xp.matmul for NumPy and CuPy alike, without the xp lookup
        return a @ b
    xp = xp_of(a)
    if _half(a.dtype):
        # no BLAS for half types: compute in float32 and round once, as torch accumulates
        return _matmul_arrays(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
    if a.ndim > 2 and b.ndim == 2 and a.flags.c_contiguous:
        out = xp.matmul(a.reshape(-1, a.shape[-1]), b)
        return out.reshape(a.shape[:-1] + (b.shape[-1],))
    return xp.matmul(a, b)


class MatMul(Node):
    """torch.matmul for every rank combination; 1-D operands are vectors, batches broadcast."""

    save_inputs = (0, 1)

    def forward(self, a, b):
        return _matmul_arrays(a, b)

    def name(self):
        return "MatmulBackward0"

    def backward(self, g):
        a, b = self.saved_inputs
        ea, eb = self.next_edges  # an input needs its gradient when it has an edge
        ad, bd = a._data, b._data
        da, db = ad.ndim, bd.ndim
        if da == 2 and db == 2 and ad.dtype.kind != "c" and bd.dtype.kind != "c":
            # a real matrix product (nn.Linear's): dA = G B^T, dB = A^T G, still tocha ops so
            # they record under create_graph; without it each is a wrap around one GEMM
            return (
                g @ b.t() if ea is not None else None,
                a.t() @ g if eb is not None else None,
            )
        na, nb = ea is not None, eb is not None
        ga = gb = None
        if da == 1 and db == 1:
            ga = g * _conj(b) if na else None
            gb = g * _conj(a) if nb else None
        elif da == 1:  # (k) @ (..., k, n) -> (..., n)
            if na:
                ga = matmul(_conj(b), g.unsqueeze(-1)).squeeze(-1)
            if nb:
                gb = _conj(a).unsqueeze(-1) * g.unsqueeze(-2)
        elif db == 1:  # (..., m, k) @ (k) -> (..., m)
            if na:
                ga = g.unsqueeze(-1) * _conj(b)
            if nb:
                k = a._data.shape[-1]
                gb = matmul(g.reshape(-1), _conj(a).reshape(-1, k))
        else:
            if na:
                ga = matmul(g, _H(b))
            if nb:
                if db == 2 and da > 2:
                    # fold the batch into one GEMM instead of summing a batch of products
                    k, n = a._data.shape[-1], g._data.shape[-1]
                    gb = matmul(_H(a.reshape(-1, k)), g.reshape(-1, n))
                else:
                    gb = matmul(_H(a), g)
        return ga, gb


def _shape_str(s) -> str:
    return str(tuple(s))


def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Matrix product with torch's rules for every rank (``input @ other``).

    1-D x 1-D is a dot product, a 1-D operand is a vector (a row on the left, a column on the
    right) and leading batch dimensions broadcast.

    Example:
        >>> import tocha.core as torch
        >>> a = torch.ones(2, 3, 4)
        >>> b = torch.ones(4, 5)
        >>> (a @ b).shape
        torch.Size([2, 3, 5])
    """
    if out is None and isinstance(input, Tensor) and isinstance(other, Tensor):
        a, b = input._data, other._data
        # the common case, validated in a few attribute reads: same dtype and backend,
        # 2-D (or one side 2-D) operands whose inner dimensions agree
        if (
            a.dtype is b.dtype
            and a.__class__ is b.__class__
            and a.ndim >= 2
            and b.ndim >= 2
            and a.shape[-1] == b.shape[-2]
            and (a.ndim == 2 or b.ndim == 2 or a.shape[:-2] == b.shape[:-2])
        ):
            if (input._rg or other._rg) and MODE.grad:
                return MatMul.record_binary(input, other, _matmul_arrays(a, b))
            return wrap(_matmul_arrays(a, b))
    return _matmul_checked(input, other, out)


def _matmul_checked(input: Tensor, other: Tensor, out) -> Tensor:
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(
            "matmul(): argument 'input' and 'other' must be Tensor, not "
            f"{type(input).__name__} and {type(other).__name__}"
        )
    a, b = input._data, other._data
    da, db = a.ndim, b.ndim
    if da == 0 or db == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D"
        )
    if a.__class__ is not b.__class__:
        check_same_device("matmul", input, other)
    if a.dtype != b.dtype:
        if da == 1 and db == 1:
            raise RuntimeError(
                "dot : expected both vectors to have same dtype, but found "
                f"{_tname(input)} and {_tname(other)}"
            )
        raise RuntimeError(
            "expected m1 and m2 to have the same dtype, but got: "
            f"{_C_SCALAR[input.dtype.name]} != {_C_SCALAR[other.dtype.name]}"
        )
    ka = a.shape[-1]
    kb = b.shape[-2] if db > 1 else b.shape[0]
    if ka != kb:
        raise RuntimeError(
            f"matmul: shapes {_shape_str(a.shape)} and {_shape_str(b.shape)} cannot be "
            f"multiplied ({ka} != {kb})"
        )
    if da > 2 and db > 2 and a.shape[:-2] != b.shape[:-2]:
        ba, bb = a.shape[:-2], b.shape[:-2]
        n = max(len(ba), len(bb))
        pa, pb = (1,) * (n - len(ba)) + ba, (1,) * (n - len(bb)) + bb
        for i, (x, y) in enumerate(zip(pa, pb)):
            if x != y and x != 1 and y != 1:
                raise RuntimeError(
                    f"matmul: shapes {_shape_str(a.shape)} and {_shape_str(b.shape)} cannot be "
                    f"multiplied: the size of tensor a ({x}) must match the size of tensor b "
                    f"({y}) at non-singleton dimension {i}"
                )
    return _out(MatMul.apply(input, other), out)


def _rmatmul(self: Tensor, other) -> Tensor:
    from .creation import as_tensor

    return matmul(as_tensor(other, device=self.device), self)


def _matmul_op(self: Tensor, other) -> Tensor:
    if isinstance(other, Tensor):
        # ``x @ w``: matmul's fast path repeated here, saving a call on the operator
        a, b = self._data, other._data
        if (
            a.dtype is b.dtype
            and a.__class__ is b.__class__
            and a.ndim == 2
            and b.ndim == 2
            and a.shape[1] == b.shape[0]
        ):
            # two matrices: nothing to fold, so _matmul_arrays is one GEMM (or its half path)
            res = _blas.matmul(a, b) if a.dtype in _DIRECT else _matmul_arrays(a, b)
            if (self._rg or other._rg) and MODE.grad:
                # MatMul is binary and saves only its inputs: record_binary is its apply
                # without the generic dispatch (shapes are checked, so no broadcast error)
                return MatMul.record_binary(self, other, res)
            return wrap(res)
        return matmul(self, other)
    if isinstance(other, (np.ndarray, list, tuple)):
        from .creation import as_tensor

        return matmul(self, as_tensor(other, device=self.device))
    return NotImplemented


def _dtype_check_mm(a: Tensor, b: Tensor) -> None:
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            "expected m1 and m2 to have the same dtype, but got: "
            f"{_C_SCALAR[a.dtype.name]} != {_C_SCALAR[b.dtype.name]}"
        )


def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Product of two matrices (no broadcasting): ``(n, m) @ (m, p) -> (n, p)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.mm(torch.ones(2, 3), torch.ones(3, 4)).shape
        torch.Size([2, 4])
    """
    if input._data.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2._data.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    (n, m), (m2, p) = input._data.shape, mat2._data.shape
    if m != m2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({n}x{m} and {m2}x{p})")
    _dtype_check_mm(input, mat2)
    if out is None:
        # shapes are checked: MatMul.apply without the generic dispatch (record_binary, or
        # with nothing to record the wrapped product)
        res = _matmul_arrays(input._data, mat2._data)
        if (input._rg or mat2._rg) and MODE.grad:
            return MatMul.record_binary(input, mat2, res)
        return wrap(res)
    return _out(MatMul.apply(input, mat2), out)


def _check_bmm(batch1: Tensor, batch2: Tensor) -> None:
    """bmm's checks of its operands (3-D, one batch size, matching inner dims, dtypes), which
    addbmm makes too, with torch's messages."""
    if batch1._data.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if batch2._data.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    (b, _, m), (b2, m2, _) = batch1._data.shape, batch2._data.shape
    if b != b2 or m != m2:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {m}] but got: "
            f"[{b2}, {m2}]."
        )
    _dtype_check_mm(batch1, batch2)


def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Batched product of two 3-D tensors: ``(b, n, m) @ (b, m, p) -> (b, n, p)``."""
    _check_bmm(input, mat2)
    if out is None:  # as in mm
        res = _matmul_arrays(input._data, mat2._data)
        if (input._rg or mat2._rg) and MODE.grad:
            return MatMul.record_binary(input, mat2, res)
        return wrap(res)
    return _out(MatMul.apply(input, mat2), out)


def mv(input: Tensor, vec: Tensor, *, out=None) -> Tensor:
    """Matrix-vector product ``(n, m) @ (m,) -> (n,)``."""
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(
            f"vector + matrix @ vector expected, got 1, {input._data.ndim}, {vec._data.ndim}"
        )
    n, m = input._data.shape
    if vec._data.shape[0] != m:
        raise RuntimeError(
            f"size mismatch, got input ({n}), mat ({n}x{m}), vec ({vec._data.shape[0]})"
        )
    _dtype_check_mm(input, vec)
    return _out(MatMul.apply(input, vec), out)


def _check_dot(a: Tensor, b: Tensor, op: str) -> None:
    if a._data.ndim != 1 or b._data.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {a._data.ndim}D and {b._data.ndim}D tensors"
        )
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            f"{op} : expected both vectors to have same dtype, but found {_tname(a)} and "
            f"{_tname(b)}"
        )
    na, nb = a._data.shape[0], b._data.shape[0]
    if na != nb:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{na}] and src [{nb}] to have the same "
            f"number of elements, but got {na} and {nb} elements respectively"
        )


def dot(input: Tensor, tensor: Tensor, *, out=None) -> Tensor:
    """Dot product of two 1-D tensors of the same length and dtype.

    Example:
        >>> import tocha.core as torch
        >>> torch.dot(torch.tensor([2, 3]), torch.tensor([2, 1]))
        tensor(7)
    """
    _check_dot(input, tensor, "dot")
    return _out(MatMul.apply(input, tensor), out)


def vdot(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Dot product with the first argument conjugated (the plain dot for real tensors)."""
    _check_dot(input, other, "vdot")
    return _out(MatMul.apply(_conj(input), other), out)


def inner(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Sum of products over the last dimension of both inputs (a scalar operand multiplies)."""
    if input._data.ndim == 0 or other._data.ndim == 0:
        return _out(input * other, out)
    if input._data.shape[-1] != other._data.shape[-1]:
        raise RuntimeError(
            "inner() the last dimension must match on both input tensors but got shapes "
            f"{list(input._data.shape)} and {list(other._data.shape)}"
        )
    return _out(tensordot(input, other, dims=([-1], [-1])), out)


def outer(input: Tensor, vec2: Tensor, *, out=None) -> Tensor:
    """Outer product of two vectors: ``(n,), (m,) -> (n, m)``."""
    if input._data.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {input._data.ndim}-D")
    if vec2._data.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument vec2, but got {vec2._data.ndim}-D")
    return _out(input.unsqueeze(1) * vec2, out)


ger = outer


def _scaled_sum(op: str, input: Tensor, prod: Tensor, beta, alpha) -> Tensor:
    """``beta * input + alpha * prod`` where ``input`` must broadcast to ``prod``'s shape."""
    shape = prod._data.shape
    ishape = input._data.shape
    try:
        ok = np.broadcast_shapes(ishape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        sizes, isz = list(shape), list(ishape)
        lead = len(shape) - len(ishape)
        for i, s in enumerate(isz):
            j = i + lead
            if j < 0 or (s != 1 and s != shape[j]):
                raise RuntimeError(
                    f"The expanded size of the tensor ({shape[j] if j >= 0 else 0}) must match "
                    f"the existing size ({s}) at non-singleton dimension {max(j, 0)}.  Target "
                    f"sizes: {sizes}.  Tensor sizes: {isz}"
                )
        raise RuntimeError(f"{op}: input of shape {isz} cannot be broadcast to {sizes}")
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        # torch ignores input when beta is 0 (its nan and inf do not propagate)
        return prod
    if beta != 1:
        input = input * beta
    return input + prod


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.addmm(torch.ones(2, 2), torch.eye(2), torch.eye(2), beta=2)
        tensor([[3., 2.],
                [2., 3.]])
    """
    return _out(_scaled_sum("addmm", input, mm(mat1, mat2), beta, alpha), out)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``."""
    return _out(_scaled_sum("addmv", input, mv(mat, vec), beta, alpha), out)


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)``."""
    return _out(_scaled_sum("addr", input, outer(vec1, vec2), beta, alpha), out)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)``."""
    return _out(_scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha), out)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]`` (one GEMM over the batch)."""
    _check_bmm(batch1, batch2)
    (b, n, m), p = batch1._data.shape, batch2._data.shape[2]
    lhs = batch1.permute(1, 0, 2).reshape(n, b * m)
    prod = mm(lhs, batch2.reshape(b * m, p))
    return _out(_scaled_sum("addbmm", input, prod, beta, alpha), out)


def linalg_diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """``torch.linalg.diagonal``: :func:`diagonal` with defaults for batches of matrices."""
    return diagonal(A, offset=offset, dim1=dim1, dim2=dim2)


# --- einsum ---------------------------------------------------------------------------------
def _einsum_parse(eq: str, shapes):
    eq = eq.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->", 1)
        if "->" in rhs:
            raise RuntimeError("einsum(): found '->' more than once in the equation")
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    used = {c for c in eq if c.isalpha()}
    pool = [c for c in string.ascii_letters if c not in used]
    pos = 0
    toks = []
    for k, term in enumerate(terms):
        if term.count("...") > 1 or term.replace("...", "").count("."):
            raise RuntimeError(
                f"einsum(): found more than one ellipsis or a stray '.' for operand {k}"
            )
        body = term.replace("...", ".")
        for i, c in enumerate(term):
            if c != "." and not (c.isascii() and c.isalpha()):
                raise RuntimeError(
                    f"einsum(): invalid subscript given at index {pos + i} in the equation "
                    "string, subscripts must be in [a-zA-Z]"
                )
        pos += len(term) + 1
        nd = len(shapes[k])
        nl = len(body) - ("." in body)
        if "." in body:
            if nl > nd:
                raise RuntimeError(
                    f"einsum(): the number of subscripts in the equation ({nl}) is more than the "
                    f"number of dimensions ({nd}) for operand {k}"
                )
            n_ell = nd - nl
        else:
            if nl != nd:
                raise RuntimeError(
                    f"einsum(): the number of subscripts in the equation ({nl}) does not match "
                    f"the number of dimensions ({nd}) for operand {k} and no ellipsis was given"
                )
            n_ell = 0
        toks.append((body, n_ell))
    max_ell = max((n for _, n in toks), default=0)
    if max_ell > len(pool):
        raise RuntimeError("einsum(): too many dimensions to label")
    ell = "".join(pool[:max_ell])
    subs = [body.replace(".", ell[max_ell - n :]) for body, n in toks]
    if rhs is None:
        counts = collections.Counter(c for s in subs for c in s if c not in ell)
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    else:
        if rhs.count("...") > 1:
            raise RuntimeError("einsum(): found more than one ellipsis in the output")
        seen = set()
        for c in rhs.replace("...", ""):
            if not (c.isascii() and c.isalpha()):
                raise RuntimeError(
                    f"einsum(): invalid subscript given at index {eq.index('->') + 2} in the "
                    "equation string, subscripts must be in [a-zA-Z]"
                )
            if c in seen:
                raise RuntimeError(
                    f"einsum(): output subscript {c} appears more than once in the output"
                )
            seen.add(c)
            if not any(c in s for s in subs):
                raise RuntimeError(
                    f"einsum(): output subscript {c} does not appear in the equation for any "
                    "input operand"
                )
        out = rhs.replace("...", ell)
    sizes: dict = {}
    for k, s in enumerate(subs):
        mine: dict = {}
        for c, d in zip(s, shapes[k]):
            if c in mine and mine[c] != d:
                raise RuntimeError(
                    f"einsum(): subscript {c} is repeated for operand {k} but the sizes don't "
                    f"match, {d} != {mine[c]}"
                )
            mine[c] = d
            cur = sizes.get(c)
            if cur is None or cur == 1:
                sizes[c] = d
            elif d != 1 and d != cur:
                raise RuntimeError(
                    f"einsum(): subscript {c} has size {d} for operand {k} which does not "
                    f"broadcast with previously seen size {cur}"
                )
    return subs, out, sizes


def _sum_letters(t: Tensor, s: str, drop) -> tuple:
    dims = tuple(i for i, c in enumerate(s) if c in drop)
    if not dims:
        return t, s
    return t.sum(dim=dims), "".join(c for c in s if c not in drop)


def _permute_to(t: Tensor, s: str, order: str) -> Tensor:
    perm = [s.index(c) for c in order]
    if perm == list(range(len(perm))):
        return t
    return t.permute(perm)


def _contract_pair(a: Tensor, sa: str, b: Tensor, sb: str, keep: set, sizes: dict):
    """Contract two operands over their shared letters not in ``keep``, with one matmul."""
    a, sa = _sum_letters(a, sa, {c for c in sa if c not in sb and c not in keep})
    b, sb = _sum_letters(b, sb, {c for c in sb if c not in sa and c not in keep})
    batch = [c for c in sa if c in sb and c in keep]
    contr = [c for c in sa if c in sb and c not in keep]
    fa = [c for c in sa if c not in sb]
    fb = [c for c in sb if c not in sa]
    res = "".join(batch + fa + fb)
    if not contr:
        # no shared summation: a broadcast product (outer or Hadamard)
        ta = _permute_to(a, sa, "".join(batch + fa))
        tb = _permute_to(b, sb, "".join(batch + fb))
        ta = ta.reshape(tuple(sizes[c] for c in batch + fa) + (1,) * len(fb))
        tb = tb.reshape(
            tuple(sizes[c] for c in batch) + (1,) * len(fa) + tuple(sizes[c] for c in fb)
        )
        return ta * tb, res
    B = tuple(sizes[c] for c in batch)
    M = math.prod(sizes[c] for c in fa)
    K = math.prod(sizes[c] for c in contr)
    N = math.prod(sizes[c] for c in fb)
    lead = (math.prod(B),) if batch else ()
    # pick the layouts that need no copy when the operands are already ordered that way
    oa_t = "".join(batch + contr + fa)
    if sa == oa_t and fa:
        ta = _mT(a.reshape(lead + (K, M)))
    else:
        ta = _permute_to(a, sa, "".join(batch + fa + contr)).reshape(lead + (M, K))
    ob_t = "".join(batch + fb + contr)
    if sb == ob_t and fb:
        tb = _mT(b.reshape(lead + (N, K)))
    else:
        tb = _permute_to(b, sb, "".join(batch + contr + fb)).reshape(lead + (K, N))
    out = matmul(ta, tb)
    return out.reshape(B + tuple(sizes[c] for c in fa + fb)), res


def _einsum(eq: str, ops) -> Tensor:
    ops = list(ops)
    for k, t in enumerate(ops):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): operand {k} must be a Tensor, not {type(t).__name__}")
    if not ops:
        raise RuntimeError("einsum(): must provide at least one operand")
    for k, t in enumerate(ops[1:], 1):
        if t._data.dtype != ops[0]._data.dtype:
            raise RuntimeError(
                f"einsum(): expected scalar type {_tname(ops[0])} but found {_tname(t)} for "
                f"operand {k}"
            )
    subs, out, sizes = _einsum_parse(eq, [t._data.shape for t in ops])
    originals = list(ops)
    # broadcast size-1 dimensions against the other operands' sizes
    for k, (t, s) in enumerate(zip(ops, subs)):
        target = tuple(sizes[c] for c in s)
        if t._data.shape != target:
            ops[k] = t.expand(target)
    # per operand: take diagonals of repeated letters, sum letters used nowhere else
    for k in range(len(ops)):
        t, s = ops[k], subs[k]
        while len(set(s)) != len(s):
            c = next(c for c in s if s.count(c) > 1)
            i = s.index(c)
            j = s.index(c, i + 1)
            t = diagonal(t, 0, i, j)
            s = s[:i] + s[i + 1 : j] + s[j + 1 :] + c
        elsewhere = set(out).union(*(subs[j] for j in range(len(ops)) if j != k))
        t, s = _sum_letters(t, s, {c for c in s if c not in elsewhere})
        ops[k], subs[k] = t, s
    ops = list(zip(ops, subs))
    if len(ops) > 2:
        path = _einsum_path(ops, out, sizes)
    else:
        path = [(0, 1)] if len(ops) == 2 else []
    for i, j in path:
        i, j = sorted((i, j))
        (b, sb), (a, sa) = ops.pop(j), ops.pop(i)
        keep = set(out).union(*(s for _, s in ops))
        ops.append(_contract_pair(a, sa, b, sb, keep, sizes))
    t, s = ops[0]
    t, s = _sum_letters(t, s, {c for c in s if c not in out})
    res = _permute_to(t, s, out)
    if any(res is o for o in originals):
        res = res.reshape(res._data.shape)  # a view, never the operand itself (as torch)
    if res._data.dtype != originals[0]._data.dtype:
        res = res.to(originals[0].dtype)  # integer sums widen to int64; einsum keeps the dtype
    return res


def _einsum_path(ops, out, sizes) -> list:
    """A pairwise contraction order for three or more operands (NumPy's greedy path on the
    shapes only). Each step names two positions in the current list; their product is appended.
    """
    eq = ",".join(s for _, s in ops) + "->" + out
    dummies = [np.broadcast_to(np.empty((), np.float32), t._data.shape) for t, _ in ops]
    path, _ = np.einsum_path(eq, *dummies, optimize="greedy")
    res = []
    length = len(ops)
    for step in path[1:]:
        members = sorted(step)
        if len(members) < 2:
            continue
        res.append((members[0], members[1]))
        length -= 1
        for m in members[2:]:
            # earlier members were removed and their product sits last
            shift = sum(1 for x in members if x < m)
            res.append((m - shift, length - 1))
            length -= 1
    return res


def _sublist_to_eq(args):
    def letters(sub):
        res = []
        for x in sub:
            if x is Ellipsis:
                res.append("...")
            elif isinstance(x, (int, np.integer)) and 0 <= x < 52:
                res.append(chr(ord("A") + x) if x < 26 else chr(ord("a") + x - 26))
            else:
                raise ValueError(
                    f"einsum(): subscript in subscript list is not within the valid range [0, 52): {x}"
                )
        return "".join(res)

    ops, terms = [], []
    i = 0
    while i + 1 < len(args):
        ops.append(args[i])
        terms.append(letters(args[i + 1]))
        i += 2
    eq = ",".join(terms)
    if i < len(args):
        eq += "->" + letters(args[i])
    return eq, ops


def einsum(*args) -> Tensor:
    """Einstein summation: ``einsum(equation, *operands)`` (or a list of operands, or the
    sublist form ``einsum(op1, [0, 1], op2, [1, 2], [0, 2])``).

    Supports ellipses, broadcasting of size-1 dimensions, repeated subscripts (diagonals) and
    implicit outputs. Pairwise contractions run as one matmul each, so gradients of any order
    come from the differentiable pieces.

    Example:
        >>> import tocha.core as torch
        >>> a, b = torch.ones(2, 3), torch.ones(3, 4)
        >>> torch.einsum("ij,jk->ik", a, b).shape
        torch.Size([2, 4])
        >>> torch.einsum("ii", torch.eye(3))
        tensor(3.)
    """
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand")
    if isinstance(args[0], str):
        eq, ops = args[0], args[1:]
        if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
            ops = tuple(ops[0])
    else:
        eq, ops = _sublist_to_eq(args)
    return _einsum(eq, ops)


# --- tensordot, kron, cross, trace ----------------------------------------------------------
def tensordot(a: Tensor, b: Tensor, dims=2, out=None) -> Tensor:
    """Contract ``dims`` dimensions of ``a`` with ``b``: an int (the last ``dims`` of ``a``
    with the first of ``b``) or a pair of dimension lists.

    Example:
        >>> import tocha.core as torch
        >>> torch.tensordot(torch.ones(3, 4, 5), torch.ones(4, 5, 6), dims=2).shape
        torch.Size([3, 6])
    """
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a._data.ndim or dims > b._data.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        ca = [i - dims for i in range(dims)]
        cb = list(range(dims))
    else:
        ca, cb = dims
        ca = [ca] if isinstance(ca, (int, np.integer)) else list(ca)
        cb = [cb] if isinstance(cb, (int, np.integer)) else list(cb)
    if len(ca) != len(cb):
        raise RuntimeError("both dimension lists should have same length")
    na, nb = a._data.ndim, b._data.ndim
    ia = [norm_dim(d, na, "tensordot") for d in ca]
    ib = [norm_dim(d, nb, "tensordot") for d in cb]
    for da, db, oa, ob in zip(ia, ib, ca, cb):
        if a._data.shape[da] != b._data.shape[db]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a._data.shape[da]} "
                f"in dim {oa} and second has size {b._data.shape[db]} in dim {ob}"
            )
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"expected scalar type {_tname(a)} but found {_tname(b)}")
    fa = [d for d in range(na) if d not in ia]
    fb = [d for d in range(nb) if d not in ib]
    K = math.prod(a._data.shape[d] for d in ia)
    sa = tuple(a._data.shape[d] for d in fa)
    sb = tuple(b._data.shape[d] for d in fb)
    ta = a.permute(fa + ia) if fa + ia != list(range(na)) else a
    tb = b.permute(ib + fb) if ib + fb != list(range(nb)) else b
    res = matmul(ta.reshape(math.prod(sa), K), tb.reshape(K, math.prod(sb)))
    return _out(res.reshape(sa + sb), out)


def kron(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Kronecker product: block ``(i, j, ...)`` of the result is ``input[i, j, ...] * other``.

    Example:
        >>> import tocha.core as torch
        >>> torch.kron(torch.eye(2), torch.ones(2, 2)).shape
        torch.Size([4, 4])
    """
    a, b = input, other
    nd = max(a._data.ndim, b._data.ndim)
    sa = (1,) * (nd - a._data.ndim) + a._data.shape
    sb = (1,) * (nd - b._data.ndim) + b._data.shape
    ia, ib = [], []
    for x, y in zip(sa, sb):
        ia += [x, 1]
        ib += [1, y]
    prod = a.reshape(tuple(ia)) * b.reshape(tuple(ib))
    return _out(prod.reshape(tuple(x * y for x, y in zip(sa, sb))), out)


class Cross(Node):
    save_inputs = (0, 1)

    def forward(self, a, b, dim):
        self.dim = dim
        return xp_of(a).cross(a, b, axis=dim)

    def backward(self, g):
        a, b = self.saved_inputs
        na, nb = self.needs_input_grad
        ga = _cross(b, g, self.dim) if na else None
        gb = _cross(g, a, self.dim) if nb else None
        return ga, gb


def _cross(a: Tensor, b: Tensor, dim: int) -> Tensor:
    return Cross.apply(a, b, dim=dim)


def _cross_checked(op: str, input: Tensor, other: Tensor, dim) -> Tensor:
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"expected scalar type {_tname(input)} but found {_tname(other)}")
    if input._data.ndim != other._data.ndim:
        raise RuntimeError(
            f"{op}: inputs must have the same number of dimensions. Got {input._data.ndim} and "
            f"{other._data.ndim}"
        )
    nd = input._data.ndim
    if dim is None:
        try:
            shape = np.broadcast_shapes(input._data.shape, other._data.shape)
        except ValueError:
            shape = input._data.shape
        cands = [i for i, s in enumerate(shape) if s == 3]
        if not cands:
            raise RuntimeError("no dimension of size 3 in input")
        warnings.warn(
            "Using torch.cross without specifying the dim arg is deprecated. Please either pass "
            "the dim explicitly or simply use torch.linalg.cross.",
            UserWarning,
            stacklevel=3,
        )
        d = cands[0]
        shown = d
    else:
        d = norm_dim(dim, nd, op)
        shown = dim
    la, lb = input._data.shape[d], other._data.shape[d]
    if la != 3 or lb != 3:
        raise RuntimeError(f"{op}: inputs dimension {shown} must have length 3. Got {la} and {lb}")
    try:
        np.broadcast_shapes(input._data.shape, other._data.shape)
    except ValueError:
        raise RuntimeError(
            f"{op}: shapes {list(input._data.shape)} and {list(other._data.shape)} cannot be "
            "broadcast"
        ) from None
    return _cross(input, other, d - nd)


def cross(input: Tensor, other: Tensor, dim=None, *, out=None) -> Tensor:
    """Cross product of 3-vectors along ``dim`` (default: the first dimension of size 3)."""
    return _out(_cross_checked("linalg.cross", input, other, dim), out)


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """Cross product of 3-vectors along ``dim`` (default -1), with broadcasting."""
    return _out(_cross_checked("linalg.cross", input, other, dim), out)


class Trace(Node):
    def forward(self, a):
        self.shape = a.shape
        res = xp_of(a).trace(a)
        if a.dtype.kind in "biu":
            res = res.astype(np.int64)
        return res

    def backward(self, g):
        n, m = self.shape
        return g * _eye(n, m, g._data)


def trace(input: Tensor) -> Tensor:
    """Sum of the main diagonal of a 2-D tensor (integers sum to int64)."""
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    return Trace.apply(input)


def matrix_power(input: Tensor, n: int, *, out=None) -> Tensor:
    """``input`` multiplied by itself ``n`` times (``n < 0``: powers of the inverse)."""
    _check_matrix("linalg.matrix_power", input)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"linalg.matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    A = input
    if n == 0:
        d = A._data
        xp = xp_of(d)
        k = d.shape[-1]
        res = wrap(xp.broadcast_to(xp.eye(k, dtype=d.dtype), d.shape).copy())
        return _out(res, out)
    if n < 0:
        A = inv(A)
        n = -n
    result = None
    base = A
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    if result is A and out is None:
        result = result.clone()
    return _out(result, out)


def _multi_dot_order(dims):
    """Optimal parenthesisation of a matrix chain (dynamic programming on the shapes)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j] = c
                    split[i][j] = k
    return split


def multi_dot(tensors, *, out=None) -> Tensor:
    """Product of a chain of matrices in the cheapest order; the first and last may be 1-D."""
    tensors = list(tensors)
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    first, last = tensors[0], tensors[-1]
    for t in (first, last):
        if t._data.ndim not in (1, 2):
            raise RuntimeError(
                f"multi_dot(): the first and last tensors must be 1D or 2D but got {t._data.ndim}D"
            )
    for i, t in enumerate(tensors[1:-1], 1):
        if t._data.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t._data.ndim}D")
    mats = list(tensors)
    v_first, v_last = first._data.ndim == 1, last._data.ndim == 1
    if v_first:
        mats[0] = first.unsqueeze(0)
    if v_last:
        mats[-1] = last.unsqueeze(1)
    for i in range(n - 1):
        if mats[i]._data.shape[1] != mats[i + 1]._data.shape[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {i} and {i + 1} with shapes "
                f"{list(tensors[i]._data.shape)} and {list(tensors[i + 1]._data.shape)} cannot "
                "be multiplied"
            )
        _dtype_check_mm(mats[i], mats[i + 1])
    dims = [m._data.shape[0] for m in mats] + [mats[-1]._data.shape[1]]
    split = _multi_dot_order(dims)

    def prod(i, j):
        if i == j:
            return mats[i]
        k = split[i][j]
        return matmul(prod(i, k), prod(k + 1, j))

    res = prod(0, n - 1)
    if v_first and v_last:
        res = res.reshape(())
    elif v_first:
        res = res.squeeze(0)
    elif v_last:
        res = res.squeeze(1)
    return _out(res, out)


def chain_matmul(*matrices, out=None) -> Tensor:
    """Product of 2-D matrices in the cheapest order (deprecated alias of multi_dot)."""
    _deprecated(
        "chain_matmul",
        "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
        "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather "
        "than multiple parameters.",
    )
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    for m in matrices:
        if m._data.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m._data.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        return _out(matrices[0].clone(), out)
    return multi_dot(matrices, out=out)


# --- cdist ----------------------------------------------------------------------------------
def _euclid_mm(x1, x2):
    """Pairwise distances via ``|x|^2 + |y|^2 - 2 x.y`` (one GEMM), as torch for large inputs."""
    xp = xp_of(x1)
    n1 = (x1 * x1).sum(-1)[..., :, None]
    n2 = (x2 * x2).sum(-1)[..., None, :]
    d2 = n1 + n2 - 2 * _matmul_arrays(x1, xp.swapaxes(x2, -1, -2))
    return xp.sqrt(xp.maximum(d2, 0))


class CdistEuclid(Node):
    save_inputs = (0, 1)
    save_outputs = (0,)

    def forward(self, x1, x2, use_mm):
        xp = xp_of(x1)
        if use_mm:
            return _euclid_mm(x1, x2)
        diff = x1[..., :, None, :] - x2[..., None, :, :]
        return xp.sqrt((diff * diff).sum(-1))

    def backward(self, g):
        x1, x2 = self.saved_inputs
        (d,) = self.saved_outputs
        # zero distance: torch's subgradient is 0 there
        nz = wrap((d._data != 0).astype(d._data.dtype))
        w = g * nz / (d + (1 - nz))
        n1, n2 = self.needs_input_grad
        g1 = w.sum(-1, keepdim=True) * x1 - matmul(w, x2) if n1 else None
        g2 = w.sum(-2).unsqueeze(-1) * x2 - matmul(_mT(w), x1) if n2 else None
        return g1, g2


def cdist(
    x1: Tensor,
    x2: Tensor,
    p: float = 2.0,
    compute_mode: str = "use_mm_for_euclid_dist_if_necessary",
) -> Tensor:
    """p-norm distances between each row of ``x1`` (B, P, M) and of ``x2`` (B, R, M).

    Example:
        >>> import tocha.core as torch
        >>> torch.cdist(torch.zeros(1, 2), torch.tensor([[3.0, 4.0]]))
        tensor([[5.]])
    """
    if x1._data.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1._data.ndim}D")
    if x2._data.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X2 got: {x2._data.ndim}D")
    for t, nm in ((x1, "X1"), (x2, "X2")):
        if t._data.dtype.kind not in "fV":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {nm} got: {_tname(t)}")
    c1, c2 = x1._data.shape[-1], x2._data.shape[-1]
    if c1 != c2:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {c1} X2: {c2}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    modes = (
        "use_mm_for_euclid_dist_if_necessary",
        "use_mm_for_euclid_dist",
        "donot_use_mm_for_euclid_dist",
    )
    if compute_mode not in modes:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    if x1._data.dtype != x2._data.dtype:
        raise RuntimeError(f"expected scalar type {_tname(x1)} but found {_tname(x2)}")
    P, R = x1._data.shape[-2], x2._data.shape[-2]
    if p == 2:
        use_mm = compute_mode == "use_mm_for_euclid_dist" or (
            compute_mode == "use_mm_for_euclid_dist_if_necessary" and (P > 25 or R > 25)
        )
        return CdistEuclid.apply(x1, x2, use_mm=use_mm)
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p == 0:
        return (diff != 0).sum(-1).to(x1.dtype)
    if p == 1:
        return diff.abs().sum(-1)
    if p == math.inf:
        return diff.abs().amax(-1)
    return (diff.abs() ** p).sum(-1) ** (1.0 / p)


# --- determinants and inverses --------------------------------------------------------------
def _singular_error(op: str, info, shape, what: str) -> LinAlgError:
    idx, val = _first_bad(info)
    return LinAlgError(f"{op}: {_batch_prefix(idx, shape)}{what.format(val)}")


_INV_MSG = (
    "The diagonal element {} is zero, the inversion could not be completed because the input "
    "matrix is singular."
)


class Inv(Node):
    save_outputs = (0,)

    def forward(self, a, check=True):
        xp = xp_of(a)
        try:
            return xp.linalg.inv(a)
        except np.linalg.LinAlgError:
            info = _getrf_info(a)
            if check:
                raise _singular_error("linalg.inv", info, a.shape, _INV_MSG) from None
            # the _ex variant: invert the regular matrices, give the singular ones nan
            bad = info != 0
            safe = np.where(bad[..., None, None], np.eye(a.shape[-1], dtype=a.dtype), a)
            res = np.linalg.inv(safe)
            res[bad] = np.nan
            return res

    def backward(self, g):
        (ainv,) = self.saved_outputs
        h = _H(ainv)
        return -matmul(h, matmul(g, h))


def inv(A: Tensor, *, out=None) -> Tensor:
    """Inverse of a square matrix (or batch); raises LinAlgError for singular input.

    Example:
        >>> import tocha.core as torch
        >>> torch.linalg.inv(torch.tensor([[2.0, 0.0], [0.0, 4.0]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.2500]])
    """
    _check_matrix("linalg.inv", A)
    _check_float("linalg.inv", A)
    return _out(Inv.apply(A), out)


def inv_ex(A: Tensor, *, check_errors: bool = False, out=None) -> tuple:
    """Inverse plus LAPACK ``info`` (0 where invertible) instead of raising."""
    _check_matrix("linalg.inv_ex", A)
    _check_float("linalg.inv_ex", A)
    res = Inv.apply(A, check=check_errors)
    d = A._data
    info = None
    if d.__class__ is _ndarray and res._data.size and np.isnan(res._data).any():
        info = _getrf_info(d)
    if info is None:
        info = xp_of(d).zeros(d.shape[:-2], dtype=np.int32)
    return _RT_linalg_inv_ex(_out(res, out), wrap(info))


def inverse(input: Tensor, *, out=None) -> Tensor:
    """Alias of :func:`linalg.inv`."""
    return inv(input, out=out)


def _cofactor(a):
    """The cofactor matrix ``det(A) A^{-T}`` from the SVD, valid for singular matrices too."""
    xp = xp_of(a)
    u, s, vh = xp.linalg.svd(a)
    ones = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    left = xp.cumprod(xp.concatenate([ones, s[..., :-1]], -1), -1)
    right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(s, -1)[..., :-1]], -1), -1), -1)
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return sign[..., None, None] * _matmul_arrays(u * (left * right)[..., None, :], vh)


class Det(Node):
    save_inputs = (0,)
    save_outputs = (0,)

    def forward(self, a):
        return xp_of(a).linalg.det(a)

    def backward(self, g):
        (a,) = self.saved_inputs
        (d,) = self.saved_outputs
        if a._data.shape[-1] == 0:
            return g.unsqueeze(-1).unsqueeze(-1) * a
        if bool((d._data != 0).all()):
            return (g * _conj(d)).unsqueeze(-1).unsqueeze(-1) * _H(inv(a))
        # a singular matrix in the batch: first-order gradient from the SVD cofactors
        cof = wrap(_cofactor(a._data))
        return g.unsqueeze(-1).unsqueeze(-1) * _conj(cof)


def det(A: Tensor, *, out=None) -> Tensor:
    """Determinant of a square matrix (or batch).

    Example:
        >>> import tocha.core as torch
        >>> torch.linalg.det(torch.tensor([[2.0, 1.0], [1.0, 3.0]]))
        tensor(5.)
    """
    _check_matrix("linalg.det", A)
    _check_float("linalg.det", A)
    return _out(Det.apply(A), out)


class SlogDet(Node):
    save_inputs = (0,)

    def forward(self, a):
        sign, logabs = xp_of(a).linalg.slogdet(a)
        return sign, logabs

    def backward(self, gsign, glog):
        (a,) = self.saved_inputs
        return glog.unsqueeze(-1).unsqueeze(-1) * _H(inv(a))


def linalg_slogdet(A: Tensor, *, out=None) -> tuple:
    """Sign and log of the absolute value of the determinant, as ``(sign, logabsdet)``."""
    _check_matrix("linalg.slogdet", A)
    _check_float("linalg.slogdet", A)
    sign, logabs = SlogDet.apply(A)
    return _RT_linalg_slogdet(sign, logabs)


def slogdet(input: Tensor, *, out=None) -> tuple:
    """``torch.slogdet``: :func:`linalg.slogdet` as ``torch.return_types.slogdet``."""
    res = linalg_slogdet(input)
    return _RT_slogdet(*res)


class LogDet(Node):
    save_inputs = (0,)

    def forward(self, a):
        xp = xp_of(a)
        sign, logabs = xp.linalg.slogdet(a)
        nan = xp.asarray(np.nan, dtype=logabs.dtype)
        return xp.where(sign < 0, nan, logabs)

    def backward(self, g):
        (a,) = self.saved_inputs
        return g.unsqueeze(-1).unsqueeze(-1) * _H(inv(a))


def logdet(input: Tensor) -> Tensor:
    """Log of the determinant: nan for a negative determinant, -inf for a singular matrix."""
    _check_matrix("logdet", input)
    _check_float("logdet", input)
    return LogDet.apply(input)


# --- solves ---------------------------------------------------------------------------------
_SOLVE_MSG = "The solver failed because the input matrix is singular."


def _solve_arrays(a, b):
    xp = xp_of(a)
    if xp is not np and a.shape[:-2] != b.shape[:-2]:
        # NumPy's solve broadcasts batch dimensions; do it explicitly for other backends
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = xp.broadcast_to(a, batch + a.shape[-2:])
        b = xp.broadcast_to(b, batch + b.shape[-2:])
    return xp.linalg.solve(a, b)


class Solve(Node):
    """``A X = B`` for batches of square ``A`` and matrices ``B`` (batch dims broadcast)."""

    save_inputs = (0,)
    save_outputs = (0,)

    def forward(self, a, b, check=True):
        try:
            return _solve_arrays(a, b)
        except np.linalg.LinAlgError:
            info = _getrf_info(a)
            if check:
                raise _singular_error(
                    "torch.linalg.solve", info, a.shape, _SOLVE_MSG.replace("{}", "")
                ) from None
            bad = info != 0
            safe = np.where(bad[..., None, None], np.eye(a.shape[-1], dtype=a.dtype), a)
            res = np.linalg.solve(safe, b)
            res[np.broadcast_to(bad, res.shape[:-2])] = np.nan
            return res

    def backward(self, g):
        (a,) = self.saved_inputs
        (x,) = self.saved_outputs
        gb = Solve.apply(_H(a), g)
        ga = -matmul(gb, _H(x)) if self.needs_input_grad[0] else None
        return ga, (gb if self.needs_input_grad[1] else None)


def _is_vector_rhs(A: Tensor, B: Tensor) -> bool:
    return B._data.ndim == 1 or (
        B._data.ndim == A._data.ndim - 1 and B._data.shape == A._data.shape[:-1]
    )


def _solve(op: str, A: Tensor, B: Tensor, left: bool, check: bool = True) -> Tensor:
    _check_matrix(op, A)
    _check_float(op, A, B)
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(
            f"{op}: Expected A and B to have the same dtype, but found A of type {_tname(A)} "
            f"and B of type {_tname(B)} instead"
        )
    vec = _is_vector_rhs(A, B)
    Bm = B.unsqueeze(-1) if vec else B
    n = A._data.shape[-1]
    rows = Bm._data.shape[-2] if left else Bm._data.shape[-1]
    if rows != n:
        eq = "AX = B" if left else "XA = B"
        bs = Bm._data.shape
        raise RuntimeError(
            f"{op}: Incompatible shapes of A and B for the equation {eq} ({n}x{n} and "
            f"{bs[-2]}x{bs[-1]})"
        )
    try:
        np.broadcast_shapes(A._data.shape[:-2], Bm._data.shape[:-2])
    except ValueError:
        raise RuntimeError(
            f"{op}: batch dimensions of A {list(A._data.shape[:-2])} and B "
            f"{list(Bm._data.shape[:-2])} cannot be broadcast"
        ) from None
    if left:
        X = Solve.apply(A, Bm, check=check)
    else:
        X = _mT(Solve.apply(_mT(A), _mT(Bm), check=check))
    return X.squeeze(-1) if vec else X


def solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """Solve ``A X = B`` (or ``X A = B`` with ``left=False``) for square, invertible ``A``.

    ``B`` is a (batch of) vector(s) when it is 1-D or has the shape of ``A`` without its last
    dimension; otherwise a (batch of) matrices. Batch dimensions broadcast.

    Example:
        >>> import tocha.core as torch
        >>> A = torch.tensor([[3.0, 1.0], [1.0, 2.0]])
        >>> torch.linalg.solve(A, torch.tensor([9.0, 8.0]))
        tensor([2., 3.])
    """
    return _out(_solve("linalg.solve", A, B, left), out)


def solve_ex(
    A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False, out=None
) -> tuple:
    """:func:`solve` plus LAPACK ``info`` (non-zero for singular matrices) instead of raising."""
    X = _solve("linalg.solve_ex", A, B, left, check=check_errors)
    d = A._data
    info = None
    if d.__class__ is _ndarray and X._data.size and np.isnan(X._data).any():
        info = _getrf_info(d)
    if info is None:
        info = xp_of(d).zeros(d.shape[:-2], dtype=np.int32)
    return _RT_linalg_solve_ex(_out(X, out), wrap(info))


def _tri_solve_arrays(a, b, upper, unit):
    xp = xp_of(a)
    if xp is np:
        import scipy.linalg

        try:
            return scipy.linalg.solve_triangular(
                a, b, lower=not upper, unit_diagonal=unit, check_finite=False
            )
        except np.linalg.LinAlgError:
            diag = np.diagonal(a, axis1=-2, axis2=-1) == 0
            info = np.where(diag.any(-1), diag.argmax(-1) + 1, 0)
            raise _singular_error(
                "linalg.solve_triangular",
                info,
                a.shape,
                "The diagonal element {} is zero, the solve could not be completed because the "
                "input matrix is singular.",
            ) from None
    n = a.shape[-1]
    t = xp.triu(a) if upper else xp.tril(a)
    if unit:
        eye = xp.eye(n, dtype=bool)
        t = xp.where(eye, xp.asarray(1, dtype=a.dtype), t)
    return _solve_arrays(t, b)


class SolveTriangular(Node):
    save_inputs = (0,)
    save_outputs = (0,)

    def forward(self, a, b, upper, unit):
        self.upper, self.unit = upper, unit
        return _tri_solve_arrays(a, b, upper, unit)

    def backward(self, g):
        (a,) = self.saved_inputs
        (x,) = self.saved_outputs
        up, unit = self.upper, self.unit
        gb = SolveTriangular.apply(_H(a), g, upper=not up, unit=unit)
        ga = None
        if self.needs_input_grad[0]:
            ga = -matmul(gb, _H(x))
            k = 1 if unit else 0
            ga = _triu(ga, k) if up else _tril(ga, -k)
        return ga, (gb if self.needs_input_grad[1] else None)


def solve_triangular(
    A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False, out=None
) -> Tensor:
    """Solve ``A X = B`` (``X A = B`` with ``left=False``) for triangular ``A``.

    Only the triangle named by ``upper`` is read; ``unitriangular`` assumes ones on the
    diagonal.
    """
    op = "linalg.solve_triangular"
    _check_matrix(op, A)
    _check_float(op, A, B)
    if B._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(
            f"{op}: Expected A and B to have the same dtype, but found A of type {_tname(A)} "
            f"and B of type {_tname(B)} instead"
        )
    n = A._data.shape[-1]
    bs = B._data.shape
    if (bs[-2] if left else bs[-1]) != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(
            f"{op}: Incompatible shapes of A and B for the equation {eq} ({n}x{n} and "
            f"{bs[-2]}x{bs[-1]})"
        )
    if left:
        X = SolveTriangular.apply(A, B, upper=upper, unit=unitriangular)
    else:
        X = _mT(SolveTriangular.apply(_mT(A), _mT(B), upper=not upper, unit=unitriangular))
    return _out(X, out)


def triangular_solve(
    b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False, unitriangular: bool = False
) -> tuple:
    """Deprecated torch API: ``(solution, cloned_coefficient)`` of ``op(A) X = b``."""
    _deprecated(
        "triangular_solve",
        "torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangular and will "
        "be removed in a future PyTorch release.",
    )
    M = _mT(A) if transpose else A
    X = solve_triangular(M, b, upper=upper != transpose, unitriangular=unitriangular)
    return _RT_triangular_solve(X, A.clone())


# --- Cholesky -------------------------------------------------------------------------------
_CHOL_MSG = (
    "The factorization could not be completed because the input is not positive-definite "
    "(the leading minor of order {} is not positive-definite)."
)


class Cholesky(Node):
    save_outputs = (0,)

    def forward(self, a, upper=False, check=True):
        self.upper = upper
        xp = xp_of(a)
        try:
            L = xp.linalg.cholesky(a)
            if xp is not np and a.size and bool(xp.isnan(L).any()):
                raise np.linalg.LinAlgError("not positive definite")
        except np.linalg.LinAlgError:
            L, info = _potrf(a)
            if check:
                raise _singular_error("linalg.cholesky", info, a.shape, _CHOL_MSG) from None
            L = xp.asarray(L)
            self.info = info
        return xp.swapaxes(L, -1, -2).conj() if upper else L

    def backward(self, g):
        (L,) = self.saved_outputs
        if self.upper:
            L, g = _H(L), _H(g)
        # A = L L^H gives gA = L^{-H} sym(Phi(L^H gL)) L^{-1}, Phi = tril with halved diagonal
        n = L._data.shape[-1]
        xp = xp_of(L._data)
        half = xp.tri(n, dtype=L._data.dtype) - 0.5 * xp.eye(n, dtype=L._data.dtype)
        phi = matmul(_H(L), g) * wrap(half)
        s = (phi + _H(phi)) * 0.5
        y = SolveTriangular.apply(_H(L), s, upper=True, unit=False)
        return _H(SolveTriangular.apply(_H(L), _H(y), upper=True, unit=False))


def linalg_cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """Cholesky factor ``L`` (lower) of a Hermitian positive-definite ``A = L L^H``.

    Example:
        >>> import tocha.core as torch
        >>> torch.linalg.cholesky(torch.tensor([[4.0, 2.0], [2.0, 2.0]]))
        tensor([[2., 0.],
                [1., 1.]])
    """
    _check_matrix("linalg.cholesky", A)
    _check_float("linalg.cholesky", A)
    return _out(Cholesky.apply(A, upper=upper), out)


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False, out=None) -> tuple:
    """Cholesky factor plus LAPACK ``info`` (the failing minor's order, 0 on success)."""
    _check_matrix("linalg.cholesky_ex", A)
    _check_float("linalg.cholesky_ex", A)
    node_out = Cholesky.apply(A, upper=upper, check=check_errors)
    info = None
    gf = node_out.grad_fn
    if gf is not None and "info" in gf.__dict__:
        info = gf.info
    elif A._data.__class__ is _ndarray:
        try:
            np.linalg.cholesky(A._data)
        except np.linalg.LinAlgError:
            info = _potrf(A._data)[1]
    if info is None:
        info = np.zeros(A._data.shape[:-2], dtype=np.int32)
    xp = xp_of(A._data)
    return _RT_linalg_cholesky_ex(_out(node_out, out), wrap(xp.asarray(info)))


def cholesky(input: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """Deprecated ``torch.cholesky``: :func:`linalg.cholesky`."""
    _deprecated(
        "cholesky",
        "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a "
        "future PyTorch release.",
    )
    return linalg_cholesky(input, upper=upper, out=out)


def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """Solve ``A X = B`` given the Cholesky factor of ``A`` (``A = L L^H``)."""
    if upper:
        Y = solve_triangular(_H(L), B, upper=False)
        X = solve_triangular(L, Y, upper=True)
    else:
        Y = solve_triangular(L, B, upper=False)
        X = solve_triangular(_H(L), Y, upper=True)
    return _out(X, out)


def cholesky_inverse(L: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """Inverse of ``A`` given its Cholesky factor."""
    n = L._data.shape[-1]
    eye = wrap(xp_of(L._data).eye(n, dtype=L._data.dtype))
    return cholesky_solve(eye, L, upper=upper, out=out)


# --- QR -------------------------------------------------------------------------------------
def _copyltu(m: Tensor) -> Tensor:
    """The symmetric matrix that has ``m``'s lower triangle."""
    return _tril(m) + _mT(_tril(m, -1))


def _qr_backward_tall(gq: Tensor, gr: Tensor, q: Tensor, r: Tensor) -> Tensor:
    """m >= n: gA = (gQ + Q copyltu(M)) R^{-H}, M = R gR^H - gQ^H Q."""
    m = matmul(r, _H(gr)) - matmul(_H(gq), q)
    b = gq + matmul(q, _copyltu(m))
    return _H(SolveTriangular.apply(r, _H(b), upper=True, unit=False))


class QR(Node):
    save_outputs = (0, 1)

    def forward(self, a, mode):
        self.mode = mode
        self.shape = a.shape
        xp = xp_of(a)
        if mode == "r":
            r = xp.linalg.qr(a, mode="r")
            return xp.zeros((0,), dtype=a.dtype), r
        q, r = xp.linalg.qr(a, mode=mode)
        return q, r

    def backward(self, gq, gr):
        m, n = self.shape[-2:]
        if self.mode == "r":
            raise RuntimeError(
                "The derivative of linalg.qr depends on Q, which is not computed when "
                "mode='r'. Please use linalg.qr(A, mode='reduced') if you are going to "
                "differentiate through linalg.qr."
            )
        if self.mode == "complete" and m > n:
            raise RuntimeError(
                "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
            )
        q, r = self.saved_outputs
        if m >= n:
            return _qr_backward_tall(gq, gr, q, r)
        # wide: A = [X | Y], R = [U | V] with X = Q U square; Y = Q V
        from .shape import cat

        u, v = r[..., :m], r[..., m:]
        gu, gv = gr[..., :m], gr[..., m:]
        y = matmul(q, v)
        gx = _qr_backward_tall(gq + matmul(y, _H(gv)), gu, q, u)
        return cat([gx, matmul(q, gv)], -1)


def linalg_qr(A: Tensor, mode: str = "reduced", *, out=None) -> tuple:
    """QR decomposition ``A = Q R`` as ``(Q, R)``; ``mode`` is 'reduced', 'complete' or 'r'.

    Example:
        >>> import tocha.core as torch
        >>> Q, R = torch.linalg.qr(torch.tensor([[3.0, 1.0], [4.0, 2.0]]))
        >>> (Q @ R).round()
        tensor([[3., 1.],
                [4., 2.]])
    """
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
            "'r', or 'complete'"
        )
    _check_matrix("linalg.qr", A, square=False)
    _check_float("linalg.qr", A)
    q, r = QR.apply(A, mode=mode)
    return _RT_linalg_qr(q, r)


def qr(input: Tensor, some: bool = True, *, out=None) -> tuple:
    """Deprecated ``torch.qr``: ``some=False`` is mode 'complete'."""
    _deprecated(
        "qr",
        "torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future "
        "PyTorch release.",
    )
    q, r = linalg_qr(input, mode="reduced" if some else "complete")
    return _RT_qr(q, r)


# --- eigh -----------------------------------------------------------------------------------
class Eigh(Node):
    save_outputs = (0, 1)

    def forward(self, a, uplo):
        w, v = xp_of(a).linalg.eigh(a, UPLO=uplo)
        return w, v

    def backward(self, gl, gv):
        lam, v = self.saved_outputs
        # gA = V (diag(gL) + F o skew(V^H gV)) V^H with F_ij = 1 / (l_j - l_i)
        inner = _diag_embed(gl)
        if gv is not None:
            x = matmul(_H(v), gv)
            f = _inv_offdiag(lam.unsqueeze(-2) - lam.unsqueeze(-1))
            inner = inner + f * ((x - _H(x)) * 0.5)
        return matmul(v, matmul(inner, _H(v)))


def _check_uplo(op: str, UPLO: str) -> str:
    u = UPLO.upper() if isinstance(UPLO, str) else UPLO
    if u not in ("L", "U"):
        raise RuntimeError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return u


def eigh(A: Tensor, UPLO: str = "L", *, out=None) -> tuple:
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric/Hermitian matrix.

    Only the lower (``UPLO='L'``) or upper triangle is read. Returns
    ``(eigenvalues, eigenvectors)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.linalg.eigh(torch.tensor([[2.0, 1.0], [1.0, 2.0]])).eigenvalues
        tensor([1., 3.])
    """
    _check_matrix("linalg.eigh", A)
    _check_float("linalg.eigh", A)
    uplo = _check_uplo("linalg.eigh", UPLO)
    w, v = Eigh.apply(A, uplo=uplo)
    return _RT_linalg_eigh(w, v)


def eigvalsh(A: Tensor, UPLO: str = "L", *, out=None) -> Tensor:
    """Eigenvalues (ascending) of a symmetric/Hermitian matrix."""
    _check_matrix("linalg.eigvalsh", A)
    _check_float("linalg.eigvalsh", A)
    uplo = _check_uplo("linalg.eigvalsh", UPLO)
    from ..autograd.grad_mode import MODE

    if MODE.grad and A._rg:
        return _out(Eigh.apply(A, uplo=uplo)[0], out)
    return _out(wrap(xp_of(A._data).linalg.eigvalsh(A._data, UPLO=uplo)), out)


class Eig(Node):
    """General eigendecomposition (complex results). Forward only: no derivative yet."""

    def forward(self, a):
        w, v = xp_of(a).linalg.eig(a)
        ct = np.complex64 if a.dtype in (np.float32, np.complex64) else np.complex128
        return w.astype(ct, copy=False), v.astype(ct, copy=False)

    def backward(self, gl, gv):
        raise RuntimeError("linalg.eig: the derivative of eig is not implemented in tocha")


def eig(A: Tensor, *, out=None) -> tuple:
    """Eigenvalues and eigenvectors of a general square matrix, always complex, as
    ``(eigenvalues, eigenvectors)`` (CPU only: CuPy has no general eigensolver)."""
    _check_matrix("linalg.eig", A)
    _check_float("linalg.eig", A)
    w, v = Eig.apply(A)
    return _RT_linalg_eig(w, v)


def eigvals(A: Tensor, *, out=None) -> Tensor:
    """Eigenvalues of a general square matrix (complex)."""
    return _out(eig(A).eigenvalues, out)


# --- SVD ------------------------------------------------------------------------------------
class SVD(Node):
    save_outputs = (0, 1, 2)

    def forward(self, a, full_matrices):
        self.full = full_matrices
        u, s, vh = xp_of(a).linalg.svd(a, full_matrices=full_matrices)
        return u, s, vh

    def backward(self, gu, gs, gvh):
        u, s, vh = self.saved_outputs
        m, n = u._data.shape[-2], vh._data.shape[-1]
        k = min(m, n)
        if self.full and m != n:
            # the extra columns of U (rows of Vh) are not unique: use the reduced factors
            u, gu = u[..., :k], gu[..., :k]
            vh, gvh = vh[..., :k, :], gvh[..., :k, :]
        v, gv = _H(vh), _H(gvh)
        s2 = s * s
        f = _inv_offdiag(s2.unsqueeze(-2) - s2.unsqueeze(-1))  # 1 / (s_j^2 - s_i^2)
        utgu = matmul(_H(u), gu)
        vtgv = matmul(_H(v), gv)
        j = f * (utgu - _H(utgu))
        kk = f * (vtgv - _H(vtgv))
        inner = j * s.unsqueeze(-2) + _diag_embed(gs) + s.unsqueeze(-1) * kk
        ga = matmul(u, matmul(inner, vh))
        if m > k:  # (I - U U^H) gU S^{-1} V^H
            proj = gu - matmul(u, utgu)
            ga = ga + matmul(proj / s.unsqueeze(-2), vh)
        if n > k:  # U S^{-1} gV^H (I - V V^H)
            proj = _H(gv) - matmul(_H(vtgv), vh)
            ga = ga + matmul(u / s.unsqueeze(-2), proj)
        return ga


def linalg_svd(A: Tensor, full_matrices: bool = True, *, driver=None, out=None) -> tuple:
    """Singular value decomposition ``A = U diag(S) Vh`` as ``(U, S, Vh)``.

    Gradients need distinct non-zero singular values and, for U and Vh, a loss that does not
    depend on their sign (gauge).

    Example:
        >>> import tocha.core as torch
        >>> torch.linalg.svd(torch.tensor([[3.0, 0.0], [0.0, 4.0]])).S
        tensor([4., 3.])
    """
    _check_matrix("linalg.svd", A, square=False)
    _check_float("linalg.svd", A)
    u, s, vh = SVD.apply(A, full_matrices=full_matrices)
    return _RT_linalg_svd(u, s, vh)


def svdvals(A: Tensor, *, driver=None, out=None) -> Tensor:
    """Singular values of ``A`` in descending order."""
    _check_matrix("linalg.svdvals", A, square=False)
    _check_float("linalg.svdvals", A)
    from ..autograd.grad_mode import MODE

    if MODE.grad and A._rg:
        return _out(SVD.apply(A, full_matrices=False)[1], out)
    return _out(wrap(xp_of(A._data).linalg.svd(A._data, compute_uv=False)), out)


def svd(input: Tensor, some: bool = True, compute_uv: bool = True, *, out=None) -> tuple:
    """Deprecated ``torch.svd``: returns ``(U, S, V)`` with V (not Vh); ``some`` = reduced."""
    _check_matrix("svd", input, square=False)
    _check_float("svd", input)
    if not compute_uv:
        s = svdvals(input)
        d = input._data
        xp = xp_of(d)
        m, n = d.shape[-2:]
        return _RT_svd(
            wrap(xp.zeros(d.shape[:-2] + (m, m), d.dtype)),
            s,
            wrap(xp.zeros(d.shape[:-2] + (n, n), d.dtype)),
        )
    u, s, vh = SVD.apply(input, full_matrices=not some)
    return _RT_svd(u, s, _H(vh))


# --- pseudo-inverse, rank, least squares ----------------------------------------------------
def _tol_value(t, like):
    if t is None:
        return None
    if isinstance(t, Tensor):
        return t._data[..., None]
    return float(t)


def _cutoff(s, atol, rtol, dims_mn, dtype):
    """torch's threshold ``max(atol, rtol * s_max)`` with its defaults."""
    xp = xp_of(s)
    m, n = dims_mn
    if rtol is None:
        zero_atol = atol is None or (not hasattr(atol, "shape") and atol == 0)
        rtol = np.finfo(dtype).eps * max(m, n) if zero_atol else 0.0
    smax = (
        xp.abs(s).max(-1, keepdims=True) if s.shape[-1] else xp.zeros(s.shape[:-1] + (1,), s.dtype)
    )
    cut = rtol * smax
    if atol is not None:
        cut = xp.maximum(cut, atol)
    return cut


class PInv(Node):
    save_inputs = (0,)
    save_outputs = (0,)

    def forward(self, a, atol, rtol, hermitian):
        xp = xp_of(a)
        m, n = a.shape[-2:]
        if hermitian:
            w, v = xp.linalg.eigh(a)
            cut = _cutoff(w, atol, rtol, (m, n), a.dtype)
            keep = xp.abs(w) > cut
            winv = xp.where(keep, 1 / xp.where(keep, w, 1), 0).astype(a.dtype)
            return _matmul_arrays(v * winv[..., None, :], xp.swapaxes(v, -1, -2).conj())
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        cut = _cutoff(s, atol, rtol, (m, n), a.dtype)
        keep = s > cut
        sinv = xp.where(keep, 1 / xp.where(keep, s, 1), 0).astype(s.dtype)
        vt = xp.swapaxes(vh, -1, -2).conj()
        return _matmul_arrays(vt * sinv[..., None, :], xp.swapaxes(u, -1, -2).conj())

    def backward(self, g):
        (a,) = self.saved_inputs
        (p,) = self.saved_outputs
        # Golub & Pereyra: exact where the rank is locally constant
        ph, gh = _H(p), _H(g)
        m, n = a._data.shape[-2:]
        ga = -matmul(ph, matmul(g, ph))
        ident_m = _eye(m, m, a._data)
        ident_n = _eye(n, n, a._data)
        ga = ga + matmul(ident_m - matmul(a, p), matmul(gh, matmul(p, ph)))
        ga = ga + matmul(matmul(ph, p), matmul(gh, ident_n - matmul(p, a)))
        return ga


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, out=None) -> Tensor:
    """Moore-Penrose pseudo-inverse; singular values below ``max(atol, rtol * s_max)`` are
    treated as zero (``rtol`` defaults to ``eps * max(m, n)`` when ``atol`` is not given).

    Example:
        >>> import tocha.core as torch
        >>> torch.linalg.pinv(torch.tensor([[2.0, 0.0], [0.0, 0.0]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.0000]])
    """
    if A._data.ndim < 2 or A._data.dtype.kind not in "fc":
        raise RuntimeError(
            f"linalg.pinv({_tname(A)}{{{list(A._data.shape)}}}): expected a tensor with 2 or "
            "more dimensions of float, double, cfloat or cdouble types"
        )
    if hermitian:
        _check_matrix("linalg.pinv", A)
    at = _tol_value(atol, A)
    rt = _tol_value(rtol, A)
    return _out(PInv.apply(A, atol=at, rtol=rt, hermitian=hermitian), out)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """Pseudo-inverse with relative cutoff ``rcond`` (torch.pinverse)."""
    return pinv(input, rtol=rcond)


def matrix_rank(
    A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, tol=None, out=None
) -> Tensor:
    """Number of singular values above ``max(atol, rtol * s_max)`` (int64)."""
    if A._data.ndim < 2:
        raise RuntimeError(
            "torch.linalg.matrix_rank: The input tensor input must have at least 2 dimensions."
        )
    _check_float("linalg.matrix_rank", A)
    if tol is not None:
        atol, rtol = tol, 0.0
    d = A._data
    xp = xp_of(d)
    if hermitian:
        s = xp.abs(xp.linalg.eigvalsh(d))
    else:
        s = xp.linalg.svd(d, compute_uv=False)
    cut = _cutoff(s, _tol_value(atol, A), _tol_value(rtol, A), d.shape[-2:], d.dtype)
    return _out(wrap((s > cut).sum(-1).astype(np.int64)), out)


_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None) -> tuple:
    """Least-squares solution of ``A X = B`` as ``(solution, residuals, rank, singular_values)``.

    The solution is the minimum-norm one (what LAPACK's default 'gelsy' returns), computed from
    the pseudo-inverse so it is differentiable. ``rank`` is filled for 'gelsy', 'gelsd' and
    'gelss', ``singular_values`` for 'gelsd' and 'gelss', ``residuals`` (squared, per column)
    when ``m > n``, every matrix has full rank and the driver is not 'gelsy'.
    """
    op = "torch.linalg.lstsq"
    if driver is None:
        driver = "gelsy"
    if driver not in _DRIVERS:
        raise RuntimeError(f"{op}: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions.")
    _check_float("linalg.lstsq", A, B)
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(
            f"{op}: Expected input and other to have the same dtype, but got input's dtype "
            f"{_tname(A)} and other's dtype {_tname(B)}"
        )
    vec = B._data.ndim == A._data.ndim - 1
    Bm = B.unsqueeze(-1) if vec else B
    if Bm._data.ndim < 2:
        raise RuntimeError(f"{op}: other must have at least 1 dimension.")
    m, n = A._data.shape[-2:]
    if Bm._data.shape[-2] != m:
        raise RuntimeError(f"{op}: input.size(-2) should match other.size(-2)")
    d = A._data
    xp = xp_of(d)
    eps = float(np.finfo(d.dtype).eps)
    rc = eps * max(m, n) if rcond is None or rcond < 0 else float(rcond)
    X = matmul(pinv(A, rtol=rc), Bm)
    s = xp.linalg.svd(d, compute_uv=False)
    rank_arr = (s > rc * (s[..., :1] if s.shape[-1] else 0)).sum(-1).astype(np.int64)
    empty = wrap(xp.zeros((0,), dtype=d.dtype))
    rank = wrap(rank_arr) if driver != "gels" else wrap(xp.zeros((0,), dtype=np.int64))
    sv = svdvals(A) if driver in ("gelsd", "gelss") else empty
    residuals = empty
    full = bool((rank_arr == min(m, n)).all())
    if m > n and full and driver != "gelsy":
        r = matmul(A, X) - Bm
        residuals = (r * _conj(r)).sum(-2)
        if vec:
            residuals = residuals.squeeze(-1)
    if vec:
        X = X.squeeze(-1)
    return _RT_linalg_lstsq(X, residuals, rank, sv)


# --- matrix functions -----------------------------------------------------------------------
def _expm_arrays(a):
    xp = xp_of(a)
    if xp is np:
        import scipy.linalg

        return scipy.linalg.expm(a)
    import cupyx.scipy.linalg

    return cupyx.scipy.linalg.expm(a)


class MatrixExp(Node):
    save_inputs = (0,)

    def forward(self, a):
        if a.shape[-1] == 0:
            return a.copy()
        return _expm_arrays(a)

    def backward(self, g):
        (a,) = self.saved_inputs
        n = a._data.shape[-1]
        # the adjoint of the Frechet derivative: upper-right block of exp([[A^H, G], [0, A^H]])
        from .shape import cat

        ah = _H(a)
        zeros = wrap(xp_of(a._data).zeros(a._data.shape, dtype=a._data.dtype))
        big = cat([cat([ah, g], -1), cat([zeros, ah], -1)], -2)
        return matrix_exp(big)[..., :n, n:]


def matrix_exp(A: Tensor) -> Tensor:
    """Matrix exponential of a square matrix (or batch).

    Example:
        >>> import tocha.core as torch
        >>> torch.linalg.matrix_exp(torch.zeros(2, 2))
        tensor([[1., 0.],
                [0., 1.]])
    """
    _check_matrix("linalg.matrix_exp", A)
    _check_float("linalg.matrix_exp", A)
    return MatrixExp.apply(A)


# --- norms ----------------------------------------------------------------------------------
class VectorNorm2(Node):
    save_inputs = (0,)
    save_outputs = (0,)

    def forward(self, x, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim
        xp = xp_of(x)
        sq = (x * x.conj()).real if x.dtype.kind == "c" else x * x
        return xp.sqrt(xp.sum(sq, axis=dims, keepdims=keepdim))

    def backward(self, g):
        (x,) = self.saved_inputs
        (nrm,) = self.saved_outputs
        if not self.keepdim:
            shape = list(x._data.shape)
            for d in self.dims:
                shape[d] = 1
            g, nrm = g.reshape(tuple(shape)), nrm.reshape(tuple(shape))
        nz = wrap((nrm._data != 0).astype(nrm._data.dtype))
        return x * (g * nz / (nrm + (1 - nz)))


def _norm_dims(dim, nd: int, op: str) -> tuple:
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(nd))
    if isinstance(dim, (int, np.integer)):
        dim = (dim,)
    dims = tuple(norm_dim(d, nd, op) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
    return dims


def vector_norm(
    x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None, out=None
) -> Tensor:
    """Vector ``ord``-norm over ``dim`` (all elements when None).

    ``ord`` may be any real number or ``inf``/``-inf``; 0 counts non-zeros.

    Example:
        >>> import tocha.core as torch
        >>> torch.linalg.vector_norm(torch.tensor([3.0, 4.0]))
        tensor(5.)
    """
    op = "linalg.vector_norm"
    if isinstance(ord, str) or not isinstance(ord, (numbers.Number, np.generic)):
        raise TypeError(
            f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not "
            f"{type(ord).__name__}"
        )
    if x._data.dtype.kind not in "fcV":
        raise RuntimeError(
            f"{op}: Expected a floating point or complex tensor as input. Got {_tname(x)}"
        )
    if dtype is not None:
        x = x.to(_dtype.to_dtype(dtype))
    nd = x._data.ndim
    dims = _norm_dims(dim, nd, op)
    empty = any(x._data.shape[d] == 0 for d in dims) or not dims
    if x._data.size == 0 and (ord < 0 or math.isinf(ord)) and empty:
        raise RuntimeError(
            f"{op} cannot compute the {ord} norm on an empty tensor because the operation "
            "does not have an identity"
        )
    if nd == 0:
        dims = ()
    if ord == 2:
        res = VectorNorm2.apply(x, dims=dims, keepdim=keepdim)
    else:
        a = x.abs()
        if not dims:
            res = a
        elif ord == math.inf:
            res = a.amax(dim=dims, keepdim=keepdim)
        elif ord == -math.inf:
            res = a.amin(dim=dims, keepdim=keepdim)
        elif ord == 0:
            res = (a != 0).sum(dim=dims, keepdim=keepdim).to(a.dtype)
        elif ord == 1:
            res = a.sum(dim=dims, keepdim=keepdim)
        else:
            res = (a**ord).sum(dim=dims, keepdim=keepdim) ** (1.0 / ord)
    return _out(res, out)


def _move_to_end(A: Tensor, d0: int, d1: int) -> Tensor:
    nd = A._data.ndim
    rest = [i for i in range(nd) if i not in (d0, d1)]
    perm = rest + [d0, d1]
    return A if perm == list(range(nd)) else A.permute(perm)


def matrix_norm(
    A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None, out=None
) -> Tensor:
    """Matrix norm: 'fro', 'nuc', inf, -inf, 1, -1, 2 or -2, over the two dims ``dim``.

    Example:
        >>> import tocha.core as torch
        >>> torch.linalg.matrix_norm(torch.eye(3), "fro")
        tensor(1.7321)
    """
    op = "linalg.matrix_norm"
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if isinstance(dim, (int, np.integer)) or len(dim) != 2:
        got = dim if isinstance(dim, (int, np.integer)) else " ".join(str(d) for d in dim)
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {got}")
    nd = A._data.ndim
    d0, d1 = norm_dim(dim[0], nd, op), norm_dim(dim[1], nd, op)
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({dim[0]}, {dim[1]})")
    if A._data.dtype.kind not in "fcV":
        raise RuntimeError(
            f"{op}: Expected a floating point or complex tensor as input. Got {_tname(A)}"
        )
    if dtype is not None:
        A = A.to(_dtype.to_dtype(dtype))
    if ord == "fro":
        return _out(vector_norm(A, 2, (d0, d1), keepdim), out)
    if ord in ("nuc", 2, -2):
        s = svdvals(_move_to_end(A, d0, d1))
        if ord == "nuc":
            res = s.sum(-1)
        elif ord == 2:
            res = s.amax(-1)
        else:
            res = s.amin(-1)
        if keepdim:
            for d in sorted((d0, d1)):
                res = res.unsqueeze(d)
        return _out(res, out)
    if ord in (1, -1, math.inf, -math.inf):
        a = A.abs()
        inner, outer_d = (d0, d1) if ord in (1, -1) else (d1, d0)
        col = a.sum(dim=inner, keepdim=True)
        res = (
            col.amax(dim=outer_d, keepdim=True) if ord > 0 else col.amin(dim=outer_d, keepdim=True)
        )
        if not keepdim:
            res = res.squeeze(dim=(d0, d1))
        return _out(res, out)
    raise RuntimeError(f"{op}: Order {ord} not supported.")


def linalg_norm(
    A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None, out=None
) -> Tensor:
    """``torch.linalg.norm``: a vector or matrix norm depending on ``ord`` and ``dim``."""
    op = "linalg.norm"
    if dim is not None:
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        if len(dims) == 1:
            if isinstance(ord, str):
                raise RuntimeError(f"{op}: Order {ord} not supported for vector norms.")
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype, out=out)
        if len(dims) == 2:
            return matrix_norm(
                A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype, out=out
            )
        raise RuntimeError(
            f"{op}: If dim is specified, it must be of length 1 or 2. Got {list(dims)}"
        )
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype, out=out)
    nd = A._data.ndim
    if nd == 1:
        if isinstance(ord, str):
            raise RuntimeError(f"{op}: Order {ord} not supported for vector norms.")
        return vector_norm(A, ord, None, keepdim, dtype=dtype, out=out)
    if nd == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)
    raise RuntimeError(
        f"{op}: If dim is not specified but ord is, the input must be 1D or 2D. Got {nd}D."
    )


def cond(A: Tensor, p=None, *, out=None) -> Tensor:
    """Condition number: ``s_max / s_min`` for ``p`` None/2 (``s_min / s_max`` for -2), else
    ``norm(A, p) * norm(inv(A), p)``."""
    if A._data.ndim < 2:
        raise RuntimeError("linalg.cond: The input tensor A must have at least 2 dimensions.")
    if p is None or p in (2, -2):
        s = svdvals(A)
        res = s.amax(-1) / s.amin(-1) if p != -2 else s.amin(-1) / s.amax(-1)
        return _out(res, out)
    if A._data.ndim < 2 or A._data.shape[-1] != A._data.shape[-2]:
        m, n = A._data.shape[-2:]
        raise RuntimeError(
            f"linalg.cond(ord={p}): A must be batches of square matrices, but they are {m} by "
            f"{n} matrices"
        )
    return _out(matrix_norm(A, p) * matrix_norm(inv(A), p), out)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """Dot product of vectors along ``dim`` (the first argument conjugated), broadcasting."""
    return _out((_conj(x) * y).sum(dim), out)


def vander(x: Tensor, *, N=None) -> Tensor:
    """Vandermonde matrix with increasing powers: ``out[..., i, j] = x[..., i] ** j``."""
    n = (x._data.shape[-1] if x._data.ndim else 0) if N is None else int(N)
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    from .creation import arange

    floating = x._data.dtype.kind in "fcV"
    dt = x.dtype if floating else _dtype.int64
    xs = x.unsqueeze(-1) if floating else x.unsqueeze(-1).to(dt)
    return xs ** arange(n, device=x.device).to(dt)


def tensorinv(A: Tensor, ind: int = 2, *, out=None) -> Tensor:
    """The tensor inverse w.r.t. ``tensordot(..., dims=ind)``: shape ``A.shape[ind:] +
    A.shape[:ind]``."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    shape = A._data.shape
    rows = math.prod(shape[:ind])
    cols = math.prod(shape[ind:])
    if rows != cols:
        raise RuntimeError(
            f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
            f"prod(self.shape[:ind]), but got {cols} != {rows}"
        )
    res = inv(A.reshape(rows, cols))
    return _out(res.reshape(shape[ind:] + shape[:ind]), out)


def tensorsolve(A: Tensor, B: Tensor, dims=None, *, out=None) -> Tensor:
    """Solve ``tensordot(A, X, dims=X.ndim) = B`` for ``X``."""
    if dims is not None:
        nd = A._data.ndim
        moved = [norm_dim(d, nd, "linalg.tensorsolve") for d in dims]
        rest = [i for i in range(nd) if i not in moved]
        A = A.permute(rest + moved)
    bshape = B._data.shape
    xshape = A._data.shape[B._data.ndim :]
    rows = math.prod(bshape)
    cols = math.prod(xshape)
    if rows != cols:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
            f"prod(self.shape[:other.ndim]), but got {cols} != {rows}"
        )
    X = solve(A.reshape(rows, cols), B.reshape(rows))
    return _out(X.reshape(xshape), out)


# --- export tables --------------------------------------------------------------------------
FUNCTIONS = [
    "matmul",
    "mm",
    "bmm",
    "mv",
    "dot",
    "vdot",
    "inner",
    "outer",
    "ger",
    "addmm",
    "addmv",
    "addr",
    "addbmm",
    "baddbmm",
    "einsum",
    "tensordot",
    "kron",
    "cross",
    "trace",
    "matrix_power",
    "chain_matmul",
    "cdist",
    "det",
    "logdet",
    "slogdet",
    "inverse",
    "cholesky",
    "cholesky_solve",
    "cholesky_inverse",
    "svd",
    "qr",
    "pinverse",
    "triangular_solve",
    "matrix_exp",
]

TENSOR_METHODS = {
    "matmul": matmul,
    "__matmul__": _matmul_op,
    "__rmatmul__": _rmatmul,
    "mm": mm,
    "bmm": bmm,
    "mv": mv,
    "dot": dot,
    "vdot": vdot,
    "inner": inner,
    "outer": outer,
    "ger": ger,
    "addmm": addmm,
    "addmv": addmv,
    "addr": addr,
    "addbmm": addbmm,
    "baddbmm": baddbmm,
    "kron": kron,
    "cross": cross,
    "trace": trace,
    "matrix_power": matrix_power,
    "det": det,
    "logdet": logdet,
    "slogdet": slogdet,
    "inverse": inverse,
    "cholesky": cholesky,
    "cholesky_solve": cholesky_solve,
    "cholesky_inverse": cholesky_inverse,
    "svd": svd,
    "qr": qr,
    "pinverse": pinverse,
    "triangular_solve": triangular_solve,
    "matrix_exp": matrix_exp,
}

INPLACE = {
    "addmm_": addmm,
    "addmv_": addmv,
    "addr_": addr,
    "addbmm_": addbmm,
    "baddbmm_": baddbmm,
}
