"""EmbeddingBagCollection with its optimizer fused into backward
(torchrec.modules.fused_embedding_modules).

Example:
    >>> import tocha.core as torch
    >>> from tocha.rec.modules.embedding_configs import EmbeddingBagConfig
    >>> from tocha.rec.sparse.jagged_tensor import KeyedJaggedTensor
    >>> cfg = EmbeddingBagConfig(name="t", embedding_dim=2, num_embeddings=5, feature_names=["f"],
    ...                          init_fn=torch.nn.init.ones_)
    >>> ebc = FusedEmbeddingBagCollection([cfg], optimizer_type=torch.optim.SGD,
    ...                                   optimizer_kwargs={"lr": 0.5})
    >>> kjt = KeyedJaggedTensor.from_lengths_sync(["f"], torch.tensor([3]), torch.tensor([1]))
    >>> ebc(kjt).values().sum().backward()
    >>> w = ebc.embedding_bags["t"].weight
    >>> w.grad is None, w[3].tolist(), w[0].tolist()
    (True, [0.5, 0.5], [1.0, 1.0])
"""

from __future__ import annotations

from ..optim.apply_optimizer_in_backward import apply_optimizer_in_backward
from .embedding_configs import EmbeddingBagConfig
from .embedding_modules import EmbeddingBagCollection

__all__ = ["FusedEmbeddingBagCollection"]


class FusedEmbeddingBagCollection(EmbeddingBagCollection):
    """An EmbeddingBagCollection whose tables are updated row-sparsely during backward.

    Args:
        tables: table configs (SUM or MEAN pooling).
        optimizer_type: ``tocha.core.optim.SGD``, ``Adagrad``, ``Adam`` or
            ``tocha.rec.optim.RowWiseAdagrad``.
        optimizer_kwargs: that optimizer's hyper-parameters (e.g. ``{"lr": 0.01}``).
        device: where the tables live.
        is_weighted: use the KJT's weights as per-sample weights.
    """

    def __init__(
        self,
        tables: list[EmbeddingBagConfig],
        optimizer_type,
        optimizer_kwargs: dict,
        device=None,
        location=None,
        is_weighted: bool = False,
    ) -> None:
        super().__init__(tables, is_weighted=is_weighted, device=device)
        self._optimizer_type = optimizer_type
        self._optimizer_kwargs = dict(optimizer_kwargs)
        apply_optimizer_in_backward(
            optimizer_type, [b.weight for b in self.embedding_bags.values()], optimizer_kwargs
        )

    def fused_optimizers(self) -> dict:
        """The row optimizer of each table, by table name (their ``state_dict`` holds state)."""
        return {k: b.weight._in_backward_optimizers[0] for k, b in self.embedding_bags.items()}
