"""Spatial ops of ``torch.nn.functional``: interpolate / upsample (nearest, nearest-exact,
linear, bilinear, bicubic, trilinear, area, lanczos; align_corners; antialias), grid_sample,
affine_grid, pixel_shuffle / pixel_unshuffle and channel_shuffle.

Every interpolation mode is separable: along each spatial axis, each output is a fixed linear
combination of inputs. The per-axis weights are computed here exactly as torch's CPU kernels
compute them (same source-index formulas, the input's precision for the index arithmetic) and
applied by the ``Resample`` node of ``tocha.core._ops.pool`` (a gather for nearest, one GEMM
per axis otherwise), whose backward applies the transposed maps. ``grid_sample`` is written
with tocha ops (gathers weighted by coordinates), so its gradients, including those with respect
to the grid, come from autograd.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..._ops import pool as _P
from ..._ops._util import xp_of
from ..._tensor import Tensor, wrap

__all__ = [
    "interpolate",
    "upsample",
    "upsample_nearest",
    "upsample_bilinear",
    "grid_sample",
    "affine_grid",
    "pixel_shuffle",
    "pixel_unshuffle",
    "channel_shuffle",
    "native_channel_shuffle",
]


# --- per-axis interpolation maps ------------------------------------------------------------------
def _ftype(dt):
    """The precision torch's CPU kernels use for index arithmetic on this dtype."""
    return np.float64 if dt == np.float64 else np.float32


def _scale(n_in, n_out, align_corners, scale, ft):
    """torch's area_pixel_compute_scale."""
    if align_corners:
        return ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
    if scale is not None and scale > 0:
        return ft(1.0 / scale)
    return ft(n_in) / ft(n_out)


def _source_index(scale, n_out, align_corners, cubic, ft):
    o = np.arange(n_out).astype(ft)
    if align_corners:
        return scale * o
    src = scale * (o + ft(0.5)) - ft(0.5)
    if not cubic:
        src = np.where(src < 0, ft(0), src).astype(ft)
    return src


def _nearest_map(n_in, n_out, scale, exact):
    if n_out == n_in:
        idx = np.arange(n_out)
    elif n_out == 2 * n_in:
        idx = np.arange(n_out) >> 1
    else:
        s = (
            np.float32(1.0 / scale)
            if (scale is not None and scale > 0)
            else (np.float32(n_in) / np.float32(n_out))
        )
        o = np.arange(n_out).astype(np.float32)
        src = np.floor((o + np.float32(0.5)) * s) if exact else np.floor(o * s)
        idx = np.minimum(src.astype(np.int64), n_in - 1)
    return _P.AxisMap(n_in, n_out, idx=idx)


def _linear_map(n_in, n_out, align_corners, scale, ft):
    sc = _scale(n_in, n_out, align_corners, scale, ft)
    src = _source_index(sc, n_out, align_corners, False, ft)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam = np.clip(src - i0.astype(ft), 0, 1).astype(ft)
    i1 = i0 + (i0 < n_in - 1)
    w = np.zeros((n_in, n_out))
    cols = np.arange(n_out)
    np.add.at(w, (i0, cols), (ft(1) - lam).astype(np.float64))
    np.add.at(w, (i1, cols), lam.astype(np.float64))
    return _P.AxisMap(n_in, n_out, w=w)


def _cubic_coeffs(t, A):  # noqa: N803
    def cc1(x):
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def cc2(x):
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    one = t.dtype.type(1)
    return [cc2(t + one), cc1(t), cc1(one - t), cc2(one - t + one)]


def _cubic_map(n_in, n_out, align_corners, scale, ft):
    sc = _scale(n_in, n_out, align_corners, scale, ft)
    src = _source_index(sc, n_out, align_corners, True, ft)
    i = np.floor(src).astype(np.int64)
    i = np.minimum(i, n_in - 1)
    t = np.clip(src - i.astype(ft), 0, 1).astype(ft)
    coeffs = _cubic_coeffs(t, ft(-0.75))
    w = np.zeros((n_in, n_out))
    cols = np.arange(n_out)
    for k in range(4):
        taps = np.clip(i - 1 + k, 0, n_in - 1)
        np.add.at(w, (taps, cols), coeffs[k].astype(np.float64))
    return _P.AxisMap(n_in, n_out, w=w)


