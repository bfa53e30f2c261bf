"""``torch.ao.nn.quantized.dynamic.Linear``."""

from __future__ import annotations

import numpy as np

from tocha.core import nn as _nn

from ....._tensor import Tensor, wrap
from .._kernels import dynamic_linear, quantize_weight, weight_t_f32
from .._linear_common import check_in_features, init_linear_buffers, linear_from_float


class Linear(_nn.Module):
    """A Linear layer with int8 weights (per-output-channel symmetric scales) whose input is
    quantized to uint8 per batch; the product is accumulated exactly and returned in float32.

    Buffers (in ``state_dict``): ``weight`` (int8, (out, in)), ``weight_scale`` (float32,
    (out,)) and ``bias`` (float32, (out,)) when present. Inference only: no gradients flow.

    The GEMM runs in float32 on the integer values (NumPy has no int8 GEMM), so each call
    converts the int8 weight to float32. Setting ``cache_float_weight = True`` keeps that
    float32 copy between calls instead (4x the weight memory, ~3% faster on MiniLM-sized
    batches, more for a few rows); it is not part of the ``state_dict``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.ao.nn.quantized.dynamic import Linear
        >>> f = torch.nn.Linear(4, 2)
        >>> q = Linear.from_float(f)
        >>> x = torch.randn(3, 4)
        >>> bool((q(x) - f(x)).abs().max() < 0.05)
        True
    """

    _version = 1
    cache_float_weight = False

    def __init__(
        self, in_features: int, out_features: int, bias_: bool = True, dtype: str = "qint8"
    ):
        super().__init__()
        init_linear_buffers(self, in_features, out_features, bias_, np.int8)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False) -> Linear:
        """The quantized counterpart of a float ``nn.Linear``."""
        return linear_from_float(cls, mod, quantize_weight, "quantized.dynamic.Linear")

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(
                f"quantized.dynamic.Linear: input must be a Tensor, not {type(input).__name__}"
            )
        check_in_features("quantized.dynamic.Linear", input, self.in_features)
        b = self.bias._data if self.bias is not None else None
        w = self.weight._data
        w_t = None
        if self.cache_float_weight:
            # rebuilt when the weight is replaced or written in place (load_state_dict)
            version = self.weight._version
            cached = self.__dict__.get("_w_t_cache")
            if cached is None or cached[0] is not w or cached[1] != version:
                cached = (w, version, weight_t_f32(w))
                self.__dict__["_w_t_cache"] = cached
            w_t = cached[2]
        return wrap(dynamic_linear(input._data, w, self.weight_scale._data, b, w_t))

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            "dtype=torch.qint8, qscheme=torch.per_channel_symmetric"
        )
