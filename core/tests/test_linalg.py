"""Linear algebra behaviour the op table cannot express: matmul broadcasting and gradient
shapes, einsum forms and gradients, gauge-invariant eigh/SVD gradients against finite
differences, named tuples, ``_ex`` variants, LinAlgError, in-place and ``out=`` variants."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.linalg as LA
from tocha.core.autograd import gradcheck, gradgradcheck


def _t(a, rg=False):
    return torch.from_numpy(np.array(a, dtype=np.float64)).requires_grad_(rg)


def _rand(rng, *shape, rg=False):
    return _t(rng.standard_normal(shape), rg)


def _num_grad(f, x: np.ndarray, eps=1e-6) -> np.ndarray:
    """Central finite differences of the scalar function ``f`` of a NumPy array."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        fp = f(x)
        flat[i] = orig - eps
        fm = f(x)
        flat[i] = orig
        gflat[i] = (fp - fm) / (2 * eps)
    return g


# --- matmul -----------------------------------------------------------------------------------
MATMUL_CASES = [
    ((4,), (4,), ()),
    ((3, 4), (4,), (3,)),
    ((4,), (4, 2), (2,)),
    ((3, 4), (4, 2), (3, 2)),
    ((2, 3, 4), (4, 2), (2, 3, 2)),
    ((3, 4), (5, 4, 2), (5, 3, 2)),
    ((2, 1, 3, 4), (5, 4, 2), (2, 5, 3, 2)),
    ((4,), (2, 3, 4, 5), (2, 3, 5)),
    ((2, 3, 3, 4), (4,), (2, 3, 3)),
    ((1, 3, 4), (2, 4, 5), (2, 3, 5)),
]


