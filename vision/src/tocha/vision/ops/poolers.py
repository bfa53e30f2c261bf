"""MultiScaleRoIAlign: RoIAlign over a feature pyramid (torchvision.ops.poolers)."""

from __future__ import annotations

import math

import numpy as np

import tocha.core as torch
from tocha.core import nn

from .boxes import box_area
from .roi_align import roi_align

__all__ = ["MultiScaleRoIAlign"]


def _infer_scale(fn: str, feature, original_size) -> float:
    # the scale is a power of two close to feature size / image size, per axis
    scales = []
    for s1, s2 in zip(feature.shape[-2:], original_size):
        scales.append(2.0 ** round(math.log2(float(s1) / float(s2))))
    if scales[0] != scales[1]:
        raise ValueError(
            f"{fn}: feature map {list(feature.shape[-2:])} has different height and width "
            f"scales {scales} relative to the image size {list(original_size)}"
        )
    return scales[0]


class MultiScaleRoIAlign(nn.Module):
    """RoIAlign from the pyramid level matched to each box's size (FPN paper, eq. 1).

    A box of area ``w * h`` goes to level
    ``floor(canonical_level + log2(sqrt(w * h) / canonical_scale) + 1e-6)``, clamped to the
    available levels, whose scale is inferred from the feature map and image sizes.

    Args:
        featmap_names: names of the feature maps (keys of the input dict) to pool from.
        output_size: ``int`` or ``(h, w)`` of the pooled output.
        sampling_ratio: as in :func:`roi_align`.
        canonical_scale, canonical_level: box size mapped to ``canonical_level``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.ops import MultiScaleRoIAlign
        >>> m = MultiScaleRoIAlign(["feat1", "feat3"], 3, 2)
        >>> x = {"feat1": torch.rand(1, 5, 64, 64), "feat2": torch.rand(1, 5, 32, 32),
        ...      "feat3": torch.rand(1, 5, 16, 16)}
        >>> boxes = [torch.tensor([[0.0, 0, 40, 40], [10, 10, 120, 200]])]
        >>> m(x, boxes, [(512, 512)]).shape
        torch.Size([2, 5, 3, 3])
    """

    def __init__(
        self,
        featmap_names: list[str],
        output_size,
        sampling_ratio: int,
        *,
        canonical_scale: int = 224,
        canonical_level: int = 4,
    ):
        super().__init__()
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        self.featmap_names = list(featmap_names)
        self.sampling_ratio = sampling_ratio
        self.output_size = tuple(output_size)
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level

    def _levels(self, boxes, k_min: int, k_max: int) -> np.ndarray:
        s = np.sqrt(np.concatenate([box_area(b).detach().cpu().numpy() for b in boxes]))
        lv = np.floor(self.canonical_level + np.log2(s / self.canonical_scale) + 1e-6)
        return (np.clip(lv, k_min, k_max) - k_min).astype(np.int64)

    def forward(self, x: dict, boxes: list, image_shapes: list):
        feats = [v for k, v in x.items() if k in self.featmap_names]
        if not feats:
            raise ValueError(
                f"MultiScaleRoIAlign: none of {self.featmap_names} among the inputs {list(x)}"
            )
        original = (max(s[0] for s in image_shapes), max(s[1] for s in image_shapes))
        scales = [_infer_scale("MultiScaleRoIAlign", f, original) for f in feats]
        rois = torch.cat(
            [torch.cat([torch.full_like(b[:, :1], i), b], dim=1) for i, b in enumerate(boxes)],
            dim=0,
        )
        if len(feats) == 1:
            return roi_align(feats[0], rois, self.output_size, scales[0], self.sampling_ratio)
        k_min = int(-math.log2(scales[0]))
        k_max = int(-math.log2(scales[-1]))
        levels = self._levels(boxes, k_min, k_max)
        outs, order = [], []
        for lvl, (feat, scale) in enumerate(zip(feats, scales)):
            idx = np.nonzero(levels == lvl)[0]
            if idx.size == 0:
                continue
            sel = torch.from_numpy(idx).to(rois.device)
            outs.append(
                roi_align(
                    feat, rois.index_select(0, sel), self.output_size, scale, self.sampling_ratio
                )
            )
            order.append(idx)
        # torchvision leaves the boxes of a level with no feature map at zero
        missing = np.nonzero(levels >= len(feats))[0]
        if missing.size or not outs:
            c = feats[0].shape[1]
            outs.append(feats[0].new_zeros((missing.size, c, *self.output_size)))
            order.append(missing)
        # rows were produced level by level: put them back in box order
        inverse = np.empty(len(levels), np.int64)
        inverse[np.concatenate(order)] = np.arange(len(levels))
        return torch.cat(outs, 0).index_select(0, torch.from_numpy(inverse).to(rois.device))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(featmap_names={self.featmap_names}, "
            f"output_size={self.output_size}, sampling_ratio={self.sampling_ratio})"
        )
