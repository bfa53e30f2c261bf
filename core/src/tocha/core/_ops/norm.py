"""Normalization layers as fused nodes: layer_norm, rms_norm, group_norm and batch_norm's
training-mode statistics, each with a hand-written backward.

A composite layer norm (mean, subtract, square, mean, rsqrt, multiply, affine) records ten
nodes and walks the tensor some twenty times forward and backward; the nodes here compute the
statistics once, save only the per-row (or per-channel) mean and reciprocal standard deviation,
and get the input gradient from the closed form

    dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),   dxhat = dy * weight.

Row reductions use NumPy's einsum, and layer_norm and batch_norm walk rows in cache-sized
chunks over the intra-op threads. (No BLAS call per chunk: OpenBLAS threads calls of this size,
and waking its threads stalls for milliseconds on a busy machine.) As everywhere in tocha, the ordinary backward (grad mode off)
runs on raw arrays, and under ``create_graph=True`` the same formulas are written in tocha ops,
so gradients of gradients work.
"""

from __future__ import annotations

import contextvars
import itertools

import numpy as np

from .. import _parallel
from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ..autograd.grad_mode import MODE
from . import _batchnorm_cpu, _norm_native
from ._nnkernel import low_precision, quiet
from ._util import xp_of

_ndarray = np.ndarray
_CHUNK = 1 << 16  # elements per row chunk of layer_norm and batch_norm
_TILE_ROWS_MIN = 16  # layer_norm tiles weight and bias for at least this many rows
_BLAS_THREADED = 2304 * 4  # OpenBLAS may thread a GEMV of this many elements (its threshold)
_BN_ROWS_MIN = 16  # batch_norm walks (N * C, L) rows when the rows are at least this long
# Threads only for problems this large: a chunk's few NumPy calls on 64Ki elements run no
# faster on two Python threads than on one (measured: layer_norm at (2048, 384) took 4.0 ms
# on two threads against 2.3 ms on one), so smaller problems stay on the calling thread.
_THREAD_MIN = 1 << 21


def _work(arr):
    """float32 for half/bfloat16 arrays (statistics are accumulated in float32, as torch)."""
    return arr.astype(np.float32) if low_precision(arr.dtype) else arr


