"""skip_init (torch.nn.utils.skip_init)."""

from __future__ import annotations

import inspect

from ..modules.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls: type, *args, **kwargs) -> Module:
    """Build ``module_cls(*args, **kwargs)`` without running its parameter initialisation.

    The module's parameters and buffers are left uninitialised (``torch.empty``); the class
    must accept a ``device`` keyword, as torch requires.

    Example:
        >>> import tocha.core as torch
        >>> class Affine(torch.nn.Module):
        ...     def __init__(self, n, device=None):
        ...         super().__init__()
        ...         self.w = torch.nn.Parameter(torch.ones(n, device=device))
        >>> tuple(torch.nn.utils.skip_init(Affine, 3).w.shape)
        (3,)
    """
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    return module_cls(*args, **kwargs).to_empty(device=final_device)
