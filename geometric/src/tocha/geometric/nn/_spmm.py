"""Sparse-adjacency aggregation: ``out[i] = sum_j A[i, j] x[j]`` without materialising messages.

``spmm(edge_index, values, x, ...)`` builds (and caches, per edge_index tensor and version) the
CSR structure of the ``(num_dst, num_src)`` adjacency once; each call then only permutes the
edge values into CSR order and runs one scipy sparse-dense product. The backward runs the
transposed product for ``x`` and a per-edge dot product for the values, both with tocha ops, so
gradients of gradients work. Layers use it for their ``message_and_aggregate`` path on the CPU;
on a GPU they fall back to gather + scatter.
"""

from __future__ import annotations

import weakref

import numpy as np
import scipy.sparse as sp

import tocha.core as torch
from tocha.core import Tensor

from ..utils._scatter import _plan_for

__all__ = ["spmm", "supports_spmm"]


class _AdjPlan:
    """CSR structure of rows ``dst`` and columns ``src`` (edge order -> CSR order); the sort
    is the scatter plan of ``dst``, shared with scatter/softmax over the same index tensor."""

    __slots__ = ("shape", "order", "indices", "indptr", "ones")

    def __init__(self, dst: np.ndarray, src: np.ndarray, shape: tuple, dst_t, src_t) -> None:
        sorted_plan = _plan_for(dst_t, dst, shape[0])
        self.order = sorted_plan.order
        self.indptr = sorted_plan.csr.indptr
        self.indices = src[self.order].astype(self.order.dtype, copy=False)
        self.shape = shape
        self.ones = {}

    def matrix(self, data: np.ndarray | None, dtype, permuted: bool = False) -> sp.csr_matrix:
        if data is None:
            data = self.ones.get(np.dtype(dtype))
            if data is None:
                data = self.ones[np.dtype(dtype)] = np.ones(self.order.shape[0], dtype=dtype)
        elif not permuted:
            data = data[self.order]
        m = sp.csr_matrix((data, self.indices, self.indptr), shape=self.shape)
        m.has_sorted_indices = False
        return m


_PLANS: dict = {}
_ROWS: dict = {}


def _forget(cache: dict, key):
    return lambda _ref: cache.pop(key, None)


def _rows(edge_index: Tensor) -> tuple[Tensor, Tensor]:
    """``(edge_index[0], edge_index[1])`` as the same tensor objects for as long as
    ``edge_index`` lives unchanged, so the sorted scatter plans cached per index tensor are
    reused across layers and calls. The rows are copies (views would keep ``edge_index``
    alive); the entry is dropped when ``edge_index`` is freed."""
    key = id(edge_index)
    hit = _ROWS.get(key)
    if hit is not None and hit[0]() is edge_index and hit[1] == edge_index._version:
        return hit[2]
    rows = (edge_index[0].clone(), edge_index[1].clone())
    _ROWS[key] = (weakref.ref(edge_index, _forget(_ROWS, key)), edge_index._version, rows)
    return rows


def _plans(edge_index: Tensor, n_src: int, n_dst: int, flow: str) -> tuple[_AdjPlan, _AdjPlan]:
    key = (id(edge_index), n_src, n_dst, flow)
    hit = _PLANS.get(key)
    if hit is not None and hit[0]() is edge_index and hit[1] == edge_index._version:
        return hit[2]
    ei = edge_index.detach().numpy()
    j, i = (0, 1) if flow == "source_to_target" else (1, 0)
    rows = _rows(edge_index)
    src_t, dst_t = rows[j], rows[i]
    src, dst = ei[j], ei[i]
    if src.size and (src.max() >= n_src or dst.max() >= n_dst or min(src.min(), dst.min()) < 0):
        raise IndexError(
            f"spmm: edge_index refers to node {int(max(src.max(), dst.max()))} but the graph has "
            f"{n_src} source and {n_dst} target nodes"
        )
    fwd = _AdjPlan(dst, src, (n_dst, n_src), dst_t, src_t)
    bwd = _AdjPlan(src, dst, (n_src, n_dst), src_t, dst_t)
    _PLANS[key] = (
        weakref.ref(edge_index, _forget(_PLANS, key)),
        edge_index._version,
        (fwd, bwd),
    )
    return fwd, bwd


_SPARSE_DTYPES = (np.float32, np.float64)


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values, x: Tensor, fwd: _AdjPlan, bwd: _AdjPlan) -> Tensor:
        xa = x.detach().numpy()
        va = values.detach().numpy() if values is not None else None
        ctx.plans = (fwd, bwd)
        ctx.save_for_backward(values, x)
        if va is None or va.ndim == 1:
            out = fwd.matrix(va, xa.dtype) @ xa.reshape(xa.shape[0], -1)
            out = out.reshape((fwd.shape[0],) + xa.shape[1:])
        else:
            # one product per head: values (E, H), x (N, H, C); the values are put in CSR
            # order once for all heads
            out = np.empty((fwd.shape[0],) + xa.shape[1:], dtype=xa.dtype)
            vs = np.ascontiguousarray(va.take(fwd.order, axis=0).T)
            for h in range(va.shape[1]):
                out[:, h] = fwd.matrix(vs[h], xa.dtype, permuted=True) @ xa[:, h]
        return torch.from_numpy(np.ascontiguousarray(out, dtype=xa.dtype))

    @staticmethod
    def backward(ctx, grad: Tensor):
        values, x = ctx.saved_tensors
        fwd, bwd = ctx.plans
        need_v, need_x = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        gv = gx = None
        if need_x:
            gx = _SpMM.apply(values, grad, bwd, fwd)
        if need_v:
            gv = _EdgeDot.apply(grad, x, fwd, bwd).reshape(values.shape)
        return gv, gx, None, None


