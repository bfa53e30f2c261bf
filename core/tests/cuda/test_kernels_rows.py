"""tocha's row-wise CUDA kernels (softmax/log_softmax, layer_norm/rms_norm, cross_entropy):
the pure-Python parts on the CPU (entry-point names, launch geometry, vector widths, and the
arguments each launcher packs, checked against the kernels' C signatures with a NumPy stand-in
for CuPy), and every kernel against the xp path on a GPU (``gpu``-marked: ``_softmax.ENABLED``
switched off gives the reference on the same device; forward and backward,
float32/float16/bfloat16, odd sizes, non-contiguous and empty inputs)."""

from __future__ import annotations

import re
import types
from contextlib import contextmanager, nullcontext

import ml_dtypes
import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core.cuda import _cross_entropy as CE
from tocha.core.cuda import _kernels as K
from tocha.core.cuda import _norm as NO
from tocha.core.cuda import _softmax as SM

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]
_CTYPES = {"float": "f32", "double": "f64", "__half": "f16", "__nv_bfloat16": "bf16"}

# --- CPU: the parts that need no GPU --------------------------------------------------------


def _signatures(stem: str) -> dict[str, list[str]]:
    """Entry-point name -> parameter types (T, acc spelled out), from the file's macros and
    their instantiations."""
    text = K.source(stem).replace("\\\n", " ")
    macros = {}
    for name, params, body in re.findall(r"#define (\w+)\(([^)]*)\)(.*)", text):
        macros[name] = ([p.strip() for p in params.split(",")], body)
    sigs = {}
    for name, args in re.findall(r"^(TOCHA_\w+)\(([^)]*)\)\s*$", text, flags=re.M):
        params, body = macros[name]
        vals = dict(zip(params, (a.strip() for a in args.split(",")), strict=True))
        acc = "double" if vals["T"] == "double" else "float"
        for fname, plist in re.findall(r'extern "C" __global__ void ([\w#]+)\(([^)]*)\)', body):
            fname = re.sub(
                r"##(\w+)##|##(\w+)", lambda m, v=vals: v[m.group(1) or m.group(2)], fname
            )
            types_ = []
            for p in plist.split(","):
                t = p.strip().rsplit(" ", 1)[0].replace("Num<T>::acc", acc)
                t = re.sub(r"\bT\b", vals["T"], t).replace("const ", "")
                types_.append(t.replace(" *", "*").strip())
            sigs[fname] = types_
    return sigs


