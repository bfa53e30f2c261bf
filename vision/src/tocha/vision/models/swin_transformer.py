"""Swin Transformer (Liu et al., 2021) and Swin Transformer V2 (Liu et al., 2022),
torchvision's module names (``features.1.0.attn.relative_position_bias_table``,
``features.1.0.attn.cpb_mlp.0.weight``, ``features.1.0.attn.logit_scale``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import tocha.core as torch
from tocha.core import nn
from tocha.core.nn import functional as F

from ..ops.misc import StochasticDepth
from ._api import Weights, WeightsEnum, register_model
from ._meta import _IMAGENET_CATEGORIES
from ._presets import ImageClassification
from ._utils import _load_weights, _ovewrite_named_param
from .convnext import Permute

__all__ = [
    "SwinTransformer",
    "Swin_T_Weights",
    "Swin_S_Weights",
    "Swin_B_Weights",
    "Swin_V2_T_Weights",
    "Swin_V2_S_Weights",
    "Swin_V2_B_Weights",
    "swin_t",
    "swin_s",
    "swin_b",
    "swin_v2_t",
    "swin_v2_s",
    "swin_v2_b",
]


def _patch_merging_pad(x):
    """(B, H, W, C) -> (B, ceil(H/2), ceil(W/2), 4C): the 2x2 neighbours side by side."""
    H, W = x.shape[-3], x.shape[-2]
    x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
    x0 = x[..., 0::2, 0::2, :]
    x1 = x[..., 1::2, 0::2, :]
    x2 = x[..., 0::2, 1::2, :]
    x3 = x[..., 1::2, 1::2, :]
    return torch.cat([x0, x1, x2, x3], -1)


class PatchMerging(nn.Module):
    """Halve the resolution, double the width: 2x2 concat, LayerNorm, linear 4C -> 2C."""

    def __init__(self, dim: int, norm_layer: Callable[..., nn.Module] = nn.LayerNorm) -> None:
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(4 * dim)

    def forward(self, x):
        return self.reduction(self.norm(_patch_merging_pad(x)))


class PatchMergingV2(nn.Module):
    """Swin V2's patch merging: 2x2 concat, linear 4C -> 2C, then LayerNorm (post-norm)."""

    def __init__(self, dim: int, norm_layer: Callable[..., nn.Module] = nn.LayerNorm) -> None:
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(2 * dim)

    def forward(self, x):
        return self.norm(self.reduction(_patch_merging_pad(x)))


def _relative_position_index(window_size: list[int]):
    """(ws0*ws1)^2 indices into the (2*ws0-1)*(2*ws1-1) table of relative offsets."""
    ws0, ws1 = window_size
    coords = torch.stack(torch.meshgrid(torch.arange(ws0), torch.arange(ws1), indexing="ij"))
    coords_flatten = torch.flatten(coords, 1)  # 2, ws0*ws1
    rel = coords_flatten[:, :, None] - coords_flatten[:, None, :]
    rel = rel.permute(1, 2, 0).contiguous()
    rel0 = (rel[:, :, 0] + (ws0 - 1)) * (2 * ws1 - 1)
    rel1 = rel[:, :, 1] + (ws1 - 1)
    return (rel0 + rel1).flatten()


def _relative_coords_table(window_size: list[int]):
    """Swin V2's log-spaced relative coordinates, (1, 2*ws0-1, 2*ws1-1, 2).

    Offsets are scaled to [-8, 8], then mapped by ``sign(t) * log2(1 + |t|) / 3``.
    """
    ws0, ws1 = window_size
    h = torch.arange(-(ws0 - 1), ws0, dtype=torch.float32) / max(ws0 - 1, 1)
    w = torch.arange(-(ws1 - 1), ws1, dtype=torch.float32) / max(ws1 - 1, 1)
    table = torch.stack(torch.meshgrid(h, w, indexing="ij")).permute(1, 2, 0).unsqueeze(0)
    table = table * 8
    return torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / 3.0


