"""tocha.rec.modules: embedding tables, MLPs, cross networks (torchrec.modules)."""

from . import embedding_configs, embedding_modules
from .crossnet import CrossNet, LowRankCrossNet, VectorCrossNet
from .embedding_configs import DataType, EmbeddingBagConfig, EmbeddingConfig, PoolingType
from .embedding_modules import EmbeddingBagCollection, EmbeddingCollection
from .feature_processor_ import (
    FeatureProcessedEmbeddingBagCollection,
    PositionWeightedModule,
    PositionWeightedModuleCollection,
)
from .fused_embedding_modules import FusedEmbeddingBagCollection
from .mlp import MLP, Perceptron

__all__ = [
    "MLP",
    "CrossNet",
    "FeatureProcessedEmbeddingBagCollection",
    "FusedEmbeddingBagCollection",
    "LowRankCrossNet",
    "Perceptron",
    "PositionWeightedModule",
    "PositionWeightedModuleCollection",
    "VectorCrossNet",
    "DataType",
    "EmbeddingBagCollection",
    "EmbeddingBagConfig",
    "EmbeddingCollection",
    "EmbeddingConfig",
    "PoolingType",
    "embedding_configs",
    "embedding_modules",
]
