"""IIR filtering (``lfilter``, ``filtfilt``), the Audio-EQ-cookbook biquads and simple effects.

``lfilter`` runs the recursion in ``scipy.signal.lfilter`` (``cupyx.scipy.signal.lfilter`` on
CUDA; compiled, direct form II transposed) inside a ``tocha.core.autograd.Function``. Its
backward is written with tocha ops and the same Function, so it is differentiable again
(double backward, Hessian-vector products) in the waveform and both coefficient vectors:

* ``dL/dx`` is the filter run backwards in time over the reversed gradient,
* with ``v`` the gradient pushed backwards through the all-pole part ``1 / A``,
  ``dL/db[j] = sum_t v[t] x[t - j]`` and ``dL/da[j] = -sum_t v[t] y[t - j]``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.signal

import tocha.core as torch

Tensor = torch.Tensor


def _array(t: Tensor):
    """The tensor's data as a NumPy or CuPy array (no copy)."""
    if t.device.type == "cpu":
        return t.detach().numpy()
    import cupy

    return cupy.from_dlpack(t.detach())


def _tensor(arr) -> Tensor:
    if isinstance(arr, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(arr))
    return torch.from_dlpack(arr)


def _iir(x, b, a):
    """Filter ``x`` (N, K, T) with filter k of ``b``/``a`` (K, order) along time."""
    if isinstance(x, np.ndarray):
        lfilt, xp = scipy.signal.lfilter, np
    else:
        import cupy

        try:
            from cupyx.scipy.signal import lfilter as lfilt
        except ImportError:  # an older CuPy: filter on the host, come back to the device
            y = _iir(cupy.asnumpy(x), cupy.asnumpy(b), cupy.asnumpy(a))
            return cupy.asarray(y)
        xp = cupy
    # Coefficients in float64: a float32 recursion with poles near the unit circle drifts.
    b, a = b.astype(np.float64), a.astype(np.float64)
    if b.shape[0] == 1:
        return lfilt(b[0], a[0], x, axis=-1).astype(x.dtype, copy=False)
    y = xp.empty_like(x)
    for k in range(b.shape[0]):  # one compiled call per filter, vectorised over the batch
        y[:, k] = lfilt(b[k], a[k], x[:, k], axis=-1)
    return y


def _xcorr(v: Tensor, x: Tensor, order: int) -> Tensor:
    """``out[k, j] = sum_{n, t} v[n, k, t] * x[n, k, t - j]`` for lags ``j < order``."""
    T = x.shape[-1]
    cols = []
    for j in range(order):  # a few lags (the filter order), each a full-length product
        if j < T:
            cols.append((v[..., j:] * x[..., : T - j]).sum((0, 2)))
        else:
            cols.append(torch.zeros_like(v[0, :, 0]))
    return torch.stack(cols, -1)


