import os

import numpy as np
import pytest
import scipy.io.wavfile

import tocha.audio as ta
import tocha.core as torch

SPEECH = "/usr/share/codec2/raw/speech_orig_16k.wav"


def _sine(sr=16000, n=4000, ch=2):
    t = np.arange(n) / sr
    return np.stack([0.5 * np.sin(2 * np.pi * (440 + 110 * c) * t) for c in range(ch)]).astype(
        np.float32
    )


@pytest.mark.skipif(not os.path.exists(SPEECH), reason="codec2-examples not installed")
def test_load_real_speech_matches_scipy_wavfile():
    sr_ref, ref = scipy.io.wavfile.read(SPEECH)
    w, sr = ta.load(SPEECH)
    assert sr == sr_ref == 16000
    assert w.shape == (1, ref.shape[0]) and w.dtype == torch.float32
    np.testing.assert_array_equal(w.numpy()[0], ref.astype(np.float32) / 32768)
    raw, _ = ta.load(SPEECH, normalize=False)
    assert raw.dtype == torch.int16
    np.testing.assert_array_equal(raw.numpy()[0], ref)
    meta = ta.info(SPEECH)
    assert (meta.sample_rate, meta.num_frames, meta.num_channels) == (16000, ref.shape[0], 1)
    assert (meta.bits_per_sample, meta.encoding) == (16, "PCM_S")


@pytest.mark.parametrize(
    "encoding,bits,subtype_dtype,enc_name,tol",
    [
        ("PCM_S", 16, torch.int16, "PCM_S", 1 / 32768),
        ("PCM_S", 32, torch.int32, "PCM_S", 1e-7),
        ("PCM_U", 8, torch.uint8, "PCM_U", 1 / 128),
        ("PCM_F", 32, torch.float32, "PCM_F", 0),
        ("PCM_F", 64, torch.float64, "PCM_F", 0),
    ],
)
def test_wav_round_trip_encodings(tmp_path, encoding, bits, subtype_dtype, enc_name, tol):
    x = _sine()
    p = tmp_path / "x.wav"
    ta.save(p, torch.from_numpy(x), 16000, encoding=encoding, bits_per_sample=bits)
    meta = ta.info(p)
    assert (meta.num_frames, meta.num_channels, meta.bits_per_sample, meta.encoding) == (
        4000,
        2,
        bits,
        enc_name,
    )
    y, sr = ta.load(p)
    assert sr == 16000 and y.dtype == torch.float32
    np.testing.assert_allclose(y.numpy(), x, atol=tol + 1e-7)
    raw, _ = ta.load(p, normalize=False)
    assert raw.dtype == subtype_dtype
    if encoding == "PCM_S" and bits == 16:
        # The stored integers are exactly the normalised samples times 2**15.
        np.testing.assert_array_equal(raw.numpy().astype(np.float32) / 32768, y.numpy())
        assert np.abs(raw.numpy() - x.astype(np.float64) * 32768).max() <= 2.0
    if encoding == "PCM_U":
        np.testing.assert_allclose(raw.numpy().astype(np.float64), x * 128 + 128, atol=1)


def test_default_subtype_follows_dtype(tmp_path):
    p = tmp_path / "a.wav"
    ta.save(p, torch.zeros(1, 10, dtype=torch.int16), 8000)
    assert ta.info(p).bits_per_sample == 16
    ta.save(p, torch.zeros(1, 10), 8000)
    assert (ta.info(p).encoding, ta.info(p).bits_per_sample) == ("PCM_F", 32)
    ta.save(p, torch.tensor([[0, 255, 128]], dtype=torch.uint8), 8000)
    np.testing.assert_array_equal(ta.load(p, normalize=False)[0].numpy(), [[0, 255, 128]])


