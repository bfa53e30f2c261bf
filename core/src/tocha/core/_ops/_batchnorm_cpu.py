"""batch_norm's training-mode kernels on NumPy: two passes over ``x`` forward, two over
``x`` and ``g`` backward, with as few NumPy calls per element as the numerics allow.

The input ``(N, C, L)`` (``L`` the spatial size) is viewed as ``(N, C * L)`` and walked in
contiguous blocks of whole ``L``-rows that fit in L2, so every call after the first on a block
finds it in cache. What costs is the number of array-wide NumPy calls:

* Statistics, one pass: ``t = x - k`` with ``k`` a per-channel shift (the first image's
  channel means, 1/N of the work), then per ``(n, c)`` row ``sum(t)`` and ``sum(t * t)``;
  combined per channel in float64 (torch accumulates in double too). About a shift this near
  the mean the one-pass variance rounds like a two-pass one; should the shift be far
  (``|mean - k| / std > _SHIFT_OK``), the pass is redone about the batch mean.
* Normalisation: ``y = x * alpha + beta`` with torch's ``alpha = rstd * weight`` and
  ``beta = bias - mean * alpha``: two calls.
* Backward: ``sum(g)`` and ``sum(g * (x - mean))`` in one pass; then
  ``gx = a * g + b * (x - mean) + c``, written ``a * g + b * x + (c - b * mean)`` (four calls,
  not five) while ``|mean| / std <= _OFFSET``, where both round alike.

Elementwise calls run along the contiguous ``C * L`` axis against the per-channel constants
repeated ``L`` times (built once per call): NumPy's loops that broadcast a per-row constant
are 1.5-3x slower, most at the short rows of a ResNet's late stages. Only images too large
for those vectors to stay in cache, with long rows, use per-row constants (`_Plan`). Large
arrays are spread over tocha's intra-op threads, in larger blocks; each element is computed
by the same calls whichever thread runs it, so results do not depend on the thread count.

When the compiled kernels are built (``_native/norm.c``, `_norm_native.batch_norm_kernels`),
each of these passes is one GIL-free call per block of whole rows instead, taking the
per-channel vectors as they are; the choice of shift and the per-channel arithmetic above stay
here, shared by both.
"""

from __future__ import annotations

import contextvars
import itertools

import numpy as np

from .. import _parallel
from . import _norm_native

_BLOCK = 1 << 16  # elements per block: blocks of x, g, the output and a scratch stay in L2
# Threads pay only on large arrays, with large blocks: NumPy calls on 64Ki elements run no
# faster on two Python threads than on one (the GIL changes hands around every call, and
# einsum holds it for much of its work), so a threaded walk uses blocks of _THREAD_BLOCK and
# starts at _THREAD_MIN elements (measured at ResNet-18's shapes: below it one thread wins)
_THREAD_BLOCK = 1 << 19
_THREAD_MIN = 1 << 21
# per-channel constants are expanded to C * L elements while one such vector is at most this
# large (the backward streams three or four beside its blocks, all within L2), or while rows
# are shorter than _LONG_ROW; larger images use per-row constants, which for long rows cost
# no more
_EXPAND_BYTES = 1 << 18
_LONG_ROW = 256
# the compiled passes (``_native/norm.c``, one read of the rows per pass, the GIL released)
# pay on two threads from smaller arrays than NumPy's many calls do
_NATIVE_THREAD_MIN = 1 << 18
_SHIFT_OK = 2.0  # the forward's statistics are redone when |mean - shift| / std exceeds this
_OFFSET = 4.0  # the backward's gradient pass centres x when |mean| / std exceeds this


def _run(kernel, plan) -> None:
    """``kernel(blocks)`` over ``plan.blocks``; on a threaded plan each thread runs ``kernel``
    on an iterator that hands out the blocks one at a time from a shared counter, so a thread
    that gets no core on a busy machine leaves its blocks to the others instead of keeping
    the caller waiting on a fixed share."""
    blocks = plan.blocks
    k = len(blocks)
    if not plan.threaded or k < 2:
        kernel(blocks)
        return
    nxt = itertools.count()  # next() on it is atomic under the GIL

    def take():
        for i in iter(nxt.__next__, None):
            if i >= k:
                return
            yield blocks[i]

    pool = _parallel._get_pool()
    futures = [
        pool.submit(contextvars.copy_context().run, kernel, take())
        for _ in range(min(_parallel.get_num_threads(), k) - 1)
    ]
    try:
        kernel(take())
    finally:
        for f in futures:
            f.result()


