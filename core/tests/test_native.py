"""The native CPU kernels (`tocha.core._native`): building, caching, the TOCHA_NATIVE switch,
and the vectorised float32 exp/tanh/sigmoid of ``vmath.h`` against NumPy in float64, through
the LSTM kernel's gate activations. The LSTM loops themselves: nn/test_rnn_native.py."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import _native, nn

needs_cc = pytest.mark.skipif(_native._compiler() is None, reason="no C compiler on this machine")


@needs_cc
def test_builds_once_and_is_cached_by_source_compiler_and_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("TOCHA_HOME", str(tmp_path))
    monkeypatch.setenv("TOCHA_NATIVE", "1")
    monkeypatch.setattr(_native, "_libs", {})
    lib = _native.load("lstm")
    assert lib is not None and hasattr(lib, "tocha_lstm_forward_f32")
    built = sorted(os.listdir(tmp_path / "native"))
    assert len(built) == 1 and built[0].startswith("lstm-") and built[0].endswith(".so")
    assert _native.load("lstm") is lib  # once per process
    # a fresh process finds the library instead of compiling it again
    mtime = os.stat(tmp_path / "native" / built[0]).st_mtime_ns
    code = "from tocha.core import _native; print(_native.load('lstm') is not None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    assert os.listdir(tmp_path / "native") == built
    assert os.stat(tmp_path / "native" / built[0]).st_mtime_ns == mtime


def test_switch_and_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(_native, "_libs", {})
    monkeypatch.setenv("TOCHA_NATIVE", "0")
    assert _native.load("lstm") is None
    monkeypatch.setenv("TOCHA_NATIVE", "sometimes")
    with pytest.raises(ValueError, match="TOCHA_NATIVE must be one of auto, 0, 1, got 'sometimes'"):
        _native.load("lstm")
    # a compiler that fails: None by default, an error naming the command with TOCHA_NATIVE=1
    monkeypatch.setenv("TOCHA_HOME", str(tmp_path))
    monkeypatch.setenv("CC", "false")
    monkeypatch.setenv("TOCHA_NATIVE", "auto")
    assert _native.load("lstm") is None
    assert not [f for f in os.listdir(tmp_path / "native") if not f.startswith(".")]  # no debris
    monkeypatch.setenv("TOCHA_NATIVE", "1")
    with pytest.raises(
        RuntimeError, match=r"native kernel 'lstm' is unavailable: .*false .*lstm\.c"
    ):
        _native.load("lstm")


@needs_cc
def test_gate_activations_against_numpy(monkeypatch):
    """One LSTM step from a zero state is c = sigmoid(i) tanh(g), h = sigmoid(o) tanh(c): with
    the input projection set to the identity, the kernel's activations meet every input."""
    monkeypatch.setenv("TOCHA_NATIVE", "1")
    x = np.concatenate(
        [
            np.linspace(-100, 100, 20001),
            np.linspace(-1, 1, 20001),
            np.geomspace(1e-30, 1e-3, 101),
            -np.geomspace(1e-30, 1e-3, 101),
            [
                0.0,
                -0.0,
                0.29999,
                0.3,
                0.30001,
                8.99,
                9.0,
                9.02,
                9.5,
                10.0,
                10.5,
                87.0,
                88.5,
                -87.5,
                -104.0,
            ],
        ]
    ).astype(np.float32)
    n = x.size
    lstm = nn.LSTM(1, 1, bias=False)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor([[1.0], [0.0], [1.0], [0.0]]))
        lstm.weight_hh_l0.zero_()
    # i = g = x, f = o = 0 (sigmoid 1/2): c = sigmoid(x) tanh(x)
    with torch.no_grad():
        _, (h, c) = lstm(torch.tensor(x.reshape(1, n, 1)))
    xd = x.astype(np.float64)
    c_ref = 1 / (1 + np.exp(-xd)) * np.tanh(xd)
    got = c.numpy().ravel().astype(np.float64)
    np.testing.assert_allclose(got, c_ref, rtol=4e-7, atol=1e-37)
    np.testing.assert_allclose(h.numpy().ravel(), 0.5 * np.tanh(c_ref), rtol=4e-7, atol=1e-37)
    # tanh's small-argument series keeps relative accuracy near zero (no 1 - 2/(e+1) there)
    tiny = np.abs(xd) < 1e-3
    assert np.all(np.abs(got[tiny] - c_ref[tiny]) <= 3e-7 * np.abs(c_ref[tiny]))
    # NaN in, NaN out (selects, not fminf/fmaxf, so NaN is not clamped to a number); huge values
    special = np.array([[[np.nan], [1e30], [-1e30]]], dtype=np.float32)
    with torch.no_grad():
        _, (_, c_special) = lstm(torch.tensor(special))
    c_special = c_special.numpy().ravel()
    assert np.isnan(c_special[0]) and c_special[1] == 1.0 and abs(c_special[2]) < 1e-37
