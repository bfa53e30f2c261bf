"""Normalisation layers (torch_geometric.nn.norm)."""

from .batch_norm import BatchNorm
from .graph_norm import GraphNorm
from .layer_norm import LayerNorm

__all__ = ["BatchNorm", "LayerNorm", "GraphNorm"]
