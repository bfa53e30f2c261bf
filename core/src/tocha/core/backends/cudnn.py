"""``torch.backends.cudnn``: tocha's GPU convolutions are its own CUDA kernels and CuPy's, not
cuDNN's, so ``is_available()`` is False. The flags user code sets (``benchmark``,
``deterministic``, ``enabled``, ``allow_tf32``) are accepted and kept with torch's defaults;
for deterministic GPU results use ``torch.use_deterministic_algorithms(True)``, which tocha's
kernels honour (docs/deviations.md)."""

from __future__ import annotations

__all__ = ["is_available", "version", "enabled", "benchmark", "deterministic", "allow_tf32"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: tocha does not call cuDNN."""
    return False


def version() -> None:
    """None, as torch returns when cuDNN is not available."""
    return None
