"""torch_geometric.nn.Linear: a Linear layer with selectable initialisers and lazy input size."""

from __future__ import annotations

import math

import tocha.core as torch
from tocha.core import Tensor
from tocha.core.nn import Module, Parameter

from .. import inits

__all__ = ["Linear"]


class Linear(Module):
    """``x @ weight.T + bias`` (torch.nn.Linear) with torch_geometric's initialiser options.

    Args:
        in_channels: input size, or -1 to infer it on the first call.
        out_channels: output size.
        bias: whether to add a bias.
        weight_initializer: ``'glorot'``, ``'uniform'``, ``'kaiming_uniform'``, or ``None``
            (torch.nn.Linear's default).
        bias_initializer: ``'zeros'`` or ``None`` (torch.nn.Linear's default).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import Linear
        >>> Linear(3, 2, weight_initializer="glorot")(torch.ones(5, 3)).shape
        torch.Size([5, 2])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bias: bool = True,
        weight_initializer: str | None = None,
        bias_initializer: str | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight_initializer = weight_initializer
        self.bias_initializer = bias_initializer
        n_in = in_channels if in_channels > 0 else 1
        self.weight = Parameter(torch.empty(out_channels, n_in))
        if bias:
            self.bias = Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self._lazy = in_channels <= 0
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self._lazy_pending():
            return
        fan_in = self.weight.size(1)
        wi = self.weight_initializer
        if wi == "glorot":
            inits.glorot(self.weight)
        elif wi == "uniform":
            inits.uniform(fan_in, self.weight)
        elif wi == "kaiming_uniform" or wi is None:
            inits.kaiming_uniform(self.weight, fan=fan_in, a=math.sqrt(5))
        else:
            raise RuntimeError(f"Linear: weight initializer '{wi}' is not supported")
        if self.bias is not None:
            if self.bias_initializer == "zeros":
                inits.zeros(self.bias)
            elif self.bias_initializer is None:
                inits.uniform(fan_in, self.bias)
            else:
                raise RuntimeError(
                    f"Linear: bias initializer '{self.bias_initializer}' is not supported"
                )

    def _lazy_pending(self) -> bool:
        return getattr(self, "_lazy", False) and self.in_channels <= 0

    def forward(self, x: Tensor) -> Tensor:
        if self._lazy_pending():
            self.in_channels = x.size(-1)
            self.weight = Parameter(torch.empty(self.out_channels, self.in_channels))
            self.reset_parameters()
        return torch.nn.functional.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, bias={self.bias is not None}"