def _aa_filter(mode):
    if mode == "bilinear":

        def f(x):
            x = np.abs(x)
            return np.where(x < 1, 1 - x, 0.0)

        return f, 2
    if mode == "bicubic":

        def f(x):
            a = -0.5
            x = np.abs(x)
            return np.where(
                x < 1,
                ((a + 2) * x - (a + 3)) * x * x + 1,
                np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0),
            )

        return f, 4

    def f(x):  # lanczos-3
        return np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)

    return f, 6


def _aa_map(n_in, n_out, align_corners, scale, mode):
    """PIL-style antialiased weights (torch's _upsample_*_aa): the filter stretched by the
    downscaling factor and normalised per output."""
    filt, interp = _aa_filter(mode)
    sc = float(_scale(n_in, n_out, align_corners, scale, np.float64))
    support = (interp * 0.5) * sc if sc >= 1.0 else interp * 0.5
    max_size = int(math.ceil(support)) * 2 + 1
    invscale = 1.0 / sc if sc >= 1.0 else 1.0
    w = np.zeros((n_in, n_out))
    for o in range(n_out):
        center = sc * (o + 0.5)
        xmin = max(int(center - support + 0.5), 0)
        xsize = min(int(center + support + 0.5), n_in) - xmin
        xsize = min(max(xsize, 0), max_size)
        j = np.arange(xsize)
        ww = filt((j + xmin - center + 0.5) * invscale)
        tot = ww.sum()
        if tot != 0:
            ww = ww / tot
        w[xmin : xmin + xsize, o] = ww
    return _P.AxisMap(n_in, n_out, w=w)