@pytest.mark.parametrize("stem", ["softmax", "norm", "cross_entropy"])
def test_every_dtype_and_vector_width_has_its_entry_points(stem):
    sigs = _signatures(stem)
    ops = {
        "softmax": ["softmax_fwd", "log_softmax_fwd", "softmax_bwd", "log_softmax_bwd"],
        "norm": ["layer_norm_fwd", "rms_norm_fwd", "layer_norm_bwd", "rms_norm_bwd"],
        "cross_entropy": ["cross_entropy_fwd", "cross_entropy_bwd"],
    }[stem]
    for dt in DTYPES:
        for vec in (1, 16 // np.dtype(dt).itemsize):
            for op in ops:
                assert SM.entry(op, dt, vec) in sigs
        if stem == "norm":
            for name in ("layer_norm", "rms_norm"):
                assert f"{name}_wb_partial_{K.dtype_suffix(dt)}" in sigs


@pytest.mark.parametrize("rows", [1, 3, 1000])
@pytest.mark.parametrize("cols", [0, 1, 31, 33, 64, 1000, 4097, 8192, 8193, 10**6])
def test_row_launch_covers_every_row_with_whole_warps(rows, cols):
    grid, block = SM.row_launch(rows, cols)
    tx, ty, tz = block
    assert tx % K.WARP == 0 and tz == 1 and K.WARP <= tx * ty <= K.MAX_THREADS
    assert tx * ty >= min(SM.ROW_BLOCK, tx)  # short rows share a block
    blocks = grid[0] * grid[1]
    assert blocks * ty >= rows > (blocks - 1) * ty  # every row, and no block wholly idle
    if cols <= SM.CACHE * K.MAX_THREADS:  # such rows are read once, kept in registers
        assert cols <= SM.CACHE * tx


def test_vector_width_needs_divisible_rows_and_aligned_bases():
    assert SM.vector_width(4096, 2, 0, 256) == 8
    assert SM.vector_width(4096, 4, 1024) == 4
    assert SM.vector_width(4096, 8, 16) == 2
    assert SM.vector_width(4100, 2, 0) == 1  # 4100 % 8
    assert SM.vector_width(4096, 2, 0, 8) == 1  # one base only 8-byte aligned
    assert SM.vector_width(33, 4, 0) == 1


@pytest.mark.parametrize("rows", [1, 63, 64, 65, 1000, 8192, 10**6])
def test_weight_bias_parts_cover_the_rows_without_empty_parts(rows):
    parts, per = NO.wb_parts(rows)
    assert 1 <= parts <= NO.WB_MAX_PARTS and parts * per >= rows > (parts - 1) * per
    grid, block, parts2, per2 = NO.wb_launch(rows, 4097)
    assert (parts2, per2) == (parts, per) and grid == (-(-4097 // 32), parts)
    assert block == (NO.WB_TILE, NO.WB_LANES, 1)
    assert "sw[8][33]" in K.source("norm")  # WB_LANES rows of shared sums in the kernel


def test_dtype_choice():
    assert SM.kernel_dtype(np.float16) and SM.kernel_dtype(ml_dtypes.bfloat16)
    assert not SM.kernel_dtype(np.int64) and not SM.kernel_dtype(np.complex64)
    assert SM.acc_dtype(np.float64) == np.float64
    assert SM.acc_dtype(np.float16) == np.float32 == SM.acc_dtype(ml_dtypes.bfloat16)


def test_launchers_refuse_numpy_arrays():
    a = np.ones((2, 3), np.float32)
    assert SM.forward(a, 1, log=False) is None
    assert SM.backward(a, a, 1, log=True) is None
    assert NO.forward(a, None, None, 1, 1e-5, center=True) is None
    assert CE.forward(a, np.zeros(2, np.int64), np.ones(2, bool), None, 0.0) is None


class _Arr(np.ndarray):
    """A NumPy array that answers ``.data.ptr`` as a CuPy array does."""

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])


def _fake_cupy():
    """A NumPy-backed stand-in for the few CuPy functions the launchers call."""

    def wrap(f):
        def g(*a, **k):
            r = f(*a, **k)
            return r.view(_Arr) if isinstance(r, np.ndarray) else r

        return g

    names = ["moveaxis", "ascontiguousarray", "empty_like", "empty", "full", "broadcast_to"]
    mod = types.SimpleNamespace(ndarray=_Arr, **{n: wrap(getattr(np, n)) for n in names})
    mod.asarray = wrap(np.asarray)
    mod.empty, mod.empty_like = wrap(np.zeros), wrap(np.zeros_like)  # nothing runs to fill them
    return mod


@contextmanager
def _recording(monkeypatch):
    """Launches recorded as (name, grid, block, args) instead of run; CuPy faked by NumPy."""
    import sys

    calls = []
    fake = _fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(SM, "cupy_or_none", lambda: fake)

    def function(stem, name):
        return lambda grid, block, args: calls.append((stem, name, grid, block, args))

    monkeypatch.setattr(K, "function", function)
    yield calls


def _check_args(stem, name, args, dtype):
    """Each argument has the type its C parameter expects (what CuPy packs by value)."""
    sig = _signatures(stem)[name]
    assert len(args) == len(sig), f"{name}: {len(args)} arguments for {len(sig)} parameters"
    acc = SM.acc_dtype(dtype)
    ctype = {"long long": np.int64, "int": np.int32, "float": np.float32, "double": np.float64}
    for i, (a, t) in enumerate(zip(args, sig, strict=True)):
        if t.endswith("*"):
            base = t[:-1]
            want = (
                np.int64 if base == "long long" else (acc if base in ("float", "double") else dtype)
            )
            if base in _CTYPES and _CTYPES[base] == K.dtype_suffix(dtype):
                want = dtype
            assert isinstance(a, _Arr) and a.dtype == np.dtype(want), f"{name} arg {i}: {t}"
            assert a.flags.c_contiguous, f"{name} arg {i} not contiguous"
        else:
            assert type(a) is ctype[t], f"{name} arg {i}: {type(a).__name__} for {t}"


def _arr(shape, dtype, rng, order="C"):
    a = rng.standard_normal(shape).astype(dtype)
    return np.asarray(a, order=order).view(_Arr)


@pytest.mark.parametrize("dt", DTYPES)
def test_argument_packing_matches_the_c_signatures(dt, monkeypatch):
    rng = np.random.default_rng(0)
    with _recording(monkeypatch) as calls:
        x = _arr((4, 6, 33), dt, rng)
        assert SM.forward(x, 1, log=False).shape == x.shape  # a middle dim: moved last
        assert SM.backward(x, x, 2, log=True).shape == x.shape
        w, b = _arr((33,), dt, rng), _arr((33,), dt, rng)
        y, mean, rstd = NO.forward(x, w, b, 1, 1e-5, center=True)
        assert y.shape == x.shape and mean.shape == rstd.shape == (24,)
        assert mean.dtype == SM.acc_dtype(dt)
        gx, gw, gb = NO.backward(x, x, w, mean, rstd, 1, True, True, True)
        assert gx.shape == x.shape and gw.shape == gb.shape == (33,) and gw.dtype == dt
        NO.forward(x, None, None, 2, 1e-5, center=False)
        NO.backward(x, x, None, None, rstd[:4], 2, True, False, False)
        x2 = _arr((5, 8), dt, rng)
        tt = np.array([0, 7, 3, 0, 1]).view(_Arr)
        valid = np.array([1, 1, 1, 0, 1], bool).view(_Arr)
        loss, lse, wt, wf, big_w = CE.forward(x2, tt, valid, _arr((8,), dt, rng), 0.1)
        assert loss.shape == lse.shape == wt.shape == (5,)
        CE.forward(x2, tt, valid, None, 0.0)
        CE.backward(x2, tt, lse, wt, wt, None, None)
        CE.backward(x2, tt, lse, np.float32(2.0), wt, wt, wf)
    names = [c[1] for c in calls]
    v = 16 // np.dtype(dt).itemsize
    suf = K.dtype_suffix(dt)
    even = 2 if np.dtype(dt).itemsize == 8 else 1  # rows of 6 or 198: vectors of 2 float64 only
    assert names[0] == f"softmax_fwd_{suf}_v{even}"  # dim 1 moved last
    assert names[1] == f"log_softmax_bwd_{suf}_v1"  # 33 columns: no vector loads
    assert f"cross_entropy_fwd_{suf}_v{v}" in names  # 8 columns: vector loads
    assert f"layer_norm_wb_partial_{suf}" in names and f"rms_norm_bwd_{suf}_v{even}" in names
    for stem, name, grid, block, args in calls:
        _check_args(stem, name, args, dt)
        rows, cols = [int(a) for a in args if type(a) is np.int64][:2]
        if "wb_partial" in name:
            assert grid == NO.wb_launch(rows, cols)[0]
        else:
            assert (grid, block) == SM.row_launch(rows, cols)


# --- GPU: every kernel against the xp path on the same device -------------------------------

COLS = [1, 31, 33, 1000, 4097]
GPU_DTYPES = [torch.float32, torch.float16, torch.bfloat16]
TOL = {torch.float32: 2e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2, torch.float64: 1e-12}


@contextmanager
def _reference():
    """The xp path: the kernels switched off."""
    old = SM.ENABLED
    SM.ENABLED = False
    try:
        yield
    finally:
        SM.ENABLED = old


def _close(a, b, dtype, what):
    a = a.detach().float().cpu().numpy() if a is not None else None
    b = b.detach().float().cpu().numpy() if b is not None else None
    tol = TOL[dtype]
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=what)


