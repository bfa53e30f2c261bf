"""The package itself: version, lazy submodules, and that it stands on tocha-core alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tocha.vision as torchvision


def test_version_and_namespace():
    assert torchvision.__version__ == "0.1.0"
    import tocha.core

    assert tocha.core.__name__ == "tocha.core"  # one namespace, two distributions


def test_unknown_attribute_names_the_module():
    with pytest.raises(AttributeError, match="module 'tocha.vision' has no attribute 'nope'"):
        torchvision.nope  # noqa: B018


def test_import_is_cheap_and_does_not_import_torch():
    code = "import sys, tocha.vision; print('torch' in sys.modules, 'PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
