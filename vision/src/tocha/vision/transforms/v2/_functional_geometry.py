"""torchvision.transforms.v2.functional geometry: rotate, affine, perspective, elastic, crops,
blur, noise, erasing and bounding-box utilities.

Tensors are resampled like ``grid_sample(align_corners=False, padding_mode="zeros")``: output
pixel centres are mapped into the input, bilinear mixes the four neighbours (outside ones count
as zero), nearest rounds half to even. When ``fill`` is given a sampled validity mask blends the
fill in, as torchvision does. Pillow images use Pillow's own ``transform``/``rotate`` with the
same matrices. Boxes are moved by transforming their four corners and taking the enclosing box;
masks are resampled with nearest.

Example:
    >>> import tocha.core as torch
    >>> from tocha.vision.transforms.v2 import functional as F
    >>> img = torch.arange(4, dtype=torch.float32).reshape(1, 2, 2)
    >>> F.rotate(img, 90).tolist()
    [[[1.0, 3.0], [0.0, 2.0]]]
"""

from __future__ import annotations

import math
import numbers

import numpy as np

import tocha.core as torch

from .._mode import InterpolationMode, check_interpolation, pil_code
from . import functional as _F
from .functional import (
    _boxes_back,
    _boxes_xyxy,
    _check_image_tensor,
    _kind,
    _np,
    _pil,
    _type_error,
    _wrap,
)

__all__ = [
    "affine",
    "clamp_bounding_boxes",
    "convert_bounding_box_format",
    "elastic",
    "elastic_transform",
    "erase",
    "five_crop",
    "gaussian_blur",
    "gaussian_noise",
    "perspective",
    "rotate",
    "ten_crop",
]


# ----------------------------------------------------------------------------- sampling


def _sample(a: np.ndarray, xs: np.ndarray, ys: np.ndarray, mode: str, fill) -> np.ndarray:
    """Resample ``a`` (..., C, H, W) at input pixel coordinates ``xs``/``ys`` (shape (oh, ow))."""
    h, w = a.shape[-2:]
    ct = a.dtype if a.dtype in (np.float32, np.float64) else np.float32
    src = a.astype(ct, copy=False)
    if mode == "nearest":
        xi, yi = np.rint(xs).astype(np.int64), np.rint(ys).astype(np.int64)
        valid = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        out = src[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)] * valid
        mask = valid.astype(ct)
    elif mode == "bilinear":
        x0, y0 = np.floor(xs), np.floor(ys)
        fx, fy = (xs - x0).astype(ct), (ys - y0).astype(ct)
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        out = np.zeros(src.shape[:-2] + xs.shape, ct)
        mask = np.zeros(xs.shape, ct)
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                xi, yi = x0 + dx, y0 + dy
                wgt = wx * wy * ((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h))
                out += src[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)] * wgt
                mask += wgt
    else:
        raise ValueError(
            f"geometry transforms on tensors support nearest and bilinear interpolation, got {mode!r}"
        )
    if fill is not None:
        fills = np.asarray(fill if isinstance(fill, (list, tuple)) else [fill], dtype=ct)
        if a.ndim >= 3 and fills.size > 1:
            if fills.size != a.shape[-3]:
                raise ValueError(
                    f"fill has {fills.size} values but the image has {a.shape[-3]} channels"
                )
            fills = fills.reshape(-1, 1, 1)
        else:
            fills = fills.reshape(())
        if mode == "nearest":
            out = np.where(mask < 0.5, fills, out)
        else:
            out = mask * (out - fills) + fills
    if not np.issubdtype(a.dtype, np.floating):
        out = np.round(out)
        if a.dtype != np.bool_:
            info = np.iinfo(a.dtype)
            out = np.clip(out, info.min, info.max)
    return out.astype(a.dtype)


