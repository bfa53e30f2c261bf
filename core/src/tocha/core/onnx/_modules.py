"""Whole-module mappings: modules whose ONNX form is one node (BatchNorm in eval, average
pooling), emitted instead of the ops their forward runs."""

from __future__ import annotations

import numpy as np

from ._graph import GraphBuilder


def _tuple(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _batchnorm(b: GraphBuilder, m, prefix: str, x, out):
    if m.training or m.running_mean is None:
        return None
    c = x.shape[1]
    dt = x._data.dtype
    w = b.value(m.weight) if m.weight is not None else b.const(np.ones(c, dtype=dt))
    bias = b.value(m.bias) if m.bias is not None else b.const(np.zeros(c, dtype=dt))
    mean, var = b.value(m.running_mean), b.value(m.running_var)
    xn = b.value(x)
    if x.ndim == 2:  # BatchNorm1d on (N, C): ONNX wants a spatial axis
        xn = b.op("Unsqueeze", xn, b.ints([2]))
    y = b.op("BatchNormalization", xn, w, bias, mean, var, epsilon=float(m.eps))
    if x.ndim == 2:
        y = b.op("Squeeze", y, b.ints([2]))
    return y


def _avgpool(b: GraphBuilder, m, prefix: str, x, out):
    nd = x.ndim - 2
    if nd < 1 or m.divisor_override is not None:
        return None
    k = _tuple(m.kernel_size, nd)
    s = _tuple(m.stride if m.stride else m.kernel_size, nd)
    p = _tuple(m.padding, nd)
    return b.op(
        "AveragePool",
        b.value(x),
        kernel_shape=list(k),
        strides=list(s),
        pads=list(p) * 2,
        ceil_mode=int(bool(m.ceil_mode)),
        count_include_pad=int(bool(m.count_include_pad)),
    )


def _adaptive_avgpool(b: GraphBuilder, m, prefix: str, x, out):
    if x.ndim < 3:
        return None
    in_sp, out_sp = x.shape[2:], out.shape[2:]
    if all(o == 1 for o in out_sp):
        return b.op("GlobalAveragePool", b.value(x))
    if any(i % o for i, o in zip(in_sp, out_sp)):
        return None  # uneven windows: left to the op-level mapping (which refuses)
    k = [i // o for i, o in zip(in_sp, out_sp)]
    return b.op("AveragePool", b.value(x), kernel_shape=k, strides=k)


def handlers():
    from ..nn.modules.batchnorm import _BatchNorm
    from ..nn.modules.pooling import _AdaptiveAvgPoolNd, _AvgPoolNd

    return (
        (_BatchNorm, _batchnorm),
        (_AvgPoolNd, _avgpool),
        (_AdaptiveAvgPoolNd, _adaptive_avgpool),
    )
