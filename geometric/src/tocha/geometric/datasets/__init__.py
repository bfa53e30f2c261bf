"""Datasets (torch_geometric.datasets): KarateClub, Planetoid, TUDataset, synthetic graphs and
a generic edge-list reader."""

from .edge_list import EdgeListDataset, read_edge_list
from .karate import KarateClub
from .planetoid import Planetoid
from .synthetic import FakeDataset, StochasticBlockModelDataset
from .tu_dataset import TUDataset

__all__ = [
    "EdgeListDataset",
    "FakeDataset",
    "KarateClub",
    "Planetoid",
    "StochasticBlockModelDataset",
    "TUDataset",
    "read_edge_list",
]
