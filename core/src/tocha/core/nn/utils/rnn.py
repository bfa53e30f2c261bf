"""Variable-length sequences for the recurrent layers (torch.nn.utils.rnn).

A `PackedSequence` holds a batch of sequences sorted by decreasing length, time step by time
step: ``data`` stacks the rows of step 0 (every sequence), then of step 1 (those at least two
long), ...; ``batch_sizes[t]`` counts the rows of step t. Packing and padding are each one
row gather or scatter (a single differentiable node), not a loop over time steps.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..._ops import rnn as _R
from ..._tensor import Tensor, wrap

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


def _np_ints(t) -> np.ndarray:
    """A host int64 array of a Tensor, array or sequence of ints."""
    if isinstance(t, Tensor):
        a = t._data
        if a.__class__ is not np.ndarray:  # pragma: no cover - GPU
            a = a.get()
        return np.asarray(a).astype(np.int64, copy=False)
    return np.asarray(t, dtype=np.int64)


def _long(a: np.ndarray) -> Tensor:
    return wrap(np.ascontiguousarray(a, dtype=np.int64))


def _index_on(t: Tensor, idx: np.ndarray):
    """``idx`` on ``t``'s device (rows of a CuPy tensor are gathered on the GPU)."""
    if t._data.__class__ is np.ndarray:
        return idx
    from ..._ops._util import xp_of  # pragma: no cover - GPU

    return xp_of(t._data).asarray(idx)  # pragma: no cover - GPU


_PackedSequenceBase = namedtuple(
    "PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"]
)


