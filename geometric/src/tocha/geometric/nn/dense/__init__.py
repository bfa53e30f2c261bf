"""Dense layers (torch_geometric.nn.dense)."""

from .linear import Linear

__all__ = ["Linear"]
