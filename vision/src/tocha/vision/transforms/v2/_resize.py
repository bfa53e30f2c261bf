"""NumPy resampling kernels behind ``resize`` for tensors.

Resizing is separable: each axis is resampled by an (out, in) weight matrix, applied with one
matrix product per axis (BLAS does the work, the rest is index arithmetic).

Two families of weights, as torchvision v2 uses them:

* ``antialias=True`` (bilinear, bicubic): Pillow's convolution resampler. The filter support is
  stretched by the downscale factor, taps are normalised to sum to one, and bicubic uses
  ``a = -0.5``. For ``uint8`` the weights are Pillow's 22-bit fixed-point coefficients and the
  horizontal pass is rounded to ``uint8`` before the vertical pass, so the result equals
  Pillow's ``Image.resize`` exactly.
* ``antialias=False`` (and nearest modes): ``torch.nn.functional.interpolate`` with
  ``align_corners=False``: bilinear on clamped source coordinates, bicubic with ``a = -0.75``
  and replicated borders, ``nearest`` (``floor(dst * in / out)``) and ``nearest-exact``
  (``floor((dst + 0.5) * in / out)``).
"""

from __future__ import annotations

import functools

import numpy as np

# Pillow keeps 32 - 8 - 2 bits of precision for uint8 resampling coefficients.
_PRECISION_BITS = 22


def _triangle(x):
    x = np.abs(x)
    return np.where(x < 1.0, 1.0 - x, 0.0)


def _cubic(a):
    def f(x):
        x = np.abs(x)
        near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
        far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
        return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))

    return f


_AA_FILTERS = {"bilinear": (_triangle, 1.0), "bicubic": (_cubic(-0.5), 2.0)}


@functools.lru_cache(maxsize=256)
def _aa_weights(in_size: int, out_size: int, mode: str) -> np.ndarray:
    """Pillow's normalised convolution weights as a dense (out, in) float64 matrix."""
    filt, support = _AA_FILTERS[mode]
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = support * filterscale
    centers = (np.arange(out_size) + 0.5) * scale
    # int() in C truncates toward zero; the clamp to 0 afterwards makes floor equivalent here.
    xmin = np.maximum(np.trunc(centers - support + 0.5), 0).astype(np.int64)
    xmax = np.minimum(np.trunc(centers + support + 0.5), in_size).astype(np.int64)
    cols = np.arange(in_size)
    w = filt((cols[None, :] - centers[:, None] + 0.5) / filterscale)
    w = np.where((cols[None, :] >= xmin[:, None]) & (cols[None, :] < xmax[:, None]), w, 0.0)
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total != 0)


@functools.lru_cache(maxsize=256)
def _aa_weights_fixed(in_size: int, out_size: int, mode: str) -> np.ndarray:
    """Pillow's uint8 coefficients: weights * 2**22 rounded half away from zero."""
    w = _aa_weights(in_size, out_size, mode) * (1 << _PRECISION_BITS)
    return np.trunc(w + np.where(w < 0, -0.5, 0.5))


@functools.lru_cache(maxsize=256)
def _interp_weights(in_size: int, out_size: int, mode: str) -> np.ndarray:
    """``F.interpolate(align_corners=False)`` weights as a dense (out, in) float64 matrix."""
    scale = in_size / out_size
    dst = np.arange(out_size, dtype=np.float64)
    rows = np.arange(out_size)
    w = np.zeros((out_size, in_size))
    if mode in ("nearest", "nearest-exact"):
        src = dst * scale if mode == "nearest" else (dst + 0.5) * scale
        idx = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
        w[rows, idx] = 1.0
    elif mode == "bilinear":
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
        i1 = np.minimum(i0 + 1, in_size - 1)
        lam = src - i0
        np.add.at(w, (rows, i0), 1.0 - lam)
        np.add.at(w, (rows, i1), lam)
    elif mode == "bicubic":
        src = (dst + 0.5) * scale - 0.5
        i = np.floor(src).astype(np.int64)
        t = src - i
        f = _cubic(-0.75)
        for k in range(-1, 3):
            np.add.at(w, (rows, np.clip(i + k, 0, in_size - 1)), f(t - k))
    else:
        raise ValueError(f"resize: unsupported interpolation mode {mode!r}")
    return w


