"""pipelines.SILERO_VAD against the silero-vad package's own ONNX model run in onnxruntime."""

import glob
import importlib.util
import os

import numpy as np
import pytest

import tocha.audio as ta
import tocha.core as torch
from tocha.audio.pipelines import SILERO_VAD, get_speech_timestamps_from_probs

ort = pytest.importorskip("onnxruntime")
if importlib.util.find_spec("silero_vad") is None:
    pytest.skip("silero-vad not installed", allow_module_level=True)

SPEECH = "/usr/share/codec2/raw/speech_orig_16k.wav"
SPEECH_8K = sorted(glob.glob("/usr/share/codec2/wav/*.wav"))
DATA = os.path.join(
    list(importlib.util.find_spec("silero_vad").submodule_search_locations)[0], "data"
)


@pytest.fixture(scope="module")
def model():
    return SILERO_VAD.get_model()


@pytest.fixture(scope="module")
def session():
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(
        os.path.join(DATA, "silero_vad.onnx"), sess_options=opts, providers=["CPUExecutionProvider"]
    )


def _onnx_probs(session, x, sr):
    """The package's OnnxWrapper.audio_forward, frame by frame: zero-pad to whole chunks, feed
    [context | chunk] with the carried state, keep the last samples as the next context."""
    chunk, ctx_len = (512, 64) if sr == 16000 else (256, 32)
    n = -(-len(x) // chunk)
    x = np.pad(x, (0, n * chunk - len(x))).astype(np.float32)
    state = np.zeros((2, 1, 128), np.float32)
    ctx = np.zeros((1, ctx_len), np.float32)
    out = []
    for i in range(n):
        inp = np.concatenate([ctx, x[None, i * chunk : (i + 1) * chunk]], 1)
        p, state = session.run(None, {"input": inp, "state": state, "sr": np.array(sr, np.int64)})
        out.append(p[0, 0])
        ctx = inp[:, -ctx_len:]
    return np.array(out)


@pytest.mark.skipif(not os.path.exists(SPEECH), reason="codec2-examples not installed")
def test_speech_probs_match_onnx_16k(model, session):
    w, sr = ta.load(SPEECH)
    probs = model.speech_probs(w[0], sr).numpy()
    ref = _onnx_probs(session, w.numpy()[0], sr)
    assert probs.shape == (338,)  # 10.8 s / 512 samples, last chunk zero-padded
    np.testing.assert_allclose(probs, ref, atol=1e-4)
    # Real speech: the file has both clearly speech and clearly silent chunks.
    assert probs.max() > 0.99 and probs.min() < 0.05


@pytest.mark.skipif(not SPEECH_8K, reason="codec2-examples not installed")
def test_speech_probs_match_onnx_8k(model, session):
    w, sr = ta.load(SPEECH_8K[0], num_frames=8000 * 6)
    assert sr == 8000
    probs = model.speech_probs(w[0], sr).numpy()
    np.testing.assert_allclose(probs, _onnx_probs(session, w.numpy()[0], sr), atol=1e-4)


def test_single_step_and_batch(model, session):
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((2, 512 * 6))).astype(np.float32)
    state = torch.zeros(2, 1, 128)
    inp = np.concatenate([np.zeros((1, 64), np.float32), x[:1, :512]], 1)
    p, st = model(torch.from_numpy(inp), state)
    rp, rst = session.run(
        None,
        {"input": inp, "state": np.zeros((2, 1, 128), np.float32), "sr": np.array(16000, np.int64)},
    )
    np.testing.assert_allclose(p.detach().numpy(), rp, atol=1e-5)
    np.testing.assert_allclose(st.detach().numpy(), rst, atol=1e-5)
    batch = model.speech_probs(torch.from_numpy(x), 16000).numpy()
    for b in range(2):
        np.testing.assert_allclose(
            batch[b], model.speech_probs(torch.from_numpy(x[b])).numpy(), atol=1e-6
        )
    # 48 kHz input is decimated by 3, as the reference does.
    np.testing.assert_allclose(
        model.speech_probs(torch.from_numpy(np.repeat(x[0], 3)), 48000).numpy(),
        batch[0],
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="22050"):
        model.speech_probs(torch.zeros(1000), 22050)


