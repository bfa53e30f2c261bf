"""Parameter, Buffer and UninitializedParameter."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import nn
from tocha.core.nn.parameter import is_lazy


def test_parameter_is_leaf_tensor_requiring_grad_and_shares_memory():
    t = torch.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert isinstance(p, torch.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    t.add_(1)  # an alias of ``t``: the in-place write shows, and the version is shared
    np.testing.assert_array_equal(p.detach().numpy(), [2.0, 3.0])
    assert p._version == t._version == 1


def test_parameter_from_non_leaf_is_a_fresh_leaf():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    p = nn.Parameter(x * 2)
    assert p.is_leaf and p.requires_grad
    (p * p).sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), [4.0, 8.0])
    assert x.grad is None


def test_parameter_defaults_and_requires_grad_false():
    p = nn.Parameter()
    assert tuple(p.shape) == (0,) and p.dtype == torch.float32 and p.requires_grad
    q = nn.Parameter(torch.tensor([1, 2]), requires_grad=False)
    assert not q.requires_grad and q.dtype == torch.int64


def test_parameter_integer_requiring_grad_raises_torch_error():
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype"):
        nn.Parameter(torch.tensor([1, 2]))


def test_parameter_rejects_non_tensor():
    with pytest.raises(TypeError, match="Parameter"):
        nn.Parameter([1.0, 2.0])


def test_parameter_repr_matches_torch():
    assert repr(nn.Parameter(torch.ones(2))) == (
        "Parameter containing:\ntensor([1., 1.], requires_grad=True)"
    )
    assert repr(nn.Parameter(torch.ones(2, dtype=torch.float64), requires_grad=False)) == (
        "Parameter containing:\ntensor([1., 1.], dtype=torch.float64)"
    )


def test_ops_on_parameters_return_plain_tensors_and_grads_accumulate():
    p = nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
    y = (p * 2).relu().sum() + p.exp().mean()
    assert type(p * 2) is torch.Tensor and type(p.detach()) is torch.Tensor
    y.backward()
    e = np.exp([1.0, -2.0, 3.0]) / 3
    np.testing.assert_allclose(p.grad.numpy(), np.array([2.0, 0.0, 2.0]) + e, rtol=1e-6)
    (p * 3).sum().backward()  # accumulates
    np.testing.assert_allclose(p.grad.numpy(), np.array([5.0, 3.0, 5.0]) + e, rtol=1e-6)


def test_parameter_deepcopy_copies_data_and_keeps_type():
    p = nn.Parameter(torch.tensor([1.0, 2.0]))
    p.grad = torch.ones(2)
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad and q is not p
    q.data.add_(1)
    np.testing.assert_array_equal(p.detach().numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(q.detach().numpy(), [2.0, 3.0])
    # shared references stay shared inside one deepcopy
    a, b = copy.deepcopy([p, p])
    assert a is b


def test_parameter_pickle_round_trip_keeps_attributes():
    p = nn.Parameter(torch.tensor([1.5, -2.5]), requires_grad=False)
    p.tag = "encoder"
    q = pickle.loads(pickle.dumps(p))
    assert type(q) is nn.Parameter and not q.requires_grad and q.tag == "encoder"
    np.testing.assert_array_equal(q.detach().numpy(), [1.5, -2.5])


def test_buffer_marker():
    b = nn.Buffer(torch.ones(2), persistent=False)
    assert isinstance(b, nn.Buffer) and isinstance(b, torch.Tensor)
    assert not isinstance(torch.ones(2), nn.Buffer)
    assert not isinstance(nn.Parameter(torch.ones(2)), nn.Buffer)
    m = nn.Module()
    m.scale = b
    m.shift = nn.Buffer(torch.zeros(2))
    assert [n for n, _ in m.named_buffers()] == ["scale", "shift"]
    assert list(m.state_dict()) == ["shift"]
    assert m._non_persistent_buffers_set == {"scale"}


def test_uninitialized_parameter_materializes():
    p = nn.UninitializedParameter()
    assert is_lazy(p) and repr(p) == "<UninitializedParameter>"
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        _ = p.shape
    p.materialize((2, 3))
    assert type(p) is nn.Parameter and not is_lazy(p)
    assert tuple(p.shape) == (2, 3) and p.requires_grad
