"""tocha.core.cuda: what works without a GPU (and fails cleanly), and the runtime API on one."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.core._device import cuda_available

no_gpu = pytest.mark.skipif(cuda_available(), reason="checks the behaviour without CUDA")


# --- without CUDA -------------------------------------------------------------------------------
@no_gpu
def test_without_cuda_queries_are_harmless():
    c = torch.cuda
    assert c.is_available() is False
    assert c.device_count() == 0
    assert c.is_bf16_supported() is False
    assert c.is_initialized() is False
    # torch returns 0 and does nothing here rather than raising
    assert c.memory_allocated() == 0
    assert c.max_memory_allocated() == 0
    assert c.memory_reserved() == 0
    assert c.max_memory_reserved() == 0
    assert c.memory_stats() == {}
    c.empty_cache()
    c.reset_peak_memory_stats()
    # seeding is silently ignored, as torch queues it until CUDA initialises
    c.manual_seed(1)
    c.manual_seed_all(1)
    c.seed()
    with c.stream(None) as s:
        assert s is None
    with c.device(-1):
        pass


NEEDS_CUDA = [
    ("current_device", lambda c: c.current_device(), AssertionError),
    ("set_device", lambda c: c.set_device(0), AssertionError),
    ("synchronize", lambda c: c.synchronize(), AssertionError),
    ("get_device_name", lambda c: c.get_device_name(), AssertionError),
    ("get_device_properties", lambda c: c.get_device_properties(0), AssertionError),
    ("get_device_capability", lambda c: c.get_device_capability(), AssertionError),
    ("current_stream", lambda c: c.current_stream(), AssertionError),
    ("init", lambda c: c.init(), AssertionError),
    ("get_rng_state", lambda c: c.get_rng_state(), AssertionError),
    ("initial_seed", lambda c: c.initial_seed(), AssertionError),
    ("mem_get_info", lambda c: c.mem_get_info(), AssertionError),
    ("Stream", lambda c: c.Stream(), RuntimeError),
    ("Event", lambda c: c.Event(enable_timing=True), RuntimeError),
    ("device", lambda c: c.device(0).__enter__(), RuntimeError),
]


@no_gpu
@pytest.mark.parametrize("name,call,exc", NEEDS_CUDA, ids=[n for n, _, _ in NEEDS_CUDA])
def test_without_cuda_the_rest_raises_torchs_error_naming_the_function(name, call, exc):
    with pytest.raises(exc) as info:
        call(torch.cuda)
    msg = str(info.value)
    assert f"tocha.core.cuda.{name}" in msg
    assert "pip install tocha-core[cuda12]" in msg


@no_gpu
def test_without_cuda_pin_memory_raises_and_nothing_is_pinned():
    x = torch.arange(4.0)
    assert x.is_pinned() is False
    with pytest.raises(RuntimeError, match="Cannot access accelerator device"):
        x.pin_memory()


@no_gpu
def test_without_cuda_dataloader_pin_memory_warns_and_returns_plain_batches():
    from tocha.core.utils.data import DataLoader, TensorDataset

    ds = TensorDataset(torch.arange(6.0).reshape(3, 2))
    with pytest.warns(UserWarning, match="no accelerator is found"):
        batches = list(DataLoader(ds, batch_size=2, pin_memory=True))
    np.testing.assert_array_equal(batches[0][0].numpy(), [[0, 1], [2, 3]])
    assert not batches[0][0].is_pinned()


@no_gpu
def test_without_cuda_amp_cuda_warns_and_disables():
    with pytest.warns(UserWarning, match="Disabling autocast"):
        ctx = torch.autocast("cuda")
    with ctx:
        assert not torch.is_autocast_enabled("cuda")
    with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
        s = torch.amp.GradScaler("cuda")
    assert not s.is_enabled() and s.get_scale() == 1.0 and s.state_dict() == {}
    x = torch.ones(2)
    assert s.scale(x) is x
    with (
        pytest.warns(FutureWarning, match="torch.amp.GradScaler\\('cuda'"),
        pytest.warns(UserWarning, match="Disabling"),
    ):
        torch.cuda.amp.GradScaler()


def test_dataloader_pin_memory_walks_nested_batches():
    from collections import namedtuple

    from tocha.core.utils.data.dataloader import pin_memory

    seen = []

    class Fake:
        def pin_memory(self):
            seen.append(self)
            return "pinned"

    Pair = namedtuple("Pair", "a b")
    batch = {"x": [Fake(), (Fake(), "s")], "p": Pair(Fake(), 3)}
    out = pin_memory(batch)
    assert out == {"x": ["pinned", ("pinned", "s")], "p": Pair("pinned", 3)}
    assert len(seen) == 3


# --- on a GPU ------------------------------------------------------------------------------------
@pytest.mark.gpu
def test_gpu_device_queries_and_context():
    c = torch.cuda
    assert c.is_available() and c.device_count() >= 1
    assert c.current_device() == 0
    p = c.get_device_properties(0)
    assert p.total_memory > 0 and p.major >= 3 and c.get_device_name(0) == p.name
    assert c.get_device_capability(0) == (p.major, p.minor)
    with c.device(0):
        assert c.current_device() == 0
    c.set_device(0)
    c.synchronize()


@pytest.mark.gpu
def test_gpu_memory_statistics_track_allocations_and_peaks():
    c = torch.cuda
    c.synchronize()
    c.empty_cache()
    base = c.memory_allocated()
    c.reset_peak_memory_stats()
    x = torch.empty(1 << 20, device="cuda")  # 4 MiB
    assert c.memory_allocated() >= base + (4 << 20)
    peak = c.max_memory_allocated()
    assert peak >= base + (4 << 20)
    del x
    assert c.memory_allocated() == base
    assert c.max_memory_allocated() == peak  # the peak stays until a reset
    assert c.memory_reserved() >= c.memory_allocated()
    c.reset_peak_memory_stats()
    assert c.max_memory_allocated() == c.memory_allocated()
    c.empty_cache()


@pytest.mark.gpu
def test_gpu_streams_events_and_timing():
    c = torch.cuda
    s = c.Stream()
    start, end = c.Event(enable_timing=True), c.Event(enable_timing=True)
    a = torch.randn(256, 256, device="cuda")
    with c.stream(s):
        assert c.current_stream() == s
        start.record()
        b = a @ a
        end.record()
    c.current_stream().wait_stream(s)
    end.synchronize()
    assert start.elapsed_time(end) >= 0.0
    assert s.query() and end.query()
    np.testing.assert_allclose(b.cpu().numpy(), a.cpu().numpy() @ a.cpu().numpy(), rtol=1e-3)
    with pytest.raises(RuntimeError, match="enable_timing"):
        c.Event().elapsed_time(c.Event())


@pytest.mark.gpu
def test_gpu_manual_seed_repeats_draws():
    torch.cuda.manual_seed(3)
    a = torch.rand(5, device="cuda")
    torch.cuda.manual_seed(3)
    b = torch.rand(5, device="cuda")
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    state = torch.cuda.get_rng_state()
    c = torch.rand(5, device="cuda")
    torch.cuda.set_rng_state(state)
    np.testing.assert_array_equal(torch.rand(5, device="cuda").cpu().numpy(), c.cpu().numpy())


@pytest.mark.gpu
def test_gpu_pin_memory_and_non_blocking_copy():
    leaf = torch.arange(12.0, requires_grad=True)
    x = leaf.reshape(3, 4)
    p = x.pin_memory()
    assert p.is_pinned() and not x.is_pinned()
    assert p.pin_memory() is p
    y = p.to("cuda", non_blocking=True)
    torch.cuda.synchronize()
    np.testing.assert_array_equal(y.detach().cpu().numpy(), x.detach().numpy())
    y.sum().backward()  # the gradient flows back through the pin and the copy
    np.testing.assert_array_equal(leaf.grad.numpy(), np.ones(12))


@pytest.mark.gpu
def test_gpu_dataloader_pins_batches():
    from tocha.core.utils.data import DataLoader, TensorDataset

    ds = TensorDataset(torch.arange(8.0).reshape(4, 2), torch.arange(4))
    for xb, yb in DataLoader(ds, batch_size=2, pin_memory=True):
        assert xb.is_pinned() and yb.is_pinned()


@pytest.mark.gpu
def test_gpu_autocast_float16_lists():
    a = torch.randn(8, 8, device="cuda", requires_grad=True)
    with torch.autocast("cuda"):
        y = a @ a
        assert y.dtype == torch.float16
        assert torch.softmax(y, 1).dtype == torch.float32  # CUDA float32 list
        assert y.sum().dtype == torch.float32
        assert torch.addcmul(y, y, a).dtype == torch.float32  # promote
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            torch.nn.functional.binary_cross_entropy(y.sigmoid(), y.sigmoid())
    y.float().sum().backward()
    assert a.grad.dtype == torch.float32


@pytest.mark.gpu
def test_gpu_grad_scaler_skips_inf_steps():
    w = torch.nn.Parameter(torch.ones(3, device="cuda"))
    opt = torch.optim.SGD([w], lr=1.0)
    scaler = torch.amp.GradScaler("cuda", init_scale=4.0)
    scaler.scale((w * torch.tensor([1.0, float("inf"), 1.0], device="cuda")).sum()).backward()
    scaler.step(opt)
    scaler.update()
    np.testing.assert_array_equal(w.detach().cpu().numpy(), [1.0, 1.0, 1.0])
    assert scaler.get_scale() == 2.0
