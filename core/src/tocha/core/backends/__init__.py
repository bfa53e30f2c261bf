"""``torch.backends``: which libraries tocha computes with, and the flags user code sets.

Example:
    >>> import tocha.core as torch
    >>> torch.backends.mps.is_available()
    False
    >>> torch.backends.cudnn.benchmark = True  # accepted: tocha has no cuDNN autotuner
"""

from . import cudnn, mkl, mps

__all__ = ["cudnn", "mkl", "mps"]
