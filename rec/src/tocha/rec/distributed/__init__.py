"""tocha.rec.distributed: model-parallel embedding tables over MPI (torchrec.distributed).

Tables of an EmbeddingBagCollection are sharded table-wise (one rank holds a whole table) or
row-wise (each rank holds a contiguous block of rows); every rank feeds its own batch, ids
travel to the ranks that own their rows and pooled embeddings travel back, both with
``tocha.core.distributed.all_to_all``. :class:`DistributedModelParallel` shards a model's
EmbeddingBagCollection and keeps its dense parameters data-parallel (gradients averaged over
ranks after each backward).

Example (one process is a world of one rank; launch with ``mpiexec -n 2`` for two)::

    >>> from tocha.rec.distributed import ShardingType
    >>> ShardingType.ROW_WISE.value
    'row_wise'
"""

from .embeddingbag import ShardedEmbeddingBagCollection, ShardingType, shard_plan
from .model_parallel import DistributedModelParallel

__all__ = [
    "DistributedModelParallel",
    "ShardedEmbeddingBagCollection",
    "ShardingType",
    "shard_plan",
]
