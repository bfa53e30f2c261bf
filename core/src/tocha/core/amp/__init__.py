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

from . import autocast_mode
from .autocast_mode import *  # noqa: F403  (torch.amp re-exports autocast_mode's API)
from .grad_scaler import GradScaler

__all__ = [*autocast_mode.__all__, "GradScaler"]