def _run_both(fn, inputs):
    """fn on leaf copies of ``inputs`` with the kernels, then without: (outs, grads) each."""
    res = []
    for ref in (False, True):
        leaves = [t.detach().clone().requires_grad_(t.dtype.is_floating_point) for t in inputs]
        with _reference() if ref else nullcontext():
            out = fn(*leaves)
            g = np.random.default_rng(7).standard_normal(tuple(out.shape))
            out.backward(torch.tensor(g).to("cuda", out.dtype))
        res.append((out, [t.grad for t in leaves]))
    return res


def _cuda(shape, dtype, seed=0, scale=1.0):
    a = np.random.default_rng(seed).standard_normal(shape) * scale
    return torch.tensor(a).to("cuda", dtype)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", GPU_DTYPES + [torch.float64])
@pytest.mark.parametrize("cols", COLS)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_kernels_match_the_xp_path(dtype, cols, log):
    f = torch.log_softmax if log else torch.softmax
    x = _cuda((7, cols), dtype, scale=4.0)
    (y, (gx,)), (yr, (gxr,)) = _run_both(lambda a: f(a, -1), [x])
    assert y.dtype == dtype
    _close(y, yr, dtype, "forward")
    _close(gx, gxr, dtype, "backward")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", GPU_DTYPES)
