"""The torch API gaps filled in shape, index, creation and misc: select and the *_scatter ops,
in-place view ops, meshgrid and friends, index_reduce, isin, unravel_index, fill_diagonal_,
strided allocation, frombuffer, fill, vander, namespace settings and the new Tensor hooks.
References are NumPy; gradients are checked by finite differences."""

from __future__ import annotations

import itertools
import os
import warnings

import numpy as np
import pytest
import scipy.linalg

import tocha.core as torch
from tocha.core.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def _t(a, rg=False):
    t = torch.tensor(a)
    return t.requires_grad_(True) if rg else t


# --- select and the *_scatter ops -------------------------------------------------------------
def test_select_values_view_and_grad_fn():
    a = RNG.standard_normal((3, 4, 2))
    x = _t(a)
    np.testing.assert_array_equal(x.select(1, -1).numpy(), a[:, -1])
    np.testing.assert_array_equal(torch.select(x, 0, 2).numpy(), a[2])
    v = x.select(2, 0)
    v[0, 0] = 100.0  # a view: writes reach the base
    assert x[0, 0, 0].item() == 100.0
    xr = _t(a, True)
    assert xr.select(1, 2).grad_fn.name() == "SelectBackward0"
    assert xr[0].grad_fn.name() == "SelectBackward0"
    assert xr[:, 1].grad_fn.name() == "SelectBackward0"
    assert xr[0, 1:].grad_fn.name() == "SliceBackward0"
    assert xr[0, None].grad_fn.name() == "UnsqueezeBackward0"
    assert gradcheck(lambda t: t.select(1, 2), (xr,))
    assert gradgradcheck(lambda t: t.select(-1, 1), (xr,))


def test_select_errors():
    x = torch.zeros(3, 4)
    with pytest.raises(IndexError, match=r"select\(\): index 3 out of range for tensor of size"):
        x.select(0, 3)
    with pytest.raises(IndexError, match="cannot be applied to a 0-dim tensor"):
        torch.tensor(1.0).select(0, 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.select(2, 0)


@pytest.mark.parametrize(
    "fn,view,src_shape",
    [
        (lambda x, s: torch.select_scatter(x, s, 1, 2), lambda a: a[:, 2], (4,)),
        (lambda x, s: torch.select_scatter(x, s, 0, -1), lambda a: a[-1], (5,)),
        (lambda x, s: torch.slice_scatter(x, s, 1, 1, None, 2), lambda a: a[:, 1::2], (4, 2)),
        (lambda x, s: torch.slice_scatter(x, s, start=2), lambda a: a[2:], (2, 5)),
        (lambda x, s: torch.diagonal_scatter(x, s, 1), lambda a: np.diagonal(a, 1), (4,)),
        (lambda x, s: x.diagonal_scatter(s, -2), lambda a: np.diagonal(a, -2), (2,)),
    ],
)
def test_scatter_ops(fn, view, src_shape):
    a = RNG.standard_normal((4, 5))
    s = RNG.standard_normal(src_shape)
    want = a.copy()
    if view(want).flags.writeable:
        view(want)[...] = s
    else:  # np.diagonal is read-only: write through the index arrays
        k = 1 if src_shape == (4,) else -2
        r = np.arange(len(s)) + max(-k, 0)
        want[r, r + k] = s
    got = fn(_t(a), _t(s))
    np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(a, _t(a).numpy())  # the input is untouched
    x, y = _t(a, True), _t(s, True)
    assert gradcheck(fn, (x, y))
    assert gradgradcheck(fn, (x, y))


def test_scatter_size_error_and_name():
    with pytest.raises(RuntimeError, match=r"src size = \[2\], slice size = \[3\]"):
        torch.select_scatter(torch.zeros(2, 3), torch.ones(2), 0, 1)
    x = torch.zeros(3, 3, requires_grad=True)
    assert torch.diagonal_scatter(x, torch.ones(3)).grad_fn.name() == "DiagonalScatterBackward0"


# --- in-place view ops ------------------------------------------------------------------------
def test_inplace_view_ops():
    x = torch.zeros(2, 1, 3)
    assert x.squeeze_() is x and x.shape == (2, 3)
    assert x.unsqueeze_(0).shape == (1, 2, 3)
    y = torch.arange(6.0).reshape(2, 3)
    base = y
    y = y.clone()
    y.t_()
    np.testing.assert_array_equal(y.numpy(), np.arange(6.0).reshape(2, 3).T)
    y.transpose_(0, 1)
    assert y.shape == (2, 3)
    y.swapdims_(0, 1).swapaxes_(1, 0)
    assert y.shape == (2, 3)
    del base
    v = torch.zeros(4, 1)[1:]
    v.squeeze_()
    assert v.shape == (3,) and v.storage_offset() == 1
    leaf = torch.zeros(2, 1, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        leaf.squeeze_()
    w = leaf * 2
    w.squeeze_()
    w.sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), [[2.0], [2.0]])


