"""phaser / flanger against per-sample scalar transcriptions of sox's delay lines, and the
RIAA filter's response."""

import math

import numpy as np
import pytest
import scipy.signal

import tocha.audio.functional as AF
import tocha.core as torch
from tocha.audio.functional._effects import _wave_table

RNG = np.random.default_rng(0)


def test_wave_tables():
    s = _wave_table("SINE", False, 8, 0.0, 1.0, math.pi / 2)
    np.testing.assert_allclose(s, (np.sin((np.arange(8) + 2) / 8 * 2 * np.pi) + 1) / 2, atol=1e-7)
    tri = _wave_table("TRIANGLE", False, 8, 0.0, 1.0, 0.0)
    np.testing.assert_allclose(tri, [0.5, 0.75, 1.0, 0.75, 0.5, 0.25, 0.0, 0.25])
    ints = _wave_table("SINE", True, 8, 1.0, 10.0, 0.0)
    assert ints.dtype == np.int32 and ints.min() >= 1 and ints.max() <= 10


def _phaser_ref(x, sr, gain_in=0.4, gain_out=0.74, delay_ms=3.0, decay=0.4, speed=0.5):
    L = int(delay_ms * 0.001 * sr + 0.5)
    M = int(sr / speed + 0.5)
    off = int(0.5 / 2 * M + 0.5)  # phase pi/2
    mod = [
        int((math.sin(((k + off) % M) / M * 2 * math.pi) + 1) / 2 * (L - 1) + 1 + 0.5)
        for k in range(M)
    ]
    out = np.zeros_like(x)
    for c in range(x.shape[0]):
        buf = [0.0] * L
        dpos = mpos = 0
        for i in range(x.shape[1]):
            idx = (dpos + mod[mpos]) % L
            mpos = (mpos + 1) % M
            dpos = (dpos + 1) % L
            temp = x[c, i] * gain_in + buf[idx]
            buf[dpos] = temp * decay
            out[c, i] = temp * gain_out
    return np.clip(out, -1, 1)


def test_phaser():
    x = 0.5 * RNG.standard_normal((2, 600))
    np.testing.assert_allclose(
        AF.phaser(torch.from_numpy(x), 8000).numpy(), _phaser_ref(x, 8000), atol=1e-12
    )


def _flanger_ref(
    x, sr, delay=0.0, depth=2.0, regen=0.0, width=71.0, speed=0.5, phase=25.0, quadratic=False
):
    C, T = x.shape
    fb, dg = regen / 100, width / 100
    ig, dg = 1 / (1 + dg), dg / (1 + dg)
    dg *= 1 - abs(fb)
    L = int((delay + depth) / 1000 * sr + 0.5) + 2
    n = int(sr / speed)
    lo, hi = math.floor(delay / 1000 * sr + 0.5), L - 2.0
    off = int(1.5 / 2 * n + 0.5)  # phase 3 pi / 2
    lfo = np.float32(
        [(math.sin(((k + off) % n) / n * 2 * math.pi) + 1) / 2 * (hi - lo) + lo for k in range(n)]
    )
    out = np.zeros_like(x)
    for c in range(C):
        cph = int(c * n * phase / 100 + 0.5)
        buf = [0.0] * L
        last, pos = 0.0, 0
        for i in range(T):
            pos = (pos + L - 1) % L
            v = lfo[(i % n + cph) % n]
            fr, k = float(v - np.floor(v)), int(np.floor(v))
            buf[pos] = x[c, i] + last * fb
            d0, d1, d2 = (buf[(pos + k + j) % L] for j in range(3))
            if quadratic:
                a = (d2 - d0) * 0.5 - (d1 - d0)
                b = (d1 - d0) * 2 - (d2 - d0) * 0.5
                last = d0 + (a * fr + b) * fr
            else:
                last = d0 + (d1 - d0) * fr
            out[c, i] = x[c, i] * ig + last * dg
    return np.clip(out, -1, 1)


@pytest.mark.parametrize("quadratic", [False, True])
def test_flanger(quadratic):
    x = 0.5 * RNG.standard_normal((3, 500))
    kw = dict(delay=1.0, depth=3.0, regen=30.0, width=60.0, speed=2.0, phase=40.0)
    got = AF.flanger(
        torch.from_numpy(x), 8000, interpolation="quadratic" if quadratic else "linear", **kw
    ).numpy()
    np.testing.assert_allclose(got, _flanger_ref(x, 8000, quadratic=quadratic, **kw), atol=1e-9)
    with pytest.raises(ValueError, match="channel"):
        AF.flanger(torch.zeros(5, 10), 8000)


def test_riaa_response():
    x = np.zeros(4096)
    x[0] = 0.01
    y = AF.riaa_biquad(torch.from_numpy(x), 44100).numpy() / 0.01
    w, h = scipy.signal.freqz(y, worN=[1000, 100, 10000], fs=44100)
    db = 20 * np.log10(np.abs(h))
    assert abs(db[0]) < 0.05  # normalised to 0 dB at 1 kHz
    assert 12 < db[1] < 14 and -14 < db[2] < -12  # RIAA: about +13 dB at 100 Hz, -13.7 at 10k


def test_dither_tpdf_and_noise_shaping():
    x = 0.3 * RNG.standard_normal((2, 50))
    n = np.arange(50)
    ramp = 1 - np.abs(2 * n / 50 - 1)  # periodic Bartlett window of 50 points
    ref = np.round(x * (2**15 - 2) + ramp) / 2**15
    got = AF.dither(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-12)
    shaped = AF.dither(torch.from_numpy(x), noise_shaping=True).numpy()
    err = ref - x
    np.testing.assert_allclose(shaped[:, 1:], ref[:, 1:] + err[:, :-1], atol=1e-12)
    torch.manual_seed(0)
    r = AF.dither(torch.from_numpy(x), "RPDF").numpy()
    # |noise| <= 1.5 LSB, rounding 0.5 LSB, the 2**15 - 2 scale up to |x| * 2 / 2**15
    assert np.abs(r - x).max() <= 3 / 2**15
    with pytest.raises(ValueError, match="density_function"):
        AF.dither(torch.from_numpy(x), "XPDF")