def _resample_tensor(fn, inpt, mapping, out_hw, interpolation, fill, **meta):
    """Apply ``mapping(xo, yo) -> (xi, yi)`` (pixel-centre coordinates) to an image or mask."""
    kind = _kind(inpt)
    a = _np(inpt)
    _check_image_tensor(fn, a)
    mode = "nearest" if kind == "mask" else interpolation.value
    if kind == "mask" and fill is None:
        fill = 0
    squeeze = a.ndim == 2
    if squeeze:
        a = a[None]
    oh, ow = out_hw
    yo, xo = np.meshgrid(
        np.arange(oh, dtype=np.float64), np.arange(ow, dtype=np.float64), indexing="ij"
    )
    xi, yi = mapping(xo, yo)
    out = _sample(a, xi, yi, mode, fill)
    return _wrap(out[0] if squeeze else out, inpt, **meta)


def _pil_fill(fill, img):
    if fill is None:
        return None
    bands = len(img.getbands())
    if isinstance(fill, (list, tuple)):
        vals = list(fill)
        if len(vals) == 1:
            vals = vals * bands
    else:
        vals = [fill] * bands
    if len(vals) != bands:
        raise ValueError(f"fill has {len(vals)} values but the PIL image has {bands} bands")
    vals = [int(v) if img.mode not in ("F",) else float(v) for v in vals]
    return vals[0] if bands == 1 else tuple(vals)


def _check_interp(fn, interpolation):
    interpolation = check_interpolation(interpolation)
    if interpolation not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
        if interpolation is InterpolationMode.NEAREST_EXACT:
            return InterpolationMode.NEAREST
        if interpolation is not InterpolationMode.BICUBIC:
            raise ValueError(f"{fn}: interpolation {interpolation.value!r} is not supported")
    return interpolation


# ----------------------------------------------------------------------------- affine matrices


def _affine_matrix(center, angle, translate, scale, shear, inverted=True) -> list[float]:
    """torchvision's affine matrix M = T * C * RotateScaleShear * C^-1 (or its inverse)."""
    rot = math.radians(angle)
    sx, sy = (math.radians(s) for s in shear)
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    if inverted:
        m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
        m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
        m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
        m[2] += cx
        m[5] += cy
    else:
        m = [a * scale, b * scale, 0.0, c * scale, d * scale, 0.0]
        m[2] += m[0] * (-cx) + m[1] * (-cy)
        m[5] += m[3] * (-cx) + m[4] * (-cy)
        m[2] += cx + tx
        m[5] += cy + ty
    return m


def _affine_output_size(m, w, h) -> tuple[int, int]:
    # float32 as in torchvision: the 1e-4 truncation below relies on float32 rounding.
    f = np.float32
    pts = np.array(
        [[-0.5 * w, -0.5 * h], [-0.5 * w, 0.5 * h], [0.5 * w, 0.5 * h], [0.5 * w, -0.5 * h]], f
    )
    theta = np.array(m, dtype=f).reshape(2, 3)
    new = pts @ theta[:, :2].T + theta[:, 2]
    halfs = np.array([0.5 * w, 0.5 * h], f)
    lo, hi = new.min(0) + halfs, new.max(0) + halfs
    # Truncate to 1e-4 so 90-degree rotations do not gain a pixel from rounding noise.
    tol, inv_tol = f(1e-4), f(1e4)
    size = np.ceil(np.trunc(hi * inv_tol) * tol) - np.floor(np.trunc(lo * inv_tol) * tol)
    return int(size[0]), int(size[1])


def _affine_boxes(inpt, m_forward, expand, inv_m=None):
    h, w = inpt.canvas_size
    b = _boxes_xyxy(inpt).reshape(-1, 4)
    corners = b[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2)
    t = np.array(m_forward, dtype=np.float64).reshape(2, 3)
    moved = corners @ t[:, :2].T + t[:, 2]
    out = np.concatenate([moved.min(1), moved.max(1)], axis=1)
    canvas = (h, w)
    if expand:
        frame = np.array([[0, 0], [0, h], [w, h], [w, 0]], dtype=np.float64) @ t[:, :2].T + t[:, 2]
        out -= np.tile(frame.min(0), 2)
        nw, nh = _affine_output_size(inv_m, w, h)
        canvas = (nh, nw)
    return _boxes_back(out.reshape(_boxes_xyxy(inpt).shape), inpt, canvas, clamp=True)


