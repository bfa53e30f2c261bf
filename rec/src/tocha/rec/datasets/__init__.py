"""tocha.rec.datasets: Criteo TSV streaming, a synthetic Criteo-like generator, MovieLens
readers and splits (torchrec.datasets)."""

from . import criteo, movielens, synthetic, utils
from .utils import Batch

__all__ = ["Batch", "criteo", "movielens", "synthetic", "utils"]
