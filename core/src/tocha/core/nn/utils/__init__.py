"""tocha.core.nn.utils: gradient clipping, parameter vectors, weight/spectral normalisation and
parametrizations (torch.nn.utils)."""

from __future__ import annotations

import importlib as _importlib

from . import parametrizations, parametrize, stateless
from .clip_grad import (
    clip_grad_norm,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .fusion import (
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
)
from .init import skip_init
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm

__all__ = [
    "clip_grad_norm",
    "clip_grad_norm_",
    "clip_grads_with_norm_",
    "clip_grad_value_",
    "fuse_conv_bn_eval",
    "fuse_conv_bn_weights",
    "fuse_linear_bn_eval",
    "fuse_linear_bn_weights",
    "get_total_norm",
    "parameters_to_vector",
    "parametrizations",
    "parametrize",
    "remove_spectral_norm",
    "remove_weight_norm",
    "rnn",
    "skip_init",
    "spectral_norm",
    "stateless",
    "vector_to_parameters",
    "weight_norm",
]


def __getattr__(name):
    # utils.rnn is written separately; import it on first use so this package never depends
    # on it being present
    if name == "rnn":
        mod = _importlib.import_module(f"{__name__}.rnn")
        globals()["rnn"] = mod
        return mod
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