def _area_map(n_in, n_out):
    w = np.zeros((n_in, n_out))
    for o in range(n_out):
        a = (o * n_in) // n_out
        b = -(-((o + 1) * n_in) // n_out)
        w[a:b, o] = 1.0 / (b - a)
    return _P.AxisMap(n_in, n_out, w=w)


# --- interpolate ------------------------------------------------------------------------------------
_MODES_MSG = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
_NEEDS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5, "lanczos": 4}
_NODE = {
    "nearest": "UpsampleNearest{d}DBackward0",
    "nearest-exact": "UpsampleNearestExact{d}DBackward0",
    "linear": "UpsampleLinear1DBackward0",
    "bilinear": "UpsampleBilinear2DBackward0",
    "bicubic": "UpsampleBicubic2DBackward0",
    "trilinear": "UpsampleTrilinear3DBackward0",
    "area": "AdaptiveAvgPool{d}DBackward0",
    "lanczos": "UpsampleLanczos2DAaBackward0",
}


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize (N, C, *spatial) to ``size`` or by ``scale_factor`` with torch's modes and
    semantics (``align_corners``, ``recompute_scale_factor``, ``antialias``).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.interpolate(torch.tensor([[[1.0, 2.0]]]), scale_factor=2, mode="linear")
        tensor([[[1.0000, 1.2500, 1.7500, 2.0000]]])
        >>> F.interpolate(torch.tensor([[[1.0, 2.0]]]), size=3, mode="nearest")
        tensor([[[1., 1., 2.]]])
    """
    if not isinstance(input, Tensor):
        raise TypeError(
            "interpolate(): argument 'input' (position 1) must be Tensor, not "
            f"{type(input).__name__}"
        )
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {list(input.shape[2:])} and output size "
                    f"of {size}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                    "and output size in (o1, o2, ...,oK) format."
                )
            output_size = [int(s) for s in size]
        else:
            output_size = [int(size)] * dim
        scale_factors = None
    elif scale_factor is not None:
        output_size = None
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, "
                    f"but got input with spatial dimensions of {list(input.shape[2:])} and "
                    f"scale_factor of shape {scale_factor}. Please provide input tensor in "
                    "(N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format."
                )
            scale_factors = [float(s) for s in scale_factor]
        else:
            scale_factors = [float(scale_factor)] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor and scale_factors is not None:
        output_size = [math.floor(float(input.shape[i + 2]) * scale_factors[i]) for i in range(dim)]
        scale_factors = None
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.ndim == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and "
            "requires a 4-D tensor as input"
        )
    if input.ndim not in (3, 4, 5) or mode not in (
        "nearest",
        "nearest-exact",
        "linear",
        "bilinear",
        "bicubic",
        "trilinear",
        "area",
        "lanczos",
    ):
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
            f"the modes: {_MODES_MSG} (got {mode})"
        )
    need = _NEEDS.get(mode)
    if need is not None and input.ndim != need:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {need}D input")
    if mode == "lanczos" and not antialias:
        raise ValueError("Lanczos mode requires antialias=True")
    if mode == "lanczos" and align_corners:
        raise ValueError("Lanczos mode does not support align_corners=True")
    X = tuple(input.shape[2:])  # noqa: N806
    if output_size is None:
        output_size = [int(float(x) * s) for x, s in zip(X, scale_factors)]
    if any(o <= 0 for o in output_size):
        raise RuntimeError(
            f"Input and output sizes should be greater than 0, but got input "
            f"({', '.join(f'{n}: {v}' for n, v in zip('DHW'[-dim:], X))}) output "
            f"({', '.join(f'{n}: {v}' for n, v in zip('DHW'[-dim:], output_size))})"
        )
    scales = scale_factors if scale_factors is not None else [None] * dim
    if input._data.dtype.kind not in "fcV" and mode not in ("nearest", "nearest-exact"):
        from ..._ops._util import type_name

        raise RuntimeError(f"\"upsample_{mode}\" not implemented for '{type_name(input._data)}'")
    ft = _ftype(input._data.dtype)
    maps = []
    for i in range(dim):
        n_in, n_out, sc = X[i], output_size[i], scales[i]
        if mode in ("nearest", "nearest-exact"):
            m = _nearest_map(n_in, n_out, sc, mode == "nearest-exact")
        elif mode == "area":
            m = _area_map(n_in, n_out)
        elif antialias:
            m = _aa_map(n_in, n_out, align_corners, sc, mode)
        elif mode == "bicubic":
            m = _cubic_map(n_in, n_out, align_corners, sc, ft)
        else:
            m = _linear_map(n_in, n_out, align_corners, sc, ft)
        maps.append((2 + i, m))
    name = _NODE[mode].format(d=dim)
    if antialias and mode != "lanczos":
        name = name.replace("2DBackward0", "2DAaBackward0")
    return _P.resample(input, maps, node_name=name)


def _warn_deprecated(name: str) -> None:
    # stacklevel 3: the warning points at the caller of the deprecated function
    warnings.warn(
        f"`nn.functional.{name}` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=3,
    )


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of `interpolate` (warns, as torch does).

    Example:
        >>> import warnings
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     F.upsample(torch.ones(1, 1, 2), scale_factor=2).shape
        torch.Size([1, 1, 4])
    """
    _warn_deprecated("upsample")
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='nearest')``.

    Example:
        >>> import warnings
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     F.upsample_nearest(torch.ones(1, 1, 2, 2), scale_factor=2).shape
        torch.Size([1, 1, 4, 4])
    """
    _warn_deprecated("upsample_nearest")
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``.

    Example:
        >>> import warnings
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     F.upsample_bilinear(torch.ones(1, 1, 2, 2), scale_factor=2).shape
        torch.Size([1, 1, 4, 4])
    """
    _warn_deprecated("upsample_bilinear")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# --- grid_sample / affine_grid ------------------------------------------------------------------
