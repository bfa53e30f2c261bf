"""torch's namespace-level settings and small queries: the default device, float32 matmul
precision, anomaly mode, inter-op threads, ``result_type``, ``is_signed``, ``detach``,
``is_inference``; and the Tensor methods ``register_post_accumulate_grad_hook``,
``share_memory_`` and ``is_shared``.

Settings that steer kernels torch has and tocha has not (TF32 matmuls, an inter-op thread
pool) are accepted and stored so code that sets them runs unchanged; the CPU path computes
float32 matmuls at full precision whatever they say (docs/deviations.md).
"""

from __future__ import annotations

import mmap
import numbers

import numpy as np

from .. import _dtype
from .._device import CPU, device, to_device
from .._tensor import Tensor
from ..autograd.grad_mode import MODE
from ._util import result_dtype
from .creation import _DEFAULT_DEVICE

_MATMUL_PRECISION = ["highest"]
_INTEROP_THREADS = [None]


def get_default_device() -> device:
    """The device factory functions use when given none (the CPU unless set)."""
    return _DEFAULT_DEVICE[0] or CPU


def set_default_device(device) -> None:
    """Make factory functions (``zeros``, ``tensor``, ``rand`` ...) allocate on ``device``
    when they are given none; ``None`` or 'cpu' restores the CPU.

    Example:
        >>> import tocha.core as torch
        >>> torch.set_default_device("cpu")
        >>> torch.get_default_device()
        device(type='cpu')
    """
    if device is None:
        _DEFAULT_DEVICE[0] = None
        return
    dev = to_device(device)
    _DEFAULT_DEVICE[0] = None if dev.type == "cpu" else dev


def set_float32_matmul_precision(precision: str) -> None:
    """Accept torch's 'highest', 'high' or 'medium' and remember it.

    tocha's CPU matmuls always run in full float32 precision (there is no TF32 or bfloat16
    shortcut on NumPy), so the setting changes no result; ``get_float32_matmul_precision``
    reports it back.
    """
    import warnings

    if precision not in ("highest", "high", "medium"):
        warnings.warn(
            f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
            "setFloat32MatmulPrecision call has no effect.",
            UserWarning,
            stacklevel=2,
        )
        return
    _MATMUL_PRECISION[0] = precision


def get_float32_matmul_precision() -> str:
    """The value last given to ``set_float32_matmul_precision`` ('highest' by default)."""
    return _MATMUL_PRECISION[0]


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on (``torch.autograd.set_detect_anomaly``)."""
    return MODE.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    return MODE.anomaly


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Turn anomaly detection on or off (NaN checks in backward, forward tracebacks)."""
    MODE.anomaly = bool(enabled) and bool(check_nan)


def get_num_interop_threads() -> int:
    """The inter-op thread count last set (default: tocha's intra-op thread count).

    tocha runs independent ops one after the other (no inter-op pool), so the number is only
    stored and reported.
    """
    if _INTEROP_THREADS[0] is not None:
        return _INTEROP_THREADS[0]
    from .._parallel import get_num_threads

    return get_num_threads()


def set_num_interop_threads(num: int) -> None:
    """Store the inter-op thread count (accepted for compatibility; see
    ``get_num_interop_threads``)."""
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num <= 0:
        raise RuntimeError(f"Number of inter-op threads must be positive, got {num}")
    _INTEROP_THREADS[0] = int(num)


def result_type(tensor, other) -> _dtype.dtype:
    """The dtype torch's promotion gives an arithmetic op on ``tensor`` and ``other`` (each a
    Tensor or a Python number).

    Example:
        >>> import tocha.core as torch
        >>> torch.result_type(torch.tensor([1, 2]), 1.0)
        torch.float32
    """
    tensors, scalars = [], []
    for x in (tensor, other):
        if isinstance(x, Tensor):
            tensors.append(x)
        elif isinstance(x, (numbers.Number, np.generic)):
            scalars.append(x)
        else:
            raise TypeError(
                f"result_type(): argument must be Tensor or Number, not {type(x).__name__}"
            )
    return result_dtype(tensors, scalars)


def is_signed(input: Tensor) -> bool:
    """Whether the tensor's dtype is signed (floats and signed integers)."""
    return input.is_signed()


def detach(input: Tensor) -> Tensor:
    """``input.detach()``: the same memory, cut off from the graph."""
    return input.detach()


def is_inference(input: Tensor) -> bool:
    """``input.is_inference()``."""
    return input.is_inference()


# --- Tensor methods -------------------------------------------------------------------------
def register_post_accumulate_grad_hook(self: Tensor, hook):
    """Run ``hook(tensor)`` after backward has accumulated into this leaf's ``.grad``.

    Returns a handle with ``remove()``. Only leaves that require grad accept one (the hook
    may update the tensor in place, e.g. an optimizer step fused into backward).
    """
    if not self._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    from ..autograd.function import _RemovableHandle

    hooks = self._extras().setdefault("post_acc_hooks", [])
    hooks.append(hook)
    return _RemovableHandle(hooks, hook)


def _shared_owner(arr) -> bool:
    """Whether ``arr``'s memory is a shared mapping (share_memory_ or a DataLoader segment)."""
    a = arr
    while a is not None:
        if isinstance(a, mmap.mmap) or getattr(a, "_mapping", None) is not None:
            return True
        a = getattr(a, "base", None) if not isinstance(a, memoryview) else a.obj
    return False


def is_shared(self: Tensor) -> bool:
    """Whether this CPU tensor's memory is shared between processes (CUDA: True, as torch)."""
    if self._data.__class__ is not np.ndarray:
        return True
    return _shared_owner(self._data)


def share_memory_(self: Tensor) -> Tensor:
    """Move this tensor's data into memory shared with child processes (a no-op when it is
    already shared or on a GPU); returns the tensor.

    The data moves into an anonymous shared mapping that processes forked afterwards (e.g.
    ``multiprocessing`` workers on Linux) see and write. Only this tensor moves: other views
    of its old memory keep the old, private copy.
    """
    a = self._data
    if a.__class__ is not np.ndarray or _shared_owner(a):
        return self
    buf = mmap.mmap(-1, max(a.nbytes, 1), flags=mmap.MAP_SHARED)
    shared = np.frombuffer(buf, dtype=a.dtype, count=a.size).reshape(a.shape)
    shared[...] = a
    self._data = shared
    return self


FUNCTIONS = [
    "get_default_device",
    "set_default_device",
    "set_float32_matmul_precision",
    "get_float32_matmul_precision",
    "is_anomaly_enabled",
    "is_anomaly_check_nan_enabled",
    "set_anomaly_enabled",
    "get_num_interop_threads",
    "set_num_interop_threads",
    "result_type",
    "is_signed",
    "detach",
    "is_inference",
]
TENSOR_METHODS = {
    "register_post_accumulate_grad_hook": register_post_accumulate_grad_hook,
    "share_memory_": share_memory_,
    "is_shared": is_shared,
}
INPLACE: dict = {}