_CHUNK = 1 << 11  # rows per step: the two gathered blocks stay in L2 (measured best)


class _EdgeDot(torch.autograd.Function):
    """``out[e, h] = sum_c g[dst_e, h, c] * x[src_e, h, c]`` (the values' gradient of an spmm),
    computed in chunks of edges so no ``(E, H, C)`` tensor is materialised."""

    @staticmethod
    def forward(ctx, g: Tensor, x: Tensor, fwd: _AdjPlan, bwd: _AdjPlan) -> Tensor:
        ga, xa = g.detach().numpy(), x.detach().numpy()
        n_e = fwd.order.shape[0]
        # contiguous rows for the gathers (a gradient may arrive as a stride-0 broadcast)
        g2 = np.ascontiguousarray(ga.reshape(ga.shape[0], -1))
        x2 = np.ascontiguousarray(xa.reshape(xa.shape[0], -1))
        heads = xa.shape[1] if xa.ndim == 3 else 1
        # walk the edges in target-sorted (CSR) order so the rows of g are read in sequence
        order = fwd.order
        dst = np.repeat(np.arange(fwd.shape[0], dtype=np.int64), np.diff(fwd.indptr))
        src = fwd.indices
        res = np.empty((n_e, heads), dtype=xa.dtype)
        size = min(_CHUNK, max(n_e, 1))
        bg = np.empty((size, g2.shape[1]), dtype=g2.dtype)
        bx = np.empty((size, x2.shape[1]), dtype=x2.dtype)
        ones = np.ones(x2.shape[1] // heads, dtype=x2.dtype)
        for s in range(0, n_e, size):
            e = min(s + size, n_e)
            k = e - s
            np.take(g2, dst[s:e], axis=0, out=bg[:k])
            np.take(x2, src[s:e], axis=0, out=bx[:k])
            np.multiply(bg[:k], bx[:k], out=bg[:k])
            # the per-head channel sum as a matrix-vector product (BLAS) beats ufunc.reduce
            # over a short last axis
            np.dot(bg[:k].reshape(k * heads, -1), ones, out=res[s:e].reshape(-1))
        out = np.empty_like(res)
        out[order] = res
        ctx.plans = (fwd, bwd)
        ctx.save_for_backward(g, x)
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, gout: Tensor):
        g, x = ctx.saved_tensors
        fwd, bwd = ctx.plans
        vals = gout if x.dim() == 3 else gout.reshape(-1)
        dg = _SpMM.apply(vals, x, fwd, bwd) if ctx.needs_input_grad[0] else None
        dx = _SpMM.apply(vals, g, bwd, fwd) if ctx.needs_input_grad[1] else None
        return dg, dx, None, None


def supports_spmm(x: Tensor, values: Tensor | None = None) -> bool:
    """Whether the scipy path applies: CPU float32/float64 features (and values)."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
        return False
    return values is None or (values.device.type == "cpu" and values.dtype == x.dtype)


def spmm(
    edge_index: Tensor,
    values: Tensor | None,
    x: Tensor,
    num_dst: int | None = None,
    flow: str = "source_to_target",
    reduce: str = "sum",
) -> Tensor:
    """``out[i] = reduce_j values[e] * x[j]`` over the edges ``e = (j -> i)``.

    Args:
        edge_index: ``(2, E)`` edges.
        values: per-edge weights ``(E,)``, or ``(E, H)`` with ``x`` of shape ``(N, H, C)``;
            ``None`` for all ones.
        x: source node features, first dimension the source nodes.
        num_dst: number of target nodes (default ``x.size(0)``).
        flow: ``'source_to_target'`` (``edge_index[0]`` are the sources) or the reverse.
        reduce: ``'sum'`` or ``'mean'``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn._spmm import spmm
        >>> ei = torch.tensor([[0, 1, 2], [1, 2, 1]])
        >>> spmm(ei, torch.tensor([1.0, 2.0, 3.0]), torch.tensor([[1.0], [10.0], [100.0]]))
        tensor([[  0.],
                [301.],
                [ 20.]])
    """
    n_src = x.shape[0]
    n_dst = n_src if num_dst is None else num_dst
    fwd, bwd = _plans(edge_index, n_src, n_dst, flow)
    out = _SpMM.apply(values, x, fwd, bwd)
    if reduce == "mean":
        deg = np.maximum(np.diff(fwd.indptr), 1)
        out = out / torch.from_numpy(deg.astype(x.detach().numpy().dtype)).view(
            [-1] + [1] * (x.dim() - 1)
        )
    elif reduce not in ("sum", "add"):
        raise ValueError(f"spmm: reduce must be 'sum' or 'mean', got '{reduce}'")
    return out