class _Plan:
    """How an (N, C, L) array is walked: blocks ``(r0, r1)`` of its (N * C, L) rows, each
    contiguous and about ``_BLOCK`` elements (whole images, or a run of one image's channels),
    and how a per-channel constant meets a block."""

    __slots__ = ("nb", "c", "ln", "dt", "rowwise", "threaded", "blocks", "scratch", "native")

    def __init__(self, nb: int, c: int, ln: int, dt) -> None:
        self.nb, self.c, self.ln, self.dt = nb, c, ln, dt
        # the compiled passes, when built: they take per-channel vectors as they are, and
        # blocks of whole rows
        self.native = _norm_native.batch_norm_kernels(dt)
        if self.native is not None:
            rows = nb * c
            self.threaded = _parallel.get_num_threads() > 1 and rows * ln >= _NATIVE_THREAD_MIN
            per = max(1, _THREAD_BLOCK // ln) if self.threaded else max(rows, 1)
            self.blocks = [(r, min(r + per, rows)) for r in range(0, rows, per)]
            self.rowwise, self.scratch = False, 0
            return
        self.rowwise = ln >= _LONG_ROW and c * ln * dt.itemsize > _EXPAND_BYTES
        self.threaded = _parallel.get_num_threads() > 1 and nb * c * ln >= _THREAD_MIN
        size = _THREAD_BLOCK if self.threaded else _BLOCK
        per = max(1, size // ln)  # rows per block
        rows = nb * c
        if self.rowwise:
            self.blocks = [(r, min(r + per, rows)) for r in range(0, rows, per)]
        elif c * ln <= size:
            k = (size // (c * ln)) * c
            self.blocks = [(r, min(r + k, rows)) for r in range(0, rows, k)]
        else:
            self.blocks = [
                (n + c0, n + min(c0 + per, c)) for n in range(0, rows, c) for c0 in range(0, c, per)
            ]
        # elements of the largest block (a thread's first block may be a short one)
        self.scratch = max((r1 - r0 for r0, r1 in self.blocks), default=0) * ln

    def const(self, v):
        """A per-channel vector laid out for `part`."""
        v = v.astype(self.dt)
        if self.rowwise:
            return np.tile(v, self.nb)[:, None]
        return np.repeat(v, self.ln)

    def view(self, flat, r0: int, r1: int):
        """Rows ``r0:r1`` of a flat (N * C * L) array, shaped to meet `part`'s constants."""
        ln, c = self.ln, self.c
        b = flat[r0 * ln : r1 * ln]
        if self.rowwise:
            return b.reshape(r1 - r0, ln)
        if r1 - r0 >= c:  # whole images
            return b.reshape((r1 - r0) // c, c * ln)
        return b.reshape(1, (r1 - r0) * ln)

    def part(self, const, r0: int, r1: int):
        """The piece of ``const`` (from `const`) that meets rows ``r0:r1``."""
        if self.rowwise:
            return const[r0:r1]
        if r1 - r0 >= self.c:
            return const
        c0 = r0 % self.c
        return const[c0 * self.ln : (c0 + r1 - r0) * self.ln]


def _centred_sums(plan: _Plan, xf, k, sums, sqs, gf=None) -> None:
    """Per ``(n, c)`` row, with ``t = x - k`` (``k`` per channel): ``sum(t)`` and
    ``sum(t * t)`` into the flat ``sums`` and ``sqs``; or, given the flat gradient ``gf``,
    ``sum(g)`` and ``sum(g * t)``."""
    ln = plan.ln
    if plan.native is not None:
        run_sums = plan.native[0]
        k = np.ascontiguousarray(k, dtype=plan.dt)

        def kernel(blocks):
            for r0, r1 in blocks:
                run_sums(r0, r1, ln, plan.c, xf, gf, k, sums[r0:], sqs[r0:])

        _run(kernel, plan)
        return
    k = plan.const(k)

    def kernel(blocks):
        tmp = np.empty(plan.scratch, dtype=xf.dtype)
        for r0, r1 in blocks:
            xb = plan.view(xf, r0, r1)
            t = tmp[: (r1 - r0) * ln].reshape(xb.shape)
            np.subtract(xb, plan.part(k, r0, r1), out=t)
            t = t.reshape(r1 - r0, ln)
            if gf is None:
                np.einsum("ij->i", t, out=sums[r0:r1])
                np.einsum("ij,ij->i", t, t, out=sqs[r0:r1])
            else:
                gb = gf[r0 * ln : r1 * ln].reshape(r1 - r0, ln)
                np.einsum("ij->i", gb, out=sums[r0:r1])
                np.einsum("ij,ij->i", gb, t, out=sqs[r0:r1])

    _run(kernel, plan)


def _shifted_stats(plan: _Plan, xf, shift):
    """Batch mean, its offset from ``shift`` and the biased variance (float64, per channel)
    from sums of ``x - shift``: exact up to the rounding of the sums of ``(x - shift) ** 2``,
    which stays small while ``shift`` is near the mean."""
    nb, c, dt = plan.nb, plan.c, plan.dt
    sums = np.empty(nb * c, dtype=dt)
    sqs = np.empty(nb * c, dtype=dt)
    _centred_sums(plan, xf, shift, sums, sqs)
    count = nb * plan.ln
    d = sums.reshape(nb, c).sum(0, dtype=np.float64) / count
    var = sqs.reshape(nb, c).sum(0, dtype=np.float64) / count - d * d
    return shift.astype(np.float64) + d, d, var


def _affine(plan: _Plan, xf, of, scale, shift) -> None:
    """``out = x * scale + shift`` with per-channel ``scale`` and ``shift`` (flat arrays)."""
    if plan.native is not None:
        run_apply, ln, c = plan.native[1], plan.ln, plan.c
        se, te = (np.ascontiguousarray(v, dtype=plan.dt) for v in (scale, shift))

        def kernel(blocks):
            for r0, r1 in blocks:
                run_apply(r0, r1, ln, c, xf, None, None, se, te, None, of)

        _run(kernel, plan)
        return
    se, te = plan.const(scale), plan.const(shift)

    def kernel(blocks):
        for r0, r1 in blocks:
            ob = plan.view(of, r0, r1)
            np.multiply(plan.view(xf, r0, r1), plan.part(se, r0, r1), out=ob)
            ob += plan.part(te, r0, r1)

    _run(kernel, plan)


def forward(x3, w, b, eps: float):
    """Training-mode batch_norm of ``x3`` (N, C, L); returns ``(out, mean, var, rstd)``
    (``var`` the biased batch variance), the vectors in ``x3``'s dtype."""
    nb, c, ln = x3.shape
    dt = x3.dtype
    x3 = np.ascontiguousarray(x3)
    xf = x3.reshape(-1)
    plan = _Plan(nb, c, ln, dt)
    # shift by the first image's channel means: near the batch's, at 1/N of the work
    shift = (np.einsum("cl->c", x3[0]) / ln).astype(dt) if nb else np.zeros(c, dtype=dt)
    mean, d, var = _shifted_stats(plan, xf, shift)
    if np.any(d * d > (_SHIFT_OK * _SHIFT_OK) * var):
        # that image was far from the batch: shift by the batch mean itself (two-pass)
        mean, d, var = _shifted_stats(plan, xf, mean.astype(dt))
    np.maximum(var, 0.0, out=var)
    rstd = 1.0 / np.sqrt(var + eps)
    alpha = rstd * w if w is not None else rstd
    beta = -mean * alpha
    if b is not None:
        beta += b
    out = np.empty_like(x3)
    _affine(plan, xf, out.reshape(-1), alpha, beta)
    return out, mean.astype(dt), var.astype(dt), rstd.astype(dt)


def backward(x3, g3, mean, rstd, w, count: int, need_x: bool):
    """batch_norm's training backward: ``(gx or None, sum(g), sum(g * (x - mean)))``, the
    sums per channel; ``mean`` and ``rstd`` are the forward's, ``w`` may be None."""
    nb, c, ln = x3.shape
    dt = x3.dtype
    xf = np.ascontiguousarray(x3).reshape(-1)
    gf = np.ascontiguousarray(g3).reshape(-1)
    plan = _Plan(nb, c, ln, dt)
    sg_rows = np.empty(nb * c, dtype=dt)
    sgx_rows = np.empty(nb * c, dtype=dt)
    _centred_sums(plan, xf, mean, sg_rows, sgx_rows, gf=gf)
    sg = sg_rows.reshape(nb, c).sum(0, dtype=np.float64)
    sgx = sgx_rows.reshape(nb, c).sum(0, dtype=np.float64)
    if not need_x:
        return None, sg.astype(dt), sgx.astype(dt)
    m = mean.astype(np.float64)
    r = rstd.astype(np.float64)
    a = r * w if w is not None else r
    bc = -(a * r * r * sgx / count)
    cc = -(a * sg / count)
    gx = np.empty_like(xf)
    if plan.native is not None:  # one pass: a * g + b * (x - mean) + c
        run_apply = plan.native[1]
        mc, ac, bcc, ccc = (np.ascontiguousarray(v, dtype=dt) for v in (mean, a, bc, cc))

        def native_grad(blocks):
            for r0, r1 in blocks:
                run_apply(r0, r1, ln, c, xf, gf, mc, ac, bcc, ccc, gx)

        _run(native_grad, plan)
        return gx.reshape(x3.shape), sg.astype(dt), sgx.astype(dt)
    # b * (x - mean) + c as b * x + (c - b * mean): one call fewer, and it rounds alike
    # while the mean is within a few standard deviations of 0
    centred = bool(np.any(np.abs(m) * r > _OFFSET))
    if not centred:
        cc -= bc * m
    ae, be, ce, me = plan.const(a), plan.const(bc), plan.const(cc), plan.const(mean)

    def grad(blocks):
        tmp = np.empty(plan.scratch, dtype=dt)
        for r0, r1 in blocks:
            xb = plan.view(xf, r0, r1)
            t = tmp[: (r1 - r0) * ln].reshape(xb.shape)
            if centred:
                np.subtract(xb, plan.part(me, r0, r1), out=t)
                t *= plan.part(be, r0, r1)
            else:
                np.multiply(xb, plan.part(be, r0, r1), out=t)
            ob = plan.view(gx, r0, r1)
            np.multiply(plan.view(gf, r0, r1), plan.part(ae, r0, r1), out=ob)
            ob += t
            ob += plan.part(ce, r0, r1)

    _run(grad, plan)
    return gx.reshape(x3.shape), sg.astype(dt), sgx.astype(dt)
