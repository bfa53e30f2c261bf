"""Band-limited resampling with a windowed-sinc polyphase filter (torchaudio's kernel).

torchaudio applies its ``(new, 2 * width + orig)`` kernel as a strided ``conv1d``. Here the
padded signal is viewed as rows of ``orig`` samples, and the kernel split into
``ceil(K / orig)`` blocks of ``orig`` taps: the output is a sum of a few dense
``(frames, orig) @ (orig, new)`` matrix products over contiguous row windows, which BLAS runs
at full speed with no im2col copy. The kernel is built once per (rates, parameters) and cached.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.special

import tocha.core as torch
import tocha.core.nn.functional as F

Tensor = torch.Tensor

_METHODS = ("sinc_interp_hann", "sinc_interp_kaiser")


def _sinc_kernel_np(
    orig: int, new: int, lowpass_filter_width: int, rolloff: float, method: str, beta
) -> tuple[np.ndarray, int]:
    """Kernel ``(new, 2 * width + orig)`` in float64 and ``width`` for reduced rates."""
    if method in ("sinc_interpolation",):
        method = "sinc_interp_hann"
    elif method == "kaiser_window":
        method = "sinc_interp_kaiser"
    if method not in _METHODS:
        raise ValueError(f"resample: invalid resampling method: {method}")
    if lowpass_filter_width <= 0:
        raise ValueError(
            f"resample: low pass filter width should be positive, got {lowpass_filter_width}"
        )
    base = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base)
    idx = np.arange(-width, width + orig, dtype=np.float64)[None, :] / orig
    t = np.arange(0, -new, -1, dtype=np.float64)[:, None] / new + idx
    t = np.clip(t * base, -lowpass_filter_width, lowpass_filter_width)
    if method == "sinc_interp_hann":
        window = np.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    else:
        beta = 14.769656459379492 if beta is None else float(beta)
        window = scipy.special.i0(beta * np.sqrt(1 - (t / lowpass_filter_width) ** 2))
        window = window / scipy.special.i0(beta)
    t = t * math.pi
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(t == 0, 1.0, np.sin(t) / t)
    return k * window * (base / orig), width


def _reduce(orig_freq, new_freq) -> tuple[int, int]:
    if orig_freq <= 0 or new_freq <= 0:
        raise ValueError(
            f"resample: frequencies must be positive, got orig_freq={orig_freq}, "
            f"new_freq={new_freq}"
        )
    if int(orig_freq) != orig_freq or int(new_freq) != new_freq:
        raise ValueError(
            f"resample: frequencies must be integers, got orig_freq={orig_freq}, "
            f"new_freq={new_freq}"
        )
    g = math.gcd(int(orig_freq), int(new_freq))
    return int(orig_freq) // g, int(new_freq) // g


class _Plan:
    """Kernel blocks for one (rates, parameters, dtype, device), ready to apply."""

    def __init__(self, orig, new, lowpass_filter_width, rolloff, method, beta, dtype, device):
        k, width = _sinc_kernel_np(orig, new, lowpass_filter_width, rolloff, method, beta)
        K = k.shape[1]
        self.orig, self.new, self.width, self.K = orig, new, width, K
        self.A = -(-K // orig)
        kp = np.zeros((new, self.A * orig))
        kp[:, :K] = k
        # blocks[a] is (orig, new): taps a*orig .. (a+1)*orig - 1, transposed for x @ block.
        blocks = kp.reshape(new, self.A, orig).transpose(1, 2, 0)
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        self.kernel = torch.from_numpy(k.astype(np_dtype)).to(device)
        self.blocks = [
            torch.from_numpy(np.ascontiguousarray(b, dtype=np_dtype)).to(device) for b in blocks
        ]

    def __call__(self, waveform: Tensor) -> Tensor:
        orig, new, width, A = self.orig, self.new, self.width, self.A
        shape = tuple(waveform.shape)
        x = waveform.reshape(-1, shape[-1])
        length = shape[-1]
        target = -(-new * length // orig)
        frames = -(-target // new)
        rows = frames + A - 1
        # Left pad ``width`` as torchaudio; right pad zeros up to whole rows.
        x = F.pad(x, (width, rows * orig - width - length))
        # One signal: plain 2-D GEMMs (cheaper than batched matmul over a batch of one).
        x2 = x.reshape(rows, orig) if x.shape[0] == 1 else x.reshape(x.shape[0], rows, orig)
        # Frames in chunks of ~64K input samples: the A partial products of a chunk then stay
        # in cache instead of streaming the whole signal through memory A times.
        step = max(256, (1 << 16) // orig)
        chunks = []
        for s in range(0, frames, step):
            e = min(frames, s + step)
            out = torch.matmul(x2[..., s:e, :], self.blocks[0])
            for a in range(1, A):
                out = out + torch.matmul(x2[..., s + a : e + a, :], self.blocks[a])
            chunks.append(out)
        out = chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=-2)
        out = out.reshape(x.shape[0], frames * new)[:, :target]
        return out.reshape(shape[:-1] + (target,))


_cached_plan = functools.lru_cache(maxsize=16)(_Plan)


def _plan(orig, new, lowpass_filter_width, rolloff, method, beta, dtype, device) -> _Plan:
    """Plans are cached, except for coprime rates whose kernel is huge (e.g. pitch_shift's
    17959 -> 16000 kernel has ~3e8 taps): keeping those alive would pin gigabytes."""
    args = (orig, new, lowpass_filter_width, rolloff, method, beta, dtype, device)
    if orig * new > 1_000_000:
        return _Plan(*args)
    return _cached_plan(*args)


def _get_sinc_resample_kernel(
    orig_freq: int,
    new_freq: int,
    gcd: int,
    lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
    resampling_method: str = "sinc_interp_hann",
    beta: float | None = None,
    device=None,
    dtype=None,
) -> tuple[Tensor, int]:
    """torchaudio's kernel ``(new, 1, 2 * width + orig)`` and ``width``."""
    k, width = _sinc_kernel_np(
        int(orig_freq) // gcd,
        int(new_freq) // gcd,
        lowpass_filter_width,
        rolloff,
        resampling_method,
        beta,
    )
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    return torch.from_numpy(k[:, None, :].astype(np_dtype)), width


def resample(
    waveform: Tensor,
    orig_freq: int,
    new_freq: int,
    lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
    resampling_method: str = "sinc_interp_hann",
    beta: float | None = None,
) -> Tensor:
    """Resample ``(..., time)`` audio from ``orig_freq`` to ``new_freq`` (band-limited sinc).

    Args:
        waveform: ``(..., time)`` float tensor.
        orig_freq, new_freq: integer rates (reduced by their gcd).
        lowpass_filter_width: zero crossings of the sinc on each side (sharper and slower when
            larger).
        rolloff: cutoff as a fraction of the lower Nyquist frequency.
        resampling_method: ``'sinc_interp_hann'`` or ``'sinc_interp_kaiser'``.
        beta: Kaiser window shape (default 14.769656459379492).

    Returns:
        ``(..., ceil(new_freq * time / orig_freq))``.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.resample(torch.zeros(2, 44100), 44100, 16000).shape
        torch.Size([2, 16000])
    """
    if orig_freq == new_freq:
        return waveform
    orig, new = _reduce(orig_freq, new_freq)
    plan = _plan(
        orig,
        new,
        int(lowpass_filter_width),
        float(rolloff),
        resampling_method,
        None if beta is None else float(beta),
        waveform.dtype,
        waveform.device,
    )
    return plan(waveform)
