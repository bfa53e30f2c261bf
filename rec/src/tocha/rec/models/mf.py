"""Matrix factorisation baselines: ``r(u, i) = mu + b_u + b_i + p_u . q_i`` (biased) or
``p_u . q_i``.

The user and item tables go through tocha.rec's row-sparse lookup, so
``apply_optimizer_in_backward`` can fuse a row optimizer into them.

Example:
    >>> import tocha.core as torch
    >>> mf = MatrixFactorization(num_users=3, num_items=4, embedding_dim=2, global_mean=3.5)
    >>> mf(torch.tensor([0, 2]), torch.tensor([1, 3])).shape
    torch.Size([2])
"""

from __future__ import annotations

import numpy as np

import tocha.core as torch
from tocha.core import Tensor, nn

from ..modules._lookup import lookup

__all__ = ["MatrixFactorization"]


class MatrixFactorization(nn.Module):
    """(Biased) matrix factorisation for rating prediction.

    Args:
        num_users: number of user rows.
        num_items: number of item rows.
        embedding_dim: factor dimension.
        biased: add the global mean and per-user / per-item biases.
        global_mean: the constant ``mu`` (set it to the training mean rating).
        init_std: standard deviation of the factor initialisation.
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 32,
        biased: bool = True,
        global_mean: float = 0.0,
        init_std: float = 0.1,
    ) -> None:
        super().__init__()
        self.biased = biased
        self.global_mean = float(global_mean)
        self.user_embedding = nn.Embedding(num_users, embedding_dim)
        self.item_embedding = nn.Embedding(num_items, embedding_dim)
        with torch.no_grad():
            self.user_embedding.weight.normal_(0.0, init_std)
            self.item_embedding.weight.normal_(0.0, init_std)
        if biased:
            self.user_bias = nn.Embedding(num_users, 1)
            self.item_bias = nn.Embedding(num_items, 1)
            with torch.no_grad():
                self.user_bias.weight.zero_()
                self.item_bias.weight.zero_()

    def forward(self, user_ids: Tensor, item_ids: Tensor) -> Tensor:
        u = np.asarray(user_ids.numpy(), dtype=np.int64)
        i = np.asarray(item_ids.numpy(), dtype=np.int64)
        p = lookup(self.user_embedding.weight, u, None, "none", None, "MatrixFactorization", "user")
        q = lookup(self.item_embedding.weight, i, None, "none", None, "MatrixFactorization", "item")
        out = (p * q).sum(dim=1)
        if self.biased:
            bu = lookup(self.user_bias.weight, u, None, "none", None, "MatrixFactorization", "ub")
            bi = lookup(self.item_bias.weight, i, None, "none", None, "MatrixFactorization", "ib")
            out = out + bu.squeeze(1) + bi.squeeze(1) + self.global_mean
        return out
