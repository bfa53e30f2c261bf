"""Index/mask conversions and ``one_hot``."""

from __future__ import annotations

import numpy as np

import tocha.core as torch

from ._arrays import to_np, to_tensor


def index_to_mask(index, size: int | None = None) -> torch.Tensor:
    """A bool mask of length ``size`` that is True at ``index``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import index_to_mask
        >>> index_to_mask(torch.tensor([1, 3]), size=5).tolist()
        [False, True, False, True, False]
    """
    idx = to_np(index).astype(np.int64)
    size = int(idx.max()) + 1 if size is None else int(size)
    if idx.size and (idx.max() >= size or idx.min() < -size):
        raise IndexError(f"index_to_mask: index {int(idx.max())} out of range for size {size}")
    m = np.zeros(size, dtype=bool)
    m[idx] = True
    return to_tensor(m, getattr(index, "device", None))


def mask_to_index(mask) -> torch.Tensor:
    """Positions where ``mask`` is True.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import mask_to_index
        >>> mask_to_index(torch.tensor([False, True, True])).tolist()
        [1, 2]
    """
    return to_tensor(np.flatnonzero(to_np(mask)).astype(np.int64), getattr(mask, "device", None))


def one_hot(index, num_classes: int | None = None, dtype=None) -> torch.Tensor:
    """One-hot rows (float32 by default) for the integer ``index``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import one_hot
        >>> one_hot(torch.tensor([0, 2])).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    idx = to_np(index).astype(np.int64).reshape(-1)
    c = (int(idx.max()) + 1 if idx.size else 0) if num_classes is None else int(num_classes)
    out = np.zeros((idx.size, c), dtype=np.float32)
    out[np.arange(idx.size), idx] = 1.0
    t = to_tensor(out, getattr(index, "device", None))
    return t if dtype is None else t.to(dtype)
