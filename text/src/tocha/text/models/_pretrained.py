"""The ``from_pretrained`` / ``save_pretrained`` machinery shared by the Hugging Face-style
models, and the activations their configs name."""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any, ClassVar

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn
from tocha.core.safetensors import save_file

from ._config import PretrainedConfig
from ._loading import finish_load, load_weights, match_prefix


def _gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


ACT2FN = {
    "gelu": F.gelu,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_fast": _gelu_tanh,
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": torch.tanh,
}


def activation(name: str, who: str):
    """The function a config's activation name stands for."""
    try:
        return ACT2FN[name]
    except KeyError:
        raise ValueError(f"{who}: unknown activation '{name}' (known: {sorted(ACT2FN)})") from None


_INIT_FUNCTIONS = (
    "normal_", "uniform_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
    "xavier_normal_", "trunc_normal_", "zeros_", "ones_", "constant_",
)  # fmt: skip


@contextlib.contextmanager
def _no_init():
    """Parameter initialisation switched off (as Hugging Face's ``no_init_weights``): a model
    whose every weight is about to be loaded need not draw ~100M random numbers first."""
    saved = {name: getattr(nn.init, name) for name in _INIT_FUNCTIONS if hasattr(nn.init, name)}

    def skip(tensor, *args, **kwargs):
        return tensor

    try:
        for name in saved:
            setattr(nn.init, name, skip)
        yield
    finally:
        for name, fn in saved.items():
            setattr(nn.init, name, fn)


class PreTrainedModel(nn.Module):
    """A module built from a config, loadable from a Hugging Face model directory.

    Subclasses set ``config_class``, ``base_model_prefix`` (the head models' prefix of the
    base model's keys), ``_ignore_keys`` (checkpoint key suffixes to drop) and ``_tied_keys``
    ({key: the key it is tied to}), ``_unused_keys`` (substrings of checkpoint keys the
    model may drop) and ``_optional_base_keys`` (base-model key prefixes a head's checkpoint
    may lack, such as BERT's pooler).
    """

    config_class: ClassVar[type[PretrainedConfig]] = PretrainedConfig
    base_model_prefix: ClassVar[str] = ""
    _ignore_keys: ClassVar[tuple[str, ...]] = ()
    _tied_keys: ClassVar[dict[str, str]] = {}
    _unused_keys: ClassVar[tuple[str, ...]] = ()
    _optional_base_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.config = config

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, **config_overrides: Any):
        """The model in ``directory``: ``config.json`` plus ``model.safetensors`` or
        ``pytorch_model.bin``, Hugging Face key names with or without the base model's prefix.
        Loading is strict: a missing or unexpected weight raises. The model is in eval mode.
        """
        directory = os.fspath(directory)
        config = cls.config_class.from_pretrained(directory, **config_overrides)
        sd = load_weights(directory, f"{cls.__name__}.from_pretrained")
        with _no_init():
            model = cls(config)
        how = "same"
        if cls.base_model_prefix:
            prefix = cls.base_model_prefix + "."
            sd, how = match_prefix(sd, model.state_dict().keys(), prefix)
            if how != "same":  # some weights may stay as initialised: initialise them
                model = cls(config)
        fresh_ok = None
        if how == "same" and cls.base_model_prefix and cls._other_head(model, sd, prefix):
            model = cls(config)  # another head's checkpoint: the base loads, the head is new
            how = "added"
        extra = cls._optional_base_keys
        if how == "added":  # a base checkpoint: the head is new

            def fresh_ok(k: str) -> bool:
                return not k.startswith(prefix) or k[len(prefix) :].startswith(extra)

        elif how == "stripped":  # a head checkpoint, maybe without the base's pooler

            def fresh_ok(k: str) -> bool:
                return k.startswith(extra)

        finish_load(
            model, sd, cls._ignore_keys, cls._tied_keys, cls.__name__, fresh_ok, cls._unused_keys
        )
        return model.eval()

    @classmethod
    def _other_head(cls, model: nn.Module, sd: dict, prefix: str) -> bool:
        """Whether ``sd`` is a checkpoint of the same base with a different head (say a masked
        LM's for a classifier). Its head's keys are dropped from ``sd``, with a warning, as
        Hugging Face ignores them."""
        own = set(model.state_dict())
        if not any(k.startswith(prefix) for k in own):
            return False  # the base model itself
        missing = [k for k in own if not k.startswith(prefix) and k not in sd
                   and k not in cls._tied_keys]  # fmt: skip
        foreign = [k for k in sd if not k.startswith(prefix) and k not in own
                   and not k.endswith(cls._ignore_keys)
                   and not any(u in k for u in cls._unused_keys)]  # fmt: skip
        if not missing:
            return False
        if foreign:
            warnings.warn(
                f"{cls.__name__}.from_pretrained: checkpoint weights not used (another head): "
                f"{foreign}",
                stacklevel=3,
            )
            for k in foreign:
                del sd[k]
        return True

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``config.json`` and ``model.safetensors`` (tied copies saved once)."""
        directory = os.fspath(directory)
        self.config.save_pretrained(directory)
        sd = {k: v for k, v in self.state_dict().items() if k not in self._tied_keys}
        save_file(
            {k: v.contiguous() for k, v in sd.items()}, os.path.join(directory, "model.safetensors")
        )

    def num_parameters(self) -> int:
        """How many parameters the model has (tied ones once)."""
        return sum(p.numel() for p in self.parameters())
