"""Seeding and generator state (torch.random).

Example:
    >>> import tocha.core as torch
    >>> state = torch.random.get_rng_state()
    >>> a = torch.rand(2)
    >>> torch.random.set_rng_state(state)
    >>> bool((torch.rand(2) == a).all())
    True
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Generator as _PyGenerator
from collections.abc import Iterable

from ._device import cupy_or_none
from ._ops.random import (
    Generator,
    cuda_default_generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)

__all__ = [
    "Generator",
    "default_generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "fork_rng",
]

_fork_rng_warned_already = False


def _device_count() -> int:
    cp = cupy_or_none()
    return 0 if cp is None else int(cp.cuda.runtime.getDeviceCount())


@contextlib.contextmanager
def fork_rng(
    devices: Iterable[int] | None = None,
    enabled: bool = True,
    _caller: str = "fork_rng",
    _devices_kw: str = "devices",
    device_type: str | None = "cuda",
) -> _PyGenerator:
    """Fork the RNG: inside the block draw freely; on exit the previous states return.

    The CPU default generator is always forked; so are the default generators of the CUDA
    devices in ``devices`` (all visible ones when None, with a warning if there are several,
    like torch).

    Args:
        devices: CUDA device indices whose generators to fork.
        enabled: when False the block runs without forking.
        device_type: the accelerator type; only ``"cuda"`` (or None) is known.

    Example:
        >>> import tocha.core as torch
        >>> _ = torch.manual_seed(0)
        >>> with torch.random.fork_rng():
        ...     _ = torch.rand(3)
        >>> a = torch.rand(2)
        >>> _ = torch.manual_seed(0)
        >>> bool((torch.rand(2) == a).all())
        True
    """
    global _fork_rng_warned_already
    if device_type not in (None, "cuda"):
        raise RuntimeError(f"{_caller}: device_type {device_type!r} is not supported")
    if not enabled:
        yield
        return
    if devices is None:
        n = _device_count()
        if n > 1 and not _fork_rng_warned_already:
            warnings.warn(
                f"CUDA reports that you have {n} available devices, and you have used "
                f"{_caller} without explicitly specifying which devices are being used. "
                f"For safety, we initialize *every* CUDA device by default, which can be quite "
                f"slow if you have a lot of CUDAs. If you know that you are only making use of "
                f"a few CUDA devices, set the environment variable CUDA_VISIBLE_DEVICES or the "
                f"'{_devices_kw}' keyword argument of {_caller} with the set of devices you "
                f"are actually using.",
                stacklevel=3,
            )
            _fork_rng_warned_already = True
        devices = list(range(n))
    else:
        devices = list(devices)
    cpu_state = get_rng_state()
    dev_states = [(d, cuda_default_generator(d).get_state()) for d in devices]
    try:
        yield
    finally:
        set_rng_state(cpu_state)
        for d, st in dev_states:
            cuda_default_generator(d).set_state(st)
