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
from .laplacian import get_laplacian
from .loop import (
    add_remaining_self_loops,
    add_self_loops,
    contains_self_loops,
    remove_self_loops,
    segregate_self_loops,
)
from .mask import index_to_mask, mask_to_index, one_hot
from .negative_sampling import negative_sampling
from .subgraph import bipartite_subgraph, k_hop_subgraph, subgraph
from .train_test_split_edges import train_test_split_edges
from .undirected import is_undirected, to_undirected

__all__ = [
    "add_remaining_self_loops",
    "add_self_loops",
    "bipartite_subgraph",
    "coalesce",
    "contains_self_loops",
    "degree",
    "dropout_edge",
    "from_networkx",
    "from_scipy_sparse_matrix",
    "get_laplacian",
    "index_to_mask",
    "is_undirected",
    "k_hop_subgraph",
    "mask_to_index",
    "negative_sampling",
    "one_hot",
    "remove_self_loops",
    "scatter",
    "scatter_argmax",
    "segment",
    "segregate_self_loops",
    "softmax",
    "sort_edge_index",
    "subgraph",
    "to_dense_adj",
    "to_dense_batch",
    "to_networkx",
    "to_scipy_sparse_matrix",
    "to_undirected",
    "train_test_split_edges",
]
