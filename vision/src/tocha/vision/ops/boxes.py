"""Box utilities and non-maximum suppression (torchvision.ops.boxes).

Boxes are ``Tensor[N, 4]`` in ``(x1, y1, x2, y2)`` unless a function says otherwise. The IoU
family is written in tocha ops, so it is differentiable (the box losses rely on that); ``nms``
and ``batched_nms`` return indices and run in NumPy.

``nms`` avoids the dense all-pairs loop. When few boxes overlap, a sweep over the boxes sorted
along one axis compares each block of boxes only with the window of boxes starting before they
end, and the greedy keep/suppress order is then resolved on that sparse overlap graph by a
fixed-point iteration (each step settles at least one more box in score order, usually a
handful of steps in all; a plain greedy loop bounds it). When boxes are crowded, blocks taken
in score order are resolved on their own IoU matrix and their kept boxes suppress all later
live boxes at once, so the live set shrinks fast.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

import tocha.core as torch

__all__ = [
    "batched_nms",
    "box_area",
    "box_convert",
    "box_iou",
    "clip_boxes_to_image",
    "complete_box_iou",
    "distance_box_iou",
    "generalized_box_iou",
    "masks_to_boxes",
    "nms",
    "remove_small_boxes",
]

# boxes per block in nms (block x window IoU matrices stay a few MB)
_BLOCK = 256
# fixed-point steps before nms falls back to the sequential greedy loop
_MAX_FIXED_POINT_STEPS = 64


def _check_boxes(fn: str, boxes, name: str = "boxes") -> None:
    if not isinstance(boxes, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(boxes).__name__}")
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"{fn}: {name} must have shape [N, 4], got {list(boxes.shape)}")


def _as_numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def _upcast(t):
    # integer boxes would overflow (areas) or truncate (IoU); torchvision promotes them too
    if t.is_floating_point():
        return t if t.dtype in (torch.float32, torch.float64) else t.float()
    return t.float()


def _sweep_pairs(b: np.ndarray, thr: float, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a, c), a < c in score rank, with IoU(b[a], b[c]) > thr >= 0.

    Boxes sorted by their low coordinate on ``axis`` can only overlap the ones that start
    before they end, so each block of sorted boxes is compared, densely and on contiguous
    slices, with that window only.
    """
    n = b.shape[0]
    order = np.argsort(b[:, axis], kind="stable")
    x1, y1, x2, y2 = (np.ascontiguousarray(b[order, k]) for k in range(4))
    lo, hi = (x1, x2) if axis == 0 else (y1, y2)
    area = (x2 - x1) * (y2 - y1)
    ends = np.searchsorted(lo, hi, side="left")
    rows, cols = [], []
    for p0 in range(0, n, _BLOCK):
        p1 = min(p0 + _BLOCK, n)
        qe = int(ends[p0:p1].max())
        if qe <= p0 + 1:
            continue
        # zero-width boxes end where they start, so the window may stop inside the block;
        # widen it to the block (the strict comparisons below reject the extra pairs)
        qe = max(qe, p1)
        q = slice(p0, qe)
        # necessary conditions for a positive intersection, comparisons only (1-byte
        # temporaries); the exact IoU is computed for the survivors. lo[q] >= lo[p] in the
        # window, so on the sweep axis only lo[q] < hi[p] is left to check.
        if axis == 0:
            cand = x1[None, q] < x2[p0:p1, None]
            cand &= y1[None, q] < y2[p0:p1, None]
            cand &= y1[p0:p1, None] < y2[None, q]
        else:
            cand = y1[None, q] < y2[p0:p1, None]
            cand &= x1[None, q] < x2[p0:p1, None]
            cand &= x1[p0:p1, None] < x2[None, q]
        # only q > p: each unordered pair once (the window starts at the block)
        tri = np.arange(p1 - p0)
        cand[:, : p1 - p0] &= tri[None, :] > tri[:, None]
        flat = np.flatnonzero(cand)
        pi, qi = np.divmod(flat, qe - p0)
        pi += p0
        qi += p0
        w = np.minimum(x2[pi], x2[qi]) - np.maximum(x1[pi], x1[qi])
        h = np.minimum(y2[pi], y2[qi]) - np.maximum(y1[pi], y1[qi])
        inter = w * h
        hit = inter / (area[pi] + area[qi] - inter) > thr
        i, j = order[pi[hit]], order[qi[hit]]
        rows.append(np.minimum(i, j))
        cols.append(np.maximum(i, j))
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def _sweep_cost(b: np.ndarray, axis: int) -> int:
    """Number of box pairs the sweep along ``axis`` would compare."""
    lo = np.sort(b[:, axis])
    hi = b[np.argsort(b[:, axis], kind="stable"), axis + 2]
    ends = np.searchsorted(lo, hi, side="left")
    return int(np.maximum(ends - np.arange(b.shape[0]) - 1, 0).sum())


