"""DeepFM and FactorizationMachine modules (torchrec.modules.deepfm).

Example:
    >>> import tocha.core as torch
    >>> fm = FactorizationMachine()
    >>> e = [torch.ones(2, 3, 4)]  # batch 2, 3 features, dim 4
    >>> fm(e).tolist()  # 0.5 * sum_d ((sum_f v)^2 - sum_f v^2) = 0.5 * 4 * (9 - 3)
    [[12.0], [12.0]]
"""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor, nn

__all__ = ["DeepFM", "FactorizationMachine"]


def _check(who: str, embeddings: list[Tensor]) -> list[Tensor]:
    if not embeddings:
        raise ValueError(f"{who}: expected a non-empty list of embeddings")
    out = []
    for e in embeddings:
        if e.dim() == 2:
            e = e.unsqueeze(1)
        if e.dim() != 3:
            raise ValueError(f"{who}: embeddings must be (B, F, D) or (B, D), got {tuple(e.shape)}")
        out.append(e)
    return out


class DeepFM(nn.Module):
    """The deep component: flattens and concatenates the embeddings, then ``dense_module``."""

    def __init__(self, dense_module: nn.Module) -> None:
        super().__init__()
        self.dense_module = dense_module

    def forward(self, embeddings: list[Tensor]) -> Tensor:
        es = _check("DeepFM", embeddings)
        flat = torch.cat([e.reshape(e.shape[0], -1) for e in es], dim=1)
        return self.dense_module(flat)


class FactorizationMachine(nn.Module):
    """Second-order FM term ``0.5 * sum_d ((sum_f v_fd)^2 - sum_f v_fd^2)``, shape (B, 1).

    Embeddings of the list are joined along the feature dimension (all must share D).
    """

    def forward(self, embeddings: list[Tensor]) -> Tensor:
        es = _check("FactorizationMachine", embeddings)
        x = torch.cat(es, dim=1)
        s = x.sum(dim=1)
        sq = (x * x).sum(dim=1)
        return 0.5 * (s * s - sq).sum(dim=1, keepdim=True)