def _apply(x: np.ndarray, wh, ww, round_fn=None) -> np.ndarray:
    """Resample the last two axes of x (..., H, W) by wh (oh, H) and ww (ow, W)."""
    lead = x.shape[:-2]
    h, w = x.shape[-2:]
    y = x.reshape(-1, h, w)
    # Horizontal pass first, like Pillow (matters only for the rounded uint8 path).
    if ww is not None:
        y = y @ ww.T
        if round_fn is not None:
            y = round_fn(y)
    if wh is not None:
        y = np.matmul(wh, y)
        if round_fn is not None:
            y = round_fn(y)
    return y.reshape(*lead, y.shape[-2], y.shape[-1])


def _fixed_round(y):
    # (acc + 2**21) >> 22, then clip to uint8, as Pillow's clip8.
    return np.clip(np.floor((y + (1 << (_PRECISION_BITS - 1))) / (1 << _PRECISION_BITS)), 0, 255)


def resize_array(x: np.ndarray, out_h: int, out_w: int, mode: str, antialias: bool) -> np.ndarray:
    """Resize the last two axes of ``x`` to (out_h, out_w); returns x's dtype."""
    h, w = x.shape[-2:]
    if (h, w) == (out_h, out_w):
        return x.copy()
    if x.size == 0 or out_h == 0 or out_w == 0:
        return np.zeros((*x.shape[:-2], out_h, out_w), dtype=x.dtype)
    aa = antialias and mode in _AA_FILTERS
    is_int = not np.issubdtype(x.dtype, np.floating)
    if aa and x.dtype == np.uint8:
        wh = _aa_weights_fixed(h, out_h, mode) if h != out_h else None
        ww = _aa_weights_fixed(w, out_w, mode) if w != out_w else None
        return _apply(x.astype(np.float64), wh, ww, _fixed_round).astype(np.uint8)
    weights = _aa_weights if aa else _interp_weights
    if mode in ("nearest", "nearest-exact"):
        # A pure gather: exact for every dtype, no float round trip.
        rows = _interp_weights(h, out_h, mode).argmax(axis=1)
        cols = _interp_weights(w, out_w, mode).argmax(axis=1)
        return x[..., rows[:, None], cols[None, :]]
    ctype = np.float64 if x.dtype == np.float64 else np.float32
    wh = weights(h, out_h, mode).astype(ctype) if h != out_h else None
    ww = weights(w, out_w, mode).astype(ctype) if w != out_w else None
    y = _apply(x.astype(ctype, copy=False), wh, ww)
    if is_int:
        info = np.iinfo(x.dtype)
        y = np.clip(np.round(y), info.min, info.max)
    return y.astype(x.dtype, copy=False)


def output_size(h: int, w: int, size, max_size=None) -> tuple[int, int]:
    """torchvision's rule: an int (or 1-sequence) matches the shorter edge, keeping aspect."""
    if size is None or (not isinstance(size, int) and len(size) == 1) or isinstance(size, int):
        short, long = (w, h) if w <= h else (h, w)
        if size is None:
            if max_size is None:
                raise ValueError("resize: size=None needs max_size")
            # size=None: the longer edge becomes max_size, keeping the aspect ratio.
            new_short, new_long = int(max_size * short / long), max_size
        else:
            requested = size if isinstance(size, int) else int(size[0])
            new_short, new_long = requested, int(requested * long / short)
            if max_size is not None:
                if max_size <= requested:
                    raise ValueError(
                        f"resize: max_size = {max_size} must be strictly greater than the "
                        f"requested size for the smaller edge, got size = {size}"
                    )
                if new_long > max_size:
                    new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    if max_size is not None:
        raise ValueError(
            "resize: max_size should only be passed if size is an int or a sequence of length 1"
            f", got size = {size}"
        )
    if len(size) != 2:
        raise ValueError(f"resize: size must be an int or a sequence of 1 or 2 ints, got {size}")
    return int(size[0]), int(size[1])
