"""Tensor basics: metadata, conversions to Python/NumPy/DLPack, dtype and device moves,
copies and aliases, repr (exact torch strings), copy_, pickling, Python protocols."""

from __future__ import annotations

import copy
import pickle

import ml_dtypes
import numpy as np
import pytest

import tocha.core as torch


# --- metadata -------------------------------------------------------------------------------
def test_shape_size_dim_numel():
    x = torch.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, torch.Size)
    assert x.size() == torch.Size([2, 3, 4])
    assert x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == 3 and x.ndim == 3 and x.ndimension() == 3
    assert x.numel() == 24 and x.nelement() == 24 and torch.numel(x) == 24
    assert x.element_size() == 4 and x.itemsize == 4 and x.nbytes == 96
    assert x.stride() == (12, 4, 1) and x.stride(0) == 12
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of"):
        x.size(3)
    s = torch.tensor(1.0)
    assert s.shape == () and s.dim() == 0 and s.numel() == 1


def test_size_object():
    s = torch.Size([2, 3, 4])
    assert repr(s) == "torch.Size([2, 3, 4])"
    assert s.numel() == 24
    assert isinstance(s[1:], torch.Size) and s[1:] == (3, 4)
    assert s[0] == 2 and s == (2, 3, 4)


def test_transposes():
    x = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert x.T.tolist() == [[1, 4], [2, 5], [3, 6]]
    assert x.T.stride() == (1, 3) and not x.T.is_contiguous()
    assert x.mT.shape == (3, 2)
    assert torch.zeros(5, 2, 3).mT.shape == (5, 3, 2)


def test_type_predicates_and_names():
    f, i, u = torch.tensor([1.5]), torch.tensor([1]), torch.tensor([1], dtype=torch.uint8)
    assert f.is_floating_point() and not i.is_floating_point()
    assert torch.is_floating_point(f) and torch.is_tensor(f) and not torch.is_tensor([1])
    assert torch.tensor([1j]).is_complex() and not f.is_complex()
    assert i.is_signed() and not u.is_signed()
    assert f.type() == "torch.FloatTensor" and i.type() == "torch.LongTensor"
    assert f.device == torch.device("cpu") and not f.is_cuda and f.is_cpu
    assert f.get_device() == -1


# --- conversions to Python and NumPy --------------------------------------------------------
def test_item_and_tolist():
    assert torch.tensor([1.5]).item() == 1.5
    assert torch.tensor([[2]]).item() == 2 and isinstance(torch.tensor([[2]]).item(), int)
    assert isinstance(torch.tensor(True).item(), bool)
    assert torch.tensor([1.5], dtype=torch.bfloat16).item() == 1.5
    assert torch.tensor([[1, 2]]).tolist() == [[1, 2]]
    assert torch.tensor(2.5).tolist() == 2.5
    assert torch.tensor([0.5], dtype=torch.bfloat16).tolist() == [0.5]
    with pytest.raises(
        RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"
    ):
        torch.tensor([1, 2]).item()


def test_numpy_shares_memory_and_refuses_grad():
    t = torch.tensor([1.0, 2.0])
    a = t.numpy()
    a[0] = 5
    assert t.tolist() == [5.0, 2.0]
    t.add_(1)
    assert a.tolist() == [6.0, 3.0]
    r = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        r.numpy()
    assert r.numpy(force=True).tolist() == [1.0]
    assert r.detach().numpy().tolist() == [1.0]
    assert r.tolist() == [1.0] and r.item() == 1.0  # these are allowed


def test_array_protocol():
    t = torch.tensor([1, 2], dtype=torch.int32)
    a = np.asarray(t)
    assert a.dtype == np.int32 and a.tolist() == [1, 2]
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(torch.tensor([1.5], dtype=torch.bfloat16)).dtype == ml_dtypes.bfloat16


