"""Normalization: layer/group/RMS/batch/instance norm and LRN against NumPy formulas, the
running statistics of BatchNorm (momentum, cumulative average, num_batches_tracked, eval),
state_dict compatibility, gradients (first and second order), dtypes and errors."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn
from tocha.core.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def _ln_ref(x, k, w=None, b=None, eps=1e-5):
    axes = tuple(range(x.ndim - k, x.ndim))
    m = x.mean(axes, keepdims=True)
    v = x.var(axes, keepdims=True)
    y = (x - m) / np.sqrt(v + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def _bn_ref(x, w, b, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    m = x.mean(axes, keepdims=True)
    v = x.var(axes, keepdims=True)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - m) / np.sqrt(v + eps) * w.reshape(shape) + b.reshape(shape)


def _gn_ref(x, g, w, b, eps=1e-5):
    n, c = x.shape[:2]
    r = x.reshape(n, g, -1)
    y = ((r - r.mean(2, keepdims=True)) / np.sqrt(r.var(2, keepdims=True) + eps)).reshape(x.shape)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return y * w.reshape(shape) + b.reshape(shape)


def T(a, rg=True):
    return torch.tensor(a, requires_grad=rg)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm_values(dtype):
    x = (RNG.standard_normal((3, 4, 5)) * 3 + 2).astype(dtype)
    w, b = RNG.standard_normal(5).astype(dtype), RNG.standard_normal(5).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    y = F.layer_norm(torch.tensor(x), (5,), torch.tensor(w), torch.tensor(b))
    assert y.dtype == torch.tensor(x).dtype
    np.testing.assert_allclose(y.numpy(), _ln_ref(x.astype(np.float64), 1, w, b), atol=tol * 10)
    y2 = F.layer_norm(torch.tensor(x), (4, 5), eps=1e-3)
    np.testing.assert_allclose(
        y2.numpy(), _ln_ref(x.astype(np.float64), 2, eps=1e-3), atol=tol * 10
    )


def test_layer_norm_large_uses_chunks_and_threads_with_same_result():
    x = RNG.standard_normal((2048, 96)).astype(np.float32) * 5 + 3  # 196608 elements
    w = RNG.standard_normal(96).astype(np.float32)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y = F.layer_norm(xt, (96,), wt)
    np.testing.assert_allclose(y.detach().numpy(), _ln_ref(x.astype(np.float64), 1, w), atol=2e-5)
    g = RNG.standard_normal(x.shape).astype(np.float32)
    y.backward(torch.tensor(g))
    # the same gradient computed on a few rows at a time
    xs = torch.tensor(x[:7], requires_grad=True)
    ws = torch.tensor(w, requires_grad=True)
    F.layer_norm(xs, (96,), ws).backward(torch.tensor(g[:7]))
    np.testing.assert_allclose(xt.grad.numpy()[:7], xs.grad.numpy(), rtol=1e-5, atol=1e-6)
    gw = (g * _ln_ref(x.astype(np.float64), 1)).sum(0)
    np.testing.assert_allclose(wt.grad.numpy(), gw, rtol=1e-4, atol=1e-3)


def test_layer_norm_gradient_matches_closed_form():
    x = RNG.standard_normal((4, 6))
    g = RNG.standard_normal((4, 6))
    w = RNG.standard_normal(6)
    xt, wt, bt = T(x), T(w), T(RNG.standard_normal(6))
    F.layer_norm(xt, (6,), wt, bt).backward(torch.tensor(g))
    xh = _ln_ref(x, 1)
    rstd = 1 / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    gxh = g * w
    gx = rstd * (gxh - gxh.mean(1, keepdims=True) - xh * (gxh * xh).mean(1, keepdims=True))
    np.testing.assert_allclose(xt.grad.numpy(), gx, atol=1e-12)
    np.testing.assert_allclose(wt.grad.numpy(), (g * xh).sum(0), atol=1e-12)
    np.testing.assert_allclose(bt.grad.numpy(), g.sum(0), atol=1e-12)


CASES = [
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (5,), w, b), "w5"),
    ("layer_norm_noaffine", lambda x: F.layer_norm(x, (4, 5)), None),
    ("layer_norm_weight_only", lambda x, w: F.layer_norm(x, (5,), w), "w5"),
    ("rms_norm", lambda x, w: F.rms_norm(x, (5,), w), "w5"),
    ("rms_norm_noaffine", lambda x: F.rms_norm(x, (4, 5)), None),
    ("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), "w4"),
    ("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), "w4"),
    (
        "batch_norm_eval",
        lambda x, w, b: F.batch_norm(x, torch.zeros(4) + 0.3, torch.ones(4) * 2, w, b),
        "w4",
    ),
    ("instance_norm", lambda x, w, b: F.instance_norm(x, weight=w, bias=b), "w4"),
    ("local_response_norm", lambda x: F.local_response_norm(x, 3, alpha=0.5, k=2.0), None),
    ("normalize", lambda x: F.normalize(x, dim=1), None),
    ("normalize_p1", lambda x: F.normalize(x, p=1, dim=2), None),
]


@pytest.mark.parametrize("name,fn,params", CASES, ids=[c[0] for c in CASES])
def test_gradcheck_and_gradgradcheck(name, fn, params):
    x = T(RNG.standard_normal((3, 4, 5)))
    args = [x]
    if params == "w5":
        args += [T(RNG.standard_normal(5)), T(RNG.standard_normal(5))]
    elif params == "w4":
        args += [T(RNG.standard_normal(4)), T(RNG.standard_normal(4))]
    import inspect

    args = args[: len(inspect.signature(fn).parameters)]
    assert gradcheck(fn, tuple(args))
    assert gradgradcheck(fn, tuple(args))


def test_rms_norm_and_group_norm_values():
    x = RNG.standard_normal((2, 6, 3))
    w = RNG.standard_normal(3)
    y = F.rms_norm(torch.tensor(x), (3,), torch.tensor(w), eps=1e-4).numpy()
    np.testing.assert_allclose(y, x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-4) * w)
    y = F.rms_norm(torch.tensor(x.astype(np.float32)), (3,)).numpy()
    eps = np.finfo(np.float32).eps  # eps=None: the dtype's machine epsilon
    np.testing.assert_allclose(y, x / np.sqrt((x * x).mean(-1, keepdims=True) + eps), rtol=1e-5)
    w6, b6 = RNG.standard_normal(6), RNG.standard_normal(6)
    y = F.group_norm(torch.tensor(x), 3, torch.tensor(w6), torch.tensor(b6)).numpy()
    np.testing.assert_allclose(y, _gn_ref(x, 3, w6, b6), atol=1e-12)


def test_batch_norm_functional_training_and_running_stats():
    x = RNG.standard_normal((8, 3, 4)) * 2 + 1
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    y = F.batch_norm(torch.tensor(x), rm, rv, torch.tensor(w), torch.tensor(b), True, 0.3)
    np.testing.assert_allclose(y.numpy(), _bn_ref(x, w, b), atol=1e-12)
    mean = x.mean((0, 2))
    var_unbiased = x.var((0, 2), ddof=1)
    np.testing.assert_allclose(rm.numpy(), 0.3 * mean, atol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.7 + 0.3 * var_unbiased, atol=1e-12)
    # evaluation uses the running statistics
    y = F.batch_norm(torch.tensor(x), rm, rv, torch.tensor(w), torch.tensor(b), False)
    ref = (x - rm.numpy()[None, :, None]) / np.sqrt(rv.numpy()[None, :, None] + 1e-5)
    np.testing.assert_allclose(y.numpy(), ref * w[None, :, None] + b[None, :, None], atol=1e-12)


def test_batchnorm_module_momentum_and_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [RNG.standard_normal((5, 2)) * (i + 1) + i for i in range(4)]
    for i, xb in enumerate(batches):
        bn(torch.tensor(xb, dtype=torch.float32))
        assert bn.num_batches_tracked.item() == i + 1
    # momentum=None: the running stats are the plain averages of the batch statistics
    np.testing.assert_allclose(
        bn.running_mean.numpy(), np.mean([b.mean(0) for b in batches], 0), rtol=1e-5
    )
    np.testing.assert_allclose(
        bn.running_var.numpy(), np.mean([b.var(0, ddof=1) for b in batches], 0), rtol=1e-5
    )
    bn2 = nn.BatchNorm1d(2, momentum=0.5)
    rm = np.zeros(2)
    for xb in batches:
        bn2(torch.tensor(xb, dtype=torch.float32))
        rm = 0.5 * rm + 0.5 * xb.mean(0)
    np.testing.assert_allclose(bn2.running_mean.numpy(), rm, rtol=1e-5)
    bn2.eval()
    y = bn2(torch.tensor(batches[0], dtype=torch.float32))
    ref = (batches[0] - rm) / np.sqrt(bn2.running_var.numpy() + 1e-5)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-5, atol=1e-5)
    assert bn2.num_batches_tracked.item() == 4  # evaluation does not count


def test_batchnorm_without_running_stats_and_affine():
    bn = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    assert bn.weight is None and bn.running_mean is None and list(bn.state_dict()) == []
    x = RNG.standard_normal((2, 3, 2, 2))
    bn.eval()  # no running stats: batch statistics even in evaluation
    np.testing.assert_allclose(
        bn(torch.tensor(x)).numpy(), _bn_ref(x, np.ones(3), np.zeros(3)), atol=1e-6
    )
    bn = nn.BatchNorm1d(3)
    assert list(bn.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert bn.num_batches_tracked.dtype == torch.int64
    assert repr(bn) == (
        "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    )


def test_batchnorm_loads_old_state_dict_without_num_batches_tracked():
    bn = nn.BatchNorm1d(2)
    state = {
        "weight": torch.ones(2) * 2,
        "bias": torch.zeros(2),
        "running_mean": torch.ones(2),
        "running_var": torch.ones(2),
    }
    from collections import OrderedDict

    od = OrderedDict(state)
    od._metadata = {"": {"version": 1}}
    bn.load_state_dict(od)
    np.testing.assert_allclose(bn.weight.detach().numpy(), [2, 2])
    assert bn.num_batches_tracked.item() == 0


def test_batchnorm_reset_and_input_checks():
    bn = nn.BatchNorm2d(2)
    bn(torch.randn(3, 2, 2, 2))
    bn.reset_running_stats()
    np.testing.assert_array_equal(bn.running_mean.numpy(), 0)
    np.testing.assert_array_equal(bn.running_var.numpy(), 1)
    assert bn.num_batches_tracked.item() == 0
    with pytest.raises(ValueError, match="expected 4D input \\(got 3D input\\)"):
        bn(torch.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(2)(torch.zeros(2, 2, 2, 2))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(2)(torch.zeros(1, 2))
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 2"):
        F.batch_norm(torch.zeros(2, 3), torch.zeros(2), torch.ones(2))


def test_instance_norm_modules():
    x = RNG.standard_normal((2, 3, 6))
    m = nn.InstanceNorm1d(3)
    assert list(m.state_dict()) == []
    r = (x - x.mean(2, keepdims=True)) / np.sqrt(x.var(2, keepdims=True) + 1e-5)
    np.testing.assert_allclose(m(torch.tensor(x)).numpy(), r, atol=1e-12)
    np.testing.assert_allclose(m(torch.tensor(x[0])).numpy(), r[0], atol=1e-12)  # unbatched
    m = nn.InstanceNorm1d(3, affine=True, track_running_stats=True, momentum=0.5)
    m(torch.tensor(x, dtype=torch.float32))
    np.testing.assert_allclose(m.running_mean.numpy(), 0.5 * x.mean(2).mean(0), rtol=1e-5)
    np.testing.assert_allclose(
        m.running_var.numpy(), 0.5 + 0.5 * x.var(2, ddof=1).mean(0), rtol=1e-5
    )
    m.eval()  # tracked stats are used in evaluation
    y = m(torch.tensor(x, dtype=torch.float32)).detach().numpy()
    rm, rv = m.running_mean.numpy(), m.running_var.numpy()
    np.testing.assert_allclose(
        y, (x - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5), rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match="expected input's size at dim=1 to match num_features"):
        nn.InstanceNorm1d(4, affine=True)(torch.zeros(2, 3, 5))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element"):
        F.instance_norm(torch.zeros(2, 3, 1))
    assert nn.InstanceNorm2d(3)(torch.randn(2, 3, 4, 4)).shape == (2, 3, 4, 4)
    assert nn.InstanceNorm3d(3)(torch.randn(3, 2, 2, 2)).shape == (3, 2, 2, 2)


def test_layer_group_rms_modules():
    ln = nn.LayerNorm(4)
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(ln.weight.detach().numpy(), 1)
    np.testing.assert_array_equal(ln.bias.detach().numpy(), 0)
    assert repr(ln) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert nn.LayerNorm(4, bias=False).bias is None
    assert nn.LayerNorm((2, 3), elementwise_affine=False).weight is None
    gn = nn.GroupNorm(2, 4)
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(3, 4)
    rms = nn.RMSNorm([3])
    assert repr(rms) == "RMSNorm((3,), eps=None, elementwise_affine=True)"
    x = RNG.standard_normal((2, 4))
    np.testing.assert_allclose(
        ln(torch.tensor(x, dtype=torch.float32)).detach().numpy(), _ln_ref(x, 1), atol=1e-5
    )
    lrn = nn.LocalResponseNorm(2)
    assert repr(lrn) == "LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)"


def test_local_response_norm_formula():
    x = RNG.standard_normal((2, 5, 3))
    size, alpha, beta, k = 3, 0.4, 0.6, 1.5
    y = F.local_response_norm(torch.tensor(x), size, alpha, beta, k).numpy()
    sq = np.pad(x * x, ((0, 0), (size // 2, (size - 1) // 2), (0, 0)))
    div = np.stack([sq[:, c : c + size].sum(1) for c in range(5)], 1) * alpha / size + k
    np.testing.assert_allclose(y, x / div**beta, atol=1e-12)
    with pytest.raises(ValueError, match="Expected 3D or higher dimensionality"):
        F.local_response_norm(torch.zeros(3), 2)


def test_half_precision_norms_keep_dtype():
    x = torch.tensor(RNG.standard_normal((4, 8)), dtype=torch.bfloat16, requires_grad=True)
    for fn in (
        lambda a: F.layer_norm(a, (8,)),
        lambda a: F.rms_norm(a, (8,)),
        lambda a: F.group_norm(a, 2),
        lambda a: F.batch_norm(a, None, None, training=True),
    ):
        y = fn(x)
        assert y.dtype == torch.bfloat16
        ref = fn(x.detach().float())
        np.testing.assert_allclose(y.float().detach().numpy(), ref.numpy(), atol=0.05)
        y.float().sum().backward()
        assert x.grad.dtype == torch.bfloat16
        x.grad = None


def test_errors():
    with pytest.raises(RuntimeError, match="Given normalized_shape=\\[10\\], expected input"):
        F.layer_norm(torch.zeros(2, 5), (10,))
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape"):
        F.layer_norm(torch.zeros(2, 5), (5,), torch.ones(4))
    with pytest.raises(TypeError, match="must be tuple of ints, not int"):
        F.layer_norm(torch.zeros(2, 5), 5)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(torch.zeros(2, 6, 3), 4)
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        F.batch_norm(torch.zeros(2, 3), None, None)


def test_normalize_eps_and_out():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(F.normalize(x).numpy(), [[0, 0], [0.6, 0.8]])
    out = torch.empty(2, 2)
    F.normalize(x, out=out)
    np.testing.assert_allclose(out.numpy(), [[0, 0], [0.6, 0.8]])


@pytest.mark.parametrize("shape", [(3, 4, 20), (2, 4, 4, 5)])
def test_batch_norm_long_rows_path(shape):
    # rows of at least 16 elements take the chunked (N * C, L) row path
    x = RNG.standard_normal(shape) * 2 + 1
    w, b = RNG.standard_normal(4), RNG.standard_normal(4)
    xt, wt, bt = T(x), T(w), T(b)
    y = F.batch_norm(xt, None, None, wt, bt, training=True)
    np.testing.assert_allclose(y.detach().numpy(), _bn_ref(x, w, b), atol=1e-12)
    g = RNG.standard_normal(shape)
    y.backward(torch.tensor(g))
    axes = (0,) + tuple(range(2, x.ndim))
    cshape = (1, -1) + (1,) * (x.ndim - 2)
    xh = _bn_ref(x, np.ones(4), np.zeros(4))
    rstd = 1 / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    gxh = g * w.reshape(cshape)
    gx = rstd * (gxh - gxh.mean(axes, keepdims=True) - xh * (gxh * xh).mean(axes, keepdims=True))
    np.testing.assert_allclose(xt.grad.numpy(), gx, atol=1e-12)
    np.testing.assert_allclose(wt.grad.numpy(), (g * xh).sum(axes), atol=1e-12)
    np.testing.assert_allclose(bt.grad.numpy(), g.sum(axes), atol=1e-12)
    rm, rv = RNG.standard_normal(4), RNG.uniform(0.5, 2, 4)
    fn = lambda a, c, d: F.batch_norm(a, torch.tensor(rm), torch.tensor(rv), c, d)  # noqa: E731
    ref = (x - rm.reshape(cshape)) / np.sqrt(rv.reshape(cshape) + 1e-5) * w.reshape(
        cshape
    ) + b.reshape(cshape)
    np.testing.assert_allclose(fn(T(x), T(w), T(b)).detach().numpy(), ref, atol=1e-12)
    small = tuple(s if i < 2 else 1 for i, s in enumerate(shape))[:2] + (17,)
    args = (T(RNG.standard_normal(small)), T(w), T(b))
    for f in (fn, lambda a, c, d: F.batch_norm(a, None, None, c, d, training=True)):
        assert gradcheck(f, args) and gradgradcheck(f, args)