@pytest.mark.parametrize("sa,sb,so", MATMUL_CASES)
def test_matmul_shapes_values_and_grad_shapes(sa, sb, so):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    ta, tb = _t(a, True), _t(b, True)
    out = ta @ tb
    assert tuple(out.shape) == so
    np.testing.assert_allclose(out.detach().numpy(), np.matmul(a, b), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(so)
    out.backward(_t(g))
    assert ta.grad.shape == ta.shape and tb.grad.shape == tb.shape
    # reference gradients from NumPy's own broadcasting rules
    ga = _num_grad(lambda x: float((np.matmul(x, b) * g).sum()), a.copy())
    gb = _num_grad(lambda x: float((np.matmul(a, x) * g).sum()), b.copy())
    np.testing.assert_allclose(ta.grad.numpy(), ga, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(tb.grad.numpy(), gb, rtol=1e-6, atol=1e-6)


def test_matmul_broadcast_gradgrad():
    rng = np.random.default_rng(1)
    a, b = _rand(rng, 2, 1, 2, 3, rg=True), _rand(rng, 3, 3, 2, rg=True)
    assert gradgradcheck(torch.matmul, (a, b))


def test_matmul_dtypes_and_operators():
    a = torch.ones(2, 3, dtype=torch.int64)
    b = torch.ones(3, 2, dtype=torch.int64)
    r = a @ b
    assert r.dtype == torch.int64 and r.tolist() == [[3, 3], [3, 3]]
    h = torch.ones(2, 3, dtype=torch.float16) @ torch.ones(3, 2, dtype=torch.float16)
    assert h.dtype == torch.float16 and h.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    bf = torch.ones(2, 3, dtype=torch.bfloat16) @ torch.ones(3, dtype=torch.bfloat16)
    assert bf.dtype == torch.bfloat16 and bf.tolist() == [3.0, 3.0]
    x = torch.ones(2, 3)
    assert (np.ones((4, 2), np.float32) @ x).shape == (4, 3)  # __rmatmul__
    assert (x @ np.ones((3,), np.float32)).shape == (2,)
    assert x.matmul(torch.ones(3)).shape == (2,)


def test_matmul_error_messages():
    with pytest.raises(
        RuntimeError,
        match=r"matmul: shapes \(3, 4\) and \(5, 6\) cannot be "
        r"multiplied \(4 != 5\)",
    ):
        torch.matmul(torch.ones(3, 4), torch.ones(5, 6))
    with pytest.raises(
        RuntimeError,
        match=r"mat1 and mat2 shapes cannot be multiplied "
        r"\(3x4 and 5x6\)",
    ):
        torch.mm(torch.ones(3, 4), torch.ones(5, 6))


def test_matmul_does_not_copy_contiguous_inputs():
    a = torch.ones(4, 5)
    b = torch.ones(5, 6)
    out = a @ b
    assert out.is_contiguous() and out.shape == (4, 6)
    # a transposed view multiplies without being made contiguous first (BLAS takes strides)
    at = torch.ones(5, 4).t()
    assert not at.is_contiguous()
    assert torch.allclose(at @ b, out)


def test_addmm_family_inplace_and_beta_zero():
    a = torch.ones(2, 2)
    m = torch.eye(2)
    res = a.clone().addmm_(m, m, beta=2, alpha=3)
    assert res.tolist() == [[5.0, 2.0], [2.0, 5.0]]
    nan_in = torch.full((2, 2), float("nan"))
    assert not torch.isnan(torch.addmm(nan_in, m, m, beta=0)).any()
    v = torch.zeros(2).addmv_(m, torch.ones(2))
    assert v.tolist() == [1.0, 1.0]
    b = torch.zeros(1, 2, 2).baddbmm_(torch.ones(1, 2, 3), torch.ones(1, 3, 2), alpha=2)
    assert b.tolist() == [[[6.0, 6.0], [6.0, 6.0]]]
    c = torch.ones(2, 2).addbmm_(torch.ones(3, 2, 1), torch.ones(3, 1, 2), beta=0.5)
    assert c.tolist() == [[3.5, 3.5], [3.5, 3.5]]
    r = torch.zeros(2, 3).addr_(torch.ones(2), torch.arange(3.0))
    assert r.tolist() == [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]


def test_out_argument():
    out = torch.empty(2, 2)
    res = torch.matmul(torch.eye(2), torch.ones(2, 2), out=out)
    assert res is out and out.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    out = torch.empty(2, 2)
    LA.inv(torch.eye(2) * 2, out=out)
    assert out.tolist() == [[0.5, 0.0], [0.0, 0.5]]


# --- einsum -----------------------------------------------------------------------------------
EINSUM_GRAD_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 2)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ij", [(2, 2, 3)]),
    ("ij->", [(2, 3)]),
    ("i,j->ij", [(2,), (3,)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("ij,ij->", [(1, 3), (2, 3)]),
    ("b...ij,b...jk->b...ik", [(2, 1, 2, 3), (2, 2, 3, 2)]),
    ("ij,jk,kl->li", [(2, 3), (3, 2), (2, 2)]),
    ("abc,cd,a->bd", [(2, 2, 3), (3, 2), (2,)]),
    ("ii,ij->j", [(2, 2), (2, 3)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_GRAD_CASES)
def test_einsum_values_and_gradients(eq, shapes):
    rng = np.random.default_rng(2)
    arrs = [rng.standard_normal(s) for s in shapes]
    ts = [_t(a, True) for a in arrs]
    out = torch.einsum(eq, *ts)
    np.testing.assert_allclose(out.detach().numpy(), np.einsum(eq, *arrs), rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda *xs: torch.einsum(eq, *xs), tuple(ts))
    assert gradgradcheck(lambda *xs: torch.einsum(eq, *xs), tuple(ts))


def test_einsum_list_and_sublist_forms():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    ref = a @ b
    ta, tb = _t(a), _t(b)
    np.testing.assert_allclose(torch.einsum("ij,jk", [ta, tb]).numpy(), ref)
    np.testing.assert_allclose(torch.einsum(ta, [0, 1], tb, [1, 2], [0, 2]).numpy(), ref)
    np.testing.assert_allclose(torch.einsum(ta, [0, 1], tb, [1, 2]).numpy(), ref)
    np.testing.assert_allclose(torch.einsum(ta, [..., 1], tb, [1, 2], [..., 2]).numpy(), ref)


def test_einsum_many_operands_matches_numpy():
    rng = np.random.default_rng(4)
    eq = "ab,bc,cd,de,ea->"
    arrs = [rng.standard_normal((3, 3)) for _ in range(5)]
    out = torch.einsum(eq, *[_t(a) for a in arrs])
    np.testing.assert_allclose(out.numpy(), np.einsum(eq, *arrs), rtol=1e-12)


EINSUM_FORWARD_CASES = [
    ("ij,->ij", [(2, 3), ()]),
    ("...->...", [(2, 3)]),
    ("i->", [(4,)]),
    ("ba", [(2, 3)]),
    ("i,i,i->", [(3,), (3,), (3,)]),
    ("ij,kl->ijkl", [(2, 1), (1, 2)]),
    ("ijk,ikj->i", [(2, 3, 3), (2, 3, 3)]),
    ("...i,...i->...", [(5, 2, 3), (3,)]),
    ("bij,bkj->bik", [(2, 0, 3), (2, 4, 3)]),
    ("ab,ab,ab->a", [(2, 3), (2, 3), (2, 3)]),
    ("Ab,bA->", [(2, 3), (3, 2)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_FORWARD_CASES)
def test_einsum_edge_cases_match_numpy(eq, shapes):
    rng = np.random.default_rng(11)
    arrs = [np.asarray(rng.standard_normal(s)) for s in shapes]
    out = torch.einsum(eq, *[_t(a) for a in arrs])
    ref = np.einsum(eq, *arrs)
    assert tuple(out.shape) == ref.shape
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_einsum_identity_is_a_view_not_the_operand():
    x = torch.ones(2, 3)
    y = torch.einsum("ij->ij", x)
    assert y is not x and y.data_ptr() == x.data_ptr()


# --- gauge-invariant decomposition gradients --------------------------------------------------
def test_eigh_gauge_invariant_loss_matches_finite_differences():
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    a = (q * np.array([-1.5, 0.2, 1.0, 2.5])) @ q.T
    m = rng.standard_normal((4, 4))
    m = m + m.T

    def loss_np(x):
        x = (x + x.T) / 2
        lam, v = np.linalg.eigh(x)
        return float((lam**2).sum() + ((v.T @ m @ v) ** 2 * np.arange(4)[:, None]).sum())

    ta = _t(a, True)
    sym = (ta + ta.mT) / 2
    lam, v = LA.eigh(sym)
    tm = _t(m)
    loss = (lam**2).sum() + ((v.mT @ tm @ v) ** 2 * torch.arange(4.0).double()[:, None]).sum()
    loss.backward()
    np.testing.assert_allclose(ta.grad.numpy(), _num_grad(loss_np, a.copy()), rtol=1e-5, atol=1e-6)


def test_eigh_gradient_is_symmetric_like_torch():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((3, 3))
    ta = _t(a + a.T, True)
    lam, v = LA.eigh(ta)
    (v * _t(rng.standard_normal((3, 3)))).sum().add(lam.sum()).backward()
    np.testing.assert_allclose(ta.grad.numpy(), ta.grad.numpy().T, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3)])
def test_svd_gauge_invariant_loss_matches_finite_differences(shape):
    rng = np.random.default_rng(7)
    a = rng.standard_normal(shape)
    k = min(shape)
    w = np.arange(1.0, k + 1)

    def parts(u, s, vh, mm, tr):
        return (s**3).sum() + (mm(u * w, vh) ** 2).sum() + mm(mm(tr(u), u * w), tr(u)).sum()

    def loss_np(x):
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        return float(parts(u, s, vh, np.matmul, np.transpose))

    ta = _t(a, True)
    u, s, vh = LA.svd(ta, full_matrices=False)
    parts(u, s, vh, torch.matmul, lambda x: x.mT).backward()
    np.testing.assert_allclose(ta.grad.numpy(), _num_grad(loss_np, a.copy()), rtol=1e-5, atol=1e-6)


def test_svd_full_matrices_gradient_uses_reduced_factors():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((4, 2))
    ta = _t(a, True)
    u, s, vh = LA.svd(ta)
    assert u.shape == (4, 4)
    (s.sum() + (u[:, :2] @ vh).sum()).backward()
    tb = _t(a, True)
    u2, s2, vh2 = LA.svd(tb, full_matrices=False)
    (s2.sum() + (u2 @ vh2).sum()).backward()
    np.testing.assert_allclose(ta.grad.numpy(), tb.grad.numpy(), atol=1e-12)


def test_det_gradient_at_singular_matrix():
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    ta = _t(a, True)
    LA.det(ta).backward()
    np.testing.assert_allclose(
        ta.grad.numpy(), _num_grad(lambda x: float(np.linalg.det(x)), a.copy()), atol=1e-6
    )


def test_qr_backward_errors():
    x = _t(np.random.default_rng(9).standard_normal((4, 3)), True)
    q, r = LA.qr(x, mode="complete")
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete'"):
        q.sum().backward()
    q, r = LA.qr(x, mode="r")
    assert q.shape == (0,)
    with pytest.raises(RuntimeError, match="which is not computed when mode='r'"):
        r.sum().backward()


def test_cholesky_gradient_vs_finite_differences():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 3))
    a = x @ x.T + 3 * np.eye(3)
    g = rng.standard_normal((3, 3))

    def loss_np(m):
        return float((np.linalg.cholesky((m + m.T) / 2) * g).sum())

    ta = _t(a, True)
    (LA.cholesky((ta + ta.mT) / 2) * _t(g)).sum().backward()
    np.testing.assert_allclose(ta.grad.numpy(), _num_grad(loss_np, a.copy()), rtol=1e-5, atol=1e-7)


# --- named tuples, _ex variants, errors ---------------------------------------------------------
def test_named_tuples():
    a = torch.tensor([[2.0, 1.0], [1.0, 3.0]])
    sd = LA.slogdet(a)
    assert sd.sign.item() == 1.0 and abs(sd.logabsdet.item() - np.log(5.0)) < 1e-6
    assert type(sd).__name__ == "linalg_slogdet"
    assert type(torch.slogdet(a)).__name__ == "slogdet"
    eh = LA.eigh(a)
    assert eh.eigenvalues.shape == (2,) and eh.eigenvectors.shape == (2, 2)
    sv = LA.svd(a)
    assert set(sv._fields) == {"U", "S", "Vh"}
    old = torch.svd(a)
    assert old._fields == ("U", "S", "V")
    np.testing.assert_allclose((old.U * old.S) @ old.V.mT, a.numpy(), atol=1e-6)
    qr = LA.qr(a)
    assert qr._fields == ("Q", "R")
    ls = LA.lstsq(a, torch.ones(2, 1))
    assert ls._fields == ("solution", "residuals", "rank", "singular_values")
    assert ls.rank.dtype == torch.int64 and ls.rank.item() == 2
    assert "torch.return_types.linalg_eigh(" in repr(eh)


def test_torch_svd_compute_uv_false():
    res = torch.svd(torch.ones(4, 3), compute_uv=False)
    assert res.U.shape == (4, 4) and res.V.shape == (3, 3)
    assert float(res.U.abs().sum()) == 0.0
    np.testing.assert_allclose(res.S.numpy(), [3.4641016, 0.0, 0.0], atol=1e-5)


def test_linalg_error_type_and_ex_variants():
    assert issubclass(LA.LinAlgError, RuntimeError)
    sing = torch.tensor([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(LA.LinAlgError, match="linalg.inv: The diagonal element 2 is zero"):
        LA.inv(sing)
    with pytest.raises(LA.LinAlgError):
        torch.inverse(sing)
    inv, info = LA.inv_ex(torch.stack([torch.eye(2), sing]))
    assert info.dtype == torch.int32 and info.tolist() == [0, 2]
    assert inv[0].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(LA.LinAlgError):
        LA.inv_ex(sing, check_errors=True)
    notpd = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
    L, info = LA.cholesky_ex(notpd)
    assert info.item() == 2
    L, info = LA.cholesky_ex(torch.eye(2) * 4)
    assert info.item() == 0 and L.tolist() == [[2.0, 0.0], [0.0, 2.0]]
    x, info = LA.solve_ex(torch.eye(2), torch.ones(2))
    assert info.item() == 0 and x.tolist() == [1.0, 1.0]


def test_logdet_and_det_special_values():
    assert torch.isnan(torch.logdet(-torch.eye(3)))
    assert torch.logdet(torch.zeros(3, 3)).item() == float("-inf")
    assert torch.det(torch.zeros(3, 3)).item() == 0.0
    assert LA.det(torch.zeros(2, 0, 0)).tolist() == [1.0, 1.0]


def test_matrix_power_special_cases():
    a = torch.tensor([[1.0, 1.0], [0.0, 1.0]], requires_grad=True)
    assert torch.matrix_power(a, 0).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    one = torch.matrix_power(a, 1)
    assert one.data_ptr() != a.data_ptr()
    assert torch.matrix_power(a, 5).tolist() == [[1.0, 5.0], [0.0, 1.0]]
    assert np.allclose(torch.matrix_power(a, -2).detach().numpy(), [[1.0, -2.0], [0.0, 1.0]])


def test_cross_default_dim_warns_and_picks_first_size3():
    a, b = torch.ones(3, 4), torch.ones(3, 4)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = torch.cross(a, b)
    assert out.shape == (3, 4) and any("deprecated" in str(x.message) for x in w)


def test_norm_subgradients():
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    LA.vector_norm(x).backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    y = torch.tensor([1.0, -3.0, 3.0], requires_grad=True)
    LA.vector_norm(y, float("inf")).backward()
    assert y.grad.tolist() == [0.0, -0.5, 0.5]
    p = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    q = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    torch.cdist(p, q).sum().backward()
    assert p.grad.tolist() == [[0.0, 0.0]]


def test_pinv_tolerances():
    a = torch.tensor([[2.0, 0.0], [0.0, 1e-3]], dtype=torch.float64)
    assert LA.pinv(a, rtol=1e-2).tolist() == [[0.5, 0.0], [0.0, 0.0]]
    assert LA.pinv(a, atol=1e-2).tolist() == [[0.5, 0.0], [0.0, 0.0]]
    np.testing.assert_allclose(LA.pinv(a).numpy(), [[0.5, 0.0], [0.0, 1000.0]])
    assert LA.matrix_rank(a).item() == 2 and LA.matrix_rank(a, rtol=1e-2).item() == 1


def test_tensor_methods_exist():
    a = torch.tensor([[4.0, 2.0], [2.0, 3.0]])
    assert abs(a.det().item() - 8.0) < 1e-5
    assert a.inverse().shape == (2, 2)
    assert a.cholesky().shape == (2, 2)
    assert a.trace().item() == 7.0
    assert a.matrix_power(2).shape == (2, 2)
    assert a.mm(a).shape == (2, 2) and a.mv(torch.ones(2)).shape == (2,)
    assert torch.ones(2).outer(torch.ones(3)).shape == (2, 3)
    assert a.kron(a).shape == (4, 4)
    assert a.addmm(a, a).shape == (2, 2)
    assert a.slogdet().sign.item() == 1.0
    assert a.pinverse().shape == (2, 2)
    assert torch.ones(3).dot(torch.ones(3)).item() == 3.0
