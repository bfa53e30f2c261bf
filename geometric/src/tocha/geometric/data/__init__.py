"""Graph containers: ``Data``, ``HeteroData``, ``Batch``, ``Dataset``, ``InMemoryDataset``."""

from .batch import Batch
from .data import NODE_INDEX, Batching, Data
from .dataset import Dataset, InMemoryDataset
from .hetero_batch import HeteroDataBatch
from .hetero_data import EdgeStorage, HeteroData, NodeStorage

__all__ = [
    "NODE_INDEX",
    "Batch",
    "Batching",
    "Data",
    "Dataset",
    "EdgeStorage",
    "HeteroData",
    "HeteroDataBatch",
    "InMemoryDataset",
    "NodeStorage",
]
