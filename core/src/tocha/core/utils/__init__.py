"""tocha.core.utils: helpers around the core (torch.utils); ``data`` holds datasets and loaders."""

from . import data

__all__ = ["data"]
