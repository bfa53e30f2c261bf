"""Loss kernels as fused nodes: cross-entropy over class indices (log-softmax, class weights,
``ignore_index`` and label smoothing in one node), nll_loss, and the CTC loss.

Cross-entropy as log_softmax followed by a gathered nll records two nodes and walks the
logits about ten times forward and backward. The fused node computes the log-sum-exp once,
keeps the softmax it produced on the way, and gets the gradient in closed form:

    dL/dx_ic = s_i * ((1 - e) w_t (p_ic - [c = t_i]) + (e / C) v_i (W p_ic - w_c))

(``s_i`` the upstream scale, ``w_t = weight[t_i]`` for kept rows, ``v_i`` 1 for kept rows,
``W = sum(weight)``, ``e`` the label smoothing). With ``create_graph=True`` the same formula is
written in tocha ops from the saved logits, so second derivatives work.
"""

from __future__ import annotations

import numpy as np

from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ..autograd.grad_mode import MODE
from ._nnkernel import low_precision, quiet
from ._util import xp_of

_REDUCTIONS = ("none", "mean", "sum")


def _work(arr):
    return arr.astype(np.float32) if low_precision(arr.dtype) else arr


def check_targets(xp, t, valid, c: int) -> None:
    """torch's IndexError for a class index outside ``[0, c)`` (ignored rows excepted)."""
    if t.size == 0:
        return
    bad = ((t < 0) | (t >= c)) & valid
    if bool(bad.any()):
        v = t[bad][0]
        raise IndexError(f"Target {int(v)} is out of bounds.")


