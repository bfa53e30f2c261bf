"""torch-style ``repr`` of tensors: ``tensor([1.0000, 2.5000], requires_grad=True)``."""

from __future__ import annotations

import numpy as np

from . import _dtype

_THRESHOLD = 1000
_EDGE = 3
_LINEWIDTH = 80


class _Formatter:
    """Chooses one format for all elements, as torch does (integer-valued, fixed or sci)."""

    def __init__(self, values: np.ndarray):
        self.kind = values.dtype.kind
        self.mode = "int"
        self.width = 1
        if self.kind == "b":
            self.mode = "bool"
            self.width = 5 if values.size and not values.all() else 4
            return
        if self.kind in "iu":
            self.width = max((len(str(v)) for v in values.ravel().tolist()), default=1)
            return
        if self.kind == "c":
            self.mode = "complex"
            self.real = _Formatter(values.real.astype(np.float64))
            self.imag = _Formatter(values.imag.astype(np.float64))
            return
        vals = values.astype(np.float64).ravel()
        finite = vals[np.isfinite(vals)]
        nonzero = finite[finite != 0]
        self.mode = "float_int"
        if nonzero.size and np.any(nonzero != np.round(nonzero)):
            self.mode = "fixed"
        if nonzero.size:
            mx, mn = np.abs(nonzero).max(), np.abs(nonzero).min()
            if self.mode == "float_int":
                if mx / mn > 1000.0 or mx > 1e8:
                    self.mode = "sci"
            elif mx / mn > 1000.0 or mx > 1e8 or mn < 1e-4:
                self.mode = "sci"
        # like torch, only finite non-zero values set the column width
        self.width = max((len(self.format_one(v, pad=False)) for v in nonzero.tolist()), default=1)

    def format_one(self, v, pad: bool = True) -> str:
        if self.mode == "bool":
            s = str(bool(v))
        elif self.mode == "int":
            s = str(v)
        elif self.mode == "complex":
            re = self.real.format_one(float(np.real(v)))
            im = self.imag.format_one(abs(float(np.imag(v))), pad=False)
            sign = "-" if np.imag(v) < 0 else "+"
            return f"{re}{sign}{im}j"
        else:
            v = float(v)
            if not np.isfinite(v):
                s = "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
            elif self.mode == "float_int":
                s = f"{v:.0f}."
            elif self.mode == "fixed":
                s = f"{v:.4f}"
            else:
                s = f"{v:.4e}"
        return s.rjust(self.width) if pad else s


def _summarize(arr: np.ndarray) -> np.ndarray:
    """The elements shown when summarising (first and last ``_EDGE`` along each dim)."""
    if arr.ndim == 0:
        return arr.reshape(1)
    if arr.shape[0] > 2 * _EDGE:
        parts = [arr[:_EDGE], arr[-_EDGE:]]
    else:
        parts = [arr]
    return (
        np.concatenate([_summarize(p[i]).ravel() for p in parts for i in range(p.shape[0])])
        if arr.ndim > 1
        else np.concatenate(parts)
    )


def _format(arr: np.ndarray, fmt: _Formatter, indent: int, summarize: bool) -> str:
    if arr.ndim == 0:
        return fmt.format_one(arr.item())
    if arr.ndim == 1:
        items = (
            [fmt.format_one(v) for v in arr.tolist()]
            if not (summarize and arr.shape[0] > 2 * _EDGE)
            else (
                [fmt.format_one(v) for v in arr[:_EDGE].tolist()]
                + [" ..."]
                + [fmt.format_one(v) for v in arr[-_EDGE:].tolist()]
            )
        )
        per_line = max(1, (_LINEWIDTH - indent) // (fmt.width + 2))
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(arr.shape[0])
    if summarize and arr.shape[0] > 2 * _EDGE:
        rows = list(range(_EDGE)) + [None] + list(range(arr.shape[0] - _EDGE, arr.shape[0]))
    parts = ["..." if i is None else _format(arr[i], fmt, indent + 1, summarize) for i in rows]
    sep = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def tensor_repr(t, prefix: str = "tensor(") -> str:
    arr = t._host()
    if arr.dtype == _dtype._NP_BFLOAT16:
        arr = arr.astype(np.float32)
    summarize = arr.size > _THRESHOLD
    suffixes = []
    dev = t.device
    if dev.type != "cpu":
        suffixes.append(f"device='{dev}'")
    if arr.size == 0:
        body = "[]"
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
    else:
        fmt = _Formatter(_summarize(arr) if summarize else arr)
        body = _format(arr, fmt, len(prefix), summarize)
    dt = t.dtype
    default = _dtype.get_default_dtype()
    implied = (default, _dtype.int64, _dtype.bool, _dtype.default_complex_dtype())
    if dt not in implied or (arr.size == 0 and dt is not default):
        suffixes.append(f"dtype={dt!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._rg:
        suffixes.append("requires_grad=True")
    if suffixes:
        body += ", " + ", ".join(suffixes)
    return prefix + body + ")"