class _LFilter(torch.autograd.Function):
    """``y = (B / A) x`` along time for x (N, K, T) and a/b (K, order), any ``a[:, 0] != 0``."""

    @staticmethod
    def forward(ctx, x, a, b):
        out = _tensor(_iir(_array(x), _array(b), _array(a)))
        ctx.save_for_backward(x, a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, a, b, y = ctx.saved_tensors
        need_x, need_a, need_b = ctx.needs_input_grad[:3]
        rev = g.flip(-1)
        gx = ga = gb = None
        if need_x:
            gx = _LFilter.apply(rev, a, b).flip(-1)
        if need_a or need_b:
            # Differentiating A y = B x: dy/db_j = A^-1 x[t-j] and dy/da_j = -A^-1 y[t-j];
            # v = A^-T g is the all-pole filter run backwards in time.
            pulse = torch.zeros_like(b[:, :1])
            pulse = torch.cat([pulse + 1, torch.zeros_like(b[:, 1:])], -1)
            v = _LFilter.apply(rev, a, pulse).flip(-1)
            order = a.shape[-1]
            if need_b:
                gb = _xcorr(v, x, order)
            if need_a:
                ga = -_xcorr(v, y, order)
        return gx, ga, gb


def lfilter(
    waveform: Tensor,
    a_coeffs: Tensor,
    b_coeffs: Tensor,
    clamp: bool = True,
    batching: bool = True,
) -> Tensor:
    """IIR filter ``y[n] = (sum b[k] x[n-k] - sum_{k>0} a[k] y[n-k]) / a[0]`` along time.

    Args:
        waveform: ``(..., time)``.
        a_coeffs: denominator ``(order,)`` or ``(num_filters, order)``.
        b_coeffs: numerator, same shape as ``a_coeffs``.
        clamp: clip the output to [-1, 1].
        batching: with 2-D coefficients, filter k applies to ``waveform[..., k, :]``; if False
            every filter applies to the whole waveform, giving ``(..., num_filters, time)``.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.lfilter(torch.tensor([1.0, 0.0, 0.0]), torch.tensor([1.0, -0.5]),
        ...            torch.tensor([1.0, 0.0]))
        tensor([1.0000, 0.5000, 0.2500])
    """
    if tuple(a_coeffs.shape) != tuple(b_coeffs.shape):
        raise ValueError(
            f"lfilter: a_coeffs {tuple(a_coeffs.shape)} and b_coeffs {tuple(b_coeffs.shape)} "
            "must have the same shape"
        )
    if a_coeffs.dim() not in (1, 2):
        raise ValueError(f"lfilter: coefficients must be 1-D or 2-D, got {a_coeffs.dim()}-D")
    a_coeffs = a_coeffs.to(waveform.dtype)
    b_coeffs = b_coeffs.to(waveform.dtype)
    if a_coeffs.dim() == 2:
        if batching:
            if waveform.dim() < 2 or waveform.shape[-2] != a_coeffs.shape[0]:
                raise ValueError(
                    f"lfilter: with batching, waveform {tuple(waveform.shape)} needs dim -2 equal "
                    f"to the number of filters {a_coeffs.shape[0]}"
                )
        else:
            waveform = waveform.unsqueeze(-2).expand(
                *waveform.shape[:-1], a_coeffs.shape[0], waveform.shape[-1]
            )
    else:
        a_coeffs, b_coeffs = a_coeffs.unsqueeze(0), b_coeffs.unsqueeze(0)
    shape = tuple(waveform.shape)
    x = waveform.reshape(-1, a_coeffs.shape[0], shape[-1])
    out = _LFilter.apply(x, a_coeffs, b_coeffs)
    if clamp:
        out = torch.clamp(out, min=-1.0, max=1.0)
    return out.reshape(shape)


def filtfilt(waveform: Tensor, a_coeffs: Tensor, b_coeffs: Tensor, clamp: bool = True) -> Tensor:
    """Zero-phase filtering: ``lfilter`` forwards then backwards (no edge padding, as
    torchaudio).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.filtfilt(torch.zeros(1, 8), torch.tensor([1.0, -0.5]), torch.tensor([0.5, 0.0])).shape
        torch.Size([1, 8])
    """
    fwd = lfilter(waveform, a_coeffs, b_coeffs, clamp=False, batching=True)
    return lfilter(fwd.flip(-1), a_coeffs, b_coeffs, clamp=clamp, batching=True).flip(-1)


# --- biquads (Robert Bristow-Johnson's Audio EQ Cookbook) ------------------------------------
def _s(v, like: Tensor) -> Tensor:
    """A 0-d tensor of ``like``'s dtype/device (keeps a tensor argument's graph)."""
    if torch.is_tensor(v):
        return v.to(like.dtype)
    return torch.tensor(float(v), dtype=like.dtype, device=like.device)


def biquad(waveform: Tensor, b0, b1, b2, a0, a1, a2) -> Tensor:
    """Second-order IIR filter with the given coefficients (output clamped to [-1, 1]).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.biquad(torch.tensor([1.0, 0.0, 0.0]), 0.5, 0.0, 0.0, 1.0, 0.0, 0.0)
        tensor([0.5000, 0.0000, 0.0000])
    """
    c = [_s(v, waveform).reshape(1) for v in (b0, b1, b2, a0, a1, a2)]
    return lfilter(waveform, torch.cat(c[3:]), torch.cat(c[:3]))


def _w0_alpha(waveform, sample_rate, freq, Q):
    w0 = 2 * math.pi * _s(freq, waveform) / sample_rate
    alpha = torch.sin(w0) / 2 / _s(Q, waveform)
    return w0, alpha


def lowpass_biquad(waveform: Tensor, sample_rate: int, cutoff_freq, Q=0.707) -> Tensor:
    """Two-pole low-pass filter (cookbook LPF).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.lowpass_biquad(torch.zeros(1, 16), 16000, 1000.0).shape
        torch.Size([1, 16])
    """
    w0, alpha = _w0_alpha(waveform, sample_rate, cutoff_freq, Q)
    c = torch.cos(w0)
    b0 = (1 - c) / 2
    return biquad(waveform, b0, 1 - c, b0, 1 + alpha, -2 * c, 1 - alpha)


def highpass_biquad(waveform: Tensor, sample_rate: int, cutoff_freq, Q=0.707) -> Tensor:
    """Two-pole high-pass filter (cookbook HPF)."""
    w0, alpha = _w0_alpha(waveform, sample_rate, cutoff_freq, Q)
    c = torch.cos(w0)
    b0 = (1 + c) / 2
    return biquad(waveform, b0, -1 - c, b0, 1 + alpha, -2 * c, 1 - alpha)


def bandpass_biquad(
    waveform: Tensor, sample_rate: int, central_freq, Q=0.707, const_skirt_gain: bool = False
) -> Tensor:
    """Two-pole band-pass filter (constant skirt gain, or constant 0 dB peak gain)."""
    w0, alpha = _w0_alpha(waveform, sample_rate, central_freq, Q)
    temp = torch.sin(w0) / 2 if const_skirt_gain else alpha
    c = torch.cos(w0)
    return biquad(waveform, temp, 0.0, -temp, 1 + alpha, -2 * c, 1 - alpha)


def bandreject_biquad(waveform: Tensor, sample_rate: int, central_freq, Q=0.707) -> Tensor:
    """Two-pole band-reject (notch) filter."""
    w0, alpha = _w0_alpha(waveform, sample_rate, central_freq, Q)
    c = torch.cos(w0)
    return biquad(waveform, 1.0, -2 * c, 1.0, 1 + alpha, -2 * c, 1 - alpha)


def allpass_biquad(waveform: Tensor, sample_rate: int, central_freq, Q=0.707) -> Tensor:
    """Two-pole all-pass filter."""
    w0, alpha = _w0_alpha(waveform, sample_rate, central_freq, Q)
    c = torch.cos(w0)
    return biquad(waveform, 1 - alpha, -2 * c, 1 + alpha, 1 + alpha, -2 * c, 1 - alpha)


def equalizer_biquad(waveform: Tensor, sample_rate: int, center_freq, gain, Q=0.707) -> Tensor:
    """Peaking equaliser: ``gain`` dB at ``center_freq``."""
    w0, alpha = _w0_alpha(waveform, sample_rate, center_freq, Q)
    A = torch.exp(_s(gain, waveform) / 40.0 * math.log(10))
    c = torch.cos(w0)
    return biquad(
        waveform, 1 + alpha * A, -2 * c, 1 - alpha * A, 1 + alpha / A, -2 * c, 1 - alpha / A
    )


def band_biquad(
    waveform: Tensor, sample_rate: int, central_freq, Q=0.707, noise: bool = False
) -> Tensor:
    """Two-pole band filter (sox ``band``); ``noise`` selects the mode for unpitched audio."""
    w0 = 2 * math.pi * _s(central_freq, waveform) / sample_rate
    bw_hz = _s(central_freq, waveform) / _s(Q, waveform)
    a2 = torch.exp(-2 * math.pi * bw_hz / sample_rate)
    a1 = -4 * a2 / (1 + a2) * torch.cos(w0)
    b0 = torch.sqrt(1 - a1 * a1 / (4 * a2)) * (1 - a2)
    if noise:
        b0 = b0 * (torch.sqrt(((1 + a2) * (1 + a2) - a1 * a1) * (1 - a2) / (1 + a2)) / b0)
    return biquad(waveform, b0, 0.0, 0.0, 1.0, a1, a2)


def _shelf(waveform, sample_rate, gain, central_freq, Q):
    w0, alpha = _w0_alpha(waveform, sample_rate, central_freq, Q)
    A = torch.exp(_s(gain, waveform) / 40 * math.log(10))
    c = torch.cos(w0)
    return A, 2 * torch.sqrt(A) * alpha, (A - 1) * c, (A + 1) * c


def _high_shelf(waveform: Tensor, A, t1, t2, t3) -> Tensor:
    """The high-shelf biquad from the shelf terms (``_shelf``'s); treble and CD
    de-emphasis are both this filter."""
    return biquad(
        waveform,
        A * ((A + 1) + t2 + t1),
        -2 * A * ((A - 1) + t3),
        A * ((A + 1) + t2 - t1),
        (A + 1) - t2 + t1,
        2 * ((A - 1) - t3),
        (A + 1) - t2 - t1,
    )


def treble_biquad(waveform: Tensor, sample_rate: int, gain, central_freq=3000, Q=0.707) -> Tensor:
    """High-shelf filter boosting/cutting above ``central_freq`` by ``gain`` dB."""
    return _high_shelf(waveform, *_shelf(waveform, sample_rate, gain, central_freq, Q))


def bass_biquad(waveform: Tensor, sample_rate: int, gain, central_freq=100, Q=0.707) -> Tensor:
    """Low-shelf filter boosting/cutting below ``central_freq`` by ``gain`` dB."""
    A, t1, t2, t3 = _shelf(waveform, sample_rate, gain, central_freq, Q)
    return biquad(
        waveform,
        A * ((A + 1) - t2 + t1),
        2 * A * ((A - 1) - t3),
        A * ((A + 1) - t2 - t1),
        (A + 1) + t2 + t1,
        -2 * ((A - 1) + t3),
        (A + 1) + t2 - t1,
    )


def deemph_biquad(waveform: Tensor, sample_rate: int) -> Tensor:
    """ISO 908 CD de-emphasis shelving filter (44.1 or 48 kHz only)."""
    if sample_rate == 44100:
        central_freq, width_slope, gain = 5283, 0.4845, -9.477
    elif sample_rate == 48000:
        central_freq, width_slope, gain = 5356, 0.479, -9.62
    else:
        raise ValueError(f"deemph_biquad: sample rate must be 44100 or 48000, got {sample_rate}")
    w0 = 2 * math.pi * central_freq / sample_rate
    A = math.exp(gain / 40.0 * math.log(10))
    alpha = math.sin(w0) / 2 * math.sqrt((A + 1 / A) * (1 / width_slope - 1) + 2)
    t1, t2, t3 = 2 * math.sqrt(A) * alpha, (A - 1) * math.cos(w0), (A + 1) * math.cos(w0)
    return _high_shelf(waveform, A, t1, t2, t3)


# --- simple effects ----------------------------------------------------------------------------
def contrast(waveform: Tensor, enhancement_amount: float = 75.0) -> Tensor:
    """sox ``contrast``: ``sin(x*pi/2 + c * sin(x*2*pi))`` with c = amount / 750.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.contrast(torch.tensor([0.0, 1.0]))
        tensor([0., 1.])
    """
    if not 0 <= enhancement_amount <= 100:
        raise ValueError(
            f"contrast: enhancement_amount must be in [0, 100], got {enhancement_amount}"
        )
    c = enhancement_amount / 750.0
    t1 = waveform * (math.pi / 2)
    return torch.sin(t1 + c * torch.sin(t1 * 4))


def dcshift(waveform: Tensor, shift: float, limiter_gain: float | None = None) -> Tensor:
    """sox ``dcshift``: add ``shift`` (in [-2, 2]); with ``limiter_gain``, samples beyond the
    threshold ``1 - (|shift| - limiter_gain)`` are compressed instead of clipped.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.dcshift(torch.tensor([0.0, 0.5, 0.95]), 0.1)
        tensor([0.1000, 0.6000, 1.0000])
    """
    if limiter_gain is None or shift == 0:
        return torch.clamp(waveform + shift, -1, 1)
    thr = 1.0 - (abs(shift) - limiter_gain)
    plain = torch.clamp(waveform + shift, -1, 1)
    if shift > 0:
        mask = waveform > thr
        lim = torch.clamp((waveform - thr) * limiter_gain / (1 - thr) + thr + shift, max=thr)
    else:
        mask = waveform < -thr
        lim = torch.clamp((waveform + thr) * limiter_gain / (1 - thr) - thr + shift, min=-thr)
    return torch.where(mask, lim, plain)


def overdrive(waveform: Tensor, gain: float = 20, colour: float = 20) -> Tensor:
    """sox ``overdrive``: cubic soft clipping followed by a DC-blocking one-pole filter.

    The per-sample recursion of the DC blocker is ``lfilter([1, -1], [1, -0.995])``.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.overdrive(torch.zeros(1, 4)).shape
        torch.Size([1, 4])
    """
    shape = tuple(waveform.shape)
    x = waveform.reshape(-1, shape[-1])
    g = math.exp(gain * math.log(10) / 20)
    temp = x * g + colour / 200
    soft = temp - temp**3 * (1.0 / 3)
    temp = torch.where(
        temp < -1,
        torch.full_like(temp, -2.0 / 3.0),
        torch.where(temp > 1, torch.full_like(temp, 2.0 / 3.0), soft),
    )
    a = torch.tensor([1.0, -0.995], dtype=x.dtype, device=x.device)
    b = torch.tensor([1.0, -1.0], dtype=x.dtype, device=x.device)
    last_out = lfilter(temp, a, b, clamp=False)
    out = x * 0.5 + last_out * 0.75
    return out.clamp(min=-1, max=1).reshape(shape)
