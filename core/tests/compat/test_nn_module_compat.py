"""nn.Module & co. under tocha and real torch: the same module code gives the same state_dict
keys, repr, error messages, hook gradients, clipping and parametrizations. Needs torch
(`nox -s compat`); skipped where torch is absent."""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the anchor (torch) runs in `nox -s compat` only")

import tocha.core as tocha  # noqa: E402
from tocha.core import nn as _tocha_nn  # noqa: E402, F401  (binds tocha.core.nn)


def build(L):
    """The same module classes written against library ``L`` (torch or tocha.core)."""
    nn = L.nn

    class Lin(nn.Module):
        def __init__(self, i, o, bias=True):
            super().__init__()
            self.in_features, self.out_features = i, o
            self.weight = nn.Parameter(L.empty(o, i))
            if bias:
                self.bias = nn.Parameter(L.empty(o))
            else:
                self.register_parameter("bias", None)
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
            if bias:
                nn.init.uniform_(self.bias, -1 / math.sqrt(i), 1 / math.sqrt(i))

        def forward(self, x):
            y = x @ self.weight.T
            return y + self.bias if self.bias is not None else y

        def extra_repr(self):
            return (
                f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}"
            )

    class Norm(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.weight = nn.Parameter(L.ones(n))
            self.bias = nn.Parameter(L.zeros(n))
            self.register_buffer("running_mean", L.zeros(n))
            self.register_buffer("num_batches_tracked", L.tensor(0))
            self.register_buffer("cache", L.zeros(n), persistent=False)

        def forward(self, x):
            return x * self.weight + self.bias

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = Lin(3, 3)
            self.bn1 = Norm(3)
            self.extra = nn.ParameterDict({"b": L.ones(2), "a": L.zeros(1)})
            self.plist = nn.ParameterList([L.ones(1)])

        def forward(self, x):
            return self.bn1(self.conv1(x)).relu()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = Lin(2, 3)
            self.layer1 = nn.Sequential(Block(), Block())
            self.heads = nn.ModuleDict({"cls": Lin(3, 2), "reg": Lin(3, 1, bias=False)})
            self.towers = nn.ModuleList([Lin(3, 3), Lin(3, 3), Norm(3)])
            self.named = nn.Sequential(OrderedDict(act=Norm(3)))

        def forward(self, x):
            h = self.named(self.layer1(self.stem(x)))
            return self.heads["cls"](h), self.heads["reg"](h)

    return Lin, Norm, Block, Net


T_LIN, T_NORM, T_BLOCK, T_NET = build(torch)
C_LIN, C_NORM, C_BLOCK, C_NET = build(tocha)


def to_torch(t):
    return torch.from_numpy(np.array(t.detach().numpy()))


def to_tocha(t):
    return tocha.tensor(t.detach().numpy())


def copy_torch_to_tocha(tmod, cmod):
    cmod.load_state_dict({k: to_tocha(v) for k, v in tmod.state_dict().items()})


def test_state_dict_keys_metadata_and_named_members():
    t, c = T_NET(), C_NET()
    ts, cs = t.state_dict(), c.state_dict()
    assert list(cs) == list(ts)
    assert {k: v for k, v in cs._metadata.items()} == {k: v for k, v in ts._metadata.items()}
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in c.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in c.named_modules()] == [n for n, _ in t.named_modules()]
    for k in ts:
        assert tuple(cs[k].shape) == tuple(ts[k].shape)
        assert str(cs[k].dtype) == str(ts[k].dtype)


def test_repr_identical():
    assert repr(C_NET()) == repr(T_NET())
    cl = tocha.nn.ModuleList([C_NORM(2), C_NORM(2), C_LIN(1, 1), C_NORM(2)])
    tl = torch.nn.ModuleList([T_NORM(2), T_NORM(2), T_LIN(1, 1), T_NORM(2)])
    assert repr(cl) == repr(tl)
    pl = [tocha.nn.ParameterList([tocha.ones(2, 3)]), torch.nn.ParameterList([torch.ones(2, 3)])]
    assert repr(pl[0]) == repr(pl[1])
    assert repr(tocha.nn.Parameter(tocha.ones(2))) == repr(torch.nn.Parameter(torch.ones(2)))


