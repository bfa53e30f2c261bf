"""torchaudio.compliance: features computed as other toolkits (Kaldi) compute them."""

from . import kaldi

__all__ = ["kaldi"]
