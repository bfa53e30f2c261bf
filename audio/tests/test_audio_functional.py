"""tocha.audio.functional / transforms against NumPy/SciPy maths written here."""

import math

import numpy as np
import pytest
import scipy.fft
import scipy.signal

import tocha.audio.functional as AF
import tocha.audio.transforms as T
import tocha.core as torch

RNG = np.random.default_rng(0)


def _hann(n):
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)  # periodic, as torch.hann_window


def _np_stft(x, n_fft, hop, window):
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)], mode="reflect")
    n = 1 + (xp.shape[-1] - n_fft) // hop
    idx = np.arange(n)[:, None] * hop + np.arange(n_fft)[None]
    frames = xp[..., idx] * window
    return np.swapaxes(np.fft.rfft(frames, axis=-1), -1, -2)


def _np_mel_fb(n_freqs, f_min, f_max, n_mels, sr, norm, scale):
    if scale == "htk":

        def to_mel(f):
            return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

        def to_hz(m):
            return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)
    else:  # Slaney's Auditory Toolbox: linear below 1 kHz, log above

        def to_mel(f):
            f = np.asarray(f, float)
            lin = 3.0 * f / 200.0
            return np.where(
                f >= 1000, 15.0 + 27.0 * np.log(np.maximum(f, 1) / 1000) / np.log(6.4), lin
            )

        def to_hz(m):
            m = np.asarray(m, float)
            return np.where(m >= 15, 1000 * np.exp(np.log(6.4) / 27.0 * (m - 15)), 200.0 * m / 3)

    freqs = np.linspace(0, sr // 2, n_freqs)
    edges = to_hz(np.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2))
    fb = np.zeros((n_freqs, n_mels))
    for m in range(n_mels):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        rise = (freqs - lo) / (c - lo)
        fall = (hi - freqs) / (hi - c)
        fb[:, m] = np.clip(np.minimum(rise, fall), 0, None)
        if norm == "slaney":
            fb[:, m] *= 2.0 / (hi - lo)
    return fb


def test_spectrogram_matches_numpy_stft_and_power_norm():
    x = RNG.standard_normal((2, 3, 3000)).astype(np.float32)
    w = _hann(400)
    ref = _np_stft(x.astype(np.float64), 400, 160, w)
    spec = AF.spectrogram(
        torch.from_numpy(x), 0, torch.hann_window(400), 400, 160, 400, None, False
    )
    assert spec.shape == ref.shape
    np.testing.assert_allclose(spec.numpy(), ref, atol=2e-3, rtol=1e-4)
    p = T.Spectrogram(n_fft=400, hop_length=160, normalized=True)(torch.from_numpy(x))
    np.testing.assert_allclose(p.numpy(), np.abs(ref) ** 2 / (w**2).sum(), rtol=1e-3, atol=1e-3)
    m = T.Spectrogram(n_fft=400, hop_length=160, power=1.0, pad=10)(torch.from_numpy(x))
    ref_pad = _np_stft(np.pad(x.astype(np.float64), [(0, 0), (0, 0), (10, 10)]), 400, 160, w)
    np.testing.assert_allclose(m.numpy(), np.abs(ref_pad), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("normalized", [False, True, "frame_length"])
def test_inverse_spectrogram_round_trip(normalized):
    x = torch.from_numpy(RNG.standard_normal((2, 4001)))
    spec = T.Spectrogram(
        n_fft=512, hop_length=128, power=None, normalized=normalized, pad=7
    ).double()(x)
    inv = T.InverseSpectrogram(n_fft=512, hop_length=128, normalized=normalized, pad=7).double()
    y = inv(spec, 4001)
    np.testing.assert_allclose(y.numpy(), x.numpy(), atol=1e-9)


@pytest.mark.parametrize("scale", ["htk", "slaney"])
@pytest.mark.parametrize("norm", [None, "slaney"])
def test_melscale_fbanks_formulas(scale, norm):
    fb = AF.melscale_fbanks(257, 20.0, 7600.0, 40, 16000, norm=norm, mel_scale=scale)
    ref = _np_mel_fb(257, 20.0, 7600.0, 40, 16000, norm, scale)
    np.testing.assert_allclose(fb.numpy(), ref, rtol=1e-5, atol=1e-7)


def test_mel_scales_known_points():
    from tocha.audio.functional._spectral import _hz_to_mel, _mel_to_hz

    assert abs(_hz_to_mel(1000.0, "htk") - 1000.0) < 0.02  # HTK's scale is ~1000 mel at 1 kHz
    assert abs(_hz_to_mel(1000.0, "slaney") - 15.0) < 1e-12
    assert abs(_mel_to_hz(_hz_to_mel(4321.0, "slaney"), "slaney") - 4321.0) < 1e-9
    with pytest.raises(ValueError, match="mel_scale"):
        AF.melscale_fbanks(10, 0, 100, 2, 200, mel_scale="bark")


def test_mfcc_matches_numpy_pipeline():
    x = RNG.standard_normal((3, 8000)).astype(np.float32) * 0.1
    mf = T.MFCC(
        sample_rate=16000,
        n_mfcc=13,
        melkwargs=dict(n_fft=512, hop_length=160, n_mels=40, mel_scale="slaney", norm="slaney"),
    )
    out = mf(torch.from_numpy(x)).numpy()
    spec = np.abs(_np_stft(x.astype(np.float64), 512, 160, _hann(512))) ** 2
    fb = _np_mel_fb(257, 0.0, 8000.0, 40, 16000, "slaney", "slaney")
    mel = np.einsum("bft,fm->bmt", spec, fb)
    db = 10 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db, db.max() - 80.0)  # top_db over the whole (batch, mel, time) block
    ref = scipy.fft.dct(db, type=2, norm="ortho", axis=1)[:, :13]
    np.testing.assert_allclose(out, ref, atol=2e-3, rtol=1e-4)
    assert set(mf.state_dict()) == {
        "dct_mat",
        "MelSpectrogram.spectrogram.window",
        "MelSpectrogram.mel_scale.fb",
    }
    lm = T.MFCC(
        sample_rate=16000,
        n_mfcc=13,
        log_mels=True,
        melkwargs=dict(n_fft=512, hop_length=160, n_mels=40),
    )(torch.from_numpy(x))
    mel = np.einsum("bft,fm->bmt", spec, _np_mel_fb(257, 0, 8000, 40, 16000, None, "htk"))
    ref = scipy.fft.dct(np.log(mel + 1e-6), type=2, norm="ortho", axis=1)[:, :13]
    np.testing.assert_allclose(lm.numpy(), ref, atol=2e-3, rtol=1e-4)