class CrossEntropy(Node):
    """Cross-entropy of (M, C) logits against M class indices ``t`` (a raw int array)."""

    save_inputs = (0,)

    def forward(self, x, t=None, weight=None, ignore_index=-100, smoothing=0.0, reduction="mean"):
        xp = xp_of(x)
        m, c = x.shape
        out_dt = x.dtype
        valid = t != ignore_index
        tt = xp.where(valid, t, 0)
        check_targets(xp, t, valid, c)
        if xp is not np and m and c:  # CuPy: the fused row kernel
            from ..cuda import _cross_entropy as _cu

            r = _cu.forward(x, tt, valid, weight, smoothing)
            if r is not None:
                loss, self.lse, wt, wf, big_w = r
                self.e = self.s = None  # backward recomputes the softmax from lse
                self.tt, self.wt, self.valid = tt, wt, valid
                self.wf, self.big_w, self.denom = wf, big_w, wt.sum()
                self.smoothing, self.reduction, self.c = smoothing, reduction, c
                if reduction == "none":
                    return loss.astype(out_dt, copy=False)
                total = loss.sum()
                if reduction == "mean":
                    total = total / self.denom
                return xp.asarray(total, dtype=out_dt)
        xw = _work(x)
        rows = xp.arange(m)
        if m and c:
            mx = xw.max(1)
            e = xp.subtract(xw, mx[:, None])
            quiet(xp.exp, e, out=e)
            s = xp.einsum("ij->i", e)  # not a BLAS gemv: see _ops/norm.py on OpenBLAS threads
            lse = mx + quiet(xp.log, s)
        else:
            e = xp.zeros_like(xw)
            s = xp.ones(m, dtype=xw.dtype)
            lse = xp.zeros(m, dtype=xw.dtype)
        xt = xw[rows, tt] if m else xp.zeros(0, xw.dtype)
        if weight is not None:
            wf = _work(weight)
            wt = wf[tt] * valid
            big_w = wf.sum()
        else:
            wf = None
            wt = valid.astype(xw.dtype)
            big_w = float(c)
        loss = (lse - xt) * wt
        if smoothing:
            xsum = xw @ wf if wf is not None else xw.sum(1)
            smooth = (big_w * lse - xsum) * valid
            loss = (1 - smoothing) * loss + (smoothing / c) * smooth
        denom = wt.sum()
        # exp(x - max) and its row sums: the softmax is e / s, divided out in backward
        self.e, self.s, self.tt, self.wt, self.valid = e, s, tt, wt, valid
        self.wf, self.big_w, self.denom = wf, big_w, denom
        self.smoothing, self.reduction, self.c = smoothing, reduction, c
        if reduction == "none":
            return loss.astype(out_dt, copy=False)
        total = loss.sum()
        if reduction == "mean":
            total = quiet(xp.divide, total, denom)
        return xp.asarray(total, dtype=out_dt)

    def _scale(self, g):
        """The per-row upstream scale ``s_i`` (an array or a scalar)."""
        if self.reduction == "none":
            return g
        if self.reduction == "mean":
            return g / self.denom
        return g

    def backward(self, g):
        eps, c = self.smoothing, self.c
        valid, wt = self.valid, self.wt
        if MODE.grad:
            return (self._graph(g),)
        ga = _work(g._data)
        xp = xp_of(ga)
        s = quiet(self._scale, ga)
        s = xp.broadcast_to(s, wt.shape) if xp.ndim(s) == 0 else s
        a = (1 - eps) * wt
        if eps:
            a = a + (eps / c) * self.big_w * valid
        if self.e is None:  # the CuPy kernel's forward: its backward kernel
            from ..cuda import _cross_entropy as _cu

            (x,) = self.saved_inputs
            hot = s * ((1 - eps) * wt)
            sm = s * (eps / c) * valid if eps else None
            gx = _cu.backward(x._data, self.tt, self.lse, s * a, hot, sm, self.wf)
            if gx is not None:
                return wrap(gx)
            self.e = xp.exp(_work(x._data) - self.lse[:, None])  # the xp path below then
            self.s = xp.ones_like(self.lse)
        coef = quiet(xp.divide, s * a, self.s)  # per row: scale * a / sum(exp)
        e = self.e
        m = e.shape[0]
        gx = e * coef.astype(e.dtype, copy=False)[:, None]
        if m:
            gx[xp.arange(m), self.tt] -= s * ((1 - eps) * wt)
        if eps:
            wrow = self.wf if self.wf is not None else xp.ones(c, dtype=gx.dtype)
            gx -= (s * (eps / c) * valid)[:, None] * wrow[None, :]
        (x,) = self.saved_inputs
        return wrap(gx.astype(x._data.dtype, copy=False))

    def _graph(self, g: Tensor) -> Tensor:
        from .creation import zeros
        from .pointwise import softmax

        (x,) = self.saved_inputs
        xp = xp_of(x._data)
        eps, c = self.smoothing, self.c
        dt = x._data.dtype
        wt = wrap(self.wt.astype(dt))
        valid = wrap(self.valid.astype(dt))
        s = g if self.reduction != "mean" else g / wrap(xp.asarray(self.denom, dtype=dt))
        if s._data.ndim == 0:
            s = s.expand(wt._data.shape)
        a = (1 - eps) * wt
        if eps:
            a = a + (eps / c) * float(self.big_w) * valid
        p = softmax(x, 1)
        gx = p * (s * a).unsqueeze(1)
        m = x._data.shape[0]
        onehot = xp.zeros((m, c), dtype=dt)
        if m:
            onehot[xp.arange(m), self.tt] = 1
        gx = gx - wrap(onehot) * (s * ((1 - eps) * wt)).unsqueeze(1)
        if eps:
            wrow = wrap(self.wf.astype(dt)) if self.wf is not None else zeros(c, dtype=x.dtype) + 1
            gx = gx - (s * (eps / c) * valid).unsqueeze(1) * wrow.unsqueeze(0)
        return gx


def cross_entropy_indices(
    x: Tensor, t, weight, ignore_index: int, smoothing: float, reduction: str
) -> Tensor:
    """The fused cross-entropy of (M, C) logits ``x`` against raw int targets ``t`` (M,)."""
    return CrossEntropy.apply(
        x,
        t=t,
        weight=weight,
        ignore_index=int(ignore_index),
        smoothing=float(smoothing),
        reduction=reduction,
    )


