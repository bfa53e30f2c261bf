"""Reductions: behaviour the op table can't express (named tuples, tie handling, zeros in
prod/cumprod gradients, dtype promotion, empty dims, overloads, double backward at zeros)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import tocha.core as torch
from tocha.core._ops import reduce as _reduce
from tocha.core.autograd import gradcheck, gradgradcheck
from tocha.core.testing import assert_close


def _t(data, dtype=torch.float64, requires_grad=False):
    return torch.tensor(data, dtype=dtype, requires_grad=requires_grad)


def _grad(fn, x):
    x = x.detach().requires_grad_(True)
    fn(x).backward()
    return x.grad


# --- named tuples -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, name, fields",
    [
        (lambda x: torch.max(x, 1), "max", ("values", "indices")),
        (lambda x: x.min(dim=0), "min", ("values", "indices")),
        (lambda x: torch.median(x, 1), "median", ("values", "indices")),
        (lambda x: torch.nanmedian(x, 1), "nanmedian", ("values", "indices")),
        (lambda x: torch.mode(x), "mode", ("values", "indices")),
        (lambda x: torch.cummax(x, 1), "cummax", ("values", "indices")),
        (lambda x: torch.cummin(x, 0), "cummin", ("values", "indices")),
        (lambda x: torch.aminmax(x, dim=1), "aminmax", ("min", "max")),
    ],
)
def test_named_tuple_returns(call, name, fields):
    x = _t([[3.0, 1.0, 2.0], [0.5, 4.0, 4.5]])
    res = call(x)
    assert isinstance(res, tuple) and len(res) == 2
    assert type(res).__name__ == name and res._fields == fields
    assert type(res) is getattr(torch.return_types, name)
    first, second = res  # unpackable
    assert first is res[0] and second is res[1]
    assert getattr(res, fields[0]) is res[0] and getattr(res, fields[1]) is res[1]
    assert repr(res).startswith(f"torch.return_types.{name}(\n{fields[0]}=tensor(")


def test_named_tuple_values():
    x = _t([[3.0, 1.0, 2.0], [0.5, 4.0, 4.5]])
    r = torch.max(x, 1, keepdim=True)
    assert_close(r.values, _t([[3.0], [4.5]]))
    assert r.indices.tolist() == [[0], [2]] and r.indices.dtype == torch.int64
    r = torch.min(x, dim=-1)
    assert r.indices.tolist() == [1, 0]
    mm = torch.aminmax(x)
    assert mm.min.item() == 0.5 and mm.max.item() == 4.5


def test_named_tuple_pickles():
    r = torch.max(_t([[1.0, 2.0]]), 1)
    back = pickle.loads(pickle.dumps(r))
    assert type(back).__name__ == "max" and back.indices.tolist() == [1]


# --- overloads --------------------------------------------------------------------------------
def test_max_min_with_other_is_elementwise():
    a, b = _t([1.0, 5.0, 3.0]), _t([4.0, 2.0, 3.5])
    assert torch.max(a, b).tolist() == [4.0, 5.0, 3.5]
    assert torch.min(a, b).tolist() == [1.0, 2.0, 3.0]
    assert a.max(b).tolist() == [4.0, 5.0, 3.5]
    assert torch.max(a, other=b).tolist() == [4.0, 5.0, 3.5]


def test_var_std_overloads():
    x = _t([[1.0, 2.0, 4.0], [0.0, 3.0, 9.0]])
    ref = np.var(x.numpy(), ddof=0)
    assert_close(torch.var(x, False), torch.tensor(ref, dtype=torch.float64))
    assert_close(torch.var(x, unbiased=False), torch.tensor(ref, dtype=torch.float64))
    assert_close(torch.var(x, correction=0), torch.tensor(ref, dtype=torch.float64))
    row = torch.var(x, 1, False, True)
    assert row.shape == (2, 1)
    assert_close(row, torch.tensor(np.var(x.numpy(), 1, ddof=0, keepdims=True)))
    assert_close(x.std(1, correction=2), torch.tensor(np.std(x.numpy(), 1, ddof=2)))
    v, m = torch.var_mean(x, 1)
    assert_close(v, torch.tensor(np.var(x.numpy(), 1, ddof=1)))
    assert_close(m, torch.tensor(np.mean(x.numpy(), 1)))
    s, m = torch.std_mean(x, dim=(0, 1), keepdim=True)
    assert s.shape == (1, 1) and m.shape == (1, 1)
    with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        assert np.isnan(torch.var(_t([1.0])).item())


def test_axis_alias_and_list_dims():
    x = _t([[1.0, 2.0], [3.0, 4.0]])
    assert x.sum(axis=0).tolist() == [4.0, 6.0]
    assert torch.mean(x, [0, 1]).item() == 2.5
    assert x.amax(axis=1).tolist() == [2.0, 4.0]


def test_quantile_q_shapes_and_interpolations():
    x = _t([[1.0, 5.0, 2.0, 8.0], [3.0, 0.0, 7.0, 4.0]])
    q = _t([0.25, 0.5])
    assert torch.quantile(x, q, dim=1).shape == (2, 2)
    assert torch.quantile(x, q, dim=1, keepdim=True).shape == (2, 2, 1)
    assert torch.quantile(x, q, keepdim=True).shape == (2, 1, 1)
    assert torch.quantile(x, 0.5, keepdim=True).shape == (1, 1)
    assert torch.quantile(x, _t(0.3), dim=1).shape == (2,)
    v = _t([1.0, 2.0, 3.0, 4.0])
    qs = _t([0.5, 1 / 6, 0.125, 0.375])
    # 'nearest' rounds half to even, as torch: rank 1.5 -> 2
    assert torch.quantile(v, qs, interpolation="nearest").tolist() == [3.0, 1.0, 1.0, 2.0]
    assert torch.quantile(v, 0.5, interpolation="midpoint").item() == 2.5
    assert torch.quantile(v, 0.4, interpolation="lower").item() == 2.0
    assert torch.quantile(v, 0.4, interpolation="higher").item() == 3.0
    nan = float("nan")
    assert np.isnan(torch.quantile(_t([1.0, nan, 2.0]), 0.5).item())
    assert torch.nanquantile(_t([1.0, nan, 2.0]), 0.5).item() == 1.5
    assert np.isnan(torch.nanquantile(_t([nan, nan]), 0.5).item())


# --- gradients among ties ---------------------------------------------------------------------
def test_max_without_dim_shares_gradient_among_ties():
    x = _t([1.0, 3.0, 3.0, 2.0])
    assert _grad(lambda t: t.max(), x).tolist() == [0.0, 0.5, 0.5, 0.0]
    assert _grad(lambda t: t.min(), _t([2.0, 1.0, 1.0, 1.0])).tolist() == [0, 1 / 3, 1 / 3, 1 / 3]
    assert _grad(lambda t: t.amax(), x).tolist() == [0.0, 0.5, 0.5, 0.0]


def test_amax_dim_shares_gradient_among_ties():
    z = _t([[1.0, 5.0, 5.0], [2.0, 2.0, 0.0]])
    g = _grad(lambda t: t.amax(1).sum(), z)
    assert g.tolist() == [[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]]
    g = _grad(lambda t: t.amin(dim=(0, 1)), _t([[0.0, 1.0], [0.0, 0.0]]))
    assert g.tolist() == [[1 / 3, 0.0], [1 / 3, 1 / 3]]


def test_max_with_dim_sends_gradient_to_the_index():
    z = _t([[1.0, 5.0, 5.0], [2.0, 2.0, 0.0]])
    assert torch.max(z, 1).indices.tolist() == [1, 0]  # the first of tied maxima
    g = _grad(lambda t: t.max(1).values.sum(), z)
    assert g.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    g = _grad(lambda t: t.min(1, keepdim=True).values.sum(), z)
    assert g.tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]


def test_aminmax_gradient_shared_among_ties():
    z = _t([[1.0, 5.0, 5.0, 0.0], [2.0, 2.0, 0.0, 0.0]])

    def f(t):
        r = torch.aminmax(t, dim=1)
        return r.min.sum() + r.max.sum()

    assert _grad(f, z).tolist() == [[0.0, 0.5, 0.5, 1.0], [0.5, 0.5, 0.5, 0.5]]


def test_median_gradients():
    # no dim: the lower median, gradient shared among equal values
    assert _grad(lambda t: t.median(), _t([1.0, 3.0, 3.0, 2.0])).tolist() == [0, 0, 0, 1]
    assert _grad(lambda t: t.median(), _t([1.0, 2.0, 2.0, 3.0])).tolist() == [0, 0.5, 0.5, 0]
    # with dim: to the returned index
    r = torch.median(_t([3.0, 1.0, 2.0, 1.0, 3.0, 2.0, 1.0]), 0)
    assert r.values.item() == 2.0 and r.indices.item() == 2
    g = _grad(lambda t: torch.median(t, 0).values, _t([4.0, 1.0, 3.0, 2.0]))
    assert g.tolist() == [0.0, 0.0, 0.0, 1.0]


def test_mode_smallest_most_frequent_last_index():
    r = torch.mode(torch.tensor([[1, 2, 2, 1, 3], [3, 3, 1, 1, 0]]), 1)
    assert r.values.tolist() == [1, 1] and r.indices.tolist() == [3, 3]
    r = torch.mode(_t([1.0, 1.0, 2.0]))
    assert r.values.item() == 1.0 and r.indices.item() == 1
    g = _grad(lambda t: torch.mode(t, 0).values, _t([1.0, 2.0, 2.0, 1.0]))
    assert g.tolist() == [0.0, 0.0, 0.0, 1.0]


def test_cummax_ties_and_gradient():
    r = torch.cummax(_t([1.0, 3.0, 3.0, 2.0, 5.0]), 0)
    assert r.values.tolist() == [1.0, 3.0, 3.0, 3.0, 5.0]
    assert r.indices.tolist() == [0, 1, 2, 2, 4]  # the latest of tied maxima, as torch
    r = torch.cummin(_t([3.0, 1.0, 1.0, 2.0, 0.0]), 0)
    assert r.indices.tolist() == [0, 1, 2, 2, 4]
    g = _grad(lambda t: t.cummax(0).values.sum(), _t([1.0, 3.0, 3.0, 2.0]))
    assert g.tolist() == [1.0, 1.0, 2.0, 0.0]
    nan = float("nan")
    r = torch.cummax(_t([1.0, nan, 3.0, nan, 2.0]), 0)
    assert r.indices.tolist() == [0, 1, 1, 3, 3]


def test_nan_propagation():
    nan = float("nan")
    x = _t([[1.0, nan, 3.0], [2.0, 0.0, 1.0]])
    assert np.isnan(x.max().item()) and np.isnan(x.amin().item())
    r = x.max(1)
    assert np.isnan(r.values[0].item()) and r.indices.tolist() == [1, 0]
    assert torch.argmax(_t([1.0, nan, 3.0, nan])).item() == 1
    r = torch.median(_t([[1.0, nan], [2.0, 3.0]]), 1)
    assert np.isnan(r.values[0].item()) and r.indices.tolist() == [1, 0]
    r = torch.nanmedian(_t([1.0, nan, 2.0, 1.0]), 0)
    assert r.values.item() == 1.0
    assert torch.nansum(x).item() == 7.0
    assert_close(torch.nanmean(x, 1), _t([2.0, 1.0]))


# --- prod / cumprod with zeros ----------------------------------------------------------------
def test_prod_gradient_with_zeros():
    assert _grad(lambda t: t.prod(), _t([2.0, 0.0, 3.0, 4.0])).tolist() == [0, 24, 0, 0]
    assert _grad(lambda t: t.prod(), _t([2.0, 0.0, 3.0, 0.0, 5.0])).tolist() == [0] * 5
    x = _t([[2.0, 0.0, 3.0], [1.0, 2.0, 3.0], [0.0, 0.0, 4.0]])
    g = _grad(lambda t: t.prod(1).sum(), x)
    assert g.tolist() == [[0, 6, 0], [6, 3, 2], [0, 0, 0]]


@pytest.mark.parametrize(
    "data",
    [
        [[2.0, 0.0, 3.0, 1.5], [1.1, 0.7, 1.3, 0.9]],  # one zero
        [[2.0, 0.0, 3.0, 0.0], [0.0, 0.7, 1.3, 0.9]],  # two zeros
        [[0.0, 0.0, 3.0, 0.0], [1.2, 0.7, 1.3, 0.9]],  # three zeros
    ],
)
def test_prod_double_backward_with_zeros(data):
    x = _t(data, requires_grad=True)
    assert gradcheck(lambda t: t.prod(1), (x,))
    assert gradgradcheck(lambda t: t.prod(1), (x,))
    assert gradgradcheck(lambda t: t.prod(), (x,))


def test_cumprod_gradient_with_zeros():
    assert _grad(lambda t: t.cumprod(0).sum(), _t([2.0, 0.0, 3.0, 4.0])).tolist() == [1, 32, 0, 0]
    g = _grad(lambda t: t.cumprod(0).sum(), _t([2.0, 0.0, 3.0, 0.0, 4.0]))
    assert g.tolist() == [1, 8, 0, 0, 0]


def test_cumprod_double_backward_with_one_zero():
    x = _t([[2.0, 0.0, 3.0, 1.5], [1.1, 0.7, 1.3, 0.9], [0.0, 1.2, 0.8, 1.1]], requires_grad=True)
    assert gradcheck(lambda t: t.cumprod(1), (x,))
    assert gradgradcheck(lambda t: t.cumprod(1), (x,))
    y = _t([[2.0, 0.0, 3.0, 0.0, 1.5]], requires_grad=True)
    assert gradcheck(lambda t: t.cumprod(1), (y,))


# --- dtypes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dt", [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32])
def test_integer_reductions_promote_to_int64(dt):
    x = torch.tensor([[1, 0, 1], [1, 1, 0]], dtype=dt)
    for res in (x.sum(), x.sum(1), torch.nansum(x), x.prod(), x.prod(0), x.cumsum(1), x.cumprod(0)):
        assert res.dtype == torch.int64
    assert x.sum().item() == 4
    assert torch.sum(x, dtype=torch.float32).dtype == torch.float32


@pytest.mark.parametrize("dt", [torch.float16, torch.bfloat16])
def test_half_precision_keeps_dtype(dt):
    x = torch.tensor([1.0, 2.0, 3.5], dtype=dt)
    for res in (x.sum(), x.mean(), x.prod(), x.cumsum(0), x.var(), x.std(), x.norm(), x.amax()):
        assert res.dtype == dt
    # accumulated in float32: 2048 + 1 + 1 ... stays exact where float16 steps would round
    big = torch.ones(4096, dtype=torch.float16)
    assert big.sum().item() == 4096.0


def test_mean_of_integers_needs_dtype():
    x = torch.tensor([1, 2, 4])
    with pytest.raises(RuntimeError, match="Got: Long"):
        x.mean()
    assert_close(x.mean(dtype=torch.float64), _t(7 / 3))
    with pytest.raises(RuntimeError, match="nanmean"):
        torch.nanmean(x)


def test_all_any_count_nonzero():
    x = torch.tensor([[1, 0], [2, 3]])
    assert torch.all(x).item() is False and torch.any(x).item() is True
    assert torch.all(x, dim=1).tolist() == [False, True]
    assert torch.any(x, 0, keepdim=True).shape == (1, 2)
    u = torch.tensor([1, 2], dtype=torch.uint8)
    assert torch.all(u).dtype == torch.uint8  # torch keeps uint8 for uint8 input
    assert torch.count_nonzero(x).item() == 3
    assert torch.count_nonzero(x, dim=(0, 1)).item() == 3
    assert torch.count_nonzero(x, 0).tolist() == [2, 1]


# --- empty dims -------------------------------------------------------------------------------
def test_reductions_over_empty_dims():
    e = torch.zeros(2, 0)
    assert e.sum(1).tolist() == [0.0, 0.0]
    assert e.prod(1).tolist() == [1.0, 1.0]
    assert all(np.isnan(v) for v in e.mean(1).tolist())
    assert e.amax(0).shape == (0,)
    assert torch.logsumexp(e, 1).tolist() == [-np.inf, -np.inf]
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim 1 to have non-zero"):
        torch.max(e, 1)
    with pytest.raises(RuntimeError, match="Expected reduction dim to be specified"):
        torch.zeros(0).max()
    with pytest.raises(IndexError, match=r"argmax\(\): Expected reduction dim to be specified"):
        torch.zeros(0).argmax()
    assert np.isnan(torch.median(torch.zeros(0)).item())


def test_zero_dim_inputs():
    s = _t(3.0)
    assert s.sum().item() == 3.0 and s.sum(0).item() == 3.0 and s.max(0).indices.item() == 0
    assert s.cumsum(0).item() == 3.0 and s.prod().item() == 3.0
    assert torch.median(s, 0).values.item() == 3.0
    with pytest.raises(IndexError, match=r"expected to be in range of \[-1, 0\], but got 1"):
        s.sum(1)


# --- norm -------------------------------------------------------------------------------------
def test_norm_gradients_at_zero():
    for p in (2, "fro", 3, 0.5, 1):
        g = _grad(lambda t, p=p: _reduce.norm(t, p), torch.zeros(3, dtype=torch.float64))
        assert g.tolist() == [0.0, 0.0, 0.0], p
    g = _grad(lambda t: _reduce.norm(t, 0.5), _t([0.0, 1.0, -2.0]))
    assert_close(g, _t([0.0, 2.414213562373095, -1.7071067811865475]))
    g = _grad(lambda t: _reduce.norm(t, float("inf")), _t([0.0, 2.0, -2.0]))
    assert g.tolist() == [0.0, 0.5, -0.5]
    x = _t([0.0, 2.0, -2.0])
    assert _reduce.norm(x, 0).item() == 2.0
    assert _grad(lambda t: _reduce.norm(t, 0), x).tolist() == [0.0, 0.0, 0.0]


def test_norm_dtype_and_method():
    x = torch.tensor([3.0, 4.0])
    assert _reduce.norm(x, dtype=torch.float64).dtype == torch.float64
    assert _reduce.TENSOR_METHODS["norm"](x).item() == 5.0
    m = torch.arange(6.0).reshape(2, 3)
    assert_close(_reduce.norm(m, "fro", dim=1, keepdim=True), torch.tensor([[5**0.5], [50**0.5]]))


@pytest.mark.skipif(
    not hasattr(getattr(torch, "linalg", None), "matrix_norm"), reason="needs torch.linalg"
)
def test_norm_nuc_delegates_to_matrix_norm():
    m = torch.arange(6.0, dtype=torch.float64).reshape(2, 3)
    ref = np.linalg.norm(m.numpy(), "nuc")
    assert_close(_reduce.norm(m, "nuc"), torch.tensor(ref))


def test_std_gradient_of_constant_is_zero():
    assert _grad(lambda t: t.std(), _t([2.0, 2.0, 2.0])).tolist() == [0.0, 0.0, 0.0]


# --- logsumexp / logcumsumexp stability -------------------------------------------------------
def test_logsumexp_stable():
    x = torch.tensor([1000.0, 1000.0])
    assert_close(torch.logsumexp(x, 0), torch.tensor(1000.0 + np.log(2.0), dtype=torch.float32))
    assert torch.logsumexp(_t([-np.inf, -np.inf]), 0).item() == -np.inf
    assert torch.logsumexp(_t([np.inf, 1.0]), 0).item() == np.inf
    assert torch.logsumexp(torch.tensor([1, 2]), 0).dtype == torch.float32
    with pytest.raises(TypeError):
        torch.logsumexp(x)  # dim is required, as in torch


def test_logcumsumexp_stable_gradient():
    x = _t([-1000.0, 0.0, 2.0], requires_grad=True)
    y = torch.logcumsumexp(x, 0)
    assert_close(y, _t([-1000.0, 0.0, 2.1269280110429727]))
    y.sum().backward()
    assert_close(x.grad, _t([1.0, 1.1192029220221176, 0.8807970779778823]))
    f32 = torch.tensor([-200.0, 0.0, 1.0], requires_grad=True)
    torch.logcumsumexp(f32, 0).sum().backward()
    assert np.isfinite(f32.grad.numpy()).all()
    z = _t([[0.3, -1.2, 2.0, 0.1], [1.5, 0.2, -0.4, 0.9]], requires_grad=True)
    assert gradgradcheck(lambda t: torch.logcumsumexp(t, 1), (z,))


# --- in-place and autograd integration --------------------------------------------------------
def test_cumsum_inplace():
    x = _t([1.0, 2.0, 3.0])
    y = x.cumsum_(0)
    assert y is x and x.tolist() == [1.0, 3.0, 6.0]
    assert x.cumprod_(0).tolist() == [1.0, 3.0, 18.0]


def test_out_arguments():
    x = _t([[1.0, 5.0, 2.0], [4.0, 0.0, 3.0]])
    out = torch.empty(0, dtype=torch.float64)
    res = torch.sum(x, 1, out=out)
    assert res is out and out.tolist() == [8.0, 7.0]
    vals, idx = torch.empty(2, dtype=torch.float64), torch.empty(2, dtype=torch.int64)
    r = torch.max(x, 1, out=(vals, idx))
    assert type(r).__name__ == "max" and r.values is vals and r.indices is idx
    assert vals.tolist() == [5.0, 4.0] and idx.tolist() == [1, 0]
    out = torch.empty(2, dtype=torch.float64)
    torch.quantile(x, 0.5, dim=1, out=out)
    assert out.tolist() == [2.0, 3.0]


def test_broadcast_gradient_reduction_still_works():
    a = _t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    b = _t([1.0, 2.0, 3.0], requires_grad=True)
    c = _t([[2.0], [3.0]], requires_grad=True)
    ((a + b) * c).sum().backward()
    assert b.grad.tolist() == [5.0, 5.0, 5.0]
    assert c.grad.tolist() == [[12.0], [21.0]]


def test_double_backward_through_selecting_reductions():
    x = _t([[0.3, -1.2, 2.0, 0.1], [1.5, 0.2, -0.4, 0.9]], requires_grad=True)
    for fn in (
        lambda t: t.max(1).values ** 2,
        lambda t: torch.median(t, 1).values * t.sum(),
        lambda t: torch.quantile(t, 0.3, dim=1) ** 2,
        lambda t: t.std(1) * t.var(0).sum(),
        lambda t: _reduce.norm(t, 3, dim=1) + _reduce.norm(t),
        lambda t: torch.logsumexp(t, (0, 1)),
    ):
        assert gradgradcheck(fn, (x,))


def test_quantile_backward_matches_torch_values():
    y = _t([1.0, 5.0, 2.0, 8.0])
    g = _grad(lambda t: torch.quantile(t, 0.4), y)
    assert_close(g, _t([0.0, 0.2, 0.8, 0.0]))
    g = _grad(lambda t: torch.quantile(t, _t([0.5, 0.2])).sum(), _t([1.0, 2.0, 3.0, 4.0]))
    assert_close(g, _t([0.4, 1.1, 0.5, 0.0]))


def test_dim_errors():
    x = torch.ones(2, 3)
    for fn in (torch.sum, torch.mean, torch.amax, torch.std, torch.count_nonzero):
        with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 5"):
            fn(x, 5)
    with pytest.raises(RuntimeError, match="dim 1 appears multiple times in the list of dims"):
        x.sum((1, -1))
    with pytest.raises(TypeError):
        x.prod((0, 1))
    with pytest.raises(RuntimeError, match="does not support bool input"):
        torch.argmax(torch.tensor([True, False]))