def shifted_window_attention(
    input,
    qkv_weight,
    proj_weight,
    relative_position_bias,
    window_size: list[int],
    num_heads: int,
    shift_size: list[int],
    attention_dropout: float = 0.0,
    dropout: float = 0.0,
    qkv_bias=None,
    proj_bias=None,
    logit_scale=None,
    training: bool = True,
):
    """Multi-head self-attention inside (optionally cyclically shifted) windows.

    ``input`` is (B, H, W, C); it is padded to whole windows, rolled by ``-shift_size``, cut
    into windows, attended within each window (tokens that came from different regions
    before the roll are masked with -100), and put back. With ``logit_scale`` (Swin V2) the
    logits are cosine similarities times ``exp(min(logit_scale, log 100))`` and the key bias
    is held at zero.
    """
    B, H, W, C = input.shape
    ws0, ws1 = window_size
    pad_r = (ws1 - W % ws1) % ws1
    pad_b = (ws0 - H % ws0) % ws0
    x = F.pad(input, (0, 0, 0, pad_r, 0, pad_b))
    _, pH, pW, _ = x.shape
    shift_size = list(shift_size)
    # a window covering the whole map makes shifting pointless
    if ws0 >= pH:
        shift_size[0] = 0
    if ws1 >= pW:
        shift_size[1] = 0
    shifted = sum(shift_size) > 0
    if shifted:
        x = torch.roll(x, shifts=(-shift_size[0], -shift_size[1]), dims=(1, 2))
    num_windows = (pH // ws0) * (pW // ws1)
    x = x.view(B, pH // ws0, ws0, pW // ws1, ws1, C)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(B * num_windows, ws0 * ws1, C)
    if logit_scale is not None and qkv_bias is not None:
        # V2 has no key bias; torchvision zeroes that third of a clone, which is this concat
        length = qkv_bias.numel() // 3
        qkv_bias = torch.cat(
            [qkv_bias[:length], qkv_bias.new_zeros(length), qkv_bias[2 * length :]]
        )
    qkv = F.linear(x, qkv_weight, qkv_bias)
    qkv = qkv.reshape(x.size(0), x.size(1), 3, num_heads, C // num_heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    if logit_scale is not None:
        attn = F.normalize(q, dim=-1).matmul(F.normalize(k, dim=-1).transpose(-2, -1))
        attn = attn * torch.clamp(logit_scale, max=math.log(100.0)).exp()
    else:
        q = q * (C // num_heads) ** -0.5
        attn = q.matmul(k.transpose(-2, -1))
    attn = attn + relative_position_bias
    if shifted:
        attn_mask = x.new_zeros((pH, pW))
        s0, s1 = shift_size
        h_slices = ((0, -ws0), (-ws0, -s0), (-s0, None))
        w_slices = ((0, -ws1), (-ws1, -s1), (-s1, None))
        count = 0
        for h in h_slices:
            for w in w_slices:
                attn_mask[h[0] : h[1], w[0] : w[1]] = count
                count += 1
        attn_mask = attn_mask.view(pH // ws0, ws0, pW // ws1, ws1)
        attn_mask = attn_mask.permute(0, 2, 1, 3).reshape(num_windows, ws0 * ws1)
        attn_mask = attn_mask.unsqueeze(1) - attn_mask.unsqueeze(2)
        attn_mask = attn_mask.masked_fill(attn_mask != 0, -100.0).masked_fill(attn_mask == 0, 0.0)
        n = x.size(1)
        attn = attn.view(x.size(0) // num_windows, num_windows, num_heads, n, n)
        attn = attn + attn_mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(-1, num_heads, n, n)
    attn = F.softmax(attn, dim=-1)
    attn = F.dropout(attn, p=attention_dropout, training=training)
    x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), x.size(1), C)
    x = F.linear(x, proj_weight, proj_bias)
    x = F.dropout(x, p=dropout, training=training)
    x = x.view(B, pH // ws0, pW // ws1, ws0, ws1, C)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(B, pH, pW, C)
    if shifted:
        x = torch.roll(x, shifts=(shift_size[0], shift_size[1]), dims=(1, 2))
    return x[:, :H, :W, :].contiguous()


class ShiftedWindowAttention(nn.Module):
    """Window attention with a learned relative-position bias per head."""

    def __init__(
        self,
        dim: int,
        window_size: list[int],
        shift_size: list[int],
        num_heads: int,
        qkv_bias: bool = True,
        proj_bias: bool = True,
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(window_size) != 2 or len(shift_size) != 2:
            raise ValueError(
                f"ShiftedWindowAttention: window_size and shift_size must have length 2, got "
                f"{window_size} and {shift_size}"
            )
        self.window_size = list(window_size)
        self.shift_size = list(shift_size)
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.define_relative_position_bias_table()
        # index of each (query, key) offset pair in the table
        self.register_buffer("relative_position_index", _relative_position_index(window_size))

    def define_relative_position_bias_table(self) -> None:
        ws0, ws1 = self.window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * ws0 - 1) * (2 * ws1 - 1), self.num_heads)
        )
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def get_relative_position_bias(self):
        n = self.window_size[0] * self.window_size[1]
        bias = self.relative_position_bias_table[self.relative_position_index]
        return bias.view(n, n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)

    def forward(self, x):
        return shifted_window_attention(
            x,
            self.qkv.weight,
            self.proj.weight,
            self.get_relative_position_bias(),
            self.window_size,
            self.num_heads,
            shift_size=self.shift_size,
            attention_dropout=self.attention_dropout,
            dropout=self.dropout,
            qkv_bias=self.qkv.bias,
            proj_bias=self.proj.bias,
            training=self.training,
        )


class ShiftedWindowAttentionV2(ShiftedWindowAttention):
    """Swin V2 window attention: scaled cosine attention with a learned per-head
    ``logit_scale``, and a continuous position bias ``16 * sigmoid(cpb_mlp(coords))`` read
    from an MLP on log-spaced relative coordinates instead of a learned table."""

    def __init__(
        self,
        dim: int,
        window_size: list[int],
        shift_size: list[int],
        num_heads: int,
        qkv_bias: bool = True,
        proj_bias: bool = True,
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(
            dim,
            window_size,
            shift_size,
            num_heads,
            qkv_bias=qkv_bias,
            proj_bias=proj_bias,
            attention_dropout=attention_dropout,
            dropout=dropout,
        )
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones((num_heads, 1, 1))))
        self.cpb_mlp = nn.Sequential(
            nn.Linear(2, 512, bias=True),
            nn.ReLU(inplace=True),
            nn.Linear(512, num_heads, bias=False),
        )
        if qkv_bias:
            length = self.qkv.bias.numel() // 3
            with torch.no_grad():
                self.qkv.bias[length : 2 * length] = 0.0

    def define_relative_position_bias_table(self) -> None:
        self.register_buffer("relative_coords_table", _relative_coords_table(self.window_size))

    def get_relative_position_bias(self):
        n = self.window_size[0] * self.window_size[1]
        table = self.cpb_mlp(self.relative_coords_table).view(-1, self.num_heads)
        bias = table[self.relative_position_index].view(n, n, -1)
        bias = bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        return 16 * torch.sigmoid(bias)

    def forward(self, x):
        return shifted_window_attention(
            x,
            self.qkv.weight,
            self.proj.weight,
            self.get_relative_position_bias(),
            self.window_size,
            self.num_heads,
            shift_size=self.shift_size,
            attention_dropout=self.attention_dropout,
            dropout=self.dropout,
            qkv_bias=self.qkv.bias,
            proj_bias=self.proj.bias,
            logit_scale=self.logit_scale,
            training=self.training,
        )


class SwinTransformerBlock(nn.Module):
    """``x + drop_path(attn(norm1(x)))``, then ``+ drop_path(mlp(norm2(.)))``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: list[int],
        shift_size: list[int],
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        stochastic_depth_prob: float = 0.0,
        norm_layer: Callable[..., nn.Module] = nn.LayerNorm,
        attn_layer: Callable[..., nn.Module] = ShiftedWindowAttention,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = attn_layer(
            dim,
            window_size,
            shift_size,
            num_heads,
            attention_dropout=attention_dropout,
            dropout=dropout,
        )
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.norm2 = norm_layer(dim)
        hidden = int(dim * mlp_ratio)
        # torchvision's MLP layout: Linear, GELU, Dropout, Linear, Dropout
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x):
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class SwinTransformerBlockV2(SwinTransformerBlock):
    """Swin V2's residual post-norm: ``x + drop_path(norm1(attn(x)))``, then
    ``+ drop_path(norm2(mlp(.)))``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: list[int],
        shift_size: list[int],
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        stochastic_depth_prob: float = 0.0,
        norm_layer: Callable[..., nn.Module] = nn.LayerNorm,
        attn_layer: Callable[..., nn.Module] = ShiftedWindowAttentionV2,
    ) -> None:
        super().__init__(
            dim,
            num_heads,
            window_size,
            shift_size,
            mlp_ratio=mlp_ratio,
            dropout=dropout,
            attention_dropout=attention_dropout,
            stochastic_depth_prob=stochastic_depth_prob,
            norm_layer=norm_layer,
            attn_layer=attn_layer,
        )

    def forward(self, x):
        x = x + self.stochastic_depth(self.norm1(self.attn(x)))
        return x + self.stochastic_depth(self.norm2(self.mlp(x)))


class SwinTransformer(nn.Module):
    """Swin Transformer: patch embedding, stages of (shifted) window blocks joined by patch
    merging, LayerNorm, global average pool, linear head. Works on channels-last features."""

    def __init__(
        self,
        patch_size: list[int],
        embed_dim: int,
        depths: list[int],
        num_heads: list[int],
        window_size: list[int],
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        stochastic_depth_prob: float = 0.1,
        num_classes: int = 1000,
        norm_layer: Callable[..., nn.Module] | None = None,
        block: Callable[..., nn.Module] | None = None,
        downsample_layer: Callable[..., nn.Module] = PatchMerging,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        if block is None:
            block = SwinTransformerBlock
        if norm_layer is None:
            norm_layer = partial(nn.LayerNorm, eps=1e-5)
        layers: list[nn.Module] = [
            nn.Sequential(
                nn.Conv2d(3, embed_dim, kernel_size=tuple(patch_size), stride=tuple(patch_size)),
                Permute([0, 2, 3, 1]),
                norm_layer(embed_dim),
            )
        ]
        total_stage_blocks = sum(depths)
        stage_block_id = 0
        for i_stage, depth in enumerate(depths):
            stage: list[nn.Module] = []
            dim = embed_dim * 2**i_stage
            for i_layer in range(depth):
                sd_prob = stochastic_depth_prob * float(stage_block_id) / (total_stage_blocks - 1)
                stage.append(
                    block(
                        dim,
                        num_heads[i_stage],
                        window_size=window_size,
                        # every second block shifts its windows by half a window
                        shift_size=[0 if i_layer % 2 == 0 else w // 2 for w in window_size],
                        mlp_ratio=mlp_ratio,
                        dropout=dropout,
                        attention_dropout=attention_dropout,
                        stochastic_depth_prob=sd_prob,
                        norm_layer=norm_layer,
                    )
                )
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
            if i_stage < len(depths) - 1:
                layers.append(downsample_layer(dim, norm_layer))
        self.features = nn.Sequential(*layers)
        num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = norm_layer(num_features)
        self.permute = Permute([0, 3, 1, 2])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.head = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.permute(self.norm(self.features(x)))
        return self.head(self.flatten(self.avgpool(x)))


_URL = "https://download.pytorch.org/models/"
_RECIPE = "https://github.com/pytorch/vision/tree/main/references/classification#swintransformer"
_RECIPE_V2 = (
    "https://github.com/pytorch/vision/tree/main/references/classification#swintransformer-v2"
)


def _w(file: str, num_params: int, crop: int, resize: int, min_size: int, recipe: str) -> Weights:
    return Weights(
        url=_URL + file,
        transforms=partial(
            ImageClassification, crop_size=crop, resize_size=resize, interpolation="bicubic"
        ),
        meta={
            "num_params": num_params,
            "min_size": (min_size, min_size),
            "categories": _IMAGENET_CATEGORIES,
            "recipe": recipe,
        },
    )


class Swin_T_Weights(WeightsEnum):
    IMAGENET1K_V1 = _w("swin_t-704ceda3.pth", 28288354, 224, 232, 224, _RECIPE)
    DEFAULT = IMAGENET1K_V1


class Swin_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = _w("swin_s-5e29d889.pth", 49606258, 224, 246, 224, _RECIPE)
    DEFAULT = IMAGENET1K_V1


class Swin_B_Weights(WeightsEnum):
    IMAGENET1K_V1 = _w("swin_b-68c6b09e.pth", 87768224, 224, 238, 224, _RECIPE)
    DEFAULT = IMAGENET1K_V1


class Swin_V2_T_Weights(WeightsEnum):
    IMAGENET1K_V1 = _w("swin_v2_t-b137f0e2.pth", 28351570, 256, 260, 256, _RECIPE_V2)
    DEFAULT = IMAGENET1K_V1


class Swin_V2_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = _w("swin_v2_s-637d8ceb.pth", 49737442, 256, 260, 256, _RECIPE_V2)
    DEFAULT = IMAGENET1K_V1


class Swin_V2_B_Weights(WeightsEnum):
    IMAGENET1K_V1 = _w("swin_v2_b-781e5279.pth", 87930848, 256, 272, 256, _RECIPE_V2)
    DEFAULT = IMAGENET1K_V1


def _swin_transformer(
    patch_size: list[int],
    embed_dim: int,
    depths: list[int],
    num_heads: list[int],
    window_size: list[int],
    stochastic_depth_prob: float,
    weights,
    progress: bool,
    **kwargs: Any,
) -> SwinTransformer:
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = SwinTransformer(
        patch_size=patch_size,
        embed_dim=embed_dim,
        depths=depths,
        num_heads=num_heads,
        window_size=window_size,
        stochastic_depth_prob=stochastic_depth_prob,
        **kwargs,
    )
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


_V2 = {"block": SwinTransformerBlockV2, "downsample_layer": PatchMergingV2}


@register_model()
def swin_t(
    *, weights: Swin_T_Weights | None = None, progress: bool = True, **kwargs: Any
) -> SwinTransformer:
    """Swin-T: embed 96, depths (2, 2, 6, 2), heads (3, 6, 12, 24), 7x7 windows.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models import swin_t
        >>> swin_t(num_classes=3).eval()(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 3])
    """
    weights = Swin_T_Weights.verify(weights)
    sd = kwargs.pop("stochastic_depth_prob", 0.2)
    return _swin_transformer(
        [4, 4], 96, [2, 2, 6, 2], [3, 6, 12, 24], [7, 7], sd, weights, progress, **kwargs
    )


@register_model()
def swin_s(
    *, weights: Swin_S_Weights | None = None, progress: bool = True, **kwargs: Any
) -> SwinTransformer:
    """Swin-S: as Swin-T with depths (2, 2, 18, 2); arguments as :func:`swin_t`."""
    weights = Swin_S_Weights.verify(weights)
    sd = kwargs.pop("stochastic_depth_prob", 0.3)
    return _swin_transformer(
        [4, 4], 96, [2, 2, 18, 2], [3, 6, 12, 24], [7, 7], sd, weights, progress, **kwargs
    )


@register_model()
def swin_b(
    *, weights: Swin_B_Weights | None = None, progress: bool = True, **kwargs: Any
) -> SwinTransformer:
    """Swin-B: embed 128, depths (2, 2, 18, 2), heads (4, 8, 16, 32); as :func:`swin_t`."""
    weights = Swin_B_Weights.verify(weights)
    sd = kwargs.pop("stochastic_depth_prob", 0.5)
    return _swin_transformer(
        [4, 4], 128, [2, 2, 18, 2], [4, 8, 16, 32], [7, 7], sd, weights, progress, **kwargs
    )


@register_model()
def swin_v2_t(
    *, weights: Swin_V2_T_Weights | None = None, progress: bool = True, **kwargs: Any
) -> SwinTransformer:
    """Swin-V2-T ("Swin Transformer V2: Scaling Up Capacity and Resolution"): embed 96, depths
    (2, 2, 6, 2), heads (3, 6, 12, 24), 8x8 windows, post-norm blocks with cosine attention
    and a continuous position bias, :class:`PatchMergingV2`.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models import swin_v2_t
        >>> swin_v2_t(num_classes=3).eval()(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 3])
    """
    weights = Swin_V2_T_Weights.verify(weights)
    sd = kwargs.pop("stochastic_depth_prob", 0.2)
    return _swin_transformer(
        [4, 4], 96, [2, 2, 6, 2], [3, 6, 12, 24], [8, 8], sd, weights, progress, **_V2, **kwargs
    )


@register_model()
def swin_v2_s(
    *, weights: Swin_V2_S_Weights | None = None, progress: bool = True, **kwargs: Any
) -> SwinTransformer:
    """Swin-V2-S: as Swin-V2-T with depths (2, 2, 18, 2); arguments as :func:`swin_v2_t`."""
    weights = Swin_V2_S_Weights.verify(weights)
    sd = kwargs.pop("stochastic_depth_prob", 0.3)
    return _swin_transformer(
        [4, 4], 96, [2, 2, 18, 2], [3, 6, 12, 24], [8, 8], sd, weights, progress, **_V2, **kwargs
    )


@register_model()
def swin_v2_b(
    *, weights: Swin_V2_B_Weights | None = None, progress: bool = True, **kwargs: Any
) -> SwinTransformer:
    """Swin-V2-B: embed 128, depths (2, 2, 18, 2), heads (4, 8, 16, 32); as :func:`swin_v2_t`."""
    weights = Swin_V2_B_Weights.verify(weights)
    sd = kwargs.pop("stochastic_depth_prob", 0.5)
    return _swin_transformer(
        [4, 4], 128, [2, 2, 18, 2], [4, 8, 16, 32], [8, 8], sd, weights, progress, **_V2, **kwargs
    )