def test_lfcc_matches_numpy_pipeline():
    x = RNG.standard_normal((1, 4000)).astype(np.float32)
    out = T.LFCC(
        sample_rate=8000,
        n_filter=32,
        n_lfcc=10,
        log_lf=True,
        speckwargs=dict(n_fft=256, hop_length=64),
    )(torch.from_numpy(x)).numpy()
    spec = np.abs(_np_stft(x.astype(np.float64), 256, 64, _hann(256))) ** 2
    freqs, pts = np.linspace(0, 4000, 129), np.linspace(0, 4000, 34)
    fb = np.clip(
        np.minimum(
            (freqs[:, None] - pts[None, :-2]) / np.diff(pts)[None, :-1],
            (pts[None, 2:] - freqs[:, None]) / np.diff(pts)[None, 1:],
        ),
        0,
        None,
    )
    ref = scipy.fft.dct(np.log(np.einsum("bft,fm->bmt", spec, fb) + 1e-6), norm="ortho", axis=1)[
        :, :10
    ]
    np.testing.assert_allclose(out, ref, atol=2e-3, rtol=1e-4)


def test_inverse_mel_scale_recovers_representable_spectrum():
    ims = T.InverseMelScale(n_stft=65, n_mels=20, sample_rate=8000)
    fb = ims.fb.numpy().astype(np.float64)
    spec = np.abs(RNG.standard_normal((65, 7)))
    mel = fb.T @ spec
    est = ims(torch.from_numpy(mel.astype(np.float32))).numpy()
    # The estimate reproduces the mel bins (it is a least-squares solution) and is >= 0.
    assert est.min() >= 0
    np.testing.assert_allclose(fb.T @ est, mel, rtol=0.05, atol=0.05)


