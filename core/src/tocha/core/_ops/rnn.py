"""Recurrent layers as fused nodes: a whole layer's time loop (one direction) in one node.

Recorded step by step, an LSTM layer of T steps puts ~15 tocha ops per step into the graph
and walks them all again in backward; here the forward loop runs on raw arrays, keeps what
backward needs in a few (N, k*H) buffers, and backward walks time in reverse on raw arrays
too (backpropagation through time), ending in one GEMM each for the recurrent weight's and
projection weight's gradients. The input projection ``x @ W_ih.T + b_ih`` of every time step
is computed outside, by one `linear` per layer and direction, so only the recurrent GEMM
remains inside the loop.

Layouts. ``gx`` is the input projection of the layer, (N, G*H) with N the number of
(time step, sequence) rows: ``T * B`` time-major rows for padded input, or a packed
sequence's rows. ``steps`` is a tuple of ``(offset, batch_size)`` per time step in time order;
batch sizes never grow (packed sequences are sorted by length), so at step t the first
``batch_size`` rows of the hidden state advance and the others keep their value, which gives
each sequence's last state in ``h_n`` and, in reverse, starts each sequence from ``h0``.

Sigmoid is computed as ``0.5 * tanh(x / 2) + 0.5`` (one transcendental pass instead of four
NumPy passes); the halving is folded into the (exactly scaled, by a power of two) gate
pre-activations and recurrent weights.

Double backward: with ``create_graph=True`` the node's backward recomputes the layer with
tocha ops (`composite_layer`) and differentiates that graph, so higher derivatives are
exact too (at the cost of the unfused graph).
"""

from __future__ import annotations

import numpy as np

from .. import _blas, _parallel
from .._tensor import Tensor, wrap
from ..autograd.function import _RELEASED_MSG, Node
from ..autograd.grad_mode import MODE
from . import _rnn_native
from ._nnkernel import quiet
from ._util import xp_of

__all__ = ["rnn_layer", "composite_layer", "row_gather", "row_scatter", "fusable"]


# --- one BLAS thread inside time loops -----------------------------------------------------
# The recurrent GEMM of one step is small ((B, H) x (H, 4H)); OpenBLAS splits it over its
# threads anyway, and waking them for every step costs more than the product (on a busy
# 2-core machine a 0.4 ms single-threaded step took 2-40 ms with two threads). The loops
# therefore run with one BLAS thread; the large GEMMs outside them keep every thread.


def _in_one_blas_thread(fn, xp, *args):
    """``quiet(fn, xp, *args)`` with OpenBLAS limited to one thread for the call."""
    if xp is not np:
        return quiet(fn, xp, *args)
    with _parallel.one_blas_thread():
        return quiet(fn, xp, *args)


class _StepMatmul:
    """The per-step GEMM of a time loop, with the BLAS thread count chosen by measurement.

    Inside `_in_one_blas_thread` BLAS runs on one thread; on an idle machine the step GEMM
    is ~2x faster on every core, on a busy one many times slower. So the first steps are
    timed both ways (two with every thread, two with one) and the rest of the loop keeps the
    faster setting. Only the speed depends on the choice, never the result.
    """

    __slots__ = ("xp", "k", "t", "many", "put")

    def __init__(self, xp, n_steps: int):
        self.xp = xp
        self.k = 4  # no probing
        fns = _parallel.blas_thread_fns() if xp is np else None
        many = _parallel.blas_threads_outside()
        if fns is not None and many > 1 and n_steps >= 16 and _parallel._BLAS_STATE[0] == 1:
            self.k = 0
            self.t = [0.0, 0.0]
            self.many = many
            self.put = fns[1]

    def __call__(self, a, b, out):
        k = self.k
        if k >= 4:
            return self.xp.matmul(a, b, out=out)
        import time

        self.put(self.many if k < 2 else 1)
        t0 = time.perf_counter()
        self.xp.matmul(a, b, out=out)
        self.t[k >> 1] += time.perf_counter() - t0
        self.k = k + 1
        if k == 3:
            self.put(self.many if self.t[0] < 0.8 * self.t[1] else 1)
        return out

    def acc(self, a, b, c, tmp):
        """``c += a @ b``, the product written to ``tmp`` first."""
        c += self(a, b, tmp)