def test_dlpack_protocol():
    t = torch.arange(4.0)
    assert t.__dlpack_device__() == (1, 0)
    a = np.from_dlpack(t)
    a[0] = 9
    assert t.tolist()[0] == 9.0


# --- dtype and device moves -----------------------------------------------------------------
def test_to_dtype_device_and_other():
    x = torch.tensor([1.7, -1.7, 300.0])
    assert x.to(torch.float64).dtype == torch.float64
    assert x.to(dtype=torch.int64).tolist() == [1, -1, 300]  # truncation toward zero
    assert x.to(torch.uint8).tolist()[:1] == [1]
    assert x.to("cpu") is x  # nothing changes: the same tensor
    assert x.to(torch.float32) is x
    assert x.to(torch.float32, copy=True) is not x
    assert x.to(torch.zeros(1, dtype=torch.float16)).dtype == torch.float16
    assert x.to("cpu", torch.float64).dtype == torch.float64
    assert x.to(device="cpu", dtype=torch.int32).dtype == torch.int32


def test_cast_methods():
    x = torch.tensor([1.5, -2.5, 0.0])
    assert x.long().dtype == torch.int64 and x.long().tolist() == [1, -2, 0]
    assert x.int().dtype == torch.int32
    assert x.double().dtype == torch.float64
    assert x.half().dtype == torch.float16 and x.half().tolist() == [1.5, -2.5, 0.0]
    assert x.bfloat16().dtype == torch.bfloat16
    assert x.bool().tolist() == [True, True, False]
    assert torch.tensor([1, 2]).float().dtype == torch.float32
    assert torch.tensor([1, 2]).type(torch.float64).dtype == torch.float64
    assert x.type_as(torch.tensor([1])).dtype == torch.int64


def test_cast_keeps_the_graph():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    y.sum().backward()
    assert x.grad.dtype == torch.float32 and x.grad.tolist() == [3.0, 3.0]


# --- copies and aliases ---------------------------------------------------------------------
def test_contiguous_and_clone():
    x = torch.tensor([[1, 2, 3], [4, 5, 6]])
    c = x.T.contiguous()
    assert c.is_contiguous() and c.tolist() == [[1, 4], [2, 5], [3, 6]]
    assert x.contiguous() is x
    k = x.clone()
    k.add_(10)
    assert x.tolist() == [[1, 2, 3], [4, 5, 6]]
    g = torch.tensor([1.0, 2.0], requires_grad=True)
    (g.clone() * 2).sum().backward()
    assert g.grad.tolist() == [2.0, 2.0]


def test_detach_shares_memory_and_version_counter():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    v = x._version
    d.add_(1)
    assert x.tolist() == [2.0, 3.0]
    assert x._version == v + 1 and d._version == x._version
    # the version counter is what lets backward detect the change
    y = torch.tensor([1.0, 2.0], requires_grad=True)
    z = y * y
    y.detach().mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


