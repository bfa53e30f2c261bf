"""Optimizer state: torch's state_dict layout, exact round trips (also into a fresh optimizer over
new parameters), casting on load, load errors, state_dict hooks, pickling and deepcopy."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import optim

SHAPES = [(3, 2), (4,)]

CONFIGS = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adadelta", dict()),
]

STATE_KEYS = {
    "SGD": ["momentum_buffer"],
    "Adam": ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    "AdamW": ["step", "exp_avg", "exp_avg_sq"],
    "Adamax": ["step", "exp_avg", "exp_inf"],
    "NAdam": ["step", "mu_product", "exp_avg", "exp_avg_sq"],
    "RAdam": ["step", "exp_avg", "exp_avg_sq"],
    "RMSprop": ["step", "square_avg", "momentum_buffer", "grad_avg"],
    "Adagrad": ["step", "sum"],
    "Adadelta": ["step", "square_avg", "acc_delta"],
}


def _params(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [torch.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in SHAPES]


def _grads(k, dtype=np.float64):
    rng = np.random.default_rng(100 + k)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _steps(opt, params, ks, dtype=np.float64):
    for k in ks:
        for p, g in zip(params, _grads(k, dtype)):
            p.grad = torch.tensor(g)
        opt.step()


def _two_groups(name, kw, params):
    return getattr(optim, name)(
        [{"params": params[:1]}, {"params": params[1:], "weight_decay": 0.01}], **kw
    )


@pytest.mark.parametrize(
    ("name", "kw"), CONFIGS, ids=[c[0] + str(i) for i, c in enumerate(CONFIGS)]
)
def test_round_trip_into_a_fresh_optimizer_continues_identically(name, kw):
    ref_params = _params()
    ref = _two_groups(name, kw, ref_params)
    _steps(ref, ref_params, range(6))

    params = _params()
    opt = _two_groups(name, kw, params)
    _steps(opt, params, range(3))
    saved = opt.state_dict()

    # new parameters (same shapes), holding the values reached after 3 steps
    fresh = [torch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    opt2 = _two_groups(name, dict(kw, lr=123.0), fresh)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == kw.get("lr", opt.defaults["lr"])
    assert opt2.param_groups[1]["params"][0] is fresh[1]
    _steps(opt2, fresh, range(3, 6))
    for a, b in zip(ref_params, fresh):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize(
    ("name", "kw"), CONFIGS, ids=[c[0] + str(i) for i, c in enumerate(CONFIGS)]
)
def test_state_dict_layout_is_torchs(name, kw):
    params = _params()
    opt = _two_groups(name, kw, params)
    _steps(opt, params, range(2))
    sd = opt.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert list(sd["param_groups"][0])[-1] == "params"
    assert sd["param_groups"][1]["weight_decay"] == 0.01
    keys = STATE_KEYS[name]
    if name == "SGD" and kw.get("momentum", 0) == 0:
        assert sd["state"] == {}
        return
    assert sorted(sd["state"]) == [0, 1]
    assert list(sd["state"][0]) == keys
    st = sd["state"][1]
    if "step" in st:
        assert st["step"].dtype == torch.float32 and st["step"].dim() == 0
        assert st["step"].item() == 2.0
    for k in keys:
        if k not in ("step", "mu_product"):
            assert st[k].shape == SHAPES[1] and st[k].dtype == torch.float64
    # like torch, the state_dict holds the optimizer's own state tensors
    assert sd["state"][1][keys[-1]] is opt.state[params[1]][keys[-1]]


def test_state_dict_ids_follow_group_order_and_skip_absent_state():
    a, b, c = (torch.zeros(2, requires_grad=True) for _ in range(3))
    opt = optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}])
    b.grad = torch.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert list(sd["state"]) == [1]


def test_load_does_not_alias_the_loaded_tensors():
    params = _params()
    opt = optim.Adam(params, lr=0.1)
    _steps(opt, params, range(2))
    sd = opt.state_dict()
    opt2 = optim.Adam(_params(seed=1), lr=0.1)
    opt2.load_state_dict(sd)
    p2 = opt2.param_groups[0]["params"][0]
    assert opt2.state[p2]["exp_avg"] is not sd["state"][0]["exp_avg"]
    before = sd["state"][0]["exp_avg"].numpy().copy()
    _steps(opt2, opt2.param_groups[0]["params"], range(2, 3))
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].numpy(), before)


def test_load_casts_state_to_the_parameter_dtype_but_keeps_step():
    p32 = _params(dtype=np.float32)
    opt = optim.Adam(p32, lr=0.1)
    _steps(opt, p32, range(2), dtype=np.float32)
    p64 = _params()
    opt64 = optim.Adam(p64, lr=0.1)
    opt64.load_state_dict(opt.state_dict())
    st = opt64.state[p64[0]]
    assert st["exp_avg"].dtype == torch.float64
    assert st["step"].dtype == torch.float32
    assert st["exp_avg"].numpy().flags.c_contiguous


@pytest.mark.parametrize("name", ["Adam", "Adagrad", "RMSprop"])
@pytest.mark.parametrize("start", [5.0, 2.0**24 - 1, 2.0**24, 2.0**25 + 1])
def test_step_counter_counts_in_its_own_dtype(name, start):
    # torch adds 1 to a float32 step tensor: past 2**24 the count stops moving, and the bias
    # corrections use the rounded count; a resumed counter must behave the same way
    params = _params(dtype=np.float32)
    opt = getattr(optim, name)(params, lr=0.1)
    _steps(opt, params, range(1), dtype=np.float32)
    st = opt.state[params[0]]
    st["step"] = torch.tensor(np.float32(start))
    _steps(opt, params, range(1, 3), dtype=np.float32)
    want = np.float32(start)
    for _ in range(2):
        want = want + np.float32(1)
    assert st["step"].dtype == torch.float32
    assert st["step"].numpy().tobytes() == np.asarray(want).tobytes()


def test_load_errors():
    params = _params()
    opt = optim.SGD(params, lr=0.1)
    two = _two_groups("SGD", dict(lr=0.1), _params())
    with pytest.raises(
        ValueError, match="loaded state dict has a different number of parameter groups"
    ):
        opt.load_state_dict(two.state_dict())
    short = optim.SGD(params[:1], lr=0.1)
    with pytest.raises(
        ValueError,
        match="loaded state dict contains a parameter group that "
        "doesn't match the size of optimizer's group",
    ):
        short.load_state_dict(opt.state_dict())


def test_load_fills_options_missing_from_older_state_dicts():
    params = _params()
    opt = optim.Adam(params, lr=0.1)
    sd = opt.state_dict()
    for k in ("amsgrad", "maximize", "foreach", "decoupled_weight_decay"):
        del sd["param_groups"][0][k]
    sd["state"][0] = {
        "step": 3,  # a plain number, as very old checkpoints stored it
        "exp_avg": torch.zeros(3, 2, dtype=torch.float64),
        "exp_avg_sq": torch.zeros(3, 2, dtype=torch.float64),
    }
    opt2 = optim.Adam(_params(seed=1))
    opt2.load_state_dict(sd)
    group = opt2.param_groups[0]
    assert group["amsgrad"] is False and group["maximize"] is False
    assert group["decoupled_weight_decay"] is False
    step = opt2.state[group["params"][0]]["step"]
    assert isinstance(step, torch.Tensor) and step.item() == 3.0
    aw = optim.AdamW(_params(seed=2))
    aw.load_state_dict(sd)
    assert aw.param_groups[0]["decoupled_weight_decay"] is True


def test_named_parameters_round_trip():
    a, b = _params()
    opt = optim.SGD([("w", a), ("b", b)], lr=0.1, momentum=0.9)
    _steps(opt, [a, b], range(1))
    sd = opt.state_dict()
    assert sd["param_groups"][0]["param_names"] == ["w", "b"]
    c, d = _params(seed=3)
    opt2 = optim.SGD([c, d], lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["param_names"] == ["w", "b"]


def test_state_dict_and_load_hooks():
    params = _params()
    opt = optim.SGD(params, lr=0.1)
    calls = []
    opt.register_state_dict_pre_hook(lambda o: calls.append("pre"))

    def post(o, sd):
        calls.append("post")
        sd["extra"] = 1
        return sd

    opt.register_state_dict_post_hook(post)
    sd = opt.state_dict()
    assert sd["extra"] == 1 and calls == ["pre", "post"]

    def load_pre(o, sd):
        sd = dict(sd)
        sd["param_groups"] = [dict(sd["param_groups"][0], lr=0.7)]
        return sd

    opt2 = optim.SGD(_params(seed=1), lr=0.1)
    opt2.register_load_state_dict_pre_hook(load_pre)
    h = opt2.register_load_state_dict_post_hook(lambda o: calls.append("loaded"))
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.7 and calls[-1] == "loaded"
    h.remove()
    opt2.load_state_dict(sd)
    assert calls.count("loaded") == 1
    first = opt2.register_load_state_dict_post_hook(lambda o: calls.append("A"))
    opt2.register_load_state_dict_post_hook(lambda o: calls.append("B"), prepend=True)
    opt2.load_state_dict(sd)
    assert calls[-2:] == ["B", "A"]
    first.remove()


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_pickle_and_deepcopy(how):
    params = _params()
    opt = optim.Adam(params, lr=0.1)
    _steps(opt, params, range(2))
    if how == "pickle":
        opt2 = pickle.loads(pickle.dumps(opt))
    else:
        opt2 = copy.deepcopy(opt)
    new_params = opt2.param_groups[0]["params"]
    assert new_params[0] is not params[0]
    assert set(map(id, opt2.state)) == set(map(id, new_params))
    _steps(opt, params, range(2, 4))
    _steps(opt2, new_params, range(2, 4))
    for a, b in zip(params, new_params):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    h = opt2.register_step_post_hook(lambda *a: None)  # hook dicts restored
    h.remove()


def test_lbfgs_state_round_trip():
    def make(x):
        opt = optim.LBFGS([x], lr=0.5, max_iter=3, history_size=4)

        def closure():
            opt.zero_grad()
            loss = ((x - torch.tensor([1.0, -2.0], dtype=torch.float64)) ** 4).sum() + (x[0] * x[1])
            loss.backward()
            return loss

        return opt, closure

    x_ref = torch.tensor([0.1, 0.3], dtype=torch.float64, requires_grad=True)
    ref, ref_closure = make(x_ref)
    for _ in range(4):
        ref.step(ref_closure)

    x = torch.tensor([0.1, 0.3], dtype=torch.float64, requires_grad=True)
    opt, closure = make(x)
    for _ in range(2):
        opt.step(closure)
    sd = opt.state_dict()
    assert {
        "func_evals",
        "n_iter",
        "d",
        "t",
        "old_dirs",
        "old_stps",
        "ro",
        "H_diag",
        "prev_flat_grad",
        "prev_loss",
    } <= set(sd["state"][0])
    x2 = torch.tensor(x.detach().numpy().copy(), requires_grad=True)
    opt2, closure2 = make(x2)
    opt2.load_state_dict(sd)
    for _ in range(2):
        opt2.step(closure2)
    np.testing.assert_array_equal(x2.detach().numpy(), x_ref.detach().numpy())


def test_checkpoint_file_round_trip(tmp_path):
    if not hasattr(torch, "save"):
        pytest.skip("tocha.core.save not available yet")
    params = _params()
    opt = optim.Adam(params, lr=0.05, amsgrad=True)
    sched = optim.lr_scheduler.StepLR(opt, 2, gamma=0.5)
    for k in range(3):
        _steps(opt, params, [k])
        sched.step()
    path = tmp_path / "ckpt.pt"
    torch.save({"optim": opt.state_dict(), "sched": sched.state_dict()}, str(path))
    ref_params = [torch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    for k in range(3, 6):
        _steps(opt, params, [k])
        sched.step()

    ckpt = torch.load(str(path))
    opt2 = optim.Adam(ref_params, lr=0.05, amsgrad=True)
    sched2 = optim.lr_scheduler.StepLR(opt2, 2, gamma=0.5)
    sched2.load_state_dict(ckpt["sched"])
    opt2.load_state_dict(ckpt["optim"])
    for k in range(3, 6):
        _steps(opt2, ref_params, [k])
        sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()
    for a, b in zip(params, ref_params):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