# --- queries ----------------------------------------------------------------------------------
def test_small_queries():
    assert torch.is_same_size(torch.zeros(2, 3), torch.ones(2, 3))
    assert not torch.zeros(2, 3).is_same_size(torch.zeros(3, 2))
    assert torch.is_nonzero(torch.tensor([1.5])) and not torch.is_nonzero(torch.tensor(0))
    with pytest.raises(RuntimeError, match="with no values is ambiguous"):
        torch.is_nonzero(torch.tensor([]))
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        torch.is_nonzero(torch.tensor([1, 2]))
    a = RNG.standard_normal((2, 3, 4))
    np.testing.assert_allclose(
        _t(a).sum_to_size(3, 1).numpy(), a.sum(0).sum(-1, keepdims=True), rtol=1e-12
    )
    np.testing.assert_allclose(_t(a).sum_to_size((1, 1, 4)).numpy(), a.sum((0, 1), keepdims=True))
    with pytest.raises(RuntimeError, match=r"size \{\[3, 2\]\} is not expandable to size"):
        torch.ones(2, 3).sum_to_size(3, 2)
    assert torch.arange(10)[3:].storage_offset() == 3
    assert torch.zeros(3).storage_offset() == 0


# --- meshgrid / cartesian_prod / combinations / block_diag ------------------------------------
@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    a, b, c = np.arange(2), np.arange(3) + 10, np.arange(4) + 20
    got = torch.meshgrid(_t(a), _t(b), _t(c), indexing=indexing)
    want = np.meshgrid(a, b, c, indexing=indexing)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w)


def test_meshgrid_default_warns_and_errors():
    with pytest.warns(UserWarning, match="it will be required to pass the indexing argument"):
        a, _ = torch.meshgrid(torch.arange(2), torch.arange(3))
    assert a.shape == (2, 3)
    with pytest.raises(RuntimeError, match='indexing must be one of "xy" or "ij"'):
        torch.meshgrid(torch.arange(2), indexing="ji")
    with pytest.raises(RuntimeError, match="Expected 0D or 1D tensor"):
        torch.meshgrid(torch.zeros(2, 2), indexing="ij")


def test_cartesian_prod_and_combinations():
    a, b = np.array([1, 2]), np.array([3, 4, 5])
    np.testing.assert_array_equal(
        torch.cartesian_prod(_t(a), _t(b)).numpy(), np.array(list(itertools.product(a, b)))
    )
    np.testing.assert_array_equal(torch.cartesian_prod(_t(a)).numpy(), a)
    v = np.array([1.0, 2.0, 4.0, 8.0])
    for r, rep in [(2, False), (3, False), (2, True)]:
        gen = itertools.combinations_with_replacement if rep else itertools.combinations
        got = torch.combinations(_t(v), r, with_replacement=rep).numpy()
        np.testing.assert_array_equal(got, np.array(list(gen(v, r))))
    assert torch.combinations(_t(v), r=0).shape == (0,)
    assert torch.combinations(_t(v), r=5).shape == (0, 5)
    with pytest.raises(RuntimeError, match=r"Expect a 1D vector, but got shape \[2, 2\]"):
        torch.combinations(torch.ones(2, 2))
    x = _t(v, True)
    assert gradcheck(lambda t: torch.combinations(t, 2), (x,))


