"""Spectrograms, filterbanks, cepstra and spectral utilities (torchaudio.functional's maths).

Everything is composed from differentiable tocha.core ops, so gradients flow where torchaudio's
do, and the same code runs on CPU and CUDA tensors.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import tocha.core as torch
import tocha.core.nn.functional as F

Tensor = torch.Tensor


def _const(values, like: Tensor, dtype=None) -> Tensor:
    """A constant tensor on ``like``'s device (float dtype of ``like`` unless given)."""
    return torch.tensor(np.asarray(values), dtype=dtype or like.dtype, device=like.device)


def _spec_norms(normalized: bool | str) -> tuple[bool, bool]:
    """(frame_length_norm, window_norm) for ``normalized`` as torchaudio interprets it."""
    if torch.is_tensor(normalized):
        normalized = bool(normalized)
    if normalized is True or normalized == "window":
        return False, True
    if normalized == "frame_length":
        return True, False
    if normalized is False:
        return False, False
    raise ValueError(f"spectrogram: invalid normalized parameter: {normalized!r}")


def spectrogram(
    waveform: Tensor,
    pad: int,
    window: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int,
    power: float | None,
    normalized: bool | str,
    center: bool = True,
    pad_mode: str = "reflect",
    onesided: bool = True,
    return_complex: bool | None = None,
) -> Tensor:
    """Spectrogram (power, magnitude or complex) of ``(..., time)`` audio.

    Args:
        waveform: ``(..., time)``.
        pad: zeros added on both sides.
        window: window tensor of length ``win_length``.
        n_fft: FFT size.
        hop_length: hop between frames.
        win_length: window length.
        power: exponent of the magnitude (1 magnitude, 2 power), None for the complex STFT.
        normalized: True or ``'window'`` divides by the window's L2 norm, ``'frame_length'``
            normalises the STFT by ``sqrt(n_fft)``.
        center: pad so frame ``t`` is centred at ``t * hop_length``.
        pad_mode: padding mode when ``center``.
        onesided: keep only the non-negative frequencies.
        return_complex: deprecated, ignored.

    Returns:
        ``(..., freq, frames)``.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.spectrogram(torch.ones(1, 400), 0, torch.hann_window(400), 400, 200, 400, 2.0,
        ...                False).shape
        torch.Size([1, 201, 3])
    """
    if pad > 0:
        waveform = F.pad(waveform, (pad, pad), "constant")
    frame_norm, window_norm = _spec_norms(normalized)
    shape = tuple(waveform.shape)
    waveform = waveform.reshape(-1, shape[-1])
    half = n_fft // 2
    if center and pad_mode == "reflect" and shape[-1] > half:
        # Reflect-pad with two flipped slices (a copy of the edges only) rather than a
        # gather through an index map of the whole signal.
        waveform = torch.cat(
            [waveform[:, 1 : half + 1].flip(-1), waveform, waveform[:, -half - 1 : -1].flip(-1)],
            dim=-1,
        )
        center = False
    spec = torch.stft(
        waveform,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
        normalized=frame_norm,
        onesided=onesided,
        return_complex=True,
    )
    spec = spec.reshape(shape[:-1] + tuple(spec.shape[-2:]))
    if window_norm:
        spec = spec / window.pow(2.0).sum().sqrt()
    if power is None:
        return spec
    mag = spec.abs()
    return mag if power == 1.0 else mag.pow(power)


def inverse_spectrogram(
    spectrogram: Tensor,
    length: int | None,
    pad: int,
    window: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int,
    normalized: bool | str,
    center: bool = True,
    pad_mode: str = "reflect",
    onesided: bool = True,
) -> Tensor:
    """Waveform from a complex spectrogram (inverse of ``spectrogram(power=None)``).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> w = torch.hann_window(400); x = torch.randn(1, 1600)
        >>> s = AF.spectrogram(x, 0, w, 400, 100, 400, None, False)
        >>> y = AF.inverse_spectrogram(s, 1600, 0, w, 400, 100, 400, False)
        >>> bool((x - y).abs().max() < 1e-4)
        True
    """
    if not spectrogram.is_complex():
        raise ValueError(
            f"inverse_spectrogram: expected a complex spectrogram, got dtype {spectrogram.dtype}"
        )
    frame_norm, window_norm = _spec_norms(normalized)
    if window_norm:
        spectrogram = spectrogram * window.pow(2.0).sum().sqrt()
    shape = tuple(spectrogram.shape)
    spectrogram = spectrogram.reshape(-1, shape[-2], shape[-1])
    waveform = torch.istft(
        spectrogram,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
        normalized=frame_norm,
        onesided=onesided,
        length=length + 2 * pad if length is not None else None,
        return_complex=False,
    )
    if length is not None and pad > 0:
        waveform = waveform[:, pad:-pad]
    return waveform.reshape(shape[:-2] + tuple(waveform.shape[-1:]))


