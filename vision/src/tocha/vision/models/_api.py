"""The model registry: ``get_model``, ``list_models``, ``get_model_weights``, ``get_weight``.

Builders register themselves with :func:`register_model`; a builder's weights enum is read off
the annotation of its ``weights`` parameter, as torchvision does.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import sys
import typing
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from tocha.core.hub import Weights, WeightsEnum

__all__ = [
    "Weights",
    "WeightsEnum",
    "register_model",
    "list_models",
    "get_model_builder",
    "get_model",
    "get_model_weights",
    "get_weight",
]

BUILTIN_MODELS: dict[str, Callable[..., Any]] = {}


def register_model(name: str | None = None) -> Callable:
    """Decorator adding a builder to the registry under ``name`` (default: its own name)."""

    def wrapper(fn: Callable) -> Callable:
        key = name if name is not None else fn.__name__
        if key in BUILTIN_MODELS:
            raise ValueError(f"register_model: an entry is already registered under {key!r}")
        BUILTIN_MODELS[key] = fn
        return fn

    return wrapper


def list_models(
    module: ModuleType | None = None,
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
) -> list[str]:
    """Sorted names of the registered models, optionally of one module and filtered by globs.

    Example:
        >>> from tocha.vision import models
        >>> models.list_models(include="resnet1*")
        ['resnet101', 'resnet152', 'resnet18']
    """
    names = {
        k
        for k, v in BUILTIN_MODELS.items()
        if module is None or v.__module__.rsplit(".", 1)[0] == module.__name__
    }
    if include:
        pats = [include] if isinstance(include, str) else list(include)
        names = {n for n in names if any(fnmatch.fnmatch(n, p) for p in pats)}
    if exclude:
        pats = [exclude] if isinstance(exclude, str) else list(exclude)
        names = {n for n in names if not any(fnmatch.fnmatch(n, p) for p in pats)}
    return sorted(names)


def get_model_builder(name: str) -> Callable[..., Any]:
    """The builder registered under ``name`` (case-insensitive)."""
    name = name.lower()
    try:
        return BUILTIN_MODELS[name]
    except KeyError:
        raise ValueError(
            f"get_model_builder: unknown model {name!r}; known: {', '.join(list_models())}"
        ) from None


def get_model(name: str, **config: Any):
    """Build the model registered under ``name`` with ``config`` passed to its builder.

    Example:
        >>> from tocha.vision.models import get_model
        >>> get_model("lenet5", num_classes=3).classifier[-1].out_features
        3
    """
    return get_model_builder(name)(**config)


def get_model_weights(name: str | Callable) -> type[WeightsEnum]:
    """The weights enum class of a builder (given by name or as the function).

    Example:
        >>> from tocha.vision.models import get_model_weights
        >>> get_model_weights("resnet50").__name__
        'ResNet50_Weights'
    """
    fn = get_model_builder(name) if isinstance(name, str) else name
    module = sys.modules[fn.__module__]
    hints = typing.get_type_hints(fn, vars(module))
    ann = hints.get("weights")
    if ann is None:
        sig = inspect.signature(fn)
        if "weights" not in sig.parameters:
            raise ValueError(f"get_model_weights: {fn.__name__} has no 'weights' parameter")
    candidates = [ann, *typing.get_args(ann)]
    for c in candidates:
        if inspect.isclass(c) and issubclass(c, WeightsEnum):
            return c
    raise ValueError(
        f"get_model_weights: the 'weights' annotation of {fn.__name__} ({ann!r}) names no "
        "WeightsEnum"
    )


def get_weight(name: str) -> WeightsEnum:
    """A weights member from its full name, e.g. ``"ResNet50_Weights.IMAGENET1K_V2"``.

    Example:
        >>> from tocha.vision.models import get_weight
        >>> get_weight("ResNet18_Weights.DEFAULT")
        ResNet18_Weights.IMAGENET1K_V1
    """
    try:
        enum_name, value_name = name.split(".")
    except ValueError:
        raise ValueError(
            f"get_weight: invalid weight name {name!r} (expected 'Enum.MEMBER')"
        ) from None
    pkg = importlib.import_module(__name__.rsplit(".", 1)[0])
    for fn in BUILTIN_MODELS.values():
        try:
            enum_cls = get_model_weights(fn)
        except ValueError:
            continue
        if enum_cls.__name__ == enum_name:
            return enum_cls.verify(value_name)
    enum_cls = getattr(pkg, enum_name, None)
    if inspect.isclass(enum_cls) and issubclass(enum_cls, WeightsEnum):
        return enum_cls.verify(value_name)
    raise ValueError(f"get_weight: unknown weights enum {enum_name!r} in {name!r}")
