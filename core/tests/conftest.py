"""Shared test setup: seeded randomness, and `gpu` tests skipped where no GPU is present."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.core._device import cuda_available


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    if hasattr(torch, "manual_seed"):
        torch.manual_seed(0)
    yield
    torch.set_default_dtype(torch.float32)


def pytest_collection_modifyitems(config, items):
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU with cupy (run `nox -s gpu` on one)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
