"""The ``host_cuda`` fixture: tocha's CUDA launchers and kernels run on the host
(host_kernels.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def _host_build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("host_cuda")


@pytest.fixture
def host_cuda(monkeypatch, _host_build_dir):
    from .host_kernels import install

    return install(monkeypatch, _host_build_dir)