def _complex_dtype(dtype):
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def griffinlim(
    specgram: Tensor,
    window: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int,
    power: float,
    n_iter: int,
    momentum: float,
    length: int | None,
    rand_init: bool,
) -> Tensor:
    """Waveform from a magnitude/power spectrogram by fast Griffin-Lim phase reconstruction.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> w = torch.hann_window(256)
        >>> s = AF.spectrogram(torch.randn(2, 2048), 0, w, 256, 64, 256, 2.0, False)
        >>> AF.griffinlim(s, w, 256, 64, 256, 2.0, 4, 0.99, 2048, False).shape
        torch.Size([2, 2048])
    """
    if not 0 <= momentum < 1:
        raise ValueError(f"griffinlim: momentum must be in [0, 1), got {momentum}")
    momentum = momentum / (1 + momentum)
    shape = tuple(specgram.shape)
    specgram = specgram.reshape(-1, shape[-2], shape[-1]).pow(1 / power)
    cdt = _complex_dtype(specgram.dtype)
    if rand_init:
        re = torch.rand(specgram.shape, dtype=specgram.dtype, device=specgram.device)
        im = torch.rand(specgram.shape, dtype=specgram.dtype, device=specgram.device)
        angles = torch.complex(re, im)
    else:
        angles = torch.ones(specgram.shape, dtype=cdt, device=specgram.device)
    tprev = None
    kw = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window)
    for _ in range(n_iter):
        inverse = torch.istft(specgram * angles, length=length, **kw)
        rebuilt = torch.stft(
            inverse,
            center=True,
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
            **kw,
        )
        angles = rebuilt
        if momentum and tprev is not None:
            angles = angles - tprev * momentum
        angles = angles / (angles.abs() + 1e-16)
        tprev = rebuilt
    waveform = torch.istft(specgram * angles, length=length, **kw)
    return waveform.reshape(shape[:-2] + tuple(waveform.shape[-1:]))


# --- mel / linear filterbanks and the DCT ------------------------------------------------------
def _hz_to_mel(freq, mel_scale: str = "htk"):
    if mel_scale not in ("slaney", "htk"):
        raise ValueError(f'mel_scale should be one of "htk" or "slaney", got {mel_scale!r}')
    freq = np.asarray(freq, dtype=np.float64)
    if mel_scale == "htk":
        return 2595.0 * np.log10(1.0 + freq / 700.0)
    f_sp = 200.0 / 3
    mels = freq / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return np.where(
        freq >= min_log_hz,
        min_log_mel + np.log(np.maximum(freq, min_log_hz) / min_log_hz) / logstep,
        mels,
    )


def _mel_to_hz(mels, mel_scale: str = "htk"):
    if mel_scale not in ("slaney", "htk"):
        raise ValueError(f'mel_scale should be one of "htk" or "slaney", got {mel_scale!r}')
    mels = np.asarray(mels, dtype=np.float64)
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return np.where(
        mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels
    )


def _triangular(all_freqs: np.ndarray, f_pts: np.ndarray) -> np.ndarray:
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up))


