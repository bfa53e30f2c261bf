"""GAE, VGAE and the inner-product decoder (torch_geometric.nn.models.autoencoder)."""

from __future__ import annotations

import numpy as np

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Module

from ..inits import reset

__all__ = ["InnerProductDecoder", "GAE", "VGAE"]

EPS = 1e-15
MAX_LOGSTD = 10


class InnerProductDecoder(Module):
    """Edge probability ``sigmoid(z_i . z_j)``."""

    def forward(self, z: Tensor, edge_index: Tensor, sigmoid: bool = True) -> Tensor:
        value = (z.index_select(0, edge_index[0]) * z.index_select(0, edge_index[1])).sum(dim=1)
        return value.sigmoid() if sigmoid else value

    def forward_all(self, z: Tensor, sigmoid: bool = True) -> Tensor:
        adj = z @ z.t()
        return adj.sigmoid() if sigmoid else adj


def _negative_sampling(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Uniform node pairs that are not edges (as many as there are edges)."""
    ei = edge_index.detach().cpu().numpy()
    existing = set((ei[0] * num_nodes + ei[1]).tolist())
    need = ei.shape[1]
    gen = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,)).item()))
    out: list[int] = []
    while len(out) < need and len(existing) < num_nodes * num_nodes:
        cand = gen.integers(0, num_nodes * num_nodes, 2 * need + 16)
        for c in np.unique(cand):
            if c not in existing:
                out.append(int(c))
                if len(out) == need:
                    break
    arr = np.array(out, dtype=np.int64)
    return torch.from_numpy(np.stack([arr // num_nodes, arr % num_nodes])).to(edge_index.device)


def _auc_ap(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    order = np.argsort(-s, kind="stable")
    y = y[order]
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y)
    tpr, fpr = tp / max(tp[-1], 1), fp / max(fp[-1], 1)
    auc = float(np.trapezoid(np.r_[0, tpr], np.r_[0, fpr]))
    precision = tp / np.arange(1, len(y) + 1)
    ap = float((precision * y).sum() / max(y.sum(), 1))
    return auc, ap


class GAE(Module):
    """Graph auto-encoder: ``encoder`` gives node embeddings, ``decoder`` edge probabilities.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import GAE, GCNConv
        >>> model = GAE(GCNConv(3, 4))
        >>> ei = torch.tensor([[0, 1, 2], [1, 2, 3]])
        >>> z = model.encode(torch.ones(4, 3), ei)
        >>> model.recon_loss(z, ei).dim()
        0
    """

    def __init__(self, encoder: Module, decoder: Module | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = InnerProductDecoder() if decoder is None else decoder
        GAE.reset_parameters(self)

    def reset_parameters(self) -> None:
        reset(self.encoder)
        reset(self.decoder)

    def forward(self, *args, **kwargs) -> Tensor:
        return self.encoder(*args, **kwargs)

    def encode(self, *args, **kwargs) -> Tensor:
        return self.encoder(*args, **kwargs)

    def decode(self, *args, **kwargs) -> Tensor:
        return self.decoder(*args, **kwargs)

    def recon_loss(self, z: Tensor, pos_edge_index: Tensor, neg_edge_index=None) -> Tensor:
        """Binary cross-entropy of the positive edges and (sampled) negative edges."""
        pos_loss = -torch.log(self.decoder(z, pos_edge_index, sigmoid=True) + EPS).mean()
        if neg_edge_index is None:
            neg_edge_index = _negative_sampling(pos_edge_index, z.size(0))
        neg_loss = -torch.log(1 - self.decoder(z, neg_edge_index, sigmoid=True) + EPS).mean()
        return pos_loss + neg_loss

    def test(self, z: Tensor, pos_edge_index: Tensor, neg_edge_index: Tensor):
        """``(roc_auc, average_precision)`` of the decoder on positive vs negative edges."""
        with torch.no_grad():
            pos = self.decoder(z, pos_edge_index, sigmoid=True).cpu().numpy()
            neg = self.decoder(z, neg_edge_index, sigmoid=True).cpu().numpy()
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        return _auc_ap(y, np.r_[pos, neg])


class VGAE(GAE):
    """Variational GAE: the encoder returns ``(mu, logstd)``; ``encode`` samples ``z``."""

    def reparametrize(self, mu: Tensor, logstd: Tensor) -> Tensor:
        if self.training:
            return mu + torch.randn_like(logstd) * torch.exp(logstd)
        return mu

    def encode(self, *args, **kwargs) -> Tensor:
        self.__mu__, self.__logstd__ = self.encoder(*args, **kwargs)
        self.__logstd__ = self.__logstd__.clamp(max=MAX_LOGSTD)
        return self.reparametrize(self.__mu__, self.__logstd__)

    def kl_loss(self, mu: Tensor | None = None, logstd: Tensor | None = None) -> Tensor:
        mu = self.__mu__ if mu is None else mu
        logstd = self.__logstd__ if logstd is None else logstd.clamp(max=MAX_LOGSTD)
        return -0.5 * torch.mean(torch.sum(1 + 2 * logstd - mu**2 - logstd.exp() ** 2, dim=1))
