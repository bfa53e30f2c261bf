"""Name -> module resolvers for activations and normalisations (torch_geometric.nn.resolver)."""

from __future__ import annotations

import inspect

import tocha.core as torch
from tocha.core.nn import Module

__all__ = ["activation_resolver", "normalization_resolver"]

_ACTS = {
    "relu": "ReLU",
    "elu": "ELU",
    "leaky_relu": "LeakyReLU",
    "leakyrelu": "LeakyReLU",
    "gelu": "GELU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "prelu": "PReLU",
    "selu": "SELU",
    "silu": "SiLU",
    "swish": "SiLU",
    "softplus": "Softplus",
    "identity": "Identity",
}


def activation_resolver(query="relu", *args, **kwargs):
    """A torch.nn activation module from a name (``'relu'``, ``'elu'``, ...) or pass-through."""
    if (
        query is None
        or isinstance(query, Module)
        or (callable(query) and not isinstance(query, str))
    ):
        if inspect.isclass(query):
            return query(*args, **kwargs)
        return query
    name = _ACTS.get(
        query.lower().replace("_", "") if query.lower() not in _ACTS else query.lower()
    )
    if name is None:
        raise ValueError(f"activation_resolver: could not resolve '{query}' among {sorted(_ACTS)}")
    return getattr(torch.nn, name)(*args, **kwargs)


def normalization_resolver(query, *args, **kwargs):
    """A norm module from a name (``'batch_norm'``, ``'layer_norm'``, ``'graph_norm'``)."""
    if query is None or isinstance(query, Module):
        return query
    if inspect.isclass(query):
        return query(*args, **kwargs)
    from .norm import BatchNorm, GraphNorm, LayerNorm

    table = {"batchnorm": BatchNorm, "layernorm": LayerNorm, "graphnorm": GraphNorm}
    cls = table.get(query.lower().replace("_", ""))
    if cls is None:
        raise ValueError(f"normalization_resolver: could not resolve '{query}'")
    return cls(*args, **kwargs)
