"""Waveform utilities: emphasis, gain, noise, convolution, speed/pitch, loudness, masking."""

from __future__ import annotations

import math

import tocha.core as torch
import tocha.core.nn.functional as F

from ._resample import resample
from ._spectral import phase_vocoder
from .filtering import highpass_biquad, lfilter, treble_biquad

Tensor = torch.Tensor


def preemphasis(waveform: Tensor, coeff: float = 0.97) -> Tensor:
    """``y[n] = x[n] - coeff * x[n - 1]`` along the last dim.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.preemphasis(torch.tensor([1.0, 1.0, 1.0]), 0.5)
        tensor([1.0000, 0.5000, 0.5000])
    """
    return torch.cat([waveform[..., :1], waveform[..., 1:] - coeff * waveform[..., :-1]], dim=-1)


def deemphasis(waveform: Tensor, coeff: float = 0.97) -> Tensor:
    """Inverse of ``preemphasis``: ``y[n] = x[n] + coeff * y[n - 1]`` (clamped to [-1, 1]).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.deemphasis(torch.tensor([1.0, 0.5, 0.5]), 0.5)
        tensor([1., 1., 1.])
    """
    a = torch.tensor([1.0, -coeff], dtype=waveform.dtype, device=waveform.device)
    b = torch.tensor([1.0, 0.0], dtype=waveform.dtype, device=waveform.device)
    return lfilter(waveform, a, b)


def gain(waveform: Tensor, gain_db: float = 1.0) -> Tensor:
    """Multiply by ``10 ** (gain_db / 20)``."""
    if gain_db == 0:
        return waveform
    return waveform * (10 ** (gain_db / 20))


def add_noise(
    waveform: Tensor, noise: Tensor, snr: Tensor, lengths: Tensor | None = None
) -> Tensor:
    """Add ``noise`` scaled so that the signal-to-noise ratio is ``snr`` dB.

    Args:
        waveform: ``(..., L)``.
        noise: ``(..., L)``, same shape.
        snr: ``(...)`` target SNRs in dB.
        lengths: ``(...)`` valid lengths (energy is measured over those samples only).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> x = torch.ones(1, 4); n = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
        >>> AF.add_noise(x, n, torch.tensor([20.0]))
        tensor([[1.1000, 0.9000, 1.1000, 0.9000]])
    """
    L = waveform.shape[-1]
    if noise.shape[-1] != L:
        raise ValueError(
            f"add_noise: waveform length {L} and noise length {noise.shape[-1]} must match"
        )
    if lengths is not None:
        ar = torch.arange(L, device=waveform.device)
        mask = (ar < lengths.unsqueeze(-1)).to(waveform.dtype)
        mw, mn = waveform * mask, noise * mask
    else:
        mw, mn = waveform, noise
    e_sig = (mw * mw).sum(-1)
    e_noise = (mn * mn).sum(-1)
    original_snr_db = 10 * (torch.log10(e_sig) - torch.log10(e_noise))
    scale = 10 ** ((original_snr_db - snr) / 20.0)
    return waveform + scale.unsqueeze(-1) * noise


def _check_conv_shapes(x: Tensor, y: Tensor, mode: str, fn: str) -> None:
    if mode not in ("full", "valid", "same"):
        raise ValueError(f"{fn}: unrecognized mode value {mode!r}; use 'full', 'valid' or 'same'")
    try:
        torch.broadcast_shapes(tuple(x.shape[:-1]), tuple(y.shape[:-1]))
    except Exception:
        raise ValueError(
            f"{fn}: leading dimensions of x {tuple(x.shape)} and y {tuple(y.shape)} "
            "are not broadcast-compatible"
        ) from None


def _apply_mode(r: Tensor, x_len: int, y_len: int, mode: str) -> Tensor:
    if mode == "full":
        return r
    if mode == "valid":
        n = max(x_len, y_len) - min(x_len, y_len) + 1
    else:
        n = x_len
    start = (r.shape[-1] - n) // 2
    return r[..., start : start + n]


