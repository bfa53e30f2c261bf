"""Feature transforms: ``NormalizeFeatures``."""

from __future__ import annotations

from .base_transform import BaseTransform


class NormalizeFeatures(BaseTransform):
    """Shift each attribute in ``attrs`` so its minimum is 0, then divide every row by its
    sum (rows summing to less than 1 are left as shifted), as PyG does.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.transforms import NormalizeFeatures
        >>> NormalizeFeatures()(Data(x=torch.tensor([[1.0, 3.0], [0.0, 0.0]]))).x.tolist()
        [[0.25, 0.75], [0.0, 0.0]]
    """

    def __init__(self, attrs: list[str] | None = None):
        self.attrs = list(attrs or ["x"])

    def forward(self, data):
        for store in data.stores if hasattr(data, "stores") else [data]:
            for key in self.attrs:
                value = store.get(key)
                if value is not None and value.numel() > 0:
                    value = value - value.min()
                    value = value / value.sum(dim=-1, keepdim=True).clamp(min=1.0)
                    store[key] = value
        return data
