"""Graph neural network layers, pooling, norms and models (torch_geometric.nn)."""

from . import aggr, conv, dense, inits, models, norm, pool
from .aggr import *  # noqa: F403
from .conv import *  # noqa: F403
from .dense import Linear
from .models import *  # noqa: F403
from .norm import *  # noqa: F403
from .pool import *  # noqa: F403
from .sequential import Sequential

__all__ = ["aggr", "conv", "dense", "inits", "models", "norm", "pool", "Linear", "Sequential"]
__all__ += aggr.__all__ + conv.__all__ + norm.__all__ + pool.__all__ + models.__all__
