"""WavLM (Chen et al. 2022): wav2vec 2.0's encoder with gated relative position bias in
self-attention, torchaudio's module tree and keys (``attention.attention.in_proj_weight``,
``attention.rel_attn_embed.weight`` in the first layer, ``attention.gru_rel_pos_linear.*``,
``attention.gru_rel_pos_const``)."""

from __future__ import annotations

import math

import numpy as np

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn

from .wav2vec2 import Wav2Vec2Model, _get_encoder, _get_feature_extractor, _multi_head_attention

Tensor = torch.Tensor


def _relative_buckets(q_len: int, k_len: int, num_buckets: int, max_distance: int) -> np.ndarray:
    """Bidirectional log-spaced buckets of ``key - query`` offsets (T5/WavLM formula)."""
    rel = np.arange(k_len)[None, :] - np.arange(q_len)[:, None]
    half = num_buckets // 2
    buckets = (rel > 0).astype(np.int64) * half
    n = np.abs(rel)
    max_exact = half // 2
    with np.errstate(divide="ignore"):
        large = max_exact + (
            np.log(np.maximum(n, 1).astype(np.float32) / max_exact)
            / math.log(max_distance / max_exact)
            * (half - max_exact)
        ).astype(np.int64)
    large = np.minimum(large, half - 1)
    return buckets + np.where(n < max_exact, n, large)


