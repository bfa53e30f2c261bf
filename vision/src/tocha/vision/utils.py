"""Image grids, saving and drawing helpers (torchvision.utils).

Drawing goes through Pillow's ImageDraw on uint8 HWC arrays, as torchvision does, so line
rasterisation matches Pillow's. The results are new tensors (no autograd through drawing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont

import tocha.core as torch

__all__ = [
    "draw_bounding_boxes",
    "draw_keypoints",
    "draw_segmentation_masks",
    "flow_to_image",
    "make_grid",
    "save_image",
]


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def make_grid(
    tensor,
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
):
    """Tile a batch of images ``[B, C, H, W]`` (or a list of ``[C, H, W]``) into one image.

    Images are laid out ``nrow`` per row with ``padding`` pixels of ``pad_value`` around each;
    one-channel images become three-channel. ``normalize`` maps ``value_range`` (default: the
    min and max, per image with ``scale_each``) to [0, 1].

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.utils import make_grid
        >>> make_grid(torch.ones(5, 3, 4, 4), nrow=2, padding=1).shape
        torch.Size([3, 16, 11])
    """
    if isinstance(tensor, (list, tuple)):
        tensor = torch.stack(list(tensor), dim=0)
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"make_grid: expected a Tensor or a list of Tensors, got {type(tensor)}")
    x = _np(tensor).copy()
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"make_grid: expected [B, C, H, W] images, got shape {list(x.shape)}")
    if x.shape[1] == 1:
        x = np.concatenate([x, x, x], 1)
    if normalize:
        x = x.astype(np.float32) if not np.issubdtype(x.dtype, np.floating) else x

        def norm(img, lo, hi):
            img = np.clip(img, lo, hi)
            return (img - lo) / max(hi - lo, 1e-5)

        if scale_each:
            for i in range(x.shape[0]):
                lo, hi = value_range if value_range else (x[i].min(), x[i].max())
                x[i] = norm(x[i], lo, hi)
        else:
            lo, hi = value_range if value_range else (x.min(), x.max())
            x = norm(x, lo, hi)
    if x.shape[0] == 1:
        return torch.from_numpy(np.ascontiguousarray(x[0])).to(tensor.device)
    b, c, h, w = x.shape
    xmaps = min(nrow, b)
    ymaps = int(math.ceil(b / xmaps))
    hh, ww = h + padding, w + padding
    grid = np.full((c, hh * ymaps + padding, ww * xmaps + padding), pad_value, dtype=x.dtype)
    for k in range(b):
        y, xx = divmod(k, xmaps)
        grid[:, y * hh + padding : (y + 1) * hh, xx * ww + padding : (xx + 1) * ww] = x[k]
    return torch.from_numpy(grid).to(tensor.device)


def save_image(tensor, fp, format: str | None = None, **kwargs) -> None:
    """Save a tensor (or a batch, tiled with :func:`make_grid` and ``kwargs``) as an image.

    Float values in [0, 1] are scaled to 0-255 and rounded.

    Example:
        >>> import os, tempfile
        >>> import tocha.core as torch
        >>> from tocha.vision.utils import save_image
        >>> path = os.path.join(tempfile.mkdtemp(), "grid.png")
        >>> save_image(torch.rand(4, 3, 8, 8), path, nrow=2)
        >>> from PIL import Image; Image.open(path).size
        (22, 22)
    """
    grid = _np(make_grid(tensor, **kwargs))
    arr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(np.ascontiguousarray(arr)).save(fp, format=format)


def _palette(n: int) -> list[tuple[int, int, int]]:
    base = np.array([2**25 - 1, 2**15 - 1, 2**21 - 1], np.int64)
    return [tuple(int(v) for v in (i * base) % 255) for i in range(n)]


def _parse_colors(fn: str, colors, num_objects: int) -> list[tuple[int, ...]]:
    if colors is None:
        return _palette(num_objects)
    if isinstance(colors, list):
        if len(colors) < num_objects:
            raise ValueError(
                f"{fn}: number of colors must be equal or larger than the number of objects, "
                f"but got {len(colors)} < {num_objects}"
            )
        colors = colors[:num_objects]
    else:
        colors = [colors] * num_objects
    return [
        ImageColor.getrgb(c) if isinstance(c, str) else tuple(int(v) for v in c) for c in colors
    ]


def _image_to_hwc(fn: str, image) -> tuple[np.ndarray, bool]:
    """uint8 HWC RGB array and whether the input was a float image."""
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{fn}: image must be a Tensor, got {type(image).__name__}")
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"{fn}: image must be [C, H, W] with C = 1 or 3, got {list(image.shape)}")
    a = _np(image)
    is_float = np.issubdtype(a.dtype, np.floating)
    if is_float:
        a = np.clip(np.round(a * 255), 0, 255).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise ValueError(f"{fn}: image must be uint8 or float, got {a.dtype}")
    if a.shape[0] == 1:
        a = np.repeat(a, 3, 0)
    return np.ascontiguousarray(a.transpose(1, 2, 0)), is_float


def _hwc_to_image(a: np.ndarray, is_float: bool, device):
    out = np.ascontiguousarray(a.transpose(2, 0, 1))
    if is_float:
        out = out.astype(np.float32) / 255
    return torch.from_numpy(out).to(device)


def draw_bounding_boxes(
    image,
    boxes,
    labels: list[str] | None = None,
    colors=None,
    fill: bool = False,
    width: int = 1,
    font: str | None = None,
    font_size: int | None = None,
):
    """Draw ``(x1, y1, x2, y2)`` boxes (and optional labels) on a ``[C, H, W]`` image.

    Args:
        image: uint8 (or float in [0, 1]) ``[C, H, W]`` image, C = 1 or 3.
        boxes: ``Tensor[N, 4]`` in absolute pixel coordinates.
        labels: one string per box, written at its top-left corner.
        colors: one colour for all boxes or a list (names like ``'red'``, ``'#FF00FF'`` or RGB
            tuples); default: a fixed palette.
        fill: fill the boxes with the colour at alpha 100/255.
        width: line width.
        font, font_size: a TrueType font file and its size (default: Pillow's bitmap font).

    Returns:
        The image with boxes drawn, same dtype, 3 channels.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.utils import draw_bounding_boxes
        >>> img = torch.zeros(3, 10, 10, dtype=torch.uint8)
        >>> out = draw_bounding_boxes(img, torch.tensor([[2, 2, 7, 7]]), colors="red")
        >>> out[:, 2, 4].tolist(), out[:, 4, 4].tolist()
        ([255, 0, 0], [0, 0, 0])
    """
    arr, is_float = _image_to_hwc("draw_bounding_boxes", image)
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"draw_bounding_boxes: boxes must be [N, 4], got {list(boxes.shape)}")
    b = _np(boxes)
    if b.size and ((b[:, 0] > b[:, 2]).any() or (b[:, 1] > b[:, 3]).any()):
        raise ValueError(
            "draw_bounding_boxes: boxes must be (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2"
        )
    n = b.shape[0]
    if labels is not None and len(labels) != n:
        raise ValueError(
            f"draw_bounding_boxes: {n} boxes but {len(labels)} labels; give one label per box"
        )
    cols = _parse_colors("draw_bounding_boxes", colors, n)
    img = Image.fromarray(arr)
    draw = ImageDraw.Draw(img, "RGBA" if fill else None)
    if font is None:
        txt_font = ImageFont.load_default()
    else:
        txt_font = ImageFont.truetype(font=font, size=font_size or 10)
    for k in range(n):
        box = [float(v) for v in b[k]]
        color = cols[k]
        if fill:
            draw.rectangle(box, width=width, outline=color, fill=color[:3] + (100,))
        else:
            draw.rectangle(box, width=width, outline=color)
        if labels is not None:
            margin = width + 1
            draw.text((box[0] + margin, box[1] + margin), labels[k], fill=color, font=txt_font)
    return _hwc_to_image(np.asarray(img.convert("RGB")), is_float, image.device)


def draw_segmentation_masks(image, masks, alpha: float = 0.8, colors=None):
    """Overlay boolean masks: ``image * (1 - alpha) + painted * alpha`` (uint8, truncated).

    Args:
        image: uint8 (or float in [0, 1]) ``[3, H, W]`` image.
        masks: bool ``[H, W]`` or ``[N, H, W]``.
        alpha: opacity of the masks (0 = invisible, 1 = opaque).
        colors: one colour or a list, as in :func:`draw_bounding_boxes`.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.utils import draw_segmentation_masks
        >>> img = torch.full((3, 2, 2), 100, dtype=torch.uint8)
        >>> m = torch.tensor([[True, False], [False, False]])
        >>> draw_segmentation_masks(img, m, alpha=0.5, colors="blue")[:, 0, 0].tolist()
        [50, 50, 177]
    """
    arr, is_float = _image_to_hwc("draw_segmentation_masks", image)
    m = _np(masks)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or m.dtype != np.bool_:
        raise ValueError(
            f"draw_segmentation_masks: masks must be bool [N, H, W] or [H, W], "
            f"got {m.dtype} {list(m.shape)}"
        )
    if m.shape[1:] != arr.shape[:2]:
        raise ValueError(
            f"draw_segmentation_masks: masks {list(m.shape[1:])} and image {list(arr.shape[:2])} "
            "must have the same height and width"
        )
    cols = _parse_colors("draw_segmentation_masks", colors, m.shape[0])
    painted = arr.copy()
    for mk, color in zip(m, cols):
        painted[mk] = np.array(color[:3], np.uint8)
    out = arr.astype(np.float64) * (1 - alpha) + painted.astype(np.float64) * alpha
    return _hwc_to_image(out.astype(np.uint8), is_float, image.device)


def draw_keypoints(
    image,
    keypoints,
    connectivity: Sequence[tuple[int, int]] | None = None,
    colors=None,
    radius: int = 2,
    width: int = 3,
    visibility=None,
):
    """Draw keypoints ``[num_instances, K, 2]`` as filled circles, optionally joined by lines.

    Args:
        image: uint8 (or float) ``[3, H, W]`` image.
        keypoints: ``Tensor[num_instances, K, 2]`` of ``(x, y)``.
        connectivity: pairs of keypoint indices to join.
        colors: one colour for all keypoints and lines; with None (as in torchvision,
            through Pillow) lines take the default ink (white) and circles are not drawn.
        radius: circle radius; width: line width.
        visibility: optional bool ``[num_instances, K]``; invisible points and their lines
            are skipped.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.utils import draw_keypoints
        >>> img = torch.zeros(3, 9, 9, dtype=torch.uint8)
        >>> out = draw_keypoints(img, torch.tensor([[[4.0, 4.0]]]), colors="red", radius=1)
        >>> out[:, 4, 4].tolist(), out[:, 0, 0].tolist()
        ([255, 0, 0], [0, 0, 0])
    """
    arr, is_float = _image_to_hwc("draw_keypoints", image)
    kp = _np(keypoints)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(
            f"draw_keypoints: keypoints must be [num_instances, K, 2], got {list(kp.shape)}"
        )
    vis = np.ones(kp.shape[:2], bool) if visibility is None else _np(visibility).astype(bool)
    if vis.shape != kp.shape[:2]:
        raise ValueError(
            f"draw_keypoints: visibility {list(vis.shape)} must match keypoints "
            f"{list(kp.shape[:2])}"
        )
    color = ImageColor.getrgb(colors) if isinstance(colors, str) else colors
    img = Image.fromarray(arr)
    draw = ImageDraw.Draw(img)
    for inst, inst_vis in zip(kp, vis):
        for (x, y), v in zip(inst, inst_vis):
            if v:
                draw.ellipse(
                    [x - radius, y - radius, x + radius, y + radius],
                    fill=color,
                    outline=None,
                    width=0,
                )
        for a, c in connectivity or ():
            if inst_vis[a] and inst_vis[c]:
                draw.line(
                    [tuple(float(v) for v in inst[a]), tuple(float(v) for v in inst[c])],
                    width=width,
                    fill=color,
                )
    return _hwc_to_image(np.asarray(img), is_float, image.device)


def _colorwheel() -> np.ndarray:
    # the Middlebury optical-flow colour wheel (Baker et al. 2011): 55 hues
    segs = [("RY", 15), ("YG", 6), ("GC", 4), ("CB", 11), ("BM", 13), ("MR", 6)]
    wheel = np.zeros((55, 3))
    col = 0
    for name, n in segs:
        ramp = np.floor(255 * np.arange(n) / n)
        up, down = ramp, 255 - ramp
        rows = slice(col, col + n)
        if name == "RY":
            wheel[rows, 0], wheel[rows, 1] = 255, up
        elif name == "YG":
            wheel[rows, 0], wheel[rows, 1] = down, 255
        elif name == "GC":
            wheel[rows, 1], wheel[rows, 2] = 255, up
        elif name == "CB":
            wheel[rows, 1], wheel[rows, 2] = down, 255
        elif name == "BM":
            wheel[rows, 2], wheel[rows, 0] = 255, up
        else:
            wheel[rows, 2], wheel[rows, 0] = down, 255
        col += n
    return wheel


def flow_to_image(flow):
    """Colour-code optical flow ``[2, H, W]`` or ``[N, 2, H, W]`` (float) as uint8 RGB.

    Direction is the hue on the Middlebury colour wheel, magnitude (relative to the largest
    in the input) the saturation; zero flow is white.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.utils import flow_to_image
        >>> flow = torch.zeros(2, 1, 2)
        >>> flow[0, 0, 1] = 3.0   # the right pixel moves right
        >>> flow_to_image(flow)[:, 0].tolist()
        [[255, 255], [255, 0], [255, 0]]
    """
    if not isinstance(flow, torch.Tensor) or not flow.is_floating_point():
        raise ValueError("flow_to_image: flow must be a float Tensor")
    f = _np(flow)
    single = f.ndim == 3
    if single:
        f = f[None]
    if f.ndim != 4 or f.shape[1] != 2:
        raise ValueError(
            f"flow_to_image: flow must be [2, H, W] or [N, 2, H, W], got {list(flow.shape)}"
        )
    eps = np.finfo(f.dtype).eps
    max_norm = np.sqrt((f**2).sum(1)).max()
    f = f / (max_norm + eps)
    u, v = f[:, 0], f[:, 1]
    wheel = _colorwheel()
    ncols = wheel.shape[0]
    norm = np.sqrt(u**2 + v**2)
    a = np.arctan2(-v, -u) / np.pi
    fk = (a + 1) / 2 * (ncols - 1)
    k0 = np.floor(fk).astype(np.int64)
    k1 = k0 + 1
    k1[k1 == ncols] = 0
    frac = fk - k0
    out = np.zeros((f.shape[0], 3, *u.shape[1:]), np.uint8)
    for c in range(3):
        col = (1 - frac) * wheel[k0, c] / 255 + frac * wheel[k1, c] / 255
        col = 1 - norm * (1 - col)
        out[:, c] = np.floor(255 * col).astype(np.uint8)
    return torch.from_numpy(out[0] if single else out).to(flow.device)