def _parse_affine(fn, angle, translate, scale, shear):
    if not isinstance(angle, numbers.Real):
        raise TypeError(f"{fn}: angle should be a number, got {type(angle).__name__}")
    if not isinstance(translate, (list, tuple)) or len(translate) != 2:
        raise TypeError(f"{fn}: translate should be a sequence of length 2, got {translate!r}")
    if scale <= 0:
        raise ValueError(f"{fn}: scale should be positive, got {scale}")
    if isinstance(shear, numbers.Real):
        shear = [float(shear), 0.0]
    shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"{fn}: shear should be a number or a sequence of 1 or 2, got {shear}")
    return float(angle), [float(t) for t in translate], float(scale), [float(s) for s in shear]


def _apply_affine_image(fn, inpt, inv, out_hw, interpolation, fill):
    h, w = _F.get_size(inpt)
    oh, ow = out_hw
    a0, a1, a2, a3, a4, a5 = inv

    def mapping(xo, yo):
        # Coordinates relative to the output centre, mapped to the input, back to pixel indices.
        x, y = xo - (ow - 1) / 2, yo - (oh - 1) / 2
        return a0 * x + a1 * y + a2 + (w - 1) / 2, a3 * x + a4 * y + a5 + (h - 1) / 2

    return _resample_tensor(fn, inpt, mapping, out_hw, interpolation, fill)


def affine(
    inpt,
    angle,
    translate,
    scale,
    shear,
    interpolation=InterpolationMode.NEAREST,
    fill=None,
    center=None,
):
    """Rotate (clockwise degrees), translate, scale and shear around ``center`` (default centre).

    Example:
        >>> import tocha.core as torch
        >>> img = torch.arange(9, dtype=torch.float32).reshape(1, 3, 3)
        >>> affine(img, angle=0.0, translate=[1, 0], scale=1.0, shear=[0.0, 0.0]).tolist()
        [[[0.0, 0.0, 1.0], [0.0, 3.0, 4.0], [0.0, 6.0, 7.0]]]
    """
    angle, translate, scale, shear = _parse_affine("affine", angle, translate, scale, shear)
    interpolation = _check_interp("affine", interpolation)
    kind = _kind(inpt)
    if kind in ("other", "keypoints"):
        raise _type_error("affine", inpt)
    h, w = _F.get_size(inpt)
    if kind == "pil":
        c = [w * 0.5, h * 0.5] if center is None else list(center)
        m = _affine_matrix(c, angle, translate, scale, shear)
        return inpt.transform(
            (w, h),
            _pil().Transform.AFFINE,
            m,
            pil_code(interpolation),
            fillcolor=_pil_fill(fill, inpt),
        )
    if kind == "boxes":
        c = [w * 0.5, h * 0.5] if center is None else list(center)
        fwd = _affine_matrix(c, angle, translate, scale, shear, inverted=False)
        return _affine_boxes(inpt, fwd, expand=False)
    cf = [0.0, 0.0] if center is None else [center[0] - w * 0.5, center[1] - h * 0.5]
    inv = _affine_matrix(cf, angle, translate, scale, shear)
    return _apply_affine_image("affine", inpt, inv, (h, w), interpolation, fill)


