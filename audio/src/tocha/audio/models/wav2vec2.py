"""wav2vec 2.0 / HuBERT architectures with torchaudio's module tree and ``state_dict`` keys
(``feature_extractor.conv_layers.N.conv.weight``, ``encoder.feature_projection.*``,
``encoder.transformer.pos_conv_embed.conv.parametrizations.weight.original0/1`` (the weight-norm
magnitude and direction; checkpoints with the older ``weight_g``/``weight_v`` names load too),
``encoder.transformer.layers.N.attention.{q,k,v,out}_proj.*``, ``...feed_forward.*``, ``aux.*``),
so torchaudio checkpoints load as they are. WavLM's attention (gated relative position bias)
is in ``wavlm.py``."""

from __future__ import annotations

from collections.abc import Callable

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn

Tensor = torch.Tensor


class ConvLayerBlock(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        bias: bool,
        layer_norm: nn.Module | None,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.layer_norm = layer_norm
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, bias=bias)

    def forward(self, x: Tensor, length: Tensor | None):
        x = self.conv(x)
        if self.layer_norm is not None:
            if isinstance(self.layer_norm, nn.LayerNorm):
                x = self.layer_norm(x.transpose(-2, -1)).transpose(-2, -1)
            else:
                x = self.layer_norm(x)
        x = F.gelu(x)
        if length is not None:
            length = torch.clamp(
                torch.div(length - self.kernel_size, self.stride, rounding_mode="floor") + 1,
                min=0,
            )
        return x, length


class FeatureExtractor(nn.Module):
    def __init__(self, conv_layers: nn.ModuleList) -> None:
        super().__init__()
        self.conv_layers = conv_layers

    def forward(self, x: Tensor, length: Tensor | None):
        if x.dim() != 2:
            raise ValueError(
                f"FeatureExtractor: expected (batch, time) audio, got {tuple(x.shape)}"
            )
        x = x.unsqueeze(1)
        for layer in self.conv_layers:
            x, length = layer(x, length)
        return x.transpose(1, 2), length


class FeatureProjection(nn.Module):
    def __init__(self, in_features: int, out_features: int, dropout: float) -> None:
        super().__init__()
        self.layer_norm = nn.LayerNorm(in_features)
        self.projection = nn.Linear(in_features, out_features)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.projection(self.layer_norm(x)))


class ConvolutionalPositionalEmbedding(nn.Module):
    """Grouped convolution over time with weight normalisation: ``weight = g * v / |v|`` with
    the norm over all dims but the kernel dim (``parametrizations.weight.original0`` is g,
    ``original1`` is v, as torch's parametrized ``weight_norm(dim=2)`` names them)."""

    def __init__(self, embed_dim: int, kernel_size: int, groups: int) -> None:
        super().__init__()
        self.embed_dim, self.kernel_size, self.groups = embed_dim, kernel_size, groups
        conv = nn.Conv1d(embed_dim, embed_dim, kernel_size, padding=kernel_size // 2, groups=groups)
        v = conv.weight.detach()
        weight = nn.Module()
        weight.original0 = nn.Parameter(self._norm(v))
        weight.original1 = nn.Parameter(v.clone())
        self.conv = nn.Module()
        self.conv.parametrizations = nn.Module()
        self.conv.parametrizations.weight = weight
        self.conv.bias = conv.bias
        self.num_remove = 1 if kernel_size % 2 == 0 else 0

    @staticmethod
    def _norm(v: Tensor) -> Tensor:
        return (v * v).sum(dim=(0, 1), keepdim=True).sqrt()

    def forward(self, x: Tensor) -> Tensor:
        w = self.conv.parametrizations.weight
        weight = w.original0 * w.original1 / self._norm(w.original1)
        x = F.conv1d(
            x.transpose(-2, -1),
            weight,
            self.conv.bias,
            padding=self.kernel_size // 2,
            groups=self.groups,
        )
        if self.num_remove:
            x = x[..., : -self.num_remove]
        return F.gelu(x).transpose(-2, -1)


def _multi_head_attention(
    q: Tensor, k: Tensor, v: Tensor, num_heads: int, attn_mask: Tensor | None, dropout_p: float
) -> Tensor:
    """Attention over already projected ``(B, T, D)`` queries, keys and values: split into
    heads, scaled dot-product attention, heads merged back to ``(B, T, D)``. Shared by
    ``SelfAttention`` and WavLM's attention, which differ only in projections and mask."""
    B, T, D = q.shape
    shape = (B, T, num_heads, D // num_heads)
    q, k, v = (t.reshape(shape).transpose(2, 1) for t in (q, k, v))
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=False
    )
    return out.transpose(1, 2).reshape(B, -1, D)


class SelfAttention(nn.Module):
    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(
                f"SelfAttention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}"
            )
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=True)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=True)
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=True)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=True)

    def forward(
        self,
        x: Tensor,
        attention_mask: Tensor | None = None,
        position_bias: Tensor | None = None,
        key_padding_mask: Tensor | None = None,
    ):
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        dropout_p = self.dropout if self.training else 0.0
        out = _multi_head_attention(q, k, v, self.num_heads, attention_mask, dropout_p)
        return self.out_proj(out), None