def _rows(kernel, m: int, n: int) -> list:
    """``kernel(lo, hi)`` over row ranges of an (m, n) problem, chunked and threaded; the
    results in chunk order.

    The threads take chunks one at a time from a shared counter rather than a fixed share
    each: on a busy machine a thread that gets no core leaves its chunks to the others
    instead of keeping the caller waiting. The chunks are the same for any thread count, so
    the results (and their order) are too.
    """
    rows = max(1, _CHUNK // max(n, 1))
    threads = _parallel.get_num_threads()
    if m * n < _THREAD_MIN or threads <= 1 or m < 2 * rows:
        return [kernel(lo, min(lo + rows, m)) for lo in range(0, m, rows)]
    count = -(-m // rows)
    res: list = [None] * count
    nxt = itertools.count()  # next() on it is atomic under the GIL

    def part():
        for i in iter(nxt.__next__, None):
            if i >= count:
                return
            lo = i * rows
            res[i] = kernel(lo, min(lo + rows, m))

    pool = _parallel._get_pool()
    futures = [
        pool.submit(contextvars.copy_context().run, part) for _ in range(min(threads, count) - 1)
    ]
    try:
        part()
    finally:
        for f in futures:
            f.result()
    return res


def _tile_rows(v, m: int, n: int):
    """``v`` (n,) repeated down the rows of one ``_rows`` chunk of an (m, n) problem."""
    return np.tile(v, (min(m, max(1, _CHUNK // max(n, 1))), 1))


def _sum_parts(parts, idx):
    acc = None
    for p in parts:
        v = p[idx]
        if v is None:
            continue
        acc = v if acc is None else acc + v
    return acc


# --- layer_norm -------------------------------------------------------------------------------
class NativeLayerNorm(Node):
    """Normalizes the last ``k`` dims; inputs ``(x[, weight][, bias])``."""

    def forward(self, x, *wb, k, eps, has_w, has_b):
        xp = xp_of(x)
        self.k, self.eps, self.has_w, self.has_b = k, eps, has_w, has_b
        self.save_inputs = (0, 1) if has_w else (0,)  # x and weight; bias is not needed
        w = wb[0] if has_w else None
        b = wb[-1] if has_b else None
        shape = x.shape
        n = 1
        for s in shape[len(shape) - k :]:
            n *= s
        m = x.size // n if n else 0
        if xp is not np:  # CuPy: the row kernel
            from ..cuda import _norm as _cu

            r = _cu.forward(x, w, b, k, eps, center=True)
            if r is not None:
                out, self.mean, self.rstd = r
                return out
        out_dt = x.dtype
        x2 = _work(x).reshape(m, n)
        wf = _work(w).reshape(n) if w is not None else None
        bf = _work(b).reshape(n) if b is not None else None
        mean = xp.empty(m, dtype=x2.dtype)
        rstd = xp.empty(m, dtype=x2.dtype)
        out = xp.empty((m, n), dtype=x2.dtype)
        if n == 0 or m == 0:
            self.mean, self.rstd = mean, rstd
            return out.reshape(shape).astype(out_dt, copy=False)

        if xp is np:  # the compiled row kernel, when available
            kernel = _norm_native.layer_norm_kernel(x2, wf, bf, eps, out, mean, rstd)
            if kernel is not None:
                _rows(kernel, m, n)
                self.mean, self.rstd = mean, rstd
                return out.reshape(shape).astype(out_dt, copy=False)
        # NumPy runs a (rows, n) op with an (n,) operand one inner loop per row; weight and
        # bias tiled to a chunk's rows make those two passes single contiguous loops
        tile = xp is np and m >= _TILE_ROWS_MIN
        wk = _tile_rows(wf, m, n) if tile and wf is not None else wf
        bk = _tile_rows(bf, m, n) if tile and bf is not None else bf

        def kernel(lo, hi):
            xb, ob = x2[lo:hi], out[lo:hi]
            mb, rb = mean[lo:hi], rstd[lo:hi]
            # einsum, not BLAS: a chunk-sized BLAS call may wake OpenBLAS's threads, which
            # stalls for milliseconds when the cores are busy
            mb[...] = xp.einsum("ij->i", xb)
            mb /= n
            xp.subtract(xb, mb[:, None], out=ob)
            rb[...] = xp.einsum("ij,ij->i", ob, ob)
            rb /= n
            rb += eps
            xp.sqrt(rb, out=rb)
            xp.reciprocal(rb, out=rb)
            ob *= rb[:, None]
            if wk is not None:
                ob *= wk if wk.ndim == 1 else wk[: hi - lo]
            if bk is not None:
                ob += bk if bk.ndim == 1 else bk[: hi - lo]

        if xp is np:
            quiet(_rows, kernel, m, n)
        else:
            kernel(0, m)
        self.mean, self.rstd = mean, rstd
        return out.reshape(shape).astype(out_dt, copy=False)

    def backward(self, g):
        saved = self.saved_inputs
        x = saved[0]
        w = saved[1] if self.has_w else None
        needs = self.needs_input_grad
        if MODE.grad:
            return self._graph(g, x, w, needs)
        xa, ga = x._data, g._data
        xp = xp_of(xa)
        if xp is not np:  # CuPy: the row kernel and the column partial sums
            from ..cuda import _norm as _cu

            wa = w._data if w is not None else None
            nw, nb = self.has_w and needs[1], self.has_b and needs[-1]
            r = _cu.backward(xa, ga, wa, self.mean, self.rstd, self.k, needs[0], nw, nb)
            if r is not None:
                res = [wrap(r[0]) if needs[0] else None]
                if self.has_w:
                    res.append(wrap(r[1]) if nw else None)
                if self.has_b:
                    res.append(wrap(r[2]) if nb else None)
                return tuple(res)
        shape = xa.shape
        m = self.mean.shape[0]
        n = xa.size // m if m else 0
        x2 = _work(xa).reshape(m, n)
        g2 = _work(ga).reshape(m, n)
        wf = _work(w._data).reshape(n) if w is not None else None
        mean, rstd = self.mean, self.rstd
        need_x = needs[0]
        need_w = self.has_w and needs[1]
        need_b = self.has_b and needs[-1]
        gx = xp.empty((m, n), dtype=x2.dtype) if need_x else None

        def kernel(lo, hi):
            # NumPy reductions (einsum) rather than BLAS calls per chunk, as in forward
            xb, gb = x2[lo:hi], g2[lo:hi]
            r = rstd[lo:hi, None]
            xh = xp.subtract(xb, mean[lo:hi, None])
            xh *= r
            pw = xp.einsum("ij,ij->j", gb, xh) if need_w else None
            pb = xp.einsum("ij->j", gb) if need_b else None
            if need_x:
                gxh = gb * wf if wf is not None else gb.copy()
                c1 = xp.einsum("ij->i", gxh)[:, None]
                c1 /= n
                c2 = xp.einsum("ij,ij->i", gxh, xh)[:, None]
                c2 /= n
                xh *= c2
                gxh -= xh
                gxh -= c1
                xp.multiply(gxh, r, out=gx[lo:hi])
            return pw, pb

        if m == 0 or n == 0:
            parts = []
        elif xp is np:
            kernel = _norm_native.layer_norm_backward_kernel(
                x2, g2, wf, mean, rstd, gx, need_w, need_b
            ) or _ln_backward_kernel(x2, g2, wf, mean, rstd, gx, need_w, need_b)
            if m * n >= _BLAS_THREADED:
                with _parallel.one_blas_thread():
                    parts = quiet(_rows, kernel, m, n)
            else:
                parts = quiet(_rows, kernel, m, n)
        else:
            parts = [kernel(0, m)]
        res = [wrap(gx.reshape(shape).astype(xa.dtype, copy=False)) if need_x else None]
        wshape = shape[len(shape) - self.k :]
        dt = xa.dtype
        if self.has_w:
            gw = _sum_parts(parts, 0) if need_w else None
            if need_w and gw is None:
                gw = xp.zeros(n, dtype=x2.dtype)
            res.append(wrap(gw.reshape(wshape).astype(dt, copy=False)) if need_w else None)
        if self.has_b:
            gbias = _sum_parts(parts, 1) if need_b else None
            if need_b and gbias is None:
                gbias = xp.zeros(n, dtype=x2.dtype)
            res.append(wrap(gbias.reshape(wshape).astype(dt, copy=False)) if need_b else None)
        return tuple(res)

    def _graph(self, g, x, w, needs):
        nd = x._data.ndim
        dims = tuple(range(nd - self.k, nd))
        batch = tuple(range(nd - self.k))
        mean = x.mean(dims, keepdim=True)
        xc = x - mean
        rstd = ((xc * xc).mean(dims, keepdim=True) + self.eps).rsqrt()
        xh = xc * rstd
        gxh = g * w if w is not None else g
        res = [None]
        if needs[0]:
            c1 = gxh.mean(dims, keepdim=True)
            c2 = (gxh * xh).mean(dims, keepdim=True)
            res[0] = rstd * (gxh - c1 - xh * c2)
        if self.has_w:
            res.append((g * xh).sum(batch) if needs[1] else None)
        if self.has_b:
            res.append(g.sum(batch) if needs[-1] else None)
        return tuple(res)


def _ln_backward_kernel(x2, g2, wf, mean, rstd, gx, need_w: bool, need_b: bool):
    """layer_norm's backward for one row chunk of NumPy (m, n) arrays: writes ``gx`` (when not
    None) and returns the chunk's (weight, bias) gradient partial sums.

    Four passes broadcast a per-row constant (NumPy pays one inner loop per row for those);
    the weight is tiled to a chunk so ``g * w`` is one contiguous loop. Every reduction is a
    GEMV on the caller's single BLAS thread, two of them on ``t = g * xc``: the row sums
    ``g @ w`` and ``t @ w`` (from the centred rows, as in forward) and the column sums
    ``r @ t`` (weight) and ``1 @ g`` (bias).
    """
    m, n = x2.shape
    tile = wf is not None and gx is not None and m >= _TILE_ROWS_MIN
    wk = _tile_rows(wf, m, n) if tile else wf
    ones = np.ones(min(m, max(1, _CHUNK // n)), dtype=x2.dtype) if need_b else None

    def kernel(lo, hi):
        k = hi - lo
        gb = g2[lo:hi]
        r = rstd[lo:hi]
        xc = np.subtract(x2[lo:hi], mean[lo:hi, None])
        t = np.multiply(gb, xc) if need_w or gx is not None else None
        pw = np.matmul(r, t) if need_w else None
        pb = np.matmul(ones[:k], gb) if need_b else None
        if gx is not None:
            # dx = r * (gw - mean(gw) - xc * r^2 * mean(gw * xc)),  gw = g * w
            if wf is None:
                c1 = np.einsum("ij->i", gb)
                c2 = np.einsum("ij->i", t)
                gw = gb.copy()
            else:
                c1 = np.matmul(gb, wf)
                c2 = np.matmul(t, wf)
                gw = np.multiply(gb, wk if wk.ndim == 1 else wk[:k])
            c1 /= n
            c2 *= r
            c2 *= r
            c2 /= n
            xc *= c2[:, None]
            gw -= xc
            gw -= c1[:, None]
            np.multiply(gw, r[:, None], out=gx[lo:hi])
        return pw, pb

    return kernel


def _shape_list(s) -> str:
    return "[" + ", ".join(str(v) for v in s) + "]"


def layer_norm(
    input: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5, cudnn_enable=True
) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` dims, then scale and shift (also
    ``torch.layer_norm``, whose ``cudnn_enable`` flag is accepted and ignored)."""
    if isinstance(normalized_shape, int) or not isinstance(normalized_shape, (tuple, list)):
        if hasattr(normalized_shape, "__iter__"):
            normalized_shape = tuple(normalized_shape)
        else:
            raise TypeError(
                "layer_norm(): argument 'normalized_shape' (position 2) must be tuple of ints, "
                f"not {type(normalized_shape).__name__}"
            )
    ns = tuple(int(s) for s in normalized_shape)
    shape = tuple(input._data.shape)
    k = len(ns)
    if k == 0 or len(shape) < k or shape[len(shape) - k :] != ns:
        raise RuntimeError(
            f"Given normalized_shape={_shape_list(ns)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in ns)}], but got input of size{_shape_list(shape)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t._data.shape) != ns:
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                f"shape {_shape_list(t._data.shape)} and normalized_shape = {_shape_list(ns)}"
            )
    ts = [input] + [t for t in (weight, bias) if t is not None]
    return NativeLayerNorm.apply(
        *ts, k=k, eps=float(eps), has_w=weight is not None, has_b=bias is not None
    )


# --- rms_norm ---------------------------------------------------------------------------------
class RmsNorm(Node):
    def forward(self, x, *w, k, eps):
        xp = xp_of(x)
        self.k, self.eps = k, eps
        self.save_inputs = (0, 1) if w else (0,)
        shape = x.shape
        n = 1
        for s in shape[len(shape) - k :]:
            n *= s
        m = x.size // n if n else 0
        if xp is not np:  # CuPy: the row kernel
            from ..cuda import _norm as _cu

            r = _cu.forward(x, w[0] if w else None, None, k, eps, center=False)
            if r is not None:
                out, _, self.rstd = r
                return out
        x2 = _work(x).reshape(m, n)
        ms = xp.einsum("ij,ij->i", x2, x2) if n else xp.zeros(m, x2.dtype)
        ms /= max(n, 1)
        ms += eps
        rstd = quiet(xp.reciprocal, xp.sqrt(ms))
        self.rstd = rstd
        out = x2 * rstd[:, None]
        if w:
            out *= _work(w[0]).reshape(n)
        return out.reshape(shape).astype(x.dtype, copy=False)

    def backward(self, g):
        saved = self.saved_inputs
        x = saved[0]
        w = saved[1] if len(saved) > 1 else None
        needs = self.needs_input_grad
        nd = x._data.ndim
        dims = tuple(range(nd - self.k, nd))
        if MODE.grad:
            rstd = ((x * x).mean(dims, keepdim=True) + self.eps).rsqrt()
            xh = x * rstd
            gxh = g * w if w is not None else g
            gx = rstd * (gxh - xh * (gxh * xh).mean(dims, keepdim=True)) if needs[0] else None
            if w is None:
                return (gx,)
            return gx, ((g * xh).sum(tuple(range(nd - self.k))) if needs[1] else None)
        xa, ga = x._data, g._data
        if xa.__class__ is not _ndarray:  # CuPy: the row kernel and the column partial sums
            from ..cuda import _norm as _cu

            wa = w._data if w is not None else None
            nw = w is not None and needs[1]
            r = _cu.backward(xa, ga, wa, None, self.rstd, self.k, needs[0], nw, False)
            if r is not None:
                gx = wrap(r[0]) if needs[0] else None
                return (gx,) if w is None else (gx, wrap(r[1]) if nw else None)
        m = self.rstd.shape[0]
        n = xa.size // m if m else 0
        x2 = _work(xa).reshape(m, n)
        g2 = _work(ga).reshape(m, n)
        xp = xp_of(xa)
        xh = x2 * self.rstd[:, None]
        res = []
        if needs[0]:
            gxh = g2 * _work(w._data).reshape(n) if w is not None else g2
            c = xp.einsum("ij,ij->i", gxh, xh)[:, None]
            c /= max(n, 1)
            gx = (gxh - xh * c) * self.rstd[:, None]
            res.append(wrap(gx.reshape(xa.shape).astype(xa.dtype, copy=False)))
        else:
            res.append(None)
        if w is not None:
            if needs[1]:
                gw = (g2 * xh).sum(0).reshape(w._data.shape).astype(xa.dtype, copy=False)
                res.append(wrap(gw))
            else:
                res.append(None)
        return tuple(res)


def rms_norm(input: Tensor, normalized_shape, weight=None, eps=None) -> Tensor:
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing ``normalized_shape`` dims."""
    if isinstance(normalized_shape, int):
        raise TypeError(
            "rms_norm(): argument 'normalized_shape' (position 2) must be tuple of ints, not int"
        )
    ns = tuple(int(s) for s in normalized_shape)
    shape = tuple(input._data.shape)
    k = len(ns)
    if k == 0 or len(shape) < k or shape[len(shape) - k :] != ns:
        raise RuntimeError(
            f"Given normalized_shape={_shape_list(ns)}, expected input with shape "
            f"[*{', '.join(str(s) for s in ns)}], but got input of size{_shape_list(shape)}"
        )
    if weight is not None and tuple(weight._data.shape) != ns:
        raise RuntimeError(
            "Expected weight to be of same shape as normalized_shape, but got weight of shape "
            f"{_shape_list(weight._data.shape)} and normalized_shape = {_shape_list(ns)}"
        )
    if eps is None:
        dt = input._data.dtype
        eps = float(np.finfo(np.float32 if low_precision(dt) and dt.kind == "V" else dt).eps)
        if dt.kind == "V":
            import ml_dtypes

            eps = float(ml_dtypes.finfo(dt).eps)
    ts = (input,) if weight is None else (input, weight)
    return RmsNorm.apply(*ts, k=k, eps=float(eps))


# --- group_norm -------------------------------------------------------------------------------
class NativeGroupNorm(Node):
    """Normalizes each of ``groups`` channel groups per sample; inputs ``(x[, w][, b])``."""

    def forward(self, x, *wb, groups, eps, has_w, has_b):
        xp = xp_of(x)
        self.groups, self.eps, self.has_w, self.has_b = groups, eps, has_w, has_b
        self.save_inputs = (0, 1) if has_w else (0,)
        shape = x.shape
        nb, c = shape[0], shape[1]
        x3 = _work(x).reshape(nb, c, -1)
        ln = x3.shape[2]
        rows = x3.reshape(nb * groups, -1)
        k = rows.shape[1]
        mean = rows.mean(1) if k else xp.zeros(nb * groups, rows.dtype)
        xc = rows - mean[:, None]
        var = xp.einsum("ij,ij->i", xc, xc) / max(k, 1)
        rstd = quiet(xp.reciprocal, xp.sqrt(var + eps))
        xc *= rstd[:, None]
        self.mean, self.rstd = mean, rstd
        out = xc.reshape(nb, c, ln)
        if has_w:
            out *= _work(wb[0])[None, :, None]
        if has_b:
            out += _work(wb[-1])[None, :, None]
        return out.reshape(shape).astype(x.dtype, copy=False)

    def backward(self, g):
        saved = self.saved_inputs
        x = saved[0]
        w = saved[1] if self.has_w else None
        needs = self.needs_input_grad
        groups = self.groups
        shape = x._data.shape
        nb, c = shape[0], shape[1]
        if MODE.grad:
            xr = x.reshape(nb, groups, -1)
            mean = xr.mean(2, keepdim=True)
            xc = xr - mean
            rstd = ((xc * xc).mean(2, keepdim=True) + self.eps).rsqrt()
            xh = (xc * rstd).reshape(nb, c, -1)
            g3 = g.reshape(nb, c, -1)
            gxh = g3 * w.reshape(1, c, 1) if w is not None else g3
            res = [None]
            if needs[0]:
                gr = gxh.reshape(nb, groups, -1)
                xhr = xh.reshape(nb, groups, -1)
                c1 = gr.mean(2, keepdim=True)
                c2 = (gr * xhr).mean(2, keepdim=True)
                res[0] = (rstd * (gr - c1 - xhr * c2)).reshape(shape)
            if self.has_w:
                res.append((g3 * xh).sum((0, 2)) if needs[1] else None)
            if self.has_b:
                res.append(g3.sum((0, 2)) if needs[-1] else None)
            return tuple(res)
        xa = x._data
        xp = xp_of(xa)
        x3 = _work(xa).reshape(nb, c, -1)
        g3 = _work(g._data).reshape(nb, c, -1)
        rows = x3.reshape(nb * groups, -1)
        k = rows.shape[1]
        xh = (rows - self.mean[:, None]) * self.rstd[:, None]
        xh3 = xh.reshape(nb, c, -1)
        res = [None]
        if needs[0]:
            gxh = g3 * _work(w._data)[None, :, None] if w is not None else g3
            gr = gxh.reshape(nb * groups, -1)
            c1 = gr.mean(1)[:, None] if k else 0
            c2 = (xp.einsum("ij,ij->i", gr, xh) / max(k, 1))[:, None]
            gx = (gr - c1 - xh * c2) * self.rstd[:, None]
            res[0] = wrap(gx.reshape(shape).astype(xa.dtype, copy=False))
        if self.has_w:
            res.append(
                wrap(xp.einsum("ncl,ncl->c", g3, xh3).astype(xa.dtype, copy=False))
                if needs[1]
                else None
            )
        if self.has_b:
            res.append(wrap(g3.sum((0, 2)).astype(xa.dtype, copy=False)) if needs[-1] else None)
        return tuple(res)


def group_norm(
    input: Tensor, num_groups: int, weight=None, bias=None, eps: float = 1e-5, cudnn_enabled=True
):
    """Normalize each group of ``C // num_groups`` channels of each sample (also
    ``torch.group_norm``; ``cudnn_enabled`` is accepted and ignored)."""
    shape = tuple(input._data.shape)
    if len(shape) < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {len(shape)}"
        )
    c = shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {_shape_list(shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t._data.ndim != 1 or t._data.shape[0] != c):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {_shape_list(t._data.shape)} and input of "
                f"shape {_shape_list(shape)}"
            )
    ts = [input] + [t for t in (weight, bias) if t is not None]
    return NativeGroupNorm.apply(
        *ts,
        groups=int(num_groups),
        eps=float(eps),
        has_w=weight is not None,
        has_b=bias is not None,
    )


# --- batch_norm (training statistics) ---------------------------------------------------------
class NativeBatchNorm(Node):
    """Normalizes each channel (dim 1) with the batch's statistics; inputs ``(x[, w][, b])``.

    The batch mean and biased variance are stored into the ``stats`` dict (for the
    running-stat update).
    """

    def forward(self, x, *wb, eps, has_w, has_b, stats):
        xp = xp_of(x)
        self.eps, self.has_w, self.has_b = eps, has_w, has_b
        self.save_inputs = (0, 1) if has_w else (0,)
        shape = x.shape
        nb, c = shape[0], shape[1]
        x3 = _work(x).reshape(nb, c, -1)
        count = nb * x3.shape[2]
        self.count = count
        w = _work(wb[0]) if has_w else None
        b = _work(wb[-1]) if has_b else None
        if xp is np and x3.shape[2] >= _BN_ROWS_MIN:
            out, mean, var, rstd = quiet(_batchnorm_cpu.forward, x3, w, b, eps)
        else:
            mean = x3.sum((0, 2)) / count
            out = x3 - mean[None, :, None]
            var = xp.einsum("ncl,ncl->c", out, out) / count
            rstd = quiet(xp.reciprocal, xp.sqrt(var + eps))
            out *= (rstd * w if has_w else rstd)[None, :, None]
            if has_b:
                out += b[None, :, None]
        self.mean, self.rstd = mean, rstd
        stats["mean"], stats["var"], stats["count"] = mean, var, count
        return out.reshape(shape).astype(x.dtype, copy=False)

    def backward(self, g):
        saved = self.saved_inputs
        x = saved[0]
        w = saved[1] if self.has_w else None
        needs = self.needs_input_grad
        shape = x._data.shape
        nb, c = shape[0], shape[1]
        if MODE.grad:
            x3 = x.reshape(nb, c, -1)
            g3 = g.reshape(nb, c, -1)
            mean = x3.mean((0, 2), keepdim=True)
            xc = x3 - mean
            rstd = ((xc * xc).mean((0, 2), keepdim=True) + self.eps).rsqrt()
            xh = xc * rstd
            res = [None]
            if needs[0]:
                gxh = g3 * w.reshape(1, c, 1) if w is not None else g3
                c1 = gxh.mean((0, 2), keepdim=True)
                c2 = (gxh * xh).mean((0, 2), keepdim=True)
                res[0] = (rstd * (gxh - c1 - xh * c2)).reshape(shape)
            if self.has_w:
                res.append((g3 * xh).sum((0, 2)) if needs[1] else None)
            if self.has_b:
                res.append(g3.sum((0, 2)) if needs[-1] else None)
            return tuple(res)
        xa = x._data
        xp = xp_of(xa)
        x3 = _work(xa).reshape(nb, c, -1)
        g3 = _work(g._data).reshape(nb, c, -1)
        count = self.count
        rstd = self.rstd
        wv = _work(w._data) if w is not None else None
        if xp is np and x3.shape[2] >= _BN_ROWS_MIN:
            gx, sg, sgx = quiet(
                _batchnorm_cpu.backward, x3, g3, self.mean, rstd, wv, count, needs[0]
            )
        else:
            sg = g3.sum((0, 2))
            xc = x3 - self.mean[None, :, None]
            sgx = xp.einsum("ncl,ncl->c", g3, xc)
            gx = None
            if needs[0]:
                a = rstd * wv if wv is not None else rstd
                xc *= (-(a * rstd * rstd * sgx / count))[None, :, None]
                gx = g3 * a[None, :, None]
                gx += xc
                gx -= (a * sg / count)[None, :, None]
        res = [wrap(gx.reshape(shape).astype(xa.dtype, copy=False)) if needs[0] else None]
        if self.has_w:
            res.append(wrap((sgx * rstd).astype(xa.dtype, copy=False)) if needs[1] else None)
        if self.has_b:
            res.append(wrap(sg.astype(xa.dtype, copy=False)) if needs[-1] else None)
        return tuple(res)


def batch_norm_train(input: Tensor, weight, bias, eps: float):
    """Batch-statistics normalization; returns ``(output, stats)`` where ``stats`` holds the
    raw batch ``mean``, biased ``var`` and element ``count`` per channel."""
    ts = [input] + [t for t in (weight, bias) if t is not None]
    stats: dict = {}
    out = NativeBatchNorm.apply(
        *ts, eps=float(eps), has_w=weight is not None, has_b=bias is not None, stats=stats
    )
    return out, stats


class ChannelAffine(Node):
    """``x * scale + shift`` with per-channel (dim 1) vectors: batch_norm in evaluation mode
    and instance_norm with running statistics, in one pass (chunked rows on NumPy)."""

    save_inputs = (0, 1)

    def forward(self, x, scale, shift):
        xp = xp_of(x)
        shape = x.shape
        nb, c = shape[0], shape[1]
        dt = x.dtype
        x3 = _work(x).reshape(nb, c, -1)
        s = _work(scale).astype(x3.dtype, copy=False)
        t = _work(shift).astype(x3.dtype, copy=False)
        if xp is not np or x3.shape[2] < _BN_ROWS_MIN:
            return (x3 * s[None, :, None] + t[None, :, None]).reshape(shape).astype(dt, copy=False)
        ln = x3.shape[2]
        x2 = np.ascontiguousarray(x3).reshape(nb * c, ln)
        s_rows = np.tile(s, nb)[:, None]
        t_rows = np.tile(t, nb)[:, None]
        out = np.empty_like(x2)

        def kernel(lo, hi):
            ob = out[lo:hi]
            np.multiply(x2[lo:hi], s_rows[lo:hi], out=ob)
            ob += t_rows[lo:hi]

        quiet(_rows, kernel, nb * c, ln)
        return out.reshape(shape).astype(dt, copy=False)

    def backward(self, g):
        x, scale = self.saved_inputs
        nx, ns, nt = self.needs_input_grad
        shape = x._data.shape
        nb, c = shape[0], shape[1]
        if MODE.grad:
            g3 = g.reshape(nb, c, -1)
            gx = (g3 * scale.reshape(1, c, 1)).reshape(shape) if nx else None
            gs = (g3 * x.reshape(nb, c, -1)).sum((0, 2)) if ns else None
            gt = g3.sum((0, 2)) if nt else None
            return gx, gs, gt
        xp = xp_of(g._data)
        g3 = _work(g._data).reshape(nb, c, -1)
        dt = x._data.dtype
        gx = gs = gt = None
        if nx:
            gx = g3 * _work(scale._data).astype(g3.dtype)[None, :, None]
            gx = wrap(gx.reshape(shape).astype(dt, copy=False))
        if ns:
            x3 = _work(x._data).reshape(nb, c, -1)
            gs = wrap(xp.einsum("ncl,ncl->c", g3, x3).astype(scale._data.dtype, copy=False))
        if nt:
            gt = wrap(xp.einsum("ncl->c", g3).astype(scale._data.dtype, copy=False))
        return gx, gs, gt


def channel_affine(input: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
    """``input * scale + shift`` for per-channel (dim 1) ``scale`` and ``shift``."""
    return ChannelAffine.apply(input, scale, shift)


# --- torch.<name> forms (torch's top-level signatures) ----------------------------------------
def batch_norm(
    input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled=True
):
    """``torch.batch_norm``: see ``torch.nn.functional.batch_norm`` (arguments reordered)."""
    from ..nn import functional as F

    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(
    input,
    weight,
    bias,
    running_mean,
    running_var,
    use_input_stats,
    momentum,
    eps,
    cudnn_enabled=True,
):
    """``torch.instance_norm``: see ``torch.nn.functional.instance_norm``."""
    from ..nn import functional as F

    return F.instance_norm(
        input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )


FUNCTIONS: list = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm"]
TENSOR_METHODS: dict = {}
INPLACE: dict = {}
