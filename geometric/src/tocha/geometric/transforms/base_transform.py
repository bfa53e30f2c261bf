"""``BaseTransform`` and ``Compose``."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any


class BaseTransform:
    """A transform: ``transform(data)`` runs :meth:`forward` on a shallow copy of ``data``, so
    the caller's object keeps its attributes (tensors are shared, not copied)."""

    def __call__(self, data: Any) -> Any:
        return self.forward(copy.copy(data))

    def forward(self, data: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Compose(BaseTransform):
    """Apply ``transforms`` in order.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.transforms import AddSelfLoops, Compose, ToUndirected
        >>> t = Compose([ToUndirected(), AddSelfLoops()])
        >>> t(Data(edge_index=torch.tensor([[0], [1]]), num_nodes=2)).edge_index.tolist()
        [[0, 1, 0, 1], [1, 0, 0, 1]]
    """

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def forward(self, data: Any) -> Any:
        for t in self.transforms:
            if isinstance(data, (list, tuple)):
                data = [t(d) for d in data]
            else:
                data = t(data)
        return data

    def __repr__(self) -> str:
        inner = "\n".join(f"  {t}," for t in self.transforms)
        return f"{type(self).__name__}([\n{inner}\n])"
