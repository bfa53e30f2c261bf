"""Speech models of torchaudio.models with its attribute (state_dict) names: Wav2Letter,
DeepSpeech, Conformer, and the M5 raw-waveform classifier of torchaudio's tutorial."""

from __future__ import annotations

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn

Tensor = torch.Tensor


class M5(nn.Module):
    """M5 raw-waveform CNN (Dai et al. 2017), as in torchaudio's speech-command tutorial.

    Input ``(batch, n_input, time)``; output ``(batch, 1, n_output)`` log-probabilities.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.models import M5
        >>> m = M5(n_output=35)
        >>> sum(p.numel() for p in m.parameters())
        26915
        >>> m(torch.randn(2, 1, 8000)).shape
        torch.Size([2, 1, 35])
    """

    def __init__(
        self, n_input: int = 1, n_output: int = 35, stride: int = 16, n_channel: int = 32
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_input, n_channel, kernel_size=80, stride=stride)
        self.bn1 = nn.BatchNorm1d(n_channel)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(n_channel, n_channel, kernel_size=3)
        self.bn2 = nn.BatchNorm1d(n_channel)
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(n_channel, 2 * n_channel, kernel_size=3)
        self.bn3 = nn.BatchNorm1d(2 * n_channel)
        self.pool3 = nn.MaxPool1d(4)
        self.conv4 = nn.Conv1d(2 * n_channel, 2 * n_channel, kernel_size=3)
        self.bn4 = nn.BatchNorm1d(2 * n_channel)
        self.pool4 = nn.MaxPool1d(4)
        self.fc1 = nn.Linear(2 * n_channel, n_output)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(F.relu(self.bn1(self.conv1(x))))
        x = self.pool2(F.relu(self.bn2(self.conv2(x))))
        x = self.pool3(F.relu(self.bn3(self.conv3(x))))
        x = self.pool4(F.relu(self.bn4(self.conv4(x))))
        x = F.avg_pool1d(x, x.shape[-1]).permute(0, 2, 1)
        return F.log_softmax(self.fc1(x), dim=2)


class Wav2Letter(nn.Module):
    """Wav2Letter acoustic model (Collobert et al. 2016), torchaudio's layer layout.

    Args:
        num_classes: output classes.
        input_type: ``'waveform'``, ``'power_spectrum'`` or ``'mfcc'``.
        num_features: input channels (1 for waveform).

    Input ``(batch, num_features, time)``; output ``(batch, num_classes, frames)``
    log-probabilities.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.models import Wav2Letter
        >>> Wav2Letter(num_classes=40, input_type="mfcc", num_features=13)(
        ...     torch.randn(1, 13, 100)).shape
        torch.Size([1, 40, 51])
    """

    def __init__(
        self, num_classes: int = 40, input_type: str = "waveform", num_features: int = 1
    ) -> None:
        super().__init__()
        if input_type not in ("waveform", "power_spectrum", "mfcc"):
            raise ValueError(f"Wav2Letter: unknown input_type {input_type!r}")
        n = 250 if input_type == "waveform" else num_features
        layers = [nn.Conv1d(n, 250, kernel_size=48, stride=2, padding=23), nn.ReLU()]
        for _ in range(7):
            layers += [nn.Conv1d(250, 250, kernel_size=7, stride=1, padding=3), nn.ReLU()]
        layers += [
            nn.Conv1d(250, 2000, kernel_size=32, stride=1, padding=16),
            nn.ReLU(),
            nn.Conv1d(2000, 2000, kernel_size=1, stride=1, padding=0),
            nn.ReLU(),
            nn.Conv1d(2000, num_classes, kernel_size=1, stride=1, padding=0),
            nn.ReLU(),
        ]
        acoustic = nn.Sequential(*layers)
        if input_type == "waveform":
            front = nn.Sequential(
                nn.Conv1d(num_features, 250, kernel_size=250, stride=160, padding=45), nn.ReLU()
            )
            self.acoustic_model = nn.Sequential(front, acoustic)
        else:
            self.acoustic_model = acoustic

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(self.acoustic_model(x), dim=1)


