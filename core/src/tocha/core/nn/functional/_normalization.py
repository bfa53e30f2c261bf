"""Normalization functions of ``torch.nn.functional``: batch_norm, instance_norm, layer_norm,
group_norm, rms_norm, local_response_norm and normalize.

layer_norm, rms_norm, group_norm and batch_norm's training path are fused nodes with
hand-written backwards (``tocha.core._ops.norm``); batch_norm in evaluation mode folds the
running statistics into one per-channel scale and shift.
"""

from __future__ import annotations

import numpy as np

from ..._ops import norm as _N
from ..._tensor import Size, Tensor
from ...autograd.grad_mode import no_grad

__all__ = [
    "batch_norm",
    "instance_norm",
    "layer_norm",
    "group_norm",
    "rms_norm",
    "local_response_norm",
    "normalize",
]


def _channel_view(t: Tensor, ndim: int) -> Tensor:
    """A per-channel vector shaped to broadcast against an (N, C, ...) tensor."""
    return t.reshape((-1,) + (1,) * (ndim - 2)) if ndim > 2 else t


def _check_channels(name: str, t, c: int) -> None:
    if t is not None and t._data.size != c:
        raise RuntimeError(f"{name} should contain {c} elements not {t._data.size}")


def _update_running(running: Tensor, value, momentum: float) -> None:
    """``running = (1 - momentum) * running + momentum * value`` in place (no autograd)."""
    arr = running._data
    v = value.astype(arr.dtype, copy=False)
    arr *= 1 - momentum
    arr += v * momentum if momentum != 1 else v
    running._bump_version()


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (dim 1) with the batch's statistics (``training=True``, which
    also updates ``running_mean``/``running_var`` in place with ``momentum``) or with the
    running statistics (evaluation).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> x = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
        >>> F.batch_norm(x, None, None, training=True)
        tensor([[-1.0000, -1.0000],
                [ 1.0000,  1.0000]])
    """
    shape = tuple(input._data.shape)
    if len(shape) < 2:
        raise ValueError(f"Expected 2D or higher dimensionality input (got {len(shape)} dims)")
    c = shape[1]
    _check_channels("running_mean", running_mean, c)
    _check_channels("running_var", running_var, c)
    _check_channels("weight", weight, c)
    _check_channels("bias", bias, c)
    if training:
        size = input._data.size // c if c else 0
        if size == 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input size "
                f"{Size(shape)}"
            )
        out, stats = _N.batch_norm_train(input, weight, bias, eps)
        if running_mean is not None or running_var is not None:
            count = stats["count"]
            if running_mean is not None:
                _update_running(running_mean, stats["mean"], momentum)
            if running_var is not None:
                unbiased = stats["var"] * (count / (count - 1))
                _update_running(running_var, unbiased, momentum)
        return out
    if running_mean is None or running_var is None:
        missing = "running_mean" if running_mean is None else "running_var"
        raise RuntimeError(f"{missing} must be defined in evaluation mode")
    return _affine_from_stats(input, running_mean, running_var, weight, bias, eps)


def _affine_from_stats(input, mean, var, weight, bias, eps) -> Tensor:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` folded into one scale and shift."""
    nd = input._data.ndim
    scale = (var + eps).rsqrt()
    if weight is not None:
        scale = scale * weight
    shift = -mean * scale
    if bias is not None:
        shift = shift + bias
    if scale.dtype != input.dtype:
        scale, shift = scale.to(input.dtype), shift.to(input.dtype)
    if nd < 2:
        return input * _channel_view(scale, nd) + _channel_view(shift, nd)
    return _N.channel_affine(input, scale, shift)


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel of each sample over its spatial dims.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.instance_norm(torch.tensor([[[1.0, 3.0]]]))
        tensor([[[-1.0000,  1.0000]]])
    """
    shape = tuple(input._data.shape)
    if len(shape) < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality input (got {len(shape)} dimensions)"
        )
    c = shape[1]
    _check_channels("running_mean", running_mean, c)
    _check_channels("running_var", running_var, c)
    _check_channels("weight", weight, c)
    _check_channels("bias", bias, c)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError(
                "Expected running_mean and running_var to be defined when use_input_stats is false"
            )
        return _affine_from_stats(input, running_mean, running_var, weight, bias, eps)
    spatial = 1
    for s in shape[2:]:
        spatial *= s
    if spatial == 1:
        raise ValueError(
            f"Expected more than 1 spatial element when training, got input size {Size(shape)}"
        )
    out = _N.group_norm(input, c, weight, bias, eps)
    if running_mean is not None or running_var is not None:
        with no_grad():
            x = input._data.reshape(shape[0], c, -1)
            x = x.astype(np.float32) if x.dtype.kind == "V" or x.dtype.itemsize == 2 else x
            if running_mean is not None:
                _update_running(running_mean, x.mean(2).mean(0), momentum)
            if running_var is not None:
                _update_running(running_var, x.var(2, ddof=1).mean(0), momentum)
    return out


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` dims (biased variance), then apply
    the elementwise affine ``weight`` and ``bias``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.layer_norm(torch.tensor([[1.0, 3.0], [2.0, 2.0]]), (2,))
        tensor([[-1.0000,  1.0000],
                [ 0.0000,  0.0000]])
    """
    return _N.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each group of ``C // num_groups`` channels of each sample, then apply the
    per-channel affine ``weight`` and ``bias``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.group_norm(torch.tensor([[1.0, 3.0, 5.0, 5.0]]), 2)
        tensor([[-1.0000,  1.0000,  0.0000,  0.0000]])
    """
    return _N.group_norm(input, num_groups, weight, bias, eps)


def rms_norm(
    input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None
) -> Tensor:
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing ``normalized_shape`` dims;
    ``eps=None`` uses the machine epsilon of the input's dtype.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.rms_norm(torch.tensor([[3.0, 4.0]]), (2,))
        tensor([[0.8485, 1.1314]])
    """
    return _N.rms_norm(input, normalized_shape, weight, eps)


def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """Divide each element by ``(k + alpha * mean of squares over a window of size channels)
    ** beta`` (the window is zero-padded at the channel edges).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.local_response_norm(torch.ones(1, 2, 1), size=2, alpha=1.0, beta=1.0, k=1.0)
        tensor([[[0.6667],
                 [0.5000]]])
    """
    dim = input._data.ndim
    if dim < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality                          input (got {dim} "
            "dimensions)"
        )
    if input._data.size == 0:
        return input
    from ..._ops.creation import zeros
    from ..._ops.shape import cat

    c = input._data.shape[1]
    sq = input * input
    front, back = size // 2, (size - 1) // 2
    pad_shape = list(input._data.shape)
    parts = []
    if front:
        pad_shape[1] = front
        parts.append(zeros(pad_shape, dtype=input.dtype, device=input.device))
    parts.append(sq)
    if back:
        pad_shape[1] = back
        parts.append(zeros(pad_shape, dtype=input.dtype, device=input.device))
    padded = cat(parts, 1) if len(parts) > 1 else sq
    total = padded.narrow(1, 0, c)
    for s in range(1, size):
        total = total + padded.narrow(1, s, c)
    div = (total * (alpha / size) + k).pow(beta)
    return input / div


def normalize(
    input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Tensor | None = None
) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.normalize(torch.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    if out is None:
        return input / denom
    from ..._ops.arith import div

    return div(input, denom, out=out)