_ALIGN_WARN = (
    "Default grid_sample and affine_grid behavior has changed to align_corners=False since "
    "1.3.0. Please specify align_corners=True if the old behavior is desired. See the "
    "documentation of grid_sample for details."
)


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord, twice_low, twice_high):
    if twice_low == twice_high:
        return coord * 0
    lo = twice_low / 2
    span = (twice_high - twice_low) / 2
    c = (coord - lo).abs()
    flips = (c.detach() / span).floor()
    extra = c - flips * span
    even = flips.remainder(2) == 0
    from ..._ops.pointwise import where

    return where(even, extra + lo, (span - extra) + lo)


def _pad_coord(coord, size, padding_mode, align_corners):
    """torch's compute_coordinates: border clips, reflection reflects then clips."""
    if padding_mode == "border":
        return coord.clamp(0, size - 1)
    if padding_mode == "reflection":
        if align_corners:
            c = _reflect(coord, 0, 2 * (size - 1))
        else:
            c = _reflect(coord, -1, 2 * size - 1)
        return c.clamp(0, size - 1)
    return coord


def _gather_points(inp, idx_list, sizes, valid):
    """inp (N, C, *S) sampled at integer points: idx_list per spatial dim (N, *P) int
    arrays (already clamped in range); invalid points give 0."""
    N, C = inp.shape[:2]  # noqa: N806
    xp = xp_of(inp._data)
    flat = xp.zeros(idx_list[0].shape, dtype=np.int64)
    for idx, n in zip(idx_list, sizes):
        flat = flat * n + idx
    P = flat.reshape(N, -1)  # noqa: N806
    Pt = wrap(xp.broadcast_to(P[:, None, :], (N, C, P.shape[1])))  # noqa: N806
    vals = inp.reshape(N, C, -1).gather(2, Pt)
    out_shape = (N, C) + idx_list[0].shape[1:]
    vals = vals.reshape(out_shape)
    if valid is not None and not valid.all():
        mask = wrap(valid[:, None].astype(inp._data.dtype))
        vals = vals * mask
    return vals


