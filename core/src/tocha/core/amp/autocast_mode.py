"""``autocast``: run torch's listed ops in lower precision (matmul, conv, linear, ...) or in
float32 (losses, reductions, ...) inside a region, with gradients flowing back in each input's
own dtype.

How it dispatches. torch puts autocast in its dispatcher, ahead of every op's own checks; the
tocha equivalent is a table of the public functions on torch's lists (`_lists.py`). The first
time autocast is entered, each listed function is replaced, in every loaded ``tocha.*`` module
that holds it and on Tensor, by a wrapper that reads one thread-local attribute
(``MODE.autocast``) and, when it is None, calls the original. A process that never enters
autocast runs the original functions untouched. The cast has to happen before the function
runs (not inside ``Node.apply``): ``linear``/``matmul``/``conv`` check that their operands share
a dtype before they build a node, and composite functions such as ``cross_entropy`` must see
float32 inputs from their first op, as torch's ``cross_entropy_loss`` does.

Inside a listed op autocast is off (torch runs the op below its autocast key), so the ops it is
built from run in the dtype it was given. Casts are ordinary differentiable ``.to(dtype)``
conversions: a float32 weight used by a bfloat16 matmul gets a float32 gradient.
"""

from __future__ import annotations

import functools
import sys
import threading
import warnings

import numpy as np

from .. import _dtype
from .._mode import MODE
from .._tensor import Tensor
from . import _lists

__all__ = [
    "autocast",
    "is_autocast_available",
    "is_autocast_enabled",
    "get_autocast_dtype",
    "set_autocast_enabled",
    "set_autocast_dtype",
    "is_autocast_cache_enabled",
    "set_autocast_cache_enabled",
    "clear_autocast_cache",
    "custom_fwd",
    "custom_bwd",
]

_ndarray = np.ndarray
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_DEVICE_TYPES = ("cpu", "cuda")
_DEFAULT_DTYPES = {"cpu": _dtype.bfloat16, "cuda": _dtype.float16}
_SUPPORTED = {
    "cpu": (_dtype.bfloat16, _dtype.float16),
    "cuda": (_dtype.float16, _dtype.bfloat16),
}


class _Info:
    """Per-thread autocast bookkeeping (torch keeps the same state thread-local)."""

    def __init__(self):
        self.enabled = {"cpu": False, "cuda": False}
        self.dtypes = dict(_DEFAULT_DTYPES)
        self.cache_enabled = True
        self.nesting = 0
        self.cache: dict = {}


def _info() -> _Info:
    info = MODE.autocast_info
    if info is None:
        info = MODE.autocast_info = _Info()
    return info


def _publish(info: _Info) -> None:
    """Recompute ``MODE.autocast``, the mapping the op wrappers read."""
    on = {d: info.dtypes[d].np for d in _DEVICE_TYPES if info.enabled[d]}
    MODE.autocast = on or None
    if on:
        _install()


def _check_device_type(device_type) -> str:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(
            "autocast: expected device_type 'cpu' or 'cuda' (the device types tocha has), "
            f"got '{device_type}'"
        )
    return device_type


# --- the public state functions (torch names) ----------------------------------------------------
def is_autocast_available(device_type: str) -> bool:
    """Whether autocast supports ``device_type`` ('cpu' and 'cuda')."""
    return device_type in _DEVICE_TYPES


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type``; with no argument, for CUDA (as torch).

    Example:
        >>> import tocha.core as torch
        >>> with torch.autocast("cpu"):
        ...     torch.is_autocast_enabled("cpu"), torch.is_autocast_enabled()
        (True, False)
    """
    return _info().enabled[_check_device_type(device_type or "cuda")]


def set_autocast_enabled(device_type, enabled=None) -> None:
    """Turn autocast on or off for a device type in this thread (``autocast`` is the usual
    way); ``set_autocast_enabled(flag)`` alone means CUDA, as torch's legacy form."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    info = _info()
    info.enabled[_check_device_type(device_type)] = bool(enabled)
    _publish(info)


def get_autocast_dtype(device_type: str) -> _dtype.dtype:
    """The lower-precision dtype autocast uses for ``device_type`` (bfloat16 on the CPU and
    float16 on CUDA unless an ``autocast(dtype=...)`` region says otherwise)."""
    return _info().dtypes[_check_device_type(device_type)]


def set_autocast_dtype(device_type: str, dtype) -> None:
    info = _info()
    info.dtypes[_check_device_type(device_type)] = _dtype.to_dtype(dtype)
    _publish(info)


def is_autocast_cpu_enabled() -> bool:
    """Deprecated torch spelling of ``is_autocast_enabled('cpu')``."""
    return is_autocast_enabled("cpu")


