"""Conv-TasNet (Luo & Mesgarani 2019) with torchaudio's module tree: a learned encoder, a
temporal-convolution mask generator (stacks of dilated depthwise blocks) and a transposed
convolution decoder."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import nn

Tensor = torch.Tensor


class ConvBlock(nn.Module):
    """1x1 conv, PReLU, gLN, dilated depthwise conv, PReLU, gLN; residual and skip 1x1 convs."""

    def __init__(
        self,
        io_channels: int,
        hidden_channels: int,
        kernel_size: int,
        padding: int,
        dilation: int = 1,
        no_residual: bool = False,
    ) -> None:
        super().__init__()
        self.conv_layers = nn.Sequential(
            nn.Conv1d(io_channels, hidden_channels, kernel_size=1),
            nn.PReLU(),
            nn.GroupNorm(num_groups=1, num_channels=hidden_channels, eps=1e-08),
            nn.Conv1d(
                hidden_channels,
                hidden_channels,
                kernel_size,
                padding=padding,
                dilation=dilation,
                groups=hidden_channels,
            ),
            nn.PReLU(),
            nn.GroupNorm(num_groups=1, num_channels=hidden_channels, eps=1e-08),
        )
        self.res_out = None if no_residual else nn.Conv1d(hidden_channels, io_channels, 1)
        self.skip_out = nn.Conv1d(hidden_channels, io_channels, kernel_size=1)

    def forward(self, x: Tensor):
        feature = self.conv_layers(x)
        residual = None if self.res_out is None else self.res_out(feature)
        return residual, self.skip_out(feature)


class MaskGenerator(nn.Module):
    def __init__(
        self,
        input_dim: int,
        num_sources: int,
        kernel_size: int,
        num_feats: int,
        num_hidden: int,
        num_layers: int,
        num_stacks: int,
        msk_activate: str,
    ) -> None:
        super().__init__()
        self.input_dim, self.num_sources = input_dim, num_sources
        self.input_norm = nn.GroupNorm(num_groups=1, num_channels=input_dim, eps=1e-8)
        self.input_conv = nn.Conv1d(input_dim, num_feats, kernel_size=1)
        self.receptive_field = 0
        self.conv_layers = nn.ModuleList([])
        for s in range(num_stacks):
            for layer in range(num_layers):
                d = 2**layer
                last = layer == num_layers - 1 and s == num_stacks - 1
                self.conv_layers.append(
                    ConvBlock(
                        num_feats, num_hidden, kernel_size, padding=d, dilation=d, no_residual=last
                    )
                )
                self.receptive_field += (
                    kernel_size if s == 0 and layer == 0 else (kernel_size - 1) * d
                )
        self.output_prelu = nn.PReLU()
        self.output_conv = nn.Conv1d(num_feats, input_dim * num_sources, kernel_size=1)
        if msk_activate == "sigmoid":
            self.mask_activate = nn.Sigmoid()
        elif msk_activate == "relu":
            self.mask_activate = nn.ReLU()
        else:
            raise ValueError(f"ConvTasNet: unsupported mask activation {msk_activate!r}")

    def forward(self, x: Tensor) -> Tensor:
        B = x.shape[0]
        feats = self.input_conv(self.input_norm(x))
        out = None
        for layer in self.conv_layers:
            residual, skip = layer(feats)
            if residual is not None:
                feats = feats + residual
            out = skip if out is None else out + skip
        out = self.mask_activate(self.output_conv(self.output_prelu(out)))
        return out.reshape(B, self.num_sources, self.input_dim, -1)


class ConvTasNet(nn.Module):
    """Source separation of ``(batch, 1, time)`` mixtures into ``(batch, num_sources, time)``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.models import ConvTasNet
        >>> m = ConvTasNet(num_sources=2, enc_num_feats=16, msk_num_feats=8,
        ...                msk_num_hidden_feats=16, msk_num_layers=2, msk_num_stacks=1)
        >>> m(torch.randn(3, 1, 1001)).shape
        torch.Size([3, 2, 1001])
    """

    def __init__(
        self,
        num_sources: int = 2,
        enc_kernel_size: int = 16,
        enc_num_feats: int = 512,
        msk_kernel_size: int = 3,
        msk_num_feats: int = 128,
        msk_num_hidden_feats: int = 512,
        msk_num_layers: int = 8,
        msk_num_stacks: int = 3,
        msk_activate: str = "sigmoid",
    ) -> None:
        super().__init__()
        self.num_sources = num_sources
        self.enc_num_feats = enc_num_feats
        self.enc_kernel_size = enc_kernel_size
        self.enc_stride = enc_kernel_size // 2
        self.encoder = nn.Conv1d(
            1,
            enc_num_feats,
            enc_kernel_size,
            stride=self.enc_stride,
            padding=self.enc_stride,
            bias=False,
        )
        self.mask_generator = MaskGenerator(
            enc_num_feats,
            num_sources,
            msk_kernel_size,
            msk_num_feats,
            msk_num_hidden_feats,
            msk_num_layers,
            msk_num_stacks,
            msk_activate,
        )
        self.decoder = nn.ConvTranspose1d(
            enc_num_feats,
            1,
            enc_kernel_size,
            stride=self.enc_stride,
            padding=self.enc_stride,
            bias=False,
        )

    def _align(self, x: Tensor) -> tuple[Tensor, int]:
        B, C, n = x.shape
        odd = self.enc_kernel_size % 2
        rem = n - (odd + ((n - odd) // self.enc_stride) * self.enc_stride)
        if rem == 0:
            return x, 0
        pads = self.enc_stride - rem
        return torch.cat([x, x.new_zeros((B, C, pads))], 2), pads

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() != 3 or input.shape[1] != 1:
            raise ValueError(
                f"ConvTasNet: expected a (batch, 1, frames) tensor, got {tuple(input.shape)}"
            )
        padded, pads = self._align(input)
        B, n = padded.shape[0], padded.shape[2]
        feats = self.encoder(padded)
        masked = self.mask_generator(feats) * feats.unsqueeze(1)
        decoded = self.decoder(masked.reshape(B * self.num_sources, self.enc_num_feats, -1))
        out = decoded.reshape(B, self.num_sources, n)
        return out[..., :-pads] if pads else out


def conv_tasnet_base(num_sources: int = 2) -> ConvTasNet:
    """Conv-TasNet with the paper's best configuration (torchaudio's ``conv_tasnet_base``)."""
    return ConvTasNet(
        num_sources=num_sources,
        enc_kernel_size=16,
        enc_num_feats=512,
        msk_kernel_size=3,
        msk_num_feats=128,
        msk_num_hidden_feats=512,
        msk_num_layers=8,
        msk_num_stacks=3,
        msk_activate="relu",
    )
