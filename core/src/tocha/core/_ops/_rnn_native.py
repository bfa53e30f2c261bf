"""The LSTM and GRU time loops of `rnn` through the compiled kernels ``_native/lstm.c``.

Same layouts, same parts and same saved buffers as `rnn._lstm_forward` / `_lstm_backward` and
`_gru_forward` / `_gru_backward` (whose NumPy loops stay the reference and the fallback); each
part's whole loop is one C call that releases the GIL, so the parts run side by side on
tocha's threads. Used for float32 NumPy arrays (LSTMs without projections), when the kernel
compiled and a CBLAS was found; `available` says whether it applies.
"""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _blas, _native, _parallel

__all__ = ["available", "lstm_forward", "lstm_backward", "gru_forward", "gru_backward"]

# rows per part below which splitting the batch over threads does not pay: the pool handoff
# (~0.1 ms per loop) against the step products' gain
_MIN_PART_ROWS = 8
_P, _I = ctypes.c_void_p, ctypes.c_int64
_HEAD = (_P, ctypes.c_int, _I, _P, _P, _I, _I)  # gemm, lp64, steps, row0, nrows, stride, hid


def _forward_fn():
    return _native.function("lstm", "tocha_lstm_forward_f32", *_HEAD, *[_P] * 9)


def _backward_fn():
    return _native.function("lstm", "tocha_lstm_backward_f32", *_HEAD, *[_P] * 8)


def _gru_forward_fn():
    return _native.function("lstm", "tocha_gru_forward_f32", *_HEAD, *[_P] * 6, ctypes.c_int,
                            _P, _P)  # fmt: skip


def _gru_backward_fn():
    return _native.function("lstm", "tocha_gru_backward_f32", *_HEAD, *[_P] * 6)


def available(xp, dtype, w_hr) -> bool:
    """Whether the native loops handle this layer."""
    return (
        xp is np
        and w_hr is None
        and dtype == np.float32
        and _blas.gemm_pointer(np.float32) is not None
        and _forward_fn() is not None
    )


def _ptr(a) -> int | None:
    return None if a is None else a.ctypes.data


def _n_parts(batch: int) -> int:
    k = _parallel.get_num_threads()
    while k > 1 and batch // k < _MIN_PART_ROWS:
        k -= 1
    return k


def _schedule(steps, r: int, k: int, reverse: bool):
    """Part r's (first row, rows) per step in processing order, as two int64 arrays."""
    from .rnn import _part_steps

    part = _part_steps(steps, r, k, reverse)
    row0 = np.array([sl.start for sl, _ in part], dtype=np.int64)
    rows = np.array([n for _, n in part], dtype=np.int64)
    return row0, rows


def _run(loop, k: int) -> None:
    from .rnn import _run_parts

    _run_parts(loop, k)


def lstm_forward(gates, w_hh, h0, c0, steps, reverse, save):
    """``rnn._lstm_forward`` for `available` layers: ``gates`` (N, 4H) holds the input
    projection plus both biases; its C-ordered copy (itself when already so) is overwritten
    with the gate activations and saved for backward."""
    gates = np.ascontiguousarray(gates)  # (gx + b_hh keeps gx's layout, which may be F order)
    n, hid = gates.shape[0], w_hh.shape[1]
    kernel, (fn, lp64) = _forward_fn(), _blas.gemm_pointer(np.float32)
    whh_t = np.ascontiguousarray(w_hh.T)
    y = np.empty((n, hid), dtype=np.float32)
    h_n, c_n = np.empty_like(h0), np.empty_like(c0)
    hprev = cprev = tc_all = None
    if save:
        hprev, cprev, tc_all = (np.empty((n, hid), dtype=np.float32) for _ in range(3))
    k = _n_parts(h0.shape[0])

    def loop(r, k):
        # copies: the kernel updates the state in place, and h0/c0 may be the caller's
        h = np.array(h0[r::k], dtype=np.float32, order="C", copy=True)
        c = np.array(c0[r::k], dtype=np.float32, order="C", copy=True)
        tc_buf = None if save else np.empty_like(h)
        row0, rows = _schedule(steps, r, k, reverse)
        kernel(
            fn, lp64, len(rows), _ptr(row0), _ptr(rows), k, hid, _ptr(gates), _ptr(whh_t),
            _ptr(h), _ptr(c), _ptr(y), _ptr(hprev), _ptr(cprev), _ptr(tc_all), _ptr(tc_buf),
        )  # fmt: skip
        h_n[r::k] = h
        c_n[r::k] = c

    _run(loop, k)
    saved = (gates, hprev, cprev, tc_all, None) if save else None
    return (y, h_n, c_n), saved