def test_offset_count_and_layout(tmp_path):
    x = _sine(n=1000, ch=3)
    p = tmp_path / "x.wav"
    ta.save(p, torch.from_numpy(x), 8000, encoding="PCM_F")
    y, _ = ta.load(p, frame_offset=100, num_frames=250)
    np.testing.assert_array_equal(y.numpy(), x[:, 100:350])
    y, _ = ta.load(p, frame_offset=900, num_frames=250)
    np.testing.assert_array_equal(y.numpy(), x[:, 900:])
    y, _ = ta.load(p, channels_first=False)
    np.testing.assert_array_equal(y.numpy(), x.T)
    ta.save(p, torch.from_numpy(x.T.copy()), 8000, channels_first=False)
    np.testing.assert_array_equal(ta.load(p)[0].numpy(), x)


@pytest.mark.parametrize(
    "ext,enc,min_corr",
    [
        ("flac", "FLAC", 0.9999),
        ("ogg", "VORBIS", 0.99),
        ("mp3", "MP3", 0.95),
        ("opus", "OPUS", 0.95),
    ],
)
def test_compressed_formats(tmp_path, ext, enc, min_corr):
    sr = 48000 if ext == "opus" else 16000
    x = _sine(sr=sr, n=sr, ch=1)
    p = tmp_path / f"x.{ext}"
    ta.save(p, torch.from_numpy(x), sr, bits_per_sample=16 if ext == "flac" else None)
    meta = ta.info(p)
    assert meta.encoding == enc and meta.sample_rate == sr and meta.num_channels == 1
    y, _ = ta.load(p)
    y = y.numpy()[0]
    # Lossy codecs add a delay; compare at the lag that maximises correlation.
    n = min(len(y), len(x[0])) - 4000
    best = max(
        np.corrcoef(x[0, 2000 : 2000 + n - 2000], y[2000 + lag : 2000 + lag + n - 2000])[0, 1]
        for lag in range(-0, 1200)
        if 2000 + lag + n - 2000 <= len(y)
    )
    assert best > min_corr


def test_unreadable_and_missing_files_name_the_file(tmp_path):
    bad = tmp_path / "garbage.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(RuntimeError, match="garbage.wav"):
        ta.load(bad)
    with pytest.raises(RuntimeError, match="garbage.wav"):
        ta.info(bad)
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        ta.load(tmp_path / "nope.wav")


def test_truncated_wav_raises(tmp_path):
    p = tmp_path / "t.wav"
    ta.save(p, torch.from_numpy(_sine(n=8000, ch=1)), 16000, encoding="PCM_S", bits_per_sample=16)
    data = p.read_bytes()
    # Keep the header (which still promises 8000 frames) but drop most of the samples.
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 3])
    with pytest.raises(RuntimeError, match="cut.wav"):
        ta.load(tmp_path / "cut.wav")
    with pytest.raises(RuntimeError, match="cut.wav"):
        list(ta.io.stream(tmp_path / "cut.wav", 1000))


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    p = tmp_path / "a.wav"
    ta.save(p, torch.zeros(1, 100), 8000)
    before = p.read_bytes()
    with pytest.raises(ValueError, match="PCM_U"):
        ta.save(p, torch.zeros(1, 100), 8000, encoding="PCM_U", bits_per_sample=16)
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["a.wav"]


def test_stream_chunks_concatenate_to_load(tmp_path):
    x = _sine(n=10000, ch=2)
    p = tmp_path / "x.flac"
    ta.save(p, torch.from_numpy(x), 16000, bits_per_sample=24)
    full, _ = ta.load(p, frame_offset=123, num_frames=9000)
    chunks = list(ta.io.stream(p, 4096, frame_offset=123, num_frames=9000))
    assert [c.shape[1] for c in chunks] == [4096, 4096, 808]
    np.testing.assert_array_equal(np.concatenate([c.numpy() for c in chunks], 1), full.numpy())
    r = ta.io.StreamReader(str(p))
    assert r.get_src_stream_info(0).num_frames == 10000
    r.add_basic_audio_stream(frames_per_chunk=3000)
    r.seek(0.5)
    got = np.concatenate([c.numpy() for (c,) in r.stream()], 0)
    np.testing.assert_array_equal(got, ta.load(p, frame_offset=8000)[0].numpy().T)
    with pytest.raises(ValueError, match="resampling"):
        r.add_basic_audio_stream(1000, sample_rate=8000)
