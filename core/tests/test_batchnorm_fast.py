"""batch_norm's training-mode CPU kernels (``_ops/_batchnorm_cpu.py``) against float64 NumPy.

They take a one-pass route (``sum(x)``, ``sum(x * x)``, uncentred backward sums) while a
channel's ``|mean| / std`` is small and the exact centred one otherwise; both must keep
float32 results as accurate as a centred float32 computation, whatever the thread count.
Each numeric test runs twice: with the compiled passes (``_native/norm.c``, checked to run)
and with the NumPy ones.
"""

import warnings

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core._ops import _batchnorm_cpu, _norm_native
from tocha.core.autograd import gradcheck, gradgradcheck

EPS = 1e-5


def _ref(x, w, b, g):
    """Forward output, batch var, and the gradients of ``sum(y * g)`` in float64."""
    x, g = x.astype(np.float64), g.astype(np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    cs = (1, -1) + (1,) * (x.ndim - 2)
    m = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    r = 1 / np.sqrt(var + EPS)
    xh = (x - m) * r
    y = xh * w.reshape(cs) + b.reshape(cs)
    gxh = g * w.reshape(cs)
    gx = r * (gxh - gxh.mean(axes, keepdims=True) - xh * (gxh * xh).mean(axes, keepdims=True))
    return y, var.reshape(-1), gx, (g * xh).sum(axes), g.sum(axes)


@pytest.fixture(params=["compiled", "numpy"])
def path(request, monkeypatch):
    """The compiled passes (their calls counted: the test fails if none ran) or NumPy's."""
    if request.param == "numpy":
        monkeypatch.setattr(_norm_native, "batch_norm_kernels", lambda dt: None)
        yield request.param
        return
    real = _norm_native.batch_norm_kernels
    if real(np.dtype(np.float32)) is None:
        pytest.skip("the native batch norm kernels could not be built here")
    calls = [0]

    def counted(dt):
        kernels = real(dt)
        if kernels is None:
            return None

        def wrap(fn):
            def run(*a):
                calls[0] += 1
                return fn(*a)

            return run

        return tuple(wrap(fn) for fn in kernels)

    monkeypatch.setattr(_norm_native, "batch_norm_kernels", counted)
    yield request.param
    assert calls[0] > 0


@pytest.fixture
def numpy_path(monkeypatch):
    """The NumPy passes only (tests of their walk over the data)."""
    monkeypatch.setattr(_norm_native, "batch_norm_kernels", lambda dt: None)


def _run(x, w, b, g, threads=1):
    """Output and gradients through ``F.batch_norm``, and the kernel's batch variance."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        bt = torch.tensor(b, requires_grad=True)
        y = F.batch_norm(xt, None, None, wt, bt, training=True)
        y.backward(torch.tensor(g))
        var = _batchnorm_cpu.forward(x.reshape(x.shape[0], x.shape[1], -1), w, b, EPS)[2]
        return y.detach().numpy(), var, xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()
    finally:
        torch.set_num_threads(old)


# ResNet's short rows, rows of ~1000, images wider than one block, 3-D, and images too large
# for expanded per-channel constants (walked with per-row constants)
SHAPES = [(8, 32, 4, 4), (4, 16, 32, 32), (2, 40, 1000), (2, 300, 250), (3, 8, 5, 5, 5),
          (2, 8, 100, 100)]  # fmt: skip


def test_the_shapes_cover_every_walk(numpy_path):
    plans = [_batchnorm_cpu._Plan(s[0], s[1], int(np.prod(s[2:])), np.dtype(np.float32))
             for s in SHAPES]  # fmt: skip
    assert any(p.rowwise for p in plans)
    expanded = [p for p in plans if not p.rowwise]
    assert any(all(r1 - r0 >= p.c for r0, r1 in p.blocks) for p in expanded)  # whole images
    assert any(all(r1 - r0 < p.c for r0, r1 in p.blocks) for p in expanded)  # within one


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("offset", [0.5, 3.0, 100.0])  # |mean| / std: one-pass, near, centred
def test_float32_matches_float64_reference(shape, offset, path):
    rng = np.random.default_rng(sum(shape))
    c = shape[1]
    # channels with different means and spreads; offset sets the largest |mean| / std
    spread = rng.uniform(0.5, 2.0, c).reshape((1, c) + (1,) * (len(shape) - 2))
    x = (rng.standard_normal(shape) + offset) * spread
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    g = rng.standard_normal(shape)
    y, var, gx, gw, gb = (a.astype(np.float64) for a in _run(*(
        a.astype(np.float32) for a in (x, w, b, g))))  # fmt: skip
    ry, rvar, rgx, rgw, rgb = _ref(x.astype(np.float32), w.astype(np.float32),
                                   b.astype(np.float32), g.astype(np.float32))  # fmt: skip
    # errors against each quantity's scale. float32 rounds at 6e-8; torch's own float32
    # batch_norm lands within ~2e-7 here, and within ~4e-6 at offset 100, where
    # y = x * alpha + beta (torch's form) cancels and the float32 mean shifts g * (x - mean).
    # A one-pass variance would be off by ~1e-6 at offset 3 and ~1e-3 at offset 100.
    tol = 5e-7 * (1 + offset / 4)
    assert np.abs(y - ry).max() / np.abs(ry).max() < tol
    np.testing.assert_allclose(var, rvar, rtol=5e-7)
    assert np.abs(gx - rgx).max() / np.abs(rgx).max() < tol
    assert np.abs(gw - rgw).max() / np.abs(rgw).max() < 2 * tol
    np.testing.assert_allclose(gb, rgb, rtol=1e-6, atol=1e-6 * np.abs(rgb).max())


def test_both_layouts_of_the_constants_agree(numpy_path):
    # the same input walked with expanded and with per-row constants: the same bits
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((4, 6, 300)) + 1.0).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w, b = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    res = []
    for nbytes in (1 << 40, 0):
        old = _batchnorm_cpu._EXPAND_BYTES
        _batchnorm_cpu._EXPAND_BYTES = nbytes
        try:
            assert _batchnorm_cpu._Plan(4, 6, 300, x.dtype).rowwise == (nbytes == 0)
            out, mean, var, rstd = _batchnorm_cpu.forward(x, w, b, EPS)
            res.append((out, mean, var, *_batchnorm_cpu.backward(x, g, mean, rstd, w, 1200, True)))
        finally:
            _batchnorm_cpu._EXPAND_BYTES = old
    for a, b_ in zip(*res):
        np.testing.assert_array_equal(a, b_)


def test_float64_input(path):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 5, 6, 6)) * 3 + 2
    w, b = rng.standard_normal(5), rng.standard_normal(5)
    g = rng.standard_normal(x.shape)
    got = _run(x, w, b, g)
    for a, r in zip(got, _ref(x, w, b, g)):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12 * np.abs(r).max())


def test_first_image_far_from_the_batch(path):
    # the forward shifts by the first image's channel means; far from the batch's, the
    # statistics are recomputed about the batch mean (a one-pass variance about that shift
    # would be off by ~1e-4 here)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((16, 8, 6, 6))
    x[0] += 200.0
    w, b = rng.standard_normal(8), rng.standard_normal(8)
    g = rng.standard_normal(x.shape)
    y, var, gx, _, _ = (a.astype(np.float64) for a in _run(*(
        a.astype(np.float32) for a in (x, w, b, g))))  # fmt: skip
    ry, rvar, rgx, _, _ = _ref(x.astype(np.float32), w, b, g.astype(np.float32))
    np.testing.assert_allclose(var, rvar, rtol=5e-7)
    assert np.abs(y - ry).max() / np.abs(ry).max() < 2e-6
    assert np.abs(gx - rgx).max() / np.abs(rgx).max() < 2e-6


@pytest.mark.parametrize(
    "shape,offset",
    [((8, 64, 64, 64), 0.5), ((8, 64, 64, 64), 100.0),
     # blocks of 2097 and 103 rows: a thread may start on a short one
     ((4, 2200, 250), 0.5)],
)  # fmt: skip
def test_two_threads_give_the_same_bits(shape, offset, path):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(shape) + offset).astype(np.float32)
    c = shape[1]
    w, b = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:  # large enough for the threaded walk
        plan = _batchnorm_cpu._Plan(shape[0], c, x.size // (shape[0] * c), x.dtype)
        assert plan.threaded
    finally:
        torch.set_num_threads(old)
    one, two = _run(x, w, b, g, threads=1), _run(x, w, b, g, threads=2)
    for a1, a2 in zip(one, two):
        np.testing.assert_array_equal(a1, a2)


def test_constant_channel_and_no_affine(path):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    x[:, 1] = 7.0  # zero variance: rstd = 1 / sqrt(eps)
    g = rng.standard_normal(x.shape).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.batch_norm(xt, None, None, training=True)
        y.backward(torch.tensor(g))
    yn = y.detach().numpy()
    ry, _, rgx, _, _ = _ref(x, np.ones(3), np.zeros(3), g)
    # x * alpha + beta with alpha = 316: zero up to the rounding of 7 * 316 (as in torch)
    np.testing.assert_allclose(yn[:, 1], 0.0, atol=3e-4)
    np.testing.assert_allclose(yn[:, [0, 2]], ry[:, [0, 2]], atol=2e-6)
    np.testing.assert_allclose(xt.grad.numpy(), rgx, rtol=1e-5, atol=1e-5 * np.abs(rgx).max())


def test_only_parameter_gradients(path):
    # x needs no gradient: the backward computes the two sums only
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 6, 8, 8)) + 2.0
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    g = rng.standard_normal(x.shape)
    wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    F.batch_norm(torch.tensor(x), None, None, wt, bt, training=True).backward(torch.tensor(g))
    _, _, _, rgw, rgb = _ref(x, w, b, g)
    np.testing.assert_allclose(wt.grad.numpy(), rgw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bt.grad.numpy(), rgb, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("compiled", [True, False])
def test_kernel_empty_batch(compiled, monkeypatch):
    # no rows: nothing for either path's passes to run
    if not compiled:
        monkeypatch.setattr(_norm_native, "batch_norm_kernels", lambda dt: None)
    x = np.zeros((0, 3, 16), dtype=np.float32)
    with np.errstate(all="ignore"):
        out, mean, var, rstd = _batchnorm_cpu.forward(x, None, None, EPS)
        gx, sg, sgx = _batchnorm_cpu.backward(x, x, mean, rstd, None, 0, True)
    assert out.shape == x.shape and gx.shape == x.shape
    np.testing.assert_array_equal(sg, 0.0)


@pytest.mark.parametrize("offset", [0.0, 30.0])
def test_gradcheck_and_gradgradcheck_on_the_row_path(offset):
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.standard_normal((2, 3, 4, 4)) + offset, requires_grad=True)  # L=16
    w = torch.tensor(rng.standard_normal(3), requires_grad=True)
    b = torch.tensor(rng.standard_normal(3), requires_grad=True)

    def fn(a, c, d):
        return F.batch_norm(a, None, None, c, d, training=True)

    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))
