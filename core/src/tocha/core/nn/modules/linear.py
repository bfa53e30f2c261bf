"""Linear layers (torch.nn.modules.linear): Identity, Linear, Bilinear, LazyLinear."""

from __future__ import annotations

import math

from ..._ops.creation import empty
from ..._tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter, UninitializedParameter
from .module import Module

__all__ = ["Identity", "Linear", "Bilinear", "LazyLinear"]


def _weight_and_bias(
    module: Module, shape, bias: bool, device, dtype, bias_size=None, lazy: bool = False
) -> None:
    """Register an uninitialised ``weight`` of ``shape`` and a ``bias`` of ``bias_size``
    (default ``shape[0]``; None when not ``bias``): ``reset_parameters`` gives them values.
    ``lazy``: UninitializedParameters, shaped at the first call."""

    def param(size):
        if lazy:
            return UninitializedParameter(device=device, dtype=dtype)
        return Parameter(empty(size, device=device, dtype=dtype))

    module.weight = param(shape)
    if bias:
        module.bias = param(shape[0] if bias_size is None else bias_size)
    else:
        module.register_parameter("bias", None)


class Identity(Module):
    """Returns its input unchanged; any constructor arguments are ignored.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Identity(54, unused='x')(torch.tensor([1.0]))
        tensor([1.])
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """``y = x @ weight.T + bias``.

    ``weight`` (out_features, in_features) starts as ``kaiming_uniform_(a=sqrt(5))``, i.e.
    U(-1/sqrt(in_features), 1/sqrt(in_features)), and ``bias`` as U(-1/sqrt(in), 1/sqrt(in)),
    as torch.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.Linear(4, 3)
        >>> m(torch.randn(2, 4)).shape
        torch.Size([2, 3])
        >>> m
        Linear(in_features=4, out_features=3, bias=True)
    """

    __constants__ = ["in_features", "out_features"]

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        _weight_and_bias(self, (out_features, in_features), bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Bilinear(Module):
    """``y = x1 @ weight[k] @ x2 + bias[k]`` for each output feature ``k``; weight and bias
    start as U(-1/sqrt(in1_features), 1/sqrt(in1_features)).

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.Bilinear(2, 3, 4)
        >>> m(torch.randn(5, 2), torch.randn(5, 3)).shape
        torch.Size([5, 4])
    """

    __constants__ = ["in1_features", "in2_features", "out_features"]

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        shape = (out_features, in1_features, in2_features)
        _weight_and_bias(self, shape, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.size(1))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


class LazyLinear(Linear):
    """A `Linear` whose ``in_features`` is read from the first input; it then becomes a
    `Linear` (the parameters are created and initialised at that call).

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.LazyLinear(3)
        >>> m(torch.randn(2, 5)).shape, type(m).__name__, m.in_features
        (torch.Size([2, 3]), 'Linear', 5)
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        Module.__init__(self)
        self.in_features = 0
        self.out_features = out_features
        _weight_and_bias(self, None, bias, device, dtype, bias_size=out_features, lazy=True)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def has_uninitialized_params(self) -> bool:
        return any(isinstance(p, UninitializedParameter) for p in (self.weight, self.bias))

    def initialize_parameters(self, input: Tensor) -> None:
        if self.has_uninitialized_params():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()

    def forward(self, input: Tensor) -> Tensor:
        if self.has_uninitialized_params():
            self.initialize_parameters(input)
            self.__class__ = self.cls_to_become
        return F.linear(input, self.weight, self.bias)
