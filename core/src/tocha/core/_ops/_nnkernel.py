"""Helpers shared by the nn op families (activation, norm, loss, layers): fused elementwise
kernels run in cache-sized blocks and over the intra-op threads, the dtype rules of torch's
CPU kernels (half and bfloat16 computed in float32), and a fast float32 ``erfc``.

A fused kernel is a function ``kernel(xp, out, *inputs)`` that writes its result into ``out``
using NumPy/CuPy calls with ``out=`` arguments. ``run`` hands it flat, contiguous blocks of a
few tens of thousands of elements, so the temporaries a multi-step formula needs stay in the
CPU cache instead of streaming the whole tensor through memory once per step, and large
tensors are split over the thread pool of ``tocha.core._parallel`` (NumPy releases the GIL).
On CuPy the kernel runs once on the whole arrays.
"""

from __future__ import annotations

import contextvars

import numpy as np

from .. import _parallel
from ._util import xp_of

_ndarray = np.ndarray
BLOCK = 1 << 15  # elements per block: a few float32 temporaries of this size fit in L2

try:  # silence NumPy's floating-point warnings cheaply (torch gives inf/nan silently)
    from numpy._core.umath import _extobj_contextvar as _EXTOBJ
    from numpy._core.umath import _make_extobj

    _QUIET = _make_extobj(all="ignore")
except Exception:  # pragma: no cover - other NumPy versions
    _EXTOBJ = None


