"""``torch.backends.mps``: Apple's Metal backend, which tocha does not have."""

from __future__ import annotations

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    """False: tocha runs on NumPy (CPU) and CuPy (CUDA/ROCm GPUs)."""
    return False


def is_built() -> bool:
    """False: tocha has no MPS backend."""
    return False