class NllLoss(Node):
    """Negative log-likelihood of (M, C) log-probabilities against M class indices."""

    def forward(self, x, t=None, weight=None, ignore_index=-100, reduction="mean"):
        xp = xp_of(x)
        m, c = x.shape
        valid = t != ignore_index
        tt = xp.where(valid, t, 0)
        check_targets(xp, t, valid, c)
        xw = _work(x)
        picks = xw[xp.arange(m), tt] if m else xp.zeros(0, xw.dtype)
        wt = _work(weight)[tt] * valid if weight is not None else valid.astype(xw.dtype)
        loss = -picks * wt
        self.tt, self.wt, self.reduction, self.shape = tt, wt, reduction, x.shape
        self.denom = wt.sum()
        if reduction == "none":
            return loss.astype(x.dtype, copy=False)
        total = loss.sum()
        if reduction == "mean":
            total = quiet(xp.divide, total, self.denom)
        return xp.asarray(total, dtype=x.dtype)

    def backward(self, g):
        m, c = self.shape
        if MODE.grad:
            from .creation import zeros
            from .index import index_put

            dt = g._data.dtype
            s = g if self.reduction != "mean" else g / float(self.denom)
            vals = -(s * wrap(self.wt.astype(dt)))
            xp = xp_of(g._data)
            z = zeros((m, c), dtype=g.dtype, device=g.device)
            if not m:
                return z
            idx = (wrap(xp.arange(m)), wrap(self.tt))
            return index_put(z, idx, vals.expand((m,)) if vals._data.ndim == 0 else vals)
        ga = _work(g._data)
        xp = xp_of(ga)
        s = ga if self.reduction != "mean" else quiet(xp.divide, ga, self.denom)
        gx = xp.zeros((m, c), dtype=ga.dtype)
        if m:
            gx[xp.arange(m), self.tt] = -(s * self.wt)
        return wrap(gx.astype(g._data.dtype, copy=False))


def nll_indices(x: Tensor, t, weight, ignore_index: int, reduction: str) -> Tensor:
    return NllLoss.apply(x, t=t, weight=weight, ignore_index=int(ignore_index), reduction=reduction)


# --- CTC --------------------------------------------------------------------------------------
def _lse(xp, a, b):
    """``log(exp(a) + exp(b))`` with -inf handled (NumPy's logaddexp, quietly)."""
    return quiet(xp.logaddexp, a, b)


