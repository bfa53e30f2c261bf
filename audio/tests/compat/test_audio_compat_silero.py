"""get_speech_timestamps_from_probs against the silero-vad package's own function (which
imports torch, hence the compat session)."""

import numpy as np
import pytest

pytest.importorskip("torch")
utils_vad = pytest.importorskip("silero_vad.utils_vad")

from tocha.audio.pipelines import get_speech_timestamps_from_probs  # noqa: E402


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"max_speech_duration_s": 1.5},
        {"max_speech_duration_s": 1.0, "use_max_poss_sil_at_max_speech": False},
        {"threshold": 0.3, "speech_pad_ms": 80, "min_silence_duration_ms": 50},
        {"return_seconds": True, "time_resolution": 2},
    ],
)
def test_timestamps_equal_silero(seed, kw):
    rng = np.random.default_rng(seed)
    # Smoothed random walks: runs of speech and silence of varied lengths.
    p = np.clip(np.cumsum(rng.normal(0, 0.25, 400)) % 2 - 0.5, 0, 1)
    p = np.where(rng.random(400) < 0.05, 1 - p, p).tolist()
    ref = utils_vad.get_speech_timestamps_from_probs(p, sampling_rate=16000, **kw)
    assert get_speech_timestamps_from_probs(p, 16000, **kw) == ref