def fftconvolve(x: Tensor, y: Tensor, mode: str = "full") -> Tensor:
    """Convolution along the last dim through the FFT (leading dims broadcast).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.fftconvolve(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0]))
        tensor([1., 3., 2.])
    """
    _check_conv_shapes(x, y, mode, "fftconvolve")
    n = x.shape[-1] + y.shape[-1] - 1
    r = torch.fft.irfft(torch.fft.rfft(x, n=n) * torch.fft.rfft(y, n=n), n=n)
    return _apply_mode(r, x.shape[-1], y.shape[-1], mode)


def convolve(x: Tensor, y: Tensor, mode: str = "full") -> Tensor:
    """Direct convolution along the last dim (leading dims broadcast).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.convolve(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0]), "same")
        tensor([0., 1., 2.])
    """
    _check_conv_shapes(x, y, mode, "convolve")
    xl, yl = x.shape[-1], y.shape[-1]
    if xl < yl:
        x, y = y, x
    lead = torch.broadcast_shapes(tuple(x.shape[:-1]), tuple(y.shape[:-1]))
    x = x.expand(lead + (x.shape[-1],)).reshape(-1, x.shape[-1])
    y = y.expand(lead + (y.shape[-1],)).reshape(-1, y.shape[-1])
    m = y.shape[-1]
    xp = F.pad(x, (m - 1, m - 1))
    # Per-row kernels: a grouped conv1d with one group per row.
    r = F.conv1d(xp.unsqueeze(0), y.flip(-1).unsqueeze(1), groups=x.shape[0])[0]
    r = r.reshape(lead + (r.shape[-1],))
    return _apply_mode(r, xl, yl, mode)


def speed(
    waveform: Tensor, orig_freq: int, factor: float, lengths: Tensor | None = None
) -> tuple[Tensor, Tensor | None]:
    """Speed perturbation: resample from ``orig_freq * factor`` to ``orig_freq``.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.speed(torch.zeros(1, 16000), 16000, 1.1)[0].shape
        torch.Size([1, 14546])
    """
    source = int(factor * orig_freq)
    target = int(orig_freq)
    g = math.gcd(source, target)
    source, target = source // g, target // g
    out_lengths = None
    if lengths is not None:
        out_lengths = torch.ceil(lengths * target / source).to(lengths.dtype)
    return resample(waveform, source, target), out_lengths


def pitch_shift(
    waveform: Tensor,
    sample_rate: int,
    n_steps: int,
    bins_per_octave: int = 12,
    n_fft: int = 512,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: Tensor | None = None,
) -> Tensor:
    """Shift the pitch by ``n_steps`` (phase-vocoder time stretch, then resample).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.pitch_shift(torch.randn(1, 2000), 1000, 2).shape
        torch.Size([1, 2000])
    """
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    if window is None:
        window = torch.hann_window(win_length, dtype=waveform.dtype, device=waveform.device)
    shape = tuple(waveform.shape)
    x = waveform.reshape(-1, shape[-1])
    ori_len = shape[-1]
    rate = 2.0 ** (-float(n_steps) / bins_per_octave)
    kw = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window)
    spec = torch.stft(
        x,
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
        **kw,
    )
    adv = torch.linspace(0, math.pi * hop_length, spec.shape[-2], dtype=x.dtype, device=x.device)[
        ..., None
    ]
    stretched = torch.istft(phase_vocoder(spec, rate, adv), length=int(round(ori_len / rate)), **kw)
    shifted = resample(stretched, int(sample_rate / rate), sample_rate)
    n = shifted.shape[-1]
    shifted = shifted[..., :ori_len] if n > ori_len else F.pad(shifted, [0, ori_len - n])
    return shifted.reshape(shape[:-1] + (ori_len,))


