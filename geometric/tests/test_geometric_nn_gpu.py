"""scatter and layers on a CUDA device give the CPU numbers (skipped without a GPU)."""

import numpy as np
import pytest

import tocha.core as torch
import tocha.geometric.nn as gnn
from tocha.geometric.utils import scatter, softmax

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU with cupy"),
]


@pytest.mark.parametrize("deterministic", [False, True])
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_scatter_on_cuda_matches_cpu(reduce, deterministic):
    rng = np.random.default_rng(0)
    src = torch.from_numpy(rng.standard_normal((500, 4)).astype(np.float32))
    idx = torch.from_numpy(rng.integers(0, 40, 500))
    cpu = scatter(src, idx, 0, 45, reduce)
    torch.use_deterministic_algorithms(deterministic)
    try:
        s = src.to("cuda").requires_grad_()
        gpu = scatter(s, idx.to("cuda"), 0, 45, reduce)
        gpu.sum().backward()
    finally:
        torch.use_deterministic_algorithms(False)
    np.testing.assert_allclose(gpu.cpu().detach().numpy(), cpu.numpy(), rtol=1e-5, atol=1e-6)
    assert s.grad.device.type == "cuda"
    sm = softmax(src.to("cuda"), idx.to("cuda"))
    np.testing.assert_allclose(sm.cpu().numpy(), softmax(src, idx).numpy(), rtol=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: gnn.GCNConv(4, 3),
        lambda: gnn.GATConv(4, 2, heads=2),
        lambda: gnn.SAGEConv(4, 3, aggr="max"),
        lambda: gnn.GINConv(torch.nn.Linear(4, 3)),
    ],
)
def test_layers_on_cuda_match_cpu(make):
    torch.manual_seed(0)
    conv = make()
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.standard_normal((30, 4)).astype(np.float32))
    ei = torch.from_numpy(rng.integers(0, 30, (2, 90)))
    xc = x.clone().requires_grad_()
    cpu = conv(xc, ei)
    cpu.sum().backward()
    conv.to("cuda")
    xg = x.to("cuda").requires_grad_()
    gpu = conv(xg, ei.to("cuda"))
    gpu.sum().backward()
    np.testing.assert_allclose(
        gpu.cpu().detach().numpy(), cpu.detach().numpy(), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(xg.grad.cpu().numpy(), xc.grad.numpy(), rtol=1e-4, atol=1e-5)