def melscale_fbanks(
    n_freqs: int,
    f_min: float,
    f_max: float,
    n_mels: int,
    sample_rate: int,
    norm: str | None = None,
    mel_scale: str = "htk",
) -> Tensor:
    """Triangular mel filterbank, ``(n_freqs, n_mels)``.

    Args:
        n_freqs: STFT bins (``n_fft // 2 + 1``).
        f_min, f_max: frequency range in Hz.
        n_mels: mel filters.
        sample_rate: sample rate in Hz.
        norm: None, or ``'slaney'`` (each triangle divided by its width in Hz, area 1).
        mel_scale: ``'htk'`` or ``'slaney'``.

    Example:
        >>> import tocha.audio.functional as AF
        >>> AF.melscale_fbanks(201, 0.0, 8000.0, 40, 16000).shape
        torch.Size([201, 40])
    """
    if norm is not None and norm != "slaney":
        raise ValueError(f'melscale_fbanks: norm must be one of None or "slaney", got {norm!r}')
    all_freqs = np.linspace(0, sample_rate // 2, n_freqs)
    m_pts = np.linspace(_hz_to_mel(f_min, mel_scale), _hz_to_mel(f_max, mel_scale), n_mels + 2)
    f_pts = _mel_to_hz(m_pts, mel_scale)
    fb = _triangular(all_freqs, f_pts)
    if norm == "slaney":
        fb = fb * (2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels]))[None, :]
    if (fb.max(axis=0) == 0.0).any():
        warnings.warn(
            "At least one mel filterbank has all zero values. "
            f"The value for `n_mels` ({n_mels}) may be set too high. "
            f"Or, the value for `n_freqs` ({n_freqs}) may be set too low.",
            stacklevel=2,
        )
    return torch.from_numpy(fb.astype(np.float32))


