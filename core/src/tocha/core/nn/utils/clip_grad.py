"""Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_ / get_total_norm)."""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Iterable

import numpy as np

from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad

__all__ = [
    "clip_grad_norm_",
    "clip_grad_norm",
    "clip_grad_value_",
    "get_total_norm",
    "clip_grads_with_norm_",
]

_ndarray = np.ndarray


def _as_list(parameters, warn_empty: bool = False) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    is_gen = isinstance(parameters, types.GeneratorType)
    res = list(parameters)
    if warn_empty and is_gen and not res:
        warnings.warn(
            "`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3
        )
    return res


def get_total_norm(
    tensors: Tensor | Iterable[Tensor],
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The ``norm_type``-norm of the norms of ``tensors`` (as if they were concatenated).

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.utils.get_total_norm([torch.tensor([3.0]), torch.tensor([4.0])])
        tensor(5.)
    """
    from ... import linalg
    from ..._ops.creation import tensor as _tensor
    from ..._ops.shape import stack

    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return _tensor(0.0)
    with no_grad():
        dev = tensors[0].device
        norms = [linalg.vector_norm(t, norm_type) for t in tensors]
        norms = [n if n.device == dev else n.to(dev) for n in norms]
        total = norms[0] if len(norms) == 1 else linalg.vector_norm(stack(norms), norm_type)
    if error_if_nonfinite and not math.isfinite(float(total.item())):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return total


def _scale_(g: Tensor, coef: Tensor) -> None:
    """``g *= coef`` in one pass over ``g`` (in place, no temporary)."""
    arr = g._data
    c = coef._data
    if arr.dtype.kind == "f" and arr.__class__ is _ndarray and c.__class__ is _ndarray:
        with np.errstate(invalid="ignore"):  # a non-finite norm gives NaN grads, silently
            arr *= c.astype(arr.dtype)
        g._bump_version()
    else:
        g.mul_(coef.to(device=g.device, dtype=g.dtype))


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    total_norm: Tensor,
    foreach: bool | None = None,
) -> None:
    """Scale the gradients of ``parameters`` by ``min(1, max_norm / (total_norm + 1e-6))``.

    Example:
        >>> import tocha.core as torch
        >>> p = torch.nn.Parameter(torch.zeros(2)); p.grad = torch.tensor([3.0, 4.0])
        >>> torch.nn.utils.clip_grads_with_norm_([p], 1.0, torch.tensor(5.0)); p.grad
        tensor([0.6000, 0.8000])
    """
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    with no_grad():
        coef = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            _scale_(g, coef if coef.device == g.device else coef.to(g.device))


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Rescale the gradients in place so that their total norm is at most ``max_norm``.

    The norm is taken over all gradients together, as if concatenated into one vector
    (``norm_type`` may be ``inf``). Gradients are multiplied by
    ``min(1, max_norm / (total_norm + 1e-6))``. Returns the total norm before clipping.
    ``foreach`` is accepted for compatibility and ignored.

    Example:
        >>> import tocha.core as torch
        >>> p = torch.nn.Parameter(torch.zeros(2)); p.grad = torch.tensor([3.0, 4.0])
        >>> torch.nn.utils.clip_grad_norm_([p], max_norm=1.0)
        tensor(5.)
        >>> p.grad
        tensor([0.6000, 0.8000])
    """
    params = _as_list(parameters, warn_empty=True)
    grads = [p.grad for p in params if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(params, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Deprecated alias of `clip_grad_norm_` (warns)."""
    warnings.warn(
        "`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
        "`torch.nn.utils.clip_grad_norm_`.",
        FutureWarning,
        stacklevel=2,
    )
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient of ``parameters`` into ``[-clip_value, clip_value]``, in place.

    Example:
        >>> import tocha.core as torch
        >>> p = torch.nn.Parameter(torch.zeros(3)); p.grad = torch.tensor([-2.0, 0.5, 3.0])
        >>> torch.nn.utils.clip_grad_value_([p], 1.0); p.grad
        tensor([-1.0000,  0.5000,  1.0000])
    """
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            g = p.grad
            if g is None:
                continue
            arr = g._data
            if arr.dtype.kind == "f":
                xp = np if arr.__class__ is _ndarray else g.xp
                xp.clip(arr, -clip_value, clip_value, out=arr)
                g._bump_version()
            else:
                g.clamp_(min=-clip_value, max=clip_value)