def test_amplitude_to_db_top_db_and_inverse():
    x = torch.tensor([[[1.0, 1e-3, 1e-12]], [[10.0, 1.0, 0.1]]])
    db = AF.amplitude_to_DB(x, 10.0, 1e-10, 0.0, top_db=25.0).numpy()
    # (2, 1, 3) has 3 dims: the floor is taken over the whole packed block (max 10 dB).
    np.testing.assert_allclose(db, [[[0.0, -15.0, -15.0]], [[10.0, 0.0, -10.0]]], atol=1e-5)
    np.testing.assert_allclose(
        AF.DB_to_amplitude(torch.tensor([20.0]), 1.0, 1.0).numpy(), [100.0], rtol=1e-6
    )
    np.testing.assert_allclose(
        T.AmplitudeToDB("magnitude")(torch.tensor([10.0])).numpy(), [20.0], rtol=1e-6
    )


def _band_limited(sr, n, freqs=(220.0, 1000.0, 3100.0)):
    t = np.arange(n) / sr
    return sum(np.sin(2 * np.pi * f * t + i) for i, f in enumerate(freqs)) / len(freqs)


def test_resample_round_trip_snr_44k_16k_44k():
    x = _band_limited(44100, 44100).astype(np.float32)
    down = AF.resample(torch.from_numpy(x)[None], 44100, 16000)
    assert down.shape == (1, 16000)
    up = T.Resample(16000, 44100)(down)[0].numpy()
    mid = slice(2000, -2000)
    snr = 10 * np.log10(np.sum(x[mid] ** 2) / np.sum((x[mid] - up[mid]) ** 2))
    assert snr > 45, snr


def test_resample_vs_resample_poly_and_analytic_signal():
    x = _band_limited(48000, 24000)
    ours = AF.resample(torch.from_numpy(x), 48000, 16000).numpy()
    ref = scipy.signal.resample_poly(x, 1, 3)
    ideal = _band_limited(16000, 8000)
    mid = slice(200, -200)
    np.testing.assert_allclose(ours[mid], ref[mid], atol=5e-3)
    np.testing.assert_allclose(ours[mid], ideal[mid], atol=5e-3)


@pytest.mark.parametrize("method,beta", [("sinc_interp_hann", None), ("sinc_interp_kaiser", 8.0)])
@pytest.mark.parametrize("orig,new", [(48000, 16000), (16000, 44100), (8000, 12000)])
def test_resample_equals_strided_conv_with_the_kernel(method, beta, orig, new):
    from tocha.audio.functional._resample import _get_sinc_resample_kernel

    x = RNG.standard_normal((2, 1999))
    g = math.gcd(orig, new)
    k, width = _get_sinc_resample_kernel(orig, new, g, 6, 0.95, method, beta, dtype=torch.float64)
    k = k.numpy()[:, 0]
    o, n = orig // g, new // g
    xp = np.pad(x, [(0, 0), (width, width + o)])
    nf = (xp.shape[-1] - k.shape[-1]) // o + 1
    frames = xp[:, np.arange(nf)[:, None] * o + np.arange(k.shape[-1])]
    ref = np.einsum("bfk,nk->bfn", frames, k).reshape(2, -1)[:, : math.ceil(n * 1999 / o)]
    ours = AF.resample(
        torch.from_numpy(x), orig, new, rolloff=0.95, resampling_method=method, beta=beta
    )
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)


def test_resample_kernel_formula_hann():
    from tocha.audio.functional._resample import _get_sinc_resample_kernel

    k, width = _get_sinc_resample_kernel(3, 1, 1, 6, 0.99, dtype=torch.float64)
    base = 0.99
    assert width == math.ceil(6 * 3 / base)
    t = (np.arange(-width, width + 3) / 3) * base
    t = np.clip(t, -6, 6)
    ref = np.sinc(t) * np.cos(t * np.pi / 12) ** 2 * base / 3
    np.testing.assert_allclose(k.numpy()[0, 0], ref, atol=1e-15)
    with pytest.raises(ValueError, match="resampling method"):
        AF.resample(torch.zeros(10), 2, 3, resampling_method="linear")


def test_resample_is_differentiable():
    x = torch.from_numpy(RNG.standard_normal((1, 40))).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: AF.resample(v, 3, 2), (x,))


