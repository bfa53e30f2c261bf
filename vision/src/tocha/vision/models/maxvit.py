"""MaxViT (Tu et al., "MaxViT: Multi-Axis Vision Transformer"), torchvision's module names
(``stem.0.0.weight``, ``blocks.0.layers.0.layers.MBconv.layers.conv_a.0.weight``,
``blocks.0.layers.0.layers.window_attention.attn_layer.1.relative_position_bias_table``).

Each layer is an MBConv followed by two attention sub-layers: "window" attention inside
non-overlapping P x P blocks, then "grid" attention among tokens P apart (a sparse, dilated
global mix). Both use a learned relative-position bias table.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

import tocha.core as torch
from tocha.core import nn
from tocha.core.nn import functional as F

from ..ops.misc import Conv2dNormActivation, SqueezeExcitation, StochasticDepth
from ._api import Weights, WeightsEnum, register_model
from ._meta import _IMAGENET_CATEGORIES
from ._presets import ImageClassification
from ._utils import _load_weights, _ovewrite_named_param

__all__ = ["MaxVit", "MaxVit_T_Weights", "maxvit_t"]


def _get_conv_output_shape(
    input_size: tuple[int, int], kernel_size: int, stride: int, padding: int
) -> tuple[int, int]:
    return (
        (input_size[0] - kernel_size + 2 * padding) // stride + 1,
        (input_size[1] - kernel_size + 2 * padding) // stride + 1,
    )


def _make_block_input_shapes(input_size: tuple[int, int], n_blocks: int) -> list[tuple[int, int]]:
    """The feature size each block's attention sees: the stem and every block halve it."""
    shapes = []
    shape = _get_conv_output_shape(input_size, 3, 2, 1)
    for _ in range(n_blocks):
        shape = _get_conv_output_shape(shape, 3, 2, 1)
        shapes.append(shape)
    return shapes


