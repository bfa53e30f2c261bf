"""Reading a Hugging Face model directory: ``config.json`` and the weights
(``model.safetensors`` or ``pytorch_model.bin``), with checkpoint key prefixes reconciled."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable

import tocha.core as torch
from tocha.core.safetensors import load_file

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def read_json(path: str, who: str) -> dict:
    """The JSON object in ``path``; errors name ``who`` and the file."""
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"{who}: no file {path}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{who}: {path} is not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{who}: {path} holds a {type(obj).__name__}, expected a JSON object")
    return obj


def load_weights(directory: str, who: str) -> dict:
    """The state dict stored in ``directory`` (safetensors preferred; a ``.bin`` is read with
    tocha.core.load, whose unpickler only rebuilds tensors)."""
    for name in WEIGHT_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            if name.endswith(".safetensors"):
                return dict(load_file(path))
            sd = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(sd, dict):
                raise ValueError(f"{who}: {path} holds a {type(sd).__name__}, not a state dict")
            return dict(sd)
    raise FileNotFoundError(
        f"{who}: {directory} has none of {', '.join(WEIGHT_FILES)}; put the model's weights there"
    )


def match_prefix(sd: dict, expected: Iterable[str], prefix: str) -> tuple[dict, str]:
    """``sd`` with ``prefix`` added to or stripped from its keys so that they meet the model's
    ``expected`` keys: Hugging Face saves a base model without its head's prefix (``bert.``,
    ``transformer.``) and a head model with it. Returns the dict and what was done: ``"same"``,
    ``"added"`` (a base checkpoint for a head model: the head is new) or ``"stripped"`` (a head
    checkpoint for a base model: the head's keys are dropped)."""
    expected = set(expected)
    if not sd or len(set(sd) & expected) * 2 >= len(sd):
        return sd, "same"
    if any(k.startswith(prefix) for k in expected):
        return {prefix + k: v for k, v in sd.items()}, "added"
    return {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}, "stripped"


def finish_load(
    model: torch.nn.Module,
    sd: dict,
    ignore: tuple[str, ...],
    tied: dict,
    who: str,
    fresh_ok=None,
    unused: tuple[str, ...] = (),
) -> None:
    """Load ``sd`` into ``model`` strictly, after dropping the keys Hugging Face itself ignores
    (``ignore``: key suffixes such as ``position_ids`` buffers) and filling tied weights that
    the checkpoint leaves out (``tied``: {key: key it is tied to}). Weights for which
    ``fresh_ok(key)`` is true may be missing: they keep their fresh initialisation, with a
    warning, as Hugging Face does when a head is added to a base model.
    Checkpoint keys containing one of ``unused`` that the model lacks (a pooler the masked-LM
    head does not use) are dropped.
    """
    sd = {k: v for k, v in sd.items() if not k.endswith(ignore)}
    if unused:
        own = model.state_dict()
        sd = {k: v for k, v in sd.items() if k in own or not any(u in k for u in unused)}
    for key, source in tied.items():
        if key not in sd and source in sd:
            sd[key] = sd[source]
    if fresh_ok is not None:
        fresh = [k for k in model.state_dict() if k not in sd and fresh_ok(k)]
        if fresh:
            warnings.warn(
                f"{who}.from_pretrained: newly initialised weights (train them): {fresh}",
                stacklevel=3,
            )
            own = model.state_dict()
            sd.update({k: own[k] for k in fresh})
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise RuntimeError(f"{who}.from_pretrained: {e}") from None
