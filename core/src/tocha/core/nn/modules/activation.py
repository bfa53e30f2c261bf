"""Activation modules (torch.nn.modules.activation); MultiheadAttention lives in attention.py.

Each module holds its hyper-parameters and calls the matching function of
``tocha.core.nn.functional``.
"""

from __future__ import annotations

import warnings

from ..._ops.creation import empty
from ..._tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = [
    "Threshold",
    "ReLU",
    "RReLU",
    "Hardtanh",
    "ReLU6",
    "Sigmoid",
    "Hardsigmoid",
    "Tanh",
    "SiLU",
    "Mish",
    "Hardswish",
    "ELU",
    "CELU",
    "SELU",
    "GLU",
    "GELU",
    "Hardshrink",
    "LeakyReLU",
    "LogSigmoid",
    "Softplus",
    "Softshrink",
    "PReLU",
    "Softsign",
    "Tanhshrink",
    "Softmin",
    "Softmax",
    "Softmax2d",
    "LogSoftmax",
]


def _inplace_str(inplace: bool, lead: str = ", ") -> str:
    return f"{lead}inplace=True" if inplace else ""


def _warn_renamed(old: str, new: str) -> None:
    # stacklevel 3: the warning points at the code that built the module
    warnings.warn(
        f"keyword argument `{old}` is deprecated and rename to `{new}`",
        FutureWarning,
        stacklevel=3,
    )


class _InplaceActivation(Module):
    """An activation whose only option is ``inplace``; a subclass names ``_fn``."""

    __constants__ = ["inplace"]
    _fn = None

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class _AlphaActivation(Module):
    """ELU and CELU: ``alpha`` and ``inplace``; a subclass names ``_fn``."""

    __constants__ = ["alpha", "inplace"]
    _fn = None

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_str(self.inplace)}"


class _Shrink(Module):
    """Hardshrink and Softshrink: one threshold ``lambd``; a subclass names ``_fn``."""

    __constants__ = ["lambd"]
    _fn = None

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Threshold(Module):
    """``x`` where ``x > threshold``, else ``value``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Threshold(0.5, -1.0)(torch.tensor([0.2, 0.9]))
        tensor([-1.0000,  0.9000])
    """

    __constants__ = ["threshold", "value", "inplace"]

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}{_inplace_str(self.inplace)}"


class ReLU(_InplaceActivation):
    """``max(x, 0)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ReLU()(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    _fn = staticmethod(F.relu)


class RReLU(Module):
    """Randomized leaky ReLU (random negative slopes in training, their mean in evaluation).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.RReLU(0.1, 0.3).eval()(torch.tensor([-1.0, 1.0]))
        tensor([-0.2000,  1.0000])
    """

    __constants__ = ["lower", "upper", "inplace"]

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}{_inplace_str(self.inplace)}"


class Hardtanh(Module):
    """``x`` clamped to ``[min_val, max_val]``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Hardtanh(-2, 2)(torch.tensor([-3.0, 1.0, 3.0]))
        tensor([-2.,  1.,  2.])
    """

    __constants__ = ["min_val", "max_val", "inplace"]

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
        min_value: float | None = None,
        max_value: float | None = None,
    ) -> None:
        super().__init__()
        if min_value is not None:
            _warn_renamed("min_value", "min_val")
            min_val = min_value
        if max_value is not None:
            _warn_renamed("max_value", "max_val")
            max_val = max_value
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace
        if self.max_val <= self.min_val:
            raise AssertionError("Hardtanh: max_val must be greater than min_val")

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_str(self.inplace)}"


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ReLU6()(torch.tensor([-1.0, 7.0]))
        tensor([0., 6.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Sigmoid()(torch.tensor([0.0]))
        tensor([0.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        return input.sigmoid()


class Hardsigmoid(_InplaceActivation):
    """``relu6(x + 3) / 6``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Hardsigmoid()(torch.tensor([0.0]))
        tensor([0.5000])
    """

    _fn = staticmethod(F.hardsigmoid)

    # torch's repr of this module leaves out ``inplace``
    extra_repr = Module.extra_repr


class Tanh(Module):
    """Hyperbolic tangent.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Tanh()(torch.tensor([0.0]))
        tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return input.tanh()


class SiLU(_InplaceActivation):
    """``x * sigmoid(x)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.SiLU()(torch.tensor([1.0]))
        tensor([0.7311])
    """

    _fn = staticmethod(F.silu)


class Mish(_InplaceActivation):
    """``x * tanh(softplus(x))``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Mish()(torch.tensor([1.0]))
        tensor([0.8651])
    """

    _fn = staticmethod(F.mish)


