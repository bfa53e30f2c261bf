"""Hugging Face-style configurations: plain attributes with the library's defaults, read from
and written to ``config.json``."""

from __future__ import annotations

import copy
import json
import os
from typing import Any, ClassVar

from ._loading import read_json


class PretrainedConfig:
    """Attributes with defaults from ``_defaults``; unknown keys are kept as attributes too, so a
    config round-trips through ``config.json``."""

    model_type: ClassVar[str] = ""
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **kwargs: Any) -> None:
        for k, v in copy.deepcopy(self._defaults).items():
            setattr(self, k, kwargs.pop(k, v))
        for k, v in kwargs.items():
            setattr(self, k, v)

    @classmethod
    def from_dict(cls, d: dict, **overrides: Any):
        """A config from a ``config.json``-style dict (``overrides`` win)."""
        return cls(**{**d, **overrides})

    @classmethod
    def from_json_file(cls, path: str):
        """A config from a ``config.json`` file."""
        return cls.from_dict(read_json(path, f"{cls.__name__}.from_json_file"))

    @classmethod
    def from_pretrained(cls, directory: str, **overrides: Any):
        """A config from ``directory/config.json``."""
        d = read_json(os.path.join(directory, "config.json"), f"{cls.__name__}.from_pretrained")
        return cls.from_dict(d, **overrides)

    def to_dict(self) -> dict:
        """All attributes as a JSON-ready dict (with ``model_type``)."""
        d = {k: copy.deepcopy(v) for k, v in vars(self).items() if not k.startswith("_")}
        d["model_type"] = self.model_type
        return d

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, directory: str) -> None:
        """Write ``directory/config.json``."""
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
            f.write(self.to_json_string())

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"
