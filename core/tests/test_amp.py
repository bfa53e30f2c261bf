"""tocha.core.amp on its own: autocast state, nesting, decorator, threads, the weight-cast
cache, gradients' dtypes, custom_fwd; GradScaler arithmetic; the deterministic switch."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tocha.core as torch
from tocha.core.amp import autocast_mode

F = torch.nn.functional


def test_autocast_casts_listed_ops_only_inside_the_region():
    a, b = torch.randn(3, 4), torch.randn(4, 2)
    assert (a @ b).dtype == torch.float32
    with torch.autocast("cpu"):
        y = a @ b
        assert y.dtype == torch.bfloat16
        ref = (a.bfloat16().float().numpy() @ b.bfloat16().float().numpy()).astype(np.float32)
        np.testing.assert_allclose(y.float().numpy(), ref, rtol=1e-2, atol=1e-2)
        assert (a + b[:, 0].sum()).dtype == torch.float32  # unlisted: untouched
    assert (a @ b).dtype == torch.float32


def test_nested_regions_restore_the_outer_state():
    a = torch.ones(2, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with torch.autocast("cpu", dtype=torch.float16):
            assert (a @ a).dtype == torch.float16
            with torch.autocast("cpu", enabled=False):
                assert (a @ a).dtype == torch.float32
            assert (a @ a).dtype == torch.float16
        assert (a @ a).dtype == torch.bfloat16
    assert not torch.is_autocast_enabled("cpu")


def test_decorator_and_reentrant_use_of_one_instance():
    ac = torch.autocast("cpu")

    @ac
    def f(x, depth):
        inner = f(x, depth - 1) if depth else None
        return (x @ x).dtype, inner

    assert f(torch.ones(2, 2), 2) == (torch.bfloat16, (torch.bfloat16, (torch.bfloat16, None)))
    assert not torch.is_autocast_enabled("cpu")
    assert f.__name__ == "f"


def test_exception_inside_region_restores_state():
    with pytest.raises(ValueError), torch.autocast("cpu"):
        raise ValueError("boom")
    assert not torch.is_autocast_enabled("cpu")
    assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_autocast_state_is_per_thread():
    seen = {}

    def worker():
        seen["enabled"] = torch.is_autocast_enabled("cpu")
        seen["dtype"] = (torch.ones(2, 2) @ torch.ones(2, 2)).dtype

    with torch.autocast("cpu"):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen == {"enabled": False, "dtype": torch.float32}


def test_gradients_come_back_in_each_inputs_dtype():
    x = torch.randn(4, 3, requires_grad=True)
    lin = torch.nn.Linear(3, 2)
    with torch.autocast("cpu"):
        y = lin(x)
        loss = F.mse_loss(y, torch.zeros(4, 2))
    assert y.dtype == torch.bfloat16 and loss.dtype == torch.float32
    loss.backward()
    assert x.grad.dtype == lin.weight.grad.dtype == lin.bias.grad.dtype == torch.float32
    # the same gradient as float32 autograd of the bfloat16-rounded computation
    xb, wb, bb = (t.detach().bfloat16().float() for t in (x, lin.weight, lin.bias))
    yb = (xb.numpy() @ wb.numpy().T + bb.numpy()).astype(np.float32)
    yb = torch.tensor(yb).bfloat16().float().numpy()
    gw = (2 * yb / 8).T @ xb.numpy()
    np.testing.assert_allclose(lin.weight.grad.numpy(), gw, rtol=3e-2, atol=3e-2)


def test_weight_cast_is_cached_within_a_region_and_dropped_after():
    w = torch.nn.Parameter(torch.randn(3, 3))
    x = torch.randn(2, 3)
    with torch.autocast("cpu"):
        y1 = F.linear(x, w)
        y2 = F.linear(x, w)
        # one cast node feeds both uses
        assert y1.grad_fn.next_functions[1][0] is y2.grad_fn.next_functions[1][0]
        assert len(autocast_mode._info().cache) == 1
    assert len(autocast_mode._info().cache) == 0
    (y1.float().sum() + y2.float().sum()).backward()
    np.testing.assert_allclose(
        w.grad.numpy(), 2 * np.repeat(x.bfloat16().float().numpy().sum(0)[None], 3, 0), rtol=2e-2
    )
    with torch.autocast("cpu", cache_enabled=False):
        y1, y2 = F.linear(x, w), F.linear(x, w)
        assert y1.grad_fn.next_functions[1][0] is not y2.grad_fn.next_functions[1][0]


def test_cast_made_under_no_grad_is_not_reused_with_grad():
    w = torch.nn.Parameter(torch.randn(3, 3))
    with torch.autocast("cpu"):
        with torch.no_grad():
            F.linear(torch.ones(1, 3), w)
        y = F.linear(torch.ones(1, 3), w)
    assert y.requires_grad
    y.float().sum().backward()
    assert w.grad is not None


def test_out_and_float64_are_not_eligible():
    a = torch.randn(2, 2)
    with torch.autocast("cpu"):
        out = torch.empty(2, 2)
        torch.matmul(a, a, out=out)
        assert out.dtype == torch.float32
        assert (a.double() @ a.double()).dtype == torch.float64
        assert torch.prod(a, dtype=torch.float64).dtype == torch.float64


def test_wrappers_are_installed_once_and_keep_names_and_identity():
    with torch.autocast("cpu"):
        pass
    assert torch.matmul is torch._ops.linalg.matmul
    assert torch.Tensor.matmul is torch.matmul
    assert F.linear.__name__ == "linear" and hasattr(F.linear, "__wrapped__")
    assert torch.nn.Conv2d._fn is F.conv2d
    n = len(autocast_mode.TABLE)
    autocast_mode._installed = False  # a second install finds everything wrapped already
    autocast_mode._install()
    assert len(autocast_mode.TABLE) == n


def test_user_modules_importing_a_listed_function_get_the_wrapper():
    import sys
    import types

    with torch.autocast("cpu"):
        pass
    original = torch.matmul.__wrapped__
    mod = types.ModuleType("user_script_for_amp_test")
    mod.matmul = original  # as ``from tocha.core import matmul`` before the first region
    sys.modules[mod.__name__] = mod
    try:
        autocast_mode._replace_everywhere()
        assert mod.matmul is torch.matmul
        with torch.autocast("cpu"):
            assert mod.matmul(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16
    finally:
        del sys.modules[mod.__name__]


def test_every_core_list_entry_resolves():
    """The lower-precision and loss entries are all tocha functions (fft/linalg extras may
    come later)."""
    must = [
        e
        for e in autocast_mode._lists.CPU_LOWER + autocast_mode._lists.CUDA_LOWER
        if e != "linalg:vecdot"
    ] + [e for e in autocast_mode._lists.CPU_FP32 if "loss" in e or e.startswith("F:")]
    missing = [e for e in must if not autocast_mode._resolve(e)]
    assert missing == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="device_type"):
        torch.autocast(torch.device("cpu"))
    with pytest.raises(RuntimeError, match="'cpu' or 'cuda'"):
        torch.autocast("tpu")


def test_custom_fwd_casts_inputs_and_runs_without_autocast():
    class Mul(torch.autograd.Function):
        @staticmethod
        @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
        def forward(ctx, a, b):
            ctx.inner = torch.is_autocast_enabled("cpu")
            ctx.save_for_backward(a, b)
            return a @ b

        @staticmethod
        @torch.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g @ b.t(), a.t() @ g

    a = torch.randn(2, 2).bfloat16().requires_grad_()
    with torch.autocast("cpu"):
        y = Mul.apply(a, torch.randn(2, 2))
    assert y.dtype == torch.float32
    y.sum().backward()
    assert a.grad.dtype == torch.bfloat16


# --- GradScaler arithmetic (the torch comparison is in compat/test_amp_compat.py) -------------------
def test_grad_scaler_backoff_growth_and_skip():
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=1.0)
    s = torch.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2)
    for g, scale, weight in [
        ([1.0, 1.0], 8.0, 0.0),  # clean: step taken, tracker 1
        ([1.0, 1.0], 16.0, -1.0),  # clean again: grown
        ([np.inf, 1.0], 8.0, -1.0),  # overflow: skipped, backed off
    ]:
        opt.zero_grad()
        s.scale((w * torch.tensor(g)).sum()).backward()
        s.step(opt)
        s.update()
        assert s.get_scale() == scale
        np.testing.assert_array_equal(w.detach().numpy(), [weight, weight])
    s.update(3.0)
    assert s.get_scale() == 3.0
    with pytest.raises(AssertionError, match="new_scale"):
        s.update(torch.ones(2))


def test_grad_scaler_errors():
    s = torch.amp.GradScaler("cpu")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    with pytest.raises(AssertionError, match="Attempted step but _scale is None"):
        s.step(opt)
    with pytest.raises(AssertionError, match="growth factor"):
        torch.amp.GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(RuntimeError, match="state dict is empty"):
        s.load_state_dict({})
    p = torch.nn.Parameter(torch.ones(2, dtype=torch.float16))
    opt = torch.optim.SGD([p], lr=0.1)
    s = torch.amp.GradScaler("cpu", init_scale=2.0)
    s.scale(p.float().sum()).backward()
    with pytest.raises(ValueError, match="unscale FP16"):
        s.unscale_(opt)


def test_grad_scaler_scales_nested_outputs_and_pickles():
    import pickle

    s = torch.amp.GradScaler("cpu", init_scale=2.0)
    out = s.scale([torch.ones(1), (torch.ones(1) * 3,)])
    assert float(out[0]) == 2.0 and float(out[1][0]) == 6.0
    s2 = pickle.loads(pickle.dumps(s))
    assert s2.get_scale() == 2.0 and s2.state_dict() == s.state_dict()


# --- deterministic algorithms -----------------------------------------------------------------------
def test_deterministic_switch():
    assert torch.are_deterministic_algorithms_enabled() is False
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
        assert torch.are_deterministic_algorithms_enabled() is True
        assert torch.is_deterministic_algorithms_warn_only_enabled() is True
        from tocha.core._mode import DETERMINISTIC

        assert DETERMINISTIC.enabled and DETERMINISTIC.warn_only
        # process-wide, not per thread
        seen = []
        t = threading.Thread(
            target=lambda: seen.append(torch.are_deterministic_algorithms_enabled())
        )
        t.start()
        t.join()
        assert seen == [True]
    finally:
        torch.use_deterministic_algorithms(False)
    assert torch.is_deterministic_algorithms_warn_only_enabled() is False
    with pytest.raises(TypeError, match="must be bool, not int"):
        torch.use_deterministic_algorithms(1)
