"""tocha.rec.sparse: jagged and keyed tensors (torchrec.sparse)."""

from .jagged_tensor import JaggedTensor, KeyedJaggedTensor, KeyedTensor

__all__ = ["JaggedTensor", "KeyedJaggedTensor", "KeyedTensor"]