def grid_sample(
    input: Tensor,
    grid: Tensor,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = None,
) -> Tensor:
    """Sample ``input`` (N, C, H, W) (or (N, C, D, H, W)) at the normalised coordinates of
    ``grid`` (N, H_out, W_out, 2) ((x, y) in [-1, 1]), with bilinear / nearest / bicubic
    interpolation and zeros / border / reflection padding.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> img = torch.arange(4.0).view(1, 1, 2, 2)
        >>> F.grid_sample(img, torch.zeros(1, 1, 1, 2), align_corners=True)
        tensor([[[[1.5000]]]])
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(
            "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
            f"'bicubic', but got: '{mode}'"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
            f"'reflection', but got: '{padding_mode}'"
        )
    if align_corners is None:
        warnings.warn(_ALIGN_WARN, stacklevel=2)
        align_corners = False
    nd = input.ndim - 2
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise RuntimeError(
            "grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, "
            f"but got input with sizes {list(input.shape)} and grid with sizes "
            f"{list(grid.shape)}"
        )
    if grid.shape[-1] != nd:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size {nd} in last dimension, but got grid "
            f"with sizes {list(grid.shape)}"
        )
    if grid.shape[0] != input.shape[0]:
        raise RuntimeError(
            "grid_sampler(): expected grid and input to have same batch size, but got input "
            f"with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
        )
    if mode == "bicubic" and nd != 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if input._data.dtype != grid._data.dtype:
        raise RuntimeError(
            "grid_sampler(): expected input and grid to have same dtype, but input has "
            f"{input.dtype} and grid has {grid.dtype}"
        )
    sizes = tuple(input.shape[2:])  # (D,) H, W
    # grid's last dim lists x (W) first: coordinate k belongs to spatial dim nd-1-k
    coords = []
    for dim_i in range(nd):
        k = nd - 1 - dim_i
        c = _unnormalize(grid[..., k], sizes[dim_i], align_corners)
        coords.append(c)
    if mode == "bicubic":
        return _grid_bicubic(input, coords, sizes, padding_mode, align_corners)
    coords = [_pad_coord(c, n, padding_mode, align_corners) for c, n in zip(coords, sizes)]
    xp = xp_of(input._data)
    if mode == "nearest":
        # torch rounds half to even (nearbyint), as rint does
        idx = [xp.rint(c._data).astype(np.int64) for c in coords]
        valid = xp.ones(idx[0].shape, dtype=bool)
        for i, n in zip(idx, sizes):
            valid &= (i >= 0) & (i < n)
        idx = [xp.clip(i, 0, n - 1) for i, n in zip(idx, sizes)]
        out = _gather_points(input, idx, sizes, valid)
        return _P.ZeroGradLink.apply(out, grid) if grid.requires_grad else out
    # (bi/tri)linear: 2**nd corners weighted by their opposite distances
    base = [xp.floor(c._data).astype(np.int64) for c in coords]
    fr = [c - _const(xp.floor(c._data), c) for c in coords]  # differentiable fractions
    out = None
    for corner in np.ndindex(*(2,) * nd):
        idx, valid, w = [], xp.ones(base[0].shape, dtype=bool), None
        for i in range(nd):
            j = base[i] + corner[i]
            valid &= (j >= 0) & (j < sizes[i])
            idx.append(xp.clip(j, 0, sizes[i] - 1))
            wi = fr[i] if corner[i] else (1 - fr[i])
            w = wi if w is None else w * wi
        vals = _gather_points(input, idx, sizes, valid)
        term = vals * w.unsqueeze(1)
        out = term if out is None else out + term
    return out


def _const(arr, like):
    return wrap(arr.astype(like._data.dtype, copy=False))


def _grid_bicubic(input, coords, sizes, padding_mode, align_corners):
    A = -0.75  # noqa: N806
    iy, ix = coords
    H, W = sizes  # noqa: N806
    xp = xp_of(input._data)
    y0 = xp.floor(iy._data)
    x0 = xp.floor(ix._data)
    ty = iy - _const(y0, iy)
    tx = ix - _const(x0, ix)

    def coeffs(t):
        def cc1(x):
            return ((A + 2) * x - (A + 3)) * x * x + 1

        def cc2(x):
            return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

        return [cc2(t + 1), cc1(t), cc1(1 - t), cc2(2 - t)]

    cy, cx = coeffs(ty), coeffs(tx)

    def tap(pos, n):
        if padding_mode == "zeros":
            p = pos
        else:
            p = _pad_coord(wrap(pos), n, padding_mode, align_corners)._data
        j = p.astype(np.int64)
        valid = (j >= 0) & (j < n) & (p >= 0)
        return xp.clip(j, 0, n - 1), valid

    out = None
    for a in range(4):
        jy, vy = tap(y0 - 1 + a, H)
        row = None
        for b in range(4):
            jx, vx = tap(x0 - 1 + b, W)
            vals = _gather_points(input, [jy, jx], sizes, vy & vx)
            term = vals * cx[b].unsqueeze(1)
            row = term if row is None else row + term
        term = row * cy[a].unsqueeze(1)
        out = term if out is None else out + term
    return out


def _base_coords(n, align_corners, dt):
    if n == 1:
        return np.zeros(1, dtype=dt)
    v = np.linspace(-1.0, 1.0, n)
    if not align_corners:
        v = v * (n - 1) / n
    return v.astype(dt)


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The sampling grid of an affine transform: theta (N, 2, 3) and size (N, C, H, W) give a
    grid (N, H, W, 2) for `grid_sample` (3-D: theta (N, 3, 4), grid (N, D, H, W, 3)).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> eye = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
        >>> F.affine_grid(eye, (1, 1, 2, 2), align_corners=True)
        tensor([[[[-1., -1.],
                  [ 1., -1.]],
        <BLANKLINE>
                 [[-1.,  1.],
                  [ 1.,  1.]]]])
    """
    if align_corners is None:
        warnings.warn(_ALIGN_WARN, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (2, 3):
            raise ValueError(
                f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got "
                f"{theta.shape}."
            )
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (3, 4):
            raise ValueError(
                f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. Got "
                f"{theta.shape}."
            )
        spatial = size[-3:]
    else:
        raise NotImplementedError(
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            f"respectively. Got size {size}."
        )
    if align_corners and min(spatial) == 1:
        warnings.warn(
            "Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
            "align_corners=True. This is not an intended use case of affine_grid. See the "
            "documentation of affine_grid for details.",
            stacklevel=2,
        )
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise ValueError(f"Expected theta batch size {theta.shape[0]} to match size[0] {size[0]}")
    dt = theta._data.dtype
    nd = len(spatial)
    axes = [_base_coords(n, align_corners, dt) for n in spatial]  # (D,) H, W
    grids = np.meshgrid(*axes, indexing="ij")
    # homogeneous coordinates in (x, y[, z], 1) order: x runs along the last spatial dim
    base = np.stack([grids[nd - 1 - k] for k in range(nd)] + [np.ones(spatial, dtype=dt)], -1)
    xp = xp_of(theta._data)
    b = wrap(xp.asarray(base.reshape(1, -1, nd + 1)))
    out = b.matmul(theta.transpose(1, 2))  # (N, P, nd)
    return out.reshape((size[0],) + tuple(spatial) + (nd,))


# --- pixel / channel shuffles ------------------------------------------------------------------------
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.pixel_shuffle(torch.arange(4.0).view(1, 4, 1, 1), 2)
        tensor([[[[0., 1.],
                  [2., 3.]]]])
    """
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(
            "pixel_shuffle expects input to have at least 3 dimensions, but got input with "
            f"{input.ndim} dimension(s)"
        )
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
            f"of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    oc = c // (r * r)
    n = len(lead)
    x = input.reshape(*lead, oc, r, r, h, w)
    perm = list(range(n)) + [n, n + 3, n + 1, n + 4, n + 2]
    return x.permute(*perm).reshape(*lead, oc, h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), the inverse of `pixel_shuffle`.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.pixel_unshuffle(torch.arange(4.0).view(1, 1, 2, 2), 2).flatten()
        tensor([0., 1., 2., 3.])
    """
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(
            "pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
            f"{input.ndim} dimension(s)"
        )
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if h % r:
        raise RuntimeError(
            "pixel_unshuffle expects height to be divisible by downscale_factor, but "
            f"input.size(-2)={h} is not divisible by {r}"
        )
    if w % r:
        raise RuntimeError(
            "pixel_unshuffle expects width to be divisible by downscale_factor, but "
            f"input.size(-1)={w} is not divisible by {r}"
        )
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    perm = list(range(n)) + [n, n + 2, n + 4, n + 1, n + 3]
    return x.permute(*perm).reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` groups: (N, g*k, *) -> channels reordered as
    (k, g) (ShuffleNet).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.channel_shuffle(torch.arange(4.0).view(1, 4, 1), 2).flatten()
        tensor([0., 2., 1., 3.])
    """
    if input.ndim <= 2:
        raise RuntimeError(
            f"channel_shuffle expects input with > 2 dims, but got input with sizes "
            f"{list(input.shape)}"
        )
    g = int(groups)
    if g <= 0:
        raise RuntimeError(
            f"Number of groups to divide channels in must be positive. Value of groups:{g}"
        )
    n, c = input.shape[:2]
    if c % g:
        raise RuntimeError(
            f"Number of channels must be divisible by groups. Got {c} channels and {g} groups."
        )
    rest = tuple(input.shape[2:])
    x = input.reshape(n, g, c // g, *rest)
    return x.transpose(1, 2).reshape(n, c, *rest)


native_channel_shuffle = channel_shuffle