class _PlainStep:
    """The per-step GEMM through NumPy (the loop's parts each run on one BLAS thread)."""

    __slots__ = ("xp",)

    def __init__(self, xp):
        self.xp = xp

    def __call__(self, a, b, out):
        return self.xp.matmul(a, b, out=out)

    def acc(self, a, b, c, tmp):
        c += self.xp.matmul(a, b, out=tmp)


class _CblasStep:
    """The per-step GEMM through MKL's CBLAS (sequential), which accumulates ``c += a @ b`` in
    one call: an LSTM step's (32, 256) @ (256, 1024) and gate add take ~190 us this way
    against ~260 us for NumPy's product plus the add. It also never wakes OpenBLAS's threads,
    which `_StepMatmul`'s probe does: they then spin for ~0.1 s on the cores MKL's split of
    the large products after the loop needs (measured: the LSTM's (2048, 256) @ (256, 1024)
    input projections took 10.5 ms each after a probed loop, 4.5 ms alone)."""

    __slots__ = ()

    def __call__(self, a, b, out):
        _blas.gemm_into(a, b, out)
        return out

    def acc(self, a, b, c, tmp):
        _blas.gemm_into(a, b, c, 1.0)


def fusable(t: Tensor) -> bool:
    """Whether the fused kernels handle ``t``'s dtype (float32/64; half types are composite)."""
    dt = t._data.dtype
    return dt.kind == "f" and dt.itemsize >= 4


# --- forward kernels on raw arrays ----------------------------------------------------------
# Each layer's loop can run in parts: rows r, r + k, r + 2k, ... of every time step belong to
# part r. The sequences of a batch are independent, so the k parts run concurrently on
# tocha's intra-op threads (one BLAS thread each) with no synchronisation inside the loop;
# the weight gradients are then one GEMM over all rows. Batch sizes shrink in a packed batch,
# and so do each part's (rows are taken in order within every step).
_MIN_PART_ROWS = 8
# Each NumPy call in a loop holds the GIL briefly; parts pay off only when a step's work per
# part is large enough to hide that (measured: (32, 1024) gates per step ran 1.5x slower in
# two parts, (128, 2048) 1.7x faster)
_MIN_PART_WORK = 1 << 16


def _half(xp, a) -> None:
    xp.multiply(a, 0.5, out=a)


def _sig_from_tanh(xp, a) -> None:
    """``a = 0.5 * a + 0.5`` in place: tanh(x/2) -> sigmoid(x)."""
    xp.multiply(a, 0.5, out=a)
    xp.add(a, 0.5, out=a)


