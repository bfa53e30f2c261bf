"""tocha's CUDA kernels for embeddings, scatter/segment reductions, fused optimizers and
attention: the pure-Python parts on the CPU, and every kernel against the xp (CPU) reference
on a GPU (``gpu``-marked: forward and backward, float32/float16/bfloat16, odd sizes,
non-contiguous and empty inputs, atomic and deterministic variants)."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core.cuda import _embedding as E
from tocha.core.cuda import _segment as S

# --- CPU: the parts that need no GPU --------------------------------------------------------


def test_sorted_runs_groups_equal_keys_in_index_order():
    order, starts, run_keys = S.sorted_runs(np, np.array([3, 1, 3, 0, 1, 3]))
    np.testing.assert_array_equal(order, [3, 1, 4, 0, 2, 5])
    np.testing.assert_array_equal(starts, [0, 1, 3, 6])
    np.testing.assert_array_equal(run_keys, [0, 1, 3])


def test_sorted_runs_of_nothing():
    order, starts, run_keys = S.sorted_runs(np, np.zeros(0, np.int64))
    assert order.shape == (0,) and run_keys.shape == (0,)
    np.testing.assert_array_equal(starts, [0])


def test_flat_targets_match_ravel_multi_index():
    rng = np.random.default_rng(0)
    shape = (4, 5, 6)
    out = np.zeros(shape)
    idx = rng.integers(0, 5, size=(3, 4, 6))
    coords = (np.arange(3)[:, None, None], idx, np.arange(6)[None, None, :])
    tgt = S.flat_targets(np, tuple(s // out.itemsize for s in out.strides), coords)
    want = np.ravel_multi_index(np.broadcast_arrays(*coords), shape).reshape(-1)
    np.testing.assert_array_equal(tgt, want)
    # through a transposed (F-ordered) buffer's strides: the offsets address its memory
    buf = np.arange(np.prod(shape), dtype=np.float64).reshape(shape[::-1])
    t = buf.T
    tgt_t = S.flat_targets(np, tuple(s // t.itemsize for s in t.strides), coords)
    np.testing.assert_array_equal(
        buf.reshape(-1)[tgt_t], t[np.broadcast_arrays(*coords)].reshape(-1)
    )


@pytest.mark.parametrize(
    "name,code",
    [("add", 0), ("sum", 0), ("maximum", 1), ("amax", 1), ("minimum", 2), ("amin", 2)],
)
def test_op_codes(name, code):
    assert S.op_code(name) == code


def test_op_code_prod_and_errors():
    assert S.op_code("multiply") == 3
    with pytest.raises(ValueError, match="no reduction 'mean'"):
        S.op_code("mean")
    with pytest.raises(ValueError, match="no reduction 'prod'"):
        S.op_code("prod", allow_prod=False)


def test_accumulation_dtype_and_supported_dtypes():
    import ml_dtypes

    assert S.acc_dtype(np.float64) == np.float64
    for dt in (np.float32, np.float16, ml_dtypes.bfloat16):
        assert S.acc_dtype(dt) == np.float32
        assert S.supported(dt) and E.supported(dt)
    assert not S.supported(np.int64) and not E.supported(np.bool_)


def test_deterministic_follows_the_switch():
    try:
        torch.use_deterministic_algorithms(True)
        assert S.deterministic()
        torch.use_deterministic_algorithms(False)
        assert not S.deterministic()
    finally:
        torch.use_deterministic_algorithms(False)


def test_bag_offsets_from_segments_and_starts():
    seg = np.array([0, 0, 2, 2, 2, 4])  # bags 1 and 3 empty
    np.testing.assert_array_equal(E.offsets_from_seg(np, seg, 5), [0, 2, 2, 5, 5, 6])
    np.testing.assert_array_equal(E.offsets_from_seg(np, np.zeros(0, np.int64), 2), [0, 0, 0])
    np.testing.assert_array_equal(E.offsets_from_starts(np, np.array([0, 2, 2]), 7), [0, 2, 2, 7])


# --- GPU: each kernel against the CPU (xp) reference ------------------------------------------

FLOATS = ["float32", "float16", "bfloat16"]
TOL = {"float32": 1e-5, "float16": 2e-3, "bfloat16": 2e-2, "float64": 1e-12}


@pytest.fixture(params=[False, True], ids=["atomic", "deterministic"])
def det(request):
    torch.use_deterministic_algorithms(request.param)
    yield request.param
    torch.use_deterministic_algorithms(False)


def _close(a, b, dtype, scale=1.0):
    a = a.detach().cpu().to(torch.float64).numpy()
    b = b.detach().cpu().to(torch.float64).numpy()
    tol = TOL[dtype] * max(1.0, scale)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _pair(x, requires_grad=True):
    """The same leaf on the CPU and on the GPU."""
    c = x.detach().clone().requires_grad_(requires_grad)
    g = x.detach().to("cuda").requires_grad_(requires_grad)
    return c, g


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("d", [1, 31, 33, 1000, 4097])
def test_gpu_embedding_forward_backward(dtype, d, det):
    num = 50
    w = torch.randn(num, d).to(getattr(torch, dtype))
    idx = torch.randint(0, num, (7, 13))
    wc, wg = _pair(w)
    yc = F.embedding(idx, wc, padding_idx=3)
    yg = F.embedding(idx.to("cuda"), wg, padding_idx=3)
    _close(yg, yc, dtype)
    go = torch.randn(7, 13, d).to(getattr(torch, dtype))
    yc.backward(go)
    yg.backward(go.to("cuda"))
    _close(wg.grad, wc.grad, dtype, scale=8)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", FLOATS)
def test_gpu_embedding_scale_grad_by_freq_noncontiguous_and_empty(dtype, det):
    base = torch.randn(33, 40).to(getattr(torch, dtype))
    w = base[:, ::2]  # a strided weight
    idx = torch.tensor([1, 1, 5, 32, 1, 0])
    wc, wg = _pair(w)
    F.embedding(idx, wc, scale_grad_by_freq=True).sum().backward()
    F.embedding(idx.to("cuda"), wg, scale_grad_by_freq=True).sum().backward()
    _close(wg.grad, wc.grad, dtype)
    empty = F.embedding(torch.zeros(0, dtype=torch.int64).to("cuda"), wg)
    assert tuple(empty.shape) == (0, 20)


@pytest.mark.gpu
def test_gpu_embedding_backward_is_bitwise_repeatable_when_deterministic():
    torch.use_deterministic_algorithms(True)
    try:
        w = torch.randn(10, 257, device="cuda", requires_grad=True)
        idx = torch.randint(0, 10, (20000,), device="cuda")
        go = torch.randn(20000, 257, device="cuda")
        grads = []
        for _ in range(3):
            w.grad = None
            F.embedding(idx, w).backward(go)
            grads.append(w.grad.cpu().numpy())
        assert all(np.array_equal(grads[0], g) for g in grads[1:])
    finally:
        torch.use_deterministic_algorithms(False)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("d", [1, 33, 1000])
def test_gpu_embedding_bag(dtype, mode, d, det):
    num = 40
    w = torch.randn(num, d).to(getattr(torch, dtype))
    idx = torch.randint(0, num, (31,))
    offsets = torch.tensor([0, 3, 3, 10, 30])  # an empty bag
    wc, wg = _pair(w)
    psw = None
    if mode == "sum":
        psw = torch.rand(31).to(getattr(torch, dtype))
    pc, pg = (None, None) if psw is None else _pair(psw)
    yc = F.embedding_bag(idx, wc, offsets, mode=mode, per_sample_weights=pc, padding_idx=2)
    yg = F.embedding_bag(
        idx.to("cuda"), wg, offsets.to("cuda"), mode=mode, per_sample_weights=pg, padding_idx=2
    )
    _close(yg, yc, dtype, scale=4)
    go = torch.randn(*yc.shape).to(getattr(torch, dtype))
    yc.backward(go)
    yg.backward(go.to("cuda"))
    _close(wg.grad, wc.grad, dtype, scale=8)
    if psw is not None:
        _close(pg.grad, pc.grad, dtype, scale=8 * d**0.5)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", FLOATS + ["float64"])
@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin", "prod"])
@pytest.mark.parametrize("include_self", [True, False])
def test_gpu_scatter_reduce(dtype, reduce, include_self, det):
    x = torch.randn(6, 33).to(getattr(torch, dtype))
    src = torch.randn(9, 33).to(getattr(torch, dtype))
    index = torch.randint(0, 6, (9, 33))
    xc, xg = _pair(x)
    sc, sg = _pair(src)
    yc = xc.scatter_reduce(0, index, sc, reduce, include_self=include_self)
    yg = xg.scatter_reduce(0, index.to("cuda"), sg, reduce, include_self=include_self)
    _close(yg, yc, dtype, scale=4)
    go = torch.randn(6, 33).to(getattr(torch, dtype))
    yc.backward(go)
    yg.backward(go.to("cuda"))
    _close(xg.grad, xc.grad, dtype, scale=8)
    _close(sg.grad, sc.grad, dtype, scale=8)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("cols", [1, 31, 33, 1000, 4097])
def test_gpu_scatter_add_and_index_add(dtype, cols, det):
    x = torch.randn(5, cols).to(getattr(torch, dtype))
    src = torch.randn(12, cols).to(getattr(torch, dtype))
    index = torch.randint(0, 5, (12, cols))
    vec = torch.randint(0, 5, (12,))
    xc, xg = _pair(x)
    sc, sg = _pair(src)
    yc = xc.scatter_add(0, index, sc) + xc.index_add(0, vec, sc, alpha=0.5)
    yg = xg.scatter_add(0, index.to("cuda"), sg) + xg.index_add(0, vec.to("cuda"), sg, alpha=0.5)
    _close(yg, yc, dtype, scale=8)
    yc.sum().backward()
    yg.sum().backward()
    _close(sg.grad, sc.grad, dtype)
    # along dim 1, a non-contiguous source, and nothing to scatter
    t = torch.randn(cols, 4).to(getattr(torch, dtype)).t()
    ic = torch.randint(0, 4, (4, cols))
    rc = torch.zeros(4, 4).to(getattr(torch, dtype)).scatter_add(1, ic, t)
    rg = torch.zeros(4, 4, device="cuda").to(getattr(torch, dtype))
    rg = rg.scatter_add(1, ic.to("cuda"), t.to("cuda"))
    _close(rg, rc, dtype, scale=8)
    e = xg.index_add(0, torch.zeros(0, dtype=torch.int64, device="cuda"), sg[:0])
    _close(e, xc, dtype)


@pytest.mark.gpu
def test_gpu_scatter_add_is_bitwise_repeatable_when_deterministic():
    torch.use_deterministic_algorithms(True)
    try:
        src = torch.randn(100000, device="cuda")
        index = torch.randint(0, 7, (100000,), device="cuda")
        outs = [torch.zeros(7, device="cuda").scatter_add(0, index, src).cpu() for _ in range(3)]
        assert all(torch.equal(outs[0], o) for o in outs[1:])
    finally:
        torch.use_deterministic_algorithms(False)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", FLOATS + ["float64"])
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("d", [1, 31, 33, 1000, 4097])
def test_gpu_segment_csr(dtype, reduce, d):
    import cupy as cp

    rng = np.random.default_rng(0)
    offsets = np.array([0, 4, 4, 9, 10, 17])
    x = torch.randn(17, d).to(getattr(torch, dtype))
    xn = x.to(torch.float64).numpy()
    want = np.zeros((5, d))
    arg = np.full((5, d), -1)
    for s in range(5):
        lo, hi = offsets[s], offsets[s + 1]
        if hi > lo:
            seg = xn[lo:hi]
            want[s] = {"sum": seg.sum, "mean": seg.mean, "max": seg.max, "min": seg.min}[reduce](0)
            if reduce in ("max", "min"):
                arg[s] = lo + (seg.argmax(0) if reduce == "max" else seg.argmin(0))
    del rng
    got, got_arg = S.segment_csr(x.to("cuda")._data, cp.asarray(offsets), reduce, return_arg=True)
    np.testing.assert_allclose(
        cp.asnumpy(got).astype(np.float64), want, rtol=TOL[dtype] * 4, atol=TOL[dtype] * 4
    )
    if reduce in ("max", "min"):
        np.testing.assert_array_equal(cp.asnumpy(got_arg), arg)


# --- fused optimizers -------------------------------------------------------------------------


def test_optim_pack_pointers_sizes_and_batches():
    from tocha.core.cuda import _optim as O

    a, b = np.zeros(3, np.float32), np.zeros(5, np.float32)
    ptrs = O.pack([a, None, b])
    assert ptrs.dtype == np.uint64
    assert list(ptrs) == [a.ctypes.data, 0, b.ctypes.data]
    assert O.batches(0) == []
    assert O.batches(5, limit=2) == [(0, 2), (2, 2), (4, 1)]
    assert O.batches(65535) == [(0, 65535)] and O.batches(65536)[-1] == (65535, 1)
    assert O.grid_x([1, 3]) == 1 and O.grid_x([257]) == 2 and O.grid_x([10**9]) == O.MAX_BLOCKS_X
    assert O.grid_x([]) == 1


def test_optim_eligibility_and_dtype_groups():
    import ml_dtypes

    from tocha.core.cuda import _optim as O

    p = np.zeros((3, 4), np.float32)
    assert O.eligible(p, np.ones((3, 4), np.float32), (np.zeros((3, 4), np.float32), None))
    assert not O.eligible(p, np.ones((3, 4), np.float64), ())  # grad of another dtype
    assert not O.eligible(p.T, np.ones((4, 3), np.float32), ())  # strided parameter
    assert not O.eligible(p, np.ones((3, 4), np.float32), (np.zeros((4, 3), np.float32).T,))
    assert not O.eligible(np.zeros(3, np.int64), np.zeros(3, np.int64), ())
    half = np.zeros(2, ml_dtypes.bfloat16)
    groups = O.by_dtype([(p, None), (half, None), (p, 1)])
    assert list(groups) == [np.dtype(np.float32), np.dtype(ml_dtypes.bfloat16)]
    assert len(groups[np.dtype(np.float32)]) == 2


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_fused_and_foreach_on_the_cpu_take_the_xp_path(name, monkeypatch):
    from tocha.core.cuda import _optim as O

    def boom(items):
        raise AssertionError("the CUDA multi-tensor step ran for CPU parameters")

    monkeypatch.setattr(O, "sgd_multi", boom)
    monkeypatch.setattr(O, "adam_multi", boom)
    kw = {"momentum": 0.9} if name == "SGD" else {}
    res = []
    for flags in ({}, {"fused": True}, {"foreach": True}):
        w = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
        opt = getattr(torch.optim, name)([w], lr=0.1, **kw, **flags)
        for _ in range(3):
            opt.zero_grad()
            (w**2).sum().backward()
            opt.step()
        res.append(w.detach().numpy().copy())
    np.testing.assert_array_equal(res[0], res[1])
    np.testing.assert_array_equal(res[0], res[2])


OPTIM_CASES = [
    ("SGD", {"momentum": 0.0}),
    ("SGD", {"momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("SGD", {"momentum": 0.9, "nesterov": True, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"weight_decay": 0.1, "amsgrad": True}),
    ("Adam", {"maximize": True, "betas": (0.8, 0.99)}),
    ("AdamW", {"weight_decay": 0.1}),
    ("AdamW", {"amsgrad": True, "maximize": True}),
]


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", FLOATS + ["float64"])
@pytest.mark.parametrize("name,kw", OPTIM_CASES)
@pytest.mark.parametrize("flag", ["fused", "foreach"])
def test_gpu_fused_optimizer_matches_the_xp_step(dtype, name, kw, flag):
    shapes = [(1,), (31,), (33, 5), (1000,), (4097, 3), (0,)]
    dt = getattr(torch, dtype)
    init = [torch.randn(*s).to(dt) for s in shapes]
    grads = [[torch.randn(*s).to(dt) for s in shapes] for _ in range(3)]
    results = []
    for fused in (False, True):
        ps = [t.to("cuda").requires_grad_(True) for t in init]
        extra = {flag: True} if fused else {"foreach": False}
        opt = getattr(torch.optim, name)(ps, lr=0.01, **kw, **extra)
        for step in range(3):
            for p, g in zip(ps, grads[step]):
                p.grad = g.to("cuda")
            opt.step()
        results.append([p.detach().cpu() for p in ps])
        if fused:
            st = opt.state[ps[2]]
            assert all(v.device.type == "cuda" for k, v in st.items() if k != "step")
    for a, b in zip(*results):
        _close(b, a, dtype, scale=4)


@pytest.mark.gpu
def test_gpu_fused_adam_with_a_strided_parameter_falls_back_for_it():
    base = torch.randn(8, 6, device="cuda")
    p1 = base[:, ::2].detach().requires_grad_(True)  # not contiguous: xp path
    p2 = torch.randn(5, device="cuda", requires_grad=True)
    q1, q2 = p1.detach().clone().requires_grad_(True), p2.detach().clone().requires_grad_(True)
    o1 = torch.optim.Adam([p1, p2], lr=0.1, fused=True)
    o2 = torch.optim.Adam([q1, q2], lr=0.1)
    for o, a, b in ((o1, p1, p2), (o2, q1, q2)):
        (a.sum() * 2 + (b**2).sum()).backward()
        o.step()
    _close(p1, q1, "float32")
    _close(p2, q2, "float32")


# --- attention ------------------------------------------------------------------------------


def test_attention_eligibility_and_grid():
    import ml_dtypes

    from tocha.core.cuda import _attention as A

    def z(*s, dt=np.float32):
        return np.zeros(s, dt)

    assert A.eligible(z(2, 3, 5, 64), z(2, 3, 7, 64), z(2, 3, 7, 128))
    h = ml_dtypes.bfloat16
    assert A.eligible(z(1, 4, 8, dt=h), z(1, 9, 8, dt=h), z(1, 9, 8, dt=h))
    assert not A.eligible(z(2, 5, 129), z(2, 7, 129), z(2, 7, 8))  # head dim over 128
    assert not A.eligible(z(2, 5, 8), z(1, 7, 8), z(1, 7, 8))  # broadcast batch
    assert not A.eligible(z(5, 8, dt=np.float64), z(7, 8, dt=np.float64), z(7, 8, dt=np.float64))
    assert not A.eligible(z(0, 8), z(7, 8), z(7, 8)) and not A.eligible(z(5, 8), z(0, 8), z(0, 8))
    assert A.grid(3, 16) == (3, 1) and A.grid(3, 17) == (6, 1)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_probs_from_logsumexp_match_softmax(causal):
    from tocha.core.cuda import _attention as A

    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 7, 8))
    s = q @ k.swapaxes(-1, -2) * 0.3
    if causal:
        s = s + np.triu(np.full((5, 7), -np.inf), 1)
    m = s.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(s - m).sum(-1, keepdims=True)))[..., 0].astype(np.float32)
    want = np.exp(s - m) / np.exp(s - m).sum(-1, keepdims=True)
    np.testing.assert_allclose(A.probs(np, q, k, lse, 0.3, causal), want, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n_q,n_k,e,ev", [(1, 1, 8, 8), (31, 33, 64, 64), (33, 100, 128, 32)])
def test_gpu_flash_attention_matches_the_xp_path(dtype, causal, n_q, n_k, e, ev):
    dt = getattr(torch, dtype)
    q = torch.randn(2, 3, n_q, e).to(dt)
    k = torch.randn(2, 3, n_k, e).to(dt)
    v = torch.randn(2, 3, n_k, ev).to(dt)
    ins_c = [t.clone().requires_grad_(True) for t in (q, k, v)]
    ins_g = [t.to("cuda").requires_grad_(True) for t in (q, k, v)]
    yc = F.scaled_dot_product_attention(*ins_c, is_causal=causal)
    yg = F.scaled_dot_product_attention(*ins_g, is_causal=causal)
    _close(yg, yc, dtype, scale=2)
    go = torch.randn(*yc.shape).to(dt)
    yc.backward(go)
    yg.backward(go.to("cuda"))
    for a, b in zip(ins_g, ins_c):
        _close(a.grad, b.grad, dtype, scale=8)


@pytest.mark.gpu
def test_gpu_flash_attention_non_contiguous_inputs():
    q = torch.randn(2, 9, 4, 32, device="cuda").transpose(1, 2)  # (2, 4, 9, 32) strided
    k = torch.randn(2, 11, 4, 32, device="cuda").transpose(1, 2)
    v = torch.randn(2, 11, 4, 16, device="cuda").transpose(1, 2)
    y = F.scaled_dot_product_attention(q, k, v)
    want = F.scaled_dot_product_attention(q.cpu(), k.cpu(), v.cpu())
    _close(y, want, "float32")
