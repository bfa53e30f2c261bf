"""Attention in ``torch.nn.functional``: scaled_dot_product_attention and
multi_head_attention_forward.

Both run on one fused node, ``softmax(q @ k^T * scale + bias) @ v``: forward is two batched
GEMMs around an in-place softmax (one (…, L, S) buffer), backward the closed form

    dv = P^T dO,   dP = dO v^T,   dS = P * (dP - rowsum(dP * P)),   dq = dS k,   dk = dS^T q

(times ``scale``), so the scores are never recorded op by op. Under ``create_graph=True`` the
same formulas are written in tocha ops on a recomputed P, so gradients of gradients work.

Multi-head attention keeps the heads as a (batch, heads, length, head_dim) strided view of the
packed input projection (one GEMM for q, k and v in self-attention), so no per-head copies
are made before the batched GEMMs.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ... import _dtype
from ..._ops import layers as _Y
from ..._ops._nnkernel import quiet
from ..._ops._util import xp_of
from ..._tensor import Tensor, wrap
from ...autograd.function import Node
from ...autograd.grad_mode import MODE
from . import _attention_native

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

try:  # the last-dim max of the softmax shift via argmax + gather (faster than max there)
    from ..._ops.pointwise import _row_max
except ImportError:  # pragma: no cover - kept working if that helper moves

    def _row_max(a, dim):
        return a.max(axis=dim, keepdims=True)


_CAUSAL: dict = {}


def _causal_bias(xp, n_q: int, n_k: int, dt):
    """An (L, S) array: 0 where key j <= query i (top-left aligned), -inf above."""
    key = (n_q, n_k, np.dtype(dt).str, xp is np)
    b = _CAUSAL.get(key)
    if b is None:
        if len(_CAUSAL) > 32:
            _CAUSAL.clear()
        b = xp.triu(xp.full((n_q, n_k), -np.inf, dtype=dt), 1)
        _CAUSAL[key] = b
    return b


def _softmax_rows(xp, s, safe: bool):
    """Softmax over the last axis of ``s``, in place. ``safe``: rows that are all -inf give
    zeros (scaled_dot_product_attention's rule) instead of NaN (plain softmax)."""
    m = _row_max(s, s.ndim - 1) if xp is np else s.max(axis=-1, keepdims=True)
    if safe:
        m = xp.where(xp.isneginf(m), 0, m).astype(s.dtype, copy=False)
    s -= m
    xp.exp(s, out=s)
    # einsum's row sum is ~3x faster than ndarray.sum over a short last axis
    tot = (xp.einsum("...i->...", s) if xp is np else s.sum(axis=-1))[..., None]
    if safe:
        tot[tot == 0] = 1
    xp.reciprocal(tot, out=tot)
    s *= tot
    return s


# exp(s) stays finite in float32 up to s = 88; above this bound the scores are shifted first
_EXP_SAFE = 80.0
# a row sum below S * e^-60 means the row's max is below -60: elements within e^-17 of it
# (all that matter at float32 precision) might have left the normal float range, so the exact
# max-shifted softmax is computed instead
_UNDERSHOOT = math.exp(-60.0)


# head dims up to this get k^T copied row-major before the score GEMM (see Attention.forward),
# for at least this many queries: one query's scores are a product with k as it is (decoding
# with a cache: copying 136 cached keys of 12 heads took 57 of the call's 140 us)
_KT_COPY_MAX_E = 64
_KT_COPY_MIN_Q = 16


def _exp_rows(s):
    """Softmax numerators ``exp(s)`` in place, unshifted, and the reciprocal row sums
    (..., L, 1), when that is as exact as the max-shifted form; else None with ``s``
    untouched (scores too large for an unshifted exp), or False with ``s`` overwritten (a
    row's sum too small: its scores must be recomputed for the exact softmax).

    Softmax is invariant to the shift; one max over the whole chunk (a fast contiguous
    reduction) replaces the row max pass over the scores and the subtraction.
    """
    top = float(s.max())
    if not top <= _EXP_SAFE:  # NaN too
        return None
    np.exp(s, out=s)
    tot = np.einsum("...i->...", s)[..., None]
    lo, hi = float(tot.min()), float(tot.max())
    if not (lo >= s.shape[-1] * _UNDERSHOOT and hi < math.inf):
        return False
    return np.reciprocal(tot, out=tot)


def _swap(a):
    return a.swapaxes(-1, -2)


# --- chunked execution --------------------------------------------------------------------
# The scores of one attention call are many small GEMMs ((L, E) x (E, S) per batch and head).
# OpenBLAS threads each of them and, on a busy machine, waking its threads per call costs far
# more than the product (a 20 ms batch took 100-800 ms). So the batch is cut along its first
# dim into chunks of a few hundred thousand scores (they stay in cache from the GEMM through
# the softmax to the second GEMM), chunks run on tocha's intra-op threads, and BLAS runs
# single-threaded inside them.
_CHUNK_SCORES = 1 << 18


def _part(a, lo: int, hi: int, nb: int):
    """Rows [lo, hi) of the broadcast batch's first dim of ``a`` (``nb`` batch dims in all):
    ``a`` itself where it broadcasts along that dim."""
    if a is None or nb == 0 or a.ndim - 2 < nb or a.shape[0] == 1:
        return a
    return a[lo:hi]


def _plan(batch: tuple, n_scores_each: int):
    """Chunk bounds along the first batch dim, or [(0, 1)] (one chunk) without batch dims."""
    if not batch:
        return [(0, 1)]
    per = max(1, _CHUNK_SCORES // max(1, n_scores_each * int(np.prod(batch[1:]))))
    return [(lo, min(lo + per, batch[0])) for lo in range(0, batch[0], per)]


def _run_chunks(fn, chunks, xp) -> None:
    """``fn(lo, hi)`` for every chunk: over tocha's intra-op threads with one BLAS thread each
    (NumPy), or in order (CuPy or a single chunk)."""
    from ... import _parallel
    from ..._ops import rnn as _R

    threads = _parallel.get_num_threads()
    if xp is not np or len(chunks) == 1 or threads <= 1:
        if xp is np:
            _R._in_one_blas_thread(lambda _xp: [fn(lo, hi) for lo, hi in chunks], np)
        else:
            for lo, hi in chunks:
                fn(lo, hi)
        return
    import contextvars

    parts = [chunks[i::threads] for i in range(threads)]

    def work(mine):
        for lo, hi in mine:
            fn(lo, hi)

    def all_parts(_xp):
        pool = _parallel._get_pool()
        futs = [pool.submit(contextvars.copy_context().run, work, p) for p in parts[1:] if p]
        work(parts[0])
        for f in futs:
            f.result()

    _R._in_one_blas_thread(all_parts, np)


class Attention(Node):
    """``softmax(q k^T * scale + bias) @ v`` with optional dropout on the probabilities.

    Inputs ``q`` (..., L, E), ``k`` (..., S, E), ``v`` (..., S, Ev) and, when ``has_bias``,
    a float ``bias`` broadcastable to (..., L, S) (a mask or a learned bias: it receives its
    gradient). Outputs ``out`` and, with ``weights``, the (dropped-out) probabilities.
    ``layout`` (a permutation of the output's axes) lays ``out`` out in memory in that axis
    order: multi-head attention asks for (batch, L, heads, Ev), so that merging the heads
    back into rows for the output projection is a view instead of a copy.
    """

    save_inputs = (0, 1, 2)

    def name(self):
        return "ScaledDotProductAttentionBackward0"

    def forward(
        self,
        q,
        k,
        v,
        *bias,
        scale=1.0,
        causal=False,
        keep=None,
        keep_scale=1.0,
        safe=True,
        weights=False,
        layout=None,
    ):
        xp = xp_of(q)
        self.scale, self.causal, self.keep, self.keep_scale = scale, causal, keep, keep_scale
        self.safe, self.weights = safe, weights
        self.has_bias = bool(bias)
        if bias:
            self.save_inputs = (0, 1, 2, 3)
        self.lse = None
        if xp is not np and not bias and keep is None and not weights:  # pragma: no cover - GPU
            from ...cuda import _attention as _flash

            if _flash.eligible(q, k, v):
                out, self.lse = _flash.forward(q, k, v, scale, causal)
                self.p = None
                if layout is not None and len(layout) == out.ndim:
                    lay = xp.empty(tuple(out.shape[i] for i in layout), dtype=out.dtype)
                    lay = lay.transpose(tuple(np.argsort(layout)))
                    lay[...] = out
                    out = lay
                return out
        dt = q.dtype
        low = dt.kind == "V" or dt.itemsize == 2
        if low:  # half types: computed in float32 as torch's CPU kernels do
            q, k, v = (a.astype(np.float32) for a in (q, k, v))
            bias = tuple(b.astype(np.float32) for b in bias)
        b = bias[0] if bias else None
        n_q, n_k = q.shape[-2], k.shape[-2]
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        if b is not None and b.ndim > 2:
            batch = np.broadcast_shapes(batch, b.shape[:-2])
        if keep is not None:
            batch = np.broadcast_shapes(batch, keep.shape[:-2])
        nb = len(batch)
        wdt = q.dtype
        # the probabilities are kept only for backward or to be returned; otherwise each chunk
        # works in a scratch buffer of its own (no (..., L, S) allocation per call)
        keep_p = MODE.grad or weights
        p = xp.empty(batch + (n_q, n_k), dtype=wdt) if keep_p else None
        oshape = batch + (n_q, v.shape[-1])
        if layout is not None and len(layout) == len(oshape):
            out = xp.empty(tuple(oshape[i] for i in layout), dtype=wdt)
            out = out.transpose(tuple(np.argsort(layout)))
        else:
            out = xp.empty(oshape, dtype=wdt)
        pd = xp.empty_like(p) if (keep is not None and weights) else None
        cb = _causal_bias(xp, n_q, n_k, wdt) if causal else None
        sc = wdt.type(scale)
        ks = wdt.type(keep_scale)
        # the unshifted exp needs a host-side check of the scores: NumPy only (no GPU sync)
        bounded = xp is np and n_q > 0 and n_k > 0
        if (
            b is None
            and keep is None
            and p is None
            and wdt == np.float32
            and _attention_native.attention(q, k, v, out, float(sc), causal)
        ):  # each head's products and softmax in one compiled call over the threads
            self.p = None
            if low:
                out = out.astype(dt)
            return out

        def chunk(lo, hi):
            if p is None:
                s = xp.empty(((hi - lo,) + batch[1:] if nb else ()) + (n_q, n_k), dtype=wdt)
            else:
                s = p[lo:hi] if nb else p
            # the scale goes on q (L x E) rather than on the scores (L x S): one pass less
            qc = _part(q, lo, hi, nb) * sc
            kc = _part(k, lo, hi, nb)
            bc = _part(b, lo, hi, nb)

            kt = _swap(kc)
            if (
                kt.shape[-2] <= _KT_COPY_MAX_E
                and n_q >= _KT_COPY_MIN_Q
                and kt.strides[-1] != kt.itemsize
            ):
                # a short head dim: BLAS's small GEMMs run ~1.7x faster on k^T laid out
                # row-major than on a transposed view of k, which more than pays this copy
                kt = xp.ascontiguousarray(kt)

            def scores():
                xp.matmul(qc, kt, out=s)
                if bc is not None:
                    xp.add(s, bc, out=s)
                if cb is not None:
                    xp.add(s, cb, out=s)

            scores()
            tot = _exp_rows(s) if bounded else None
            if tot is None or tot is False:  # exact softmax (row max shift), in place
                if tot is False:
                    scores()
                tot = None
                quiet(_softmax_rows, xp, s, safe)
            o = out[lo:hi] if nb else out
            if keep is None and p is None and tot is not None:
                # normalize the (L, Ev) output rather than the (L, S) probabilities
                xp.matmul(s, _part(v, lo, hi, nb), out=o)
                o *= tot
                return
            if tot is not None:
                s *= tot
            if keep is None:
                xp.matmul(s, _part(v, lo, hi, nb), out=o)
                return
            dp = pd[lo:hi] if pd is not None else xp.empty_like(s)
            xp.multiply(s, _part(keep, lo, hi, nb), out=dp)
            dp *= ks
            xp.matmul(dp, _part(v, lo, hi, nb), out=o)

        _run_chunks(chunk, _plan(batch, n_q * n_k), xp)
        if pd is None:
            pd = p
        self.p = p if MODE.grad else None
        if not weights:
            pd = None
        if low:
            out = out.astype(dt)
            if pd is not None:
                pd = pd.astype(dt)
        return (out, pd) if weights else out

    def _release(self):
        self._released = True
        self._saved_in = None
        self._saved_out = None
        self.p = None
        self.lse = None

    def backward(self, g, *gw):
        q, k, v = self.saved_inputs[:3]
        if self.p is None and self.lse is not None and not MODE.grad:  # pragma: no cover - GPU
            # the flash forward kept only the log-sum-exp: rebuild P from it
            from ...cuda import _attention as _flash

            self.p = _flash.probs(
                xp_of(q._data), q._data, k._data, self.lse, self.scale, self.causal
            )
        if MODE.grad or self.p is None:
            return self._backward_graph(q, k, v, g, gw[0] if gw else None)
        needs = self.needs_input_grad
        xp = xp_of(g._data)
        qa, ka, va, ga = q._data, k._data, v._data, g._data
        dt = qa.dtype
        low = dt.kind == "V" or dt.itemsize == 2
        if low:
            qa, ka, va, ga = (a.astype(np.float32) for a in (qa, ka, va, ga))
        p = self.p
        keep = self.keep
        gwa = gw[0]._data.astype(p.dtype, copy=False) if gw and gw[0] is not None else None
        batch = p.shape[:-2]
        nb = len(batch)
        wdt = p.dtype
        gq = xp.empty(batch + qa.shape[-2:], dtype=wdt) if needs[0] else None
        gk = xp.empty(batch + ka.shape[-2:], dtype=wdt) if needs[1] else None
        gv = xp.empty(batch + va.shape[-2:], dtype=wdt) if needs[2] else None
        need_b = self.has_bias and needs[3]
        gb = xp.empty_like(p) if need_b else None
        sc = wdt.type(self.scale)
        ks = wdt.type(self.keep_scale)

        def chunk(lo, hi):
            def cut(a):
                return a[lo:hi] if (nb and a is not None) else a

            pc = cut(p)
            gc = _part(ga, lo, hi, nb)
            kc = None if keep is None else _part(keep, lo, hi, nb)
            if needs[2]:
                if kc is None:
                    xp.matmul(_swap(pc), gc, out=cut(gv))
                else:
                    xp.matmul(_swap(pc * kc * ks), gc, out=cut(gv))
            dp = xp.matmul(gc, _swap(_part(va, lo, hi, nb)))
            if gwa is not None:
                dp += _part(gwa, lo, hi, nb)
            if kc is not None:
                dp *= kc
                dp *= ks
            # dS = P * (dP - rowsum(dP * P))
            row = xp.einsum("...i,...i->...", dp, pc)
            dp -= row[..., None]
            dp *= pc
            if need_b:
                cut(gb)[...] = dp
            if needs[0]:
                o = cut(gq)
                xp.matmul(dp, _part(ka, lo, hi, nb), out=o)
                o *= sc
            if needs[1]:
                o = cut(gk)
                xp.matmul(_swap(dp), _part(qa, lo, hi, nb), out=o)
                o *= sc

        _run_chunks(chunk, _plan(batch, p.shape[-2] * p.shape[-1]), xp)
        res = [gq, gk, gv]
        if self.has_bias:
            res.append(gb)
        return tuple(
            None if a is None else wrap(a.astype(dt, copy=False) if low else a) for a in res
        )

    def _backward_graph(self, q, k, v, g, gw):
        """The same gradients in tocha ops on a recomputed P (differentiable: create_graph)."""
        from ..._ops.pointwise import softmax

        xp = xp_of(g._data)
        needs = self.needs_input_grad
        s = (q @ k.transpose(-2, -1)) * self.scale
        if self.has_bias:
            s = s + self.saved_inputs[3]
        if self.causal:
            s = s + wrap(_causal_bias(xp, s.shape[-2], s.shape[-1], s._data.dtype))
        p = softmax(s, -1)
        if self.safe:
            dead = xp.isneginf(s._data.max(axis=-1, keepdims=True))
            if dead.any():
                p = p * wrap((~dead).astype(s._data.dtype))
        if self.keep is not None:
            kp = wrap((self.keep * self.keep_scale).astype(s._data.dtype))
            pd = p * kp
        else:
            kp = None
            pd = p
        gv = pd.transpose(-2, -1) @ g if needs[2] else None
        dp = g @ v.transpose(-2, -1)
        if gw is not None:
            dp = dp + gw
        if kp is not None:
            dp = dp * kp
        ds = p * (dp - (dp * p).sum(-1, keepdim=True))
        gq = (ds @ k) * self.scale if needs[0] else None
        gk = (ds.transpose(-2, -1) @ q) * self.scale if needs[1] else None
        res = [gq, gk, gv]
        if self.has_bias:
            res.append(ds if needs[3] else None)
        return tuple(res)


def _dropout_keep(like: Tensor, p: float, shape):
    """A boolean keep-mask (True with probability 1 - p) from tocha's default generator."""
    from ..._ops.random import _impl_for

    u = _impl_for(None, like.device).uniform(tuple(shape), np.float32)
    keep = u >= np.float32(p)
    xp = like.xp
    return keep if xp is np else xp.asarray(keep)


def _attend(q, k, v, bias, scale, causal, dropout_p, safe, weights, layout=None):
    """Run the `Attention` node (dropout mask drawn here, over the scores' shape)."""
    keep = None
    keep_scale = 1.0
    if dropout_p > 0:
        shape = np.broadcast_shapes(
            tuple(q._data.shape[:-2]), tuple(k._data.shape[:-2]), tuple(v._data.shape[:-2])
        ) + (q._data.shape[-2], k._data.shape[-2])
        if bias is not None:
            shape = np.broadcast_shapes(shape, tuple(bias._data.shape))
        if dropout_p >= 1:
            keep = np.zeros(shape, dtype=bool)
            keep_scale = 0.0
            if q.xp is not np:  # pragma: no cover - GPU
                keep = q.xp.asarray(keep)
        else:
            keep = _dropout_keep(q, dropout_p, shape)
            keep_scale = 1.0 / (1.0 - dropout_p)
    ins = (q, k, v) if bias is None else (q, k, v, bias)
    return Attention.apply(
        *ins,
        scale=scale,
        causal=causal,
        keep=keep,
        keep_scale=keep_scale,
        safe=safe,
        weights=weights,
        layout=layout,
    )


def _dtype_word(t: Tensor) -> str:
    return {
        "float32": "float",
        "float64": "double",
        "float16": "c10::Half",
        "bfloat16": "c10::BFloat16",
        "int32": "int",
        "int64": "long int",
    }.get(t.dtype.name, t.dtype.name)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    *,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """``softmax(query @ key^T * scale + mask) @ value`` over the last two dims.

    Args:
        query: (..., L, E); key: (..., S, E); value: (..., S, Ev); leading dims broadcast.
        attn_mask: a boolean mask (True = may attend) or a float mask added to the scores,
            broadcastable to (..., L, S).
        dropout_p: dropout on the attention probabilities (applied whenever > 0, as torch).
        is_causal: mask query i from keys j > i (top-left aligned); excludes ``attn_mask``.
        scale: the score scale; ``1 / sqrt(E)`` by default.
        enable_gqa: grouped-query attention: key/value heads (dim -3) are repeated to match
            query's.

    Rows whose keys are all masked give zeros (and zero gradients), not NaN.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> q = torch.zeros(1, 2, 2)  # equal scores: a causal average of the values
        >>> v = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
        >>> F.scaled_dot_product_attention(q, q, v, is_causal=True)
        tensor([[[1., 2.],
                 [2., 3.]]])
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"scaled_dot_product_attention(): argument '{name}' must be Tensor, not "
                f"{type(t).__name__}"
            )
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{_dtype_word(query)} key.dtype: {_dtype_word(key)} and value.dtype: "
            f"{_dtype_word(value)} instead."
        )
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(
            "Expected query, key, and value to all be  at least 2 dimensional, but got "
            f"query.dim: {query.dim()} key.dim: {key.dim()} and value.dim: {value.dim()} "
            "instead."
        )
    if not query.is_floating_point():
        raise RuntimeError(
            f"scaled_dot_product_attention: expected a floating point query, got {query.dtype}"
        )
    e = query.shape[-1]
    if key.shape[-1] != e:
        n = int(np.prod(np.broadcast_shapes(tuple(query.shape[:-2]), tuple(key.shape[:-2]))))
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{n}, {e}] but got: [{n}, {key.shape[-1]}]."
        )
    if value.shape[-2] != key.shape[-2]:
        n = int(np.prod(np.broadcast_shapes(tuple(query.shape[:-2]), tuple(value.shape[:-2]))))
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{n}, {key.shape[-2]}] but got: [{n}, {value.shape[-2]}]."
        )
    if is_causal and attn_mask is not None:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
            "is_causal=True"
        )
    if enable_gqa and query.dim() >= 3 and key.dim() >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hq % hk or hq % hv:
            raise RuntimeError(
                "Number of heads in key and value must divide the number of heads in query"
            )
        if hk != hq:
            key = key.repeat_interleave(hq // hk, -3)
        if hv != hq:
            value = value.repeat_interleave(hq // hv, -3)
    sc = 1.0 / math.sqrt(e) if scale is None else float(scale)
    bias = None
    if attn_mask is not None:
        if attn_mask.dtype == _dtype.bool:
            xp = query.xp
            bias = wrap(xp.where(attn_mask._data, 0, -np.inf).astype(query._data.dtype, copy=False))
        else:
            bias = attn_mask
            if bias.dtype != query.dtype:
                bias = bias.to(query.dtype)
        lq, lk = query.shape[-2], key.shape[-2]
        try:
            np.broadcast_shapes(tuple(bias.shape), (lq, lk))
        except ValueError:
            shape = tuple(bias.shape)
            dim = len(shape) - 1 if shape[-1] != lk else len(shape) - 2
            a, b = (lk, shape[-1]) if shape[-1] != lk else (lq, shape[-2])
            raise RuntimeError(
                f"The size of tensor a ({b}) must match the size of tensor b ({a}) at "
                f"non-singleton dimension {dim}"
            ) from None
    return _attend(query, key, value, bias, sc, bool(is_causal), dropout_p, True, False)


# --- multi-head attention ---------------------------------------------------------------------
def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                f"{key.dim()}-D and {value.dim()}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but "
                f"found {key_padding_mask.dim()}-D tensor instead"
            )
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
                f"found {attn_mask.dim()}-D tensor instead"
            )
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                f"{key.dim()}-D and {value.dim()}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D "
                f"but found {key_padding_mask.dim()}-D tensor instead"
            )
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError(
                    "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                    f"but found {attn_mask.dim()}-D tensor instead"
                )
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(
                        f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}"
                    )
        return False
    raise AssertionError(
        "query should be unbatched 2D or batched 3D tensor but received "
        f"{query.dim()}-D query tensor"
    )


def _canonical_mask(mask, mask_name, other_type, other_name, target_dtype, check_other=True):
    """A float mask (bool True -> -inf, i.e. 'may not attend'); float masks pass through."""
    if mask is None:
        return None
    is_float = mask.is_floating_point()
    if mask.dtype != _dtype.bool and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(
            f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type "
            "for both instead.",
            stacklevel=3,
        )
    if not is_float:
        xp = mask.xp
        return wrap(xp.where(mask._data, -np.inf, 0).astype(target_dtype.np, copy=False))
    return mask


def _pad_last(mask: Tensor | None) -> Tensor | None:
    """A zero column appended to a float mask (what torch's pad(mask, (0, 1)) gives)."""
    if mask is None:
        return None
    from ..._ops.creation import zeros
    from ..._ops.shape import cat

    z = zeros(tuple(mask.shape[:-1]) + (1,), dtype=mask.dtype, device=mask.device)
    return cat([mask, z], -1)


def _heads(t: Tensor, length: int, bsz: int, num_heads: int, head_dim: int, bf: bool):
    """(L, B, E) or (B, L, E) rows -> a (B, H, L, head_dim) view."""
    if bf:
        return t.reshape(bsz, length, num_heads, head_dim).permute(0, 2, 1, 3)
    return t.reshape(length, bsz, num_heads, head_dim).permute(1, 2, 0, 3)


def _mha(
    query,
    key,
    value,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training,
    key_padding_mask,
    need_weights,
    attn_mask,
    use_separate_proj_weight,
    q_proj_weight,
    k_proj_weight,
    v_proj_weight,
    static_k,
    static_v,
    average_attn_weights,
    is_causal,
    embed_dim_to_check,
    batch_first,
):
    """multi_head_attention_forward on batched 3-D inputs, laid out (B, L, E) when
    ``batch_first`` else (L, B, E); returns the output in the same layout and the weights."""
    from ..._ops.creation import zeros
    from ..._ops.shape import cat

    bf = batch_first
    if bf:
        bsz, tgt_len, embed_dim = query.shape
        src_len = key.shape[1]
    else:
        tgt_len, bsz, embed_dim = query.shape
        src_len = key.shape[0]
    key_padding_mask = _canonical_mask(
        key_padding_mask,
        "key_padding_mask",
        None if attn_mask is None else attn_mask.dtype,
        "attn_mask",
        query.dtype,
    )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
            "module method `generate_square_subsequent_mask` to create this mask."
        )
    # is_causal is only a hint that attn_mask is causal: the mask itself is applied
    attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        kb, vb = (key.shape[:2], value.shape[:2])
        if tuple(kb) != tuple(vb):
            raise AssertionError(f"key's sequence and batch dims {kb} do not match value's {vb}")
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")

    # input projections: one GEMM for self-attention, two when key is value
    e = embed_dim
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        if query is key and key is value:
            proj = _Y.linear(query, in_proj_weight, in_proj_bias)
            q, k, v = proj[..., :e], proj[..., e : 2 * e], proj[..., 2 * e :]
        else:
            bq = bkv = None
            if in_proj_bias is not None:
                bq, bkv = in_proj_bias[:e], in_proj_bias[e:]
            q = _Y.linear(query, in_proj_weight[:e], bq)
            if key is value:
                kv = _Y.linear(key, in_proj_weight[e:], bkv)
                k, v = kv[..., :e], kv[..., e:]
            else:
                bk = bv = None
                if bkv is not None:
                    bk, bv = bkv[:e], bkv[e:]
                k = _Y.linear(key, in_proj_weight[e : 2 * e], bk)
                v = _Y.linear(value, in_proj_weight[2 * e :], bv)
    else:
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(
                    f"use_separate_proj_weight is True but {name}_proj_weight is None"
                )
        bq = bk = bv = None
        if in_proj_bias is not None:
            bq, bk, bv = in_proj_bias[:e], in_proj_bias[e : 2 * e], in_proj_bias[2 * e :]
        q = _Y.linear(query, q_proj_weight, bq)
        k = _Y.linear(key, k_proj_weight, bk)
        v = _Y.linear(value, v_proj_weight, bv)

    # masks: (L, S) or (B * H, L, S) -> broadcastable to (B, H, L, S)
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                    f"{(tgt_len, src_len)}."
                )
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                    f"{(bsz * num_heads, tgt_len, src_len)}."
                )
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    qh = _heads(q, tgt_len, bsz, num_heads, head_dim, bf)
    if static_k is None:
        kh = _heads(k, src_len, bsz, num_heads, head_dim, bf)
    if static_v is None:
        vh = _heads(v, src_len, bsz, num_heads, head_dim, bf)

    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        bk4 = bias_k.reshape(1, num_heads, 1, head_dim).expand(bsz, num_heads, 1, head_dim)
        bv4 = bias_v.reshape(1, num_heads, 1, head_dim).expand(bsz, num_heads, 1, head_dim)
        kh = cat([kh, bk4], 2)
        vh = cat([vh, bv4], 2)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k and bias_v must both be given or both be None")

    if static_k is not None:
        if static_k.size(0) != bsz * num_heads:
            raise AssertionError(
                f"expecting static_k.size(0) of {bsz * num_heads}, but got {static_k.size(0)}"
            )
        if static_k.size(2) != head_dim:
            raise AssertionError(
                f"expecting static_k.size(2) of {head_dim}, but got {static_k.size(2)}"
            )
        kh = static_k.reshape(bsz, num_heads, static_k.size(1), head_dim)
    if static_v is not None:
        if static_v.size(0) != bsz * num_heads:
            raise AssertionError(
                f"expecting static_v.size(0) of {bsz * num_heads}, but got {static_v.size(0)}"
            )
        if static_v.size(2) != head_dim:
            raise AssertionError(
                f"expecting static_v.size(2) of {head_dim}, but got {static_v.size(2)}"
            )
        vh = static_v.reshape(bsz, num_heads, static_v.size(1), head_dim)

    if add_zero_attn:
        z = zeros((bsz, num_heads, 1, head_dim), dtype=kh.dtype, device=kh.device)
        kh = cat([kh, z], 2)
        vh = cat([vh, z], 2)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)

    src_len = kh.shape[2]
    bias = None
    if attn_mask is not None:
        bias = (
            attn_mask
            if attn_mask.dim() == 2
            else attn_mask.reshape(bsz, num_heads, tgt_len, src_len)
        )
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(
                f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                f"{key_padding_mask.shape}"
            )
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len)
        bias = kpm if bias is None else bias + kpm

    if not training:
        dropout_p = 0.0
    scale = 1.0 / math.sqrt(head_dim)
    # the output (B, H, L, hd) is laid out in memory as (B, L, H, hd) (batch_first) or
    # (L, B, H, hd), so the permute back to rows below is a view and the reshape free
    order = (0, 2, 1, 3) if bf else (2, 0, 1, 3)
    res = _attend(qh, kh, vh, bias, scale, False, dropout_p, not need_weights, need_weights, order)
    out, w = res if need_weights else (res, None)
    # (B, H, L, hd) -> rows in the input layout, then the output projection
    out = out.permute(*order)
    out = out.reshape(tuple(out.shape[:2]) + (embed_dim,))
    out = _Y.linear(out, out_proj_weight, out_proj_bias)
    if w is not None and average_attn_weights:
        w = w.mean(dim=1)
    return out, w


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention on sequence-first inputs (L, N, E) (or unbatched (L, E)).

    Masks: ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N * num_heads, L, S),
    boolean (True = may NOT attend) or float (added to the scores). Returns the output
    (L, N, E) and, with ``need_weights``, the attention weights (N, L, S), or (N, num_heads,
    L, S) when ``average_attn_weights`` is False.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> x = torch.randn(3, 2, 4)
        >>> w, b = torch.randn(12, 4), torch.zeros(12)
        >>> out, attn = F.multi_head_attention_forward(
        ...     x, x, x, 4, 2, w, b, None, None, False, 0.0, torch.randn(4, 4), None)
        >>> out.shape, attn.shape
        (torch.Size([3, 2, 4]), torch.Size([2, 3, 3]))
    """
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        same_qk, same_kv = query is key, key is value
        query = query.unsqueeze(1)
        key = query if same_qk else key.unsqueeze(1)
        value = key if same_kv else value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    out, w = _mha(
        query,
        key,
        value,
        num_heads,
        in_proj_weight,
        in_proj_bias,
        bias_k,
        bias_v,
        add_zero_attn,
        dropout_p,
        out_proj_weight,
        out_proj_bias,
        training,
        key_padding_mask,
        need_weights,
        attn_mask,
        use_separate_proj_weight,
        q_proj_weight,
        k_proj_weight,
        v_proj_weight,
        static_k,
        static_v,
        average_attn_weights,
        is_causal,
        embed_dim_to_check,
        False,
    )
    if not is_batched:
        out = out.squeeze(1)
        if w is not None:
            w = w.squeeze(0)
    return out, w