class CtcLoss(Node):
    """Negative log-likelihood of the CTC alignment of (T, N, C) log-probabilities.

    Forward runs the alpha recursion in log space over the extended label sequences (blanks
    interleaved), vectorised over the batch: one step per time frame. Backward runs the beta
    recursion the same way and returns torch's gradient, ``exp(lp) - occupancy`` per frame and
    class (the derivative with respect to the logits of the log_softmax that produced ``lp``,
    which is what torch's ctc_loss backward returns).
    """

    def forward(self, lp, ext=None, skip=None, in_len=None, tgt_len=None, zero_infinity=False):
        xp = xp_of(lp)
        self.ext, self.skip, self.in_len, self.tgt_len = ext, skip, in_len, tgt_len
        self.zero_infinity = zero_infinity
        t_max, n, c = lp.shape
        lw = _work(lp)
        big_l = ext.shape[1]
        lpe = xp.take_along_axis(lw, xp.broadcast_to(ext[None], (t_max, n, big_l)), axis=2)
        neg = xp.asarray(-np.inf, dtype=lw.dtype)
        alpha = xp.full((t_max, n, big_l), neg, dtype=lw.dtype)
        if t_max:
            alpha[0, :, 0] = lpe[0, :, 0]
            if big_l > 1:
                alpha[0, :, 1] = xp.where(tgt_len > 0, lpe[0, :, 1], neg)
        for t in range(1, t_max):
            a = alpha[t - 1]
            acc = a.copy()
            acc[:, 1:] = _lse(xp, acc[:, 1:], a[:, :-1])
            if big_l > 2:
                a2 = xp.where(skip[:, 2:], a[:, :-2], neg)
                acc[:, 2:] = _lse(xp, acc[:, 2:], a2)
            acc += lpe[t]
            alpha[t] = acc
        rows = xp.arange(n)
        last = xp.maximum(in_len - 1, 0)
        end = 2 * tgt_len
        a_end = alpha[last, rows, end] if t_max else xp.full(n, neg)
        prev = xp.maximum(end - 1, 0)
        a_prev = xp.where(tgt_len > 0, alpha[last, rows, prev], neg) if t_max else a_end
        nll = -_lse(xp, a_end, a_prev)
        if t_max == 0:
            nll = xp.full(n, np.inf, dtype=lw.dtype)
        nll = xp.where(in_len > 0, nll, xp.where(tgt_len > 0, np.inf, 0)).astype(lw.dtype)
        self.alpha, self.lpe, self.nll = alpha, lpe, nll
        out = nll
        if zero_infinity:
            out = xp.where(xp.isinf(nll), 0, nll).astype(lw.dtype)
        return out.astype(lp.dtype, copy=False)

    def unit_grad(self, lp):
        """The gradient of each batch element's loss (before the upstream scale), (T, N, C)."""
        xp = xp_of(lp)
        t_max, n, c = lp.shape
        lw = _work(lp)
        alpha, lpe, nll = self.alpha, self.lpe, self.nll
        ext, skip, in_len, tgt_len = self.ext, self.skip, self.in_len, self.tgt_len
        big_l = ext.shape[1]
        neg = xp.asarray(-np.inf, dtype=lw.dtype)
        rows = xp.arange(n)
        end = 2 * tgt_len
        init = xp.full((n, big_l), neg, dtype=lw.dtype)
        occ = xp.zeros((t_max, n, big_l), dtype=lw.dtype)
        beta = init.copy()
        for t in range(t_max - 1, -1, -1):
            b = beta.copy()
            b[:, :-1] = _lse(xp, b[:, :-1], beta[:, 1:])
            if big_l > 2:
                b2 = xp.where(skip[:, 2:], beta[:, 2:], neg)
                b[:, :-2] = _lse(xp, b[:, :-2], b2)
            b += lpe[t]
            starts = in_len - 1 == t
            if bool(starts.any()):
                fresh = init.copy()
                fresh[rows, end] = lpe[t, rows, end]
                prev = xp.maximum(end - 1, 0)
                fresh[rows, prev] = xp.where(tgt_len > 0, lpe[t, rows, prev], fresh[rows, prev])
                b = xp.where(starts[:, None], fresh, b)
            b = xp.where((t < in_len)[:, None], b, neg)
            beta = b
            # the posterior occupancy of each extended state: alpha * beta / y / P
            occ[t] = quiet(
                lambda a, b_, lp_, n_: xp.exp(a + b_ - lp_ + n_), alpha[t], b, lpe[t], nll[:, None]
            )
        occ = xp.where(xp.isfinite(occ), occ, 0)
        idx = (xp.arange(t_max)[:, None, None] * n + rows[None, :, None]) * c + ext[None]
        summed = xp.bincount(idx.reshape(-1), weights=occ.reshape(-1), minlength=t_max * n * c)
        grad = quiet(xp.exp, lw) - summed.reshape(t_max, n, c).astype(lw.dtype)
        grad *= (xp.arange(t_max)[:, None] < in_len[None, :])[:, :, None]
        bad = ~xp.isfinite(nll)
        if bool(bad.any()):
            grad = xp.where(bad[None, :, None], 0 if self.zero_infinity else xp.nan, grad)
        return grad.astype(lw.dtype, copy=False)

    save_inputs = (0,)

    def backward(self, g):
        (lp,) = self.saved_inputs
        unit = self.unit_grad(lp._data)
        if MODE.grad:
            # lp is an input so that differentiating this gradient again reaches the node
            return _CtcGrad.apply(g, lp, unit=unit)
        return wrap((unit * _work(g._data)[None, :, None]).astype(lp._data.dtype, copy=False))


class _CtcGrad(Node):
    """``unit * g`` per batch element; torch has no second derivative for the CTC loss."""

    def forward(self, g, lp, unit=None):
        return (unit * _work(g)[None, :, None]).astype(lp.dtype, copy=False)

    def name(self):
        return "CtcLossBackwardBackward0"

    def backward(self, gg):
        raise RuntimeError("derivative for aten::_ctc_loss_backward is not implemented")


def ctc_nll(lp: Tensor, ext, skip, in_len, tgt_len, zero_infinity: bool) -> Tensor:
    """Per-batch-element CTC negative log-likelihood of (T, N, C) log-probabilities."""
    return CtcLoss.apply(
        lp, ext=ext, skip=skip, in_len=in_len, tgt_len=tgt_len, zero_infinity=zero_infinity
    )


FUNCTIONS: list = []
TENSOR_METHODS: dict = {}
INPLACE: dict = {}
