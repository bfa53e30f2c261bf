"""Pooling, padding and resampling as nodes: max pooling with argmax indices and its scatter /
gather adjoints (also max_unpool), separable linear resampling (average and adaptive-average
pooling, linear/bilinear/bicubic/trilinear/area/nearest interpolation, antialiasing, reflect /
replicate / circular padding) and constant padding.

Separable linear maps: every one of these ops acts on each spatial axis independently with a
fixed (n_in x n_out) matrix, so one node ``Resample`` applies a list of per-axis maps and its
backward is the same node with the transposed maps (in reverse order): gradients are
differentiable to any order for free. A map is either a gather (an index per output: nearest
interpolation and the non-constant paddings, applied with ``take``) or a weight matrix (applied
with one GEMM on the axis; CSR sparse when the axis is long, where a dense matrix would waste
work on zeros).

Max pooling reads the windows through strided slices of the (-inf padded) input: the maximum
is a running ``maximum`` over the kernel offsets and the argmax a second sweep that keeps the
first offset attaining it (torch's choice for ties; for NaN windows the last NaN, as torch). Its backward
scatters the gradient to the argmax positions (``IndexScatter``), whose own backward gathers
(``IndexGather``): another adjoint pair.
"""

from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor
from ..autograd.function import Node
from . import _pool_native
from ._nnkernel import low_precision
from ._util import xp_of

__all__ = [
    "AxisMap",
    "Resample",
    "ConstantPad",
    "ZeroGradLink",
    "GlobalAvgPool",
    "MaxPool",
    "IndexScatter",
    "IndexGather",
    "FractionalMaxPool",
    "MaxPoolValues",
    "SlotScatter",
    "resample",
    "max_pool_nd",
    "constant_pad",
]

TENSOR_METHODS: dict = {}
INPLACE: dict = {}

_ndarray = np.ndarray
_DENSE_MAX_IN = 96  # axis length up to which a dense matrix (one GEMM) beats a sparse one


# --- separable linear maps ----------------------------------------------------------------------
class AxisMap:
    """A linear map along one axis, from ``n_in`` to ``n_out`` elements.

    Either a gather (``idx``: for each output the input it copies) or a weight matrix ``w``
    (n_in, n_out), float64, applied in the array's dtype.
    """

    __slots__ = ("n_in", "n_out", "idx", "w", "_cache", "_t")

    def __init__(self, n_in: int, n_out: int, idx=None, w=None):
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.idx = None if idx is None else np.asarray(idx, dtype=np.int64)
        self.w = w
        self._cache = {}
        self._t = None

    def matrix(self) -> np.ndarray:
        if self.w is None:
            w = np.zeros((self.n_in, self.n_out))
            w[self.idx, np.arange(self.n_out)] = 1.0
            self.w = w
        return self.w

    @property
    def T(self) -> AxisMap:  # noqa: N802 - the adjoint, as for arrays
        if self._t is None:
            t = AxisMap(self.n_out, self.n_in, w=self.matrix().T)
            t._t = self
            self._t = t
        return self._t

    def is_identity(self) -> bool:
        return (
            self.idx is not None
            and self.n_in == self.n_out
            and bool((self.idx == np.arange(self.n_out)).all())
        )

    def operand(self, xp, dt):
        """The matrix in the form ``apply`` uses: (kind, data), cached per backend/dtype."""
        key = (xp.__name__, dt.str)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if self.idx is not None:
            hit = ("take", xp.asarray(self.idx))
        elif self.n_in <= _DENSE_MAX_IN or xp is not np:
            hit = ("dense", xp.asarray(np.ascontiguousarray(self.w), dtype=dt))
        else:
            import scipy.sparse as sps

            # y = x @ W along the axis is (W^T @ x^T)^T: keep W^T as CSR
            hit = ("sparse", sps.csr_matrix(self.w.T.astype(dt)))
        self._cache[key] = hit
        return hit