class FullyConnected(nn.Module):
    """Linear -> ReLU clipped at 20 -> dropout (DeepSpeech's block)."""

    def __init__(self, n_feature: int, n_hidden: int, dropout: float, relu_max_clip: int = 20):
        super().__init__()
        self.fc = nn.Linear(n_feature, n_hidden, bias=True)
        self.relu_max_clip = relu_max_clip
        self.dropout = dropout

    def forward(self, x: Tensor) -> Tensor:
        x = F.hardtanh(F.relu(self.fc(x)), 0, self.relu_max_clip)
        if self.dropout:
            x = F.dropout(x, self.dropout, self.training)
        return x


class DeepSpeech(nn.Module):
    """DeepSpeech (Hannun et al. 2014): three clipped-ReLU layers, a bidirectional ReLU RNN
    (directions summed), one more layer and the output projection.

    Input ``(batch, channel=1, time, n_feature)``; output ``(batch, time, n_class)``
    log-probabilities.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.models import DeepSpeech
        >>> DeepSpeech(n_feature=13, n_hidden=32, n_class=29)(torch.randn(2, 1, 50, 13)).shape
        torch.Size([2, 50, 29])
    """

    def __init__(
        self, n_feature: int, n_hidden: int = 2048, n_class: int = 40, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.n_hidden = n_hidden
        self.fc1 = FullyConnected(n_feature, n_hidden, dropout)
        self.fc2 = FullyConnected(n_hidden, n_hidden, dropout)
        self.fc3 = FullyConnected(n_hidden, n_hidden, dropout)
        self.bi_rnn = nn.RNN(
            n_hidden, n_hidden, num_layers=1, nonlinearity="relu", bidirectional=True
        )
        self.fc4 = FullyConnected(n_hidden, n_hidden, dropout)
        self.out = nn.Linear(n_hidden, n_class)

    def forward(self, x: Tensor) -> Tensor:
        x = self.fc3(self.fc2(self.fc1(x)))
        x = x.squeeze(1).transpose(0, 1)
        x, _ = self.bi_rnn(x)
        x = x[:, :, : self.n_hidden] + x[:, :, self.n_hidden :]
        x = self.out(self.fc4(x)).permute(1, 0, 2)
        return F.log_softmax(x, dim=2)


class _FeedForwardModule(nn.Module):
    def __init__(self, input_dim: int, hidden_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.sequential = nn.Sequential(
            nn.LayerNorm(input_dim),
            nn.Linear(input_dim, hidden_dim, bias=True),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, input_dim, bias=True),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.sequential(x)


class _ConvolutionModule(nn.Module):
    def __init__(
        self,
        input_dim: int,
        num_channels: int,
        depthwise_kernel_size: int,
        dropout: float = 0.0,
        bias: bool = False,
        use_group_norm: bool = False,
    ) -> None:
        super().__init__()
        if (depthwise_kernel_size - 1) % 2:
            raise ValueError(
                "Conformer: depthwise_kernel_size must be odd to achieve 'SAME' "
                f"padding, got {depthwise_kernel_size}"
            )
        self.layer_norm = nn.LayerNorm(input_dim)
        self.sequential = nn.Sequential(
            nn.Conv1d(input_dim, 2 * num_channels, 1, stride=1, padding=0, bias=bias),
            nn.GLU(dim=1),
            nn.Conv1d(
                num_channels,
                num_channels,
                depthwise_kernel_size,
                stride=1,
                padding=(depthwise_kernel_size - 1) // 2,
                groups=num_channels,
                bias=bias,
            ),
            nn.GroupNorm(1, num_channels) if use_group_norm else nn.BatchNorm1d(num_channels),
            nn.SiLU(),
            nn.Conv1d(num_channels, input_dim, kernel_size=1, stride=1, padding=0, bias=bias),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.sequential(self.layer_norm(x).transpose(1, 2)).transpose(1, 2)


class ConformerLayer(nn.Module):
    """One Conformer block: half FFN, self-attention, convolution, half FFN, layer norm."""

    def __init__(
        self,
        input_dim: int,
        ffn_dim: int,
        num_attention_heads: int,
        depthwise_conv_kernel_size: int,
        dropout: float = 0.0,
        use_group_norm: bool = False,
        convolution_first: bool = False,
    ) -> None:
        super().__init__()
        self.ffn1 = _FeedForwardModule(input_dim, ffn_dim, dropout=dropout)
        self.self_attn_layer_norm = nn.LayerNorm(input_dim)
        self.self_attn = nn.MultiheadAttention(input_dim, num_attention_heads, dropout=dropout)
        self.self_attn_dropout = nn.Dropout(dropout)
        self.conv_module = _ConvolutionModule(
            input_dim,
            input_dim,
            depthwise_conv_kernel_size,
            dropout=dropout,
            bias=True,
            use_group_norm=use_group_norm,
        )
        self.ffn2 = _FeedForwardModule(input_dim, ffn_dim, dropout=dropout)
        self.final_layer_norm = nn.LayerNorm(input_dim)
        self.convolution_first = convolution_first

    def _conv(self, x: Tensor) -> Tensor:
        return x + self.conv_module(x.transpose(0, 1)).transpose(0, 1)

    def forward(self, input: Tensor, key_padding_mask: Tensor | None) -> Tensor:
        x = self.ffn1(input) * 0.5 + input
        if self.convolution_first:
            x = self._conv(x)
        residual = x
        x = self.self_attn_layer_norm(x)
        x, _ = self.self_attn(x, x, x, key_padding_mask=key_padding_mask, need_weights=False)
        x = self.self_attn_dropout(x) + residual
        if not self.convolution_first:
            x = self._conv(x)
        x = self.ffn2(x) * 0.5 + x
        return self.final_layer_norm(x)


class Conformer(nn.Module):
    """Conformer encoder (Gulati et al. 2020), torchaudio's layout.

    ``forward(input (B, T, input_dim), lengths (B,))`` -> ``(output (B, T, input_dim),
    lengths)``; frames at or beyond an item's length are masked out of attention.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.models import Conformer
        >>> m = Conformer(input_dim=16, num_heads=4, ffn_dim=32, num_layers=2,
        ...               depthwise_conv_kernel_size=7)
        >>> out, lengths = m(torch.randn(3, 20, 16), torch.tensor([20, 15, 9]))
        >>> out.shape
        torch.Size([3, 20, 16])
    """

    def __init__(
        self,
        input_dim: int,
        num_heads: int,
        ffn_dim: int,
        num_layers: int,
        depthwise_conv_kernel_size: int,
        dropout: float = 0.0,
        use_group_norm: bool = False,
        convolution_first: bool = False,
    ) -> None:
        super().__init__()
        self.conformer_layers = nn.ModuleList(
            [
                ConformerLayer(
                    input_dim,
                    ffn_dim,
                    num_heads,
                    depthwise_conv_kernel_size,
                    dropout=dropout,
                    use_group_norm=use_group_norm,
                    convolution_first=convolution_first,
                )
                for _ in range(num_layers)
            ]
        )

    def forward(self, input: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        T = int(lengths.max())
        if input.shape[1] != T:
            raise ValueError(
                f"Conformer: input has {input.shape[1]} frames but max(lengths) is {T}"
            )
        mask = torch.arange(T, device=lengths.device).expand(lengths.shape[0], T) >= (
            lengths.unsqueeze(1)
        )
        x = input.transpose(0, 1)
        for layer in self.conformer_layers:
            x = layer(x, mask)
        return x.transpose(0, 1), lengths