# --- repr: exact torch strings (generated once with torch 2.13) -----------------------------
REPRS = [
    ("ints", lambda: torch.tensor([1, 2, 3]), "tensor([1, 2, 3])"),
    (
        "neg_ints_2d",
        lambda: torch.tensor([[1, -2], [30, 4]]),
        "tensor([[ 1, -2],\n        [30,  4]])",
    ),
    ("float_ints", lambda: torch.tensor([1.0, 2.0]), "tensor([1., 2.])"),
    ("fractional", lambda: torch.tensor([0.1, 0.2]), "tensor([0.1000, 0.2000])"),
    ("mixed_sign", lambda: torch.tensor([-1.5, 2.25]), "tensor([-1.5000,  2.2500])"),
    ("sci_small", lambda: torch.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    ("sci_large", lambda: torch.tensor([1e10, 1.0]), "tensor([1.0000e+10, 1.0000e+00])"),
    ("bool", lambda: torch.tensor([True, False]), "tensor([ True, False])"),
    ("bool_true", lambda: torch.tensor([True, True]), "tensor([True, True])"),
    (
        "two_d",
        lambda: torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
        "tensor([[1., 2.],\n        [3., 4.]])",
    ),
    (
        "three_d",
        lambda: torch.arange(8).reshape(2, 2, 2),
        "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])",
    ),
    ("zero_dim_float", lambda: torch.tensor(3.5), "tensor(3.5000)"),
    ("zero_dim_int", lambda: torch.tensor(3), "tensor(3)"),
    ("empty", lambda: torch.tensor([]), "tensor([])"),
    ("empty_2d", lambda: torch.zeros(0, 3), "tensor([], size=(0, 3))"),
    (
        "float64",
        lambda: torch.tensor([1.0, 2.0], dtype=torch.float64),
        "tensor([1., 2.], dtype=torch.float64)",
    ),
    (
        "int32",
        lambda: torch.tensor([1, 2], dtype=torch.int32),
        "tensor([1, 2], dtype=torch.int32)",
    ),
    (
        "float16",
        lambda: torch.tensor([0.5, 2.0], dtype=torch.float16),
        "tensor([0.5000, 2.0000], dtype=torch.float16)",
    ),
    (
        "bfloat16",
        lambda: torch.tensor([1.5, 2.0], dtype=torch.bfloat16),
        "tensor([1.5000, 2.0000], dtype=torch.bfloat16)",
    ),
    (
        "requires_grad",
        lambda: torch.tensor([1.0, 2.0], requires_grad=True),
        "tensor([1., 2.], requires_grad=True)",
    ),
    (
        "nan_inf_fixed",
        lambda: torch.tensor([1.5, float("nan"), float("inf")]),
        "tensor([1.5000,    nan,    inf])",
    ),
    ("complex", lambda: torch.tensor([1 + 2j, 3 - 4j]), "tensor([1.+2.j, 3.-4.j])"),
    (
        "wide_wrap",
        lambda: torch.arange(30.0) / 7,
        "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
        "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
        "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
        "        3.8571, 4.0000, 4.1429])",
    ),
]

_SUMMARY_BUG = (
    "_tensor_str: summarised tensors print the ellipsis as '...' after ', '; torch prints "
    "' ...' (two spaces after the comma)"
)
_FLOAT_INT_SCI_BUG = (
    "_tensor_str._Formatter: integer-valued floats switch to scientific notation only above "
    "1e8; torch also does when max/min of the non-zero values exceeds 1000"
)
_FLOAT_INT_INF_BUG = (
    "_tensor_str._Formatter: the column width of integer-valued floats counts inf/nan; torch "
    "sizes it from the finite values only"
)
_EMPTY_DTYPE_BUG = (
    "_tensor_str.tensor_repr: an empty tensor of a non-default dtype (int64, bool) must show "
    "its dtype, as there are no elements to tell it"
)
REPRS_FIXED = [
    (
        "empty_int",
        lambda: torch.zeros(0, dtype=torch.int64),
        "tensor([], dtype=torch.int64)",
        _EMPTY_DTYPE_BUG,
    ),
    (
        "empty_bool_2d",
        lambda: torch.zeros(0, 2, dtype=torch.bool),
        "tensor([], size=(0, 2), dtype=torch.bool)",
        _EMPTY_DTYPE_BUG,
    ),
    (
        "summarised_int",
        lambda: torch.arange(2000),
        "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])",
        _SUMMARY_BUG,
    ),
    (
        "summarised_2d",
        lambda: torch.arange(3000).reshape(30, 100),
        "tensor([[   0,    1,    2,  ...,   97,   98,   99],\n"
        "        [ 100,  101,  102,  ...,  197,  198,  199],\n"
        "        [ 200,  201,  202,  ...,  297,  298,  299],\n"
        "        ...,\n"
        "        [2700, 2701, 2702,  ..., 2797, 2798, 2799],\n"
        "        [2800, 2801, 2802,  ..., 2897, 2898, 2899],\n"
        "        [2900, 2901, 2902,  ..., 2997, 2998, 2999]])",
        _SUMMARY_BUG,
    ),
    (
        "summarised_ones",
        lambda: torch.ones(1001),
        "tensor([1., 1., 1.,  ..., 1., 1., 1.])",
        _SUMMARY_BUG,
    ),
    (
        "summarised_float_int",
        lambda: torch.arange(2000.0),
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
        "        1.9990e+03])",
        _FLOAT_INT_SCI_BUG,
    ),
    (
        "float_int_ratio_sci",
        lambda: torch.tensor([1.5e5, 1.0]),
        "tensor([1.5000e+05, 1.0000e+00])",
        _FLOAT_INT_SCI_BUG,
    ),
    (
        "float_int_inf",
        lambda: torch.tensor([float("inf"), 1.0]),
        "tensor([inf, 1.])",
        _FLOAT_INT_INF_BUG,
    ),
]


@pytest.mark.parametrize("name, make, expected", REPRS, ids=[r[0] for r in REPRS])
def test_repr_matches_torch(name, make, expected):
    assert repr(make()) == expected


@pytest.mark.parametrize(
    "name, make, expected", [r[:3] for r in REPRS_FIXED], ids=[r[0] for r in REPRS_FIXED]
)
def test_repr_matches_torch_formerly_broken(name, make, expected):
    """Cases that once differed from torch (the fourth field says how)."""
    assert repr(make()) == expected


def test_repr_suffixes_follow_the_default_dtype():
    x = torch.tensor([1.0, 2.0])
    torch.set_default_dtype(torch.float64)
    assert repr(x) == "tensor([1., 2.], dtype=torch.float32)"
    assert repr(torch.tensor([1.5, 2.0])) == "tensor([1.5000, 2.0000])"
    assert repr(torch.tensor([1 + 1j])) == "tensor([1.+1.j])"
    assert repr(torch.tensor([1 + 1j], dtype=torch.complex64)) == (
        "tensor([1.+1.j], dtype=torch.complex64)"
    )


def test_repr_of_a_graph_result_names_its_grad_fn():
    y = torch.tensor([1.0, 2.0], requires_grad=True) * 2
    r = repr(y)
    assert r.startswith("tensor([2., 4.], grad_fn=<") and r.endswith(">)")
    assert "requires_grad" not in r


def test_format_of_zero_dim_tensors():
    assert f"{torch.tensor(3.14159):.2f}" == "3.14"
    assert f"{torch.tensor([1.0, 2.0])}" == "tensor([1., 2.])"


# --- copy_ ----------------------------------------------------------------------------------
def test_copy_broadcasts_and_casts():
    dst = torch.zeros(2, 3)
    v = dst._version
    assert dst.copy_(torch.tensor([1, 2, 3])) is dst
    assert dst.tolist() == [[1.0, 2.0, 3.0]] * 2 and dst.dtype == torch.float32
    assert dst._version == v + 1
    i = torch.zeros(2, dtype=torch.int64).copy_(torch.tensor([1.7, -2.7]))
    assert i.tolist() == [1, -2]
    b = torch.zeros(3, dtype=torch.bool).copy_(torch.tensor([0.0, 0.5, 2.0]))
    assert b.tolist() == [False, True, True]
    with pytest.raises(RuntimeError):
        torch.zeros(2).copy_(torch.zeros(3))


def test_copy_into_a_view_writes_the_base():
    base = torch.zeros(3, 3)
    base.narrow(0, 1, 1).copy_(torch.ones(3))
    assert base.tolist() == [[0.0] * 3, [1.0] * 3, [0.0] * 3]


def test_copy_is_differentiable_for_the_source():
    src = torch.tensor([1.0, 2.0], requires_grad=True)
    dst = torch.zeros(2)
    dst.copy_(src)
    (dst * torch.tensor([3.0, 4.0])).sum().backward()
    assert src.grad.tolist() == [3.0, 4.0]


# --- pickling and deepcopy ------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.tensor([[1.5, -2.0], [3.0, 4.0]]),
        lambda: torch.tensor([1, 2, 3], dtype=torch.int16),
        lambda: torch.tensor([True, False]),
        lambda: torch.tensor([0.5, 1.5], dtype=torch.bfloat16),
        lambda: torch.tensor(7.0, dtype=torch.float64),
        lambda: torch.tensor([[1, 2, 3], [4, 5, 6]]).T,
    ],
)
def test_pickle_round_trip(make):
    t = make()
    u = pickle.loads(pickle.dumps(t))
    assert u.dtype == t.dtype and u.shape == t.shape
    assert u.tolist() == t.tolist()
    u.copy_(torch.zeros_like(u))
    assert t.tolist() == make().tolist()  # independent memory


