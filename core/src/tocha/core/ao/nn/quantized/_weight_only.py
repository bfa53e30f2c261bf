"""Weight-only int8 Linear: int8 storage, float activations and arithmetic."""

from __future__ import annotations

import numpy as np

from tocha.core import nn as _nn

from ...._tensor import Tensor, wrap
from ._kernels import quantize_weight


class WeightOnlyLinear(_nn.Module):
    """A Linear layer storing int8 weights with per-output-channel scales; the input stays
    float and the output is ``(x @ q.T) * scale + bias`` (the scale applied after the GEMM).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.ao.nn.quantized import WeightOnlyLinear
        >>> f = torch.nn.Linear(4, 2)
        >>> q = WeightOnlyLinear.from_float(f)
        >>> x = torch.randn(3, 4)
        >>> bool((q(x) - f(x)).abs().max() < 0.02)
        True
    """

    def __init__(self, in_features: int, out_features: int, bias_: bool = True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.register_buffer("weight", wrap(np.zeros((out_features, in_features), np.int8)))
        self.register_buffer("weight_scale", wrap(np.ones(out_features, np.float32)))
        self.register_buffer("bias", wrap(np.zeros(out_features, np.float32)) if bias_ else None)

    @classmethod
    def from_float(cls, mod) -> WeightOnlyLinear:
        """The weight-only int8 counterpart of a float ``nn.Linear``."""
        if not isinstance(mod, _nn.Linear):
            raise TypeError(
                f"WeightOnlyLinear.from_float: expected nn.Linear, got {type(mod).__name__}"
            )
        q = cls(mod.in_features, mod.out_features, mod.bias is not None)
        qw, scale = quantize_weight(mod.weight.detach()._data)
        q.weight, q.weight_scale = wrap(qw), wrap(scale)
        if mod.bias is not None:
            q.bias = wrap(mod.bias.detach()._data.astype(np.float32))
        return q

    def forward(self, input: Tensor) -> Tensor:
        x = input._data
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise RuntimeError(
                f"WeightOnlyLinear: input has {x.shape[-1] if x.ndim else 0} features but the "
                f"layer expects {self.in_features}"
            )
        dt = x.dtype if x.dtype.kind == "f" and x.dtype.itemsize >= 4 else np.dtype(np.float32)
        y = x.astype(dt, copy=False) @ self.weight._data.astype(dt).T
        y *= self.weight_scale._data.astype(dt)
        if self.bias is not None:
            y += self.bias._data.astype(dt)
        return wrap(y)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, dtype=int8"
