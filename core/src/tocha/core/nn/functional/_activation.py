"""Activation functions of ``torch.nn.functional``: relu and friends, the smooth activations
(gelu, silu, mish, softplus, elu/selu/celu), the hard ones, softmax/log_softmax/softmin, glu,
prelu, rrelu and gumbel_softmax.

The elementwise activations are fused nodes of ``tocha.core._ops.activation`` (one kernel
forward, one backward); the rest are short compositions of tocha ops.
"""

from __future__ import annotations

import warnings

from ..._ops import activation as _A
from ..._ops import pointwise as _P
from ..._ops.inplace import inplace_apply
from ..._tensor import Tensor

__all__ = [
    "threshold",
    "threshold_",
    "relu",
    "relu_",
    "hardtanh",
    "hardtanh_",
    "relu6",
    "elu",
    "elu_",
    "selu",
    "selu_",
    "celu",
    "celu_",
    "leaky_relu",
    "leaky_relu_",
    "prelu",
    "rrelu",
    "rrelu_",
    "glu",
    "gelu",
    "logsigmoid",
    "hardshrink",
    "tanhshrink",
    "softsign",
    "softplus",
    "softmin",
    "softmax",
    "softshrink",
    "gumbel_softmax",
    "log_softmax",
    "tanh",
    "sigmoid",
    "hardsigmoid",
    "silu",
    "mish",
    "hardswish",
]


def _check_tensor(name: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )


