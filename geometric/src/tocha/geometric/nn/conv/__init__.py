"""Graph convolution layers (torch_geometric.nn.conv)."""

from .cheb_conv import ChebConv
from .edge_conv import DynamicEdgeConv, EdgeConv
from .gat_conv import GATConv, GATv2Conv
from .gcn2_conv import GCN2Conv
from .gcn_conv import GCNConv
from .gin_conv import GINConv, GINEConv
from .graph_conv import GraphConv
from .hetero_conv import HeteroConv
from .message_passing import MessagePassing
from .rgcn_conv import RGCNConv
from .sage_conv import SAGEConv
from .sg_conv import APPNP, SGConv
from .transformer_conv import TransformerConv

__all__ = [
    "MessagePassing",
    "GCNConv",
    "GraphConv",
    "SAGEConv",
    "GINConv",
    "GINEConv",
    "GATConv",
    "GATv2Conv",
    "ChebConv",
    "SGConv",
    "APPNP",
    "TransformerConv",
    "EdgeConv",
    "DynamicEdgeConv",
    "GCN2Conv",
    "RGCNConv",
    "HeteroConv",
]
