"""The op table (after torch's OpInfo): every op described once, tested by tests/test_ops.py.

An entry says how to call the op, a NumPy/SciPy reference, sample inputs per dtype, the dtypes
it supports, whether it has first and second derivatives, and its bad-input errors. Adding an op
means adding an entry to the family's module here; nothing else is needed to test it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

import tocha.core as torch

FAMILIES = ["arith", "pointwise", "reduce", "shape", "index", "linalg", "spectral", "numeric"]


@dataclass
class SampleInput:
    """Positional ``args`` (NumPy arrays become tensors; anything else is passed unchanged)."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    ref_kwargs: dict | None = None  # kwargs for the reference when they differ from kwargs
    grad: tuple | None = None  # which args to differentiate; default: every float array arg
    name: str = ""


@dataclass
class ErrorInput:
    sample: SampleInput
    exc: type
    match: str  # regular expression the message must match


@dataclass
class OpInfo:
    name: str
    op: Callable  # op(*tensors, **kwargs)
    ref: Callable | None  # ref(*ndarrays, **kwargs) -> ndarray or tuple of ndarrays
    sample_inputs: Callable[[torch.dtype, np.random.Generator], Iterable[SampleInput]]
    dtypes: tuple = (torch.float32, torch.float64)
    supports_grad: bool = True
    supports_gradgrad: bool = True
    error_inputs: Callable[[], Iterable[ErrorInput]] | None = None
    tol: dict = field(default_factory=dict)  # dtype name -> (rtol, atol)
    # expected result dtype given the sample and the dtype under test; None: the reference's
    # dtype where all array inputs already have the dtype under test
    out_dtype: Callable | None = None
    # which outputs of a multi-output op to compare against the reference (None: all)
    compare_outputs: tuple | None = None
    grad_eps: float = 1e-6
    grad_atol: float = 1e-5
    grad_rtol: float = 1e-3


def to_tensors(args, dtype=None, requires_grad_idx=(), device=None):
    out = []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            t = torch.from_numpy(a.copy())
            if device is not None:
                t = t.to(device)
            if i in requires_grad_idx:
                t.requires_grad_(True)
            out.append(t)
        elif isinstance(a, (list, tuple)) and a and all(isinstance(x, np.ndarray) for x in a):
            ts = [torch.from_numpy(x.copy()) for x in a]
            if device is not None:
                ts = [t.to(device) for t in ts]
            if i in requires_grad_idx:
                for t in ts:
                    t.requires_grad_(True)
            out.append(type(a)(ts))
        else:
            out.append(a)
    return out


def grad_indices(sample: SampleInput) -> tuple:
    if sample.grad is not None:
        return sample.grad
    idx = []
    for i, a in enumerate(sample.args):
        if (
            isinstance(a, np.ndarray)
            and a.dtype.kind == "f"
            or (
                isinstance(a, (list, tuple))
                and a
                and all(isinstance(x, np.ndarray) and x.dtype.kind == "f" for x in a)
            )
        ):
            idx.append(i)
    return tuple(idx)


def all_ops() -> list:
    ops = []
    for fam in FAMILIES:
        try:
            mod = importlib.import_module(f"opinfo.{fam}")
        except ModuleNotFoundError as e:
            if e.name != f"opinfo.{fam}":
                raise
            continue
        ops.extend(mod.OPS)
    return ops