def test_pickle_keeps_requires_grad():
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    u = pickle.loads(pickle.dumps(t))
    assert u.requires_grad and u.is_leaf
    v = pickle.loads(pickle.dumps(t * 2))
    assert v.requires_grad and v.is_leaf and v.tolist() == [2.0, 4.0]


def test_deepcopy():
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    (t * 3).sum().backward()
    c = copy.deepcopy(t)
    assert c is not t and c.requires_grad and c.tolist() == [1.0, 2.0]
    assert c.grad.tolist() == [3.0, 3.0]
    with torch.no_grad():
        c.add_(1)
    assert t.tolist() == [1.0, 2.0]
    shared = [t, t]
    c2 = copy.deepcopy(shared)
    assert c2[0] is c2[1]  # the memo keeps aliasing
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(t * 2)


# --- Python protocols -----------------------------------------------------------------------
def test_scalar_conversions_of_one_element_tensors():
    assert bool(torch.tensor([0.0])) is False and bool(torch.tensor([[3]])) is True
    assert float(torch.tensor([2.5])) == 2.5
    assert int(torch.tensor([2.7])) == 2 and int(torch.tensor([-2.7])) == -2
    assert complex(torch.tensor(1 + 2j)) == 1 + 2j
    assert [10, 20, 30][torch.tensor(1)] == 20
    with pytest.raises(TypeError):
        [10, 20][torch.tensor(1.0)]
    with pytest.raises(
        RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"
    ):
        bool(torch.tensor([1, 2]))
    with pytest.raises((ValueError, RuntimeError)):
        float(torch.tensor([1.0, 2.0]))