def test_safetensors_weights_load():
    m = SILERO_VAD.get_model(source="safetensors")
    assert m._model_8k is None
    # 243,585 trained parameters plus the 258 x 256 STFT basis (DATA.md: ~310K)
    assert sum(p.numel() for p in m.parameters()) == 309633
    probs = m.speech_probs(torch.zeros(4096)).numpy()
    assert probs.shape == (8,) and (probs < 0.5).all()
    with pytest.raises(ValueError, match="16000"):
        m.speech_probs(torch.zeros(4096), 8000)


def test_timestamp_rules_on_synthetic_probabilities():
    def ts(p, **kw):
        return get_speech_timestamps_from_probs(np.array(p, float), **kw)

    # Speech in chunks 5..24: start 5 * 512 - 480 (30 ms pad); silence from chunk 25 is
    # confirmed after 100 ms (4 chunks), so the end is 25 * 512 + 480.
    assert ts([0] * 5 + [0.9] * 20 + [0] * 10) == [{"start": 2080, "end": 13280}]
    # Too short (3 chunks = 1536 samples < 250 ms = 4000): dropped.
    assert ts([0] * 5 + [0.9] * 3 + [0] * 10) == []
    # Hysteresis: 0.4 is above neg_threshold 0.35, so speech continues through it.
    assert ts([0.9] * 10 + [0.4] * 10 + [0.9] * 10 + [0] * 10) == [{"start": 0, "end": 15840}]
    # A 4-chunk pause (< 100 ms of confirmed silence... 2048 samples >= 1600 only at the 5th
    # chunk) does not split; a 6-chunk one does, and each side gets its 30 ms pad.
    assert ts([0.9] * 10 + [0] * 4 + [0.9] * 10 + [0] * 10) == [{"start": 0, "end": 12768}]
    two = ts([0.9] * 10 + [0] * 6 + [0.9] * 10 + [0] * 10)
    assert two == [{"start": 0, "end": 5600}, {"start": 7712, "end": 13792}]
    # A gap shorter than two pads is split in the middle instead.
    two = ts(
        [0.9] * 10 + [0] * 2 + [0.9] * 10 + [0] * 10, min_silence_duration_ms=10, speech_pad_ms=50
    )
    assert two == [{"start": 0, "end": 5632}, {"start": 5632, "end": 12064}]
    secs = ts([0] * 5 + [0.9] * 20 + [0] * 10, return_seconds=True)
    assert secs == [{"start": 0.1, "end": 0.8}]
    # max_speech_duration_s cuts a long run at the longest silence inside it.
    p = [0.9] * 40 + [0.2] * 5 + [0.9] * 40 + [0] * 10
    cut = ts(p, max_speech_duration_s=2.0, min_silence_duration_ms=1000)
    assert cut[0] == {"start": 0, "end": 20960} and len(cut) == 2


@pytest.mark.skipif(not os.path.exists(SPEECH), reason="codec2-examples not installed")
def test_get_speech_timestamps_on_real_speech(session):
    w, sr = ta.load(SPEECH)
    segs = SILERO_VAD.get_speech_timestamps(w, sr)
    ref = get_speech_timestamps_from_probs(
        _onnx_probs(session, w.numpy()[0], sr), audio_length_samples=w.shape[-1]
    )
    assert segs == ref
    assert len(segs) >= 2 and all(0 <= s["start"] < s["end"] <= w.shape[-1] for s in segs)
    speech = sum(s["end"] - s["start"] for s in segs) / w.shape[-1]
    assert 0.5 < speech < 1.0
