"""Graph convolution layers (torch_geometric.nn.conv)."""

from .gat_conv import GATConv, GATv2Conv
from .gcn_conv import GCNConv
from .gin_conv import GINConv, GINEConv
from .graph_conv import GraphConv
from .message_passing import MessagePassing
from .sage_conv import SAGEConv

__all__ = [
    "MessagePassing",
    "GCNConv",
    "GraphConv",
    "SAGEConv",
    "GINConv",
    "GINEConv",
    "GATConv",
    "GATv2Conv",
]
