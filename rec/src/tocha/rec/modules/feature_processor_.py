"""Feature processors that turn ids into weighted ids (torchrec.modules.feature_processor_).

``PositionWeightedModule`` gives each id the learnable weight of its position within its bag;
``FeatureProcessedEmbeddingBagCollection`` runs processors before a weighted
EmbeddingBagCollection.

Example:
    >>> import tocha.core as torch
    >>> from tocha.rec.sparse.jagged_tensor import JaggedTensor
    >>> pw = PositionWeightedModule(max_feature_length=4)
    >>> jt = pw(JaggedTensor(torch.tensor([5, 6, 7]), lengths=torch.tensor([2, 1])))
    >>> jt.weights().tolist()
    [1.0, 1.0, 1.0]
"""

from __future__ import annotations

import numpy as np

import tocha.core as torch
from tocha.core import Tensor, nn

from ..sparse.jagged_tensor import JaggedTensor, KeyedJaggedTensor, KeyedTensor
from .embedding_modules import EmbeddingBagCollection

__all__ = [
    "FeatureProcessedEmbeddingBagCollection",
    "PositionWeightedModule",
    "PositionWeightedModuleCollection",
    "positions_in_bags",
]


def positions_in_bags(lengths: np.ndarray) -> np.ndarray:
    """The position of every value within its bag: ``[0..l0-1, 0..l1-1, ...]``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    return np.arange(int(lengths.sum())) - np.repeat(starts, lengths)


def _position_weights(weight: Tensor, lengths: Tensor, who: str) -> Tensor:
    pos = positions_in_bags(lengths.detach().numpy())
    if pos.size and pos.max() >= weight.shape[0]:
        raise IndexError(
            f"{who}: a bag has {int(pos.max()) + 1} values but max_feature_length is "
            f"{weight.shape[0]}"
        )
    return weight[torch.from_numpy(pos)]


class PositionWeightedModule(nn.Module):
    """Learnable per-position weights (``position_weight``, initialised to ones)."""

    def __init__(self, max_feature_length: int, device=None) -> None:
        super().__init__()
        self.position_weight = nn.Parameter(torch.ones(max_feature_length, device=device))

    def forward(self, features: JaggedTensor) -> JaggedTensor:
        w = _position_weights(self.position_weight, features.lengths(), "PositionWeightedModule")
        return JaggedTensor(features.values(), w, features.lengths(), features.offsets_or_none())


class PositionWeightedModuleCollection(nn.Module):
    """One ``position_weights.<feature>`` vector per feature, applied to a whole KJT."""

    def __init__(self, max_feature_lengths: dict[str, int], device=None) -> None:
        super().__init__()
        self.max_feature_lengths = dict(max_feature_lengths)
        self.position_weights = nn.ParameterDict(
            {k: nn.Parameter(torch.ones(n, device=device)) for k, n in max_feature_lengths.items()}
        )

    def forward(self, features: KeyedJaggedTensor) -> KeyedJaggedTensor:
        b = features.stride()
        parts = []
        for i, key in enumerate(features.keys()):
            ln = features.lengths()[i * b : (i + 1) * b]
            if key in self.position_weights:
                parts.append(_position_weights(self.position_weights[key], ln, key))
            else:
                parts.append(torch.ones(int(ln.sum())))
        return KeyedJaggedTensor(
            features.keys(),
            features.values(),
            torch.cat(parts),
            lengths=features.lengths(),
            stride=b,
            length_per_key=features.length_per_key(),
        )


class FeatureProcessedEmbeddingBagCollection(nn.Module):
    """Applies feature processors, then a weighted EmbeddingBagCollection.

    Args:
        embedding_bag_collection: an EBC built with ``is_weighted=True``.
        feature_processors: a PositionWeightedModuleCollection or a dict of per-feature
            modules taking and returning a JaggedTensor.
    """

    def __init__(
        self,
        embedding_bag_collection: EmbeddingBagCollection,
        feature_processors,
    ) -> None:
        super().__init__()
        if not embedding_bag_collection.is_weighted():
            raise ValueError(
                "FeatureProcessedEmbeddingBagCollection: the EmbeddingBagCollection must be "
                "built with is_weighted=True"
            )
        self._embedding_bag_collection = embedding_bag_collection
        if isinstance(feature_processors, dict):
            feature_processors = nn.ModuleDict(feature_processors)
        self._feature_processors = feature_processors

    def forward(self, features: KeyedJaggedTensor) -> KeyedTensor:
        fp = self._feature_processors
        if isinstance(fp, nn.ModuleDict):
            d = features.to_dict()
            jts = {k: (fp[k](jt) if k in fp else _ones(jt)) for k, jt in d.items()}
            features = KeyedJaggedTensor.from_jt_dict(jts)
        else:
            features = fp(features)
        return self._embedding_bag_collection(features)


def _ones(jt: JaggedTensor) -> JaggedTensor:
    return JaggedTensor(jt.values(), torch.ones(jt.values().shape[0]), jt.lengths())
