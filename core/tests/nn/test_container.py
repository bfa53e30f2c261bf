"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import nn


class Add(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x + self.k

    def extra_repr(self):
        return f"k={self.k}"


class Affine(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return x * self.weight


def names(m):
    return list(m._modules)


# --- Sequential --------------------------------------------------------------------------------
def test_sequential_forward_and_names():
    s = nn.Sequential(Add(1), Affine(3.0), Add(-2))
    assert float(s(torch.tensor(1.0))) == (1 + 1) * 3 - 2
    assert names(s) == ["0", "1", "2"] and len(s) == 3
    assert list(s.state_dict()) == ["1.weight"]
    od = nn.Sequential(OrderedDict([("first", Add(1)), ("scale", Affine(2.0))]))
    assert names(od) == ["first", "scale"] and od.scale is od[1]
    assert list(od.state_dict()) == ["scale.weight"]
    assert float(od(torch.tensor(1.0))) == 4.0
    assert float(nn.Sequential()(torch.tensor(5.0))) == 5.0  # empty: identity


def test_sequential_indexing_slicing_and_mutation():
    mods = [Add(i) for i in range(4)]
    s = nn.Sequential(*mods)
    assert s[0] is mods[0] and s[-1] is mods[3]
    sub = s[1:3]
    assert type(sub) is nn.Sequential and names(sub) == ["1", "2"]  # slicing keeps names
    assert list(sub) == mods[1:3]
    with pytest.raises(IndexError, match="index 4 is out of range"):
        s[4]
    new = Add(9)
    s[-1] = new
    assert s[3] is new
    del s[0]
    assert names(s) == ["0", "1", "2"] and s[0] is mods[1]  # renumbered
    del s[0:2]
    assert names(s) == ["0"] and s[0] is new
    s.append(Add(5)).extend([Add(6), Add(7)])
    assert [m.k for m in s] == [9, 5, 6, 7]
    s.insert(1, Add(8))
    s.insert(-1, Add(10))
    assert [m.k for m in s] == [9, 8, 5, 6, 10, 7] and names(s) == [str(i) for i in range(6)]
    assert s.pop(0).k == 9 and [m.k for m in s] == [8, 5, 6, 10, 7]
    with pytest.raises(IndexError, match="Index out of range: 9"):
        s.insert(9, Add(0))
    with pytest.raises(AssertionError, match="module should be of type"):
        s.insert(0, 3)


def test_sequential_add_mul():
    a, b = Add(1), Add(2)
    s = nn.Sequential(a) + nn.Sequential(b)
    assert list(s) == [a, b] and names(s) == ["0", "1"]
    s += nn.Sequential(Add(3))
    assert [m.k for m in s] == [1, 2, 3]
    d = nn.Sequential(a, b) * 2
    assert list(d) == [a, b, a, b] and names(d) == ["0", "1", "2", "3"]
    assert list(2 * nn.Sequential(a)) == [a, a]
    t = nn.Sequential(a, b)
    t *= 3
    assert list(t) == [a, b] * 3
    with pytest.raises(ValueError, match="add operator supports only objects of Sequential"):
        nn.Sequential() + nn.ModuleList()
    with pytest.raises(ValueError, match="Non-positive multiplication factor 0"):
        nn.Sequential() * 0
    with pytest.raises(TypeError, match="unsupported operand type"):
        nn.Sequential() * 1.5


def test_sequential_repr_and_dir():
    s = nn.Sequential(Add(1), nn.Sequential(Add(2)))
    assert repr(s) == (
        "Sequential(\n  (0): Add(k=1)\n  (1): Sequential(\n    (0): Add(k=2)\n  )\n)"
    )
    assert repr(nn.Sequential()) == "Sequential()"
    assert "0" not in dir(s) and "append" in dir(s)


# --- ModuleList / ModuleDict ------------------------------------------------------------------------
def test_module_list():
    mods = [Affine(float(i)) for i in range(3)]
    ml = nn.ModuleList(mods)
    assert len(ml) == 3 and list(ml) == mods and ml[-1] is mods[2]
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "1.weight", "2.weight"]
    sl = ml[1:]
    assert type(sl) is nn.ModuleList and names(sl) == ["0", "1"] and sl[0] is mods[1]
    ml.append(Add(1))
    ml.extend([Add(2)])
    ml += [Add(3)]
    assert len(ml) == 6
    ml.insert(0, Add(0))
    assert ml[0].k == 0 and ml[1] is mods[0]
    del ml[0]
    assert ml[0] is mods[0] and names(ml) == [str(i) for i in range(6)]
    del ml[3:]
    assert list(ml) == mods
    assert ml.pop(1) is mods[1] and names(ml) == ["0", "1"]
    ml[0] = Add(7)
    assert ml[0].k == 7
    both = nn.ModuleList([Add(1)]) + nn.ModuleList([Add(2)])
    assert [m.k for m in both] == [1, 2]
    with pytest.raises(IndexError, match="index 5 is out of range"):
        ml[5]
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        ml.extend(3)
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        ml(torch.ones(1))


def test_module_list_repr_compresses_repeats():
    ml = nn.ModuleList([Add(1), Add(1), Add(1), Add(2), Add(1)])
    assert repr(ml) == ("ModuleList(\n  (0-2): 3 x Add(k=1)\n  (3): Add(k=2)\n  (4): Add(k=1)\n)")
    assert repr(nn.ModuleList()) == "ModuleList()"
    nested = nn.ModuleList([nn.Sequential(Add(1)), nn.Sequential(Add(1))])
    assert repr(nested) == ("ModuleList(\n  (0-1): 2 x Sequential(\n    (0): Add(k=1)\n  )\n)")


def test_module_dict():
    d = nn.ModuleDict({"b": Affine(1.0), "a": Affine(2.0)})
    assert list(d.keys()) == ["b", "a"]  # insertion order (not sorted)
    assert [n for n, _ in d.named_parameters()] == ["b.weight", "a.weight"]
    d["c"] = Add(1)
    assert "c" in d and len(d) == 3 and list(d) == ["b", "a", "c"]
    assert d.pop("b").weight.item() == 1.0 and list(d) == ["a", "c"]
    d.update([("x", Add(2))])
    d.update(nn.ModuleDict({"y": Add(3)}))
    assert list(d.keys()) == ["a", "c", "x", "y"]
    assert [type(v).__name__ for v in d.values()] == ["Affine", "Add", "Add", "Add"]
    del d["x"]
    assert [k for k, _ in d.items()] == ["a", "c", "y"]
    assert repr(nn.ModuleDict({"q": Add(1)})) == "ModuleDict(\n  (q): Add(k=1)\n)"
    d.clear()
    assert len(d) == 0
    with pytest.raises(TypeError, match="ModuleDict.update should be called with an iterable"):
        d.update(3)
    with pytest.raises(ValueError, match="element #0 has length 3; 2 is required"):
        d.update([(1, 2, 3)])
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        nn.ModuleDict({"a": 3})


# --- ParameterList / ParameterDict ----------------------------------------------------------------
def test_parameter_list():
    pl = nn.ParameterList([torch.ones(2), nn.Parameter(torch.zeros(3, 4))])
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 2
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    pl.append(torch.full((1,), 5.0))
    pl.extend([torch.ones(1)])
    pl += [torch.ones(1)]
    assert len(pl) == 5 and float(pl[2]) == 5.0 and float(pl[-3]) == 5.0
    sub = pl[1:3]
    assert type(sub) is nn.ParameterList and len(sub) == 2 and sub[0] is pl[1]
    pl[0] = torch.zeros(2)
    assert isinstance(pl[0], nn.Parameter)
    pl.append("not a tensor")  # any object may be stored, as in torch
    assert pl[5] == "not a tensor" and len(list(pl.parameters())) == 5
    # gradients reach the parameters through the list
    (pl[1] * 2).sum().backward()
    np.testing.assert_array_equal(pl[1].grad.numpy(), np.full((3, 4), 2.0))
    with pytest.raises(RuntimeError, match="ParameterList should not be called."):
        pl()
    with pytest.raises(TypeError, match="ParameterList.extend should be called with an iterable"):
        pl.extend(torch.ones(2))


def test_parameter_list_repr():
    pl = nn.ParameterList([torch.ones(2, 3), torch.ones(2, dtype=torch.float64)])
    pl.append(3)
    assert repr(pl) == (
        "ParameterList(\n"
        "    (0): Parameter containing: [torch.float32 of size 2x3]\n"
        "    (1): Parameter containing: [torch.float64 of size 2]\n"
        "    (2): Object of type: int\n"
        ")"
    )
    assert repr(nn.ParameterList([torch.ones(2)])) == (
        "ParameterList(  (0): Parameter containing: [torch.float32 of size 2])"
    )


def test_parameter_dict():
    pd = nn.ParameterDict({"b": torch.ones(1), "a": torch.zeros(2)})
    assert list(pd.keys()) == ["a", "b"]  # a plain dict is added in sorted order, as torch does
    od = nn.ParameterDict(OrderedDict([("b", torch.ones(1)), ("a", torch.zeros(2))]))
    assert list(od.keys()) == ["b", "a"]
    assert isinstance(pd["a"], nn.Parameter) and "a" in pd and len(pd) == 2
    assert [n for n, _ in pd.named_parameters()] == ["a", "b"]
    pd["c"] = torch.full((1,), 3.0)
    assert pd.get("c").item() == 3.0 and pd.get("zz", 7) == 7
    assert pd.setdefault("d", torch.ones(1)) is pd["d"]
    assert pd.pop("d") is not None and "d" not in pd
    k, v = pd.popitem()
    assert k == "c" and v.item() == 3.0
    cp = pd.copy()
    assert list(cp.keys()) == ["a", "b"] and cp["a"] is pd["a"]
    merged = pd | nn.ParameterDict({"z": torch.ones(1)})
    assert list(merged.keys()) == ["a", "b", "z"]
    assert list(reversed(pd)) == ["b", "a"]
    assert list(pd.fromkeys(["x", "y"], torch.ones(1)).keys()) == ["x", "y"]
    pd.clear()
    assert len(pd) == 0
    with pytest.raises(TypeError, match="Index given to ParameterDict cannot be used as a key"):
        pd[3]
    with pytest.raises(RuntimeError, match="ParameterDict should not be called."):
        pd(torch.ones(1))
    with pytest.raises(TypeError, match="ParametersDict.update should be called with an iterable"):
        pd.update(3)


def test_parameter_dict_repr():
    pd = nn.ParameterDict({"w": torch.ones(2, 3), "n": 3})
    assert repr(pd) == (
        "ParameterDict(\n"
        "    (n): Object of type: int\n"
        "    (w): Parameter containing: [torch.FloatTensor of size 2x3]\n"
        ")"
    )


def test_containers_state_dict_round_trip():
    src = nn.ModuleDict(
        {
            "body": nn.Sequential(Affine(2.0), nn.ModuleList([Affine(3.0)])),
            "params": nn.ParameterDict({"scale": torch.tensor([1.5])}),
            "plist": nn.ParameterList([torch.tensor([2.5])]),
        }
    )
    keys = ["body.0.weight", "body.1.0.weight", "params.scale", "plist.0"]
    assert list(src.state_dict()) == keys
    dst = nn.ModuleDict(
        {
            "body": nn.Sequential(Affine(0.0), nn.ModuleList([Affine(0.0)])),
            "params": nn.ParameterDict({"scale": torch.tensor([0.0])}),
            "plist": nn.ParameterList([torch.tensor([0.0])]),
        }
    )
    dst.load_state_dict(src.state_dict())
    assert [float(v) for v in dst.state_dict().values()] == [2.0, 3.0, 1.5, 2.5]
