"""default_collate / default_convert / collate: structure, dtypes and torch's errors."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import tocha.core as torch
from tocha.core.utils.data import default_collate, default_convert
from tocha.core.utils.data._utils.collate import collate, default_collate_fn_map

Point = collections.namedtuple("Point", ["x", "y"])


def test_tensors_are_stacked():
    a = torch.tensor([1.0, 2.0])
    b = torch.tensor([3.0, 4.0])
    out = default_collate([a, b])
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), [[1, 2], [3, 4]])
    # the stack owns new memory: changing it leaves the samples alone
    out[0, 0] = 9.0
    assert a[0].item() == 1.0


def test_tensor_stack_keeps_dtype_and_promotes_mixed():
    out = default_collate(
        [torch.tensor([1], dtype=torch.int32), torch.tensor([2], dtype=torch.int32)]
    )
    assert out.dtype == torch.int32
    mixed = default_collate([torch.tensor([1], dtype=torch.int32), torch.tensor([2.5])])
    assert mixed.dtype == torch.float32  # torch.stack's promotion, not NumPy's float64
    np.testing.assert_array_equal(mixed.numpy(), [[1.0], [2.5]])


def test_tensor_stack_tracks_autograd():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    out = default_collate([w * 2, w * 3])
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 5.0])


def test_mismatched_tensor_sizes_raise_torch_error():
    with pytest.raises(
        RuntimeError,
        match=r"stack expects each tensor to be equal size, but got \[2\] at entry 0 and \[3\] at entry 1",
    ):
        default_collate([torch.zeros(2), torch.zeros(3)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        default_collate([np.zeros(2), np.zeros(3)])


def test_numbers():
    f = default_collate([1.5, 2.5])
    assert f.dtype == torch.float64  # Python floats: float64, as torch's collate does
    np.testing.assert_array_equal(f.numpy(), [1.5, 2.5])
    i = default_collate([1, 2, 3])
    assert i.dtype == torch.int64 and i.tolist() == [1, 2, 3]
    b = default_collate([True, False])
    assert b.dtype == torch.bool and b.tolist() == [True, False]


def test_numpy_arrays_and_scalars():
    out = default_collate([np.arange(3, dtype=np.int16), np.arange(3, dtype=np.int16) + 5])
    assert out.dtype == torch.int16
    np.testing.assert_array_equal(out.numpy(), [[0, 1, 2], [5, 6, 7]])
    s = default_collate([np.float32(1.5), np.float32(2.0)])
    assert s.dtype == torch.float32 and s.shape == (2,)
    z = default_collate([np.array(1.0), np.array(2.0)])
    assert z.dtype == torch.float64 and z.shape == (2,)
    bools = default_collate([np.bool_(True), np.bool_(False)])
    assert bools.dtype == torch.bool
    # a NumPy dtype torch lacks is widened like torch.tensor() would
    u = default_collate([np.array([1, 2], dtype=np.uint16), np.array([3, 4], dtype=np.uint16)])
    assert u.dtype == torch.int32 and u.tolist() == [[1, 2], [3, 4]]


def test_strings_and_bytes_kept():
    assert default_collate(["a", "b"]) == ["a", "b"]
    assert default_collate([b"x", b"y"]) == [b"x", b"y"]
    out = default_collate([(1, "a"), (2, "b")])
    assert isinstance(out, list) and out[1] == ("a", "b")
    assert out[0].tolist() == [1, 2]


def test_nested_structures():
    batch = [
        {"img": torch.ones(2, 2) * i, "meta": {"id": i, "name": f"s{i}"}, "pair": (i, float(i))}
        for i in range(3)
    ]
    out = default_collate(batch)
    assert set(out) == {"img", "meta", "pair"}
    assert out["img"].shape == (3, 2, 2)
    np.testing.assert_array_equal(out["img"].numpy()[:, 0, 0], [0, 1, 2])
    assert out["meta"]["id"].tolist() == [0, 1, 2]
    assert out["meta"]["name"] == ["s0", "s1", "s2"]
    assert isinstance(out["pair"], list)  # tuples come back as lists (as in torch)
    assert out["pair"][0].dtype == torch.int64 and out["pair"][1].dtype == torch.float64


def test_namedtuple_and_list():
    out = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(out, Point)
    assert out.x.tolist() == [1, 3] and out.y.dtype == torch.float64
    lst = default_collate([[1, 2], [3, 4]])
    assert isinstance(lst, list)
    assert [t.tolist() for t in lst] == [[1, 3], [2, 4]]


def test_custom_mapping_type_is_kept():
    out = default_collate(
        [collections.OrderedDict(a=1, b=2.0), collections.OrderedDict(a=3, b=4.0)]
    )
    assert isinstance(out, collections.OrderedDict) and list(out) == ["a", "b"]


def test_unequal_list_lengths_raise():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])


def test_unsupported_types_raise():
    with pytest.raises(
        TypeError,
        match="default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
        "lists; found <class 'object'>",
    ):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_tocha_tensor_samples_come_back_as_tocha_tensors():
    out = default_collate([(torch.zeros(3), 1), (torch.ones(3), 0)])
    assert isinstance(out[0], torch.Tensor) and isinstance(out[1], torch.Tensor)


def test_default_convert():
    t = default_convert(np.array([1, 2]))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.int64
    assert default_convert(3) == 3
    assert default_convert("s") == "s"
    d = default_convert({"a": np.float32(1.0), "b": "x"})
    assert isinstance(d["a"], torch.Tensor) and d["a"].dtype == torch.float32 and d["b"] == "x"
    p = default_convert(Point(np.array(0), np.array(1)))
    assert isinstance(p, Point) and p.y.item() == 1
    tup = default_convert((np.array([1]), 2))
    assert isinstance(tup, list) and tup[0].tolist() == [1]
    keep = np.array(["a", "b"])
    assert default_convert(keep) is keep
    x = torch.zeros(2)
    assert default_convert(x) is x


def test_collate_with_custom_map():
    fns = dict(default_collate_fn_map)
    fns[torch.Tensor] = lambda batch, *, collate_fn_map: torch.cat(batch)
    out = collate([(torch.ones(2), 1), (torch.zeros(3), 2)], collate_fn_map=fns)
    assert out[0].shape == (5,) and out[1].tolist() == [1, 2]
    # subclasses are found through isinstance in insertion order
    assert collate([True, False], collate_fn_map=default_collate_fn_map).dtype == torch.bool