def test_softmax_other_dims_non_contiguous_and_empty(dtype):
    x = _cuda((5, 33, 6), dtype)
    for dim in (0, 1):
        (y, (gx,)), (yr, (gxr,)) = _run_both(lambda a, d=dim: torch.softmax(a, d), [x])
        _close(y, yr, dtype, f"dim {dim}")
        _close(gx, gxr, dtype, f"dim {dim} backward")
    xt = _cuda((33, 40), dtype).t()  # a non-contiguous last dim
    (y, (gx,)), (yr, (gxr,)) = _run_both(lambda a: torch.log_softmax(a.t().t(), 1), [xt])
    _close(y, yr, dtype, "transposed")
    _close(gx, gxr, dtype, "transposed backward")
    e = torch.softmax(_cuda((0, 5), dtype), -1)
    assert e.shape == (0, 5) and e.dtype == dtype


@pytest.mark.gpu
def test_softmax_special_values_as_the_two_pass_formula():
    inf, nan = float("inf"), float("nan")
    rows = [[inf, 1.0, 2.0], [-inf, -inf, -inf], [-inf, 0.0, 1.0], [nan, 1.0, 2.0], [1e30, 0, 0]]
    x = torch.tensor(rows).to("cuda")
    for f in (torch.softmax, torch.log_softmax):
        got = f(x, 1).cpu().numpy()
        with _reference():
            want = f(x, 1).cpu().numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-6, atol=1e-6)


@pytest.mark.gpu
def test_softmax_long_rows_take_the_streaming_path():
    x = _cuda((3, SM.CACHE * K.MAX_THREADS + 5), torch.float32, scale=3.0)
    (y, (gx,)), (yr, (gxr,)) = _run_both(lambda a: torch.softmax(a, 1), [x])
    _close(y, yr, torch.float32, "forward")
    _close(gx, gxr, torch.float32, "backward")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", GPU_DTYPES)
@pytest.mark.parametrize("cols", COLS + [SM.CACHE * K.MAX_THREADS + 8])
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_kernels_match_the_xp_path(dtype, cols, affine):
    x = _cuda((9, cols), dtype, scale=3.0) + 1.5
    ins = [x] + ([_cuda(cols, dtype, 1), _cuda(cols, dtype, 2)] if affine else [])

    def fn(a, *wb):
        return F.layer_norm(a, (cols,), *wb, eps=1e-5)

    (y, grads), (yr, grads_r) = _run_both(fn, ins)
    _close(y, yr, dtype, "forward")
    for i, (g, gr) in enumerate(zip(grads, grads_r, strict=True)):
        _close(g, gr, dtype, f"grad {i}")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", GPU_DTYPES)
