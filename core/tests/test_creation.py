"""Tensor creation: dtype inference, memory sharing, factories and their errors, against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch


# --- tensor(): dtype inference ---------------------------------------------------------------
@pytest.mark.parametrize(
    "data, dtype",
    [
        ([1.5, 2.0], torch.float32),
        ([1, 2], torch.int64),
        ([True, False], torch.bool),
        (True, torch.bool),
        ([1, 2.5], torch.float32),
        ([True, 2], torch.int64),
        ([True, 1.5], torch.float32),
        ([[1, 2], [3, 4]], torch.int64),
        ([[1.0], [2]], torch.float32),
        (3, torch.int64),
        (3.5, torch.float32),
        (1 + 2j, torch.complex64),
        ([1, 2j], torch.complex64),
        ([], torch.float32),
        ([[1, 2**62]], torch.int64),
    ],
)
def test_tensor_infers_dtype_from_python_data(data, dtype):
    t = torch.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.array(data, dtype=dtype.np))


def test_tensor_shapes_of_nested_data():
    assert torch.tensor([[1, 2, 3], [4, 5, 6]]).shape == (2, 3)
    assert torch.tensor(3).shape == ()
    assert torch.tensor([]).shape == (0,)
    assert torch.tensor([[]]).shape == (1, 0)
    assert torch.tensor([[[1], [2]]]).shape == (1, 2, 1)


@pytest.mark.parametrize(
    "np_dtype",
    [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_]
    + [np.complex64, np.complex128],
)
def test_tensor_keeps_numpy_dtype_and_copies(np_dtype):
    a = np.array([1, 0, 1], dtype=np_dtype)
    t = torch.tensor(a)
    assert t.dtype.np == np.dtype(np_dtype)
    a[0] = 0
    assert t.tolist()[0] == 1  # a copy, not a view
    assert torch.tensor(np.float32(2.5)).dtype == torch.float32
    assert torch.tensor(np.int32(2)).dtype == torch.int32


def test_tensor_with_explicit_dtype_and_requires_grad():
    t = torch.tensor([1, 2], dtype=torch.float64)
    assert t.dtype == torch.float64 and t.tolist() == [1.0, 2.0]
    assert torch.tensor([1.7, -1.7], dtype=torch.int64).tolist() == [1, -1]
    r = torch.tensor([1.0, 2.0], requires_grad=True)
    assert r.requires_grad and r.is_leaf
    assert not torch.tensor([1.0]).requires_grad
    with pytest.raises(RuntimeError, match="floating point and complex dtype"):
        torch.tensor([1, 2], requires_grad=True)


def test_tensor_of_tensors():
    assert torch.tensor([torch.tensor(1.0), torch.tensor(2.0)]).tolist() == [1.0, 2.0]
    assert torch.tensor([torch.tensor(1), torch.tensor(2)]).dtype == torch.int64
    assert torch.tensor([torch.tensor(1.5, dtype=torch.float64)]).dtype == torch.float64
    i32, i64 = torch.tensor(1, dtype=torch.int32), torch.tensor(1, dtype=torch.int64)
    assert torch.tensor([i32, i64]).dtype == torch.int64
    assert torch.tensor([i32, 2.5]).dtype == torch.float32
    src = torch.tensor([1.0, 2.0])
    copy = torch.tensor(src)
    copy.add_(1)
    assert src.tolist() == [1.0, 2.0]


def test_tensor_of_tensors_and_scalars_promotes_like_torch():
    # torch: promote_types(int32, int64) -> int64; promote_types(float16, float32) -> float32
    assert torch.tensor([torch.tensor(1, dtype=torch.int32), 2]).dtype == torch.int64
    assert torch.tensor([torch.tensor(1.5, dtype=torch.float16), 2.5]).dtype == torch.float32


def test_tensor_bad_data():
    with pytest.raises(TypeError, match="str"):
        torch.tensor("a")
    with pytest.raises(TypeError):
        torch.tensor([1, "a"])
    with pytest.raises(ValueError):
        torch.tensor([[1, 2], [3]])


def test_set_default_dtype_changes_inferred_and_factory_dtypes():
    torch.set_default_dtype(torch.float64)
    assert torch.get_default_dtype() == torch.float64
    assert torch.tensor([1.5]).dtype == torch.float64
    assert torch.tensor([1]).dtype == torch.int64
    assert torch.tensor(1j).dtype == torch.complex128
    assert torch.zeros(2).dtype == torch.float64
    assert torch.arange(0.0, 1.0, 0.5).dtype == torch.float64
    assert torch.full((2,), 1.5).dtype == torch.float64
    assert torch.linspace(0, 1, 3).dtype == torch.float64
    torch.set_default_dtype(torch.float32)
    assert torch.zeros(2).dtype == torch.float32
    with pytest.raises(TypeError):
        torch.set_default_dtype(torch.int64)


# --- memory sharing -------------------------------------------------------------------------
def test_as_tensor_shares_numpy_memory_both_ways():
    a = np.array([1.0, 2.0])
    t = torch.as_tensor(a)
    assert t.dtype == torch.float64
    t.add_(1)
    np.testing.assert_array_equal(a, [2.0, 3.0])
    a[0] = 10
    assert t.tolist() == [10.0, 3.0]
    # a dtype change must copy
    c = torch.as_tensor(a, dtype=torch.float32)
    a[0] = -1
    assert c.tolist() == [10.0, 3.0]
    # a tensor passes through unchanged
    assert torch.as_tensor(t) is t
    assert torch.as_tensor([1, 2]).dtype == torch.int64


def test_from_numpy_shares_memory():
    a = np.arange(6, dtype=np.int16).reshape(2, 3)
    t = torch.from_numpy(a)
    assert t.dtype == torch.int16 and t.shape == (2, 3)
    a[1, 2] = 50
    assert t.tolist()[1][2] == 50
    t.copy_(torch.zeros(2, 3, dtype=torch.int16))
    assert not a.any()
    with pytest.raises(TypeError, match="expected np.ndarray"):
        torch.from_numpy([1, 2])


def test_from_dlpack_round_trip_with_numpy():
    a = np.arange(4.0)
    t = torch.from_dlpack(a)
    a[0] = 7
    assert t.tolist() == [7.0, 1.0, 2.0, 3.0]
    back = np.from_dlpack(t)
    back[1] = -1
    assert t.tolist()[1] == -1.0
    np.testing.assert_array_equal(np.from_dlpack(torch.arange(3)), [0, 1, 2])


# --- filled factories -----------------------------------------------------------------------
@pytest.mark.parametrize("fn, value", [(torch.zeros, 0), (torch.ones, 1), (torch.empty, None)])
def test_filled_factories_size_forms(fn, value):
    for args in [(2, 3), ((2, 3),), ([2, 3],), (torch.Size([2, 3]),)]:
        t = fn(*args)
        assert t.shape == (2, 3) and t.dtype == torch.float32
        if value is not None:
            np.testing.assert_array_equal(t.numpy(), np.full((2, 3), value, np.float32))
    assert fn(()).shape == ()
    assert fn(0).shape == (0,)
    assert fn(2, dtype=torch.int32).dtype == torch.int32
    assert fn(2, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="negative dimension"):
        fn(2, -1)
    with pytest.raises(TypeError, match="size"):
        fn(2.5)


@pytest.mark.parametrize(
    "fill, dtype",
    [(1.5, torch.float32), (7, torch.int64), (True, torch.bool), (1j, torch.complex64)],
)
def test_full_infers_dtype_from_fill_value(fill, dtype):
    t = torch.full((2, 3), fill)
    assert t.dtype == dtype and t.shape == (2, 3)
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), fill, dtype.np))


def test_full_with_dtype_and_like_functions():
    assert torch.full((2,), 2.7, dtype=torch.int32).tolist() == [2, 2]
    x = torch.zeros(2, 3, dtype=torch.int16)
    for fn in (torch.zeros_like, torch.ones_like, torch.empty_like):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype == torch.int16
    assert torch.ones_like(x).tolist() == [[1, 1, 1], [1, 1, 1]]
    assert torch.zeros_like(x, dtype=torch.float64).dtype == torch.float64
    assert torch.full_like(x, 7).tolist() == [[7] * 3] * 2
    assert torch.full_like(torch.zeros(2, dtype=torch.int64), 2.7).tolist() == [2, 2]
    assert torch.zeros_like(torch.ones(2), requires_grad=True).requires_grad


# --- ranges ---------------------------------------------------------------------------------
def test_arange_integer_forms():
    assert torch.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert torch.arange(5).dtype == torch.int64
    assert torch.arange(1, 4).tolist() == [1, 2, 3]
    assert torch.arange(0, 10, 3).tolist() == [0, 3, 6, 9]
    assert torch.arange(5, 0, -1).tolist() == [5, 4, 3, 2, 1]
    assert torch.arange(10, 0, -3).tolist() == [10, 7, 4, 1]
    assert torch.arange(3, 3).shape == (0,)
    assert torch.arange(torch.tensor(3)).tolist() == [0, 1, 2]
    assert torch.arange(5, dtype=torch.float32).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize(
    "args",
    [(0, 1, 0.1), (1.0, 4.0), (0.5, 3), (-1, 1, 0.3), (0, 5, 1.5), (0, -5, -1.5), (0, 10, 0.7)],
)
def test_arange_float_matches_torch_values(args):
    t = torch.arange(*args)
    assert t.dtype == torch.float32
    start, end, step = (args + (1,))[:3] if len(args) == 2 else args
    n = int(np.ceil((end - start) / step))
    # torch computes start + i * step in double and rounds once to float32
    expected = (start + np.arange(n, dtype=np.float64) * step).astype(np.float32)
    np.testing.assert_array_equal(t.numpy(), expected)


def test_arange_length_of_classic_cases():
    assert torch.arange(0, 1, 0.1).shape == (10,)
    assert torch.arange(0, 1, 0.1).tolist()[3] == float(np.float32(0.3))
    assert torch.arange(0, 1, 0.1, dtype=torch.float64).tolist() == [i * 0.1 for i in range(10)]


def test_arange_errors():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        torch.arange(0, 1, 0)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        torch.arange(0, 1, -1)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        torch.arange(1, 0)


def test_arange_bound_error_message_matches_torch():
    with pytest.raises(RuntimeError, match="upper bound and lower bound inconsistent with step"):
        torch.arange(1, 0)


@pytest.mark.parametrize(
    "start, end, steps", [(0, 1, 5), (-3, 7, 11), (0, 1, 1), (0, 1, 0), (1, 0, 6), (2.5, -2.5, 3)]
)
def test_linspace_against_numpy(start, end, steps):
    t = torch.linspace(start, end, steps)
    assert t.dtype == torch.float32 and t.shape == (steps,)
    np.testing.assert_allclose(t.numpy(), np.linspace(start, end, steps), rtol=1e-6, atol=1e-7)
    if steps:
        assert t.tolist()[0] == start and t.tolist()[-1] == (end if steps > 1 else start)
    d = torch.linspace(start, end, steps, dtype=torch.float64)
    np.testing.assert_allclose(d.numpy(), np.linspace(start, end, steps), rtol=1e-15)


def test_linspace_integer_dtype_truncates():
    assert torch.linspace(0, 10, 4, dtype=torch.int64).tolist() == [0, 3, 6, 10]
    with pytest.raises(RuntimeError, match="number of steps must be non-negative"):
        torch.linspace(0, 1, -1)


def test_linspace_float32_values_bit_exact_like_torch():
    def torch_linspace_f32(start, end, steps):
        # torch's kernel: step and values computed in float32, halves from each end
        s, e = np.float32(start), np.float32(end)
        step = (e - s) / np.float32(steps - 1)
        i = np.arange(steps, dtype=np.float32)
        return np.where(
            i < steps // 2, s + step * i, e - step * (np.float32(steps - 1) - i)
        ).astype(np.float32)

    for args in [(0, 1, 7), (-1, 1, 4)]:
        np.testing.assert_array_equal(torch.linspace(*args).numpy(), torch_linspace_f32(*args))


@pytest.mark.parametrize(
    "start, end, steps, base", [(0, 2, 3, 10.0), (0, 3, 4, 2), (-1, 1, 5, 10.0)]
)
def test_logspace_against_numpy(start, end, steps, base):
    t = torch.logspace(start, end, steps, base=base)
    assert t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), np.logspace(start, end, steps, base=base), rtol=1e-6)
    assert torch.logspace(0, 2, 3).tolist() == [1.0, 10.0, 100.0]


def test_eye():
    np.testing.assert_array_equal(torch.eye(3).numpy(), np.eye(3, dtype=np.float32))
    np.testing.assert_array_equal(torch.eye(2, 3).numpy(), np.eye(2, 3, dtype=np.float32))
    np.testing.assert_array_equal(torch.eye(3, 2).numpy(), np.eye(3, 2, dtype=np.float32))
    assert torch.eye(3, dtype=torch.int64).dtype == torch.int64
    assert torch.eye(0).shape == (0, 0)
    with pytest.raises(RuntimeError):
        torch.eye(-1)


def test_scalar_tensor():
    t = torch.scalar_tensor(3)
    assert t.shape == () and t.dtype == torch.float32 and t.item() == 3.0


def test_as_tensor_of_a_list_with_dtype_and_of_unsupported_numpy_dtypes():
    assert torch.as_tensor([1.0, 2.0], dtype=torch.float64).dtype == torch.float64
    t = torch.as_tensor(np.array([1, 65535], dtype=np.uint16))  # widened like tensor()
    assert t.dtype == torch.int32 and t.tolist() == [1, 65535]
