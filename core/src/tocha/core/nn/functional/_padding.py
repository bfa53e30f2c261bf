"""``torch.nn.functional.pad``: constant, reflect, replicate and circular padding.

Constant padding (any number of dims, negative pads crop) is one node whose adjoint is the
opposite padding. The other modes pad the last 1-3 dims of a (batched or unbatched) input;
each padded axis is a gather (an index map per output position), applied by the separable
``Resample`` node of ``tocha.core._ops.pool``, whose backward scatters back.
"""

from __future__ import annotations

import numpy as np

from ..._ops import pool as _P
from ..._tensor import Tensor

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


def _index_map(n: int, a: int, b: int, mode: str) -> _P.AxisMap:
    i = np.arange(-a, n + b)
    if mode == "reflect":
        i = np.abs(i)
        i = np.where(i > n - 1, 2 * (n - 1) - i, i)
    elif mode == "replicate":
        i = np.clip(i, 0, n - 1)
    else:  # circular: negative amounts crop first, the rest wraps around what is left
        c0 = max(-a, 0)
        m = n - c0 - max(-b, 0)
        i = c0 + np.mod(np.arange(-max(a, 0), m + max(b, 0)), m)
    return _P.AxisMap(n, n + a + b, idx=i)


def _not_supported(npad: int, ndim: int):
    raise NotImplementedError(
        f"Padding size {npad} is not supported for {ndim}D input tensor.\n"
        "Supported combinations for non-constant padding:\n"
        "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
        "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
        "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
    )


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad ``input``; ``pad`` lists (left, right) pairs starting from the last dimension.

    ``mode='constant'`` pads any dims with ``value`` (negative amounts crop); ``'reflect'``,
    ``'replicate'`` and ``'circular'`` pad the last 1, 2 or 3 dims of a batched or unbatched
    input.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.pad(torch.tensor([[1.0, 2.0, 3.0]]), (1, 2))
        tensor([[0., 1., 2., 3., 0., 0.]])
        >>> F.pad(torch.tensor([[[1.0, 2.0, 3.0]]]), (2, 1), mode="reflect")
        tensor([[[3., 2., 1., 2., 3., 2.]]])
    """
    if not isinstance(input, Tensor):
        raise TypeError(
            f"pad(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    if isinstance(pad, Tensor):
        pad = pad.tolist()
    pads = list(pad)
    for v in pads:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(
                "pad(): argument 'pad' failed to unpack the object at pos 2 with error \"type "
                f'must be tuple of ints,but got {type(v).__name__}"'
            )
    pads = [int(v) for v in pads]
    if len(pads) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    nd = input.ndim
    npairs = len(pads) // 2
    if npairs > nd:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pads)} and input of dimension {nd}"
        )
    if mode not in _MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    # pairs per dim, innermost last -> per dim from the first padded one
    pairs = [(pads[2 * i], pads[2 * i + 1]) for i in range(npairs)][::-1]
    if mode == "constant":
        shape = input.shape
        for k, (a, b) in enumerate(pairs):
            s = shape[nd - npairs + k]
            if s + a + b < 0:
                raise RuntimeError(
                    f"The input size {s}, plus negative padding {a} and {b} resulted in a "
                    f"negative output size, which is invalid. Check dimension "
                    f"{nd - npairs + k} of your input."
                )
        if all(a == 0 and b == 0 for a, b in pairs):
            return input.clone()
        v = 0 if value is None else value
        if input._data.dtype.kind in "iub" and isinstance(v, float):
            v = int(v)
        return _P.constant_pad(input, pairs, v)
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if npairs not in (1, 2, 3) or nd not in (npairs + 1, npairs + 2):
        _not_supported(len(pads), nd)
    maps = []
    for k, (a, b) in enumerate(pairs):
        axis = nd - npairs + k
        n = input.shape[axis]
        if mode == "reflect" and (a >= n or b >= n):
            arg = {1: 4, 2: 8, 3: 12}[npairs]
            raise RuntimeError(
                f"Argument #{arg}: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({a}, {b}) at dimension {axis} of input "
                f"{list(input.shape)}"
            )
        if mode == "circular" and (a > n or b > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and n == 0 and (a > 0 or b > 0):
            raise RuntimeError(
                f"padding size is expected to be 0 for the dimension {axis} of input but got {n}"
            )
        if a or b:
            maps.append((axis, _index_map(n, a, b, mode)))
    name = {
        "reflect": f"ReflectionPad{npairs}DBackward0",
        "replicate": f"ReplicationPad{npairs}DBackward0",
        "circular": "CircularPadBackward0",
    }[mode]
    if not maps:
        return input.clone()
    return _P.resample(input, maps, node_name=name)
