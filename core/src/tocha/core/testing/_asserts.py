"""assert_close with torch's default tolerances per dtype, and make_tensor for test inputs."""

from __future__ import annotations

import numpy as np

from .. import _dtype
from .._tensor import Tensor

# torch.testing.assert_close defaults: (rtol, atol) per dtype
_TOLS = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}


def _to_numpy(x):
    if isinstance(x, Tensor):
        arr = x._host()
        return arr.astype(np.float32) if arr.dtype == _dtype._NP_BFLOAT16 else arr, x.dtype
    arr = np.asarray(x)
    try:
        return arr, _dtype.from_numpy_dtype(arr.dtype)
    except TypeError:
        return arr, None


def assert_close(
    actual,
    expected,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = False,
    check_dtype: bool = True,
    check_device: bool = True,
    msg: str | None = None,
) -> None:
    """Raise AssertionError unless ``actual`` and ``expected`` are close elementwise.

    Accepts Tensors, NumPy arrays and Python numbers (nested sequences are compared item by
    item). Default tolerances follow torch: they depend on the dtype of the values.

    Example:
        >>> import tocha.core as torch
        >>> torch.testing.assert_close(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0 + 1e-7]))
    """
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            raise AssertionError(f"assert_close: lengths differ: {len(actual)} != {len(expected)}")
        for a, e in zip(actual, expected):
            assert_close(
                a,
                e,
                rtol=rtol,
                atol=atol,
                equal_nan=equal_nan,
                check_dtype=check_dtype,
                check_device=check_device,
                msg=msg,
            )
        return
    a, adt = _to_numpy(actual)
    e, edt = _to_numpy(expected)
    if check_dtype and isinstance(actual, Tensor) and isinstance(expected, Tensor) and adt != edt:
        raise AssertionError(f"assert_close: dtypes differ: {adt} != {edt}")
    both_tensors = isinstance(actual, Tensor) and isinstance(expected, Tensor)
    if check_device and both_tensors and actual.device != expected.device:
        raise AssertionError(f"assert_close: devices differ: {actual.device} != {expected.device}")
    if a.shape != e.shape:
        raise AssertionError(f"assert_close: shapes differ: {a.shape} != {e.shape}")
    if (rtol is None) != (atol is None):
        raise ValueError("assert_close: rtol and atol must both be given or both omitted")
    if rtol is None:
        name = (adt or edt).name if (adt or edt) is not None else "float64"
        rtol, atol = _TOLS.get(name, (0.0, 0.0))
    if a.dtype.kind in "biu" and e.dtype.kind in "biu" and rtol == 0 and atol == 0:
        bad = a != e
    else:
        a64 = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
        e64 = e.astype(np.complex128 if e.dtype.kind == "c" else np.float64)
        with np.errstate(invalid="ignore"):
            bad = ~np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=equal_nan)
            # equal infinities are close; np.isclose already handles them
    if np.any(bad):
        n_bad = int(np.count_nonzero(bad))
        idx = np.unravel_index(int(np.argmax(bad)), bad.shape) if bad.shape else ()
        with np.errstate(invalid="ignore"):
            diff = (
                np.abs(a.astype(np.float64) - e.astype(np.float64))
                if a.dtype.kind != "c"
                else np.abs(a - e)
            )
        text = (
            f"Tensor-likes are not close!\n\nMismatched elements: {n_bad} / {bad.size} "
            f"({100.0 * n_bad / max(bad.size, 1):.1f}%)\n"
            f"Greatest absolute difference: {np.nanmax(diff) if diff.size else 0} "
            f"(first mismatch at index {tuple(int(i) for i in idx)}: "
            f"actual {a[idx] if a.shape else a}, expected {e[idx] if e.shape else e})\n"
            f"(rtol={rtol}, atol={atol})"
        )
        raise AssertionError(text if msg is None else f"{msg}\n{text}")


def make_tensor(*shape, dtype, device=None, low=None, high=None, requires_grad=False, seed=None):
    """A random tensor for tests: uniform in [low, high) (floats default to [-9, 9))."""
    from .._ops.creation import tensor

    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    dt = _dtype.to_dtype(dtype)
    rng = np.random.default_rng(seed)
    lo = -9 if low is None else low
    hi = 9 if high is None else high
    if dt is _dtype.bool:
        arr = rng.integers(0, 2, shape).astype(bool)
    elif dt.category == 1:
        lo = max(lo, 0) if dt is _dtype.uint8 else lo
        arr = rng.integers(int(lo), int(hi), shape)
    elif dt.is_complex:
        arr = rng.uniform(lo, hi, shape) + 1j * rng.uniform(lo, hi, shape)
    else:
        arr = rng.uniform(lo, hi, shape)
    return tensor(
        arr.astype(dt.np) if dt is not _dtype.bfloat16 else arr.astype(dt.np),
        dtype=dt,
        device=device,
        requires_grad=requires_grad,
    )
