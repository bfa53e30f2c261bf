"""Op table entries: numerical helpers (tocha.core._ops.numeric)."""

from __future__ import annotations

import numpy as np
import scipy.special

import tocha.core as torch

from . import ErrorInput, OpInfo, SampleInput

FLOATS = (torch.float32, torch.float64)
INTS = (torch.int32, torch.int64)
_TOL = {"float32": (1e-4, 1e-5)}


def _gen(*cases):
    """Samples from ``(shapes, kwargs, name)``: one standard-normal array per shape."""

    def gen(dtype, rng):
        for shapes, kw, name in cases:
            arrs = tuple(rng.standard_normal(s).astype(dtype.np) for s in shapes)
            yield SampleInput(arrs, dict(kw), name=name)

    return gen


def _err(args, kw, exc, match):
    return ErrorInput(SampleInput(tuple(args), kw), exc, match)


# --- references -------------------------------------------------------------------------------
def _ref_diff(a, prepend=None, append=None, n=1, dim=-1):
    kw = {k: v for k, v in (("prepend", prepend), ("append", append)) if v is not None}
    return np.diff(a, n, axis=dim, **kw)


def _ref_dist(a, b, p=2):
    d = np.abs(a - b).astype(np.float64).ravel()
    if p == 0:
        r = np.count_nonzero(d)
    elif np.isinf(p):
        r = d.max() if p > 0 else d.min()
    else:
        r = (d**p).sum() ** (1 / p)
    return np.asarray(r, a.dtype)


def _ref_cov(a, correction=1, fweights=None, aweights=None):
    return np.asarray(np.cov(a, ddof=correction, fweights=fweights, aweights=aweights), a.dtype)


def _ref_trapz(y, x=None, dx=None, dim=-1):
    if x is None:
        return np.trapezoid(y, dx=1.0 if dx is None else dx, axis=dim)
    return np.trapezoid(y, x, axis=dim)


def _ref_cumtrapz(y, x=None, dx=None, dim=-1):
    from scipy.integrate import cumulative_trapezoid

    kw = {"dx": 1.0 if dx is None else dx} if x is None else {"x": x}
    return cumulative_trapezoid(y, axis=dim, **kw).astype(y.dtype)


def _ref_renorm(a, p, dim, maxnorm):
    moved = np.moveaxis(a, dim, 0).astype(np.float64)
    flat = np.abs(moved.reshape(moved.shape[0], -1))
    norms = flat.max(1) if np.isinf(p) else (flat**p).sum(1) ** (1 / p)
    factor = np.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    out = moved * factor.reshape((-1,) + (1,) * (a.ndim - 1))
    return np.moveaxis(out, 0, dim).astype(a.dtype)


def _ref_mvlgamma(a, p):
    return scipy.special.multigammaln(a.astype(np.float64)[..., None], p)[..., 0].astype(a.dtype)


def _mvlgamma_gen(dtype, rng):
    for p in (1, 2, 4):
        yield SampleInput((rng.uniform(2.0, 5.0, (3, 4)).astype(dtype.np),), {"p": p}, name=f"p{p}")


def _igamma_gen(dtype, rng):
    a = rng.uniform(0.5, 3.0, (3, 4)).astype(dtype.np)
    x = rng.uniform(0.2, 4.0, (3, 4)).astype(dtype.np)
    yield SampleInput((a, x), grad=(1,), name="same-shape")
    yield SampleInput((a[:1], x), grad=(1,), name="broadcast")


def _int_pair(dtype, rng):
    yield SampleInput(
        (
            rng.integers(-30, 30, (4, 5)).astype(dtype.np),
            rng.integers(-30, 30, (4, 5)).astype(dtype.np),
        )
    )
    yield SampleInput(
        (rng.integers(0, 50, (3, 1)).astype(dtype.np), rng.integers(0, 50, (5,)).astype(dtype.np)),
        name="broadcast",
    )


def _frexp_gen(dtype, rng):
    # away from zero and powers of two, where the mantissa jumps (finite differences)
    a = (rng.uniform(0.55, 0.95, (3, 4)) * 2.0 ** rng.integers(-6, 7, (3, 4))).astype(dtype.np)
    yield SampleInput((a * np.where(rng.random((3, 4)) < 0.5, -1, 1).astype(dtype.np),))


def _nextafter_gen(dtype, rng):
    a = rng.standard_normal((3, 4)).astype(dtype.np)
    yield SampleInput((a, np.flip(a, 1).copy()))
    yield SampleInput((a, a.copy()), name="equal")


