"""CPU autocast (bfloat16) and GradScaler against torch's: output dtypes, values, gradient
dtypes and values for ops of every list (lower precision, float32, promote) and unlisted ones."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tocha.core as tc

torch = pytest.importorskip("torch")


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().float().numpy().astype(np.float64)
    return t.detach().float().numpy().astype(np.float64)


def _leaves(arrays):
    """The same float32 data as tocha and torch leaves that require grad."""
    ours = [tc.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    return ours, theirs


rng = np.random.default_rng(0)


def R(*shape):  # noqa: N802
    return rng.standard_normal(shape).astype(np.float32)


def idx(n, high):
    return rng.integers(0, high, n).astype(np.int64)


# (id, input arrays, fn(T, F, *tensors)); T is tocha.core or torch, F its nn.functional
CASES = [
    # lower precision
    ("matmul", [R(3, 4), R(4, 5)], lambda T, F, a, b: T.matmul(a, b)),
    ("matmul_op_batched", [R(2, 3, 4), R(4, 5)], lambda T, F, a, b: a @ b),
    ("mm", [R(3, 4), R(4, 5)], lambda T, F, a, b: T.mm(a, b)),
    ("bmm", [R(2, 3, 4), R(2, 4, 5)], lambda T, F, a, b: T.bmm(a, b)),
    ("addmm", [R(3, 5), R(3, 4), R(4, 5)], lambda T, F, c, a, b: T.addmm(c, a, b)),
    ("baddbmm", [R(2, 3, 5), R(2, 3, 4), R(2, 4, 5)], lambda T, F, c, a, b: T.baddbmm(c, a, b)),
    ("linear", [R(3, 4), R(2, 4), R(2)], lambda T, F, x, w, b: F.linear(x, w, b)),
    (
        "linear_chain",
        [R(3, 4), R(5, 4), R(2, 5)],
        lambda T, F, x, w1, w2: F.linear(F.linear(x, w1).relu(), w2),
    ),
    ("conv1d", [R(2, 3, 8), R(4, 3, 3), R(4)], lambda T, F, x, w, b: F.conv1d(x, w, b, padding=1)),
    ("conv2d", [R(2, 3, 6, 6), R(4, 3, 3, 3)], lambda T, F, x, w: F.conv2d(x, w, stride=2)),
    (
        "conv_transpose2d",
        [R(1, 3, 4, 4), R(3, 2, 3, 3)],
        lambda T, F, x, w: F.conv_transpose2d(x, w),
    ),
    ("prelu", [R(2, 3, 4), R(3)], lambda T, F, x, w: F.prelu(x, w)),
    (
        "sdpa",
        [R(2, 3, 4), R(2, 3, 4), R(2, 3, 4)],
        lambda T, F, q, k, v: F.scaled_dot_product_attention(q, k, v),
    ),
    # float32
    ("mse_loss_mixed", [R(3, 4), R(4, 5), R(3, 5)], lambda T, F, a, b, t: F.mse_loss(a @ b, t)),
    (
        "cross_entropy",
        [R(4, 3), R(3, 5), idx(4, 5)],
        lambda T, F, x, w, y: F.cross_entropy(x @ w, y),
    ),
    ("nll_loss", [R(4, 5), idx(4, 5)], lambda T, F, x, y: F.nll_loss(F.log_softmax(x, 1), y)),
    ("l1_loss", [R(3, 4), R(4, 2), R(3, 2)], lambda T, F, a, b, t: F.l1_loss(a @ b, t)),
    ("huber_loss", [R(3, 4), R(4, 2), R(3, 2)], lambda T, F, a, b, t: F.huber_loss(a @ b, t)),
    (
        "kl_div",
        [R(3, 4), R(3, 4)],
        lambda T, F, a, b: F.kl_div(
            F.log_softmax(a.bfloat16(), 1), F.softmax(b, 1), reduction="batchmean"
        ),
    ),
    (
        "bce_with_logits",
        [R(3, 4), R(4, 2), R(3, 2)],
        lambda T, F, a, b, t: F.binary_cross_entropy_with_logits(a @ b, t.sigmoid()),
    ),
    (
        "bce",
        [R(3, 4), R(3, 4)],
        lambda T, F, a, t: F.binary_cross_entropy(a.bfloat16().sigmoid(), t.sigmoid()),
    ),
    ("prod", [R(5)], lambda T, F, a: T.prod(a.bfloat16())),
    ("cdist", [R(3, 4), R(2, 4)], lambda T, F, a, b: T.cdist(a.bfloat16(), b)),
    ("trace", [R(3, 3)], lambda T, F, a: T.trace(a.bfloat16())),
    ("linalg_inv", [R(3, 3)], lambda T, F, a: T.linalg.inv(a.bfloat16() + 3 * T.eye(3))),
    ("max_pool3d", [R(1, 2, 4, 4, 4)], lambda T, F, a: F.max_pool3d(a.bfloat16(), 2)),
    ("avg_pool3d", [R(1, 2, 4, 4, 4)], lambda T, F, a: F.avg_pool3d(a.bfloat16(), 2)),
    ("pad_reflect1d", [R(1, 2, 5)], lambda T, F, a: F.pad(a.bfloat16(), (1, 2), mode="reflect")),
    (
        "pad_replicate2d",
        [R(1, 2, 4, 4)],
        lambda T, F, a: F.pad(a.bfloat16(), (1, 1, 2, 0), mode="replicate"),
    ),
    # promote to the widest input type
    ("cat_promote", [R(3, 4), R(4, 2), R(1, 2)], lambda T, F, a, b, c: T.cat([a @ b, c])),
    ("cat_low", [R(3, 4), R(4, 2)], lambda T, F, a, b: T.cat([a @ b, a @ b])),
    ("stack_promote", [R(3, 4), R(4, 2), R(3, 2)], lambda T, F, a, b, c: T.stack([a @ b, c])),
    # unlisted: they run in the dtype of their inputs
    ("softmax_bf16", [R(3, 4), R(4, 5)], lambda T, F, a, b: F.softmax(a @ b, 1)),
    ("add_mixed", [R(3, 4), R(4, 5), R(3, 5)], lambda T, F, a, b, c: (a @ b) + c),
    (
        "layer_norm_bf16",
        [R(3, 4), R(4, 6), R(6), R(6)],
        lambda T, F, a, b, w, bb: F.layer_norm(a @ b, (6,), w, bb),
    ),
    ("sum_bf16", [R(3, 4), R(4, 5)], lambda T, F, a, b: (a @ b).sum()),
    ("relu_bf16", [R(3, 4), R(4, 5)], lambda T, F, a, b: F.relu(a @ b)),
    # not eligible: float64 operands, an explicit dtype=
    ("mm_float64", [R(3, 4), R(4, 5)], lambda T, F, a, b: T.mm(a.double(), b.double())),
    ("prod_explicit_dtype", [R(5)], lambda T, F, a: T.prod(a.bfloat16(), dtype=T.float64)),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_cpu_autocast_matches_torch(case):
    _, arrays, fn = case
    ours, theirs = _leaves(arrays)
    with tc.autocast("cpu", dtype=tc.bfloat16):
        y = fn(tc, tc.nn.functional, *ours)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        yt = fn(torch, torch.nn.functional, *theirs)
    assert str(y.dtype) == str(yt.dtype), (str(y.dtype), str(yt.dtype))
    ref = _np(yt)
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(_np(y), ref, rtol=2e-2, atol=2e-2 * scale)
    y.float().sum().backward()
    yt.float().sum().backward()
    for a, at in zip(ours, theirs):
        if at.grad is None:
            assert a.grad is None
            continue
        assert str(a.grad.dtype) == str(at.grad.dtype)
        g = _np(at.grad)
        gscale = max(1.0, float(np.abs(g).max()))
        np.testing.assert_allclose(_np(a.grad), g, rtol=3e-2, atol=3e-2 * gscale)


def test_modules_under_cpu_autocast_match_torch_dtypes():
    """nn layers through their functional forms: the dtypes torch gives (LSTM excepted, see
    docs/deviations.md)."""
    x = R(5, 2, 4)
    results = {}
    for T in (tc, torch):
        T.manual_seed(0)
        mods = {
            "Linear": T.nn.Linear(4, 3),
            "Conv1d": T.nn.Conv1d(2, 3, 3),
            "GRU": T.nn.GRU(4, 3),
            "RNN": T.nn.RNN(4, 3),
            "GRUCell": T.nn.GRUCell(4, 3),
            "LSTMCell": T.nn.LSTMCell(4, 3),
            "RNNCell": T.nn.RNNCell(4, 3),
            "MultiheadAttention": T.nn.MultiheadAttention(4, 2),
            "BatchNorm1d": T.nn.BatchNorm1d(2),
        }
        xt = T.tensor(x)
        out = {}
        with T.autocast("cpu"):
            for name, m in mods.items():
                if name == "Conv1d" or name == "BatchNorm1d":
                    o = m(
                        xt.transpose(0, 1).transpose(1, 2)[:, :2]
                        if name == "Conv1d"
                        else xt[:, :2, 0].bfloat16()
                    )
                elif name == "MultiheadAttention":
                    o = m(xt, xt, xt)[0]
                elif name.endswith("Cell"):
                    o = m(xt[0])
                    o = o[0] if isinstance(o, tuple) else o
                else:
                    o = m(xt)
                    o = o[0] if isinstance(o, tuple) else o
                out[name] = str(o.dtype)
        results[T.__name__] = out
    assert results["tocha.core"] == results["torch"]


def test_autocast_state_functions_match_torch():
    for T in (tc, torch):
        assert not T.is_autocast_enabled("cpu")
        assert T.get_autocast_dtype("cpu") == T.bfloat16
        assert T.get_autocast_dtype("cuda") == T.float16
    with tc.autocast("cpu", dtype=tc.float16):
        assert tc.is_autocast_enabled("cpu") and not tc.is_autocast_enabled()
        assert tc.get_autocast_dtype("cpu") == tc.float16
        with tc.autocast("cpu", enabled=False):
            assert not tc.is_autocast_enabled("cpu")
            assert (tc.ones(2, 2) @ tc.ones(2, 2)).dtype == tc.float32
        assert (tc.ones(2, 2) @ tc.ones(2, 2)).dtype == tc.float16
    assert tc.get_autocast_dtype("cpu") == tc.bfloat16
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with tc.autocast("cpu", dtype=tc.float64):
            assert not tc.is_autocast_enabled("cpu")
    assert any("CPU Autocast only supports" in str(x.message) for x in w)


# --- GradScaler -------------------------------------------------------------------------------------
def _run_scaler(T, grads_per_step, **kw):
    """Steps of SGD driven by hand-set gradients; returns the weights, scales and states."""
    w = T.nn.Parameter(T.zeros(3))
    opt = T.optim.SGD([w], lr=0.5)
    scaler = T.amp.GradScaler("cpu", **kw)
    scales, trackers = [], []
    for g in grads_per_step:
        opt.zero_grad()
        loss = scaler.scale((w * T.tensor(g)).sum())
        loss.backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        trackers.append(scaler.state_dict()["_growth_tracker"])
    return w.detach().numpy().copy(), scales, trackers, scaler.state_dict()


def test_grad_scaler_matches_torch_with_injected_infs():
    steps = [
        [1.0, 2.0, 3.0],
        [0.5, np.inf, 1.0],
        [1.0, 1.0, 1.0],
        [np.nan, 0.0, 1.0],
        [2.0, -1.0, 0.25],
        [1.0, 2.0, 3.0],
        [3.0, 2.0, 1.0],
    ]
    kw = dict(init_scale=2.0**10, growth_factor=2.0, backoff_factor=0.25, growth_interval=2)
    ours = _run_scaler(tc, steps, **kw)
    theirs = _run_scaler(torch, steps, **kw)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    assert ours[1] == theirs[1]
    assert ours[2] == theirs[2]
    assert ours[3] == theirs[3]


def test_grad_scaler_unscale_then_clip_matches_torch():
    res = []
    for T in (tc, torch):
        T.manual_seed(0)
        lin = T.nn.Linear(4, 2)
        with T.no_grad():
            lin.weight.copy_(T.tensor(np.arange(8, dtype=np.float32).reshape(2, 4) / 8))
            lin.bias.zero_()
        opt = T.optim.SGD(lin.parameters(), lr=0.1)
        scaler = T.amp.GradScaler("cpu", init_scale=128.0)
        x = T.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))
        scaler.scale(lin(x).pow(2).sum()).backward()
        scaler.unscale_(opt)
        T.nn.utils.clip_grad_norm_(lin.parameters(), 0.5)
        scaler.step(opt)
        scaler.update()
        res.append((lin.weight.detach().numpy().copy(), scaler.get_scale()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-5, atol=1e-7)
    assert res[0][1] == res[1][1]


def test_grad_scaler_state_dict_round_trip_and_errors_match_torch():
    for T in (tc, torch):
        s = T.amp.GradScaler("cpu", init_scale=8.0, growth_interval=3)
        assert s.state_dict() == {
            "scale": 8.0,
            "growth_factor": 2.0,
            "backoff_factor": 0.5,
            "growth_interval": 3,
            "_growth_tracker": 0,
        }
        s2 = T.amp.GradScaler("cpu")
        s2.load_state_dict(s.state_dict())
        assert s2.get_scale() == 8.0 and s2.get_growth_interval() == 3
        w = T.nn.Parameter(T.ones(2))
        opt = T.optim.SGD([w], lr=0.1)
        s.scale(w.sum()).backward()
        s.unscale_(opt)
        with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
            s.unscale_(opt)
        s.step(opt)
        with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
            s.step(opt)


def test_bf16_training_loop_converges_like_torch():
    """A small regression trained under CPU autocast with a GradScaler, from the same initial
    weights: both converge, along nearby loss curves."""
    data_rng = np.random.default_rng(1)
    X = data_rng.standard_normal((64, 8)).astype(np.float32)
    W = data_rng.standard_normal((8, 1)).astype(np.float32)
    Y = X @ W + 0.01 * data_rng.standard_normal((64, 1)).astype(np.float32)
    torch.manual_seed(0)
    init = None
    curves = {}
    for T in (torch, tc):
        model = T.nn.Sequential(T.nn.Linear(8, 16), T.nn.ReLU(), T.nn.Linear(16, 1))
        if init is None:
            init = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
        model.load_state_dict({k: T.tensor(v) for k, v in init.items()})
        opt = T.optim.Adam(model.parameters(), lr=1e-2)
        scaler = T.amp.GradScaler("cpu")
        x, y = T.tensor(X), T.tensor(Y)
        losses = []
        for _ in range(150):
            opt.zero_grad()
            with T.autocast("cpu", dtype=T.bfloat16):
                out = model(x)
                loss = T.nn.functional.mse_loss(out, y)
            assert out.dtype == T.bfloat16 and loss.dtype == T.float32
            scaler.scale(loss).backward()
            assert model[0].weight.grad.dtype == T.float32
            scaler.step(opt)
            scaler.update()
            losses.append(float(loss.detach()))
        curves[T.__name__] = np.array(losses)
    for c in curves.values():
        assert c[-1] < 0.01 * c[0]
    ours, theirs = curves["tocha.core"], curves["torch"]
    assert ours[0] == pytest.approx(theirs[0], rel=1e-2)
    # bfloat16 rounding differs in the last bit between BLAS paths: the curves stay close
    np.testing.assert_allclose(ours[::10], theirs[::10], rtol=0.25, atol=2e-3)
