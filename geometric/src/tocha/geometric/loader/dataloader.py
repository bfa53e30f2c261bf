"""``DataLoader`` for lists of graphs: batches them with ``Batch.from_data_list``."""

from __future__ import annotations

from collections.abc import Sequence

import tocha.core as torch

from ..data import Batch, Data, HeteroData


class Collater:
    """Collate function: graphs into a Batch, tensors/numbers/sequences like torch does."""

    def __init__(self, follow_batch=None, exclude_keys=None):
        self.follow_batch = follow_batch
        self.exclude_keys = exclude_keys

    def __call__(self, batch: list):
        elem = batch[0]
        if isinstance(elem, (Data, HeteroData)):
            return Batch.from_data_list(batch, self.follow_batch, self.exclude_keys)
        if isinstance(elem, (torch.Tensor, int, float, str)) or not isinstance(elem, Sequence):
            return torch.utils.data.default_collate(batch)
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):
            return type(elem)(*(self(list(s)) for s in zip(*batch, strict=True)))
        return [self(list(s)) for s in zip(*batch, strict=True)]


class DataLoader(torch.utils.data.DataLoader):
    """Mini-batches of graphs from a dataset or list of :class:`Data` objects.

    Args:
        dataset: the graphs.
        batch_size: graphs per batch.
        shuffle: reshuffle every epoch.
        follow_batch: attributes that also get ``<key>_batch`` / ``<key>_ptr`` vectors.
        exclude_keys: attributes left out of the batches.
        **kwargs: the rest of ``tocha.core.utils.data.DataLoader``'s arguments.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.loader import DataLoader
        >>> graphs = [Data(x=torch.ones(n, 2), edge_index=torch.tensor([[0], [1]]))
        ...           for n in (2, 3, 4)]
        >>> [b.num_graphs for b in DataLoader(graphs, batch_size=2)]
        [2, 1]
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        follow_batch: list[str] | None = None,
        exclude_keys: list[str] | None = None,
        **kwargs,
    ):
        kwargs.pop("collate_fn", None)
        self.follow_batch = follow_batch
        self.exclude_keys = exclude_keys
        super().__init__(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=Collater(follow_batch, exclude_keys),
            **kwargs,
        )
