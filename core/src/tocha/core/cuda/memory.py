"""CUDA memory statistics on CuPy's memory pool (torch.cuda.memory).

CuPy's pool knows the bytes in use (``used_bytes``) and the bytes it holds (``total_bytes``)
but keeps no peaks. tocha keeps them with a thin allocator in front of the pool: it is
installed with ``cupy.cuda.set_allocator`` the first time tocha.core.cuda reaches CuPy
(any function here, ``tensor.to('cuda')``), calls the pool's own ``malloc`` and after each
allocation records, per device, the largest ``used_bytes`` and ``total_bytes`` seen. A peak
is always reached right after an allocation, so nothing is missed from then on; memory taken
before tocha first touched CUDA counts in the current figures but not in an earlier peak. If
another allocator was set already (by the user or a library), it is left in place and the
peaks are the current values at each query.

Without CUDA every figure is 0 and ``empty_cache``/``reset_peak_memory_stats`` do nothing,
as in torch.
"""

from __future__ import annotations

import threading

from .._device import cupy_or_none

__all__ = [
    "memory_allocated",
    "max_memory_allocated",
    "memory_reserved",
    "max_memory_reserved",
    "empty_cache",
    "reset_peak_memory_stats",
    "reset_max_memory_allocated",
    "memory_stats",
    "mem_get_info",
]

_lock = threading.Lock()
_installed = False
_tracking = False
_peak_alloc: dict = {}
_peak_reserved: dict = {}


def _install_tracking_allocator(cp) -> None:
    global _installed, _tracking
    if _installed:
        return
    with _lock:
        if _installed:
            return
        pool = cp.get_default_memory_pool()
        current = cp.cuda.get_allocator() if hasattr(cp.cuda, "get_allocator") else None
        # replace only CuPy's default (the pool's malloc); a user's allocator stays
        if current is None or getattr(current, "__self__", None) is pool:
            malloc = pool.malloc
            runtime = cp.cuda.runtime

            def tracking_malloc(size):
                mem = malloc(size)
                dev = runtime.getDevice()
                used = pool.used_bytes()
                if used > _peak_alloc.get(dev, 0):
                    _peak_alloc[dev] = used
                held = pool.total_bytes()
                if held > _peak_reserved.get(dev, 0):
                    _peak_reserved[dev] = held
                return mem

            cp.cuda.set_allocator(tracking_malloc)
            _tracking = True
        _installed = True


def _pool_figures(device):
    """(cupy, device index, used bytes, held bytes) or None without CUDA."""
    cp = cupy_or_none()
    if cp is None:
        return None
    from ._lazy import device_index

    idx = device_index(device, "memory")
    with cp.cuda.Device(idx):
        pool = cp.get_default_memory_pool()
        return cp, idx, int(pool.used_bytes()), int(pool.total_bytes())


def memory_allocated(device=None) -> int:
    """Bytes held by live tensors on ``device`` (CuPy's pool ``used_bytes``)."""
    f = _pool_figures(device)
    return 0 if f is None else f[2]


def max_memory_allocated(device=None) -> int:
    """The peak of ``memory_allocated`` since tracking began or the last reset."""
    f = _pool_figures(device)
    if f is None:
        return 0
    return max(_peak_alloc.get(f[1], 0), f[2])


def memory_reserved(device=None) -> int:
    """Bytes the pool holds on ``device``, in use or cached for reuse (``total_bytes``)."""
    f = _pool_figures(device)
    return 0 if f is None else f[3]


def max_memory_reserved(device=None) -> int:
    f = _pool_figures(device)
    if f is None:
        return 0
    return max(_peak_reserved.get(f[1], 0), f[3])


def reset_peak_memory_stats(device=None) -> None:
    """Start the peaks again from the current figures."""
    f = _pool_figures(device)
    if f is not None:
        _peak_alloc[f[1]] = f[2]
        _peak_reserved[f[1]] = f[3]


def reset_max_memory_allocated(device=None) -> None:
    reset_peak_memory_stats(device)


def empty_cache() -> None:
    """Give the pool's cached, unused blocks (device and pinned host) back to the driver."""
    cp = cupy_or_none()
    if cp is None:
        return
    cp.get_default_memory_pool().free_all_blocks()
    cp.get_default_pinned_memory_pool().free_all_blocks()


def memory_stats(device=None) -> dict:
    """The torch keys tocha can fill: current and peak bytes allocated and reserved."""
    f = _pool_figures(device)
    if f is None:
        return {}
    return {
        "allocated_bytes.all.current": f[2],
        "allocated_bytes.all.peak": max(_peak_alloc.get(f[1], 0), f[2]),
        "reserved_bytes.all.current": f[3],
        "reserved_bytes.all.peak": max(_peak_reserved.get(f[1], 0), f[3]),
    }


def mem_get_info(device=None) -> tuple:
    """(free, total) bytes of the device, from the driver."""
    from ._lazy import cupy_or_raise, device_index

    cp = cupy_or_raise("mem_get_info")
    with cp.cuda.Device(device_index(device, "mem_get_info")):
        free, total = cp.cuda.runtime.memGetInfo()
    return int(free), int(total)
