"""Shared machinery of the RoI operators.

RoIAlign-style operators are linear in the feature map: every output value is a weighted sum
of input pixels whose weights depend only on the boxes. We build that weight matrix once
(sparse, rows = output cells, columns = input pixels) and apply it as one sparse x dense
product. Its gradient is the transposed matrix applied to the output gradient, which is again
the same linear Function, so gradients of any order come for free. Boxes get no gradient, as
in torchvision.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import tocha.core as torch

# COO entries built per chunk of boxes before they are summed into CSR (bounds memory)
_ENTRY_CHUNK = 4_000_000


def convert_rois(fn: str, boxes, ref) -> np.ndarray:
    """``Tensor[K, 5]`` or a list of ``Tensor[L, 4]`` (one per image) -> float64 ``[K, 5]``."""
    if isinstance(boxes, (list, tuple)):
        parts = []
        for i, b in enumerate(boxes):
            if b.dim() != 2 or b.shape[1] != 4:
                raise ValueError(f"{fn}: boxes[{i}] must have shape [L, 4], got {list(b.shape)}")
            a = b.detach().cpu().numpy().astype(np.float64)
            parts.append(np.concatenate([np.full((a.shape[0], 1), float(i)), a], 1))
        return np.concatenate(parts, 0) if parts else np.zeros((0, 5))
    if not isinstance(boxes, torch.Tensor):
        raise TypeError(
            f"{fn}: boxes must be a Tensor[K, 5] or a list of Tensor[L, 4], "
            f"got {type(boxes).__name__}"
        )
    if boxes.dim() != 2 or boxes.shape[1] != 5:
        raise ValueError(f"{fn}: boxes must have shape [K, 5], got {list(boxes.shape)}")
    rois = boxes.detach().cpu().numpy().astype(np.float64)
    n = ref.shape[0]
    if rois.shape[0] and (rois[:, 0].min() < 0 or rois[:, 0].max() >= n):
        raise IndexError(
            f"{fn}: batch index in boxes[:, 0] out of range for {n} images "
            f"(got min {rois[:, 0].min():g}, max {rois[:, 0].max():g})"
        )
    return rois


def pair(fn: str, output_size) -> tuple[int, int]:
    if isinstance(output_size, int):
        return output_size, output_size
    out = tuple(int(s) for s in output_size)
    if len(out) != 2:
        raise ValueError(f"{fn}: output_size must be an int or (h, w), got {output_size!r}")
    return out  # type: ignore[return-value]


def check_input(fn: str, x) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{fn}: input must be a Tensor[N, C, H, W], got {shape}")


class _SparseApply(torch.autograd.Function):
    """``out = M @ x`` for a constant sparse ``M``; backward applies ``M.T`` the same way."""

    @staticmethod
    def forward(ctx, x, mat):
        ctx.mat = mat
        arr = x.detach().cpu().numpy()
        out = np.asarray(mat @ arr, dtype=arr.dtype)
        return torch.from_numpy(out).to(x.device)

    @staticmethod
    def backward(ctx, grad):
        return _SparseApply.apply(grad, ctx.mat.T.tocsr()), None


def sparse_apply(x, mat):
    return _SparseApply.apply(x, mat)


def axis_weights(start, bin_size, grid, pooled: int, size: int):
    """Bilinear sampling weights along one axis, torchvision's RoIAlign rules.

    Args:
        start, bin_size: ``[G]`` start coordinate and bin size of G boxes.
        grid: samples per bin (same for the G boxes).
        pooled: number of bins.
        size: length of the feature map along this axis.

    Returns:
        ``idx, w`` of shape ``[G, pooled, 2 * grid]``: pixel indices and weights (already
        divided by ``grid``), zero weight for samples outside ``[-1, size]``.
    """
    p = np.arange(pooled)[None, :, None]
    s = np.arange(grid)[None, None, :]
    c = start[:, None, None] + p * bin_size[:, None, None]
    c = c + (s + 0.5) * bin_size[:, None, None] / grid
    valid = (c >= -1.0) & (c <= size)
    c = np.clip(c, 0.0, None)
    low = np.floor(c).astype(np.int64)
    edge = low >= size - 1
    low = np.where(edge, size - 1, low)
    high = np.where(edge, size - 1, low + 1)
    c = np.where(edge, low.astype(np.float64), c)
    frac = c - low
    wl = np.where(valid, 1.0 - frac, 0.0) / grid
    wh = np.where(valid, frac, 0.0) / grid
    idx = np.concatenate([low, high], -1)
    w = np.concatenate([wl, wh], -1)
    return idx, w


def bilinear_matrix(
    start_h: np.ndarray,
    start_w: np.ndarray,
    bin_h: np.ndarray,
    bin_w: np.ndarray,
    grid_h: np.ndarray,
    grid_w: np.ndarray,
    pooled: tuple[int, int],
    feat: tuple[int, int, int],
    col_of,
    dtype,
) -> sp.csr_matrix:
    """Sparse ``[K * PH * PW, n_cols]`` matrix of RoIAlign averages of bilinear samples.

    ``feat`` is ``(n_cols, H, W)``; ``col_of(k, ph, pw, y, x)`` maps the (broadcast) box, bin and pixel indices to a column.
    """
    ph_n, pw_n = pooled
    n_cols, h, w = feat
    k_n = start_h.shape[0]
    mats = []
    keys = grid_h * 100_003 + grid_w
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    bounds = np.flatnonzero(np.diff(sorted_keys)) + 1
    rows_all, cols_all, vals_all = [], [], []
    for group in np.split(order, bounds):
        if group.size == 0:
            continue
        gh, gw = int(grid_h[group[0]]), int(grid_w[group[0]])
        per_box = ph_n * pw_n * 4 * gh * gw
        step = max(1, _ENTRY_CHUNK // per_box)
        for c0 in range(0, group.size, step):
            g = group[c0 : c0 + step]
            yi, yw = axis_weights(start_h[g], bin_h[g], gh, ph_n, h)
            xi, xw = axis_weights(start_w[g], bin_w[g], gw, pw_n, w)
            # broadcast to [G, PH, 2gh, PW, 2gw]
            kk = g[:, None, None, None, None]
            ph = np.arange(ph_n)[None, :, None, None, None]
            pw = np.arange(pw_n)[None, None, None, :, None]
            y = yi[:, :, :, None, None]
            x = xi[:, None, None, :, :]
            val = yw[:, :, :, None, None] * xw[:, None, None, :, :]
            row = (kk * ph_n + ph) * pw_n + pw
            col = col_of(kk, ph, pw, y, x)
            shape = val.shape
            rows_all.append(np.broadcast_to(row, shape).ravel())
            cols_all.append(np.broadcast_to(col, shape).ravel())
            vals_all.append(val.ravel())
            if sum(v.size for v in vals_all) >= _ENTRY_CHUNK:
                mats.append((rows_all, cols_all, vals_all))
                rows_all, cols_all, vals_all = [], [], []
    mats.append((rows_all, cols_all, vals_all))
    return _to_csr(mats, k_n * ph_n * pw_n, n_cols, dtype)


def _to_csr(parts, n_rows: int, n_cols: int, dtype) -> sp.csr_matrix:
    # duplicates (neighbouring samples hitting the same pixel) are summed by the conversion
    total = sp.csr_matrix((n_rows, n_cols), dtype=dtype)
    for rows, cols, vals in parts:
        if not rows:
            continue
        m = sp.coo_matrix(
            (np.concatenate(vals).astype(dtype), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_rows, n_cols),
        ).tocsr()
        total = total + m
    total.eliminate_zeros()
    return total
