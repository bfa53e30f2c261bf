"""Kaldi-compatible features (``compute-fbank-feats``, ``compute-mfcc-feats``,
``compute-spectrogram-feats``) with torchaudio.compliance.kaldi's arguments and defaults.

Input is ``(channels, time)``; output ``(frames, features)``. Framing is a strided view, the
window/pre-emphasis/DC steps are vectorised over frames, and the mel projection and DCT are
matrix products. VTLN warping (``vtln_warp != 1``) is not implemented.
"""

from __future__ import annotations

import math

import numpy as np

import tocha.core as torch
import tocha.core.nn.functional as F

Tensor = torch.Tensor

HAMMING = "hamming"
HANNING = "hanning"
POVEY = "povey"
RECTANGULAR = "rectangular"
BLACKMAN = "blackman"
WINDOWS = [HAMMING, HANNING, POVEY, RECTANGULAR, BLACKMAN]

_EPS = float(np.finfo(np.float32).eps)


def _next_power_of_2(x: int) -> int:
    return 1 if x == 0 else 2 ** (x - 1).bit_length()


def _frames(waveform: Tensor, size: int, shift: int, snip_edges: bool) -> Tensor:
    n = waveform.shape[0]
    if snip_edges:
        if n < size:
            return waveform.new_zeros((0, size))
        return waveform.unfold(0, size, shift)
    # Kaldi's centred framing: frames cover round(n / shift) positions, the signal reflected
    # (not repeating the edge sample... Kaldi reflects including it) at both ends.
    rev = waveform.flip(0)
    m = (n + shift // 2) // shift
    pad = size // 2 - shift // 2
    if pad > 0:
        w = torch.cat((rev[n - pad :], waveform, rev), dim=0)
    else:
        w = torch.cat((waveform[-pad:], rev), dim=0)
    return w[: (m - 1) * shift + size].unfold(0, size, shift)


def _window(window_type: str, size: int, blackman_coeff: float, like: Tensor) -> Tensor:
    n = np.arange(size, dtype=np.float64)
    if window_type == HANNING:
        w = 0.5 - 0.5 * np.cos(2 * math.pi * n / (size - 1))
    elif window_type == HAMMING:
        w = 0.54 - 0.46 * np.cos(2 * math.pi * n / (size - 1))
    elif window_type == POVEY:
        w = (0.5 - 0.5 * np.cos(2 * math.pi * n / (size - 1))) ** 0.85
    elif window_type == RECTANGULAR:
        w = np.ones(size)
    elif window_type == BLACKMAN:
        a = 2 * math.pi / (size - 1)
        w = blackman_coeff - 0.5 * np.cos(a * n) + (0.5 - blackman_coeff) * np.cos(2 * a * n)
    else:
        raise ValueError(f"kaldi: invalid window type {window_type!r}; one of {WINDOWS}")
    return torch.tensor(w, dtype=like.dtype, device=like.device)


def _log_energy(frames: Tensor, energy_floor: float) -> Tensor:
    e = torch.clamp((frames * frames).sum(1), min=_EPS).log()
    if energy_floor == 0.0:
        return e
    return torch.clamp(e, min=math.log(energy_floor))


def _windowed_frames(
    waveform,
    fn,
    channel,
    sample_frequency,
    frame_shift,
    frame_length,
    round_to_power_of_two,
    preemphasis_coefficient,
    min_duration,
    window_type,
    blackman_coeff,
    snip_edges,
    raw_energy,
    energy_floor,
    dither,
    remove_dc_offset,
):
    """The steps ``spectrogram`` and ``fbank`` share: pick the channel, check the framing
    options, cut frames, dither, remove DC, pre-emphasise, window and zero-pad them. Returns
    ``(frames (n, padded), log energy (n,), padded)``, or None when the waveform is shorter
    than ``min_duration`` (the callers then return an empty tensor, as Kaldi does)."""
    channel = max(channel, 0)
    if channel >= waveform.shape[0]:
        raise ValueError(
            f"{fn}: channel {channel} out of range (waveform has {waveform.shape[0]} channels)"
        )
    waveform = waveform[channel, :]
    shift = int(sample_frequency * frame_shift * 0.001)
    size = int(sample_frequency * frame_length * 0.001)
    padded = _next_power_of_2(size) if round_to_power_of_two else size
    if not 2 <= size <= waveform.shape[0]:
        raise ValueError(
            f"{fn}: window size {size} samples must be between 2 and the number of "
            f"samples ({waveform.shape[0]})"
        )
    if shift <= 0:
        raise ValueError(f"{fn}: frame shift must be > 0 samples, got {shift}")
    if padded % 2:
        raise ValueError(f"{fn}: the padded window size must be even, got {padded}")
    if not 0 <= preemphasis_coefficient <= 1:
        raise ValueError(
            f"{fn}: preemphasis_coefficient must be in [0, 1], got {preemphasis_coefficient}"
        )
    if waveform.shape[0] < min_duration * sample_frequency:
        return None

    x = _frames(waveform, size, shift, snip_edges)
    if dither != 0.0:
        x = x + torch.randn(tuple(x.shape), dtype=x.dtype, device=x.device) * dither
    if remove_dc_offset:
        x = x - x.mean(dim=1, keepdim=True)
    energy = _log_energy(x, energy_floor) if raw_energy else None
    if preemphasis_coefficient != 0.0:
        prev = torch.cat((x[:, :1], x[:, :-1]), dim=1)
        x = x - preemphasis_coefficient * prev
    x = x * _window(window_type, size, blackman_coeff, x).unsqueeze(0)
    if padded != size:
        x = F.pad(x, (0, padded - size))
    if not raw_energy:
        energy = _log_energy(x, energy_floor)
    return x, energy, padded


def _subtract_mean(t: Tensor, subtract_mean: bool) -> Tensor:
    return t - t.mean(dim=0, keepdim=True) if subtract_mean else t


def spectrogram(
    waveform: Tensor,
    blackman_coeff: float = 0.42,
    channel: int = -1,
    dither: float = 0.0,
    energy_floor: float = 1.0,
    frame_length: float = 25.0,
    frame_shift: float = 10.0,
    min_duration: float = 0.0,
    preemphasis_coefficient: float = 0.97,
    raw_energy: bool = True,
    remove_dc_offset: bool = True,
    round_to_power_of_two: bool = True,
    sample_frequency: float = 16000.0,
    snip_edges: bool = True,
    subtract_mean: bool = False,
    window_type: str = POVEY,
) -> Tensor:
    """Kaldi ``compute-spectrogram-feats``: log power spectrum, column 0 the log energy.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.compliance import kaldi
        >>> kaldi.spectrogram(torch.randn(1, 16000)).shape
        torch.Size([98, 257])
    """
    framed = _windowed_frames(
        waveform,
        "spectrogram",
        channel,
        sample_frequency,
        frame_shift,
        frame_length,
        round_to_power_of_two,
        preemphasis_coefficient,
        min_duration,
        window_type,
        blackman_coeff,
        snip_edges,
        raw_energy,
        energy_floor,
        dither,
        remove_dc_offset,
    )
    if framed is None:
        return torch.empty(0)
    x, energy, _ = framed
    power = torch.clamp(torch.fft.rfft(x).abs().pow(2.0), min=_EPS).log()
    power = torch.cat((energy.unsqueeze(1), power[:, 1:]), dim=1)
    return _subtract_mean(power, subtract_mean)


def mel_scale_scalar(freq: float) -> float:
    return 1127.0 * math.log(1.0 + freq / 700.0)


def inverse_mel_scale_scalar(mel_freq: float) -> float:
    return 700.0 * (math.exp(mel_freq / 1127.0) - 1.0)


def mel_scale(freq: Tensor) -> Tensor:
    return 1127.0 * (1.0 + freq / 700.0).log()


def inverse_mel_scale(mel_freq: Tensor) -> Tensor:
    return 700.0 * ((mel_freq / 1127.0).exp() - 1.0)


def get_mel_banks(
    num_bins: int,
    window_length_padded: int,
    sample_freq: float,
    low_freq: float,
    high_freq: float,
    vtln_low: float,
    vtln_high: float,
    vtln_warp_factor: float,
) -> tuple[Tensor, Tensor]:
    """Kaldi's triangular mel banks on the mel axis: ``(num_bins, window_length_padded // 2)``
    and the centre frequencies ``(num_bins,)``."""
    if num_bins <= 3:
        raise ValueError(f"get_mel_banks: num_bins must be > 3, got {num_bins}")
    if window_length_padded % 2:
        raise ValueError(
            f"get_mel_banks: padded window length must be even, got {window_length_padded}"
        )
    if vtln_warp_factor != 1.0:
        raise NotImplementedError("get_mel_banks: VTLN warping (vtln_warp != 1) is not supported")
    nyquist = 0.5 * sample_freq
    if high_freq <= 0.0:
        high_freq += nyquist
    if not (0.0 <= low_freq < nyquist and 0.0 < high_freq <= nyquist and low_freq < high_freq):
        raise ValueError(
            f"get_mel_banks: bad frequency range: low {low_freq}, high {high_freq}, "
            f"nyquist {nyquist}"
        )
    bin_width = sample_freq / window_length_padded
    mlo, mhi = mel_scale_scalar(low_freq), mel_scale_scalar(high_freq)
    delta = (mhi - mlo) / (num_bins + 1)
    b = np.arange(num_bins, dtype=np.float64)[:, None]
    left, center, right = mlo + b * delta, mlo + (b + 1) * delta, mlo + (b + 2) * delta
    mel = 1127.0 * np.log(1.0 + bin_width * np.arange(window_length_padded // 2) / 700.0)[None]
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    bins = np.maximum(0.0, np.minimum(up, down))
    centers = 700.0 * (np.exp(center[:, 0] / 1127.0) - 1.0)
    return (torch.from_numpy(bins.astype(np.float32)), torch.from_numpy(centers.astype(np.float32)))


def fbank(
    waveform: Tensor,
    blackman_coeff: float = 0.42,
    channel: int = -1,
    dither: float = 0.0,
    energy_floor: float = 1.0,
    frame_length: float = 25.0,
    frame_shift: float = 10.0,
    high_freq: float = 0.0,
    htk_compat: bool = False,
    low_freq: float = 20.0,
    min_duration: float = 0.0,
    num_mel_bins: int = 23,
    preemphasis_coefficient: float = 0.97,
    raw_energy: bool = True,
    remove_dc_offset: bool = True,
    round_to_power_of_two: bool = True,
    sample_frequency: float = 16000.0,
    snip_edges: bool = True,
    subtract_mean: bool = False,
    use_energy: bool = False,
    use_log_fbank: bool = True,
    use_power: bool = True,
    vtln_high: float = -500.0,
    vtln_low: float = 100.0,
    vtln_warp: float = 1.0,
    window_type: str = POVEY,
) -> Tensor:
    """Kaldi ``compute-fbank-feats``: log mel filterbank energies, ``(frames, num_mel_bins)``
    (plus an energy column with ``use_energy``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.compliance import kaldi
        >>> kaldi.fbank(torch.randn(1, 16000), num_mel_bins=80).shape
        torch.Size([98, 80])
    """
    framed = _windowed_frames(
        waveform,
        "fbank",
        channel,
        sample_frequency,
        frame_shift,
        frame_length,
        round_to_power_of_two,
        preemphasis_coefficient,
        min_duration,
        window_type,
        blackman_coeff,
        snip_edges,
        raw_energy,
        energy_floor,
        dither,
        remove_dc_offset,
    )
    if framed is None:
        return torch.empty(0)
    x, energy, padded = framed
    spec = torch.fft.rfft(x).abs()
    if use_power:
        spec = spec.pow(2.0)
    banks, _ = get_mel_banks(
        num_mel_bins, padded, sample_frequency, low_freq, high_freq, vtln_low, vtln_high, vtln_warp
    )
    banks = F.pad(banks, (0, 1)).to(dtype=x.dtype, device=x.device)  # Nyquist bin unused
    mel = torch.matmul(spec, banks.t())
    if use_log_fbank:
        mel = torch.clamp(mel, min=_EPS).log()
    if use_energy:
        e = energy.unsqueeze(1)
        mel = torch.cat((mel, e), dim=1) if htk_compat else torch.cat((e, mel), dim=1)
    return _subtract_mean(mel, subtract_mean)


def _dct_matrix(num_ceps: int, num_mel_bins: int) -> np.ndarray:
    n = np.arange(num_mel_bins)
    k = np.arange(num_mel_bins)[:, None]
    dct = np.cos(math.pi / num_mel_bins * (n + 0.5) * k) * math.sqrt(2.0 / num_mel_bins)
    dct = dct.T  # (mels, ceps)
    dct[:, 0] = math.sqrt(1.0 / num_mel_bins)
    return dct[:, :num_ceps]


def mfcc(
    waveform: Tensor,
    blackman_coeff: float = 0.42,
    cepstral_lifter: float = 22.0,
    channel: int = -1,
    dither: float = 0.0,
    energy_floor: float = 1.0,
    frame_length: float = 25.0,
    frame_shift: float = 10.0,
    high_freq: float = 0.0,
    htk_compat: bool = False,
    low_freq: float = 20.0,
    num_ceps: int = 13,
    min_duration: float = 0.0,
    num_mel_bins: int = 23,
    preemphasis_coefficient: float = 0.97,
    raw_energy: bool = True,
    remove_dc_offset: bool = True,
    round_to_power_of_two: bool = True,
    sample_frequency: float = 16000.0,
    snip_edges: bool = True,
    subtract_mean: bool = False,
    use_energy: bool = False,
    vtln_high: float = -500.0,
    vtln_low: float = 100.0,
    vtln_warp: float = 1.0,
    window_type: str = POVEY,
) -> Tensor:
    """Kaldi ``compute-mfcc-feats``: DCT of log mel energies with cepstral liftering.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.compliance import kaldi
        >>> kaldi.mfcc(torch.randn(1, 16000)).shape
        torch.Size([98, 13])
    """
    if num_ceps > num_mel_bins:
        raise ValueError(f"mfcc: num_ceps ({num_ceps}) must be <= num_mel_bins ({num_mel_bins})")
    feat = fbank(
        waveform,
        blackman_coeff,
        channel,
        dither,
        energy_floor,
        frame_length,
        frame_shift,
        high_freq,
        htk_compat,
        low_freq,
        min_duration,
        num_mel_bins,
        preemphasis_coefficient,
        raw_energy,
        remove_dc_offset,
        round_to_power_of_two,
        sample_frequency,
        snip_edges,
        False,
        use_energy,
        True,
        True,
        vtln_high,
        vtln_low,
        vtln_warp,
        window_type,
    )
    energy = None
    if use_energy:
        energy = feat[:, num_mel_bins if htk_compat else 0]
        off = int(not htk_compat)
        feat = feat[:, off : num_mel_bins + off]
    dct = torch.tensor(_dct_matrix(num_ceps, num_mel_bins), dtype=feat.dtype, device=feat.device)
    feat = torch.matmul(feat, dct)
    if cepstral_lifter != 0.0:
        i = np.arange(num_ceps)
        lift = 1.0 + 0.5 * cepstral_lifter * np.sin(math.pi * i / cepstral_lifter)
        feat = feat * torch.tensor(lift[None], dtype=feat.dtype, device=feat.device)
    if use_energy:
        feat = torch.cat((energy.unsqueeze(1), feat[:, 1:]), dim=1)
    if htk_compat:
        c0 = feat[:, :1]
        if not use_energy:
            c0 = c0 * math.sqrt(2)
        feat = torch.cat((feat[:, 1:], c0), dim=1)
    return _subtract_mean(feat, subtract_mean)
