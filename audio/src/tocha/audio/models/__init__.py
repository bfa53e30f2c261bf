"""torchaudio.models: speech architectures with torchaudio's parameter names."""

from . import decoder
from ._classic import M5, Conformer, DeepSpeech, Wav2Letter

__all__ = ["M5", "Conformer", "DeepSpeech", "Wav2Letter", "decoder"]
