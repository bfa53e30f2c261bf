"""compliance.kaldi against a frame-by-frame NumPy transcription of Kaldi's feature recipe
(feature-window.cc, mel-computations.cc, feature-mfcc.cc)."""

import math

import numpy as np
import pytest

import tocha.core as torch
from tocha.audio.compliance import kaldi

EPS = np.finfo(np.float32).eps


def _ref_frames(x, size, shift, snip_edges):
    n = len(x)
    if snip_edges:
        m = 1 + (n - size) // shift
        starts = [i * shift for i in range(m)]
    else:
        m = (n + shift // 2) // shift
        starts = [i * shift + shift // 2 - size // 2 for i in range(m)]
    out = []
    for s in starts:
        fr = []
        for j in range(s, s + size):
            # Kaldi's FirstSampleOfFrame/ExtractWindow: reflect at both ends (edge included)
            while j < 0 or j >= n:
                j = -j - 1 if j < 0 else 2 * n - 1 - j
            fr.append(x[j])
        out.append(fr)
    return np.array(out, float)


def _ref_window(kind, size):
    n = np.arange(size)
    a = 2 * np.pi / (size - 1)
    return {
        "povey": (0.5 - 0.5 * np.cos(a * n)) ** 0.85,
        "hanning": 0.5 - 0.5 * np.cos(a * n),
        "hamming": 0.54 - 0.46 * np.cos(a * n),
        "rectangular": np.ones(size),
        "blackman": 0.42 - 0.5 * np.cos(a * n) + 0.08 * np.cos(2 * a * n),
    }[kind]


def _ref_fbank(
    x,
    sr=16000,
    bins=23,
    window="povey",
    snip_edges=True,
    low=20.0,
    high=0.0,
    use_energy=False,
    raw_energy=True,
    preemph=0.97,
):
    size, shift = int(sr * 0.025), int(sr * 0.010)
    padded = 1 << (size - 1).bit_length()
    fr = _ref_frames(x, size, shift, snip_edges)
    fr = fr - fr.mean(1, keepdims=True)
    energy = np.log(np.maximum((fr**2).sum(1), EPS)) if raw_energy else None
    pre = fr.copy()
    pre[:, 1:] -= preemph * fr[:, :-1]
    pre[:, 0] -= preemph * fr[:, 0]
    w = pre * _ref_window(window, size)
    w = np.pad(w, [(0, 0), (0, padded - size)])
    if not raw_energy:
        energy = np.log(np.maximum((w**2).sum(1), EPS))
    energy = np.maximum(energy, math.log(1.0))  # energy_floor = 1
    power = np.abs(np.fft.rfft(w)) ** 2
    nyq = sr / 2
    high = high + nyq if high <= 0 else high

    def mel(f):
        return 1127.0 * np.log(1 + f / 700.0)

    edges = np.linspace(mel(low), mel(high), bins + 2)
    fmel = mel(np.arange(padded // 2 + 1) * sr / padded)
    fb = np.zeros((padded // 2 + 1, bins))
    for b in range(bins):
        lo, c, hi = edges[b : b + 3]
        for k in range(padded // 2):  # Kaldi leaves the Nyquist bin out
            if lo < fmel[k] < hi:
                fb[k, b] = (fmel[k] - lo) / (c - lo) if fmel[k] <= c else (hi - fmel[k]) / (hi - c)
    feats = np.log(np.maximum(power @ fb, EPS))
    if use_energy:
        feats = np.concatenate([energy[:, None], feats], 1)
    return feats, power, energy


@pytest.fixture(scope="module")
def wav():
    rng = np.random.default_rng(0)
    t = np.arange(12345) / 16000
    x = 0.3 * np.sin(2 * np.pi * 300 * t) + 0.05 * rng.standard_normal(t.size)
    return x


@pytest.mark.parametrize("window", ["povey", "hanning", "hamming", "rectangular", "blackman"])
@pytest.mark.parametrize("snip_edges", [True, False])
def test_fbank(wav, window, snip_edges):
    got = kaldi.fbank(
        torch.from_numpy(wav[None]), window_type=window, snip_edges=snip_edges, num_mel_bins=23
    )
    ref, _, _ = _ref_fbank(wav, window=window, snip_edges=snip_edges)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-6, rtol=1e-6)


def test_fbank_energy_and_range(wav):
    got = kaldi.fbank(
        torch.from_numpy(wav[None]),
        num_mel_bins=40,
        low_freq=100.0,
        high_freq=-400.0,
        use_energy=True,
        raw_energy=False,
    )
    ref, _, _ = _ref_fbank(wav, bins=40, low=100.0, high=-400.0, use_energy=True, raw_energy=False)
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-6, rtol=1e-6)
    htk = kaldi.fbank(torch.from_numpy(wav[None]), use_energy=True, htk_compat=True).numpy()
    plain = kaldi.fbank(torch.from_numpy(wav[None]), use_energy=True).numpy()
    np.testing.assert_allclose(htk, np.roll(plain, -1, axis=1))


def test_spectrogram(wav):
    got = kaldi.spectrogram(torch.from_numpy(wav[None])).numpy()
    _, power, energy = _ref_fbank(wav)
    ref = np.log(np.maximum(power, EPS))
    ref[:, 0] = energy
    np.testing.assert_allclose(got, ref, atol=1e-6, rtol=1e-6)


def test_mfcc(wav):
    got = kaldi.mfcc(torch.from_numpy(wav[None])).numpy()
    fb, _, _ = _ref_fbank(wav)
    n = 23
    dct = np.array(
        [
            [math.sqrt(2 / n) * math.cos(math.pi / n * (m + 0.5) * k) for k in range(13)]
            for m in range(n)
        ]
    )
    dct[:, 0] = math.sqrt(1 / n)
    lifter = 1 + 11 * np.sin(np.pi * np.arange(13) / 22)
    np.testing.assert_allclose(got, fb @ dct * lifter, atol=1e-5, rtol=1e-6)
    e = kaldi.mfcc(torch.from_numpy(wav[None]), use_energy=True).numpy()
    _, _, energy = _ref_fbank(wav)
    np.testing.assert_allclose(e[:, 0], energy, atol=1e-6)
    np.testing.assert_allclose(e[:, 1:], got[:, 1:], atol=1e-6)
    sub = kaldi.mfcc(torch.from_numpy(wav[None]), subtract_mean=True).numpy()
    np.testing.assert_allclose(sub, got - got.mean(0), atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="window size"):
        kaldi.fbank(torch.zeros(1, 100))
    with pytest.raises(ValueError, match="window type"):
        kaldi.fbank(torch.zeros(1, 1000), window_type="triangle")
    with pytest.raises(NotImplementedError, match="VTLN"):
        kaldi.fbank(torch.zeros(1, 1000), vtln_warp=1.1)
