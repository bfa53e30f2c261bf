"""sox-style modulated-delay effects (``phaser``, ``flanger``) and RIAA playback EQ.

The delay lines feed back on themselves sample by sample, so the recursion runs as a loop over
time, vectorised over every other dimension (channels, batch); the read/write positions do not
depend on the data and are computed up front. These two effects are not differentiable here.
"""

from __future__ import annotations

import math

import numpy as np

import tocha.core as torch

from .filtering import biquad

Tensor = torch.Tensor


def _wave_table(kind: str, as_int: bool, size: int, lo: float, hi: float, phase: float):
    """One period of a sine or triangle LFO scaled to [lo, hi], starting at ``phase``."""
    offset = int(phase / math.pi / 2 * size + 0.5)
    point = (np.arange(size) + offset) % size
    if kind == "SINE":
        d = (np.sin(point / size * 2 * math.pi) + 1) / 2
    else:
        d = point * 2.0 / size
        quarter = (4 * point) // size
        d = np.select([quarter == 0, quarter == 3], [d + 0.5, d - 1.5], 1.5 - d)
    d = d * (hi - lo) + lo
    if as_int:  # round half away from zero, then truncate
        return np.where(d < 0, d - 0.5, d + 0.5).astype(np.int32)
    return d.astype(np.float32)


