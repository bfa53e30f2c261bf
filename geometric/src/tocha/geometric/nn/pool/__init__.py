"""Pooling (torch_geometric.nn.pool)."""

from ..aggr.attention import AttentionalAggregation
from .glob import global_add_pool, global_max_pool, global_mean_pool
from .knn import knn, knn_graph, radius, radius_graph
from .select import SelectTopK, filter_adj, topk
from .topk_pool import SAGPooling, TopKPooling


class GlobalAttention(AttentionalAggregation):
    """The torch_geometric 1.x name and call signature ``(x, batch=None, size=None)`` of
    AttentionalAggregation."""

    def __call__(self, x, batch=None, size=None, **kwargs):
        return super().__call__(x, batch, dim_size=size, **kwargs)


__all__ = [
    "global_add_pool",
    "global_mean_pool",
    "global_max_pool",
    "TopKPooling",
    "SAGPooling",
    "SelectTopK",
    "topk",
    "filter_adj",
    "GlobalAttention",
    "knn",
    "knn_graph",
    "radius",
    "radius_graph",
]
