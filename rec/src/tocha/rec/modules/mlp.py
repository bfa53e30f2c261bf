"""Perceptron and MLP (torchrec.modules.mlp).

Example:
    >>> import tocha.core as torch
    >>> mlp = MLP(in_size=4, layer_sizes=[8, 2])
    >>> mlp(torch.randn(3, 4)).shape
    torch.Size([3, 2])
    >>> list(mlp.state_dict())[:2]
    ['_mlp.0._linear.weight', '_mlp.0._linear.bias']
"""

from __future__ import annotations

from collections.abc import Callable

import tocha.core as torch
from tocha.core import Tensor, nn

__all__ = ["MLP", "Perceptron"]


class Perceptron(nn.Module):
    """A linear layer followed by an activation (ReLU by default)."""

    def __init__(
        self,
        in_size: int,
        out_size: int,
        bias: bool = True,
        activation: Callable[[Tensor], Tensor] | nn.Module = torch.relu,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self._out_size = out_size
        self._in_size = in_size
        self._linear = nn.Linear(in_size, out_size, bias=bias, device=device, dtype=dtype)
        self._activation_fn = activation

    def forward(self, input: Tensor) -> Tensor:
        return self._activation_fn(self._linear(input))


class MLP(nn.Module):
    """A stack of Perceptrons with sizes ``in_size -> layer_sizes[0] -> ... -> layer_sizes[-1]``.

    Args:
        in_size: input width.
        layer_sizes: output width of each layer.
        bias: whether the linear layers have a bias.
        activation: the activation after every layer (``"relu"``, ``"swish_layernorm"`` or a
            callable).
    """

    def __init__(
        self,
        in_size: int,
        layer_sizes: list[int],
        bias: bool = True,
        activation: str | Callable[[Tensor], Tensor] | nn.Module = torch.relu,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if activation == "relu":
            activation = torch.relu
        elif activation == "sigmoid":
            activation = torch.sigmoid
        elif isinstance(activation, str):
            raise ValueError(f"MLP: unknown activation {activation!r}")
        sizes = [in_size, *layer_sizes]
        self._mlp = nn.Sequential(
            *[
                Perceptron(sizes[i], sizes[i + 1], bias, activation, device, dtype)
                for i in range(len(layer_sizes))
            ]
        )

    def forward(self, input: Tensor) -> Tensor:
        return self._mlp(input)
