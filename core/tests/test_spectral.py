"""Window functions, stft and istft (tocha.core._ops.spectral) against NumPy/SciPy references,
the stft -> istft round trip, gradients, and the errors torch raises."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

import tocha.core as torch
from tocha.core.autograd import gradcheck, gradgradcheck


# --- windows ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,scipy_name",
    [
        ("hann_window", "hann"),
        ("hamming_window", "hamming"),
        ("blackman_window", "blackman"),
        ("bartlett_window", "bartlett"),
        ("kaiser_window", ("kaiser", 12.0)),
    ],
)
@pytest.mark.parametrize("n", [2, 7, 8, 33])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_scipy(name, scipy_name, n, periodic):
    got = getattr(torch, name)(n, periodic, dtype=torch.float64)
    want = scipy.signal.get_window(scipy_name, n, fftbins=periodic)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


def test_window_options():
    assert torch.hann_window(5).dtype == torch.float32
    assert torch.hann_window(1).tolist() == [1.0]
    assert torch.hann_window(0).shape == (0,)
    w = torch.hamming_window(6, False, 0.5, 0.3, dtype=torch.float64)
    np.testing.assert_allclose(w.numpy(), 0.5 - 0.3 * np.cos(2 * np.pi * np.arange(6) / 5))
    k = torch.kaiser_window(9, False, beta=5.0, dtype=torch.float64)
    np.testing.assert_allclose(k.numpy(), np.kaiser(9, 5.0), rtol=1e-12)
    assert torch.hann_window(4, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="hann_window expects floating point dtypes"):
        torch.hann_window(3, dtype=torch.int64)
    with pytest.raises(RuntimeError, match="non-negative window_length, got window_length=-1"):
        torch.hann_window(-1)


# --- stft -------------------------------------------------------------------------------------
def _stft_ref(x, n_fft, hop, win, window, center, pad_mode, normalized, onesided):
    """Frames, window, FFT written out with NumPy (batch, freq, frames)."""
    if window is None:
        window = np.ones(win)
    left = (n_fft - win) // 2
    w = np.zeros(n_fft, window.dtype)
    w[left : left + win] = window
    if center:
        p = n_fft // 2
        x = np.pad(x, [(0, 0), (p, p)], mode=pad_mode)
    n_frames = 1 + (x.shape[-1] - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[:, idx] * w
    spec = np.fft.rfft(frames, axis=-1) if onesided else np.fft.fft(frames, axis=-1)
    if normalized:
        spec = spec / np.sqrt(n_fft)
    return np.swapaxes(spec, -1, -2)


_STFT_CASES = [
    dict(n_fft=16),
    dict(n_fft=16, hop_length=5, win_length=10, center=False),
    dict(n_fft=15, normalized=True, pad_mode="constant"),
    dict(n_fft=12, hop_length=3, onesided=False, pad_mode="replicate"),
    dict(n_fft=8, hop_length=8, pad_mode="circular"),
]


@pytest.mark.parametrize("kw", _STFT_CASES)
@pytest.mark.parametrize("batched", [True, False])
def test_stft_matches_numpy(kw, batched):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 64)) if batched else rng.standard_normal(64)
    n_fft = kw["n_fft"]
    win = kw.get("win_length", n_fft)
    window = np.hanning(win + 1)[:-1]
    got = torch.stft(
        torch.tensor(x), window=torch.tensor(window), return_complex=True, **kw
    ).numpy()
    want = _stft_ref(
        np.atleast_2d(x),
        n_fft,
        kw.get("hop_length", n_fft // 4),
        win,
        window,
        kw.get("center", True),
        {"replicate": "edge", "circular": "wrap"}.get(
            kw.get("pad_mode"), kw.get("pad_mode", "reflect")
        ),
        kw.get("normalized", False),
        kw.get("onesided", True),
    )
    if not batched:
        want = want[0]
    assert got.dtype == np.complex128
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_stft_float32_and_rectangular_window_warning():
    x = torch.arange(40.0)
    with pytest.warns(UserWarning, match="A window was not provided"):
        s = torch.stft(x, 8, return_complex=True)
    assert s.dtype == torch.complex64 and s.shape == (5, 21)
    want = _stft_ref(np.arange(40.0)[None], 8, 2, 8, None, True, "reflect", False, True)[0]
    np.testing.assert_allclose(s.numpy(), want, rtol=1e-5, atol=1e-4)


def test_stft_return_complex_false_is_view_as_real():
    x = torch.randn(50, generator=torch.Generator().manual_seed(0))
    w = torch.hann_window(16)
    with pytest.warns(UserWarning, match="return_complex=False is deprecated"):
        r = torch.stft(x, 16, window=w, return_complex=False)
    c = torch.stft(x, 16, window=w, return_complex=True)
    assert r.shape == (*c.shape, 2)
    np.testing.assert_array_equal(r.numpy(), torch.view_as_real(c).numpy())


def test_stft_errors():
    x = torch.ones(100)
    with pytest.raises(RuntimeError, match="stft requires the return_complex parameter"):
        torch.stft(x, 16, window=torch.hann_window(16))
    with pytest.raises(RuntimeError, match="expected a 1D or 2D tensor"):
        torch.stft(torch.ones(2, 3, 100), 16, window=torch.hann_window(16), return_complex=True)
    with pytest.raises(RuntimeError, match="expected 0 < n_fft < 100, but got n_fft=200"):
        torch.stft(x, 200, window=torch.ones(200), center=False, return_complex=True)
    with pytest.raises(RuntimeError, match="window tensor of size equal to win_length=16"):
        torch.stft(x, 16, window=torch.ones(8), return_complex=True)
    with pytest.raises(RuntimeError, match="Cannot have onesided output if window or input is"):
        z = x.to(torch.complex64)
        torch.stft(z, 16, window=torch.ones(16), onesided=True, return_complex=True)


# --- istft ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [
        dict(n_fft=16),
        dict(n_fft=16, hop_length=2, win_length=12),
        dict(n_fft=15, hop_length=5, normalized=True),
        dict(n_fft=10, onesided=False),
    ],
)
def test_istft_inverts_stft(kw):
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.standard_normal((2, 70)))
    w = torch.hann_window(kw.get("win_length", kw["n_fft"]), dtype=torch.float64)
    s = torch.stft(x, window=w, return_complex=True, **kw)
    y = torch.istft(s, window=w, length=70, **kw)
    assert y.shape == (2, 70)
    np.testing.assert_allclose(y.numpy(), x.numpy(), rtol=1e-10, atol=1e-10)


def test_istft_lengths_and_complex_output():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(100)
    w = torch.hann_window(16, dtype=torch.float64)
    s = torch.stft(torch.tensor(x), 16, window=w, return_complex=True)
    assert torch.istft(s, 16, window=w).shape == (100,)  # frames cover exactly 100 samples
    long = torch.istft(s, 16, window=w, length=120).numpy()
    np.testing.assert_allclose(long[:100], x, atol=1e-10)
    # past the signal: the reflect padding of center=True (x mirrored), then zeros
    np.testing.assert_allclose(long[100:108], x[-2:-10:-1], atol=1e-10)
    np.testing.assert_array_equal(long[108:], 0.0)
    np.testing.assert_allclose(torch.istft(s, 16, window=w, length=50).numpy(), x[:50], atol=1e-10)
    z = torch.tensor(rng.standard_normal(64) + 1j * rng.standard_normal(64))
    sz = torch.stft(z, 16, window=w, return_complex=True)
    assert sz.shape == (16, 17)
    back = torch.istft(sz, 16, window=w, return_complex=True, length=64)
    np.testing.assert_allclose(back.numpy(), z.numpy(), atol=1e-10)


def test_istft_errors():
    s = torch.stft(torch.ones(64), 16, window=torch.hann_window(16), return_complex=True)
    with pytest.raises(RuntimeError, match="istft requires a complex-valued input tensor"):
        torch.istft(torch.view_as_real(s), 16)
    with pytest.raises(RuntimeError, match=r"match n_fft / 2 \+ 1 when onesided=True, but got 5"):
        torch.istft(s[:5], 16, window=torch.hann_window(16))
    with pytest.raises(RuntimeError, match="expected 0 < hop_length <= win_length"):
        torch.istft(s, 16, hop_length=20, window=torch.hann_window(16))
    with pytest.raises(RuntimeError, match="window overlap add min"):
        torch.istft(s, 16, window=torch.hann_window(16), center=False)
    with pytest.raises(RuntimeError, match="Cannot have onesided output"):
        torch.istft(s, 16, window=torch.hann_window(16), return_complex=True)


# --- gradients --------------------------------------------------------------------------------
def test_stft_istft_gradients():
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.standard_normal((2, 20)), requires_grad=True)
    w = torch.tensor(rng.uniform(0.5, 1.0, 8), requires_grad=True)

    def f(x, w):
        return torch.view_as_real(torch.stft(x, 8, hop_length=3, window=w, return_complex=True))

    assert gradcheck(f, (x, w))
    assert gradgradcheck(f, (x, w))
    s = torch.tensor(rng.standard_normal((5, 6, 2)), requires_grad=True)

    def g(s, w):
        spec = torch.view_as_complex(s)
        return torch.istft(spec, 8, hop_length=2, window=w, length=12)

    assert gradcheck(g, (s, w))
    assert gradgradcheck(g, (s, w))


def test_fft_errors_outside_the_table():
    with pytest.raises(
        RuntimeError, match="rfft expects a real input tensor, but got ComplexFloat"
    ):
        torch.fft.rfft(torch.ones(4, dtype=torch.complex64))
    with pytest.raises(RuntimeError, match="Unsupported dtype Half"):
        torch.fft.fft(torch.ones(4, dtype=torch.float16))
    with pytest.raises(RuntimeError, match="shape with 3 values but input tensor only has 2"):
        torch.fft.fftn(torch.ones(3, 3), s=(2, 2, 2))
    assert torch.fft.fft(torch.tensor([1, 2, 3])).dtype == torch.complex64
    np.testing.assert_allclose(torch.fft.fftfreq(5, d=0.5).numpy(), np.fft.fftfreq(5, 0.5))
    np.testing.assert_allclose(torch.fft.rfftfreq(6).numpy(), np.fft.rfftfreq(6), rtol=1e-6)
    assert torch.fft.fftfreq(4, dtype=torch.float64).dtype == torch.float64
