"""tocha.rec.models: DLRM, DeepFM, two-tower retrieval and matrix factorisation."""

from . import deepfm, dlrm, mf, two_tower
from .deepfm import SimpleDeepFMNN
from .dlrm import DLRM, DLRM_DCN, DLRMTrain
from .mf import MatrixFactorization
from .two_tower import BruteForceIndex, TwoTower

__all__ = [
    "DLRM",
    "DLRMTrain",
    "DLRM_DCN",
    "BruteForceIndex",
    "MatrixFactorization",
    "SimpleDeepFMNN",
    "TwoTower",
    "deepfm",
    "dlrm",
    "mf",
    "two_tower",
]
