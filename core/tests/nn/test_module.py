"""nn.Module: registration, iteration, state_dict, conversion, hooks, repr."""

from __future__ import annotations

import copy
import math
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import nn
from tocha.core.nn.modules import module as module_mod


# --- small modules used throughout (nn.Linear & co. are tested elsewhere) -------------------
class Lin(nn.Module):
    def __init__(self, i, o, bias=True):
        super().__init__()
        self.in_features, self.out_features = i, o
        self.weight = nn.Parameter(torch.empty(o, i))
        if bias:
            self.bias = nn.Parameter(torch.empty(o))
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
    """BatchNorm-shaped state: affine params, persistent and non-persistent buffers."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("num_batches_tracked", torch.tensor(0))
        self.register_buffer("scratch", torch.zeros(n), persistent=False)

    def forward(self, x):
        return x * self.weight + self.bias


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = Lin(3, 3)
        self.bn1 = Norm(3)

    def forward(self, x):
        return self.bn1(self.conv1(x)).relu()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = Lin(2, 3)
        self.layer1 = nn.Sequential(Block(), Block())
        self.head = Lin(3, 1, bias=False)

    def forward(self, x):
        return self.head(self.layer1(self.stem(x)))


NET_KEYS = [
    "stem.weight",
    "stem.bias",
    "layer1.0.conv1.weight",
    "layer1.0.conv1.bias",
    "layer1.0.bn1.weight",
    "layer1.0.bn1.bias",
    "layer1.0.bn1.running_mean",
    "layer1.0.bn1.num_batches_tracked",
    "layer1.1.conv1.weight",
    "layer1.1.conv1.bias",
    "layer1.1.bn1.weight",
    "layer1.1.bn1.bias",
    "layer1.1.bn1.running_mean",
    "layer1.1.bn1.num_batches_tracked",
    "head.weight",
]


# --- registration ----------------------------------------------------------------------------
def test_setattr_registers_parameters_modules_and_buffers():
    m = Norm(2)
    assert list(m._parameters) == ["weight", "bias"]
    assert list(m._buffers) == ["running_mean", "num_batches_tracked", "scratch"]
    assert "weight" not in m.__dict__  # reached through __getattr__, as in torch
    m.extra = Lin(1, 1)
    assert m._modules["extra"] is m.extra
    m.plain = 3
    assert m.__dict__["plain"] == 3
    # a plain tensor assigned to a buffer name replaces the buffer
    m.running_mean = torch.ones(2)
    np.testing.assert_array_equal(m._buffers["running_mean"].numpy(), [1.0, 1.0])
    # None is allowed for parameters, modules and buffers
    m.bias = None
    assert m._parameters["bias"] is None and m.bias is None
    # assigning a module over a plain attribute moves it into _modules
    m.plain = Lin(1, 1)
    assert "plain" not in m.__dict__ and "plain" in m._modules
    # assigning a Parameter over a buffer name moves it
    m.running_mean = nn.Parameter(torch.zeros(2))
    assert "running_mean" in m._parameters and "running_mean" not in m._buffers


def test_setattr_type_errors_match_torch():
    m = Lin(2, 2)
    with pytest.raises(TypeError) as e:
        m.weight = torch.ones(2, 2)
    assert str(e.value) == (
        "cannot assign 'torch.FloatTensor' as parameter 'weight' "
        "(torch.nn.Parameter or None expected)"
    )
    s = nn.Sequential(Lin(1, 1))
    with pytest.raises(TypeError, match=r"cannot assign 'int' as child module '0' \(torch.nn"):
        setattr(s, "0", 3)
    n = Norm(2)
    with pytest.raises(TypeError) as e:
        n.running_mean = 3
    assert str(e.value) == (
        "cannot assign 'int' as buffer 'running_mean' "
        "(torch.nn.Buffer, torch.Tensor or None expected)"
    )


def _key_error(fn) -> str:
    with pytest.raises(KeyError) as e:
        fn()
    return e.value.args[0]


def test_register_errors_match_torch():
    m = Lin(1, 1)
    assert _key_error(lambda: m.register_buffer("a.b", None)) == 'buffer name can\'t contain "."'
    assert _key_error(lambda: m.register_buffer("", None)) == (
        'buffer name can\'t be empty string ""'
    )
    assert _key_error(lambda: m.register_buffer("training", None)) == (
        "attribute 'training' already exists"
    )
    assert _key_error(lambda: m.register_parameter("a.b", None)) == (
        'parameter name can\'t contain "."'
    )
    assert _key_error(lambda: m.add_module("a.b", Lin(1, 1))) == (
        'module name can\'t contain ".", got: a.b'
    )
    assert _key_error(lambda: m.add_module("", Lin(1, 1))) == (
        'module name can\'t be empty string ""'
    )
    with pytest.raises(TypeError, match="buffer name should be a string. Got int"):
        m.register_buffer(3, None)
    with pytest.raises(TypeError, match="cannot assign 'int' object to buffer 'q'"):
        m.register_buffer("q", 3)
    with pytest.raises(TypeError, match="cannot assign 'torch.FloatTensor' object to parameter"):
        m.register_parameter("q", torch.ones(1))
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'q'"):
        m.register_parameter("q", _non_leaf_parameter())
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("q", 3)
    with pytest.raises(TypeError, match="module name should be a string. Got int"):
        m.add_module(1, Lin(1, 1))


def _non_leaf_parameter():
    p = nn.Parameter(torch.ones(1))
    p.grad_fn = (torch.ones(1, requires_grad=True) * 2).grad_fn  # forged: a non-leaf Parameter
    return p


def test_assignment_before_init_and_init_arguments():
    class A(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(torch.ones(1))

    class B(nn.Module):
        def __init__(self):
            self.m = nn.Module()

    class C(nn.Module):
        def __init__(self):
            self.register_buffer("x", None)

    for cls, what in ((A, "parameters"), (B, "module"), (C, "buffer")):
        with pytest.raises(AttributeError, match=f"cannot assign {what} before Module.__init__"):
            cls()
    with pytest.raises(TypeError, match=r"Module.__init__\(\) takes 1 positional argument"):
        nn.Module(3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'a'"):
        nn.Module(a=3)


def test_getattr_delattr_and_missing_forward():
    m = Norm(2)
    with pytest.raises(AttributeError, match="'Norm' object has no attribute 'foo'"):
        _ = m.foo
    del m.weight, m.running_mean, m.scratch
    assert "weight" not in m._parameters and "running_mean" not in m._buffers
    assert "scratch" not in m._non_persistent_buffers_set
    m.x = 1
    del m.x
    assert not hasattr(m, "x")
    with pytest.raises(
        NotImplementedError, match=r'Module \[Module\] is missing the required "forward"'
    ):
        nn.Module()(torch.ones(1))


# --- iteration -------------------------------------------------------------------------------
def test_named_parameters_buffers_modules():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [k for k in NET_KEYS if "running" not in k and "num_batches" not in k]
    assert [n for n, _ in net.named_parameters(prefix="model")][0] == "model.stem.weight"
    assert [n for n, _ in net.named_parameters(recurse=False)] == []
    assert [n for n, _ in net.stem.named_parameters(recurse=False)] == ["weight", "bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "layer1.0.bn1.running_mean",
        "layer1.0.bn1.num_batches_tracked",
        "layer1.0.bn1.scratch",
        "layer1.1.bn1.running_mean",
        "layer1.1.bn1.num_batches_tracked",
        "layer1.1.bn1.scratch",
    ]
    assert [n for n, _ in net.named_modules()] == [
        "",
        "stem",
        "layer1",
        "layer1.0",
        "layer1.0.conv1",
        "layer1.0.bn1",
        "layer1.1",
        "layer1.1.conv1",
        "layer1.1.bn1",
        "head",
    ]
    assert [n for n, _ in net.named_children()] == ["stem", "layer1", "head"]
    assert len(list(net.parameters())) == 11 and len(list(net.buffers())) == 6
    assert list(net.modules())[0] is net and list(net.children())[1] is net.layer1


def test_shared_parameters_and_modules_are_deduplicated():
    shared = Lin(2, 2)
    seq = nn.Sequential(shared, nn.Sequential(shared), Lin(2, 2))
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1", "2"]
    assert len(list(seq.named_modules(remove_duplicate=False))) == 5
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 6
    # tied weights: one parameter under two names
    a, b = Lin(2, 2), Lin(2, 2)
    b.weight = a.weight
    tied = nn.Sequential(a, b)
    assert [n for n, _ in tied.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert list(tied.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_dir_lists_members_but_not_digit_names():
    seq = nn.Sequential(Norm(2))
    d = dir(seq[0])
    for name in ("weight", "running_mean", "forward", "training", "state_dict"):
        assert name in d
    assert "0" not in dir(seq) and d == sorted(d)


def test_get_submodule_parameter_buffer():
    net = Net()
    assert net.get_submodule("layer1.1.bn1") is net.layer1[1].bn1
    assert net.get_submodule("") is net
    assert net.get_parameter("layer1.0.conv1.weight") is net.layer1[0].conv1.weight
    assert net.get_buffer("layer1.0.bn1.running_mean") is net.layer1[0].bn1.running_mean
    with pytest.raises(AttributeError, match="Sequential has no attribute `5`"):
        net.get_submodule("layer1.5")
    with pytest.raises(AttributeError, match="`weight` is not an nn.Module"):
        net.get_submodule("stem.weight")
    with pytest.raises(AttributeError, match="`in_features` is not an nn.Parameter"):
        net.get_parameter("stem.in_features")
    with pytest.raises(AttributeError, match="`weight` is not a buffer"):
        net.get_buffer("stem.weight")
    new = Lin(3, 1)
    net.set_submodule("head", new)
    assert net.head is new
    with pytest.raises(AttributeError, match="Net has no attribute `tail`"):
        net.set_submodule("tail", Lin(1, 1), strict=True)


# --- state_dict --------------------------------------------------------------------------------
def test_state_dict_keys_values_and_metadata():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict) and list(sd) == NET_KEYS
    assert all(type(v) is torch.Tensor and not v.requires_grad for v in sd.values())
    # detached aliases: they share memory with the module's tensors
    sd["stem.bias"].zero_()
    np.testing.assert_array_equal(net.stem.bias.detach().numpy(), np.zeros(3))
    assert list(sd._metadata) == ["", "stem", "layer1", "layer1.0", "layer1.0.conv1"] + [
        "layer1.0.bn1",
        "layer1.1",
        "layer1.1.conv1",
        "layer1.1.bn1",
        "head",
    ]
    assert sd._metadata["layer1.0"] == {"version": 1}
    kept = net.state_dict(keep_vars=True)
    assert kept["stem.weight"] is net.stem.weight
    assert list(net.layer1.state_dict(prefix="body."))[0] == "body.0.conv1.weight"


def test_load_state_dict_round_trip():
    torch.manual_seed(0)
    src, dst = Net(), Net()
    src.layer1[0].bn1.running_mean.fill_(0.5)
    src.layer1[0].bn1.num_batches_tracked.fill_(7)
    x = torch.randn(4, 2)
    assert not torch.allclose(src(x), dst(x))
    weight_obj = dst.stem.weight
    res = dst.load_state_dict(src.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    np.testing.assert_array_equal(dst(x).detach().numpy(), src(x).detach().numpy())
    assert dst.stem.weight is weight_obj  # loaded in place
    assert int(dst.layer1[0].bn1.num_batches_tracked) == 7
    # copied, not aliased
    src.stem.weight.data.add_(1)
    assert not torch.equal(src.stem.weight, dst.stem.weight)


def test_load_state_dict_strict_error_message():
    m = nn.Sequential(Lin(2, 3), Norm(3))
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(
            {"0.weight": torch.ones(3, 3), "x": torch.ones(1), "1.y.z": torch.ones(1)}
        )
    assert str(e.value) == (
        "Error(s) in loading state_dict for Sequential:\n"
        '\tMissing key(s) in state_dict: "0.bias", "1.weight", "1.bias", "1.running_mean", '
        '"1.num_batches_tracked". \n'
        '\tUnexpected key(s) in state_dict: "x", "1.y.z". \n'
        "\tsize mismatch for 0.weight: copying a param with shape torch.Size([3, 3]) from "
        "checkpoint, the shape in current model is torch.Size([3, 2])."
    )


def test_load_state_dict_non_strict_reports_and_loads_what_matches():
    m = nn.Sequential(Lin(2, 3), Norm(3))
    sd = {"0.weight": torch.full((3, 2), 2.0), "extra": torch.ones(1)}
    res = m.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["0.bias", "1.weight", "1.bias", "1.running_mean"] + [
        "1.num_batches_tracked"
    ]
    assert res.unexpected_keys == ["extra"]
    assert repr(res).startswith("_IncompatibleKeys(missing_keys=['0.bias'")
    np.testing.assert_array_equal(m[0].weight.detach().numpy(), np.full((3, 2), 2.0))
    # a size mismatch is an error even when not strict
    with pytest.raises(RuntimeError, match="size mismatch for 0.bias"):
        m.load_state_dict({"0.bias": torch.ones(5)}, strict=False)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        m.load_state_dict([1, 2])
    with pytest.raises(RuntimeError, match="expected torch.Tensor or Tensor-like object"):
        m.load_state_dict({"0.bias": [1.0, 2.0, 3.0]}, strict=False)


def test_load_state_dict_assign_and_dtype_cast():
    m = Lin(2, 2)
    w = torch.full((2, 2), 3.0, dtype=torch.float64)
    m.load_state_dict({"weight": w, "bias": torch.zeros(2)})
    assert m.weight.dtype == torch.float32  # copied into the existing float32 parameter
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.full((2, 2), 3.0))
    new_w = torch.ones(2, 2)
    m.load_state_dict({"weight": new_w, "bias": torch.zeros(2)}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    new_w.add_(1)  # assign=True keeps the given storage
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.full((2, 2), 2.0))


def test_load_scalar_from_one_element_vector():
    m = Norm(2)
    sd = m.state_dict()
    sd["num_batches_tracked"] = torch.tensor([5])
    m.load_state_dict(sd)
    assert m.num_batches_tracked.dim() == 0 and int(m.num_batches_tracked) == 5


def test_save_and_load_overrides_like_batchnorm():
    class Tracked(Norm):
        _version = 2

        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, *rest):
            # older checkpoints lack the counter: default it, as BatchNorm does
            version = local_metadata.get("version", None)
            key = prefix + "num_batches_tracked"
            if (version is None or version < 2) and key not in state_dict:
                state_dict[key] = torch.tensor(42)
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, *rest)

    m = nn.Sequential(Tracked(2))
    sd = m.state_dict()
    assert sd._metadata["0"] == {"version": 2}
    del sd["0.num_batches_tracked"]
    sd._metadata["0"] = {"version": 1}
    assert m.load_state_dict(sd).missing_keys == []
    assert int(m[0].num_batches_tracked) == 42


def test_extra_state_and_state_dict_hooks():
    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.counter = 3

        def get_extra_state(self):
            return {"counter": self.counter}

        def set_extra_state(self, state):
            self.counter = state["counter"]

    m = nn.Sequential(WithExtra())
    sd = m.state_dict()
    assert list(sd) == ["0._extra_state"] and sd["0._extra_state"] == {"counter": 3}
    m2 = nn.Sequential(WithExtra())
    m2[0].counter = 0
    m2.load_state_dict(sd)
    assert m2[0].counter == 3
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "0._extra_state"'):
        m2.load_state_dict({})

    calls = []
    lin = Lin(1, 1)
    lin.register_state_dict_pre_hook(lambda mod, prefix, keep: calls.append(("pre", prefix)))

    def drop_bias(mod, sd, prefix, meta):
        del sd[prefix + "bias"]

    lin.register_state_dict_post_hook(drop_bias)
    lin.register_load_state_dict_post_hook(lambda mod, keys: keys.missing_keys.clear())

    def rename(mod, sd, prefix, *rest):
        if prefix + "w" in sd:
            sd[prefix + "weight"] = sd.pop(prefix + "w")

    lin.register_load_state_dict_pre_hook(rename)
    outer = nn.Sequential(lin)
    assert list(outer.state_dict()) == ["0.weight"] and calls == [("pre", "0.")]
    res = outer.load_state_dict({"0.w": torch.full((1, 1), 9.0)})
    assert res.missing_keys == [] and float(lin.weight) == 9.0


# --- conversion, modes, gradients ----------------------------------------------------------------
def test_to_dtype_casts_floating_only_and_keeps_parameter_objects():
    m = Norm(2)
    w = m.weight
    w.grad = torch.ones(2)
    assert m.to(torch.float64) is m
    assert m.weight is w and w.dtype == torch.float64 and w.grad.dtype == torch.float64
    assert m.running_mean.dtype == torch.float64
    assert m.num_batches_tracked.dtype == torch.int64
    m.float()
    assert m.weight.dtype == torch.float32
    m.half()
    assert m.weight.dtype == torch.float16 and m.num_batches_tracked.dtype == torch.int64
    m.to(torch.ones(1, dtype=torch.float64))
    assert m.bias.dtype == torch.float64
    m.to("cpu", torch.float32)
    assert m.bias.dtype == torch.float32 and m.bias.device.type == "cpu"
    m.to(dtype=torch.bfloat16)
    assert m.bias.dtype == torch.bfloat16
    m.type(torch.float64)
    assert m.num_batches_tracked.dtype == torch.float64  # type() casts everything
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point or complex"):
        m.to(torch.int32)
    m.double().cpu()
    assert m.weight.dtype == torch.float64


def test_train_eval_apply_requires_grad_zero_grad():
    net = Net()
    assert all(mod.training for mod in net.modules())
    assert net.eval() is net and not any(mod.training for mod in net.modules())
    net.train()
    assert net.layer1[1].bn1.training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train(1)
    order = []
    net.apply(lambda mod: order.append(type(mod).__name__))
    assert order == ["Lin", "Lin", "Norm", "Block", "Lin", "Norm", "Block", "Sequential"] + [
        "Lin",
        "Net",
    ]

    net(torch.randn(4, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0.0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.stem.requires_grad_()
    net(torch.randn(4, 2)).sum().backward()
    assert net.stem.weight.grad is not None and net.head.weight.grad is None


def test_deepcopy_and_pickle():
    torch.manual_seed(1)
    net = Net()
    x = torch.randn(3, 2)
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert clone is not net and clone.stem.weight is not net.stem.weight
        assert isinstance(clone.stem.weight, nn.Parameter)
        np.testing.assert_array_equal(clone(x).detach().numpy(), net(x).detach().numpy())
        assert list(clone.state_dict()) == NET_KEYS
    # tied weights stay tied in the copy
    a = nn.Sequential(Lin(2, 2), Lin(2, 2))
    a[1].weight = a[0].weight
    b = copy.deepcopy(a)
    assert b[1].weight is b[0].weight and b[0].weight is not a[0].weight


# --- hooks ----------------------------------------------------------------------------------------
class Scale(nn.Module):
    def forward(self, x, factor=2.0):
        return x * factor


def test_forward_pre_and_post_hooks_order_and_results():
    m = Scale()
    log = []
    h1 = m.register_forward_pre_hook(lambda mod, args: log.append("pre1"))
    m.register_forward_pre_hook(lambda mod, args: log.append("pre0"), prepend=True)
    m.register_forward_hook(lambda mod, args, out: log.append("post1"))
    m.register_forward_hook(lambda mod, args, out: log.append("post0"), prepend=True)
    m(torch.ones(1))
    assert log == ["pre0", "pre1", "post0", "post1"]
    h1.remove()
    log.clear()
    m(torch.ones(1))
    assert log == ["pre0", "post0", "post1"]

    m2 = Scale()
    m2.register_forward_pre_hook(lambda mod, args: args[0] + 1)  # a single value is wrapped
    m2.register_forward_hook(lambda mod, args, out: out * 10)
    assert float(m2(torch.tensor(1.0))) == 40.0

    m3 = Scale()
    m3.register_forward_pre_hook(
        lambda mod, args, kwargs: (args, {**kwargs, "factor": 5.0}), with_kwargs=True
    )
    seen = []
    m3.register_forward_hook(
        lambda mod, args, kwargs, out: seen.append(kwargs["factor"]), with_kwargs=True
    )
    assert float(m3(torch.tensor(1.0), factor=3.0)) == 5.0 and seen == [5.0]
    m4 = Scale()
    m4.register_forward_pre_hook(lambda mod, args, kwargs: 5, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        m4(torch.ones(1))


def test_hook_handle_context_manager_and_always_call():
    m = Scale()
    with m.register_forward_hook(lambda mod, args, out: out + 1):
        assert float(m(torch.tensor(1.0))) == 3.0
    assert float(m(torch.tensor(1.0))) == 2.0
    assert not m._forward_hooks

    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    b = Boom()
    called = []
    b.register_forward_hook(lambda mod, args, out: called.append(out), always_call=True)
    b.register_forward_hook(lambda mod, args, out: called.append("never"))
    with pytest.raises(ValueError, match="boom"):
        b(torch.ones(1))
    assert called == [None]


def test_global_forward_hooks():
    seen = []
    h = module_mod.register_module_forward_hook(lambda mod, args, out: seen.append(type(mod)))
    try:
        nn.Sequential(Scale())(torch.ones(1))
    finally:
        h.remove()
    assert seen == [Scale, nn.Sequential]
    nn.Sequential(Scale())(torch.ones(1))
    assert len(seen) == 2


def test_full_backward_hook_values_for_a_linear_layer():
    # y = x W^T + b; L = sum(y * C): grad_output = C, grad_input = C W
    m = Lin(2, 3)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]))
    c = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    log = []
    m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", go)))
    m.register_full_backward_hook(lambda mod, gi, go: log.append(("full", gi, go)))
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (m(x) * torch.tensor(c)).sum().backward()
    assert [e[0] for e in log] == ["pre", "full"]
    (_, go), (_, gi, go2) = log
    w = m.weight.detach().numpy()
    np.testing.assert_allclose(go[0].numpy(), c)
    np.testing.assert_allclose(go2[0].numpy(), c)
    np.testing.assert_allclose(gi[0].numpy(), c @ w)
    np.testing.assert_allclose(x.grad.numpy(), c @ w)
    np.testing.assert_allclose(m.weight.grad.numpy(), c.T @ x.detach().numpy())


def test_full_backward_hook_when_no_input_requires_grad():
    m = Lin(2, 3)
    log = []
    m.register_full_backward_hook(lambda mod, gi, go: log.append((gi, go)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m(torch.ones(1, 2)).sum().backward()
    ((gi, go),) = log
    assert gi == (None,)
    np.testing.assert_array_equal(go[0].numpy(), np.ones((1, 3)))
    assert m.weight.grad is not None


class Two(nn.Module):
    def forward(self, a, b):
        return a * b, a + b


def test_full_backward_hook_several_inputs_and_outputs():
    t = Two()
    log = []
    t.register_full_backward_hook(lambda mod, gi, go: log.append((gi, go)))
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0])
    p, s = t(a, b)
    (p * 2 + s * 3).sum().backward()
    ((gi, go),) = log
    # dL/da = 2 b + 3; b does not require grad: its entry is zeros (torch materializes it)
    np.testing.assert_allclose(gi[0].numpy(), [9.0, 11.0])
    np.testing.assert_allclose(gi[1].numpy(), [0.0, 0.0])
    np.testing.assert_allclose(go[0].numpy(), [2.0, 2.0])
    np.testing.assert_allclose(go[1].numpy(), [3.0, 3.0])
    np.testing.assert_allclose(a.grad.numpy(), [9.0, 11.0])
    # an unused output shows None in grad_output, and the other gradient still flows
    log.clear()
    a.grad = None
    p, s = t(a, b)
    p.sum().backward()
    ((gi, go),) = log
    assert go[1] is None
    np.testing.assert_allclose(go[0].numpy(), [1.0, 1.0])
    np.testing.assert_allclose(gi[0].numpy(), [3.0, 4.0])
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])


def test_full_backward_hooks_can_replace_gradients():
    t = Two()
    t.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 10, gi[1]))
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    p, s = t(a, b)
    (p + s).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [40.0, 50.0])  # (b + 1) * 10
    np.testing.assert_allclose(b.grad.numpy(), [2.0, 3.0])  # a + 1

    t2 = Two()
    t2.register_full_backward_pre_hook(lambda mod, go: (go[0] * 0, go[1]))
    a.grad = b.grad = None
    p, s = t2(a, b)
    (p + s).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])

    t3 = Two()
    t3.register_full_backward_hook(lambda mod, gi, go: (gi[0],))
    p, s = t3(a, b)
    with pytest.raises(
        RuntimeError, match="Backward hook returned an invalid number of grad_input"
    ):
        (p + s).sum().backward()


def test_full_and_legacy_backward_hooks_cannot_mix():
    m = Lin(1, 1)
    m.register_full_backward_hook(lambda *a: None)
    with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks and full"):
        m.register_backward_hook(lambda *a: None)
    legacy = Lin(2, 1)
    seen = []
    legacy.register_backward_hook(lambda mod, gi, go: seen.append(len(gi)))
    legacy(torch.ones(1, 2, requires_grad=True)).sum().backward()
    assert seen == [2]  # the grad_fn of the last op (the bias addition) has two inputs


# --- repr ------------------------------------------------------------------------------------------
def test_repr_nested_and_extra_repr():
    net = Net()
    assert repr(net) == (
        "Net(\n"
        "  (stem): Lin(in_features=2, out_features=3, bias=True)\n"
        "  (layer1): Sequential(\n"
        "    (0): Block(\n"
        "      (conv1): Lin(in_features=3, out_features=3, bias=True)\n"
        "      (bn1): Norm()\n"
        "    )\n"
        "    (1): Block(\n"
        "      (conv1): Lin(in_features=3, out_features=3, bias=True)\n"
        "      (bn1): Norm()\n"
        "    )\n"
        "  )\n"
        "  (head): Lin(in_features=3, out_features=1, bias=False)\n"
        ")"
    )

    class Multi(nn.Module):
        def __init__(self):
            super().__init__()
            self.child = None
            self.register_module("sub", None)

        def extra_repr(self):
            return "a=1\nb=2"

    assert repr(Multi()) == "Multi(\n  a=1\n  b=2\n  (sub): None\n)"


@pytest.mark.gpu
def test_module_cuda_round_trip():
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(4, 2)
    ref = net(x).detach().numpy()
    w = net.stem.weight
    net.cuda()
    assert net.stem.weight is w and w.device.type == "cuda"
    assert net.layer1[0].bn1.num_batches_tracked.device.type == "cuda"
    y = net(x.cuda())
    np.testing.assert_allclose(y.detach().cpu().numpy(), ref, rtol=1e-5, atol=1e-6)
    y.sum().backward()
    assert w.grad.device.type == "cuda"
    total = nn.utils.clip_grad_norm_(net.parameters(), 1e-3)
    assert total.device.type == "cuda"
    after = sum(float((p.grad.cpu() ** 2).sum()) for p in net.parameters())
    assert math.sqrt(after) == pytest.approx(1e-3, rel=1e-3)
    nn.utils.clip_grad_value_(net.parameters(), 1e-5)
    assert max(float(p.grad.abs().max().cpu()) for p in net.parameters()) <= 1e-5
    cpu = Net()
    cpu.load_state_dict(net.state_dict())  # copies across devices
    np.testing.assert_allclose(cpu(x).detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    net.to("cpu", torch.float64)
    assert w.device.type == "cpu" and w.dtype == torch.float64 and w.grad.dtype == torch.float64
