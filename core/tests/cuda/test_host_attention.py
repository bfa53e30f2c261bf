"""attention.cu run on the host (host_kernels.py): the flash forward, its log-sum-exp, the
probabilities backward rebuilds from it, and scaled_dot_product_attention's dispatch to it,
all against float64 NumPy."""

from __future__ import annotations

import sys

import ml_dtypes
import numpy as np
import pytest

from tocha.core.cuda import _attention as A
from tocha.core.cuda import _kernels as K

from .host_kernels import DeviceArray

BF16 = np.dtype(ml_dtypes.bfloat16)
# (output rtol/atol, lse atol): the output is rounded to the input dtype, lse is float32
TOL = {
    np.dtype(np.float32): (2e-5, 1e-5),
    np.dtype(np.float16): (2e-3, 2e-5),
    BF16: (1.6e-2, 2e-5),
}
DTYPES = [np.float32, np.float16, BF16]


def _ref(q, k, v, scale, causal):
    """out, lse and P of softmax(q k^T * scale) v in float64 (top-left causal mask)."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    s = q @ np.swapaxes(k, -1, -2) * scale
    if causal:
        s = s + np.triu(np.full(s.shape[-2:], -np.inf), 1)
    m = s.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(s - m).sum(axis=-1, keepdims=True)) + m
    p = np.exp(s - lse)
    return p @ v, lse[..., 0], p


def _inputs(rng, batch, n_q, n_k, e, ev, dtype):
    """q, k, v as float64 arrays already rounded to ``dtype`` (the reference sees exactly the
    values the kernel reads)."""
    shapes = (batch + (n_q, e), batch + (n_k, e), batch + (n_k, ev))
    return [rng.standard_normal(s).astype(dtype).astype(np.float64) for s in shapes]


@pytest.fixture
def guarded(host_cuda, monkeypatch):
    """The fake ``cupy.empty`` hands out NaN-filled views at the head of larger buffers whose
    tails are NaN too: an element the kernel fails to write stays NaN, and a write past the
    end shows in the tail (checked by ``guarded.check()``)."""
    cp = sys.modules["cupy"]
    real = cp.empty
    made = []

    def empty(shape, dtype=float, **kw):
        shape = tuple(shape) if not isinstance(shape, int) else (shape,)
        dt = np.dtype(dtype)
        n = int(np.prod(shape, dtype=np.int64))
        if dt.kind not in "fV":  # floats and bfloat16 (kind V)
            return real(shape, dtype=dt, **kw)
        buf = np.full(n + 64, np.nan, dtype=dt)
        made.append((buf, n))
        return buf[:n].reshape(shape).view(DeviceArray)

    def check():
        for buf, n in made:
            assert np.isnan(buf[n:].astype(np.float32)).all(), "kernel wrote past its output"

    monkeypatch.setattr(cp, "empty", empty)
    host_cuda.check = check
    return host_cuda


def _run(h, q, k, v, dtype, scale, causal):
    out, lse = A.forward(h.array(q, dtype), h.array(k, dtype), h.array(v, dtype), scale, causal)
    assert h.launched == [f"attn_fwd_{K.dtype_suffix(dtype)}"]
    return out, lse


# (batch, L, S, E, Ev): tiles are BQ = 16 query rows and BK = 32 keys; head dims up to 128
SHAPES = [
    ((), 1, 1, 16, 16),  # a single row and key, no batch dims
    ((2, 3), 17, 45, 16, 24),  # ragged query and key tails, batch*heads = 6
    ((3,), 33, 20, 64, 64),  # L > S: causal rows past S see every key
    ((1,), 5, 70, 80, 80),  # three key tiles, the last ragged; E not a multiple of 32
    ((2,), 16, 32, 128, 128),  # exact tiles at the largest head dim
    ((1, 1), 20, 33, 128, 40),  # E = 128 with a short Ev (lanes past Ev idle)
    ((2,), 3, 9, 1, 128),  # E = 1 and the widest Ev
    ((1,), 50, 47, 32, 16),  # causal rows 32..49 mask inside the second key tile
]


# every shape in float32; the half types (only the loads and the store differ) on four of them
CASES = [(s, np.float32) for s in SHAPES] + [
    (SHAPES[i], dt) for i in (1, 3, 5, 7) for dt in (np.float16, BF16)
]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(
    "batch,n_q,n_k,e,ev,dtype",
    [(*s, dt) for s, dt in CASES],
    ids=[f"{s[1]}x{s[2]}x{s[3]}x{s[4]}-{K.dtype_suffix(dt)}" for s, dt in CASES],
)
def test_forward_and_lse_match_numpy(guarded, batch, n_q, n_k, e, ev, dtype, causal):
    rng = np.random.default_rng(n_q * 1000 + n_k * 10 + e)
    q, k, v = _inputs(rng, batch, n_q, n_k, e, ev, dtype)
    scale = 1.0 / np.sqrt(e)
    out, lse = _run(guarded, q, k, v, dtype, scale, causal)
    guarded.check()
    assert out.shape == batch + (n_q, ev) and out.dtype == np.dtype(dtype)
    assert lse.shape == batch + (n_q,) and lse.dtype == np.float32
    want, want_lse, _ = _ref(q, k, v, np.float32(scale), causal)
    rtol, lse_atol = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(out.astype(np.float64), want, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(lse, want_lse, rtol=1e-5, atol=lse_atol)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("rising", [False, True])
def test_online_softmax_rescales_across_key_tiles(guarded, causal, rising):
    """Scores of a few hundred (exp overflows float32 unshifted) whose row max moves to a
    later key tile (``rising``: each tile's max beats the last, so the running output and sum
    are rescaled) or sits in the first tile (later tiles add terms of ~exp(-100))."""
    rng = np.random.default_rng(7)
    n_q, n_k, e = 40, 100, 32
    q = rng.standard_normal((2, n_q, e)) * 0.1 + 1.0
    k = rng.standard_normal((2, n_k, e)) * 0.1
    ramp = np.linspace(0.0, 1.5, n_k) if rising else np.linspace(1.5, 0.0, n_k)
    k = k + 2.0 + ramp[:, None] + rng.uniform(0, 0.05, (2, n_k, 1))
    v = rng.standard_normal((2, n_k, 40))
    q, k, v = (a.astype(np.float32).astype(np.float64) for a in (q, k, v))
    out, lse = _run(guarded, q, k, v, np.float32, 2.0, causal)
    guarded.check()
    want, want_lse, p = _ref(q, k, v, np.float32(2.0), causal)
    assert want_lse[:, 20:].min() > 100  # past exp overflow: the online max is needed
    # the probability mass is spread over several keys, not one spike
    assert np.median(p.max(axis=-1)) < 0.9
    np.testing.assert_allclose(out, want, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(lse, want_lse, rtol=1e-6, atol=0)


def test_nan_query_row_gives_nan_not_zeros(host_cuda):
    """A NaN in a query row makes all its scores NaN: the row's output and lse are NaN (as
    in NumPy, torch and tocha's CPU path), not a silently empty row of zeros."""
    rng = np.random.default_rng(3)
    q, k, v = _inputs(rng, (1,), 20, 40, 16, 16, np.float32)
    q[0, 4, 2] = np.nan
    out, lse = _run(host_cuda, q, k, v, np.float32, 0.25, False)
    assert np.isnan(out[0, 4]).all() and np.isnan(lse[0, 4])
    ok = np.arange(20) != 4
    want, want_lse, _ = _ref(q[:, ok], k, v, np.float32(0.25), False)
    np.testing.assert_allclose(out[:, ok], want, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(lse[:, ok], want_lse, rtol=1e-5, atol=1e-5)


def test_strided_inputs_and_empty_batch(guarded):
    """Heads as a transposed view of (B, L, H, E) (multi-head attention's layout) are copied
    contiguous by the launcher; a batch with a zero dim launches one idle block."""
    rng = np.random.default_rng(11)
    qb, kb, vb = (rng.standard_normal((2, n, 3, 16)).astype(np.float32) for n in (19, 35, 35))
    q, k, v = (guarded.array(a).transpose(0, 2, 1, 3) for a in (qb, kb, vb))
    assert not q.flags.c_contiguous
    out, lse = A.forward(q, k, v, 0.3, True)
    want, want_lse, _ = _ref(*(a.transpose(0, 2, 1, 3) for a in (qb, kb, vb)), 0.3, True)
    np.testing.assert_allclose(out, want, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(lse, want_lse, rtol=1e-5, atol=1e-5)
    z = guarded.array(np.zeros((0, 2, 5, 16)), np.float32)
    out, lse = A.forward(z, z, z, 1.0, False)
    assert out.shape == (0, 2, 5, 16) and lse.shape == (0, 2, 5)
    assert guarded.launched == ["attn_fwd_f32"] * 2
    guarded.check()


def test_launch_geometry():
    # one block per (batch*head, 16-row query tile)
    assert A.grid(6, 17) == (12, 1)
    assert A.grid(1, 16) == (1, 1)
    assert A.grid(0, 5) == (1, 1)  # an empty launch is still a valid grid
    assert A.grid(2**27, 2**8) == (2**31 - 1, 2)  # past gridDim.x: the kernel reads y too


def test_eligible():
    f = np.zeros((2, 4, 8, 16), np.float32)
    assert A.eligible(f, f, f)
    assert A.eligible(f[0, 0], f[0, 0], f[0, 0])  # 2-D, no batch
    assert A.eligible(f.astype(np.float16), f.astype(np.float16), f.astype(BF16)) is False
    assert not A.eligible(f.astype(np.float64), f.astype(np.float64), f.astype(np.float64))
    assert not A.eligible(f.astype(np.int32), f.astype(np.int32), f.astype(np.int32))
    assert not A.eligible(f[:1], f, f)  # broadcast batch dims stay on the xp path
    assert not A.eligible(f, f[..., :8], f)  # E mismatch
    assert not A.eligible(f, f[:, :, :3], f)  # S of k and v differ
    big = np.zeros((1, 4, 129), np.float32)
    assert not A.eligible(big, big, f[0, :, :4])  # E > 128
    assert not A.eligible(f[0], f[0], np.zeros((4, 8, 129), np.float32))  # Ev > 128
    assert A.eligible(big[..., :128], big[..., :128], big[..., :128])
    assert not A.eligible(f[:, :, :0], f, f)  # L = 0
    assert not A.eligible(f, f[:, :, :0], f[:, :, :0])  # S = 0
    assert not A.eligible(f[0, 0, 0], f[0, 0, 0], f[0, 0, 0])  # 1-D


@pytest.mark.parametrize("causal", [False, True])
def test_probs_rebuilt_from_lse(host_cuda, causal):
    """The probabilities backward rebuilds from the kernel's lse are softmax(q k^T scale)."""
    rng = np.random.default_rng(5)
    q, k, v = _inputs(rng, (2,), 21, 37, 24, 8, np.float16)
    scale = 0.2
    qd, kd = host_cuda.array(q, np.float16), host_cuda.array(k, np.float16)
    _, lse = A.forward(qd, kd, host_cuda.array(v, np.float16), scale, causal)
    p = A.probs(sys.modules["cupy"], qd, kd, lse, scale, causal)
    assert p.dtype == np.float32 and p.shape == (2, 21, 37)
    _, _, want = _ref(q, k, v, np.float32(scale), causal)
    np.testing.assert_allclose(p, want, rtol=2e-5, atol=1e-6)
    if causal:
        above = np.triu(np.ones((21, 37), bool), 1)
        assert (p[:, above] == 0).all()


# --- scaled_dot_product_attention's dispatch (the Attention node) under the fake CuPy -------


@pytest.fixture
def on_device(host_cuda, monkeypatch):
    """Tensors on the fake device (``on_device.t(a, dtype, grad)``), with the two NumPy
    functions the node's xp fallback needs besides what the fake CuPy has, and a record of
    the calls to ``_attention.probs`` (backward rebuilding P from the kernel's lse)."""
    from tocha.core._tensor import wrap

    from .host_kernels import _device

    cp = sys.modules["cupy"]
    for name in ("isneginf", "reciprocal"):
        monkeypatch.setattr(
            cp, name, lambda *a, _f=getattr(np, name), **kw: _device(_f(*a, **kw)), raising=False
        )
    host_cuda.probs_calls = 0
    real = A.probs

    def probs(*a, **kw):
        host_cuda.probs_calls += 1
        return real(*a, **kw)

    monkeypatch.setattr(A, "probs", probs)

    def t(a, dtype=np.float32, grad=False):
        x = wrap(host_cuda.array(a, dtype))
        return x.requires_grad_(True) if grad else x

    host_cuda.t = t
    return host_cuda


def _ref_grads(q, k, v, g, scale, causal):
    """dq, dk, dv of sum(out * g) in float64."""
    _, _, p = _ref(q, k, v, scale, causal)
    dv = np.swapaxes(p, -1, -2) @ g
    dp = g @ np.swapaxes(v, -1, -2)
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    return ds @ k * scale, np.swapaxes(ds, -1, -2) @ q * scale, dv


GRAD_TOL = {np.dtype(np.float32): 5e-5, np.dtype(np.float16): 4e-3, BF16: 3e-2}


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f16", "bf16"])
def test_sdpa_runs_the_kernel_and_backward_uses_its_lse(on_device, dtype, causal):
    import tocha.core.nn.functional as F

    rng = np.random.default_rng(21)
    q, k, v = _inputs(rng, (2, 3), 19, 37, 24, 16, dtype)
    g = rng.standard_normal((2, 3, 19, 16)).astype(dtype).astype(np.float64)
    tq, tk, tv = (on_device.t(a, dtype, grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
    assert on_device.launched == [f"attn_fwd_{K.dtype_suffix(dtype)}"]
    assert isinstance(out._data, DeviceArray) and out._data.dtype == np.dtype(dtype)
    scale = np.float32(1 / np.sqrt(24))  # the default 1/sqrt(E)
    want, _, _ = _ref(q, k, v, scale, causal)
    tol = TOL[np.dtype(dtype)][0]
    np.testing.assert_allclose(out._data.astype(np.float64), want, rtol=tol, atol=tol)
    out.backward(on_device.t(g, dtype))
    assert on_device.probs_calls == 1  # P rebuilt from the lse, not recomputed by softmax
    tol = GRAD_TOL[np.dtype(dtype)]
    for t, w in zip((tq, tk, tv), _ref_grads(q, k, v, g, scale, causal), strict=True):
        assert isinstance(t.grad._data, DeviceArray) and t.grad._data.dtype == np.dtype(dtype)
        np.testing.assert_allclose(t.grad._data.astype(np.float64), w, rtol=tol, atol=tol)


def test_sdpa_double_backward_after_the_kernel(on_device):
    """create_graph: the node's graph backward (on a recomputed P) runs after the flash
    forward; first and second gradients match NumPy and tocha's CPU path."""
    import tocha.core as torch
    import tocha.core.nn.functional as F

    rng = np.random.default_rng(4)
    q, k, v = _inputs(rng, (2,), 9, 21, 8, 8, np.float32)
    g = rng.standard_normal((2, 9, 8))

    def run(make):
        tq, tk, tv = (make(a) for a in (q, k, v))
        out = F.scaled_dot_product_attention(tq, tk, tv, is_causal=True, scale=0.4)
        gq, gk = torch.autograd.grad(out, (tq, tk), make(g, False), create_graph=True)
        (gq * gq).sum().backward()
        return [np.asarray(a, np.float64) for a in (out._data, gq._data, gk._data, tv.grad._data)]

    dev = run(lambda a, grad=True: on_device.t(a, np.float32, grad))
    assert on_device.launched[0] == "attn_fwd_f32"
    want_q, want_k, _ = _ref_grads(q, k, v, g, np.float32(0.4), True)
    np.testing.assert_allclose(dev[1], want_q, rtol=5e-5, atol=5e-5)
    np.testing.assert_allclose(dev[2], want_k, rtol=5e-5, atol=5e-5)
    cpu = run(lambda a, grad=True: torch.tensor(a, dtype=torch.float32, requires_grad=grad))
    for d, c in zip(dev, cpu, strict=True):
        np.testing.assert_allclose(d, c, rtol=1e-4, atol=1e-5)


def test_multi_head_attention_lays_the_kernel_output_out_for_the_projection(on_device):
    """multi_head_attention_forward (no weights, no masks) takes the kernel and asks for its
    (B, H, L, hd) output laid out (L, B, H, hd): values and gradients equal the CPU path."""
    import tocha.core as torch
    import tocha.core.nn.functional as F

    rng = np.random.default_rng(9)
    e, heads = 32, 4
    x = rng.standard_normal((18, 2, e))
    w_in, b_in = rng.standard_normal((3 * e, e)) * 0.2, rng.standard_normal(3 * e) * 0.1
    w_out, b_out = rng.standard_normal((e, e)) * 0.2, rng.standard_normal(e) * 0.1

    def run(make):
        xs, wi = make(x, True), make(w_in, True)
        out, attn = F.multi_head_attention_forward(
            xs, xs, xs, e, heads, wi, make(b_in), None, None, False, 0.0,
            make(w_out), make(b_out), need_weights=False,
        )  # fmt: skip
        assert attn is None
        out.backward(make(np.cos(np.arange(out.numel())).reshape(out.shape)))
        return [np.asarray(a, np.float64) for a in (out._data, xs.grad._data, wi.grad._data)]

    dev = run(lambda a, grad=False: on_device.t(a, np.float32, grad))
    assert on_device.launched == ["attn_fwd_f32"] and on_device.probs_calls == 1
    cpu = run(lambda a, grad=False: torch.tensor(a, dtype=torch.float32, requires_grad=grad))
    for d, c in zip(dev, cpu, strict=True):
        np.testing.assert_allclose(d, c, rtol=1e-4, atol=1e-5)


def test_sdpa_keeps_the_xp_path_where_the_kernel_does_not_apply(on_device):
    """A mask, float64, broadcast batch dims and head dims past 128 run the node's xp path
    (on the fake CuPy): no launch, the same values."""
    import tocha.core.nn.functional as F

    rng = np.random.default_rng(2)
    q, k, v = _inputs(rng, (2,), 5, 7, 8, 8, np.float32)
    t = on_device.t
    mask = np.triu(np.full((5, 7), -np.inf), 3)
    out = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=t(mask))
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(8) + mask
    p = np.exp(s - s.max(-1, keepdims=True))
    np.testing.assert_allclose(out._data, p / p.sum(-1, keepdims=True) @ v, rtol=2e-5, atol=2e-6)
    want, _, _ = _ref(q, k, v, 1 / np.sqrt(8), True)
    out = F.scaled_dot_product_attention(*(t(a, np.float64) for a in (q, k, v)), is_causal=True)
    np.testing.assert_allclose(out._data, want, rtol=1e-12, atol=1e-12)
    out = F.scaled_dot_product_attention(t(q), t(k[:1]), t(v[:1]), is_causal=True)
    want, _, _ = _ref(q, k[:1], v[:1], 1 / np.sqrt(8), True)
    np.testing.assert_allclose(out._data, want, rtol=2e-5, atol=2e-6)
    wide = rng.standard_normal((1, 3, 130))
    out = F.scaled_dot_product_attention(t(wide), t(wide), t(wide))
    want, _, _ = _ref(wide, wide, wide, 1 / np.sqrt(130), False)
    np.testing.assert_allclose(out._data, want, rtol=2e-5, atol=2e-5)
    assert on_device.launched == []
