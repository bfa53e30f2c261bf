"""Model outputs shaped like Hugging Face's ``ModelOutput``: attribute access, key access, and
tuple indexing over the fields that are set (``out[0]`` is the first non-None field)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class ModelOutput(OrderedDict):
    """An ordered mapping of named outputs whose None fields are left out.

    Example:
        >>> out = SequenceClassifierOutput(loss=None, logits=1, hidden_states=2)
        >>> out.logits, out[0], out["hidden_states"], out.to_tuple(), out.loss
        (1, 1, 2, (1, 2), None)
    """

    _fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        for name in self._fields:
            object.__setattr__(self, name, None)
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def __setitem__(self, key: str, value: Any) -> None:
        if value is None:
            return
        super().__setitem__(key, value)
        object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        if value is not None:
            super().__setitem__(key, value)
        object.__setattr__(self, key, value)

    def __getattr__(self, key: str) -> Any:
        # fields declared but not set read as None, as in Hugging Face
        if key in type(self)._fields:
            return None
        raise AttributeError(f"{type(self).__name__} has no field '{key}'")

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(key)
        return self.to_tuple()[key]

    def __iter__(self):
        return iter(self.keys())

    def to_tuple(self) -> tuple:
        """The set fields' values, in order."""
        return tuple(self.values())


class BaseModelOutputWithPooling(ModelOutput):
    """``last_hidden_state`` (batch, seq, hidden), ``pooler_output`` (batch, hidden)."""

    _fields = ("last_hidden_state", "pooler_output", "hidden_states", "attentions")


class SequenceClassifierOutput(ModelOutput):
    """``loss`` (when labels are given) and ``logits`` (batch, num_labels)."""

    _fields = ("loss", "logits", "hidden_states", "attentions")


class MaskedLMOutput(ModelOutput):
    """``loss`` (when labels are given) and ``logits`` (batch, seq, vocab)."""

    _fields = ("loss", "logits", "hidden_states", "attentions")


class CausalLMOutputWithPast(ModelOutput):
    """``loss`` (when labels are given), ``logits`` (batch, seq, vocab), ``past_key_values``."""

    _fields = ("loss", "logits", "past_key_values", "hidden_states")
