"""Shape-op behaviour the op table cannot express: views sharing memory and the version
counter, tuple returns, the matrix-transpose properties, unfold's overlapping-window gradient,
out= and in-place variants, and torch's special cases (legacy empty tensors in cat, ...)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tocha.core as torch


def _x(*shape, dtype=torch.float64):
    n = int(np.prod(shape)) if shape else 1
    return torch.arange(n, dtype=dtype).reshape(shape)


# --- views share memory and the version counter ------------------------------------------------
VIEW_OPS = {
    "diagonal": lambda x: x.diagonal(),
    "diagonal_offset_dims": lambda x: torch.diagonal(x, -1, 2, 0),
    "narrow": lambda x: x.narrow(1, 1, 2),
    "unbind": lambda x: x.unbind(1)[1],
    "split": lambda x: x.split(2, dim=2)[1],
    "split_sizes": lambda x: torch.split(x, [1, 2], dim=1)[1],
    "chunk": lambda x: x.chunk(2, dim=0)[1],
    "tensor_split": lambda x: x.tensor_split([1], dim=2)[1],
    "unfold": lambda x: x.unfold(2, 2, 1),
    "movedim": lambda x: x.movedim(0, -1),
    "T": lambda x: x.flatten(0, 1).T,
    "mT": lambda x: x.mT,
    "mH": lambda x: x.mH,
    "expand": lambda x: x.unsqueeze(0).expand(2, -1, -1, -1),
    "broadcast_to": lambda x: torch.broadcast_to(x, (2, 2, 3, 4)),
    "unflatten": lambda x: x.unflatten(2, (2, 2)),
    "squeeze": lambda x: x.unsqueeze(1).squeeze((1,)),
    "unsqueeze": lambda x: x.unsqueeze(-1),
    "view": lambda x: x.view(-1),
    "reshape": lambda x: x.reshape(6, -1),
    "flatten": lambda x: x.flatten(1),
    "ravel": lambda x: x.ravel(),
    "permute": lambda x: x.permute(2, 0, 1),
    "transpose": lambda x: x.transpose(0, 2),
    "atleast_3d": lambda x: torch.atleast_3d(x.flatten()),
    "as_strided": lambda x: x.as_strided((3, 3), (1, 2), 1),
}


@pytest.mark.parametrize("name", list(VIEW_OPS))
def test_view_shares_memory_and_version(name):
    base = _x(2, 3, 4)
    v = VIEW_OPS[name](base)
    assert np.shares_memory(v.numpy(), base.numpy()), name
    before = v.numpy().copy()
    with torch.no_grad():
        base.mul_(2.0)
    assert v._version == base._version == 1, name
    np.testing.assert_array_equal(v.numpy(), before * 2)


def test_view_of_leaf_requiring_grad_is_a_view_too():
    x = _x(3, 3).clone().requires_grad_()
    d = x.diagonal()
    assert d._base is x and d.grad_fn is not None
    assert np.shares_memory(d.detach().numpy(), x.detach().numpy())


def test_writing_through_views_reaches_the_base():
    base = torch.zeros(3, 4)
    base.diagonal().copy_(torch.ones(3))
    base.narrow(1, 3, 1).copy_(torch.full((3, 1), 5.0))
    a, b = base.split([1, 2])
    b.copy_(b + 10)
    np.testing.assert_array_equal(
        base.numpy(),
        [[1, 0, 0, 5], [10, 11, 10, 15], [10, 10, 11, 15]],
    )
    assert base._version == a._version == 3


def test_saved_view_modified_in_place_is_detected():
    x = _x(3, 3).requires_grad_()
    y = x * 1.0
    d = y.diagonal()
    out = d * d  # saves ``d``
    with torch.no_grad():
        y.add_(1.0)  # bumps the counter ``d`` shares with ``y``
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.flip(0),
        lambda x: x.roll(1, 0),
        lambda x: torch.cat([x, x]),
        lambda x: torch.cat([x]),
        lambda x: torch.stack([x]),
        lambda x: x.repeat(1, 1),
        lambda x: x.tile(1),
        lambda x: x.repeat_interleave(1, dim=0),
        lambda x: torch.diag(x),
        lambda x: x.tril(),
        lambda x: x.rot90(4),
        lambda x: x.narrow_copy(0, 0, 2),
    ],
)
def test_copying_ops_do_not_alias(fn):
    x = _x(3, 3)
    y = fn(x)
    assert not np.shares_memory(y.numpy(), x.numpy())
    with torch.no_grad():
        x.add_(1.0)
    assert y._version == 0


def test_reshape_copy_is_not_a_view():
    x = _x(3, 4)
    y = x.t().reshape(-1)  # non-contiguous: reshape must copy
    assert not np.shares_memory(y.numpy(), x.numpy())
    with torch.no_grad():
        x.add_(1.0)
    assert y._version == 0 and y._base is None
    np.testing.assert_array_equal(y.numpy(), np.arange(12.0).reshape(3, 4).T.reshape(-1))


def test_view_of_non_contiguous_raises():
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        _x(3, 4).t().view(-1)


# --- tuples, properties --------------------------------------------------------------------------
def test_split_chunk_unbind_return_tuples():
    x = _x(5, 2)
    for res in (x.split(2), torch.split(x, [1, 4]), x.chunk(2), x.unbind(), x.tensor_split(3)):
        assert type(res) is tuple and all(isinstance(t, torch.Tensor) for t in res)
    assert [t.shape[0] for t in x.split(2)] == [2, 2, 1]
    assert [t.shape[0] for t in torch.ones(6).chunk(4)] == [2, 2, 2]  # fewer than asked, like torch
    assert [t.shape[0] for t in torch.ones(0).chunk(3)] == [0, 0, 0]
    assert [t.shape[0] for t in torch.ones(5).tensor_split([3, 1])] == [3, 0, 4]
    assert [r.tolist() for r in _x(2, 2)] == [[0.0, 1.0], [2.0, 3.0]]  # iteration unbinds


def test_transpose_properties():
    x = _x(2, 3, 4)
    np.testing.assert_array_equal(x.mT.numpy(), np.swapaxes(x.numpy(), -1, -2))
    np.testing.assert_array_equal(x.mH.numpy(), np.swapaxes(x.numpy(), -1, -2))
    m = _x(3, 4)
    np.testing.assert_array_equal(m.T.numpy(), m.numpy().T)
    np.testing.assert_array_equal(m.H.numpy(), m.numpy().T)
    np.testing.assert_array_equal(m.adjoint().numpy(), m.numpy().T)
    with pytest.warns(UserWarning, match="deprecated"):
        t3 = x.T
    assert t3.shape == (4, 3, 2)
    np.testing.assert_array_equal(t3.numpy(), x.numpy().T)
    with pytest.warns(UserWarning, match="0-D"):
        assert torch.tensor(2.0).T.item() == 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _ = m.T  # no warning for 2-D
    with pytest.raises(RuntimeError, match="Got 1-D tensor"):
        _ = torch.ones(3).mT
    with pytest.raises(RuntimeError, match="For batches of matrices, consider using tensor.mH"):
        _ = x.H


def test_conjugate_transpose_of_complex():
    if not hasattr(torch.Tensor, "conj"):
        pytest.skip("conj (pointwise family) not available")
    a = np.array([[1 + 2j, 3 - 1j], [0.5j, 2]], np.complex128)
    x = torch.from_numpy(a.copy())
    np.testing.assert_array_equal(x.H.numpy(), a.conj().T)
    np.testing.assert_array_equal(x.mH.numpy(), a.conj().T)
    np.testing.assert_array_equal(x.mT.numpy(), a.T)


def test_transpose_property_gradients():
    x = _x(2, 3).requires_grad_()
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float64)
    (x.T * w).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), w.numpy().T)


# --- unfold --------------------------------------------------------------------------------------
def test_unfold_values_overlapping():
    x = torch.arange(7.0)
    u = x.unfold(0, 3, 2)
    np.testing.assert_array_equal(u.numpy(), [[0, 1, 2], [2, 3, 4], [4, 5, 6]])
    u2 = _x(2, 5).unfold(1, 4, 1)
    assert u2.shape == (2, 2, 4)
    np.testing.assert_array_equal(u2.numpy()[1], [[5, 6, 7, 8], [6, 7, 8, 9]])


@pytest.mark.parametrize("size,step", [(3, 1), (4, 1), (3, 2), (2, 3), (5, 5)])
def test_unfold_gradient_counts_overlaps(size, step):
    n = 9
    x = torch.arange(n, dtype=torch.float64).reshape(1, n, 1).requires_grad_()
    u = x.unfold(1, size, step)  # (1, windows, 1, size)
    w = np.random.default_rng(0).standard_normal(tuple(u.shape))
    (u * torch.from_numpy(w)).sum().backward()
    expected = np.zeros(n)
    for i in range(u.shape[1]):
        expected[i * step : i * step + size] += w[0, i, 0]
    np.testing.assert_allclose(x.grad.numpy().reshape(-1), expected)
    # the gradient's own gradient (double backward) goes back through unfold
    x2 = torch.arange(n, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda t: t.unfold(0, size, step), (x2,))


def test_unfold_in_place_base_update_is_seen():
    x = torch.zeros(6)
    u = x.unfold(0, 2, 1)
    with torch.no_grad():
        x.add_(torch.arange(6.0))
    np.testing.assert_array_equal(u.numpy()[:, 0], np.arange(5.0))
    assert u._version == 1


# --- as_strided ------------------------------------------------------------------------------------
def test_as_strided_overlap_gradient():
    x = torch.arange(8, dtype=torch.float64).requires_grad_()
    y = x.as_strided((3, 3), (2, 1), 1)  # rows overlap
    np.testing.assert_array_equal(y.detach().numpy(), [[1, 2, 3], [3, 4, 5], [5, 6, 7]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 2, 1, 2, 1, 1])


def test_as_strided_of_a_view_uses_the_storage():
    base = torch.arange(10.0)
    v = base.narrow(0, 2, 6)
    np.testing.assert_array_equal(v.as_strided((2,), (1,)).numpy(), [2, 3])  # default offset
    np.testing.assert_array_equal(v.as_strided((2,), (3,), 0).numpy(), [0, 3])  # absolute


# --- cat / stack details ---------------------------------------------------------------------------
def test_cat_promotes_and_skips_legacy_empty():
    a = torch.ones(2, 2, dtype=torch.int32)
    b = torch.ones(1, 2, dtype=torch.float16)
    assert torch.cat([a, b]).dtype == torch.float16
    assert torch.cat([torch.ones(2, dtype=torch.bool), torch.ones(1, dtype=torch.int64)]).dtype == (
        torch.int64
    )
    e = torch.zeros(0, dtype=torch.float64, requires_grad=True)
    x = _x(2, 3).requires_grad_()
    y = torch.cat([e, x, e], dim=1)
    assert y.shape == (2, 3) and y.dtype == torch.float64
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))
    assert e.grad.shape == (0,)


def test_cat_and_stack_out():
    out = torch.empty(4, 2)
    res = torch.cat([torch.ones(2, 2), torch.zeros(2, 2)], out=out)
    assert res is out
    np.testing.assert_array_equal(out.numpy(), [[1, 1], [1, 1], [0, 0], [0, 0]])
    out2 = torch.empty(0)
    torch.stack([torch.ones(3), torch.zeros(3)], dim=1, out=out2)
    assert out2.shape == (3, 2)
    np.testing.assert_array_equal(out2.numpy(), [[1, 0]] * 3)


def test_stack_gradient_and_hstack_family():
    a, b = _x(2, 3).requires_grad_(), (_x(2, 3) + 6).requires_grad_()
    s = torch.stack([a, b], dim=-1)
    (s * torch.arange(12.0, dtype=torch.float64).reshape(2, 3, 2)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [[0, 2, 4], [6, 8, 10]])
    np.testing.assert_array_equal(b.grad.numpy(), [[1, 3, 5], [7, 9, 11]])
    assert torch.hstack([torch.ones(2), torch.ones(3)]).shape == (5,)
    assert torch.vstack([torch.ones(3), torch.ones(2, 3)]).shape == (3, 3)
    assert torch.dstack([torch.ones(3), torch.ones(3)]).shape == (1, 3, 2)
    assert torch.column_stack([torch.ones(3), torch.ones(3, 2)]).shape == (3, 3)


# --- gradients of multi-output views -------------------------------------------------------------
def test_split_gradient_with_unused_pieces():
    x = _x(5, 2).requires_grad_()
    parts = x.split(2)
    (parts[1] * 3).sum().backward()
    expected = np.zeros((5, 2))
    expected[2:4] = 3
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_tensor_split_overlapping_pieces_gradient():
    x = torch.arange(5, dtype=torch.float64).requires_grad_()
    a, b, c = x.tensor_split([3, 1])  # x[0:3], x[3:1] (empty), x[1:]
    (a.sum() + 2 * c.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 3, 3, 2, 2])
    assert b.shape == (0,)


def test_unbind_gradient():
    x = _x(2, 3).requires_grad_()
    cols = x.unbind(1)
    (cols[0] + 2 * cols[2]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 0, 2], [1, 0, 2]])


def test_narrow_with_tensor_start():
    x = _x(5).requires_grad_()
    y = torch.narrow(x, 0, torch.tensor(1), 3)
    np.testing.assert_array_equal(y.detach().numpy(), [1, 2, 3])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 1, 0])


# --- in-place, indices, misc -----------------------------------------------------------------------
def test_tril_triu_in_place():
    x = torch.ones(3, 3)
    assert x.tril_(-1) is x
    np.testing.assert_array_equal(x.numpy(), np.tril(np.ones((3, 3)), -1))
    assert x._version == 1
    y = torch.ones(2, 3, 3)
    y.triu_(1)
    np.testing.assert_array_equal(y.numpy(), np.triu(np.ones((2, 3, 3)), 1))


def test_tril_triu_indices():
    np.testing.assert_array_equal(torch.tril_indices(3, 3).numpy(), np.stack(np.tril_indices(3)))
    t = torch.triu_indices(3, 4, 1)
    assert t.dtype == torch.int64
    np.testing.assert_array_equal(t.numpy(), np.stack(np.triu_indices(3, 1, 4)))


def test_broadcast_shapes_returns_size():
    s = torch.broadcast_shapes((2, 1), (3,), 1)
    assert isinstance(s, torch.Size) and s == (2, 3)
    assert torch.broadcast_shapes() == ()
    with pytest.raises(RuntimeError, match="Attempting to broadcast a dimension of length 4"):
        torch.broadcast_shapes((2, 3), (4, 3))


def test_repeat_interleave_counts_and_tensor_repeats():
    r = torch.repeat_interleave(torch.tensor([1, 2, 0, 3]))
    assert r.dtype == torch.int64
    assert r.tolist() == [0, 1, 1, 3, 3, 3]
    x = _x(3, 2).requires_grad_()
    y = x.repeat_interleave(torch.tensor([2, 0, 1]), dim=0)
    np.testing.assert_array_equal(y.detach().numpy(), [[0, 1], [0, 1], [4, 5]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 2], [0, 0], [1, 1]])


def test_atleast_forms():
    a, b = torch.atleast_2d(torch.tensor(1.0), torch.ones(3))
    assert a.shape == (1, 1) and b.shape == (1, 3)
    (c,) = torch.atleast_1d([torch.tensor(2.0)])
    assert c.shape == (1,)
    assert torch.atleast_3d(torch.ones(2, 3)).shape == (2, 3, 1)


def test_squeeze_tuple_dims_and_flip_roll_rot90_values():
    x = torch.ones(1, 3, 1, 2)
    assert x.squeeze((0, 2)).shape == (3, 2)
    assert x.squeeze((0, 1)).shape == (3, 1, 2)
    m = torch.tensor([[1, 2], [3, 4]])
    assert m.rot90().tolist() == [[2, 4], [1, 3]]
    assert m.rot90(-1).tolist() == [[3, 1], [4, 2]]
    assert m.flip(0, 1).tolist() == [[4, 3], [2, 1]]
    assert torch.arange(5).roll(-1).tolist() == [1, 2, 3, 4, 0]


def test_diag_family_values():
    v = torch.tensor([1.0, 2.0])
    np.testing.assert_array_equal(torch.diag(v, 1).numpy(), np.diag([1.0, 2.0], 1))
    m = _x(3, 4)
    np.testing.assert_array_equal(torch.diag(m, -1).numpy(), [4, 9])
    e = torch.diag_embed(_x(2, 3), offset=1, dim1=0, dim2=2)
    assert e.shape == (4, 2, 4)
    np.testing.assert_array_equal(torch.diagonal(e, 1, 0, 2).numpy(), _x(2, 3).numpy())
    np.testing.assert_array_equal(torch.diagflat(_x(2, 2)).numpy(), np.diagflat(np.arange(4.0)))