class Hardswish(_InplaceActivation):
    """``x * relu6(x + 3) / 6``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Hardswish()(torch.tensor([1.0]))
        tensor([0.6667])
    """

    _fn = staticmethod(F.hardswish)

    # torch's repr of this module leaves out ``inplace``
    extra_repr = Module.extra_repr


class ELU(_AlphaActivation):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.ELU()(torch.tensor([-1.0, 1.0]))
        tensor([-0.6321,  1.0000])
    """

    _fn = staticmethod(F.elu)


class CELU(_AlphaActivation):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.CELU(2.0)(torch.tensor([-1.0]))
        tensor([-0.7869])
    """

    _fn = staticmethod(F.celu)


class SELU(_InplaceActivation):
    """Scaled ELU with the self-normalising constants.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.SELU()(torch.tensor([1.0]))
        tensor([1.0507])
    """

    _fn = staticmethod(F.selu)


class GLU(Module):
    """Gated linear unit over ``dim``: ``a * sigmoid(b)`` of the two halves.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.GLU()(torch.tensor([[1.0, 0.0]]))
        tensor([[0.5000]])
    """

    __constants__ = ["dim"]

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GELU(Module):
    """Gaussian error linear unit (``approximate='tanh'`` for the tanh form).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.GELU()(torch.tensor([1.0]))
        tensor([0.8413])
    """

    __constants__ = ["approximate"]

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Hardshrink(_Shrink):
    """``x`` where ``|x| > lambd``, else 0.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Hardshrink()(torch.tensor([0.3, 0.7]))
        tensor([0.0000, 0.7000])
    """

    _fn = staticmethod(F.hardshrink)


class LeakyReLU(Module):
    """``x`` for ``x > 0``, else ``negative_slope * x``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.LeakyReLU(0.1)(torch.tensor([-1.0, 1.0]))
        tensor([-0.1000,  1.0000])
    """

    __constants__ = ["inplace", "negative_slope"]

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_str(self.inplace)}"


class LogSigmoid(Module):
    """``log(sigmoid(x))``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.LogSigmoid()(torch.tensor([0.0]))
        tensor([-0.6931])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta`` (linear above ``threshold``).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Softplus()(torch.tensor([0.0]))
        tensor([0.6931])
    """

    __constants__ = ["beta", "threshold"]

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softshrink(_Shrink):
    """Soft thresholding by ``lambd``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Softshrink()(torch.tensor([1.0, 0.2]))
        tensor([0.5000, 0.0000])
    """

    _fn = staticmethod(F.softshrink)


class PReLU(Module):
    """Leaky ReLU with a learned negative slope: one shared (``num_parameters=1``) or one per
    channel (dim 1), initialised to ``init``.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.PReLU()
        >>> m(torch.tensor([-1.0, 1.0]))
        tensor([-0.2500,  1.0000], grad_fn=<WhereBackward0>)
    """

    __constants__ = ["num_parameters"]

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        self.num_parameters = num_parameters
        super().__init__()
        self.init = init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Softsign(Module):
    """``x / (1 + |x|)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Softsign()(torch.tensor([1.0]))
        tensor([0.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class Tanhshrink(Module):
    """``x - tanh(x)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Tanhshrink()(torch.tensor([0.0]))
        tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanhshrink(input)


class _SoftmaxBase(Module):
    __constants__ = ["dim"]
    _fn = None

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state):
        super().__setstate__(state)
        if not hasattr(self, "dim"):
            self.dim = None

    def forward(self, input: Tensor) -> Tensor:
        # _stacklevel=5 points the implicit-dim warning at the caller of the module
        return self._fn(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(_SoftmaxBase):
    """``softmax(-x)`` along ``dim``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Softmin(dim=0)(torch.tensor([0.0, 0.0]))
        tensor([0.5000, 0.5000])
    """

    _fn = staticmethod(F.softmin)


class Softmax(_SoftmaxBase):
    """``exp(x) / sum(exp(x))`` along ``dim``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Softmax(dim=1)(torch.tensor([[1.0, 1.0]]))
        tensor([[0.5000, 0.5000]])
    """

    _fn = staticmethod(F.softmax)


class Softmax2d(Module):
    """Softmax over the channels of each spatial location of a (N, C, H, W) or (C, H, W)
    input.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.Softmax2d()(torch.zeros(2, 1, 1)).flatten()
        tensor([0.5000, 0.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (3, 4):
            raise ValueError(
                f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead"
            )
        return F.softmax(input, -3, _stacklevel=5)


class LogSoftmax(_SoftmaxBase):
    """``log(softmax(x))`` along ``dim``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.LogSoftmax(dim=0)(torch.tensor([0.0, 0.0]))
        tensor([-0.6931, -0.6931])
    """

    _fn = staticmethod(F.log_softmax)
