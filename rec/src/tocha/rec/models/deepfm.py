"""DeepFM model (torchrec.models.deepfm): deep MLP + factorisation machine + dense arch.

Example:
    >>> import tocha.core as torch
    >>> from tocha.rec.modules import EmbeddingBagCollection, EmbeddingBagConfig
    >>> from tocha.rec.sparse.jagged_tensor import KeyedJaggedTensor
    >>> ebc = EmbeddingBagCollection([EmbeddingBagConfig(
    ...     name="t", embedding_dim=4, num_embeddings=10, feature_names=["f1", "f2"])])
    >>> m = SimpleDeepFMNN(num_dense_features=3, embedding_bag_collection=ebc,
    ...                    hidden_layer_size=8, deep_fm_dimension=5)
    >>> kjt = KeyedJaggedTensor.from_lengths_sync(["f1", "f2"], torch.tensor([1, 2, 3]),
    ...                                           torch.tensor([1, 1, 0, 1]))
    >>> m(torch.randn(2, 3), kjt).shape
    torch.Size([2, 1])
"""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor, nn

from ..modules.deepfm import DeepFM, FactorizationMachine
from ..modules.embedding_modules import EmbeddingBagCollection
from ..sparse.jagged_tensor import KeyedJaggedTensor

__all__ = ["DeepFM", "FactorizationMachine", "FMInteractionArch", "SimpleDeepFMNN"]


class SparseArch(nn.Module):
    """Pools the sparse features into a KeyedTensor."""

    def __init__(self, embedding_bag_collection: EmbeddingBagCollection) -> None:
        super().__init__()
        self.embedding_bag_collection = embedding_bag_collection

    def forward(self, features: KeyedJaggedTensor):
        return self.embedding_bag_collection(features)


class DenseArch(nn.Module):
    """Two linear layers with ReLU over the dense features."""

    def __init__(self, in_features: int, hidden_layer_size: int, embedding_dim: int) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(in_features, hidden_layer_size),
            nn.ReLU(),
            nn.Linear(hidden_layer_size, embedding_dim),
            nn.ReLU(),
        )

    def forward(self, features: Tensor) -> Tensor:
        return self.model(features)


class FMInteractionArch(nn.Module):
    """Concatenates dense features, the DeepFM output and the FM term."""

    def __init__(
        self, fm_in_features: int, sparse_feature_names: list[str], deep_fm_dimension: int
    ) -> None:
        super().__init__()
        self.sparse_feature_names = list(sparse_feature_names)
        self.deep_fm = DeepFM(
            nn.Sequential(nn.Linear(fm_in_features, deep_fm_dimension), nn.ReLU())
        )
        self.fm = FactorizationMachine()

    def forward(self, dense_features: Tensor, sparse_features) -> Tensor:
        if not self.sparse_feature_names:
            return dense_features
        embs = [dense_features, *(sparse_features[f] for f in self.sparse_feature_names)]
        return torch.cat([dense_features, self.deep_fm(embs), self.fm(embs)], dim=1)


class OverArch(nn.Module):
    """Linear layer to one logit, then sigmoid."""

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Linear(in_features, 1), nn.Sigmoid())

    def forward(self, features: Tensor) -> Tensor:
        return self.model(features)


class SimpleDeepFMNN(nn.Module):
    """DeepFM for CTR: returns probabilities (B, 1) like torchrec's SimpleDeepFMNN."""

    def __init__(
        self,
        num_dense_features: int,
        embedding_bag_collection: EmbeddingBagCollection,
        hidden_layer_size: int,
        deep_fm_dimension: int,
    ) -> None:
        super().__init__()
        cfgs = embedding_bag_collection.embedding_bag_configs()
        dims = {c.embedding_dim for c in cfgs}
        if len(dims) != 1:
            raise ValueError(f"SimpleDeepFMNN: tables must share embedding_dim, got {sorted(dims)}")
        d = dims.pop()
        names = [f for c in cfgs for f in c.feature_names]
        fm_in = d * (len(names) + 1)
        self.sparse_arch = SparseArch(embedding_bag_collection)
        self.dense_arch = DenseArch(num_dense_features, hidden_layer_size, d)
        self.inter_arch = FMInteractionArch(fm_in, names, deep_fm_dimension)
        self.over_arch = OverArch(d + deep_fm_dimension + 1)

    def forward(self, dense_features: Tensor, sparse_features: KeyedJaggedTensor) -> Tensor:
        embedded_dense = self.dense_arch(dense_features)
        embedded_sparse = self.sparse_arch(sparse_features)
        return self.over_arch(self.inter_arch(embedded_dense, embedded_sparse))