def test_block_diag():
    a = RNG.standard_normal((2, 3))
    b = RNG.standard_normal(2)
    got = torch.block_diag(_t(a), torch.tensor(7.0, dtype=torch.float64), _t(b))
    np.testing.assert_array_equal(got.numpy(), scipy.linalg.block_diag(a, [[7.0]], b[None]))
    mixed = torch.block_diag(torch.tensor([[1, 2]]), torch.tensor([[0.5]]))
    assert mixed.dtype == torch.float32
    assert torch.block_diag().shape == (1, 0)
    with pytest.raises(RuntimeError, match="Input 0 has 3 dimensions"):
        torch.block_diag(torch.ones(2, 2, 2))
    x, y = _t(a, True), _t(b, True)
    assert gradcheck(lambda p, q: torch.block_diag(p, q), (x, y))
    assert gradgradcheck(lambda p, q: torch.block_diag(p, q), (x, y))


# --- index_reduce / isin / unravel_index / fill_diagonal_ -----------------------------------
def _index_reduce_ref(a, dim, index, src, reduce, include_self):
    out = np.moveaxis(a.copy(), dim, 0)
    s = np.moveaxis(src, dim, 0)
    for k in set(index.tolist()):
        rows = [s[i] for i in range(len(index)) if index[i] == k]
        vals = ([out[k]] if include_self else []) + rows
        fn = {"prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}[reduce]
        out[k] = fn(np.stack(vals), 0)
    return np.moveaxis(out, 0, dim)


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce(reduce, include_self):
    a = RNG.uniform(0.5, 2.0, (3, 5))
    src = RNG.uniform(0.5, 2.0, (3, 4))
    index = np.array([0, 4, 2, 0])
    got = torch.index_reduce(_t(a), 1, _t(index), _t(src), reduce, include_self=include_self)
    want = _index_reduce_ref(a, 1, index, src, reduce, include_self)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    x = _t(a)
    x.index_reduce_(1, _t(index), _t(src), reduce, include_self=include_self)
    np.testing.assert_allclose(x.numpy(), want, rtol=1e-12)
    p, q = _t(a, True), _t(src, True)
    assert gradcheck(
        lambda u, v: u.index_reduce(1, _t(index), v, reduce, include_self=include_self), (p, q)
    )


def test_index_reduce_int_mean_and_errors():
    got = torch.index_reduce(
        torch.ones(3, dtype=torch.int64), 0, torch.tensor([0, 0]), torch.tensor([4, 5]), "mean"
    )
    assert got.tolist() == [3, 1, 1]  # (1 + 4 + 5) // 3, as torch floors
    x = torch.ones(5, 3)
    with pytest.raises(RuntimeError, match="one of prod, mean, amax or amin but got sum"):
        x.index_reduce(0, torch.tensor([0]), torch.ones(1, 3), "sum")
    with pytest.raises(IndexError, match="index out of range in self"):
        x.index_reduce(0, torch.tensor([7]), torch.ones(1, 3), "amax")
    with pytest.raises(RuntimeError, match=r"Number of indices \(2\) should be equal to source"):
        x.index_reduce(0, torch.tensor([1, 2]), torch.ones(1, 3), "amax")


def test_isin():
    e = np.array([[1, 2, 3], [4, 5, 6]])
    t = np.array([2, 6, 9])
    np.testing.assert_array_equal(torch.isin(_t(e), _t(t)).numpy(), np.isin(e, t))
    np.testing.assert_array_equal(
        torch.isin(_t(e), _t(t), invert=True).numpy(), np.isin(e, t, invert=True)
    )
    np.testing.assert_array_equal(torch.isin(_t(e), 5).numpy(), e == 5)
    assert torch.isin(2, _t(t)).item() is True
    assert torch.isin(_t(e), _t(t)).dtype == torch.bool


def test_unravel_index():
    idx = np.array([[5, 0], [7, 3]])
    got = torch.unravel_index(_t(idx), (2, 4))
    for g, w in zip(got, np.unravel_index(idx, (2, 4))):
        np.testing.assert_array_equal(g.numpy(), w)
        assert g.dtype == torch.int64
    assert [t.item() for t in torch.unravel_index(torch.tensor(-1), (2, 4))] == [1, 3]
    with pytest.raises(TypeError, match="expected 'indices' to be integer dtype"):
        torch.unravel_index(torch.tensor([1.0]), (2,))
    with pytest.raises(ValueError, match="'shape' cannot have negative values"):
        torch.unravel_index(torch.tensor([1]), (-2,))


@pytest.mark.parametrize("shape,wrap", [((3, 4), False), ((7, 3), True), ((7, 3), False)])
def test_fill_diagonal(shape, wrap):
    a = RNG.standard_normal(shape)
    want = a.copy()
    np.fill_diagonal(want, 5.0, wrap=wrap)
    x = _t(a)
    assert x.fill_diagonal_(5.0, wrap=wrap) is x
    np.testing.assert_array_equal(x.numpy(), want)
    cube = torch.zeros(2, 2, 2).fill_diagonal_(1)
    assert cube.numpy()[0, 0, 0] == 1 and cube.numpy()[1, 1, 1] == 1 and cube.sum().item() == 2
    with pytest.raises(RuntimeError, match="dimensions must larger than 1"):
        torch.zeros(3).fill_diagonal_(1)
    with pytest.raises(RuntimeError, match="all dimensions of input must be of equal length"):
        torch.zeros(2, 3, 3).fill_diagonal_(1)
    leaf = _t(a, True)
    y = leaf * 1
    y.fill_diagonal_(0.0, wrap=wrap)
    y.sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), (want != 5.0).astype(float))


