"""Block-wise reading of long audio files without loading them whole.

``stream(path, frames_per_chunk)`` is the plain generator; ``StreamReader`` offers the subset of
torchaudio's ``io.StreamReader`` that applies to a single audio stream decoded by libsndfile
(``add_basic_audio_stream``, ``stream``, ``seek``, ``get_src_stream_info``). Chunks of the
StreamReader are ``(frames, channels)`` float32 like torchaudio's; the generator follows
``load``'s ``channels_first`` convention.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

import tocha.core as torch

from ._soundfile import _SUBTYPE2DTYPE, _name, _open


def stream(
    uri: Any,
    frames_per_chunk: int,
    frame_offset: int = 0,
    num_frames: int = -1,
    normalize: bool = True,
    channels_first: bool = True,
) -> Iterator[torch.Tensor]:
    """Yield consecutive chunks of ``frames_per_chunk`` frames (the last may be shorter).

    Only one chunk is in memory at a time, so arbitrarily long files can be processed.

    Args:
        uri: path or file-like object.
        frames_per_chunk: frames per yielded chunk (> 0).
        frame_offset: frames to skip first.
        num_frames: frames to read in total, -1 for all the rest.
        normalize: as in ``load``.
        channels_first: as in ``load``.

    Raises:
        RuntimeError: unreadable file, or a truncated one (raised at the chunk where data ends).

    Example:
        >>> import tempfile, os, tocha.audio as ta, tocha.core as torch
        >>> p = os.path.join(tempfile.mkdtemp(), "a.wav")
        >>> ta.save(p, torch.zeros(2, 1000), 8000)
        >>> [tuple(c.shape) for c in ta.io.stream(p, 400)]
        [(2, 400), (2, 400), (2, 200)]
    """
    if frames_per_chunk <= 0:
        raise ValueError(f"stream: frames_per_chunk must be > 0, got {frames_per_chunk}")
    if frame_offset < 0:
        raise ValueError(f"stream: frame_offset must be >= 0, got {frame_offset}")
    with _open(uri, "stream") as f:
        dtype = "float32"
        if not normalize and f.format in ("WAV", "WAVEX", "RF64", "W64"):
            dtype = _SUBTYPE2DTYPE.get(f.subtype, "float32")
        read_dtype = {"int8": "int16", "uint8": "int16"}.get(dtype, dtype)
        total = f.frames
        start = min(frame_offset, total)
        left = total - start if num_frames == -1 else min(num_frames, total - start)
        if start:
            f.seek(start)
        pos = start
        while left > 0:
            n = min(frames_per_chunk, left)
            data = f.read(n, dtype=read_dtype, always_2d=True)
            if data.shape[0] < n:
                raise RuntimeError(
                    f"stream: audio file '{_name(uri)}' is truncated: its header promises "
                    f"{total} frames but only {pos + data.shape[0]} could be read"
                )
            if dtype == "uint8":
                data = ((data >> 8) + 128).astype(np.uint8)
            elif dtype == "int8":
                data = (data >> 8).astype(np.int8)
            pos += n
            left -= n
            yield torch.from_numpy(np.ascontiguousarray(data.T if channels_first else data))


@dataclass
class SourceAudioStream:
    """Metadata of the source's audio stream (a subset of torchaudio's)."""

    media_type: str
    codec: str
    codec_long_name: str
    format: str
    bit_rate: int
    num_frames: int
    bits_per_sample: int
    sample_rate: float
    num_channels: int


class StreamReader:
    """Read an audio file chunk by chunk (the single-audio-stream part of torchaudio's
    ``io.StreamReader``, on libsndfile).

    Args:
        src: path or file-like object.

    Example:
        >>> import tempfile, os, tocha.audio as ta, tocha.core as torch
        >>> p = os.path.join(tempfile.mkdtemp(), "a.wav")
        >>> ta.save(p, torch.zeros(1, 1000), 8000)
        >>> r = ta.io.StreamReader(p)
        >>> r.add_basic_audio_stream(frames_per_chunk=600)
        >>> [tuple(c.shape) for (c,) in r.stream()]
        [(600, 1), (400, 1)]
    """

    def __init__(
        self,
        src: Any,
        format: str | None = None,
        option: dict | None = None,
        buffer_size: int = 4096,
    ) -> None:
        self._src = src
        with _open(src, "StreamReader") as f:
            self._info = SourceAudioStream(
                media_type="audio",
                codec=f.subtype.lower(),
                codec_long_name=f.subtype_info,
                format=f.format.lower(),
                bit_rate=0,
                num_frames=int(f.frames),
                bits_per_sample=0,
                sample_rate=float(f.samplerate),
                num_channels=int(f.channels),
            )
        self._frames_per_chunk: int | None = None
        self._offset = 0

    @property
    def num_src_streams(self) -> int:
        return 1

    @property
    def num_out_streams(self) -> int:
        return 0 if self._frames_per_chunk is None else 1

    @property
    def default_audio_stream(self) -> int:
        return 0

    def get_src_stream_info(self, i: int) -> SourceAudioStream:
        if i != 0:
            raise IndexError(f"StreamReader: source stream index {i} out of range (1 stream)")
        return self._info

    def add_basic_audio_stream(
        self,
        frames_per_chunk: int,
        buffer_chunk_size: int = 3,
        stream_index: int | None = None,
        decoder: str | None = None,
        decoder_option: dict | None = None,
        format: str | None = "fltp",
        sample_rate: int | None = None,
        num_channels: int | None = None,
    ) -> None:
        """Configure the output stream; resampling and remixing are not offered (use
        ``functional.resample``), so ``sample_rate``/``num_channels`` must match the source."""
        if stream_index not in (None, 0):
            raise IndexError(f"StreamReader: source stream index {stream_index} out of range")
        if sample_rate is not None and sample_rate != self._info.sample_rate:
            raise ValueError(
                f"StreamReader: resampling on read is not supported (source "
                f"{self._info.sample_rate:g} Hz, asked {sample_rate} Hz)"
            )
        if num_channels is not None and num_channels != self._info.num_channels:
            raise ValueError(
                f"StreamReader: remixing on read is not supported (source "
                f"{self._info.num_channels} channels, asked {num_channels})"
            )
        if frames_per_chunk <= 0 and frames_per_chunk != -1:
            raise ValueError(f"StreamReader: frames_per_chunk must be > 0, got {frames_per_chunk}")
        self._frames_per_chunk = frames_per_chunk

    def seek(self, timestamp: float, mode: str = "precise") -> None:
        """Move to ``timestamp`` seconds."""
        self._offset = int(round(timestamp * self._info.sample_rate))

    def stream(self, timeout: float | None = None, backoff: float = 10.0):
        """Yield a 1-tuple ``(chunk,)`` per chunk, chunk shaped ``(frames, channels)``."""
        if self._frames_per_chunk is None:
            raise RuntimeError("StreamReader: no output stream; call add_basic_audio_stream first")
        n = self._frames_per_chunk if self._frames_per_chunk > 0 else self._info.num_frames
        for chunk in stream(self._src, max(n, 1), self._offset, channels_first=False):
            yield (chunk,)
