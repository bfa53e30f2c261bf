"""The promise itself: the same user code under `tocha.core` and under real `torch` gives the
same values, dtypes, shapes and gradients. Needs torch (the anchor) installed: `nox -s compat`;
skipped where torch is absent (the default sessions keep torch out)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the anchor (torch) runs in `nox -s compat` only")

import tocha.core as tocha  # noqa: E402

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4)).astype(np.float32)
B = RNG.standard_normal((4, 5)).astype(np.float32)
P = RNG.uniform(0.5, 2.0, (3, 4)).astype(np.float32)
I = np.array([[0, 2], [1, 3], [3, 0]])

# (name, fn(lib, a, b, p)) where a, b, p are float32 tensors requiring grad in both libraries
PROGRAMS = [
    ("arith", lambda L, a, b, p: (a * 2 - 1) / p + a**2),
    ("int_float_promotion", lambda L, a, b, p: L.arange(4) / 3 + a),
    ("int_scalar_keeps_dtype", lambda L, a, b, p: L.tensor([1, 2], dtype=L.int32) * 3),
    ("floor_div_neg", lambda L, a, b, p: L.tensor([-7, 7]) // 2),
    ("remainder_neg", lambda L, a, b, p: L.remainder(L.tensor([-7.0, 7.0]), 3)),
    ("matmul", lambda L, a, b, p: a @ b),
    ("batched_matmul", lambda L, a, b, p: a.unsqueeze(0).expand(2, 3, 4) @ b),
    ("softmax", lambda L, a, b, p: a.softmax(-1)),
    ("log_softmax", lambda L, a, b, p: a.log_softmax(dim=0)),
    (
        "reductions",
        lambda L, a, b, p: a.sum(1) + a.mean(0).sum() + a.std() + a.var(1, correction=0),
    ),
    ("max_dim", lambda L, a, b, p: a.max(dim=1).values + a.argmax(1)),
    ("amax_tuple", lambda L, a, b, p: a.amax(dim=(0, 1), keepdim=True)),
    ("logsumexp", lambda L, a, b, p: a.logsumexp(1)),
    ("cumsum", lambda L, a, b, p: a.cumsum(1) * p.cumprod(0)),
    ("norm", lambda L, a, b, p: a.norm() + a.norm(p=1, dim=1).sum()),
    ("shape_ops", lambda L, a, b, p: L.cat([a, p], 1).reshape(4, -1).t().flip(0)),
    ("stack_split", lambda L, a, b, p: L.stack(a.split(2, dim=1), 0).sum(0)),
    ("getitem_basic", lambda L, a, b, p: a[1:, ::2] * 3 + a[..., None][0, 1]),
    ("getitem_adv", lambda L, a, b, p: a[L.tensor([0, 2, 2])] + a[a > 0].sum()),
    ("gather", lambda L, a, b, p: a.gather(1, L.tensor(I))),
    ("scatter_add", lambda L, a, b, p: L.zeros(3, 4).scatter_add(1, L.tensor(I), a[:, :2])),
    ("index_select", lambda L, a, b, p: a.index_select(1, L.tensor([3, 0]))),
    ("where_clamp", lambda L, a, b, p: L.where(a > 0, a, p).clamp(-0.5, 1.5)),
    ("unary", lambda L, a, b, p: p.log() + p.sqrt() + a.exp() + a.tanh() + a.sigmoid() + a.abs()),
    ("trig", lambda L, a, b, p: a.sin() * a.cos() + (p / 3).asin()),
    ("special", lambda L, a, b, p: a.erf() + (p / 3).erfinv() + p.lgamma()),
    ("maximum_minimum", lambda L, a, b, p: L.maximum(a, p) - L.minimum(a, -p)),
    ("einsum", lambda L, a, b, p: L.einsum("ij,jk->ik", a, b) + L.einsum("ij->j", a).sum()),
    (
        "linalg_inv_det",
        lambda L, a, b, p: (
            L.linalg.inv(a[:, :3] + 3 * L.eye(3)).sum() + L.linalg.det(a[:, :3] + 3 * L.eye(3))
        ),
    ),
    ("sort_topk", lambda L, a, b, p: a.sort(dim=1).values + a.topk(2, dim=1).values.sum()),
    ("inplace", lambda L, a, b, p: (a * 1).mul_(p).add_(1).clamp_(min=0)),
    ("setitem", lambda L, a, b, p: _setitem(L, a, p)),
    ("tril_diag", lambda L, a, b, p: a[:, :3].tril() + a[:, :3].diagonal().sum()),
    ("repeat_interleave", lambda L, a, b, p: a.repeat_interleave(2, dim=0)[:4] + a.repeat(1, 1)[0]),
]


def _setitem(L, a, p):
    out = L.zeros(3, 4)
    out[0] = a[0] * 2
    out[:, 1] = p[:, 1]
    return out * a


def _run(lib, name, fn):
    a = lib.tensor(A, requires_grad=True)
    b = lib.tensor(B, requires_grad=True)
    p = lib.tensor(P, requires_grad=True)
    out = fn(lib, a, b, p)
    grads = None
    if out.requires_grad:
        g = lib.tensor(np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(tuple(out.shape)))
        out.backward(g.to(out.dtype))
        grads = [None if t.grad is None else t.grad.detach().numpy() for t in (a, b, p)]
    return out.detach().numpy(), str(out.dtype).replace("torch.", ""), grads


@pytest.mark.parametrize("name,fn", PROGRAMS, ids=[n for n, _ in PROGRAMS])
def test_same_results_as_torch(name, fn):
    ours, our_dtype, our_grads = _run(tocha, name, fn)
    theirs, their_dtype, their_grads = _run(torch, name, fn)
    assert our_dtype == their_dtype, f"{name}: dtype {our_dtype} != torch {their_dtype}"
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape} != torch {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-5, err_msg=f"{name}: values")
    assert (our_grads is None) == (their_grads is None), f"{name}: requires_grad differs"
    if our_grads is not None:
        for i, (g1, g2) in enumerate(zip(our_grads, their_grads)):
            assert (g1 is None) == (g2 is None), f"{name}: grad {i} presence differs"
            if g1 is not None:
                np.testing.assert_allclose(
                    g1, g2, rtol=2e-5, atol=2e-5, err_msg=f"{name}: grad {i}"
                )


ERRORS = [
    ("matmul_shapes", lambda L: L.ones(3, 4) @ L.ones(5, 6)),
    ("broadcast", lambda L: L.ones(2, 3) + L.ones(4)),
    ("index_oob", lambda L: L.ones(3)[5]),
    ("dim_oob", lambda L: L.ones(3).sum(2)),
    ("view_bad", lambda L: L.ones(6).view(4, -1)),
    ("cat_shapes", lambda L: L.cat([L.ones(2, 3), L.ones(2, 4)])),
    ("leaf_inplace", lambda L: L.ones(2, requires_grad=True).add_(1)),
    ("int_requires_grad", lambda L: L.ones(2, dtype=L.int64).requires_grad_()),
    ("item_multi", lambda L: L.ones(2).item()),
]


@pytest.mark.parametrize("name,fn", ERRORS, ids=[n for n, _ in ERRORS])
def test_same_exception_types_as_torch(name, fn):
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(Exception) as ours:
        fn(tocha)
    assert isinstance(ours.value, type(theirs.value)) or isinstance(
        theirs.value, type(ours.value)
    ), f"{name}: tocha raised {type(ours.value).__name__}, torch {type(theirs.value).__name__}"
