"""Pooling of ``torch.nn.functional``: max (with indices, ceil_mode, dilation), average
(count_include_pad, divisor_override, ceil_mode), adaptive average / max, power-average (lp)
pooling and max_unpool, in 1, 2 and 3 spatial dims.

Average and adaptive-average pooling are separable linear maps (one small matrix per spatial
axis, see ``tocha.core._ops.pool``); max pooling reads the windows through strided slices.
"""

from __future__ import annotations

import math

import numpy as np

from ..._ops import pool as _P
from ..._ops._util import xp_of
from ..._tensor import Tensor
from ...autograd.function import Node

__all__ = [
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "max_pool3d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "fractional_max_pool2d",
    "fractional_max_pool3d",
    "fractional_max_pool2d_with_indices",
    "fractional_max_pool3d_with_indices",
]


# --- argument handling ----------------------------------------------------------------------------
def _tuple(v, nd: int, op: str, name: str, allow_none: bool = False) -> tuple | None:
    if v is None and allow_none:
        return None
    if isinstance(v, Tensor):
        v = v.tolist()
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v),) * nd
    vals = list(v)
    if allow_none and len(vals) == 0:
        return None
    if len(vals) == 1:
        vals = vals * nd
    if len(vals) != nd:
        what = {
            "kernel_size": f"kernel_size must either be a single int, or a tuple of {nd} ints",
            "stride": f"stride must either be omitted, a single int, or a tuple of {nd} ints",
            "padding": f"padding must either be a single int, or a tuple of {nd} ints",
            "dilation": f"dilation must be either a single int, or a tuple of {nd} ints",
        }.get(name, f"{name} must be a tuple of {nd} ints")
        raise RuntimeError(f"{op}: {what}")
    return tuple(int(a) for a in vals)


def _window_args(op: str, nd: int, kernel_size, stride, padding) -> tuple:
    """(kernel, stride, padding) as nd-tuples; an omitted stride is the kernel size."""
    K = _tuple(kernel_size, nd, op, "kernel_size")  # noqa: N806
    s = _tuple(stride, nd, op, "stride", allow_none=True) or K
    return K, s, _tuple(padding, nd, op, "padding")


def _batched(op: str, input: Tensor, nd: int, msg: str | None = None):
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    if input.ndim == nd + 1:
        return input.unsqueeze(0), False
    if input.ndim == nd + 2:
        return input, True
    if msg is None:
        if nd == 1:
            msg = f"{op}: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size "
            msg += f"for input, but got: {list(input.shape)}"
        else:
            msg = f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for input"
    raise RuntimeError(msg)


