"""tocha.core: tensors, autograd and neural networks on NumPy and CuPy (the torch of tocha).

Example:
    >>> import tocha.core as torch
    >>> x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x ** 2).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""

from __future__ import annotations

import builtins as _builtins
import importlib as _importlib

__version__ = "0.1.0"

from . import _allocator, _dtype  # _allocator: keep freed CPU buffers for reuse
from ._device import device
from ._dtype import (
    bfloat16,
    bool,
    cdouble,
    cfloat,
    complex64,
    complex128,
    double,
    dtype,
    finfo,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    iinfo,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    set_default_dtype,
    short,
    uint8,
)
from ._tensor import Size, Tensor
from .autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)

# Op families, bottom to top. Each exports FUNCTIONS, TENSOR_METHODS and INPLACE.
_FAMILIES = [
    "creation",
    "conversion",
    "arith",
    "pointwise",
    "reduce",
    "shape",
    "index",
    "linalg",
    "random",
    "activation",
    "norm",
    "loss",
    "layers",
    "conv",
    "pool",
    "spectral",
    "numeric",
    "misc",
]
_modules = []
for _name in _FAMILIES:
    try:
        _mod = _importlib.import_module(f"._ops.{_name}", __name__)
    except ModuleNotFoundError as _e:  # a family not written yet
        if _e.name != f"{__name__}._ops.{_name}":
            raise
        continue
    _modules.append(_mod)
    for _fn in _mod.FUNCTIONS:
        globals()[_fn] = getattr(_mod, _fn)

from . import _tensor_methods  # noqa: E402

_tensor_methods.bind(_modules)

from . import autograd, hub, return_types, safetensors, serialization, testing  # noqa: E402
from .serialization import load, save  # noqa: E402

# torch.nn, torch.optim, torch.utils: imported eagerly, as `import torch` does
for _name in ("nn", "optim", "utils"):
    try:
        globals()[_name] = _importlib.import_module(f".{_name}", __name__)
    except ModuleNotFoundError as _e:
        if _e.name != f"{__name__}.{_name}":
            raise

# Public submodules written by their families (torch.linalg, torch.random, torch.fft).
for _name in ("linalg", "random", "fft"):
    try:
        globals()[_name] = _importlib.import_module(f".{_name}", __name__)
    except ModuleNotFoundError as _e:
        if _e.name != f"{__name__}.{_name}":
            raise
# torch.cuda and torch.amp (both import without CuPy: see their docstrings); torch.distributed
# (it imports mpi4py only in init_process_group, so `import tocha.core` stays cheap)
from . import amp, cuda, distributed  # noqa: E402
from ._dtype import can_cast  # noqa: E402
from ._parallel import get_num_threads, set_num_threads  # noqa: E402
from .amp import autocast  # noqa: E402
from .amp.autocast_mode import (  # noqa: E402
    clear_autocast_cache,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cache_enabled,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    set_autocast_cache_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
)


def use_deterministic_algorithms(
    mode: _builtins.bool, *, warn_only: _builtins.bool = False
) -> None:
    """Ask ops for deterministic algorithms (process-wide, as torch).

    The flag is what tocha's GPU kernels consult: scatter/index_add, embedding-bag backward and
    segment reductions then use sorted-segment reductions instead of atomics. NumPy's CPU
    kernels are deterministic already.

    Example:
        >>> import tocha.core as torch
        >>> torch.use_deterministic_algorithms(True)
        >>> torch.are_deterministic_algorithms_enabled()
        True
        >>> torch.use_deterministic_algorithms(False)
    """
    from ._mode import DETERMINISTIC

    if not isinstance(mode, _builtins.bool):
        raise TypeError(
            "use_deterministic_algorithms(): argument 'mode' (position 1) must be bool, not "
            f"{type(mode).__name__}"
        )
    if not isinstance(warn_only, _builtins.bool):
        raise TypeError(
            "use_deterministic_algorithms(): argument 'warn_only' must be bool, not "
            f"{type(warn_only).__name__}"
        )
    DETERMINISTIC.enabled = mode
    DETERMINISTIC.warn_only = warn_only if mode else False


def are_deterministic_algorithms_enabled() -> _builtins.bool:
    """Whether ``use_deterministic_algorithms(True)`` is in effect."""
    from ._mode import DETERMINISTIC

    return DETERMINISTIC.enabled


def is_deterministic_algorithms_warn_only_enabled() -> _builtins.bool:
    """Whether ``use_deterministic_algorithms(True, warn_only=True)`` is in effect."""
    from ._mode import DETERMINISTIC

    return DETERMINISTIC.warn_only


def is_tensor(obj) -> bool:
    """Whether ``obj`` is a tocha Tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()


def is_complex(input: Tensor) -> bool:
    return input.is_complex()


def numel(input: Tensor) -> int:
    return input.numel()


def typename(obj) -> str:
    return obj.type() if isinstance(obj, Tensor) else type(obj).__name__


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
):
    """Adjust how tensors print (threshold, edgeitems and linewidth are honoured)."""
    from . import _tensor_str

    if threshold is not None:
        _tensor_str._THRESHOLD = threshold
    if edgeitems is not None:
        _tensor_str._EDGE = edgeitems
    if linewidth is not None:
        _tensor_str._LINEWIDTH = linewidth


del _name, _mod, _fn

# Deployment submodules (torch.onnx, torch.ao, torch.jit), torch.backends and the quantized
# dtype tags: imported on first use, so that `import tocha.core` does not pay for them.
_LAZY_SUBMODULES = ("onnx", "ao", "jit", "backends")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        mod = _importlib.import_module(f".{name}", __name__)
        globals()[name] = mod
        return mod
    if name in ("qint8", "quint8"):  # quantized dtype tags, defined with the quantization code
        return getattr(_importlib.import_module(".ao.quantization", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