# --- creation ---------------------------------------------------------------------------------
def test_empty_strided_and_frombuffer():
    e = torch.empty_strided((2, 3), (1, 2))
    assert e.shape == (2, 3) and e.stride() == (1, 2) and e.dtype == torch.float32
    n = torch.ones(2, dtype=torch.float64).new_empty_strided((2, 2), (1, 2))
    assert n.dtype == torch.float64 and n.stride() == (1, 2)
    buf = bytearray(np.array([1, 2, 3, 4], np.int32).tobytes())
    t = torch.frombuffer(buf, dtype=torch.int32, count=2, offset=4)
    assert t.tolist() == [2, 3]
    t[0] = 9  # shares the buffer's memory, like torch
    assert np.frombuffer(buf, np.int32)[1] == 9
    with pytest.raises(ValueError, match=r"must be a multiple of element size \(4\)"):
        torch.frombuffer(bytearray(3), dtype=torch.int32)
    with pytest.warns(UserWarning, match="not writable"):
        assert torch.frombuffer(b"ab", dtype=torch.int8).tolist() == [97, 98]


def test_fill_and_vander():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    v = torch.tensor(3.0, requires_grad=True)
    y = torch.fill(x, v)
    assert y.tolist() == [3.0, 3.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0] and v.grad.item() == 2.0
    assert torch.fill(torch.ones(2, dtype=torch.int64), 2.7).tolist() == [2, 2]
    with pytest.raises(RuntimeError, match="only supports 0-dimension value tensor"):
        torch.fill(torch.ones(2), torch.ones(2))
    a = np.array([1.5, -2.0, 0.0, 3.0])
    np.testing.assert_allclose(torch.vander(_t(a)).numpy(), np.vander(a))
    np.testing.assert_allclose(
        torch.vander(_t(a), N=6, increasing=True).numpy(), np.vander(a, 6, increasing=True)
    )
    assert torch.vander(torch.tensor([1, 2], dtype=torch.int32)).dtype == torch.int64
    assert torch.vander(_t(a), N=0).shape == (4, 0)
    with pytest.raises(RuntimeError, match="x must be a one-dimensional tensor"):
        torch.vander(torch.ones(2, 2))
    assert gradcheck(lambda t: torch.vander(t, N=4), (_t(a, True),))
    assert gradgradcheck(lambda t: torch.vander(t, N=3), (_t(a, True),))


# --- namespace settings and queries -----------------------------------------------------------
def test_settings_round_trip():
    assert torch.get_default_device() == torch.device("cpu")
    torch.set_default_device("cpu")
    assert torch.zeros(2).device == torch.device("cpu")
    torch.set_default_device(None)
    prev = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        assert torch.get_float32_matmul_precision() == "medium"
        with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
            torch.set_float32_matmul_precision("fast")
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision(prev)
    n = torch.get_num_interop_threads()
    assert n >= 1
    torch.set_num_interop_threads(3)
    assert torch.get_num_interop_threads() == 3
    with pytest.raises(RuntimeError, match="must be positive, got 0"):
        torch.set_num_interop_threads(0)
    assert not torch.is_anomaly_enabled()
    torch.set_anomaly_enabled(True)
    try:
        assert torch.is_anomaly_enabled()
    finally:
        torch.set_anomaly_enabled(False)