def _pool_out(X, K, s, p, d, ceil_mode):  # noqa: N803
    out = []
    for x, k, si, pi, di in zip(X, K, s, p, d):
        num = x + 2 * pi - di * (k - 1) - 1
        o = (-(-num // si) if ceil_mode else num // si) + 1
        if ceil_mode and (o - 1) * si >= x + pi:
            o -= 1  # the last window must start inside the input or its left padding
        out.append(o)
    return tuple(out)


def _check_pool(op, x, K, s, p, d):  # noqa: N803
    if any(k <= 0 for k in K):
        raise RuntimeError(f"kernel size should be greater than zero, but got {_kv('k', K)}")
    if any(si <= 0 for si in s):
        raise RuntimeError("stride should not be zero")
    if any(di <= 0 for di in d):
        raise RuntimeError(f"dilation should be greater than zero, but got {_kv('dilation', d)}")
    for k, pi, di in zip(K, p, d):
        if pi < 0:
            raise RuntimeError("pad must be non-negative")
        if pi > ((k - 1) * di + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={pi}, "
                f"kernel_size={k} and dilation={di}"
            )


def _kv(name, vals) -> str:
    axes = ("T", "H", "W")[-len(vals) :] if len(vals) > 1 else ("W",)
    return " ".join(f"{name}{a}: {v}" for a, v in zip(axes, vals))


def _too_small(x, O):  # noqa: N803
    X = tuple(x.shape[2:])  # noqa: N806
    C = x.shape[1]  # noqa: N806
    raise RuntimeError(
        f"Given input size: ({'x'.join(str(v) for v in (C,) + X)}). Calculated output size: "
        f"({'x'.join(str(v) for v in (C,) + tuple(O))}). Output size is too small"
    )


# --- max pooling ------------------------------------------------------------------------------------
def _max_pool(nd, op, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, batched = _batched(op, input, nd)
    K, s, p = _window_args(op, nd, kernel_size, stride, padding)  # noqa: N806
    d = _tuple(dilation, nd, op, "dilation")
    _check_pool(op, x, K, s, p, d)
    O = _pool_out(x.shape[2:], K, s, p, d, ceil_mode)  # noqa: N806
    if any(o <= 0 for o in O):
        _too_small(x, O)
    v, idx = _P.max_pool_nd(x, K, s, d, p, O, return_indices)
    return _max_result(v, idx, batched, return_indices)


def _max_result(v, idx, batched: bool, return_indices: bool):
    """Values (and indices when asked), without the batch dim an unbatched input lacked."""
    if not batched:
        v = v.squeeze(0)
        idx = idx.squeeze(0) if idx is not None else None
    return (v, idx) if return_indices else v


def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """1-D max pooling over (N, C, L) or (C, L); ``return_indices`` also gives the argmax
    positions (for `max_unpool1d`).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.max_pool1d(torch.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), 2)
        tensor([[[3., 5.]]])
    """
    return _max_pool(
        1, "max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """2-D max pooling over (N, C, H, W) or (C, H, W); indices are flat positions in H*W.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.max_pool2d(torch.arange(16.0).view(1, 1, 4, 4), 2, return_indices=True)
        (tensor([[[[ 5.,  7.],
                  [13., 15.]]]]), tensor([[[[ 5,  7],
                  [13, 15]]]]))
    """
    return _max_pool(
        2, "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool3d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """3-D max pooling over (N, C, D, H, W) or (C, D, H, W).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.max_pool3d(torch.arange(8.0).view(1, 1, 2, 2, 2), 2).flatten()
        tensor([7.])
    """
    return _max_pool(
        3, "max_pool3d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool1d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """`max_pool1d` returning ``(values, indices)``."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """`max_pool2d` returning ``(values, indices)``."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """`max_pool3d` returning ``(values, indices)``."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# --- average pooling ----------------------------------------------------------------------------
def _avg_axis_map(n_in, n_out, k, s, p, ceil_mode, include_pad, scale=1.0):
    w = np.zeros((n_in, n_out))
    for o in range(n_out):
        start = o * s - p
        end = min(start + k, n_in + p)
        pool = end - start
        lo, hi = max(start, 0), min(end, n_in)
        cnt = pool if include_pad else (hi - lo)
        if hi > lo and cnt > 0:
            w[lo:hi, o] = scale / cnt
    return _P.AxisMap(n_in, n_out, w=w)


def _avg_pool(
    nd, op, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    x, batched = _batched(op, input, nd)
    K, s, p = _window_args(op, nd, kernel_size, stride, padding)  # noqa: N806
    _check_pool(op, x, K, s, p, (1,) * nd)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    X = tuple(x.shape[2:])  # noqa: N806
    O = _pool_out(X, K, s, p, (1,) * nd, ceil_mode)  # noqa: N806
    if any(o <= 0 for o in O):
        _too_small(x, O)
    if x._data.dtype.kind not in "fcV":
        raise RuntimeError(f"\"{op}\" not implemented for '{_type_name(x)}'")
    maps = []
    for i in range(nd):
        if divisor_override is not None:
            # a plain window sum per axis; the divisor applied once, on the first axis
            m = _avg_axis_map(X[i], O[i], K[i], s[i], p[i], ceil_mode, True)
            w = m.w * np.array(
                [min(o * s[i] - p[i] + K[i], X[i] + p[i]) - (o * s[i] - p[i]) for o in range(O[i])]
            )
            if i == 0:
                w = w / divisor_override
            m = _P.AxisMap(X[i], O[i], w=w)
        else:
            m = _avg_axis_map(X[i], O[i], K[i], s[i], p[i], ceil_mode, count_include_pad)
        maps.append((2 + i, m))
    y = _P.resample(x, maps, node_name=f"AvgPool{nd}DBackward0")
    return y if batched else y.squeeze(0)


def _type_name(t) -> str:
    from ..._ops._util import type_name

    return type_name(t._data)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling over (N, C, L) or (C, L).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.avg_pool1d(torch.tensor([[[1.0, 3.0, 2.0, 6.0]]]), 2)
        tensor([[[2., 4.]]])
    """
    return _avg_pool(
        1, "avg_pool1d", input, kernel_size, stride, padding, ceil_mode, count_include_pad, None
    )


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """2-D average pooling over (N, C, H, W) or (C, H, W).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.avg_pool2d(torch.arange(16.0).view(1, 1, 4, 4), 2)
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """
    return _avg_pool(
        2,
        "avg_pool2d",
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def avg_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """3-D average pooling over (N, C, D, H, W) or (C, D, H, W).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.avg_pool3d(torch.arange(8.0).view(1, 1, 2, 2, 2), 2).flatten()
        tensor([3.5000])
    """
    return _avg_pool(
        3,
        "avg_pool3d",
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


# --- adaptive pooling ----------------------------------------------------------------------------
def _adaptive_sizes(op, input, output_size, nd):
    if isinstance(output_size, (int, np.integer)) and not isinstance(output_size, bool):
        out = [int(output_size)] * nd
    else:
        out = list(output_size)
        # torch fills None entries from the input's trailing sizes, checking the rank first
        if input.ndim <= len(out):
            raise ValueError(f"Input dimension should be at least {len(out) + 1}")
        if len(out) == 1 and nd > 1:
            out = out * nd
        if len(out) != nd:
            raise RuntimeError(f"{op}: output_size must be {nd}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(_rank_msg(op, input, nd))
    X = input.shape[-nd:]  # noqa: N806
    return tuple(int(X[i]) if out[i] is None else int(out[i]) for i in range(nd))


def _windows(n_in, n_out):
    starts = [(o * n_in) // n_out for o in range(n_out)]
    ends = [-(-((o + 1) * n_in) // n_out) for o in range(n_out)]
    return starts, ends


def _area_map(n_in, n_out):
    w = np.zeros((n_in, n_out))
    starts, ends = _windows(n_in, n_out)
    for o, (a, b) in enumerate(zip(starts, ends)):
        w[a:b, o] = 1.0 / (b - a)
    return _P.AxisMap(n_in, n_out, w=w)


def _adaptive_avg(nd, op, input, output_size):
    O = _adaptive_sizes(op, input, output_size, nd)  # noqa: N806
    x, batched = _batched(op, input, nd, msg=_rank_msg(op, input, nd))
    X = tuple(x.shape[2:])  # noqa: N806
    if x._data.dtype.kind not in "fcV":
        raise RuntimeError(f"\"{op}\" not implemented for '{_type_name(x)}'")
    if all(o == 1 for o in O) and x.numel():
        # global average pooling: one GEMV instead of a map per axis
        y = _P.GlobalAvgPool.apply(x, nd=nd)
        return y if batched else y.squeeze(0)
    maps = [(2 + i, _area_map(X[i], O[i])) for i in range(nd)]
    y = _P.resample(x, maps, node_name=f"AdaptiveAvgPool{nd}DBackward0")
    return y if batched else y.squeeze(0)


def _rank_msg(op, input, nd):
    return f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor, but got {list(input.shape)}"


def adaptive_avg_pool1d(input, output_size):
    """Average pooling to a fixed output length (windows of varying size).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.adaptive_avg_pool1d(torch.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2)
        tensor([[[2., 4.]]])
    """
    return _adaptive_avg(1, "adaptive_avg_pool1d", input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed (H_out, W_out); ``None`` keeps that input size.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.adaptive_avg_pool2d(torch.arange(16.0).view(1, 1, 4, 4), 1)
        tensor([[[[7.5000]]]])
    """
    return _adaptive_avg(2, "adaptive_avg_pool2d", input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """Average pooling to a fixed (D_out, H_out, W_out).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.adaptive_avg_pool3d(torch.arange(8.0).view(1, 1, 2, 2, 2), 1).flatten()
        tensor([3.5000])
    """
    return _adaptive_avg(3, "adaptive_avg_pool3d", input, output_size)


def _adaptive_max_arrays(x, O):  # noqa: N803
    """Separable max with torch's argmax (the first maximum in row-major order, the last NaN):
    the last axis first."""
    xp = xp_of(x)
    nd = len(O)
    X = x.shape[2:]  # noqa: N806
    val = x
    idx = None
    has_nan = x.dtype.kind == "f" and bool(xp.isnan(x).any())
    for i in range(nd - 1, -1, -1):
        axis = 2 + i
        starts, ends = _windows(X[i], O[i])
        vals, idxs = [], []
        for a, b in zip(starts, ends):
            seg = val[(slice(None),) * axis + (slice(a, b),)]
            am = xp.argmax(seg, axis=axis)
            if has_nan:
                # torch keeps the last NaN of a window (argmax finds the first)
                isn = xp.isnan(seg)
                anyn = isn.any(axis=axis)
                if anyn.any():
                    last = (b - a - 1) - xp.argmax(xp.flip(isn, axis=axis), axis=axis)
                    am = xp.where(anyn, last, am)
            am_e = xp.expand_dims(am, axis)
            vals.append(xp.take_along_axis(seg, am_e, axis=axis))
            if idx is None:
                # flat index contribution of this axis (the last): the column itself
                idxs.append(am_e + a)
            else:
                sidx = idx[(slice(None),) * axis + (slice(a, b),)]
                idxs.append(xp.take_along_axis(sidx, am_e, axis=axis))
        val = xp.concatenate(vals, axis=axis)
        new_idx = xp.concatenate(idxs, axis=axis)
        if idx is None:
            # positions along the last axis -> flat indices over the full spatial grid
            stride = 1
            grid = new_idx
            for j in range(nd - 2, -1, -1):
                stride_j = _P._prod(X[j + 1 :])
                ar = xp.arange(X[j], dtype=np.int64).reshape((-1,) + (1,) * (nd - 1 - j))
                grid = grid + ar * stride_j
            idx = grid
            del stride
        else:
            idx = new_idx
    return val, idx.astype(np.int64, copy=False)


class _AdaptiveMaxPool(Node):
    nondiff_outputs = (1,)

    def name(self) -> str:
        return f"AdaptiveMaxPool{self.__dict__.get('nd', 2)}DBackward0"

    def forward(self, x, *, O):  # noqa: N803
        self.nd = len(O)
        self.X = x.shape[2:]
        X = x.shape[2:]  # noqa: N806
        if all(xs % o == 0 for xs, o in zip(X, O)):
            K = tuple(xs // o for xs, o in zip(X, O))  # noqa: N806
            v, idx = _P.max_pool_arrays(x, K, K, (1,) * len(O), (0,) * len(O), O, True)
            self.unique = True
        else:
            v, idx = _adaptive_max_arrays(x, O)
            self.unique = False
        self.idx = idx
        return v, idx

    def backward(self, g, _gi=None):
        return _P.IndexScatter.apply(g, idx=self.idx, size=self.X, unique=self.unique)


def _adaptive_max(nd, op, input, output_size, return_indices):
    O = _adaptive_sizes(op, input, output_size, nd)  # noqa: N806
    x, batched = _batched(op, input, nd, msg=_rank_msg(op, input, nd))
    if any(o <= 0 for o in O) and x.numel():
        raise RuntimeError(
            f"{op}(): Expected input to have non-zero size for non-batch dimensions, but input "
            f"has sizes {list(input.shape)} with dimension {input.ndim - 1} being empty"
        )
    v, idx = _AdaptiveMaxPool.apply(x, O=O)
    return _max_result(v, idx, batched, return_indices)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling to a fixed output length.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.adaptive_max_pool1d(torch.tensor([[[1.0, 5.0, 3.0, 4.0, 2.0]]]), 2)
        tensor([[[5., 4.]]])
    """
    return _adaptive_max(1, "adaptive_max_pool1d", input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed (H_out, W_out).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.adaptive_max_pool2d(torch.arange(16.0).view(1, 1, 4, 4), 1)
        tensor([[[[15.]]]])
    """
    return _adaptive_max(2, "adaptive_max_pool2d", input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max pooling to a fixed (D_out, H_out, W_out).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.adaptive_max_pool3d(torch.arange(8.0).view(1, 1, 2, 2, 2), 1).flatten()
        tensor([7.])
    """
    return _adaptive_max(3, "adaptive_max_pool3d", input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """`adaptive_max_pool1d` returning ``(values, indices)``."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    """`adaptive_max_pool2d` returning ``(values, indices)``."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """`adaptive_max_pool3d` returning ``(values, indices)``."""
    return adaptive_max_pool3d(input, output_size, True)


# --- power-average pooling --------------------------------------------------------------------
def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    K = _tuple(kernel_size, nd, f"lp_pool{nd}d", "kernel_size")  # noqa: N806
    avg = (avg_pool1d, avg_pool2d, avg_pool3d)[nd - 1]
    out = avg(input.pow(norm_type), K, stride if stride is not None else None, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(math.prod(K)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: ``(sum over the window of x^p)^(1/p)``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.lp_pool1d(torch.tensor([[[3.0, 4.0]]]), 2, 2)
        tensor([[[5.]]])
    """
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """2-D power-average pooling.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.lp_pool2d(torch.ones(1, 1, 2, 2), 1, 2)
        tensor([[[[4.]]]])
    """
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """3-D power-average pooling.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.lp_pool3d(torch.ones(1, 1, 2, 2, 2), 1, 2).flatten()
        tensor([8.])
    """
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


# --- max_unpool -------------------------------------------------------------------------------------
def _unpool_size(input, K, s, p, output_size):  # noqa: N803
    nd = len(K)
    default = [(input.shape[-nd + i] - 1) * s[i] + K[i] - 2 * p[i] for i in range(nd)]
    if output_size is None:
        return default
    out = list(output_size)
    if len(out) == nd + 2:
        out = out[2:]
    if len(out) != nd:
        raise ValueError(
            f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it has "
            f"a length of '{len(out)}'"
        )
    for i in range(nd):
        lo, hi = default[i] - s[i], default[i] + s[i]
        if not (lo < out[i] < hi):
            raise ValueError(
                f'invalid output_size "{output_size}" (dim {i} must be between {lo} and {hi})'
            )
    return [int(v) for v in out]


def _max_unpool(nd, op, input, indices, kernel_size, stride, padding, output_size):
    K, s, p = _window_args(op, nd, kernel_size, stride, padding)  # noqa: N806
    size = _unpool_size(input, K, s, p, output_size)
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(
            f"Expected shape of indices to be same as that of the input tensor "
            f"({list(input.shape)}) but got indices tensor with shape: {list(indices.shape)}"
        )
    x, batched = _batched(op, input, nd, msg=_rank_msg(op, input, nd))
    idx = indices._data if batched else indices._data[None]
    n = _P._prod(size)
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= n:
            bad = hi if hi >= n else lo
            raise RuntimeError(
                f"Found an invalid max index: {bad} (output volumes are of size "
                f"{'x'.join(str(v) for v in size)})"
            )
    y = _P.IndexScatter.apply(
        x,
        idx=idx.astype(np.int64, copy=False),
        size=tuple(size),
        accumulate=False,
        node_name=f"MaxUnpool{nd}DBackward0",
    )
    return y if batched else y.squeeze(0)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of `max_pool1d`: values placed at their indices, zeros elsewhere.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> v, i = F.max_pool1d(torch.tensor([[[1.0, 3.0, 2.0, 5.0]]]), 2, return_indices=True)
        >>> F.max_unpool1d(v, i, 2)
        tensor([[[0., 3., 0., 5.]]])
    """
    return _max_unpool(1, "max_unpool1d", input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of `max_pool2d`.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> v, i = F.max_pool2d(torch.arange(4.0).view(1, 1, 2, 2), 2, return_indices=True)
        >>> F.max_unpool2d(v, i, 2)
        tensor([[[[0., 0.],
                  [0., 3.]]]])
    """
    return _max_unpool(2, "max_unpool2d", input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of `max_pool3d`.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> v, i = F.max_pool3d(torch.arange(8.0).view(1, 1, 2, 2, 2), 2, return_indices=True)
        >>> F.max_unpool3d(v, i, 2).flatten()
        tensor([0., 0., 0., 0., 0., 0., 0., 7.])
    """
    return _max_unpool(3, "max_unpool3d", input, indices, kernel_size, stride, padding, output_size)


# --- fractional max pooling -------------------------------------------------------------------
def _fractional(
    nd, op, input, kernel_size, output_size, output_ratio, return_indices, _random_samples
):
    K = _tuple(kernel_size, nd, op, "kernel_size")  # noqa: N806
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    x, batched = _batched(
        op,
        input,
        nd,
        msg=(f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: {list(input.shape)}"),
    )
    X = tuple(x.shape[2:])  # noqa: N806
    if output_size is None:
        r = _tuple_f(output_ratio, nd)
        O = tuple(int(X[i] * r[i]) for i in range(nd))  # noqa: N806
    else:
        O = _tuple(output_size, nd, op, "output_size")  # noqa: N806
    names = ("time", "height", "width")[-nd:] if nd > 1 else ("width",)
    for i in range(nd):
        if O[i] + K[i] - 1 > X[i]:
            raise RuntimeError(
                f"{op}(): pool {names[i]} {K[i]} too large relative to input {names[i]} {X[i]}"
            )
    if _random_samples is None:
        from ..._ops.random import rand

        samples = rand(x.shape[0], x.shape[1], nd, dtype=x.dtype)._data
    else:
        samples = _random_samples._data
        if not batched and samples.ndim == 2:
            samples = samples[None]
    v, idx = _P.FractionalMaxPool.apply(x, K=K, O=O, samples=samples)
    return _max_result(v, idx, batched, return_indices)


def _tuple_f(v, nd):
    if isinstance(v, (list, tuple)):
        return tuple(float(a) for a in v)
    return (float(v),) * nd


def fractional_max_pool2d(
    input,
    kernel_size,
    output_size=None,
    output_ratio=None,
    return_indices=False,
    _random_samples=None,
):
    """Fractional max pooling (Graham 2014): windows of ``kernel_size`` at pseudo-random
    positions chosen per (batch, channel) plane so that the output has ``output_size`` (or
    ``output_ratio`` times the input size). ``_random_samples`` (N, C, 2) fixes the positions.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> x = torch.arange(49.0).view(1, 1, 7, 7)
        >>> F.fractional_max_pool2d(x, 2, output_size=(3, 4),
        ...                         _random_samples=torch.tensor([[[0.3, 0.8]]]))
        tensor([[[[ 8., 10., 11., 13.],
                  [22., 24., 25., 27.],
                  [43., 45., 46., 48.]]]])
    """
    return _fractional(
        2,
        "fractional_max_pool2d",
        input,
        kernel_size,
        output_size,
        output_ratio,
        return_indices,
        _random_samples,
    )


def fractional_max_pool3d(
    input,
    kernel_size,
    output_size=None,
    output_ratio=None,
    return_indices=False,
    _random_samples=None,
):
    """3-D fractional max pooling; ``_random_samples`` is (N, C, 3).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.fractional_max_pool3d(torch.randn(1, 2, 6, 6, 6), 2, output_ratio=0.5).shape
        torch.Size([1, 2, 3, 3, 3])
    """
    return _fractional(
        3,
        "fractional_max_pool3d",
        input,
        kernel_size,
        output_size,
        output_ratio,
        return_indices,
        _random_samples,
    )


def fractional_max_pool2d_with_indices(
    input,
    kernel_size,
    output_size=None,
    output_ratio=None,
    return_indices=False,
    _random_samples=None,
):
    """`fractional_max_pool2d` returning ``(values, indices)``."""
    return fractional_max_pool2d(
        input, kernel_size, output_size, output_ratio, True, _random_samples
    )


def fractional_max_pool3d_with_indices(
    input,
    kernel_size,
    output_size=None,
    output_ratio=None,
    return_indices=False,
    _random_samples=None,
):
    """`fractional_max_pool3d` returning ``(values, indices)``."""
    return fractional_max_pool3d(
        input, kernel_size, output_size, output_ratio, True, _random_samples
    )
