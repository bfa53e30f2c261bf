"""Embedding lookups of ``torch.nn.functional``: embedding, embedding_bag and one_hot."""

from __future__ import annotations

import numpy as np

from ..._ops import layers as _Y
from ..._ops._util import xp_of
from ..._tensor import Tensor, wrap
from ...autograd.function import Node
from ...autograd.grad_mode import no_grad

__all__ = ["embedding", "embedding_bag", "one_hot"]


def _index_array(input: Tensor, fn: str = "embedding"):
    dt = input._data.dtype
    if dt not in (np.int64, np.int32):
        names = {
            "float32": "FloatTensor",
            "float64": "DoubleTensor",
            "bool": "BoolTensor",
            "int16": "ShortTensor",
            "int8": "CharTensor",
            "uint8": "ByteTensor",
            "float16": "HalfTensor",
        }
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got torch.{names.get(str(dt), str(dt))} instead (while "
            f"checking arguments for {fn})"
        )
    return input._data.astype(np.int64, copy=False)


def _check_range(idx, num: int) -> None:
    if idx.size and (bool((idx < 0).any()) or bool((idx >= num).any())):
        raise IndexError("index out of range in self")


def _padding_index(padding_idx, num: int):
    """``padding_idx`` checked against ``num`` rows and made non-negative (as given
    otherwise; nn.Embedding stores this); None stays None."""
    if padding_idx is None:
        return None
    if padding_idx > 0:
        if padding_idx >= num:
            raise AssertionError("Padding_idx must be within num_embeddings")
    elif padding_idx < 0:
        if padding_idx < -num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = num + padding_idx
    return padding_idx


def _padding(padding_idx, num: int):
    padding_idx = _padding_index(padding_idx, num)
    return None if padding_idx is None else int(padding_idx)