def get_autocast_cpu_dtype() -> _dtype.dtype:
    return get_autocast_dtype("cpu")


def get_autocast_gpu_dtype() -> _dtype.dtype:
    return get_autocast_dtype("cuda")


def is_autocast_cache_enabled() -> bool:
    return _info().cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    _info().cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    """Drop the casts of weights kept for reuse inside the current autocast region."""
    _info().cache.clear()


# --- the context manager -------------------------------------------------------------------------
class autocast:
    """Run the ops of torch's autocast lists in lower precision (or float32) inside a region.

    Args:
        device_type: ``'cuda'`` or ``'cpu'``: the device whose tensors are cast.
        dtype: the lower-precision dtype (float16 or bfloat16); default float16 on CUDA and
            bfloat16 on the CPU.
        enabled: False makes the region a no-op (or, nested, turns autocast off inside).
        cache_enabled: reuse the cast of a weight (a leaf that requires grad) within the region.

    Works as a context manager and as a decorator. Without CUDA, ``autocast('cuda')`` warns and
    does nothing, as torch does.

    Example:
        >>> import tocha.core as torch
        >>> a, b = torch.ones(2, 3), torch.ones(3, 4)
        >>> with torch.autocast("cpu", dtype=torch.bfloat16):
        ...     (a @ b).dtype
        torch.bfloat16
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled=None):
        self.device = _check_device_type(device_type)
        self.fast_dtype = _dtype.to_dtype(dtype) if dtype is not None else None
        if self.fast_dtype is None:
            self.fast_dtype = get_autocast_dtype(self.device)
        self._cache_enabled = (
            is_autocast_cache_enabled() if cache_enabled is None else bool(cache_enabled)
        )
        enabled = bool(enabled)
        if enabled and self.fast_dtype not in _SUPPORTED[self.device]:
            names = ", ".join(f"torch.{d.name}" for d in _SUPPORTED[self.device])
            kind = "CPU" if self.device == "cpu" else "CUDA"
            warnings.warn(
                f"In {kind} autocast, but the target dtype is not supported. Disabling "
                f"autocast.\n{kind} Autocast only supports dtypes of {names} currently.",
                stacklevel=2,
            )
            enabled = False
        if enabled and self.device == "cuda":
            from .. import cuda

            if not cuda.is_available():
                warnings.warn(
                    "CUDA is not available (no GPU, or CuPy is not installed: "
                    "`pip install tocha-core[cuda12]`). Disabling autocast.",
                    stacklevel=2,
                )
                enabled = False
            elif self.fast_dtype is _dtype.bfloat16 and not cuda.is_bf16_supported():
                raise RuntimeError(
                    "Current CUDA Device does not support bfloat16. Please switch dtype to float16."
                )
        self._enabled = enabled
        self._saved: list = []

    def __enter__(self):
        info = _info()
        d = self.device
        self._saved.append((info.enabled[d], info.dtypes[d], info.cache_enabled))
        info.enabled[d] = self._enabled
        info.dtypes[d] = self.fast_dtype
        info.cache_enabled = self._cache_enabled
        info.nesting += 1
        _publish(info)
        return self

    def __exit__(self, *exc):
        info = _info()
        info.nesting -= 1
        if info.nesting == 0:
            info.cache.clear()  # torch drops the weight casts when the outermost region ends
        d = self.device
        info.enabled[d], info.dtypes[d], info.cache_enabled = self._saved.pop()
        _publish(info)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return decorate_autocast


# --- custom Functions (torch.amp.custom_fwd / custom_bwd) ----------------------------------------
def custom_fwd(fwd=None, *, device_type: str = "cuda", cast_inputs=None):
    """Decorator for a custom Function's ``forward``: with ``cast_inputs`` set, inside an
    autocast region its floating inputs are cast to that dtype and it runs with autocast off;
    its ``backward`` (under ``custom_bwd``) then runs with the same autocast state."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    _check_device_type(device_type)

    @functools.wraps(fwd)
    def decorate_fwd(ctx, *args, **kwargs):
        ctx._fwd_used_autocast = is_autocast_enabled(device_type)
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None or not ctx._fwd_used_autocast:
            return fwd(ctx, *args, **kwargs)
        np_dt = _dtype.to_dtype(cast_inputs).np
        args = [_cast_tree(a, np_dt, device_type) for a in args]
        kwargs = {k: _cast_tree(v, np_dt, device_type) for k, v in kwargs.items()}
        with autocast(device_type, enabled=False):
            return fwd(ctx, *args, **kwargs)

    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str = "cuda"):
    """Decorator for a custom Function's ``backward``: runs it with the autocast state its
    forward (under ``custom_fwd``) saw."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    _check_device_type(device_type)

    @functools.wraps(bwd)
    def decorate_bwd(ctx, *args, **kwargs):
        with autocast(device_type, enabled=ctx._fwd_used_autocast, dtype=ctx._dtype):
            return bwd(ctx, *args, **kwargs)

    return decorate_bwd


def _cast_tree(v, np_dt, device_type):
    if isinstance(v, Tensor):
        a = v._data
        dev = "cpu" if a.__class__ is _ndarray else "cuda"
        if dev == device_type and a.dtype.kind in "fV" and a.dtype != _F64 and a.dtype != np_dt:
            return v.to(_dtype.from_numpy_dtype(np_dt))
        return v
    if isinstance(v, (list, tuple)):
        return type(v)(_cast_tree(x, np_dt, device_type) for x in v)
    return v


# --- dispatch --------------------------------------------------------------------------------------
_LOWER, _FP32, _PROMOTE, _BANNED = "lower", "fp32", "promote", "banned"


def _pad_policy(args, kwargs):
    """CPU: torch runs reflection_pad1d/2d and replication_pad1d/2d/3d in float32."""
    mode = kwargs.get("mode", args[2] if len(args) > 2 else "constant")
    x = args[0] if args else kwargs.get("input")
    if not isinstance(x, Tensor):
        return None
    if mode == "replicate" or (mode == "reflect" and x._data.ndim <= 4):
        return _FP32
    return None


def _device_type(args, kwargs):
    """'cpu' or 'cuda': where the op's first Tensor argument lives (torch dispatches on it)."""
    for a in args:
        if isinstance(a, Tensor):
            return "cpu" if a._data.__class__ is _ndarray else "cuda"
        if isinstance(a, (list, tuple)):
            for x in a:
                if isinstance(x, Tensor):
                    return "cpu" if x._data.__class__ is _ndarray else "cuda"
    for a in kwargs.values():
        if isinstance(a, Tensor):
            return "cpu" if a._data.__class__ is _ndarray else "cuda"
    return None