def loudness(waveform: Tensor, sample_rate: int) -> Tensor:
    """Integrated loudness in LKFS per ITU-R BS.1770-4 (K-weighting, 400 ms gated blocks).

    Args:
        waveform: ``(..., channels, time)``, up to 5 channels (L, R, C, Ls, Rs).
        sample_rate: sample rate in Hz.

    Example:
        >>> import math, tocha.core as torch, tocha.audio.functional as AF
        >>> t = torch.arange(48000) / 48000
        >>> x = 0.1 * torch.sin(2 * math.pi * 997 * t)[None]  # -20 dBFS sine, one channel
        >>> round(float(AF.loudness(x, 48000)))  # BS.1770: -3.01 LKFS at 0 dBFS
        -23
    """
    if waveform.shape[-2] > 5:
        raise ValueError(f"loudness: only up to 5 channels are supported, got {waveform.shape[-2]}")
    kernel = int(0.4 * sample_rate)
    stride = int(kernel * (1 - 0.75))
    x = treble_biquad(waveform, sample_rate, 4.0, 1500.0, 1 / math.sqrt(2))
    x = highpass_biquad(x, sample_rate, 38.0, 0.5)
    energy = (x * x).unfold(-1, kernel, stride).mean(dim=-1)
    g = torch.tensor([1.0, 1.0, 1.0, 1.41, 1.41], dtype=x.dtype, device=x.device)[
        : energy.shape[-2]
    ]
    weighted = (g.unsqueeze(-1) * energy).sum(dim=-2)
    block_loud = -0.691 + 10 * torch.log10(weighted)
    gated = (block_loud > -70.0).unsqueeze(-2).to(x.dtype)
    filt = (gated * energy).sum(-1) / gated.sum(-1)
    gamma_rel = -0.691 + 10 * torch.log10((g * filt).sum(-1)) - 10
    gated = ((block_loud > -70.0) & (block_loud > gamma_rel.unsqueeze(-1))).unsqueeze(-2)
    gated = gated.to(x.dtype)
    filt = (gated * energy).sum(-1) / gated.sum(-1)
    return -0.691 + 10 * torch.log10((g * filt).sum(-1))


def _mask_param(mask_param: int, p: float, axis_length: int) -> int:
    if p == 1.0:
        return mask_param
    return min(mask_param, int(axis_length * p))


