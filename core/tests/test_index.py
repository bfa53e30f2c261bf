"""Indexing behaviour the op table cannot express: views, in-place writes and their autograd,
accumulation of repeated indices, stable sorting, namedtuple returns, unique/nonzero shapes,
and the counting ops against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.core.testing import assert_close


def _f64(*shape, seed=0):
    return torch.tensor(np.random.default_rng(seed).standard_normal(shape))


# --- getitem: views and copies --------------------------------------------------------------
def test_basic_index_is_a_view_sharing_memory_and_version():
    x = torch.arange(12.0).reshape(3, 4)
    row = x[1]
    cols = x[:, 1:3]
    step = x[::2, ::3]
    for v in (row, cols, step):
        assert np.shares_memory(v.numpy(), x.numpy())
    row[0] = 100.0
    assert x[1, 0].item() == 100.0
    assert x._version == row._version == cols._version > 0
    x[2, 3] = -1.0
    assert step[1, 1].item() == -1.0


def test_advanced_index_is_a_copy():
    x = torch.arange(12.0).reshape(3, 4)
    for y in (x[[0, 2]], x[x > 5], x[torch.tensor([1])], x[:, [0, 0]]):
        assert not np.shares_memory(y.numpy(), x.numpy())


def test_zero_dim_int_tensor_indexes_like_an_int():
    x = torch.arange(12).reshape(3, 4)
    i = torch.tensor(2)
    assert x[i].shape == (4,)
    assert x[i].tolist() == x[2].tolist()
    assert np.shares_memory(x[i].numpy(), x.numpy())


def test_ints_apply_before_advanced_indices_like_torch():
    # NumPy would put the broadcast dim first ((2, 3)); torch applies the int first
    x = torch.zeros(2, 3, 4)
    assert x[0, :, [0, 1]].shape == (3, 2)
    a = np.arange(24).reshape(2, 3, 4)
    t = torch.tensor(a)
    assert t[0, :, [0, 1]].tolist() == a[0][:, [0, 1]].tolist()
    # separated advanced indices go first, as in NumPy
    assert t[[0, 1], :, [1, 2]].tolist() == a[[0, 1], :, [1, 2]].tolist()


def test_short_list_of_sequences_is_a_tuple_key():
    x = torch.arange(12).reshape(3, 4)
    assert x[[[0, 1], [1, 2]]].tolist() == [1, 6]
    assert x[[True, False, True]].shape == (2, 4)
    assert x[[]].shape == (0, 4)


def test_index_errors():
    x = torch.zeros(3, 4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x[5]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[0, 0, 0]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(IndexError, match=r"The shape of the mask \[3\] at index 0"):
        x[:, torch.tensor([True, False, True])]
    with pytest.raises(IndexError, match="invalid index of a 0-dim tensor"):
        torch.tensor(1.0)[0]


# --- getitem backward -----------------------------------------------------------------------
def test_repeated_indices_accumulate_in_backward():
    x = torch.zeros(4, requires_grad=True)
    x[torch.tensor([0, 0, 3, 0])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 0.0, 1.0]
    y = torch.zeros(2, 3, requires_grad=True)
    (y[[0, 0, 1], [2, 2, 2]] * torch.tensor([1.0, 2.0, 4.0])).sum().backward()
    assert y.grad.tolist() == [[0.0, 0.0, 3.0], [0.0, 0.0, 4.0]]


def test_mask_and_slice_gradients():
    x = torch.arange(6.0, requires_grad=True)
    (x[x > 2] * 2).sum().backward()
    assert x.grad.tolist() == [0, 0, 0, 2, 2, 2]
    x.grad = None
    x[1::2].sum().backward()
    assert x.grad.tolist() == [0, 1, 0, 1, 0, 1]


def test_getitem_backward_is_differentiable():
    x = _f64(5).requires_grad_()
    idx = torch.tensor([0, 2, 2, 4])
    y = (x[idx] ** 3).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    (h,) = torch.autograd.grad((g * g).sum(), x)
    # y = sum_k c_k x_k^3 with counts c; g = 3 c x^2; d(sum g^2)/dx = 36 c^2 x^3
    c = np.array([1.0, 0.0, 2.0, 0.0, 1.0])
    assert_close(h, torch.tensor(36 * c**2 * x.detach().numpy() ** 3))
    assert torch.autograd.gradgradcheck(lambda t: t[1:4:2, None], (_f64(5, 2).requires_grad_(),))


# --- setitem --------------------------------------------------------------------------------
def test_setitem_gradient_to_value_and_to_the_rest_of_self():
    a = _f64(3, 4).requires_grad_()
    v = _f64(4, seed=1).requires_grad_()
    w = _f64(3, 4, seed=2)
    b = a * 2
    b[1] = v * 3
    (b * w).sum().backward()
    expected_a = 2 * w.numpy().copy()
    expected_a[1] = 0
    assert_close(a.grad, torch.tensor(expected_a))
    assert_close(v.grad, 3 * w[1])
    assert b.grad_fn is not None and not b.is_leaf


def test_setitem_advanced_key_and_broadcast_value():
    a = _f64(4, 3).requires_grad_()
    v = torch.tensor([[1.0], [2.0]], dtype=torch.float64, requires_grad=True)
    b = a.clone()
    b[torch.tensor([3, 0])] = v
    assert b[3].tolist() == [1.0, 1.0, 1.0] and b[0].tolist() == [2.0, 2.0, 2.0]
    b.sum().backward()
    assert v.grad.tolist() == [[3.0], [3.0]]
    assert a.grad.tolist() == [[0.0] * 3, [1.0] * 3, [1.0] * 3, [0.0] * 3]


def test_setitem_on_leaf_requiring_grad_raises():
    w = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in"):
        w[0] = 2.0
    with torch.no_grad():
        w[0] = 2.0
    assert w.tolist() == [2.0, 1.0, 1.0]
    assert w.is_leaf


def test_setitem_on_view_of_leaf_requiring_grad_raises():
    w = torch.ones(3, 2, requires_grad=True)
    v = w[0]
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        v[1] = 5.0


def test_setitem_bumps_version_and_invalidates_saved_tensors():
    a = _f64(3).requires_grad_()
    b = a * 1
    c = b * b  # saves b
    before = b._version
    b[0] = 1.0
    assert b._version == before + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_setitem_through_a_view_rewrites_the_base_history():
    buf = torch.zeros(3, 4)
    w = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    row = buf[1]
    row[:] = w * 2
    assert buf[1].tolist() == [2.0, 4.0, 6.0, 8.0]
    (buf * torch.arange(12.0).reshape(3, 4)).sum().backward()
    assert w.grad.tolist() == [8.0, 10.0, 12.0, 14.0]
    # the view's own history follows the write too
    w.grad = None
    buf2 = torch.zeros(2, 3)
    col = buf2[:, 1]
    col[0] = w[0]
    (col * 5).sum().backward()
    assert w.grad.tolist() == [5.0, 0.0, 0.0, 0.0]


def test_setitem_value_kinds():
    x = torch.zeros(2, 3, dtype=torch.int64)
    x[0] = 7
    x[1, :2] = torch.tensor([1.9, -2.9])  # cast to the destination dtype, like torch
    assert x.tolist() == [[7, 7, 7], [1, -2, 0]]
    y = torch.zeros(2, 2)
    y[:, 0] = torch.ones(1, 1, 2)  # leading size-1 dims of the value are dropped
    assert y.tolist() == [[1.0, 0.0], [1.0, 0.0]]
    with pytest.raises(RuntimeError, match="shape mismatch: value tensor of shape"):
        y[[0, 1]] = torch.ones(3)


# --- gather / scatter and their in-place forms ----------------------------------------------
def test_scatter_add_and_index_add_accumulate_exactly():
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 5, 200)
    src = rng.standard_normal(200)
    ref = np.zeros(5)
    np.add.at(ref, idx, src)
    z = torch.zeros(5, dtype=torch.float64)
    assert_close(z.scatter_add(0, torch.tensor(idx), torch.tensor(src)), torch.tensor(ref))
    assert_close(z.index_add(0, torch.tensor(idx), torch.tensor(src)), torch.tensor(ref))
    put = torch.index_put(z, (torch.tensor(idx),), torch.tensor(src), accumulate=True)
    assert_close(put, torch.tensor(ref))


def test_in_place_variants_write_into_self():
    idx = torch.tensor([[0, 2]])
    cases = [
        ("scatter_", (1, idx, torch.tensor([[5.0, 6.0]]))),
        ("scatter_add_", (1, idx, torch.tensor([[5.0, 6.0]]))),
        ("scatter_reduce_", (1, idx, torch.tensor([[5.0, 6.0]]), "amax")),
        ("index_add_", (0, torch.tensor([1]), torch.ones(1, 3))),
        ("index_copy_", (0, torch.tensor([1]), torch.ones(1, 3))),
        ("index_fill_", (1, torch.tensor([0]), 9.0)),
        ("index_put_", ((torch.tensor([0]), torch.tensor([1])), torch.tensor(4.0))),
        ("masked_scatter_", (torch.tensor([True, False, True]), torch.arange(1.0, 5.0))),
        ("put_", (torch.tensor([5]), torch.tensor([3.0]))),
    ]
    for name, args in cases:
        x = torch.zeros(2, 3)
        expected = getattr(torch.zeros(2, 3), name[:-1])(*args)
        v0 = x._version
        res = getattr(x, name)(*args)
        assert res is x, name
        assert x.tolist() == expected.tolist(), name
        assert x._version > v0, name


def test_in_place_scatter_records_history():
    a = torch.ones(2, 3, requires_grad=True)
    b = a * 2
    src = torch.tensor([[5.0, 6.0]], requires_grad=True)
    b.scatter_(1, torch.tensor([[0, 2]]), src)
    b.sum().backward()
    assert a.grad.tolist() == [[0.0, 2.0, 0.0], [2.0, 2.0, 2.0]]
    assert src.grad.tolist() == [[1.0, 1.0]]


def test_index_put_in_place_on_leaf_raises():
    w = torch.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.index_put_((torch.tensor([0]),), torch.tensor(1.0))


def test_scatter_reduce_prod_saved_input_is_checked():
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = a * 1
    out = b.scatter_reduce(0, torch.tensor([0, 0]), torch.tensor([2.0, 3.0]), "prod")
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_scatter_legacy_reduce_has_no_derivative():
    a = torch.ones(3, requires_grad=True)
    out = torch.scatter(a, 0, torch.tensor([0]), torch.tensor([2.0]), reduce="multiply")
    assert out.tolist() == [2.0, 1.0, 1.0]
    with pytest.raises(RuntimeError, match="derivative for aten::scatter is not implemented"):
        out.sum().backward()


def test_out_argument():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = torch.empty(2, 1)
    res = torch.gather(x, 1, torch.tensor([[1], [0]]), out=out)
    assert res is out and out.tolist() == [[2.0], [3.0]]


# --- sorting --------------------------------------------------------------------------------
def test_sort_is_stable_with_ties_in_both_directions():
    x = torch.tensor([2, 1, 2, 0, 1, 2])
    asc = torch.sort(x, stable=True)
    assert asc.values.tolist() == [0, 1, 1, 2, 2, 2]
    assert asc.indices.tolist() == [3, 1, 4, 0, 2, 5]
    desc = torch.sort(x, descending=True, stable=True)
    assert desc.values.tolist() == [2, 2, 2, 1, 1, 0]
    assert desc.indices.tolist() == [0, 2, 5, 1, 4, 3]
    f = torch.tensor([[1.0, float("nan"), 1.0, -1.0]])
    assert torch.argsort(f, dim=1).tolist() == [[3, 0, 2, 1]]
    assert torch.argsort(f, dim=1, descending=True).tolist() == [[1, 0, 2, 3]]


def test_sort_topk_kthvalue_return_namedtuples():
    x = torch.tensor([[3.0, 1.0, 2.0]])
    s = x.sort()
    assert type(s).__name__ == "sort" and s._fields == ("values", "indices")
    values, indices = s
    assert values.tolist() == [[1.0, 2.0, 3.0]] and indices.dtype == torch.int64
    t = x.topk(2)
    assert type(t).__name__ == "topk" and t.indices.tolist() == [[0, 2]]
    k = x.kthvalue(2, dim=1)
    assert type(k).__name__ == "kthvalue" and k.values.tolist() == [2.0]
    assert repr(s).startswith("torch.return_types.sort(\nvalues=")


def test_sort_gradient_follows_the_permutation():
    x = torch.tensor([3.0, 1.0, 2.0], requires_grad=True)
    v = torch.sort(x, descending=True).values
    (v * torch.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 100.0, 10.0]
    y = torch.tensor([5.0, 1.0, 4.0, 2.0], requires_grad=True)
    torch.topk(y, 2).values.sum().backward()
    assert y.grad.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_topk_partition_path_matches_full_sort():
    x = torch.tensor(np.random.default_rng(0).standard_normal((3, 200)))
    for largest in (True, False):
        vals, idx = torch.topk(x, 7, dim=1, largest=largest)
        full = torch.sort(x, dim=1, descending=largest)
        assert_close(vals, full.values[:, :7])
        assert idx.tolist() == full.indices[:, :7].tolist()


# --- unique, nonzero ------------------------------------------------------------------------
def test_unique_inverse_reconstructs_the_input_and_counts_sum_up():
    a = np.random.default_rng(0).integers(0, 5, (4, 6))
    x = torch.tensor(a)
    vals, inv, counts = torch.unique(x, return_inverse=True, return_counts=True)
    assert vals.tolist() == sorted(set(a.ravel().tolist()))
    assert inv.shape == x.shape
    assert vals[inv].tolist() == a.tolist()
    assert counts.sum().item() == a.size
    assert counts.tolist() == [int((a == v).sum()) for v in vals.tolist()]
    rows = torch.tensor([[1, 2], [0, 5], [1, 2]])
    u, inv, c = rows.unique(dim=0, return_inverse=True, return_counts=True)
    assert u.tolist() == [[0, 5], [1, 2]] and inv.tolist() == [1, 0, 1] and c.tolist() == [1, 2]


def test_unique_consecutive():
    x = torch.tensor([1, 1, 2, 2, 3, 1, 1, 2])
    out, inv, counts = torch.unique_consecutive(x, return_inverse=True, return_counts=True)
    assert out.tolist() == [1, 2, 3, 1, 2]
    assert inv.tolist() == [0, 0, 1, 1, 2, 3, 3, 4]
    assert counts.tolist() == [2, 2, 1, 2, 1]


def test_nonzero_shapes():
    x = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])
    nz = torch.nonzero(x)
    assert nz.shape == (3, 2) and nz.dtype == torch.int64
    assert nz.tolist() == [[0, 1], [1, 0], [1, 2]]
    rows, cols = x.nonzero(as_tuple=True)
    assert rows.tolist() == [0, 1, 1] and cols.tolist() == [1, 0, 2]
    assert torch.nonzero(torch.zeros(2, 0, 3)).shape == (0, 3)
    assert torch.nonzero(torch.tensor(5.0)).shape == (1, 0)
    assert torch.nonzero(torch.tensor(0.0)).shape == (0, 0)
    assert [t.tolist() for t in torch.nonzero(torch.tensor(5.0), as_tuple=True)] == [[0]]
    assert torch.argwhere(x).tolist() == nz.tolist()
    where = torch.where(x > 0)
    assert [t.tolist() for t in where] == [[0, 1, 1], [1, 0, 2]]


# --- counting against NumPy -----------------------------------------------------------------
def test_bincount_matches_numpy():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 7, 50)
    w = rng.random(50)
    assert torch.bincount(torch.tensor(a)).tolist() == np.bincount(a).tolist()
    assert (
        torch.bincount(torch.tensor(a), minlength=10).tolist()
        == np.bincount(a, minlength=10).tolist()
    )
    res = torch.bincount(torch.tensor(a), weights=torch.tensor(w))
    assert res.dtype == torch.float64
    assert_close(res, torch.tensor(np.bincount(a, weights=w)))
    res32 = torch.bincount(torch.tensor(a), weights=torch.tensor(w.astype(np.float32)))
    assert res32.dtype == torch.float32


def test_histc_matches_numpy_histogram():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(500)
    res = torch.histc(torch.tensor(a), bins=12, min=-2, max=2)
    ref = np.histogram(a, bins=12, range=(-2, 2))[0]
    assert res.dtype == torch.float64
    assert res.tolist() == ref.astype(np.float64).tolist()
    res = torch.histc(torch.tensor(a.astype(np.float32)), bins=9)  # data's own range
    ref = np.histogram(
        a.astype(np.float32), bins=9, range=(a.astype(np.float32).min(), a.astype(np.float32).max())
    )[0]
    assert res.tolist() == ref.astype(np.float32).tolist()
    assert torch.histc(torch.tensor([2.0, 2.0]), bins=4).tolist() == [0.0, 0.0, 2.0, 0.0]


def test_searchsorted_batched_and_bucketize():
    seq = torch.tensor([[1, 3, 5, 7], [2, 4, 6, 8]])
    vals = torch.tensor([[3, 6, 9], [1, 4, 8]])
    assert torch.searchsorted(seq, vals).tolist() == [[1, 3, 4], [0, 1, 3]]
    assert torch.searchsorted(seq, vals, right=True).tolist() == [[2, 3, 4], [0, 2, 4]]
    b = torch.tensor([1.0, 3.0, 5.0])
    assert torch.bucketize(torch.tensor([0.5, 1.0, 4.0, 6.0]), b).tolist() == [0, 0, 2, 3]
    assert torch.bucketize(torch.tensor([1.0]), b, right=True).tolist() == [1]
    assert torch.searchsorted(b, 3.0).shape == ()


@pytest.mark.gpu
def test_indexing_on_cuda():
    x = torch.arange(12.0).reshape(3, 4).to("cuda").requires_grad_()
    y = x * 1
    y[torch.tensor([0, 0])] = torch.ones(4, device="cuda")
    (y[y > 5] * 2).sum().backward()
    assert x.grad.device.type == "cuda"
    g = x.grad.cpu().tolist()
    assert g[0] == [0.0] * 4 and g[1] == [0.0, 0.0, 2.0, 2.0] and g[2] == [2.0] * 4
    z = torch.zeros(5, device="cuda").index_add(
        0, torch.tensor([1, 1], device="cuda"), torch.ones(2, device="cuda")
    )
    assert z.cpu().tolist() == [0.0, 2.0, 0.0, 0.0, 0.0]
    s = torch.sort(torch.tensor([2, 1, 2], device="cuda"), descending=True)
    assert s.indices.cpu().tolist() == [0, 2, 1]
