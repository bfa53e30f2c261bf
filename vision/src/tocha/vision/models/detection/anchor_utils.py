"""Anchor generators (torchvision.models.detection.anchor_utils)."""

from __future__ import annotations

import math

import tocha.core as torch
from tocha.core import nn

from .image_list import ImageList

__all__ = ["AnchorGenerator", "DefaultBoxGenerator"]


class AnchorGenerator(nn.Module):
    """Anchors for every location of every feature map, in image pixels ``(x1, y1, x2, y2)``.

    ``sizes[i]`` and ``aspect_ratios[i]`` belong to feature map ``i``; each location gets
    ``len(sizes[i]) * len(aspect_ratios[i])`` anchors centred on ``(x * stride_w, y * stride_h)``,
    ordered ratio-major (for each ratio, every size). The zero-centred cell anchors are rounded.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection.anchor_utils import AnchorGenerator
        >>> from tocha.vision.models.detection.image_list import ImageList
        >>> gen = AnchorGenerator(sizes=((16,),), aspect_ratios=((0.5, 1.0),))
        >>> gen.cell_anchors[0]
        tensor([[-11.,  -6.,  11.,   6.],
                [ -8.,  -8.,   8.,   8.]])
        >>> images = ImageList(torch.zeros(1, 3, 32, 32), [(32, 32)])
        >>> anchors = gen(images, [torch.zeros(1, 4, 2, 2)])
        >>> anchors[0].shape, anchors[0][-1].tolist()
        (torch.Size([8, 4]), [8.0, 8.0, 24.0, 24.0])
    """

    def __init__(
        self,
        sizes=((128, 256, 512),),
        aspect_ratios=((0.5, 1.0, 2.0),),
    ) -> None:
        super().__init__()
        if not isinstance(sizes[0], (list, tuple)):
            sizes = tuple((s,) for s in sizes)
        if not isinstance(aspect_ratios[0], (list, tuple)):
            aspect_ratios = (aspect_ratios,) * len(sizes)
        if len(sizes) != len(aspect_ratios):
            raise ValueError(
                f"AnchorGenerator: {len(sizes)} size groups but {len(aspect_ratios)} aspect "
                "ratio groups; there must be one of each per feature map"
            )
        self.sizes = sizes
        self.aspect_ratios = aspect_ratios
        self.cell_anchors = [self.generate_anchors(s, a) for s, a in zip(sizes, aspect_ratios)]

    def generate_anchors(
        self, scales, aspect_ratios, dtype=torch.float32, device=torch.device("cpu")
    ):
        """Zero-centred anchors ``[len(ratios) * len(scales), 4]`` of area ``scale ** 2``."""
        scales = torch.as_tensor(scales, dtype=dtype, device=device)
        aspect_ratios = torch.as_tensor(aspect_ratios, dtype=dtype, device=device)
        h_ratios = torch.sqrt(aspect_ratios)
        w_ratios = 1 / h_ratios
        ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)
        hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
        return (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()

    def set_cell_anchors(self, dtype, device) -> None:
        self.cell_anchors = [a.to(dtype=dtype, device=device) for a in self.cell_anchors]

    def num_anchors_per_location(self) -> list[int]:
        return [len(s) * len(a) for s, a in zip(self.sizes, self.aspect_ratios)]

    def grid_anchors(self, grid_sizes: list, strides: list) -> list:
        """Anchors of each feature map: every cell anchor shifted to every grid location."""
        if len(grid_sizes) != len(strides) or len(grid_sizes) != len(self.cell_anchors):
            raise ValueError(
                f"AnchorGenerator: {len(grid_sizes)} feature maps but anchors for "
                f"{len(self.cell_anchors)} (sizes={self.sizes}); pass one size group per map"
            )
        anchors = []
        for (gh, gw), (sh, sw), base in zip(grid_sizes, strides, self.cell_anchors):
            kw = {"dtype": base.dtype, "device": base.device}
            shift_y, shift_x = torch.meshgrid(
                torch.arange(0, gh, **kw) * sh, torch.arange(0, gw, **kw) * sw, indexing="ij"
            )
            shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
            shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
            anchors.append((shifts.reshape(-1, 1, 4) + base.reshape(1, -1, 4)).reshape(-1, 4))
        return anchors

    def forward(self, image_list: ImageList, feature_maps: list) -> list:
        grid_sizes = [tuple(fm.shape[-2:]) for fm in feature_maps]
        image_size = tuple(image_list.tensors.shape[-2:])
        dtype, device = feature_maps[0].dtype, feature_maps[0].device
        # integer strides, as torchvision (image size // feature size)
        strides = [(image_size[0] // g[0], image_size[1] // g[1]) for g in grid_sizes]
        self.set_cell_anchors(dtype, device)
        per_level = self.grid_anchors(grid_sizes, strides)
        all_levels = torch.cat(per_level, dim=0)
        return [all_levels for _ in range(len(image_list.image_sizes))]

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(sizes={self.sizes}, aspect_ratios={self.aspect_ratios})"


class DefaultBoxGenerator(nn.Module):
    """SSD's default boxes: per feature map ``k`` two squares (scale ``s_k`` and
    ``sqrt(s_k * s_{k+1})``) and, per aspect ratio ``r``, boxes ``s_k*sqrt(r) x s_k/sqrt(r)``
    and its transpose, centred on the cells; returned in image pixels ``(x1, y1, x2, y2)``.

    Args:
        aspect_ratios: per feature map, the extra aspect ratios.
        min_ratio, max_ratio: scales spread linearly between them when ``scales`` is None.
        scales: explicit scales (one more than feature maps).
        steps: per feature map, the stride in pixels (else the grid size sets the centres).
        clip: clamp widths and heights to [0, 1] (relative to the image).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection.anchor_utils import DefaultBoxGenerator
        >>> from tocha.vision.models.detection.image_list import ImageList
        >>> gen = DefaultBoxGenerator([[2]], min_ratio=0.2, max_ratio=0.9)
        >>> gen.scales, gen.num_anchors_per_location()
        ([0.2, 0.9], [4])
        >>> boxes = gen(ImageList(torch.zeros(1, 3, 100, 100), [(100, 100)]), [torch.zeros(1, 1, 1, 1)])
        >>> [round(v, 3) for v in boxes[0][0].tolist()]
        [40.0, 40.0, 60.0, 60.0]
    """

    def __init__(
        self,
        aspect_ratios: list[list[int]],
        min_ratio: float = 0.15,
        max_ratio: float = 0.9,
        scales: list[float] | None = None,
        steps: list[int] | None = None,
        clip: bool = True,
    ) -> None:
        super().__init__()
        if steps is not None and len(aspect_ratios) != len(steps):
            raise ValueError(
                f"DefaultBoxGenerator: aspect_ratios has {len(aspect_ratios)} entries but steps "
                f"has {len(steps)}"
            )
        self.aspect_ratios = aspect_ratios
        self.steps = steps
        self.clip = clip
        num_outputs = len(aspect_ratios)
        if scales is None:
            if num_outputs > 1:
                span = max_ratio - min_ratio
                self.scales = [
                    min_ratio + span * k / (num_outputs - 1.0) for k in range(num_outputs)
                ]
                self.scales.append(1.0)
            else:
                self.scales = [min_ratio, max_ratio]
        else:
            self.scales = scales
        self._wh_pairs = self._generate_wh_pairs(num_outputs)

    def _generate_wh_pairs(
        self, num_outputs: int, dtype=torch.float32, device=torch.device("cpu")
    ) -> list:
        pairs = []
        for k in range(num_outputs):
            s_k = self.scales[k]
            s_prime = math.sqrt(self.scales[k] * self.scales[k + 1])
            wh = [[s_k, s_k], [s_prime, s_prime]]
            for ar in self.aspect_ratios[k]:
                sq = math.sqrt(ar)
                wh.extend([[s_k * sq, s_k / sq], [s_k / sq, s_k * sq]])
            pairs.append(torch.as_tensor(wh, dtype=dtype, device=device))
        return pairs

    def num_anchors_per_location(self) -> list[int]:
        return [2 + 2 * len(r) for r in self.aspect_ratios]

    def _grid_default_boxes(self, grid_sizes: list, image_size: tuple, dtype=torch.float32):
        """Boxes ``(cx, cy, w, h)`` relative to the image, location-major then box."""
        boxes = []
        for k, (fh, fw) in enumerate(grid_sizes):
            if self.steps is not None:
                x_f, y_f = image_size[1] / self.steps[k], image_size[0] / self.steps[k]
            else:
                y_f, x_f = fh, fw
            shifts_x = ((torch.arange(0, fw, dtype=torch.float32) + 0.5) / x_f).to(dtype)
            shifts_y = ((torch.arange(0, fh, dtype=torch.float32) + 0.5) / y_f).to(dtype)
            shift_y, shift_x = torch.meshgrid(shifts_y, shifts_x, indexing="ij")
            wh = self._wh_pairs[k].to(dtype)
            if self.clip:
                wh = wh.clamp(min=0, max=1)
            n = wh.shape[0]
            centres = torch.stack((shift_x.reshape(-1), shift_y.reshape(-1)), dim=-1)
            centres = centres[:, None, :].expand(-1, n, 2).reshape(-1, 2)
            boxes.append(torch.cat((centres, wh.repeat(fh * fw, 1)), dim=1))
        return torch.cat(boxes, dim=0)

    def forward(self, image_list: ImageList, feature_maps: list) -> list:
        grid_sizes = [tuple(fm.shape[-2:]) for fm in feature_maps]
        image_size = tuple(image_list.tensors.shape[-2:])
        dtype, device = feature_maps[0].dtype, feature_maps[0].device
        boxes = self._grid_default_boxes(grid_sizes, image_size, dtype=dtype).to(device)
        xy = torch.tensor([image_size[1], image_size[0]], dtype=dtype, device=device)
        corners = torch.cat(
            [(boxes[:, :2] - 0.5 * boxes[:, 2:]) * xy, (boxes[:, :2] + 0.5 * boxes[:, 2:]) * xy], -1
        )
        return [corners for _ in image_list.image_sizes]

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(aspect_ratios={self.aspect_ratios}, clip={self.clip}, "
            f"scales={self.scales}, steps={self.steps})"
        )
