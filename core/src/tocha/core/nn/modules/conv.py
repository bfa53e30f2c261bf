"""Convolution layers (torch.nn.modules.conv): Conv1d/2d/3d, ConvTranspose1d/2d/3d and their
Lazy variants, with torch's parameters, weight layouts, default initialisation and repr."""

from __future__ import annotations

import math

from ..._tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import UninitializedParameter
from .linear import _weight_and_bias
from .module import Module

__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "LazyConv1d",
    "LazyConv2d",
    "LazyConv3d",
    "LazyConvTranspose1d",
    "LazyConvTranspose2d",
    "LazyConvTranspose3d",
]

_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}


def _ntuple(v, n: int) -> tuple:
    if isinstance(v, (list, tuple)):
        return tuple(v)
    return (v,) * n


class _ConvNd(Module):
    __constants__ = [
        "stride",
        "padding",
        "dilation",
        "groups",
        "padding_mode",
        "output_padding",
        "in_channels",
        "out_channels",
        "kernel_size",
    ]
    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride,
        padding,
        dilation,
        transposed: bool,
        output_padding,
        groups: int,
        bias: bool,
        padding_mode: str,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        valid_padding_strings = {"same", "valid"}
        if isinstance(padding, str):
            if padding not in valid_padding_strings:
                raise ValueError(
                    f"Invalid padding string {padding!r}, should be one of {valid_padding_strings}"
                )
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {_PADDING_MODES}, but got "
                f"padding_mode='{padding_mode}'"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad's argument for padding_mode != 'zeros': (left, right) pairs, last dim first
        if isinstance(self.padding, str):
            rev = [0, 0] * len(kernel_size)
            if padding == "same":
                for d, k, i in zip(dilation, kernel_size, range(len(kernel_size) - 1, -1, -1)):
                    total = d * (k - 1)
                    left = total // 2
                    rev[2 * i] = left
                    rev[2 * i + 1] = total - left
            self._reversed_padding_repeated_twice = rev
        else:
            self._reversed_padding_repeated_twice = [
                p for p in reversed(self.padding) for _ in range(2)
            ]
        if transposed:
            shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *kernel_size)
        lazy = isinstance(self, _LazyMixin)
        _weight_and_bias(self, shape, bias, device, dtype, bias_size=out_channels, lazy=lazy)
        if not lazy:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)), torch's default
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = "{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}"
        if self.padding != (0,) * len(self.padding):
            s += ", padding={padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += ", dilation={dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += ", output_padding={output_padding}"
        if self.groups != 1:
            s += ", groups={groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode={padding_mode}"
        return s.format(**self.__dict__)


class _Conv(_ConvNd):
    """Conv1d/2d/3d: the public constructor and forward; a subclass names ``_nd`` and ``_fn``."""

    _fn = None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        nd = self._nd
        super().__init__(
            in_channels,
            out_channels,
            _ntuple(kernel_size, nd),
            _ntuple(stride, nd),
            padding if isinstance(padding, str) else _ntuple(padding, nd),
            _ntuple(dilation, nd),
            False,
            (0,) * nd,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        fn = type(self)._fn
        if self.padding_mode != "zeros":
            return fn(
                F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode),
                weight,
                bias,
                self.stride,
                (0,) * self._nd,
                self.dilation,
                self.groups,
            )
        return fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L): weight (C_out, C_in/groups, k), bias (C_out,), both
    initialised U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like torch.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.Conv1d(4, 8, 3, padding=1)
        >>> m(torch.randn(2, 4, 10)).shape
        torch.Size([2, 8, 10])
    """

    _nd = 1
    _fn = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W): weight (C_out, C_in/groups, kH, kW).

    ``padding`` may be an int, a tuple, ``'valid'`` or ``'same'``; ``padding_mode`` one of
    ``'zeros'``, ``'reflect'``, ``'replicate'``, ``'circular'``.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.Conv2d(3, 16, 3, stride=2, padding=1)
        >>> m(torch.randn(1, 3, 32, 32)).shape
        torch.Size([1, 16, 16, 16])
        >>> m
        Conv2d(3, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))
    """

    _nd = 2
    _fn = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """3-D convolution over (N, C_in, D, H, W): weight (C_out, C_in/groups, kD, kH, kW).

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.Conv3d(2, 4, 3, padding=1)
        >>> m(torch.randn(1, 2, 4, 4, 4)).shape
        torch.Size([1, 4, 4, 4, 4])
    """

    _nd = 3
    _fn = staticmethod(F.conv3d)