OPS = [
    OpInfo(
        "diff",
        lambda a, p=None, q=None, **kw: torch.diff(a, prepend=p, append=q, **kw),
        _ref_diff,
        _gen(
            ([(3, 6)], {}, "default"),
            ([(4, 3)], {"n": 2, "dim": 0}, "n2-dim0"),
            ([(3, 4), (3, 2), (3, 1)], {"n": 3}, "prepend-append"),
        ),
        dtypes=FLOATS + INTS,
        error_inputs=lambda: [
            _err([np.ones(3), np.ones(())], {}, RuntimeError, "same dimension as input")
        ],
    ),
    OpInfo(
        "dist",
        torch.dist,
        _ref_dist,
        _gen(
            ([(3, 4), (3, 4)], {}, "p2"),
            ([(3, 4), (4,)], {"p": 1}, "p1-broadcast"),
            ([(2, 5), (2, 5)], {"p": 3.5}, "p3.5"),
            ([(2, 5), (2, 5)], {"p": float("inf")}, "inf"),
        ),
        tol=_TOL,
    ),
    OpInfo(
        "cov",
        torch.cov,
        _ref_cov,
        _gen(([(3, 6)], {}, "rows"), ([(2, 7)], {"correction": 0}, "biased"), ([(8,)], {}, "1-d")),
        tol=_TOL,
        error_inputs=lambda: [
            _err([np.ones((2, 2, 2))], {}, RuntimeError, "two or fewer dimensions but got an")
        ],
    ),
    OpInfo(
        "corrcoef",
        torch.corrcoef,
        lambda a: np.corrcoef(a).astype(a.dtype),
        _gen(([(3, 6)], {}, "rows"), ([(2, 9)], {}, "two")),
        tol=_TOL,
    ),
    OpInfo(
        "trapezoid",
        torch.trapezoid,
        _ref_trapz,
        _gen(
            ([(3, 6)], {}, "dx1"),
            ([(4, 3)], {"dx": 0.5, "dim": 0}, "dx-dim0"),
            ([(3, 5), (5,)], {}, "x-1d"),
            ([(3, 5), (3, 5)], {"dim": 0}, "x-full"),
        ),
        tol=_TOL,
    ),
    OpInfo(
        "cumulative_trapezoid",
        torch.cumulative_trapezoid,
        _ref_cumtrapz,
        _gen(([(3, 6)], {}, "dx1"), ([(4, 3)], {"dx": 2.0, "dim": 0}, "dx-dim0")),
        tol=_TOL,
    ),
    OpInfo(
        "renorm",
        lambda a, **kw: torch.renorm(a, **kw),
        _ref_renorm,
        _gen(
            ([(3, 4)], {"p": 2, "dim": 0, "maxnorm": 1.0}, "p2"),
            ([(3, 4, 2)], {"p": 1, "dim": 1, "maxnorm": 2.0}, "p1"),
            ([(4, 3)], {"p": 3, "dim": -1, "maxnorm": 0.7}, "p3"),
        ),
        tol=_TOL,
        error_inputs=lambda: [
            _err(
                [np.ones((2, 2))], {"p": -1, "dim": 0, "maxnorm": 1.0}, RuntimeError, "non-positive"
            )
        ],
    ),
    OpInfo("mvlgamma", torch.mvlgamma, _ref_mvlgamma, _mvlgamma_gen, tol=_TOL),
    OpInfo(
        "igamma",
        torch.igamma,
        lambda a, x: scipy.special.gammainc(a, x).astype(a.dtype),
        _igamma_gen,
        tol=_TOL,
    ),
    OpInfo(
        "igammac",
        torch.igammac,
        lambda a, x: scipy.special.gammaincc(a, x).astype(a.dtype),
        _igamma_gen,
        tol=_TOL,
    ),
    OpInfo(
        "gcd",
        torch.gcd,
        np.gcd,
        _int_pair,
        dtypes=INTS,
        supports_grad=False,
        error_inputs=lambda: [
            _err(
                [np.ones(2, np.float32), np.ones(2, np.float32)], {}, NotImplementedError, "gcd_cpu"
            )
        ],
    ),
    OpInfo("lcm", torch.lcm, np.lcm, _int_pair, dtypes=INTS, supports_grad=False),
    OpInfo(
        "frexp",
        torch.frexp,
        lambda a: (np.frexp(a)[0], np.frexp(a)[1].astype(np.int32)),
        _frexp_gen,
        out_dtype=lambda s, dt: (dt, torch.int32),
        supports_gradgrad=True,
        error_inputs=lambda: [
            _err([np.ones(2, np.int64)], {}, RuntimeError, "only supports floating-point dtypes")
        ],
    ),
    OpInfo("nextafter", torch.nextafter, np.nextafter, _nextafter_gen, supports_grad=False),
]