def _renorm(weight: Tensor, idx, max_norm: float, norm_type: float) -> None:
    """torch's ``embedding_renorm_``: rows used by ``idx`` whose norm exceeds ``max_norm`` are
    rescaled in place to norm ``max_norm`` (no autograd)."""
    xp = xp_of(weight._data)
    rows = xp.unique(idx.reshape(-1))
    if rows.size == 0:
        return
    with no_grad():
        w = weight._data
        sel = w[rows]
        work = sel.astype(np.float64) if sel.dtype.kind == "V" else sel
        if norm_type == float("inf"):
            norms = xp.abs(work).max(1)
        else:
            norms = (xp.abs(work) ** norm_type).sum(1) ** (1.0 / norm_type)
        big = norms > max_norm
        if bool(big.any()):
            scale = max_norm / (norms[big] + 1e-7)
            w[rows[big]] = (work[big] * scale[:, None]).astype(w.dtype)
            weight._bump_version()


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """The rows of ``weight`` named by the integer ``input``: shape ``input.shape + (D,)``.

    ``padding_idx`` rows receive no gradient; ``max_norm`` renormalises the looked-up rows of
    ``weight`` in place; ``scale_grad_by_freq`` divides each row's gradient by its count in
    the batch. ``sparse=True`` still gives a dense gradient (tocha has no sparse tensors).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.embedding(torch.tensor([[0, 2]]), torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]))
        tensor([[[0., 1.],
                 [4., 5.]]])
    """
    idx = _index_array(input)
    num = weight._data.shape[0]
    padding_idx = _padding(padding_idx, num)
    _check_range(idx, num)
    if max_norm is not None:
        _renorm(weight, idx, max_norm, norm_type)
    xp = xp_of(weight._data)
    if xp is not np:
        idx = xp.asarray(idx)
    return _Y.embedding_lookup(weight, idx, padding_idx, scale_grad_by_freq)


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """Sums, means or maxima of bags of embeddings without materialising the lookups per bag.

    ``input`` is (B, L) (each row a bag) or 1-D with ``offsets`` giving each bag's start
    (``include_last_offset`` says the last offset is the end). ``per_sample_weights`` scale
    each lookup (mode ``'sum'`` only); ``padding_idx`` entries are left out of their bag.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> w = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
        >>> F.embedding_bag(torch.tensor([0, 1, 2]), w, torch.tensor([0, 2]), mode='sum')
        tensor([[3., 3.],
                [3., 3.]])
    """
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
            f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
            "GitHub."
        )
    if scale_grad_by_freq and mode == "max":
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    idx = _index_array(input, "embedding_bag")
    num = weight._data.shape[0]
    padding_idx = _padding(padding_idx, num)
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a "
                "mini-batch of fixed length sequences. However, found offsets of type "
                f"{type(offsets)}"
            )
        b, ln = idx.shape
        starts = np.arange(b, dtype=np.int64) * ln
        idx = idx.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets._data.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        off = offsets._data
        off = np.asarray(off if off.__class__ is np.ndarray else off.get()).astype(np.int64)
        if off.size and off[0] != 0:
            raise RuntimeError(
                "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to "
                f"start from position 0. However, got {int(off[0])}"
            )
        if off.size and off[-1] > idx.shape[0]:
            raise RuntimeError(
                f"offsets[-1] can not be greater than input's length {idx.shape[0]} but got "
                f"offsets[-1] of {int(off[-1])}"
            )
        if off.size > 1 and bool((np.diff(off) < 0).any()):
            raise RuntimeError("offsets must be non-decreasing")
        starts = off[:-1] if include_last_offset else off
        if include_last_offset and off.size:
            idx = idx[: off[-1]]
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {idx.ndim}")
    _check_range(idx, num)
    if max_norm is not None:
        _renorm(weight, idx, max_norm, norm_type)
    n = idx.shape[0]
    nbags = starts.shape[0]
    lengths = np.diff(np.append(starts, n))
    seg = np.repeat(np.arange(nbags, dtype=np.int64), lengths)
    keep = idx != padding_idx if padding_idx is not None else None
    xp = xp_of(weight._data)
    if per_sample_weights is not None and per_sample_weights._data.shape != (n,):
        raise ValueError(
            "embedding_bag: If per_sample_weights ("
            + str(tuple(per_sample_weights.shape))
            + ") is not None, then it must have the same shape as the input ("
            + str(tuple(input.shape))
            + ")"
        )
    rows = _Y.embedding_lookup(weight, xp.asarray(idx) if xp is not np else idx, None, False)
    if scale_grad_by_freq:
        rows = _FreqScale.apply(rows, idx=idx, num=num)
    if mode == "max":
        nonempty = lengths > 0
        return _Y.BagMax.apply(
            rows,
            starts=_on(xp, starts),
            nonempty=_on(xp, nonempty),
            nbags=nbags,
            keep=_on(xp, keep) if keep is not None else None,
        )
    coef = np.ones(n, dtype=np.float64)
    if keep is not None:
        coef = coef * keep
    if mode == "mean":
        counts = np.bincount(seg, weights=coef, minlength=nbags)
        coef = coef / np.maximum(counts, 1)[seg]
    ts = (rows,) if per_sample_weights is None else (rows, per_sample_weights)
    return _Y.BagReduce.apply(*ts, seg=_on(xp, seg), coef=_on(xp, coef), nbags=nbags)


def _on(xp, arr):
    return arr if xp is np else xp.asarray(arr)


class _FreqScale(Node):
    """Identity forward; backward divides each looked-up row's gradient by how often its
    index occurs (``scale_grad_by_freq`` for embedding_bag)."""

    def forward(self, rows, idx=None, num=0):
        counts = np.bincount(idx, minlength=num)
        self.scale = (1.0 / counts[idx]).astype(rows.dtype if rows.dtype.kind == "f" else "f4")
        return rows

    def backward(self, g):
        s = self.scale[:, None]
        xp = xp_of(g._data)
        return g * wrap(xp.asarray(s) if xp is not np else s)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding of an int64 tensor: shape ``tensor.shape + (num_classes,)``;
    ``num_classes=-1`` uses ``max + 1``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.one_hot(torch.tensor([0, 2]))
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    a = tensor._data
    if a.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    xp = xp_of(a)
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    if a.size:
        if bool((a < 0).any()):
            raise RuntimeError("Class values must be non-negative.")
        if bool((a >= num_classes).any()):
            raise RuntimeError("Class values must be smaller than num_classes.")
    out = (a[..., None] == xp.arange(num_classes, dtype=np.int64)).astype(np.int64)
    return wrap(out)