def lstm_backward(saved, w_hh, gy, gh, gc, steps, reverse):
    """``rnn._lstm_backward`` for `available` layers: (dgates, None, dh0, dc0)."""
    gates, _, cprev, tc_all, _ = saved  # C-contiguous (forward's)
    hid = w_hh.shape[1]
    kernel, (fn, lp64) = _backward_fn(), _blas.gemm_pointer(np.float32)
    w = np.ascontiguousarray(w_hh, dtype=np.float32)
    gy = None if gy is None else np.ascontiguousarray(gy, dtype=np.float32)
    dh_all = gh.astype(np.float32, copy=True)
    dc_all = gc.astype(np.float32, copy=True)
    dgates = np.empty(gates.shape, dtype=np.float32)
    k = _n_parts(dh_all.shape[0])

    def loop(r, k):
        dh = np.ascontiguousarray(dh_all[r::k])
        dc = np.ascontiguousarray(dc_all[r::k])
        row0, rows = _schedule(steps, r, k, not reverse)
        kernel(
            fn, lp64, len(rows), _ptr(row0), _ptr(rows), k, hid, _ptr(gates), _ptr(cprev),
            _ptr(tc_all), _ptr(gy), _ptr(w), _ptr(dh), _ptr(dc), _ptr(dgates),
        )  # fmt: skip
        dh_all[r::k] = dh
        dc_all[r::k] = dc

    _run(loop, k)
    return dgates, None, dh_all, dc_all


def gru_forward(gx, w_hh, h0, b_hh, steps, reverse, save):
    """``rnn._gru_forward`` for `available` layers: ((y, h_n), (acts, hprev) or None)."""
    gx = np.ascontiguousarray(gx)
    n, hid = gx.shape[0], w_hh.shape[1]
    kernel, (fn, lp64) = _gru_forward_fn(), _blas.gemm_pointer(np.float32)
    whh_t = np.ascontiguousarray(w_hh.T)
    b = np.zeros(3 * hid, np.float32) if b_hh is None else np.ascontiguousarray(b_hh)
    y = np.empty((n, hid), dtype=np.float32)
    h_n = np.empty_like(h0)
    acts = np.empty((n, 4 * hid), dtype=np.float32) if save else None
    hprev = np.empty((n, hid), dtype=np.float32) if save else None
    k = _n_parts(h0.shape[0])

    def loop(r, k):
        h = np.array(h0[r::k], dtype=np.float32, order="C", copy=True)  # updated in place
        a = acts if save else np.empty((h.shape[0], 4 * hid), dtype=np.float32)
        tmp = np.empty((h.shape[0], 3 * hid), dtype=np.float32)
        row0, rows = _schedule(steps, r, k, reverse)
        kernel(
            fn, lp64, len(rows), _ptr(row0), _ptr(rows), k, hid, _ptr(gx), _ptr(b), _ptr(whh_t),
            _ptr(h), _ptr(y), _ptr(a), int(save), _ptr(hprev), _ptr(tmp),
        )  # fmt: skip
        h_n[r::k] = h

    _run(loop, k)
    return (y, h_n), ((acts, hprev) if save else None)


def gru_backward(saved, w_hh, gy, gh, steps, reverse):
    """``rnn._gru_backward`` for `available` layers: (d, dh0)."""
    acts, hprev = saved
    n, hid = acts.shape[0], w_hh.shape[1]
    kernel, (fn, lp64) = _gru_backward_fn(), _blas.gemm_pointer(np.float32)
    w = np.ascontiguousarray(w_hh, dtype=np.float32)
    gy = None if gy is None else np.ascontiguousarray(gy, dtype=np.float32)
    dh_all = gh.astype(np.float32, copy=True)
    d = np.empty((n, 4 * hid), dtype=np.float32)
    k = _n_parts(dh_all.shape[0])

    def loop(r, k):
        dh = np.ascontiguousarray(dh_all[r::k])
        row0, rows = _schedule(steps, r, k, not reverse)
        kernel(
            fn, lp64, len(rows), _ptr(row0), _ptr(rows), k, hid, _ptr(acts), _ptr(hprev),
            _ptr(gy), _ptr(w), _ptr(dh), _ptr(d),
        )  # fmt: skip
        dh_all[r::k] = dh

    _run(loop, k)
    return d, dh_all
