"""``KarateClub``: Zachary's karate club network with PyG's four community labels."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..data import Data, InMemoryDataset
from ..utils._arrays import to_tensor

# Zachary (1977): the 78 friendships among the 34 members, as (i, j) with i < j
_EDGES = np.array(
    [
        (0, 1),
        (0, 2),
        (0, 3),
        (0, 4),
        (0, 5),
        (0, 6),
        (0, 7),
        (0, 8),
        (0, 10),
        (0, 11),
        (0, 12),
        (0, 13),
        (0, 17),
        (0, 19),
        (0, 21),
        (0, 31),
        (1, 2),
        (1, 3),
        (1, 7),
        (1, 13),
        (1, 17),
        (1, 19),
        (1, 21),
        (1, 30),
        (2, 3),
        (2, 7),
        (2, 8),
        (2, 9),
        (2, 13),
        (2, 27),
        (2, 28),
        (2, 32),
        (3, 7),
        (3, 12),
        (3, 13),
        (4, 6),
        (4, 10),
        (5, 6),
        (5, 10),
        (5, 16),
        (6, 16),
        (8, 30),
        (8, 32),
        (8, 33),
        (9, 33),
        (13, 33),
        (14, 32),
        (14, 33),
        (15, 32),
        (15, 33),
        (18, 32),
        (18, 33),
        (19, 33),
        (20, 32),
        (20, 33),
        (22, 32),
        (22, 33),
        (23, 25),
        (23, 27),
        (23, 29),
        (23, 32),
        (23, 33),
        (24, 25),
        (24, 27),
        (24, 31),
        (25, 31),
        (26, 29),
        (26, 33),
        (27, 33),
        (28, 31),
        (28, 33),
        (29, 32),
        (29, 33),
        (30, 32),
        (30, 33),
        (31, 32),
        (31, 33),
        (32, 33),
    ],
    dtype=np.int64,
).T

# the four modularity-based communities PyG labels the members with
_COMMUNITIES = np.array(
    [
        1,
        1,
        1,
        1,
        3,
        3,
        3,
        1,
        0,
        1,
        3,
        1,
        1,
        1,
        0,
        0,
        3,
        1,
        0,
        1,
        0,
        1,
        0,
        0,
        2,
        2,
        0,
        0,
        2,
        0,
        0,
        2,
        0,
        0,
    ],
    dtype=np.int64,
)


class KarateClub(InMemoryDataset):
    """Zachary's karate club: 34 nodes, 156 directed edges (both directions of the 78
    friendships, sorted by source then target), one-hot node features ``x = I``, 4 community
    labels ``y`` and a ``train_mask`` with the first member of every community, as in PyG.

    Example:
        >>> from tocha.geometric.datasets import KarateClub
        >>> ds = KarateClub()
        >>> data = ds[0]
        >>> data
        Data(x=[34, 34], edge_index=[2, 156], y=[34], train_mask=[34])
        >>> ds.num_classes, data.train_mask.nonzero().view(-1).tolist()
        (4, [0, 4, 8, 24])
    """

    def __init__(self, transform: Callable | None = None):
        super().__init__(None, transform)
        both = np.concatenate([_EDGES, _EDGES[::-1]], axis=1)
        both = both[:, np.lexsort((both[1], both[0]))]
        y = _COMMUNITIES
        train = np.zeros(34, dtype=bool)
        train[[int(np.flatnonzero(y == c)[0]) for c in range(4)]] = True
        data = Data(
            x=to_tensor(np.eye(34, dtype=np.float32)),
            edge_index=to_tensor(both),
            y=to_tensor(y.copy()),
            train_mask=to_tensor(train),
        )
        self.load_list([data])
