"""Weight-only int8 Linear: int8 storage, float activations and arithmetic."""

from __future__ import annotations

import numpy as np

from tocha.core import nn as _nn

from ...._tensor import Tensor, wrap
from ._kernels import quantize_weight
from ._linear_common import check_in_features, init_linear_buffers, linear_from_float


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
        init_linear_buffers(self, in_features, out_features, bias_, np.int8)

    @classmethod
    def from_float(cls, mod) -> WeightOnlyLinear:
        """The weight-only int8 counterpart of a float ``nn.Linear``."""
        return linear_from_float(cls, mod, quantize_weight, "WeightOnlyLinear")

    def forward(self, input: Tensor) -> Tensor:
        x = input._data
        check_in_features("WeightOnlyLinear", x, self.in_features)
        dt = x.dtype if x.dtype.kind == "f" and x.dtype.itemsize >= 4 else np.dtype(np.float32)
        y = x.astype(dt, copy=False) @ self.weight._data.astype(dt).T
        y *= self.weight_scale._data.astype(dt)
        if self.bias is not None:
            y += self.bias._data.astype(dt)
        return wrap(y)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, dtype=int8"
