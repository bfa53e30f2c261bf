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


# Expressions without gradients; outputs may be tuples (compared element by element).
EXPRESSIONS = [
    ("int_tensor_plus_float", lambda L: L.tensor([1, 2]) + 2.5),
    ("int32_plus_0dim_f64", lambda L: L.zeros(3, dtype=L.int32) + L.tensor(1.5, dtype=L.float64)),
    ("f16_plus_0dim_f64", lambda L: L.ones(2, dtype=L.float16) + L.tensor(1.0, dtype=L.float64)),
    ("uint8_plus_int8", lambda L: L.tensor([200], dtype=L.uint8) + L.tensor([-1], dtype=L.int8)),
    ("bool_sum", lambda L: L.tensor([True, False, True]).sum()),
    ("bool_plus_bool", lambda L: L.tensor([True, False]) + L.tensor([True, True])),
    ("int_true_div", lambda L: L.tensor([7, -7]) / L.tensor([2, 2])),
    ("int_pow", lambda L: L.tensor([2, 3]) ** 2),
    ("float_pow_int_tensor", lambda L: 2.0 ** L.tensor([1, 2])),
    ("mean_dims", lambda L: L.arange(24.0).reshape(2, 3, 4).mean(dim=(0, 2))),
    ("var_unbiased_false", lambda L: L.arange(6.0).var(unbiased=False)),
    ("where_single", lambda L: L.where(L.tensor([[0, 1], [1, 0]]) > 0)),
    ("nonzero", lambda L: L.nonzero(L.tensor([[0, 1], [2, 0]]))),
    ("unique_counts", lambda L: L.unique(L.tensor([3, 1, 3, 2, 1]), return_counts=True)),
    (
        "masked_softmax",
        lambda L: (
            L.tensor([[1.0, 2.0, 3.0]])
            .masked_fill(L.tensor([[False, True, False]]), float("-inf"))
            .softmax(-1)
        ),
    ),
    ("chunk_unbind", lambda L: L.arange(6).chunk(4)[-1] + L.arange(6).reshape(2, 3).unbind(1)[2]),
    ("argsort_desc", lambda L: L.tensor([3.0, 1.0, 2.0]).argsort(descending=True)),
    (
        "bmm_baddbmm",
        lambda L: L.baddbmm(L.ones(2, 2, 2), L.ones(2, 2, 3), L.ones(2, 3, 2), beta=0.5),
    ),
    ("linspace_f32", lambda L: L.linspace(0, 1, 7)),
    ("arange_float", lambda L: L.arange(0, 1, 0.1)),
    ("full_int", lambda L: L.full((2,), 7)),
    ("eye_rect", lambda L: L.eye(2, 3)),
    ("clamp_int", lambda L: L.tensor([-3, 0, 5]).clamp(min=-1, max=2)),
    ("round_half_even", lambda L: L.tensor([0.5, 1.5, 2.5, -0.5]).round()),
    ("div_floor_neg", lambda L: L.div(L.tensor([-7.0, 7.0]), 2, rounding_mode="floor")),
    ("div_trunc_int", lambda L: L.div(L.tensor([-7, 7]), 2, rounding_mode="trunc")),
    ("fmod_neg", lambda L: L.fmod(L.tensor([-7, 7]), 3)),
    ("bitwise", lambda L: (L.tensor([12]) & 10) | (L.tensor([1]) << 3)),
    ("topk_named", lambda L: L.tensor([[1.0, 5.0, 3.0]]).topk(2)),
    ("max_named", lambda L: L.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=0)),
    ("median", lambda L: L.tensor([4.0, 1.0, 3.0, 2.0]).median()),
    ("cumsum_int", lambda L: L.tensor([1, 2, 3], dtype=L.int32).cumsum(0)),
    (
        "searchsorted",
        lambda L: L.searchsorted(L.tensor([1.0, 3.0, 5.0]), L.tensor([0.0, 3.0, 6.0])),
    ),
    ("bincount", lambda L: L.bincount(L.tensor([0, 1, 1, 4]))),
    ("repr_like_values", lambda L: L.tensor([1e-5, 1.0]).exp()),
]


def _as_list(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


@pytest.mark.parametrize("name,fn", EXPRESSIONS, ids=[n for n, _ in EXPRESSIONS])
def test_same_values_as_torch(name, fn):
    ours, theirs = _as_list(fn(tocha)), _as_list(fn(torch))
    assert len(ours) == len(theirs), f"{name}: {len(ours)} outputs, torch {len(theirs)}"
    for o, t in zip(ours, theirs):
        assert str(o.dtype).replace("torch.", "") == str(t.dtype).replace("torch.", ""), name
        assert tuple(o.shape) == tuple(t.shape), name
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-6, atol=1e-7, err_msg=name)
