"""tocha.audio against torchaudio's algorithms written in torch ops (torchaudio itself has no
build here; when it is installed the last test compares with it directly)."""

import math

import numpy as np
import pytest

torch_ = pytest.importorskip("torch")

import tocha.audio.functional as AF  # noqa: E402
import tocha.audio.transforms as T  # noqa: E402
import tocha.core as torch  # noqa: E402

RNG = np.random.default_rng(0)


def test_mel_spectrogram_equals_torch_stft_pipeline():
    x = RNG.standard_normal((2, 8000)).astype(np.float32)
    ours = T.MelSpectrogram(
        16000, n_fft=400, hop_length=160, n_mels=40, norm="slaney", mel_scale="slaney"
    )(torch.from_numpy(x)).numpy()
    fb = torch_.from_numpy(AF.melscale_fbanks(201, 0, 8000, 40, 16000, "slaney", "slaney").numpy())
    s = (
        torch_.stft(
            torch_.from_numpy(x),
            400,
            160,
            400,
            torch_.hann_window(400),
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        .abs()
        .pow(2)
    )
    ref = torch_.matmul(s.transpose(-1, -2), fb).transpose(-1, -2).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("orig,new", [(48000, 16000), (16000, 22050), (44100, 16000)])
def test_resample_equals_torch_conv1d(orig, new):
    from tocha.audio.functional._resample import _get_sinc_resample_kernel

    x = RNG.standard_normal((3, 5000)).astype(np.float32)
    g = math.gcd(orig, new)
    k, width = _get_sinc_resample_kernel(orig, new, g)
    o = orig // g
    xp = torch_.nn.functional.pad(torch_.from_numpy(x), (width, width + o))
    y = torch_.nn.functional.conv1d(xp[:, None], torch_.from_numpy(k.numpy()), stride=o)
    ref = y.transpose(1, 2).reshape(3, -1)[:, : math.ceil(new // g * 5000 / o)].numpy()
    ours = AF.resample(torch.from_numpy(x), orig, new).numpy()
    np.testing.assert_allclose(ours, ref, atol=2e-5)


def test_against_torchaudio_if_installed():
    ta = pytest.importorskip("torchaudio")
    x = RNG.standard_normal((1, 4000)).astype(np.float32)
    np.testing.assert_allclose(
        AF.resample(torch.from_numpy(x), 16000, 8000).numpy(),
        ta.functional.resample(torch_.from_numpy(x), 16000, 8000).numpy(),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        T.MFCC(16000)(torch.from_numpy(x)).numpy(),
        ta.transforms.MFCC(16000)(torch_.from_numpy(x)).numpy(),
        atol=1e-3,
        rtol=1e-4,
    )
