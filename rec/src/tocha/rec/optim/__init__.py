"""tocha.rec.optim: optimizers fused into embedding backward (torchrec.optim).

Example:
    >>> from tocha.rec.optim import RowWiseAdagrad, apply_optimizer_in_backward
    >>> RowWiseAdagrad.__name__
    'RowWiseAdagrad'
"""

from ._rowwise import RowOptimizer, SparseAdagrad, SparseAdam, SparseRowWiseAdagrad, SparseSGD
from .apply_optimizer_in_backward import (
    RowWiseAdagrad,
    apply_optimizer_in_backward,
    make_row_optimizer,
)

__all__ = [
    "RowOptimizer",
    "RowWiseAdagrad",
    "SparseAdagrad",
    "SparseAdam",
    "SparseRowWiseAdagrad",
    "SparseSGD",
    "apply_optimizer_in_backward",
    "make_row_optimizer",
]