def linear_fbanks(
    n_freqs: int, f_min: float, f_max: float, n_filter: int, sample_rate: int
) -> Tensor:
    """Triangular filterbank with linearly spaced centres, ``(n_freqs, n_filter)``.

    Example:
        >>> import tocha.audio.functional as AF
        >>> AF.linear_fbanks(201, 0.0, 8000.0, 20, 16000).shape
        torch.Size([201, 20])
    """
    all_freqs = np.linspace(0, sample_rate // 2, n_freqs)
    f_pts = np.linspace(f_min, f_max, n_filter + 2)
    return torch.from_numpy(_triangular(all_freqs, f_pts).astype(np.float32))


def create_dct(n_mfcc: int, n_mels: int, norm: str | None) -> Tensor:
    """DCT-II matrix ``(n_mels, n_mfcc)``; ``norm='ortho'`` makes it orthonormal, None scales
    by 2.

    Example:
        >>> import tocha.audio.functional as AF
        >>> AF.create_dct(13, 40, "ortho").shape
        torch.Size([40, 13])
    """
    if norm is not None and norm != "ortho":
        raise ValueError(f'create_dct: norm must be either "ortho" or None, got {norm!r}')
    n = np.arange(n_mels, dtype=np.float64)
    k = np.arange(n_mfcc, dtype=np.float64)[:, None]
    dct = np.cos(math.pi / n_mels * (n + 0.5) * k)
    if norm is None:
        dct *= 2.0
    else:
        dct[0] *= 1.0 / math.sqrt(2.0)
        dct *= math.sqrt(2.0 / n_mels)
    return torch.from_numpy(np.ascontiguousarray(dct.T).astype(np.float32))


def amplitude_to_DB(
    x: Tensor, multiplier: float, amin: float, db_multiplier: float, top_db: float | None = None
) -> Tensor:
    """``multiplier * log10(max(x, amin)) - multiplier * db_multiplier``, optionally clipped
    to ``top_db`` below the maximum (taken per item over the last three dims, as torchaudio).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.amplitude_to_DB(torch.tensor([[1.0, 0.01]]), 10.0, 1e-10, 0.0).round()
        tensor([[  0., -20.]])
    """
    x_db = multiplier * torch.log10(torch.clamp(x, min=amin))
    if db_multiplier:
        x_db = x_db - multiplier * db_multiplier
    if top_db is not None:
        shape = tuple(x_db.shape)
        packed = shape[-3] if x_db.dim() > 2 else 1
        x_db = x_db.reshape(-1, packed, shape[-2], shape[-1])
        floor = (x_db.amax(dim=(-3, -2, -1)) - top_db).reshape(-1, 1, 1, 1)
        x_db = torch.maximum(x_db, floor).reshape(shape)
    return x_db


def DB_to_amplitude(x: Tensor, ref: float, power: float) -> Tensor:
    """Inverse of ``amplitude_to_DB``: ``ref * (10 ** (0.1 * x)) ** power``.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.DB_to_amplitude(torch.tensor([-20.0]), 1.0, 0.5)
        tensor([0.1000])
    """
    return ref * torch.pow(torch.pow(10.0, 0.1 * x), power)


# --- time-frequency utilities ----------------------------------------------------------------
def phase_vocoder(complex_specgrams: Tensor, rate: float, phase_advance: Tensor) -> Tensor:
    """Speed up (rate > 1) or slow down a complex STFT in time without changing pitch.

    Args:
        complex_specgrams: ``(..., freq, time)`` complex.
        rate: speed-up factor.
        phase_advance: ``(freq, 1)`` expected phase advance per hop.

    Example:
        >>> import math, tocha.core as torch, tocha.audio.functional as AF
        >>> s = torch.randn(2, 201, 50, dtype=torch.complex64)
        >>> adv = torch.linspace(0, math.pi * 200, 201)[..., None]
        >>> AF.phase_vocoder(s, 1.3, adv).shape
        torch.Size([2, 201, 39])
    """
    if rate == 1.0:
        return complex_specgrams
    shape = tuple(complex_specgrams.shape)
    spec = complex_specgrams.reshape(-1, shape[-2], shape[-1])
    real_dtype = torch.float64 if spec.dtype == torch.complex128 else torch.float32
    steps = np.arange(
        0, shape[-1], rate, dtype=np.float64 if real_dtype == torch.float64 else np.float32
    )
    time_steps = _const(steps, spec, real_dtype)
    alphas = time_steps % 1.0
    phase_0 = spec[..., :1].angle()
    spec = F.pad(spec, [0, 2])
    idx0 = steps.astype(np.int64)
    s0 = spec[..., idx0]
    s1 = spec[..., idx0 + 1]
    phase = s1.angle() - s0.angle() - phase_advance
    phase = phase - 2 * math.pi * torch.round(phase / (2 * math.pi))
    phase = phase + phase_advance
    phase = torch.cat([phase_0, phase[..., :-1]], dim=-1)
    phase_acc = torch.cumsum(phase, -1)
    mag = alphas * s1.abs() + (1 - alphas) * s0.abs()
    out = torch.polar(mag, phase_acc)
    return out.reshape(shape[:-2] + tuple(out.shape[1:]))


def compute_deltas(specgram: Tensor, win_length: int = 5, mode: str = "replicate") -> Tensor:
    """Delta coefficients (regression over ``win_length`` frames along the last dim).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.compute_deltas(torch.arange(6.0).reshape(1, 6))
        tensor([[0.5000, 0.8000, 1.0000, 1.0000, 0.8000, 0.5000]])
    """
    if win_length < 3:
        raise ValueError(f"compute_deltas: win_length must be >= 3, got {win_length}")
    shape = tuple(specgram.shape)
    x = specgram.reshape(1, -1, shape[-1])
    n = (win_length - 1) // 2
    denom = n * (n + 1) * (2 * n + 1) / 3
    x = F.pad(x, (n, n), mode=mode)
    kernel = _const(np.arange(-n, n + 1, dtype=np.float64), x)
    # A correlation with the same kernel for every row: one contraction over a strided view.
    out = torch.matmul(x.unfold(-1, 2 * n + 1, 1), kernel) / denom
    return out.reshape(shape)


def spectral_centroid(
    waveform: Tensor,
    sample_rate: int,
    pad: int,
    window: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int,
) -> Tensor:
    """Spectral centroid per frame, ``(..., time)``.

    Example:
        >>> import math, tocha.core as torch, tocha.audio.functional as AF
        >>> t = torch.arange(4000) / 8000
        >>> c = AF.spectral_centroid(torch.sin(2 * math.pi * 1000 * t), 8000, 0,
        ...                          torch.hann_window(256), 256, 128, 256)
        >>> round(float(c[5]))
        1000
    """
    spec = spectrogram(waveform, pad, window, n_fft, hop_length, win_length, 1.0, False)
    freqs = _const(np.linspace(0, sample_rate // 2, 1 + n_fft // 2), spec).reshape(-1, 1)
    return (freqs * spec).sum(dim=-2) / spec.sum(dim=-2)


def mu_law_encoding(x: Tensor, quantization_channels: int) -> Tensor:
    """Mu-law companding of [-1, 1] audio into integers ``0 .. quantization_channels - 1``.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.mu_law_encoding(torch.tensor([-1.0, 0.0, 1.0]), 256)
        tensor([  0, 128, 255])
    """
    mu = quantization_channels - 1.0
    if not x.is_floating_point():
        warnings.warn("The input Tensor must be of floating type.", stacklevel=2)
        x = x.to(torch.float)
    x_mu = torch.sign(x) * torch.log1p(mu * torch.abs(x)) / math.log1p(mu)
    return ((x_mu + 1) / 2 * mu + 0.5).to(torch.int64)


def mu_law_decoding(x_mu: Tensor, quantization_channels: int) -> Tensor:
    """Inverse of ``mu_law_encoding``.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.mu_law_decoding(torch.tensor([0, 255]), 256)
        tensor([-1.,  1.])
    """
    mu = quantization_channels - 1.0
    if not x_mu.is_floating_point():
        x_mu = x_mu.to(torch.float)
    x = (x_mu / mu) * 2 - 1.0
    return torch.sign(x) * (torch.exp(torch.abs(x) * math.log1p(mu)) - 1.0) / mu


def sliding_window_cmn(
    specgram: Tensor,
    cmn_window: int = 600,
    min_cmn_window: int = 100,
    center: bool = False,
    norm_vars: bool = False,
) -> Tensor:
    """Sliding-window cepstral mean (and variance) normalisation of ``(..., time, freq)``.

    The window bounds are computed for all frames at once and the means come from cumulative
    sums, so the cost is linear in the number of frames.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.sliding_window_cmn(torch.tensor([[1.0], [3.0]]), cmn_window=2, min_cmn_window=1)
        tensor([[0.],
                [1.]])
    """
    shape = tuple(specgram.shape)
    T, Fq = shape[-2], shape[-1]
    x = specgram.reshape(-1, T, Fq)
    t = np.arange(T)
    if center:
        start = t - cmn_window // 2
        end = start + cmn_window
    else:
        start = t - cmn_window
        end = t + 1
    neg = start < 0
    end = np.where(neg, end - start, end)
    start = np.where(neg, 0, start)
    if not center:
        end = np.where(end > t, np.maximum(t + 1, min_cmn_window), end)
    over = end > T
    start = np.where(over, start - (end - T), start)
    end = np.where(over, T, end)
    start = np.maximum(start, 0)
    zero = torch.zeros(x.shape[0], 1, Fq, dtype=x.dtype, device=x.device)
    csum = torch.cat([zero, torch.cumsum(x, dim=1)], dim=1)
    count = _const((end - start).astype(np.float64), x).reshape(1, T, 1)
    mean = (csum[:, end] - csum[:, start]) / count
    out = x - mean
    if norm_vars:
        csq = torch.cat([zero, torch.cumsum(x * x, dim=1)], dim=1)
        var = (csq[:, end] - csq[:, start]) / count - mean * mean
        # A one-frame window has no variance: torchaudio outputs zeros there.
        single = _const((end - start == 1).astype(np.float64), x).reshape(1, T, 1)
        out = out * torch.rsqrt(var + single) * (1 - single)
    return out.reshape(shape)


def edit_distance(seq1, seq2) -> int:
    """Levenshtein distance between two sequences (strings, lists, 1-D tensors).

    Example:
        >>> import tocha.audio.functional as AF
        >>> AF.edit_distance("kitten", "sitting")
        3
    """
    a = list(seq1.tolist() if hasattr(seq1, "tolist") else seq1)
    b = list(seq2.tolist() if hasattr(seq2, "tolist") else seq2)
    if not a or not b:
        return max(len(a), len(b))
    # One row per element of ``a``; the inner minimum over insertions is a running min, which
    # numpy expresses as a cumulative minimum of (row - j) + j.
    bj = np.array(b, dtype=object)
    prev = np.arange(len(b) + 1)
    j = np.arange(len(b) + 1)
    for ai in a:
        sub = prev[:-1] + (bj != ai).astype(np.int64)
        row = np.empty_like(prev)
        row[0] = prev[0] + 1
        row[1:] = np.minimum(prev[1:] + 1, sub)
        row = np.minimum.accumulate(row - j) + j
        prev = row
    return int(prev[-1])
