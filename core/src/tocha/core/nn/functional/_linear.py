"""Linear maps of ``torch.nn.functional``: linear (a fused GEMM-plus-bias node) and bilinear."""

from __future__ import annotations

from ..._ops import layers as _Y
from ..._tensor import Tensor

__all__ = ["linear", "bilinear"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` for input (*, in_features), weight (out_features,
    in_features) and bias (out_features,).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.linear(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 1.0], [0.0, 2.0]]),
        ...          torch.tensor([0.5, 0.0]))
        tensor([[3.5000, 4.0000]])
    """
    if not isinstance(input, Tensor):
        raise TypeError(
            f"linear(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    if not isinstance(weight, Tensor):
        raise TypeError(
            f"linear(): argument 'weight' (position 2) must be Tensor, not {type(weight).__name__}"
        )
    return _Y.linear(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None):
    """``y_k = input1 @ weight[k] @ input2 + bias[k]`` for inputs (*, in1) and (*, in2) and
    weight (out, in1, in2).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.bilinear(torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0]]), torch.ones(1, 2, 1))
        tensor([[9.]])
    """
    s1, s2, sw = tuple(input1._data.shape), tuple(input2._data.shape), weight._data.shape
    if len(s1) != len(s2):
        raise RuntimeError(
            f"bilinear(): input dimensions do not match: got {len(s1)} and {len(s2)}"
        )
    for d, (a, b) in enumerate(zip(s1[:-1], s2[:-1])):
        if a != b:
            raise RuntimeError(
                f"bilinear(): input batch dimensions do not match at dim {d}: got {a} and {b}"
            )
    if len(sw) != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-dimensional, got {len(sw)}")
    if s1[-1] != sw[1]:
        raise RuntimeError(
            f"bilinear(): input1 size does not match weight size: got {s1[-1]} but expected {sw[1]}"
        )
    if s2[-1] != sw[2]:
        raise RuntimeError(
            f"bilinear(): input2 size does not match weight size: got {s2[-1]} but expected {sw[2]}"
        )
    out, in1, in2 = sw
    batch = s1[:-1]
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # one GEMM against the weight laid out as (in1, out * in2), then a batched dot with x2
    t = x1 @ weight.permute(1, 0, 2).reshape(in1, out * in2)
    y = (t.reshape(-1, out, in2) @ x2.unsqueeze(2)).squeeze(2)
    if bias is not None:
        y = y + bias
    return y.reshape(batch + (out,))