def _apply_axis(x, axis: int, amap: AxisMap):
    xp = xp_of(x)
    kind, op = amap.operand(xp, x.dtype)
    if kind == "take":
        return xp.take(x, op, axis=axis)
    shape = x.shape
    n_in = shape[axis]
    a = _prod(shape[:axis])
    b = _prod(shape[axis + 1 :])
    out_shape = shape[:axis] + (amap.n_out,) + shape[axis + 1 :]
    if kind == "dense":
        if b == 1:
            y = x.reshape(a, n_in) @ op
        elif a == 1:
            y = op.T @ x.reshape(n_in, b)
        elif b >= 32:
            # (n_out x n_in) @ (a, n_in, b): one GEMM per leading index
            y = xp.matmul(op.T, x.reshape(a, n_in, b))
        else:
            # short trailing rows: move the axis last for one large GEMM (many tiny GEMMs
            # cost more than the two transposing copies)
            xt = x.reshape(a, n_in, b).transpose(0, 2, 1).reshape(a * b, n_in)
            y = (xt @ op).reshape(a, b, amap.n_out).transpose(0, 2, 1)
            y = xp.ascontiguousarray(y)
        return y.reshape(out_shape)
    # sparse (CPU, long axes): rows of the axis first, one sparse-dense product
    xt = np.moveaxis(x.reshape(a, n_in, b), 1, 0).reshape(n_in, a * b)
    y = op @ xt  # (n_out, a*b)
    y = np.asarray(y).reshape(amap.n_out, a, b)
    return np.ascontiguousarray(np.moveaxis(y, 0, 1)).reshape(out_shape)


def _prod(t) -> int:
    r = 1
    for v in t:
        r *= int(v)
    return r


def resample_array(x, maps):
    if x.__class__ is not _ndarray:  # CuPy: one window-pooling kernel (None: not covered)
        from ..cuda import _pool as _cuda_pool

        y = _cuda_pool.resample(x, maps)
        if y is not None:
            return y
    dt = x.dtype
    work = x.astype(np.float32) if low_precision(dt) else x
    for axis, m in maps:
        if not m.is_identity():
            work = _apply_axis(work, axis, m)
    if work is x:
        work = work.copy()
    return work.astype(dt, copy=False)


class Resample(Node):
    """``x`` mapped along some of its axes by fixed linear maps ``((axis, AxisMap), ...)``."""

    def name(self) -> str:
        return self.__dict__.get("_name", "ResampleBackward0")

    def forward(self, x, *, maps, node_name=None):
        self.maps = maps
        if node_name is not None:
            self._name = node_name
        return resample_array(x, maps)

    def backward(self, g):
        maps = tuple((axis, m.T) for axis, m in reversed(self.maps))
        return Resample.apply(g, maps=maps, node_name=self.__dict__.get("_name"))


def resample(x: Tensor, maps, node_name: str | None = None) -> Tensor:
    return Resample.apply(x, maps=tuple(maps), node_name=node_name)


class ZeroGradLink(Node):
    """``x`` unchanged, with ``other`` as a second input whose gradient is zero: keeps a
    piecewise-constant op (nearest grid sampling) connected to its coordinates, as torch
    reports a zero (not a missing) gradient for them."""

    def forward(self, x, other):
        self.other_shape = other.shape
        self.other_dtype = other.dtype
        return x.copy()

    def backward(self, g):
        from .._dtype import from_numpy_dtype
        from .creation import zeros

        return g, zeros(self.other_shape, dtype=from_numpy_dtype(self.other_dtype))


class GlobalAvgPool(Node):
    """The mean over the trailing ``nd`` dims of (N, C, *S), kept as size-1 dims: one GEMV
    (measured 2x faster than a reduction, and faster than torch's kernel on one thread)."""

    def name(self) -> str:
        return f"AdaptiveAvgPool{self.__dict__.get('nd', 2)}DBackward0"

    def forward(self, x, *, nd):
        xp = xp_of(x)
        self.nd, self.shape = nd, x.shape
        lead = x.shape[: x.ndim - nd]
        S = _prod(x.shape[x.ndim - nd :])  # noqa: N806
        dt = x.dtype
        work = x.astype(np.float32) if low_precision(dt) else x
        v = xp.full(S, 1.0 / S, dtype=work.dtype)
        y = work.reshape(-1, S) @ v
        return y.astype(dt, copy=False).reshape(lead + (1,) * nd)

    def backward(self, g):
        S = _prod(self.shape[len(self.shape) - self.nd :])  # noqa: N806
        return g.expand(self.shape) * (1.0 / S)


