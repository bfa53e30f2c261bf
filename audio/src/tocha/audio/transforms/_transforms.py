"""torchaudio.transforms: Modules wrapping ``tocha.audio.functional`` with their parameters
(windows, filterbanks, DCT matrices) held as buffers under torchaudio's ``state_dict`` names."""

from __future__ import annotations

import math
from collections.abc import Callable

import tocha.core as torch
from tocha.core import nn

from .. import functional as F

Tensor = torch.Tensor


def _window(window_fn, win_length, wkwargs):
    return window_fn(win_length) if wkwargs is None else window_fn(win_length, **wkwargs)


class Spectrogram(nn.Module):
    """Spectrogram of ``(..., time)`` audio: ``(..., n_fft // 2 + 1, frames)``.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> T.Spectrogram(n_fft=512)(torch.randn(2, 16000)).shape
        torch.Size([2, 257, 63])
    """

    def __init__(
        self,
        n_fft: int = 400,
        win_length: int | None = None,
        hop_length: int | None = None,
        pad: int = 0,
        window_fn: Callable[..., Tensor] = torch.hann_window,
        power: float | None = 2.0,
        normalized: bool | str = False,
        wkwargs: dict | None = None,
        center: bool = True,
        pad_mode: str = "reflect",
        onesided: bool = True,
        return_complex: bool | None = None,
    ) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.win_length = win_length if win_length is not None else n_fft
        self.hop_length = hop_length if hop_length is not None else self.win_length // 2
        self.register_buffer("window", _window(window_fn, self.win_length, wkwargs))
        self.pad = pad
        self.power = power
        self.normalized = normalized
        self.center = center
        self.pad_mode = pad_mode
        self.onesided = onesided

    def forward(self, waveform: Tensor) -> Tensor:
        return F.spectrogram(
            waveform,
            self.pad,
            self.window,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.power,
            self.normalized,
            self.center,
            self.pad_mode,
            self.onesided,
        )


class InverseSpectrogram(nn.Module):
    """Waveform from a complex spectrogram.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> s = T.Spectrogram(power=None)(torch.randn(1, 1600))
        >>> T.InverseSpectrogram()(s, 1600).shape
        torch.Size([1, 1600])
    """

    def __init__(
        self,
        n_fft: int = 400,
        win_length: int | None = None,
        hop_length: int | None = None,
        pad: int = 0,
        window_fn: Callable[..., Tensor] = torch.hann_window,
        normalized: bool | str = False,
        wkwargs: dict | None = None,
        center: bool = True,
        pad_mode: str = "reflect",
        onesided: bool = True,
    ) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.win_length = win_length if win_length is not None else n_fft
        self.hop_length = hop_length if hop_length is not None else self.win_length // 2
        self.register_buffer("window", _window(window_fn, self.win_length, wkwargs))
        self.pad = pad
        self.normalized = normalized
        self.center = center
        self.pad_mode = pad_mode
        self.onesided = onesided

    def forward(self, spectrogram: Tensor, length: int | None = None) -> Tensor:
        return F.inverse_spectrogram(
            spectrogram,
            length,
            self.pad,
            self.window,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.normalized,
            self.center,
            self.pad_mode,
            self.onesided,
        )