def quiet(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with NumPy's floating-point warnings off."""
    if _EXTOBJ is None:  # pragma: no cover
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    token = _EXTOBJ.set(_QUIET)
    try:
        return fn(*args, **kwargs)
    finally:
        _EXTOBJ.reset(token)


def low_precision(dt) -> bool:
    return dt.kind == "V" or (dt.kind == "f" and dt.itemsize == 2)


def _loop(kernel, xp, out, ins, params, lo: int, hi: int) -> None:
    for i in range(lo, hi, BLOCK):
        j = min(i + BLOCK, hi)
        kernel(xp, out[i:j], *[a[i:j] for a in ins], **params)


def _blocks(kernel, xp, out, ins, params) -> None:
    n = out.size
    if n <= BLOCK:
        kernel(xp, out, *ins, **params)
        return
    threads = _parallel.get_num_threads()
    if n < _parallel.MIN_ELEMENTS or threads <= 1:
        _loop(kernel, xp, out, ins, params, 0, n)
        return
    # one contiguous range per thread, each walked in blocks; ranges start on block edges
    nblocks = -(-n // BLOCK)
    bounds = [min(n, (nblocks * k // threads) * BLOCK) for k in range(threads + 1)]
    bounds[-1] = n
    pool = _parallel._get_pool()
    futures = []
    for k in range(1, threads):
        if bounds[k] < bounds[k + 1]:
            ctx = contextvars.copy_context()  # the caller's NumPy error state
            futures.append(
                pool.submit(ctx.run, _loop, kernel, xp, out, ins, params, bounds[k], bounds[k + 1])
            )
    _loop(kernel, xp, out, ins, params, 0, bounds[1])
    for f in futures:
        f.result()


def run(kernel, *arrays, out_dtype=None, **params):
    """``kernel(xp, out, *arrays, **params)`` on same-shape arrays; returns ``out``.

    Half and bfloat16 inputs are computed in float32 and rounded once at the end (as torch's
    CPU kernels do); the result has the first array's dtype unless ``out_dtype`` is given.
    """
    a0 = arrays[0]
    dt = a0.dtype
    xp = np if a0.__class__ is _ndarray else xp_of(a0)
    res_dt = out_dtype or dt
    work_dt = np.dtype(np.float32) if low_precision(dt) else dt
    # every floating operand in the work dtype (a gradient may arrive in another float dtype)
    arrays = tuple(
        a.astype(work_dt) if a.dtype.kind in "fV" and a.dtype != work_dt else a for a in arrays
    )
    shape = a0.shape
    if xp is not np:
        out = xp.empty(shape, dtype=work_dt)
        quiet(kernel, xp, out, *arrays, **params)
    else:
        flat = []
        for a in arrays:
            if a.shape != shape:
                a = np.broadcast_to(a, shape)
            flat.append(np.ascontiguousarray(a).reshape(-1))
        out = np.empty(shape, dtype=work_dt)
        token = _EXTOBJ.set(_QUIET) if _EXTOBJ is not None else None
        try:
            _blocks(kernel, np, out.reshape(-1), flat, params)
        finally:
            if token is not None:
                _EXTOBJ.reset(token)
    if out.dtype != res_dt:
        out = out.astype(res_dt)
    return out


# --- branch-free selection -------------------------------------------------------------------
_INT_OF = {4: np.int32, 8: np.int64, 2: np.int16}


def select_into(xp, out, cond, a, b) -> None:
    """``out = where(cond, a, b)`` (``a``/``b`` arrays like ``out`` or Python scalars).

    NumPy's ``where`` and every ``where=`` loop branch per element, which a random mask makes
    ~10x slower than arithmetic; blending the bit patterns through an all-ones/all-zeros
    integer mask is branch-free and exact (inf and nan included).
    """
    if xp is not np:
        out[...] = xp.where(cond, a, b)
        return
    it = _INT_OF[out.dtype.itemsize]
    m = cond.view(np.int8).astype(it)
    np.negative(m, out=m)  # 1 -> all ones
    o = out.view(it)
    ab = a.view(it) if isinstance(a, np.ndarray) else np.asarray(a, dtype=out.dtype).view(it)
    bb = b.view(it) if isinstance(b, np.ndarray) else np.asarray(b, dtype=out.dtype).view(it)
    if b is out:  # keep b's bits where cond is false before a's go in
        keep = np.invert(m)
        o &= keep
        m &= ab
        o |= m
        return
    np.bitwise_and(ab, m, out=o)
    np.invert(m, out=m)
    m &= bb
    o |= m


# --- erfc / the normal CDF --------------------------------------------------------------------
# Numerical Recipes' erfcc (a Chebyshev fit of erfc(z) * exp(z^2), fractional error below
# 1.2e-7 for every z >= 0): in float32 it is as accurate as the dtype and, written as a dozen
# vectorised multiply-adds, several times faster than scipy.special.erf, which evaluates Cephes
# one element at a time.
_ERFC_C = (
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
)
_SQRT1_2 = 0.7071067811865476


def erfc_pos(xp, out, z) -> None:
    """``out = erfc(z)`` for ``z >= 0`` (float32 arrays; ``out`` may not alias ``z``)."""
    t = xp.multiply(z, 0.5, dtype=z.dtype)
    t += 1
    xp.reciprocal(t, out=t)
    c = _ERFC_C
    xp.multiply(t, c[9], out=out)
    for k in range(8, 0, -1):
        out += c[k]
        out *= t
    out += c[0]
    zz = xp.multiply(z, z)
    out -= zz
    xp.exp(out, out=out)
    out *= t


def ndtr_into(xp, out, x) -> None:
    """``out = Phi(x)``, the standard normal CDF, for a float array ``x``."""
    if xp is np and x.dtype == np.float32:
        z = np.abs(x)
        z *= np.float32(_SQRT1_2)
        h = np.empty_like(x)
        erfc_pos(np, h, z)
        h *= 0.5  # Phi(-|x|) = erfc(|x| / sqrt 2) / 2
        np.subtract(1, h, out=z)
        select_into(np, out, x > 0, z, h)
        return
    sp = special(xp)
    sp.ndtr(x, out=out)


_SPECIAL = []


def special(xp):
    """scipy.special on the CPU, cupyx.scipy.special on the GPU."""
    if xp is np:
        if not _SPECIAL:
            import scipy.special as sp

            _SPECIAL.append(sp)
        return _SPECIAL[0]
    import cupyx.scipy.special as sp  # pragma: no cover - GPU

    return sp