def test_griffinlim_converges():
    sr = 8000
    x = _band_limited(sr, 8000, (300.0, 700.0)).astype(np.float64)
    w = torch.hann_window(256, dtype=torch.float64)
    mag = AF.spectrogram(torch.from_numpy(x), 0, w, 256, 64, 256, 1.0, False)

    def spectral_convergence(n_iter, rand_init):
        torch.manual_seed(0)
        y = AF.griffinlim(mag, w, 256, 64, 256, 1.0, n_iter, 0.99, 8000, rand_init)
        m2 = AF.spectrogram(y, 0, w, 256, 64, 256, 1.0, False)
        return float((m2 - mag).norm() / mag.norm())

    for rand_init in (True, False):
        errs = [spectral_convergence(n, rand_init) for n in (0, 2, 10, 40)]
        assert all(a > b for a, b in zip(errs, errs[1:])), errs
    assert errs[-1] < 0.05, errs


def _cookbook(kind, sr, f0, Q, gain=0.0):
    w0 = 2 * np.pi * f0 / sr
    al, c = np.sin(w0) / (2 * Q), np.cos(w0)
    A = 10 ** (gain / 40)
    if kind == "lowpass":
        b, a = [(1 - c) / 2, 1 - c, (1 - c) / 2], [1 + al, -2 * c, 1 - al]
    elif kind == "highpass":
        b, a = [(1 + c) / 2, -(1 + c), (1 + c) / 2], [1 + al, -2 * c, 1 - al]
    elif kind == "bandpass":
        b, a = [al, 0, -al], [1 + al, -2 * c, 1 - al]
    elif kind == "bandreject":
        b, a = [1, -2 * c, 1], [1 + al, -2 * c, 1 - al]
    elif kind == "allpass":
        b, a = [1 - al, -2 * c, 1 + al], [1 + al, -2 * c, 1 - al]
    elif kind == "equalizer":
        b, a = [1 + al * A, -2 * c, 1 - al * A], [1 + al / A, -2 * c, 1 - al / A]
    elif kind in ("treble", "bass"):
        s = 1 if kind == "treble" else -1
        sq = 2 * np.sqrt(A) * al
        b = [
            A * ((A + 1) + s * (A - 1) * c + sq),
            -2 * s * A * ((A - 1) + s * (A + 1) * c),
            A * ((A + 1) + s * (A - 1) * c - sq),
        ]
        a = [
            (A + 1) - s * (A - 1) * c + sq,
            2 * s * ((A - 1) - s * (A + 1) * c),
            (A + 1) - s * (A - 1) * c - sq,
        ]
    return np.array(b), np.array(a)


@pytest.mark.parametrize(
    "kind,call",
    [
        ("lowpass", lambda x: AF.lowpass_biquad(x, 16000, 1500.0, 0.9)),
        ("highpass", lambda x: AF.highpass_biquad(x, 16000, 1500.0, 0.9)),
        ("bandpass", lambda x: AF.bandpass_biquad(x, 16000, 1500.0, 0.9)),
        ("bandreject", lambda x: AF.bandreject_biquad(x, 16000, 1500.0, 0.9)),
        ("allpass", lambda x: AF.allpass_biquad(x, 16000, 1500.0, 0.9)),
        ("equalizer", lambda x: AF.equalizer_biquad(x, 16000, 1500.0, 6.0, 0.9)),
        ("treble", lambda x: AF.treble_biquad(x, 16000, -4.0, 1500.0, 0.9)),
        ("bass", lambda x: AF.bass_biquad(x, 16000, -4.0, 1500.0, 0.9)),
    ],
)
def test_biquads_match_scipy_lfilter_with_cookbook_coefficients(kind, call):
    x = 0.3 * RNG.standard_normal((2, 3, 2000))
    b, a = _cookbook(kind, 16000, 1500.0, 0.9, 6.0 if kind == "equalizer" else -4.0)
    ref = np.clip(scipy.signal.lfilter(b, a, x, axis=-1), -1, 1)
    np.testing.assert_allclose(call(torch.from_numpy(x)).numpy(), ref, atol=1e-10)


def test_band_biquad_and_deemph_coefficients():
    x = 0.3 * RNG.standard_normal(500)
    w0, bw = 2 * np.pi * 1000 / 8000, 1000 / 0.707
    a2 = np.exp(-2 * np.pi * bw / 8000)
    a1 = -4 * a2 / (1 + a2) * np.cos(w0)
    b0 = np.sqrt(1 - a1 * a1 / (4 * a2)) * (1 - a2)
    ref = np.clip(scipy.signal.lfilter([b0, 0, 0], [1, a1, a2], x), -1, 1)
    np.testing.assert_allclose(
        AF.band_biquad(torch.from_numpy(x), 8000, 1000.0).numpy(), ref, atol=1e-12
    )


