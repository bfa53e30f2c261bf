"""scatter / segment / softmax / degree / self-loop utilities against NumPy references."""

import numpy as np
import pytest

import tocha.core as torch
from tocha.geometric.utils._degree import degree
from tocha.geometric.utils._scatter import scatter, scatter_argmax, segment
from tocha.geometric.utils._softmax import softmax
from tocha.geometric.utils.loop import (
    add_remaining_self_loops,
    add_self_loops,
    contains_self_loops,
    remove_self_loops,
)


def _ref(src, idx, n, reduce, dim=0):
    src = np.moveaxis(src, dim, 0)
    out = np.zeros((n,) + src.shape[1:])
    for g in range(n):
        rows = src[idx == g]
        if reduce == "mul":
            out[g] = rows.prod(0) if len(rows) else 1.0
        elif len(rows):
            f = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[reduce]
            out[g] = f(rows, 0)
    return np.moveaxis(out, 0, dim)


CASES = [((50, 4), 7, 0), ((50,), 80, 0), ((3, 40, 2), 6, 1), ((400, 3), 20, 0), ((4, 30), 5, -1)]


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "mul"])
@pytest.mark.parametrize("shape,n,dim", CASES)
def test_scatter_matches_numpy(shape, n, dim, reduce):
    rng = np.random.default_rng(len(shape) * 100 + n)
    src = rng.standard_normal(shape)
    idx = rng.integers(0, n, shape[dim])
    out = scatter(torch.from_numpy(src), torch.from_numpy(idx), dim, n, reduce)
    np.testing.assert_allclose(out.numpy(), _ref(src, idx, n, reduce, dim), rtol=1e-10)


def test_scatter_long_tail_groups():
    # one huge group and many small ones exercises the reduceat tail of max/min
    rng = np.random.default_rng(1)
    idx = np.concatenate([np.zeros(300, np.int64), rng.integers(1, 200, 500)])
    src = rng.standard_normal((800, 3))
    for red in ("max", "min"):
        out = scatter(torch.from_numpy(src), torch.from_numpy(idx), 0, 210, red)
        np.testing.assert_allclose(out.numpy(), _ref(src, idx, 210, red))


def test_scatter_default_size_add_alias_and_float32():
    src = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    out = scatter(src, torch.tensor([0, 2, 0]), reduce="add")
    assert out.dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), [[6, 8], [0, 0], [3, 4]])


def test_scatter_integer_src():
    out = scatter(torch.tensor([1, 5, 2, 7]), torch.tensor([0, 0, 1, 1]), reduce="max")
    assert out.dtype == torch.int64 and out.tolist() == [5, 7]


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_scatter_gradcheck(reduce):
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.standard_normal((12, 3))).requires_grad_()
    i = torch.from_numpy(rng.integers(0, 5, 12))
    assert torch.autograd.gradcheck(lambda x: scatter(x, i, 0, 6, reduce), (x,))


def test_scatter_max_gradient_splits_ties():
    x = torch.tensor([2.0, 2.0, 1.0], requires_grad=True)
    scatter(x, torch.tensor([0, 0, 0]), reduce="max").sum().backward()
    assert x.grad.tolist() == [0.5, 0.5, 0.0]


def test_scatter_second_order_gradient():
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    i = torch.tensor([0, 1, 0])
    (g,) = torch.autograd.grad((scatter(x * x, i, reduce="sum") ** 2).sum(), x, create_graph=True)
    # g0 = 4 s0 x0 with s0 = x0^2 + x2^2: dg0/dx0 = 4 s0 + 8 x0^2 = 48, dg0/dx2 = 8 x0 x2 = 24
    (h,) = torch.autograd.grad(g[0], x)
    assert h.tolist() == [48.0, 0.0, 24.0]


def test_scatter_plan_cache_sees_inplace_changes():
    src = torch.tensor([1.0, 2.0, 4.0])
    i = torch.tensor([0, 0, 1])
    assert scatter(src, i, dim_size=2).tolist() == [3.0, 4.0]
    i[2] = 0
    assert scatter(src, i, dim_size=2).tolist() == [7.0, 0.0]


def test_scatter_errors():
    src = torch.ones(3, 2)
    with pytest.raises(ValueError, match="one-dimensional"):
        scatter(src, torch.zeros(3, 1).long())
    with pytest.raises(ValueError, match="between 0 and 1"):
        scatter(src, torch.zeros(3).long(), dim=2)
    with pytest.raises(ValueError, match="invalid `reduce`"):
        scatter(src, torch.zeros(3).long(), reduce="median")
    with pytest.raises(IndexError, match="out of bounds for dim_size 2"):
        scatter(src, torch.tensor([0, 1, 5]), dim_size=2)
    with pytest.raises(ValueError, match="index has 2 entries but src has 3"):
        scatter(src, torch.tensor([0, 1]))


