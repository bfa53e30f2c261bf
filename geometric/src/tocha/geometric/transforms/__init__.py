"""Graph transforms (torch_geometric.transforms)."""

from .base_transform import BaseTransform, Compose
from .features import NormalizeFeatures
from .splits import RandomLinkSplit, RandomNodeSplit
from .structure import AddSelfLoops, GCNNorm, KNNGraph, ToUndirected

__all__ = [
    "AddSelfLoops",
    "BaseTransform",
    "Compose",
    "GCNNorm",
    "KNNGraph",
    "NormalizeFeatures",
    "RandomLinkSplit",
    "RandomNodeSplit",
    "ToUndirected",
]
