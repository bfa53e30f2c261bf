"""What the quantized Linear modules share: their buffers, ``from_float`` and the input check.

Each keeps ``weight`` (out, in) in its storage dtype, ``weight_scale`` (float32, one scale per
output channel) and ``bias`` (float32, or None) as buffers, so that their ``state_dict``s have
torch's keys whatever the storage format.
"""

from __future__ import annotations

import numpy as np

from tocha.core import nn as _nn

from ...._tensor import wrap


def init_linear_buffers(module, in_features: int, out_features: int, bias: bool, dtype) -> None:
    """Set the features and register the zero ``weight`` (in ``dtype``), unit ``weight_scale``
    and zero ``bias`` buffers, which ``from_float`` or ``load_state_dict`` then fill."""
    module.in_features = in_features
    module.out_features = out_features
    module.register_buffer("weight", wrap(np.zeros((out_features, in_features), dtype)))
    module.register_buffer("weight_scale", wrap(np.ones(out_features, np.float32)))
    module.register_buffer("bias", wrap(np.zeros(out_features, np.float32)) if bias else None)


def linear_from_float(cls, mod, quantize, name: str):
    """``cls.from_float(mod)``: ``mod``'s weight through ``quantize`` (a raw (out, in) array to
    ``(q, scale)``), its bias kept as float32; ``name`` is the module's name in the error."""
    if not isinstance(mod, _nn.Linear):
        raise TypeError(f"{name}.from_float: expected nn.Linear, got {type(mod).__name__}")
    q = cls(mod.in_features, mod.out_features, mod.bias is not None)
    qw, scale = quantize(mod.weight.detach()._data)
    q.weight, q.weight_scale = wrap(qw), wrap(scale)
    if mod.bias is not None:
        q.bias = wrap(mod.bias.detach()._data.astype(np.float32))
    return q


def check_in_features(name: str, x, in_features: int) -> None:
    """The RuntimeError torch gives when the last dim of ``x`` (a Tensor or array) is not
    ``in_features``."""
    if x.ndim == 0 or x.shape[-1] != in_features:
        raise RuntimeError(
            f"{name}: input has {x.shape[-1] if x.ndim else 0} features but the layer expects "
            f"{in_features}"
        )
