"""``torch.ao.nn.quantized.dynamic``: int8 weights, activations quantized per batch."""

from .linear import Linear
from .rnn import LSTM

__all__ = ["Linear", "LSTM"]