class GriffinLim(nn.Module):
    """Waveform from a magnitude/power spectrogram by Griffin-Lim iterations.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> s = T.Spectrogram()(torch.randn(1, 1600))
        >>> T.GriffinLim(n_iter=2)(s).shape
        torch.Size([1, 1600])
    """

    def __init__(
        self,
        n_fft: int = 400,
        n_iter: int = 32,
        win_length: int | None = None,
        hop_length: int | None = None,
        window_fn: Callable[..., Tensor] = torch.hann_window,
        power: float = 2.0,
        wkwargs: dict | None = None,
        momentum: float = 0.99,
        length: int | None = None,
        rand_init: bool = True,
    ) -> None:
        super().__init__()
        if not 0 <= momentum < 1:
            raise ValueError(f"GriffinLim: momentum must be in [0, 1), got {momentum}")
        self.n_fft = n_fft
        self.n_iter = n_iter
        self.win_length = win_length if win_length is not None else n_fft
        self.hop_length = hop_length if hop_length is not None else self.win_length // 2
        self.register_buffer("window", _window(window_fn, self.win_length, wkwargs))
        self.length = length
        self.power = power
        self.momentum = momentum
        self.rand_init = rand_init

    def forward(self, specgram: Tensor) -> Tensor:
        return F.griffinlim(
            specgram,
            self.window,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.power,
            self.n_iter,
            self.momentum,
            self.length,
            self.rand_init,
        )


class AmplitudeToDB(nn.Module):
    """Power or amplitude spectrogram to decibels.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> T.AmplitudeToDB()(torch.tensor([100.0])).round()
        tensor([20.])
    """

    def __init__(self, stype: str = "power", top_db: float | None = None) -> None:
        super().__init__()
        self.stype = stype
        if top_db is not None and top_db < 0:
            raise ValueError(f"AmplitudeToDB: top_db must be positive, got {top_db}")
        self.top_db = top_db
        self.multiplier = 10.0 if stype == "power" else 20.0
        self.amin = 1e-10
        self.ref_value = 1.0
        self.db_multiplier = math.log10(max(self.amin, self.ref_value))

    def forward(self, x: Tensor) -> Tensor:
        return F.amplitude_to_DB(x, self.multiplier, self.amin, self.db_multiplier, self.top_db)