@pytest.mark.parametrize("cols", COLS)
def test_rms_norm_kernels_match_the_xp_path(dtype, cols):
    x = _cuda((2, 3, cols), dtype, scale=2.0)
    w = _cuda(cols, dtype, 1)
    (y, grads), (yr, grads_r) = _run_both(lambda a, b: F.rms_norm(a, (cols,), b), [x, w])
    _close(y, yr, dtype, "forward")
    for i, (g, gr) in enumerate(zip(grads, grads_r, strict=True)):
        _close(g, gr, dtype, f"grad {i}")


@pytest.mark.gpu
def test_norm_non_contiguous_two_dims_empty_and_deterministic():
    x = _cuda((6, 10, 12), torch.float32).transpose(0, 1)  # (10, 6, 12), not contiguous
    w, b = _cuda((6, 12), torch.float32, 1), _cuda((6, 12), torch.float32, 2)
    (y, grads), (yr, grads_r) = _run_both(lambda a, c, d: F.layer_norm(a, (6, 12), c, d), [x, w, b])
    _close(y, yr, torch.float32, "forward")
    for g, gr in zip(grads, grads_r, strict=True):
        _close(g, gr, torch.float32, "grads")
    again = _run_both(lambda a, c, d: F.layer_norm(a, (6, 12), c, d), [x, w, b])[0][1]
    for g, g2 in zip(grads, again, strict=True):  # no atomics: bit for bit the same
        assert np.array_equal(g.cpu().numpy(), g2.cpu().numpy())
    e = F.layer_norm(_cuda((0, 8), torch.float16), (8,))
    assert e.shape == (0, 8)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", GPU_DTYPES)
@pytest.mark.parametrize("cols", COLS)
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"reduction": "sum"},
        {"reduction": "none", "label_smoothing": 0.1},
        {"ignore_index": 2, "weight": True},
        {"weight": True, "label_smoothing": 0.2, "ignore_index": 0},
    ],
)
def test_cross_entropy_kernels_match_the_xp_path(dtype, cols, kw):
    x = _cuda((11, cols), dtype, scale=3.0)
    rng = np.random.default_rng(3)
    tn = rng.integers(0, cols, 11)
    kw = dict(kw)
    if kw.pop("weight", False):
        kw["weight"] = torch.tensor(rng.random(cols) + 0.5).to("cuda", dtype)
    if "ignore_index" in kw and kw["ignore_index"] < cols:
        tn[::3] = kw["ignore_index"]  # some rows ignored
    t = torch.tensor(tn).to("cuda")

    def fn(a):
        return F.cross_entropy(a, t, **kw)

    (y, (gx,)), (yr, (gxr,)) = _run_both(fn, [x])
    _close(y, yr, dtype, "forward")
    _close(gx, gxr, dtype, "backward")


@pytest.mark.gpu
def test_cross_entropy_non_contiguous_logits_and_double_backward_path():
    x = _cuda((40, 13), torch.float32).t()  # (13, 40) columns-major
    t = torch.arange(13).to("cuda") % 40
    (y, (gx,)), (yr, (gxr,)) = _run_both(lambda a: F.cross_entropy(a, t), [x])
    _close(y, yr, torch.float32, "forward")
    _close(gx, gxr, torch.float32, "backward")
    xl = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(xl, t), xl, create_graph=True)
    with _reference():
        xr = x.detach().clone().requires_grad_(True)
        (gr,) = torch.autograd.grad(F.cross_entropy(xr, t), xr, create_graph=True)
    _close(g, gr, torch.float32, "create_graph gradient from the kernel forward")
