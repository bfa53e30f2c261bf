"""tocha.rec.datasets: Criteo TSV streaming, a synthetic Criteo-like generator, MovieLens
readers and splits (torchrec.datasets)."""

from . import criteo, movielens, random, synthetic, utils
from .random import RandomRecDataset
from .utils import Batch

__all__ = ["Batch", "RandomRecDataset", "criteo", "movielens", "random", "synthetic", "utils"]
