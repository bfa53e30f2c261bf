"""``torch.ao``: quantization (``tocha.core.ao.quantization``) and its modules
(``tocha.core.ao.nn.quantized``)."""

from . import nn, quantization

__all__ = ["nn", "quantization"]
