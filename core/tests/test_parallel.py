"""Intra-op parallelism for large CPU elementwise ops, and the CPU caching allocator setting."""

from __future__ import annotations

import multiprocessing
import os
import platform
import subprocess
import sys
import warnings

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import _allocator, _parallel

N = _parallel.MIN_ELEMENTS * 2 + 3  # large enough to go parallel, not a multiple of the split


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_parallel_results_are_bit_identical_to_numpy(two_threads):
    rng = np.random.default_rng(0)
    a = rng.uniform(0.1, 2.0, N).astype(np.float32)
    b = rng.uniform(0.1, 2.0, N).astype(np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    np.testing.assert_array_equal((ta * tb).numpy(), a * b)
    np.testing.assert_array_equal((ta + 0.25).numpy(), a + np.float32(0.25))
    np.testing.assert_array_equal(ta.exp().numpy(), np.exp(a))
    np.testing.assert_array_equal(ta.sin().numpy(), np.sin(a))
    np.testing.assert_array_equal((ta / tb).numpy(), a / b)


def test_parallel_path_keeps_gradients_exact(two_threads):
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 1.5, N)
    x = torch.tensor(a, requires_grad=True)
    (x.exp() * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(a) * (1 + a), rtol=1e-12)


def test_worker_threads_see_the_callers_numpy_error_state(two_threads):
    x = torch.full((N,), -1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch gives nan silently; so must every chunk
        assert bool(x.log().isnan().all())


def test_set_num_threads_validates_and_round_trips():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    assert torch.get_num_threads() == 1
    x = torch.ones(N)
    assert float((x + x).sum()) == 2.0 * N  # serial path
    torch.set_num_threads(before)
    with pytest.raises(ValueError, match="positive int"):
        torch.set_num_threads(0)


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("3", 3), ("", None), ("x", None)])
def test_default_threads_follow_omp_num_threads(value, expected):
    # torch's rule: a positive OMP_NUM_THREADS sets the intra-op threads, else every core
    code = "import os, tocha.core as t; print(t.get_num_threads(), len(os.sched_getaffinity(0)))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["OMP_NUM_THREADS"] = value
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    threads, cores = map(int, out.stdout.split())
    assert threads == (cores if expected is None else expected)


def _child_op(q):
    x = torch.ones(N)
    q.put(float((x * 3.0).sum()))


@pytest.mark.skipif(not hasattr(multiprocessing, "get_context"), reason="needs fork")
@pytest.mark.skipif(platform.system() != "Linux", reason="fork start method is Linux-only here")
def test_forked_child_does_not_hang_on_the_parents_pool(two_threads):
    torch.ones(N) * 2.0  # the parent's pool now has a thread
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_op, args=(q,))
    p.start()
    p.join(timeout=60)
    assert p.exitcode == 0, "child process hung or failed after fork"
    assert q.get(timeout=5) == 3.0 * N


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc-only")
def test_caching_allocator_is_on_by_default_and_can_be_turned_off():
    assert _allocator.ENABLED
    code = "import tocha.core._allocator as a; print(a.ENABLED)"
    env = {"TOCHA_CPU_CACHING_ALLOCATOR": "0", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


_BLAS = _parallel.blas_thread_fns()
needs_openblas = pytest.mark.skipif(_BLAS is None, reason="NumPy's BLAS is not OpenBLAS here")


@needs_openblas
def test_set_num_threads_also_sets_openblas_threads():
    get, _ = _BLAS
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert get() == 1
        torch.set_num_threads(2)
        assert get() == 2
    finally:
        torch.set_num_threads(before)
    assert get() == before


@needs_openblas
def test_one_blas_thread_regions_nest_and_restore():
    get, _ = _BLAS
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with _parallel.one_blas_thread():
            assert get() == 1
            with _parallel.one_blas_thread():
                assert get() == 1
            assert get() == 1  # the outer region still holds it
            assert _parallel.blas_threads_outside() == 2
            torch.set_num_threads(3)  # applies when the region ends
            assert get() == 1
        assert get() == 3
        a = np.random.default_rng(0).standard_normal((64, 64))
        with _parallel.one_blas_thread():
            inside = a @ a
        np.testing.assert_array_equal(inside, a @ a)
    finally:
        torch.set_num_threads(before)


def test_side_by_side_runs_each_part_on_one_thread(two_threads):
    """Both parts run at once, on different threads, each seeing one thread to spread over
    (so neither hands work to the pool the other occupies); an error in either reaches the
    caller, after both finished."""
    import threading

    seen = []
    both = threading.Barrier(2, timeout=10)  # passes only when the two run concurrently

    def part(tag):
        both.wait()
        seen.append((tag, threading.get_ident(), _parallel.threads_here(), _parallel.may_split()))
        big = np.arange(N, dtype=np.float32)
        return tag, float(np.sum(np.sqrt(big)))  # elementwise work that would go parallel

    one, two = _parallel.side_by_side(lambda: part("a"), lambda: part("b"))
    assert one[0] == "a" and two[0] == "b" and one[1] == two[1]
    assert {s[0] for s in seen} == {"a", "b"} and seen[0][1] != seen[1][1]
    assert all(s[2] == 1 and s[3] is False for s in seen)
    assert _parallel.threads_here() == 2 and _parallel.may_split()  # restored

    def boom():
        raise ValueError("from the second part")

    with pytest.raises(ValueError, match="second part"):
        _parallel.side_by_side(lambda: 1, boom)
    with pytest.raises(KeyError):
        _parallel.side_by_side(lambda: {}["missing"], lambda: 2)
    assert _parallel.threads_here() == 2


def test_conv_gradients_side_by_side_match_the_split_ones(two_threads, monkeypatch):
    """With two threads a convolution's input and weight gradients run side by side
    (`conv._pair_grads`); they equal the gradients computed one after the other."""
    from tocha.core._ops import conv

    rng = np.random.default_rng(0)
    calls = []
    pair_grads = conv._pair_grads
    real = _parallel.side_by_side
    monkeypatch.setattr(_parallel, "side_by_side", lambda a, b: calls.append(1) or real(a, b))

    def grads(pair):
        monkeypatch.setattr(conv, "_pair_grads", lambda x: pair)
        torch.manual_seed(0)
        c = torch.nn.Conv2d(6, 16, 5, padding=1)
        x = torch.tensor(rng_x, requires_grad=True)
        c(x).backward(torch.tensor(rng_g))
        return x.grad.numpy(), c.weight.grad.numpy(), c.bias.grad.numpy()

    rng_x = rng.standard_normal((16, 6, 14, 14)).astype(np.float32)
    rng_g = rng.standard_normal((16, 16, 12, 12)).astype(np.float32)
    paired = grads(True)
    assert calls
    calls.clear()
    split = grads(False)
    assert not calls
    for a, b in zip(paired, split):  # float32 sums of ~2300 terms, in another order
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * np.abs(b).max())
    assert pair_grads(rng_x)
    torch.set_num_threads(1)
    assert not pair_grads(rng_x)
