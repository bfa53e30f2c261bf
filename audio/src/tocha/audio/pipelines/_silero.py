"""Silero VAD v6 (MIT, snakers4/silero-vad) on tocha, with the weights of the installed
``silero-vad`` package.

Weights: by default those of the package's ``silero_vad/data/silero_vad.onnx`` (16 kHz and
8 kHz networks, the model ``load_silero_vad()`` runs; identical to its ``silero_vad.jit``),
read by a small protobuf reader (no code executed, no ``onnx`` dependency). The package's
``silero_vad_16k.safetensors`` has the same architecture but different (16 kHz only) weights;
``get_model(source="safetensors")`` loads those instead.

The network: a fixed STFT as a strided convolution (256-point, hop 128) over 64 samples of
context plus a 512-sample chunk, four ReLU convolutions down to one 128-d vector per chunk, an
LSTM cell carrying state across chunks, and a 1x1 convolution + sigmoid giving the speech
probability of the chunk. Everything before the LSTM cell depends only on the audio, so
``speech_probs`` runs it for all chunks of a file in one batch and loops only over the LSTM
recurrence; the numbers are those of the reference run chunk by chunk.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
from dataclasses import dataclass

import numpy as np

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn

Tensor = torch.Tensor

_FILES = {
    "onnx": ("silero_vad.onnx", "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"),
    "safetensors": (
        "silero_vad_16k.safetensors",
        "c59271c284ae9c8335d795d60e0bfdb71aaaceec578d9bd9ffc1b8153c319ea1",
    ),
}
_CHUNK = {16000: 512, 8000: 256}
_CONTEXT = {16000: 64, 8000: 32}
# ONNX tensor names (inside the If node's branches) -> our parameter names
_ONNX_KEYS = {
    "stft.forward_basis_buffer": "stft_conv.weight",
    "encoder.0.reparam_conv.weight": "conv1.weight",
    "encoder.0.reparam_conv.bias": "conv1.bias",
    "encoder.1.reparam_conv.weight": "conv2.weight",
    "encoder.1.reparam_conv.bias": "conv2.bias",
    "encoder.2.reparam_conv.weight": "conv3.weight",
    "encoder.2.reparam_conv.bias": "conv3.bias",
    "encoder.3.reparam_conv.weight": "conv4.weight",
    "encoder.3.reparam_conv.bias": "conv4.bias",
    "decoder.rnn.weight_ih": "lstm_cell.weight_ih",
    "decoder.rnn.weight_hh": "lstm_cell.weight_hh",
    "decoder.rnn.bias_ih": "lstm_cell.bias_ih",
    "decoder.rnn.bias_hh": "lstm_cell.bias_hh",
    "decoder.decoder.2.weight": "final_conv.weight",
    "decoder.decoder.2.bias": "final_conv.bias",
}


def _weights_path(source: str) -> str:
    if source not in _FILES:
        raise ValueError(f"SILERO_VAD: source must be 'onnx' or 'safetensors', got {source!r}")
    name, sha = _FILES[source]
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "SILERO_VAD: the weights come from the 'silero-vad' package, which is not "
            f"installed: `pip install silero-vad` (it provides silero_vad/data/{name})"
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", name)
    if not os.path.exists(path):
        raise RuntimeError(f"SILERO_VAD: weights file not found: '{path}'")
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    if h.hexdigest() != sha:
        raise RuntimeError(
            f"SILERO_VAD: '{path}' has sha256 {h.hexdigest()}, expected {sha} "
            "(silero-vad 6.2.x); reinstall the silero-vad package"
        )
    return path


def _onnx_state_dicts(path: str) -> dict[int, dict[str, Tensor]]:
    """{16000: state_dict, 8000: state_dict} from the package's two-rate ONNX model; the
    16 kHz branch is recognised by its 256-point STFT basis."""
    from .._internal.onnx_weights import onnx_tensors

    by_graph: dict[str, dict[str, np.ndarray]] = {}
    for graph, name, arr in onnx_tensors(path):
        if name in _ONNX_KEYS:
            by_graph.setdefault(graph, {})[_ONNX_KEYS[name]] = arr
    out = {}
    for sd in by_graph.values():
        if len(sd) != len(_ONNX_KEYS):
            continue
        rate = 16000 if sd["stft_conv.weight"].shape[-1] == 256 else 8000
        out[rate] = {k: torch.from_numpy(v.astype(np.float32)) for k, v in sd.items()}
    if set(out) != {8000, 16000}:
        raise RuntimeError(
            f"SILERO_VAD: '{path}' does not hold the expected 16 kHz and 8 kHz networks "
            f"(found {sorted(out)})"
        )
    return out


class SileroVADNet(nn.Module):
    """One Silero VAD v6 network (16 kHz or 8 kHz); parameter names are the package's
    safetensors keys.

    ``forward(x, state)`` is one step of the reference model: ``x`` is ``(batch, context +
    chunk)`` (64 + 512 at 16 kHz, 32 + 256 at 8 kHz), ``state`` ``(2, batch, 128)`` (LSTM h
    and c) or None; it returns the speech probability ``(batch, 1)`` and the new state.
    """

    def __init__(self, sample_rate: int = 16000) -> None:
        super().__init__()
        k = 16000 // sample_rate
        self.sample_rate = sample_rate
        self.n_fft, self.hop, self.pad = 256 // k, 128 // k, 64 // k
        self.cutoff = self.n_fft // 2 + 1
        self.stft_conv = nn.Conv1d(1, 2 * self.cutoff, self.n_fft, stride=self.hop, bias=False)
        self.conv1 = nn.Conv1d(self.cutoff, 128, 3, stride=1, padding=1)
        self.conv2 = nn.Conv1d(128, 64, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(64, 64, 3, stride=2, padding=1)
        self.conv4 = nn.Conv1d(64, 128, 3, stride=1, padding=1)
        self.lstm_cell = nn.LSTMCell(128, 128)
        self.final_conv = nn.Conv1d(128, 1, 1)

    def encode(self, x: Tensor) -> Tensor:
        """``(n, 576)`` context+chunk windows -> ``(n, 128)`` features for the LSTM cell."""
        x = F.pad(x.unsqueeze(1), (0, self.pad), mode="reflect")
        x = self.stft_conv(x)
        re, im = x[:, : self.cutoff], x[:, self.cutoff :]
        x = torch.sqrt(re * re + im * im)
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        x = torch.relu(self.conv4(x))
        return x.squeeze(-1)

    def head(self, h: Tensor) -> Tensor:
        """LSTM hidden state(s) ``(..., 128)`` -> speech probability ``(..., 1)``."""
        lead = tuple(h.shape[:-1])
        y = self.final_conv(torch.relu(h.reshape(-1, 128)).unsqueeze(-1))
        return torch.sigmoid(y).reshape(lead + (1,))

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        feats = self.encode(x)
        hc = None if state is None else (state[0], state[1])
        h, c = self.lstm_cell(feats, hc)
        return self.head(h), torch.stack([h, c], 0)

    def chunk_probs(self, x: Tensor) -> Tensor:
        """``(batch, time)`` audio at this net's rate -> ``(batch, chunks)`` probabilities."""
        chunk, ctx = _CHUNK[self.sample_rate], _CONTEXT[self.sample_rate]
        x = x.to(torch.float32)
        B, L = x.shape
        n = max(1, math.ceil(L / chunk))
        x = F.pad(x, (ctx, n * chunk - L))
        with torch.no_grad():
            windows = x.unfold(-1, chunk + ctx, chunk)  # (B, n, 576)
            feats = self.encode(windows.reshape(B * n, chunk + ctx)).reshape(B, n, 128)
            cell = self.lstm_cell
            # The input projection of all chunks at once; only h @ W_hh is sequential.
            gx = torch.matmul(feats, cell.weight_ih.t()) + (cell.bias_ih + cell.bias_hh)
            w_hh = cell.weight_hh.t()
            h = torch.zeros(B, 128, device=x.device)
            c = torch.zeros(B, 128, device=x.device)
            hs = []
            for t in range(n):
                gates = gx[:, t] + torch.matmul(h, w_hh)
                i, f, g, o = gates.chunk(4, dim=-1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                hs.append(h)
            return self.head(torch.stack(hs, 1))[..., 0]


class SileroVAD(nn.Module):
    """Silero VAD v6: the 16 kHz network (``_model``) and, with the ONNX weights, the 8 kHz
    one (``_model_8k``), as in the package's TorchScript model.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.pipelines import SILERO_VAD
        >>> SILERO_VAD.get_model().speech_probs(torch.zeros(8000), 8000).shape
        torch.Size([32])
    """

    def __init__(self, with_8k: bool = True) -> None:
        super().__init__()
        self._model = SileroVADNet(16000)
        self._model_8k = SileroVADNet(8000) if with_8k else None

    def net(self, sample_rate: int) -> SileroVADNet:
        if sample_rate == 8000 and self._model_8k is not None:
            return self._model_8k
        if sample_rate == 16000:
            return self._model
        rates = "8000 or 16000" if self._model_8k is not None else "16000"
        raise ValueError(
            f"SileroVAD: supported sample rates are {rates} (or a multiple of 16000, decimated "
            f"as the reference), got {sample_rate}"
        )

    def forward(
        self, x: Tensor, state: Tensor | None = None, sample_rate: int = 16000
    ) -> tuple[Tensor, Tensor]:
        """One reference step: ``x`` is ``(batch, context + chunk)``."""
        return self.net(sample_rate)(x, state)

    def speech_probs(self, waveform: Tensor, sample_rate: int = 16000) -> Tensor:
        """One speech probability per 512-sample chunk at 16 kHz (256 at 8 kHz).

        The audio is zero-padded to whole chunks; chunk ``i`` is preceded by the last 64
        (32 at 8 kHz) samples of chunk ``i - 1`` (zeros for the first) and the LSTM state runs
        from zeros through all chunks, exactly as the reference ``OnnxWrapper.audio_forward``.

        Args:
            waveform: ``(time,)`` or ``(batch, time)`` float audio in [-1, 1].
            sample_rate: 8000, 16000 or a multiple of 16000 (decimated to 16 kHz).

        Returns:
            ``(chunks,)`` or ``(batch, chunks)`` probabilities.
        """
        waveform, sample_rate = _decimate(waveform, sample_rate)
        squeeze = waveform.dim() == 1
        x = waveform.reshape(1, -1) if squeeze else waveform
        if x.dim() != 2:
            raise ValueError(
                f"speech_probs: expected (time,) or (batch, time) audio, got {tuple(x.shape)}"
            )
        probs = self.net(sample_rate).chunk_probs(x)
        return probs[0] if squeeze else probs


def _decimate(waveform, sample_rate: int) -> tuple[Tensor, int]:
    """Multiples of 16 kHz are decimated by plain sample skipping, as the reference does."""
    if not torch.is_tensor(waveform):
        waveform = torch.as_tensor(np.asarray(waveform, dtype=np.float32))
    if sample_rate > 16000 and sample_rate % 16000 == 0:
        return waveform[..., :: sample_rate // 16000], 16000
    return waveform, sample_rate


def get_speech_timestamps_from_probs(
    speech_probs,
    sampling_rate: int = 16000,
    threshold: float = 0.5,
    min_speech_duration_ms: int = 250,
    max_speech_duration_s: float = float("inf"),
    min_silence_duration_ms: int = 100,
    speech_pad_ms: int = 30,
    return_seconds: bool = False,
    time_resolution: int = 1,
    neg_threshold: float | None = None,
    min_silence_at_max_speech: int = 98,
    use_max_poss_sil_at_max_speech: bool = True,
    audio_length_samples: int | None = None,
    step: int = 1,
) -> list[dict]:
    """Speech segments from per-chunk probabilities (silero-vad's hysteresis rules).

    Example:
        >>> from tocha.audio.pipelines import get_speech_timestamps_from_probs
        >>> get_speech_timestamps_from_probs([0.0] * 5 + [0.9] * 20 + [0.0] * 10)
        [{'start': 2080, 'end': 13280}]

    A segment opens at the first chunk with probability >= ``threshold`` and closes once the
    probability has stayed below ``neg_threshold`` (default ``threshold - 0.15``) for
    ``min_silence_duration_ms``; segments no longer than ``min_speech_duration_ms`` are
    dropped; segments longer than ``max_speech_duration_s`` are cut at the longest silence
    seen inside them (or, with ``use_max_poss_sil_at_max_speech=False``, the last one), else
    at the current chunk; finally each is padded by ``speech_pad_ms`` (halving gaps shorter
    than two pads).

    Returns:
        list of ``{'start': ..., 'end': ...}`` in samples (or seconds).
    """
    win = 512 if sampling_rate == 16000 else 256
    probs = [
        float(p)
        for p in (speech_probs.tolist() if hasattr(speech_probs, "tolist") else speech_probs)
    ]
    if audio_length_samples is None:
        audio_length_samples = len(probs) * win
    min_speech = sampling_rate * min_speech_duration_ms / 1000
    pad = sampling_rate * speech_pad_ms / 1000
    max_speech = sampling_rate * max_speech_duration_s - win - 2 * pad
    min_silence = sampling_rate * min_silence_duration_ms / 1000
    min_silence_at_max = sampling_rate * min_silence_at_max_speech / 1000
    if neg_threshold is None:
        neg_threshold = max(threshold - 0.15, 0.01)

    st = _VadState()
    out: list[dict] = []
    for i, p in enumerate(probs):
        pos = win * i
        speaking = p >= threshold
        if speaking and st.temp_end:
            gap = pos - st.temp_end
            if gap > min_silence_at_max:
                st.candidates.append((st.temp_end, gap))
            st.temp_end = 0
            if st.next_start < st.prev_end:
                st.next_start = pos
        if speaking and not st.active:
            st.active, st.cur = True, {"start": pos}
            continue
        if st.active and pos - st.cur["start"] > max_speech:
            if use_max_poss_sil_at_max_speech and st.candidates:
                end, gap = max(st.candidates, key=lambda c: c[1])
                out.append({"start": st.cur["start"], "end": end})
                resume = end + gap
                st.cur = {}
                if resume < end + pos:
                    st.cur = {"start": resume}
                else:
                    st.active = False
                st.reset_marks()
            elif st.prev_end:
                out.append({"start": st.cur["start"], "end": st.prev_end})
                resume, end = st.next_start, st.prev_end
                st.cur = {}
                if resume < end:
                    st.active = False
                else:
                    st.cur = {"start": resume}
                st.reset_marks()
            else:
                out.append({"start": st.cur["start"], "end": pos})
                st.cur, st.active = {}, False
                st.reset_marks()
                continue
        if p < neg_threshold and st.active:
            if not st.temp_end:
                st.temp_end = pos
            quiet = pos - st.temp_end
            if not use_max_poss_sil_at_max_speech and quiet > min_silence_at_max:
                st.prev_end = st.temp_end
            if quiet < min_silence:
                continue
            if st.temp_end - st.cur["start"] > min_speech:
                out.append({"start": st.cur["start"], "end": st.temp_end})
            st.cur, st.active = {}, False
            st.reset_marks()
            continue
    if st.cur and audio_length_samples - st.cur["start"] > min_speech:
        out.append({"start": st.cur["start"], "end": audio_length_samples})

    for k, seg in enumerate(out):
        if k == 0:
            seg["start"] = int(max(0, seg["start"] - pad))
        if k < len(out) - 1:
            gap = out[k + 1]["start"] - seg["end"]
            if gap < 2 * pad:
                seg["end"] += int(gap // 2)
                out[k + 1]["start"] = int(max(0, out[k + 1]["start"] - gap // 2))
            else:
                seg["end"] = int(min(audio_length_samples, seg["end"] + pad))
                out[k + 1]["start"] = int(max(0, out[k + 1]["start"] - pad))
        else:
            seg["end"] = int(min(audio_length_samples, seg["end"] + pad))

    if return_seconds:
        total = audio_length_samples / sampling_rate
        for seg in out:
            seg["start"] = max(round(seg["start"] / sampling_rate, time_resolution), 0)
            seg["end"] = min(round(seg["end"] / sampling_rate, time_resolution), total)
    elif step > 1:
        for seg in out:
            seg["start"] *= step
            seg["end"] *= step
    return out


class _VadState:
    def __init__(self) -> None:
        self.active = False
        self.cur: dict = {}
        self.temp_end = 0
        self.prev_end = 0
        self.next_start = 0
        self.candidates: list[tuple[int, int]] = []

    def reset_marks(self) -> None:
        self.prev_end = self.next_start = self.temp_end = 0
        self.candidates = []


@dataclass
class SileroVADBundle:
    """``pipelines.SILERO_VAD``: the Silero VAD v6 model from the installed silero-vad package.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.pipelines import SILERO_VAD
        >>> model = SILERO_VAD.get_model()
        >>> model.speech_probs(torch.zeros(16000), 16000).shape
        torch.Size([32])
        >>> SILERO_VAD.get_speech_timestamps(torch.zeros(16000), 16000)
        []
    """

    sample_rate: int = 16000

    def get_model(self, source: str = "onnx") -> SileroVAD:
        """Build the model and load the installed package's weights (sha256-checked).

        Args:
            source: ``'onnx'`` (default): ``silero_vad.onnx``, 16 and 8 kHz, the weights the
                package runs; ``'safetensors'``: ``silero_vad_16k.safetensors`` (16 kHz only;
                a different set of weights for the same architecture).
        """
        path = _weights_path(source)
        if source == "safetensors":
            from tocha.core.safetensors import load_file

            model = SileroVAD(with_8k=False)
            model._model.load_state_dict(load_file(path), strict=True)
        else:
            sds = _onnx_state_dicts(path)
            model = SileroVAD()
            model._model.load_state_dict(sds[16000], strict=True)
            model._model_8k.load_state_dict(sds[8000], strict=True)
        return model.eval()

    def get_speech_timestamps(
        self,
        waveform: Tensor,
        sample_rate: int = 16000,
        threshold: float = 0.5,
        min_speech_duration_ms: int = 250,
        min_silence_duration_ms: int = 100,
        speech_pad_ms: int = 30,
        max_speech_duration_s: float = float("inf"),
        return_seconds: bool = False,
        time_resolution: int = 1,
        neg_threshold: float | None = None,
        min_silence_at_max_speech: int = 98,
        use_max_poss_sil_at_max_speech: bool = True,
        model: SileroVAD | None = None,
    ) -> list[dict]:
        """Speech segments of mono audio, as silero-vad's ``get_speech_timestamps``.

        Returns:
            list of ``{'start': sample, 'end': sample}`` (seconds with ``return_seconds``),
            in the input's sample rate.
        """
        if not torch.is_tensor(waveform):
            waveform = torch.as_tensor(np.asarray(waveform, dtype=np.float32))
        while waveform.dim() > 1 and waveform.shape[0] == 1:
            waveform = waveform[0]
        if waveform.dim() != 1:
            raise ValueError(
                "get_speech_timestamps: expected mono audio (time,), got shape "
                f"{tuple(waveform.shape)}; mix or pick a channel first"
            )
        step = sample_rate // 16000 if sample_rate > 16000 and sample_rate % 16000 == 0 else 1
        waveform, sr = _decimate(waveform, sample_rate)
        model = model if model is not None else self._cached_model()
        probs = model.speech_probs(waveform, sr)
        return get_speech_timestamps_from_probs(
            probs.numpy(),
            sr,
            threshold,
            min_speech_duration_ms,
            max_speech_duration_s,
            min_silence_duration_ms,
            speech_pad_ms,
            return_seconds,
            time_resolution,
            neg_threshold,
            min_silence_at_max_speech,
            use_max_poss_sil_at_max_speech,
            audio_length_samples=int(waveform.shape[-1]),
            step=step,
        )

    def _cached_model(self) -> SileroVAD:
        m = self.__dict__.get("_model")
        if m is None:
            m = self.get_model()
            self.__dict__["_model"] = m
        return m


SILERO_VAD = SileroVADBundle()
