"""Pooling layers (torch.nn.modules.pooling): max, average, adaptive, power-average pooling
and max unpooling in 1, 2 and 3 dims, with torch's attributes and repr."""

from __future__ import annotations

from ..._tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "LPPool1d",
    "LPPool2d",
    "LPPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
    "FractionalMaxPool2d",
    "FractionalMaxPool3d",
]


def _ntuple(v, n: int) -> tuple:
    if isinstance(v, (list, tuple)):
        return tuple(v)
    return (v,) * n


class _MaxPoolNd(Module):
    """MaxPool1d/2d/3d; a subclass names ``_fn``."""

    __constants__ = ["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"]
    _fn = None

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor):
        return self._fn(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            "kernel_size={kernel_size}, stride={stride}, padding={padding}, "
            "dilation={dilation}, ceil_mode={ceil_mode}".format(**self.__dict__)
        )


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over (N, C, L).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.MaxPool1d(2)(torch.tensor([[[1.0, 4.0, 2.0, 3.0]]]))
        tensor([[[4., 3.]]])
    """

    _fn = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling over (N, C, H, W); ``return_indices=True`` also returns the argmax
    positions for `MaxUnpool2d`.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.MaxPool2d(2)
        >>> m(torch.arange(16.0).view(1, 1, 4, 4))
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
        >>> m
        MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    """

    _fn = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling over (N, C, D, H, W).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.MaxPool3d(2)(torch.randn(1, 1, 4, 4, 4)).shape
        torch.Size([1, 1, 2, 2, 2])
    """

    _fn = staticmethod(F.max_pool3d)


class _AvgPoolNd(Module):
    """AvgPool2d/3d (AvgPool1d has no ``divisor_override``); a subclass names ``_fn``."""

    __constants__ = [
        "kernel_size",
        "stride",
        "padding",
        "ceil_mode",
        "count_include_pad",
        "divisor_override",
    ]
    _fn = None

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling over (N, C, L).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.AvgPool1d(2)(torch.tensor([[[1.0, 3.0, 2.0, 4.0]]]))
        tensor([[[2., 3.]]])
    """

    __constants__ = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"]

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        # not _AvgPoolNd.__init__: torch stores AvgPool1d's sizes as 1-tuples
        Module.__init__(self)
        self.kernel_size = _ntuple(kernel_size, 1)
        self.stride = _ntuple(stride if stride is not None else kernel_size, 1)
        self.padding = _ntuple(padding, 1)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling over (N, C, H, W).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.AvgPool2d(2)(torch.arange(16.0).view(1, 1, 4, 4))
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """

    _fn = staticmethod(F.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """3-D average pooling over (N, C, D, H, W).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.AvgPool3d(2)(torch.ones(1, 1, 2, 2, 2)).flatten()
        tensor([1.])
    """

    _fn = staticmethod(F.avg_pool3d)


class _AdaptiveAvgPoolNd(Module):
    """AdaptiveAvgPool1d/2d/3d; a subclass names ``_fn``."""

    __constants__ = ["output_size"]
    _fn = None

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed output length.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.AdaptiveAvgPool1d(1)(torch.tensor([[[1.0, 2.0, 3.0]]]))
        tensor([[[2.]]])
    """

    _fn = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed (H_out, W_out) (``None`` keeps that input size).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.AdaptiveAvgPool2d((1, 1))(torch.randn(2, 8, 7, 7)).shape
        torch.Size([2, 8, 1, 1])
    """

    _fn = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed (D_out, H_out, W_out).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.AdaptiveAvgPool3d(1)(torch.randn(1, 2, 3, 4, 5)).shape
        torch.Size([1, 2, 1, 1, 1])
    """

    _fn = staticmethod(F.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(Module):
    """AdaptiveMaxPool1d/2d/3d; a subclass names ``_fn``."""

    __constants__ = ["output_size", "return_indices"]
    _fn = None

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor):
        return self._fn(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed output length.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.AdaptiveMaxPool1d(1)(torch.tensor([[[1.0, 5.0, 3.0]]]))
        tensor([[[5.]]])
    """

    _fn = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed (H_out, W_out).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.AdaptiveMaxPool2d(2)(torch.randn(1, 3, 5, 7)).shape
        torch.Size([1, 3, 2, 2])
    """

    _fn = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed (D_out, H_out, W_out).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.AdaptiveMaxPool3d(1)(torch.randn(1, 2, 3, 4, 5)).shape
        torch.Size([1, 2, 1, 1, 1])
    """

    _fn = staticmethod(F.adaptive_max_pool3d)


class _LPPoolNd(Module):
    """LPPool1d/2d/3d; a subclass names ``_fn``."""

    __constants__ = ["norm_type", "kernel_size", "stride", "ceil_mode"]
    _fn = None

    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (
            "norm_type={norm_type}, kernel_size={kernel_size}, stride={stride}, "
            "ceil_mode={ceil_mode}".format(**self.__dict__)
        )


class LPPool1d(_LPPoolNd):
    """Power-average pooling ``(sum x^p)^(1/p)`` over windows of (N, C, L).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.LPPool1d(2, 2)(torch.tensor([[[3.0, 4.0]]]))
        tensor([[[5.]]])
    """

    _fn = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """Power-average pooling over windows of (N, C, H, W).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.LPPool2d(1, 2)(torch.ones(1, 1, 2, 2))
        tensor([[[[4.]]]])
    """

    _fn = staticmethod(F.lp_pool2d)


class LPPool3d(_LPPoolNd):
    """Power-average pooling over windows of (N, C, D, H, W).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.LPPool3d(1, 2)(torch.ones(1, 1, 2, 2, 2)).flatten()
        tensor([8.])
    """

    _fn = staticmethod(F.lp_pool3d)


class _MaxUnpoolNd(Module):
    """MaxUnpool1d/2d/3d; a subclass names ``_nd`` and ``_fn``."""

    _nd = 2
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        n = self._nd
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride = _ntuple(stride if (stride is not None) else kernel_size, n)
        self.padding = _ntuple(padding, n)

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return self._fn(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Partial inverse of `MaxPool1d`: values placed at their argmax positions.

    Example:
        >>> import tocha.core as torch
        >>> v, i = torch.nn.MaxPool1d(2, return_indices=True)(torch.tensor([[[1.0, 3.0]]]))
        >>> torch.nn.MaxUnpool1d(2)(v, i)
        tensor([[[0., 3.]]])
    """

    _nd = 1
    _fn = staticmethod(F.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of `MaxPool2d`.

    Example:
        >>> import tocha.core as torch
        >>> pool = torch.nn.MaxPool2d(2, return_indices=True)
        >>> v, i = pool(torch.arange(16.0).view(1, 1, 4, 4))
        >>> torch.nn.MaxUnpool2d(2)(v, i).shape
        torch.Size([1, 1, 4, 4])
    """

    _nd = 2
    _fn = staticmethod(F.max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    """Partial inverse of `MaxPool3d`.

    Example:
        >>> import tocha.core as torch
        >>> v, i = torch.nn.MaxPool3d(2, return_indices=True)(torch.randn(1, 1, 2, 2, 2))
        >>> torch.nn.MaxUnpool3d(2)(v, i).shape
        torch.Size([1, 1, 2, 2, 2])
    """

    _nd = 3
    _fn = staticmethod(F.max_unpool3d)


class _FractionalMaxPoolNd(Module):
    """FractionalMaxPool2d/3d; a subclass names ``_nd`` and ``_fn``."""

    __constants__ = ["kernel_size", "return_indices", "output_size", "output_ratio"]
    _nd = 2
    _fn = None

    def __init__(
        self,
        kernel_size,
        output_size=None,
        output_ratio=None,
        return_indices: bool = False,
        _random_samples=None,
    ) -> None:
        super().__init__()
        n = self._nd
        self.kernel_size = _ntuple(kernel_size, n)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = _ntuple(output_size, n) if output_size is not None else None
        self.output_ratio = _ntuple(output_ratio, n) if output_ratio is not None else None
        if output_size is None and output_ratio is None:
            raise ValueError(
                f"FractionalMaxPool{n}d requires specifying either an output size, or a pooling "
                "ratio"
            )
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input: Tensor):
        return self._fn(
            input,
            self.kernel_size,
            self.output_size,
            self.output_ratio,
            self.return_indices,
            _random_samples=self._random_samples,
        )


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Fractional max pooling over (N, C, H, W): windows at pseudo-random positions per plane.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.FractionalMaxPool2d(3, output_ratio=0.5)(torch.randn(1, 2, 10, 10)).shape
        torch.Size([1, 2, 5, 5])
    """

    _nd = 2
    _fn = staticmethod(F.fractional_max_pool2d)


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Fractional max pooling over (N, C, D, H, W).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.FractionalMaxPool3d(2, output_size=3)(torch.randn(1, 1, 6, 6, 6)).shape
        torch.Size([1, 1, 3, 3, 3])
    """

    _nd = 3
    _fn = staticmethod(F.fractional_max_pool3d)
