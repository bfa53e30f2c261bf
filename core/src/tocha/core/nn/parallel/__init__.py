"""tocha.core.nn.parallel: data parallelism across processes (torch.nn.parallel).

Example:
    >>> from tocha.core.nn.parallel import DistributedDataParallel
    >>> DistributedDataParallel.__name__
    'DistributedDataParallel'
"""

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