def test_result_type_and_queries():
    assert torch.result_type(torch.tensor([1]), 1.0) == torch.float32
    assert torch.result_type(2, 3.0) == torch.float32
    zero_dim = torch.tensor(1.0, dtype=torch.float64)
    assert torch.result_type(zero_dim, torch.tensor([1], dtype=torch.int32)) == torch.float64
    assert torch.result_type(torch.tensor([1.0]), zero_dim) == torch.float32
    assert not torch.is_signed(torch.tensor([1], dtype=torch.uint8))
    assert torch.is_signed(torch.tensor([1.0]))
    x = torch.ones(2, requires_grad=True)
    d = torch.detach(x)
    assert not d.requires_grad and d.data_ptr() == x.data_ptr()
    assert not torch.is_inference(x)


def test_post_accumulate_grad_hook():
    x = torch.ones(3, requires_grad=True)
    seen = []
    handle = x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.clone()))
    ((x * 2).sum() + (x * 3).sum()).backward()
    assert len(seen) == 1 and seen[0].tolist() == [5.0, 5.0, 5.0]  # after the sum of both
    (x * 2).sum().backward()
    assert seen[1].tolist() == [7.0, 7.0, 7.0]  # accumulated .grad
    handle.remove()
    (x * 2).sum().backward()
    assert len(seen) == 2
    torch.autograd.grad((x * 2).sum(), x)  # no accumulation, no hook
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="cannot be registered on non-leaf tensors"):
        (x * 1).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        torch.ones(2).register_post_accumulate_grad_hook(print)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_share_memory():
    t = torch.arange(4.0)
    assert not t.is_shared()
    assert t.share_memory_() is t and t.is_shared()
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork in a threaded process
        pid = os.fork()
    if pid == 0:
        t[1] = 7.0
        os._exit(0)
    os.waitpid(pid, 0)
    assert t.tolist() == [0.0, 7.0, 2.0, 3.0]  # the child's write is visible


# --- numeric helpers beyond the op table ------------------------------------------------------
def test_cov_weights_and_corrcoef_edges():
    a = RNG.standard_normal((3, 6))
    fw = np.array([1, 2, 1, 3, 1, 2])
    aw = RNG.uniform(0.1, 1.0, 6)
    got = torch.cov(_t(a), correction=2, fweights=_t(fw), aweights=_t(aw))
    np.testing.assert_allclose(got.numpy(), np.cov(a, ddof=2, fweights=fw, aweights=aw))
    assert torch.cov(torch.tensor([1, 2, 3])).item() == 1.0  # integers become float, 0-dim
    assert torch.corrcoef(_t(a[0])).item() == 1.0
    with pytest.raises(RuntimeError, match="fweights cannot be negative"):
        torch.cov(_t(a), fweights=_t(-fw))


def test_integer_and_special_cases():
    a = torch.tensor([12, -18, 0])
    a.gcd_(torch.tensor([8, 12, 0]))
    assert a.tolist() == [4, 6, 0]
    assert torch.lcm(torch.tensor([4, -6]), torch.tensor([6, 4])).tolist() == [12, 12]
    m, e = torch.frexp(torch.tensor([0.0, 8.0, -5.0]))
    assert m.tolist() == [0.0, 0.5, -0.625] and e.tolist() == [0, 4, 3]
    assert e.dtype == torch.int32
    assert torch.trapezoid(torch.tensor([1, 2, 3])).dtype == torch.float32
    assert torch.diff(torch.tensor([True, False, False])).tolist() == [True, False]
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="derivative for 'igamma: input'"):
        torch.igamma(x, torch.tensor([0.5, 3.0])).sum().backward()
    with pytest.raises(NotImplementedError, match="gcd_cpu"):
        torch.gcd(torch.ones(2), torch.ones(2))
