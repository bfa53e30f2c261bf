"""Op table entries: the discrete Fourier transforms (tocha.core.fft, _ops/spectral.py).

Complex values travel as real arrays with a trailing dim of 2 (``view_as_real``): the generic
gradcheck differentiates real inputs and outputs, and this covers the real and imaginary parts
of every complex gradient.
"""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from . import ErrorInput, OpInfo, SampleInput

FLOATS = (torch.float32, torch.float64)
_TOL = {"float32": (1e-4, 1e-4)}


def _r(z):
    return np.stack([z.real, z.imag], -1)


def _c(a):
    return a[..., 0] + 1j * a[..., 1]


def _real_in(name, fn, ref, cases, complex_out=True):
    """An entry for a transform of a real signal."""

    def op(x, **kw):
        y = fn(x, **kw)
        return torch.view_as_real(y.resolve_conj()) if complex_out else y

    def reference(x, **kw):
        y = ref(x, **kw)
        return (_r(y) if complex_out else y).astype(x.dtype)

    def gen(dtype, rng):
        for shape, kw, label in cases:
            yield SampleInput((rng.standard_normal(shape).astype(dtype.np),), dict(kw), name=label)

    return OpInfo(name, op, reference, gen, dtypes=FLOATS, tol=_TOL)


def _complex_in(name, fn, ref, cases, complex_out=True):
    """An entry for a transform of a complex signal (given as real pairs)."""

    def op(x, **kw):
        y = fn(torch.view_as_complex(x), **kw)
        return torch.view_as_real(y.resolve_conj()) if complex_out else y

    def reference(x, **kw):
        y = ref(_c(x.astype(np.float64)), **kw)
        return (_r(y) if complex_out else y).astype(x.dtype)

    def gen(dtype, rng):
        for shape, kw, label in cases:
            yield SampleInput(
                (rng.standard_normal((*shape, 2)).astype(dtype.np),), dict(kw), name=label
            )

    return OpInfo(name, op, reference, gen, dtypes=FLOATS, tol=_TOL)


_NORMS = [None, "forward", "ortho"]


def _np1(fn):
    """A NumPy 1-D transform called with torch's argument names (``dim`` for ``axis``)."""
    return lambda z, n=None, dim=-1, norm=None: fn(z, n, dim, norm)


def _with_norms(cases):
    return [
        (shape, {**kw, "norm": n}, f"{label}-{n}") for shape, kw, label in cases for n in _NORMS
    ]


def _fft_errors():
    x = np.ones((3, 4), np.float32)
    return [
        ErrorInput(
            SampleInput((x,), {"norm": "x"}), RuntimeError, 'Invalid normalization mode: "x"'
        ),
        ErrorInput(
            SampleInput((x,), {"n": 0}), RuntimeError, r"Invalid number of data points \(0\)"
        ),
        ErrorInput(SampleInput((x,), {"dim": 2}), IndexError, r"range of \[-2, 1\], but got 2"),
    ]


def _nd(fn):
    """A NumPy n-D transform with torch's defaults: ``s`` alone picks the last ``len(s)`` dims."""

    def ref(z, s=None, dim=None, norm=None):
        if dim is None and s is not None:
            dim = tuple(range(-len(s), 0))
        return fn(z, s, dim, norm)

    return ref


OPS = [
    _real_in(
        "fft.fft",
        torch.fft.fft,
        _np1(np.fft.fft),
        _with_norms([((3, 8), {}, "rows"), ((5, 3), {"dim": 0, "n": 4}, "dim0-cut")])
        + [((6,), {"n": 9}, "padded")],
    ),
    _complex_in(
        "fft.fft_complex",
        torch.fft.fft,
        _np1(np.fft.fft),
        _with_norms([((3, 8), {}, "rows")]) + [((4, 3), {"n": 5, "dim": 0}, "pad-dim0")],
    ),
    _real_in(
        "fft.ifft",
        torch.fft.ifft,
        _np1(np.fft.ifft),
        _with_norms([((3, 8), {}, "rows")]) + [((7,), {"n": 4}, "cut")],
    ),
    _complex_in(
        "fft.ifft_complex", torch.fft.ifft, np.fft.ifft, _with_norms([((2, 6), {}, "rows")])
    ),
    _real_in(
        "fft.rfft",
        torch.fft.rfft,
        _np1(np.fft.rfft),
        _with_norms([((3, 8), {}, "even"), ((2, 7), {}, "odd")])
        + [((4, 5), {"n": 8, "dim": 0}, "n")],
    ),
    _complex_in(
        "fft.irfft",
        torch.fft.irfft,
        _np1(np.fft.irfft),
        _with_norms([((3, 5), {}, "default-n"), ((2, 4), {"n": 7}, "odd-n")])
        + [((3, 6), {"n": 4}, "cut"), ((5, 2), {"dim": 0, "n": 12}, "pad-dim0")],
        complex_out=False,
    ),
    _complex_in(
        "fft.hfft",
        torch.fft.hfft,
        _np1(np.fft.hfft),
        _with_norms([((3, 5), {}, "default-n")]) + [((2, 4), {"n": 5}, "odd-n")],
        complex_out=False,
    ),
    _real_in(
        "fft.ihfft",
        torch.fft.ihfft,
        _np1(np.fft.ihfft),
        _with_norms([((3, 8), {}, "even")]) + [((2, 7), {"n": 5}, "cut")],
    ),
    _complex_in(
        "fft.fft2",
        torch.fft.fft2,
        lambda z, s=None, dim=(-2, -1), norm=None: np.fft.fft2(z, s, dim, norm),
        _with_norms([((2, 3, 4), {}, "batch")]) + [((3, 4), {"s": (2, 6)}, "s")],
    ),
    _complex_in(
        "fft.ifftn",
        torch.fft.ifftn,
        _nd(np.fft.ifftn),
        _with_norms([((2, 3, 4), {}, "all")]) + [((3, 4, 2), {"dim": (0, 2)}, "dims")],
    ),
    _real_in(
        "fft.rfftn",
        torch.fft.rfftn,
        _nd(np.fft.rfftn),
        _with_norms([((2, 3, 6), {}, "all")]) + [((4, 5), {"s": (3, 8)}, "s")],
    ),
    _complex_in(
        "fft.irfftn",
        torch.fft.irfftn,
        _nd(np.fft.irfftn),
        _with_norms([((2, 3, 4), {}, "all")]) + [((3, 4), {"s": (5, 7)}, "s-odd")],
        complex_out=False,
    ),
    _real_in(
        "fft.fftshift",
        torch.fft.fftshift,
        lambda x, dim=None: np.fft.fftshift(x, dim),
        [((3, 5), {}, "all"), ((4, 5), {"dim": 1}, "dim1")],
        complex_out=False,
    ),
    _real_in(
        "fft.ifftshift",
        torch.fft.ifftshift,
        lambda x, dim=None: np.fft.ifftshift(x, dim),
        [((3, 5), {}, "all"), ((4, 5), {"dim": (0,)}, "dim0")],
        complex_out=False,
    ),
]
OPS[0].error_inputs = _fft_errors
