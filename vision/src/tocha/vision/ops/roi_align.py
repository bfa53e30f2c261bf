"""RoIAlign (Mask R-CNN, He et al. 2017): torchvision.ops.roi_align and RoIAlign."""

from __future__ import annotations

import numpy as np

from tocha.core import nn

from ._roi import bilinear_matrix, check_input, convert_rois, pair, sparse_apply

__all__ = ["RoIAlign", "roi_align"]


def roi_align(
    input,
    boxes,
    output_size,
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
):
    """Average of bilinearly sampled points in each of ``output_size`` bins of each box.

    Args:
        input: ``Tensor[N, C, H, W]``.
        boxes: ``Tensor[K, 5]`` of ``(batch_index, x1, y1, x2, y2)``, or a list of
            ``Tensor[L, 4]`` boxes, one per image.
        output_size: ``int`` or ``(height, width)`` of the output bins.
        spatial_scale: factor mapping box coordinates to input coordinates (e.g. 1/16).
        sampling_ratio: samples per bin along each axis; ``<= 0`` means adaptive
            (``ceil(box_size / output_size)``).
        aligned: shift boxes by -0.5 pixel so that sampling points align with pixel centres.

    Returns:
        ``Tensor[K, C, output_height, output_width]``; differentiable w.r.t. ``input``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import roi_align
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> roi_align(x, [torch.tensor([[0.0, 0, 2, 2]])], 1, aligned=True)
        tensor([[[[2.5000]]]])
    """
    check_input("roi_align", input)
    ph, pw = pair("roi_align", output_size)
    rois = convert_rois("roi_align", boxes, input)
    n, c, h, w = input.shape
    offset = 0.5 if aligned else 0.0
    sw = rois[:, 1] * spatial_scale - offset
    sh = rois[:, 2] * spatial_scale - offset
    rw = rois[:, 3] * spatial_scale - offset - sw
    rh = rois[:, 4] * spatial_scale - offset - sh
    if not aligned:
        # the legacy behaviour: boxes smaller than one pixel are grown to one pixel
        rw, rh = np.maximum(rw, 1.0), np.maximum(rh, 1.0)
    bin_h, bin_w = rh / ph, rw / pw
    if sampling_ratio > 0:
        gh = np.full(rois.shape[0], sampling_ratio, np.int64)
        gw = gh
    else:
        gh = np.maximum(np.ceil(rh / ph), 1).astype(np.int64)
        gw = np.maximum(np.ceil(rw / pw), 1).astype(np.int64)
    bidx = rois[:, 0].astype(np.int64)

    def col_of(k, _ph, _pw, y, x):
        return (bidx[k] * h + y) * w + x

    dtype = input.detach().cpu().numpy().dtype if input.numel() else np.float32
    mat = bilinear_matrix(sh, sw, bin_h, bin_w, gh, gw, (ph, pw), (n * h * w, h, w), col_of, dtype)
    flat = input.permute(0, 2, 3, 1).reshape(n * h * w, c)
    out = sparse_apply(flat, mat)
    return out.reshape(rois.shape[0], ph, pw, c).permute(0, 3, 1, 2).contiguous()


class RoIAlign(nn.Module):
    """Module form of :func:`roi_align`.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import RoIAlign
        >>> m = RoIAlign((2, 2), spatial_scale=0.5, sampling_ratio=2)
        >>> m(torch.ones(1, 3, 8, 8), torch.tensor([[0.0, 0, 0, 8, 8]])).shape
        torch.Size([1, 3, 2, 2])
    """

    def __init__(
        self, output_size, spatial_scale: float, sampling_ratio: int, aligned: bool = False
    ):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, input, rois):
        return roi_align(
            input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned
        )

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(output_size={self.output_size}, "
            f"spatial_scale={self.spatial_scale}, sampling_ratio={self.sampling_ratio}, "
            f"aligned={self.aligned})"
        )