def _nms_score_blocks(b: np.ndarray, thr: float) -> np.ndarray:
    """Greedy NMS over boxes already in score order, a block at a time: the block is resolved
    on its own IoU matrix, then its kept boxes suppress every later live box at once. Cheap
    when suppression is heavy (the live set shrinks fast)."""
    n = b.shape[0]
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    alive = np.ones(n, bool)
    for p0 in range(0, n, _BLOCK):
        p1 = min(p0 + _BLOCK, n)
        idx = p0 + np.nonzero(alive[p0:p1])[0]
        if idx.size == 0:
            continue
        iou = _iou_matrix(b[idx], b[idx], area[idx], area[idx])
        i, j = np.nonzero(np.triu(iou > thr, 1))
        keep = idx[_greedy(idx.size, i, j)]
        alive[idx] = False
        alive[keep] = True
        rest = p1 + np.nonzero(alive[p1:])[0]
        if rest.size:
            sup = (_iou_matrix(b[keep], b[rest], area[keep], area[rest]) > thr).any(0)
            alive[rest[sup]] = False
    return alive


def _iou_matrix(a: np.ndarray, c: np.ndarray, area_a: np.ndarray, area_c: np.ndarray):
    w = np.minimum(a[:, None, 2], c[None, :, 2]) - np.maximum(a[:, None, 0], c[None, :, 0])
    h = np.minimum(a[:, None, 3], c[None, :, 3]) - np.maximum(a[:, None, 1], c[None, :, 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / (area_a[:, None] + area_c[None, :] - inter)


def _greedy(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Greedy keep mask in score order, where row a (kept) suppresses col c > a."""
    if rows.size == 0:
        return np.ones(n, bool)
    # S.T @ keep counts, for each box, the kept higher-scored boxes overlapping it
    st = sp.csr_matrix((np.ones(rows.size, np.int32), (cols, rows)), shape=(n, n))
    keep = np.ones(n, bool)
    for _ in range(_MAX_FIXED_POINT_STEPS):
        new = (st @ keep.astype(np.int32)) == 0
        if np.array_equal(new, keep):
            return keep
        keep = new
    # a long suppression chain: finish with the sequential greedy loop over the sparse rows
    s = sp.csr_matrix((np.ones(rows.size, bool), (rows, cols)), shape=(n, n))
    removed = np.zeros(n, bool)
    for a in range(n):
        if not removed[a]:
            removed[s.indices[s.indptr[a] : s.indptr[a + 1]]] = True
    return ~removed


def _nms_numpy(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, method: str = "auto"
) -> np.ndarray:
    n = boxes.shape[0]
    if n == 0:
        return np.empty(0, np.int64)
    order = np.argsort(-scores, kind="stable")
    # IoU in the boxes' own float type, as torchvision computes it
    dtype = boxes.dtype if boxes.dtype in (np.float32, np.float64) else np.float64
    b = np.ascontiguousarray(boxes[order], dtype=dtype)
    if method == "auto":
        # a negative threshold makes every pair suppress: no sweep can prune that
        costs = (_sweep_cost(b, 0), _sweep_cost(b, 1)) if iou_threshold >= 0 else (n * n, n * n)
        # sweeping pays when few pairs overlap; crowded boxes suppress a lot, which is what
        # the score-ordered blocks exploit
        method = "sweep" if min(costs) <= n * n // 8 else "blocks"
        axis = 0 if costs[0] <= costs[1] else 1
    else:
        axis = 0
    if method == "sweep":
        keep = _greedy(n, *_sweep_pairs(b, iou_threshold, axis))
    else:
        keep = _nms_score_blocks(b, iou_threshold)
    return order[keep].astype(np.int64)


def nms(boxes, scores, iou_threshold: float):
    """Non-maximum suppression: drop boxes overlapping a higher-scored kept box.

    A box is discarded when its IoU with an already kept, higher-scored box is greater than
    ``iou_threshold``.

    Args:
        boxes: ``Tensor[N, 4]`` in ``(x1, y1, x2, y2)`` format with ``0 <= x1 < x2`` and
            ``0 <= y1 < y2``.
        scores: ``Tensor[N]``.
        iou_threshold: discard boxes with IoU > ``iou_threshold``.

    Returns:
        int64 ``Tensor`` of the kept indices, in decreasing order of score.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import nms
        >>> boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])
        >>> nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
        tensor([0, 2])
    """
    _check_boxes("nms", boxes)
    if scores.dim() != 1 or scores.shape[0] != boxes.shape[0]:
        raise ValueError(
            f"nms: scores must have shape [{boxes.shape[0]}] to match boxes, "
            f"got {list(scores.shape)}"
        )
    keep = _nms_numpy(_as_numpy(boxes), _as_numpy(scores), float(iou_threshold))
    return torch.from_numpy(keep).to(boxes.device)


def batched_nms(boxes, scores, idxs, iou_threshold: float):
    """NMS within each category: boxes of different ``idxs`` never suppress each other.

    Args:
        boxes: ``Tensor[N, 4]`` in ``(x1, y1, x2, y2)`` format.
        scores: ``Tensor[N]``.
        idxs: ``Tensor[N]`` of category indices.
        iou_threshold: discard boxes with IoU > ``iou_threshold``.

    Returns:
        int64 ``Tensor`` of the kept indices, in decreasing order of score.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import batched_nms
        >>> boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 10, 10], [1, 1, 10, 10]])
        >>> batched_nms(boxes, torch.tensor([0.9, 0.8, 0.7]), torch.tensor([0, 0, 1]), 0.5)
        tensor([0, 2])
    """
    _check_boxes("batched_nms", boxes)
    if boxes.shape[0] == 0:
        return torch.from_numpy(np.empty(0, np.int64)).to(boxes.device)
    b = _as_numpy(boxes).astype(np.float64)
    cls = _as_numpy(idxs).astype(np.float64)
    # shift each category into its own disjoint region so one nms call separates them
    offsets = cls * (b.max() - min(b.min(), 0.0) + 1.0)
    keep = _nms_numpy(b + offsets[:, None], _as_numpy(scores), float(iou_threshold))
    return torch.from_numpy(keep).to(boxes.device)


def remove_small_boxes(boxes, min_size: float):
    """Indices of the boxes whose both sides are at least ``min_size``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import remove_small_boxes
        >>> remove_small_boxes(torch.tensor([[0.0, 0, 1, 5], [0, 0, 4, 4]]), 2.0)
        tensor([1])
    """
    _check_boxes("remove_small_boxes", boxes)
    b = _as_numpy(boxes)
    ws, hs = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    keep = np.nonzero((ws >= min_size) & (hs >= min_size))[0].astype(np.int64)
    return torch.from_numpy(keep).to(boxes.device)


def clip_boxes_to_image(boxes, size: tuple[int, int]):
    """Clip boxes ``(x1, y1, x2, y2)`` to an image of ``size = (height, width)``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import clip_boxes_to_image
        >>> clip_boxes_to_image(torch.tensor([[-5.0, 2, 30, 40]]), (20, 25))
        tensor([[ 0.,  2., 25., 20.]])
    """
    if boxes.shape[-1] != 4:
        raise ValueError(
            f"clip_boxes_to_image: boxes must end in 4 coordinates, got {list(boxes.shape)}"
        )
    height, width = size
    x = boxes[..., 0::2].clamp(min=0, max=width)
    y = boxes[..., 1::2].clamp(min=0, max=height)
    return torch.stack((x, y), dim=-1).reshape(boxes.shape)


def box_convert(boxes, in_fmt: str, out_fmt: str):
    """Convert boxes between ``'xyxy'``, ``'xywh'`` and ``'cxcywh'``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import box_convert
        >>> box_convert(torch.tensor([[10.0, 20, 30, 60]]), "xyxy", "cxcywh")
        tensor([[20., 40., 20., 40.]])
    """
    allowed = ("xyxy", "xywh", "cxcywh")
    if in_fmt not in allowed or out_fmt not in allowed:
        raise ValueError(
            f"box_convert: unsupported format in_fmt={in_fmt!r} out_fmt={out_fmt!r}; "
            f"use one of {allowed}"
        )
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = boxes.unbind(-1)
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    # now (a, b, c, d) is xyxy
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return torch.stack((a, b, c, d), dim=-1)


def box_area(boxes):
    """Areas of boxes ``(x1, y1, x2, y2)``: ``Tensor[N]``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import box_area
        >>> box_area(torch.tensor([[0.0, 0, 2, 3], [1, 1, 2, 2]]))
        tensor([6., 1.])
    """
    boxes = _upcast(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _inter_union(boxes1, boxes2):
    area1, area2 = box_area(boxes1), box_area(boxes2)
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter, area1[:, None] + area2[None, :] - inter


def box_iou(boxes1, boxes2):
    """Intersection over union of every pair: ``Tensor[N, M]``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import box_iou
        >>> box_iou(torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[1.0, 1, 3, 3], [0, 0, 2, 2]]))
        tensor([[0.1429, 1.0000]])
    """
    _check_boxes("box_iou", boxes1, "boxes1")
    _check_boxes("box_iou", boxes2, "boxes2")
    boxes1, boxes2 = _upcast(boxes1), _upcast(boxes2)
    inter, union = _inter_union(boxes1, boxes2)
    return inter / union


def generalized_box_iou(boxes1, boxes2):
    """Generalized IoU (Rezatofighi et al. 2019) of every pair: ``Tensor[N, M]`` in [-1, 1].

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import generalized_box_iou
        >>> generalized_box_iou(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([[2.0, 0, 3, 1]]))
        tensor([[-0.3333]])
    """
    _check_boxes("generalized_box_iou", boxes1, "boxes1")
    _check_boxes("generalized_box_iou", boxes2, "boxes2")
    boxes1, boxes2 = _upcast(boxes1), _upcast(boxes2)
    inter, union = _inter_union(boxes1, boxes2)
    iou = inter / union
    lt = torch.min(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.max(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    enclosing = wh[:, :, 0] * wh[:, :, 1]
    return iou - (enclosing - union) / enclosing


def _diou_iou(boxes1, boxes2, eps: float):
    inter, union = _inter_union(boxes1, boxes2)
    iou = inter / union
    lt = torch.min(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.max(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    diag2 = wh[:, :, 0] ** 2 + wh[:, :, 1] ** 2 + eps
    cx1, cy1 = (boxes1[:, 0] + boxes1[:, 2]) / 2, (boxes1[:, 1] + boxes1[:, 3]) / 2
    cx2, cy2 = (boxes2[:, 0] + boxes2[:, 2]) / 2, (boxes2[:, 1] + boxes2[:, 3]) / 2
    dist2 = (cx1[:, None] - cx2[None, :]) ** 2 + (cy1[:, None] - cy2[None, :]) ** 2
    return iou - dist2 / diag2, iou


def distance_box_iou(boxes1, boxes2, eps: float = 1e-7):
    """Distance IoU (Zheng et al. 2019) of every pair: IoU minus the squared centre distance
    over the squared diagonal of the enclosing box. ``Tensor[N, M]``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import distance_box_iou
        >>> distance_box_iou(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([[1.0, 0, 2, 1]]))
        tensor([[-0.2000]])
    """
    _check_boxes("distance_box_iou", boxes1, "boxes1")
    _check_boxes("distance_box_iou", boxes2, "boxes2")
    boxes1, boxes2 = _upcast(boxes1), _upcast(boxes2)
    return _diou_iou(boxes1, boxes2, eps)[0]


def complete_box_iou(boxes1, boxes2, eps: float = 1e-7):
    """Complete IoU (Zheng et al. 2020) of every pair: distance IoU minus an aspect-ratio
    consistency term ``alpha * v`` (``alpha`` taken as a constant, as torchvision does).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import complete_box_iou
        >>> complete_box_iou(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([[0.0, 0, 1, 2]]))
        tensor([[0.4468]])
    """
    _check_boxes("complete_box_iou", boxes1, "boxes1")
    _check_boxes("complete_box_iou", boxes2, "boxes2")
    boxes1, boxes2 = _upcast(boxes1), _upcast(boxes2)
    diou, iou = _diou_iou(boxes1, boxes2, eps)
    w1, h1 = boxes1[:, 2] - boxes1[:, 0], boxes1[:, 3] - boxes1[:, 1]
    w2, h2 = boxes2[:, 2] - boxes2[:, 0], boxes2[:, 3] - boxes2[:, 1]
    v = (4 / math.pi**2) * (torch.atan(w2 / h2)[None, :] - torch.atan(w1 / h1)[:, None]) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v


def masks_to_boxes(masks):
    """Bounding boxes ``(x1, y1, x2, y2)`` (float) of the nonzero pixels of ``Tensor[N, H, W]``
    masks; an empty mask gives a zero box.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import masks_to_boxes
        >>> m = torch.zeros(1, 5, 6)
        >>> m[0, 1:3, 2:5] = 1
        >>> masks_to_boxes(m)
        tensor([[2., 1., 4., 2.]])
    """
    if masks.dim() != 3:
        raise ValueError(f"masks_to_boxes: masks must be [N, H, W], got {list(masks.shape)}")
    m = _as_numpy(masks) != 0
    n = m.shape[0]
    out = np.zeros((n, 4), np.float32)
    rows, cols = m.any(axis=2), m.any(axis=1)
    nonempty = rows.any(axis=1)
    h, w = m.shape[1], m.shape[2]
    out[:, 0] = np.argmax(cols, axis=1)
    out[:, 1] = np.argmax(rows, axis=1)
    out[:, 2] = w - 1 - np.argmax(cols[:, ::-1], axis=1)
    out[:, 3] = h - 1 - np.argmax(rows[:, ::-1], axis=1)
    out[~nonempty] = 0
    return torch.from_numpy(out).to(masks.device)