def _eligible(t: Tensor, dev: str) -> bool:
    a = t._data
    # tocha's rule for the CPU: exactly a NumPy array (xp_of); anything else is a device array
    return a.dtype.kind in "fV" and a.dtype != _F64 and (a.__class__ is _ndarray) == (dev == "cpu")


def _cast(t: Tensor, np_dt, dev: str, cache):
    """``t`` cast to ``np_dt`` if autocast may cast it (floating, not float64, on ``dev``)."""
    if not _eligible(t, dev) or t._data.dtype == np_dt:
        return t
    if cache is not None and t._rg and t.grad_fn is None and t._base is None:
        # a weight: cast once per region (torch's autocast cache); keyed by grad mode too, so
        # a cast made under no_grad (no graph) is never reused where gradients are wanted
        key = (id(t), np_dt, MODE.grad)
        hit = cache.get(key)
        if hit is not None:
            return hit[1]
        res = t.to(_dtype.from_numpy_dtype(np_dt))
        cache[key] = (t, res)  # holding t keeps its id from being reused
        return res
    return t.to(_dtype.from_numpy_dtype(np_dt))


def _map(v, fn):
    if isinstance(v, Tensor):
        return fn(v)
    if isinstance(v, (list, tuple)) and any(isinstance(x, Tensor) for x in v):
        return type(v)(fn(x) if isinstance(x, Tensor) else x for x in v)
    return v


def _explicit_dtype(args, kwargs) -> bool:
    if kwargs.get("dtype") is not None:
        return True
    return any(isinstance(a, _dtype.dtype) for a in args)


def _dispatch(fn, policies: dict, state: dict, args, kwargs):
    dev = _device_type(args, kwargs)
    low = state.get(dev)
    policy = policies.get(dev)
    if callable(policy):
        policy = policy(args, kwargs)
    if low is None or policy is None or kwargs.get("out") is not None:
        return fn(*args, **kwargs)  # not autocast-eligible here: the op as it is
    if policy is _BANNED:
        raise RuntimeError(_lists.BANNED_MESSAGE)
    if policy is _LOWER:
        target = low
    elif policy is _FP32:
        if _explicit_dtype(args, kwargs):
            return fn(*args, **kwargs)  # torch: an explicit dtype= is honoured, not autocast
        target = _F32
    else:  # promote: the widest floating type among the eligible inputs
        target = low
        for v in (*args, *kwargs.values()):
            for t in v if isinstance(v, (list, tuple)) else (v,):
                if isinstance(t, Tensor) and _eligible(t, dev):
                    target = np.promote_types(target, t._data.dtype)
        if target.kind == "V":  # bfloat16 with itself: NumPy keeps it
            target = low
    info = MODE.autocast_info
    cache = info.cache if policy is _LOWER and info.cache_enabled else None

    def cast(t):
        return _cast(t, target, dev, cache)

    args = [_map(a, cast) for a in args]
    kwargs = {k: _map(v, cast) for k, v in kwargs.items()}
    # the op itself runs below autocast, as in torch: its inner ops keep the dtypes it was given
    MODE.autocast = None
    try:
        return fn(*args, **kwargs)
    finally:
        MODE.autocast = state


