"""Loaders (torch_geometric.loader): graph-list batching, neighbour sampling, Cluster-GCN."""

from .cluster import ClusterData, ClusterLoader
from .dataloader import DataLoader
from .link_neighbor_loader import LinkNeighborLoader, NegativeSampling
from .neighbor_loader import NeighborLoader

__all__ = [
    "ClusterData",
    "ClusterLoader",
    "DataLoader",
    "LinkNeighborLoader",
    "NegativeSampling",
    "NeighborLoader",
]
