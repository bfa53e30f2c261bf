"""tocha.core.utils.data against torch.utils.data: the same inputs give the same structures,
dtypes, values, lengths and error messages. Needs torch (`nox -s compat`)."""

from __future__ import annotations

import collections

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the anchor (torch) runs in `nox -s compat` only")

import tocha.core as tocha  # noqa: E402
import tocha.core.utils.data as tdata  # noqa: E402

Point = collections.namedtuple("Point", ["x", "y"])


def canon(obj):
    """A comparable form: tensors as (dtype, shape, values), containers by type and content."""
    if isinstance(obj, (torch.Tensor, tocha.Tensor)):
        arr = np.asarray(
            obj.detach().float().numpy() if "bfloat16" in str(obj.dtype) else obj.detach().numpy()
        )
        return ("tensor", str(obj.dtype), tuple(obj.shape), arr.tolist())
    if isinstance(obj, dict):
        return (type(obj).__name__, [(k, canon(v)) for k, v in obj.items()])
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return ("namedtuple", type(obj).__name__, [canon(v) for v in obj])
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [canon(v) for v in obj])
    return ("value", type(obj).__name__, obj)


def both(make):
    """Build the same input with torch tensors and with tocha tensors."""
    return make(torch), make(tocha)


BATCHES = {
    "floats": lambda L: [1.5, 2.0, -3.25],
    "ints": lambda L: [1, 2, 3],
    "bools": lambda L: [True, False],
    "strings": lambda L: ["a", "bb"],
    "bytes": lambda L: [b"x", b"y"],
    "np_scalars_f32": lambda L: [np.float32(1.5), np.float32(2.5)],
    "np_scalars_i32": lambda L: [np.int32(1), np.int32(2)],
    "np_scalars_bool": lambda L: [np.bool_(True), np.bool_(False)],
    "np_0d_arrays": lambda L: [np.array(1.0), np.array(2.0)],
    "np_arrays_f32": lambda L: [np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)],
    "np_arrays_u8": lambda L: [np.arange(4, dtype=np.uint8), np.arange(4, dtype=np.uint8)],
    "np_arrays_i64": lambda L: [np.arange(3), np.arange(3) * 2],
    "tensors_f32": lambda L: [L.ones(2, 2), L.zeros(2, 2)],
    "tensors_i64": lambda L: [L.tensor([1, 2]), L.tensor([3, 4])],
    "tensors_f64": lambda L: [L.tensor([1.0], dtype=L.float64), L.tensor([2.0], dtype=L.float64)],
    "tensors_mixed_dtype": lambda L: [L.tensor([1], dtype=L.int32), L.tensor([2.5])],
    "tuples": lambda L: [(L.ones(2), 1, "a"), (L.zeros(2), 2, "b")],
    "lists": lambda L: [[1, 2.0], [3, 4.0]],
    "dicts": lambda L: [
        {"img": L.ones(1, 2), "label": 1, "meta": {"name": "a", "w": 0.5}},
        {"img": L.zeros(1, 2), "label": 0, "meta": {"name": "b", "w": 1.5}},
    ],
    "ordered_dict": lambda L: [
        collections.OrderedDict(b=1, a=np.float32(2.0)),
        collections.OrderedDict(b=3, a=np.float32(4.0)),
    ],
    "namedtuple": lambda L: [Point(1, np.arange(2)), Point(2, np.arange(2))],
    "deep": lambda L: [
        [{"x": (L.ones(3), [1.0, np.int64(2)])}],
        [{"x": (L.zeros(3), [3.0, np.int64(4)])}],
    ],
}


@pytest.mark.parametrize("name", list(BATCHES))
def test_default_collate_matches_torch(name):
    tb, ob = both(BATCHES[name])
    expect = torch.utils.data.default_collate(tb)
    got = tdata.default_collate(ob)
    assert canon(got) == canon(expect)


@pytest.mark.parametrize(
    "name", ["np_arrays_f32", "np_scalars_f32", "dicts", "namedtuple", "tuples", "strings"]
)
def test_default_convert_matches_torch(name):
    tb, ob = both(BATCHES[name])
    for t_item, o_item in zip(tb, ob):
        assert canon(tdata.default_convert(o_item)) == canon(
            torch.utils.data.default_convert(t_item)
        )