def mask_along_axis(
    specgram: Tensor, mask_param: int, mask_value: float, axis: int, p: float = 1.0
) -> Tensor:
    """Mask one random band ``[v0, v0 + v)``, ``v ~ U(0, mask_param)``, shared by all items.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> _ = torch.manual_seed(0)
        >>> m = AF.mask_along_axis(torch.ones(1, 4, 10), 5, 0.0, 2)
        >>> m.shape
        torch.Size([1, 4, 10])
    """
    dim = specgram.dim()
    if dim < 2:
        raise ValueError(f"mask_along_axis: spectrogram must have >= 2 dims, got {dim}")
    if axis not in (dim - 2, dim - 1):
        raise ValueError(f"mask_along_axis: axis must be {dim - 2} or {dim - 1}, got {axis}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"mask_along_axis: p must be in [0, 1], got {p}")
    mask_param = _mask_param(mask_param, p, specgram.shape[axis])
    if mask_param < 1:
        return specgram
    shape = tuple(specgram.shape)
    x = specgram.reshape(-1, shape[-2], shape[-1])
    axis = axis - dim + 3
    value = float(torch.rand(1)) * mask_param
    min_value = float(torch.rand(1)) * (x.shape[axis] - value)
    start = int(min_value)
    end = int(min_value) + int(value)
    ar = torch.arange(x.shape[axis], device=x.device)
    mask = (ar >= start) & (ar < end)
    if axis == 1:
        mask = mask.unsqueeze(-1)
    return x.masked_fill(mask, mask_value).reshape(shape)


def mask_along_axis_iid(
    specgrams: Tensor, mask_param: int, mask_value, axis: int, p: float = 1.0
) -> Tensor:
    """Mask an independent random band per example and channel (dims before the last two).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> _ = torch.manual_seed(0)
        >>> AF.mask_along_axis_iid(torch.ones(2, 1, 4, 10), 5, 0.0, 3).shape
        torch.Size([2, 1, 4, 10])
    """
    dim = specgrams.dim()
    if dim < 3:
        raise ValueError(f"mask_along_axis_iid: spectrogram must have >= 3 dims, got {dim}")
    if axis not in (dim - 2, dim - 1):
        raise ValueError(f"mask_along_axis_iid: axis must be {dim - 2} or {dim - 1}, got {axis}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"mask_along_axis_iid: p must be in [0, 1], got {p}")
    mask_param = _mask_param(mask_param, p, specgrams.shape[axis])
    if mask_param < 1:
        return specgrams
    lead = tuple(specgrams.shape[: dim - 2])
    value = torch.rand(lead, device=specgrams.device, dtype=specgrams.dtype) * mask_param
    min_value = torch.rand(lead, device=specgrams.device, dtype=specgrams.dtype) * (
        specgrams.shape[axis] - value
    )
    start = min_value.long()[..., None, None]
    end = (min_value.long() + value.long())[..., None, None]
    ar = torch.arange(specgrams.shape[axis], device=specgrams.device)
    x = specgrams.transpose(axis, -1)
    if torch.is_tensor(mask_value):
        mask_value = float(mask_value)
    x = x.masked_fill((ar >= start) & (ar < end), mask_value)
    return x.transpose(axis, -1)


def detect_pitch_frequency(
    waveform: Tensor,
    sample_rate: int,
    frame_time: float = 10 ** (-2),
    win_length: int = 30,
    freq_low: int = 85,
    freq_high: int = 3400,
) -> Tensor:
    """Pitch per frame by normalised cross-correlation (NCCF) and median smoothing.

    Example:
        >>> import math, tocha.core as torch, tocha.audio.functional as AF
        >>> t = torch.arange(8000) / 8000
        >>> f = AF.detect_pitch_frequency(torch.sin(2 * math.pi * 200 * t)[None], 8000)
        >>> round(float(f[0, 10]))
        200
    """
    shape = tuple(waveform.shape)
    x = waveform.reshape(-1, shape[-1])
    nccf = _compute_nccf(x, sample_rate, frame_time, freq_low)
    indices = _find_max_per_frame(nccf, sample_rate, freq_high)
    indices = _median_smoothing(indices, win_length)
    eps = 1e-9
    freq = sample_rate / (eps + indices.to(torch.float))
    return freq.reshape(shape[:-1] + tuple(freq.shape[-1:]))


def _compute_nccf(x: Tensor, sample_rate: int, frame_time: float, freq_low: int) -> Tensor:
    eps = 1e-9
    lags = int(math.ceil(sample_rate / freq_low))
    frame_size = int(math.ceil(sample_rate * frame_time))
    L = x.shape[-1]
    num_frames = int(math.ceil(L / frame_size))
    p = lags + num_frames * frame_size - L
    xp = F.pad(x, (0, p))
    # For each lag, frames of the signal and the lagged signal (strided views, one matmul-free
    # elementwise reduction per lag as torchaudio; lags are few compared with samples).
    s1 = xp[..., : num_frames * frame_size].reshape(x.shape[0], num_frames, frame_size)
    out = []
    for lag in range(1, lags + 1):
        s2 = xp[..., lag : lag + num_frames * frame_size].reshape(
            x.shape[0], num_frames, frame_size
        )
        out.append(
            (s1 * s2).sum(-1)
            / (eps + torch.linalg.vector_norm(s1, ord=2, dim=-1)).pow(2)
            / (eps + torch.linalg.vector_norm(s2, ord=2, dim=-1)).pow(2)
        )
    return torch.stack(out, -1)


def _find_max_per_frame(nccf: Tensor, sample_rate: int, freq_high: int) -> Tensor:
    lag_min = int(math.ceil(sample_rate / freq_high))
    best_values, best_indices = torch.max(nccf[..., lag_min:], -1)
    half_size = nccf.shape[-1] // 2
    half_values, half_indices = torch.max(nccf[..., lag_min:half_size], -1)
    thresh = 0.99
    choose_half = half_values > thresh * best_values
    indices = torch.where(choose_half, half_indices, best_indices)
    return indices + lag_min + 1


def _median_smoothing(indices: Tensor, win_length: int) -> Tensor:
    pad_length = (win_length - 1) // 2
    ind = indices.to(torch.float)
    # The left padding repeats the first value (torchaudio pads, then overwrites the pad).
    ind = torch.cat([ind[..., :1].expand(tuple(ind.shape[:-1]) + (pad_length,)), ind], dim=-1)
    ind = ind.unfold(-1, win_length, 1)
    # torch.median returns the lower of the two middle values.
    srt = torch.sort(ind, dim=-1).values
    return srt[..., (win_length - 1) // 2].to(torch.int64)