def _make_wrapper(fn, policies: dict):
    @functools.wraps(fn)
    def autocast_op(*args, **kwargs):
        state = MODE.autocast
        if state is None:
            return fn(*args, **kwargs)
        return _dispatch(fn, policies, state, args, kwargs)

    autocast_op._autocast_policies = policies
    return autocast_op


# --- the table: built and installed once, on the first autocast region -------------------------
_install_lock = threading.Lock()
_installed = False
TABLE: dict = {}
"""{original function: (wrapper, {device type: policy})}, filled by ``_install``."""


def _resolve(entry: str):
    """The function objects an entry names (see `_lists`), [] for ones tocha lacks."""
    import importlib

    where, name = entry.split(":")
    core = sys.modules["tocha.core"]
    found = []
    if where == "torch":
        found += [getattr(core, name, None), getattr(Tensor, name, None)]
    elif where == "Tensor":
        found.append(getattr(Tensor, name, None))
    elif where == "F":
        found.append(getattr(importlib.import_module("tocha.core.nn.functional"), name, None))
    elif where in ("linalg", "fft"):
        try:
            mod = importlib.import_module(f"tocha.core.{where}")
        except ModuleNotFoundError:
            return []
        found.append(getattr(mod, name, None))
    else:
        found.append(getattr(importlib.import_module(f"tocha.core.{where}"), name, None))
    return [f for f in found if callable(f) and not isinstance(f, type)]


def _policies() -> dict:
    """{original function: {device type: policy}} from the lists."""
    table: dict = {}
    groups = [
        ("cpu", _LOWER, _lists.CPU_LOWER),
        ("cpu", _FP32, _lists.CPU_FP32),
        ("cpu", _PROMOTE, _lists.CPU_PROMOTE),
        ("cuda", _LOWER, _lists.CUDA_LOWER),
        ("cuda", _FP32, _lists.CUDA_FP32),
        ("cuda", _PROMOTE, _lists.CUDA_PROMOTE),
        ("cuda", _BANNED, _lists.CUDA_BANNED),
        ("cpu", _pad_policy, ["F:pad"]),
    ]
    for dev, policy, entries in groups:
        for entry in entries:
            for fn in _resolve(entry):
                fn = getattr(fn, "__func__", fn)
                table.setdefault(fn, {})[dev] = policy
    return table


def _install() -> None:
    """Put the wrappers in place of the listed functions wherever tocha holds them."""
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        for fn, policies in _policies().items():
            if hasattr(fn, "_autocast_policies"):
                continue
            TABLE[fn] = (_make_wrapper(fn, policies), policies)
        _replace_everywhere()
        _installed = True


def _replace_everywhere() -> None:
    """Swap the listed functions for their wrappers in module namespaces, on Tensor, and in
    class attributes of tocha classes that hold one as a staticmethod (nn.Conv1d's
    ``_fn = staticmethod(F.conv1d)``). References kept elsewhere before the first region (in
    a closure, a container, a default argument) stay unwrapped."""
    by_id = {id(fn): (fn, w) for fn, (w, _) in TABLE.items()}
    holders = [Tensor]
    for name, mod in list(sys.modules.items()):
        if mod is None or not hasattr(mod, "__dict__"):
            continue
        # every module: user code that did ``from tocha.core import matmul`` before its first
        # region holds the original (only exact identities are swapped, so nothing else moves)
        holders.append(mod)
        if name == "tocha" or name.startswith("tocha."):
            for value in list(vars(mod).values()):
                if isinstance(value, type) and value.__module__ == name and value is not Tensor:
                    holders.append(value)
    for holder in holders:
        for key, value in list(vars(holder).items()):
            if isinstance(value, staticmethod):
                hit = by_id.get(id(value.__func__))
                if hit is not None and hit[0] is value.__func__:
                    setattr(holder, key, staticmethod(hit[1]))
                continue
            if isinstance(holder, type) and holder is not Tensor:
                continue  # methods of other classes are not ops
            hit = by_id.get(id(value))
            if hit is not None and hit[0] is value:
                setattr(holder, key, hit[1])