ERRORS = {
    "sizes": lambda L: [L.zeros(2), L.zeros(3)],
    "np_sizes": lambda L: [np.zeros(2), np.zeros(3)],
    "list_lengths": lambda L: [[1, 2], [3]],
    "object": lambda L: [object(), object()],
    "np_strings": lambda L: [np.array(["a"]), np.array(["b"])],
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_default_collate_errors_match_torch(name):
    tb, ob = both(ERRORS[name])
    with pytest.raises(Exception) as t_err:
        torch.utils.data.default_collate(tb)
    with pytest.raises(Exception) as o_err:
        tdata.default_collate(ob)
    assert type(o_err.value) is type(t_err.value)
    assert str(o_err.value) == str(t_err.value)


class Samples:
    """The same sequence of samples for both libraries (built with either module)."""

    def __init__(self, L, n=11):
        self.L, self.n = L, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        L = self.L
        return {"x": L.full((2, 3), float(i)), "y": i % 4, "w": i / 3, "name": f"s{i}"}


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize(("batch_size", "drop_last"), [(4, False), (4, True), (None, False)])
def test_dataloader_batches_match_torch(workers, batch_size, drop_last):
    t_loader = torch.utils.data.DataLoader(
        Samples(torch), batch_size=batch_size, drop_last=drop_last
    )
    o_loader = tdata.DataLoader(
        Samples(tocha), batch_size=batch_size, drop_last=drop_last, num_workers=workers
    )
    assert len(o_loader) == len(t_loader)
    expect = [canon(b) for b in t_loader]
    got = [canon(b) for b in o_loader]
    assert got == expect


def test_tensor_dataset_and_batch_sampler_match_torch():
    x = np.arange(24, dtype=np.float32).reshape(8, 3)
    y = np.arange(8)
    t_ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    o_ds = tdata.TensorDataset(tocha.from_numpy(x), tocha.from_numpy(y))
    assert canon(o_ds[3]) == canon(t_ds[3])
    for bs, dl in [(3, False), (3, True), (8, False)]:
        tb = torch.utils.data.BatchSampler(range(8), bs, dl)
        ob = tdata.BatchSampler(range(8), bs, dl)
        assert list(ob) == list(tb) and len(ob) == len(tb)
        sampler = list(range(7, -1, -1))
        t_loader = torch.utils.data.DataLoader(t_ds, batch_size=bs, drop_last=dl, sampler=sampler)
        o_loader = tdata.DataLoader(o_ds, batch_size=bs, drop_last=dl, sampler=sampler)
        assert [canon(b) for b in o_loader] == [canon(b) for b in t_loader]


def test_concat_subset_stack_match_torch():
    a, b = list(range(5)), list(range(10, 13))
    assert [tdata.ConcatDataset([a, b])[i] for i in range(-8, 8)] == [
        torch.utils.data.ConcatDataset([a, b])[i] for i in range(-8, 8)
    ]
    assert (
        tdata.ConcatDataset([a, b]).cumulative_sizes
        == torch.utils.data.ConcatDataset([a, b]).cumulative_sizes
    )
    s_t = torch.utils.data.Subset(a, [4, 0])
    s_o = tdata.Subset(a, [4, 0])
    assert [s_o[i] for i in range(2)] == [s_t[i] for i in range(2)]
    assert tdata.StackDataset(a, a)[2] == torch.utils.data.StackDataset(a, a)[2]
    assert tdata.StackDataset(p=a, q=a).__getitems__([1, 2]) == torch.utils.data.StackDataset(
        p=a, q=a
    ).__getitems__([1, 2])


@pytest.mark.parametrize(
    "lengths", [[0.5, 0.5], [0.3, 0.3, 0.4], [0.1, 0.2, 0.7], [3, 7], [1.0], [0.33, 0.33, 0.34]]
)
def test_random_split_lengths_match_torch(lengths):
    t_parts = torch.utils.data.random_split(
        range(10), lengths, generator=torch.Generator().manual_seed(0)
    )
    o_parts = tdata.random_split(range(10), lengths, generator=tocha.Generator().manual_seed(0))
    assert [len(p) for p in o_parts] == [len(p) for p in t_parts]


def _message(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - comparing whatever each library raises
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize(
    "call",
    [
        lambda M, ds: M.DataLoader(ds, num_workers=-1),
        lambda M, ds: M.DataLoader(ds, timeout=-1),
        lambda M, ds: M.DataLoader(ds, prefetch_factor=2),
        lambda M, ds: M.DataLoader(ds, persistent_workers=True),
        lambda M, ds: M.DataLoader(ds, sampler=[0], shuffle=True),
        lambda M, ds: M.DataLoader(ds, batch_sampler=[[0]], drop_last=True),
        lambda M, ds: M.DataLoader(ds, batch_size=None, drop_last=True),
        lambda M, ds: M.DataLoader(ds, multiprocessing_context="spawn"),
        lambda M, ds: M.DataLoader(ds, num_workers=1, multiprocessing_context="nope"),
        lambda M, ds: M.BatchSampler(range(3), 0, False),
        lambda M, ds: M.BatchSampler(range(3), 2, None),
        lambda M, ds: M.RandomSampler(range(3), replacement=1),
        lambda M, ds: M.RandomSampler(range(3), num_samples=-2),
        lambda M, ds: M.WeightedRandomSampler([1.0], 0),
        lambda M, ds: M.WeightedRandomSampler([[1.0, 2.0]], 1),
        lambda M, ds: M.random_split(range(4), [1, 2]),
        lambda M, ds: M.StackDataset([1], [1, 2]),
        lambda M, ds: M.ConcatDataset([]),
        lambda M, ds: M.ConcatDataset([1, 2, 3])[-4],
        lambda M, ds: M.Dataset()[0],
    ],
)
def test_errors_match_torch(call):
    t = _message(lambda: call(torch.utils.data, list(range(4))))
    o = _message(lambda: call(tdata, list(range(4))))
    assert t is not None and o == t


def test_samplers_lengths_match_torch():
    for make in (
        lambda M, L: M.RandomSampler(
            range(7), replacement=True, num_samples=40, generator=L.Generator()
        ),
        lambda M, L: M.RandomSampler(range(7), num_samples=17, generator=L.Generator()),
        lambda M, L: M.WeightedRandomSampler([1.0, 2.0, 3.0], 5, generator=L.Generator()),
        lambda M, L: M.SubsetRandomSampler([4, 5, 6], generator=L.Generator()),
    ):
        t_s, o_s = make(torch.utils.data, torch), make(tdata, tocha)
        t_out, o_out = list(t_s), list(o_s)
        assert len(o_s) == len(t_s) and len(o_out) == len(t_out)
        assert all(type(i) is int for i in o_out)
