"""Automatic mixed precision (torch.amp): ``autocast`` regions and ``GradScaler``.

Example:
    >>> import tocha.core as torch
    >>> lin = torch.nn.Linear(4, 2)
    >>> with torch.amp.autocast("cpu", dtype=torch.bfloat16):
    ...     y = lin(torch.ones(3, 4))
    >>> y.dtype
    torch.bfloat16
    >>> y.float().sum().backward()
    >>> lin.weight.grad.dtype
    torch.float32
"""

from __future__ import annotations

from .autocast_mode import (
    autocast,
    clear_autocast_cache,
    custom_bwd,
    custom_fwd,
    get_autocast_dtype,
    is_autocast_available,
    is_autocast_cache_enabled,
    is_autocast_enabled,
    set_autocast_cache_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
)
from .grad_scaler import GradScaler

__all__ = [
    "autocast",
    "GradScaler",
    "custom_fwd",
    "custom_bwd",
    "is_autocast_available",
    "is_autocast_enabled",
    "get_autocast_dtype",
    "set_autocast_enabled",
    "set_autocast_dtype",
    "is_autocast_cache_enabled",
    "set_autocast_cache_enabled",
    "clear_autocast_cache",
]
