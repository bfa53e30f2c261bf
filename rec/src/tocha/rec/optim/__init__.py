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
from .keyed import CombinedOptimizer, KeyedOptimizerWrapper, in_backward_optimizer_filter

__all__ = [
    "CombinedOptimizer",
    "KeyedOptimizerWrapper",
    "in_backward_optimizer_filter",
    "RowOptimizer",
    "RowWiseAdagrad",
    "SparseAdagrad",
    "SparseAdam",
    "SparseRowWiseAdagrad",
    "SparseSGD",
    "apply_optimizer_in_backward",
    "make_row_optimizer",
]