def _n_parts(xp, batch: int, n_steps: int, width: int) -> int:
    """How many parts a loop over ``batch`` rows of ``width`` gate columns runs in."""
    if xp is not np or n_steps < 4:
        return 1
    from .. import _parallel

    k = _parallel.get_num_threads()
    while k > 1 and (batch // k < _MIN_PART_ROWS or (batch // k) * width < _MIN_PART_WORK):
        k -= 1
    return k


def _part_steps(steps, r: int, k: int, reverse: bool) -> list:
    """(row slice, rows of part r) per time step, in processing order, empty steps dropped."""
    out = []
    for o, bs in reversed(steps) if reverse else steps:
        n = len(range(r, bs, k))
        if n:
            out.append((slice(o + r, o + bs, k), n))
    return out


def _run_parts(loop, k: int) -> None:
    """``loop(r, k)`` for r < k: part 0 here, the others on tocha's intra-op threads."""
    if k == 1:
        loop(0, 1)
        return
    import contextvars

    from .. import _parallel

    pool = _parallel._get_pool()
    futs = [pool.submit(contextvars.copy_context().run, loop, r, k) for r in range(1, k)]
    try:
        loop(0, k)
    finally:
        for f in futs:
            f.result()


def _mm_for(xp, k: int, n_steps: int):
    """The step GEMM of a loop (part): ``mm(a, b, out)`` and ``mm.acc(a, b, c, tmp)``."""
    if xp is np and _blas.library() == "mkl":
        return _CblasStep()
    return _StepMatmul(xp, n_steps) if k == 1 else _PlainStep(xp)


def _lstm_forward(xp, gx, w_hh, h0, c0, b_hh, w_hr, steps, reverse, save):
    gates = gx + b_hh if b_hh is not None else gx.copy()
    if _rnn_native.available(xp, gates.dtype, w_hr):
        return _rnn_native.lstm_forward(gates, w_hh, h0, c0, steps, reverse, save)
    n = gx.shape[0]
    hid = w_hh.shape[1] if w_hr is None else w_hr.shape[1]
    hout = h0.shape[1]
    dt = gx.dtype
    h2 = 2 * hid
    h3 = 3 * hid
    # pre-activations with the sigmoid gates (i, f, o) halved: tanh of them is then sigmoid.
    # Over many steps the halving is folded once into the gates and a copy of W_hh; a single
    # step (a cell) halves its gates instead of copying the weight.
    prescale = len(steps) > 2
    if prescale:
        _half(xp, gates[:, :h2])
        _half(xp, gates[:, h3:])
        w = w_hh.copy()
        _half(xp, w[:h2])
        _half(xp, w[h3:])
        whh_t = xp.ascontiguousarray(w.T)  # (H, 4H) row-major: the faster GEMM layout
    else:
        whh_t = w_hh.T
    whr_t = w_hr.T if w_hr is not None else None
    y = xp.empty((n, hout), dtype=dt)
    h_n = xp.empty_like(h0)
    c_n = xp.empty_like(c0)
    if save:
        hprev = xp.empty((n, hout), dtype=dt)
        cprev = xp.empty((n, hid), dtype=dt)
        tc_all = xp.empty((n, hid), dtype=dt)
        hpre_all = xp.empty((n, hid), dtype=dt) if w_hr is not None else None
    k = _n_parts(xp, h0.shape[0], len(steps), 4 * hid)

    def loop(r, k):
        h = h0[r::k].copy()
        c = c0[r::k].copy()
        bl = h.shape[0]
        tmp = xp.empty((bl, 4 * hid), dtype=dt)
        if not save:
            tc_buf = xp.empty((bl, hid), dtype=dt)
            hpre_buf = xp.empty((bl, hid), dtype=dt) if w_hr is not None else None
        mm = _mm_for(xp, k, len(steps))
        for sl, bs in _part_steps(steps, r, k, reverse):
            g = gates[sl]
            hp = h[:bs]
            cp = c[:bs]
            if save:
                hprev[sl] = hp
                cprev[sl] = cp
            t = tmp[:bs]
            mm.acc(hp, whh_t, g, t)
            if not prescale:
                _half(xp, g[:, :h2])
                _half(xp, g[:, h3:])
            xp.tanh(g, out=g)
            _sig_from_tanh(xp, g[:, :h2])
            _sig_from_tanh(xp, g[:, h3:])
            cp *= g[:, hid:h2]
            xp.multiply(g[:, :hid], g[:, h2:h3], out=t[:, :hid])
            cp += t[:, :hid]
            tc = tc_all[sl] if save else tc_buf[:bs]
            xp.tanh(cp, out=tc)
            if w_hr is not None:
                hpre = hpre_all[sl] if save else hpre_buf[:bs]
                xp.multiply(g[:, h3:], tc, out=hpre)
                xp.matmul(hpre, whr_t, out=hp)
            else:
                xp.multiply(g[:, h3:], tc, out=hp)
            y[sl] = hp
        h_n[r::k] = h
        c_n[r::k] = c

    _run_parts(loop, k)
    saved = None
    if save:
        saved = (gates, hprev, cprev, tc_all, hpre_all)
    return (y, h_n, c_n), saved


def _lstm_backward(xp, saved, w_hh, w_hr, gy, gh, gc, steps, reverse):
    if _rnn_native.available(xp, saved[0].dtype, w_hr):
        return _rnn_native.lstm_backward(saved, w_hh, gy, gh, gc, steps, reverse)
    gates, hprev, cprev, tc_all, hpre_all = saved
    n, g4 = gates.shape
    hid = g4 // 4
    h2, h3 = 2 * hid, 3 * hid
    dt = gates.dtype
    dh_all = gh.astype(dt, copy=True)
    dc_all = gc.astype(dt, copy=True)
    dgates = xp.empty((n, g4), dtype=dt)
    dht_all = xp.empty_like(hprev) if w_hr is not None else None
    k = _n_parts(xp, dh_all.shape[0], len(steps), g4)

    def loop(r, k):
        dh = dh_all[r::k].copy()
        dc = dc_all[r::k].copy()
        bl = dh.shape[0]
        t1 = xp.empty((bl, hid), dtype=dt)
        t2 = xp.empty((bl, h2), dtype=dt)
        mm = _mm_for(xp, k, len(steps))
        for sl, bs in _part_steps(steps, r, k, not reverse):
            dht = dh[:bs]
            if gy is not None:
                dht += gy[sl]
            g = gates[sl]
            tc = tc_all[sl]
            if w_hr is not None:
                dht_all[sl] = dht
                dhp = dht @ w_hr
            else:
                dhp = dht
            dg = dgates[sl]
            dct = dc[:bs]
            a = t1[:bs]
            # dc += dh * o * (1 - tanh(c)^2)
            xp.multiply(tc, tc, out=a)
            xp.subtract(1, a, out=a)
            a *= g[:, h3:]
            a *= dhp
            dct += a
            xp.multiply(dhp, tc, out=dg[:, h3:])  # d o
            xp.multiply(dct, g[:, h2:h3], out=dg[:, :hid])  # d i
            xp.multiply(dct, cprev[sl], out=dg[:, hid:h2])  # d f
            xp.multiply(dct, g[:, :hid], out=dg[:, h2:h3])  # d g
            dct *= g[:, hid:h2]  # dc of the previous step
            # through the activations: sigmoid' = s (1 - s), tanh' = 1 - t^2
            s = t2[:bs]
            xp.subtract(1, g[:, :h2], out=s)
            s *= g[:, :h2]
            dg[:, :h2] *= s
            s = s[:, :hid]
            xp.subtract(1, g[:, h3:], out=s)
            s *= g[:, h3:]
            dg[:, h3:] *= s
            xp.multiply(g[:, h2:h3], g[:, h2:h3], out=s)
            xp.subtract(1, s, out=s)
            dg[:, h2:h3] *= s
            mm(dg, w_hh, dht)
        dh_all[r::k] = dh
        dc_all[r::k] = dc

    _run_parts(loop, k)
    return dgates, dht_all, dh_all, dc_all


def _gru_forward(xp, gx, w_hh, h0, b_hh, steps, reverse, save):
    if _rnn_native.available(xp, gx.dtype, None) and (b_hh is None or b_hh.dtype == gx.dtype):
        return _rnn_native.gru_forward(gx, w_hh, h0, b_hh, steps, reverse, save)
    n = gx.shape[0]
    hid = w_hh.shape[1]
    h2 = 2 * hid
    dt = gx.dtype
    gx_rz = gx[:, :h2] + b_hh[:h2] if b_hh is not None else gx[:, :h2].copy()
    gx_n = gx[:, h2:]
    b_hn = b_hh[h2:] if b_hh is not None else None
    prescale = len(steps) > 2  # as in _lstm_forward
    if prescale:
        _half(xp, gx_rz)
        w = w_hh.copy()
        _half(xp, w[:h2])
        whh_t = xp.ascontiguousarray(w.T)
    else:
        whh_t = w_hh.T
    y = xp.empty((n, hid), dtype=dt)
    h_n = xp.empty_like(h0)
    # per row: r, z, n and the recurrent part of n's pre-activation (W_hn h + b_hn)
    acts = xp.empty((n, 4 * hid), dtype=dt) if save else None
    hprev = xp.empty((n, hid), dtype=dt) if save else None
    k = _n_parts(xp, h0.shape[0], len(steps), 3 * hid)

    def loop(r, k):
        h = h0[r::k].copy()
        bl = h.shape[0]
        tmp = xp.empty((bl, 3 * hid), dtype=dt)
        act_buf = None if save else xp.empty((bl, 4 * hid), dtype=dt)
        mm = _mm_for(xp, k, len(steps))
        for sl, bs in _part_steps(steps, r, k, reverse):
            hp = h[:bs]
            if save:
                hprev[sl] = hp
                a = acts[sl]
            else:
                a = act_buf[:bs]
            t = tmp[:bs]
            mm(hp, whh_t, t)
            rz = a[:, :h2]
            xp.add(gx_rz[sl], t[:, :h2], out=rz)
            if not prescale:
                _half(xp, rz)
            xp.tanh(rz, out=rz)
            _sig_from_tanh(xp, rz)
            ghn = a[:, 3 * hid :]
            if b_hn is not None:
                xp.add(t[:, h2:], b_hn, out=ghn)
            else:
                ghn[...] = t[:, h2:]
            nn_ = a[:, h2 : 3 * hid]
            xp.multiply(a[:, :hid], ghn, out=nn_)
            nn_ += gx_n[sl]
            xp.tanh(nn_, out=nn_)
            # h' = n + z * (h - n)
            hp -= nn_
            hp *= a[:, hid:h2]
            hp += nn_
            y[sl] = hp
        h_n[r::k] = h

    _run_parts(loop, k)
    saved = (acts, hprev) if save else None
    return (y, h_n), saved


def _gru_backward(xp, saved, w_hh, gy, gh, steps, reverse):
    if _rnn_native.available(xp, saved[0].dtype, None):
        return _rnn_native.gru_backward(saved, w_hh, gy, gh, steps, reverse)
    acts, hprev = saved
    n = acts.shape[0]
    hid = w_hh.shape[1]
    h2, h3 = 2 * hid, 3 * hid
    dt = acts.dtype
    dh_all = gh.astype(dt, copy=True)
    # gradient columns: d r_pre, d z_pre, d (W_hn h + b_hn), d n_pre; the first three are the
    # gradient of the recurrent GEMM's output, (r, z, n_pre without gx) of gx
    d = xp.empty((n, 4 * hid), dtype=dt)
    k = _n_parts(xp, dh_all.shape[0], len(steps), 3 * hid)

    def loop(r, k):
        dh = dh_all[r::k].copy()
        bl = dh.shape[0]
        t1 = xp.empty((bl, hid), dtype=dt)
        t2 = xp.empty((bl, hid), dtype=dt)
        mm = _mm_for(xp, k, len(steps))
        for sl, bs in _part_steps(steps, r, k, not reverse):
            dht = dh[:bs]
            if gy is not None:
                dht += gy[sl]
            a = acts[sl]
            r_, z, nn_, ghn = a[:, :hid], a[:, hid:h2], a[:, h2:h3], a[:, h3:]
            dd = d[sl]
            u = t1[:bs]
            v = t2[:bs]
            # dn = dh (1 - z); dn_pre = dn (1 - n^2)
            dnp = dd[:, h3:]
            xp.subtract(1, z, out=u)
            xp.multiply(dht, u, out=dnp)
            xp.multiply(nn_, nn_, out=v)
            xp.subtract(1, v, out=v)
            dnp *= v
            # d ghn = dn_pre * r ; dr = dn_pre * ghn
            xp.multiply(dnp, r_, out=dd[:, h2:h3])
            drp = dd[:, :hid]
            xp.multiply(dnp, ghn, out=drp)
            xp.subtract(1, r_, out=v)
            v *= r_
            drp *= v
            # dz = dh (h - n)
            dzp = dd[:, hid:h2]
            xp.subtract(hprev[sl], nn_, out=dzp)
            dzp *= dht
            xp.subtract(1, z, out=v)
            v *= z
            dzp *= v
            # dh_prev = dh z + dgh @ W_hh
            dht *= z
            mm(dd[:, :h3], w_hh, u)
            dht += u
        dh_all[r::k] = dh

    _run_parts(loop, k)
    return d, dh_all


def _rnn_forward(xp, gx, w_hh, h0, b_hh, steps, reverse, save, relu):
    n = gx.shape[0]
    hid = w_hh.shape[1]
    dt = gx.dtype
    y = gx + b_hh if b_hh is not None else gx.copy()
    whh_t = xp.ascontiguousarray(w_hh.T) if len(steps) > 2 else w_hh.T
    h_n = xp.empty_like(h0)
    hprev = xp.empty((n, hid), dtype=dt) if save else None
    k = _n_parts(xp, h0.shape[0], len(steps), hid)

    def loop(r, k):
        h = h0[r::k].copy()
        tmp = xp.empty((h.shape[0], hid), dtype=dt)
        mm = _mm_for(xp, k, len(steps))
        for sl, bs in _part_steps(steps, r, k, reverse):
            hp = h[:bs]
            if save:
                hprev[sl] = hp
            yt = y[sl]
            mm.acc(hp, whh_t, yt, tmp[:bs])
            if relu:
                xp.maximum(yt, 0, out=yt)
            else:
                xp.tanh(yt, out=yt)
            hp[...] = yt
        h_n[r::k] = h

    _run_parts(loop, k)
    return (y, h_n), ((y, hprev) if save else None)


def _rnn_backward(xp, saved, w_hh, gy, gh, steps, reverse, relu):
    y, hprev = saved
    dt = y.dtype
    dh_all = gh.astype(dt, copy=True)
    d = xp.empty_like(y)
    k = _n_parts(xp, dh_all.shape[0], len(steps), y.shape[1])

    def loop(r, k):
        dh = dh_all[r::k].copy()
        mm = _mm_for(xp, k, len(steps))
        for sl, bs in _part_steps(steps, r, k, not reverse):
            dht = dh[:bs]
            if gy is not None:
                dht += gy[sl]
            dd = d[sl]
            yt = y[sl]
            if relu:
                xp.multiply(dht, yt > 0, out=dd)
            else:
                xp.multiply(yt, yt, out=dd)
                xp.subtract(1, dd, out=dd)
                dd *= dht
            mm(dd, w_hh, dht)
        dh_all[r::k] = dh

    _run_parts(loop, k)
    return d, dh_all


# --- the node -------------------------------------------------------------------------------
class RNNLayer(Node):
    """One direction of one recurrent layer over every time step.

    Tensor inputs, in order: ``gx`` (N, G*H), ``w_hh``, ``h0`` (B, H_out), then ``c0`` (LSTM),
    ``b_hh`` (when ``has_bias``), ``w_hr`` (LSTM with projections). Outputs: ``y`` (N, H_out),
    ``h_n`` and, for LSTM, ``c_n``.
    """

    def name(self):
        return {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNNTanh", "RNN_RELU": "RNNRelu"}[
            self.mode
        ] + "LayerBackward0"

    def forward(
        self, gx, w_hh, h0, *rest, mode="LSTM", steps=(), reverse=False, has_bias=True, save=True
    ):
        xp = xp_of(gx)
        self.mode, self.steps, self.reverse, self.has_bias = mode, steps, reverse, has_bias
        rest = list(rest)
        c0 = rest.pop(0) if mode == "LSTM" else None
        b_hh = rest.pop(0) if has_bias else None
        w_hr = rest.pop(0) if rest else None
        self.has_proj = w_hr is not None
        # everything is kept by reference so backward can check versions (in-place updates
        # of a weight between forward and backward raise) and recompute for double backward
        self.save_inputs = tuple(range(3 + len([a for a in (c0, b_hh, w_hr) if a is not None])))
        if mode == "LSTM":
            outs, self.buf = _in_one_blas_thread(
                _lstm_forward, xp, gx, w_hh, h0, c0, b_hh, w_hr, steps, reverse, save
            )
        elif mode == "GRU":
            outs, self.buf = _in_one_blas_thread(
                _gru_forward, xp, gx, w_hh, h0, b_hh, steps, reverse, save
            )
        else:
            relu = mode == "RNN_RELU"
            outs, self.buf = _in_one_blas_thread(
                _rnn_forward, xp, gx, w_hh, h0, b_hh, steps, reverse, save, relu
            )
        return outs

    def _release(self):
        self._released = True
        self._saved_in = None
        self._saved_out = None
        self.buf = None

    def backward(self, gy, gh, *gc):
        if self._released or self.buf is None:
            raise RuntimeError(_RELEASED_MSG)
        inputs = self.saved_inputs
        if MODE.grad:
            return self._backward_graph(inputs, (gy, gh, *gc))
        needs = self.needs_input_grad
        mode = self.mode
        xp = xp_of(gy._data)
        gx, w_hh, h0 = inputs[:3]
        rest = list(inputs[3:])
        c0 = rest.pop(0) if mode == "LSTM" else None  # noqa: F841 - keeps the input order
        nb = 3 + (mode == "LSTM")
        w_hr = rest[1 if self.has_bias else 0] if self.has_proj else None
        need_b = self.has_bias and needs[nb]
        gyd = gy._data
        ghr = None
        if mode == "LSTM":
            dg, dht_all, dh, dc = _in_one_blas_thread(
                _lstm_backward,
                xp,
                self.buf,
                w_hh._data,
                None if w_hr is None else w_hr._data,
                gyd,
                gh._data,
                gc[0]._data,
                self.steps,
                self.reverse,
            )
            hprev = self.buf[1]
            dgh = dgx = dg
            if self.has_proj and needs[nb + self.has_bias]:
                ghr = _blas.matmul(dht_all.T, self.buf[4])
            res = [dgx, None, dh, dc]
        elif mode == "GRU":
            d, dh = _in_one_blas_thread(
                _gru_backward, xp, self.buf, w_hh._data, gyd, gh._data, self.steps, self.reverse
            )
            hprev = self.buf[1]
            hid = w_hh._data.shape[1]
            dgh = d[:, : 3 * hid]
            dgx = xp.concatenate((d[:, : 2 * hid], d[:, 3 * hid :]), axis=1) if needs[0] else None
            res = [dgx, None, dh]
        else:
            dg, dh = _in_one_blas_thread(
                _rnn_backward,
                xp,
                self.buf,
                w_hh._data,
                gyd,
                gh._data,
                self.steps,
                self.reverse,
                mode == "RNN_RELU",
            )
            hprev = self.buf[1]
            dgh = dgx = dg
            res = [dgx, None, dh]
        # the weight gradients: one large GEMM over every step's rows, with every thread (through
        # tocha's BLAS choice, as the input projection's gradients are: with MKL, a NumPy
        # product here would wake OpenBLAS's threads to spin beside MKL's)
        if needs[1]:
            res[1] = _blas.matmul(dgh.T, hprev)
        gb = dgh.sum(0) if need_b else None
        if self.has_bias:
            res.append(gb)
        if self.has_proj:
            res.append(ghr)
        return tuple(None if (a is None or not nd) else wrap(a) for a, nd in zip(res, needs))

    def _backward_graph(self, inputs, grads):
        """Differentiable gradients (create_graph): differentiate the composite recomputation."""
        from ..autograd import grad as autograd_grad
        from ..autograd.grad_mode import enable_grad

        needs = self.needs_input_grad
        mode = self.mode
        rest = list(inputs[3:])
        c0 = rest.pop(0) if mode == "LSTM" else None
        b_hh = rest.pop(0) if self.has_bias else None
        w_hr = rest.pop(0) if self.has_proj else None
        with enable_grad():
            outs = composite_layer(
                mode, inputs[0], inputs[1], inputs[2], c0, b_hh, w_hr, self.steps, self.reverse
            )
        want = [t for t, nd in zip(inputs, needs) if nd]
        pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o.requires_grad]
        res = autograd_grad(
            [o for o, _ in pairs],
            want,
            grad_outputs=[g for _, g in pairs],
            create_graph=True,
            allow_unused=True,
        )
        it = iter(res)
        out = []
        for t, nd in zip(inputs, needs):
            if not nd:
                out.append(None)
                continue
            g = next(it)
            out.append(g if g is not None else t.detach() * 0)
        return tuple(out)


