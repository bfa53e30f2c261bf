"""Graph neural network layers, pooling, norms and models (torch_geometric.nn)."""

from . import aggr, conv, dense, inits
from .aggr import *  # noqa: F403
from .conv import *  # noqa: F403
from .dense import Linear

__all__ = ["aggr", "conv", "dense", "inits", "Linear"]
__all__ += aggr.__all__ + conv.__all__