def test_lfilter_batching_clamp_and_filtfilt():
    x = RNG.standard_normal((4, 2, 300))
    a = np.array([[1.0, -0.5, 0.2], [2.0, 0.3, 0.1]])
    b = np.array([[0.5, 0.2, 0.1], [1.0, -1.0, 0.5]])
    out = AF.lfilter(torch.from_numpy(x), torch.from_numpy(a), torch.from_numpy(b), clamp=False)
    for k in range(2):
        np.testing.assert_allclose(
            out.numpy()[:, k], scipy.signal.lfilter(b[k], a[k], x[:, k]), atol=1e-12
        )
    nb = AF.lfilter(
        torch.from_numpy(x[:, 0]), torch.from_numpy(a), torch.from_numpy(b), batching=False
    )
    assert nb.shape == (4, 2, 300)
    assert nb.abs().max() <= 1.0
    ff = AF.filtfilt(
        torch.from_numpy(x), torch.from_numpy(a[0]), torch.from_numpy(b[0]), clamp=False
    )
    # torchaudio's filtfilt runs both passes from a zero state (no odd extension, no zi).
    fwd = scipy.signal.lfilter(b[0], a[0], x)
    ref = scipy.signal.lfilter(b[0], a[0], fwd[..., ::-1])[..., ::-1]
    np.testing.assert_allclose(ff.numpy(), ref, atol=1e-10)
    with pytest.raises(ValueError, match="same shape"):
        AF.lfilter(torch.zeros(5), torch.ones(3), torch.ones(2))


def test_lfilter_gradients_wrt_waveform_and_coefficients():
    x = torch.from_numpy(RNG.standard_normal((2, 30))).requires_grad_(True)
    a = torch.tensor([1.3, -0.4, 0.2], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.5, 0.3, -0.1], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, a, b: AF.lfilter(x, a, b, clamp=False), (x, a, b))


def test_simple_effects():
    x = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(
        AF.contrast(torch.from_numpy(x), 75.0).numpy(),
        np.sin(x * np.pi / 2 + 0.1 * np.sin(x * 2 * np.pi)),
        atol=1e-12,
    )
    xo = 0.05 * RNG.standard_normal((1, 200))
    g = 10 ** (20 / 20)
    t = xo * g + 0.1
    t = np.where(t < -1, -2 / 3, np.where(t > 1, 2 / 3, t - t**3 / 3))
    last_in = last_out = 0.0
    ref = np.zeros_like(xo)
    for i in range(200):  # sox's loop, literally
        last_out = t[0, i] - last_in + 0.995 * last_out
        last_in = t[0, i]
        ref[0, i] = xo[0, i] * 0.5 + last_out * 0.75
    np.testing.assert_allclose(
        AF.overdrive(torch.from_numpy(xo)).numpy(), np.clip(ref, -1, 1), atol=1e-12
    )
    pe = AF.preemphasis(torch.from_numpy(xo), 0.9)
    np.testing.assert_allclose(pe.numpy()[0, 1:], xo[0, 1:] - 0.9 * xo[0, :-1])
    np.testing.assert_allclose(AF.deemphasis(pe, 0.9).numpy(), xo, atol=1e-12)


def test_mu_law_round_trip_and_known_values():
    x = np.linspace(-1, 1, 101)
    enc = AF.mu_law_encoding(torch.from_numpy(x), 256).numpy()
    ref = (np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255) + 1) / 2 * 255 + 0.5
    np.testing.assert_array_equal(enc, ref.astype(np.int64))
    dec = T.MuLawDecoding(256)(T.MuLawEncoding(256)(torch.from_numpy(x))).numpy()
    assert np.abs(dec - x).max() < 0.0201  # step of the 256-level law near full scale


