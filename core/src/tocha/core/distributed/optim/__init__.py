"""tocha.core.distributed.optim: distributed optimizers (torch.distributed.optim).

``ZeroRedundancyOptimizer`` shards the optimizer state across the ranks.
"""

from .zero_redundancy_optimizer import ZeroRedundancyOptimizer

__all__ = ["ZeroRedundancyOptimizer"]