class _ConvTransposeNd(_ConvNd):
    """ConvTranspose1d/2d/3d: the public constructor and forward; a subclass names ``_nd``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        nd = self._nd
        super().__init__(
            in_channels,
            out_channels,
            _ntuple(kernel_size, nd),
            _ntuple(stride, nd),
            _ntuple(padding, nd),
            _ntuple(dilation, nd),
            True,
            _ntuple(output_padding, nd),
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def _output_padding(
        self, input, output_size, stride, padding, kernel_size, num_spatial_dims, dilation=None
    ) -> list:
        if output_size is None:
            return list(_ntuple(self.output_padding, num_spatial_dims))
        has_batch_dim = input.dim() == num_spatial_dims + 2
        num_non_spatial_dims = 2 if has_batch_dim else 1
        output_size = list(output_size)
        if len(output_size) == num_non_spatial_dims + num_spatial_dims:
            output_size = output_size[num_non_spatial_dims:]
        if len(output_size) != num_spatial_dims:
            raise ValueError(
                f"ConvTranspose{num_spatial_dims}D: for {input.dim()}D input, output_size must "
                f"have {num_spatial_dims} or {num_non_spatial_dims + num_spatial_dims} elements "
                f"(got {len(output_size)})"
            )
        min_sizes, max_sizes = [], []
        for d in range(num_spatial_dims):
            dim_size = (
                (input.size(d + num_non_spatial_dims) - 1) * stride[d]
                - 2 * padding[d]
                + (dilation[d] if dilation is not None else 1) * (kernel_size[d] - 1)
                + 1
            )
            min_sizes.append(dim_size)
            max_sizes.append(min_sizes[d] + stride[d] - 1)
        for i in range(len(output_size)):
            size = output_size[i]
            if size < min_sizes[i] or size > max_sizes[i]:
                raise ValueError(
                    f"requested an output size of {output_size}, but valid sizes range from "
                    f"{min_sizes} to {max_sizes} (for an input of {input.size()[2:]})"
                )
        return [output_size[d] - min_sizes[d] for d in range(num_spatial_dims)]

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        if self.padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        nd = self._nd
        output_padding = self._output_padding(
            input, output_size, self.stride, self.padding, self.kernel_size, nd, self.dilation
        )
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
        return fn(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution: weight (C_in, C_out/groups, k).

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.ConvTranspose1d(4, 2, 3, stride=2)
        >>> m(torch.randn(1, 4, 5)).shape
        torch.Size([1, 2, 11])
    """

    _nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution: weight (C_in, C_out/groups, kH, kW); ``forward`` accepts an
    ``output_size`` that picks the output padding.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1)
        >>> m(torch.randn(1, 8, 5, 5), output_size=(10, 10)).shape
        torch.Size([1, 4, 10, 10])
    """

    _nd = 2


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution: weight (C_in, C_out/groups, kD, kH, kW).

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.ConvTranspose3d(2, 2, 2, stride=2)
        >>> m(torch.randn(1, 2, 2, 2, 2)).shape
        torch.Size([1, 2, 4, 4, 4])
    """

    _nd = 3


# --- lazy variants: in_channels read from the first input ---------------------------------------
class _LazyMixin:
    cls_to_become = None

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def has_uninitialized_params(self) -> bool:
        return any(isinstance(p, UninitializedParameter) for p in (self.weight, self.bias))

    def initialize_parameters(self, input: Tensor, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():
            return
        batched = input.dim() == self._nd + 2
        self.in_channels = input.shape[1] if batched else input.shape[0]
        if self.in_channels % self.groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        else:
            shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight.materialize(shape)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()

    def __call__(self, *args, **kwargs):
        if self.has_uninitialized_params():
            self.initialize_parameters(*args, **kwargs)
            self.__class__ = self.cls_to_become
        return Module.__call__(self, *args, **kwargs)


# in_channels is 0 and groups 1 until the first input gives in_channels, so that the
# divisibility checks of _ConvNd.__init__ pass; groups is set back right after.
class _LazyConv(_LazyMixin):
    def __init__(
        self,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            0,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            1,
            bias,
            padding_mode,
            device,
            dtype,
        )
        self.groups = groups


class _LazyConvTranspose(_LazyMixin):
    def __init__(
        self,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            0,
            out_channels,
            kernel_size,
            stride,
            padding,
            output_padding,
            1,
            bias,
            dilation,
            padding_mode,
            device,
            dtype,
        )
        self.groups = groups


class LazyConv1d(_LazyConv, Conv1d):
    """A `Conv1d` whose ``in_channels`` is inferred from the first input.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.LazyConv1d(4, 3)
        >>> m(torch.randn(1, 2, 8)).shape, type(m).__name__
        (torch.Size([1, 4, 6]), 'Conv1d')
    """

    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """A `Conv2d` whose ``in_channels`` is inferred from the first input.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.LazyConv2d(4, 3)
        >>> m(torch.randn(1, 2, 5, 5)).shape
        torch.Size([1, 4, 3, 3])
    """

    cls_to_become = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    """A `Conv3d` whose ``in_channels`` is inferred from the first input.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.LazyConv3d(2, 2)
        >>> m(torch.randn(1, 3, 3, 3, 3)).shape
        torch.Size([1, 2, 2, 2, 2])
    """

    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    """A `ConvTranspose1d` whose ``in_channels`` is inferred from the first input.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.LazyConvTranspose1d(2, 3)(torch.randn(1, 4, 5)).shape
        torch.Size([1, 2, 7])
    """

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    """A `ConvTranspose2d` whose ``in_channels`` is inferred from the first input.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.LazyConvTranspose2d(2, 3)(torch.randn(1, 4, 5, 5)).shape
        torch.Size([1, 2, 7, 7])
    """

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    """A `ConvTranspose3d` whose ``in_channels`` is inferred from the first input.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.LazyConvTranspose3d(2, 2)(torch.randn(1, 4, 2, 2, 2)).shape
        torch.Size([1, 2, 3, 3, 3])
    """

    cls_to_become = ConvTranspose3d