class MelScale(nn.Module):
    """Project an STFT spectrogram ``(..., n_stft, time)`` onto mel bins ``(..., n_mels, time)``.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> T.MelScale(n_mels=40, n_stft=201)(torch.rand(201, 5)).shape
        torch.Size([40, 5])
    """

    def __init__(
        self,
        n_mels: int = 128,
        sample_rate: int = 16000,
        f_min: float = 0.0,
        f_max: float | None = None,
        n_stft: int = 201,
        norm: str | None = None,
        mel_scale: str = "htk",
    ) -> None:
        super().__init__()
        self.n_mels = n_mels
        self.sample_rate = sample_rate
        self.f_max = f_max if f_max is not None else float(sample_rate // 2)
        self.f_min = f_min
        self.norm = norm
        self.mel_scale = mel_scale
        if f_min > self.f_max:
            raise ValueError(f"MelScale: f_min ({f_min}) must be <= f_max ({self.f_max})")
        fb = F.melscale_fbanks(n_stft, self.f_min, self.f_max, n_mels, sample_rate, norm, mel_scale)
        self.register_buffer("fb", fb)

    def forward(self, specgram: Tensor) -> Tensor:
        return torch.matmul(specgram.transpose(-1, -2), self.fb).transpose(-1, -2)


class InverseMelScale(nn.Module):
    """Least-squares STFT magnitudes from mel bins (non-negative, as torchaudio's).

    The minimum-norm least-squares solution of ``fb.T @ spec = mel`` is the same for every
    input, so it is a fixed matrix (the pseudo-inverse) applied by one matmul.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> T.InverseMelScale(n_stft=201, n_mels=40)(torch.rand(40, 5)).shape
        torch.Size([201, 5])
    """

    def __init__(
        self,
        n_stft: int,
        n_mels: int = 128,
        sample_rate: int = 16000,
        f_min: float = 0.0,
        f_max: float | None = None,
        norm: str | None = None,
        mel_scale: str = "htk",
        driver: str = "gels",
    ) -> None:
        super().__init__()
        self.n_mels = n_mels
        self.sample_rate = sample_rate
        self.f_max = f_max or float(sample_rate // 2)
        self.f_min = f_min
        self.driver = driver
        if f_min > self.f_max:
            raise ValueError(f"InverseMelScale: f_min ({f_min}) must be <= f_max ({self.f_max})")
        if driver not in ("gels", "gelsy", "gelsd", "gelss"):
            raise ValueError(
                f"InverseMelScale: driver must be gels/gelsy/gelsd/gelss, got {driver}"
            )
        fb = F.melscale_fbanks(n_stft, self.f_min, self.f_max, n_mels, sample_rate, norm, mel_scale)
        self.register_buffer("fb", fb)

    def forward(self, melspec: Tensor) -> Tensor:
        shape = tuple(melspec.shape)
        if shape[-2] != self.n_mels:
            raise ValueError(f"InverseMelScale: expected {self.n_mels} mel bins, got {shape[-2]}")
        pinv = torch.linalg.pinv(self.fb.transpose(-1, -2).to(torch.float64)).to(melspec.dtype)
        spec = torch.relu(torch.matmul(pinv, melspec.reshape(-1, shape[-2], shape[-1])))
        return spec.reshape(shape[:-2] + (self.fb.shape[0], shape[-1]))


class MelSpectrogram(nn.Module):
    """Mel spectrogram: ``Spectrogram`` then ``MelScale``.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> T.MelSpectrogram(sample_rate=16000, n_mels=64)(torch.randn(1, 16000)).shape
        torch.Size([1, 64, 81])
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 400,
        win_length: int | None = None,
        hop_length: int | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
        pad: int = 0,
        n_mels: int = 128,
        window_fn: Callable[..., Tensor] = torch.hann_window,
        power: float = 2.0,
        normalized: bool = False,
        wkwargs: dict | None = None,
        center: bool = True,
        pad_mode: str = "reflect",
        onesided: bool | None = None,
        norm: str | None = None,
        mel_scale: str = "htk",
    ) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.win_length = win_length if win_length is not None else n_fft
        self.hop_length = hop_length if hop_length is not None else self.win_length // 2
        self.pad = pad
        self.power = power
        self.normalized = normalized
        self.n_mels = n_mels
        self.f_max = f_max
        self.f_min = f_min
        self.spectrogram = Spectrogram(
            n_fft=n_fft,
            win_length=self.win_length,
            hop_length=self.hop_length,
            pad=pad,
            window_fn=window_fn,
            power=power,
            normalized=normalized,
            wkwargs=wkwargs,
            center=center,
            pad_mode=pad_mode,
            onesided=True,
        )
        self.mel_scale = MelScale(
            n_mels, sample_rate, f_min, f_max, n_fft // 2 + 1, norm, mel_scale
        )

    def forward(self, waveform: Tensor) -> Tensor:
        return self.mel_scale(self.spectrogram(waveform))


class MFCC(nn.Module):
    """Mel-frequency cepstral coefficients: DCT of dB (or log) mel spectrogram.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> T.MFCC(sample_rate=16000, n_mfcc=13)(torch.randn(1, 16000)).shape
        torch.Size([1, 13, 81])
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mfcc: int = 40,
        dct_type: int = 2,
        norm: str = "ortho",
        log_mels: bool = False,
        melkwargs: dict | None = None,
    ) -> None:
        super().__init__()
        if dct_type != 2:
            raise ValueError(f"MFCC: DCT type {dct_type} is not supported (only 2)")
        self.sample_rate = sample_rate
        self.n_mfcc = n_mfcc
        self.dct_type = dct_type
        self.norm = norm
        self.top_db = 80.0
        self.amplitude_to_DB = AmplitudeToDB("power", self.top_db)
        melkwargs = melkwargs or {}
        self.MelSpectrogram = MelSpectrogram(sample_rate=sample_rate, **melkwargs)
        if n_mfcc > self.MelSpectrogram.n_mels:
            raise ValueError(
                f"MFCC: n_mfcc ({n_mfcc}) cannot be larger than n_mels "
                f"({self.MelSpectrogram.n_mels})"
            )
        self.register_buffer("dct_mat", F.create_dct(n_mfcc, self.MelSpectrogram.n_mels, norm))
        self.log_mels = log_mels

    def forward(self, waveform: Tensor) -> Tensor:
        mel = self.MelSpectrogram(waveform)
        mel = torch.log(mel + 1e-6) if self.log_mels else self.amplitude_to_DB(mel)
        return torch.matmul(mel.transpose(-1, -2), self.dct_mat).transpose(-1, -2)


class LFCC(nn.Module):
    """Linear-frequency cepstral coefficients.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> T.LFCC(sample_rate=16000, n_lfcc=20)(torch.randn(1, 16000)).shape
        torch.Size([1, 20, 81])
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_filter: int = 128,
        f_min: float = 0.0,
        f_max: float | None = None,
        n_lfcc: int = 40,
        dct_type: int = 2,
        norm: str = "ortho",
        log_lf: bool = False,
        speckwargs: dict | None = None,
    ) -> None:
        super().__init__()
        if dct_type != 2:
            raise ValueError(f"LFCC: DCT type {dct_type} is not supported (only 2)")
        self.sample_rate = sample_rate
        self.f_min = f_min
        self.f_max = f_max if f_max is not None else float(sample_rate // 2)
        self.n_filter = n_filter
        self.n_lfcc = n_lfcc
        self.dct_type = dct_type
        self.norm = norm
        self.log_lf = log_lf
        self.top_db = 80.0
        self.amplitude_to_DB = AmplitudeToDB("power", self.top_db)
        self.Spectrogram = Spectrogram(**(speckwargs or {}))
        if n_lfcc > self.Spectrogram.n_fft:
            raise ValueError(
                f"LFCC: n_lfcc ({n_lfcc}) cannot be larger than n_fft ({self.Spectrogram.n_fft})"
            )
        fm = F.linear_fbanks(
            self.Spectrogram.n_fft // 2 + 1, f_min, self.f_max, n_filter, sample_rate
        )
        self.register_buffer("filter_mat", fm)
        self.register_buffer("dct_mat", F.create_dct(n_lfcc, n_filter, norm))

    def forward(self, waveform: Tensor) -> Tensor:
        spec = self.Spectrogram(waveform)
        spec = torch.matmul(spec.transpose(-1, -2), self.filter_mat).transpose(-1, -2)
        spec = torch.log(spec + 1e-6) if self.log_lf else self.amplitude_to_DB(spec)
        return torch.matmul(spec.transpose(-1, -2), self.dct_mat).transpose(-1, -2)


class MuLawEncoding(nn.Module):
    """Mu-law encode [-1, 1] audio to ``quantization_channels`` integer levels."""

    def __init__(self, quantization_channels: int = 256) -> None:
        super().__init__()
        self.quantization_channels = quantization_channels

    def forward(self, x: Tensor) -> Tensor:
        return F.mu_law_encoding(x, self.quantization_channels)


class MuLawDecoding(nn.Module):
    """Decode mu-law integer levels back to [-1, 1]."""

    def __init__(self, quantization_channels: int = 256) -> None:
        super().__init__()
        self.quantization_channels = quantization_channels

    def forward(self, x_mu: Tensor) -> Tensor:
        return F.mu_law_decoding(x_mu, self.quantization_channels)


class Resample(nn.Module):
    """Resample with a windowed-sinc kernel computed once (buffer ``kernel``) and reused.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> T.Resample(48000, 16000)(torch.zeros(1, 4800)).shape
        torch.Size([1, 1600])
    """

    def __init__(
        self,
        orig_freq: int = 16000,
        new_freq: int = 16000,
        resampling_method: str = "sinc_interp_hann",
        lowpass_filter_width: int = 6,
        rolloff: float = 0.99,
        beta: float | None = None,
        *,
        dtype=None,
    ) -> None:
        super().__init__()
        self.orig_freq = orig_freq
        self.new_freq = new_freq
        self.gcd = math.gcd(int(orig_freq), int(new_freq))
        self.resampling_method = resampling_method
        self.lowpass_filter_width = lowpass_filter_width
        self.rolloff = rolloff
        self.beta = beta
        if self.orig_freq != self.new_freq:
            from ..functional._resample import _get_sinc_resample_kernel

            kernel, self.width = _get_sinc_resample_kernel(
                orig_freq,
                new_freq,
                self.gcd,
                lowpass_filter_width,
                rolloff,
                resampling_method,
                beta,
                dtype=dtype,
            )
            self.register_buffer("kernel", kernel, persistent=False)

    def forward(self, waveform: Tensor) -> Tensor:
        if self.orig_freq == self.new_freq:
            return waveform
        from ..functional._resample import _Plan, _reduce

        # The module keeps its own ready-to-apply kernel blocks per dtype/device.
        key = (waveform.dtype, waveform.device)
        plan = self.__dict__.get("_plan")
        if plan is None or self.__dict__.get("_plan_key") != key:
            o, n = _reduce(self.orig_freq, self.new_freq)
            beta = None if self.beta is None else float(self.beta)
            plan = _Plan(
                o,
                n,
                int(self.lowpass_filter_width),
                float(self.rolloff),
                self.resampling_method,
                beta,
                *key,
            )
            self.__dict__["_plan"], self.__dict__["_plan_key"] = plan, key
        return plan(waveform)


class ComputeDeltas(nn.Module):
    """Delta coefficients of a ``(..., freq, time)`` tensor."""

    def __init__(self, win_length: int = 5, mode: str = "replicate") -> None:
        super().__init__()
        self.win_length = win_length
        self.mode = mode

    def forward(self, specgram: Tensor) -> Tensor:
        return F.compute_deltas(specgram, self.win_length, self.mode)


class TimeStretch(nn.Module):
    """Stretch a complex STFT in time by ``rate`` without changing pitch.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> s = torch.randn(1, 201, 100, dtype=torch.complex64)
        >>> T.TimeStretch(n_freq=201, fixed_rate=2.0)(s).shape
        torch.Size([1, 201, 50])
    """

    def __init__(
        self, hop_length: int | None = None, n_freq: int = 201, fixed_rate: float | None = None
    ) -> None:
        super().__init__()
        self.fixed_rate = fixed_rate
        n_fft = (n_freq - 1) * 2
        hop_length = hop_length if hop_length is not None else n_fft // 2
        self.register_buffer(
            "phase_advance", torch.linspace(0, math.pi * hop_length, n_freq)[..., None]
        )

    def forward(self, complex_specgrams: Tensor, overriding_rate: float | None = None) -> Tensor:
        rate = self.fixed_rate if overriding_rate is None else overriding_rate
        if rate is None:
            raise ValueError("TimeStretch: give fixed_rate or overriding_rate")
        return F.phase_vocoder(complex_specgrams, rate, self.phase_advance)


class Fade(nn.Module):
    """Fade in and out (linear, exponential, logarithmic, quarter_sine, half_sine).

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> T.Fade(fade_in_len=3, fade_out_len=2)(torch.ones(6))
        tensor([0.0000, 0.5000, 1.0000, 1.0000, 1.0000, 0.0000])
    """

    _SHAPES = ("linear", "exponential", "logarithmic", "quarter_sine", "half_sine")

    def __init__(
        self, fade_in_len: int = 0, fade_out_len: int = 0, fade_shape: str = "linear"
    ) -> None:
        super().__init__()
        if fade_shape not in self._SHAPES:
            raise ValueError(f"Fade: fade_shape must be one of {self._SHAPES}, got {fade_shape!r}")
        self.fade_in_len = fade_in_len
        self.fade_out_len = fade_out_len
        self.fade_shape = fade_shape

    def forward(self, waveform: Tensor) -> Tensor:
        n = waveform.shape[-1]
        kw = dict(dtype=waveform.dtype, device=waveform.device)
        return self._fade_in(n, **kw) * self._fade_out(n, **kw) * waveform

    def _fade_in(self, n: int, **kw) -> Tensor:
        f = torch.linspace(0, 1, self.fade_in_len, **kw)
        ones = torch.ones(n - self.fade_in_len, **kw)
        s = self.fade_shape
        if s == "exponential":
            f = torch.pow(2, (f - 1) * 5) * f
        elif s == "logarithmic":
            f = torch.log10(0.1 + f) + 1
        elif s == "quarter_sine":
            f = torch.sin(f * math.pi / 2)
        elif s == "half_sine":
            f = torch.sin(f * math.pi - math.pi / 2) / 2 + 0.5
        return torch.cat((f, ones)).clamp(0, 1)

    def _fade_out(self, n: int, **kw) -> Tensor:
        f = torch.linspace(0, 1, self.fade_out_len, **kw)
        ones = torch.ones(n - self.fade_out_len, **kw)
        s = self.fade_shape
        if s == "linear":
            f = -f + 1
        elif s == "exponential":
            f = torch.pow(2, -f * 5) * (1 - f)
        elif s == "logarithmic":
            f = torch.log10(1.1 - f) + 1
        elif s == "quarter_sine":
            f = torch.sin(f * math.pi / 2 + math.pi / 2)
        else:
            f = torch.sin(f * math.pi + math.pi / 2) / 2 + 0.5
        return torch.cat((ones, f)).clamp(0, 1)


class Vol(nn.Module):
    """Scale the amplitude (``gain_type`` 'amplitude', 'db' or 'power'), clamped to [-1, 1].

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> T.Vol(0.5)(torch.tensor([1.0, -4.0]))
        tensor([ 0.5000, -1.0000])
    """

    def __init__(self, gain: float, gain_type: str = "amplitude") -> None:
        super().__init__()
        if gain_type not in ("amplitude", "power", "db"):
            raise ValueError(f"Vol: gain_type must be amplitude, power or db, got {gain_type!r}")
        if gain_type in ("amplitude", "power") and gain < 0:
            raise ValueError(f"Vol: to use gain_type {gain_type!r}, gain must be >= 0: {gain}")
        self.gain = gain
        self.gain_type = gain_type

    def forward(self, waveform: Tensor) -> Tensor:
        if self.gain_type == "amplitude":
            waveform = waveform * self.gain
        elif self.gain_type == "db":
            waveform = F.gain(waveform, self.gain)
        else:
            waveform = F.gain(waveform, 10 * math.log10(self.gain))
        return torch.clamp(waveform, -1, 1)


class SlidingWindowCmn(nn.Module):
    """Sliding-window cepstral mean (and variance) normalisation."""

    def __init__(
        self,
        cmn_window: int = 600,
        min_cmn_window: int = 100,
        center: bool = False,
        norm_vars: bool = False,
    ) -> None:
        super().__init__()
        self.cmn_window = cmn_window
        self.min_cmn_window = min_cmn_window
        self.center = center
        self.norm_vars = norm_vars

    def forward(self, specgram: Tensor) -> Tensor:
        return F.sliding_window_cmn(
            specgram, self.cmn_window, self.min_cmn_window, self.center, self.norm_vars
        )


class SpectralCentroid(nn.Module):
    """Spectral centroid per frame."""

    def __init__(
        self,
        sample_rate: int,
        n_fft: int = 400,
        win_length: int | None = None,
        hop_length: int | None = None,
        pad: int = 0,
        window_fn: Callable[..., Tensor] = torch.hann_window,
        wkwargs: dict | None = None,
    ) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.win_length = win_length if win_length is not None else n_fft
        self.hop_length = hop_length if hop_length is not None else self.win_length // 2
        self.register_buffer("window", _window(window_fn, self.win_length, wkwargs))
        self.pad = pad

    def forward(self, waveform: Tensor) -> Tensor:
        return F.spectral_centroid(
            waveform,
            self.sample_rate,
            self.pad,
            self.window,
            self.n_fft,
            self.hop_length,
            self.win_length,
        )


class PitchShift(nn.Module):
    """Shift pitch by ``n_steps`` steps of ``bins_per_octave``."""

    def __init__(
        self,
        sample_rate: int,
        n_steps: int,
        bins_per_octave: int = 12,
        n_fft: int = 512,
        win_length: int | None = None,
        hop_length: int | None = None,
        window_fn: Callable[..., Tensor] = torch.hann_window,
        wkwargs: dict | None = None,
    ) -> None:
        super().__init__()
        self.n_steps = n_steps
        self.bins_per_octave = bins_per_octave
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.win_length = win_length if win_length is not None else n_fft
        self.hop_length = hop_length if hop_length is not None else self.win_length // 4
        self.register_buffer("window", _window(window_fn, self.win_length, wkwargs))

    def forward(self, waveform: Tensor) -> Tensor:
        return F.pitch_shift(
            waveform,
            self.sample_rate,
            self.n_steps,
            self.bins_per_octave,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.window,
        )


class Speed(nn.Module):
    """Speed perturbation by ``factor``; returns ``(waveform, lengths)``."""

    def __init__(self, orig_freq: int, factor: float) -> None:
        super().__init__()
        self.orig_freq = orig_freq
        self.factor = factor

    def forward(self, waveform: Tensor, lengths: Tensor | None = None):
        return F.speed(waveform, self.orig_freq, self.factor, lengths)


class SpeedPerturbation(nn.Module):
    """Speed perturbation by a factor drawn uniformly from ``factors``."""

    def __init__(self, orig_freq: int, factors) -> None:
        super().__init__()
        self.speeders = nn.ModuleList([Speed(orig_freq, f) for f in factors])

    def forward(self, waveform: Tensor, lengths: Tensor | None = None):
        idx = int(torch.randint(len(self.speeders), ()))
        return self.speeders[idx](waveform, lengths)


class AddNoise(nn.Module):
    """Add noise at a given SNR (see ``functional.add_noise``)."""

    def forward(
        self, waveform: Tensor, noise: Tensor, snr: Tensor, lengths: Tensor | None = None
    ) -> Tensor:
        return F.add_noise(waveform, noise, snr, lengths)


class Convolve(nn.Module):
    """``functional.convolve`` as a module."""

    def __init__(self, mode: str = "full") -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return F.convolve(x, y, self.mode)


class FFTConvolve(nn.Module):
    """``functional.fftconvolve`` as a module."""

    def __init__(self, mode: str = "full") -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return F.fftconvolve(x, y, self.mode)


class Preemphasis(nn.Module):
    """``functional.preemphasis`` as a module."""

    def __init__(self, coeff: float = 0.97) -> None:
        super().__init__()
        self.coeff = coeff

    def forward(self, waveform: Tensor) -> Tensor:
        return F.preemphasis(waveform, self.coeff)


class Deemphasis(nn.Module):
    """``functional.deemphasis`` as a module."""

    def __init__(self, coeff: float = 0.97) -> None:
        super().__init__()
        self.coeff = coeff

    def forward(self, waveform: Tensor) -> Tensor:
        return F.deemphasis(waveform, self.coeff)


class Loudness(nn.Module):
    """Integrated loudness (ITU-R BS.1770-4) in LKFS."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.sample_rate = sample_rate

    def forward(self, wavefrom: Tensor) -> Tensor:
        return F.loudness(wavefrom, self.sample_rate)


class _AxisMasking(nn.Module):
    def __init__(self, mask_param: int, axis: int, iid_masks: bool, p: float = 1.0) -> None:
        super().__init__()
        self.mask_param = mask_param
        self.axis = axis
        self.iid_masks = iid_masks
        self.p = p

    def forward(self, specgram: Tensor, mask_value: float = 0.0) -> Tensor:
        axis = self.axis + specgram.dim() - 3
        if self.iid_masks:
            return F.mask_along_axis_iid(specgram, self.mask_param, mask_value, axis, p=self.p)
        return F.mask_along_axis(specgram, self.mask_param, mask_value, axis, p=self.p)


class FrequencyMasking(_AxisMasking):
    """SpecAugment frequency masking: one band of up to ``freq_mask_param`` bins.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> _ = torch.manual_seed(0)
        >>> T.FrequencyMasking(freq_mask_param=8)(torch.ones(1, 40, 20)).shape
        torch.Size([1, 40, 20])
    """

    def __init__(self, freq_mask_param: int, iid_masks: bool = False) -> None:
        super().__init__(freq_mask_param, 1, iid_masks)


class TimeMasking(_AxisMasking):
    """SpecAugment time masking: one band of up to ``time_mask_param`` frames (at most a
    fraction ``p`` of the frames)."""

    def __init__(self, time_mask_param: int, iid_masks: bool = False, p: float = 1.0) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"TimeMasking: p must be in [0, 1], got {p}")
        super().__init__(time_mask_param, 2, iid_masks, p=p)


