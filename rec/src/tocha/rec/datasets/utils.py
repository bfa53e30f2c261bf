"""Batch: the training batch of DLRM-style models (torchrec.datasets.utils.Batch).

Example:
    >>> import tocha.core as torch
    >>> from tocha.rec.sparse.jagged_tensor import KeyedJaggedTensor
    >>> kjt = KeyedJaggedTensor.from_lengths_sync(["f"], torch.tensor([1]), torch.tensor([1]))
    >>> Batch(torch.zeros(1, 2), kjt, torch.ones(1)).labels.tolist()
    [1.0]
"""

from __future__ import annotations

from typing import NamedTuple

from tocha.core import Tensor

from ..sparse.jagged_tensor import KeyedJaggedTensor

__all__ = ["Batch"]


class Batch(NamedTuple):
    """Dense features (B x n_dense), sparse features (a KJT) and labels (B,)."""

    dense_features: Tensor
    sparse_features: KeyedJaggedTensor
    labels: Tensor

    def to(self, device, non_blocking: bool = False) -> Batch:
        return Batch(
            self.dense_features.to(device), self.sparse_features.to(device), self.labels.to(device)
        )
