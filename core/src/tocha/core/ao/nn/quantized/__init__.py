"""``torch.ao.nn.quantized``: modules holding int8 weights."""

from . import dynamic
from ._weight_only import WeightOnlyLinear

__all__ = ["dynamic", "WeightOnlyLinear"]
