"""Dropout functions of ``torch.nn.functional``: dropout, dropout1d/2d/3d (whole channels),
alpha_dropout and feature_alpha_dropout (which keep SELU's self-normalisation).

The masks come from tocha's default generator (``torch.manual_seed`` makes them repeatable);
the node saves a boolean mask, not a float copy of it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..._ops import layers as _Y
from ..._ops.inplace import inplace_apply
from ..._tensor import Tensor

__all__ = [
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
]

_SELU_NEG = 1.7580993408473766  # -SELU's negative saturation value, scale * alpha


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(input: Tensor, p: float, shape) -> np.ndarray:
    """A boolean array of ``shape``: True with probability ``1 - p``."""
    from ..._ops.random import _impl_for

    u = _impl_for(None, input.device).uniform(tuple(shape), np.float32)
    return u >= np.float32(p)


def _apply(input: Tensor, fn, inplace: bool) -> Tensor:
    if inplace:
        return inplace_apply(input, lambda t: fn(t), "dropout_", (), {})
    return fn(input)


def _dropout(input: Tensor, p: float, mask_shape, inplace: bool) -> Tensor:
    if p == 1:
        mask = np.zeros(mask_shape, dtype=bool)
        scale = 0.0
    else:
        mask = _keep_mask(input, p, mask_shape)
        scale = 1.0 / (1.0 - p)
    xp = input.xp
    if xp is not np:
        mask = xp.asarray(mask)
    return _apply(input, lambda t: _Y.MaskScale.apply(t, mask=mask, scale=scale), inplace)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``
    (training only; otherwise ``input`` is returned).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.dropout(torch.ones(4), p=0.5, training=False)
        tensor([1., 1., 1., 1.])
    """
    _check_p(p)
    if not training or p == 0 or input._data.size == 0:
        return input
    return _dropout(input, p, input._data.shape, inplace)


def _warn_rank(spatial: int, nd: int) -> None:
    """torch's deprecation warning for a dropout2d/3d input of another rank."""
    name = f"dropout{spatial}d"
    warnings.warn(
        f"{name}: Received a {nd}-D input to {name}, which is deprecated and will result in an "
        "error in a future release. To retain the behavior and silence this warning, please use "
        f"dropout instead. Note that {name} exists to provide channel-wise dropout on inputs "
        f"with {spatial} spatial dimensions, a channel dimension, and an optional batch "
        f"dimension (i.e. {spatial + 1}D or {spatial + 2}D inputs).",
        stacklevel=3,  # the caller of dropout2d/3d
    )


def _feature_shape(shape, batched: bool) -> tuple:
    lead = 2 if batched else 1
    return tuple(shape[:lead]) + (1,) * (len(shape) - lead)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of an (N, C, L) or (C, L) input with probability ``p``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.dropout1d(torch.ones(1, 2, 3), training=False).shape
        torch.Size([1, 2, 3])
    """
    _check_p(p)
    nd = input._data.ndim
    if nd not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {nd}D input. Note that dropout1d "
            "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
            "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs)."
        )
    if not training or p == 0 or input._data.size == 0:
        return input
    return _dropout(input, p, _feature_shape(input._data.shape, nd == 3), inplace)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of an (N, C, H, W) or (C, H, W) input with probability ``p``.

    A 3-D input is read as (N, C, L), with torch's warning.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.dropout2d(torch.ones(1, 2, 2, 2), p=1.0).sum()
        tensor(0.)
    """
    _check_p(p)
    nd = input._data.ndim
    if nd not in (3, 4):
        _warn_rank(2, nd)
    if nd == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    if not training or p == 0 or input._data.size == 0:
        return input
    if nd < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return _dropout(input, p, _feature_shape(input._data.shape, True), inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of an (N, C, D, H, W) or (C, D, H, W) input with probability ``p``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.dropout3d(torch.ones(1, 2, 1, 1, 1), p=0.0)
        tensor([[[[[1.]]],
        <BLANKLINE>
        <BLANKLINE>
                 [[[1.]]]]])
    """
    _check_p(p)
    nd = input._data.ndim
    if nd not in (4, 5):
        _warn_rank(3, nd)
    if not training or p == 0 or input._data.size == 0:
        return input
    batched = nd == 5 or nd not in (4, 5)
    return _dropout(input, p, _feature_shape(input._data.shape, batched), inplace)


def _alpha(input: Tensor, p: float, training: bool, inplace: bool, feature: bool) -> Tensor:
    _check_p(p)
    if not training or p == 0 or input._data.size == 0:
        return input
    shape = input._data.shape
    if feature:
        if len(shape) < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        mshape = _feature_shape(shape, True)
    else:
        mshape = shape
    dt = input._data.dtype
    work = np.float64 if dt == np.float64 else np.float32
    if p == 1:
        a = np.zeros(mshape, dtype=work)
        b = np.zeros(mshape, dtype=work)
    else:
        keep = _keep_mask(input, p, mshape).astype(work)
        coef = 1.0 / math.sqrt((_SELU_NEG * _SELU_NEG * p + 1) * (1 - p))
        a = keep * coef
        b = (keep - 1) * (_SELU_NEG * coef) + _SELU_NEG * coef * p
    xp = input.xp
    if xp is not np:
        a, b = xp.asarray(a), xp.asarray(b)
    return _apply(input, lambda t: _Y.AffineNoise.apply(t, a=a, b=b), inplace)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Dropout for SELU networks: dropped elements take SELU's negative saturation value and
    an affine correction keeps the mean and variance.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.alpha_dropout(torch.ones(3))
        tensor([1., 1., 1.])
    """
    return _alpha(input, p, training, inplace, feature=False)


def feature_alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
):
    """``alpha_dropout`` of whole channels.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.feature_alpha_dropout(torch.ones(1, 3))
        tensor([[1., 1., 1.]])
    """
    return _alpha(input, p, training, inplace, feature=True)
