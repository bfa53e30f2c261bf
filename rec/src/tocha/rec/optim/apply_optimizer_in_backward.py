"""Optimizers fused into the backward pass of embedding tables.

``apply_optimizer_in_backward(optimizer_class, params, optimizer_kwargs)`` marks parameters
(embedding weights) so that the embedding modules of tocha.rec update the touched rows during
backward instead of producing a gradient. The weight's ``.grad`` stays ``None`` (no dense
gradient is ever built) and the optimizer keeps only row state. The attribute names follow
torch.distributed.optim's ``_in_backward_optimizers``.

Example:
    >>> import tocha.core as torch
    >>> from tocha.rec.optim import apply_optimizer_in_backward
    >>> w = torch.nn.Parameter(torch.zeros(10, 4))
    >>> apply_optimizer_in_backward(torch.optim.SGD, [w], {"lr": 0.1})
    >>> w._in_backward_optimizers
    [SparseSGD(lr=0.1, weight_decay=0.0)]
"""

from __future__ import annotations

from collections.abc import Iterable

import tocha.core as torch

from ._rowwise import RowOptimizer, SparseAdagrad, SparseAdam, SparseRowWiseAdagrad, SparseSGD

__all__ = ["RowWiseAdagrad", "apply_optimizer_in_backward", "make_row_optimizer"]


class RowWiseAdagrad:
    """Marker class naming row-wise Adagrad for ``apply_optimizer_in_backward`` (torchrec's
    ``torchrec.optim.RowWiseAdagrad``); arguments ``lr``, ``lr_decay``, ``weight_decay``,
    ``initial_accumulator_value``, ``eps``."""

    def __init__(
        self,
        params=None,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ):
        raise TypeError(
            "RowWiseAdagrad: only usable through apply_optimizer_in_backward or "
            "FusedEmbeddingBagCollection (it updates embedding rows during backward)"
        )


def make_row_optimizer(optimizer_class, optimizer_kwargs: dict | None = None) -> RowOptimizer:
    """The row-sparse optimizer that implements ``optimizer_class`` for an embedding table.

    Example:
        >>> import tocha.core as torch
        >>> make_row_optimizer(torch.optim.Adagrad, {"lr": 0.05})
        SparseAdagrad(lr=0.05, eps=1e-10, initial_accumulator_value=0.0)
    """
    kw = dict(optimizer_kwargs or {})
    table = {
        torch.optim.SGD: SparseSGD,
        torch.optim.Adagrad: SparseAdagrad,
        torch.optim.Adam: SparseAdam,
        RowWiseAdagrad: SparseRowWiseAdagrad,
    }
    sparse_adam = getattr(torch.optim, "SparseAdam", None)
    if sparse_adam is not None:
        table[sparse_adam] = SparseAdam
    if isinstance(optimizer_class, type) and issubclass(optimizer_class, RowOptimizer):
        return optimizer_class(**kw)
    if optimizer_class not in table:
        names = ", ".join(c.__name__ for c in table)
        raise ValueError(
            f"apply_optimizer_in_backward: no row-sparse version of {optimizer_class!r}; "
            f"supported: {names}"
        )
    allowed = {
        SparseSGD: ("lr", "weight_decay"),
        SparseAdagrad: ("lr", "eps", "initial_accumulator_value"),
        SparseAdam: ("lr", "betas", "eps"),
        SparseRowWiseAdagrad: (
            "lr",
            "eps",
            "weight_decay",
            "lr_decay",
            "initial_accumulator_value",
        ),
    }
    cls = table[optimizer_class]
    bad = [k for k in kw if k not in allowed[cls]]
    if bad:
        raise ValueError(
            f"apply_optimizer_in_backward: {optimizer_class.__name__} in backward does not "
            f"support {bad}; supported: {list(allowed[cls])}"
        )
    return cls(**kw)


def apply_optimizer_in_backward(
    optimizer_class, params: Iterable, optimizer_kwargs: dict | None = None
) -> None:
    """Fuses ``optimizer_class`` into the backward pass of each embedding weight in ``params``."""
    for p in params:
        p._in_backward_optimizers = [make_row_optimizer(optimizer_class, optimizer_kwargs)]
        p._optimizer_classes = [optimizer_class]
        p._optimizer_kwargs = [dict(optimizer_kwargs or {})]