def rnn_layer(mode: str, gx, w_hh, h0, c0, b_hh, w_hr, steps, reverse: bool):
    """Run one direction of one layer: ``(y, h_n)`` or, for LSTM, ``(y, h_n, c_n)``.

    ``gx`` is the input projection (N, G*H) including ``b_ih``; ``steps`` the
    ``(offset, batch_size)`` of each time step (see the module docstring).
    """
    if not (fusable(gx) and fusable(w_hh)) or gx._data.dtype != w_hh._data.dtype:
        return composite_layer(mode, gx, w_hh, h0, c0, b_hh, w_hr, steps, reverse)
    ins = [gx, w_hh, h0]
    if mode == "LSTM":
        ins.append(c0)
    if b_hh is not None:
        ins.append(b_hh)
    if w_hr is not None:
        ins.append(w_hr)
    save = MODE.grad and any(t._rg for t in ins)
    return RNNLayer.apply(
        *ins,
        mode=mode,
        steps=tuple(steps),
        reverse=reverse,
        has_bias=b_hh is not None,
        save=save,
    )


# --- the same layer with tocha ops (double backward, half dtypes, reference) ------------------
def cell_step(mode: str, x_proj, h, c, w_hh, b_hh, w_hr):
    """One step from the input projection ``x_proj``: ``h'`` or ``(h', c')`` (tocha ops)."""
    from ..nn.functional import linear

    gh = linear(h, w_hh, b_hh)
    if mode == "LSTM":
        i, f, g, o = (x_proj + gh).chunk(4, 1)
        c2 = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h2 = o.sigmoid() * c2.tanh()
        if w_hr is not None:
            h2 = linear(h2, w_hr)
        return h2, c2
    if mode == "GRU":
        xr, xz, xn = x_proj.chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r = (xr + hr).sigmoid()
        z = (xz + hz).sigmoid()
        n = (xn + r * hn).tanh()
        return (1 - z) * n + z * h
    pre = x_proj + gh
    return pre.relu() if mode == "RNN_RELU" else pre.tanh()


