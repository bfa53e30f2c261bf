"""Hashing of unbounded ids into a table's rows.

``hash_ids`` maps any int64 ids to ``[0, num_buckets)`` either by ``modulo`` or by a 64-bit
mix (the splitmix64 finaliser) followed by modulo, which spreads sequential or structured ids
evenly. ``IdHasher`` applies it to every key of a KeyedJaggedTensor.

Example:
    >>> import numpy as np
    >>> hash_ids(np.array([5, 105, -1]), 100, method="modulo").tolist()
    [5, 5, 99]
    >>> h = hash_ids(np.arange(4), 1000)
    >>> h.tolist() == hash_ids(np.arange(4), 1000).tolist(), bool((h < 1000).all())
    (True, True)
"""

from __future__ import annotations

import numpy as np

import tocha.core as torch
from tocha.core import nn

from ..sparse.jagged_tensor import KeyedJaggedTensor

__all__ = ["IdHasher", "hash_ids", "splitmix64"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """The splitmix64 output function of ``x + seed * golden`` (uint64, wrapping arithmetic)."""
    z = np.asarray(x).astype(np.int64, copy=False).view(np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(seed) * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def hash_ids(ids, num_buckets: int, method: str = "splitmix64", seed: int = 0) -> np.ndarray:
    """Maps ids to ``[0, num_buckets)`` with ``method`` ``'modulo'`` or ``'splitmix64'``."""
    if num_buckets <= 0:
        raise ValueError(f"hash_ids: num_buckets must be positive, got {num_buckets}")
    ids = np.asarray(ids)
    if method == "modulo":
        return np.mod(ids.astype(np.int64, copy=False), num_buckets)
    if method == "splitmix64":
        return (splitmix64(ids, seed) % np.uint64(num_buckets)).astype(np.int64)
    raise ValueError(f"hash_ids: unknown method {method!r} (use 'modulo' or 'splitmix64')")


class IdHasher(nn.Module):
    """Hashes the ids of each key of a KJT into that key's bucket count.

    Args:
        num_buckets: one count for all keys or ``{key: count}``.
        method: ``'splitmix64'`` (default) or ``'modulo'``.
        seed: varies the hash.
    """

    def __init__(
        self, num_buckets: int | dict[str, int], method: str = "splitmix64", seed: int = 0
    ) -> None:
        super().__init__()
        self.num_buckets = num_buckets
        self.method = method
        self.seed = seed

    def forward(self, features: KeyedJaggedTensor) -> KeyedJaggedTensor:
        values = features.values().numpy()
        opk = features.offset_per_key()
        out = np.empty(values.shape, dtype=np.int64)
        for i, k in enumerate(features.keys()):
            n = self.num_buckets if isinstance(self.num_buckets, int) else self.num_buckets[k]
            out[opk[i] : opk[i + 1]] = hash_ids(
                values[opk[i] : opk[i + 1]], n, self.method, self.seed
            )
        return KeyedJaggedTensor(
            features.keys(),
            torch.from_numpy(out),
            features.weights_or_none(),
            lengths=features.lengths(),
            stride=features.stride(),
            length_per_key=features.length_per_key(),
        )
