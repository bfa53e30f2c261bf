"""Building blocks shared by the model zoo, with torchvision's names and semantics.

``Conv2dNormActivation`` (conv -> norm -> activation as a ``Sequential``, so state_dict keys are
``0.weight``, ``1.running_mean``, ...), ``SqueezeExcitation`` and stochastic depth.
"""

from __future__ import annotations

from collections.abc import Callable

import tocha.core as torch
from tocha.core import nn

__all__ = [
    "Conv2dNormActivation",
    "FrozenBatchNorm2d",
    "SqueezeExcitation",
    "StochasticDepth",
    "stochastic_depth",
]


class Conv2dNormActivation(nn.Sequential):
    """Conv2d, then a normalization layer, then an activation (torchvision's block).

    Args:
        in_channels, out_channels, kernel_size, stride, groups, dilation: as for ``Conv2d``.
        padding: default ``(kernel_size - 1) // 2 * dilation`` (keeps the size at stride 1).
        norm_layer: built as ``norm_layer(out_channels)``; None for no normalization.
        activation_layer: built as ``activation_layer(inplace=inplace)``; None for none.
        bias: default: a bias only when there is no normalization layer.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import Conv2dNormActivation
        >>> block = Conv2dNormActivation(3, 8, kernel_size=3, stride=2)
        >>> block(torch.zeros(1, 3, 16, 16)).shape
        torch.Size([1, 8, 8, 8])
        >>> [k for k in block.state_dict()][:3]
        ['0.weight', '1.weight', '1.bias']
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str | None = None,
        groups: int = 1,
        norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm2d,
        activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
        dilation: int | tuple[int, int] = 1,
        inplace: bool | None = True,
        bias: bool | None = None,
    ) -> None:
        if padding is None:
            if isinstance(kernel_size, int) and isinstance(dilation, int):
                padding = (kernel_size - 1) // 2 * dilation
            else:
                ks = (kernel_size,) * 2 if isinstance(kernel_size, int) else kernel_size
                dl = (dilation,) * 2 if isinstance(dilation, int) else dilation
                padding = tuple((k - 1) // 2 * d for k, d in zip(ks, dl))
        if bias is None:
            bias = norm_layer is None
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                dilation=dilation,
                groups=groups,
                bias=bias,
            )
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al.): ``x * scale_activation(fc2(activation(fc1(pool(x)))))``.

    ``fc1``/``fc2`` are 1x1 convolutions, as in torchvision (so its checkpoints load).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import SqueezeExcitation
        >>> se = SqueezeExcitation(8, 2)
        >>> se(torch.ones(1, 8, 4, 4)).shape
        torch.Size([1, 8, 4, 4])
        >>> sorted(se.state_dict())
        ['fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight']
    """

    def __init__(
        self,
        input_channels: int,
        squeeze_channels: int,
        activation: Callable[..., nn.Module] = nn.ReLU,
        scale_activation: Callable[..., nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, input):
        scale = self.avgpool(input)
        scale = self.fc1(scale)
        scale = self.activation(scale)
        scale = self.fc2(scale)
        return self.scale_activation(scale)

    def forward(self, input):
        return self._scale(input) * input


def stochastic_depth(input, p: float, mode: str, training: bool = True):
    """Randomly zero whole residual branches (Huang et al., "Deep Networks with Stochastic Depth").

    Args:
        input: a tensor whose first dimension is the batch.
        p: probability of zeroing; survivors are scaled by ``1 / (1 - p)``.
        mode: ``"row"`` zeroes per sample, ``"batch"`` zeroes the whole batch at once.
        training: identity when False (and when ``p == 0``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import stochastic_depth
        >>> x = torch.ones(4, 3)
        >>> torch.equal(stochastic_depth(x, 0.5, "row", training=False), x)
        True
        >>> stochastic_depth(x, 1.0, "batch").sum().item()
        0.0
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ("batch", "row"):
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    survival_rate = 1.0 - p
    if mode == "row":
        size = [input.shape[0]] + [1] * (input.ndim - 1)
    else:
        size = [1] * input.ndim
    noise = torch.empty(size, dtype=input.dtype, device=input.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return input * noise


class StochasticDepth(nn.Module):
    """Module form of :func:`stochastic_depth` (active in training mode only).

    Example:
        >>> from tocha.vision.ops import StochasticDepth
        >>> StochasticDepth(0.2, "row")
        StochasticDepth(p=0.2, mode=row)
    """

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, input):
        return stochastic_depth(input, self.p, self.mode, self.training)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, mode={self.mode})"


class FrozenBatchNorm2d(nn.Module):
    """``y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`` with every term fixed.

    The detectors use it in pretrained backbones, where batches are too small for batch
    statistics. A BatchNorm2d checkpoint loads into it (``num_batches_tracked`` is dropped).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops.misc import FrozenBatchNorm2d
        >>> bn = FrozenBatchNorm2d(2)
        >>> sorted(bn.state_dict()), len(list(bn.parameters()))
        (['bias', 'running_mean', 'running_var', 'weight'], 0)
        >>> bn(torch.ones(1, 2, 1, 1)).flatten()
        tensor([1.0000, 1.0000])
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def forward(self, x):
        # folded into one scale and shift: two cheap broadcasts instead of four
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.weight.shape[0]}, eps={self.eps})"
