"""Layer kernels as fused nodes: linear (one GEMM plus an in-place bias add), embedding and
embedding_bag (gather forward, sparse-matrix scatter backward), and dropout's masked scale.

linear as ``matmul(x, w.t()) + b`` records three nodes and allocates the product and the sum
separately; the node here writes the bias into the GEMM's output and, backward, gets the three
gradients from two GEMMs and a column sum. The embedding gradient is a scatter-add of rows;
NumPy's ``add.at`` does it one row at a time, while a (num_embeddings x n) 0/1 sparse matrix
times the gradient does it in compiled code, ~5x faster.
"""

from __future__ import annotations

import numpy as np

from .. import _blas
from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ..autograd.grad_mode import MODE
from ._nnkernel import low_precision
from ._util import xp_of

_ndarray = np.ndarray


def _cuda_ok(dtype) -> bool:
    """Whether tocha's embedding kernels (cuda/_embedding.py) take ``dtype``."""
    from ..cuda import _embedding

    return _embedding.supported(dtype)


def _mm(a, b):
    """``a @ b`` for raw 2-D arrays; half and bfloat16 go through float32 (no BLAS for them)."""
    if low_precision(a.dtype):
        return _blas.matmul(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
    return _blas.matmul(a, b)


class Linear(Node):
    """``x @ w.T + b`` for x of shape (*, in), w (out, in), b (out,)."""

    save_inputs = (0, 1)

    def name(self):  # torch's node for a 2-D linear
        return "AddmmBackward0" if self.has_b else "MmBackward0"

    def forward(self, x, w, *b):
        self.has_b = bool(b)
        if x.ndim == 1:
            y = _mm(w, x)
        else:
            x2 = x.reshape(-1, x.shape[-1])
            if b and b[0].ndim == 1 and b[0].dtype is x2.dtype and not low_precision(x2.dtype):
                # the bias accumulated by the GEMM itself (no second pass over the output)
                y = _blas.matmul(x2, w.T, bias=b[0])
                return y.reshape(x.shape[:-1] + (w.shape[0],))
            y = _mm(x2, w.T)
            y = y.reshape(x.shape[:-1] + (w.shape[0],))
        if b:
            if y.flags.writeable and y.dtype == b[0].dtype:
                y += b[0]
            else:
                y = y + b[0]
        return y

    def backward(self, g):
        x, w = self.saved_inputs
        needs = self.needs_input_grad
        if MODE.grad:
            gx = gw = gb = None
            if x._data.ndim == 1:
                if needs[0]:
                    gx = g @ w
                if needs[1]:
                    gw = g.unsqueeze(1) * x.unsqueeze(0)
                if self.has_b and needs[2]:
                    gb = g
            else:
                k = x._data.shape[-1]
                g2 = g.reshape(-1, g._data.shape[-1])
                if needs[0]:
                    gx = g @ w
                if needs[1]:
                    gw = g2.t() @ x.reshape(-1, k)
                if self.has_b and needs[2]:
                    gb = g2.sum(0)
            return (gx, gw, gb) if self.has_b else (gx, gw)
        xa, wa, ga = x._data, w._data, g._data
        res = [None, None]
        if xa.ndim == 1:
            if needs[0]:
                res[0] = wrap(_mm(ga[None, :], wa)[0])
            if needs[1]:
                res[1] = wrap(xp_of(ga).outer(ga, xa).astype(wa.dtype, copy=False))
            if self.has_b:
                res.append(wrap(ga) if needs[2] else None)
            return tuple(res)
        g2 = ga.reshape(-1, ga.shape[-1])
        x2 = xa.reshape(-1, xa.shape[-1])
        if needs[0] and needs[1] and not low_precision(g2.dtype):
            # the two products side by side, one per thread (_blas.matmul_pair)
            gx, gw = _blas.matmul_pair(g2, wa, g2.T, x2)
            res[0], res[1] = wrap(gx.reshape(xa.shape)), wrap(gw)
        else:
            if needs[0]:
                res[0] = wrap(_mm(g2, wa).reshape(xa.shape))
            if needs[1]:
                res[1] = wrap(_mm(g2.T, x2))
        if self.has_b:
            if needs[2]:
                if low_precision(g2.dtype):
                    gb = g2.astype(np.float32).sum(0).astype(g2.dtype)
                else:
                    gb = g2.sum(0)
                res.append(wrap(gb))
            else:
                res.append(None)
        return tuple(res)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``."""
    xa, wa = input._data, weight._data
    if wa.ndim == 1:  # torch accepts a 1-D weight: a dot product over the last dim
        res = (input * weight).sum(-1)
        return res + bias if bias is not None else res
    if wa.ndim != 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {wa.ndim}D")
    if xa.ndim == 0:
        raise RuntimeError(
            "both arguments to linear need to be at least 1D, but they are 0D and 2D"
        )
    k = xa.shape[-1]
    if k != wa.shape[1]:
        rows = xa.size // k if xa.ndim > 1 and k else (1 if xa.ndim == 1 else 0)
        if xa.ndim == 1:
            raise RuntimeError(
                f"size mismatch, got input ({xa.shape[0]}), mat ({wa.shape[0]}x{wa.shape[1]}), "
                f"vec ({xa.shape[0]})"
            )
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and "
            f"{wa.shape[1]}x{wa.shape[0]})"
        )
    if xa.dtype != wa.dtype:
        from ._util import type_name

        raise RuntimeError(
            f"mat1 and mat2 must have the same dtype, but got {type_name(xa)} and {type_name(wa)}"
        )
    if bias is None:
        return Linear.apply(input, weight)
    ba = bias._data
    if ba.dtype != xa.dtype or ba.shape != (wa.shape[0],):
        from ._util import broadcast_error

        out_shape = xa.shape[:-1] + (wa.shape[0],)
        try:
            np.broadcast_shapes(ba.shape, out_shape)
        except ValueError:
            raise broadcast_error("linear", out_shape, ba.shape) from None
        return Linear.apply(input, weight) + bias
    return Linear.apply(input, weight, bias)


# --- embedding --------------------------------------------------------------------------------
def scatter_rows(xp, num: int, idx, rows, counts_scale=None):
    """``out[idx[i]] += rows[i]`` into a fresh (num, D) array (rows (n, D), idx (n,))."""
    n = idx.shape[0]
    d = rows.shape[1]
    dt = rows.dtype
    if xp is not np and _cuda_ok(dt):  # pragma: no cover - GPU
        from ..cuda import _embedding

        return _embedding.backward(rows, idx, num, counts_scale)
    if xp is np and n and not low_precision(dt):
        import scipy.sparse as sps

        vals = np.ones(n, dtype=dt) if counts_scale is None else counts_scale.astype(dt)
        s = sps.csr_matrix((vals, (idx, np.arange(n))), shape=(num, n))
        return np.asarray(s @ rows).astype(dt, copy=False)
    work = rows.astype(np.float32) if low_precision(dt) else rows
    if counts_scale is not None:
        work = work * counts_scale[:, None].astype(work.dtype)
    out = xp.zeros((num, d), dtype=work.dtype)
    if n:
        if xp is np:
            np.add.at(out, idx, work)
        else:  # pragma: no cover - GPU
            import cupyx

            cupyx.scatter_add(out, idx, work)
    return out.astype(dt, copy=False)


class Embedding(Node):
    """``weight[idx]``; the gradient scatters rows back (``padding_idx`` rows get none)."""

    def forward(self, w, idx=None, padding_idx=None, scale_grad_by_freq=False):
        xp = xp_of(w)
        self.idx, self.padding_idx, self.freq = idx, padding_idx, scale_grad_by_freq
        self.num = w.shape[0]
        if xp is not np and w.ndim == 2 and _cuda_ok(w.dtype):  # pragma: no cover - GPU
            from ..cuda import _embedding

            return _embedding.forward(w, idx)
        return xp.take(w, idx, axis=0)

    def _row_scale(self, xp, flat):
        scale = None
        if self.freq:
            counts = xp.bincount(flat, minlength=self.num)
            scale = 1.0 / counts[flat]
        if self.padding_idx is not None:
            keep = (flat != self.padding_idx).astype(np.float64)
            scale = keep if scale is None else scale * keep
        return scale

    def backward(self, g):
        xp = xp_of(g._data)
        flat = self.idx.reshape(-1)
        d = g._data.shape[-1]
        scale = self._row_scale(xp, flat)
        if MODE.grad:
            from .creation import zeros

            g2 = g.reshape(-1, d)
            if scale is not None:
                g2 = g2 * wrap(xp.asarray(scale, dtype=g._data.dtype)).unsqueeze(1)
            z = zeros((self.num, d), dtype=g.dtype, device=g.device)
            return z.index_add(0, wrap(flat), g2)
        rows = g._data.reshape(-1, d)
        return wrap(scatter_rows(xp, self.num, flat, rows, scale))


def embedding_lookup(weight: Tensor, idx, padding_idx=None, scale_grad_by_freq=False):
    """``weight[idx]`` for a raw int array ``idx`` (the node behind ``F.embedding``)."""
    return Embedding.apply(
        weight, idx=idx, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq
    )


class BagReduce(Node):
    """Sums (or means) of gathered rows over contiguous bags: ``out = S @ rows`` for a sparse
    (bags x n) matrix ``S`` of per-sample weights; inputs ``(rows[, per_sample_weights])``."""

    save_inputs = (0,)

    def forward(self, rows, *psw, seg=None, coef=None, nbags=0):
        xp = xp_of(rows)
        self.seg, self.coef, self.nbags = seg, coef, nbags
        self.has_psw = bool(psw)
        c = coef if not psw else coef * psw[0].astype(coef.dtype)
        self.c = c
        return _seg_matmul(xp, seg, c, rows, nbags)

    def backward(self, g):
        needs = self.needs_input_grad
        (rows,) = self.saved_inputs
        xp = xp_of(g._data)
        seg = self.seg
        if MODE.grad:
            c = wrap(xp.asarray(self.c, dtype=g._data.dtype)).unsqueeze(1)
            gsel = g[wrap(seg)]
            gr = gsel * c if needs[0] else None
            gp = None
            if self.has_psw and needs[1]:
                gp = (gsel * rows).sum(1) * wrap(xp.asarray(self.coef, dtype=g._data.dtype))
            return (gr, gp) if self.has_psw else (gr,)
        ga = g._data
        if xp is not np and not self.has_psw and _cuda_ok(ga.dtype):  # pragma: no cover - GPU
            from ..cuda import _embedding

            return (wrap(_embedding.bag_rows_backward(ga, seg, self.c)) if needs[0] else None,)
        gsel = xp.take(ga, seg, axis=0)
        res = [
            wrap((gsel * self.c[:, None].astype(ga.dtype)).astype(ga.dtype)) if needs[0] else None
        ]
        if self.has_psw:
            if needs[1]:
                gp = xp.einsum("nd,nd->n", gsel, rows._data) * self.coef.astype(ga.dtype)
                res.append(wrap(gp.astype(ga.dtype, copy=False)))
            else:
                res.append(None)
        return tuple(res)


def _seg_matmul(xp, seg, c, rows, nbags):
    n, d = rows.shape
    dt = rows.dtype
    if xp is not np and _cuda_ok(dt):  # pragma: no cover - GPU
        from ..cuda import _embedding

        return _embedding.bag_sum(rows, c, _embedding.offsets_from_seg(xp, seg, nbags), nbags)
    if xp is np and not low_precision(dt):
        import scipy.sparse as sps

        s = sps.csr_matrix((c.astype(dt), (seg, np.arange(n))), shape=(nbags, n))
        return np.asarray(s @ rows).astype(dt, copy=False)
    work = rows.astype(np.float32) if low_precision(dt) else rows
    out = xp.zeros((nbags, d), dtype=work.dtype)
    if n:
        vals = work * c[:, None].astype(work.dtype)
        if xp is np:
            np.add.at(out, seg, vals)
        else:  # pragma: no cover - GPU
            import cupyx

            cupyx.scatter_add(out, seg, vals)
    return out.astype(dt, copy=False)


class BagMax(Node):
    """Per-dim maximum of gathered rows over contiguous bags (empty bags give 0)."""

    def forward(self, rows, starts=None, nonempty=None, nbags=0, keep=None):
        xp = xp_of(rows)
        if xp is not np and _cuda_ok(rows.dtype):  # pragma: no cover - GPU
            from ..cuda import _embedding

            off = _embedding.offsets_from_starts(xp, starts, rows.shape[0])
            out, self.pos = _embedding.bag_max(rows, keep, off, nbags)
            self.n = rows.shape[0]
            return out
        if xp is not np:  # CuPy has no ufunc.reduceat: reduce on the host, then move back
            host = [
                None if a is None else (a.get() if hasattr(a, "get") else a)
                for a in (rows, starts, nonempty, keep)
            ]
            out = self.forward(
                *host[:1], starts=host[1], nonempty=host[2], nbags=nbags, keep=host[3]
            )
            self.pos = xp.asarray(self.pos)
            return xp.asarray(out)
        n, d = rows.shape
        out = xp.zeros((nbags, d), dtype=rows.dtype)
        pos = xp.full((nbags, d), -1, dtype=np.int64)
        if n and nonempty.any():
            # torch's rule per bag and dim: the first kept row starts the max (a NaN or -inf
            # there too) and only a strictly larger value replaces it (a later NaN never does)
            st = starts[nonempty]
            lens = _seg_lengths(st, n)
            kept = np.ones(n, bool) if keep is None else keep
            work = xp.where(kept[:, None], rows, xp.nan)  # fmax skips the padding rows
            first = xp.minimum.reduceat(xp.where(kept, xp.arange(n), n), st)  # first kept row
            has = first < n  # bags with no kept row stay 0 / -1
            start = rows[xp.minimum(first, n - 1)]
            mx = xp.where(xp.isnan(start), start, xp.fmax.reduceat(work, st, axis=0))
            hit = (work == xp.repeat(mx, lens, axis=0)) & kept[:, None]
            at = xp.minimum.reduceat(xp.where(hit, xp.arange(n)[:, None], n), st, axis=0)
            at = xp.where(at < n, at, first[:, None])  # a NaN max: the first kept row
            out[nonempty] = xp.where(has[:, None], mx, 0)
            pos[nonempty] = xp.where(has[:, None], at, -1)
        self.pos, self.n = pos, n
        return out

    def backward(self, g):
        xp = xp_of(g._data)
        pos = self.pos
        d = pos.shape[1]
        valid = pos >= 0
        b_idx, d_idx = xp.nonzero(valid)
        r_idx = pos[valid]
        if MODE.grad:
            from .creation import zeros
            from .index import index_put

            z = zeros((self.n, d), dtype=g.dtype, device=g.device)
            vals = g[wrap(b_idx), wrap(d_idx)]
            return index_put(z, (wrap(r_idx), wrap(d_idx)), vals, accumulate=True)
        out = xp.zeros((self.n, d), dtype=g._data.dtype)
        out[r_idx, d_idx] = g._data[b_idx, d_idx]
        return wrap(out)


def _seg_lengths(starts, n):
    ends = np.append(starts[1:], n) if starts.__class__ is _ndarray else None
    if ends is None:  # pragma: no cover - GPU
        xp = xp_of(starts)
        ends = xp.concatenate([starts[1:], xp.asarray([n])])
    return ends - starts


# --- dropout ----------------------------------------------------------------------------------
class MaskScale(Node):
    """``x * mask * scale`` for a constant boolean ``mask`` broadcastable to ``x``."""

    def forward(self, x, mask=None, scale=1.0):
        self.mask, self.scale = mask, scale
        out = x * mask
        if scale != 1:
            out *= x.dtype.type(scale) if x.dtype.kind == "V" else scale
        return out.astype(x.dtype, copy=False)

    def backward(self, g):
        if MODE.grad:
            return g * wrap(self.mask) * self.scale
        ga = g._data
        out = ga * self.mask
        if self.scale != 1:
            out *= ga.dtype.type(self.scale) if ga.dtype.kind == "V" else self.scale
        return wrap(out.astype(ga.dtype, copy=False))


class AffineNoise(Node):
    """``x * a + b`` for constant arrays ``a`` and ``b`` broadcastable to ``x``."""

    def forward(self, x, a=None, b=None):
        self.a = a
        return (x * a + b).astype(x.dtype, copy=False)

    def backward(self, g):
        if MODE.grad:
            return g * wrap(self.a)
        return wrap((g._data * self.a).astype(g._data.dtype, copy=False))


# --- torch.<name> forms of the layer functions (torch's top-level signatures) -----------------
def _F():
    from ..nn import functional  # the layer above; imported on first use

    return functional


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None):
    """``torch.bilinear``: see ``torch.nn.functional.bilinear``."""
    return _F().bilinear(input1, input2, weight, bias)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``torch.cosine_similarity``: see ``torch.nn.functional.cosine_similarity``."""
    return _F().cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """``torch.pairwise_distance``: see ``torch.nn.functional.pairwise_distance``."""
    return _F().pairwise_distance(x1, x2, p, eps, keepdim)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """``torch.pdist``: see ``torch.nn.functional.pdist``."""
    return _F().pdist(input, p)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``torch.prelu``: see ``torch.nn.functional.prelu``."""
    return _F().prelu(input, weight)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training=False):
    """``torch.rrelu``: see ``torch.nn.functional.rrelu``."""
    return _F().rrelu(input, lower, upper, training)


def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """``torch.dropout(input, p, train)``: see ``torch.nn.functional.dropout``."""
    return _F().dropout(input, p, train)


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """``torch.alpha_dropout(input, p, train)``."""
    return _F().alpha_dropout(input, p, train)


def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """``torch.feature_alpha_dropout(input, p, train)``."""
    return _F().feature_alpha_dropout(input, p, train)


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """``torch.feature_dropout(input, p, train)``: whole channels (dim 1) of a batch."""
    from ..nn.functional._dropout import _check_p, _dropout, _feature_shape

    _check_p(p)
    if not train or p == 0:
        return input
    return _dropout(input, p, _feature_shape(input._data.shape, True), False)


def embedding(
    weight: Tensor,
    indices: Tensor,
    padding_idx: int = -1,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """``torch.embedding(weight, indices, ...)`` (``padding_idx=-1`` means none here)."""
    return _F().embedding(
        indices,
        weight,
        None if padding_idx == -1 else padding_idx,
        None,
        2.0,
        scale_grad_by_freq,
        sparse,
    )


FUNCTIONS: list = [
    "bilinear",
    "cosine_similarity",
    "pairwise_distance",
    "pdist",
    "prelu",
    "rrelu",
    "dropout",
    "alpha_dropout",
    "feature_alpha_dropout",
    "feature_dropout",
    "embedding",
]
TENSOR_METHODS: dict = {}
INPLACE: dict = {}
