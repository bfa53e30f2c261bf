"""torchaudio.models: speech architectures with torchaudio's parameter names."""

from . import decoder
from ._classic import M5, Conformer, DeepSpeech, Wav2Letter
from .conv_tasnet import ConvTasNet, conv_tasnet_base
from .wav2vec2 import (
    Wav2Vec2Model,
    hubert_base,
    hubert_large,
    wav2vec2_base,
    wav2vec2_large,
    wav2vec2_model,
)
from .wavlm import wavlm_base, wavlm_large, wavlm_model

__all__ = [
    "M5",
    "Conformer",
    "ConvTasNet",
    "DeepSpeech",
    "Wav2Letter",
    "Wav2Vec2Model",
    "conv_tasnet_base",
    "decoder",
    "hubert_base",
    "hubert_large",
    "wav2vec2_base",
    "wav2vec2_large",
    "wav2vec2_model",
    "wavlm_base",
    "wavlm_large",
    "wavlm_model",
]
