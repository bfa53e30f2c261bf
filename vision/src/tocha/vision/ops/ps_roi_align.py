"""Position-sensitive RoIAlign (R-FCN, Dai et al. 2016): torchvision.ops.ps_roi_align."""

from __future__ import annotations

import numpy as np

from tocha.core import nn

from ._roi import bilinear_matrix, check_input, convert_rois, pair, sparse_apply

__all__ = ["PSRoIAlign", "ps_roi_align"]


def ps_roi_align(input, boxes, output_size, spatial_scale: float = 1.0, sampling_ratio: int = -1):
    """RoIAlign where bin ``(i, j)`` of output channel ``c`` reads input channel
    ``(c * PH + i) * PW + j``; the input has ``C = C_out * PH * PW`` channels.

    As in torchvision, boxes are shifted by -0.5 pixel (pixel-centre aligned) and are not
    grown to a minimum size.

    Args:
        input: ``Tensor[N, C, H, W]`` with ``C`` divisible by ``PH * PW``.
        boxes: ``Tensor[K, 5]`` or a list of ``Tensor[L, 4]``.
        output_size: ``int`` or ``(PH, PW)``.
        spatial_scale: factor mapping box coordinates to input coordinates.
        sampling_ratio: samples per bin along each axis; ``<= 0`` means adaptive.

    Returns:
        ``Tensor[K, C / (PH * PW), PH, PW]``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import ps_roi_align
        >>> x = torch.arange(4.0).reshape(1, 4, 1, 1).expand(1, 4, 3, 3)
        >>> ps_roi_align(x, torch.tensor([[0.0, 0, 0, 3, 3]]), 2)
        tensor([[[[0., 1.],
                  [2., 3.]]]])
    """
    check_input("ps_roi_align", input)
    ph, pw = pair("ps_roi_align", output_size)
    n, c, h, w = input.shape
    if c % (ph * pw):
        raise ValueError(
            f"ps_roi_align: input channels ({c}) must be divisible by output_size "
            f"{ph}x{pw} = {ph * pw}"
        )
    c_out = c // (ph * pw)
    rois = convert_rois("ps_roi_align", boxes, input)
    sw = rois[:, 1] * spatial_scale - 0.5
    sh = rois[:, 2] * spatial_scale - 0.5
    rw = rois[:, 3] * spatial_scale - 0.5 - sw
    rh = rois[:, 4] * spatial_scale - 0.5 - sh
    bin_h, bin_w = rh / ph, rw / pw
    if sampling_ratio > 0:
        gh = np.full(rois.shape[0], sampling_ratio, np.int64)
        gw = gh
    else:
        gh = np.maximum(np.ceil(rh / ph), 1).astype(np.int64)
        gw = np.maximum(np.ceil(rw / pw), 1).astype(np.int64)
    bidx = rois[:, 0].astype(np.int64)

    def col_of(k, i, j, y, x):
        # column (image, bin, y, x): the bin selects the channel group
        return ((bidx[k] * ph * pw + i * pw + j) * h + y) * w + x

    dtype = input.detach().cpu().numpy().dtype if input.numel() else np.float32
    n_cols = n * ph * pw * h * w
    mat = bilinear_matrix(sh, sw, bin_h, bin_w, gh, gw, (ph, pw), (n_cols, h, w), col_of, dtype)
    # [N, C_out, PH*PW, H, W] -> rows (image, bin, y, x), columns the C_out channels
    flat = input.reshape(n, c_out, ph * pw, h, w).permute(0, 2, 3, 4, 1).reshape(n_cols, c_out)
    out = sparse_apply(flat, mat)
    return out.reshape(rois.shape[0], ph, pw, c_out).permute(0, 3, 1, 2).contiguous()


class PSRoIAlign(nn.Module):
    """Module form of :func:`ps_roi_align`.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import PSRoIAlign
        >>> PSRoIAlign(2, 1.0, 2)(torch.ones(1, 8, 4, 4), torch.tensor([[0.0, 0, 0, 3, 3]])).shape
        torch.Size([1, 2, 2, 2])
    """

    def __init__(self, output_size, spatial_scale: float, sampling_ratio: int):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio

    def forward(self, input, rois):
        return ps_roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(output_size={self.output_size}, "
            f"spatial_scale={self.spatial_scale}, sampling_ratio={self.sampling_ratio})"
        )
