"""torchaudio.pipelines-style bundles: pretrained models with their pre/post-processing."""

from ._silero import (
    SILERO_VAD,
    SileroVAD,
    SileroVADBundle,
    SileroVADNet,
    get_speech_timestamps_from_probs,
)

__all__ = [
    "SILERO_VAD",
    "SileroVAD",
    "SileroVADBundle",
    "SileroVADNet",
    "get_speech_timestamps_from_probs",
]