class FeedForward(nn.Module):
    def __init__(
        self,
        io_features: int,
        intermediate_features: int,
        intermediate_dropout: float,
        output_dropout: float,
    ) -> None:
        super().__init__()
        self.intermediate_dense = nn.Linear(io_features, intermediate_features)
        self.intermediate_dropout = nn.Dropout(intermediate_dropout)
        self.output_dense = nn.Linear(intermediate_features, io_features)
        self.output_dropout = nn.Dropout(output_dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.intermediate_dropout(F.gelu(self.intermediate_dense(x)))
        return self.output_dropout(self.output_dense(x))


class EncoderLayer(nn.Module):
    def __init__(
        self, attention: nn.Module, dropout: float, layer_norm_first: bool, feed_forward: nn.Module
    ) -> None:
        super().__init__()
        self.attention = attention
        self.dropout = nn.Dropout(dropout)
        self.layer_norm = nn.LayerNorm(attention.embed_dim)
        self.layer_norm_first = layer_norm_first
        self.feed_forward = feed_forward
        self.final_layer_norm = nn.LayerNorm(attention.embed_dim)

    def forward(
        self, x: Tensor, attention_mask: Tensor | None = None, position_bias: Tensor | None = None
    ):
        residual = x
        if self.layer_norm_first:
            x = self.layer_norm(x)
        x, position_bias = self.attention(
            x, attention_mask=attention_mask, position_bias=position_bias
        )
        x = residual + self.dropout(x)
        if self.layer_norm_first:
            x = x + self.feed_forward(self.final_layer_norm(x))
        else:
            x = self.layer_norm(x)
            x = self.final_layer_norm(x + self.feed_forward(x))
        return x, position_bias


class Transformer(nn.Module):
    """Positional convolution, dropout, the layers, and one layer norm. As in torchaudio, this
    module's ``layer_norm_first`` is the opposite of the layers' flag: True means the norm
    comes before the layers (post-LN layers, Base), False after them (pre-LN layers, Large)."""

    def __init__(
        self,
        pos_conv_embed: nn.Module,
        dropout: float,
        layers: nn.ModuleList,
        layer_norm_first: bool,
        layer_drop: float,
    ) -> None:
        super().__init__()
        self.pos_conv_embed = pos_conv_embed
        self.layer_norm = nn.LayerNorm(pos_conv_embed.embed_dim)
        self.layer_norm_first = layer_norm_first
        self.layer_drop = layer_drop
        self.dropout = nn.Dropout(dropout)
        self.layers = layers

    def _preprocess(self, x: Tensor) -> Tensor:
        x = x + self.pos_conv_embed(x)
        if self.layer_norm_first:
            x = self.layer_norm(x)
        return self.dropout(x)

    def forward(
        self, x: Tensor, attention_mask: Tensor | None = None, position_bias: Tensor | None = None
    ) -> Tensor:
        x = self._preprocess(x)
        for layer in self.layers:
            if not (
                self.training and self.layer_drop > 0 and float(torch.rand(1)) <= self.layer_drop
            ):
                x, position_bias = layer(x, attention_mask, position_bias=position_bias)
        if not self.layer_norm_first:
            x = self.layer_norm(x)
        return x

    def get_intermediate_outputs(
        self, x: Tensor, attention_mask: Tensor | None = None, num_layers: int | None = None
    ) -> list[Tensor]:
        if num_layers is not None and not 0 < num_layers <= len(self.layers):
            raise ValueError(
                f"num_layers must be between [1, {len(self.layers)}], got {num_layers}"
            )
        ret, position_bias = [], None
        x = self._preprocess(x)
        for layer in self.layers:
            x, position_bias = layer(x, attention_mask, position_bias=position_bias)
            ret.append(x)
            if num_layers is not None and len(ret) >= num_layers:
                break
        return ret


class Encoder(nn.Module):
    def __init__(self, feature_projection: nn.Module, transformer: nn.Module) -> None:
        super().__init__()
        self.feature_projection = feature_projection
        self.transformer = transformer

    def _preprocess(self, features: Tensor, lengths: Tensor | None):
        x = self.feature_projection(features)
        mask = None
        if lengths is not None:
            B, T, _ = x.shape
            pad = torch.arange(T, device=lengths.device).expand(B, T) >= lengths[:, None]
            x = x.masked_fill(pad[..., None], 0.0)
            mask = (-10000.0 * pad[:, None, None, :].to(features.dtype)).expand(B, 1, T, T)
        return x, mask

    def forward(self, features: Tensor, lengths: Tensor | None = None) -> Tensor:
        x, mask = self._preprocess(features, lengths)
        return self.transformer(x, attention_mask=mask)

    def extract_features(
        self, features: Tensor, lengths: Tensor | None = None, num_layers: int | None = None
    ) -> list[Tensor]:
        x, mask = self._preprocess(features, lengths)
        return self.transformer.get_intermediate_outputs(
            x, attention_mask=mask, num_layers=num_layers
        )


class Wav2Vec2Model(nn.Module):
    """Feature extractor + transformer encoder (+ optional ``aux`` linear head).

    ``forward(waveforms (B, T), lengths=None)`` -> ``(features or logits (B, frames, D),
    frame lengths or None)``.
    """

    def __init__(
        self, feature_extractor: nn.Module, encoder: nn.Module, aux: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.feature_extractor = feature_extractor
        self.encoder = encoder
        self.aux = aux

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Also accepts checkpoints saved with the older ``weight_norm`` names
        (``pos_conv_embed.conv.weight_g`` / ``weight_v``)."""
        legacy = {
            "conv.weight_g": "conv.parametrizations.weight.original0",
            "conv.weight_v": "conv.parametrizations.weight.original1",
        }
        renamed = {}
        for k, v in state_dict.items():
            for old, new in legacy.items():
                if k.endswith("pos_conv_embed." + old):
                    k = k[: -len(old)] + new
            renamed[k] = v
        return super().load_state_dict(renamed, strict=strict, assign=assign)

    def extract_features(
        self, waveforms: Tensor, lengths: Tensor | None = None, num_layers: int | None = None
    ):
        x, lengths = self.feature_extractor(waveforms, lengths)
        return self.encoder.extract_features(x, lengths, num_layers), lengths

    def forward(self, waveforms: Tensor, lengths: Tensor | None = None):
        x, lengths = self.feature_extractor(waveforms, lengths)
        x = self.encoder(x, lengths)
        if self.aux is not None:
            x = self.aux(x)
        return x, lengths


_DEFAULT_CONV = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2


def _get_feature_extractor(
    fn: str,
    extractor_mode: str,
    conv_layer_config: list[tuple[int, int, int]] | None,
    conv_bias: bool,
) -> tuple[FeatureExtractor, int]:
    """The convolutional feature extractor of wav2vec 2.0, HuBERT and WavLM, and its number of
    output channels. ``group_norm`` normalises only the first layer, ``layer_norm`` every one."""
    if extractor_mode not in ("group_norm", "layer_norm"):
        raise ValueError(
            f"{fn}: extractor_mode must be 'group_norm' or 'layer_norm', got {extractor_mode!r}"
        )
    blocks, in_ch = [], 1
    for i, (out_ch, k, s) in enumerate(conv_layer_config or _DEFAULT_CONV):
        norm = None
        if extractor_mode == "group_norm" and i == 0:
            norm = nn.GroupNorm(out_ch, out_ch, affine=True)
        elif extractor_mode == "layer_norm":
            norm = nn.LayerNorm(out_ch, elementwise_affine=True)
        blocks.append(ConvLayerBlock(in_ch, out_ch, k, s, conv_bias, norm))
        in_ch = out_ch
    return FeatureExtractor(nn.ModuleList(blocks)), in_ch


def _get_encoder(
    in_features: int,
    embed_dim: int,
    projection_dropout: float,
    pos_conv_kernel: int,
    pos_conv_groups: int,
    num_layers: int,
    attention: Callable[[int], nn.Module],
    ff_interm_features: int,
    ff_interm_dropout: float,
    dropout: float,
    layer_norm_first: bool,
    layer_drop: float,
) -> Encoder:
    """The transformer encoder of wav2vec 2.0, HuBERT and WavLM, which differ only in the
    attention: ``attention(i)`` builds layer ``i``'s. Modules are created in this order
    (each layer's attention, then its feed-forward) so that seeded initialisation is fixed."""
    layers = nn.ModuleList(
        [
            EncoderLayer(
                attention(i),
                dropout,
                layer_norm_first,
                FeedForward(embed_dim, ff_interm_features, ff_interm_dropout, dropout),
            )
            for i in range(num_layers)
        ]
    )
    transformer = Transformer(
        ConvolutionalPositionalEmbedding(embed_dim, pos_conv_kernel, pos_conv_groups),
        dropout,
        layers,
        not layer_norm_first,
        layer_drop,
    )
    return Encoder(FeatureProjection(in_features, embed_dim, projection_dropout), transformer)


def wav2vec2_model(
    extractor_mode: str,
    extractor_conv_layer_config: list[tuple[int, int, int]] | None,
    extractor_conv_bias: bool,
    encoder_embed_dim: int,
    encoder_projection_dropout: float,
    encoder_pos_conv_kernel: int,
    encoder_pos_conv_groups: int,
    encoder_num_layers: int,
    encoder_num_heads: int,
    encoder_attention_dropout: float,
    encoder_ff_interm_features: int,
    encoder_ff_interm_dropout: float,
    encoder_dropout: float,
    encoder_layer_norm_first: bool,
    encoder_layer_drop: float,
    aux_num_out: int | None,
) -> Wav2Vec2Model:
    """Build a wav2vec 2.0 / HuBERT model (torchaudio's generic builder and arguments).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.models import wav2vec2_model
        >>> m = wav2vec2_model("group_norm", [(32, 10, 5), (32, 3, 2)], False, 48, 0.0, 16, 4,
        ...                    2, 4, 0.0, 96, 0.0, 0.0, False, 0.0, 29)
        >>> out, lengths = m(torch.randn(2, 1600), torch.tensor([1600, 1000]))
        >>> out.shape, lengths.tolist()
        (torch.Size([2, 159, 29]), [159, 99])
    """
    feature_extractor, out_channels = _get_feature_extractor(
        "wav2vec2_model", extractor_mode, extractor_conv_layer_config, extractor_conv_bias
    )
    encoder = _get_encoder(
        out_channels,
        encoder_embed_dim,
        encoder_projection_dropout,
        encoder_pos_conv_kernel,
        encoder_pos_conv_groups,
        encoder_num_layers,
        lambda _: SelfAttention(encoder_embed_dim, encoder_num_heads, encoder_attention_dropout),
        encoder_ff_interm_features,
        encoder_ff_interm_dropout,
        encoder_dropout,
        encoder_layer_norm_first,
        encoder_layer_drop,
    )
    aux = nn.Linear(encoder_embed_dim, aux_num_out) if aux_num_out is not None else None
    return Wav2Vec2Model(feature_extractor, encoder, aux)


def _base(aux_num_out, mode, ln_first, dims, dropouts):
    embed, layers, heads, ff = dims
    proj_d, attn_d, ff_d, enc_d, drop = dropouts
    return wav2vec2_model(
        mode,
        None,
        mode == "layer_norm",
        embed,
        proj_d,
        128,
        16,
        layers,
        heads,
        attn_d,
        ff,
        ff_d,
        enc_d,
        ln_first,
        drop,
        aux_num_out,
    )


def wav2vec2_base(
    encoder_projection_dropout: float = 0.1,
    encoder_attention_dropout: float = 0.1,
    encoder_ff_interm_dropout: float = 0.1,
    encoder_dropout: float = 0.1,
    encoder_layer_drop: float = 0.1,
    aux_num_out: int | None = None,
):
    """wav2vec 2.0 Base: 12 layers, 768-d, group-norm extractor."""
    return _base(
        aux_num_out,
        "group_norm",
        False,
        (768, 12, 12, 3072),
        (
            encoder_projection_dropout,
            encoder_attention_dropout,
            encoder_ff_interm_dropout,
            encoder_dropout,
            encoder_layer_drop,
        ),
    )


def wav2vec2_large(
    encoder_projection_dropout: float = 0.1,
    encoder_attention_dropout: float = 0.1,
    encoder_ff_interm_dropout: float = 0.1,
    encoder_dropout: float = 0.1,
    encoder_layer_drop: float = 0.1,
    aux_num_out: int | None = None,
):
    """wav2vec 2.0 Large: 24 layers, 1024-d, group-norm extractor."""
    return _base(
        aux_num_out,
        "group_norm",
        False,
        (1024, 24, 16, 4096),
        (
            encoder_projection_dropout,
            encoder_attention_dropout,
            encoder_ff_interm_dropout,
            encoder_dropout,
            encoder_layer_drop,
        ),
    )


def hubert_base(
    encoder_projection_dropout: float = 0.1,
    encoder_attention_dropout: float = 0.1,
    encoder_ff_interm_dropout: float = 0.0,
    encoder_dropout: float = 0.1,
    encoder_layer_drop: float = 0.05,
    aux_num_out: int | None = None,
):
    """HuBERT Base: the wav2vec 2.0 Base architecture."""
    return _base(
        aux_num_out,
        "group_norm",
        False,
        (768, 12, 12, 3072),
        (
            encoder_projection_dropout,
            encoder_attention_dropout,
            encoder_ff_interm_dropout,
            encoder_dropout,
            encoder_layer_drop,
        ),
    )


def hubert_large(
    encoder_projection_dropout: float = 0.0,
    encoder_attention_dropout: float = 0.0,
    encoder_ff_interm_dropout: float = 0.0,
    encoder_dropout: float = 0.0,
    encoder_layer_drop: float = 0.0,
    aux_num_out: int | None = None,
):
    """HuBERT Large: 24 layers, 1024-d, layer-norm extractor with conv bias, pre-LN."""
    return _base(
        aux_num_out,
        "layer_norm",
        True,
        (1024, 24, 16, 4096),
        (
            encoder_projection_dropout,
            encoder_attention_dropout,
            encoder_ff_interm_dropout,
            encoder_dropout,
            encoder_layer_drop,
        ),
    )
