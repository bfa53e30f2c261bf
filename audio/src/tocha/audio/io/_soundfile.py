"""``load`` / ``save`` / ``info`` through libsndfile (the ``soundfile`` package).

The behaviour follows torchaudio's soundfile backend: ``normalize=False`` keeps the integer PCM
samples of a WAV file in their own dtype, ``info`` reports the encoding as torchaudio names it
(``'PCM_S'``, ``'PCM_U'``, ``'PCM_F'``, ``'ULAW'``, ``'ALAW'``, ``'FLAC'``, ``'VORBIS'``, ...), and
``save`` picks the same default subtypes. Saving is atomic.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf

import tocha.core as torch

# dtype of samples returned by ``load(normalize=False)`` for WAV subtypes (torchaudio's table;
# 24-bit PCM comes back left-aligned in int32 as libsndfile and sox deliver it).
_SUBTYPE2DTYPE = {
    "PCM_S8": "int8",
    "PCM_U8": "uint8",
    "PCM_16": "int16",
    "PCM_24": "int32",
    "PCM_32": "int32",
    "FLOAT": "float32",
    "DOUBLE": "float64",
}

_ENCODING = {
    "PCM_S8": "PCM_S",
    "PCM_16": "PCM_S",
    "PCM_24": "PCM_S",
    "PCM_32": "PCM_S",
    "PCM_U8": "PCM_U",
    "FLOAT": "PCM_F",
    "DOUBLE": "PCM_F",
    "ULAW": "ULAW",
    "ALAW": "ALAW",
    "VORBIS": "VORBIS",
    "OPUS": "OPUS",
    "MPEG_LAYER_III": "MP3",
    "MPEG_LAYER_II": "MP2",
    "MPEG_LAYER_I": "MP1",
}

_BITS = {
    "PCM_S8": 8,
    "PCM_U8": 8,
    "PCM_16": 16,
    "PCM_24": 24,
    "PCM_32": 32,
    "FLOAT": 32,
    "DOUBLE": 64,
    "ULAW": 8,
    "ALAW": 8,
}

_EXT2FORMAT = {
    "wav": "WAV",
    "flac": "FLAC",
    "ogg": "OGG",
    "vorbis": "OGG",
    "opus": "OGG",
    "mp3": "MP3",
    "aiff": "AIFF",
    "aif": "AIFF",
    "au": "AU",
    "sph": "NIST",
    "nist": "NIST",
    "caf": "CAF",
    "w64": "W64",
    "rf64": "RF64",
}


@dataclass
class AudioMetaData:
    """What ``info`` reports about an audio file (torchaudio's ``AudioMetaData``).

    Attributes:
        sample_rate: frames per second.
        num_frames: frames per channel.
        num_channels: channels.
        bits_per_sample: bits of one sample, 0 for compressed formats (MP3, Vorbis, Opus).
        encoding: ``'PCM_S'``, ``'PCM_U'``, ``'PCM_F'``, ``'FLAC'``, ``'ULAW'``, ``'ALAW'``,
            ``'VORBIS'``, ``'OPUS'``, ``'MP3'`` or ``'UNKNOWN'``.
    """

    sample_rate: int
    num_frames: int
    num_channels: int
    bits_per_sample: int
    encoding: str


def _name(uri: Any) -> str:
    return os.fspath(uri) if isinstance(uri, (str, os.PathLike)) else repr(uri)


def _check_riff_complete(path: str, fn: str) -> None:
    """libsndfile silently shortens a truncated WAV to what is on disk; torchaudio users expect
    an error, so compare the ``data`` chunk size in the RIFF header with the bytes present."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            hdr = fh.read(8)
            cid, n = hdr[:4], int.from_bytes(hdr[4:8], "little")
            if cid == b"data":
                if n != 0xFFFFFFFF and pos + 8 + n > size:
                    raise RuntimeError(
                        f"{fn}: audio file '{path}' is truncated: its header promises {n} bytes "
                        f"of samples but only {size - pos - 8} are present"
                    )
                return
            pos += 8 + n + (n & 1)


def _open(uri: Any, fn: str) -> sf.SoundFile:
    if isinstance(uri, (str, os.PathLike)):
        uri = os.fspath(uri)
        if not os.path.exists(uri):
            raise FileNotFoundError(f"{fn}: no such audio file: '{uri}'")
        _check_riff_complete(uri, fn)
    try:
        return sf.SoundFile(uri)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise RuntimeError(f"{fn}: cannot read audio file '{_name(uri)}': {e}") from None


def _encoding(fmt: str, subtype: str) -> str:
    if fmt == "FLAC":
        return "FLAC"
    return _ENCODING.get(subtype, "UNKNOWN")


def info(uri: Any, format: str | None = None, buffer_size: int = 4096, backend=None):
    """Read the metadata of an audio file without decoding it.

    Args:
        uri: path or file-like object.
        format: ignored (the format is detected from the file); kept for torchaudio's signature.
        buffer_size: ignored.
        backend: ignored; only libsndfile is used.

    Returns:
        AudioMetaData: sample rate, frames, channels, bits per sample and encoding.

    Example:
        >>> import numpy as np, tempfile, os, tocha.audio as ta, tocha.core as torch
        >>> p = os.path.join(tempfile.mkdtemp(), "a.wav")
        >>> ta.save(p, torch.zeros(2, 800), 8000, encoding="PCM_S", bits_per_sample=16)
        >>> ta.info(p)
        AudioMetaData(sample_rate=8000, num_frames=800, num_channels=2, bits_per_sample=16, encoding='PCM_S')
    """
    with _open(uri, "info") as f:
        return AudioMetaData(
            sample_rate=int(f.samplerate),
            num_frames=int(f.frames),
            num_channels=int(f.channels),
            bits_per_sample=_BITS.get(f.subtype, 0),
            encoding=_encoding(f.format, f.subtype),
        )


def _read_frames(f: sf.SoundFile, uri: Any, fn: str, offset: int, count: int, dtype: str):
    """Read ``count`` frames (all remaining if -1) from ``offset``; a short read of a region the
    header promises means the file is truncated."""
    total = f.frames
    if offset < 0:
        raise ValueError(f"{fn}: frame_offset must be >= 0, got {offset}")
    if count < -1:
        raise ValueError(f"{fn}: num_frames must be -1 or >= 0, got {count}")
    if offset > total:
        offset = total
    want = total - offset if count == -1 else min(count, total - offset)
    try:
        if offset:
            f.seek(offset)
        data = f.read(want, dtype=dtype, always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise RuntimeError(f"{fn}: cannot decode audio file '{_name(uri)}': {e}") from None
    if data.shape[0] < want:
        raise RuntimeError(
            f"{fn}: audio file '{_name(uri)}' is truncated: its header promises {total} frames "
            f"but only {offset + data.shape[0]} could be read"
        )
    return data


def load(
    uri: Any,
    frame_offset: int = 0,
    num_frames: int = -1,
    normalize: bool = True,
    channels_first: bool = True,
    format: str | None = None,
    buffer_size: int = 4096,
    backend=None,
) -> tuple[torch.Tensor, int]:
    """Load an audio file (WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF, ...) as a tensor.

    Args:
        uri: path or file-like object.
        frame_offset: frames to skip at the start.
        num_frames: frames to read, -1 for all the rest (fewer come back at the end of file).
        normalize: True gives float32 in [-1, 1]; False keeps a WAV file's integer PCM dtype
            (int16, int32, uint8; float WAVs stay float). Other formats decode to float32.
        channels_first: True gives ``(channels, time)``, False ``(time, channels)``.
        format: ignored (detected from the file).
        buffer_size: ignored.
        backend: ignored.

    Returns:
        (waveform, sample_rate).

    Raises:
        FileNotFoundError: the file does not exist.
        RuntimeError: the file is unreadable, of an unknown format or truncated.

    Example:
        >>> import tempfile, os, tocha.audio as ta, tocha.core as torch
        >>> p = os.path.join(tempfile.mkdtemp(), "a.wav")
        >>> ta.save(p, torch.full((1, 4), 0.5), 16000, encoding="PCM_S", bits_per_sample=16)
        >>> w, sr = ta.load(p)
        >>> w, sr
        (tensor([[0.5000, 0.5000, 0.5000, 0.5000]]), 16000)
        >>> ta.load(p, normalize=False)[0]
        tensor([[16384, 16384, 16384, 16384]], dtype=torch.int16)
    """
    with _open(uri, "load") as f:
        dtype = "float32"
        if not normalize and f.format in ("WAV", "WAVEX", "RF64", "W64"):
            dtype = _SUBTYPE2DTYPE.get(f.subtype, "float32")
        read_dtype = {"int8": "int16", "uint8": "int16"}.get(dtype, dtype)
        data = _read_frames(f, uri, "load", int(frame_offset), int(num_frames), read_dtype)
        sr = int(f.samplerate)
    if dtype == "uint8":
        # libsndfile has no 8-bit read; its int16 read of 8-bit PCM is the sample << 8.
        data = ((data >> 8) + 128).astype(np.uint8)
    elif dtype == "int8":
        data = (data >> 8).astype(np.int8)
    if channels_first:
        data = data.T
    return torch.from_numpy(np.ascontiguousarray(data)), sr


def _subtype(dtype: np.dtype, fmt: str, encoding: str | None, bits: int | None) -> str | None:
    """The libsndfile subtype torchaudio's soundfile backend picks for these arguments."""
    if fmt in ("WAV", "AIFF", "CAF", "W64", "RF64", "AU", "NIST"):
        if encoding is None:
            if bits is None:
                by_dtype = {
                    np.dtype(np.uint8): "PCM_U8",
                    np.dtype(np.int16): "PCM_16",
                    np.dtype(np.int32): "PCM_32",
                    np.dtype(np.float32): "FLOAT",
                    np.dtype(np.float64): "DOUBLE",
                }
                if dtype not in by_dtype:
                    raise ValueError(f"save: unsupported dtype {dtype} for {fmt}")
                return by_dtype[dtype]
            if bits == 8:
                return "PCM_U8"
            return f"PCM_{bits}"
        if encoding == "PCM_S":
            if bits is None:
                return "PCM_32"
            if bits == 8:
                raise ValueError("save: encoding 'PCM_S' does not support 8 bits_per_sample")
            return f"PCM_{bits}"
        if encoding == "PCM_U":
            if bits in (None, 8):
                return "PCM_U8"
            raise ValueError(f"save: encoding 'PCM_U' supports only 8 bits_per_sample, got {bits}")
        if encoding == "PCM_F":
            if bits in (None, 32):
                return "FLOAT"
            if bits == 64:
                return "DOUBLE"
            raise ValueError(
                f"save: encoding 'PCM_F' supports 32 or 64 bits_per_sample, got {bits}"
            )
        if encoding in ("ULAW", "ALAW"):
            if bits in (None, 8):
                return encoding
            raise ValueError(f"save: encoding {encoding!r} supports only 8 bits_per_sample")
        raise ValueError(f"save: unsupported encoding {encoding!r} for {fmt}")
    if fmt == "FLAC":
        if encoding is not None and encoding != "FLAC":
            raise ValueError(f"save: FLAC does not support encoding {encoding!r}")
        if bits is None:
            return "PCM_24"
        if bits not in (8, 16, 24):
            raise ValueError(f"save: FLAC supports 8, 16 or 24 bits_per_sample, got {bits}")
        return "PCM_S8" if bits == 8 else f"PCM_{bits}"
    if fmt == "OGG":
        return "OPUS" if encoding in ("OPUS", "opus") else "VORBIS"
    if fmt == "MP3":
        return "MPEG_LAYER_III"
    return None


def save(
    uri: Any,
    src: torch.Tensor,
    sample_rate: int,
    channels_first: bool = True,
    format: str | None = None,
    encoding: str | None = None,
    bits_per_sample: int | None = None,
    buffer_size: int = 4096,
    backend=None,
    compression=None,
) -> None:
    """Save a waveform to an audio file, atomically (temporary file, fsync, rename).

    Args:
        uri: destination path.
        src: 1-D or 2-D waveform, ``(channels, time)`` when ``channels_first``.
        sample_rate: frames per second.
        channels_first: layout of ``src``.
        format: ``'wav'``, ``'flac'``, ``'ogg'``, ``'opus'``, ``'mp3'``, ... (default: from the
            extension).
        encoding: ``'PCM_S'``, ``'PCM_U'``, ``'PCM_F'``, ``'ULAW'``, ``'ALAW'`` (WAV-like
            formats); default from ``src``'s dtype (float32 gives 32-bit float WAV).
        bits_per_sample: 8, 16, 24, 32 or 64 with ``encoding``.
        buffer_size: ignored.
        backend: ignored.
        compression: ignored.

    Example:
        >>> import tempfile, os, tocha.audio as ta, tocha.core as torch
        >>> p = os.path.join(tempfile.mkdtemp(), "a.flac")
        >>> ta.save(p, torch.zeros(1, 100), 16000, bits_per_sample=16)
        >>> ta.info(p).encoding
        'FLAC'
    """
    if not isinstance(uri, (str, os.PathLike)):
        raise TypeError(f"save: uri must be a path, got {type(uri).__name__}")
    path = os.fspath(uri)
    arr = src.detach().cpu().numpy() if isinstance(src, torch.Tensor) else np.asarray(src)
    if arr.ndim == 1:
        arr = arr[None, :] if channels_first else arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"save: expected a 1-D or 2-D waveform, got shape {tuple(arr.shape)}")
    if channels_first:
        arr = arr.T
    ext = (format or os.path.splitext(path)[1].lstrip(".")).lower()
    if ext not in _EXT2FORMAT:
        raise ValueError(f"save: unknown audio format {ext!r} for '{path}'")
    fmt = _EXT2FORMAT[ext]
    if ext == "opus":
        encoding = "OPUS"
    subtype = _subtype(arr.dtype, fmt, encoding, bits_per_sample)
    if arr.dtype == np.uint8:
        # libsndfile has no unsigned 8-bit input: shift to int16 with the same scale.
        arr = (arr.astype(np.int16) - 128) << 8
    elif arr.dtype == np.int8:
        arr = arr.astype(np.int16) << 8
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="." + ext, dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            sf.write(fh, np.ascontiguousarray(arr), int(sample_rate), subtype=subtype, format=fmt)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
