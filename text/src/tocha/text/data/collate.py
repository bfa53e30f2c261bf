"""Collate variable-length examples: pad to the longest in the batch and build the mask."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import tocha.core as torch
from tocha.core.utils.data import default_collate

__all__ = ["PadCollate", "pad_collate"]


def _is_seq(x: Any) -> bool:
    if isinstance(x, torch.Tensor | np.ndarray):
        return x.ndim >= 1
    return isinstance(x, list | tuple) and (not x or not isinstance(x[0], str))


def _is_bare(x: Any) -> bool:
    """One sequence of numbers (not a tuple of fields)."""
    if isinstance(x, torch.Tensor | np.ndarray):
        return x.ndim >= 1
    return isinstance(x, list) and all(isinstance(v, int | float | np.number) for v in x)


def _as_array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _pad(rows: list, value, side: str) -> tuple[np.ndarray, np.ndarray]:
    """(B, L, ...) padded array and (B, L) int64 mask of real positions."""
    arrs = [_as_array(r) for r in rows]
    lengths = np.fromiter((a.shape[0] for a in arrs), dtype=np.int64, count=len(arrs))
    width = int(lengths.max()) if len(arrs) else 0
    nonempty = [a for a in arrs if a.shape[0]]
    dtype = np.result_type(*nonempty) if nonempty else np.int64
    tail = nonempty[0].shape[1:] if nonempty else ()
    out = np.full((len(arrs), width, *tail), value, dtype=dtype)
    cols = np.arange(width)[None, :]
    if side == "right":
        mask = cols < lengths[:, None]
    else:
        mask = cols >= (width - lengths)[:, None]
    if nonempty:
        out[mask] = np.concatenate(nonempty)
    return out, mask.astype(np.int64)


class PadCollate:
    """A ``collate_fn`` that pads variable-length sequences to the longest in the batch.

    * dict examples: every sequence-valued key is padded (``labels`` with
      ``label_pad_value``, ``attention_mask``/``token_type_ids`` with 0, others with
      ``pad_value``); other keys go through ``default_collate``; ``attention_mask`` is added
      from the ``input_ids`` lengths when missing.
    * tuple examples, e.g. ``(ids, label)``: sequence fields are padded in place, the rest
      collated, and the attention mask of the first sequence field is appended:
      ``(ids, label, attention_mask)``.
    * bare sequences: ``(ids, attention_mask)``.

    Args:
        pad_value: padding for token ids.
        label_pad_value: padding for a ``labels`` key (-100 is ignored by ``cross_entropy``).
        padding_side: ``"right"`` or ``"left"``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.text.data import PadCollate
        >>> ids, label, mask = PadCollate(pad_value=0)([([5, 6, 7], 1), ([8], 0)])
        >>> ids, label, mask
        (tensor([[5, 6, 7],
                [8, 0, 0]]), tensor([1, 0]), tensor([[1, 1, 1],
                [1, 0, 0]]))
    """

    def __init__(
        self, pad_value: int | float = 0, label_pad_value: int = -100, padding_side: str = "right"
    ) -> None:
        if padding_side not in ("right", "left"):
            raise ValueError(
                f"PadCollate: padding_side must be 'right' or 'left', got {padding_side!r}"
            )
        self.pad_value = pad_value
        self.label_pad_value = label_pad_value
        self.padding_side = padding_side

    def _pad_value(self, key: str):
        if key in ("labels", "label"):
            return self.label_pad_value
        if key in ("attention_mask", "token_type_ids", "special_tokens_mask"):
            return 0
        return self.pad_value

    def __call__(self, batch: Sequence) -> Any:
        if len(batch) == 0:
            raise ValueError("PadCollate: empty batch")
        first = batch[0]
        side = self.padding_side
        if isinstance(first, Mapping):
            out: dict[str, Any] = {}
            mask = None
            for key in first:
                values = [ex[key] for ex in batch]
                if _is_seq(first[key]):
                    arr, m = _pad(values, self._pad_value(key), side)
                    out[key] = torch.from_numpy(arr)
                    if key == "input_ids":
                        mask = m
                else:
                    out[key] = default_collate(values)
            if "attention_mask" not in out and mask is not None:
                out["attention_mask"] = torch.from_numpy(mask)
            return out
        if _is_bare(first):
            arr, m = _pad(list(batch), self.pad_value, side)
            return torch.from_numpy(arr), torch.from_numpy(m)
        if isinstance(first, tuple | list):
            fields: list[Any] = []
            mask = None
            for j in range(len(first)):
                values = [ex[j] for ex in batch]
                if _is_seq(first[j]):
                    arr, m = _pad(values, self.pad_value, side)
                    fields.append(torch.from_numpy(arr))
                    if mask is None:
                        mask = m
                else:
                    fields.append(default_collate(values))
            if mask is not None:
                fields.append(torch.from_numpy(mask))
            return tuple(fields)
        return default_collate(list(batch))


def pad_collate(batch: Sequence) -> Any:
    """``PadCollate()(batch)``: pad with 0 on the right.

    Example:
        >>> from tocha.text.data import pad_collate
        >>> pad_collate([[1, 2], [3]])[0]
        tensor([[1, 2],
                [3, 0]])
    """
    return PadCollate()(batch)
