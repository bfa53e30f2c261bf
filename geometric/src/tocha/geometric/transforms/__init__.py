"""Graph transforms (torch_geometric.transforms)."""

from .base_transform import BaseTransform, Compose
from .features import NormalizeFeatures
from .misc import (
    Constant,
    LargestConnectedComponents,
    OneHotDegree,
    RemoveIsolatedNodes,
    ToDevice,
)
from .splits import RandomLinkSplit, RandomNodeSplit
from .structure import AddSelfLoops, GCNNorm, KNNGraph, ToUndirected

__all__ = [
    "AddSelfLoops",
    "BaseTransform",
    "Compose",
    "Constant",
    "GCNNorm",
    "KNNGraph",
    "LargestConnectedComponents",
    "NormalizeFeatures",
    "OneHotDegree",
    "RandomLinkSplit",
    "RandomNodeSplit",
    "RemoveIsolatedNodes",
    "ToDevice",
    "ToUndirected",
]
