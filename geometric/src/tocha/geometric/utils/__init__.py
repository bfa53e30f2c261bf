"""Graph utilities (torch_geometric.utils): scatter/softmax/degree/self-loops, coalescing,
subgraphs, sampling, dense conversions, scipy/networkx conversion, Laplacians."""

from ._degree import degree
from ._scatter import scatter, scatter_argmax, segment
from ._softmax import softmax
from .coalesce import coalesce, sort_edge_index
from .convert import (
    from_networkx,
    from_scipy_sparse_matrix,
    to_networkx,
    to_scipy_sparse_matrix,
)
from .dense import to_dense_adj, to_dense_batch
from .dropout import dropout_edge
from .homophily import homophily
from .isolated import contains_isolated_nodes, remove_isolated_nodes
from .laplacian import get_laplacian
from .loop import (
    add_remaining_self_loops,
    add_self_loops,
    contains_self_loops,
    remove_self_loops,
    segregate_self_loops,
)
from .mask import index_to_mask, mask_to_index, one_hot
from .negative_sampling import negative_sampling, structured_negative_sampling
from .random_graphs import erdos_renyi_graph, stochastic_blockmodel_graph
from .subgraph import bipartite_subgraph, k_hop_subgraph, subgraph
from .train_test_split_edges import train_test_split_edges
from .unbatch import cumsum, dense_to_sparse, unbatch, unbatch_edge_index
from .undirected import is_undirected, to_undirected

__all__ = [
    "add_remaining_self_loops",
    "add_self_loops",
    "bipartite_subgraph",
    "coalesce",
    "contains_isolated_nodes",
    "contains_self_loops",
    "cumsum",
    "degree",
    "dense_to_sparse",
    "dropout_edge",
    "erdos_renyi_graph",
    "from_networkx",
    "from_scipy_sparse_matrix",
    "get_laplacian",
    "homophily",
    "index_to_mask",
    "is_undirected",
    "k_hop_subgraph",
    "mask_to_index",
    "negative_sampling",
    "one_hot",
    "remove_isolated_nodes",
    "remove_self_loops",
    "scatter",
    "scatter_argmax",
    "segment",
    "segregate_self_loops",
    "softmax",
    "sort_edge_index",
    "stochastic_blockmodel_graph",
    "structured_negative_sampling",
    "subgraph",
    "to_dense_adj",
    "to_dense_batch",
    "to_networkx",
    "to_scipy_sparse_matrix",
    "to_undirected",
    "train_test_split_edges",
    "unbatch",
    "unbatch_edge_index",
]
