"""tocha.core.jit.trace: a recorded graph that replays to the eager results."""

import numpy as np
import pytest

import tocha.core as torch

nn = torch.nn


def test_jit_trace_mlp_graph_and_replay(capsys):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    t = torch.jit.trace(m, torch.randn(4, 6))
    ops = [(n.opcode, n.target) for n in t.graph]
    assert ops == [
        ("placeholder", "input_0"),
        ("get_attr", "0.weight"),
        ("get_attr", "0.bias"),
        ("call_op", "Linear"),
        ("call_op", "Relu"),
        ("get_attr", "2.weight"),
        ("get_attr", "2.bias"),
        ("call_op", "Linear"),
        ("output", "output"),
    ]
    t.print_tabular()
    out = capsys.readouterr().out
    assert "linear_1" in out and "(input_0, 0.weight, 0.bias)" in out
    x = torch.randn(4, 6)
    with torch.no_grad():
        np.testing.assert_array_equal(t(x).numpy(), m(x).numpy())
    # parameters are read at replay time
    with torch.no_grad():
        m[2].bias.add_(1.0)
        np.testing.assert_array_equal(t(x).numpy(), m(x).numpy())


def test_jit_trace_cnn_batchnorm_inplace_and_embedding():
    torch.manual_seed(1)
    cnn = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    )
    for mod in cnn.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.normal_()
            mod.running_var.uniform_(0.5, 2.0)
    cnn.eval()
    t = torch.jit.trace(cnn, torch.randn(2, 3, 8, 8))
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        np.testing.assert_allclose(t(x).numpy(), cnn(x).numpy(), rtol=1e-6, atol=1e-6)

    emb = nn.Embedding(20, 5)
    te = torch.jit.trace(lambda ids: emb(ids).sum(1), torch.tensor([[1, 2, 3]]))
    ids = torch.tensor([[7, 7, 19]])  # the index array is an input, not a baked constant
    with torch.no_grad():
        np.testing.assert_allclose(te(ids).numpy(), emb(ids).sum(1).numpy(), rtol=1e-6)


def test_jit_trace_inplace_writes():
    lin = nn.Linear(3, 3)

    def f(x):
        c = torch.ones(3)
        y = lin(x) + c
        c.mul_(2.0)  # an unrecorded write: later uses see 2.0, earlier ones 1.0
        y.add_(c)
        return y.relu_() + c

    t = torch.jit.trace(f, torch.randn(4, 3))
    x = torch.randn(4, 3)
    with torch.no_grad():
        np.testing.assert_allclose(t(x).numpy(), f(x).numpy(), rtol=1e-6)


def test_jit_trace_errors():
    m = nn.Linear(3, 2)
    t = torch.jit.trace(m, torch.randn(4, 3))
    with pytest.raises(RuntimeError, match=r"shape \(5, 3\) but the trace was recorded for"):
        t(torch.randn(5, 3))
    with pytest.raises(TypeError, match="takes 1 inputs but 2"):
        t(torch.randn(4, 3), torch.randn(4, 3))
    drop = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).train()
    torch.manual_seed(2)
    with pytest.raises(torch.jit.TracingError, match="does not reproduce"):
        torch.jit.trace(drop, torch.randn(64, 3))