def _get_relative_position_index(height: int, width: int):
    """(H*W, H*W) indices into the (2H-1)*(2W-1) table of relative offsets (row-major)."""
    coords = torch.stack(torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij"))
    coords_flat = torch.flatten(coords, 1)
    rel = (coords_flat[:, :, None] - coords_flat[:, None, :]).permute(1, 2, 0)
    return (rel[:, :, 0] + (height - 1)) * (2 * width - 1) + (rel[:, :, 1] + (width - 1))


class MBConv(nn.Module):
    """Pre-norm MBConv: BN, 1x1 expand, 3x3 depthwise (the stride), squeeze-excitation,
    1x1 project; the shortcut is avg-pooled and 1x1-projected when the shape changes."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expansion_ratio: float,
        squeeze_ratio: float,
        stride: int,
        activation_layer: Callable[..., nn.Module],
        norm_layer: Callable[..., nn.Module],
        p_stochastic_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        proj: list[nn.Module] = []
        if stride != 1 or in_channels != out_channels:
            proj = [nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, bias=True)]
            if stride == 2:
                proj = [nn.AvgPool2d(kernel_size=3, stride=stride, padding=1), *proj]
        self.proj = nn.Sequential(*proj) if proj else nn.Identity()
        mid_channels = int(out_channels * expansion_ratio)
        sqz_channels = int(out_channels * squeeze_ratio)
        if p_stochastic_dropout:
            self.stochastic_depth = StochasticDepth(p_stochastic_dropout, mode="row")
        else:
            self.stochastic_depth = nn.Identity()
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["pre_norm"] = norm_layer(in_channels)
        layers["conv_a"] = Conv2dNormActivation(
            in_channels,
            mid_channels,
            kernel_size=1,
            stride=1,
            padding=0,
            activation_layer=activation_layer,
            norm_layer=norm_layer,
            inplace=None,
        )
        layers["conv_b"] = Conv2dNormActivation(
            mid_channels,
            mid_channels,
            kernel_size=3,
            stride=stride,
            padding=1,
            activation_layer=activation_layer,
            norm_layer=norm_layer,
            groups=mid_channels,
            inplace=None,
        )
        layers["squeeze_excitation"] = SqueezeExcitation(
            mid_channels, sqz_channels, activation=nn.SiLU
        )
        layers["conv_c"] = nn.Conv2d(mid_channels, out_channels, kernel_size=1, bias=True)
        self.layers = nn.Sequential(layers)

    def forward(self, x):
        return self.proj(x) + self.stochastic_depth(self.layers(x))


class RelativePositionalMultiHeadAttention(nn.Module):
    """Multi-head attention over (B, G, P, D) token groups with a relative-position bias.

    As torchvision, the logits are scaled by ``feat_dim ** -0.5`` (not ``head_dim``): the
    published weights were trained that way.
    """

    def __init__(self, feat_dim: int, head_dim: int, max_seq_len: int) -> None:
        super().__init__()
        if feat_dim % head_dim != 0:
            raise ValueError(
                f"RelativePositionalMultiHeadAttention: feat_dim {feat_dim} is not divisible "
                f"by head_dim {head_dim}"
            )
        self.n_heads = feat_dim // head_dim
        self.head_dim = head_dim
        self.size = int(math.sqrt(max_seq_len))
        self.max_seq_len = max_seq_len
        self.to_qkv = nn.Linear(feat_dim, self.n_heads * self.head_dim * 3)
        self.scale_factor = feat_dim**-0.5
        self.merge = nn.Linear(self.head_dim * self.n_heads, feat_dim)
        self.relative_position_bias_table = nn.Parameter(
            torch.empty((2 * self.size - 1) * (2 * self.size - 1), self.n_heads)
        )
        self.register_buffer(
            "relative_position_index", _get_relative_position_index(self.size, self.size)
        )
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def get_relative_positional_bias(self):
        index = self.relative_position_index.reshape(-1)
        bias = self.relative_position_bias_table[index].view(self.max_seq_len, self.max_seq_len, -1)
        return bias.permute(2, 0, 1).contiguous().unsqueeze(0)

    def forward(self, x):
        B, G, P, D = x.shape
        H, DH = self.n_heads, self.head_dim
        q, k, v = torch.chunk(self.to_qkv(x), 3, dim=-1)
        q = q.reshape(B, G, P, H, DH).permute(0, 1, 3, 2, 4)
        k = k.reshape(B, G, P, H, DH).permute(0, 1, 3, 2, 4)
        v = v.reshape(B, G, P, H, DH).permute(0, 1, 3, 2, 4)
        k = k * self.scale_factor
        logits = q.matmul(k.transpose(-2, -1)) + self.get_relative_positional_bias()
        out = F.softmax(logits, dim=-1).matmul(v)
        out = out.permute(0, 1, 3, 2, 4).reshape(B, G, P, D)
        return self.merge(out)


class SwapAxes(nn.Module):
    """``torch.swapaxes(x, a, b)`` as a module."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__()
        self.a = a
        self.b = b

    def forward(self, x):
        return torch.swapaxes(x, self.a, self.b)


class WindowPartition(nn.Module):
    """(B, C, H, W) -> (B, H/p * W/p, p*p, C): non-overlapping p x p windows of tokens."""

    def forward(self, x, p: int):
        B, C, H, W = x.shape
        x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(B, (H // p) * (W // p), p * p, C)


class WindowDepartition(nn.Module):
    """The inverse of :class:`WindowPartition`."""

    def forward(self, x, p: int, h_partitions: int, w_partitions: int):
        B, G, PP, C = x.shape
        x = x.reshape(B, h_partitions, w_partitions, p, p, C).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(B, C, h_partitions * p, w_partitions * p)


class PartitionAttentionLayer(nn.Module):
    """Pre-norm attention then MLP over window or grid partitions, each with a residual.

    ``partition_type='window'`` attends within p x p blocks; ``'grid'`` partitions into
    ``grid_size/p`` x ``grid_size/p`` blocks and swaps the group and token axes, so each
    attention group holds tokens spread p apart over the whole map.
    """

    def __init__(
        self,
        in_channels: int,
        head_dim: int,
        partition_size: int,
        partition_type: str,
        grid_size: tuple[int, int],
        mlp_ratio: int,
        activation_layer: Callable[..., nn.Module],
        norm_layer: Callable[..., nn.Module],
        attention_dropout: float,
        mlp_dropout: float,
        p_stochastic_dropout: float,
    ) -> None:
        super().__init__()
        if partition_type not in ("grid", "window"):
            raise ValueError(
                f"PartitionAttentionLayer: partition_type must be 'grid' or 'window', got "
                f"{partition_type!r}"
            )
        self.n_heads = in_channels // head_dim
        self.head_dim = head_dim
        self.n_partitions = grid_size[0] // partition_size
        self.partition_type = partition_type
        self.grid_size = grid_size
        if partition_type == "window":
            self.p, self.g = partition_size, self.n_partitions
        else:
            self.p, self.g = self.n_partitions, partition_size
        self.partition_op = WindowPartition()
        self.departition_op = WindowDepartition()
        swap = partition_type == "grid"
        self.partition_swap = SwapAxes(-2, -3) if swap else nn.Identity()
        self.departition_swap = SwapAxes(-2, -3) if swap else nn.Identity()
        self.attn_layer = nn.Sequential(
            norm_layer(in_channels),
            RelativePositionalMultiHeadAttention(in_channels, head_dim, partition_size**2),
            nn.Dropout(attention_dropout),
        )
        self.mlp_layer = nn.Sequential(
            nn.LayerNorm(in_channels),
            nn.Linear(in_channels, in_channels * mlp_ratio),
            activation_layer(),
            nn.Linear(in_channels * mlp_ratio, in_channels),
            nn.Dropout(mlp_dropout),
        )
        self.stochastic_dropout = StochasticDepth(p_stochastic_dropout, mode="row")

    def forward(self, x):
        gh, gw = self.grid_size[0] // self.p, self.grid_size[1] // self.p
        h, w = x.shape[-2], x.shape[-1]
        if (h, w) != tuple(self.grid_size):
            raise ValueError(
                f"PartitionAttentionLayer: expected a {self.grid_size[0]}x{self.grid_size[1]} "
                f"feature map, got {h}x{w} (the model's input_size fixes it)"
            )
        x = self.partition_swap(self.partition_op(x, self.p))
        x = x + self.stochastic_dropout(self.attn_layer(x))
        x = x + self.stochastic_dropout(self.mlp_layer(x))
        return self.departition_op(self.departition_swap(x), self.p, gh, gw)


class MaxVitLayer(nn.Module):
    """MBConv, window attention, grid attention (``layers.MBconv``, ``layers.window_attention``,
    ``layers.grid_attention``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        squeeze_ratio: float,
        expansion_ratio: float,
        stride: int,
        norm_layer: Callable[..., nn.Module],
        activation_layer: Callable[..., nn.Module],
        head_dim: int,
        mlp_ratio: int,
        mlp_dropout: float,
        attention_dropout: float,
        p_stochastic_dropout: float,
        partition_size: int,
        grid_size: tuple[int, int],
    ) -> None:
        super().__init__()
        attn = partial(
            PartitionAttentionLayer,
            out_channels,
            head_dim,
            partition_size,
            grid_size=grid_size,
            mlp_ratio=mlp_ratio,
            activation_layer=activation_layer,
            norm_layer=nn.LayerNorm,
            attention_dropout=attention_dropout,
            mlp_dropout=mlp_dropout,
            p_stochastic_dropout=p_stochastic_dropout,
        )
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["MBconv"] = MBConv(
            in_channels,
            out_channels,
            expansion_ratio,
            squeeze_ratio,
            stride,
            activation_layer,
            norm_layer,
            p_stochastic_dropout,
        )
        layers["window_attention"] = attn(partition_type="window")
        layers["grid_attention"] = attn(partition_type="grid")
        self.layers = nn.Sequential(layers)

    def forward(self, x):
        return self.layers(x)


class MaxVitBlock(nn.Module):
    """``n_layers`` MaxViT layers; the first halves the resolution (stride 2)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        squeeze_ratio: float,
        expansion_ratio: float,
        norm_layer: Callable[..., nn.Module],
        activation_layer: Callable[..., nn.Module],
        head_dim: int,
        mlp_ratio: int,
        mlp_dropout: float,
        attention_dropout: float,
        partition_size: int,
        input_grid_size: tuple[int, int],
        n_layers: int,
        p_stochastic: list[float],
    ) -> None:
        super().__init__()
        if len(p_stochastic) != n_layers:
            raise ValueError(
                f"MaxVitBlock: p_stochastic has {len(p_stochastic)} entries for {n_layers} layers"
            )
        self.layers = nn.ModuleList()
        self.grid_size = _get_conv_output_shape(input_grid_size, kernel_size=3, stride=2, padding=1)
        for idx, p in enumerate(p_stochastic):
            self.layers.append(
                MaxVitLayer(
                    in_channels=in_channels if idx == 0 else out_channels,
                    out_channels=out_channels,
                    squeeze_ratio=squeeze_ratio,
                    expansion_ratio=expansion_ratio,
                    stride=2 if idx == 0 else 1,
                    norm_layer=norm_layer,
                    activation_layer=activation_layer,
                    head_dim=head_dim,
                    mlp_ratio=mlp_ratio,
                    mlp_dropout=mlp_dropout,
                    attention_dropout=attention_dropout,
                    p_stochastic_dropout=p,
                    partition_size=partition_size,
                    grid_size=self.grid_size,
                )
            )

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class MaxVit(nn.Module):
    """MaxViT: a two-conv stem (stride 2), blocks of MaxViT layers, then pool, LayerNorm,
    Linear + Tanh and a bias-free linear classifier.

    Args:
        input_size: (H, W) the model is built for; every block's feature size must be divisible
            by ``partition_size``.
        stem_channels: width of the stem.
        partition_size: window and grid size P.
        block_channels, block_layers: width and depth of each block.
        head_dim: channels per attention head.
        stochastic_depth_prob: the largest drop-path rate (linear over all layers from 0).
        norm_layer: default ``BatchNorm2d(eps=1e-3, momentum=0.01)``.
        activation_layer, squeeze_ratio, expansion_ratio, mlp_ratio, mlp_dropout,
        attention_dropout, num_classes: as in the paper / torchvision.
    """

    def __init__(
        self,
        input_size: tuple[int, int],
        stem_channels: int,
        partition_size: int,
        block_channels: list[int],
        block_layers: list[int],
        head_dim: int,
        stochastic_depth_prob: float,
        norm_layer: Callable[..., nn.Module] | None = None,
        activation_layer: Callable[..., nn.Module] = nn.GELU,
        squeeze_ratio: float = 0.25,
        expansion_ratio: float = 4,
        mlp_ratio: int = 4,
        mlp_dropout: float = 0.0,
        attention_dropout: float = 0.0,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = partial(nn.BatchNorm2d, eps=1e-3, momentum=0.01)
        input_size = tuple(input_size)
        for idx, size in enumerate(_make_block_input_shapes(input_size, len(block_channels))):
            if size[0] % partition_size != 0 or size[1] % partition_size != 0:
                raise ValueError(
                    f"MaxVit: input size {input_size} gives block {idx} a {size[0]}x{size[1]} "
                    f"map, not divisible by partition_size {partition_size}; use a multiple "
                    f"of {partition_size * 2 ** (len(block_channels) + 1)}"
                )
        self.stem = nn.Sequential(
            Conv2dNormActivation(
                3,
                stem_channels,
                3,
                stride=2,
                norm_layer=norm_layer,
                activation_layer=activation_layer,
                bias=False,
                inplace=None,
            ),
            Conv2dNormActivation(
                stem_channels,
                stem_channels,
                3,
                stride=1,
                norm_layer=None,
                activation_layer=None,
                bias=True,
            ),
        )
        grid = _get_conv_output_shape(input_size, kernel_size=3, stride=2, padding=1)
        self.partition_size = partition_size
        self.blocks = nn.ModuleList()
        in_channels = [stem_channels, *block_channels[:-1]]
        p_stochastic = np.linspace(0, stochastic_depth_prob, sum(block_layers)).tolist()
        p_idx = 0
        for in_ch, out_ch, n in zip(in_channels, block_channels, block_layers):
            self.blocks.append(
                MaxVitBlock(
                    in_channels=in_ch,
                    out_channels=out_ch,
                    squeeze_ratio=squeeze_ratio,
                    expansion_ratio=expansion_ratio,
                    norm_layer=norm_layer,
                    activation_layer=activation_layer,
                    head_dim=head_dim,
                    mlp_ratio=mlp_ratio,
                    mlp_dropout=mlp_dropout,
                    attention_dropout=attention_dropout,
                    partition_size=partition_size,
                    input_grid_size=grid,
                    n_layers=n,
                    p_stochastic=p_stochastic[p_idx : p_idx + n],
                )
            )
            grid = self.blocks[-1].grid_size
            p_idx += n
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.LayerNorm(block_channels[-1]),
            nn.Linear(block_channels[-1], block_channels[-1]),
            nn.Tanh(),
            nn.Linear(block_channels[-1], num_classes, bias=False),
        )
        self._init_weights()

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.classifier(x)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


class MaxVit_T_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/maxvit_t-bc5ab103.pth",
        transforms=partial(
            ImageClassification, crop_size=224, resize_size=224, interpolation="bicubic"
        ),
        meta={
            "categories": _IMAGENET_CATEGORIES,
            "num_params": 30919624,
            "min_size": (224, 224),
            "recipe": "https://github.com/pytorch/vision/tree/main/references/classification#maxvit",
        },
    )
    DEFAULT = IMAGENET1K_V1


def _maxvit(
    stem_channels: int,
    block_channels: list[int],
    block_layers: list[int],
    stochastic_depth_prob: float,
    partition_size: int,
    head_dim: int,
    weights,
    progress: bool,
    **kwargs: Any,
) -> MaxVit:
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
        _ovewrite_named_param(kwargs, "input_size", weights.meta["min_size"])
    input_size = kwargs.pop("input_size", (224, 224))
    model = MaxVit(
        stem_channels=stem_channels,
        block_channels=block_channels,
        block_layers=block_layers,
        stochastic_depth_prob=stochastic_depth_prob,
        head_dim=head_dim,
        partition_size=partition_size,
        input_size=input_size,
        **kwargs,
    )
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


@register_model()
def maxvit_t(
    *, weights: MaxVit_T_Weights | None = None, progress: bool = True, **kwargs: Any
) -> MaxVit:
    """MaxViT-T: stem 64, blocks (64, 128, 256, 512) x (2, 2, 5, 2), head_dim 32, P = 7.

    The input size is fixed at build time (``input_size``, default (224, 224)); it must be a
    multiple of 224 = 7 * 2**5 on each side.

    Args:
        weights: a :class:`MaxVit_T_Weights` member (or its name), or None.
        progress: show a download progress bar.
        **kwargs: passed to :class:`MaxVit`.

    Example:
        >>> from tocha.vision.models import maxvit_t
        >>> m = maxvit_t(num_classes=10)
        >>> m.blocks[3].layers[0].layers.grid_attention.grid_size
        (7, 7)
    """
    weights = MaxVit_T_Weights.verify(weights)
    sd = kwargs.pop("stochastic_depth_prob", 0.2)
    return _maxvit(64, [64, 128, 256, 512], [2, 2, 5, 2], sd, 7, 32, weights, progress, **kwargs)
