"""The one place tocha.core.cuda reaches CuPy: ``cupy_or_raise`` names the calling function
when CUDA is not there, the way torch's lazy CUDA init does (an AssertionError)."""

from __future__ import annotations

from .._device import cupy_or_none

_INSTALL_HINT = (
    "install CuPy for your CUDA version with `pip install tocha-core[cuda12]` (or "
    "`tocha-core[cuda13]`) on a machine with an NVIDIA GPU"
)


def cupy_or_raise(fn: str, exc: type = AssertionError):
    """CuPy, or ``exc`` naming ``fn`` when CuPy is missing or sees no GPU (torch raises an
    AssertionError from most functions and a RuntimeError from Stream, Event and device)."""
    cp = cupy_or_none()
    if cp is None:
        raise exc(
            f"tocha.core.cuda.{fn}: CUDA is not available (CuPy is not installed or finds no "
            f"GPU); {_INSTALL_HINT}"
        )
    from . import memory

    memory._install_tracking_allocator(cp)
    return cp


def device_index(device, fn: str) -> int:
    """The CUDA device index of ``device`` (None: the current one; int, 'cuda:1', device)."""
    cp = cupy_or_raise(fn)
    if device is None:
        return int(cp.cuda.runtime.getDevice())
    if isinstance(device, int):
        idx = device
    else:
        from .._device import to_device

        d = to_device(device)
        if d.type != "cuda":
            raise ValueError(f"tocha.core.cuda.{fn}: expected a CUDA device, got '{d}'")
        idx = d.index if d.index is not None else int(cp.cuda.runtime.getDevice())
    n = int(cp.cuda.runtime.getDeviceCount())
    if not 0 <= idx < n:
        raise RuntimeError(
            f"tocha.core.cuda.{fn}: invalid device ordinal {idx} (this machine has {n} "
            f"CUDA device{'s' if n != 1 else ''})"
        )
    return idx