class PackedSequence(_PackedSequenceBase):
    """The data and per-time-step batch sizes of a packed batch of sequences.

    Build it with `pack_padded_sequence` or `pack_sequence`; recurrent layers accept it in
    place of a padded tensor and return one. ``sorted_indices`` (or None) is the order in
    which the batch's sequences were sorted by length; ``unsorted_indices`` its inverse.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.nn.utils.rnn import pack_sequence
        >>> p = pack_sequence([torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0, 5.0])])
        >>> p.data, p.batch_sizes
        (tensor([1., 4., 2., 5., 3.]), tensor([2, 2, 1]))
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is not None:
            if isinstance(batch_sizes, Tensor) and batch_sizes.device.type != "cpu":
                raise ValueError(
                    "batch_sizes should always be on CPU. Instances of PackedSequence should "
                    "never be created manually. They should be instantiated by functions like "
                    "pack_sequence and pack_padded_sequences in nn.utils.rnn. "
                    "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence"
                )
            return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)
        if not (isinstance(data, (list, tuple)) and len(data) == 2):
            raise AssertionError("Expected data to be a list or tuple of length 2")
        return super().__new__(cls, data[0], data[1], sorted_indices, unsorted_indices)

    def pin_memory(self) -> PackedSequence:
        return self

    def to(self, *args, **kwargs) -> PackedSequence:
        """Move or cast ``data`` (``Tensor.to``'s arguments); the index tensors follow it to
        its device, ``batch_sizes`` stays on the CPU."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        si = self.sorted_indices.to(dev) if self.sorted_indices is not None else None
        ui = self.unsorted_indices.to(dev) if self.unsorted_indices is not None else None
        return type(self)(data, self.batch_sizes, si, ui)

    def cuda(self, *args, **kwargs) -> PackedSequence:
        return self.to(*args, device="cuda", **kwargs)

    def cpu(self, *args, **kwargs) -> PackedSequence:
        return self.to(*args, device="cpu", **kwargs)

    def _cast(self, dtype_name: str) -> PackedSequence:
        from ... import _dtype

        return self.to(dtype=getattr(_dtype, dtype_name))

    def double(self) -> PackedSequence:
        return self._cast("float64")

    def float(self) -> PackedSequence:
        return self._cast("float32")

    def half(self) -> PackedSequence:
        return self._cast("float16")

    def long(self) -> PackedSequence:
        return self._cast("int64")

    def int(self) -> PackedSequence:
        return self._cast("int32")

    def short(self) -> PackedSequence:
        return self._cast("int16")

    def char(self) -> PackedSequence:
        return self._cast("int8")

    def byte(self) -> PackedSequence:
        return self._cast("uint8")

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation tensor (None stays None).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.nn.utils.rnn import invert_permutation
        >>> invert_permutation(torch.tensor([2, 0, 1]))
        tensor([1, 2, 0])
    """
    if permutation is None:
        return None
    p = _np_ints(permutation)
    out = np.empty_like(p)
    out[p] = np.arange(p.size, dtype=np.int64)
    res = _long(out)
    return res if permutation.device.type == "cpu" else res.to(permutation.device)


def _lengths_array(lengths) -> np.ndarray:
    if isinstance(lengths, Tensor):
        a = _np_ints(lengths)
        if a.ndim != 1:
            raise RuntimeError(
                "'lengths' argument should be a 1D CPU int64 tensor, but got "
                f"{a.ndim}D cpu Long tensor"
            )
        return a
    a = np.asarray(lengths, dtype=np.int64)
    if a.ndim != 1:
        raise RuntimeError(
            f"'lengths' argument should be a 1D CPU int64 tensor, but got {a.ndim}D cpu Long tensor"
        )
    return a


def _batch_sizes(sorted_lengths: np.ndarray) -> np.ndarray:
    """``batch_sizes[t]``: how many of the (decreasing) lengths exceed t."""
    t = np.arange(int(sorted_lengths[0]) if sorted_lengths.size else 0)
    return (sorted_lengths[None, :] > t[:, None]).sum(1).astype(np.int64)


def pack_padded_sequence(
    input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of the
    given ``lengths``.

    With ``enforce_sorted`` the lengths must be decreasing; otherwise the batch is sorted
    here and ``sorted_indices`` records the order.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.nn.utils.rnn import pack_padded_sequence
        >>> x = torch.tensor([[1.0, 4.0], [2.0, 0.0], [3.0, 0.0]])  # (T=3, B=2)
        >>> p = pack_padded_sequence(x, [3, 1])
        >>> p.data, p.batch_sizes
        (tensor([1., 4., 2., 3.]), tensor([2, 1, 1]))
    """
    lens = _lengths_array(lengths)
    shape = tuple(input._data.shape)
    if len(shape) < 2:
        raise RuntimeError(
            f"pack_padded_sequence: input must have at least 2 dimensions, got {len(shape)}"
        )
    t_dim, b_dim = (1, 0) if batch_first else (0, 1)
    big_t, b = shape[t_dim], shape[b_dim]
    if enforce_sorted:
        order = None
        sorted_lens = lens
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_lens = lens[order]
    if sorted_lens.size != b:
        raise RuntimeError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {sorted_lens.size} "
            f"(batch_size={b})"
        )
    if b == 0 or sorted_lens[-1] <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in 'lengths' "
            "that is <= 0"
        )
    if enforce_sorted and np.any(np.diff(sorted_lens) > 0):
        raise RuntimeError(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
            "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
            "to sidestep this requirement if you do not need ONNX exportability."
        )
    if sorted_lens[0] > big_t:
        raise RuntimeError(
            f"pack_padded_sequence: a length of {int(sorted_lens[0])} exceeds the input's "
            f"{big_t} time steps"
        )
    perm = order if order is not None else np.arange(b)
    mask = sorted_lens[None, :] > np.arange(int(sorted_lens[0]))[:, None]
    ti, ji = np.nonzero(mask)  # row-major: step by step, the packed order
    src = ti * b + perm[ji] if not batch_first else perm[ji] * big_t + ti
    flat = input.reshape((big_t * b,) + shape[2:])
    data = _R.row_gather(flat, _index_on(input, src))
    batch_sizes = _long(mask.sum(1))
    sorted_indices = None
    if order is not None:
        sorted_indices = _long(order)
        if input.device.type != "cpu":  # pragma: no cover - GPU
            sorted_indices = sorted_indices.to(input.device)
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Undo `pack_padded_sequence`: the padded batch and each sequence's length (in the
    original batch order).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.nn.utils.rnn import pack_sequence, pad_packed_sequence
        >>> p = pack_sequence([torch.tensor([1.0, 2.0]), torch.tensor([3.0])])
        >>> pad_packed_sequence(p, batch_first=True, padding_value=-1.0)
        (tensor([[ 1.,  2.],
                [ 3., -1.]]), tensor([2, 1]))
    """
    data, batch_sizes, sorted_indices, unsorted_indices = sequence
    bs = _np_ints(batch_sizes)
    max_len = int(bs.size)
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{max_len}"
            )
        max_len = int(total_length)
    b = int(bs[0]) if bs.size else 0
    sorted_lens = (bs[None, :] > np.arange(b)[:, None]).sum(1).astype(np.int64)
    if unsorted_indices is not None:
        pos = np.argsort(_np_ints(unsorted_indices), kind="stable")  # = sorted_indices
    elif sorted_indices is not None:
        pos = _np_ints(sorted_indices)
    else:
        pos = np.arange(b)
    mask = np.arange(b)[None, :] < bs[:, None]
    ti, ji = np.nonzero(mask)
    dst = ti * b + pos[ji] if not batch_first else pos[ji] * max_len + ti
    trail = tuple(data._data.shape[1:])
    out = _R.row_scatter(data, _index_on(data, dst), max_len * b, padding_value)
    out = out.reshape(((b, max_len) if batch_first else (max_len, b)) + trail)
    lengths = np.empty_like(sorted_lens)
    lengths[pos] = sorted_lens
    return out, _long(lengths)


def _check_seqs(sequences) -> list:
    if isinstance(sequences, Tensor):
        return list(sequences.unbind(0))
    seqs = list(sequences)
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    trail = tuple(seqs[0]._data.shape[1:])
    for s in seqs[1:]:
        st = tuple(s._data.shape[1:])
        if st != trail:
            k = next(i for i, (p, q) in enumerate(zip(trail, st)) if p != q)
            if len(st) != len(trail):
                raise RuntimeError(
                    f"pad_sequence: sequences must have the same number of dimensions, got "
                    f"{len(trail) + 1} and {len(st) + 1}"
                )
            raise RuntimeError(
                f"The size of tensor a ({trail[k]}) must match the size of tensor b ({st[k]}) "
                f"at non-singleton dimension {k + 1}"
            )
    return seqs


def pad_sequence(
    sequences,
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack sequences of different lengths (each (L_i, *)) into one (T, B, *) tensor (or
    (B, T, *) with ``batch_first``), filling with ``padding_value`` on ``padding_side``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.nn.utils.rnn import pad_sequence
        >>> pad_sequence([torch.tensor([1.0, 2.0]), torch.tensor([3.0])], batch_first=True)
        tensor([[1., 2.],
                [3., 0.]])
    """
    if padding_side not in ("left", "right"):
        raise RuntimeError(
            f"Expected padding_side to be one of left or right, but got {padding_side}."
        )
    from ..._ops.shape import cat

    seqs = _check_seqs(sequences)
    lens = np.asarray([s._data.shape[0] for s in seqs], dtype=np.int64)
    b = len(seqs)
    big_t = int(lens.max()) if b else 0
    trail = tuple(seqs[0]._data.shape[1:])
    data = cat(seqs) if b > 1 else seqs[0]
    seq_of = np.repeat(np.arange(b), lens)
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    t = np.arange(int(lens.sum())) - starts[seq_of]
    if padding_side == "left":
        t = t + (big_t - lens)[seq_of]
    dst = seq_of * big_t + t if batch_first else t * b + seq_of
    out = _R.row_scatter(data, _index_on(data, dst), big_t * b, padding_value)
    return out.reshape(((b, big_t) if batch_first else (big_t, b)) + trail)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """Split a padded batch back into its sequences (the inverse of `pad_sequence`).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.nn.utils.rnn import unpad_sequence
        >>> unpad_sequence(torch.tensor([[1.0, 2.0], [3.0, 0.0]]), torch.tensor([2, 1]),
        ...                batch_first=True)
        [tensor([1., 2.]), tensor([3.])]
    """
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lens = _np_ints(lengths)
    return [padded_sequences[i, : int(n)] for i, n in enumerate(lens)]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (each (L_i, *)); with ``enforce_sorted`` they must come in
    decreasing length.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.nn.utils.rnn import pack_sequence
        >>> pack_sequence([torch.tensor([1.0]), torch.tensor([2.0, 3.0])],
        ...               enforce_sorted=False).batch_sizes
        tensor([2, 1])
    """
    seqs = list(sequences)
    lengths = [s._data.shape[0] for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of sequences of a `PackedSequence` (the inverse of `pack_sequence`).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.nn.utils.rnn import pack_sequence, unpack_sequence
        >>> unpack_sequence(pack_sequence([torch.tensor([1.0, 2.0]), torch.tensor([3.0])]))
        [tensor([1., 2.]), tensor([3.])]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