def rotate(
    inpt, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=None
):
    """Rotate counter-clockwise by ``angle`` degrees; ``expand`` grows the canvas to fit.

    Example:
        >>> import tocha.core as torch
        >>> rotate(torch.zeros(1, 4, 6), 90, expand=True).shape
        torch.Size([1, 6, 4])
    """
    interpolation = _check_interp("rotate", interpolation)
    angle = float(angle)
    kind = _kind(inpt)
    if kind in ("other", "keypoints"):
        raise _type_error("rotate", inpt)
    h, w = _F.get_size(inpt)
    if kind == "pil":
        return inpt.rotate(
            angle, pil_code(interpolation), expand, center, fillcolor=_pil_fill(fill, inpt)
        )
    if kind == "boxes":
        c = [w * 0.5, h * 0.5] if center is None else list(center)
        fwd = _affine_matrix(c, -angle, [0.0, 0.0], 1.0, [0.0, 0.0], inverted=False)
        # The canvas follows the image's expanded size (computed about the image centre).
        cf = [c[0] - w * 0.5, c[1] - h * 0.5]
        inv = _affine_matrix(cf, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
        return _affine_boxes(inpt, fwd, expand, inv)
    cf = [0.0, 0.0] if center is None else [center[0] - w * 0.5, center[1] - h * 0.5]
    inv = _affine_matrix(cf, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    out_hw = (h, w)
    if expand:
        ow, oh = _affine_output_size(inv, w, h)
        out_hw = (oh, ow)
    return _apply_affine_image("rotate", inpt, inv, out_hw, interpolation, fill)


# ----------------------------------------------------------------------------- perspective


def _perspective_coeffs(startpoints, endpoints) -> list[float]:
    """Coefficients of the homography that maps ``endpoints`` (output) to ``startpoints``."""
    s = np.asarray(startpoints, dtype=np.float64)
    e = np.asarray(endpoints, dtype=np.float64)
    if s.shape != (4, 2) or e.shape != (4, 2):
        raise ValueError(
            f"perspective: startpoints and endpoints should be 4 (x, y) points, got {s.shape}, {e.shape}"
        )
    a = np.zeros((8, 8))
    for i in range(4):
        (x, y), (u, v) = e[i], s[i]
        a[2 * i] = [x, y, 1, 0, 0, 0, -u * x, -u * y]
        a[2 * i + 1] = [0, 0, 0, x, y, 1, -v * x, -v * y]
    return np.linalg.lstsq(a, s.reshape(-1), rcond=None)[0].tolist()


def perspective(
    inpt,
    startpoints,
    endpoints,
    interpolation=InterpolationMode.BILINEAR,
    fill=None,
    coefficients=None,
):
    """Perspective warp moving the 4 ``startpoints`` to ``endpoints`` (or given coefficients).

    Example:
        >>> import tocha.core as torch
        >>> pts = [[0, 0], [3, 0], [3, 3], [0, 3]]
        >>> perspective(torch.ones(1, 3, 3), pts, pts).tolist()
        [[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]
    """
    interpolation = _check_interp("perspective", interpolation)
    if coefficients is not None:
        if startpoints is not None or endpoints is not None:
            raise ValueError("perspective: give either startpoints/endpoints or coefficients")
        if len(coefficients) != 8:
            raise ValueError(
                f"perspective: coefficients should have 8 values, got {len(coefficients)}"
            )
        coeffs = [float(c) for c in coefficients]
    else:
        coeffs = _perspective_coeffs(startpoints, endpoints)
    kind = _kind(inpt)
    if kind in ("other", "keypoints"):
        raise _type_error("perspective", inpt)
    h, w = _F.get_size(inpt)
    if kind == "pil":
        return inpt.transform(
            (w, h),
            _pil().Transform.PERSPECTIVE,
            coeffs,
            pil_code(interpolation),
            fillcolor=_pil_fill(fill, inpt),
        )
    if kind == "boxes":
        # The forward map (input -> output) is the inverse homography.
        m = np.array(coeffs + [1.0]).reshape(3, 3)
        fwd = np.linalg.inv(m)
        b = _boxes_xyxy(inpt)
        corners = b.reshape(-1, 4)[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2)
        hom = np.concatenate([corners, np.ones(corners.shape[:2] + (1,))], axis=-1) @ fwd.T
        pts = hom[..., :2] / hom[..., 2:]
        out = np.concatenate([pts.min(1), pts.max(1)], axis=1).reshape(b.shape)
        return _boxes_back(out, inpt, (h, w), clamp=True)
    c0, c1, c2, c3, c4, c5, c6, c7 = coeffs

    def mapping(xo, yo):
        # Pillow's convention: pixel centres at +0.5; results shifted back to index space.
        x, y = xo + 0.5, yo + 0.5
        den = c6 * x + c7 * y + 1.0
        return (c0 * x + c1 * y + c2) / den - 0.5, (c3 * x + c4 * y + c5) / den - 0.5

    return _resample_tensor("perspective", inpt, mapping, (h, w), interpolation, fill)


# ----------------------------------------------------------------------------- elastic


def elastic(inpt, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Displace every output pixel by ``displacement`` ([1, H, W, 2], normalised grid units).

    A displacement of ``2 / W`` in x samples one pixel to the right.

    Example:
        >>> import tocha.core as torch
        >>> img = torch.arange(3, dtype=torch.float32).reshape(1, 1, 3)
        >>> d = torch.zeros(1, 1, 3, 2)
        >>> d[..., 0] = 2 / 3
        >>> elastic(img, d).tolist()
        [[[1.0, 2.0, 0.0]]]
    """
    interpolation = _check_interp("elastic", interpolation)
    kind = _kind(inpt)
    if kind in ("other", "keypoints"):
        raise _type_error("elastic", inpt)
    h, w = _F.get_size(inpt)
    d = _np(displacement) if isinstance(displacement, torch.Tensor) else np.asarray(displacement)
    d = d.astype(np.float64)
    if d.shape != (1, h, w, 2):
        raise ValueError(f"elastic: displacement should have shape (1, {h}, {w}, 2), got {d.shape}")
    if kind == "pil":
        t = _F.pil_to_tensor(inpt)
        out = elastic(t, displacement, interpolation, fill)
        return _F.to_pil_image(out, mode=inpt.mode)
    if kind == "boxes":
        b = _boxes_xyxy(inpt)
        corners = b.reshape(-1, 4)[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 2)
        # torchvision approximates the inverse map by the displacement at each corner's pixel.
        xi = np.clip(corners[:, 0].astype(np.int64), 0, w - 1)
        yi = np.clip(corners[:, 1].astype(np.int64), 0, h - 1)
        dd = d[0, yi, xi]
        # The identity grid at a pixel maps back to that pixel's integer index.
        px = xi - dd[:, 0] * 0.5 * w
        py = yi - dd[:, 1] * 0.5 * h
        pts = np.stack([px, py], -1).reshape(-1, 4, 2)
        out = np.concatenate([pts.min(1), pts.max(1)], axis=1).reshape(b.shape)
        return _boxes_back(out, inpt, (h, w), clamp=True)

    def mapping(xo, yo):
        return xo + d[0, :, :, 0] * 0.5 * w, yo + d[0, :, :, 1] * 0.5 * h

    return _resample_tensor("elastic", inpt, mapping, (h, w), interpolation, fill)


elastic_transform = elastic


# ----------------------------------------------------------------------------- crops


def five_crop(inpt, size):
    """The four corner crops and the centre crop: (tl, tr, bl, br, center).

    Example:
        >>> import tocha.core as torch
        >>> crops = five_crop(torch.arange(9).reshape(1, 3, 3), 2)
        >>> [c[0, 0, 0].item() for c in crops]
        [0, 1, 3, 4, 0]
    """
    if isinstance(size, numbers.Integral):
        size = (int(size), int(size))
    elif len(size) == 1:
        size = (int(size[0]), int(size[0]))
    ch, cw = (int(s) for s in size)
    kind = _kind(inpt)
    if kind not in ("pil", "image"):
        raise TypeError(f"five_crop: only images are supported, got {type(inpt).__name__}")
    h, w = _F.get_size(inpt)
    if ch > h or cw > w:
        raise ValueError(
            f"five_crop: requested crop size {(ch, cw)} is bigger than input size {(h, w)}"
        )
    tl = _F.crop(inpt, 0, 0, ch, cw)
    tr = _F.crop(inpt, 0, w - cw, ch, cw)
    bl = _F.crop(inpt, h - ch, 0, ch, cw)
    br = _F.crop(inpt, h - ch, w - cw, ch, cw)
    center = _F.center_crop(inpt, [ch, cw])
    return tl, tr, bl, br, center


def ten_crop(inpt, size, vertical_flip: bool = False):
    """``five_crop`` of the image and of its (horizontally, or vertically) flipped copy."""
    first = five_crop(inpt, size)
    flipped = _F.vertical_flip(inpt) if vertical_flip else _F.horizontal_flip(inpt)
    return first + five_crop(flipped, size)


# ----------------------------------------------------------------------------- blur and noise


def _gaussian_kernel1d(k: int, sigma: float) -> np.ndarray:
    half = (k - 1) * 0.5
    x = np.linspace(-half, half, k)
    pdf = np.exp(-0.5 * (x / sigma) ** 2)
    return pdf / pdf.sum()


def gaussian_blur(inpt, kernel_size, sigma=None):
    """Separable Gaussian blur with reflect padding; ``kernel_size``/``sigma`` are (x, y).

    Without ``sigma`` it is ``0.3 * ((k - 1) * 0.5 - 1) + 0.8`` per axis, as in torchvision.

    Example:
        >>> import tocha.core as torch
        >>> out = gaussian_blur(torch.ones(1, 4, 4), 3, 1.0)
        >>> bool((out - 1).abs().max() < 1e-6)
        True
    """
    if isinstance(kernel_size, numbers.Integral):
        kernel_size = [int(kernel_size)] * 2
    kernel_size = [int(k) for k in kernel_size]
    if len(kernel_size) == 1:
        kernel_size = kernel_size * 2
    if len(kernel_size) != 2 or any(k <= 0 or k % 2 == 0 for k in kernel_size):
        raise ValueError(
            f"gaussian_blur: kernel_size should be odd positive ints, got {kernel_size}"
        )
    if sigma is None:
        sigma = [0.3 * ((k - 1) * 0.5 - 1) + 0.8 for k in kernel_size]
    elif isinstance(sigma, numbers.Real):
        sigma = [float(sigma)] * 2
    else:
        sigma = [float(s) for s in sigma]
        if len(sigma) == 1:
            sigma = sigma * 2
    if len(sigma) != 2 or any(s <= 0 for s in sigma):
        raise ValueError(f"gaussian_blur: sigma should be positive, got {sigma}")
    kind = _kind(inpt)
    if kind == "pil":
        out = gaussian_blur(_F.pil_to_tensor(inpt), kernel_size, sigma)
        return _F.to_pil_image(out, mode=inpt.mode)
    if kind in ("boxes", "mask", "keypoints"):
        return inpt
    if kind != "image":
        raise _type_error("gaussian_blur", inpt)
    a = _np(inpt)
    _check_image_tensor("gaussian_blur", a)
    ct = a.dtype if a.dtype in (np.float32, np.float64) else np.float32
    x = a.astype(ct)
    kx, ky = kernel_size
    h, w = a.shape[-2:]
    if kx // 2 >= w or ky // 2 >= h:
        raise ValueError(
            f"gaussian_blur: reflect padding {kx // 2, ky // 2} needs an image larger than it, "
            f"got size {(h, w)}"
        )
    pad = [(0, 0)] * (a.ndim - 2) + [(ky // 2, ky // 2), (kx // 2, kx // 2)]
    x = np.pad(x, pad, mode="reflect")
    kernx = _gaussian_kernel1d(kx, sigma[0]).astype(ct)
    kerny = _gaussian_kernel1d(ky, sigma[1]).astype(ct)
    # Vertical then horizontal passes, each a short sum of shifted slices.
    tmp = sum(kerny[i] * x[..., i : i + h, :] for i in range(ky))
    out = sum(kernx[i] * tmp[..., :, i : i + w] for i in range(kx))
    if not np.issubdtype(a.dtype, np.floating):
        info = np.iinfo(a.dtype)
        out = np.clip(np.round(out), info.min, info.max)
    return _wrap(out.astype(a.dtype), inpt)


def gaussian_noise(inpt, mean: float = 0.0, sigma: float = 0.1, clip: bool = True):
    """Add N(mean, sigma^2) noise (from tocha.core's RNG) to a float image; clip to [0, 1].

    Example:
        >>> import tocha.core as torch
        >>> _ = torch.manual_seed(0)
        >>> out = gaussian_noise(torch.full((1, 4, 4), 0.5), sigma=0.01)
        >>> bool((out - 0.5).abs().max() < 0.1)
        True
    """
    kind = _kind(inpt)
    if kind in ("boxes", "mask", "keypoints"):
        return inpt
    if kind != "image":
        raise TypeError(
            f"gaussian_noise: input should be an image tensor, got {type(inpt).__name__}"
        )
    if not inpt.is_floating_point():
        raise ValueError(
            f"gaussian_noise: input tensor is expected to be in float dtype, got {inpt.dtype}"
        )
    if sigma < 0:
        raise ValueError(f"gaussian_noise: sigma shouldn't be negative, got {sigma}")
    noise = mean + torch.randn(tuple(inpt.shape), dtype=inpt.dtype) * sigma
    out = _np(inpt) + _np(noise)
    if clip:
        out = np.clip(out, 0.0, 1.0)
    return _wrap(out.astype(_np(inpt).dtype), inpt)


def erase(inpt, i: int, j: int, h: int, w: int, v, inplace: bool = False):
    """Set the box rows i..i+h, columns j..j+w to ``v`` (a tensor broadcastable to it).

    Example:
        >>> import tocha.core as torch
        >>> erase(torch.ones(1, 3, 3), 0, 1, 2, 1, torch.tensor(0.0)).tolist()
        [[[1.0, 0.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]]
    """
    kind = _kind(inpt)
    if kind == "pil":
        out = erase(_F.pil_to_tensor(inpt), i, j, h, w, v)
        return _F.to_pil_image(out, mode=inpt.mode)
    if kind in ("boxes", "mask", "keypoints"):
        return inpt
    if kind != "image":
        raise _type_error("erase", inpt)
    a = _np(inpt)
    val = _np(v) if isinstance(v, torch.Tensor) else np.asarray(v)
    if inplace and inpt.device.type == "cpu":
        a[..., i : i + h, j : j + w] = val
        return inpt
    out = a.copy()
    out[..., i : i + h, j : j + w] = val
    return _wrap(out, inpt)


# ----------------------------------------------------------------------------- boxes


def convert_bounding_box_format(inpt, old_format=None, new_format=None, inplace=False):
    """Convert boxes between XYXY, XYWH and CXCYWH.

    Example:
        >>> from tocha.vision import tv_tensors
        >>> b = tv_tensors.BoundingBoxes([[1, 2, 5, 6]], format="XYXY", canvas_size=(8, 8))
        >>> convert_bounding_box_format(b, new_format="CXCYWH").tolist()
        [[3, 4, 4, 4]]
    """
    if new_format is None:
        raise TypeError("convert_bounding_box_format: new_format is required")
    from tocha.vision import tv_tensors

    new = str(getattr(new_format, "value", new_format)).upper()
    if _kind(inpt) == "boxes":
        xyxy = _boxes_xyxy(inpt)
        like = tv_tensors.wrap(inpt, like=inpt, format=new)
        return _boxes_back(xyxy, like, inpt.canvas_size, clamp=False)
    if not isinstance(inpt, torch.Tensor) or old_format is None:
        raise TypeError(
            "convert_bounding_box_format: pass BoundingBoxes, or a tensor with old_format"
        )
    boxes = tv_tensors.BoundingBoxes(inpt, format=old_format, canvas_size=(1, 1))
    out = convert_bounding_box_format(boxes, new_format=new)
    return torch.from_numpy(_np(out).copy())


def clamp_bounding_boxes(inpt, format=None, canvas_size=None):
    """Clamp boxes to their canvas (x in [0, W], y in [0, H]).

    Example:
        >>> from tocha.vision import tv_tensors
        >>> b = tv_tensors.BoundingBoxes([[-2, 1, 9, 5]], format="XYXY", canvas_size=(4, 8))
        >>> clamp_bounding_boxes(b).tolist()
        [[0, 1, 8, 4]]
    """
    from tocha.vision import tv_tensors

    if _kind(inpt) == "boxes":
        xyxy = _boxes_xyxy(inpt)
        h, w = inpt.canvas_size
        xyxy[..., 0::2] = np.clip(xyxy[..., 0::2], 0, w)
        xyxy[..., 1::2] = np.clip(xyxy[..., 1::2], 0, h)
        return _boxes_back(xyxy, inpt, (h, w), clamp=False)
    if not isinstance(inpt, torch.Tensor) or format is None or canvas_size is None:
        raise TypeError(
            "clamp_bounding_boxes: pass BoundingBoxes, or a tensor with format and canvas_size"
        )
    boxes = tv_tensors.BoundingBoxes(inpt, format=format, canvas_size=canvas_size)
    return torch.from_numpy(_np(clamp_bounding_boxes(boxes)).copy())