def _maybe_inplace(name: str, fn, input: Tensor, inplace: bool, *args) -> Tensor:
    _check_tensor(name, input)
    if inplace:
        return inplace_apply(input, fn, name + "_", args, {})
    return fn(input, *args)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``input`` where it is greater than ``threshold``, else ``value``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.threshold(torch.tensor([-1.0, 0.5, 2.0]), 1.0, 0.0)
        tensor([0., 0., 2.])
    """
    return _maybe_inplace("threshold", _A.threshold, input, inplace, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place ``threshold``."""
    return _maybe_inplace("threshold", _A.threshold, input, True, threshold, value)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(input, 0)`` elementwise.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.relu(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """
    return _maybe_inplace("relu", _P.relu, input, inplace)


def relu_(input: Tensor) -> Tensor:
    """In-place ``relu``."""
    return _maybe_inplace("relu", _P.relu, input, True)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """``input`` clamped to ``[min_val, max_val]`` (gradient 0 outside the open interval).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.hardtanh(torch.tensor([-2.0, 0.5, 3.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """
    return _maybe_inplace("hardtanh", _A.hardtanh, input, inplace, min_val, max_val)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place ``hardtanh``."""
    return _maybe_inplace("hardtanh", _A.hardtanh, input, True, min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(input, 0), 6)``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.relu6(torch.tensor([-1.0, 3.0, 9.0]))
        tensor([0., 3., 6.])
    """
    return _maybe_inplace("relu6", _A.relu6, input, inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.elu(torch.tensor([-1.0, 2.0]))
        tensor([-0.6321,  2.0000])
    """
    return _maybe_inplace("elu", _A.elu, input, inplace, alpha)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place ``elu``."""
    return _maybe_inplace("elu", _A.elu, input, True, alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with SELU's constants (alpha ~ 1.6733, scale ~ 1.0507).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.selu(torch.tensor([-1.0, 1.0]))
        tensor([-1.1113,  1.0507])
    """
    return _maybe_inplace("selu", _A.selu, input, inplace)


def selu_(input: Tensor) -> Tensor:
    """In-place ``selu``."""
    return _maybe_inplace("selu", _A.selu, input, True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.celu(torch.tensor([-1.0, 1.0]), alpha=2.0)
        tensor([-0.7869,  1.0000])
    """
    return _maybe_inplace("celu", _A.celu, input, inplace, alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place ``celu``."""
    return _maybe_inplace("celu", _A.celu, input, True, alpha)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` for ``x > 0``, else ``negative_slope * x``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.leaky_relu(torch.tensor([-2.0, 2.0]), 0.1)
        tensor([-0.2000,  2.0000])
    """
    return _maybe_inplace("leaky_relu", _A.leaky_relu, input, inplace, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place ``leaky_relu``."""
    return _maybe_inplace("leaky_relu", _A.leaky_relu, input, True, negative_slope)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` for ``x > 0``, else ``weight * x``, with one learned slope per channel (dim 1)
    or a single shared one.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.prelu(torch.tensor([[-1.0, 2.0]]), torch.tensor([0.25]))
        tensor([[-0.2500,  2.0000]])
    """
    _check_tensor("prelu", input)
    if not isinstance(weight, Tensor):
        raise TypeError(
            f"prelu(): argument 'weight' (position 2) must be Tensor, not {type(weight).__name__}"
        )
    n = weight._data.size
    nd = input._data.ndim
    if n != 1:
        channels = input._data.shape[1] if nd >= 2 else 1
        if weight._data.ndim != 1 or n != channels:
            raise RuntimeError(
                "Mismatch of parameter numbers and input channel size. Found parameter numbers "
                f"= {n} and channel size = {channels}."
            )
        w = weight.reshape((n,) + (1,) * (nd - 2))
    else:
        w = weight.reshape(()) if weight._data.ndim else weight
    return _P.where(input > 0, input, w * input)


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Randomized leaky ReLU: in training each negative element gets a slope drawn from
    ``U(lower, upper)``; in evaluation the slope is ``(lower + upper) / 2``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.rrelu(torch.tensor([-3.0, 1.0]), 0.1, 0.3)
        tensor([-0.6000,  1.0000])
    """
    return _maybe_inplace("rrelu", _rrelu, input, inplace, lower, upper, training)


def rrelu_(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False
) -> Tensor:
    """In-place ``rrelu``."""
    return _maybe_inplace("rrelu", _rrelu, input, True, lower, upper, training)


def _rrelu(input: Tensor, lower: float, upper: float, training: bool) -> Tensor:
    _A.require_float(input, "rrelu_with_noise_cpu")
    if not training:
        return _A.leaky_relu(input, (lower + upper) / 2)
    from ..._ops.random import _impl_for

    x = input._data
    dt = x.dtype if x.dtype.itemsize >= 4 and x.dtype.kind == "f" else "float32"
    u = _impl_for(None, input.device).uniform(x.shape, dt)
    noise = (u * (upper - lower) + lower).astype(x.dtype)
    noise[x > 0] = 1
    return _A.rrelu_with_noise(input, noise)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` where ``a, b`` are the halves of ``input`` along
    ``dim``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.glu(torch.tensor([1.0, 2.0, 0.0, 0.0]))
        tensor([0.5000, 1.0000])
    """
    _check_tensor("glu", input)
    nd = input._data.ndim
    if nd == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim + nd if dim < 0 else dim
    if not 0 <= d < nd:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})"
        )
    size = input._data.shape[d]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    a, b = input.split(size // 2, dim=d)
    return a * b.sigmoid()


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate='tanh'`` uses
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.gelu(torch.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.1587,  0.0000,  0.8413])
    """
    _check_tensor("gelu", input)
    return _A.gelu(input, approximate)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed without overflow.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.logsigmoid(torch.tensor([0.0, -100.0]))
        tensor([  -0.6931, -100.0000])
    """
    _check_tensor("logsigmoid", input)
    return _A.logsigmoid(input)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > lambd``, else 0.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.hardshrink(torch.tensor([-1.0, 0.2, 0.7]))
        tensor([-1.0000,  0.0000,  0.7000])
    """
    _check_tensor("hardshrink", input)
    return _A.hardshrink(input, lambd)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.tanhshrink(torch.tensor([1.0]))
        tensor([0.2384])
    """
    return input - input.tanh()


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.softsign(torch.tensor([-3.0, 1.0]))
        tensor([-0.7500,  0.5000])
    """
    return input / (input.abs() + 1)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, reverting to ``x`` where ``beta * x > threshold``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.softplus(torch.tensor([0.0, 30.0]))
        tensor([ 0.6931, 30.0000])
    """
    _check_tensor("softplus", input)
    return _A.softplus(input, beta, threshold)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.softshrink(torch.tensor([-1.0, 0.2, 1.5]))
        tensor([-0.5000,  0.0000,  1.0000])
    """
    _check_tensor("softshrink", input)
    return _A.softshrink(input, lambd)


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (computed stably); ``dtype`` casts first.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.softmax(torch.tensor([[1.0, 1.0], [0.0, 0.0]]), dim=1)
        tensor([[0.5000, 0.5000],
                [0.5000, 0.5000]])
    """
    _check_tensor("softmax", input)
    if dim is None:
        dim = _softmax_dim("softmax", input._data.ndim, _stacklevel)
    return _P.softmax(input, dim, dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``softmax(-x)`` along ``dim``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.softmin(torch.tensor([0.0, 0.0]), dim=0)
        tensor([0.5000, 0.5000])
    """
    _check_tensor("softmin", input)
    if dim is None:
        dim = _softmax_dim("softmin", input._data.ndim, _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return _P.softmax(-input, dim)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed stably.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.log_softmax(torch.tensor([0.0, 0.0]), dim=0)
        tensor([-0.6931, -0.6931])
    """
    _check_tensor("log_softmax", input)
    if dim is None:
        dim = _softmax_dim("log_softmax", input._data.ndim, _stacklevel)
    return _P.log_softmax(input, dim, dtype=dtype)


def gumbel_softmax(
    logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1
) -> Tensor:
    """Samples from the Gumbel-softmax distribution; ``hard=True`` returns one-hot vectors
    whose gradient is the soft sample's (straight-through).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> y = F.gumbel_softmax(torch.zeros(2, 3), hard=True)
        >>> y.sum(dim=-1)
        tensor([1., 1.])
    """
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    from ..._ops.creation import empty_like, zeros_like

    gumbels = -empty_like(logits).exponential_().log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.tanh(torch.tensor([0.0]))
        tensor([0.])
    """
    return _P.tanh(input)


def sigmoid(input: Tensor) -> Tensor:
    """The logistic function ``1 / (1 + exp(-x))``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.sigmoid(torch.tensor([0.0]))
        tensor([0.5000])
    """
    return _P.sigmoid(input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.hardsigmoid(torch.tensor([-4.0, 0.0, 4.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    return _maybe_inplace("hardsigmoid", _A.hardsigmoid, input, inplace)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (swish).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.silu(torch.tensor([0.0, 1.0]))
        tensor([0.0000, 0.7311])
    """
    return _maybe_inplace("silu", _A.silu, input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.mish(torch.tensor([0.0, 1.0]))
        tensor([0.0000, 0.8651])
    """
    return _maybe_inplace("mish", _A.mish, input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.hardswish(torch.tensor([-4.0, 1.0, 4.0]))
        tensor([-0.0000,  0.6667,  4.0000])
    """
    return _maybe_inplace("hardswish", _A.hardswish, input, inplace)