def test_float_int_of_several_elements_raise_value_error():
    with pytest.raises(ValueError, match="only one element tensors can be converted"):
        float(torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="only one element tensors can be converted"):
        int(torch.tensor([1, 2]))


def test_bool_of_empty_tensor_message():
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is ambiguous"):
        bool(torch.tensor([]))


def test_len_and_iteration():
    x = torch.tensor([[1, 2], [3, 4], [5, 6]])
    assert len(x) == 3
    rows = list(x)
    assert len(rows) == 3 and all(isinstance(r, torch.Tensor) for r in rows)
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4], [5, 6]]
    assert [v.item() for v in torch.tensor([7, 8])] == [7, 8]
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(torch.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(torch.tensor(1.0))


def test_new_constructors_inherit_dtype():
    x = torch.zeros(2, dtype=torch.int32)
    assert x.new_zeros(4).shape == (4,) and x.new_zeros(4).dtype == torch.int32
    assert x.new_ones((2, 2)).tolist() == [[1, 1], [1, 1]]
    assert x.new_full((2,), 3).tolist() == [3, 3]
    assert x.new_empty((1, 2)).shape == (1, 2)
    assert x.new_tensor([1.5]).dtype == torch.int32
    assert torch.zeros(1).new_tensor([1, 2]).dtype == torch.float32
