"""tocha.core._blas: the CBLAS behind the CPU matrix products (MKL when installed, else NumPy's
OpenBLAS, else NumPy's matmul), against float64 NumPy on every layout BLAS reads in place
(row-major, transposed views, row-strided slices), the split over the intra-op threads in both
orientations, the fallbacks, and the ``TOCHA_BLAS`` choice."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import _blas

RNG = np.random.default_rng(3)
MIN_SPLIT = _blas._MIN_SPLIT  # the real bound, before `_split_at_test_sizes` lowers it


@pytest.fixture(params=["mkl", "openblas", "numpy"])
def library(request, monkeypatch):
    """Each library in turn (MKL where the `mkl` extra is installed, as in tests-core)."""
    if request.param == "numpy":
        state = {"library": None, "fns": {}}
    else:
        load = _blas._load_mkl if request.param == "mkl" else _blas._load_openblas
        fns = load()
        if not fns:
            pytest.skip(f"{request.param} is not installed in this session")
        state = {"library": request.param, "fns": fns}
    monkeypatch.setitem(_blas._state, "s", state)
    return request.param


@pytest.fixture(autouse=True)
def _split_at_test_sizes(monkeypatch):
    """These tests' products (up to ~12M multiply-adds) split over the threads as the large ones
    do (`test_where_each_product_runs` checks the real bounds)."""
    monkeypatch.setattr(_blas, "_MIN_SPLIT", 1 << 22)


def _operand(shape, dtype, layout):
    """A (rows, cols) array laid out as ``layout``: 'c' row-major, 'f' a transposed view,
    's' a slice of a wider row-major array (row stride > cols)."""
    if layout == "c":
        return RNG.standard_normal(shape).astype(dtype)
    if layout == "f":
        return RNG.standard_normal(shape[::-1]).astype(dtype).T
    wide = RNG.standard_normal((shape[0] + 2, shape[1] + 5)).astype(dtype)
    return wide[1 : 1 + shape[0], 3 : 3 + shape[1]]


def _tol(dtype):
    return 2e-4 if dtype == np.float32 else 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("la", ["c", "f", "s"])
@pytest.mark.parametrize("lb", ["c", "f", "s"])
def test_matmul_layouts(library, threads, dtype, la, lb):
    # 6.6M multiply-adds: above the split threshold, so two threads split it
    m, k, n = 181, 203, 179
    a, b = _operand((m, k), dtype, la), _operand((k, n), dtype, lb)
    c = _blas.matmul(a, b)
    assert c.dtype == dtype and c.shape == (m, n) and c.flags.c_contiguous
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(c, ref, rtol=_tol(dtype), atol=_tol(dtype) * np.sqrt(k))


@pytest.mark.parametrize(
    "shape", [(4000, 64, 16), (16, 64, 4000), (1, 3000, 1000), (1000, 3000, 1)]
)
def test_matmul_split_orientations_and_thin(library, threads, shape):
    # rows split when a has more, columns when b does; vectors as (1, k) and (k, 1) matrices
    m, k, n = shape
    a = RNG.standard_normal((m, k)).astype(np.float32)
    b = RNG.standard_normal((k, n)).astype(np.float32)
    out = np.full((m, n), np.nan, np.float32)
    res = _blas.matmul(a, b, out=out)
    assert res is out
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(out, ref, rtol=2e-4, atol=2e-4 * np.sqrt(k))


@pytest.mark.parametrize("shape", [(4000, 64, 16), (16, 64, 4000), (30, 20, 10)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_with_bias(library, threads, shape, dtype):
    # the bias written into the output and accumulated by the GEMM (split parts included)
    m, k, n = shape
    a = RNG.standard_normal((m, k)).astype(dtype)
    w = RNG.standard_normal((n, k)).astype(dtype)
    bias = RNG.standard_normal(n).astype(dtype)
    c = _blas.matmul(a, w.T, bias=bias)
    ref = a.astype(np.float64) @ w.T.astype(np.float64) + bias
    assert c.dtype == dtype and c.shape == (m, n)
    np.testing.assert_allclose(c, ref, rtol=_tol(dtype), atol=_tol(dtype) * np.sqrt(k))


@pytest.mark.parametrize("native", ["0", "1"])
def test_where_each_product_runs(monkeypatch, native):
    # on MKL: skinny products (few output rows or columns) on NumPy, mid-sized ones on MKL on
    # the calling thread, large ones split over the threads (by the compiled split, else by
    # one _gemm_bias per part on tocha's pool)
    fns = _blas._load_mkl()
    if not fns:
        pytest.skip("mkl is not installed in this session")
    from tocha.core import _native, _parallel

    monkeypatch.setenv("TOCHA_NATIVE", native)
    parts = ["_gemm_bias"] * 2 + ["_split"]
    if native == "1":
        if _native._compiler() is None:
            pytest.skip("no C compiler on this machine")
        parts = ["_split"]

    monkeypatch.setitem(_blas._state, "s", {"library": "mkl", "fns": fns})
    monkeypatch.setattr(_blas, "_MIN_SPLIT", MIN_SPLIT)
    calls = []
    for name in ("_gemm_bias", "_split"):
        real = getattr(_blas, name)
        monkeypatch.setattr(
            _blas, name, lambda *args, _n=name, _f=real: calls.append(_n) or _f(*args)
        )
    prev = _parallel.get_num_threads()

    def run(m, k, n):
        calls.clear()
        a = RNG.standard_normal((m, k)).astype(np.float32)
        b = RNG.standard_normal((k, n)).astype(np.float32)
        ref = a.astype(np.float64) @ b.astype(np.float64)
        np.testing.assert_allclose(_blas.matmul(a, b), ref, rtol=2e-4, atol=2e-4 * np.sqrt(k))
        return sorted(calls)

    try:
        _parallel.set_num_threads(2)
        assert run(25, 4704, 6) == run(6, 25, 4704) == []  # skinny: NumPy
        assert run(1, 768, 30000) == parts  # skinny but large
        assert 128 * 400 * 120 < MIN_SPLIT <= 256 * 784 * 512
        assert run(128, 400, 120) == ["_gemm_bias"]  # 6.1M multiply-adds: one thread
        assert run(256, 784, 512) == parts  # 103M: two parts
        _parallel.set_num_threads(1)
        assert run(256, 784, 512) == ["_gemm_bias"]
    finally:
        _parallel.set_num_threads(prev)


@pytest.mark.parametrize(
    "a, b",
    [
        (np.arange(12).reshape(3, 4), np.arange(8).reshape(4, 2)),  # integers: no BLAS
        (np.ones((40, 50), np.complex64), np.ones((50, 60), np.complex64)),
        (np.ones((40, 50), np.float32), np.ones((50, 60), np.float64)),  # promotion
        (np.ones((2, 40, 50), np.float32), np.ones((2, 50, 60), np.float32)),  # batched
        (np.ones((0, 50), np.float32), np.ones((50, 60), np.float32)),
        (np.ones((40, 0), np.float32), np.ones((0, 60), np.float32)),  # an empty sum: zeros
        (np.ones((60, 70), np.float32)[::-1], np.ones((70, 80), np.float32)),  # reversed: copied
    ],
)
def test_matmul_falls_back_to_numpy(library, a, b):
    c = _blas.matmul(a, b)
    np.testing.assert_array_equal(c, np.matmul(a, b))
    assert c.dtype == np.matmul(a, b).dtype


def test_matmul_broadcast_operand_is_copied_not_misread(library):
    # a stride-0 (expanded) operand is no BLAS layout: NumPy's matmul handles it
    a = np.broadcast_to(RNG.standard_normal((1, 200)).astype(np.float32), (300, 200))
    b = RNG.standard_normal((200, 250)).astype(np.float32)
    np.testing.assert_allclose(_blas.matmul(a, b), a @ b, rtol=1e-5, atol=1e-4)


def test_tensor_ops_use_it(library):
    # nn.Linear, Tensor @ and torch.matmul (with its folded batch) through the library
    x = torch.randn(64, 30, 96)
    lin = torch.nn.Linear(96, 128)
    w = lin.weight.detach().numpy().astype(np.float64)
    ref = x.numpy().astype(np.float64) @ w.T + lin.bias.detach().numpy()
    np.testing.assert_allclose(lin(x).detach().numpy(), ref, rtol=1e-4, atol=1e-4)
    m = torch.randn(96, 200)
    np.testing.assert_allclose(
        torch.matmul(x, m).numpy(), x.numpy().astype(np.float64) @ m.numpy(), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(
        (x[0] @ m).numpy(), x[0].numpy().astype(np.float64) @ m.numpy(), rtol=1e-4, atol=1e-4
    )


# --- gemm_into (the convolutions' accumulating GEMM) ----------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_gemm_into_on_slices(library, dtype, trans_b, beta):
    a = RNG.standard_normal((13, 40)).astype(dtype)[2:11, 5:29]  # (9, 24), row stride 40
    b_full = RNG.standard_normal((30, 50)).astype(dtype)
    b = b_full[1:8, 3:27] if trans_b else b_full[3:27, 1:8]  # (7, 24) or (24, 7)
    c_full = RNG.standard_normal((12, 20)).astype(dtype)
    c0 = c_full.copy()
    c = c_full[1:10, 4:11]  # (9, 7), row stride 20
    _blas.gemm_into(a, b, c, beta, trans_b)
    bb = b.T if trans_b else b
    ref = a.astype(np.float64) @ bb.astype(np.float64) + beta * c0[1:10, 4:11]
    np.testing.assert_allclose(c, ref, rtol=_tol(dtype) / 2, atol=_tol(dtype) / 2)
    # nothing outside the slice is written
    mask = np.ones(c_full.shape, bool)
    mask[1:10, 4:11] = False
    np.testing.assert_array_equal(c_full[mask], c0[mask])


def test_gemm_into_empty_inner_dimension(library):
    c = np.full((3, 4), np.nan, dtype=np.float32)
    _blas.gemm_into(np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32), c, 0.0)
    np.testing.assert_array_equal(c, 0)
    c[...] = 2
    _blas.gemm_into(np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32), c, 1.0)
    np.testing.assert_array_equal(c, 2)


# --- choosing the library ---------------------------------------------------------------------------
def test_tocha_blas_choice(monkeypatch):
    monkeypatch.setenv("TOCHA_BLAS", "openblas")
    st = _blas._resolve()
    assert st["library"] in ("openblas", None)  # None: no CBLAS found in NumPy's library
    monkeypatch.setenv("TOCHA_BLAS", "accelerate")
    with pytest.raises(ValueError, match=r"TOCHA_BLAS must be one of auto, mkl, openblas"):
        _blas._resolve()
    monkeypatch.setenv("TOCHA_BLAS", "mkl")
    monkeypatch.setattr(_blas, "_mkl_candidates", lambda: [])
    with pytest.raises(RuntimeError, match=r"pip install 'tocha-core\[mkl\]'"):
        _blas._resolve()
    monkeypatch.setenv("TOCHA_BLAS", "auto")  # without MKL: NumPy's OpenBLAS
    assert _blas._resolve()["library"] in ("openblas", None)


def test_auto_prefers_mkl_when_installed(monkeypatch):
    monkeypatch.delenv("TOCHA_BLAS", raising=False)
    expected = "mkl" if _blas._load_mkl() else ("openblas" if _blas._load_openblas() else None)
    assert _blas._resolve()["library"] == expected


# --- torch.backends -------------------------------------------------------------------------------
def test_backends_mkl_reports_the_library_in_use(monkeypatch):
    for lib in ("mkl", "openblas", None):
        monkeypatch.setitem(_blas._state, "s", {"library": lib, "fns": {}})
        assert torch.backends.mkl.is_available() is (lib == "mkl")


def test_tocha_blas_openblas_turns_mkl_off_in_a_fresh_process():
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np, tocha.core as torch\n"
        "a = torch.randn(300, 200); b = torch.randn(200, 100)\n"
        "err = abs((a @ b).numpy() - a.numpy().astype(np.float64) @ b.numpy()).max()\n"
        "print(torch.backends.mkl.is_available(), err < 1e-3)\n"
    )
    env = dict(os.environ, TOCHA_BLAS="openblas")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]


def test_backends_flags_keep_torch_defaults():
    from tocha.core.backends import cudnn, mps

    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) == (
        True,
        False,
        False,
        True,
    )
    assert cudnn.is_available() is False and cudnn.version() is None
    assert mps.is_available() is False and mps.is_built() is False


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_split_every_layout_part_count_and_busy_caller(monkeypatch, dtype, concurrently):
    """`_native/gemm.c`: row and column blocks, blocks of the inner dimension (a few rows:
    decoding's GEMVs), transposed operands, strided output, bias, 2 and 3 parts, two Python
    threads splitting at once (one finds the workers busy and runs alone), and a forked child
    (no workers inherited)."""
    import os

    from tocha.core import _native, _parallel

    if _native._compiler() is None:
        pytest.skip("no C compiler on this machine")
    monkeypatch.setenv("TOCHA_NATIVE", "1")
    real_split = _blas._native_split()
    modes = set()

    def split(*args):  # records the mode: 0 rows, 1 columns, 2 inner dimension
        modes.add(args[4])
        return real_split(*args)

    fn = _blas._fn(np.dtype(dtype))
    if fn is None:
        pytest.skip("no CBLAS in this process")
    rng = np.random.default_rng(0)
    prev = _parallel.get_num_threads()

    def check(m, k, n, trans_a, trans_b, bias, strided):
        a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
        a, b = (a.T if trans_a else a), (b.T if trans_b else b)
        bb = rng.standard_normal(n).astype(dtype) if bias else None
        big = np.full((m, n + 5), np.nan, dtype=dtype)
        c = big[:, 2 : n + 2] if strided else np.empty((m, n), dtype=dtype)
        assert _blas._split_native(split, fn, a, b, c, bb)
        ref = a.astype(np.float64) @ b.astype(np.float64) + (0 if bb is None else bb)
        np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-4 * np.sqrt(k))
        if strided:  # nothing written outside the output's columns
            assert np.isnan(big[:, :2]).all() and np.isnan(big[:, n + 2 :]).all()

    try:
        for threads in (2, 3):
            _parallel.set_num_threads(threads)
            shapes = ((67, 33, 19), (19, 33, 67), (1, 9, 50), (50, 9, 1))
            # chunks of 64+ rows or columns, several per thread; the inner dimension's blocks
            for m, k, n in shapes + ((300, 20, 130), (130, 20, 520), (1, 300, 50), (2, 401, 33),
                                     (4, 256, 7)):  # fmt: skip
                for ta in (False, True):
                    for tb in (False, True):
                        check(m, k, n, ta, tb, bias=(m + n) % 2 == 0, strided=ta != tb)
        assert modes == {0, 1, 2}
        _parallel.set_num_threads(2)
        concurrently(lambda: [check(120, 64, 90, False, True, True, False) for _ in range(30)])
        pid = os.fork()
        if pid == 0:  # the child splits with workers of its own
            try:
                check(120, 64, 90, True, False, False, False)
            except BaseException:
                os._exit(1)
            os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
    finally:
        _parallel.set_num_threads(prev)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_pair_side_by_side(library, monkeypatch, dtype, concurrently):
    """`matmul_pair`: a linear layer's two gradient products (g @ w, g.T @ x) side by side,
    on 2 and 3 threads (3: one product split in two), over every operand layout, with a
    product too small to pair (both through `matmul`), and while another Python thread holds
    the workers (one after the other on the caller)."""

    from tocha.core import _native, _parallel

    calls = []
    real = _blas._native_pair

    def pair():
        fn = real()
        if fn is None:
            return None

        def spy(*args):
            calls.append(args[3])
            return fn(*args)

        return spy

    monkeypatch.setattr(_blas, "_native_pair", pair)
    monkeypatch.setattr(_blas, "_MIN_PAIR", 1 << 12)
    prev = _parallel.get_num_threads()

    def check(m, i, o, lg="c", lw="c", lx="c"):
        g, w, x = (
            _operand((m, o), dtype, lg),
            _operand((o, i), dtype, lw),
            _operand((m, i), dtype, lx),
        )
        gx, gw = _blas.matmul_pair(g, w, g.T, x)
        g64 = g.astype(np.float64)
        for got, ref, k in ((gx, g64 @ w, o), (gw, g64.T @ x, m)):
            assert got.dtype == dtype and got.flags.c_contiguous
            np.testing.assert_allclose(got, ref, rtol=_tol(dtype), atol=_tol(dtype) * np.sqrt(k))

    try:
        for threads in (2, 3):
            _parallel.set_num_threads(threads)
            for lg, lw, lx in (("c", "c", "c"), ("f", "s", "c"), ("s", "f", "f")):
                check(67, 45, 31, lg, lw, lx)
            check(130, 7, 90)  # a narrow weight
        check(3, 4, 5)  # 60 multiply-adds: not paired
        run_compiled = library == "mkl" and _native._compiler() is not None
        assert (sorted(set(calls)) == [2, 3]) if run_compiled else not calls
        _parallel.set_num_threads(2)
        concurrently(lambda: [check(120, 64, 90) for _ in range(20)])
    finally:
        _parallel.set_num_threads(prev)


def test_linear_backward_pairs_its_products(monkeypatch):
    """nn.Linear's backward computes its input and weight gradients through `matmul_pair`
    (the same values as one product after the other: torch's, in test_nn's linear tests)."""
    seen = []
    real = _blas.matmul_pair
    monkeypatch.setattr(_blas, "matmul_pair", lambda *a: seen.append(1) or real(*a))
    rng = np.random.default_rng(0)
    lin = torch.nn.Linear(48, 40)
    x = torch.tensor(rng.standard_normal((64, 48)).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((64, 40)).astype(np.float32)
    lin(x).backward(torch.tensor(g))
    assert seen
    w = lin.weight.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(x.grad.numpy(), g @ w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(lin.weight.grad.numpy(), g.T @ x.detach().numpy(), rtol=1e-5,
                               atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(lin.bias.grad.numpy(), g.sum(0), rtol=1e-5, atol=1e-5)


def test_compiled_split_after_the_workers_slept(monkeypatch):
    """A worker that went to sleep wakes slowly; the caller then runs the worker's part
    itself (`_native/gemm.c`'s run_parallel). Products posted to sleeping workers, and
    straight after, come out right whoever ran which part."""
    import time

    from tocha.core import _native, _parallel

    if _native._compiler() is None:
        pytest.skip("no C compiler on this machine")
    monkeypatch.setenv("TOCHA_NATIVE", "1")
    split = _blas._native_split()
    fn = _blas._fn(np.dtype(np.float32))
    if fn is None or split is None:
        pytest.skip("no CBLAS in this process")
    prev = _parallel.get_num_threads()
    _parallel.set_num_threads(2)
    rng = np.random.default_rng(1)
    try:
        for i in range(40):
            if i % 2 == 0:
                time.sleep(0.003)  # past the workers' 1 ms of spinning: they sleep
            m, k, n = 8 + i, 16, 24 + 3 * i
            a = rng.standard_normal((m, k)).astype(np.float32)
            b = rng.standard_normal((k, n)).astype(np.float32)
            c = np.full((m, n), np.nan, dtype=np.float32)
            assert _blas._split_native(split, fn, a, b, c, None)
            np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
    finally:
        _parallel.set_num_threads(prev)


@pytest.mark.parametrize("split", [False, True])
def test_narrow_products_through_the_compiled_kernel(library, threads, monkeypatch, split):
    """Products with fewer than 16 output columns and a linear layer's weight layout (b a
    transposed row-major (n, k) array) run in gemm.c's narrow kernel: every column count up
    to 15, bias or not, strided rows, a given output, on one thread or split by row blocks."""
    from tocha.core import _native

    if library != "mkl" or _native._compiler() is None:
        pytest.skip("the narrow kernel is routed with MKL as the BLAS and a C compiler")
    monkeypatch.setattr(_blas, "_NARROW_SPLIT", 1 if split else 1 << 62)
    monkeypatch.setattr(_blas, "_MIN_MKL", 1)
    ran = []
    real = _blas._narrow
    monkeypatch.setattr(_blas, "_narrow", lambda *a: ran.append(1) or real(*a))
    rng = np.random.default_rng(5)
    for n in range(1, 16):
        m, k = 70 + n, 3 + 13 * n
        wide = rng.standard_normal((m, k + 6)).astype(np.float32)
        a = wide[:, 2 : 2 + k]  # rows with a stride longer than k
        w = rng.standard_normal((n, k)).astype(np.float32)
        bias = rng.standard_normal(n).astype(np.float32) if n % 2 else None
        ref = a.astype(np.float64) @ w.T.astype(np.float64) + (0 if bias is None else bias)
        out = np.full((m, n), np.nan, dtype=np.float32) if n % 3 == 0 else None
        c = _blas.matmul(a, w.T, out=out, bias=bias)
        assert c.shape == (m, n) and (out is None or c is out)
        np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    assert len(ran) == 15
    # a long inner dimension (a convolution's weight gradient over a batch) stays with the BLAS
    k = _blas._NARROW_MAX_K + 1
    a, w = (rng.standard_normal((40, k)).astype(np.float32) for _ in range(2))
    assert real(a, w[:5].T, None, None, 40, 5, k) is None
    np.testing.assert_allclose(_blas.matmul(a, w[:5].T), a @ w[:5].T, rtol=1e-4, atol=1e-3)
    # another layout (b not a transposed weight) or dtype goes to the BLAS as before
    np.testing.assert_allclose(
        _blas.matmul(a, np.ascontiguousarray(w.T)), a @ w.T, rtol=1e-5, atol=1e-4
    )
    d = a.astype(np.float64)
    np.testing.assert_allclose(_blas.matmul(d, w.T.astype(np.float64)), d @ w.T, rtol=1e-12)