class SpecAugment(nn.Module):
    """Several time and frequency masks (SpecAugment without time warping).

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> _ = torch.manual_seed(0)
        >>> T.SpecAugment(2, 5, 2, 5)(torch.ones(2, 1, 40, 50)).shape
        torch.Size([2, 1, 40, 50])
    """

    def __init__(
        self,
        n_time_masks: int,
        time_mask_param: int,
        n_freq_masks: int,
        freq_mask_param: int,
        iid_masks: bool = True,
        p: float = 1.0,
        zero_masking: bool = False,
    ) -> None:
        super().__init__()
        self.n_time_masks = n_time_masks
        self.time_mask_param = time_mask_param
        self.n_freq_masks = n_freq_masks
        self.freq_mask_param = freq_mask_param
        self.iid_masks = iid_masks
        self.p = p
        self.zero_masking = zero_masking

    def forward(self, specgram: Tensor) -> Tensor:
        mask_value = 0.0 if self.zero_masking else float(specgram.mean())
        time_dim = specgram.dim() - 1
        freq_dim = time_dim - 1
        iid = specgram.dim() > 2 and self.iid_masks
        fn = F.mask_along_axis_iid if iid else F.mask_along_axis
        for _ in range(self.n_time_masks):
            specgram = fn(specgram, self.time_mask_param, mask_value, time_dim, p=self.p)
        for _ in range(self.n_freq_masks):
            specgram = fn(specgram, self.freq_mask_param, mask_value, freq_dim, p=self.p)
        return specgram


class RNNTLoss(nn.Module):
    """``functional.rnnt_loss`` as a module.

    Example:
        >>> import tocha.core as torch, tocha.audio.transforms as T
        >>> loss = T.RNNTLoss()(torch.zeros(1, 2, 2, 3), torch.tensor([[0]], dtype=torch.int32),
        ...                     torch.tensor([2], dtype=torch.int32),
        ...                     torch.tensor([1], dtype=torch.int32))
        >>> round(float(loss), 4)
        2.6027
    """

    def __init__(
        self,
        blank: int = -1,
        clamp: float = -1.0,
        reduction: str = "mean",
        fused_log_softmax: bool = True,
    ) -> None:
        super().__init__()
        self.blank, self.clamp, self.reduction = blank, clamp, reduction
        self.fused_log_softmax = fused_log_softmax

    def forward(
        self, logits: Tensor, targets: Tensor, logit_lengths: Tensor, target_lengths: Tensor
    ) -> Tensor:
        return F.rnnt_loss(
            logits,
            targets,
            logit_lengths,
            target_lengths,
            self.blank,
            self.clamp,
            self.reduction,
            self.fused_log_softmax,
        )