def composite_layer(mode: str, gx, w_hh, h0, c0, b_hh, w_hr, steps, reverse: bool):
    """`rnn_layer` written with tocha ops, one step at a time."""
    from .shape import cat

    b = h0.shape[0]
    h, c = h0, c0
    ys = [None] * len(steps)
    idx = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
    for k in idx:
        o, bs = steps[k]
        xt = gx[o : o + bs]
        hp = h[:bs] if bs < b else h
        if mode == "LSTM":
            cp = c[:bs] if bs < b else c
            hn, cn = cell_step(mode, xt, hp, cp, w_hh, b_hh, w_hr)
            c = cat([cn, c[bs:]]) if bs < b else cn
        else:
            hn = cell_step(mode, xt, hp, None, w_hh, b_hh, w_hr)
        h = cat([hn, h[bs:]]) if bs < b else hn
        ys[k] = hn
    y = cat(ys) if ys else gx[:0, : h0.shape[1]] * 0
    return (y, h, c) if mode == "LSTM" else (y, h)


# --- packing: row gathers and scatters --------------------------------------------------------
class RowGather(Node):
    """``a[idx]`` along dim 0 for distinct indices ``idx``; its adjoint is `RowScatter`."""

    def forward(self, a, idx=None):
        self.idx, self.n = idx, a.shape[0]
        return xp_of(a).take(a, idx, axis=0)

    def backward(self, g):
        return RowScatter.apply(g, idx=self.idx, n=self.n, fill=0)


class RowScatter(Node):
    """A (n, ...) array filled with ``fill`` whose rows ``idx`` (distinct) are ``a``'s rows."""

    def forward(self, a, idx=None, n=0, fill=0):
        self.idx = idx
        xp = xp_of(a)
        out = xp.full((n,) + a.shape[1:], fill, dtype=a.dtype)
        out[idx] = a
        return out

    def backward(self, g):
        return RowGather.apply(g, idx=self.idx)


def row_gather(a: Tensor, idx) -> Tensor:
    """Rows ``idx`` (distinct, an integer array) of ``a``, differentiably."""
    return RowGather.apply(a, idx=idx)


def row_scatter(a: Tensor, idx, n: int, fill=0) -> Tensor:
    """``a``'s rows placed at rows ``idx`` of an ``n``-row tensor filled with ``fill``."""
    return RowScatter.apply(a, idx=idx, n=n, fill=fill)


FUNCTIONS: list = []
TENSOR_METHODS: dict = {}
INPLACE: dict = {}
