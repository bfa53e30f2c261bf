"""Device objects and the CPU-only behaviour of CUDA requests."""

from __future__ import annotations

import pytest

import tocha.core as torch
from tocha.core._device import cuda_available


def test_device_parsing_repr_and_equality():
    assert torch.device("cpu").type == "cpu" and torch.device("cpu").index is None
    d = torch.device("cuda:1")
    assert (d.type, d.index) == ("cuda", 1)
    assert repr(d) == "device(type='cuda', index=1)"
    assert str(d) == "cuda:1"
    assert torch.device("cuda", 1) == d == "cuda:1"
    assert torch.device(0) == torch.device("cuda:0")
    assert hash(torch.device("cpu")) == hash(torch.device("cpu"))
    assert torch.zeros(2).device == torch.device("cpu")


def test_bad_device_strings():
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda device type"):
        torch.device("tpu")
    with pytest.raises(RuntimeError, match="Invalid device string"):
        torch.device("cuda:x")


@pytest.mark.skipif(cuda_available(), reason="checks the CPU-only error")
def test_cuda_request_without_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        torch.zeros(2).to("cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        torch.zeros(2, device="cuda")


@pytest.mark.gpu
def test_roundtrip_and_mixed_device_error():
    x = torch.arange(4.0).cuda()
    assert x.device.type == "cuda" and x.is_cuda
    assert (x * 2).cpu().tolist() == [0.0, 2.0, 4.0, 6.0]
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        x + torch.arange(4.0)
    y = torch.arange(3.0, device="cuda", requires_grad=True)
    (y * y).sum().backward()
    assert y.grad.device.type == "cuda"
    assert y.grad.cpu().tolist() == [0.0, 2.0, 4.0]