def test_scatter_deterministic_mode_same_result():
    rng = np.random.default_rng(5)
    src = torch.from_numpy(rng.standard_normal((300, 4)).astype(np.float32))
    i = torch.from_numpy(rng.integers(0, 10, 300))
    a = scatter(src, i, reduce="sum")
    torch.use_deterministic_algorithms(True)
    try:
        b = scatter(src, i.clone(), reduce="sum")
    finally:
        torch.use_deterministic_algorithms(False)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_segment_equals_scatter(reduce):
    rng = np.random.default_rng(6)
    src = rng.standard_normal((10, 2))
    ptr = np.array([0, 3, 3, 7, 10])
    idx = np.repeat(np.arange(4), np.diff(ptr))
    out = segment(torch.from_numpy(src), torch.from_numpy(ptr), reduce)
    np.testing.assert_allclose(out.numpy(), _ref(src, idx, 4, reduce))
    with pytest.raises(ValueError, match="ptr\\[-1\\] = 9"):
        segment(torch.from_numpy(src), torch.tensor([0, 9]))


def test_scatter_argmax():
    out = scatter_argmax(torch.tensor([1.0, 5.0, 2.0, 5.0]), torch.tensor([0, 0, 1, 0]), dim_size=3)
    assert out.tolist() == [1, 2, 4]


def test_softmax_groups_and_ptr():
    rng = np.random.default_rng(7)
    s = rng.standard_normal((9, 2))
    idx = np.array([0, 0, 1, 1, 1, 3, 3, 3, 3])
    ref = np.empty_like(s)
    for g in np.unique(idx):
        e = np.exp(s[idx == g] - s[idx == g].max(0))
        ref[idx == g] = e / e.sum(0)
    out = softmax(torch.from_numpy(s), torch.from_numpy(idx))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    out = softmax(torch.from_numpy(s), ptr=torch.tensor([0, 2, 5, 5, 9]))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    x = torch.from_numpy(s).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: softmax(x, torch.from_numpy(idx)), (x,))


def test_degree():
    assert degree(torch.tensor([0, 1, 0, 3])).tolist() == [2.0, 1.0, 0.0, 1.0]
    d = degree(torch.tensor([1, 1]), num_nodes=3, dtype=torch.long)
    assert d.dtype == torch.int64 and d.tolist() == [0, 2, 0]
    with pytest.raises(IndexError, match="num_nodes 2"):
        degree(torch.tensor([0, 4]), num_nodes=2)


def test_self_loops():
    ei = torch.tensor([[0, 1, 2, 2], [1, 0, 2, 0]])
    w = torch.tensor([1.0, 2.0, 5.0, 4.0])
    assert contains_self_loops(ei)
    e2, w2 = remove_self_loops(ei, w)
    assert e2.tolist() == [[0, 1, 2], [1, 0, 0]] and w2.tolist() == [1.0, 2.0, 4.0]
    assert not contains_self_loops(e2)
    e3, w3 = add_self_loops(ei, w, fill_value=0.5, num_nodes=3)
    assert e3.tolist() == [[0, 1, 2, 2, 0, 1, 2], [1, 0, 2, 0, 0, 1, 2]]
    assert w3.tolist() == [1.0, 2.0, 5.0, 4.0, 0.5, 0.5, 0.5]
    # 'mean' of incoming edge attributes: node 0 gets (2 + 4) / 2
    _, w4 = add_self_loops(ei, w, fill_value="mean", num_nodes=3)
    assert w4[4:].tolist() == [3.0, 1.0, 5.0]
    e5, w5 = add_remaining_self_loops(ei, w, fill_value=1.0, num_nodes=3)
    assert e5.tolist() == [[0, 1, 2, 0, 1, 2], [1, 0, 0, 0, 1, 2]]
    assert w5.tolist() == [1.0, 2.0, 4.0, 1.0, 1.0, 5.0]
    e6, none = add_remaining_self_loops(ei)
    assert none is None and e6.shape == (2, 6)
    _, wt = add_self_loops(ei, torch.ones(4, 2), fill_value=torch.tensor([7.0, 8.0]))
    assert wt[-1].tolist() == [7.0, 8.0]
