"""Models (torch_geometric.nn.models)."""

from .autoencoder import GAE, VGAE, InnerProductDecoder
from .basic_gnn import GAT, GCN, GIN, BasicGNN, GraphSAGE, JumpingKnowledge
from .mlp import MLP
from .node2vec import Node2Vec

__all__ = [
    "MLP",
    "BasicGNN",
    "GCN",
    "GraphSAGE",
    "GIN",
    "GAT",
    "JumpingKnowledge",
    "Node2Vec",
    "GAE",
    "VGAE",
    "InnerProductDecoder",
]
