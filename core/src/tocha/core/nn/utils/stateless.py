"""Calling a module with substitute parameters and buffers (torch.nn.utils.stateless)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from ..._tensor import Tensor
from ..modules.module import Module

__all__ = ["functional_call"]


def _split(module: Module, name: str):
    owner_path, _, attr = name.rpartition(".")
    return module.get_submodule(owner_path), attr


@contextlib.contextmanager
def _reparametrize(module: Module, tensors: dict, tie_weights: bool, strict: bool):
    if tie_weights:
        # a value given for one name of a tied parameter/buffer applies to all its names
        by_obj: dict = {}
        for n, t in module.named_parameters(remove_duplicate=False):
            by_obj.setdefault(id(t), []).append(n)
        for n, t in module.named_buffers(remove_duplicate=False):
            by_obj.setdefault(id(t), []).append(n)
        for names in by_obj.values():
            given = [n for n in names if n in tensors]
            if given:
                value = tensors[given[0]]
                for n in given[1:]:
                    if tensors[n] is not value:
                        raise ValueError(
                            f"functional_call got multiple values for keys {given}, which are "
                            "tied. Consider using tie_weights=False"
                        )
                for n in names:
                    tensors.setdefault(n, value)
    if strict:
        expected = {n for n, _ in module.named_parameters(remove_duplicate=False)}
        expected |= {n for n, _ in module.named_buffers(remove_duplicate=False)}
        missing = sorted(expected - set(tensors))
        unexpected = sorted(set(tensors) - expected)
        msgs = []
        if unexpected:
            msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if msgs:
            raise RuntimeError(
                f"Error(s) in reparametrizing for {module._get_name()}:\n\t" + "\n\t".join(msgs)
            )
    saved = []
    try:
        for name, value in tensors.items():
            owner, attr = _split(module, name)
            for store in (owner._parameters, owner._buffers):
                if attr in store:
                    saved.append((store, attr, store[attr]))
                    store[attr] = value  # plain tensors are allowed here, as in torch
                    break
            else:
                had = attr in owner.__dict__
                saved.append((owner, attr, owner.__dict__.get(attr), had))
                object.__setattr__(owner, attr, value)
        yield
    finally:
        for item in reversed(saved):
            if len(item) == 3:
                store, attr, old = item
                store[attr] = old
            else:
                owner, attr, old, had = item
                if had:
                    object.__setattr__(owner, attr, old)
                else:
                    object.__delattr__(owner, attr)


def functional_call(
    module: Module,
    parameter_and_buffer_dicts: Mapping[str, Tensor] | Sequence[Mapping[str, Tensor]],
    args: Any = None,
    kwargs: dict | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
):
    """Run ``module(*args, **kwargs)`` with some parameters and buffers replaced by the given
    tensors (keyed by their ``state_dict`` names); the module is unchanged afterwards.

    Gradients flow to the given tensors, which makes per-sample or meta-learning gradients
    straightforward. (torch deprecates this path in favour of ``torch.func.functional_call``,
    which behaves the same.)

    Example:
        >>> import tocha.core as torch
        >>> class Scale(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.w = torch.nn.Parameter(torch.tensor(2.0))
        ...     def forward(self, x):
        ...         return self.w * x
        >>> from tocha.core.nn.utils.stateless import _functional_call
        >>> m = Scale()
        >>> _functional_call(m, {"w": torch.tensor(5.0)}, (torch.tensor(3.0),))
        tensor(15.)
        >>> m(torch.tensor(3.0))
        tensor(6., grad_fn=<MulBackward0>)
    """
    warnings.warn(
        "This API is deprecated as of PyTorch 2.0 and will be removed in a future version of "
        "PyTorch. Please use torch.func.functional_call instead which is a drop-in replacement.",
        FutureWarning,
        stacklevel=2,
    )
    return _functional_call(
        module, parameter_and_buffer_dicts, args, kwargs, tie_weights=tie_weights, strict=strict
    )


def _functional_call(
    module: Module,
    parameter_and_buffer_dicts,
    args: Any = None,
    kwargs: dict | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
):
    """`functional_call` without the deprecation warning (``torch.func.functional_call``)."""
    if isinstance(parameter_and_buffer_dicts, Mapping):
        tensors = dict(parameter_and_buffer_dicts)
    else:
        tensors = {}
        for d in parameter_and_buffer_dicts:
            for k, v in d.items():
                if k in tensors:
                    raise ValueError(
                        f"{k} appeared in multiple dictionaries; behavior of functional call "
                        "is ambiguous"
                    )
                tensors[k] = v
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrize(module, tensors, tie_weights, strict):
        return module(*args, **kwargs)
