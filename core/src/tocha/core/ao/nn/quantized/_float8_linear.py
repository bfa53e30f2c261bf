"""Weight-only float8 (e4m3fn) Linear: 1-byte weights, float activations and arithmetic."""

from __future__ import annotations

import numpy as np

from tocha.core import nn as _nn

from ...._tensor import Tensor, wrap
from ._float8 import dequantize_fp8, quantize_weight_fp8
from ._linear_common import check_in_features, init_linear_buffers, linear_from_float


def _compute_dtype(dt: np.dtype) -> np.dtype:
    return dt if dt.kind == "f" or dt.name == "bfloat16" else np.dtype(np.float32)


class Float8WeightOnlyLinear(_nn.Module):
    """A Linear layer storing its weight as float8 e4m3fn with one float32 scale per output
    channel (``amax / 448``), as torchao's ``Float8WeightOnlyConfig``; each call dequantizes
    the weight to the input's dtype and runs an ordinary Linear (cuBLAS on CUDA, where a
    kernel does the dequantization; BLAS on the CPU).

    Buffers (in ``state_dict``): ``weight`` (the e4m3fn bytes as uint8, (out, in): tocha has no
    float8 dtype), ``weight_scale`` (float32, (out,)) and ``bias`` (float32) when present.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.ao.nn.quantized import Float8WeightOnlyLinear
        >>> f = torch.nn.Linear(8, 3)
        >>> q = Float8WeightOnlyLinear.from_float(f)
        >>> q.weight.dtype, tuple(q.weight_scale.shape)
        (torch.uint8, (3,))
        >>> x = torch.randn(2, 8)
        >>> with torch.no_grad():
        ...     bool((q(x) - f(x)).abs().max() < 0.05)
        True
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        init_linear_buffers(self, in_features, out_features, bias, np.uint8)

    @classmethod
    def from_float(cls, mod) -> Float8WeightOnlyLinear:
        """The float8 weight-only counterpart of a float ``nn.Linear``."""
        return linear_from_float(cls, mod, quantize_weight_fp8, "Float8WeightOnlyLinear")

    def dequantized_weight(self, dtype=np.float32) -> Tensor:
        """The float weight ``decode(weight) * weight_scale[:, None]`` in ``dtype``."""
        return wrap(dequantize_fp8(self.weight._data, self.weight_scale._data, dtype))

    def forward(self, input: Tensor) -> Tensor:
        from tocha.core.nn import functional as F

        if not isinstance(input, Tensor):
            raise TypeError(
                f"Float8WeightOnlyLinear: input must be a Tensor, not {type(input).__name__}"
            )
        x = input._data
        check_in_features("Float8WeightOnlyLinear", x, self.in_features)
        dt = _compute_dtype(x.dtype)
        if dt != x.dtype:
            input = wrap(x.astype(dt))
        w = self.dequantized_weight(dt)
        b = None if self.bias is None else wrap(self.bias._data.astype(dt, copy=False))
        return F.linear(input, w, b)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            "weight_dtype=torch.float8_e4m3fn, granularity=PerRow"
        )


class Float8WeightOnlyConv2d(_nn.Module):
    """A Conv2d storing its weight as float8 e4m3fn with one float32 scale per output channel
    (a tocha extension: torchao's float8 weight-only config converts Linear layers only); the
    weight is dequantized to the input's dtype on each call.

    Buffers: ``weight`` (e4m3fn bytes as uint8, the float weight's shape), ``weight_scale``
    (float32, (out_channels,)) and ``bias`` (float32) when present.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.ao.nn.quantized import Float8WeightOnlyConv2d
        >>> c = torch.nn.Conv2d(3, 4, 3, padding=1, groups=1)
        >>> q = Float8WeightOnlyConv2d.from_float(c)
        >>> x = torch.randn(1, 3, 8, 8)
        >>> with torch.no_grad():
        ...     bool((q(x) - c(x)).abs().max() < 0.05)
        True
    """

    def __init__(self, conv):
        super().__init__()
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride, self.padding = conv.kernel_size, conv.stride, conv.padding
        self.dilation, self.groups, self.padding_mode = (
            conv.dilation,
            conv.groups,
            conv.padding_mode,
        )
        self._pad_args = getattr(conv, "_reversed_padding_repeated_twice", None)
        shape = tuple(conv.weight.shape)
        self.register_buffer("weight", wrap(np.zeros(shape, np.uint8)))
        self.register_buffer("weight_scale", wrap(np.ones(shape[0], np.float32)))
        has_b = conv.bias is not None
        self.register_buffer("bias", wrap(np.zeros(shape[0], np.float32)) if has_b else None)

    @classmethod
    def from_float(cls, mod) -> Float8WeightOnlyConv2d:
        """The float8 weight-only counterpart of a float ``nn.Conv2d``."""
        if not isinstance(mod, _nn.Conv2d):
            raise TypeError(
                f"Float8WeightOnlyConv2d.from_float: expected nn.Conv2d, got {type(mod).__name__}"
            )
        q = cls(mod)
        w = mod.weight.detach()._data
        qw, scale = quantize_weight_fp8(w.reshape(w.shape[0], -1))
        q.weight, q.weight_scale = wrap(qw.reshape(w.shape)), wrap(scale)
        if mod.bias is not None:
            q.bias = wrap(mod.bias.detach()._data.astype(np.float32))
        return q

    def forward(self, input: Tensor) -> Tensor:
        from tocha.core.nn import functional as F

        x = input._data
        dt = _compute_dtype(x.dtype)
        if dt != x.dtype:
            input = wrap(x.astype(dt))
        q = self.weight._data
        w = dequantize_fp8(q.reshape(q.shape[0], -1), self.weight_scale._data, dt)
        w = wrap(w.reshape(q.shape))
        b = None if self.bias is None else wrap(self.bias._data.astype(dt, copy=False))
        padding = self.padding
        if self.padding_mode != "zeros":
            input = F.pad(input, self._pad_args, mode=self.padding_mode)
            padding = 0
        return F.conv2d(input, w, b, self.stride, padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, groups={self.groups}, weight_dtype=torch.float8_e4m3fn"
        )