def test_fade_shapes():
    f = T.Fade(4, 4, "half_sine")(torch.ones(10, dtype=torch.float64)).numpy()
    ramp = np.linspace(0, 1, 4)
    np.testing.assert_allclose(f[:4], np.sin(ramp * np.pi - np.pi / 2) / 2 + 0.5, atol=1e-12)
    np.testing.assert_allclose(f[6:], np.sin(ramp * np.pi + np.pi / 2) / 2 + 0.5, atol=1e-12)
    f = T.Fade(3, 0, "logarithmic")(torch.ones(5, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(f[:3], np.clip(np.log10(0.1 + np.linspace(0, 1, 3)) + 1, 0, 1))
    np.testing.assert_allclose(
        T.Vol(6.0, "db")(torch.tensor([0.1])).numpy(), [0.1 * 10**0.3], rtol=1e-6
    )


def test_add_noise_reaches_snr():
    x = torch.from_numpy(RNG.standard_normal((3, 1000)))
    n = torch.from_numpy(RNG.standard_normal((3, 1000)))
    snr = torch.tensor([0.0, 10.0, 20.0], dtype=torch.float64)
    y = AF.add_noise(x, n, snr).numpy()
    noise = y - x.numpy()
    got = 10 * np.log10((x.numpy() ** 2).sum(-1) / (noise**2).sum(-1))
    np.testing.assert_allclose(got, [0, 10, 20], atol=1e-9)
    lengths = torch.tensor([500, 1000, 800])
    y = AF.add_noise(x, n, snr, lengths).numpy()
    noise = y - x.numpy()
    L = 500
    got0 = 10 * np.log10((x.numpy()[0, :L] ** 2).sum() / (noise[0, :L] ** 2).sum())
    assert abs(got0) < 1e-9


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve_and_fftconvolve_match_scipy(mode):
    x = RNG.standard_normal((2, 3, 50))
    y = RNG.standard_normal((1, 3, 7))
    ref = np.stack(
        [[scipy.signal.convolve(x[i, j], y[0, j], mode=mode) for j in range(3)] for i in range(2)]
    )
    np.testing.assert_allclose(
        AF.convolve(torch.from_numpy(x), torch.from_numpy(y), mode).numpy(), ref, atol=1e-12
    )
    np.testing.assert_allclose(
        AF.fftconvolve(torch.from_numpy(x), torch.from_numpy(y), mode).numpy(), ref, atol=1e-10
    )


def test_compute_deltas_formula():
    x = RNG.standard_normal((2, 4, 20))
    n = 2
    xp = np.pad(x, [(0, 0), (0, 0), (n, n)], mode="edge")
    ref = sum(k * (xp[..., n + k : n + k + 20] - xp[..., n - k : n - k + 20]) for k in (1, 2))
    ref /= 2 * (1 + 4)
    np.testing.assert_allclose(T.ComputeDeltas()(torch.from_numpy(x)).numpy(), ref, atol=1e-12)


def test_sliding_window_cmn_matches_reference_loop():
    x = RNG.standard_normal((2, 50, 3))
    for center, norm_vars in [(False, False), (True, False), (False, True), (True, True)]:
        got = AF.sliding_window_cmn(torch.from_numpy(x), 12, 5, center, norm_vars).numpy()
        ref = np.empty_like(x)
        T_ = 50
        for t in range(T_):
            if center:
                s, e = t - 6, t - 6 + 12
            else:
                s, e = t - 12, t + 1
            if s < 0:
                e, s = e - s, 0
            if not center and e > t:
                e = max(t + 1, 5)
            if e > T_:
                s, e = max(s - (e - T_), 0), T_
            win = x[:, s:e]
            ref[:, t] = x[:, t] - win.mean(1)
            if norm_vars:
                ref[:, t] = 0 if e - s == 1 else ref[:, t] / win.std(1)
        np.testing.assert_allclose(got, ref, atol=1e-10)


def test_edit_distance():
    def dp(a, b):
        d = np.arange(len(b) + 1)
        for i, ca in enumerate(a, 1):
            prev, d[0] = d.copy(), i
            for j, cb in enumerate(b, 1):
                d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (ca != cb))
        return int(d[-1])

    words = ["", "a", "abc", "kitten", "sitting", "flaw", "lawn", "intention", "execution"]
    for a in words:
        for b in words:
            assert AF.edit_distance(a, b) == dp(a, b), (a, b)
    assert AF.edit_distance(["the", "cat"], ["the", "hat", "sat"]) == 2


def test_spectral_centroid_and_pitch_of_a_sine():
    sr = 16000
    x = np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    c = T.SpectralCentroid(sr, n_fft=2048, hop_length=512)(torch.from_numpy(x)).numpy()
    assert np.abs(c[5:-5] - 440).max() < 15
    # A period of exactly 40 samples: the NCCF peaks at lag 40.
    x = np.sin(2 * np.pi * 200 * np.arange(8000) / 8000)
    f = AF.detect_pitch_frequency(torch.from_numpy(x[None]), 8000).numpy()
    np.testing.assert_allclose(f, 200.0, rtol=1e-6)


def test_phase_vocoder_and_time_stretch():
    s = torch.from_numpy(RNG.standard_normal((2, 201, 40)) + 1j * RNG.standard_normal((2, 201, 40)))
    ts = T.TimeStretch(n_freq=201)
    assert ts(s, 1.0) is s
    out = ts(s, 2.0)
    assert out.shape == (2, 201, 20)
    # Magnitudes at integer time steps are those of the source frames.
    np.testing.assert_allclose(np.abs(out.numpy()), np.abs(s.numpy()[..., ::2]), rtol=1e-6)


def test_pitch_shift_moves_a_tone():
    sr = 8000
    x = np.sin(2 * np.pi * 400 * np.arange(sr) / sr)
    y = AF.pitch_shift(torch.from_numpy(x[None]), sr, 12, n_fft=512).numpy()[0]
    spec = np.abs(np.fft.rfft(y[1000:7000] * np.hanning(6000)))
    peak = np.argmax(spec) * sr / 6000
    assert abs(peak - 800) < 10, peak


def test_loudness_bs1770_reference_tone():
    sr = 48000
    t = np.arange(sr * 3) / sr
    tone = 10 ** (-23 / 20) * np.sin(2 * np.pi * 997 * t)
    stereo = torch.from_numpy(np.stack([tone, tone]))
    # EBU Tech 3341: a -23 dBFS 1 kHz sine in both channels reads -23 LUFS (within 0.1).
    assert abs(float(T.Loudness(sr)(stereo)) + 23.0) < 0.1


def test_masking():
    torch.manual_seed(0)
    spec = torch.ones(8, 2, 30, 40)
    out = T.TimeMasking(10, iid_masks=True)(spec).numpy()
    masked_cols = (out == 0).all(axis=2)  # (8, 2, 40)
    widths = masked_cols.sum(-1)
    assert widths.max() < 10 and len({tuple(r) for r in masked_cols.reshape(16, 40)}) > 1
    for row in masked_cols.reshape(16, 40):
        idx = np.flatnonzero(row)
        assert len(idx) == 0 or (idx[-1] - idx[0] + 1 == len(idx))  # one contiguous band
    out = T.FrequencyMasking(12)(torch.ones(3, 30, 40)).numpy()
    rows = (out == 0).all(axis=-1)
    assert (rows == rows[0]).all() and rows[0].sum() < 12  # same band for every item
    sa = T.SpecAugment(2, 5, 2, 5, zero_masking=True)(torch.ones(4, 1, 30, 40))
    assert 0 < float((sa == 0).float().mean()) < 0.5


def test_mel_spectrogram_gradient_and_batching():
    x = torch.from_numpy(RNG.standard_normal((2, 600))).requires_grad_(True)
    ms = T.MelSpectrogram(sample_rate=8000, n_fft=128, hop_length=64, n_mels=8).double()
    assert torch.autograd.gradcheck(lambda v: ms(v), (x,))
    xb = torch.from_numpy(RNG.standard_normal((2, 3, 600)))
    np.testing.assert_allclose(ms(xb).numpy()[1, 2], ms(xb[1, 2]).numpy(), rtol=1e-10)


def test_dcshift_limiter():
    x = np.linspace(-1, 1, 21)
    np.testing.assert_allclose(
        AF.dcshift(torch.from_numpy(x), 0.2).numpy(), np.clip(x + 0.2, -1, 1)
    )
    shift, gain = 0.2, 0.05
    thr = 1 - (shift - gain)  # 0.85
    ref = np.where(
        x > thr,
        np.minimum((x - thr) * gain / (1 - thr) + thr + shift, thr),
        np.clip(x + shift, -1, 1),
    )
    np.testing.assert_allclose(AF.dcshift(torch.from_numpy(x), shift, gain).numpy(), ref)
    ref = np.where(
        x < -thr,
        np.maximum((x + thr) * gain / (1 - thr) - thr - shift, -thr),
        np.clip(x - shift, -1, 1),
    )
    np.testing.assert_allclose(AF.dcshift(torch.from_numpy(x), -shift, gain).numpy(), ref)
