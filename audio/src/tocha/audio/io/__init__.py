"""Audio I/O: ``load``, ``save``, ``info`` and block-wise streaming (``stream``,
``StreamReader``), through libsndfile."""

from ._soundfile import AudioMetaData, info, load, save
from ._stream import SourceAudioStream, StreamReader, stream

__all__ = ["AudioMetaData", "SourceAudioStream", "StreamReader", "info", "load", "save", "stream"]
