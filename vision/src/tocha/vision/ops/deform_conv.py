"""Deformable convolution v1/v2 (Dai et al. 2017, Zhu et al. 2019): torchvision.ops.deform_conv2d.

Written in tocha ops (gather + bilinear weights + a grouped matmul), so it is differentiable
with respect to the input, the offsets, the mask, the weight and the bias.
"""

from __future__ import annotations

import math

import numpy as np

import tocha.core as torch
from tocha.core import nn

__all__ = ["DeformConv2d", "deform_conv2d"]


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def deform_conv2d(
    input,
    offset,
    weight,
    bias=None,
    stride=(1, 1),
    padding=(0, 0),
    dilation=(1, 1),
    mask=None,
):
    """Convolution whose kernel taps are displaced by learned offsets (and modulated by mask).

    Args:
        input: ``[B, C_in, H, W]``.
        offset: ``[B, 2 * G * kh * kw, H_out, W_out]``: for offset group ``g`` and tap ``k``
            (row-major over the kernel), channel ``2 * (g * kh * kw + k)`` is the y offset and
            the next one the x offset. ``C_in`` is split into ``G`` consecutive groups.
        weight: ``[C_out, C_in / groups, kh, kw]``.
        bias: ``[C_out]`` or None.
        stride, padding, dilation: as for ``conv2d``.
        mask: ``[B, G * kh * kw, H_out, W_out]`` modulation (DCNv2) or None.

    Returns:
        ``[B, C_out, H_out, W_out]``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import deform_conv2d
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> w = torch.ones(1, 1, 1, 1)
        >>> off = torch.zeros(1, 2, 4, 4)
        >>> off[:, 1] = 0.5  # sample half a pixel to the right
        >>> deform_conv2d(x, off, w)[0, 0, 0].tolist()
        [0.5, 1.5, 2.5, 1.5]
    """
    if input.dim() != 4 or weight.dim() != 4:
        raise ValueError(
            f"deform_conv2d: input and weight must be 4-D, got {list(input.shape)} and "
            f"{list(weight.shape)}"
        )
    b, cin, h, w = input.shape
    cout, cin_g, kh, kw = weight.shape
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    k = kh * kw
    if cin % cin_g:
        raise ValueError(
            f"deform_conv2d: input channels ({cin}) not divisible by weight.shape[1] ({cin_g})"
        )
    groups = cin // cin_g
    if offset.shape[1] % (2 * k) or tuple(offset.shape[-2:]) != (ho, wo):
        raise ValueError(
            f"deform_conv2d: offset must be [B, 2 * offset_groups * {k}, {ho}, {wo}], "
            f"got {list(offset.shape)}"
        )
    og = offset.shape[1] // (2 * k)
    if cin % og:
        raise ValueError(
            f"deform_conv2d: input channels ({cin}) not divisible by offset groups ({og})"
        )
    if mask is not None and (mask.shape[1] != og * k or tuple(mask.shape[-2:]) != (ho, wo)):
        raise ValueError(
            f"deform_conv2d: mask must be [B, {og * k}, {ho}, {wo}], got {list(mask.shape)}"
        )
    cg = cin // og
    n = k * ho * wo
    # the undisplaced tap positions, [K, Ho, Wo]
    ki, kj = np.divmod(np.arange(k), kw)
    base_y = (np.arange(ho)[None, :, None] * sh - ph + ki[:, None, None] * dh).astype(np.float64)
    base_x = (np.arange(wo)[None, None, :] * sw - pw + kj[:, None, None] * dw).astype(np.float64)
    off = offset.reshape(b, og, k, 2, ho, wo)
    dev, dt = input.device, input.dtype
    y = off[:, :, :, 0] + torch.from_numpy(base_y).to(device=dev, dtype=dt)  # [B, G, K, Ho, Wo]
    x = off[:, :, :, 1] + torch.from_numpy(base_x).to(device=dev, dtype=dt)
    y0 = y.detach().floor()
    x0 = x.detach().floor()
    ly, lx = y - y0, x - x0
    yn = y.detach().cpu().numpy()
    xn = x.detach().cpu().numpy()
    inside = (yn > -1) & (yn < h) & (xn > -1) & (xn < w)
    y0n = y0.cpu().numpy().astype(np.int64)
    x0n = x0.cpu().numpy().astype(np.int64)
    src = input.reshape(b, og, cg, h * w)
    cols = None
    for cy, cx, wy, wx in (
        (0, 0, 1 - ly, 1 - lx),
        (0, 1, 1 - ly, lx),
        (1, 0, ly, 1 - lx),
        (1, 1, ly, lx),
    ):
        yc, xc = y0n + cy, x0n + cx
        ok = inside & (yc >= 0) & (yc < h) & (xc >= 0) & (xc < w)
        idx = (np.clip(yc, 0, h - 1) * w + np.clip(xc, 0, w - 1)).reshape(b, og, 1, n)
        idx_t = torch.from_numpy(np.broadcast_to(idx, (b, og, cg, n)).copy()).to(dev)
        weight_c = wy * wx * torch.from_numpy(ok).to(device=dev, dtype=dt)
        if mask is not None:
            weight_c = weight_c * mask.reshape(b, og, k, ho, wo)
        term = torch.gather(src, 3, idx_t) * weight_c.reshape(b, og, 1, n)
        cols = term if cols is None else cols + term
    # [B, G, Cg, K * L] -> [B, groups, C_in / groups * K, L] (channel-major, then tap)
    cols = cols.reshape(b, groups, cin_g * k, ho * wo)
    wmat = weight.reshape(groups, cout // groups, cin_g * k)
    out = torch.matmul(wmat, cols).reshape(b, cout, ho, wo)
    if bias is not None:
        out = out + bias.reshape(1, cout, 1, 1)
    return out


class DeformConv2d(nn.Module):
    """Module form of :func:`deform_conv2d` (weight and bias initialised like ``Conv2d``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import DeformConv2d
        >>> m = DeformConv2d(4, 6, 3, padding=1)
        >>> m(torch.rand(2, 4, 5, 5), torch.zeros(2, 18, 5, 5)).shape
        torch.Size([2, 6, 5, 5])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
    ):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"DeformConv2d: in_channels ({in_channels}) and out_channels ({out_channels}) "
                f"must be divisible by groups ({groups})"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.groups = groups
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels // groups, *self.kernel_size)
        )
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, input, offset, mask=None):
        return deform_conv2d(
            input, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask
        )

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, groups={self.groups}, bias={self.bias is not None})"
        )