def test_forward_after_loading_torch_weights():
    torch.manual_seed(0)
    t, c = T_NET(), C_NET()
    copy_torch_to_tocha(t, c)
    x = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)
    ty = t(torch.from_numpy(x))
    cy = c(tocha.tensor(x))
    for a, b in zip(cy, ty):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    # and back: tocha's state_dict loads into torch
    t2 = T_NET()
    t2.load_state_dict({k: to_torch(v) for k, v in c.state_dict().items()})
    np.testing.assert_allclose(t2(torch.from_numpy(x))[0].detach().numpy(), ty[0].detach().numpy())


def _error(fn):
    with pytest.raises(Exception) as e:
        fn()
    return type(e.value), str(e.value)


def test_load_state_dict_errors_identical():
    def bad(L, lin, norm):
        m = L.nn.Sequential(lin(2, 3), norm(3))
        return lambda: m.load_state_dict(
            {"0.weight": L.ones(3, 3), "x": L.ones(1), "1.y.z": L.ones(1), "1.bias": L.ones(5)}
        )

    assert _error(bad(tocha, C_LIN, C_NORM)) == _error(bad(torch, T_LIN, T_NORM))
    ck = C_LIN(2, 2).load_state_dict({"weight": tocha.ones(2, 2)}, strict=False)
    tk = T_LIN(2, 2).load_state_dict({"weight": torch.ones(2, 2)}, strict=False)
    assert repr(ck) == repr(tk)
    assert repr(C_LIN(1, 1).load_state_dict(C_LIN(1, 1).state_dict())) == repr(
        T_LIN(1, 1).load_state_dict(T_LIN(1, 1).state_dict())
    )


@pytest.mark.parametrize(
    "action",
    [
        lambda L, lin, norm: setattr(lin(2, 2), "weight", L.ones(2, 2)),
        lambda L, lin, norm: setattr(norm(2), "running_mean", 3),
        lambda L, lin, norm: setattr(L.nn.Sequential(lin(1, 1)), "0", L.ones(1)),
        lambda L, lin, norm: lin(1, 1).register_buffer("a.b", None),
        lambda L, lin, norm: lin(1, 1).register_parameter("q", L.ones(1)),
        lambda L, lin, norm: lin(1, 1).add_module("q", 3),
        lambda L, lin, norm: lin(1, 1).get_submodule("weight"),
        lambda L, lin, norm: norm(2).get_buffer("weight"),
        lambda L, lin, norm: lin(1, 1).to(L.int32),
        lambda L, lin, norm: lin(1, 1).train(1),
        lambda L, lin, norm: lin(1, 1).missing,
        lambda L, lin, norm: L.nn.Sequential()[2],
        lambda L, lin, norm: L.nn.Sequential() * 0,
        lambda L, lin, norm: L.nn.ParameterList()(),
        lambda L, lin, norm: L.nn.ModuleDict().update([(1, 2, 3)]),
        lambda L, lin, norm: L.nn.Module()(L.ones(1)),
    ],
)
def test_error_types_and_messages_identical(action):
    ct, cm = _error(lambda: action(tocha, C_LIN, C_NORM))
    tt, tm = _error(lambda: action(torch, T_LIN, T_NORM))
    assert ct is tt
    assert cm.replace("tocha.core.", "torch.") == tm  # class paths differ by package only


