"""Padding layers (torch.nn.modules.padding): zero, constant, reflection, replication and
circular padding in 1, 2 and 3 dims."""

from __future__ import annotations

from ..._tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = [
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
]


def _pads(padding, n: int) -> tuple:
    if isinstance(padding, (list, tuple)):
        if len(padding) != n:
            raise ValueError(f"padding must be an int or a tuple of {n} ints, got {padding}")
        return tuple(padding)
    return (padding,) * n


class _ConstantPadNd(Module):
    __constants__ = ["padding", "value"]
    _n = 2

    def __init__(self, padding, value: float) -> None:
        super().__init__()
        self.padding = _pads(padding, self._n)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with a constant: ``padding`` is an int or (left, right).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ConstantPad1d((1, 2), 9.0)(torch.tensor([[1.0, 2.0]]))
        tensor([[9., 1., 2., 9., 9.]])
    """

    _n = 2


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with a constant: int or (left, right, top, bottom).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ConstantPad2d(1, 0.5)(torch.ones(1, 1, 1)).shape
        torch.Size([1, 3, 3])
    """

    _n = 4


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with a constant.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ConstantPad3d(1, 0.0)(torch.ones(1, 1, 1, 1)).shape
        torch.Size([1, 3, 3, 3])
    """

    _n = 6


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Zero-pad the last dim.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ZeroPad1d(1)(torch.tensor([[1.0]]))
        tensor([[0., 1., 0.]])
    """

    _n = 2


class ZeroPad2d(_ZeroPadNd):
    """Zero-pad the last two dims: int or (left, right, top, bottom).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ZeroPad2d((1, 0, 0, 1))(torch.ones(1, 1, 1))
        tensor([[[0., 1.],
                 [0., 0.]]])
    """

    _n = 4


class ZeroPad3d(_ZeroPadNd):
    """Zero-pad the last three dims.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ZeroPad3d(1)(torch.ones(1, 1, 1, 1)).sum()
        tensor(1.)
    """

    _n = 6


class _ModePadNd(Module):
    """Padding by an F.pad ``mode``; a family names ``_mode``, a class its ``_n`` pad values."""

    __constants__ = ["padding"]
    _n = 2
    _mode = "reflect"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _pads(padding, self._n)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ReflectionPadNd(_ModePadNd):
    _mode = "reflect"


class _ReplicationPadNd(_ModePadNd):
    _mode = "replicate"


class _CircularPadNd(_ModePadNd):
    _mode = "circular"


class ReflectionPad1d(_ReflectionPadNd):
    """Pad the last dim by reflecting at the border (without repeating the edge).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ReflectionPad1d(2)(torch.tensor([[[1.0, 2.0, 3.0]]]))
        tensor([[[3., 2., 1., 2., 3., 2., 1.]]])
    """

    _n = 2


class ReflectionPad2d(_ReflectionPadNd):
    """Reflection-pad the last two dims.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ReflectionPad2d(1)(torch.randn(1, 1, 3, 3)).shape
        torch.Size([1, 1, 5, 5])
    """

    _n = 4


class ReflectionPad3d(_ReflectionPadNd):
    """Reflection-pad the last three dims.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ReflectionPad3d(1)(torch.randn(1, 1, 2, 2, 2)).shape
        torch.Size([1, 1, 4, 4, 4])
    """

    _n = 6


class ReplicationPad1d(_ReplicationPadNd):
    """Pad the last dim by repeating the edge value.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ReplicationPad1d((1, 2))(torch.tensor([[[1.0, 2.0]]]))
        tensor([[[1., 1., 2., 2., 2.]]])
    """

    _n = 2


class ReplicationPad2d(_ReplicationPadNd):
    """Replication-pad the last two dims.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ReplicationPad2d(1)(torch.randn(1, 1, 2, 2)).shape
        torch.Size([1, 1, 4, 4])
    """

    _n = 4


class ReplicationPad3d(_ReplicationPadNd):
    """Replication-pad the last three dims.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ReplicationPad3d(1)(torch.randn(1, 1, 2, 2, 2)).shape
        torch.Size([1, 1, 4, 4, 4])
    """

    _n = 6


class CircularPad1d(_CircularPadNd):
    """Pad the last dim by wrapping around.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.CircularPad1d(1)(torch.tensor([[[1.0, 2.0, 3.0]]]))
        tensor([[[3., 1., 2., 3., 1.]]])
    """

    _n = 2


class CircularPad2d(_CircularPadNd):
    """Circular-pad the last two dims.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.CircularPad2d(1)(torch.randn(1, 1, 2, 2)).shape
        torch.Size([1, 1, 4, 4])
    """

    _n = 4


class CircularPad3d(_CircularPadNd):
    """Circular-pad the last three dims.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.CircularPad3d(1)(torch.randn(1, 1, 2, 2, 2)).shape
        torch.Size([1, 1, 4, 4, 4])
    """

    _n = 6