# --- constant padding ---------------------------------------------------------------------------
def _const_pad_array(x, pads, value):
    """``pads`` per dim from the first: ((lo, hi), ...) (negative = crop)."""
    xp = xp_of(x)
    nd = x.ndim
    full = ((0, 0),) * (nd - len(pads)) + tuple(pads)
    out_shape = tuple(s + a + b for s, (a, b) in zip(x.shape, full))
    out = xp.empty(out_shape, dtype=x.dtype)
    src, dst = [], []
    interior = True
    for s, (a, b) in zip(x.shape, full):
        s0, d0 = max(-a, 0), max(a, 0)
        n = s - s0 - max(-b, 0)
        if n <= 0:
            interior = False
            n = 0
        src.append(slice(s0, s0 + n))
        dst.append(slice(d0, d0 + n))
        if a > 0 or b > 0:
            interior = False
    if not interior:
        out.fill(value)
    if all(sl.stop > sl.start for sl in src) or not src:
        out[tuple(dst)] = x[tuple(src)]
    return out


class ConstantPad(Node):
    """``x`` padded (or cropped, negative pads) with a constant: its adjoint is the opposite
    padding with zeros."""

    def name(self) -> str:
        return "ConstantPadNdBackward0"

    def forward(self, x, *, pads, value=0):
        self.pads = pads
        return _const_pad_array(x, pads, value)

    def backward(self, g):
        return ConstantPad.apply(g, pads=tuple((-a, -b) for a, b in self.pads), value=0)


def constant_pad(x: Tensor, pads, value=0) -> Tensor:
    return ConstantPad.apply(x, pads=tuple(pads), value=value)


# --- scatter / gather by per-plane flat indices -------------------------------------------------
def _scatter_array(v, idx, size, accumulate, unique):
    """(P, M) values into zeros (P, size) at columns ``idx`` (P, M)."""
    xp = xp_of(v)
    P = v.shape[0]  # noqa: N806
    dt = v.dtype
    out = xp.zeros((P, size), dtype=dt)
    if v.size == 0:
        return out
    flat = (idx + (xp.arange(P, dtype=np.int64) * size)[:, None]).reshape(-1)
    if unique or not accumulate:
        out.reshape(-1)[flat] = v.reshape(-1)
    elif xp is np:
        work = v.astype(np.float64) if dt != np.float64 else v
        acc = np.bincount(flat, weights=work.reshape(-1), minlength=P * size)
        out = acc.astype(dt, copy=False).reshape(P, size)
    else:  # pragma: no cover - GPU
        import cupyx

        cupyx.scatter_add(out.reshape(-1), flat, v.reshape(-1))
    return out


class IndexScatter(Node):
    """(N, C, *S_in) values to (N, C, *size): ``out.flat[idx] (+)= v`` per (n, c) plane."""

    def name(self) -> str:
        return self.__dict__.get("_name", "MaxPoolBackward0")

    def forward(self, v, *, idx, size, accumulate=True, unique=False, node_name=None, pool=None):
        self.idx, self.size = idx, tuple(size)
        if node_name is not None:
            self._name = node_name
        if pool is not None and v.__class__ is not _ndarray:
            # CuPy, max pooling's (K, s, d, lo): a deterministic gather kernel (None: not covered)
            from ..cuda import _pool as _cuda_pool

            out = _cuda_pool.max_pool_backward(v, idx, size, *pool)
            if out is not None:
                return out
        lead = v.shape[:2]
        P = _prod(lead)  # noqa: N806
        n = _prod(size)
        out = _scatter_array(v.reshape(P, -1), idx.reshape(P, -1), n, accumulate, unique)
        return out.reshape(lead + tuple(size))

    def backward(self, g):
        return IndexGather.apply(g, idx=self.idx)


class IndexGather(Node):
    """(N, C, *S) -> values at per-plane flat indices ``idx`` (N, C, *S_idx)."""

    def name(self) -> str:
        return "MaxUnpool2DBackward0"

    def forward(self, x, *, idx):
        xp = xp_of(x)
        self.idx = idx
        self.size = x.shape[2:]
        P = _prod(x.shape[:2])  # noqa: N806
        y = xp.take_along_axis(x.reshape(P, -1), idx.reshape(P, -1), axis=1)
        return y.reshape(idx.shape)

    def backward(self, g):
        return IndexScatter.apply(g, idx=self.idx, size=self.size, accumulate=True)


