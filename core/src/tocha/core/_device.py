"""Devices ('cpu', 'cuda:0') and the array module behind each (NumPy or CuPy)."""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["device", "get_array_module", "cupy_or_none", "cuda_available"]


@functools.lru_cache(maxsize=1)
def cupy_or_none():
    """CuPy when it imports and sees at least one GPU, else None (checked once)."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:  # no cupy, no driver, no device: all mean "CPU only"
        return None
    return None


def cuda_available() -> bool:
    return cupy_or_none() is not None


class device:
    """Where a tensor's memory lives: ``device('cpu')``, ``device('cuda', 0)``, ``'cuda:1'``.

    Example:
        >>> import tocha.core as torch
        >>> torch.device('cuda:1')
        device(type='cuda', index=1)
    """

    __slots__ = ("type", "index")

    def __new__(cls, type, index: int | None = None):
        if isinstance(type, device):
            return type
        if isinstance(type, int) and index is None:
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a string or int, got {type!r}")
        if ":" in type:
            if index is not None:
                raise ValueError(f"device(): type {type!r} already has an index; got index={index}")
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type}"
            )
        key = (type, index)
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        self = object.__new__(cls)
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "index", index)
        _CACHE[key] = self
        return self

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


_CACHE: dict = {}
CPU = device("cpu")


def to_device(obj) -> device:
    """Normalise a device-like argument (device, str, int); 'cuda' means the current GPU."""
    if obj.__class__ is device:
        return obj
    if obj is None:
        return CPU
    return device(obj)


def array_module(dev: device):
    """NumPy for the CPU, CuPy for CUDA (a clear error when CUDA isn't there)."""
    if dev.type == "cpu":
        return np
    cp = cupy_or_none()
    if cp is None:
        raise RuntimeError(
            f"Device {dev} requested but CUDA is not available: install cupy "
            "(`pip install tocha-core[cuda12]`) on a machine with an NVIDIA or AMD GPU"
        )
    return cp


def device_of_array(arr) -> device:
    """The tocha device of a raw ndarray."""
    if arr.__class__ is np.ndarray:
        return CPU
    # a CuPy array's device has an id; NumPy's (subclasses included) is the string 'cpu'
    dev = getattr(arr, "device", None)
    if dev is not None and hasattr(dev, "id"):
        return device("cuda", dev.id)
    return CPU


def get_array_module(*arrays):
    """The array module (numpy or cupy) of the given raw arrays: Chainer's ``xp`` rule."""
    for a in arrays:
        if a.__class__ is not np.ndarray and hasattr(getattr(a, "device", None), "id"):
            return cupy_or_none()
    return np
