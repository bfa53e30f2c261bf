"""JaggedTensor, KeyedJaggedTensor and KeyedTensor (torchrec.sparse.jagged_tensor).

A KeyedJaggedTensor holds one jagged feature per key over a batch of ``stride`` rows. Its
``values`` are ordered key-major (all of key 0's rows, then key 1's), so ``lengths`` has
``len(keys) * stride`` entries. Lengths and offsets are each computed from the other on
first use, as in torchrec.

Example:
    >>> import tocha.core as torch
    >>> from tocha.rec.sparse.jagged_tensor import KeyedJaggedTensor
    >>> kjt = KeyedJaggedTensor.from_lengths_sync(
    ...     keys=["f1", "f2"], values=torch.tensor([1, 2, 3, 4, 5]),
    ...     lengths=torch.tensor([2, 0, 1, 2]))
    >>> kjt.stride(), kjt.length_per_key(), kjt.offset_per_key()
    (2, [2, 3], [0, 2, 5])
    >>> kjt["f2"].values()
    tensor([3, 4, 5])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import tocha.core as torch
from tocha.core import Tensor

__all__ = ["JaggedTensor", "KeyedJaggedTensor", "KeyedTensor"]


def _np(t: Tensor) -> np.ndarray:
    """The host NumPy view of a small integer tensor (lengths, offsets)."""
    return t.detach().cpu().numpy()


def _offsets_from_lengths(lengths: Tensor) -> Tensor:
    ln = _np(lengths)
    off = np.zeros(ln.size + 1, dtype=ln.dtype)
    np.cumsum(ln, out=off[1:])
    return torch.from_numpy(off).to(lengths.device)


def _lengths_from_offsets(offsets: Tensor) -> Tensor:
    return torch.from_numpy(np.diff(_np(offsets))).to(offsets.device)


def _to(t: Tensor | None, device) -> Tensor | None:
    return None if t is None else t.to(device)


class _Jagged:
    """The storage JaggedTensor and KeyedJaggedTensor share: packed ``values``, optional
    ``weights``, and ``lengths`` / ``offsets``, of which either may be given; the other is
    computed from it on first use and kept, as in torchrec."""

    def __init__(
        self,
        values: Tensor,
        weights: Tensor | None,
        lengths: Tensor | None,
        offsets: Tensor | None,
    ) -> None:
        if lengths is None and offsets is None:
            raise ValueError(f"{type(self).__name__}: one of lengths or offsets must be given")
        self._values = values
        self._weights = weights
        self._lengths = lengths
        self._offsets = offsets

    def values(self) -> Tensor:
        return self._values

    def weights(self) -> Tensor:
        if self._weights is None:
            name = type(self).__name__
            raise RuntimeError(f"{name}.weights: this {name} has no weights")
        return self._weights

    def weights_or_none(self) -> Tensor | None:
        return self._weights

    def lengths(self) -> Tensor:
        if self._lengths is None:
            self._lengths = _lengths_from_offsets(self._offsets)
        return self._lengths

    def lengths_or_none(self) -> Tensor | None:
        return self._lengths

    def offsets(self) -> Tensor:
        if self._offsets is None:
            self._offsets = _offsets_from_lengths(self._lengths)
        return self._offsets

    def offsets_or_none(self) -> Tensor | None:
        return self._offsets


class JaggedTensor(_Jagged):
    """One jagged feature: a batch of variable-length rows packed in ``values``.

    Args:
        values: the packed values (1-D, or 2-D for embeddings).
        weights: optional per-value weights, same length as ``values``.
        lengths: length of each row.
        offsets: start of each row plus the end (``len(lengths) + 1`` entries).

    Example:
        >>> import tocha.core as torch
        >>> jt = JaggedTensor(values=torch.tensor([1.0, 2.0, 3.0]), lengths=torch.tensor([2, 1]))
        >>> jt.offsets()
        tensor([0, 2, 3])
        >>> jt.to_padded_dense()
        tensor([[1., 2.],
                [3., 0.]])
    """

    def __init__(
        self,
        values: Tensor,
        weights: Tensor | None = None,
        lengths: Tensor | None = None,
        offsets: Tensor | None = None,
    ) -> None:
        super().__init__(values, weights, lengths, offsets)

    @staticmethod
    def empty(is_weighted: bool = False) -> JaggedTensor:
        """An empty JaggedTensor (no rows)."""
        z = torch.empty(0, dtype=torch.int64)
        return JaggedTensor(z, torch.empty(0) if is_weighted else None, lengths=z, offsets=None)

    @staticmethod
    def from_dense_lengths(
        values: Tensor, lengths: Tensor, weights: Tensor | None = None
    ) -> JaggedTensor:
        """Keeps the first ``lengths[i]`` entries of each row of the dense ``values``."""
        ln = _np(lengths).astype(np.int64)
        mask = np.arange(values.shape[1])[None, :] < ln[:, None]
        m = torch.from_numpy(mask.reshape(-1))
        flat = values.reshape(-1, *values.shape[2:])[m]
        w = weights.reshape(-1)[m] if weights is not None else None
        return JaggedTensor(flat, w, lengths=lengths)

    @staticmethod
    def from_dense(values: list[Tensor], weights: list[Tensor] | None = None) -> JaggedTensor:
        """Packs a list of per-row tensors."""
        lengths = torch.tensor([v.shape[0] for v in values], dtype=torch.int32)
        w = torch.cat(weights) if weights is not None else None
        return JaggedTensor(torch.cat(values), w, lengths=lengths)

    def _rows(self, src: Tensor) -> list[Tensor]:
        off = _np(self.offsets())
        return [src[int(a) : int(b)] for a, b in zip(off[:-1], off[1:])]

    def to_dense(self) -> list[Tensor]:
        """The rows as a list of tensors."""
        return self._rows(self._values)

    def to_dense_weights(self) -> list[Tensor] | None:
        if self._weights is None:
            return None
        return self._rows(self._weights)

    def _padded(self, src: Tensor, desired_length: int | None, padding_value: float) -> Tensor:
        ln = _np(self.lengths()).astype(np.int64)
        width = int(ln.max()) if desired_length is None and ln.size else (desired_length or 0)
        off = _np(self.offsets()).astype(np.int64)
        pos = np.arange(int(off[-1]) if off.size else 0) - np.repeat(off[:-1], ln)
        row = np.repeat(np.arange(ln.size), ln)
        keep = pos < width
        out = torch.full((ln.size, width, *src.shape[1:]), padding_value, dtype=src.dtype)
        flat = out.reshape(ln.size * width, *src.shape[1:])
        dst = torch.from_numpy(row[keep] * width + pos[keep])
        return flat.index_copy(0, dst, src[torch.from_numpy(keep)]).reshape(out.shape)

    def to_padded_dense(
        self, desired_length: int | None = None, padding_value: float = 0.0
    ) -> Tensor:
        """Rows padded (or truncated) to ``desired_length`` (default: the longest row)."""
        return self._padded(self._values, desired_length, padding_value)

    def to_padded_dense_weights(
        self, desired_length: int | None = None, padding_value: float = 0.0
    ) -> Tensor | None:
        if self._weights is None:
            return None
        return self._padded(self._weights, desired_length, padding_value)

    def to(self, device, non_blocking: bool = False) -> JaggedTensor:
        return JaggedTensor(
            _to(self._values, device),
            _to(self._weights, device),
            _to(self._lengths, device),
            _to(self._offsets, device),
        )

    def __repr__(self) -> str:
        rows = [v.tolist() for v in self.to_dense()]
        return f"JaggedTensor({rows})"


class KeyedJaggedTensor(_Jagged):
    """Jagged features for several keys over one batch (torchrec's KJT).

    ``values`` is key-major: key 0's rows for the whole batch, then key 1's. ``lengths``
    has ``len(keys) * stride`` entries; ``offsets`` one more.

    Args:
        keys: feature names.
        values: packed ids (int) of all keys.
        weights: optional per-value weights (for weighted features).
        lengths: per (key, row) lengths.
        offsets: per (key, row) starts plus the end.
        stride: batch size (inferred from lengths when omitted).
        length_per_key: optional precomputed total lengths per key.
        offset_per_key: optional precomputed cumulative lengths per key.
        index_per_key: optional key -> index map.
        jt_dict: optional precomputed ``to_dict`` result.

    Example:
        >>> import tocha.core as torch
        >>> kjt = KeyedJaggedTensor(keys=["a", "b"], values=torch.tensor([7, 8, 9]),
        ...                         lengths=torch.tensor([1, 1, 0, 1]))
        >>> kjt.offsets()
        tensor([0, 1, 2, 2, 3])
        >>> [jt.lengths().tolist() for jt in kjt.to_dict().values()]
        [[1, 1], [0, 1]]
    """

    def __init__(
        self,
        keys: list[str],
        values: Tensor,
        weights: Tensor | None = None,
        lengths: Tensor | None = None,
        offsets: Tensor | None = None,
        stride: int | None = None,
        stride_per_key_per_rank: list[list[int]] | None = None,
        stride_per_key: list[int] | None = None,
        length_per_key: list[int] | None = None,
        lengths_offset_per_key: list[int] | None = None,
        offset_per_key: list[int] | None = None,
        index_per_key: dict[str, int] | None = None,
        jt_dict: dict[str, JaggedTensor] | None = None,
        inverse_indices=None,
    ) -> None:
        super().__init__(values, weights, lengths, offsets)
        self._keys = list(keys)
        if stride is None:
            n = lengths.numel() if lengths is not None else offsets.numel() - 1
            stride = n // len(self._keys) if self._keys else 0
        self._stride = int(stride)
        n = lengths.numel() if lengths is not None else offsets.numel() - 1
        if n != self._stride * len(self._keys):
            raise ValueError(
                f"KeyedJaggedTensor: {n} lengths do not match {len(self._keys)} keys x stride "
                f"{self._stride}"
            )
        self._length_per_key = length_per_key
        self._offset_per_key = offset_per_key
        self._index_per_key = index_per_key
        self._jt_dict = jt_dict
        self._inverse_indices = inverse_indices

    @staticmethod
    def from_offsets_sync(
        keys: list[str],
        values: Tensor,
        offsets: Tensor,
        weights: Tensor | None = None,
        stride: int | None = None,
        stride_per_key_per_rank=None,
        inverse_indices=None,
    ) -> KeyedJaggedTensor:
        """A KJT from offsets with its per-key lengths computed now."""
        kjt = KeyedJaggedTensor(keys, values, weights, offsets=offsets, stride=stride)
        return kjt.sync()

    @staticmethod
    def from_lengths_sync(
        keys: list[str],
        values: Tensor,
        lengths: Tensor,
        weights: Tensor | None = None,
        stride: int | None = None,
        stride_per_key_per_rank=None,
        inverse_indices=None,
    ) -> KeyedJaggedTensor:
        """A KJT from lengths with its per-key lengths computed now."""
        kjt = KeyedJaggedTensor(keys, values, weights, lengths=lengths, stride=stride)
        return kjt.sync()

    @staticmethod
    def from_jt_dict(jt_dict: dict[str, JaggedTensor]) -> KeyedJaggedTensor:
        """Concatenates per-key JaggedTensors (all with the same number of rows)."""
        keys = list(jt_dict)
        jts = [jt_dict[k] for k in keys]
        strides = {jt.lengths().numel() for jt in jts}
        if len(strides) > 1:
            raise ValueError(
                f"KeyedJaggedTensor.from_jt_dict: JaggedTensors have different batch sizes "
                f"{sorted(strides)}"
            )
        values = torch.cat([jt.values() for jt in jts])
        weighted = [jt.weights_or_none() is not None for jt in jts]
        weights = torch.cat([jt.weights() for jt in jts]) if all(weighted) and jts else None
        lengths = torch.cat([jt.lengths() for jt in jts])
        return KeyedJaggedTensor(
            keys, values, weights, lengths=lengths, stride=strides.pop() if strides else 0
        )

    @staticmethod
    def empty(
        is_weighted: bool = False,
        device=None,
        values_dtype=None,
        weights_dtype=None,
        lengths_dtype=None,
    ) -> KeyedJaggedTensor:
        v = torch.empty(0, dtype=values_dtype or torch.int64)
        w = torch.empty(0, dtype=weights_dtype or torch.float32) if is_weighted else None
        ln = torch.empty(0, dtype=lengths_dtype or torch.int32)
        return KeyedJaggedTensor([], v, w, lengths=ln, stride=0)

    @staticmethod
    def concat(kjt_list: list[KeyedJaggedTensor]) -> KeyedJaggedTensor:
        """Joins KJTs with the same stride along the key dimension."""
        if not kjt_list:
            raise ValueError("KeyedJaggedTensor.concat: expected at least one KJT")
        strides = {k.stride() for k in kjt_list}
        if len(strides) > 1:
            raise ValueError(f"KeyedJaggedTensor.concat: strides differ {sorted(strides)}")
        keys = [k for kjt in kjt_list for k in kjt.keys()]  # noqa: SIM118
        weighted = [kjt.weights_or_none() is not None for kjt in kjt_list]
        return KeyedJaggedTensor(
            keys,
            torch.cat([k.values() for k in kjt_list]),
            torch.cat([k.weights() for k in kjt_list]) if all(weighted) else None,
            lengths=torch.cat([k.lengths() for k in kjt_list]),
            stride=strides.pop(),
            length_per_key=[n for k in kjt_list for n in k.length_per_key()],
        )

    def sync(self) -> KeyedJaggedTensor:
        self.length_per_key()
        self.offset_per_key()
        return self

    def keys(self) -> list[str]:
        return self._keys

    def stride(self) -> int:
        return self._stride

    def variable_stride_per_key(self) -> bool:
        return False

    def stride_per_key(self) -> list[int]:
        return [self._stride] * len(self._keys)

    def inverse_indices_or_none(self):
        return self._inverse_indices

    def _lengths_2d(self) -> np.ndarray:
        return _np(self.lengths()).astype(np.int64).reshape(len(self._keys), self._stride)

    def length_per_key(self) -> list[int]:
        """Total number of values of each key."""
        if self._length_per_key is None:
            if self._lengths is None and self._keys:
                off = _np(self._offsets).astype(np.int64)
                ends = off[:: self._stride] if self._stride else np.zeros(len(self._keys) + 1)
                self._length_per_key = np.diff(ends).astype(int).tolist()
            else:
                self._length_per_key = self._lengths_2d().sum(axis=1).astype(int).tolist()
        return self._length_per_key

    def length_per_key_or_none(self) -> list[int] | None:
        return self._length_per_key

    def offset_per_key(self) -> list[int]:
        """Cumulative ``length_per_key`` with a leading 0 (``len(keys) + 1`` entries)."""
        if self._offset_per_key is None:
            self._offset_per_key = [0, *np.cumsum(self.length_per_key()).astype(int).tolist()]
        return self._offset_per_key

    def offset_per_key_or_none(self) -> list[int] | None:
        return self._offset_per_key

    def index_per_key(self) -> dict[str, int]:
        if self._index_per_key is None:
            self._index_per_key = {k: i for i, k in enumerate(self._keys)}
        return self._index_per_key

    def _key_slice(self, lo: int, hi: int) -> tuple:
        """values, weights and lengths of keys ``lo..hi-1``."""
        opk = self.offset_per_key()
        a, b = opk[lo], opk[hi]
        vals = self._values[a:b]
        w = self._weights[a:b] if self._weights is not None else None
        ln = self.lengths()[lo * self._stride : hi * self._stride]
        return vals, w, ln

    def split(self, segments: list[int]) -> list[KeyedJaggedTensor]:
        """Splits the keys into consecutive groups of the given sizes."""
        if sum(segments) != len(self._keys):
            raise ValueError(
                f"KeyedJaggedTensor.split: segments {segments} sum to {sum(segments)} but "
                f"there are {len(self._keys)} keys"
            )
        out, start = [], 0
        lpk = self.length_per_key()
        for seg in segments:
            end = start + seg
            vals, w, ln = self._key_slice(start, end)
            out.append(
                KeyedJaggedTensor(
                    self._keys[start:end],
                    vals,
                    w,
                    lengths=ln,
                    stride=self._stride,
                    length_per_key=lpk[start:end],
                )
            )
            start = end
        return out

    def permute(
        self, indices: list[int], indices_tensor: Tensor | None = None
    ) -> KeyedJaggedTensor:
        """Reorders (or repeats) keys: key ``i`` of the result is key ``indices[i]``."""
        lpk = self.length_per_key()
        opk = self.offset_per_key()
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self._keys)):
            raise IndexError(
                f"KeyedJaggedTensor.permute: indices {list(indices)} out of range for "
                f"{len(self._keys)} keys"
            )
        starts = np.asarray(opk[:-1], dtype=np.int64)[idx]
        lens = np.asarray(lpk, dtype=np.int64)[idx]
        # one gather of every selected value position keeps this vectorised
        pos = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        pos = pos + np.arange(int(lens.sum()))
        p = torch.from_numpy(pos)
        lrows = (idx[:, None] * self._stride + np.arange(self._stride)[None, :]).reshape(-1)
        return KeyedJaggedTensor(
            [self._keys[i] for i in indices],
            self._values[p],
            self._weights[p] if self._weights is not None else None,
            lengths=self.lengths()[torch.from_numpy(lrows)],
            stride=self._stride,
            length_per_key=lens.astype(int).tolist(),
        )

    def __getitem__(self, key: str) -> JaggedTensor:
        i = self.index_per_key().get(key)
        if i is None:
            raise KeyError(f"KeyedJaggedTensor: no key {key!r}; keys are {self._keys}")
        vals, w, ln = self._key_slice(i, i + 1)
        return JaggedTensor(vals, w, lengths=ln)

    def to_dict(self) -> dict[str, JaggedTensor]:
        if self._jt_dict is None:
            self._jt_dict = {k: self[k] for k in self._keys}
        return self._jt_dict

    def to(self, device, non_blocking: bool = False, dtype=None) -> KeyedJaggedTensor:
        return KeyedJaggedTensor(
            self._keys,
            _to(self._values, device),
            _to(self._weights, device),
            lengths=_to(self._lengths, device),
            offsets=_to(self._offsets, device),
            stride=self._stride,
            length_per_key=self._length_per_key,
            offset_per_key=self._offset_per_key,
        )

    def device(self):
        return self._values.device

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        if not self._keys:
            return "KeyedJaggedTensor()"
        parts = []
        for k, jt in self.to_dict().items():
            rows = [v.tolist() for v in jt.to_dense()]
            parts.append(f'    "{k}":\n        {rows}')
        return "KeyedJaggedTensor({\n" + ",\n".join(parts) + "\n})"


class KeyedTensor:
    """Dense per-key tensors concatenated along ``key_dim`` (pooled embeddings).

    Args:
        keys: names, one per block.
        length_per_key: width of each key's block along ``key_dim``.
        values: the concatenated tensor.
        key_dim: the dimension the keys are laid along. Default: 1.

    Example:
        >>> import tocha.core as torch
        >>> kt = KeyedTensor.from_tensor_list(["a", "b"], [torch.ones(2, 1), torch.zeros(2, 2)])
        >>> kt.length_per_key(), kt["b"].shape
        ([1, 2], torch.Size([2, 2]))
    """

    def __init__(
        self,
        keys: list[str],
        length_per_key: list[int],
        values: Tensor,
        key_dim: int = 1,
        offset_per_key: list[int] | None = None,
        index_per_key: dict[str, int] | None = None,
    ) -> None:
        if len(keys) != len(length_per_key):
            raise ValueError(f"KeyedTensor: {len(keys)} keys but {len(length_per_key)} lengths")
        if sum(length_per_key) != values.shape[key_dim]:
            raise ValueError(
                f"KeyedTensor: length_per_key sums to {sum(length_per_key)} but values has "
                f"{values.shape[key_dim]} along dim {key_dim}"
            )
        self._keys = list(keys)
        self._length_per_key = list(length_per_key)
        self._values = values
        self._key_dim = key_dim
        self._offset_per_key = offset_per_key
        self._index_per_key = index_per_key

    @staticmethod
    def from_tensor_list(
        keys: list[str], tensors: list[Tensor], key_dim: int = 1, cat_dim: int = 1
    ) -> KeyedTensor:
        lengths = [t.shape[key_dim] for t in tensors]
        return KeyedTensor(keys, lengths, torch.cat(tensors, dim=cat_dim), key_dim)

    def keys(self) -> list[str]:
        return self._keys

    def values(self) -> Tensor:
        return self._values

    def key_dim(self) -> int:
        return self._key_dim

    def length_per_key(self) -> list[int]:
        return self._length_per_key

    def offset_per_key(self) -> list[int]:
        if self._offset_per_key is None:
            self._offset_per_key = [0, *np.cumsum(self._length_per_key).astype(int).tolist()]
        return self._offset_per_key

    def _key_indices(self) -> dict[str, int]:
        if self._index_per_key is None:
            self._index_per_key = {k: i for i, k in enumerate(self._keys)}
        return self._index_per_key

    def __getitem__(self, key: str) -> Tensor:
        i = self._key_indices().get(key)
        if i is None:
            raise KeyError(f"KeyedTensor: no key {key!r}; keys are {self._keys}")
        off = self.offset_per_key()
        return self._values.narrow(self._key_dim, off[i], off[i + 1] - off[i])

    def to_dict(self) -> dict[str, Tensor]:
        return {k: self[k] for k in self._keys}

    @staticmethod
    def regroup(keyed_tensors: list[KeyedTensor], groups: list[list[str]]) -> list[Tensor]:
        """Concatenates the named keys (from any of the KeyedTensors) into one tensor per group."""
        lookup: dict[str, Tensor] = {}
        for kt in keyed_tensors:
            lookup.update(kt.to_dict())
        dim = keyed_tensors[0].key_dim() if keyed_tensors else 1
        out = []
        for g in groups:
            missing = [k for k in g if k not in lookup]
            if missing:
                raise KeyError(f"KeyedTensor.regroup: unknown keys {missing}")
            out.append(torch.cat([lookup[k] for k in g], dim=dim))
        return out

    @staticmethod
    def regroup_as_dict(
        keyed_tensors: list[KeyedTensor], groups: list[list[str]], keys: Sequence[str]
    ) -> dict[str, Tensor]:
        if len(groups) != len(keys):
            raise ValueError(
                f"KeyedTensor.regroup_as_dict: {len(groups)} groups but {len(keys)} keys"
            )
        return dict(zip(keys, KeyedTensor.regroup(keyed_tensors, groups)))

    def to(self, device, non_blocking: bool = False) -> KeyedTensor:
        return KeyedTensor(self._keys, self._length_per_key, self._values.to(device), self._key_dim)

    def __repr__(self) -> str:
        return f"KeyedTensor(keys={self._keys}, length_per_key={self._length_per_key})"