# --- max pooling ----------------------------------------------------------------------------------
def _first_inside(K, s, d, lo, O):  # noqa: N803
    """For each output position (shape ``O``), the number of the first window offset (in
    ``np.ndindex(*K)`` order) that lands inside the input rather than in the padding."""
    first = []
    for k, si, di, a, o in zip(K, s, d, lo, O):
        start = np.arange(o, dtype=np.int64) * si - a  # the window's first tap, input coords
        first.append(np.minimum(np.maximum(0, (-start + di - 1) // di), k - 1))
    grids = np.meshgrid(*first, indexing="ij")
    return np.ravel_multi_index(grids, K)


def _neg_inf(dt):
    if dt.kind == "f" or dt.kind == "V":
        return -np.inf
    return np.iinfo(dt).min


def _max_pool_2x2(x, O, want_idx):  # noqa: N803
    """The common 2x2 / stride 2 / no padding case as a tournament: two pairwise maxima and a
    final one, the winner's offset from three comparisons (ties keep the earlier offset, as
    torch). ~1.6x faster than the general sweep."""
    xp = xp_of(x)
    oh, ow = O
    W = x.shape[3]  # noqa: N806
    res = _pool_native.max_pool_2x2(x, O)  # one compiled pass, when available
    if res is not None:
        m, k = res
        if not want_idx:
            return m, None
        return (m, k) if want_idx == "slots" else (m, _slots_to_index(k, W))
    a = x[:, :, 0 : 2 * oh : 2, 0 : 2 * ow : 2]
    b = x[:, :, 0 : 2 * oh : 2, 1 : 2 * ow : 2]
    c = x[:, :, 1 : 2 * oh : 2, 0 : 2 * ow : 2]
    d = x[:, :, 1 : 2 * oh : 2, 1 : 2 * ow : 2]
    m01 = xp.maximum(a, b)
    m23 = xp.maximum(c, d)
    m = xp.maximum(m01, m23)
    if not want_idx:
        return m, None
    if m.dtype.kind == "f" and xp.isnan(m).any():
        return None  # NaN windows: the general sweep finds torch's index
    k = xp.greater(b, a).view(np.uint8)
    k23 = xp.greater(d, c).view(np.uint8)
    k23 += 2
    # k = k23 where the lower pair holds the max, as arithmetic on the uint8 slots: a masked
    # copyto over these arrays costs ~20x more (0.95 ms against 40 us at 128x6x14x14)
    k23 -= k  # 1..3: no wrap-around
    k23 *= xp.greater(m23, m01).view(np.uint8)
    k += k23
    if want_idx == "slots":
        return m, k  # the winner's slot 0..3 (a, b, c, d): enough for the gradient
    return m, _slots_to_index(k, W)


def _slots_to_index(k, W):  # noqa: N803
    """2x2 winner slots (N, C, oh, ow) -> flat input indices (int64)."""
    xp = xp_of(k)
    oh, ow = k.shape[2:]
    off = xp.asarray(np.array([0, 1, W, W + 1], dtype=np.int64))
    base = (xp.arange(oh, dtype=np.int64) * (2 * W))[:, None] + xp.arange(ow, dtype=np.int64) * 2
    idx = xp.take(off, k)
    idx += base
    return idx


class SlotScatter(Node):
    """The gradient of 2x2 / stride-2 max pooling from the winners' slots: each output's
    gradient written to its window's slot (four masked passes; no int64 indices needed)."""

    def name(self) -> str:
        return "MaxPool2DWithIndicesBackward0"

    def forward(self, g, *, k, X):  # noqa: N803
        xp = xp_of(g)
        self.k, self.X = k, tuple(X)
        out = _pool_native.max_pool_2x2_backward(g, k, X)
        if out is not None:
            return out
        N, C, oh, ow = g.shape  # noqa: N806
        H, W = X  # noqa: N806
        out = xp.empty((N, C, H, W), dtype=g.dtype)
        if 2 * oh < H or 2 * ow < W:
            out[:, :, 2 * oh :] = 0
            out[:, :, :, 2 * ow :] = 0
        o6 = out[:, :, : 2 * oh, : 2 * ow].reshape(N, C, oh, 2, ow, 2)
        for t, (a, b) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            xp.multiply(g, k == t, out=o6[:, :, :, a, :, b])
        return out

    def backward(self, gg):
        idx = _slots_to_index(self.k, self.X[1])
        return IndexGather.apply(gg, idx=idx)


class MaxPoolValues(Node):
    """2x2 / stride-2 max pooling when the indices are not asked for: keeps only the winners'
    slots (uint8) for backward instead of int64 indices (measured ~1.3x faster forward)."""

    def name(self) -> str:
        return "MaxPool2DWithIndicesBackward0"

    def forward(self, x, *, O):  # noqa: N803
        self.X = x.shape[2:]
        self.k = self.idx = None
        res = _max_pool_2x2(x, O, "slots")
        if res is None:  # NaN windows: torch's index (the last NaN) from the general sweep
            m, self.idx = max_pool_arrays(x, (2, 2), (2, 2), (1, 1), (0, 0), O, True)
            return m
        m, self.k = res
        return m

    def backward(self, g):
        if self.k is None:
            return IndexScatter.apply(g, idx=self.idx, size=self.X, unique=True)
        return SlotScatter.apply(g, k=self.k, X=self.X)


def _fast_2x2(x, K, s, d, lo, O) -> bool:  # noqa: N803
    return (
        len(K) == 2
        and tuple(K) == (2, 2)
        and tuple(s) == (2, 2)
        and tuple(d) == (1, 1)
        and tuple(lo) == (0, 0)
        and not low_precision(x.dtype)
        and x.dtype.kind != "b"
        and 2 * O[0] <= x.shape[2]
        and 2 * O[1] <= x.shape[3]
    )


def max_pool_arrays(x, K, s, d, lo, O, want_idx: bool):  # noqa: N803
    """Max over windows of x (N, C, *X) padded by ``lo`` before (and -inf after as needed).

    Returns (values, indices or None); indices are flat positions in the input's spatial dims.
    """
    xp = xp_of(x)
    if xp is not np:  # CuPy: the max-pooling kernel (None: not covered)
        from ..cuda import _pool as _cuda_pool

        res = _cuda_pool.max_pool(x, K, s, d, lo, O, want_idx)
        if res is not None:
            return res
    if _fast_2x2(x, K, s, d, lo, O):
        res = _max_pool_2x2(x, O, want_idx)
        if res is not None:
            return res
    nd = len(K)
    X = x.shape[2:]  # noqa: N806
    span = tuple((o - 1) * si + di * (k - 1) + 1 for o, k, si, di in zip(O, K, s, d))
    dt = x.dtype
    work = x.astype(np.float32) if low_precision(dt) else x
    padded = any(a > 0 for a in lo) or any(sp > xs + a for sp, xs, a in zip(span, X, lo))
    if padded:
        shape = x.shape[:2] + tuple(max(sp, xs + a) for sp, xs, a in zip(span, X, lo))
        buf = xp.full(shape, _neg_inf(work.dtype), dtype=work.dtype)
        buf[(slice(None), slice(None)) + tuple(slice(a, a + xs) for a, xs in zip(lo, X))] = work
        work = buf
    offsets = list(np.ndindex(*K))

    def window(k):
        return work[
            (slice(None), slice(None))
            + tuple(
                slice(ki * di, ki * di + si * (o - 1) + 1, si) for ki, di, si, o in zip(k, d, s, O)
            )
        ]

    m = window(offsets[0]).copy()
    for k in offsets[1:]:
        xp.maximum(m, window(k), out=m)
    if not want_idx:
        return m.astype(dt, copy=False), None
    n_off = len(offsets)
    kdt = np.int16 if n_off < 32000 else np.int64
    kk = xp.zeros(m.shape, dtype=kdt)
    eq = xp.empty(m.shape, dtype=bool)
    # the first offset reaching the maximum: sweep the offsets backwards (down to offset 0,
    # which must win a tie too)
    for t in range(n_off - 1, -1, -1):
        xp.equal(window(offsets[t]), m, out=eq)
        xp.copyto(kk, t, where=eq)
    if padded:
        # a window whose maximum is the padding's value (all -inf, or the integer minimum)
        # matched the padding above; torch starts from the window's first element inside the
        # input and keeps it unless something is larger
        floor = m == _neg_inf(work.dtype)
        if floor.any():
            xp.copyto(kk, xp.asarray(_first_inside(K, s, d, lo, O), dtype=kdt), where=floor)
    if work.dtype.kind == "f":
        nan = xp.isnan(m)
        if nan.any():
            # torch's kernel takes every NaN it meets (`val > max || isnan(val)`): the last
            for t in range(n_off):
                sel = nan & xp.isnan(window(offsets[t]))
                xp.copyto(kk, t, where=sel)
    # offset number -> flat input index: window origin + the offset's position
    strides = [1] * nd
    for i in range(nd - 2, -1, -1):
        strides[i] = strides[i + 1] * X[i + 1]
    off_flat = np.array(
        [sum((ki * di) * st for ki, di, st in zip(k, d, strides)) for k in offsets], dtype=np.int64
    )
    base = np.zeros(tuple(O), dtype=np.int64)
    for i in range(nd):
        ax = (np.arange(O[i], dtype=np.int64) * s[i] - lo[i]) * strides[i]
        base = base + ax.reshape((-1,) + (1,) * (nd - 1 - i))
    idx = xp.asarray(base) + xp.asarray(off_flat)[kk]
    return m.astype(dt, copy=False), idx


class MaxPool(Node):
    """Max pooling of (N, C, *X); outputs (values, indices) with the indices non-differentiable."""

    nondiff_outputs = (1,)

    def name(self) -> str:
        nd = self.__dict__.get("nd", 2)
        return f"MaxPool{nd}DWithIndicesBackward0"

    def forward(self, x, *, K, s, d, lo, O):  # noqa: N803
        self.nd = len(K)
        self.X = x.shape[2:]
        self.unique = all(si >= di * (k - 1) + 1 for si, di, k in zip(s, d, K))
        self.pool = (K, s, d, lo)
        v, idx = max_pool_arrays(x, K, s, d, lo, O, True)
        self.idx = idx
        return v, idx

    def backward(self, g, _gi=None):
        return IndexScatter.apply(g, idx=self.idx, size=self.X, unique=self.unique, pool=self.pool)


# --- fractional max pooling ------------------------------------------------------------------------
def fractional_starts(sample, n_in, n_out, k, dt):
    """Window starts of fractional max pooling (Graham 2014), torch's pseudo-random sequence:
    ``int((i + u) * alpha) - int(u * alpha)`` with ``alpha = (n_in - k) / (n_out - 1)``, the last
    window flush with the end. ``sample`` (P,) holds one u per plane; returns (P, n_out)."""
    ft = np.float64 if dt == np.float64 else np.float32
    u = np.asarray(sample, dtype=ft)[:, None]
    seq = np.empty((u.shape[0], n_out), dtype=np.int64)
    if n_out > 1:
        alpha = ft(n_in - k) / ft(n_out - 1)
        i = np.arange(n_out - 1, dtype=ft)[None, :]
        seq[:, :-1] = ((i + u) * alpha).astype(np.int64) - (u * alpha).astype(np.int64)
    if n_out > 0:
        seq[:, -1] = n_in - k
    return seq


class FractionalMaxPool(Node):
    """Max over per-plane pseudo-random windows of x (N, C, *X); outputs (values, indices)."""

    nondiff_outputs = (1,)

    def name(self) -> str:
        return f"FractionalMaxPool{self.__dict__.get('nd', 2)}DBackward0"

    def forward(self, x, *, K, O, samples):  # noqa: N803
        xp = xp_of(x)
        nd = len(K)
        self.nd, self.X = nd, x.shape[2:]
        N, C = x.shape[:2]  # noqa: N806
        P = N * C  # noqa: N806
        X = x.shape[2:]  # noqa: N806
        flat = x.reshape(P, -1)
        # torch's order of the samples: (w, h) for 2-D, (t, h, w) for 3-D
        smp = np.asarray(samples).reshape(P, nd)
        order = [nd - 1 - i for i in range(nd)] if nd == 2 else list(range(nd))
        idx = np.zeros((P,) + tuple(O) + tuple(K), dtype=np.int64)
        stride = 1
        for i in range(nd - 1, -1, -1):
            st = fractional_starts(smp[:, order[i]], X[i], O[i], K[i], x.dtype)  # (P, O_i)
            pos = st[:, :, None] + np.arange(K[i])[None, None, :]  # (P, O_i, K_i)
            shape = [P] + [1] * nd + [1] * nd
            shape[1 + i] = O[i]
            shape[1 + nd + i] = K[i]
            idx = idx + (pos * stride).reshape(shape)
            stride *= X[i]
        idx = idx.reshape(P, _prod(O), _prod(K))
        gi = xp.asarray(idx)
        vals = xp.take_along_axis(flat, gi.reshape(P, -1), axis=1).reshape(gi.shape)
        k = xp.argmax(vals, axis=-1)
        if vals.dtype.kind == "f":
            isn = xp.isnan(vals)
            anyn = isn.any(axis=-1)
            if anyn.any():  # torch keeps the last NaN of a window
                last = (vals.shape[-1] - 1) - xp.argmax(isn[..., ::-1], axis=-1)
                k = xp.where(anyn, last, k)
        k = k[..., None]
        v = xp.take_along_axis(vals, k, axis=-1)[..., 0]
        out_idx = xp.take_along_axis(gi, k, axis=-1)[..., 0]
        self.idx = out_idx.reshape((N, C) + tuple(O))
        return v.reshape((N, C) + tuple(O)), self.idx

    def backward(self, g, _gi=None):
        return IndexScatter.apply(g, idx=self.idx, size=self.X, unique=False)


def max_pool_nd(x: Tensor, K, s, d, lo, O, return_indices: bool):  # noqa: N803
    """(values, indices) of max pooling; indices only computed when needed."""
    from .._mode import MODE
    from .._tensor import wrap

    if (
        not return_indices
        and MODE.grad
        and x._rg
        and _fast_2x2(x._data, K, s, d, lo, O)
        and (x._data.__class__ is _ndarray or not _cuda_usable(x._data))  # CuPy: MaxPool's kernel
    ):
        return MaxPoolValues.apply(x, O=tuple(O)), None
    if return_indices or (MODE.grad and x._rg):
        v, i = MaxPool.apply(x, K=tuple(K), s=tuple(s), d=tuple(d), lo=tuple(lo), O=tuple(O))
        return v, i
    v, _ = max_pool_arrays(x._data, K, s, d, lo, O, False)
    return wrap(v), None


_ = math


def _cuda_usable(a) -> bool:
    """Whether the CUDA pooling kernels take the CuPy array ``a``."""
    from ..cuda import _pool as _cuda_pool

    return _cuda_pool.usable(a)


# --- torch.* top-level names (thin wrappers over nn.functional, imported when called) ----------
def _F():  # noqa: N802
    from ..nn import functional

    return functional


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """``torch.max_pool1d``: `nn.functional.max_pool1d` without indices."""
    return _F().max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """``torch.max_pool2d``: `nn.functional.max_pool2d` without indices."""
    return _F().max_pool2d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """``torch.max_pool3d``: `nn.functional.max_pool3d` without indices."""
    return _F().max_pool3d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """``torch.max_pool1d_with_indices``: ``(values, indices)``."""
    return _F().max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode, True)


def avg_pool1d(input, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True):
    """``torch.avg_pool1d``."""
    return _F().avg_pool1d(
        input, kernel_size, stride or None, padding, ceil_mode, count_include_pad
    )


def adaptive_avg_pool1d(input, output_size):
    """``torch.adaptive_avg_pool1d``."""
    return _F().adaptive_avg_pool1d(input, output_size)


def adaptive_max_pool1d(input, output_size):
    """``torch.adaptive_max_pool1d``: ``(values, indices)`` (the top-level form returns both)."""
    return _F().adaptive_max_pool1d(input, output_size, True)


def constant_pad_nd(input, pad, value=0):
    """``torch.constant_pad_nd``: `nn.functional.pad` in constant mode.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.functional.pad(torch.ones(1, 2), (1, 1), value=3.0)
        tensor([[3., 1., 1., 3.]])
    """
    return _F().pad(input, pad, "constant", value)


def pixel_shuffle(input, upscale_factor):
    """``torch.pixel_shuffle``."""
    return _F().pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input, downscale_factor):
    """``torch.pixel_unshuffle``."""
    return _F().pixel_unshuffle(input, downscale_factor)


def channel_shuffle(input, groups):
    """``torch.channel_shuffle``."""
    return _F().channel_shuffle(input, groups)


native_channel_shuffle = channel_shuffle

FUNCTIONS: list = [
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_pool1d_with_indices",
    "avg_pool1d",
    "adaptive_avg_pool1d",
    "adaptive_max_pool1d",
    "constant_pad_nd",
    "pixel_shuffle",
    "pixel_unshuffle",
    "channel_shuffle",
    "native_channel_shuffle",
]