class WavLMSelfAttention(nn.Module):
    """Multi-head self-attention whose additive mask is a learned relative position bias,
    gated per query from the layer input (computed in the first layer, reused after)."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        has_relative_attention_bias: bool = False,
        num_buckets: int = 32,
        max_distance: int = 128,
        gru_rel_pos: bool = True,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(
                f"WavLMSelfAttention: embed_dim {embed_dim} is not divisible by "
                f"num_heads {num_heads}"
            )
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.has_relative_attention_bias = has_relative_attention_bias
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.rel_attn_embed = (
            nn.Embedding(num_buckets, num_heads) if has_relative_attention_bias else None
        )
        self.dropout = dropout
        self.attention = nn.MultiheadAttention(
            embed_dim, num_heads, dropout=dropout, bias=bias, batch_first=True
        )
        self.gru_rel_pos = gru_rel_pos
        if gru_rel_pos:
            self.gru_rel_pos_linear = nn.Linear(self.head_dim, 8)
            self.gru_rel_pos_const = nn.Parameter(torch.ones(1, num_heads, 1, 1))
        self.has_position_bias = True

    def compute_bias(self, query_length: int, key_length: int) -> Tensor:
        """``(num_heads, query_length, key_length)`` relative position embeddings."""
        idx = _relative_buckets(query_length, key_length, self.num_buckets, self.max_distance)
        idx_t = torch.from_numpy(idx).to(self.rel_attn_embed.weight.device)
        return self.rel_attn_embed(idx_t).permute(2, 0, 1)

    def forward(
        self,
        query: Tensor,
        attention_mask: Tensor | None = None,
        position_bias: Tensor | None = None,
        key_padding_mask: Tensor | None = None,
    ):
        B, T, D = query.shape
        if self.embed_dim != D:
            raise ValueError(f"WavLMSelfAttention: expected embed_dim {self.embed_dim}, got {D}")
        if attention_mask is not None:
            raise ValueError(
                "WavLMSelfAttention: attention_mask is not supported (torchaudio's WavLM takes "
                "no lengths); pass key_padding_mask"
            )
        if self.rel_attn_embed is not None and position_bias is None:
            position_bias = self.compute_bias(T, T).unsqueeze(0).expand(B, -1, -1, -1)
        mask = None
        if position_bias is not None:
            mask = position_bias
            if self.gru_rel_pos:
                heads = query.reshape(B, T, self.num_heads, -1).permute(0, 2, 1, 3)
                g = torch.sigmoid(
                    self.gru_rel_pos_linear(heads).reshape(B, self.num_heads, T, 2, 4).sum(-1)
                )
                gate_a, gate_b = g[..., :1], g[..., 1:]
                gate = gate_a * (gate_b * self.gru_rel_pos_const - 1.0) + 2.0
                mask = gate * position_bias
            mask = mask.reshape(B, self.num_heads, T, T)
        if mask is not None and key_padding_mask is not None:
            mask = mask.masked_fill(key_padding_mask.reshape(B, 1, 1, T), float("-inf"))
        qkv = F.linear(query, self.attention.in_proj_weight, self.attention.in_proj_bias)
        q, k, v = qkv.chunk(3, dim=-1)
        dropout_p = self.dropout if self.training else 0.0
        out = _multi_head_attention(q, k, v, self.num_heads, mask, dropout_p)
        return self.attention.out_proj(out), position_bias


class _WavLMModel(Wav2Vec2Model):
    def forward(self, waveforms: Tensor, lengths: Tensor | None = None):
        if lengths is not None:
            raise ValueError(
                "WavLM: lengths are not supported (as in torchaudio); pad batches "
                "to one length or run items one by one"
            )
        return super().forward(waveforms, None)


def wavlm_model(
    extractor_mode: str,
    extractor_conv_layer_config: list[tuple[int, int, int]] | None,
    extractor_conv_bias: bool,
    encoder_embed_dim: int,
    encoder_projection_dropout: float,
    encoder_pos_conv_kernel: int,
    encoder_pos_conv_groups: int,
    encoder_num_layers: int,
    encoder_num_heads: int,
    encoder_num_buckets: int,
    encoder_max_distance: int,
    encoder_attention_dropout: float,
    encoder_ff_interm_features: int,
    encoder_ff_interm_dropout: float,
    encoder_dropout: float,
    encoder_layer_norm_first: bool,
    encoder_layer_drop: float,
    aux_num_out: int | None,
) -> Wav2Vec2Model:
    """Build a WavLM model (torchaudio's ``wavlm_model`` arguments).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.models import wavlm_model
        >>> m = wavlm_model("group_norm", [(32, 10, 5), (32, 3, 2)], False, 48, 0.0, 16, 4,
        ...                 2, 4, 32, 64, 0.0, 96, 0.0, 0.0, False, 0.0, None)
        >>> m(torch.randn(1, 1600))[0].shape
        torch.Size([1, 159, 48])
    """
    feature_extractor, out_channels = _get_feature_extractor(
        "wavlm_model", extractor_mode, extractor_conv_layer_config, extractor_conv_bias
    )
    encoder = _get_encoder(
        out_channels,
        encoder_embed_dim,
        encoder_projection_dropout,
        encoder_pos_conv_kernel,
        encoder_pos_conv_groups,
        encoder_num_layers,
        # only the first layer owns the bias table; the later ones reuse its position_bias
        lambda i: WavLMSelfAttention(
            encoder_embed_dim,
            encoder_num_heads,
            encoder_attention_dropout,
            has_relative_attention_bias=(i == 0),
            num_buckets=encoder_num_buckets,
            max_distance=encoder_max_distance,
        ),
        encoder_ff_interm_features,
        encoder_ff_interm_dropout,
        encoder_dropout,
        encoder_layer_norm_first,
        encoder_layer_drop,
    )
    aux = nn.Linear(encoder_embed_dim, aux_num_out) if aux_num_out is not None else None
    return _WavLMModel(feature_extractor, encoder, aux)


def wavlm_base(
    encoder_projection_dropout: float = 0.1,
    encoder_attention_dropout: float = 0.1,
    encoder_ff_interm_dropout: float = 0.1,
    encoder_dropout: float = 0.1,
    encoder_layer_drop: float = 0.1,
    aux_num_out: int | None = None,
):
    """WavLM Base: 12 layers, 768-d, 320 buckets up to distance 800."""
    return wavlm_model(
        "group_norm",
        None,
        False,
        768,
        encoder_projection_dropout,
        128,
        16,
        12,
        12,
        320,
        800,
        encoder_attention_dropout,
        3072,
        encoder_ff_interm_dropout,
        encoder_dropout,
        False,
        encoder_layer_drop,
        aux_num_out,
    )


def wavlm_large(
    encoder_projection_dropout: float = 0.1,
    encoder_attention_dropout: float = 0.1,
    encoder_ff_interm_dropout: float = 0.0,
    encoder_dropout: float = 0.1,
    encoder_layer_drop: float = 0.1,
    aux_num_out: int | None = None,
):
    """WavLM Large: 24 layers, 1024-d, layer-norm extractor, pre-LN layers."""
    return wavlm_model(
        "layer_norm",
        None,
        True,
        1024,
        encoder_projection_dropout,
        128,
        16,
        24,
        16,
        320,
        800,
        encoder_attention_dropout,
        4096,
        encoder_ff_interm_dropout,
        encoder_dropout,
        True,
        encoder_layer_drop,
        aux_num_out,
    )