def _np(x: Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()


def _back(a: np.ndarray, like: Tensor) -> Tensor:
    out = torch.from_numpy(np.ascontiguousarray(a.astype(_np(like[..., :0]).dtype)))
    return out if like.device.type == "cpu" else out.to(like.device)


def phaser(
    waveform: Tensor,
    sample_rate: int,
    gain_in: float = 0.4,
    gain_out: float = 0.74,
    delay_ms: float = 3.0,
    decay: float = 0.4,
    mod_speed: float = 0.5,
    sinusoidal: bool = True,
) -> Tensor:
    """sox ``phaser``: a feedback delay line whose read position is swept by an LFO.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.phaser(torch.zeros(2, 100), 8000).shape
        torch.Size([2, 100])
    """
    shape = tuple(waveform.shape)
    x = _np(waveform).reshape(-1, shape[-1]) * gain_in
    L = int(delay_ms * 0.001 * sample_rate + 0.5)
    M = int(sample_rate / mod_speed + 0.5)
    mod = _wave_table("SINE" if sinusoidal else "TRIANGLE", True, M, 1.0, float(L), math.pi / 2)
    T = shape[-1]
    buf = np.zeros((x.shape[0], L), dtype=x.dtype)
    out = np.empty_like(x)
    t = np.arange(T)
    reads = (t % L + mod[t % M]) % L
    writes = (t + 1) % L
    for i in range(T):
        temp = x[:, i] + buf[:, reads[i]]
        buf[:, writes[i]] = temp * decay
        out[:, i] = temp
    return _back(np.clip(out * gain_out, -1, 1).reshape(shape), waveform)


def flanger(
    waveform: Tensor,
    sample_rate: int,
    delay: float = 0.0,
    depth: float = 2.0,
    regen: float = 0.0,
    width: float = 71.0,
    speed: float = 0.5,
    phase: float = 25.0,
    modulation: str = "sinusoidal",
    interpolation: str = "linear",
) -> Tensor:
    """sox ``flanger`` on ``(..., channel, time)`` audio (at most 4 channels).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.flanger(torch.zeros(2, 100), 8000).shape
        torch.Size([2, 100])
    """
    if modulation not in ("sinusoidal", "triangular"):
        raise ValueError(
            f'flanger: modulation must be "sinusoidal" or "triangular", got {modulation!r}'
        )
    if interpolation not in ("linear", "quadratic"):
        raise ValueError(
            f'flanger: interpolation must be "linear" or "quadratic", got {interpolation!r}'
        )
    shape = tuple(waveform.shape)
    if len(shape) < 2 or shape[-2] > 4:
        raise ValueError(f"flanger: expected (..., channel<=4, time), got {shape}")
    x = _np(waveform).reshape(-1, shape[-2], shape[-1])
    C, T = shape[-2], shape[-1]
    feedback = regen / 100
    delay_gain = width / 100
    in_gain = 1.0 / (1 + delay_gain)
    delay_gain = delay_gain / (1 + delay_gain) * (1 - abs(feedback))
    L = int((delay / 1000 + depth / 1000) * sample_rate + 0.5) + 2
    lfo_len = int(sample_rate / speed)
    lfo = _wave_table(
        "SINE" if modulation == "sinusoidal" else "TRIANGLE",
        False,
        lfo_len,
        float(math.floor(delay / 1000 * sample_rate + 0.5)),
        L - 2.0,
        3 * math.pi / 2,
    )
    ch_offset = (np.arange(C) * lfo_len * (phase / 100) + 0.5).astype(np.int64)
    t = np.arange(T)
    lfo_vals = lfo[(t[:, None] % lfo_len + ch_offset[None, :]) % lfo_len]  # (T, C) float32
    frac = (lfo_vals - np.floor(lfo_vals)).astype(np.float32).astype(x.dtype)
    idelay = np.floor(lfo_vals).astype(np.int64)
    pos = (-(t + 1)) % L  # the write position moves backwards through the buffer
    chans = np.arange(C)
    buf = np.zeros((x.shape[0], C, L), dtype=x.dtype)
    last = np.zeros((x.shape[0], C), dtype=x.dtype)
    out = np.empty_like(x)
    quadratic = interpolation == "quadratic"
    for i in range(T):
        p = pos[i]
        buf[:, :, p] = x[:, :, i] + last * feedback
        r = p + idelay[i]
        d0 = buf[:, chans, r % L]
        d1 = buf[:, chans, (r + 1) % L]
        if quadratic:
            d2 = buf[:, chans, (r + 2) % L] - d0
            d1 = d1 - d0
            a = d2 * 0.5 - d1
            b = d1 * 2 - d2 * 0.5
            delayed = d0 + (a * frac[i] + b) * frac[i]
        else:
            delayed = d0 + (d1 - d0) * frac[i]
        last = delayed
        out[:, :, i] = x[:, :, i] * in_gain + delayed * delay_gain
    return _back(np.clip(out, -1, 1).reshape(shape), waveform)


_RIAA = {
    44100: ([-0.2014898, 0.9233820], [0.7083149, 0.9924091]),
    48000: ([-0.1766069, 0.9321590], [0.7396325, 0.9931330]),
    88200: ([-0.1168735, 0.9648312], [0.8590646, 0.9964002]),
    96000: ([-0.1141486, 0.9676817], [0.8699137, 0.9966946]),
}


def riaa_biquad(waveform: Tensor, sample_rate: int) -> Tensor:
    """RIAA vinyl playback equalisation (sox's pole/zero placement), 0 dB at 1 kHz.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.riaa_biquad(torch.zeros(1, 10), 44100).shape
        torch.Size([1, 10])
    """
    if sample_rate not in _RIAA:
        raise ValueError(
            f"riaa_biquad: sample rate must be 44100, 48000, 88200 or 96000, got {sample_rate}"
        )
    z, p = _RIAA[sample_rate]
    b = [1.0, -(z[0] + z[1]), z[0] * z[1]]
    a = [1.0, -(p[0] + p[1]), p[0] * p[1]]
    w = 2 * math.pi * 1000 / sample_rate
    e = np.exp(-1j * w * np.arange(3))
    g = 1 / abs(np.dot(b, e) / np.dot(a, e))
    return biquad(waveform, b[0] * g, b[1] * g, b[2] * g, a[0], a[1], a[2])


def dither(waveform: Tensor, density_function: str = "TPDF", noise_shaping: bool = False) -> Tensor:
    """Requantise to 16 bits with dither, as torchaudio's ``dither``.

    ``'TPDF'`` adds torchaudio's deterministic triangular (Bartlett) ramp across the signal
    before rounding; ``'RPDF'`` and ``'GPDF'`` add one value built from randomly picked samples.
    ``noise_shaping`` adds the previous sample's quantisation error.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.dither(torch.zeros(1, 5)) * 2**15  # the ramp 0, .4, .8, .8, .4 rounded
        tensor([[0., 0., 1., 1., 0.]])
    """
    if density_function not in ("TPDF", "RPDF", "GPDF"):
        raise ValueError(
            f"dither: density_function must be TPDF, RPDF or GPDF, got {density_function!r}"
        )
    shape = tuple(waveform.shape)
    x = waveform.reshape(-1, shape[-1])
    n_ch, n_t = x.shape[0] - 1, x.shape[1] - 1
    scaled = x * (2**15 - 2)

    def pick(n: int) -> int:
        return int(torch.randint(n, (1,))) if n > 0 else 0

    if density_function == "TPDF":
        noise = torch.bartlett_window(n_t + 1, dtype=x.dtype, device=x.device)
    elif density_function == "RPDF":
        noise = x[pick(n_ch), pick(n_t)] - 0.5
    else:
        noise = x[pick(n_ch), pick(n_t)]
        for _ in range(6):
            noise = noise + x[pick(n_ch), pick(n_t)]
    out = torch.round(scaled + noise) / 2**15
    if noise_shaping:
        err = out - x
        out = out + torch.cat([torch.zeros_like(err[:, :1]), err[:, :-1]], dim=1)
    return out.reshape(shape)
