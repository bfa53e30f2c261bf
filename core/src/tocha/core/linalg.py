"""``tocha.core.linalg``: the ``torch.linalg`` namespace.

Decompositions (Cholesky, QR, SVD, eigh), solves, inverses, determinants, norms and products,
all batched over leading dimensions and differentiable (see each function for the conditions,
e.g. distinct eigenvalues for ``eigh``).

Example:
    >>> import tocha.core as torch
    >>> A = torch.tensor([[4.0, 1.0], [1.0, 3.0]])
    >>> torch.linalg.solve(A, torch.tensor([1.0, 2.0]))
    tensor([0.0909, 0.6364])
"""

from __future__ import annotations

from ._ops.linalg import (
    LinAlgError,
    cholesky_ex,
    cond,
    det,
    eig,
    eigh,
    eigvals,
    eigvalsh,
    inv,
    inv_ex,
    lstsq,
    matmul,
    matrix_exp,
    matrix_norm,
    matrix_power,
    matrix_rank,
    multi_dot,
    pinv,
    solve,
    solve_ex,
    solve_triangular,
    svdvals,
    tensorinv,
    tensorsolve,
    vander,
    vecdot,
    vector_norm,
)
from ._ops.linalg import linalg_cholesky as cholesky
from ._ops.linalg import linalg_cross as cross
from ._ops.linalg import linalg_diagonal as diagonal
from ._ops.linalg import linalg_norm as norm
from ._ops.linalg import linalg_qr as qr
from ._ops.linalg import linalg_slogdet as slogdet
from ._ops.linalg import linalg_svd as svd

__all__ = [
    "LinAlgError",
    "cholesky",
    "cholesky_ex",
    "cond",
    "cross",
    "det",
    "diagonal",
    "eig",
    "eigh",
    "eigvals",
    "eigvalsh",
    "inv",
    "inv_ex",
    "lstsq",
    "matmul",
    "matrix_exp",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "solve_ex",
    "solve_triangular",
    "svd",
    "svdvals",
    "tensorinv",
    "tensorsolve",
    "vander",
    "vecdot",
    "vector_norm",
]
