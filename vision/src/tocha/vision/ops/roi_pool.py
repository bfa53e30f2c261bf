"""RoIPool (Fast R-CNN, Girshick 2015): torchvision.ops.roi_pool and RoIPool."""

from __future__ import annotations

import numpy as np

import tocha.core as torch
from tocha.core import nn

from ._roi import check_input, convert_rois, pair

__all__ = ["RoIPool", "roi_pool"]

# gathered values per chunk of boxes (bounds the temporary memory to ~100 MB of float64)
_GATHER_CHUNK = 12_000_000


def _round_half_away(x: np.ndarray) -> np.ndarray:
    # C's round(), which torchvision uses; np.rint would round halves to even
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def roi_pool(input, boxes, output_size, spatial_scale: float = 1.0):
    """Max over the integer pixel bins of each box.

    Box corners are scaled by ``spatial_scale`` and rounded to pixels; a box covers
    ``x2 - x1 + 1`` pixels; an empty bin (outside the image) gives 0. The gradient goes to the
    first maximal pixel of each bin.

    Args:
        input: ``Tensor[N, C, H, W]``.
        boxes: ``Tensor[K, 5]`` of ``(batch_index, x1, y1, x2, y2)``, or a list of
            ``Tensor[L, 4]`` per image.
        output_size: ``int`` or ``(height, width)``.
        spatial_scale: factor mapping box coordinates to input coordinates.

    Returns:
        ``Tensor[K, C, output_height, output_width]``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import roi_pool
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> roi_pool(x, torch.tensor([[0.0, 0, 0, 3, 3]]), 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    check_input("roi_pool", input)
    ph_n, pw_n = pair("roi_pool", output_size)
    rois = convert_rois("roi_pool", boxes, input)
    n, c, h, w = input.shape
    k_n = rois.shape[0]
    x1 = _round_half_away(rois[:, 1] * spatial_scale).astype(np.int64)
    y1 = _round_half_away(rois[:, 2] * spatial_scale).astype(np.int64)
    x2 = _round_half_away(rois[:, 3] * spatial_scale).astype(np.int64)
    y2 = _round_half_away(rois[:, 4] * spatial_scale).astype(np.int64)
    rw = np.maximum(x2 - x1 + 1, 1).astype(np.float64)
    rh = np.maximum(y2 - y1 + 1, 1).astype(np.float64)
    p = np.arange(ph_n)
    q = np.arange(pw_n)
    hs = np.clip(np.floor(p[None] * (rh / ph_n)[:, None]).astype(np.int64) + y1[:, None], 0, h)
    he = np.clip(np.ceil((p[None] + 1) * (rh / ph_n)[:, None]).astype(np.int64) + y1[:, None], 0, h)
    ws = np.clip(np.floor(q[None] * (rw / pw_n)[:, None]).astype(np.int64) + x1[:, None], 0, w)
    we = np.clip(np.ceil((q[None] + 1) * (rw / pw_n)[:, None]).astype(np.int64) + x1[:, None], 0, w)
    # channels last, so that every gathered pixel is one contiguous run of C values
    x = np.ascontiguousarray(input.detach().cpu().numpy().transpose(0, 2, 3, 1))
    bidx = rois[:, 0].astype(np.int64)
    flat_idx = np.zeros((k_n, c, ph_n, pw_n), np.int64)
    empty = (he[:, :, None] <= hs[:, :, None]) | (we[:, None, :] <= ws[:, None, :])  # [K, PH, PW]
    # boxes grouped by their largest bin, so the padded gather stays close to the real size
    mhk = (he - hs).max(1, initial=0)
    mwk = (we - ws).max(1, initial=0)
    groups: dict[tuple[int, int], list[int]] = {}
    for k, key in enumerate(zip(mhk.tolist(), mwk.tolist())):
        groups.setdefault(key, []).append(k)
    for (mh, mw), members in groups.items():
        if mh <= 0 or mw <= 0:
            continue
        members = np.asarray(members)
        step = max(1, _GATHER_CHUNK // (c * ph_n * pw_n * mh * mw))
        dy, dx = np.arange(mh), np.arange(mw)
        for k0 in range(0, members.size, step):
            ks = members[k0 : k0 + step]
            yy = hs[ks, :, None] + dy  # [G, PH, mh]
            xx = ws[ks, :, None] + dx  # [G, PW, mw]
            # slots past a bin's end repeat its first row / column: an earlier duplicate never
            # changes the max nor the first-maximum position
            yy = np.where(yy < he[ks, :, None], yy, hs[ks, :, None])
            xx = np.where(xx < we[ks, :, None], xx, ws[ks, :, None])
            yy, xx = np.minimum(yy, h - 1), np.minimum(xx, w - 1)
            b = bidx[ks]
            bb = b[:, None, None]
            best = arg_y = arg_x = None
            # a running max over the bin's slots in row-major (y, x) order; strict '>' keeps
            # the first maximum, as torchvision's scan does
            for i in range(mh):
                for j in range(mw):
                    py_s = yy[:, :, i][:, :, None]  # [G, PH, 1]
                    px_s = xx[:, :, j][:, None, :]  # [G, 1, PW]
                    v = x[bb, py_s, px_s]  # [G, PH, PW, C]
                    if best is None:
                        best = v
                        arg_y = np.broadcast_to(py_s[..., None], v.shape).copy()
                        arg_x = np.broadcast_to(px_s[..., None], v.shape).copy()
                        continue
                    upd = v > best
                    best = np.where(upd, v, best)
                    np.copyto(arg_y, py_s[..., None], where=upd)
                    np.copyto(arg_x, px_s[..., None], where=upd)
            py, px = arg_y, arg_x
            ch = np.arange(c)[None, None, None, :]
            idx = ((b[:, None, None, None] * c + ch) * h + py) * w + px  # [G, PH, PW, C]
            flat_idx[ks] = idx.transpose(0, 3, 1, 2)
    flat_idx[np.broadcast_to(empty[:, None], flat_idx.shape)] = 0
    idx_t = torch.from_numpy(flat_idx.reshape(-1)).to(input.device)
    out = input.reshape(-1).index_select(0, idx_t).reshape(k_n, c, ph_n, pw_n)
    if empty.any():
        keep = torch.from_numpy(~empty[:, None]).to(input.device)
        out = torch.where(keep, out, torch.zeros((), dtype=out.dtype, device=out.device))
    return out


class RoIPool(nn.Module):
    """Module form of :func:`roi_pool`.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import RoIPool
        >>> RoIPool(2, 1.0)(torch.ones(1, 2, 4, 4), torch.tensor([[0.0, 0, 0, 3, 3]])).shape
        torch.Size([1, 2, 2, 2])
    """

    def __init__(self, output_size, spatial_scale: float):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input, rois):
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(output_size={self.output_size}, "
            f"spatial_scale={self.spatial_scale})"
        )
