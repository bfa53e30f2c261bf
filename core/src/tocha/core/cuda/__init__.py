"""tocha.core.cuda: the CUDA runtime API of torch.cuda, on CuPy.

Without CuPy or a GPU, ``is_available()`` is False, ``device_count()`` 0, seeding and the
memory figures are harmless no-ops (0), and everything else raises the error torch raises
there (an AssertionError, a RuntimeError for Stream, Event and ``device``), naming the
function and how to get CUDA: ``pip install tocha-core[cuda12]``.

Example:
    >>> import tocha.core as torch
    >>> dev = "cuda" if torch.cuda.is_available() else "cpu"
    >>> torch.ones(2, device=dev).sum().item()
    2.0
"""

from __future__ import annotations

from .._device import cupy_or_none
from . import amp, memory, random, streams  # noqa: F401  (torch.cuda.amp, .memory, ...)
from ._lazy import cupy_or_raise, device_index
from .memory import *  # noqa: F403  (torch.cuda re-exports its submodules' functions)
from .random import *  # noqa: F403
from .streams import *  # noqa: F403

__all__ = [
    "is_available",
    "is_initialized",
    "init",
    "device_count",
    "current_device",
    "set_device",
    "device",
    "device_of",
    "synchronize",
    "get_device_name",
    "get_device_capability",
    "get_device_properties",
    "is_bf16_supported",
    *streams.__all__,
    *memory.__all__,
    *random.__all__,
]


def is_available() -> bool:
    """Whether CuPy imports and sees at least one GPU.

    Example:
        >>> import tocha.core as torch
        >>> isinstance(torch.cuda.is_available(), bool)
        True
    """
    return cupy_or_none() is not None


def is_initialized() -> bool:
    return cupy_or_none() is not None


def init() -> None:
    """Initialise CUDA now (tocha does it on first use anyway)."""
    cupy_or_raise("init")


def device_count() -> int:
    """How many GPUs CuPy sees (0 without CUDA)."""
    cp = cupy_or_none()
    return 0 if cp is None else int(cp.cuda.runtime.getDeviceCount())


def current_device() -> int:
    """The index of the current GPU (where ``'cuda'`` without an index goes)."""
    cp = cupy_or_raise("current_device")
    return int(cp.cuda.runtime.getDevice())


def set_device(device) -> None:
    """Make ``device`` (an int, ``'cuda:1'`` or a device) current for this thread; a negative
    index does nothing, as in torch."""
    if isinstance(device, int) and device < 0:
        return
    cp = cupy_or_raise("set_device")
    cp.cuda.Device(device_index(device, "set_device")).use()


class device:
    """Context manager that makes a GPU current inside: ``with torch.cuda.device(1): ...``.
    ``None`` or a negative index makes it a no-op."""

    def __init__(self, device):
        self.idx = -1 if device is None else device
        self._prev = None

    def __enter__(self):
        if isinstance(self.idx, int) and self.idx < 0:
            return self
        cp = cupy_or_raise("device", RuntimeError)
        self.idx = device_index(self.idx, "device")
        self._prev = int(cp.cuda.runtime.getDevice())
        if self._prev != self.idx:
            cp.cuda.runtime.setDevice(self.idx)
        return self

    def __exit__(self, *exc):
        if self._prev is not None and self._prev != self.idx:
            cupy_or_none().cuda.runtime.setDevice(self._prev)
        self._prev = None
        return False


class device_of(device):
    """``device`` of a tensor's GPU (a no-op for a CPU tensor)."""

    def __init__(self, obj):
        dev = obj.device
        super().__init__(dev.index if dev.type == "cuda" else -1)


def synchronize(device=None) -> None:
    """Wait for all work queued on the device (default: the current one) to finish."""
    cp = cupy_or_raise("synchronize")
    cp.cuda.Device(device_index(device, "synchronize")).synchronize()


def get_device_properties(device=None):
    """The device's properties (``name``, ``total_memory``, ``major``, ``minor``,
    ``multi_processor_count``), from the CUDA runtime."""
    cp = cupy_or_raise("get_device_properties")
    idx = device_index(device, "get_device_properties")
    return _DeviceProperties(cp.cuda.runtime.getDeviceProperties(idx))


def get_device_name(device=None) -> str:
    cupy_or_raise("get_device_name")
    return get_device_properties(device).name


def get_device_capability(device=None) -> tuple:
    """``(major, minor)`` compute capability."""
    cupy_or_raise("get_device_capability")
    p = get_device_properties(device)
    return (p.major, p.minor)


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether the current GPU computes in bfloat16 (compute capability 8.0 and newer; with
    ``including_emulation``, any GPU, as torch); False without CUDA."""
    if cupy_or_none() is None:
        return False
    if including_emulation:
        return True
    return get_device_capability()[0] >= 8


class _DeviceProperties:
    """torch's ``_CudaDeviceProperties`` fields, read from cudaGetDeviceProperties."""

    def __init__(self, props: dict):
        name = props.get("name", b"")
        self.name = name.decode() if isinstance(name, bytes) else str(name)
        self.major = int(props.get("major", 0))
        self.minor = int(props.get("minor", 0))
        self.total_memory = int(props.get("totalGlobalMem", 0))
        self.multi_processor_count = int(props.get("multiProcessorCount", 0))
        self.is_integrated = bool(props.get("integrated", 0))
        self.is_multi_gpu_board = bool(props.get("isMultiGpuBoard", 0))
        self.L2_cache_size = int(props.get("l2CacheSize", 0))
        self.warp_size = int(props.get("warpSize", 32))
        self._raw = props

    def __repr__(self) -> str:
        return (
            f"_CudaDeviceProperties(name='{self.name}', major={self.major}, "
            f"minor={self.minor}, total_memory={self.total_memory // (1024 * 1024)}MB, "
            f"multi_processor_count={self.multi_processor_count})"
        )
