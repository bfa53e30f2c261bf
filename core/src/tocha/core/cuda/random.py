"""Seeding the CUDA generators (torch.cuda.random). Without CUDA, seeding is silently
ignored, as in torch; reading a state needs a GPU."""

from __future__ import annotations

from .._device import cupy_or_none
from .._ops import random as _R
from ._lazy import device_index

__all__ = [
    "manual_seed",
    "manual_seed_all",
    "seed",
    "seed_all",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "get_rng_state_all",
    "set_rng_state_all",
]


def manual_seed(seed: int) -> None:
    """Seed the current GPU's default generator (a no-op without CUDA)."""
    if cupy_or_none() is None:
        return
    _R.cuda_default_generator(device_index(None, "manual_seed")).manual_seed(int(seed))


def manual_seed_all(seed: int) -> None:
    """Seed every GPU's default generator, including ones not used yet."""
    _R.cuda_manual_seed_all(int(seed))


def seed() -> None:
    """Seed the current GPU's generator from OS entropy (a no-op without CUDA)."""
    if cupy_or_none() is None:
        return
    _R.cuda_default_generator(device_index(None, "seed")).seed()


def seed_all() -> None:
    if cupy_or_none() is None:
        return
    import os

    manual_seed_all(int.from_bytes(os.urandom(8), "little") & ((1 << 63) - 1))


def initial_seed() -> int:
    return _R.cuda_default_generator(device_index(None, "initial_seed")).initial_seed()


def get_rng_state(device="cuda"):
    """The state of ``device``'s default generator, a uint8 tensor."""
    return _R.cuda_default_generator(device_index(device, "get_rng_state")).get_state()


def set_rng_state(new_state, device="cuda") -> None:
    _R.cuda_default_generator(device_index(device, "set_rng_state")).set_state(new_state)


def get_rng_state_all() -> list:
    from . import device_count

    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states) -> None:
    for i, st in enumerate(new_states):
        set_rng_state(st, i)