def test_init_bounds_and_gains():
    for name, param in [("relu", None), ("tanh", None), ("leaky_relu", 0.3), ("selu", None)]:
        assert tocha.nn.init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param)
        )
    for shape in [(64, 32), (16, 8, 3, 3)]:
        for fn, kw in [
            ("xavier_uniform_", {"gain": 2.0}),
            ("kaiming_uniform_", {"a": math.sqrt(5)}),
            ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
        ]:
            ct = getattr(tocha.nn.init, fn)(tocha.empty(*shape), **kw).numpy()
            tt = getattr(torch.nn.init, fn)(torch.empty(*shape), **kw).numpy()
            # same bound: the largest draws of both approach it from below
            assert np.abs(ct).max() == pytest.approx(np.abs(tt).max(), rel=0.02)
        for fn, kw in [("xavier_normal_", {}), ("kaiming_normal_", {"nonlinearity": "relu"})]:
            cs = getattr(tocha.nn.init, fn)(tocha.empty(*shape), **kw).numpy().std()
            ts = getattr(torch.nn.init, fn)(torch.empty(*shape), **kw).numpy().std()
            assert cs == pytest.approx(ts, rel=0.06)
    # deterministic initialisers agree exactly
    for fn in ("eye_", "dirac_"):
        shape = (3, 4) if fn == "eye_" else (4, 2, 3, 3)
        np.testing.assert_array_equal(
            getattr(tocha.nn.init, fn)(tocha.empty(*shape)).numpy(),
            getattr(torch.nn.init, fn)(torch.empty(*shape)).numpy(),
        )


def test_full_backward_hook_values_identical():
    def run(L, lin):
        m = lin(2, 3)
        with L.no_grad():
            m.weight.copy_(L.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]))
            m.bias.zero_()
        seen = []
        m.register_full_backward_pre_hook(lambda mod, go: seen.append(go[0].numpy().copy()))

        def hook(mod, gi, go):
            seen.append(gi[0].numpy().copy())
            return (gi[0] * 2,)

        m.register_full_backward_hook(hook)
        x = L.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        (m(x) * L.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
        return seen + [x.grad.numpy(), m.weight.grad.numpy()]

    for a, b in zip(run(tocha, C_LIN), run(torch, T_LIN)):
        np.testing.assert_allclose(a, b)


def test_clip_grad_norm_identical():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,), (2, 2)]]
    for norm_type in (2.0, 1.0, math.inf):
        res = []
        for L in (tocha, torch):
            ps = [L.nn.Parameter(L.zeros(*g.shape)) for g in grads]
            for p, g in zip(ps, grads):
                p.grad = L.tensor(g)
            total = L.nn.utils.clip_grad_norm_(ps, 0.7, norm_type=norm_type)
            res.append([total.numpy()] + [p.grad.numpy() for p in ps])
        for a, b in zip(*res):
            np.testing.assert_allclose(a, b, rtol=1e-5)


def test_parametrizations_identical():
    w = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    out = []
    for L, lin in ((tocha, C_LIN), (torch, T_LIN)):
        m = lin(3, 4)
        with L.no_grad():
            m.weight.copy_(L.tensor(w))
        m = L.nn.utils.parametrizations.weight_norm(m)
        out.append(
            (
                list(m.state_dict()),
                repr(m),
                m.parametrizations.weight.original0.detach().numpy(),
                m.weight.detach().numpy(),
            )
        )
    assert out[0][0] == out[1][0] and out[0][1] == out[1][1]
    np.testing.assert_allclose(out[0][2], out[1][2], rtol=1e-6)
    np.testing.assert_allclose(out[0][3], out[1][3], rtol=1e-6)
    keys = []
    for L, lin in ((tocha, C_LIN), (torch, T_LIN)):
        m = L.nn.utils.parametrizations.spectral_norm(lin(3, 4))
        keys.append((list(m.state_dict()), repr(m)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            legacy = L.nn.utils.weight_norm(lin(3, 4))
        keys.append(list(legacy.state_dict()))
        legacy = L.nn.utils.spectral_norm(lin(3, 4))
        sd = legacy.state_dict()
        keys.append((list(sd), dict(sd._metadata)))
    assert keys[:3] == keys[3:]
